//! What a run carries out, decided once: each target's container start line
//! and each build's recipe (its host hooks, environment, exec arguments and
//! staging folder). decision.rs makes them before anything starts; the run
//! (builds.rs) follows them and the dry run prints them.

use std::process::{Command, Stdio};

use camino::{Utf8Path, Utf8PathBuf};

use super::audit::Audit;
use super::contract::{
    BuildArgs, Placeholders, Var, CCACHE_DIR, NATIVE_CLANG, NATIVE_DIR, NATIVE_PYTHONS,
    PYCACHE_DIR, SETUP, SRC,
};
use super::pip_settings;
use super::plan::Plan;
use super::select::Build;
use super::target::Target;
use crate::engine::{
    exec_command, short_id, CommandAfterReady, ContainerSpec, Engine, StartScript,
};
use crate::native;
use crate::platform::{Arch, BuildId};
use crate::qemu_register::CpuModel;
use crate::util;

/// Everything one build runs.
pub(super) struct Recipe {
    pub build: Build,
    /// The host folder of its interpreter's headers, for `{include}`.
    pub include: Option<Utf8PathBuf>,
    /// Host commands before and after it, placeholders filled.
    pub pre_build: Option<Command>,
    pub post_build: Option<Command>,
    /// Where its inputs are in the container: its own copy after a pre-build.
    pub sources: String,
    /// The exec's arguments: build-wheel.sh, then the wheel as a tar stream.
    pub args: Vec<String>,
    /// The run's variables, its share of the cores (and ccache's), the
    /// before-build and cibuildwheel steps, and the tests'.
    pub env: Vec<(String, String)>,
    /// Whether its wheel is tested (not `--no-test`, not `test-skip`).
    pub tested: bool,
    /// The hidden folder of the output folder the wheel arrives in, removed
    /// unless the wheel lands.
    pub stage: Utf8PathBuf,
    /// The audit of its wheel on the host before it lands, if any.
    pub audit: Option<Audit>,
    /// The native CPython that runs its frontend and backend (emulated
    /// targets), copied into its container.
    pub native_python: Option<native::Python>,
}

impl Recipe {
    /// `build_env`: the variables every build of the run gets.
    pub fn new(
        plan: &Plan,
        t: &Target,
        build: Build,
        build_env: &[(String, String)],
        native_python: Option<native::Python>,
    ) -> Recipe {
        // As the overrides entries that select this build have it.
        let plan = &plan.for_build(&build.id);
        let include = plan.needs_include().then(|| headers_cache(t, &build.dir));
        let hook = |command: &[String]| plan.hook_command(command, &build.id, include.as_deref());
        let pre_build = hook(&plan.pre_build);
        let post_build = hook(&plan.post_build);
        let sources = match pre_build {
            Some(_) => format!("{SRC}-{}", build.dir),
            None => SRC.to_string(),
        };
        let test_env = plan.test_env(&build.id, &build.dir);
        let tested = !test_env.is_empty();
        let env =
            plan.env
                .iter()
                .cloned()
                .chain(build_env.iter().cloned())
                .chain(plan.steps_env(&build.dir, &sources))
                .chain(test_env)
                .chain(uv_settings(plan, t))
                .chain(native_python.iter().map(|p| {
                    Var::NativePython.set(format!("{NATIVE_PYTHONS}/{}/bin/python", p.dir))
                }))
                // Each step knows which build it is, as cibuildwheel tells it.
                .chain([(
                    "CIBUILDWHEEL_BUILD_IDENTIFIER".to_string(),
                    build.id.to_string(),
                )])
                .collect();
        let stage = plan.out.join(format!(
            ".xtask-partial-{}-{}",
            std::process::id(),
            build.id
        ));
        Recipe {
            audit: Audit::of(&plan.steps, &plan.root, &plan.package),
            args: plan.build_args(&build.dir, &t.plat, &sources).command(),
            build,
            include,
            pre_build,
            post_build,
            sources,
            env,
            tested,
            stage,
            native_python,
        }
    }

    /// The build as the container's first process runs it (a lone build).
    pub fn first_command(&self) -> CommandAfterReady {
        CommandAfterReady {
            args: self.args.clone(),
            env: self.env.clone(),
        }
    }

    /// The exec that runs it in container `name`.
    pub fn exec(&self, engine: &Engine, name: &str, secrets: &[String]) -> Command {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        exec_command(engine, name, &self.env, secrets, &args)
    }

    /// The exec as it is shown (the build's log, the dry run): the exec,
    /// secrets masked, piped into the host's tar that unpacks the wheel in
    /// its staging folder.
    pub fn exec_line(&self, engine: &Engine, name: &str, secrets: &[String]) -> String {
        format!(
            "{} | {}",
            util::command_line(&self.exec(engine, name, secrets), secrets),
            util::command_line(&untar(self.stage.as_str()), &[])
        )
    }

    /// After a pre-build: the exec that unpacks its own copy of the inputs,
    /// streamed on its stdin.
    pub fn unpack_inputs(&self, engine: &Engine, name: &str) -> Option<Command> {
        self.pre_build.as_ref()?;
        Some(exec_reading(
            engine,
            name,
            &["sh", "-c", UNPACK, "sh", &self.sources],
        ))
    }
}

/// The pieces of the recipes, from the plan's decisions.
impl Plan {
    /// The `tar` that streams the inputs into a container: the package and the
    /// includes, without version control, caches and earlier build output.
    pub fn tar_command(&self) -> Command {
        let mut cmd = Command::new("tar");
        cmd.args(["--create", "--file=-", "--directory"])
            .arg(self.root.as_str());
        cmd.args([
            "--exclude-vcs",
            "--exclude=__pycache__",
            "--exclude=*.egg-info",
            "--anchored",
        ]);
        for dir in ["build", "dist", ".tox", ".nox", ".venv"] {
            cmd.arg(format!("--exclude={}", self.package.join(dir)));
        }
        if let Ok(rel) = self.out.strip_prefix(&self.root) {
            cmd.arg(format!("--exclude={rel}"));
        }
        cmd.arg("--");
        cmd.arg(self.package.as_str());
        cmd.args(self.include.iter().map(|p| p.as_str()));
        cmd
    }

    /// The volumes a build container of target `t` mounts.
    pub fn volumes(&self, t: &Target) -> Vec<String> {
        let mut volumes = Vec::new();
        if self.pip_cache {
            volumes.push(format!("{PIP_CACHE_VOLUME}:/root/.cache/pip"));
        }
        if self.ccache {
            volumes.push(format!(
                "{}:{CCACHE_DIR}",
                ccache_volume(t.arch, &t.image_id)
            ));
        }
        if self.keeps_bytecode(t) {
            volumes.push(format!("{}:{PYCACHE_DIR}", self.pycache_volume(t)));
        }
        volumes
    }

    /// Whether target `t`'s bytecode is kept between runs: under emulation,
    /// where compiling it again costs seconds at each interpreter start
    /// (manylinux images hold no .pyc of their own), unless
    /// `--full-emulation`.
    fn keeps_bytecode(&self, t: &Target) -> bool {
        t.cpu.is_some() && !self.full_emulation
    }

    /// build-wheel.sh's arguments for interpreter `dir`.
    pub fn build_args<'a>(
        &'a self,
        dir: &'a str,
        plat: &'a str,
        sources: &'a str,
    ) -> BuildArgs<'a> {
        BuildArgs {
            interpreter: dir,
            plat,
            sources,
            package: &self.package,
            isolation: self.isolation,
            pure_wheel: self.pure_wheel,
        }
    }

    /// The variables that give one of `workers` concurrent builds its share
    /// of the cores (or `build-jobs`), for make, cmake, cargo and setuptools;
    /// none that `env` sets itself, and none at all for a share of one.
    pub fn parallel_env(&self, workers: usize) -> Vec<(String, String)> {
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        let share = self
            .build_jobs
            .unwrap_or_else(|| (cores / workers.max(1)).max(1));
        if share <= 1 {
            return Vec::new();
        }
        [
            ("MAKEFLAGS", format!("-j{share}")),
            ("CMAKE_BUILD_PARALLEL_LEVEL", share.to_string()),
            ("CARGO_BUILD_JOBS", share.to_string()),
            (Var::CompileJobs.name(), share.to_string()),
        ]
        .into_iter()
        .filter(|(k, _)| !self.env.iter().any(|(e, _)| e == k))
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The variables every build of a run of `builds` builds gets: its
    /// share of the cores, and ccache's.
    pub fn build_env(&self, builds: usize) -> Vec<(String, String)> {
        let mut env = self.parallel_env(self.workers(builds));
        if self.ccache {
            env.push(("CCACHE_DIR".into(), CCACHE_DIR.into()));
            env.push(Var::Ccache.set("1"));
        }
        env
    }

    /// How many of a run's `builds` builds go on at once.
    pub fn workers(&self, builds: usize) -> usize {
        self.jobs.min(builds).max(1)
    }

    /// The variables that make the in-container script run `before-build`
    /// in the package's copy of interpreter `dir` (`{project}`, `{package}`
    /// filled in), and cibuildwheel's other steps and settings; `sources`:
    /// where the inputs are, where before-all runs.
    pub fn steps_env(&self, dir: &str, sources: &str) -> Vec<(String, String)> {
        let build = Placeholders::of_build(dir, &self.package);
        let mut env = Vec::new();
        if let Some(command) = &self.before_build {
            env.push(Var::BeforeBuild.set(build.command(command)));
        }
        // Present, even empty (no repair), when the project has its own.
        if let Some(command) = &self.steps.repair_command {
            env.push(Var::RepairCommand.set(build.command(command)));
        }
        env.extend(
            self.steps
                .env(&build, &Placeholders::at(sources, &self.package)),
        );
        env
    }

    /// The variables that make the in-container script test one build's
    /// wheel (`{project}`, `{package}` filled in), or none.
    pub fn test_env(&self, id: &BuildId, dir: &str) -> Vec<(String, String)> {
        let Some(test) = &self.test else {
            return Vec::new();
        };
        let Some(command) = &test.command else {
            return Vec::new();
        };
        if test.skip.matches(&id.to_string()) {
            return Vec::new();
        }
        let build = Placeholders::of_build(dir, &self.package);
        let command = build.command(command);
        let mut env = vec![
            Var::TestCommand.set(command),
            Var::TestRequires.list(&test.requires),
            Var::TestSources.list(&test.sources),
        ];
        if !test.extras.is_empty() {
            env.push(Var::TestExtras.set(test.extras.join(",")));
        }
        if let Some(before) = &self.steps.before_test {
            env.push(Var::BeforeTest.set(build.command(before)));
        }
        env
    }

    /// A host command of the run (`pre_build`, `post_build`) for one build,
    /// placeholders filled in: `{arch}` (as `arch-names` has it), `{py}`,
    /// `{version}` (3.12) and `{include}` (the folder given).
    pub fn hook_command(
        &self,
        hook: &[String],
        id: &BuildId,
        include: Option<&Utf8Path>,
    ) -> Option<Command> {
        let (program, args) = hook.split_first()?;
        let arch = self.arch_names[id.arch as usize]
            .as_deref()
            .unwrap_or(id.arch.name());
        let fill = |s: &String| {
            s.replace("{arch}", arch)
                .replace("{py}", &id.python.to_string())
                .replace("{version}", &format!("3.{}", id.python.minor()))
                .replace("{include}", include.map_or("", |p| p.as_str()))
        };
        let mut cmd = Command::new(fill(program));
        cmd.args(args.iter().map(fill))
            .current_dir(self.root.as_str());
        Some(cmd)
    }

    /// Whether a host command needs the interpreter's headers (`{include}`).
    pub fn needs_include(&self) -> bool {
        self.pre_build
            .iter()
            .chain(&self.post_build)
            .any(|a| a.contains("{include}"))
    }
}

/// Where the native uv makes a build's environments: what it is told of
/// pip's settings (XTASK_UV_CONFIG, a uv.toml), or why pip makes them
/// instead (XTASK_UV_REFUSED); nothing where uv makes none.
fn uv_settings(plan: &Plan, t: &Target) -> Vec<(String, String)> {
    let Some(Ok(_)) = &t.uv else {
        return Vec::new();
    };
    let env: Vec<(String, String)> = t.image_env.iter().chain(&plan.env).cloned().collect();
    match pip_settings::uv_config(&env, &plan.steps.env_eval) {
        Ok(config) => vec![Var::UvConfig.set(config)],
        Err(why) => vec![Var::UvRefused.set(why)],
    }
}

/// The native tools of target `t`'s container, each a folder of this
/// machine (once unpacked) and where it is in the container: mounted
/// read-only where the engine runs here, else copied in once it started.
pub(super) fn native_dirs(recipes: &[Recipe], t: &Target) -> Vec<(Utf8PathBuf, String)> {
    let mut dirs = Vec::new();
    if let Some(Ok(uv)) = &t.uv {
        let dir = uv.path.parent().expect("a folder");
        dirs.push((dir.to_owned(), NATIVE_DIR.to_string()));
    }
    if let Some(clang) = &t.clang {
        dirs.push((clang.dir(), NATIVE_CLANG.to_string()));
    }
    for python in native_pythons(recipes, t) {
        dirs.push((
            python.dir_here(),
            format!("{NATIVE_PYTHONS}/{}", python.dir),
        ));
    }
    dirs
}

/// The dynamic loader of the native CPython, mounted where programs of its
/// machine look for theirs: the build tools from PyPI that the cross
/// environment installs for that machine (cmake, ninja) then start, and
/// find their runtime libraries beside it (scripts/native/python.sh lays
/// them out, build-wheel.sh puts them on `LD_LIBRARY_PATH`). A remote
/// engine gets none: there they cannot start, and such a package builds
/// with `--no-cross-environment`.
fn native_loader(recipes: &[Recipe], t: &Target) -> Option<String> {
    let python = native_pythons(recipes, t).into_iter().next()?;
    let machine = t.native_image.as_ref()?.as_ref().ok()?.arch;
    let at = machine.row().loader?;
    let name = at.rsplit('/').next()?;
    Some(format!("{}/.lib/{name}:{at}:ro", python.dir_here()))
}

/// The native CPythons of target `t`'s builds, once each.
pub(super) fn native_pythons<'r>(recipes: &'r [Recipe], t: &Target) -> Vec<&'r native::Python> {
    let mut pythons: Vec<&native::Python> = Vec::new();
    for r in recipes.iter().filter(|r| t.builds(&r.build.id)) {
        if let Some(python) = &r.native_python {
            if !pythons.contains(&python) {
                pythons.push(python);
            }
        }
    }
    pythons
}

/// The volume `--pip-cache` keeps; labelled as a cache, so it is not mistaken
/// for something a run left behind.
pub const PIP_CACHE_VOLUME: &str = "xtask-wheels-pip-cache";

/// The variables of every process of target `t`'s container: the emulated
/// CPU model, where Python keeps its bytecode, and the native uv and its
/// cache.
fn emulation_env(plan: &Plan, t: &Target) -> Vec<(String, String)> {
    let mut env = t.cpu.as_ref().map(CpuModel::env).unwrap_or_default();
    if plan.keeps_bytecode(t) {
        env.push(Var::Pycache.set(PYCACHE_DIR));
    }
    if let Some(Ok(_)) = &t.uv {
        env.push(Var::Uv.set(format!("{NATIVE_DIR}/uv")));
        // uv's cache kept beside the bytecode: the isolated environment's
        // files link to it, so they keep the times their bytecode names.
        if plan.keeps_bytecode(t) {
            env.push(Var::UvCache.set(format!("{PYCACHE_DIR}/.uv")));
        }
    }
    if t.clang.is_some() {
        env.push(Var::NativeClang.set(NATIVE_CLANG));
        env.push(Var::ClangTarget.set(t.arch.row().clang_target));
        env.push(Var::RustTarget.set(t.arch.row().rust_target));
    }
    if let Some(program) = t.arch.row().personality {
        env.push(Var::Personality.set(program));
    }
    env
}

impl Plan {
    /// The bytecode volume of target `t`: compiled from its image's files
    /// only, and of this project only (by its root folder), so that no
    /// other project's commands can leave bytecode that this one's builds
    /// run.
    pub fn pycache_volume(&self, t: &Target) -> String {
        let mut project = util::Fnv::default();
        project.write(self.root.as_str().as_bytes());
        format!(
            "xtask-wheels-pycache-{}-{}-{}",
            t.arch,
            short_id(&t.image_id),
            &project.hex()[..8]
        )
    }
}

/// The ccache volume of an arch and image: objects compiled in one image
/// are of no use to another.
pub fn ccache_volume(arch: Arch, image_id: &str) -> String {
    format!("xtask-wheels-ccache-{arch}-{}", short_id(image_id))
}

/// Whether a run's one build may run in its container's first process,
/// which saves the round trip of an exec: when nothing has to reach the
/// container between its start and the build (a pre-build command and its
/// inputs, input dirs, headers, a native tool copied in), no ccache
/// counters are read, the container is not kept, and only one container
/// starts. Not with secrets either: `docker run` keeps its environment in
/// the container's configuration, an exec does not.
pub(super) fn lone_allowed(plan: &Plan, targets: &[&Target], secrets: &[String]) -> bool {
    targets.len() == 1
        && plan.pre_build.is_empty()
        && plan.input_dirs.is_empty()
        && !targets.iter().any(|t| copies_natives(t))
        && !plan.env.iter().any(|(k, _)| secrets.contains(k))
        && !plan.ccache
        && !plan.keep_container
        && !plan.needs_include()
}

/// Whether target `t`'s container gets native tools copied in once it
/// started (its engine runs elsewhere: they cannot be mounted).
pub(super) fn copies_natives(t: &Target) -> bool {
    !t.engine.is_local() && (matches!(t.uv, Some(Ok(_))) || t.clang.is_some())
}

/// How a target's container starts: its `docker run`, and what its first
/// process does (ready it; with a lone build's recipe, then run that build).
pub(super) struct ContainerStart<'a> {
    pub spec: ContainerSpec<'a>,
    pub first: StartScript,
    /// Whether the inputs come on its stdin (else each build sends its own).
    pub unpack: bool,
}

impl<'a> ContainerStart<'a> {
    pub fn new(
        plan: &'a Plan,
        t: &'a Target,
        run_id: &'a str,
        scripts: Vec<(String, String)>,
        recipes: &[Recipe],
        lone: Option<&Recipe>,
    ) -> ContainerStart<'a> {
        let unpack = plan.pre_build.is_empty();
        let mut volumes = plan.volumes(t);
        if t.engine.is_local() {
            for (from, to) in native_dirs(recipes, t) {
                volumes.push(format!("{from}:{to}:ro"));
            }
            volumes.extend(native_loader(recipes, t));
        }
        // The inputs' tar's size in bytes (known once it is made), or 0.
        let mut args = vec![if unpack { "<bytes>" } else { "0" }.to_string()];
        for (path, text) in scripts {
            args.extend([path, text]);
        }
        ContainerStart {
            spec: ContainerSpec {
                name: container_name(run_id, t),
                run_id,
                image: &t.image,
                arch: t.arch,
                volumes,
                env: emulation_env(plan, t),
                extra: &plan.container_args,
                keep: plan.keep_container,
            },
            first: StartScript {
                script: SETUP.to_string(),
                args,
                then: lone.map(Recipe::first_command),
            },
            unpack,
        }
    }
}

fn container_name(run_id: &str, t: &Target) -> String {
    format!("xtask-wheels-{run_id}-{}", t.name())
}

/// Where the headers of interpreter `dir` of the target's image are kept
/// on the host: per image id, so a rebuilt image gets its own.
pub(super) fn headers_cache(t: &Target, dir: &str) -> Utf8PathBuf {
    let id = match short_id(&t.image_id) {
        "" => "<image id>",
        id => id,
    };
    util::project_root()
        .join("target/xtask/include")
        .join(id)
        .join(dir)
}

/// Creates a cache volume (a no-op when it exists), labelled as ours.
pub(super) fn cache_volume_command(engine: &Engine, name: &str) -> Command {
    let mut cmd = engine.command();
    cmd.args([
        "volume",
        "create",
        "--label",
        &format!("{}=cache", crate::engine::LABEL),
        name,
    ]);
    cmd.stdout(Stdio::null());
    cmd
}

/// The cache volumes of a run, each with the engine that holds it.
pub(super) fn cache_volumes<'a>(plan: &Plan, targets: &[&'a Target]) -> Vec<(&'a Engine, String)> {
    let mut volumes = Vec::new();
    if plan.pip_cache {
        let mut engines: Vec<&Engine> = Vec::new();
        for t in targets {
            if !engines.contains(&&t.engine) {
                engines.push(&t.engine);
            }
        }
        for engine in engines {
            volumes.push((engine, PIP_CACHE_VOLUME.to_string()));
        }
    }
    for t in targets {
        if plan.ccache {
            volumes.push((&t.engine, ccache_volume(t.arch, &t.image_id)));
        }
        if plan.keeps_bytecode(t) {
            volumes.push((&t.engine, plan.pycache_volume(t)));
        }
    }
    volumes
}

/// Unpacks the tar stream on stdin into the folder "$1", made if missing.
const UNPACK: &str = "mkdir -p \"$1\" && tar -x -o -f - -C \"$1\"";

/// An exec in the container `name` that reads its stdin.
fn exec_reading(engine: &Engine, name: &str, args: &[&str]) -> Command {
    let mut exec = engine.command();
    exec.args(["exec", "--interactive", name]).args(args);
    exec
}

/// Unpacks a tar stream on stdin into `dir`; the files belong to the caller.
pub(super) fn untar(dir: &str) -> Command {
    let mut cmd = Command::new("tar");
    cmd.args([
        "--extract",
        "--no-same-owner",
        "--file=-",
        "--directory",
        dir,
    ]);
    cmd
}
