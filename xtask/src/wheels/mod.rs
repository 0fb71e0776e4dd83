//! `cargo xtask wheels`: one container per architecture, the inputs copied into it
//! once, one work folder per interpreter, builds run side by side, and only
//! repaired, checked wheels renamed into the output folder.
//!
//! Nothing is bind-mounted: inputs go in and wheels come out with `docker cp`,
//! so the user's tree is never written by the container, the wheels belong to
//! the caller, and a remote engine works the same.

//!
//! `plan` decides and validates everything before anything starts; `run`
//! starts the containers and schedules the builds; `report` says what happened.

pub mod plan;
mod report;
mod run;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::config::Config;
use crate::flags;
use crate::util::{self, Runner};

pub use plan::Plan;
use run::{execute, print_dry_run, resolve_target};

/// What runs in a new build container before anything else: list the
/// interpreters and make the folders. One exec for both, because under
/// emulation each costs a fraction of a second.
const SETUP: &str = "ls -1 /opt/python && mkdir -p /xtask/src /xtask/out";

/// The scripts that run inside the build containers.
fn container_scripts() -> Utf8PathBuf {
    util::project_root().join("scripts/container")
}

/// The volume `--pip-cache` keeps; labelled as a cache, so it is not mistaken
/// for something a run left behind.
pub const PIP_CACHE_VOLUME: &str = "xtask-wheels-pip-cache";

/// Where the inputs, work folders and results live inside the container.
const SRC: &str = "/xtask/src";
const BIN: &str = "/xtask/bin";
const OUT: &str = "/xtask/out";

impl flags::Wheels {
    pub fn run(self, sh: &Shell, run: &Runner, config: &Config) -> Result<()> {
        let cwd = util::absolute_from_cwd(Utf8Path::new("."))?;
        let plan = Plan::new(self, config, &cwd)?;
        let targets = plan
            .arches
            .iter()
            .map(|&arch| resolve_target(sh, run, &plan, config, arch))
            .collect::<Result<Vec<_>>>()?;
        if run.dry_run {
            print_dry_run(&plan, &targets, run.secrets);
            return Ok(());
        }
        execute(run, &plan, &targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_makes_the_container_folders() {
        assert!(SETUP.ends_with(&format!("mkdir -p {SRC} {OUT}")));
    }
}
