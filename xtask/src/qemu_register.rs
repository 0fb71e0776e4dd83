//! `cargo xtask qemu-register`: registers the aarch64 binfmt handler through a
//! privileged container, unless a usable one is already there.

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::Shell;

use crate::config::EngineSpec;
use crate::engine::Engine;
use crate::{config::Config, flags, util};

pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// One binfmt_misc entry, as /proc/sys/fs/binfmt_misc/<name> shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Binfmt {
    pub enabled: bool,
    pub interpreter: String,
    pub flags: String,
}

impl Binfmt {
    pub fn parse(text: &str) -> Binfmt {
        let mut entry = Binfmt {
            enabled: false,
            interpreter: String::new(),
            flags: String::new(),
        };
        for line in text.lines() {
            if line == "enabled" {
                entry.enabled = true;
            } else if let Some(i) = line.strip_prefix("interpreter ") {
                entry.interpreter = i.to_string();
            } else if let Some(f) = line.strip_prefix("flags:") {
                entry.flags = f.trim().to_string();
            }
        }
        entry
    }

    /// Enabled, and with F the kernel opened the emulator at registration, so
    /// containers need no copy of it.
    pub fn usable(&self) -> bool {
        self.enabled && self.flags.contains('F')
    }

    pub fn describe(&self) -> String {
        format!(
            "{}, interpreter {}, flags {}",
            if self.enabled { "enabled" } else { "disabled" },
            self.interpreter,
            if self.flags.is_empty() {
                "none"
            } else {
                &self.flags
            }
        )
    }
}

/// The CPU model emulated aarch64 programs run with, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuModel {
    /// What goes in the container's `QEMU_CPU`; None: QEMU's own default.
    pub value: Option<String>,
    pub why: String,
}

impl CpuModel {
    /// The container variable that sets it, if any.
    pub fn env(&self) -> Vec<(String, String)> {
        self.value
            .iter()
            .map(|v| ("QEMU_CPU".to_string(), v.clone()))
            .collect()
    }

    pub fn describe(&self) -> String {
        match &self.value {
            Some(v) => format!("QEMU_CPU={v} ({})", self.why),
            None => format!("QEMU's default CPU model ({})", self.why),
        }
    }
}

/// `max` with pointer authentication kept (Debian's and most arm64 binaries
/// use it) but computed by QEMU's cheap implementation-defined hash instead of
/// the architected QARMA: the same instructions stay valid, three times faster
/// (`pauth=off` is faster still, but makes the non-hint PAC instructions of
/// code built for Armv8.3 and later undefined).
pub const FAST_CPU: &str = "max,pauth-impdef=on";

/// The model for emulated builds whose emulator is `version` (major, minor):
/// QEMU 6.0 brought `pauth-impdef`, 10.0 made it the default of `max`.
pub fn cpu_model(user: Option<(&str, &str)>, version: Option<(u32, u32)>) -> CpuModel {
    if let Some((value, whence)) = user {
        return CpuModel {
            value: Some(value.to_string()),
            why: format!("given {whence}"),
        };
    }
    match version {
        Some(v @ (6..=9, _)) => CpuModel {
            value: Some(FAST_CPU.into()),
            why: format!("QEMU {}.{} emulates pointer authentication slowly by default", v.0, v.1),
        },
        Some(v) if v.0 >= 10 => CpuModel {
            value: None,
            why: format!("QEMU {}.{} computes pointer authentication cheaply already", v.0, v.1),
        },
        Some(v) => CpuModel {
            value: None,
            why: format!("QEMU {}.{} predates pauth-impdef", v.0, v.1),
        },
        None => CpuModel {
            value: None,
            why: format!("the emulator's version is unknown here; with QEMU 6 to 9, --env QEMU_CPU={FAST_CPU} makes it faster"),
        },
    }
}

/// The version of the emulator behind this host's aarch64 handler, when its
/// file is here to ask (a handler registered from a container names a path
/// inside that container).
pub fn host_qemu_version() -> Option<(u32, u32)> {
    let handler = aarch64_handler().ok()??;
    // The Debian name `aarch64-binfmt-P` refuses --version: ask the file it links to.
    let real = std::fs::canonicalize(&handler.interpreter).ok()?;
    let out = std::process::Command::new(real)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    parse_qemu_version(&String::from_utf8_lossy(&out.stdout))
}

/// `qemu-aarch64 version 7.2.22 (Debian ...)` -> (7, 2).
fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.lines().next()?.split(" version ").nth(1)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The model for emulated work on this host: a `QEMU_CPU` the user set in
/// this process's environment wins.
pub fn host_cpu_model() -> CpuModel {
    let user = std::env::var("QEMU_CPU").ok().filter(|v| !v.is_empty());
    cpu_model(
        user.as_deref().map(|v| (v, "in the environment")),
        host_qemu_version(),
    )
}

/// The aarch64 handler, None when there is none (or binfmt_misc is not mounted).
pub fn aarch64_handler() -> Result<Option<Binfmt>> {
    read_entry(Utf8Path::new(BINFMT_DIR), "qemu-aarch64")
}

pub fn read_entry(dir: &Utf8Path, name: &str) -> Result<Option<Binfmt>> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Ok(Some(Binfmt::parse(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {dir}/{name}")),
    }
}

/// The other qemu handlers a `--reset` would remove.
fn qemu_entries() -> Vec<String> {
    let Ok(dir) = Utf8Path::new(BINFMT_DIR).read_dir_utf8() else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .flatten()
        .map(|e| e.file_name().to_string())
        .filter(|n| n.starts_with("qemu-"))
        .collect();
    names.sort();
    names
}

/// The arguments of the registration image: multiarch/qemu-user-static
/// takes `--reset -p yes`; tonistiigi/binfmt takes `--install arm64` and never resets.
pub fn image_args(image: &str, reset: bool) -> Vec<String> {
    let name = image.rsplit('/').next().unwrap_or(image);
    if name.starts_with("binfmt") {
        return vec!["--install".into(), "arm64".into()];
    }
    let mut args = Vec::new();
    if reset {
        args.push("--reset".to_string());
    }
    args.extend(["-p".to_string(), "yes".to_string()]);
    args
}

impl flags::QemuRegister {
    pub fn run(self, sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
        let image = self.image.unwrap_or_else(|| config.qemu_image.clone());
        let current = aarch64_handler()?;
        match &current {
            Some(entry) if entry.enabled && !self.reset => {
                println!(
                    "aarch64 handler already registered ({}): nothing to do (--reset re-registers it)",
                    entry.describe()
                );
                if !entry.usable() {
                    // The seed's setup: images then need the emulator at that path.
                    eprintln!(
                        "note: without flag F, containers need {} inside them (arm-image copies qemu-aarch64-static into its image); `--reset` registers with F instead",
                        entry.interpreter
                    );
                }
                return Ok(());
            }
            Some(entry) if !self.reset => bail!(
                "an aarch64 handler is registered but disabled ({}): enable it (`echo 1 | sudo tee {BINFMT_DIR}/qemu-aarch64`) or re-register with `cargo xtask qemu-register --reset`",
                entry.describe()
            ),
            _ => {}
        }
        let args = if self.args.is_empty() {
            image_args(&image, self.reset)
        } else {
            self.args
        };
        if args.iter().any(|a| a == "--reset") {
            let others = qemu_entries();
            if !others.is_empty() {
                eprintln!("warning: --reset removes every qemu handler on this host, not only aarch64: {}", others.join(", "));
            }
        }
        // The handler goes into this machine's kernel, through its own engine.
        let engine = Engine::ready(sh, runner.dry_run, &EngineSpec::Default)?;
        register(runner, &engine, &image, &args)
            .with_context(|| format!("registering the aarch64 handler with `{image}`"))?;
        if runner.dry_run {
            return Ok(());
        }
        match aarch64_handler()? {
            Some(entry) if entry.usable() => {
                println!("aarch64 handler registered ({})", entry.describe());
                Ok(())
            }
            Some(entry) => bail!(
                "`{image}` registered an aarch64 handler without flag F ({}): containers would need the emulator inside them; use an image that registers with F (`-p yes`)",
                entry.describe()
            ),
            None => bail!("`{image}` ran, but no aarch64 handler is registered in {BINFMT_DIR}: check that the image registers aarch64"),
        }
    }
}

/// The `docker run` arguments that give the registration image what it needs:
/// `--privileged`, as the images document; or, where the engine cannot grant
/// every capability (a host whose own bounding set lacks some, as inside a
/// container), only what writing binfmt_misc takes: CAP_SYS_ADMIN to mount it,
/// a writable /proc/sys, and no AppArmor profile that forbids the mount.
pub fn run_args(image: &str, args: &[String], privileged: bool) -> Vec<String> {
    let mut v: Vec<String> = [
        "run",
        "--rm",
        "--label",
        &format!("{}=container", crate::engine::LABEL),
    ]
    .map(String::from)
    .to_vec();
    if privileged {
        v.push("--privileged".into());
    } else {
        for a in [
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "systempaths=unconfined",
            "--security-opt",
            "apparmor=unconfined",
        ] {
            v.push(a.into());
        }
    }
    v.push(image.into());
    v.extend(args.iter().cloned());
    v
}

fn register(runner: &util::Runner, engine: &Engine, image: &str, args: &[String]) -> Result<()> {
    let mut privileged = engine.command();
    privileged.args(run_args(image, args, true));
    if runner.dry_run {
        return runner.run(privileged);
    }
    eprintln!("$ {}", util::command_line(&privileged, &[]));
    let out = privileged
        .output()
        .context("starting the registration container")?;
    std::io::Write::write_all(&mut std::io::stdout(), &out.stdout)?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.contains("unable to apply caps") {
        bail!(
            "the registration container failed ({}): {}",
            out.status,
            stderr.trim()
        );
    }
    eprintln!(
        "warning: the engine cannot grant --privileged on this host (its capability bounding set is incomplete, as inside a container); \
         retrying with only what registration needs: --cap-add SYS_ADMIN, a writable /proc/sys, AppArmor unconfined"
    );
    let mut narrow = engine.command();
    narrow.args(run_args(image, args, false));
    runner.run(narrow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_model_follows_the_emulator() {
        assert_eq!(
            parse_qemu_version(
                "qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright"
            ),
            Some((7, 2))
        );
        assert_eq!(
            parse_qemu_version("qemu-aarch64 version 10.0.2\n"),
            Some((10, 0))
        );
        assert_eq!(parse_qemu_version("nonsense"), None);
        let fast = cpu_model(None, Some((7, 2)));
        assert_eq!(fast.value.as_deref(), Some(FAST_CPU));
        assert!(fast.describe().contains("QEMU 7.2"), "{}", fast.describe());
        assert_eq!(cpu_model(None, Some((10, 1))).value, None);
        assert_eq!(cpu_model(None, Some((5, 2))).value, None);
        let unknown = cpu_model(None, None);
        assert_eq!(unknown.value, None);
        assert!(unknown.why.contains(FAST_CPU), "{}", unknown.why);
        let user = cpu_model(Some(("max,pauth=off", "with --env")), Some((7, 2)));
        assert_eq!(user.value.as_deref(), Some("max,pauth=off"));
        assert_eq!(user.describe(), "QEMU_CPU=max,pauth=off (given with --env)");
    }

    #[test]
    fn parses_entries() {
        let e = Binfmt::parse(
            "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c46\nmask ffffffff\n",
        );
        assert!(e.usable());
        assert_eq!(
            e.describe(),
            "enabled, interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P, flags PF"
        );
        let e = Binfmt::parse("disabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\n");
        assert!(!e.usable());
        let e = Binfmt::parse("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: \n");
        assert!(!e.usable());
        assert_eq!(
            e.describe(),
            "enabled, interpreter /usr/bin/qemu-aarch64-static, flags none"
        );
    }

    #[test]
    fn registration_arguments() {
        assert_eq!(
            image_args("multiarch/qemu-user-static", true),
            ["--reset", "-p", "yes"]
        );
        assert_eq!(
            image_args("multiarch/qemu-user-static", false),
            ["-p", "yes"]
        );
        assert_eq!(
            image_args("tonistiigi/binfmt", true),
            ["--install", "arm64"]
        );
        assert_eq!(
            image_args("docker.io/tonistiigi/binfmt:latest", false),
            ["--install", "arm64"]
        );
    }
}
