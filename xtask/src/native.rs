//! Native tools for emulated containers: programs of the engine machine's
//! own arch, which its kernel runs without the emulator even inside a
//! container of another arch. uv, fully static (its musllinux wheel on
//! PyPI), pinned with its hashes in scripts/native/uv.txt, fetched once per
//! arch; and (for --native-compiler) a relocatable x86_64 clang and lld made
//! from Debian's packages. Both are kept in target/xtask/native.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use xshell::Shell;

use crate::engine::{Engine, ImageBuild};
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

/// The native compiler bundle: Debian's x86_64 clang and lld made
/// relocatable (scripts/native/clang), as a tar of `clang/` for /opt.
#[derive(Clone, Debug)]
pub struct Clang {
    pub tar: Utf8PathBuf,
    /// clang's version, as `clang --version` says it.
    pub version: String,
}

fn clang_recipe() -> Utf8PathBuf {
    util::project_root().join("scripts/native/clang")
}

/// Where the bundle of the recipe as it is now is kept (and its version).
fn clang_files() -> Result<(Utf8PathBuf, Utf8PathBuf)> {
    let mut hash = util::Fnv::default();
    hash.write_tree(&clang_recipe())?;
    let dir = util::project_root().join("target/xtask/native/x86_64");
    let key = hash.hex();
    Ok((
        dir.join(format!("clang-{key}.tar")),
        dir.join(format!("clang-{key}.version")),
    ))
}

/// The bundle when it is made already (for the dry run).
pub fn clang_kept() -> Option<Clang> {
    let (tar, version) = clang_files().ok()?;
    let version = std::fs::read_to_string(version).ok()?.trim().to_string();
    tar.is_file().then_some(Clang { tar, version })
}

/// The native compiler bundle, made once on this (x86_64) machine: a Debian
/// root file system with clang, lld and patchelf (mmdebstrap, as the
/// stand-ins), an image that lays out /opt/clang in it, and /opt/clang
/// taken out of that image as a tar.
pub fn clang(sh: &Shell, engine: &Engine, runner: &util::Runner) -> Result<Clang> {
    if Arch::host() != Some(Arch::X86_64) {
        bail!("--native-compiler: the native clang is made for x86_64 machines, and this one is not: build without --native-compiler");
    }
    if let Some(kept) = clang_kept() {
        return Ok(kept);
    }
    let (tar, version) = clang_files()?;
    let kept = tar.parent().expect("a folder");
    std::fs::create_dir_all(kept).with_context(|| format!("creating {kept}"))?;
    let recipe = clang_recipe();
    let ctx = util::project_root().join("target/standin/clang-x86_64");
    std::fs::create_dir_all(&ctx).with_context(|| format!("creating {ctx}"))?;
    let _lock = util::lock_exclusive(&ctx.with_extension("lock"), |pid| {
        format!("the native clang is being made by another command (pid {pid}): wait for it to finish, then run this again")
    })?;
    eprintln!("making the native clang (Debian's clang and lld, relocatable): a few minutes, once");
    crate::standin::rootfs(sh, runner, Arch::X86_64, &recipe, &ctx, None)?;
    for file in ["Dockerfile", "bundle.sh", "ld-lld.c"] {
        std::fs::copy(recipe.join(file), ctx.join(file))
            .with_context(|| format!("copying {file} into {ctx}"))?;
    }
    let key = tar.file_stem().expect("a name").to_string();
    let spec = ImageBuild {
        tag: format!("xtask-standin:{key}"),
        arch: Arch::X86_64,
        context: ctx,
        build_args: Vec::new(),
        inputs: key,
    };
    runner.run(engine.build_command(sh, &spec))?;
    // Taken out beside where it is kept, and renamed: all or nothing.
    let partial = tar.with_extension(format!("partial-{}", std::process::id()));
    let _cleanup = crate::cleanup::UndoGuard::new(crate::cleanup::Undo::Path(partial.clone()));
    let file = std::fs::File::create(&partial).with_context(|| format!("creating {partial}"))?;
    let mut out = engine.command();
    out.args(["run", "--rm", "--network=none", "--entrypoint", "tar"])
        .arg(&spec.tag)
        .args(["-C", "/opt", "-c", "clang"])
        .stdin(std::process::Stdio::null())
        .stdout(file);
    let status = out
        .status()
        .context("taking the native clang out of its image")?;
    if !status.success() {
        bail!("taking /opt/clang out of {} failed ({status})", spec.tag);
    }
    let mut read = engine.command();
    read.args(["run", "--rm", "--network=none", "--entrypoint", "cat"])
        .arg(&spec.tag)
        .arg("/opt/clang/VERSION");
    let v = read
        .output()
        .context("reading the native clang's version")?;
    let v = String::from_utf8_lossy(&v.stdout).trim().to_string();
    if v.is_empty() {
        bail!("{} holds no /opt/clang/VERSION", spec.tag);
    }
    std::fs::write(&version, &v).with_context(|| format!("writing {version}"))?;
    std::fs::rename(&partial, &tar).with_context(|| format!("keeping {tar}"))?;
    Ok(Clang { tar, version: v })
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
