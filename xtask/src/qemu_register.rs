//! `cargo xtask qemu-register`: registers the aarch64 binfmt handler through a
//! privileged container, unless a usable one is already there.

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::Shell;

use crate::config::EngineSpec;
use crate::engine::Engine;
use crate::platform::{Arch, FastCpu};
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

/// The model for `arch`'s emulated builds whose emulator is `version`
/// (major, minor): the row's faster model where that QEMU has it and its
/// default is slower.
pub fn cpu_model(arch: Arch, user: Option<(&str, &str)>, version: Option<(u32, u32)>) -> CpuModel {
    if let Some((value, whence)) = user {
        return CpuModel {
            value: Some(value.to_string()),
            why: format!("given {whence}"),
        };
    }
    let models = arch.row().fast_cpu;
    let Some(newest) = models.first() else {
        return CpuModel {
            value: None,
            why: format!("no other model emulates {arch} faster"),
        };
    };
    let Some(v) = version else {
        return CpuModel {
            value: None,
            why: format!(
                "the emulator's version is unknown here; with QEMU {}.{} or later, --env QEMU_CPU={} makes it faster",
                newest.from.0, newest.from.1, newest.model
            ),
        };
    };
    let fits = |m: &&FastCpu| v >= m.from && m.until.is_none_or(|until| v < until);
    if let Some(fast) = models.iter().find(fits) {
        return CpuModel {
            value: Some(fast.model.into()),
            why: format!("QEMU {}.{} {}", v.0, v.1, fast.why),
        };
    }
    let names: Vec<&str> = models.iter().map(|m| m.model).collect();
    CpuModel {
        value: None,
        why: format!("QEMU {}.{} has none of {}", v.0, v.1, names.join(", ")),
    }
}

/// The version of the emulator this host's kernel runs for `arch`, asked of
/// that emulator itself: a program of the arch (its ELF header, which is
/// what the handler matches) is run with `QEMU_VERSION` set, and qemu-user
/// prints its version and exits before it loads anything. With flag F that
/// is the file opened when the handler was registered, which may be
/// another than the file at the handler's path now. None when no handler
/// is enabled, or what runs is not QEMU.
pub fn host_qemu_version(arch: Arch) -> Option<(u32, u32)> {
    let handler = handler(arch).ok()??;
    if !handler.enabled || arch.is_native_here() {
        return None;
    }
    let probe = probe_file(arch).ok()?;
    // A file just written may still be open in a child forked meanwhile
    // (until it execs): "text file busy" passes.
    for _ in 0..20 {
        match std::process::Command::new(&probe)
            .env("QEMU_VERSION", "1")
            .env_remove("QEMU_CPU")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
        {
            Ok(out) => return parse_qemu_version(&String::from_utf8_lossy(&out.stdout)),
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(_) => return None,
        }
    }
    None
}

/// A file the kernel hands to `arch`'s handler: the bytes its binfmt magic
/// names (an ELF header of the arch), made once under target/xtask/probes.
fn probe_file(arch: Arch) -> Result<camino::Utf8PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let file = util::project_root().join(format!("target/xtask/probes/{arch}"));
    if file.is_file() {
        return Ok(file);
    }
    let mut header = magic_bytes(arch.row().binfmt_magic);
    header.resize(64, 0);
    let partial = crate::cleanup::Partial::beside(&file);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    }
    std::fs::write(partial.path(), &header)
        .with_context(|| format!("writing {}", partial.path()))?;
    std::fs::set_permissions(partial.path(), std::fs::Permissions::from_mode(0o755))?;
    partial.keep()?;
    Ok(file)
}

/// The bytes of a binfmt magic written with `\xNN` escapes.
fn magic_bytes(magic: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = magic;
    while !rest.is_empty() {
        match rest.strip_prefix("\\x") {
            Some(hex) if hex.len() >= 2 => {
                bytes.push(u8::from_str_radix(&hex[..2], 16).expect("hex in a binfmt magic"));
                rest = &hex[2..];
            }
            _ => {
                let c = rest.chars().next().expect("not empty");
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    bytes
}

/// `qemu-aarch64 version 7.2.22 (Debian ...)` -> (7, 2).
fn parse_qemu_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.lines().next()?.split(" version ").nth(1)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The model for emulated work of `arch` on this host: a `QEMU_CPU` the user
/// set in this process's environment wins.
pub fn host_cpu_model(arch: Arch) -> CpuModel {
    let user = std::env::var("QEMU_CPU").ok().filter(|v| !v.is_empty());
    cpu_model(
        arch,
        user.as_deref().map(|v| (v, "in the environment")),
        host_qemu_version(arch),
    )
}

/// This host's handler for `arch` (`qemu-<qemu name>`), None when there is
/// none (or binfmt_misc is not mounted).
pub fn handler(arch: Arch) -> Result<Option<Binfmt>> {
    read_entry(Utf8Path::new(BINFMT_DIR), &handler_name(arch))
}

pub fn handler_name(arch: Arch) -> String {
    format!("qemu-{}", arch.row().qemu)
}

pub fn read_entry(dir: &Utf8Path, name: &str) -> Result<Option<Binfmt>> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Ok(Some(Binfmt::parse(&text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {dir}/{name}")),
    }
}

/// Registers `emulator` as this host's `arch` handler with flags PF, as
/// Debian's qemu-user-static does (the kernel opens the file now, so
/// containers need no copy of it; argv[0] is kept), in place of the handler
/// there: an emulated program started meanwhile fails. Writing binfmt_misc
/// takes root.
pub fn register_here(arch: Arch, emulator: &Utf8Path) -> Result<()> {
    let dir = Utf8Path::new(BINFMT_DIR);
    if !dir.join("register").exists() {
        bail!("binfmt_misc is not mounted at {BINFMT_DIR}: mount it (`sudo mount -t binfmt_misc binfmt_misc {BINFMT_DIR}`), then run this again");
    }
    let name = handler_name(arch);
    let write = |file: &str, text: &str| {
        std::fs::write(dir.join(file), text).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => anyhow::anyhow!(
                "writing {BINFMT_DIR}/{file}: permission denied: registering a handler takes root (run it with sudo)"
            ),
            _ => anyhow::Error::new(e).context(format!("writing {BINFMT_DIR}/{file}")),
        })
    };
    if let Some(entry) = handler(arch)? {
        if entry.enabled && entry.interpreter == emulator.as_str() && entry.flags == "PF" {
            return Ok(());
        }
        write(&name, "-1")?;
    }
    let row = arch.row();
    write(
        "register",
        &format!(
            ":{name}:M::{}:{}:{emulator}:PF",
            row.binfmt_magic, row.binfmt_mask
        ),
    )
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
/// takes `--reset -p yes` and registers every arch it carries;
/// tonistiigi/binfmt takes `--install arm64,s390x` (its Docker names) and
/// never resets.
pub fn image_args(image: &str, reset: bool, arches: &[Arch]) -> Vec<String> {
    let name = image.rsplit('/').next().unwrap_or(image);
    if name.starts_with("binfmt") {
        let names: Vec<&str> = arches.iter().map(|a| a.docker_name()).collect();
        return vec!["--install".into(), names.join(",")];
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
        let asked = match self.arch.is_empty() {
            true => Arch::foreign(),
            false => crate::platform::parse_arches(&self.arch).map_err(util::usage)?,
        };
        // Every handler is looked at before anything is registered: a
        // disabled one stops the command before a container starts.
        let mut missing = Vec::new();
        for arch in asked {
            if arch.is_native_here() {
                println!("{arch} runs natively on this machine: it needs no handler");
                continue;
            }
            match handler(arch)? {
                Some(entry) if entry.enabled && !self.reset => {
                    println!(
                        "{arch} handler already registered ({}): nothing to do (--reset re-registers it)",
                        entry.describe()
                    );
                    if !entry.usable() {
                        // The seed's setup: images then need the emulator at that path.
                        eprintln!(
                            "note: without flag F, containers need {} inside them (arm-image copies qemu-aarch64-static into its image); `--reset` registers with F instead",
                            entry.interpreter
                        );
                    }
                }
                Some(entry) if !self.reset => bail!(
                    "an {arch} handler is registered but disabled ({}): enable it (`echo 1 | sudo tee {BINFMT_DIR}/{}`) or re-register with `cargo xtask qemu-register --reset --arch {arch}`",
                    entry.describe(),
                    handler_name(arch)
                ),
                _ => missing.push(arch),
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|a| a.name()).collect();
        let names = names.join(", ");
        let args = if self.args.is_empty() {
            image_args(&image, self.reset, &missing)
        } else {
            self.args
        };
        if args.iter().any(|a| a == "--reset") {
            let others = qemu_entries();
            if !others.is_empty() {
                eprintln!("warning: --reset removes every qemu handler on this host, not only {names}: {}", others.join(", "));
            }
        }
        // The handlers go into this machine's kernel, through its own engine.
        let engine = Engine::ready(sh, runner.dry_run, &EngineSpec::Default)?;
        register(runner, &engine, &image, &args)
            .with_context(|| format!("registering the {names} handlers with `{image}`"))?;
        if runner.dry_run {
            return Ok(());
        }
        for arch in missing {
            match handler(arch)? {
                Some(entry) if entry.usable() => {
                    println!("{arch} handler registered ({})", entry.describe());
                }
                Some(entry) => bail!(
                    "`{image}` registered an {arch} handler without flag F ({}): containers would need the emulator inside them; use an image that registers with F (`-p yes`)",
                    entry.describe()
                ),
                None => bail!("`{image}` ran, but no {arch} handler is registered in {BINFMT_DIR}: check that the image registers {arch}"),
            }
        }
        Ok(())
    }
}

/// The `docker run` arguments that give the registration image what it needs:
/// `--privileged`, as the images document; or, where the engine cannot grant
/// every capability (a host whose own bounding set lacks some, as inside a
/// container), only what writing binfmt_misc takes: CAP_SYS_ADMIN to mount it,
/// a writable /proc/sys, and no AppArmor profile that forbids the mount.
pub fn run_args(image: &str, args: &[String], privileged: bool) -> Vec<String> {
    let mut v: Vec<String> = ["run", "--rm", "--label", crate::engine::CONTAINER_LABEL]
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
    fn the_probe_is_an_elf_header_of_its_arch() {
        for arch in Arch::ALL {
            let row = arch.row();
            let bytes = magic_bytes(row.binfmt_magic);
            assert_eq!(bytes.len(), 20, "{arch}");
            assert_eq!(&bytes[..4], b"\x7fELF", "{arch}");
            // EI_CLASS: 1 for 32-bit, 2 for 64-bit.
            assert_eq!(bytes[4], if row.bits == 64 { 2 } else { 1 }, "{arch}");
            // e_machine, in the byte order EI_DATA names (1: little endian).
            let machine = match bytes[5] {
                1 => u16::from_le_bytes([bytes[18], bytes[19]]),
                _ => u16::from_be_bytes([bytes[18], bytes[19]]),
            };
            assert_eq!(machine, row.elf_machine, "{arch}");
        }
    }

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
        let arm = Arch::Aarch64;
        let fast = cpu_model(arm, None, Some((7, 2)));
        assert_eq!(fast.value.as_deref(), Some("neoverse-n1"));
        assert!(fast.describe().contains("QEMU 7.2"), "{}", fast.describe());
        assert_eq!(
            cpu_model(arm, None, Some((11, 1))).value.as_deref(),
            Some("neoverse-n1")
        );
        let older = cpu_model(arm, None, Some((6, 2)));
        assert_eq!(older.value.as_deref(), Some("max,pauth-impdef=on"));
        assert!(
            older.why.contains("pointer authentication"),
            "{}",
            older.why
        );
        let oldest = cpu_model(arm, None, Some((5, 2)));
        assert_eq!(oldest.value, None);
        assert!(
            oldest
                .why
                .contains("has none of neoverse-n1, max,pauth-impdef=on"),
            "{}",
            oldest.why
        );
        let unknown = cpu_model(arm, None, None);
        assert_eq!(unknown.value, None);
        assert!(
            unknown.why.contains("--env QEMU_CPU=neoverse-n1"),
            "{}",
            unknown.why
        );
        assert_eq!(cpu_model(Arch::S390x, None, Some((11, 1))).value, None);
        assert_eq!(
            cpu_model(Arch::Riscv64, None, Some((11, 1)))
                .value
                .as_deref(),
            Some("rv64")
        );
        let user = cpu_model(arm, Some(("max,pauth=off", "with --env")), Some((7, 2)));
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
        let arm = [Arch::Aarch64];
        assert_eq!(
            image_args("multiarch/qemu-user-static", true, &arm),
            ["--reset", "-p", "yes"]
        );
        assert_eq!(
            image_args("multiarch/qemu-user-static", false, &arm),
            ["-p", "yes"]
        );
        assert_eq!(
            image_args("tonistiigi/binfmt", true, &arm),
            ["--install", "arm64"]
        );
        assert_eq!(
            image_args(
                "docker.io/tonistiigi/binfmt:latest",
                false,
                &[Arch::S390x, Arch::Armv7l, Arch::Riscv64]
            ),
            ["--install", "s390x,arm,riscv64"]
        );
    }
}
