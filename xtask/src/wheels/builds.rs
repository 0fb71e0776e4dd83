//! The run: the containers started (containers.rs), the builds scheduled
//! across them, and each wheel renamed into the output folder.

use std::collections::VecDeque;
use std::fs::File;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::audit;
use super::containers::{ccache_counts, copy_inputs, headers, start_all, Running};
use super::decision::Decision;
use super::landing::{self, Entry};
use super::order::Times;
use super::plan::Plan;
use super::progress::{Line, Progress};
use super::recipe::{cache_volume_command, cache_volumes, ccache_volume, untar, Recipe};
use super::report::{json_summary, print_summary, Done, JsonOnStop, Outcome};
use super::select::Build;
use super::target::{runnable, target_of, Target};
use crate::cleanup::{Undo, UndoGuard};
use crate::engine::{Container, OutputAfterReady};
use crate::platform::BuildId;
use crate::util::{self, Runner};

/// The run; once its builds ran, the summary (and the JSON one) is written
/// and it returns how many builds gave no wheel, of how many.
pub(super) fn execute(
    runner: &Runner,
    plan: &Plan,
    targets: &[Target],
    decision: Decision,
    stopped: Option<&JsonOnStop>,
) -> Result<(usize, usize)> {
    let target = util::project_root().join("target/xtask");
    // Runs into one output folder would mix their SHA256SUMS and manifests;
    // runs of other projects (other folders) go on side by side.
    let mut key = util::Fnv::default();
    key.write(plan.out.as_str().as_bytes());
    let _lock = util::lock_exclusive(
        &target.join(format!("locks/out-{}.lock", key.hex())),
        |pid| {
            format!("another `cargo xtask wheels` (pid {pid}) is building into {}: wait for it to finish, or build into another folder (--out)", plan.out)
        },
    )?;
    let run_id = util::run_id();
    let logs = run_logs(&target.join("logs"), KEPT_LOGS)?;

    // The targets that cannot run start nothing: their builds fail.
    let runnable = runnable(targets);
    for (engine, volume) in cache_volumes(plan, &runnable) {
        runner.run_captured(cache_volume_command(engine, &volume))?;
    }
    let (containers, kept) = start_all(
        runner,
        plan,
        &runnable,
        &run_id,
        &decision.recipes,
        decision.lone_recipe(),
    )?;
    let headline = decision.headline(plan);
    let Decision {
        recipes,
        blocked,
        order,
        ..
    } = decision;
    let builds: Vec<Build> = recipes.iter().map(|r| r.build.clone()).collect();

    std::fs::create_dir_all(&plan.out)
        .with_context(|| format!("creating the output folder {}", plan.out))?;
    eprintln!("{headline}; logs in {logs}");
    let ccache_before: Vec<Option<(u64, u64)>> = containers
        .iter()
        .map(|c| plan.ccache.then(|| ccache_counts(&c.container)).flatten())
        .collect();
    let mut results = run_builds(runner, plan, &containers, &recipes, order, &logs, stopped);
    // The next run of this package starts its longest builds first.
    let finished: Vec<(&BuildId, std::time::Duration)> = builds
        .iter()
        .zip(&results)
        .filter(|(_, d)| matches!(d.outcome, Outcome::Built { .. } | Outcome::Pure { .. }))
        .map(|(b, d)| (&b.id, d.time))
        .collect();
    let times = Times::file(&plan.root.join(&plan.package), &plan.out);
    if let Err(e) = Times::update(&times, &finished) {
        eprintln!("warning: the builds' times were not kept in {times} ({e:#}): the next run starts them in the selection's order");
    }
    let mut notes = ccache_notes(&containers, &ccache_before);
    notes.extend(gil_notes(&builds, &results));
    drop(containers);
    for b in &blocked {
        results.push(blocked_build(b, target_of(targets, &b.id), &logs)?);
    }
    let builds = [builds, blocked].concat();

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
    Ok((failed, results.len()))
}

/// What the import check saw on free-threaded interpreters: an extension
/// that turned the GIL back on (as CPython warns) is named, per build.
fn gil_notes(builds: &[Build], results: &[Done]) -> Vec<String> {
    let mut notes = Vec::new();
    for (b, d) in builds.iter().zip(results) {
        let Outcome::Built { log, .. } = &d.outcome else {
            continue;
        };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(module) = text
            .lines()
            .find_map(|l| l.strip_prefix("gil: enabled again by importing "))
        {
            let module = module.split(',').next().unwrap_or(module);
            notes.push(format!("{}: importing {module} enabled the GIL again, as CPython warns: it does not declare Py_mod_gil, so the wheel works but runs with the GIL (declare Py_MOD_GIL_NOT_USED once the extension is thread-safe)", b.id));
        }
    }
    notes
}

/// A build of a target that cannot run: failed, saying why in its log.
fn blocked_build(b: &Build, t: &Target, logs: &Utf8Path) -> Result<Done> {
    let why = t.blocked.clone().expect("a blocked target");
    let log = logs.join(format!("{}.log", b.id));
    std::fs::write(&log, format!("not built: {why}\n"))
        .with_context(|| format!("writing {log}"))?;
    Ok(Done {
        outcome: Outcome::Failed { reason: why, log },
        time: std::time::Duration::ZERO,
    })
}

/// Runs every recipe, as many at a time as the plan has workers, starting
/// them in `order` (the decision's); with `--fail-fast`, a failure skips the
/// builds not yet begun.
fn run_builds(
    runner: &Runner,
    plan: &Plan,
    containers: &[Running],
    recipes: &[Recipe],
    order: Vec<usize>,
    logs: &Utf8Path,
    stopped: Option<&JsonOnStop>,
) -> Vec<Done> {
    let workers = plan.workers(recipes.len());
    let container = |b: &Build| {
        containers
            .iter()
            .find(|c| c.target.builds(&b.id))
            .expect("every recipe is of a running target")
    };
    let queue = Mutex::new(order.into_iter().collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<Done>>> = Mutex::new((0..recipes.len()).map(|_| None).collect());
    // A stop from here on leaves each build's entry in the JSON summary.
    let builds: Vec<&Build> = recipes.iter().map(|r| &r.build).collect();
    if let Some(stopped) = stopped {
        stopped.update(&builds, &results.lock().unwrap());
    }
    let stop = AtomicBool::new(false);
    let progress = Progress::new(plan.verbose);
    // On a live display the commands go to the logs, not the terminal.
    let runner = &Runner {
        quiet: progress.is_live(),
        ..*runner
    };
    let shared = Shared {
        runner,
        plan,
        host_stage: Mutex::new(()),
        audits: audit::Venvs::default(),
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let mut queued = queue.lock().unwrap();
                let Some(i) = queued.pop_front() else {
                    break;
                };
                let r = &recipes[i];
                let b = &r.build;
                let c = container(b);
                // Said before the next build can start: the lines come in
                // the start order.
                let line = match stop.load(Ordering::SeqCst) {
                    true => None,
                    false => Some(progress.start(&b.id.to_string())),
                };
                drop(queued);
                // A lone build has run in the first process since it was ready.
                let start = c
                    .first
                    .lock()
                    .unwrap()
                    .as_ref()
                    .map_or_else(Instant::now, |f| f.started);
                // What the build's line says, once its outcome is recorded:
                // a stop that follows the line keeps that outcome.
                let mut said = None;
                let outcome = if let Some(line) = line {
                    let log = logs.join(format!("{}.log", b.id));
                    let t = c.target;
                    let built = build_one(&shared, t, c, r, &log, &line);
                    // A failure may be the engine's going, its connection's,
                    // or the emulator's.
                    let built = built.map_err(|e| {
                        let why = t
                            .engine_gone()
                            .or_else(|| t.connection_cut(&format!("{e:#}")))
                            .or_else(|| t.emulation_gone());
                        match why {
                            Some(why) => anyhow::anyhow!("{why} ({e:#})"),
                            None => e,
                        }
                    });
                    let (outcome, text) = outcome_of(built, &b.id, log);
                    said = Some((line, text));
                    if plan.fail_fast && matches!(outcome, Outcome::Failed { .. }) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    outcome
                } else {
                    Outcome::Skipped
                };
                let mut results = results.lock().unwrap();
                results[i] = Some(Done {
                    outcome,
                    time: start.elapsed(),
                });
                if let Some(stopped) = stopped {
                    stopped.update(&builds, &results);
                }
                drop(results);
                if let Some((line, text)) = said {
                    line.finish(&text);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|d| d.expect("every build ran"))
        .collect()
}

/// What one build came to, and what its live line says of it.
fn outcome_of(
    built: Result<Option<(Utf8PathBuf, String)>>,
    id: &BuildId,
    log: Utf8PathBuf,
) -> (Outcome, String) {
    match built {
        Ok(None) => (
            Outcome::Pure { log },
            format!("==> {id}: a pure-Python wheel, skipped"),
        ),
        Ok(Some((wheel, test))) => {
            let text = format!("==> {id}: ok, {}", wheel.file_name().unwrap_or_default());
            (Outcome::Built { wheel, test, log }, text)
        }
        Err(e) => (
            Outcome::Failed {
                reason: format!("{e:#}"),
                log,
            },
            format!("==> {id}: FAILED: {e:#}"),
        ),
    }
}

/// What ccache saved, per arch: the counters' change over this run.
fn ccache_notes(containers: &[Running], before: &[Option<(u64, u64)>]) -> Vec<String> {
    let mut notes = Vec::new();
    for (c, before) in containers.iter().zip(before) {
        let t = c.target;
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
    notes
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
    // A folder of a run still going (another run of this project, started
    // earlier) stays: its builds are writing and reading their logs.
    let running = |dir: &Utf8Path| {
        dir.file_name()
            .and_then(|n| n.split('-').nth(1))
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| Utf8Path::new(&format!("/proc/{pid}")).exists())
    };
    for (_, old) in runs.iter().rev().skip(keep) {
        if !running(old) {
            let _ = std::fs::remove_dir_all(old);
        }
    }
    Ok(dir)
}

/// What every build of a run shares.
struct Shared<'a> {
    runner: &'a Runner<'a>,
    plan: &'a Plan,
    /// Held while a host command runs and the inputs are copied after it.
    host_stage: Mutex<()>,
    /// The audit environments, made one at a time.
    audits: audit::Venvs,
}

/// Runs one build, between the host commands; the repaired wheel lands in
/// the output folder only whole, by rename from a staging folder beside it.
/// Returns where the wheel landed and what became of its tests; None when
/// the build gave a pure-Python wheel and `--pure-wheel skip` drops it.
fn build_one(
    shared: &Shared,
    t: &Target,
    c: &Running,
    r: &Recipe,
    log: &Utf8Path,
    line: &Line,
) -> Result<Option<(Utf8PathBuf, String)>> {
    if r.include.is_some() {
        headers(shared.runner, t, &c.container, &r.build.dir)
            .context("{include}: the interpreter's headers")?;
    }
    let built = build_and_land(shared, t, c, r, log, line);
    let Some(post) = &r.post_build else {
        return built;
    };
    // After each build, whatever its outcome, as a clean-up step would be.
    let _one_at_a_time = shared.host_stage.lock().unwrap();
    let log_file = std::fs::OpenOptions::new().append(true).open(log)?;
    let ran = run_host(shared.runner, post, "post-build", &log_file, log);
    match built {
        Ok(_) => ran.and(built),
        built => built,
    }
}

/// A host command of the run, its output to the build's log.
fn run_host(
    runner: &Runner,
    cmd: &Command,
    what: &str,
    log_file: &File,
    log: &Utf8Path,
) -> Result<()> {
    let line = util::command_line(cmd, runner.secrets);
    // The recipe keeps its command; this run's copy gets the log.
    let mut cmd = util::copy_command(cmd);
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

/// The build itself, between the host commands: its pre-build and its own
/// copy of the inputs, the build in the container (by exec, or in the first
/// process for a lone build), then the wheel unpacked and landed.
fn build_and_land(
    shared: &Shared,
    t: &Target,
    c: &Running,
    r: &Recipe,
    log: &Utf8Path,
    line: &Line,
) -> Result<Option<(Utf8PathBuf, String)>> {
    let (runner, plan) = (shared.runner, shared.plan);
    // Taken first: whatever fails below drops it (closing the pipes) before
    // the container is waited for, so the client cannot block on a full pipe.
    let first = c.first.lock().unwrap().take();
    let mut log_file = File::create(log).with_context(|| format!("creating {log}"))?;
    if let Some(pre) = &r.pre_build {
        // The host command rewrites shared host files: one at a time, each
        // followed by its own copy of the inputs.
        let _one_at_a_time = shared.host_stage.lock().unwrap();
        run_host(runner, pre, "pre-build", &log_file, log)?;
        copy_inputs(plan, &c.container, r)?;
    }
    let _stage_guard = UndoGuard::new(Undo::Path(r.stage.clone()));
    std::fs::create_dir_all(&r.stage).with_context(|| format!("creating {}", r.stage))?;
    // The build's stderr, read here: each line goes to the log and to the
    // display (its phase, its last line, and all of it with --verbose). Its
    // stdout is the wheel, unpacked by tar as it comes.
    let mut feed = |text: &str| -> Result<()> {
        use std::io::Write;
        writeln!(log_file, "{text}")?;
        line.feed(text);
        Ok(())
    };
    let (status, unpacked) = match first {
        Some(first) => lone_in_container(&c.container, r, first, &mut feed)?,
        None => exec_in_container(runner, &c.container, r, &mut feed)?,
    };
    // build-wheel.sh's word for a pure-Python wheel under --pure-wheel skip.
    if status.code() == Some(3) {
        return Ok(None);
    }
    let wheel = unpacked_wheel(&r.stage, status, &unpacked, log)?;
    if let Some(a) = &r.audit {
        audit::run(a, &shared.audits, &wheel, &plan.root, &log_file, log)?;
    }
    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    let entry = Entry::new(plan, t, r, &c.auditwheel, &wheel, &log_text)
        .with_context(|| format!("its log is {log}"))?;
    let dest = landing::land(&plan.out, &wheel, &entry)?;
    Ok(Some((dest, entry.test)))
}

/// The tar on this machine that unpacks the wheel's stream into the stage.
fn unpack_wheel(stage: &Utf8Path, wheel_stream: Stdio) -> Result<Child> {
    untar(stage.as_str())
        .stdin(wheel_stream)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting tar to unpack the wheel (is it installed?)")
}

/// A lone build, run by the container's first process, which is running it
/// already: how it ended, and how the wheel's unpacking did.
fn lone_in_container(
    c: &Container,
    r: &Recipe,
    first: OutputAfterReady,
    feed: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<(ExitStatus, Output)> {
    let shown: Vec<String> = r.args.iter().map(|a| util::shell_quote(a)).collect();
    feed(&format!("$ {}", c.command))?;
    feed(&format!("  whose first process runs: {}", shown.join(" ")))?;
    let mut unpack = unpack_wheel(&r.stage, Stdio::piped())?;
    let (mut wheel_stream, mut to) = (first.stdout, unpack.stdin.take().expect("piped"));
    let copy = std::thread::spawn(move || std::io::copy(&mut wheel_stream, &mut to));
    for text in first.stderr {
        feed(&text)?;
    }
    let status = c.wait().context("waiting for the build in the container")?;
    let _ = copy.join();
    Ok((status, unpack.wait_with_output()?))
}

/// A build run by an exec in the container: how it ended, and how the
/// wheel's unpacking did.
fn exec_in_container(
    runner: &Runner,
    c: &Container,
    r: &Recipe,
    feed: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<(ExitStatus, Output)> {
    use std::io::BufRead;
    let mut exec = r.exec(&c.engine, &c.name, runner.secrets);
    let (reader, writer) = std::io::pipe().context("making a pipe for the build's output")?;
    exec.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(writer);
    feed(&format!(
        "$ {}",
        r.exec_line(&c.engine, &c.name, runner.secrets)
    ))?;
    let mut child = exec.spawn().context("running the build in the container")?;
    // The pipe ends when the child's copies of it close, not ours.
    drop(exec);
    let unpack = unpack_wheel(&r.stage, child.stdout.take().expect("piped").into())?;
    let mut reader = std::io::BufReader::new(reader);
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf)? > 0 {
        feed(String::from_utf8_lossy(&buf).trim_end())?;
        buf.clear();
    }
    let status = child
        .wait()
        .context("waiting for the build in the container")?;
    Ok((status, unpack.wait_with_output()?))
}

/// The one wheel the build sent, once both the build and the unpacking
/// went well; else what broke.
fn unpacked_wheel(
    stage: &Utf8Path,
    status: ExitStatus,
    unpacked: &Output,
    log: &Utf8Path,
) -> Result<Utf8PathBuf> {
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
    match <[_; 1]>::try_from(wheels) {
        Ok([wheel]) => Ok(wheel),
        Err(wheels) => bail!(
            "expected one wheel from the container, found {}",
            wheels.len()
        ),
    }
}

/// The line of a failed build's log that says what broke: the build script's
/// own `error:` line, else the last thing anything printed (such as the
/// engine's word when the daemon went away).
fn last_error(log: &Utf8Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    known_cause(&text).or_else(
        || match text.lines().rev().find(|l| l.starts_with("error: ")) {
            Some(line) => Some(line.trim_start_matches("error: ").to_string()),
            None => Some(util::last_line(text.as_bytes(), "")).filter(|l| !l.is_empty()),
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
        // Earlier runs' folders (of processes that are gone: no pid is that
        // high), and files of the old layout, which stay; and the folder of
        // a run still going (this process), which stays however old.
        let going = format!("50-{}", std::process::id());
        for old in ["100-999999999", "200-999999999", "300-999999999", &going] {
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
            [
                &name,
                "300-999999999",
                &going,
                "cp311-manylinux_x86_64.log",
                "latest"
            ]
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
