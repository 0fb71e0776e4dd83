//! `cargo xtask wheels`: one container per architecture, the inputs copied into it
//! once, one work folder per interpreter, builds run side by side, and only
//! repaired, checked wheels renamed into the output folder.
//!
//! Nothing is bind-mounted: inputs go in as a tar stream on the stdin of the
//! container's first process, which readies it, and each wheel comes out as a tar stream
//! on its build's stdout, so the user's tree is never written by the
//! container, the wheels belong to the caller, and a remote engine works the same.
//!
//! `plan` validates the flags and the configuration (`cibuildwheel` what the
//! package's own configuration adds, `select` the selection); `target`
//! resolves each arch's engine and image; `decision` lists each image's
//! interpreters, selects the builds and makes each one's `recipe` before
//! any container starts, and prints them for the dry run; `builds` starts
//! the `containers` and runs the recipes; `landing` puts each wheel in
//! place; `report` says what happened. `contract` is all the host knows of
//! the container: its paths, scripts, arguments and variables.

mod audit;
mod builds;
pub mod cibuildwheel;
mod containers;
mod contract;
mod decision;
pub mod landing;
mod order;
pub mod package;
mod pip_settings;
pub mod plan;
mod progress;
pub mod recipe;
mod report;
pub mod select;
mod target;

use anyhow::{bail, Result};
use camino::Utf8Path;

use crate::config::Config;
use crate::flags;
use crate::util::{self, Runner};

use builds::execute;
use decision::{decide, print_dry_run};
use package::Provenance;
pub use plan::Plan;
use report::JsonOnStop;
use target::{resolve_target, runnable};

impl flags::Wheels {
    pub fn run(self, runner: &Runner, config: &Config) -> Result<()> {
        let cwd = util::absolute_from_cwd(Utf8Path::new("."))?;
        let mut plan = Plan::new(self, config, &cwd)?;
        // The package's own secrets (environment-pass) join the run's.
        let secrets = plan.secrets.clone();
        let runner = &Runner {
            secrets: &secrets,
            ..*runner
        };
        for line in plan.cibuildwheel.lines() {
            eprintln!("==> {line}");
        }
        // A run that stops before its builds finished (an error, a signal)
        // still leaves its JSON summary, saying why.
        let json = match (&plan.json, runner.dry_run) {
            (Some(file), false) if file.as_str() != "-" => Some(file.clone()),
            _ => None,
        };
        let stopped = json.clone().map(JsonOnStop::new);
        let ran = run_planned(runner, &mut plan, stopped.as_ref());
        if let Some(stopped) = stopped {
            stopped.disarm();
        }
        match ran {
            Ok((0, _)) => Ok(()),
            Ok((failed, of)) => bail!("{failed} of {of} builds did not produce a wheel"),
            Err(e) => {
                if let Some(file) = &json {
                    let _ = std::fs::write(file, report::json_of_stop(&format!("{e:#}")));
                }
                Err(e)
            }
        }
    }
}

/// Everything after the plan: the targets resolved, then the dry run or the
/// run; how many builds gave no wheel, of how many.
fn run_planned(
    runner: &Runner,
    plan: &mut Plan,
    stopped: Option<&JsonOnStop>,
) -> Result<(usize, usize)> {
    // Each question costs tens of milliseconds: git and each arch's
    // engine are asked at once (a shell each).
    let (provenance, targets) = std::thread::scope(|s| {
        let plan = &plan;
        let git = s.spawn(|| Provenance::of(&plan.root));
        let targets: Vec<_> = plan
            .selector
            .platforms
            .iter()
            .map(|&(arch, libc)| {
                s.spawn(move || resolve_target(&util::thread_shell()?, runner, plan, arch, libc))
            })
            .collect();
        let targets = targets
            .into_iter()
            .map(|t| t.join().expect("a target thread panicked"))
            .collect::<Result<Vec<_>>>();
        (git.join().expect("the git thread panicked"), targets)
    });
    let targets = targets?;
    // An arch that cannot run here fails its builds and the others go on;
    // when none can run, nothing starts.
    if let Some(why) = targets.iter().find_map(|t| t.blocked.as_ref()) {
        if targets.iter().all(|t| t.blocked.is_some()) {
            bail!("{why}");
        }
    }
    for t in &targets {
        if let Some(why) = &t.blocked {
            eprintln!("==> {} builds fail, the others go on: {why}", t.name());
        }
    }
    plan.take_provenance(provenance);
    let decision = decide(runner, plan, &targets)?;
    if runner.dry_run {
        print_dry_run(plan, &runnable(&targets), &decision, runner.secrets)?;
        return Ok((0, 0));
    }
    execute(runner, plan, &targets, decision, stopped)
}
