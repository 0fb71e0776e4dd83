//! Native tools for emulated containers: programs of the engine machine's
//! own arch, which its kernel runs without the emulator even inside a
//! container of another arch. One for now: uv, fully static (its musllinux
//! wheel on PyPI), pinned with its hashes in scripts/native/uv.txt, fetched
//! once per arch and kept in target/xtask/native.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::platform::Arch;
use crate::util;

/// A uv binary on this machine, for machines of one arch.
#[derive(Clone, Debug)]
pub struct Uv {
    pub path: Utf8PathBuf,
    pub version: String,
}

fn pin_file() -> Utf8PathBuf {
    util::project_root().join("scripts/native/uv.txt")
}

/// The pinned version: the `uv==X` line of scripts/native/uv.txt.
pub fn uv_version() -> Result<String> {
    let file = pin_file();
    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("uv=="))
        .and_then(|rest| rest.split_whitespace().next())
        .map(String::from)
        .with_context(|| format!("{file} pins no `uv==VERSION`"))
}

/// Where the pinned uv for machines of `arch` is kept.
pub fn uv_path(arch: Arch) -> Result<Uv> {
    let version = uv_version()?;
    let path = util::project_root()
        .join("target/xtask/native")
        .join(arch.name())
        .join(format!("uv-{version}"))
        .join("uv");
    Ok(Uv { path, version })
}

/// The pinned uv for machines of `arch`, fetched from PyPI the first time
/// (pip checks the pinned hashes), then taken from where it is kept.
pub fn uv(arch: Arch) -> Result<Uv> {
    let uv = uv_path(arch)?;
    if uv.path.is_file() {
        return Ok(uv);
    }
    let dir = uv.path.parent().expect("a folder").to_owned();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    // Fetched beside its folder (which is copied into containers whole) and
    // renamed: a run at the same time sees all or nothing.
    let partial = dir.with_file_name(format!(".partial-uv-{}", std::process::id()));
    let _cleanup = crate::cleanup::UndoGuard::new(crate::cleanup::Undo::Path(partial.clone()));
    let fetched = fetch(arch, &uv.version, &partial, &[])?;
    std::fs::rename(&fetched, &uv.path).with_context(|| format!("keeping uv as {}", uv.path))?;
    Ok(uv)
}

/// Fetches the pinned uv for `arch` into `dir` with the host's pip (`env`
/// added to its environment): the binary's path.
fn fetch(arch: Arch, version: &str, dir: &Utf8Path, env: &[(&str, &str)]) -> Result<Utf8PathBuf> {
    let platform = format!("musllinux_1_1_{}", arch.name());
    let out = std::process::Command::new("python3")
        .envs(env.iter().copied())
        .args(["-m", "pip", "download", "--quiet", "--no-deps"])
        .args(["--only-binary=:all:", "--require-hashes", "--platform"])
        .arg(&platform)
        .arg("--dest")
        .arg(dir.as_str())
        .arg("--requirement")
        .arg(pin_file().as_str())
        .stdin(std::process::Stdio::null())
        .output()
        .context("starting python3 -m pip (to fetch uv)")?;
    if !out.status.success() {
        bail!(
            "fetching uv {version} for {arch} with pip failed: {}",
            last_line(&out.stderr)
        );
    }
    // The binary is the wheel's data/scripts/uv.
    let unpack = "import glob, sys, zipfile\nwheel, = glob.glob(sys.argv[1] + '/uv-*.whl')\nwith zipfile.ZipFile(wheel) as z:\n    name, = [n for n in z.namelist() if n.endswith('.data/scripts/uv')]\n    open(sys.argv[1] + '/uv', 'wb').write(z.read(name))\n";
    let out = std::process::Command::new("python3")
        .args(["-c", unpack, dir.as_str()])
        .output()
        .context("starting python3 (to unpack uv)")?;
    if !out.status.success() {
        bail!(
            "taking uv out of its wheel failed: {}",
            last_line(&out.stderr)
        );
    }
    let fetched = dir.join("uv");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fetched, std::fs::Permissions::from_mode(0o755))?;
    Ok(fetched)
}

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pin is read, and a fetch that cannot reach an index says what
    /// failed (the run then has pip make the environments, and says so).
    #[test]
    fn a_failed_fetch_names_uv_and_pips_message() {
        let version = uv_version().unwrap();
        assert!(
            version.split('.').all(|p| p.parse::<u32>().is_ok()),
            "{version}"
        );
        let dir = std::env::temp_dir().join(format!("xtask-uv-fetch-{}", std::process::id()));
        let dir = Utf8PathBuf::from_path_buf(dir).unwrap();
        let unreachable = [
            ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
            ("PIP_RETRIES", "0"),
            ("PIP_TIMEOUT", "2"),
            ("PIP_CONFIG_FILE", "/dev/null"),
        ];
        let err = fetch(Arch::X86_64, &version, &dir, &unreachable).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        let text = format!("{err:#}");
        assert!(
            text.starts_with(&format!(
                "fetching uv {version} for x86_64 with pip failed: "
            )),
            "{text}"
        );
        assert!(!text.ends_with("no message"), "{text}");
    }
}
