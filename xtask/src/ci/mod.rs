//! `cargo xtask ci github|gitlab`: a ready release workflow. An sdist job;
//! one build job per build identifier (or per arch), each on a runner of
//! its own arch where the service has one, else emulated with the native
//! helpers; a gather job that verifies every wheel and the sdist into one
//! folder with one SHA256SUMS and one manifest; and, with `--publish`, a
//! job that publishes it on a version tag with PyPI's trusted publishing
//! (no password or token stored), with attestations.
//!
//! The builds are what `matrix` selects; nothing is pulled to know them
//! (see `pins`). The text of each service's workflow is in the module of
//! its name; what they share (the release, its jobs) is here.

mod github;
mod gitlab;

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use xshell::Shell;

use crate::config::Config;
use crate::flags;
use crate::matrix::selected;
use crate::platform::{Arch, BuildId, Libc};
use crate::util::{self, usage, Runner};
use crate::wheels::package::project_name;

/// One job per build identifier, or per architecture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Per {
    Build,
    Arch,
}

/// Where a tagged release goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Publish {
    None,
    TestPypi,
    Pypi,
}

impl Publish {
    /// The environment the publish job runs in (protect it in the
    /// service's settings), and the index's upload URL.
    fn index(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Publish::None => None,
            Publish::TestPypi => Some((
                "testpypi",
                "https://test.pypi.org/legacy/",
                "https://test.pypi.org/p/",
            )),
            Publish::Pypi => Some((
                "pypi",
                "https://upload.pypi.org/legacy/",
                "https://pypi.org/p/",
            )),
        }
    }
}

/// Everything a workflow is written from.
pub struct Release {
    pub ids: Vec<BuildId>,
    pub per: Per,
    /// The selection flags each build job repeats.
    pub extra: Vec<String>,
    pub publish: Publish,
    /// The package folder the sdist is built from (relative to the
    /// repository), if the package can have one.
    pub sdist: Option<String>,
    /// The project's name on PyPI, for the environment's link.
    pub project: Option<String>,
}

/// One build job: its name, arch, the selection it passes to `wheels`, and
/// whether the native compiler may be used (glibc builds).
pub struct Job {
    pub name: String,
    pub arch: Arch,
    pub select: String,
    pub glibc: bool,
}

impl Job {
    /// On a runner whose machine is `machine`: the arch to register QEMU
    /// for (empty when native) and the selection with the native compiler
    /// added where it is emulated (glibc builds: a musllinux one builds with
    /// its image's compiler).
    pub fn on(&self, machine: Arch) -> (&'static str, String) {
        match self.arch.runs_natively_on(machine) {
            true => ("", self.select.clone()),
            false if self.glibc => (
                self.arch.name(),
                format!("{} --native-compiler", self.select),
            ),
            false => (self.arch.name(), self.select.clone()),
        }
    }
}

impl Release {
    /// `--standin` for the gather job's `verify`, where the builds use it.
    pub fn standin(&self) -> &'static str {
        match self.extra.iter().any(|a| a == "--standin") {
            true => " --standin",
            false => "",
        }
    }

    pub fn jobs(&self) -> Vec<Job> {
        match self.per {
            Per::Build => self
                .ids
                .iter()
                .map(|id| Job {
                    name: id.to_string(),
                    arch: id.arch,
                    select: format!("--only {id}"),
                    glibc: id.libc == Libc::Glibc,
                })
                .collect(),
            Per::Arch => self
                .arches()
                .into_iter()
                .map(|arch| Job {
                    name: arch.to_string(),
                    arch,
                    select: format!("--arch {arch}"),
                    glibc: true,
                })
                .collect(),
        }
    }

    fn arches(&self) -> Vec<Arch> {
        let mut arches: Vec<Arch> = self.ids.iter().map(|id| id.arch).collect();
        arches.sort();
        arches.dedup();
        arches
    }

    /// The arches an x86_64 machine emulates to check the wheels: the
    /// gather job registers their handlers.
    pub fn emulated_for_checks(&self) -> Vec<Arch> {
        self.arches()
            .into_iter()
            .filter(|a| !a.runs_natively_on(Arch::X86_64))
            .collect()
    }

    /// `wheels`' arguments after a job's selection.
    pub fn extra_words(&self) -> String {
        self.extra
            .iter()
            .map(|a| format!(" {}", util::shell_quote(a)))
            .collect()
    }
}

impl flags::Ci {
    pub fn run(self, sh: &Shell, runner: &Runner, config: &Config) -> Result<()> {
        let write: fn(&Release) -> String = match self.service.as_str() {
            "github" => github::workflow,
            "gitlab" => gitlab::pipeline,
            other => {
                return Err(usage(format!(
                    "CI service `{other}` is not known: use github or gitlab"
                )))
            }
        };
        let per = match self.per.as_str() {
            "build" => Per::Build,
            "arch" => Per::Arch,
            other => {
                return Err(usage(format!(
                    "--per `{other}` is not known: use build or arch"
                )))
            }
        };
        let publish = match self.publish.as_str() {
            "none" => Publish::None,
            "testpypi" => Publish::TestPypi,
            "pypi" => Publish::Pypi,
            other => {
                return Err(usage(format!(
                    "--publish `{other}` is not known: use none, testpypi or pypi"
                )))
            }
        };
        let default_out = match self.service.as_str() {
            "github" => ".github/workflows/wheels.yml",
            _ => ".gitlab-ci.yml",
        };
        let out = match &self.out {
            Some(out) if out == "-" => None,
            Some(out) => Some(util::absolute_from_cwd(out)?),
            None => Some(util::project_root().join(default_out)),
        };
        let ids = selected(sh, runner, &self.select, config)?;
        let package = config.dir.join(&config.root).join(&config.package);
        let release = Release {
            extra: passed_on(&self.select, per),
            per,
            publish,
            sdist: sdist_folder(config, &package),
            project: project_name(&package),
            ids,
        };
        let text = write(&release);
        match out {
            None => print!("{text}"),
            Some(path) if runner.dry_run => println!("would write {path}"),
            Some(path) => {
                write_atomically(&path, &text)?;
                eprintln!("wrote {path}: {} build jobs", release.jobs().len());
            }
        }
        Ok(())
    }
}

/// The package folder, relative to the repository, when its sdist can
/// stand alone: a build that reads files outside it (`include`,
/// `input-dirs`) has no self-contained sdist, and gets no sdist job (said).
fn sdist_folder(config: &Config, package: &camino::Utf8Path) -> Option<String> {
    let inside = |p: &camino::Utf8Path| p.starts_with(&config.package);
    let outside: Vec<String> = config
        .include
        .iter()
        .filter(|p| !inside(p))
        .map(|p| p.to_string())
        .chain(
            config
                .input_dirs
                .iter()
                .map(|(var, _)| format!("input-dirs {var}")),
        )
        .collect();
    if !outside.is_empty() {
        eprintln!(
            "==> no sdist job: the build reads {} outside the package folder {}, which an sdist of it would not hold",
            outside.join(", "),
            config.package
        );
        return None;
    }
    let relative = package.strip_prefix(&config.dir).unwrap_or(package);
    Some(match relative.as_str() {
        "" => ".".to_string(),
        r => r.trim_start_matches("./").to_string(),
    })
}

/// The selection flags each job repeats, so that it builds what `ci` selected.
fn passed_on(select: &flags::Select, per: Per) -> Vec<String> {
    let mut args = Vec::new();
    if select.standin {
        args.push("--standin".to_string());
    }
    // `--only` already names one build exactly.
    if per == Per::Arch {
        for (flag, value) in [
            ("--libc", &select.libc),
            ("--py", &select.py),
            ("--build", &select.build),
            ("--skip", &select.skip),
        ] {
            if let Some(value) = value {
                args.push(flag.to_string());
                args.push(value.clone());
            }
        }
    }
    args
}

fn write_atomically(path: &Utf8PathBuf, text: &str) -> Result<()> {
    let dir = path.parent().context("the workflow path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    crate::cleanup::write_whole(path, text)
}

/// A YAML scalar in double quotes (JSON's string syntax is YAML's too).
fn q(s: &str) -> String {
    util::json_string(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_job_per_arch_passes_the_selection_on() {
        let select = flags::Select {
            build: Some("cp3* pp*".into()),
            libc: Some("manylinux,musllinux".into()),
            ..flags::Select::default()
        };
        assert_eq!(
            passed_on(&select, Per::Arch),
            ["--libc", "manylinux,musllinux", "--build", "cp3* pp*"]
        );
        assert!(passed_on(&select, Per::Build).is_empty());
    }
}
