//! `cargo xtask doctor`: one line per prerequisite, with the fix for what fails.

use anyhow::{bail, Result};
use xshell::{cmd, Shell};

use crate::engine::{short_id, Engine, Server};
use crate::platform::Arch;
use crate::{config::Config, flags, qemu_copy, qemu_register, util};

#[derive(Debug, PartialEq)]
pub enum Status {
    Ok,
    /// Worth knowing, not needed for the configured builds.
    Note,
    Missing,
}

#[derive(Debug)]
pub struct Check {
    pub what: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(what: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
        Check {
            what: what.into(),
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

/// One configured engine, as doctor found it.
struct Found {
    arch: Arch,
    engine: Engine,
    server: Option<Server>,
}

/// Runs every check; never fails itself, so that all lines get printed.
pub fn checks(sh: &Shell, config: &Config) -> Vec<Check> {
    let (mut out, found) = engine_checks(sh, config);
    out.extend(emulation_checks(&found));
    out.extend(image_checks(sh, config, &found));
    out.extend(cache_checks(&found));
    out
}

/// The cache volumes of `wheels` on each engine (bytecode, ccache, pip),
/// and their size: they are kept between runs, per image and project.
fn cache_checks(found: &[Found]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut seen: Vec<&Engine> = Vec::new();
    for f in found.iter().filter(|f| f.server.is_some()) {
        if seen.contains(&&f.engine) {
            continue;
        }
        seen.push(&f.engine);
        let mut df = f.engine.command();
        df.args(["system", "df", "-v"]);
        let Ok(output) = df.stderr(std::process::Stdio::null()).output() else {
            continue;
        };
        let table = String::from_utf8_lossy(&output.stdout);
        let volumes = cache_volumes(&table);
        if volumes.is_empty() {
            continue;
        }
        let total: f64 = volumes.iter().map(|(_, bytes)| bytes).sum();
        // The engine's own client line, so that the command reaches the
        // daemon that holds them (its --host or --context too).
        let client = util::command_line(&f.engine.command(), &[]);
        out.push(Check::new(
            "cache volumes",
            Status::Note,
            format!(
                "{}: {} of `wheels` ({:.1} MB); `{client} volume rm $({client} volume ls -q --filter label={}=cache)` removes them",
                f.engine.describe(),
                volumes.len(),
                total / 1e6,
                crate::engine::LABEL
            ),
        ));
    }
    out
}

/// The volumes of `wheels` and their sizes in bytes, from the volumes table
/// of `docker system df -v` (`NAME LINKS SIZE`, such as `12.5MB`).
fn cache_volumes(table: &str) -> Vec<(String, f64)> {
    table
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            if !name.starts_with("xtask-wheels-") {
                return None;
            }
            let size = words.nth(1)?;
            let number = size.trim_end_matches(char::is_alphabetic);
            let unit = &size[number.len()..];
            let scale = match unit {
                "B" => 1.0,
                "kB" | "KB" => 1e3,
                "MB" => 1e6,
                "GB" => 1e9,
                "TB" => 1e12,
                _ => return None,
            };
            Some((name.to_string(), number.parse::<f64>().ok()? * scale))
        })
        .collect()
}

/// Each configured arch's engine: found, answering, and whether it runs
/// the arch natively.
fn engine_checks(sh: &Shell, config: &Config) -> (Vec<Check>, Vec<Found>) {
    let mut out = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    for &arch in &config.arch {
        let spec = config.engine(arch);
        let what = format!("{arch} engine");
        let engine = match Engine::from_spec(spec) {
            Ok(engine) => engine,
            Err(e) => {
                out.push(Check::new(&what, Status::Missing, format!("{e:#}")));
                continue;
            }
        };
        let server = match engine.server(sh) {
            Ok(server) => {
                let how = if server.native(arch) {
                    "native"
                } else {
                    "emulated"
                };
                out.push(Check::new(
                    &what,
                    Status::Ok,
                    format!(
                        "{}: server {} on {}, {arch} builds {how}",
                        engine.describe(),
                        server.version,
                        server.arch
                    ),
                ));
                Some(server)
            }
            Err(e) => {
                out.push(Check::new(&what, Status::Missing, format!("{e:#}")));
                None
            }
        };
        found.push(Found {
            arch,
            engine,
            server,
        });
    }

    (out, found)
}

/// This machine's handler of each emulated arch, the CPU model its builds
/// get, and the emulator a cross-arch image copies.
fn emulation_checks(found: &[Found]) -> Vec<Check> {
    let mut out = Vec::new();
    // This machine's handlers matter only to emulated builds on a local engine.
    let emulated: Vec<Arch> = found
        .iter()
        .filter(|f| f.engine.is_local() && f.server.as_ref().is_some_and(|s| !s.native(f.arch)))
        .map(|f| f.arch)
        .collect();
    let needs_emulation = !emulated.is_empty();
    let need = |needed: bool| {
        if needed {
            Status::Missing
        } else {
            Status::Note
        }
    };
    // Without an emulated build, the aarch64 handler is still worth a note.
    let arches = match needs_emulation {
        true => emulated.clone(),
        false => vec![Arch::Aarch64],
    };
    let mut usable = false;
    for arch in arches {
        let what = format!("{arch} emulation");
        let name = qemu_register::handler_name(arch);
        match qemu_register::handler(arch) {
            Ok(Some(h)) if h.usable() => {
                usable |= arch == Arch::Aarch64;
                out.push(Check::new(what, Status::Ok, h.describe()));
                out.push(qemu_version_check(
                    arch,
                    qemu_register::host_qemu_version(arch),
                ));
            }
            Ok(Some(h)) => out.push(Check::new(
                what,
                need(needs_emulation),
                format!(
                    "{}: not usable without flag F; fix: `cargo xtask qemu-register --reset --arch {arch}`",
                    h.describe()
                ),
            )),
            Ok(None) => out.push(Check::new(
                what,
                need(needs_emulation),
                format!("no {name} handler in /proc/sys/fs/binfmt_misc; fix: `cargo xtask qemu-register --arch {arch}`"),
            )),
            Err(e) => out.push(Check::new(what, need(needs_emulation), format!("{e:#}"))),
        }
        if needs_emulation {
            let model = qemu_register::host_cpu_model(arch);
            out.push(Check::new(
                format!("emulated {arch} CPU"),
                Status::Ok,
                model.describe(),
            ));
        }
    }
    let needs_emulation = emulated.contains(&Arch::Aarch64);
    match qemu_copy::find(Arch::Aarch64, None) {
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

    out
}

/// Each arch's image on its engine: there, of the right arch, and (podman)
/// a container of it starts.
fn image_checks(sh: &Shell, config: &Config, found: &[Found]) -> Vec<Check> {
    let mut out = Vec::new();
    for f in found {
        let arch = f.arch;
        let image = config.images.get(arch);
        let what = format!("{arch} image");
        let engine = &f.engine;
        let check = match &f.server {
            Some(_) => match engine.inspect_image(sh, image) {
                Ok(Some(info)) => match info.check_arch(image, arch) {
                    Ok(()) => container_start(sh, engine, image, arch).unwrap_or_else(|| {
                        Check::new(&what, Status::Ok, format!("{image} ({}) on {}", short_id(&info.id), engine.describe()))
                    }),
                    Err(e) => Check::new(&what, Status::Missing, format!("{e:#}")),
                },
                Ok(None) => Check::new(
                    &what,
                    Status::Missing,
                    format!(
                        "{image} is not on {}; fix: `{} pull --platform {} {image}`, `cargo xtask prep`, or `docker save {image} | {} load` from an engine that has it",
                        engine.describe(),
                        util::command_line(&engine.command(), &[]),
                        arch.docker_platform(),
                        util::command_line(&engine.command(), &[]),
                    ),
                ),
                Err(e) => Check::new(&what, Status::Missing, format!("{e:#}")),
            },
            None => Check::new(&what, Status::Missing, format!("{image}: not checked, its engine does not answer")),
        };
        out.push(check);
    }
    out
}

/// podman refuses some container starts that its `info` does not foretell
/// (the process limit, rootless networking): start one, and say the fix.
/// None when it starts, or for docker.
fn container_start(sh: &Shell, engine: &Engine, image: &str, arch: Arch) -> Option<Check> {
    if !engine.is_podman() {
        return None;
    }
    let (program, endpoint) = (&engine.program, &engine.endpoint);
    let label = crate::engine::CONTAINER_LABEL;
    let platform = arch.docker_platform();
    let out = cmd!(
        sh,
        "{program} {endpoint...} run --rm --label {label} --platform {platform} --entrypoint true {image}"
    )
    .quiet()
    .ignore_status()
    .output()
    .ok()?;
    if out.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = util::last_line(&out.stderr, "no reason given");
    Some(Check::new(
        "container start",
        Status::Missing,
        format!(
            "{} cannot start a container of {image} ({reason}){}",
            engine.describe(),
            crate::engine::start_failure_fix(&stderr)
        ),
    ))
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
        .map(|c| c.what.as_str())
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

/// The oldest QEMU that users' CI registers today (GitHub's QEMU action
/// installs 10 or newer): under older ones, emulated builds are slower than
/// theirs (QEMU 7.2's default aarch64 CPU model compiles at about half the
/// speed of 11's).
const CURRENT_QEMU: (u32, u32) = (10, 0);

/// Which QEMU the kernel runs for `arch` (the emulator's own answer), and a
/// note when it is older than the ones users' CI runs.
fn qemu_version_check(arch: Arch, version: Option<(u32, u32)>) -> Check {
    let what = format!("{arch} QEMU");
    let name = qemu_register::handler_name(arch);
    match version {
        Some((major, minor)) if (major, minor) >= CURRENT_QEMU => {
            Check::new(what, Status::Ok, format!("the kernel runs QEMU {major}.{minor}"))
        }
        Some((major, minor)) => Check::new(
            what,
            Status::Note,
            format!(
                "the kernel runs QEMU {major}.{minor}, older than {}: emulated builds may run at another speed than under the QEMU users' CI registers; to time them as CI would, install QEMU {0} or newer and `cargo xtask qemu-register --reset --arch {arch}`",
                CURRENT_QEMU.0
            ),
        ),
        None => Check::new(
            what,
            Status::Note,
            format!("{name} did not say its version (QEMU_VERSION=1): it may not be QEMU"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_volumes_are_read_from_the_volumes_table() {
        let table = "Local Volumes space usage:\n\nVOLUME NAME                                   LINKS     SIZE\nxtask-wheels-pycache-aarch64-0123456789ab-89abcdef   0   12.5MB\nother   1   3GB\nxtask-wheels-ccache-x86_64-0123456789ab   0   512kB\n";
        assert_eq!(
            cache_volumes(table),
            [
                (
                    "xtask-wheels-pycache-aarch64-0123456789ab-89abcdef".to_string(),
                    12.5e6
                ),
                ("xtask-wheels-ccache-x86_64-0123456789ab".to_string(), 512e3),
            ]
        );
    }

    #[test]
    fn the_kernels_qemu_is_named_and_an_old_one_noted() {
        let new = qemu_version_check(Arch::Aarch64, Some((11, 1)));
        assert_eq!(new.status, Status::Ok);
        assert_eq!(
            new.line(),
            "ok    aarch64 QEMU           the kernel runs QEMU 11.1"
        );
        let old = qemu_version_check(Arch::Riscv64, Some((7, 2)));
        assert_eq!(old.status, Status::Note);
        assert!(
            old.detail
                .starts_with("the kernel runs QEMU 7.2, older than 10: "),
            "{}",
            old.detail
        );
        assert!(
            old.detail
                .ends_with("`cargo xtask qemu-register --reset --arch riscv64`"),
            "{}",
            old.detail
        );
        assert_eq!(
            qemu_version_check(Arch::S390x, Some((10, 0))).status,
            Status::Ok
        );
        let unknown = qemu_version_check(Arch::S390x, None);
        assert_eq!(unknown.status, Status::Note);
        assert_eq!(
            unknown.detail,
            "qemu-s390x did not say its version (QEMU_VERSION=1): it may not be QEMU"
        );
    }

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
