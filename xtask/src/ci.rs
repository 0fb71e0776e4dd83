//! `cargo xtask ci github`: a ready GitHub Actions workflow that builds each
//! wheel in a job of its own (aarch64 on native arm64 runners, no QEMU), then
//! gathers them into one artifact.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use camino::Utf8PathBuf;
use xshell::Shell;

use crate::config::Config;
use crate::flags;
use crate::matrix::{github_runner, selected};
use crate::platform::{Arch, BuildId, Libc};
use crate::util::{self, usage, Runner};

/// One job per build identifier, or per architecture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Per {
    Build,
    Arch,
}

impl flags::Ci {
    pub fn run(self, sh: &Shell, runner: &Runner, config: &Config) -> Result<()> {
        if self.service != "github" {
            return Err(usage(format!(
                "CI service `{}` is not known: use github",
                self.service
            )));
        }
        let per = match self.per.as_str() {
            "build" => Per::Build,
            "arch" => Per::Arch,
            other => {
                return Err(usage(format!(
                    "--per `{other}` is not known: use build or arch"
                )))
            }
        };
        let out = match &self.out {
            Some(out) if out == "-" => None,
            Some(out) => Some(util::absolute_from_cwd(out)?),
            None => Some(util::project_root().join(".github/workflows/wheels.yml")),
        };
        let ids = selected(sh, runner, &self.select, config)?;
        let yaml = workflow(&ids, per, &passed_on(&self.select, per));
        match out {
            None => print!("{yaml}"),
            Some(path) if runner.dry_run => println!("would write {path}"),
            Some(path) => {
                write_atomically(&path, &yaml)?;
                eprintln!("wrote {path}: {} jobs", job_count(&ids, per));
            }
        }
        Ok(())
    }
}

fn job_count(ids: &[BuildId], per: Per) -> usize {
    match per {
        Per::Build => ids.len(),
        Per::Arch => arches(ids).len(),
    }
}

fn arches(ids: &[BuildId]) -> Vec<Arch> {
    let mut arches: Vec<Arch> = ids.iter().map(|id| id.arch).collect();
    arches.sort();
    arches.dedup();
    arches
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

/// The arch of a GitHub runner's machine.
fn runner_machine(runner: &str) -> Arch {
    match runner.ends_with("-arm") {
        true => Arch::Aarch64,
        false => Arch::X86_64,
    }
}

/// A YAML scalar in double quotes (JSON's string syntax is YAML's too).
fn q(s: &str) -> String {
    util::json_string(s)
}

/// The workflow text. Every value is quoted, so that no identifier, pattern
/// or flag can be read as YAML syntax.
pub fn workflow(ids: &[BuildId], per: Per, extra: &[String]) -> String {
    let mut y = String::new();
    let extra_words: Vec<String> = extra.iter().map(|a| util::shell_quote(a)).collect();
    let extra = if extra_words.is_empty() {
        String::new()
    } else {
        format!(" {}", extra_words.join(" "))
    };
    y.push_str(
        "# Written by `cargo xtask ci github`; run it again after changing the\n\
         # configuration. Each job builds on a runner of its own architecture\n\
         # (x86_64 and i686 on x86_64, aarch64 on arm64, no QEMU); the arches\n\
         # GitHub has no runner of build on x86_64 under QEMU, registered by\n\
         # the tool itself, with the native compiler; the last job gathers\n\
         # every wheel.\n\
         name: wheels\n\
         on:\n  push:\n    tags: [\"v*\"]\n  workflow_dispatch:\n\
         jobs:\n  build:\n    name: ${{ matrix.name }}\n    runs-on: ${{ matrix.runner }}\n\
         \x20   strategy:\n      fail-fast: false\n      matrix:\n        include:\n",
    );
    // The native compiler is of glibc builds: a musllinux one's job builds
    // with its image's.
    let entries: Vec<(String, Arch, String, bool)> = match per {
        Per::Build => ids
            .iter()
            .map(|id| {
                let glibc = id.libc == Libc::Glibc;
                (id.to_string(), id.arch, format!("--only {id}"), glibc)
            })
            .collect(),
        Per::Arch => arches(ids)
            .into_iter()
            .map(|arch| (arch.to_string(), arch, format!("--arch {arch}"), true))
            .collect(),
    };
    for (name, arch, select, glibc) in entries {
        let runner = github_runner(arch);
        let (emulate, select) = match arch.runs_natively_on(runner_machine(runner)) {
            true => ("", select),
            false if glibc => (arch.name(), format!("{select} --native-compiler")),
            false => (arch.name(), select),
        };
        let _ = writeln!(
            y,
            "          - {{name: {}, runner: {}, emulate: {}, select: {}}}",
            q(&name),
            q(runner),
            q(emulate),
            q(&select)
        );
    }
    let _ = write!(
        y,
        "    steps:\n\
         \x20     - uses: actions/checkout@v4\n\
         \x20     - name: QEMU\n\
         \x20       if: matrix.emulate != ''\n\
         \x20       run: \"cargo xtask qemu-register --arch ${{{{ matrix.emulate }}}}\"\n\
         \x20     - name: Build\n\
         \x20       run: {}\n\
         \x20     - uses: actions/upload-artifact@v4\n\
         \x20       with:\n\
         \x20         name: wheels-${{{{ matrix.name }}}}\n\
         \x20         path: wheelhouse/\n\
         \x20 gather:\n\
         \x20   needs: build\n\
         \x20   runs-on: ubuntu-24.04\n\
         \x20   steps:\n\
         \x20     - uses: actions/download-artifact@v4\n\
         \x20       with:\n\
         \x20         pattern: wheels-*\n\
         \x20         path: wheelhouse\n\
         \x20         merge-multiple: true\n\
         \x20     - name: List\n\
         \x20       run: ls -l wheelhouse\n\
         \x20     - uses: actions/upload-artifact@v4\n\
         \x20       with:\n\
         \x20         name: wheels\n\
         \x20         path: wheelhouse/\n",
        q(&format!(
            "cargo xtask wheels ${{{{ matrix.select }}}}{extra} --out wheelhouse"
        ))
    );
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> BuildId {
        BuildId::parse(s).unwrap()
    }

    #[test]
    fn one_job_per_build() {
        let ids = [id("cp311-manylinux_x86_64"), id("cp311-manylinux_aarch64")];
        let y = workflow(&ids, Per::Build, &["--standin".into()]);
        assert!(y.contains(r#"- {name: "cp311-manylinux_aarch64", runner: "ubuntu-24.04-arm", emulate: "", select: "--only cp311-manylinux_aarch64"}"#), "{y}");
        assert!(
            y.contains(
                r#"run: "cargo xtask wheels ${{ matrix.select }} --standin --out wheelhouse""#
            ),
            "{y}"
        );
        assert_eq!(y.matches("- {name:").count(), 2);
    }

    #[test]
    fn arches_without_a_runner_build_emulated_with_the_helpers() {
        let ids = [
            id("cp313-manylinux_i686"),
            id("cp313-manylinux_s390x"),
            id("cp313-manylinux_riscv64"),
        ];
        let y = workflow(&ids, Per::Build, &[]);
        assert!(y.contains(r#"- {name: "cp313-manylinux_i686", runner: "ubuntu-24.04", emulate: "", select: "--only cp313-manylinux_i686"}"#), "{y}");
        assert!(y.contains(r#"- {name: "cp313-manylinux_s390x", runner: "ubuntu-24.04", emulate: "s390x", select: "--only cp313-manylinux_s390x --native-compiler"}"#), "{y}");
        assert!(
            y.contains(r#"run: "cargo xtask qemu-register --arch ${{ matrix.emulate }}""#),
            "{y}"
        );
        assert!(y.contains("if: matrix.emulate != ''"), "{y}");
    }

    #[test]
    fn one_job_per_arch_passes_the_selection_on() {
        let ids = [
            id("cp311-manylinux_x86_64"),
            id("pp39-manylinux_x86_64"),
            id("cp311-manylinux_aarch64"),
        ];
        let select = flags::Select {
            build: Some("cp3* pp*".into()),
            ..flags::Select::default()
        };
        let extra = passed_on(&select, Per::Arch);
        let y = workflow(&ids, Per::Arch, &extra);
        assert_eq!(y.matches("- {name:").count(), 2, "{y}");
        assert!(y.contains(r#"select: "--arch aarch64""#), "{y}");
        assert!(y.contains(r#"--build 'cp3* pp*' --out wheelhouse"#), "{y}");
        assert!(passed_on(&select, Per::Build).is_empty());
    }

    #[test]
    fn musllinux_builds_get_jobs_of_their_own_or_their_arch_s() {
        let ids = [
            id("cp313-manylinux_x86_64"),
            id("cp313-musllinux_x86_64"),
            id("cp313-musllinux_s390x"),
        ];
        let y = workflow(&ids, Per::Build, &[]);
        assert!(y.contains(r#"- {name: "cp313-musllinux_x86_64", runner: "ubuntu-24.04", emulate: "", select: "--only cp313-musllinux_x86_64"}"#), "{y}");
        assert!(y.contains(r#"- {name: "cp313-musllinux_s390x", runner: "ubuntu-24.04", emulate: "s390x", select: "--only cp313-musllinux_s390x"}"#), "{y}");
        // A job per arch builds both libcs: the choice is passed on.
        let select = flags::Select {
            libc: Some("manylinux,musllinux".into()),
            ..flags::Select::default()
        };
        let y = workflow(&ids, Per::Arch, &passed_on(&select, Per::Arch));
        assert_eq!(y.matches("- {name:").count(), 2, "{y}");
        assert!(
            y.contains(r#"--libc manylinux,musllinux --out wheelhouse"#),
            "{y}"
        );
    }
}
