//! Native tools for emulated containers: programs of the engine machine's
//! own arch, which its kernel runs without the emulator even inside a
//! container of another arch. uv, fully static (its musllinux wheel on
//! PyPI), pinned with its hashes in scripts/native/uv.txt, fetched once per
//! arch; and (for --native-compiler) an x86_64 clang and lld: manylinux's
//! static build, pinned in scripts/native/static-clang.txt, or where that
//! cannot be fetched, a relocatable one made from Debian's packages. All are
//! kept in target/xtask/native.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use xshell::Shell;

use crate::cleanup::Partial;
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
    // The builds of a run ask at once: one fetches, the others wait for it.
    static FETCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = FETCHING.lock().unwrap_or_else(|e| e.into_inner());
    let uv = uv_path(arch)?;
    if uv.path.is_file() {
        return Ok(uv);
    }
    let dir = uv.path.parent().expect("a folder").to_owned();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    // Fetched beside its folder (which is copied into containers whole) and
    // renamed: a run at the same time sees all or nothing.
    let partial = Partial::beside(&uv.path);
    let fetched = fetch(arch, &uv.version, partial.path(), &[])?;
    partial.keep_from(&fetched)?;
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
            util::last_line(&out.stderr, "no message")
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
            util::last_line(&out.stderr, "no message")
        );
    }
    let fetched = dir.join("uv");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fetched, std::fs::Permissions::from_mode(0o755))?;
    Ok(fetched)
}

/// The native compiler: manylinux's static x86_64 clang and lld, or
/// Debian's made relocatable (scripts/native/clang), as a tar of `clang/`
/// for /opt.
#[derive(Clone, Debug)]
pub struct Clang {
    pub tar: Utf8PathBuf,
    /// clang's version, and whose build it is.
    pub version: String,
}

/// Where the native clang's drivers read their configuration in a container
/// (`clang.cfg` and `clang++.cfg` there): the bundle's own are links to these,
/// which build-wheel.sh writes for the image's gcc. Its folder is read-only.
pub const CLANG_CONFIGS: &str = "/xtask";

impl Clang {
    /// The folder that is /opt/clang in a container, once `unpack`ed.
    pub fn dir(&self) -> Utf8PathBuf {
        unpacked(&self.tar).join("clang")
    }

    /// Unpacks it beside its tar, once, with the drivers' configuration
    /// files made links to the container's (`CLANG_CONFIGS`).
    pub fn unpack(&self) -> Result<Utf8PathBuf> {
        unpack(&self.tar, |dir| {
            for driver in ["clang", "clang++"] {
                let link = dir.join("clang/bin").join(format!("{driver}.cfg"));
                if link.symlink_metadata().is_ok() {
                    std::fs::remove_file(&link).with_context(|| format!("removing {link}"))?;
                }
                std::os::unix::fs::symlink(format!("{CLANG_CONFIGS}/{driver}.cfg"), &link)
                    .with_context(|| format!("linking {link}"))?;
            }
            Ok(())
        })?;
        Ok(self.dir())
    }
}

/// Where a native tool's tar is kept unpacked: beside it, under its name
/// without `.tar`. A local engine mounts that folder read-only into each
/// container (nothing copied at each start); a remote one gets a copy.
fn unpacked(tar: &Utf8Path) -> Utf8PathBuf {
    let name = tar.file_name().unwrap_or("native");
    tar.with_file_name(name.strip_suffix(".tar").unwrap_or(name))
}

/// Unpacks `tar` (see `unpacked`) once; `finish` completes the folder
/// before it is renamed into place, so it is whole or absent.
fn unpack(tar: &Utf8Path, finish: impl FnOnce(&Utf8Path) -> Result<()>) -> Result<Utf8PathBuf> {
    let dir = unpacked(tar);
    if dir.is_dir() {
        return Ok(dir);
    }
    let _lock = util::lock_waiting(
        &Utf8PathBuf::from(format!("{dir}.unpack.lock")),
        dir.as_str(),
    )?;
    if dir.is_dir() {
        return Ok(dir);
    }
    let partial = Partial::beside(&dir);
    std::fs::create_dir(partial.path()).with_context(|| format!("creating {}", partial.path()))?;
    let status = std::process::Command::new("tar")
        .args(["-x", "-f", tar.as_str(), "-C", partial.path().as_str()])
        .status()
        .context("starting tar")?;
    if !status.success() {
        bail!("unpacking {tar} failed ({status}): remove it, and the next run makes it again");
    }
    finish(partial.path())?;
    partial.keep()?;
    Ok(dir)
}

/// manylinux's static clang: the release, the sha256 of its sha256sums.txt,
/// and where releases are (scripts/native/static-clang.txt).
struct StaticPin {
    release: String,
    sums_sha256: String,
    base: String,
}

fn static_pin() -> Result<StaticPin> {
    let file = util::project_root().join("scripts/native/static-clang.txt");
    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let (pin, base) = (lines.next(), lines.next());
    let pin: Vec<&str> = pin.unwrap_or_default().split_whitespace().collect();
    match (pin.as_slice(), base) {
        ([release, sha], Some(base)) => Ok(StaticPin {
            release: release.to_string(),
            sums_sha256: sha.to_string(),
            base: base.to_string(),
        }),
        _ => bail!("{file} holds no `RELEASE SHA256` line followed by a URL"),
    }
}

fn kept_dir() -> Utf8PathBuf {
    util::project_root().join("target/xtask/native/x86_64")
}

fn static_tar(release: &str) -> Utf8PathBuf {
    kept_dir().join(format!("static-clang-{release}.tar"))
}

/// What the summary and manifest.json call a static release: `v21.1.8.1`
/// is clang 21.1.8, manylinux's first build of it.
fn static_version(release: &str) -> String {
    let v = release.trim_start_matches('v');
    let clang = v.rsplit_once('.').map_or(v, |(clang, _)| clang);
    format!("{clang}, manylinux's static build {release}")
}

/// Fetches manylinux's static clang `release` from `base` with curl, checks
/// it against its sha256sums.txt and that file against `sums_sha256`, and
/// keeps it unpacked from xz as `kept` (fetched beside it, then renamed).
fn fetch_static(base: &str, release: &str, sums_sha256: &str, kept: &Utf8Path) -> Result<()> {
    let partial = Partial::beside(kept);
    let dir = partial.path().to_owned();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    let get = |name: &str| -> Result<Utf8PathBuf> {
        let url = format!("{base}/{release}/{name}");
        let to = dir.join(name);
        util::curl(&url, &to, "manylinux's static clang")?;
        Ok(to)
    };
    let sums = get("sha256sums.txt")?;
    let seen = util::sha256(&sums)?;
    if seen != sums_sha256 {
        bail!("{release}'s sha256sums.txt has sha256 {seen}, not the pinned {sums_sha256}");
    }
    let archive = "static-clang-linux-amd64.tar.xz";
    let text = std::fs::read_to_string(&sums)?;
    let Some(want) = text.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        let sha = words.next()?;
        (words.next()?.trim_start_matches('*') == archive).then(|| sha.to_string())
    }) else {
        bail!("{release}'s sha256sums.txt names no {archive}");
    };
    let xz = get(archive)?;
    let seen = util::sha256(&xz)?;
    if seen != want {
        bail!("{archive} of {release} has sha256 {seen}, not {want} as its sha256sums.txt says");
    }
    let tar = dir.join("clang.tar");
    let file = std::fs::File::create(&tar).with_context(|| format!("creating {tar}"))?;
    let status = std::process::Command::new("xz")
        .args(["--decompress", "--stdout", xz.as_str()])
        .stdout(file)
        .status()
        .context("starting xz (to unpack manylinux's static clang)")?;
    if !status.success() {
        bail!("unpacking {archive} with xz failed ({status})");
    }
    let listed = std::process::Command::new("tar")
        .args(["--list", "--file", tar.as_str(), "clang/bin/clang"])
        .output()
        .context("starting tar")?;
    if !listed.status.success() {
        bail!("{archive} of {release} holds no clang/bin/clang");
    }
    partial.keep_from(&tar)
}

fn clang_recipe() -> Utf8PathBuf {
    util::project_root().join("scripts/native/clang")
}

/// Where the bundle of the recipe as it is now is kept (and its version).
fn clang_files() -> Result<(Utf8PathBuf, Utf8PathBuf)> {
    let mut hash = util::Fnv::default();
    hash.write_tree(&clang_recipe())?;
    hash.write(crate::debian::recipe().as_bytes());
    let dir = kept_dir();
    let key = hash.hex();
    Ok((
        dir.join(format!("clang-{key}.tar")),
        dir.join(format!("clang-{key}.version")),
    ))
}

/// The native clang when it is kept already: manylinux's static build of
/// the pinned release, else the Debian bundle of the recipe as it is now.
pub fn clang_kept() -> Option<Clang> {
    if let Ok(pin) = static_pin() {
        let tar = static_tar(&pin.release);
        if tar.is_file() {
            let version = static_version(&pin.release);
            return Some(Clang { tar, version });
        }
    }
    let (tar, version) = clang_files().ok()?;
    let version = debian_version(&std::fs::read_to_string(version).ok()?);
    tar.is_file().then_some(Clang { tar, version })
}

fn debian_version(version: &str) -> String {
    format!("{}, Debian's build made relocatable", version.trim())
}

/// The native clang of this (x86_64) machine, had once: manylinux's static
/// build of the pinned release, fetched; where that fails (offline, no
/// curl), made from Debian's packages: a root file system with clang, lld
/// and patchelf (mmdebstrap, as the stand-ins), an image that lays out
/// /opt/clang in it, and /opt/clang taken out of that image as a tar.
pub fn clang(sh: &Shell, engine: &Engine, runner: &util::Runner) -> Result<Clang> {
    if Arch::host() != Some(Arch::X86_64) {
        bail!("--native-compiler: the native clang is made for x86_64 machines, and this one is not: build without --native-compiler");
    }
    // The emulated arches' builds of a run ask at once: one makes it.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(kept) = clang_kept() {
        return Ok(kept);
    }
    let dir = kept_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    let pin = static_pin()?;
    let tar = static_tar(&pin.release);
    match fetch_static(&pin.base, &pin.release, &pin.sums_sha256, &tar) {
        Ok(()) => {
            let version = static_version(&pin.release);
            return Ok(Clang { tar, version });
        }
        Err(e) => eprintln!("manylinux's static clang {} could not be had ({e:#}): making a native clang from Debian's packages instead", pin.release),
    }
    let (tar, version) = clang_files()?;
    let kept = tar.parent().expect("a folder");
    std::fs::create_dir_all(kept).with_context(|| format!("creating {kept}"))?;
    let recipe = clang_recipe();
    let ctx = util::project_root().join("target/standin/clang-x86_64");
    std::fs::create_dir_all(&ctx).with_context(|| format!("creating {ctx}"))?;
    let _lock = util::lock_waiting(&ctx.with_extension("lock"), "the native clang")?;
    if let Some(kept) = clang_kept() {
        return Ok(kept);
    }
    eprintln!("making the native clang (Debian's clang and lld, relocatable): a few minutes, once");
    crate::debian::rootfs(sh, runner, Arch::X86_64, &recipe, &ctx, None)?;
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
    engine.build(sh, runner, &spec)?;
    // Taken out beside where it is kept, and renamed: all or nothing.
    let partial = Partial::beside(&tar);
    let file = std::fs::File::create(partial.path())
        .with_context(|| format!("creating {}", partial.path()))?;
    let mut out = engine.command();
    out.args(["run", "--rm", "--network=none", "--label"])
        .arg(crate::engine::CONTAINER_LABEL)
        .args(["--entrypoint", "tar"])
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
    read.args(["run", "--rm", "--network=none", "--label"])
        .arg(crate::engine::CONTAINER_LABEL)
        .args(["--entrypoint", "cat"])
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
    partial.keep()?;
    let version = debian_version(&v);
    Ok(Clang { tar, version })
}

/// A native CPython for emulated containers: interpreter `dir` of an image
/// of the engine machine's arch, laid out relocatable by
/// scripts/native/python.sh, as a tar of `xtask-python/<dir>/` for /opt.
#[derive(Clone, Debug, PartialEq)]
pub struct Python {
    pub tar: Utf8PathBuf,
    /// The interpreter folder, as under /opt/python (`cp313-cp313`).
    pub dir: String,
}

impl Python {
    /// The folder that is /opt/xtask-python/DIR in a container, once `unpack`ed.
    pub fn dir_here(&self) -> Utf8PathBuf {
        unpacked(&self.tar).join("xtask-python").join(&self.dir)
    }

    /// Unpacks it beside its tar, once, and gives it the current
    /// scripts/container/site/sitecustomize.py, as build-wheel.sh gives the
    /// image's interpreters theirs (this one is read-only in the container):
    /// the interpreter's own kept as `_xtask_original_sitecustomize`.
    pub fn unpack(&self) -> Result<Utf8PathBuf> {
        unpack(&self.tar, |_| Ok(()))?;
        let here = self.dir_here();
        let stdlib = std::fs::read_dir(here.join("lib"))
            .with_context(|| format!("reading {here}/lib"))?
            .filter_map(|e| Utf8PathBuf::from_path_buf(e.ok()?.path()).ok())
            .find(|d| d.join("os.py").is_file())
            .with_context(|| format!("{here}/lib holds no standard library (no os.py): remove {}, and the next run makes it again", self.tar))?;
        let ours = util::project_root().join("scripts/container/site/sitecustomize.py");
        let text = std::fs::read_to_string(&ours).with_context(|| format!("reading {ours}"))?;
        let site = stdlib.join("sitecustomize.py");
        match std::fs::read_to_string(&site) {
            Ok(current) if current == text => return Ok(here),
            Ok(current) if !current.contains("XTASK_COMPILE_JOBS") => {
                let original = stdlib.join("_xtask_original_sitecustomize.py");
                std::fs::rename(&site, &original).with_context(|| format!("renaming {site}"))?;
            }
            _ => {}
        }
        crate::cleanup::write_whole(&site, &text)?;
        Ok(here)
    }
}

/// Where the native CPython `dir` of the image with id `image_id` is kept:
/// per image id and recipe (scripts/native/python.sh), so a rebuilt image
/// or a changed recipe gets its own.
pub fn python_path(image_id: &str, dir: &str) -> Python {
    let mut recipe = util::Fnv::default();
    recipe.write(&std::fs::read(python_script()).unwrap_or_default());
    let tar = util::project_root()
        .join("target/xtask/native/python")
        .join(format!(
            "{}-{}",
            crate::engine::short_id(image_id),
            &recipe.hex()[..8]
        ))
        .join(format!("{dir}.tar"));
    Python {
        tar,
        dir: dir.to_string(),
    }
}

fn python_script() -> Utf8PathBuf {
    util::project_root().join("scripts/native/python.sh")
}

/// The native CPython `dir` of `image` (id `image_id`), laid out in a
/// container of that image the first time (a few seconds, natively), then
/// taken from where it is kept.
pub fn python(engine: &Engine, image: &str, image_id: &str, dir: &str) -> Result<Python> {
    let python = python_path(image_id, dir);
    if python.tar.is_file() {
        return Ok(python);
    }
    let kept = python.tar.parent().expect("a folder");
    std::fs::create_dir_all(kept).with_context(|| format!("creating {kept}"))?;
    let _lock = util::lock_waiting(
        &python.tar.with_extension("lock"),
        &format!("the native {dir}"),
    )?;
    if python.tar.is_file() {
        return Ok(python);
    }
    let script = python_script();
    let partial = Partial::beside(&python.tar);
    let out = std::fs::File::create(partial.path())
        .with_context(|| format!("creating {}", partial.path()))?;
    let script_file = std::fs::File::open(&script).with_context(|| format!("opening {script}"))?;
    let made = engine
        .command()
        .args(["run", "--rm", "--interactive", "--network=none", "--label"])
        .arg(crate::engine::CONTAINER_LABEL)
        .args(["--entrypoint", "bash", image, "-s", dir])
        .stdin(script_file)
        .stdout(out)
        .stderr(std::process::Stdio::piped())
        .output()
        .with_context(|| format!("laying out the native {dir} in `{image}`"))?;
    if !made.status.success() {
        bail!(
            "laying out the native {dir} in `{image}` failed: {}",
            util::last_line(&made.stderr, "no message")
        );
    }
    partial.keep()?;
    Ok(python)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// manylinux's static clang is fetched, checked against its
    /// sha256sums.txt and that against the pin, and kept unpacked; a wrong
    /// pin or archive is refused and leaves nothing. (A release here, in a
    /// folder: github.com cannot be reached from every machine.)
    #[test]
    fn the_static_clang_is_checked_against_its_pin() {
        let pin = static_pin().unwrap();
        assert_eq!(pin.sums_sha256.len(), 64, "{}", pin.sums_sha256);
        assert!(pin.base.starts_with("https://"), "{}", pin.base);
        assert_eq!(
            static_version("v21.1.8.1"),
            "21.1.8, manylinux's static build v21.1.8.1"
        );
        let root = std::env::temp_dir().join(format!("xtask-static-clang-{}", std::process::id()));
        let root = Utf8PathBuf::from_path_buf(root).unwrap();
        let release = root.join("releases/v1.2.3.1");
        std::fs::create_dir_all(root.join("tree/clang/bin")).unwrap();
        std::fs::create_dir_all(&release).unwrap();
        std::fs::write(root.join("tree/clang/bin/clang"), "not really clang").unwrap();
        let xz = release.join("static-clang-linux-amd64.tar.xz");
        let packed = std::process::Command::new("tar")
            .args([
                "-cJf",
                xz.as_str(),
                "-C",
                root.join("tree").as_str(),
                "clang",
            ])
            .status()
            .unwrap();
        assert!(packed.success());
        let sums = release.join("sha256sums.txt");
        let line = format!(
            "{}  static-clang-linux-amd64.tar.xz\n",
            util::sha256(&xz).unwrap()
        );
        std::fs::write(&sums, line).unwrap();
        let pinned = util::sha256(&sums).unwrap();
        let base = format!("file://{root}/releases");
        let kept = root.join("kept");
        std::fs::create_dir_all(&kept).unwrap();
        let leftovers = || std::fs::read_dir(&kept).unwrap().count();
        let tar = kept.join("static-clang-v1.2.3.1.tar");

        let wrong = "0".repeat(64);
        let err = fetch_static(&base, "v1.2.3.1", &wrong, &tar).unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!("has sha256 {pinned}, not the pinned {wrong}")),
            "{err:#}"
        );
        assert_eq!(leftovers(), 0);
        let err = fetch_static(
            &base,
            "v9.9.9.9",
            &pinned,
            &kept.join("static-clang-v9.9.9.9.tar"),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}")
                .starts_with(&format!("fetching {base}/v9.9.9.9/sha256sums.txt failed: ")),
            "{err:#}"
        );
        assert_eq!(leftovers(), 0);

        fetch_static(&base, "v1.2.3.1", &pinned, &tar).unwrap();
        assert!(tar.is_file(), "{tar} was not kept");
        let listed = std::process::Command::new("tar")
            .args(["-tf", tar.as_str()])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&listed.stdout).contains("clang/bin/clang"));
        assert_eq!(leftovers(), 1);

        std::fs::write(&xz, "tampered").unwrap();
        let err = fetch_static(&base, "v1.2.3.1", &pinned, &tar).unwrap_err();
        assert!(
            format!("{err:#}").contains("as its sha256sums.txt says"),
            "{err:#}"
        );
        assert_eq!(leftovers(), 1);
        std::fs::remove_dir_all(&root).unwrap();
    }

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
