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

pub mod landing;
pub mod package;
pub mod plan;
mod progress;
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
/// interpreters, make the folders, and find auditwheel's version (for the
/// manifest) by its dist-info folder, as starting Python costs a second
/// under emulation. One exec for all, for the same reason.
const SETUP: &str = "ls -1 /opt/python && mkdir -p /xtask/src /xtask/out && \
    { a=$(readlink -f \"$(command -v auditwheel)\") && ls -d \"${a%/bin/*}\"/lib/python*/site-packages/auditwheel-*.dist-info 2>/dev/null || true; }";

/// The interpreter folders and auditwheel's version, from SETUP's output.
fn parse_setup(output: &str) -> (Vec<String>, String) {
    let mut dirs = Vec::new();
    let mut auditwheel = "unknown".to_string();
    for line in output.lines() {
        match line
            .rsplit('/')
            .next()
            .and_then(|l| l.strip_prefix("auditwheel-"))
        {
            Some(v) if line.starts_with('/') => {
                auditwheel = v.trim_end_matches(".dist-info").to_string()
            }
            _ => dirs.push(line.to_string()),
        }
    }
    (dirs, auditwheel)
}

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
/// Where `--ccache` keeps its cache in the container (a volume).
const CCACHE_DIR: &str = "/xtask/ccache";
/// Where `input-dirs` are copied, each under its variable's name.
const INPUTS: &str = "/xtask/inputs";

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
        assert!(SETUP.contains(&format!("mkdir -p {SRC} {OUT}")));
        let (dirs, version) = parse_setup(
            "cp311-cp311\npp39-pypy39_pp73\n/opt/_internal/tools/lib/python3.11/site-packages/auditwheel-6.8.2.dist-info\n",
        );
        assert_eq!(dirs, ["cp311-cp311", "pp39-pypy39_pp73"]);
        assert_eq!(version, "6.8.2");
        assert_eq!(parse_setup("cp312-cp312\n").1, "unknown");
    }
}
