//! The Debian root file systems the stand-ins and the native clang are
//! made from: mmdebstrap of Debian forky (testing), the suite with several
//! CPythons side by side, from a recipe's package lists.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::cleanup::Partial;
use crate::platform::Arch;
use crate::{qemu_register, util};

pub const SUITE: &str = "forky";
/// The archive, named so that apt reads no other source (such as a security
/// suite). Its Release files are not checked for expiry: a pinned testing
/// suite is read long after the date its mirror copy was signed.
const MIRROR: &str = "deb http://deb.debian.org/debian forky main";
/// The archive's address: its pool holds the source tarballs too.
pub const ARCHIVE: &str = "http://deb.debian.org/debian";
/// Debian forky's QEMU user-mode emulators, one static binary per arch in
/// one .deb (pool path, sha256): QEMU 11, where this machine's Debian 12
/// has 7.2 and users' CI registers 10 or newer. The stand-ins' registration
/// image carries them, and `standin --current-qemu` registers them on this
/// host, so that emulated builds can be timed under the QEMU users run.
pub const QEMU_USER: (&str, &str) = (
    "q/qemu/qemu-user_11.1.2+ds-3_amd64.deb",
    "4bacc2bf647f1756c5f08e7f146161d3eeef9d9f53e5d6412d1b3daca0c93655",
);
const APT_OPTION: &str = "Acquire::Check-Valid-Until \"false\"";
/// Files no build reads: fewer for dpkg to write, which runs emulated for a
/// foreign arch. Not the CA certificates, though leaving them out would save
/// `update-ca-certificates` (about 36 s of an aarch64 root file system's
/// 155): Debian's pip reads their bundle whenever it starts, even offline,
/// so without it no test environment can be made.
const EXCLUDED: &[&str] = &[
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
];

/// What a root file system is made from besides its package lists: the
/// suite, the archive and the files left out. Part of the inputs of every
/// image made from one, so that a change here rebuilds them.
pub fn recipe() -> String {
    format!("{SUITE} {MIRROR} {}", EXCLUDED.join(" "))
}

/// Unpacks a foreign arch's packages with this machine's own dpkg-deb and
/// dpkg-split (mmdebstrap's extract and customize hooks).
fn native_dpkg_deb() -> Utf8PathBuf {
    util::project_root().join("scripts/standin/native-dpkg-deb.sh")
}

/// The Debian root file system of `recipe`'s package lists (packages.txt,
/// packages-ARCH.txt) in `ctx`, kept while they are unchanged.
pub fn rootfs(
    sh: &Shell,
    runner: &util::Runner,
    arch: Arch,
    recipe: &Utf8Path,
    ctx: &Utf8Path,
    cpu: Option<&str>,
) -> Result<()> {
    let mut packages = read_list(&recipe.join("packages.txt"))?;
    let extra = recipe.join(format!("packages-{arch}.txt"));
    if extra.exists() {
        packages.extend(read_list(&extra)?);
    }
    let include = format!("--include={}", packages.join(","));
    let excluded: Vec<String> = EXCLUDED
        .iter()
        .map(|p| format!("--dpkgopt=path-exclude={p}"))
        .collect();
    let mut hash = util::Fnv::default();
    hash.write(include.as_bytes());
    hash.write(excluded.join(" ").as_bytes());
    hash.write(arch.name().as_bytes());
    let stamp = ctx.join("rootfs.inputs");
    let tar = ctx.join("rootfs.tar");
    if tar.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(hash.hex().as_str())
    {
        return Ok(());
    }
    let mmdebstrap = which::which("mmdebstrap").map_err(|_| {
        anyhow::anyhow!(
            "mmdebstrap not found: install it (Debian/Ubuntu: `sudo apt-get install mmdebstrap`)"
        )
    })?;
    if !arch.is_native_here()
        && !runner.dry_run
        && !qemu_register::handler(arch)?.is_some_and(|h| h.enabled)
    {
        bail!("a Debian root file system for {arch} runs package scripts under emulation, and no {arch} handler is registered: run `cargo xtask qemu-register --arch {arch}` (or `sudo apt-get install qemu-user-static binfmt-support`)");
    }
    let arch_flag = format!("--arch={}", arch.row().debian);
    let aptopt = format!("--aptopt={APT_OPTION}");
    let partial = Partial::beside(&tar);
    let partial_path = partial.path();
    let log = ctx.join("mmdebstrap.log");
    // A foreign arch's packages unpack with this machine's own dpkg-deb and
    // dpkg-split (scripts/standin/native-dpkg-deb.sh), which leave no trace.
    let hooks: Vec<String> = if arch.is_native_here() {
        Vec::new()
    } else {
        let script = util::shell_quote(native_dpkg_deb().as_str());
        ["extract", "customize"]
            .iter()
            .map(|hook| format!("--{hook}-hook=sh {script} \"$1\""))
            .collect()
    };
    let mut make = std::process::Command::from(cmd!(
        sh,
        "{mmdebstrap} --variant=minbase --format=tar {arch_flag} {aptopt} {excluded...} {hooks...} {include} {SUITE} {partial_path} {MIRROR}"
    ));
    if let Some(model) = cpu {
        make.env("QEMU_CPU", model);
    }
    let what = format!("making the {arch} Debian root file system (mmdebstrap)");
    runner.run_logged(make, &what, &log).map_err(|e| {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        match moved_on(&text) {
            Some((package, version)) => anyhow::anyhow!("Debian {SUITE} no longer has {package}={version}, which {recipe} pins: the suite has moved on; pin the version it has now (apt-cache policy {package}, with {SUITE} in the sources) in {recipe}/packages*.txt"),
            None => e,
        }
    })?;
    if runner.dry_run {
        return Ok(());
    }
    partial.keep()?;
    std::fs::write(&stamp, hash.hex())?;
    Ok(())
}

/// The folder of QEMU_USER's emulators (`qemu-aarch64`, `qemu-s390x` ...),
/// fetched and unpacked once into target/standin/qemu-user, checked
/// against its pin. In a dry run, where they would be.
pub fn qemu_user(runner: &util::Runner) -> Result<Utf8PathBuf> {
    let (path, sha) = QEMU_USER;
    let name = path.rsplit('/').next().unwrap_or(path);
    let dir = util::project_root().join("target/standin/qemu-user");
    let kept = dir.join(name.trim_end_matches(".deb"));
    let bin = kept.join("usr/bin");
    if runner.dry_run || kept.is_dir() {
        return Ok(bin);
    }
    if Arch::host() != Some(Arch::X86_64) {
        bail!("the stand-ins' QEMU ({name}) is pinned for x86_64 hosts, and this is {}: register the host's own with `cargo xtask qemu-register`", std::env::consts::ARCH);
    }
    let _lock = util::lock_waiting(&dir.join(format!("{name}.lock")), "Debian's QEMU")?;
    if kept.is_dir() {
        return Ok(bin);
    }
    let deb = Partial::beside(&dir.join(name));
    fetch_pinned(path, sha, deb.path(), "QEMU_USER in xtask/src/debian.rs").with_context(|| {
        format!("Debian {SUITE} may have moved on from {name}: pin the qemu-user it lists now (its Filename and SHA256 in {ARCHIVE}/dists/{SUITE}/main/binary-amd64/Packages.xz) as QEMU_USER in xtask/src/debian.rs")
    })?;
    // Only the emulators of the arches this machine cannot run: the .deb
    // holds 35 of 14 MB each.
    let unpacked = Partial::beside(&kept);
    std::fs::create_dir_all(unpacked.path())
        .with_context(|| format!("creating {}", unpacked.path()))?;
    let files: Vec<String> = Arch::foreign()
        .iter()
        .map(|a| format!("./usr/bin/qemu-{}", a.row().qemu))
        .collect();
    let mut tarfile = std::process::Command::new("dpkg-deb")
        .args(["--fsys-tarfile", deb.path().as_str()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running dpkg-deb (to unpack Debian's QEMU)")?;
    let tar = std::process::Command::new("tar")
        .args(["-x", "-C", unpacked.path().as_str()])
        .args(&files)
        .stdin(tarfile.stdout.take().expect("piped"))
        .output()
        .context("running tar (to unpack Debian's QEMU)")?;
    if !tarfile.wait()?.success() || !tar.status.success() {
        bail!(
            "unpacking {} from {name} failed: {}",
            files.join(" "),
            util::last_line(&tar.stderr, "dpkg-deb failed")
        );
    }
    unpacked.keep()?;
    Ok(bin)
}

/// Fetches the file at `path` of the archive's pool (pool/main/...) into
/// `to`, saying so, and checks it against the sha256 `sha` that `pinned_in` pins.
pub fn fetch_pinned(path: &str, sha: &str, to: &Utf8Path, pinned_in: &str) -> Result<()> {
    let url = format!("{ARCHIVE}/pool/main/{path}");
    let name = path.rsplit('/').next().unwrap_or(path);
    eprintln!("fetching {url}");
    util::curl(&url, to, &format!("Debian's {name}"))?;
    let seen = util::sha256(to)?;
    if seen != sha {
        bail!("{url} has sha256 {seen}, not {sha} as {pinned_in} pins: pin what Debian {SUITE} lists now");
    }
    Ok(())
}

/// The pinned package apt could not find: `E: Version '1.2-3' for 'name' was not found`.
fn moved_on(log: &str) -> Option<(String, String)> {
    log.lines().find_map(|l| {
        let rest = l.split("Version '").nth(1)?;
        let (version, rest) = rest.split_once("' for '")?;
        let (package, rest) = rest.split_once('\'')?;
        rest.contains("was not found")
            .then(|| (package.to_string(), version.to_string()))
    })
}

fn read_list(path: &Utf8Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_the_suite_no_longer_has_is_named() {
        let log = "I: running apt-get update...\nE: Version '3.14.8-1' for 'python3.14' was not found\nE: mmdebstrap failed to run\n";
        assert_eq!(
            moved_on(log),
            Some(("python3.14".to_string(), "3.14.8-1".to_string()))
        );
        assert_eq!(moved_on("E: Unable to locate package python3.99\n"), None);
    }
}
