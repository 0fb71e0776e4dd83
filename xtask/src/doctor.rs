//! `cargo xtask doctor`: one line per prerequisite, with the fix for what fails.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use crate::engine::Engine;
use crate::platform::Arch;
use crate::{config::Config, flags, qemu_copy, qemu_register};

#[derive(Debug, PartialEq)]
pub enum Status {
    Ok,
    /// Worth knowing, not needed for the configured builds.
    Note,
    Missing,
}

#[derive(Debug)]
pub struct Check {
    pub what: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(what: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            what,
            status,
            detail: detail.into(),
        }
    }

    pub fn line(&self) -> String {
        let mark = match self.status {
            Status::Ok => "ok  ",
            Status::Note => "note",
            Status::Missing => "FAIL",
        };
        format!("{mark}  {:<22} {}", self.what, self.detail)
    }
}

/// Runs every check; never fails itself, so that all lines get printed.
pub fn checks(sh: &Shell, config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    let engine = match Engine::detect() {
        Ok(engine) => {
            let program = &engine.program;
            let version = cmd!(sh, "{program} --version")
                .quiet()
                .ignore_status()
                .read()
                .unwrap_or_default();
            out.push(Check::new(
                "container engine",
                Status::Ok,
                format!("{program} ({})", version.trim()),
            ));
            Some(engine)
        }
        Err(e) => {
            out.push(Check::new(
                "container engine",
                Status::Missing,
                format!("{e:#}"),
            ));
            None
        }
    };
    let daemon = engine.as_ref().map(|e| e.check_daemon(sh));
    match &daemon {
        Some(Ok(version)) => out.push(Check::new(
            "daemon",
            Status::Ok,
            format!("reachable, server {version}"),
        )),
        Some(Err(e)) => out.push(Check::new("daemon", Status::Missing, format!("{e:#}"))),
        None => out.push(Check::new(
            "daemon",
            Status::Missing,
            "not checked: no container engine",
        )),
    }

    let needs_emulation = config.arch.iter().any(|&a| Some(a) != Arch::host());
    let need = |needed: bool| {
        if needed {
            Status::Missing
        } else {
            Status::Note
        }
    };
    let handler = qemu_register::aarch64_handler();
    let usable = matches!(&handler, Ok(Some(h)) if h.usable());
    match handler {
        Ok(Some(h)) if h.usable() => {
            out.push(Check::new("aarch64 emulation", Status::Ok, h.describe()))
        }
        Ok(Some(h)) => out.push(Check::new(
            "aarch64 emulation",
            need(needs_emulation),
            format!(
                "{}: not usable without flag F; fix: `cargo xtask qemu-register --reset`",
                h.describe()
            ),
        )),
        Ok(None) => out.push(Check::new(
            "aarch64 emulation",
            need(needs_emulation),
            "no qemu-aarch64 handler in /proc/sys/fs/binfmt_misc; fix: `cargo xtask qemu-register`",
        )),
        Err(e) => out.push(Check::new(
            "aarch64 emulation",
            need(needs_emulation),
            format!("{e:#}"),
        )),
    }
    match qemu_copy::find(None) {
        Ok(path) => out.push(Check::new(
            "qemu-aarch64-static",
            Status::Ok,
            path.to_string(),
        )),
        // With flag F the kernel holds the emulator open: no copy is needed.
        Err(e) => out.push(Check::new(
            "qemu-aarch64-static",
            need(needs_emulation && !usable),
            format!("{e:#}"),
        )),
    }

    for &arch in &config.arch {
        let image = config.images.get(arch);
        let what = match arch {
            Arch::X86_64 => "x86_64 image",
            Arch::Aarch64 => "aarch64 image",
        };
        let check = match (&engine, &daemon) {
            (Some(engine), Some(Ok(_))) => match engine.inspect_image(sh, image) {
                Ok(Some(info)) => match info.check_arch(image, arch) {
                    Ok(()) => Check::new(what, Status::Ok, format!("{image} ({})", short_id(&info.id))),
                    Err(e) => Check::new(what, Status::Missing, format!("{e:#}")),
                },
                Ok(None) => Check::new(
                    what,
                    Status::Missing,
                    format!("{image} is not here; fix: `{} pull --platform {} {image}` or `cargo xtask prep`", engine.name(), arch.docker_platform()),
                ),
                Err(e) => Check::new(what, Status::Missing, format!("{e:#}")),
            },
            _ => Check::new(what, Status::Missing, format!("{image}: not checked, no daemon")),
        };
        out.push(check);
    }
    out
}

fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

impl flags::Doctor {
    pub fn run(self, sh: &Shell, config: &Config) -> Result<()> {
        report(&checks(sh, config))
    }
}

/// Prints the lines; fails when something needed is missing.
pub fn report(checks: &[Check]) -> Result<()> {
    for check in checks {
        println!("{}", check.line());
    }
    let missing: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == Status::Missing)
        .map(|c| c.what)
        .collect();
    if !missing.is_empty() {
        bail!(
            "not ready: {} (see the FAIL lines for the fix)",
            missing.join(", ")
        );
    }
    println!("ready");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_verdict() {
        let ok = Check::new("daemon", Status::Ok, "reachable, server 20.10");
        assert_eq!(
            ok.line(),
            "ok    daemon                 reachable, server 20.10"
        );
        let missing = Check::new("x86_64 image", Status::Missing, "gone");
        assert_eq!(missing.line(), "FAIL  x86_64 image           gone");
        assert!(report(&[ok]).is_ok());
        let err = report(&[
            missing,
            Check::new("qemu-aarch64-static", Status::Note, "n"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "not ready: x86_64 image (see the FAIL lines for the fix)"
        );
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
