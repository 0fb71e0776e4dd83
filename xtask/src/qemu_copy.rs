//! `cargo xtask qemu-copy`: puts the host's static emulator of an arch into
//! its cross-arch image's build context (needed where the binfmt handler
//! lacks flag F): aarch64's into scripts/arm-image (arm-image), any other
//! emulated arch's into scripts/cross-image/ARCH (cross-image).

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::platform::Arch;
use crate::{flags, util};

/// Names the emulator of `arch` goes by: Debian bookworm and older ship
/// `-static`; newer Debian ships static `qemu-user` binaries without the
/// suffix; binfmt-support registers a link under /usr/libexec.
fn candidates(arch: Arch) -> [String; 3] {
    let q = arch.row().qemu;
    [
        format!("qemu-{q}-static"),
        format!("qemu-{q}"),
        format!("/usr/libexec/qemu-binfmt/{q}-binfmt-P"),
    ]
}

/// The build context of `arch`'s cross-arch image.
pub fn context_dir(arch: Arch) -> Utf8PathBuf {
    match arch {
        Arch::Aarch64 => util::project_root().join("scripts/arm-image"),
        _ => util::project_root()
            .join("scripts/cross-image")
            .join(arch.name()),
    }
}

/// Where the emulator goes in that context (and in the image, under /usr/bin).
pub fn dest(arch: Arch) -> Utf8PathBuf {
    context_dir(arch).join(format!("qemu-{}-static", arch.row().qemu))
}

/// The arch of `--arch`: one this machine emulates.
pub fn emulated_arch(arch: &str, command: &str) -> Result<Arch> {
    let emulated = Arch::foreign()
        .into_iter()
        .map(Arch::name)
        .collect::<Vec<_>>()
        .join(", ");
    let Ok(parsed) = Arch::parse(arch) else {
        return Err(util::usage(format!(
            "{command} --arch {arch}: unknown arch: name one of {emulated}"
        )));
    };
    if parsed.is_native_here() {
        return Err(util::usage(format!(
            "{command} --arch {arch}: this machine runs {parsed} natively, so its images need no emulator: build in its manylinux image as it is, or name one of {emulated}"
        )));
    }
    Ok(parsed)
}

impl flags::QemuCopy {
    pub fn run(self, _sh: &Shell, runner: &util::Runner) -> Result<()> {
        let arch = match &self.arch {
            Some(arch) => emulated_arch(arch, "qemu-copy")?,
            None => Arch::Aarch64,
        };
        let from = find(arch, self.from.as_deref())?;
        ready_context(runner, arch, &from)
    }
}

/// Copies `from` into `arch`'s build context; for cross-image's contexts,
/// with the Dockerfile (scripts/cross-image/Dockerfile) beside it.
pub fn ready_context(runner: &util::Runner, arch: Arch, from: &Utf8Path) -> Result<()> {
    let dir = context_dir(arch);
    if !runner.dry_run {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    }
    dockerfile(runner, arch)?;
    copy(runner, from, &dest(arch))
}

/// Puts scripts/cross-image/Dockerfile into cross-image's context of
/// `arch` when it differs (arm-image's context has its own).
pub fn dockerfile(runner: &util::Runner, arch: Arch) -> Result<()> {
    if arch == Arch::Aarch64 {
        return Ok(());
    }
    let template = util::project_root().join("scripts/cross-image/Dockerfile");
    let to = context_dir(arch).join("Dockerfile");
    let text = std::fs::read(&template).with_context(|| format!("reading {template}"))?;
    if std::fs::read(&to).ok().as_ref() == Some(&text) {
        return Ok(());
    }
    copy(runner, &template, &to)
}

/// The emulator of `arch` to copy: `--from`, else the first candidate on
/// PATH that is a static x86_64 ELF.
pub fn find(arch: Arch, from: Option<&Utf8Path>) -> Result<Utf8PathBuf> {
    if let Some(path) = from {
        check_static_x86_64(path).map_err(|e| util::usage(format!("--from: {e:#}")))?;
        return Ok(path.to_path_buf());
    }
    let [static_name, plain, libexec] = candidates(arch);
    let mut found = Vec::new();
    for name in [&static_name, &plain] {
        if let Ok(path) = which::which(name) {
            found.extend(Utf8PathBuf::from_path_buf(path).ok());
        }
    }
    if Utf8Path::new(&libexec).exists() {
        found.push(libexec.into());
    }
    let mut rejected = Vec::new();
    for path in found {
        match check_static_x86_64(&path) {
            Ok(()) => return Ok(path),
            Err(e) => rejected.push(format!("{e:#}")),
        }
    }
    if rejected.is_empty() {
        bail!("{static_name} not found: install it (Debian/Ubuntu: `sudo apt-get install qemu-user-static`) or pass --from PATH");
    }
    bail!(
        "no usable {static_name} ({}): install qemu-user-static or pass --from PATH",
        rejected.join("; ")
    )
}

/// Fails unless `path` is a 64-bit x86_64 ELF with no program interpreter
/// (a dynamically linked emulator cannot run inside a foreign image).
pub fn check_static_x86_64(path: &Utf8Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    elf_kind(&bytes).map_err(|why| {
        anyhow::anyhow!("{path} {why}: use the static x86_64 build from qemu-user-static")
    })
}

fn elf_kind(b: &[u8]) -> Result<(), String> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return Err("is not an ELF file".into());
    }
    if b[4] != 2 || b[5] != 1 {
        return Err("is not a 64-bit little-endian ELF".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    if u16_at(18) != Arch::X86_64.row().elf_machine {
        return Err(format!(
            "is built for machine {} instead of x86_64",
            u16_at(18)
        ));
    }
    let (phoff, phentsize, phnum) = (
        u64_at(32) as usize,
        u16_at(54) as usize,
        u16_at(56) as usize,
    );
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        if at + 4 > b.len() {
            return Err("has a truncated program header table".into());
        }
        if u32_at(at) == PT_INTERP {
            return Err("is dynamically linked".into());
        }
    }
    Ok(())
}

/// Copies unless the destination already holds the same bytes; by rename, so
/// that an interrupted copy never leaves half a binary in the context.
pub fn copy(runner: &util::Runner, from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    if std::fs::read(to).ok()
        == Some(std::fs::read(from).with_context(|| format!("reading {from}"))?)
    {
        eprintln!("{to} is up to date (same as {from})");
        return Ok(());
    }
    if runner.dry_run {
        println!(
            "cp {} {}",
            util::shell_quote(from.as_str()),
            util::shell_quote(to.as_str())
        );
        return Ok(());
    }
    let tmp = to.with_extension("partial");
    std::fs::copy(from, &tmp).with_context(|| format!("copying {from} to {tmp}"))?;
    std::fs::rename(&tmp, to).with_context(|| format!("renaming {tmp} to {to}"))?;
    eprintln!("copied {from} to {to}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(machine: u16, interp: bool) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 2 * 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&2u16.to_le_bytes());
        b[64..68].copy_from_slice(&1u32.to_le_bytes());
        if interp {
            b[120..124].copy_from_slice(&3u32.to_le_bytes());
        }
        b
    }

    #[test]
    fn elf_checks() {
        assert_eq!(elf_kind(&elf(62, false)), Ok(()));
        assert_eq!(
            elf_kind(&elf(62, true)),
            Err("is dynamically linked".into())
        );
        assert_eq!(
            elf_kind(&elf(183, false)),
            Err("is built for machine 183 instead of x86_64".into())
        );
        assert_eq!(elf_kind(b"#!/bin/sh\n"), Err("is not an ELF file".into()));
    }

    #[test]
    fn host_binaries() {
        // /bin/sh is dynamically linked on every Linux host this runs on.
        let err = check_static_x86_64(Utf8Path::new("/bin/sh"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/bin/sh is ")
                && err.ends_with("use the static x86_64 build from qemu-user-static"),
            "{err}"
        );
    }
}
