//! Each arch's target: the engine that builds it, whether that engine runs
//! it natively or under emulation (and then with which CPU model), its image
//! and its platform tag, each asked of the engine that will run the build.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::plan::Plan;
use crate::config::Config;
use crate::engine::Engine;
use crate::native::{self, Clang, Uv};
use crate::platform::{Arch, BuildId, Libc};
use crate::qemu_register::{self, CpuModel};
use crate::standin;
use crate::util::{self, Runner};

/// One architecture's image and platform tag, resolved.
pub struct Target {
    pub arch: Arch,
    /// glibc (manylinux) or musl (musllinux): one target, one container, each.
    pub libc: Libc,
    pub engine: Engine,
    /// Whether the engine's machine runs this arch natively (else under emulation).
    pub native: bool,
    /// The CPU model of an emulated arch (None when native).
    pub cpu: Option<CpuModel>,
    /// For an emulated arch: the native uv that makes its environments, or
    /// why pip makes them (None when native).
    pub uv: Option<Result<Uv, String>>,
    /// For an emulated arch with `--native-compiler`: the native clang.
    pub clang: Option<Clang>,
    /// For an emulated arch whose environments the native uv makes: the
    /// image of the engine machine's arch whose CPythons run its builds'
    /// frontend and backend (the cross environment), or why there is none.
    pub native_image: Option<Result<NativeImage, String>>,
    /// Why its builds cannot run on this machine (no binfmt handler): they
    /// fail with this, and the other arches' builds go on.
    pub blocked: Option<String>,
    pub image: String,
    pub image_id: String,
    /// The image by its registry digest (`repo@sha256:...`), where it came
    /// from a registry: what a rebuild pulls to get the same image.
    pub image_digest: Option<String>,
    /// The variables the image sets (its `ENV`).
    pub image_env: Vec<(String, String)>,
    pub plat: String,
}

/// An image of the engine machine's arch, of an emulated target's family.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeImage {
    pub image: String,
    pub id: String,
    pub arch: Arch,
}

/// The targets that can run here (the others' builds fail, saying why).
pub fn runnable(targets: &[Target]) -> Vec<&Target> {
    targets.iter().filter(|t| t.blocked.is_none()).collect()
}

/// The target build `id` is of: the one of its arch and C library.
pub fn target_of<'a>(targets: &'a [Target], id: &BuildId) -> &'a Target {
    targets
        .iter()
        .find(|t| t.builds(id))
        .expect("every build is one of a target's")
}

/// One arch's engine, image and platform tag, each asked of the engine that
/// will run the build.
pub fn resolve_target(
    sh: &Shell,
    runner: &Runner,
    plan: &Plan,
    arch: Arch,
    libc: Libc,
) -> Result<Target> {
    let config = &plan.config;
    let mut engine = Engine::chosen(runner.dry_run, config.engine(arch))
        .with_context(|| format!("{arch} builds"))?;
    // The engine's version and the image, asked at once.
    let (server, image) = std::thread::scope(|s| {
        let server = s.spawn(|| match runner.dry_run {
            true => Ok(None),
            false => engine.server(&util::thread_shell()?).map(Some),
        });
        let image = match (plan.standin, libc) {
            (true, Libc::Glibc) => standin::ensure(sh, &engine, runner, arch),
            (true, Libc::Musl) => standin::ensure_musllinux(sh, &engine, runner, arch),
            (false, _) => Ok(plan
                .image
                .clone()
                .unwrap_or_else(|| config.image(arch, libc).to_string())),
        }
        .map(|image| {
            let info = engine.ensure_image(sh, runner, &image, arch, plan.pull);
            (image, info)
        });
        (server.join().expect("the engine thread panicked"), image)
    });
    // An engine that does not answer is the cause of whatever else failed.
    let server = server.with_context(|| format!("{arch} builds"))?;
    if let Some(server) = &server {
        engine.pin_api(server);
    }
    let native = engine.native(server.as_ref(), arch);
    let (image, info) = image?;
    let info = info
        .map_err(|e| match elsewhere(sh, &engine, &image) {
            Some(there) => e.context(format!(
                "{arch} builds: image `{image}` is on {} but not on the {arch} engine {}: copy it with `{} save {image} | {} load`, or build it there",
                there.describe(),
                engine.describe(),
                util::command_line(&there.command(), &[]),
                util::command_line(&engine.command(), &[]),
            )),
            None => e.context(format!("{arch} builds on {}", engine.describe())),
        })?;
    if let Some(info) = &info {
        info.check_arch(&image, arch)?;
    }
    // plat.<arch> is of manylinux builds: musllinux ones take their image's.
    let configured = config.plat(arch).filter(|_| libc == Libc::Glibc);
    let plat = plan
        .plat
        .clone()
        .or_else(|| configured.map(String::from))
        .or_else(|| {
            info.as_ref()
                .and_then(|i| i.env("AUDITWHEEL_PLAT"))
                .filter(|p| !p.is_empty())
                .map(String::from)
        });
    let plat = match plat {
        Some(plat) => plat,
        // A pinned image sets its name (policy and arch) as it.
        None if runner.dry_run => match crate::images::plat(&image) {
            Some(plat) => plat.to_string(),
            None => format!("<AUDITWHEEL_PLAT of {image}>"),
        },
        None => return Err(util::usage(format!("image `{image}` is not a {libc} image (it sets no AUDITWHEEL_PLAT): build in {} or an image made from one; an image that follows the {libc} layout without that variable needs --plat (such as {})", Config::default().image(arch, libc), match libc {
            Libc::Glibc => format!("manylinux2014_{arch}, or plat.{arch} in Cargo.toml"),
            Libc::Musl => format!("musllinux_1_2_{arch}"),
        }))),
    };
    // A manylinux image cannot make musllinux wheels, nor the other way round.
    if !plat.starts_with('<') && !plat.starts_with(libc.family()) {
        let other = Libc::ALL.into_iter().find(|&l| l != libc).unwrap_or(libc);
        return Err(util::usage(format!(
            "{} builds: image `{image}` makes {plat} wheels, not {libc} ones: build {libc} wheels in {} (musllinux-images.{arch} / images.{arch} in Cargo.toml), or ask for --libc {other}",
            crate::wheels::select::platform_name(arch, libc),
            Config::default().image(arch, libc)
        )));
    }
    // Only a daemon on this machine uses this machine's binfmt handlers.
    let blocked = match !native && engine.is_local() {
        true => match qemu_register::handler(arch)? {
            Some(h) if h.enabled => None,
            _ => Some(format!("building for {arch} on this host needs QEMU emulation, and no {arch} binfmt handler is enabled: run `cargo xtask qemu-register --arch {arch}`, or build on a native {arch} engine (--engine {arch}=ssh://user@host)")),
        },
        false => None,
    };
    let emulated = !native && blocked.is_none();
    let cpu = emulated.then(|| emulated_cpu(plan, &engine, &image, arch, runner.dry_run));
    // The arch of the engine's machine (this one's when not asked): the
    // native tools must be of it.
    let machine = server
        .as_ref()
        .map_or(Arch::host(), |s| Arch::from_docker_name(&s.arch));
    // Emulated, or where a build asks for uv (build[uv]).
    let uv =
        (emulated || (native && plan.asks_uv())).then(|| native_uv(plan, machine, runner.dry_run));
    // The native clang targets glibc (`<arch>-linux-gnu`): musllinux
    // builds keep their image's compiler.
    let clang = match emulated && plan.native_compiler && libc == Libc::Glibc {
        true => Some(native_clang(sh, runner, machine, arch)?),
        false => None,
    };
    let native_image = match (&uv, emulated) {
        (Some(Ok(_)), true) => Some(native_image(sh, plan, &engine, &image, arch, machine, libc)),
        _ => None,
    };
    Ok(Target {
        arch,
        libc,
        engine,
        native,
        cpu,
        uv,
        clang,
        native_image,
        blocked,
        image_env: info.as_ref().map(|i| i.env.clone()).unwrap_or_default(),
        image_digest: info
            .as_ref()
            .and_then(|i| registry_digest(&image, &i.digests)),
        image_id: info.map(|i| i.id).unwrap_or_default(),
        image,
        plat,
    })
}

/// Of an image's registry digests, the one of `image`'s repository.
pub fn registry_digest(image: &str, digests: &[String]) -> Option<String> {
    let name = image.split('@').next().unwrap_or(image);
    // A tag follows the last `:` after the last `/` (a port comes before it).
    let repo = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    digests
        .iter()
        .find(|d| d.split('@').next() == Some(repo))
        .cloned()
}

impl Target {
    /// How messages name it: `x86_64` (manylinux), `musllinux_x86_64`.
    pub fn name(&self) -> String {
        super::select::platform_name(self.arch, self.libc)
    }

    /// Whether build `id` is one of this target's.
    pub fn builds(&self, id: &BuildId) -> bool {
        (self.arch, self.libc) == (id.arch, id.libc)
    }

    /// How its builds run: natively, or emulated with which CPU model and
    /// what makes their environments.
    pub fn how(&self) -> String {
        if let Some(why) = &self.blocked {
            return format!("not run: {why}");
        }
        let Some(cpu) = &self.cpu else {
            return match &self.uv {
                Some(Ok(uv)) => format!(
                    "native; environments made by the native uv {} (build-frontend build[uv])",
                    uv.version
                ),
                Some(Err(why)) => format!("native; environments made by pip ({why})"),
                None => "native".into(),
            };
        };
        let envs = match &self.uv {
            Some(Ok(uv)) => format!("environments made by the native uv {}", uv.version),
            Some(Err(why)) => format!("environments made by the emulated pip ({why})"),
            None => String::new(),
        };
        let compiler = match &self.clang {
            Some(clang) => format!(
                "; compiler: the native clang {} (--native-compiler)",
                clang.version
            ),
            None if self.libc == Libc::Musl => {
                "; compiler: the image's (the native clang of --native-compiler targets glibc)"
                    .into()
            }
            None => String::new(),
        };
        format!("emulated, {}; {envs}{compiler}", cpu.describe())
    }

    /// Why a failed build's engine can run nothing more: it no longer
    /// answers (its daemon died, its ssh connection is gone). Asked with a
    /// deadline, as a lost connection may hang rather than fail.
    pub fn engine_gone(&self) -> Option<String> {
        let mut ask = self.engine.command();
        ask.args(["version", "--format", "{{.Server.Version}}"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // The engine's own pinned API version spares nothing here.
        ask.env_remove("DOCKER_API_VERSION");
        let answered = match ask.spawn() {
            Ok(mut child) => {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                loop {
                    match child.try_wait() {
                        Ok(Some(status)) => break status.success(),
                        Ok(None) if std::time::Instant::now() < deadline => {
                            std::thread::sleep(std::time::Duration::from_millis(100))
                        }
                        _ => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break false;
                        }
                    }
                }
            }
            Err(_) => false,
        };
        (!answered).then(|| {
            format!(
                "the {} engine {} was lost during the run (it no longer answers): check it with `{}`, then build again",
                self.arch,
                self.engine.describe(),
                self.check_line()
            )
        })
    }

    /// The command that checks its engine, for the messages of a lost one.
    fn check_line(&self) -> String {
        let mut check = self.engine.command();
        check.arg("info");
        util::command_line(&check, &[])
    }

    /// Why a failed build of an engine reached by ssh failed when the engine
    /// still answers: its connection was cut (docker's ssh helper ended).
    pub fn connection_cut(&self, error: &str) -> Option<String> {
        let ssh = self.engine.describe().contains("ssh://");
        let cut = error.contains("dial-stdio") && error.contains("exit status 255");
        (ssh && cut).then(|| {
            format!(
                "the connection to the {} engine {} was cut during the run: check it with `{}`, then build again",
                self.arch,
                self.engine.describe(),
                self.check_line()
            )
        })
    }

    /// Why an emulated build of this machine's engine can run no more: the
    /// aarch64 handler was disabled or removed during the run.
    pub fn emulation_gone(&self) -> Option<String> {
        if self.native || !self.engine.is_local() {
            return None;
        }
        let arch = self.arch;
        match qemu_register::handler(arch) {
            Ok(Some(h)) if h.enabled => None,
            Ok(Some(_)) => Some(format!("the {arch} binfmt handler was disabled during the run, so nothing of {arch} runs any more: run `cargo xtask qemu-register --arch {arch}` (or `echo 1 > /proc/sys/fs/binfmt_misc/{}`), then build again", qemu_register::handler_name(arch))),
            _ => Some(format!("the {arch} binfmt handler was removed during the run, so nothing of {arch} runs any more: run `cargo xtask qemu-register --arch {arch}`, then build again")),
        }
    }
}

/// The native uv for an emulated arch: of the engine machine's arch (this
/// machine's when not known), fetched once; with `--full-emulation`, or
/// when it cannot be had, pip makes the environments and this says why.
fn native_uv(plan: &Plan, machine: Option<Arch>, dry_run: bool) -> Result<Uv, String> {
    if plan.full_emulation {
        return Err("--full-emulation".into());
    }
    let Some(machine) = machine else {
        return Err("the engine's machine is of an arch this tool has no uv for".into());
    };
    let uv = match dry_run {
        true => native::uv_path(machine),
        false => native::uv(machine),
    };
    uv.map_err(|e| format!("{e:#}"))
}

/// The native clang for an emulated arch's builds (`--native-compiler`):
/// made for x86_64 machines, once, with this machine's own engine.
fn native_clang(sh: &Shell, runner: &Runner, machine: Option<Arch>, arch: Arch) -> Result<Clang> {
    if machine != Some(Arch::X86_64) {
        bail!("--native-compiler: the {arch} engine's machine is not x86_64, and the native clang is made for x86_64 only: build without --native-compiler");
    }
    if runner.dry_run {
        return Ok(native::clang_kept().unwrap_or_else(|| Clang {
            tar: "<the native clang, made at the start of the run>".into(),
            version: "?".into(),
        }));
    }
    let engine = Engine::ready(sh, false, &crate::config::EngineSpec::Default)
        .context("--native-compiler: making the native clang needs this machine's engine")?;
    native::clang(sh, &engine, runner).context("--native-compiler")
}

/// The image whose CPythons run an emulated target's build frontend and
/// backend natively: of the engine machine's arch and the target's family
/// (that arch's stand-in, or the image named as the target's with that
/// arch), when the engine has it; else why not.
fn native_image(
    sh: &Shell,
    plan: &Plan,
    engine: &Engine,
    image: &str,
    arch: Arch,
    machine: Option<Arch>,
    libc: Libc,
) -> Result<NativeImage, String> {
    if !plan.cross_environment {
        return Err("--no-cross-environment or cross-environment = false".into());
    }
    let Some(machine) = machine else {
        return Err("the engine's machine is of an arch this tool has no image for".into());
    };
    // What a 32-bit target's build cannot take from a 64-bit native side.
    if arch.row().bits < machine.row().bits {
        let requires = super::package::build_requires(&plan.root.join(&plan.package));
        for name in &requires {
            if let Some((_, why)) = SIXTY_FOUR_BITS.iter().find(|(n, _)| n == name) {
                let why = why
                    .replace("{machine}", machine.name())
                    .replace("{arch}", arch.name());
                return Err(format!("its build requirement `{name}` {why}"));
            }
        }
    }
    let (name, get) = match (plan.standin, libc) {
        (true, _) if !standin::exists(machine, libc) => {
            return Err(format!("there is no {machine} {libc} stand-in"))
        }
        (true, Libc::Glibc) => (
            standin::image_ref(machine),
            format!("cargo xtask standin --arch {machine}"),
        ),
        (true, Libc::Musl) => (
            standin::MUSLLINUX.to_string(),
            format!("cargo xtask standin --arch {machine} --musllinux"),
        ),
        (false, _) => match counterpart(image, arch, machine) {
            Some(name) => {
                let pull = util::command_line(engine.command().args(["pull", &name]), &[]);
                (name, pull)
            }
            None => {
                return Err(format!(
                "image `{image}` does not name its arch, so its {machine} counterpart is not known"
            ))
            }
        },
    };
    match engine.inspect_image(sh, &name) {
        Ok(Some(info)) if info.arch == machine.docker_name() => Ok(NativeImage {
            image: name,
            id: info.id,
            arch: machine,
        }),
        Ok(Some(info)) => Err(format!(
            "`{name}` is built for {}, not {machine}",
            info.arch
        )),
        Ok(None) => Err(format!("`{name}` is not on the engine (`{get}` brings it)")),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Build requirements (`[build-system] requires`, by project name) that a
/// 64-bit native side cannot serve a 32-bit target with, and why. The
/// native side installs them for its own machine: numpy's C headers say
/// the sizes of that machine's long and pointers. (cmake is not one: the
/// interpreter's pointer size that CMake's FindPython may ask is the
/// target's in the cross environment, sitecustomize.py.)
const SIXTY_FOUR_BITS: [(&str, &str); 2] = [("numpy", NUMPY), ("oldest-supported-numpy", NUMPY)];
const NUMPY: &str = "would be the native {machine} one, whose C headers give long and pointers 64 bits, where {arch} has 32";

/// The image of `machine` of the family of `image`, which is of `arch`:
/// its name with the arch's name (`aarch64`, else the engine's `arm64`)
/// replaced where it is a word of the name (`manylinux_2_28_aarch64`,
/// `img:aarch64`, `img:2024-arm64`), and without a digest (each arch's
/// image has its own).
fn counterpart(image: &str, arch: Arch, machine: Arch) -> Option<String> {
    let name = image.split('@').next().unwrap_or(image);
    let word = |from: &str, to: &str| -> Option<String> {
        let bounded = |c: Option<char>| c.is_none_or(|c| "_-:/.".contains(c));
        name.rmatch_indices(from)
            .find(|&(at, _)| {
                bounded(name[..at].chars().next_back())
                    && bounded(name[at + from.len()..].chars().next())
            })
            .map(|(at, _)| format!("{}{to}{}", &name[..at], &name[at + from.len()..]))
    };
    word(arch.name(), machine.name()).or_else(|| word(arch.docker_name(), machine.docker_name()))
}

/// The CPU model an emulated arch runs with: the user's `QEMU_CPU` (given to
/// the build, else in this process's environment), else the fastest that
/// the emulator takes. On this machine that emulator is asked its version
/// (`qemu_register::host_qemu_version`, as every command that runs
/// emulated code asks it); an engine elsewhere emulates with one this tool
/// cannot ask, so the faster model is tried there with one tiny container,
/// as a model its emulator does not know would end every emulated process.
/// The dry run starts nothing, and shows the model the run tries.
fn emulated_cpu(plan: &Plan, engine: &Engine, image: &str, arch: Arch, dry_run: bool) -> CpuModel {
    if let Some((_, v)) = plan.env.iter().find(|(k, _)| k == "QEMU_CPU") {
        return qemu_register::cpu_model(arch, Some((v, "with --env or env")), None);
    }
    if plan.full_emulation {
        return CpuModel {
            value: None,
            why: "--full-emulation".into(),
        };
    }
    if engine.is_local() {
        return qemu_register::host_cpu_model(arch);
    }
    if let Some(v) = std::env::var("QEMU_CPU").ok().filter(|v| !v.is_empty()) {
        return qemu_register::cpu_model(arch, Some((&v, "in the environment")), None);
    }
    let models = arch.row().fast_cpu;
    if models.is_empty() {
        return qemu_register::cpu_model(arch, None, None);
    }
    // Newest first, the first model its emulator knows; the dry run starts
    // nothing and shows the first.
    let takes = |model: &str| {
        let mut probe = engine.command();
        probe
            .args(["run", "--rm", "--network=none", "--label"])
            .arg(crate::engine::CONTAINER_LABEL)
            .arg("--platform")
            .arg(arch.docker_platform())
            .args(["--env", &format!("QEMU_CPU={model}")])
            .args(["--entrypoint", "true", image])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        probe.status().is_ok_and(|s| s.success())
    };
    if let Some(fast) = models.iter().find(|m| dry_run || takes(m.model)) {
        return CpuModel {
            value: Some(fast.model.into()),
            why: "the engine's emulator takes it".into(),
        };
    }
    let names: Vec<&str> = models.iter().map(|m| m.model).collect();
    CpuModel {
        value: None,
        why: format!(
            "the {arch} engine's emulator refused QEMU_CPU={}: QEMU's own model",
            names.join(" and ")
        ),
    }
}

/// This machine's default engine, when it is another engine and has `image`.
fn elsewhere(sh: &Shell, engine: &Engine, image: &str) -> Option<Engine> {
    let local = Engine::detect().ok()?;
    if local == *engine {
        return None;
    }
    matches!(local.inspect_image(sh, image), Ok(Some(_))).then_some(local)
}

#[cfg(test)]
mod tests {
    use super::{counterpart, registry_digest};
    use crate::platform::Arch;

    #[test]
    fn the_x86_64_image_of_an_emulated_image_s_family() {
        let x86 = |image: &str, arch: Arch| counterpart(image, arch, Arch::X86_64);
        for (image, arch, want) in [
            (
                "quay.io/pypa/manylinux_2_28_aarch64:2026.08.15-1@sha256:aa",
                Arch::Aarch64,
                Some("quay.io/pypa/manylinux_2_28_x86_64:2026.08.15-1"),
            ),
            (
                "quay.io/pypa/musllinux_1_2_s390x",
                Arch::S390x,
                Some("quay.io/pypa/musllinux_1_2_x86_64"),
            ),
            (
                "registry:5000/me/manylinux_2_31_armv7l-dev:1",
                Arch::Armv7l,
                Some("registry:5000/me/manylinux_2_31_x86_64-dev:1"),
            ),
            (
                "xtask-test-cibw:aarch64",
                Arch::Aarch64,
                Some("xtask-test-cibw:x86_64"),
            ),
            (
                "me/img:2024-arm64",
                Arch::Aarch64,
                Some("me/img:2024-amd64"),
            ),
            ("registry:5000/me/img:1", Arch::Aarch64, None),
            ("me/img_aarch64x", Arch::Aarch64, None),
            ("me/riscv64gc:1", Arch::Riscv64, None),
        ] {
            assert_eq!(x86(image, arch).as_deref(), want, "{image}");
        }
    }

    #[test]
    fn the_digest_of_the_image_s_own_repository() {
        let digests = [
            "ghcr.io/me/other@sha256:aa".to_string(),
            "registry:5000/me/img@sha256:bb".to_string(),
        ];
        for image in [
            "registry:5000/me/img",
            "registry:5000/me/img:1",
            "registry:5000/me/img:1@sha256:bb",
        ] {
            assert_eq!(
                registry_digest(image, &digests).as_deref(),
                Some("registry:5000/me/img@sha256:bb"),
                "{image}"
            );
        }
        assert_eq!(registry_digest("xtask-standin:x86_64", &[]), None);
        assert_eq!(registry_digest("ghcr.io/me/img", &digests), None);
    }
}
