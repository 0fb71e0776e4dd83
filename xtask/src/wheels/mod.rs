//! `cargo xtask wheels`: one container per architecture, the inputs copied into it
//! once, one work folder per interpreter, builds run side by side, and only
//! repaired, checked wheels renamed into the output folder.
//!
//! Nothing is bind-mounted: inputs go in as a tar stream on the stdin of the
//! container's first process, which readies it, and each wheel comes out as a tar stream
//! on its build's stdout, so the user's tree is never written by the
//! container, the wheels belong to the caller, and a remote engine works the same.
//!
//! `plan` decides and validates everything before anything starts (`select`
//! which builds, `cibuildwheel` what the package's own configuration adds,
//! `target` each arch's engine and image); `recipe` makes each build's
//! commands once; `builds` starts the containers and runs the recipes;
//! `landing` puts each wheel in place; `report` says what happened.

mod builds;
pub mod cibuildwheel;
mod containers;
mod decision;
pub mod landing;
pub mod package;
mod pip_settings;
pub mod plan;
mod progress;
pub mod recipe;
mod report;
mod script;
pub mod select;
mod target;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::config::Config;
use crate::flags;
use crate::util::{self, Runner};

use builds::execute;
use decision::decide;
use landing::Provenance;
pub use plan::Plan;
use recipe::print_dry_run;
use report::JsonOnStop;
use target::{resolve_target, runnable};

/// What readies a new build container, run by its first process (an exec
/// would cost a round trip), with no Python (a second under emulation): make the folders,
/// write the scripts given as arguments (pairs of a path under /xtask/bin and
/// its text), unpack the inputs from stdin when the first argument is 1, and
/// find auditwheel's version (for the manifest) by its dist-info folder.
const SETUP: &str = r#"mkdir -p /xtask/src /xtask/out /xtask/bin || exit 1
unpack=$1; shift
while [ $# -gt 1 ]; do
  case $1 in */*) mkdir -p "/xtask/bin/${1%/*}" || exit 1 ;; esac
  printf '%s' "$2" >"/xtask/bin/$1" || exit 1
  shift 2
done
if [ "$unpack" != 0 ]; then head -c "$unpack" | tar -x -o -f - -C /xtask/src || exit 1; fi
{ a=$(readlink -f "$(command -v auditwheel)") && ls -d "${a%/bin/*}"/lib/python*/site-packages/auditwheel-*.dist-info 2>/dev/null || true; }"#;

/// auditwheel's version (for the manifest), from SETUP's output.
fn parse_setup(output: &str) -> String {
    output
        .lines()
        .filter(|line| line.starts_with('/'))
        .find_map(|line| line.rsplit('/').next()?.strip_prefix("auditwheel-"))
        .map_or("unknown".into(), |v| {
            v.trim_end_matches(".dist-info").to_string()
        })
}

/// The scripts that run inside the build containers.
fn container_scripts() -> Utf8PathBuf {
    util::project_root().join("scripts/container")
}

/// The scripts' paths under `dir` and their text, for SETUP's arguments.
fn script_files(dir: &Utf8Path) -> Result<Vec<(String, String)>> {
    fn walk(base: &Utf8Path, dir: &Utf8Path, out: &mut Vec<(String, String)>) -> Result<()> {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("reading {dir}"))?
        {
            let path = entry?.into_path();
            if path.is_dir() {
                if path.file_name() != Some("__pycache__") {
                    walk(base, &path, out)?;
                }
            } else {
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                let rel = path.strip_prefix(base).expect("below base").to_string();
                out.push((rel, text));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    Ok(files)
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
    let mut targets = targets?;
    // An arch that cannot run here fails its builds and the others go on;
    // when none can run, nothing starts.
    if let Some(why) = targets.iter().find_map(|t| t.blocked.as_ref()) {
        if targets.iter().all(|t| t.blocked.is_some()) {
            bail!("{why}");
        }
    }
    targets.sort_by_key(|t| t.blocked.is_some());
    for t in &targets {
        if let Some(why) = &t.blocked {
            eprintln!("==> {} builds fail, the others go on: {why}", t.name());
        }
    }
    plan.take_provenance(provenance);
    let decision = decide(runner, plan, &targets)?;
    if runner.dry_run {
        let runnable = runnable(&targets);
        print_dry_run(plan, &targets[..runnable], &decision, runner.secrets)?;
        return Ok((0, 0));
    }
    execute(runner, plan, &targets, decision, stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_makes_the_container_folders() {
        assert!(SETUP.contains(&format!("mkdir -p {SRC} {OUT}")));
        let version = parse_setup(
            "/opt/_internal/tools/lib/python3.11/site-packages/auditwheel-6.8.2.dist-info\n",
        );
        assert_eq!(version, "6.8.2");
        assert_eq!(parse_setup(""), "unknown");
    }
}
