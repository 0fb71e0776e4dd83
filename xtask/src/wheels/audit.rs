//! The audit after repair, as cibuildwheel 4 runs it: each `audit-command`
//! (default `abi3audit --strict --report {abi3_wheel}`) on the host, in a
//! virtual environment holding `audit-requires` (default `abi3audit`), made
//! once per requirement list and kept under target/xtask/audit. A command
//! with `{abi3_wheel}` runs for abi3 wheels only, one with `{wheel}` for
//! every wheel; a wheel whose audit fails does not land, and the error
//! holds the end of the audit's report (abi3audit names each symbol
//! outside the limited API).

use std::fs::File;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::contract::Placeholders;
use crate::config::Steps;
use crate::util;

/// cibuildwheel 4's defaults (its resources/defaults.toml).
pub const DEFAULT_REQUIRES: &[&str] = &["abi3audit"];
pub const DEFAULT_COMMAND: &str = "abi3audit --strict --report {abi3_wheel}";

/// One build's audit: what the environment holds, and the commands with
/// `{project}` and `{package}` filled (the wheel's placeholders are filled
/// when it exists).
#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    pub requires: Vec<String>,
    pub commands: Vec<String>,
}

/// Each command names the wheel once, one way: cibuildwheel's rule.
pub fn check_command(command: &str) -> Result<(), String> {
    for part in command.split(" && ") {
        match (part.contains("{abi3_wheel}"), part.contains("{wheel}")) {
            (true, true) => return Err(format!("audit-command `{part}` has both {{abi3_wheel}} and {{wheel}}: keep one ({{abi3_wheel}} audits abi3 wheels only)")),
            (false, false) => return Err(format!("audit-command `{part}` names no wheel: add {{abi3_wheel}} (abi3 wheels) or {{wheel}} (every wheel)")),
            _ => {}
        }
    }
    Ok(())
}

impl Audit {
    /// The audit of a build whose steps are `steps`, its commands run in
    /// `root`; None where the command is empty (no audit).
    pub fn of(steps: &Steps, root: &Utf8Path, package: &Utf8Path) -> Option<Audit> {
        let command = steps.audit_command.as_deref().unwrap_or(DEFAULT_COMMAND);
        if command.trim().is_empty() {
            return None;
        }
        let fill = Placeholders::at(root.as_str(), package);
        Some(Audit {
            requires: steps
                .audit_requires
                .clone()
                .unwrap_or_else(|| DEFAULT_REQUIRES.iter().map(|s| s.to_string()).collect()),
            commands: command.split(" && ").map(|c| fill.command(c)).collect(),
        })
    }

    /// The commands that apply to `wheel` (its file name), as they run.
    pub fn for_wheel(&self, wheel: &Utf8Path) -> Vec<String> {
        let name = wheel.file_name().unwrap_or_default();
        let abi3 = name.split('-').rev().nth(1) == Some("abi3");
        let quoted = util::shell_quote(wheel.as_str());
        self.commands
            .iter()
            .filter(|c| abi3 || !c.contains("{abi3_wheel}"))
            .map(|c| {
                c.replace("{abi3_wheel}", &quoted)
                    .replace("{wheel}", &quoted)
            })
            .collect()
    }

    /// Its environment's folder: one per requirement list.
    fn venv(&self) -> Utf8PathBuf {
        let mut hash = util::Fnv::default();
        for r in &self.requires {
            hash.write(r.as_bytes());
            hash.write(b"\n");
        }
        util::project_root().join(format!("target/xtask/audit/{}", hash.hex()))
    }
}

/// The environments made in this run, one at a time.
#[derive(Default)]
pub struct Venvs(Mutex<()>);

/// The environment of `audit`, made when it is not there yet (python3 -m
/// venv, then pip installs the requirements); `ready` marks it whole.
fn ensure_venv(audit: &Audit, venvs: &Venvs, log_file: &File) -> Result<Utf8PathBuf> {
    let _one_at_a_time = venvs.0.lock().unwrap_or_else(|e| e.into_inner());
    let dir = audit.venv();
    let ready = dir.join("ready");
    if ready.is_file() {
        return Ok(dir);
    }
    let _lock = util::lock_waiting(
        &dir.with_extension("lock"),
        &format!("the audit environment {dir}"),
    )?;
    if ready.is_file() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let steps: [Vec<String>; 2] = [
        ["python3", "-m", "venv", dir.as_str()]
            .map(String::from)
            .to_vec(),
        [
            dir.join("bin/pip").as_str(),
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]
        .map(String::from)
        .into_iter()
        .chain(audit.requires.iter().cloned())
        .collect(),
    ];
    for step in steps {
        let status = Command::new(&step[0])
            .args(&step[1..])
            .stdout(log_file.try_clone()?)
            .stderr(log_file.try_clone()?)
            .status()
            .with_context(|| format!("starting `{}`", step.join(" ")))?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            bail!(
                "making the audit environment failed at `{}` ({status}): audit-requires ({}) must be installable from PyPI here, or set audit-command = \"\" to skip the audit",
                step.join(" "),
                audit.requires.join(" ")
            );
        }
    }
    std::fs::write(&ready, audit.requires.join("\n"))
        .with_context(|| format!("writing {ready}"))?;
    Ok(dir)
}

/// Runs the audit commands that apply to `wheel`, in `root`, their output
/// appended to the build's log.
pub fn run(
    audit: &Audit,
    venvs: &Venvs,
    wheel: &Utf8Path,
    root: &Utf8Path,
    log_file: &File,
    log: &Utf8Path,
) -> Result<()> {
    let commands = audit.for_wheel(wheel);
    if commands.is_empty() {
        return Ok(());
    }
    let venv = ensure_venv(audit, venvs, log_file)?;
    let path = format!(
        "{}:{}",
        venv.join("bin"),
        std::env::var("PATH").unwrap_or_default()
    );
    for command in commands {
        use std::io::Write;
        writeln!(&*log_file, "==> audit: {command}")?;
        let out = Command::new("sh")
            .args(["-c", &command])
            .current_dir(root)
            .env("PATH", &path)
            .env("VIRTUAL_ENV", venv.as_str())
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("starting the audit `{command}`"))?;
        (&*log_file).write_all(&out.stdout)?;
        (&*log_file).write_all(&out.stderr)?;
        if !out.status.success() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
            let said: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = said[said.len().saturating_sub(12)..].join("\n");
            bail!(
                "the audit `{command}` failed ({}); the wheel did not land; its report, in full in {log}:\n{tail}",
                out.status
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_the_wheel_once_and_abi3_ones_audit_abi3_wheels() {
        assert!(check_command(DEFAULT_COMMAND).is_ok());
        assert!(check_command("abi3audit {wheel} && check {abi3_wheel}").is_ok());
        assert_eq!(
            check_command("abi3audit {abi3_wheel} {wheel}"),
            Err("audit-command `abi3audit {abi3_wheel} {wheel}` has both {abi3_wheel} and {wheel}: keep one ({abi3_wheel} audits abi3 wheels only)".into())
        );
        assert!(check_command("abi3audit")
            .unwrap_err()
            .contains("names no wheel"));
        let steps = Steps {
            audit_command: Some("check {project}/x {wheel} && abi3audit {abi3_wheel}".into()),
            ..Steps::default()
        };
        let audit = Audit::of(&steps, Utf8Path::new("/my project"), Utf8Path::new("py")).unwrap();
        assert_eq!(audit.requires, ["abi3audit"]);
        let abi3 = Utf8Path::new("/out/d-1-cp312-abi3-manylinux_2_17_x86_64.whl");
        assert_eq!(
            audit.for_wheel(abi3),
            [
                "check '/my project'/x /out/d-1-cp312-abi3-manylinux_2_17_x86_64.whl",
                "abi3audit /out/d-1-cp312-abi3-manylinux_2_17_x86_64.whl"
            ]
        );
        let not = Utf8Path::new("/out/d-1-cp312-cp312-manylinux_2_17_x86_64.whl");
        assert_eq!(audit.for_wheel(not).len(), 1);
        let none = Steps {
            audit_command: Some(String::new()),
            ..Steps::default()
        };
        assert_eq!(
            Audit::of(&none, Utf8Path::new("/p"), Utf8Path::new("py")),
            None
        );
    }
}
