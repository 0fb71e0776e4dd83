//! The run: one container per architecture, the inputs copied in, the builds
//! scheduled across them, and each wheel renamed into the output folder.

use std::collections::VecDeque;
use std::fs::File;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use super::landing::{self, Entry};
use super::plan::ccache_volume;
use super::progress::{Line, Progress};
use super::report::{json_summary, print_summary, Done, Outcome};
use super::select::{Build, Offer, Selected};
use super::{
    container_scripts, parse_setup, script_files, Plan, CCACHE_DIR, INPUTS, NO_OPT_PYTHON,
    PIP_CACHE_VOLUME, SETUP, SRC,
};
use crate::config::Config;
use crate::engine::{
    exec_command, Container, ContainerSpec, Engine, FirstOutput, Setup, SetupFailed, Then,
};
use crate::platform::{Arch, BuildId, PythonTag, Selection};
use crate::qemu_register::{self, CpuModel};
use crate::standin;
use crate::util::{self, usage, Runner, Undo, UndoGuard};

/// One architecture's image and platform tag, resolved.
pub(super) struct Target {
    pub arch: Arch,
    pub engine: Engine,
    /// Whether the engine's machine runs this arch natively (else under emulation).
    pub native: bool,
    /// The CPU model of an emulated arch (None when native).
    pub cpu: Option<CpuModel>,
    pub image: String,
    pub image_id: String,
    pub plat: String,
}

/// One arch's engine, image and platform tag, each asked of the engine that
/// will run the build.
pub(super) fn resolve_target(
    sh: &Shell,
    run: &Runner,
    plan: &Plan,
    config: &Config,
    arch: Arch,
) -> Result<Target> {
    let mut engine = Engine::chosen(run.dry_run, config.engine(arch))
        .with_context(|| format!("{arch} builds"))?;
    // The engine's version and the image, asked at once.
    let (server, image) = std::thread::scope(|s| {
        let server = s.spawn(|| match run.dry_run {
            true => Ok(None),
            false => engine.server(&util::thread_shell()?).map(Some),
        });
        let image = match plan.standin {
            true => standin::ensure(sh, &engine, run, arch),
            false => Ok(plan
                .image
                .clone()
                .unwrap_or_else(|| config.images.get(arch).to_string())),
        }
        .map(|image| {
            let info = engine.ensure_image(sh, run, &image, arch, plan.pull);
            (image, info)
        });
        (server.join().expect("the engine thread panicked"), image)
    });
    // An engine that does not answer is the cause of whatever else failed.
    let server = server.with_context(|| format!("{arch} builds"))?;
    if let Some(server) = &server {
        engine.pin_api(server);
    }
    let native = match &server {
        Some(server) => server.native(arch),
        None => engine.is_local() && Some(arch) == Arch::host(),
    };
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
    let plat = plan
        .plat
        .clone()
        .or_else(|| config.plat(arch).map(String::from))
        .or_else(|| {
            info.as_ref()
                .and_then(|i| i.env("AUDITWHEEL_PLAT"))
                .filter(|p| !p.is_empty())
                .map(String::from)
        });
    let plat = match plat {
        Some(plat) => plat,
        None if run.dry_run => format!("<AUDITWHEEL_PLAT of {image}>"),
        None => return Err(util::usage(format!("image `{image}` is not a manylinux image (it sets no AUDITWHEEL_PLAT): build in quay.io/pypa/manylinux2014_{arch} or an image made from one; an image that follows the manylinux layout without that variable needs --plat (such as manylinux2014_{arch}) or plat.{arch} in Cargo.toml"))),
    };
    // Only a daemon on this machine uses this machine's binfmt handlers.
    if !native && engine.is_local() && !run.dry_run {
        match qemu_register::aarch64_handler()? {
            Some(h) if h.enabled => {}
            _ => bail!("building for {arch} on this host needs QEMU emulation, and no {arch} binfmt handler is enabled: run `cargo xtask qemu-register`, or build on a native {arch} engine (--engine {arch}=ssh://user@host)"),
        }
    }
    let cpu = (!native).then(|| emulated_cpu(plan, &engine));
    Ok(Target {
        arch,
        engine,
        native,
        cpu,
        image_id: info.map(|i| i.id).unwrap_or_default(),
        image,
        plat,
    })
}

/// The CPU model an emulated arch runs with: the user's `QEMU_CPU` (given to
/// the build, else in this process's environment), else the fastest that keeps
/// every instruction valid on this machine's emulator (see
/// qemu_register::cpu_model); an engine elsewhere emulates with an emulator
/// this tool cannot ask.
fn emulated_cpu(plan: &Plan, engine: &Engine) -> CpuModel {
    if let Some((_, v)) = plan.env.iter().find(|(k, _)| k == "QEMU_CPU") {
        return qemu_register::cpu_model(Some((v, "with --env or env")), None);
    }
    match engine.is_local() {
        true => qemu_register::host_cpu_model(),
        false => {
            let user = std::env::var("QEMU_CPU").ok().filter(|v| !v.is_empty());
            qemu_register::cpu_model(user.as_deref().map(|v| (v, "in the environment")), None)
        }
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

/// Creates a cache volume (a no-op when it exists), labelled as ours.
fn cache_volume_command(engine: &Engine, name: &str) -> Command {
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
fn cache_volumes<'a>(plan: &Plan, targets: &'a [Target]) -> Vec<(&'a Engine, String)> {
    let mut volumes = Vec::new();
    if plan.pip_cache {
        for engine in distinct_engines(targets) {
            volumes.push((engine, PIP_CACHE_VOLUME.to_string()));
        }
    }
    if plan.ccache {
        for t in targets {
            volumes.push((&t.engine, ccache_volume(t.arch, &t.image_id)));
        }
    }
    volumes
}

/// ccache's counters in a container: (hits, misses).
fn ccache_counts(c: &Container) -> Option<(u64, u64)> {
    let out = c
        .exec(
            &[("CCACHE_DIR".into(), CCACHE_DIR.into())],
            &[],
            &["ccache", "--print-stats"],
        )
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let count = |key: &str| -> u64 {
        text.lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(k, _)| *k == key)
            .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
            .sum()
    };
    out.status.success().then(|| {
        (
            count("direct_cache_hit") + count("preprocessed_cache_hit"),
            count("cache_miss"),
        )
    })
}

/// Each engine of the run once (the arches may share one).
fn distinct_engines(targets: &[Target]) -> Vec<&Engine> {
    let mut engines: Vec<&Engine> = Vec::new();
    for t in targets {
        if !engines.contains(&&t.engine) {
            engines.push(&t.engine);
        }
    }
    engines
}

fn container_name(run_id: &str, arch: Arch) -> String {
    format!("xtask-wheels-{run_id}-{arch}")
}

pub(super) fn print_dry_run(plan: &Plan, targets: &[Target], secrets: &[String]) {
    let q = |c: &Command| util::command_line(c, &[]);
    for (engine, volume) in cache_volumes(plan, targets) {
        println!("{}", q(&cache_volume_command(engine, &volume)));
    }
    let first = first_build(plan, secrets);
    for t in targets {
        let name = container_name("RUN", t.arch);
        // The scripts' texts go as arguments: named here, not printed.
        let dir = container_scripts();
        let scripts = script_files(&dir)
            .unwrap_or_default()
            .into_iter()
            .map(|(path, _)| (path.clone(), format!("<the text of {dir}/{path}>")))
            .collect();
        let unpack = plan.pre_build.is_empty();
        let then = first
            .as_ref()
            .map(|b| then(plan, t, b, &plan.parallel_env(1)));
        let start = container_spec(plan, t, name.clone(), "RUN").command(
            &t.engine,
            &setup(unpack, scripts, then),
            secrets,
        );
        match unpack {
            true => println!("{} | {}", q(&plan.tar_command()), q(&start)),
            false => println!("{}", q(&start)),
        }
        let dirs: Vec<String> = match &plan.selector.pythons {
            Selection::All => vec!["<each folder of /opt/python>".into()],
            Selection::Tags(tags) => tags.iter().map(|t| t.dir_guess()).collect(),
        };
        for (key, dir) in &plan.input_dirs {
            let dest = format!("{name}:{INPUTS}/{key}");
            println!("{}", q(&t.engine.cp(&format!("{dir}/."), &dest)));
        }
        for dir in dirs {
            let mut sources = SRC.to_string();
            let tagged = PythonTag::from_dir(&dir).map(|python| {
                let id = BuildId {
                    python,
                    arch: t.arch,
                };
                (id, headers_cache(t, &dir))
            });
            let hook = |command: &[String]| {
                let (id, include) = tagged.as_ref()?;
                plan.hook_command(command, id, Some(include))
            };
            if let Some(pre) = hook(&plan.pre_build) {
                sources = format!("{SRC}-{dir}");
                println!(
                    "(cd {} && {})",
                    util::shell_quote(plan.root.as_str()),
                    q(&pre)
                );
                let unpack = exec_reading(&t.engine, &name, &["sh", "-c", UNPACK, "sh", &sources]);
                println!("{} | {}", q(&plan.tar_command()), q(&unpack));
            }
            // The first build runs in the container's first process.
            if first.is_none() {
                let args = plan.script_args(&dir, &t.plat, &sources);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let exec = exec_command(&t.engine, &name, &plan.env, secrets, &args);
                println!(
                    "{} | {}",
                    util::command_line(&exec, secrets),
                    q(&untar(plan.out.as_str()))
                );
            }
            if let Some(post) = hook(&plan.post_build) {
                let root = util::shell_quote(plan.root.as_str());
                println!("(cd {root} && {})", q(&post));
            }
        }
    }
}

/// The build of a run that is known before its container starts (one arch,
/// one CPython named, so its folder is known), when nothing has to reach the
/// container between its start and the build (a pre-build command and its
/// inputs, input dirs, headers), no ccache counters are read, and the
/// container is not kept: the container's first process runs it, which
/// saves the round trip of an exec. Not with secrets either: `docker run`
/// keeps its environment in the container's configuration, an exec does not.
fn first_build(plan: &Plan, secrets: &[String]) -> Option<Build> {
    let simple = plan.pre_build.is_empty()
        && plan.input_dirs.is_empty()
        && !plan.env.iter().any(|(k, _)| secrets.contains(k))
        && !plan.ccache
        && !plan.keep_container
        && !plan.needs_include();
    simple.then(|| plan.selector.known_build()).flatten()
}

/// What the container's first process runs for build `b`: the build, with
/// its environment.
fn then(plan: &Plan, t: &Target, b: &Build, build_env: &[(String, String)]) -> Then {
    Then {
        args: plan.script_args(&b.dir, &t.plat, SRC),
        env: build_env_of(plan, build_env, b),
    }
}

/// Build `b`'s environment: the run's, the share of the cores (and ccache's),
/// the before-build command and the tests.
fn build_env_of(plan: &Plan, build_env: &[(String, String)], b: &Build) -> Vec<(String, String)> {
    plan.env
        .iter()
        .cloned()
        .chain(build_env.iter().cloned())
        .chain(plan.steps_env(&b.dir))
        .chain(plan.test_env(&b.id, &b.dir))
        .collect()
}

/// A running container, the interpreter folders its image offers, its
/// auditwheel's version, and the output of the build its first process runs.
type Started = (Container, Vec<String>, String, Option<FirstOutput>);

/// Starts one arch's container, lists its interpreters, and copies the
/// scripts and (unless each build has its own) the inputs in; with `first`,
/// its first process then runs that build.
fn start_target(
    run: &Runner,
    plan: &Plan,
    t: &Target,
    run_id: &str,
    first: Option<&Build>,
) -> Result<Started> {
    let how = match &t.cpu {
        None => "native".to_string(),
        Some(cpu) => format!("emulated, {}", cpu.describe()),
    };
    eprintln!(
        "==> {}: starting a container of {} on {} ({how})",
        t.arch,
        t.image,
        t.engine.describe()
    );
    // With a pre-build command each build sends its own inputs.
    let unpack = plan.pre_build.is_empty();
    let mut tar = match unpack {
        true => Some(inputs_tar(plan)?),
        false => None,
    };
    let input = tar.as_mut().map(|tar| tar.stdout.take().expect("piped"));
    let started = Container::start(
        &t.engine,
        run,
        &container_spec(plan, t, container_name(run_id, t.arch), run_id),
        &setup(
            unpack,
            script_files(&container_scripts())?,
            first.map(|b| then(plan, t, b, &plan.parallel_env(1))),
        ),
        input,
    );
    // The container holds the pipe no more: tar ends, by itself or by SIGPIPE.
    let tar = tar.map(|mut tar| tar.wait()).transpose()?;
    let (c, offered, first_output) = started.map_err(|e| match e.downcast_ref::<SetupFailed>() {
        Some(SetupFailed {
            code: Some(NO_OPT_PYTHON),
            ..
        }) => usage(format!(
            "image `{}` is not a manylinux image: it has no /opt/python (expected /opt/python/<tag>/bin/python, as in quay.io/pypa/manylinux2014_{})",
            t.image, t.arch
        )),
        Some(failed) => anyhow::anyhow!(
            "{} builds on {}: readying the container (the scripts and the inputs) failed ({failed})",
            t.arch,
            t.engine.describe()
        ),
        None => e.context(format!("{} builds on {}", t.arch, t.engine.describe())),
    })?;
    if let Some(tar) = tar {
        unreadable_inputs(plan, tar)?;
    }
    let (offered, auditwheel) = parse_setup(&offered);
    copy_input_dirs(run, plan, &c)?;
    Ok((c, offered, auditwheel, first_output))
}

/// A container of the run for target `t`.
fn container_spec<'a>(
    plan: &'a Plan,
    t: &'a Target,
    name: String,
    run_id: &'a str,
) -> ContainerSpec<'a> {
    ContainerSpec {
        name,
        run_id,
        image: &t.image,
        arch: t.arch,
        volumes: plan.volumes(t.arch, &t.image_id),
        env: t.cpu.as_ref().map(CpuModel::env).unwrap_or_default(),
        extra: &plan.container_args,
        keep: plan.keep_container,
    }
}

/// What readies a container (see SETUP): whether the inputs come on stdin,
/// each script's path and text, and what runs after it.
fn setup(unpack: bool, scripts: Vec<(String, String)>, then: Option<Then>) -> Setup {
    let mut args = vec![if unpack { "1" } else { "0" }.to_string()];
    for (path, text) in scripts {
        args.extend([path, text]);
    }
    Setup {
        script: SETUP.to_string(),
        args,
        then,
    }
}

/// The folders outside the root, once per container, each to the path its variable holds.
fn copy_input_dirs(run: &Runner, plan: &Plan, c: &Container) -> Result<()> {
    if plan.input_dirs.is_empty() {
        return Ok(());
    }
    let dests: Vec<String> = plan
        .input_dirs
        .iter()
        .map(|(key, _)| format!("{INPUTS}/{key}"))
        .collect();
    let mut mkdir = vec!["mkdir", "-p"];
    mkdir.extend(dests.iter().map(String::as_str));
    c.read(&mkdir)?;
    for ((key, dir), dest) in plan.input_dirs.iter().zip(&dests) {
        c.copy_in(run, dir, dest)
            .with_context(|| format!("copying {dir} into the container ({key})"))?;
    }
    Ok(())
}

/// Unpacks the tar stream on stdin into the folder "$1", made if missing.
const UNPACK: &str = "mkdir -p \"$1\" && tar -x -o -f - -C \"$1\"";

/// An exec in the container `name` that reads its stdin.
fn exec_reading(engine: &Engine, name: &str, args: &[&str]) -> Command {
    let mut exec = engine.command();
    exec.args(["exec", "--interactive", name]).args(args);
    exec
}

/// The host's tar, streaming `plan`'s inputs on its stdout.
fn inputs_tar(plan: &Plan) -> Result<Child> {
    plan.tar_command()
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar (is it installed?)")
}

/// Runs `cmd` with `plan`'s inputs as one tar stream on its stdin: its
/// output, and how the host's tar ended.
fn with_inputs(plan: &Plan, mut cmd: Command) -> Result<(Output, ExitStatus)> {
    let mut tar = inputs_tar(plan)?;
    cmd.stdin(tar.stdout.take().expect("piped"));
    let out = cmd
        .output()
        .context("sending the inputs into the container")?;
    // The command holds the pipe no more: tar ends, by itself or by SIGPIPE.
    drop(cmd);
    Ok((out, tar.wait()?))
}

/// Why the inputs did not go in, when the host's tar could not read them.
fn unreadable_inputs(plan: &Plan, tar: ExitStatus) -> Result<()> {
    if !tar.success() {
        bail!(
            "tar could not read the inputs under {} ({tar}): see its message above",
            plan.root
        );
    }
    Ok(())
}

/// Copies `plan`'s inputs into the container at `dest`, as one tar stream.
fn copy_inputs(plan: &Plan, c: &Container, dest: &str) -> Result<()> {
    let (out, tar) = with_inputs(
        plan,
        exec_reading(&c.engine, &c.name, &["sh", "-c", UNPACK, "sh", dest]),
    )?;
    unreadable_inputs(plan, tar)?;
    if !out.status.success() {
        bail!(
            "copying the inputs into the container failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

pub(super) fn execute(run: &Runner, plan: &Plan, targets: &[Target]) -> Result<()> {
    let target = util::project_root().join("target/xtask");
    let _lock = util::lock_exclusive(
        &target.join("wheels.lock"),
        "another `cargo xtask wheels` in this checkout",
    )?;
    let run_id = util::run_id();
    let logs = run_logs(&target.join("logs"), KEPT_LOGS)?;

    for (engine, volume) in cache_volumes(plan, targets) {
        run.run_captured(cache_volume_command(engine, &volume))?;
    }
    let first = first_build(plan, run.secrets);
    // Each arch's container starts on its own engine, all at once.
    let started: Vec<Result<Started>> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|t| s.spawn(|| start_target(run, plan, t, &run_id, first.as_ref())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a start thread panicked"))
            .collect()
    });
    let mut containers = Vec::new();
    let mut offered = Vec::new();
    let mut kept = Vec::new();
    for result in started {
        let (mut container, dirs, auditwheel, first_output) = result?;
        if plan.keep_container {
            // From now on, not even Ctrl-C removes it.
            let enter = container.keep();
            let mut remove = container.engine.command();
            remove.args(["rm", "--force", &container.name]);
            let line = format!(
                "==> {} is kept running: enter it with `{enter}`, remove it with `{}`",
                container.name,
                util::command_line(&remove, &[])
            );
            eprintln!("{line}");
            kept.push(line);
        }
        containers.push(Running {
            container,
            auditwheel,
            first: Mutex::new(first_output),
        });
        offered.push(dirs);
    }
    let offers: Vec<Offer> = targets
        .iter()
        .zip(&offered)
        .map(|(t, dirs)| Offer {
            arch: t.arch,
            image: &t.image,
            dirs,
        })
        .collect();
    let Selected { builds, excluded } = plan.selector.builds(&offers)?;
    for line in excluded {
        eprintln!("==> {line}");
    }
    if let Some(first) = &first {
        // Known before the start, and the images agreed.
        if !matches!(builds.as_slice(), [b] if b.id == first.id && b.dir == first.dir) {
            bail!(
                "the build the container started with, {}, is not the one the image offers",
                first.id
            );
        }
    }

    std::fs::create_dir_all(&plan.out)
        .with_context(|| format!("creating the output folder {}", plan.out))?;
    // Emulated builds are the slowest: start them first.
    let mut order: Vec<usize> = (0..builds.len()).collect();
    order.sort_by_key(|&i| targets[builds[i].target].native);
    let queue = Mutex::new(order.into_iter().collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<Done>>> = Mutex::new((0..builds.len()).map(|_| None).collect());
    let stop = AtomicBool::new(false);
    let workers = plan.jobs.min(builds.len()).max(1);
    eprintln!(
        "==> {} builds, {workers} at a time; logs in {logs}",
        builds.len()
    );
    let progress = Progress::new(plan.verbose);
    // On a live display the commands go to the logs, not the terminal.
    let run = &Runner {
        quiet: progress.is_live(),
        ..*run
    };
    let mut build_env = plan.parallel_env(workers);
    if plan.ccache {
        build_env.push(("CCACHE_DIR".into(), CCACHE_DIR.into()));
        build_env.push(("XTASK_CCACHE".into(), "1".into()));
    }
    let ctx = Ctx {
        run,
        plan,
        host_stage: Mutex::new(()),
        build_env,
    };
    let ccache_before: Vec<Option<(u64, u64)>> = containers
        .iter()
        .map(|c| plan.ccache.then(|| ccache_counts(&c.container)).flatten())
        .collect();

    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let b = &builds[i];
                // A lone build has run in the first process since it was ready.
                let start = containers[b.target]
                    .first
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map_or_else(Instant::now, |f| f.started);
                let outcome = if stop.load(Ordering::SeqCst) {
                    Outcome::Skipped
                } else {
                    let line = progress.start(&b.id.to_string());
                    let log = logs.join(format!("{}.log", b.id));
                    match build_one(
                        &ctx,
                        &targets[b.target],
                        &containers[b.target],
                        b,
                        &log,
                        &line,
                    ) {
                        Ok(None) => {
                            line.finish(&format!("==> {}: a pure-Python wheel, skipped", b.id));
                            Outcome::Pure { log }
                        }
                        Ok(Some((wheel, test))) => {
                            line.finish(&format!(
                                "==> {}: ok, {}",
                                b.id,
                                wheel.file_name().unwrap_or_default()
                            ));
                            Outcome::Built { wheel, test, log }
                        }
                        Err(e) => {
                            line.finish(&format!("==> {}: FAILED: {e:#}", b.id));
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
    // What ccache saved, per arch: the counters' change over this run.
    let mut notes = Vec::new();
    for ((c, before), t) in containers.iter().zip(&ccache_before).zip(targets) {
        // Asked again only where it was asked before (with --ccache).
        let Some((h0, m0)) = before else { continue };
        if let Some((h1, m1)) = ccache_counts(&c.container) {
            let (hits, all) = (h1 - h0, h1 - h0 + m1 - m0);
            let rate = (hits * 100).checked_div(all).unwrap_or(0);
            notes.push(format!(
                "ccache on {}: {hits} of {all} compiles from the cache ({rate}%), in volume {}",
                t.arch,
                ccache_volume(t.arch, &t.image_id)
            ));
        }
    }
    drop(containers);

    let results: Vec<Done> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|d| d.expect("every build ran"))
        .collect();
    print_summary(plan, targets, &builds, &results, &notes);
    for line in &kept {
        eprintln!("{line}");
    }
    match &plan.json {
        Some(file) if file.as_str() == "-" => print!("{}", json_summary(&builds, &results)),
        Some(file) => std::fs::write(file, json_summary(&builds, &results))
            .with_context(|| format!("writing the JSON summary to {file}"))?,
        None => {}
    }
    let failed = results
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Failed { .. } | Outcome::Skipped))
        .count();
    if failed > 0 {
        bail!(
            "{failed} of {} builds did not produce a wheel",
            results.len()
        );
    }
    Ok(())
}

/// How many runs' log folders are kept.
const KEPT_LOGS: usize = 20;

/// A log folder for this run, `logs/<seconds>-<pid>`, linked as `logs/latest`;
/// the oldest folders beyond `keep` are removed.
fn run_logs(logs: &Utf8Path, keep: usize) -> Result<Utf8PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("{secs}-{}", std::process::id());
    let dir = logs.join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    let link = logs.join("latest");
    let tmp = logs.join(format!(".latest-{name}"));
    std::os::unix::fs::symlink(&name, &tmp)
        .and_then(|()| std::fs::rename(&tmp, &link))
        .with_context(|| format!("linking {link}"))?;
    let mut runs: Vec<(u64, Utf8PathBuf)> = Vec::new();
    for entry in logs.read_dir_utf8()?.flatten() {
        let time = entry
            .file_name()
            .split('-')
            .next()
            .and_then(|t| t.parse().ok());
        if let (Some(time), true) = (time, entry.path().is_dir()) {
            runs.push((time, entry.path().to_path_buf()));
        }
    }
    runs.sort();
    for (_, old) in runs.iter().rev().skip(keep) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(dir)
}

/// One arch's container, what its image told of itself, and the output of
/// the build its first process runs (taken by that build).
struct Running {
    /// Declared (so dropped) before the container, which waits for its client.
    first: Mutex<Option<FirstOutput>>,
    container: Container,
    auditwheel: String,
}

/// What every build of a run shares.
struct Ctx<'a> {
    run: &'a Runner<'a>,
    plan: &'a Plan,
    /// Held while a host command runs and the inputs are copied after it.
    host_stage: Mutex<()>,
    /// Variables of every build: its share of the cores (see
    /// Plan::parallel_env), ccache's.
    build_env: Vec<(String, String)>,
}

/// Runs one build, between the host commands; the repaired wheel lands in
/// the output folder only whole, by rename from a staging folder beside it.
/// Returns where the wheel landed and what became of its tests; None when
/// the build gave a pure-Python wheel and `--pure-wheel skip` drops it.
fn build_one(
    ctx: &Ctx,
    t: &Target,
    r: &Running,
    b: &Build,
    log: &Utf8Path,
    line: &Line,
) -> Result<Option<(Utf8PathBuf, String)>> {
    let (run, plan) = (ctx.run, ctx.plan);
    let include = if plan.needs_include() {
        Some(
            headers(run, t, &r.container, &b.dir)
                .context("{include}: the interpreter's headers")?,
        )
    } else {
        None
    };
    let built = build_and_land(ctx, t, r, b, log, line, include.as_deref());
    let Some(mut post) = plan.hook_command(&plan.post_build, &b.id, include.as_deref()) else {
        return built;
    };
    // After each build, whatever its outcome, as a clean-up step would be.
    let _one_at_a_time = ctx.host_stage.lock().unwrap();
    let log_file = std::fs::OpenOptions::new().append(true).open(log)?;
    let ran = run_host(run, &mut post, "post-build", &log_file, log);
    match built {
        Ok(_) => ran.and(built),
        built => built,
    }
}

/// A host command of the run, its output to the build's log.
fn run_host(
    run: &Runner,
    cmd: &mut Command,
    what: &str,
    log_file: &File,
    log: &Utf8Path,
) -> Result<()> {
    let line = util::command_line(cmd, run.secrets);
    cmd.stdout(log_file.try_clone()?)
        .stderr(log_file.try_clone()?);
    let status = cmd
        .status()
        .with_context(|| format!("starting the {what} command `{line}`"))?;
    if !status.success() {
        bail!("the {what} command `{line}` failed ({status}); its output is in {log}");
    }
    Ok(())
}

/// Where the headers of interpreter `dir` of the target's image are kept
/// on the host: per image id, so a rebuilt image gets its own.
fn headers_cache(t: &Target, dir: &str) -> Utf8PathBuf {
    let id = t.image_id.trim_start_matches("sha256:");
    let id = if id.is_empty() {
        "<image id>"
    } else {
        &id[..id.len().min(12)]
    };
    util::project_root()
        .join("target/xtask/include")
        .join(id)
        .join(dir)
}

/// The folder holding Python.h of interpreter `dir`, copied out of the
/// container once per image.
fn headers(run: &Runner, t: &Target, c: &Container, dir: &str) -> Result<Utf8PathBuf> {
    let cache = headers_cache(t, dir);
    if cache.join("Python.h").is_file() {
        return Ok(cache);
    }
    let found = c.read(&[
        "sh",
        "-c",
        "for d in /opt/python/\"$1\"/include/*/; do [ -f \"$d/Python.h\" ] && echo \"${d%/}\" && break; done; true",
        "sh",
        dir,
    ])?;
    let found = found.trim();
    if found.is_empty() {
        bail!("image `{}` has no Python.h in /opt/python/{dir}/include/*/: the headers must be there, as in the manylinux images", t.image);
    }
    let partial = Utf8PathBuf::from(format!("{cache}.partial-{}", std::process::id()));
    let _cleanup = UndoGuard::new(Undo::Path(partial.clone()));
    std::fs::create_dir_all(&partial).with_context(|| format!("creating {partial}"))?;
    c.copy_out(run, &format!("{found}/."), &partial)?;
    if !partial.join("Python.h").is_file() {
        bail!("{found} in image `{}` holds no Python.h", t.image);
    }
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::rename(&partial, &cache).with_context(|| format!("moving the headers to {cache}"))?;
    Ok(cache)
}

/// The build itself, between the host commands.
fn build_and_land(
    ctx: &Ctx,
    t: &Target,
    r: &Running,
    b: &Build,
    log: &Utf8Path,
    line: &Line,
    include: Option<&Utf8Path>,
) -> Result<Option<(Utf8PathBuf, String)>> {
    let (run, plan) = (ctx.run, ctx.plan);
    let c = &r.container;
    // Taken first: whatever fails below drops it (closing the pipes) before
    // the container is waited for, so the client cannot block on a full pipe.
    let first = r.first.lock().unwrap().take();
    let mut log_file = File::create(log).with_context(|| format!("creating {log}"))?;
    let mut sources = SRC.to_string();
    if let Some(mut pre) = plan.hook_command(&plan.pre_build, &b.id, include) {
        // The host command rewrites shared host files: one at a time, each
        // followed by its own copy of the inputs.
        let _one_at_a_time = ctx.host_stage.lock().unwrap();
        run_host(run, &mut pre, "pre-build", &log_file, log)?;
        sources = format!("{SRC}-{}", b.dir);
        copy_inputs(plan, c, &sources)?;
    }
    let args = plan.script_args(&b.dir, &t.plat, &sources);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let test_env = plan.test_env(&b.id, &b.dir);
    // The wheel arrives in a hidden folder of the output folder, removed
    // unless the wheel lands.
    let stage = plan
        .out
        .join(format!(".xtask-partial-{}-{}", std::process::id(), b.id));
    let _stage_guard = UndoGuard::new(Undo::Path(stage.clone()));
    std::fs::create_dir_all(&stage).with_context(|| format!("creating {stage}"))?;
    // The build's stderr, read here: each line goes to the log and to the
    // display (its phase, its last line, and all of it with --verbose). Its
    // stdout is the wheel, unpacked by tar as it comes.
    use std::io::{BufRead, Write};
    let mut feed = |text: &str| -> Result<()> {
        writeln!(log_file, "{text}")?;
        line.feed(text);
        Ok(())
    };
    let unpack_from = |wheel_stream: Stdio| {
        untar(stage.as_str())
            .stdin(wheel_stream)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting tar to unpack the wheel (is it installed?)")
    };
    let (status, unpacked) = match first {
        // Run by the container's first process, which is running it already.
        Some(first) => {
            let shown: Vec<String> = args.iter().map(|a| util::shell_quote(a)).collect();
            feed(&format!("$ {}", c.command))?;
            feed(&format!("  whose first process runs: {}", shown.join(" ")))?;
            let mut unpack = unpack_from(Stdio::piped())?;
            let (mut wheel_stream, mut to) = (first.stdout, unpack.stdin.take().expect("piped"));
            let copy = std::thread::spawn(move || std::io::copy(&mut wheel_stream, &mut to));
            for text in first.stderr {
                feed(&text)?;
            }
            let status = c.wait().context("waiting for the build in the container")?;
            let _ = copy.join();
            (status, unpack.wait_with_output()?)
        }
        None => {
            let env = build_env_of(plan, &ctx.build_env, b);
            let mut exec = c.exec(&env, run.secrets, &args);
            let (reader, writer) =
                std::io::pipe().context("making a pipe for the build's output")?;
            exec.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(writer);
            feed(&format!("$ {}", util::command_line(&exec, run.secrets)))?;
            let mut child = exec.spawn().context("running the build in the container")?;
            // The pipe ends when the child's copies of it close, not ours.
            drop(exec);
            let unpack = unpack_from(child.stdout.take().expect("piped").into())?;
            let mut reader = std::io::BufReader::new(reader);
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf)? > 0 {
                feed(String::from_utf8_lossy(&buf).trim_end())?;
                buf.clear();
            }
            let status = child
                .wait()
                .context("waiting for the build in the container")?;
            (status, unpack.wait_with_output()?)
        }
    };
    // build-wheel.sh's word for a pure-Python wheel under --pure-wheel skip.
    if status.code() == Some(3) {
        return Ok(None);
    }
    if !status.success() {
        bail!(
            "{}",
            last_error(log).unwrap_or_else(|| format!("the build exited with {status}"))
        );
    }
    if !unpacked.status.success() {
        let why = String::from_utf8_lossy(&unpacked.stderr);
        let why = why.lines().next().unwrap_or("").trim();
        // tar's word for a short write: the file system is full (or a quota is).
        let full = if why.to_lowercase().contains("wrote only") {
            "no space left on device (or over quota) where the wheels go: free some space there, or choose another --out; "
        } else {
            ""
        };
        bail!("unpacking the wheel from the container into {stage} failed: {full}{why}");
    }
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
    let file = wheel.file_name().expect("a file").to_string();
    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    // What the build said of its tests, not what the configuration expects.
    let said_passed = log_text.lines().any(|l| l == TESTS_PASSED);
    let test = match (&plan.test, test_env.is_empty()) {
        (Some(_), false) if said_passed => "passed",
        (Some(_), false) => bail!(
            "the tests were to run, but the build did not say `{TESTS_PASSED}`: its log is {log}"
        ),
        (Some(_), true) => "skipped (test-skip)",
        (None, _) if plan.test_configured => "not run (--no-test)",
        (None, _) => "none (no test-command)",
    };
    let entry = Entry {
        id: b.id.to_string(),
        sha256: util::sha256(wheel)?,
        image: t.image.clone(),
        image_id: t.image_id.clone(),
        engine: t.engine.describe(),
        native: t.native,
        interpreter: log_text
            .lines()
            .find_map(|l| l.strip_prefix("interpreter "))
            .unwrap_or("unknown")
            .to_string(),
        auditwheel: r.auditwheel.clone(),
        platform_tags: file
            .trim_end_matches(".whl")
            .rsplit('-')
            .next()
            .unwrap_or_default()
            .to_string(),
        source_date_epoch: plan.epoch.value().map(String::from),
        commit: plan.provenance.commit.clone(),
        dirty: plan.provenance.dirty,
        tool: format!("cargo xtask {}", env!("CARGO_PKG_VERSION")),
        test: test.to_string(),
        file,
    };
    let dest = landing::land(&plan.out, wheel, &entry)?;
    Ok(Some((dest, entry.test)))
}

/// build-wheel.sh's line when the project's tests passed against the wheel.
const TESTS_PASSED: &str = "==> tests passed";

/// Unpacks a tar stream on stdin into `dir`; the files belong to the caller.
fn untar(dir: &str) -> Command {
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

/// The line of a failed build's log that says what broke: the build script's
/// own `error:` line, else the last thing anything printed (such as the
/// engine's word when the daemon went away).
fn last_error(log: &Utf8Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    known_cause(&text).or_else(
        || match text.lines().rev().find(|l| l.starts_with("error: ")) {
            Some(line) => Some(line.trim_start_matches("error: ").to_string()),
            None => text
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(String::from),
        },
    )
}

/// A cause that a log states far above its last lines, said with what to do.
fn known_cause(log: &str) -> Option<String> {
    // pip, installing an isolated build's requirements, ends in a traceback
    // of its own subprocess; the cause is the line it printed before that.
    // `build` quotes pip's output with a `< ` in front of each line.
    let missing = log.lines().find_map(|l| {
        l.split_once("ERROR: No matching distribution found for ")
            .map(|(_, what)| what.trim())
    })?;
    Some(format!(
        "the build requirement `{missing}` cannot be installed: pip found no matching distribution (the image's wheelhouse or package index lacks it); use an image that offers it, or install it in the image and build with --no-isolation"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_logs_to_a_folder_of_its_own() {
        let logs = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-logs-{}", util::run_id()));
        std::fs::create_dir_all(&logs).unwrap();
        // Earlier runs' folders, and files of the old layout, which stay.
        for old in ["100-1", "200-1", "300-1"] {
            std::fs::create_dir_all(logs.join(old)).unwrap();
        }
        std::fs::write(logs.join("cp311-manylinux_x86_64.log"), "").unwrap();
        let dir = run_logs(&logs, 2).unwrap();
        let mut left: Vec<String> = logs
            .read_dir_utf8()
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string())
            .collect();
        left.sort();
        let name = dir.file_name().unwrap().to_string();
        assert_eq!(
            left,
            [&name, "300-1", "cp311-manylinux_x86_64.log", "latest"]
        );
        assert_eq!(logs.join("latest").read_link_utf8().unwrap(), name);
        std::fs::remove_dir_all(logs).unwrap();
    }

    #[test]
    fn causes_far_above_the_end_of_a_log() {
        let log = "* Installing packages in isolated environment:\n  - pybind11~=2.6\nLooking in links: /opt/wheelhouse\nERROR: Could not find a version that satisfies the requirement pybind11~=2.6 (from versions: none)\n< ERROR: No matching distribution found for pybind11~=2.6\nTraceback (most recent call last):\nsubprocess.CalledProcessError: Command '['/tmp/build-env/bin/python', '-m', 'pip', 'install', '-r', '/tmp/build-requirements.txt']' returned non-zero exit status 1.\nerror: the wheel build failed (see the output above)\n";
        let cause = known_cause(log).unwrap();
        assert!(
            cause.starts_with("the build requirement `pybind11~=2.6` cannot be installed"),
            "{cause}"
        );
        assert!(cause.contains("--no-isolation"), "{cause}");
        assert_eq!(known_cause("error: the wheel build failed\n"), None);
    }
}
