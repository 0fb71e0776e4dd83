//! `cargo xtask wheels`: one container per architecture, the inputs copied into it
//! once, one work folder per interpreter, builds run side by side, and only
//! repaired, checked wheels renamed into the output folder.
//!
//! Nothing is bind-mounted: inputs go in and wheels come out with `docker cp`,
//! so the user's tree is never written by the container, the wheels belong to
//! the caller, and a remote engine works the same.

use std::collections::VecDeque;
use std::fs::File;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::config::{check_env_name, Config};
use crate::engine::{exec_command, Container, Engine};
use crate::platform::{parse_arches, Arch, BuildId, PythonTag, Selection};
use crate::util::{self, usage, Runner, Undo, UndoGuard};
use crate::{flags, qemu_register, standin};

/// What runs in a new build container before anything else: list the
/// interpreters and make the folders. One exec for both, because under
/// emulation each costs a fraction of a second.
const SETUP: &str = "ls -1 /opt/python && mkdir -p /xtask/src /xtask/out";

/// The scripts that run inside the build containers.
fn container_scripts() -> Utf8PathBuf {
    util::project_root().join("scripts/container")
}

/// The volume `--pip-cache` keeps; labelled as a cache, so it is not mistaken
/// for something a run left behind.
pub const PIP_CACHE_VOLUME: &str = "xtask-wheels-pip-cache";

/// Where the inputs, work folders and results live inside the container.
const SRC: &str = "/xtask/src";
const BIN: &str = "/xtask/bin";
const OUT: &str = "/xtask/out";

/// Everything a run needs, decided and validated before anything is started.
#[derive(Debug)]
pub struct Plan {
    pub arches: Vec<Arch>,
    pub selection: Selection,
    pub image: Option<String>,
    pub plat: Option<String>,
    pub standin: bool,
    pub pull: bool,
    pub root: Utf8PathBuf,
    pub package: Utf8PathBuf,
    pub include: Vec<Utf8PathBuf>,
    pub out: Utf8PathBuf,
    pub env: Vec<(String, String)>,
    pub isolation: bool,
    pub pip_cache: bool,
    pub jobs: usize,
    pub fail_fast: bool,
    pub pre_build: Vec<String>,
}

impl Plan {
    /// `cwd` anchors paths from the command line; the config's own folder, its paths.
    pub fn new(flags: flags::Wheels, config: &Config, cwd: &Utf8Path) -> Result<Plan> {
        let project = &config.dir;
        let arches = if flags.arch.is_empty() {
            config.arch.clone()
        } else {
            parse_arches(&flags.arch).map_err(usage)?
        };
        let selection = match &flags.py {
            Some(py) => Selection::parse_list(&py.split(',').collect::<Vec<_>>()).map_err(usage)?,
            None => config.python.clone(),
        };
        for (flag, given) in [
            ("--image", flags.image.is_some()),
            ("--plat", flags.plat.is_some()),
        ] {
            if given && arches.len() > 1 {
                return Err(usage(format!(
                    "{flag} applies to one arch, but {} are asked for: build one arch at a time, or set images/plat per arch in Cargo.toml",
                    arches.len()
                )));
            }
        }
        if let Some(image) = &flags.image {
            if image.trim().is_empty() {
                return Err(usage(
                    "--image is empty: name an image, such as quay.io/pypa/manylinux2014_x86_64",
                ));
            }
        }
        if let Some(plat) = flags
            .plat
            .as_deref()
            .or(arches.first().and_then(|&a| config.plat(a)))
        {
            check_plat(plat).map_err(usage)?;
        }

        let root = match &flags.root {
            Some(root) => absolute(cwd, root),
            None => absolute(project, &config.root),
        };
        let root = existing_dir(&root, "--root")?;
        let package = inside(
            &root,
            flags.package.as_ref().unwrap_or(&config.package),
            "--package",
        )?;
        if !root.join(&package).is_dir() {
            return Err(usage(format!("--package `{package}` is not a folder under {root}: give the folder that holds pyproject.toml or setup.py")));
        }
        if !["pyproject.toml", "setup.py"]
            .iter()
            .any(|f| root.join(&package).join(f).is_file())
        {
            return Err(usage(format!("--package `{package}` has no pyproject.toml or setup.py: give the Python package's folder")));
        }
        let includes = if flags.include.is_empty() {
            &config.include
        } else {
            &flags.include
        };
        let include = includes
            .iter()
            .map(|p| inside(&root, p, "--include"))
            .collect::<Result<Vec<_>>>()?;

        let out = match &flags.out {
            Some(out) => absolute(cwd, out),
            None => absolute(project, &config.out),
        };
        let out =
            normalize(&out).ok_or_else(|| usage(format!("--out `{out}` is not a usable path")))?;
        if out.exists() && !out.is_dir() {
            return Err(usage(format!(
                "--out `{out}` is a file: give a folder for the wheels"
            )));
        }
        let real_out = canonical_or_self(&out);
        let real_package = canonical_or_self(&root.join(&package));
        if real_out == root {
            return Err(usage(format!(
                "--out `{out}` is the root itself: give a folder such as {root}/dist"
            )));
        }
        if real_out.starts_with(&real_package) {
            return Err(usage(format!("--out `{out}` is inside the package folder {real_package}: give a folder outside it, such as {root}/dist")));
        }

        let mut env = config.env.clone();
        for item in &flags.env {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| usage(format!("--env `{item}` has no `=`: write KEY=VALUE")))?;
            check_env_name(key).map_err(|e| usage(format!("--env `{item}`: {e}")))?;
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }

        let jobs = flags.jobs.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
        });
        Ok(Plan {
            arches,
            selection,
            image: flags.image,
            plat: flags.plat,
            standin: flags.standin,
            pull: flags.pull,
            root,
            package,
            include,
            out,
            env,
            isolation: config.build_isolation && !flags.no_isolation,
            pip_cache: config.pip_cache || flags.pip_cache,
            jobs,
            fail_fast: flags.fail_fast,
            pre_build: config.pre_build.clone(),
        })
    }

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

    /// The volumes every build container of this run mounts.
    pub fn volumes(&self) -> Vec<String> {
        if self.pip_cache {
            vec![format!("{PIP_CACHE_VOLUME}:/root/.cache/pip")]
        } else {
            Vec::new()
        }
    }

    /// The arguments of the in-container build script for one interpreter.
    pub fn script_args(&self, dir: &str, plat: &str, sources: &str) -> Vec<String> {
        vec![
            "bash".into(),
            format!("{BIN}/build-wheel.sh"),
            dir.into(),
            plat.into(),
            sources.into(),
            self.package.to_string(),
            if self.isolation { "1" } else { "0" }.into(),
        ]
    }

    /// The host pre-build command for one build, placeholders filled in.
    pub fn pre_build_command(&self, arch: Arch, python: PythonTag) -> Option<Command> {
        let (program, args) = self.pre_build.split_first()?;
        let fill = |s: &String| {
            s.replace("{arch}", arch.name())
                .replace("{py}", &python.to_string())
        };
        let mut cmd = Command::new(fill(program));
        cmd.args(args.iter().map(fill))
            .current_dir(self.root.as_str());
        Some(cmd)
    }
}

/// A platform tag is passed to auditwheel and checked against the wheel: plain words only.
fn check_plat(plat: &str) -> Result<(), String> {
    let ok = plat.starts_with("manylinux") || plat.starts_with("musllinux");
    if ok && plat.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(format!("`{plat}` is not a manylinux platform tag: use one such as manylinux2014_x86_64 or manylinux_2_28_aarch64"))
    }
}

fn absolute(base: &Utf8Path, path: &Utf8Path) -> Utf8PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Removes `.` and resolves `..` lexically; None when it climbs above `/`.
fn normalize(path: &Utf8Path) -> Option<Utf8PathBuf> {
    let mut out = Utf8PathBuf::new();
    for c in path.components() {
        match c {
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

fn canonical_or_self(path: &Utf8Path) -> Utf8PathBuf {
    path.canonicalize_utf8()
        .unwrap_or_else(|_| path.to_path_buf())
}

fn existing_dir(path: &Utf8Path, flag: &str) -> Result<Utf8PathBuf> {
    match path.canonicalize_utf8() {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(_) => Err(usage(format!("{flag} `{path}` is a file: give a folder"))),
        Err(_) => Err(usage(format!(
            "{flag} `{path}` does not exist: give an existing folder"
        ))),
    }
}

/// A path under `root`, as a relative path; fails when it does not exist or
/// leads out of the root (by `..`, an absolute path elsewhere, or a link).
fn inside(root: &Utf8Path, path: &Utf8Path, flag: &str) -> Result<Utf8PathBuf> {
    let escapes = || {
        usage(format!("{flag} `{path}` is outside the root {root}: give a path inside it (or move the root with --root)"))
    };
    let full = normalize(&absolute(root, path)).ok_or_else(escapes)?;
    let rel = full
        .strip_prefix(root)
        .map_err(|_| escapes())?
        .to_path_buf();
    let real = full.canonicalize_utf8().map_err(|_| {
        usage(format!(
            "{flag} `{path}` does not exist under {root}: give an existing path"
        ))
    })?;
    if !real.starts_with(root) {
        return Err(escapes());
    }
    Ok(if rel.as_str().is_empty() {
        ".".into()
    } else {
        rel
    })
}

/// One architecture's image and platform tag, resolved.
struct Target {
    arch: Arch,
    image: String,
    plat: String,
}

struct Build {
    id: BuildId,
    target: usize,
    dir: String,
}

enum Outcome {
    Built { wheel: Utf8PathBuf },
    Failed { reason: String, log: Utf8PathBuf },
    Skipped,
}

struct Done {
    outcome: Outcome,
    time: Duration,
}

impl flags::Wheels {
    pub fn run(self, sh: &Shell, run: &Runner, config: &Config) -> Result<()> {
        let cwd = util::absolute_from_cwd(Utf8Path::new("."))?;
        let plan = Plan::new(self, config, &cwd)?;
        let engine = Engine::ready(sh, run.dry_run)?;
        let targets = plan
            .arches
            .iter()
            .map(|&arch| resolve_target(sh, run, &engine, &plan, config, arch))
            .collect::<Result<Vec<_>>>()?;
        if run.dry_run {
            print_dry_run(&plan, &engine, &targets, run.secrets);
            return Ok(());
        }
        execute(run, &engine, &plan, &targets)
    }
}

fn resolve_target(
    sh: &Shell,
    run: &Runner,
    engine: &Engine,
    plan: &Plan,
    config: &Config,
    arch: Arch,
) -> Result<Target> {
    let image = if plan.standin {
        standin::ensure(sh, engine, run, arch)?
    } else {
        plan.image
            .clone()
            .unwrap_or_else(|| config.images.get(arch).to_string())
    };
    let info = engine.ensure_image(sh, run, &image, arch, plan.pull)?;
    if let Some(info) = &info {
        info.check_arch(&image, arch)?;
    }
    let plat = plan
        .plat
        .clone()
        .or_else(|| config.plat(arch).map(String::from))
        .or_else(|| {
            info.as_ref()
                .and_then(|i| i.env("AUDITWHEEL_PLAT"))
                .map(String::from)
        });
    let plat = match plat {
        Some(plat) => plat,
        None if run.dry_run => format!("<AUDITWHEEL_PLAT of {image}>"),
        None => bail!("image `{image}` sets no AUDITWHEEL_PLAT: pass --plat (such as manylinux2014_{arch}) or set plat.{arch} in Cargo.toml"),
    };
    if Some(arch) != Arch::host() && !run.dry_run {
        match qemu_register::aarch64_handler()? {
            Some(h) if h.enabled => {}
            _ => bail!("building for {arch} on this host needs QEMU emulation, and no {arch} binfmt handler is enabled: run `cargo xtask qemu-register`"),
        }
    }
    Ok(Target { arch, image, plat })
}

/// Creates the cache volume (a no-op when it exists), labelled as ours.
fn pip_cache_command(engine: &Engine) -> Command {
    let mut cmd = Command::new(engine.program.as_str());
    cmd.args([
        "volume",
        "create",
        "--label",
        &format!("{}=cache", crate::engine::LABEL),
        PIP_CACHE_VOLUME,
    ]);
    cmd.stdout(Stdio::null());
    cmd
}

fn container_name(run_id: &str, arch: Arch) -> String {
    format!("xtask-wheels-{run_id}-{arch}")
}

fn print_dry_run(plan: &Plan, engine: &Engine, targets: &[Target], secrets: &[String]) {
    let q = |c: &Command| util::command_line(c, &[]);
    let docker = engine.program.as_str();
    if plan.pip_cache {
        println!("{}", q(&pip_cache_command(engine)));
    }
    for t in targets {
        let name = container_name("RUN", t.arch);
        let mut start = Command::new(docker);
        start.args(Container::run_args(
            &name,
            "RUN",
            &t.image,
            t.arch,
            &plan.volumes(),
        ));
        println!("{}", q(&start));
        println!("{docker} exec {name} sh -c {}", util::shell_quote(SETUP));
        println!(
            "{docker} cp --quiet {}/. {name}:{BIN}",
            util::shell_quote(container_scripts().as_str())
        );
        let dirs: Vec<String> = match &plan.selection {
            Selection::All => vec!["<each folder of /opt/python>".into()],
            Selection::Tags(tags) => tags.iter().map(|t| t.dir_guess()).collect(),
        };
        if plan.pre_build.is_empty() {
            println!("{} | {docker} cp - {name}:{SRC}", q(&plan.tar_command()));
        }
        for dir in dirs {
            let mut sources = SRC.to_string();
            if let Some(tag) = PythonTag::from_dir(&dir) {
                if let Some(pre) = plan.pre_build_command(t.arch, tag) {
                    sources = format!("{SRC}-{dir}");
                    println!(
                        "(cd {} && {})",
                        util::shell_quote(plan.root.as_str()),
                        q(&pre)
                    );
                    println!(
                        "{} | {docker} cp - {name}:{sources}",
                        q(&plan.tar_command())
                    );
                }
            }
            let args = plan.script_args(&dir, &t.plat, &sources);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let exec = exec_command(docker, &name, &plan.env, secrets, &args);
            println!("{}", util::command_line(&exec, secrets));
            println!(
                "{docker} cp --quiet {name}:{OUT}/{}/. {}",
                util::shell_quote(&dir),
                util::shell_quote(plan.out.as_str())
            );
        }
        println!("{docker} rm --force --volumes {name}");
    }
}

/// Copies `plan`'s inputs into the container at `dest` (which must exist), as one tar stream.
fn copy_inputs(plan: &Plan, container: &Container, dest: &str) -> Result<()> {
    let mut tar = plan.tar_command();
    let mut tar = tar
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar (is it installed?)")?;
    let stream = tar.stdout.take().expect("piped");
    let cp = Command::new(container.engine.program.as_str())
        .args(["cp", "-", &format!("{}:{dest}", container.name)])
        .stdin(stream)
        .output()
        .context("copying the inputs into the container")?;
    let tar_status = tar.wait()?;
    if !tar_status.success() {
        bail!(
            "tar could not read the inputs under {} ({tar_status}): see its message above",
            plan.root
        );
    }
    if !cp.status.success() {
        bail!(
            "copying the inputs into the container failed: {}",
            String::from_utf8_lossy(&cp.stderr).trim()
        );
    }
    Ok(())
}

fn execute(run: &Runner, engine: &Engine, plan: &Plan, targets: &[Target]) -> Result<()> {
    let target = util::project_root().join("target/xtask");
    let _lock = util::lock_exclusive(
        &target.join("wheels.lock"),
        "another `cargo xtask wheels` in this checkout",
    )?;
    let run_id = util::run_id();
    let logs = target.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {logs}"))?;

    if plan.pip_cache {
        run.run_captured(pip_cache_command(engine))?;
    }
    let mut containers = Vec::new();
    let mut builds = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        eprintln!("==> {}: starting a container of {}", t.arch, t.image);
        let c = Container::start(
            engine,
            run,
            container_name(&run_id, t.arch),
            &run_id,
            &t.image,
            t.arch,
            &plan.volumes(),
        )?;
        let offered = c.read(&["sh", "-c", SETUP]).map_err(|_| {
            usage(format!(
                "image `{}` is not a manylinux image: it has no /opt/python (expected /opt/python/<tag>/bin/python, as in quay.io/pypa/manylinux2014_{})",
                t.image,
                t.arch
            ))
        })?;
        let offered: Vec<String> = offered.lines().map(str::to_string).collect();
        let chosen = plan
            .selection
            .resolve(&offered)
            .with_context(|| format!("image `{}`", t.image))
            .map_err(|e| usage(format!("{e:#}")))?;
        c.copy_in(run, &container_scripts(), BIN)?;
        if plan.pre_build.is_empty() {
            copy_inputs(plan, &c, SRC)?;
        }
        builds.extend(chosen.into_iter().map(|(python, dir)| Build {
            id: BuildId {
                python,
                arch: t.arch,
            },
            target: i,
            dir,
        }));
        containers.push(c);
    }

    std::fs::create_dir_all(&plan.out)
        .with_context(|| format!("creating the output folder {}", plan.out))?;
    // Emulated builds are the slowest: start them first.
    let mut order: Vec<usize> = (0..builds.len()).collect();
    order.sort_by_key(|&i| Some(builds[i].id.arch) == Arch::host());
    let queue = Mutex::new(order.into_iter().collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<Done>>> = Mutex::new((0..builds.len()).map(|_| None).collect());
    let host_stage = Mutex::new(());
    let stop = AtomicBool::new(false);
    let workers = plan.jobs.min(builds.len()).max(1);
    eprintln!(
        "==> {} builds, {workers} at a time; logs in {logs}",
        builds.len()
    );

    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let b = &builds[i];
                let start = Instant::now();
                let outcome = if stop.load(Ordering::SeqCst) {
                    Outcome::Skipped
                } else {
                    eprintln!("==> {}: building", b.id);
                    let log = logs.join(format!("{}.log", b.id));
                    match build_one(
                        run,
                        plan,
                        &targets[b.target],
                        &containers[b.target],
                        b,
                        &log,
                        &host_stage,
                    ) {
                        Ok(wheel) => {
                            eprintln!(
                                "==> {}: ok, {}",
                                b.id,
                                wheel.file_name().unwrap_or_default()
                            );
                            Outcome::Built { wheel }
                        }
                        Err(e) => {
                            eprintln!("==> {}: FAILED: {e:#}", b.id);
                            if plan.fail_fast {
                                stop.store(true, Ordering::SeqCst);
                            }
                            Outcome::Failed {
                                reason: format!("{e:#}"),
                                log,
                            }
                        }
                    }
                };
                results.lock().unwrap()[i] = Some(Done {
                    outcome,
                    time: start.elapsed(),
                });
            });
        }
    });
    drop(containers);

    let results: Vec<Done> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|d| d.expect("every build ran"))
        .collect();
    print_summary(plan, targets, &builds, &results);
    let failed = results
        .iter()
        .filter(|d| !matches!(d.outcome, Outcome::Built { .. }))
        .count();
    if failed > 0 {
        bail!(
            "{failed} of {} builds did not produce a wheel",
            results.len()
        );
    }
    Ok(())
}

/// Runs one build; the repaired wheel lands in the output folder only whole,
/// by rename from a staging folder beside it.
fn build_one(
    run: &Runner,
    plan: &Plan,
    t: &Target,
    c: &Container,
    b: &Build,
    log: &Utf8Path,
    host_stage: &Mutex<()>,
) -> Result<Utf8PathBuf> {
    let mut log_file = File::create(log).with_context(|| format!("creating {log}"))?;
    let mut sources = SRC.to_string();
    if let Some(mut pre) = plan.pre_build_command(b.id.arch, b.id.python) {
        // The host command rewrites shared host files: one at a time, each
        // followed by its own copy of the inputs.
        let _one_at_a_time = host_stage.lock().unwrap();
        let line = util::command_line(&pre, run.secrets);
        pre.stdout(log_file.try_clone()?)
            .stderr(log_file.try_clone()?);
        let status = pre
            .status()
            .with_context(|| format!("starting the pre-build command `{line}`"))?;
        if !status.success() {
            bail!("the pre-build command `{line}` failed ({status}); its output is in {log}");
        }
        sources = format!("{SRC}-{}", b.dir);
        c.read(&["mkdir", "-p", &sources])?;
        copy_inputs(plan, c, &sources)?;
    }
    let args = plan.script_args(&b.dir, &t.plat, &sources);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut exec = c.exec(&plan.env, run.secrets, &args);
    exec.stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file.try_clone()?);
    use std::io::Write;
    writeln!(log_file, "$ {}", util::command_line(&exec, run.secrets))?;
    let status = exec
        .status()
        .context("running the build in the container")?;
    if !status.success() {
        bail!(
            "{}",
            last_error(log).unwrap_or_else(|| format!("the build exited with {status}"))
        );
    }

    let stage = plan
        .out
        .join(format!(".xtask-partial-{}-{}", std::process::id(), b.id));
    let _stage_guard = UndoGuard::new(Undo::Path(stage.clone()));
    std::fs::create_dir_all(&stage).with_context(|| format!("creating {stage}"))?;
    c.copy_out(run, &format!("{OUT}/{}/.", b.dir), &stage)
        .context("copying the wheel out of the container")?;
    let mut wheels = Vec::new();
    for entry in stage.read_dir_utf8()? {
        let entry = entry?;
        if entry.file_name().ends_with(".whl") {
            wheels.push(entry.path().to_path_buf());
        }
    }
    let [wheel] = wheels.as_slice() else {
        bail!(
            "expected one wheel from the container, found {}",
            wheels.len()
        )
    };
    let dest = plan.out.join(wheel.file_name().expect("a file"));
    std::fs::rename(wheel, &dest).with_context(|| format!("moving the wheel into {}", plan.out))?;
    Ok(dest)
}

/// The line of a failed build's log that says what broke: the build script's
/// own `error:` line, else the last thing anything printed (such as the
/// engine's word when the daemon went away).
fn last_error(log: &Utf8Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    match text.lines().rev().find(|l| l.starts_with("error: ")) {
        Some(line) => Some(line.trim_start_matches("error: ").to_string()),
        None => text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(String::from),
    }
}

fn tail(log: &Utf8Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

fn print_summary(plan: &Plan, targets: &[Target], builds: &[Build], results: &[Done]) {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok());
    let show = |p: &Utf8Path| match cwd.as_deref().and_then(|c| p.strip_prefix(c).ok()) {
        Some(rel) => rel.to_string(),
        None => p.to_string(),
    };
    let mut rows = vec![[
        "build".to_string(),
        "result".into(),
        "time".into(),
        "wheel".into(),
    ]];
    for (b, d) in builds.iter().zip(results) {
        let (result, detail) = match &d.outcome {
            Outcome::Built { wheel } => ("ok", show(wheel)),
            Outcome::Failed { log, .. } => ("FAILED", format!("log: {}", show(log))),
            Outcome::Skipped => ("skipped", "--fail-fast stopped the run".to_string()),
        };
        rows.push([
            b.id.to_string(),
            result.into(),
            util::format_duration(d.time),
            detail,
        ]);
    }
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    println!();
    for r in &rows {
        println!("{:<w0$}  {:<w1$}  {:>w2$}  {}", r[0], r[1], r[2], r[3]);
    }
    for t in targets {
        println!("{}: {} (platform tag {})", t.arch, t.image, t.plat);
    }
    if plan.standin {
        println!("built in the local stand-in images: their wheels carry manylinux_2_36 tags (Debian bookworm's glibc), not manylinux2014");
    }
    for (b, d) in builds.iter().zip(results) {
        if let Outcome::Failed { reason, log } = &d.outcome {
            println!("\n{} failed: {reason}\nlast lines of {}:", b.id, show(log));
            for line in tail(log, 15) {
                println!("    {line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Utf8PathBuf {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-plan-{}", util::run_id()));
        for d in ["pkg/mod", "native", "other", "pkg/notpkg"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("pkg/pyproject.toml"), "").unwrap();
        std::fs::write(dir.join("README.md"), "").unwrap();
        dir.canonicalize_utf8().unwrap()
    }

    fn config(root: &Utf8Path) -> Config {
        Config {
            dir: root.to_path_buf(),
            root: ".".into(),
            package: "pkg".into(),
            include: vec!["native".into(), "README.md".into()],
            ..Config::default()
        }
    }

    fn plan(root: &Utf8Path, args: &[&str]) -> Result<Plan> {
        use clap::Parser;
        let mut argv = vec!["cargo xtask", "wheels"];
        argv.extend_from_slice(args);
        let flags = flags::Xtask::try_parse_from(argv)?;
        let flags::Cmd::Wheels(w) = flags.subcommand else {
            unreachable!()
        };
        Plan::new(w, &config(root), root)
    }

    fn err(root: &Utf8Path, args: &[&str]) -> String {
        let e = plan(root, args).unwrap_err();
        assert!(
            e.downcast_ref::<util::UsageError>().is_some(),
            "not a usage error: {e:#}"
        );
        e.to_string()
    }

    #[test]
    fn defaults_from_config() {
        let root = tree();
        let p = plan(&root, &[]).unwrap();
        assert_eq!(p.arches, vec![Arch::X86_64, Arch::Aarch64]);
        assert_eq!(p.selection, Selection::All);
        assert_eq!(p.root, root);
        assert_eq!(p.package, "pkg");
        assert_eq!(
            p.include,
            vec![Utf8PathBuf::from("native"), "README.md".into()]
        );
        assert_eq!(p.out, root.join("dist"));
        assert!(p.isolation);
        assert!(p.jobs >= 1);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn flags_override_config() {
        let root = tree();
        let p = plan(
            &root,
            &[
                "--arch",
                "aarch64",
                "--py",
                "cp311,pp39",
                "--include",
                "other",
                "--out",
                "wheels",
                "--env",
                "A=1=2",
                "--no-isolation",
                "--jobs",
                "3",
                "--image",
                "img",
                "--plat",
                "manylinux_2_28_aarch64",
            ],
        )
        .unwrap();
        assert_eq!(p.arches, vec![Arch::Aarch64]);
        assert_eq!(p.selection.to_string(), "cp311,pp39");
        assert_eq!(p.include, vec![Utf8PathBuf::from("other")]);
        assert_eq!(p.out, root.join("wheels"));
        assert_eq!(p.env, vec![("A".to_string(), "1=2".to_string())]);
        assert!(!p.isolation);
        assert_eq!(p.jobs, 3);
        assert_eq!(p.image.as_deref(), Some("img"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn bad_input_is_named() {
        let root = tree();
        let cases: &[(&[&str], &str)] = &[
            (&["--arch", "sparc"], "unknown arch `sparc`"),
            (&["--arch", "x86_64,amd64"], "given twice"),
            (&["--py", ""], "empty interpreter list"),
            (&["--py", "cp312,cp312"], "`cp312` is given twice"),
            (&["--py", "cp3x"], "invalid interpreter tag `cp3x`"),
            (&["--image", "x"], "--image applies to one arch"),
            (&["--arch", "x86_64", "--image", " "], "--image is empty"),
            (
                &["--arch", "x86_64", "--plat", "linux_x86_64"],
                "`linux_x86_64` is not a manylinux platform tag",
            ),
            (&["--root", "nowhere"], "--root `"),
            (&["--root", "README.md"], "is a file"),
            (
                &["--package", "../pkg"],
                "--package `../pkg` is outside the root",
            ),
            (
                &["--package", "/etc"],
                "--package `/etc` is outside the root",
            ),
            (
                &["--package", "missing"],
                "--package `missing` does not exist",
            ),
            (
                &["--package", "other"],
                "--package `other` has no pyproject.toml or setup.py",
            ),
            (&["--package", "README.md"], "is not a folder"),
            (
                &["--include", "../x"],
                "--include `../x` is outside the root",
            ),
            (&["--include", "gone"], "--include `gone` does not exist"),
            (&["--out", "README.md"], "--out `"),
            (&["--out", "."], "is the root itself"),
            (&["--out", "pkg/dist"], "is inside the package folder"),
            (&["--env", "NOEQUALS"], "--env `NOEQUALS` has no `=`"),
            (&["--env", "AUDITWHEEL_PLAT=x"], "cannot be overridden"),
            (&["--env", "1A=x"], "not a valid environment variable name"),
        ];
        for (args, expected) in cases {
            let e = err(&root, args);
            assert!(e.contains(expected), "{args:?}: {e}");
        }
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn clap_rejects_bad_numbers() {
        let root = tree();
        for jobs in ["0", "-1", "two"] {
            let e = plan(&root, &["--jobs", jobs]).unwrap_err();
            let e = e.downcast_ref::<clap::Error>().expect("a clap error");
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(jobs), "{e}");
        }
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn tar_line() {
        let root = tree();
        let p = plan(&root, &["--out", "dist"]).unwrap();
        assert_eq!(
            util::command_line(&p.tar_command(), &[]),
            format!(
                "tar --create --file=- --directory {root} --exclude-vcs --exclude=__pycache__ '--exclude=*.egg-info' --anchored \
                 --exclude=pkg/build --exclude=pkg/dist --exclude=pkg/.tox --exclude=pkg/.nox --exclude=pkg/.venv --exclude=dist -- pkg native README.md"
            )
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn script_and_pre_build_lines() {
        let root = tree();
        let mut p = plan(&root, &["--no-isolation"]).unwrap();
        assert_eq!(
            p.script_args("cp311-cp311", "manylinux2014_x86_64", "/xtask/src")
                .join(" "),
            "bash /xtask/bin/build-wheel.sh cp311-cp311 manylinux2014_x86_64 /xtask/src pkg 0"
        );
        assert!(p
            .pre_build_command(Arch::X86_64, PythonTag::parse("cp311").unwrap())
            .is_none());
        p.pre_build = vec![
            "make".into(),
            "PY={py}".into(),
            "ARCH={arch}".into(),
            "$(x) {py}".into(),
        ];
        let cmd = p
            .pre_build_command(Arch::Aarch64, PythonTag::parse("cp313t").unwrap())
            .unwrap();
        assert_eq!(
            util::command_line(&cmd, &[]),
            "make PY=cp313t ARCH=aarch64 '$(x) cp313t'"
        );
        assert_eq!(cmd.get_current_dir().unwrap(), root.as_std_path());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn setup_makes_the_container_folders() {
        assert!(SETUP.ends_with(&format!("mkdir -p {SRC} {OUT}")));
    }

    #[test]
    fn paths() {
        assert_eq!(normalize(Utf8Path::new("/a/./b/../c")).unwrap(), "/a/c");
        assert_eq!(normalize(Utf8Path::new("/..")), None);
        assert!(check_plat("manylinux2014_x86_64").is_ok());
        assert!(check_plat("manylinux_2_36_aarch64").is_ok());
        assert!(check_plat("manylinux2014_x86_64;id").is_err());
    }
}
