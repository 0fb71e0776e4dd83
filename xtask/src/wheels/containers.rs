//! The run's containers: each arch's started on its engine with the
//! scripts and the inputs in (its first process readies it), what each
//! image offers, and what is copied in (inputs after a pre-build, input
//! dirs) and out (headers for `{include}`, ccache's counters).

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use camino::Utf8PathBuf;

use super::contract::{container_scripts, parse_setup, script_files, CCACHE_DIR, INPUTS};
use super::plan::Plan;
use super::recipe::{
    copies_natives, headers_cache, native_dirs, native_pythons, ContainerStart, Recipe,
};
use super::target::Target;
use crate::cleanup::Partial;
use crate::engine::{Container, OutputAfterReady, ReadyingFailed};
use crate::util::{self, Runner};

/// ccache's counters in a container: (hits, misses).
pub(super) fn ccache_counts(c: &Container) -> Option<(u64, u64)> {
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

/// A target's container, started and ready.
pub(super) struct Started {
    container: Container,
    /// Its auditwheel's version, for the manifest.
    auditwheel: String,
    /// The output of the build its first process runs, when it runs one.
    first_output: Option<OutputAfterReady>,
}

/// Starts one arch's container, and copies the
/// scripts and (unless each build has its own) the inputs in; with `lone`,
/// its first process then runs that build.
pub(super) fn start_target(
    runner: &Runner,
    plan: &Plan,
    t: &Target,
    run_id: &str,
    recipes: &[Recipe],
    lone: Option<&Recipe>,
) -> Result<Started> {
    let how = t.how();
    eprintln!(
        "==> {}: starting a container of {} on {} ({how})",
        t.name(),
        t.image,
        t.engine.describe()
    );
    // The native tools are unpacked here first: a local engine mounts them.
    if let Some(clang) = &t.clang {
        clang.unpack()?;
    }
    for python in native_pythons(recipes, t) {
        python.unpack()?;
    }
    let scripts = script_files(&container_scripts())?;
    let mut start = ContainerStart::new(plan, t, run_id, scripts, recipes, lone);
    // The inputs' tar is made whole first: the first process reads exactly
    // its bytes (busybox's tar, unlike GNU's, reads on to the end of its
    // input, and the container's stdin stays open).
    let input = match start.unpack {
        true => {
            let (file, size) = inputs_file(plan)?;
            start.first.args[0] = size.to_string();
            Some(file)
        }
        false => None,
    };
    let tar = plan.tar_command();
    let input = input.map(|file| (file, &tar));
    let started = Container::start(&t.engine, runner, &start.spec, &start.first, input);
    let (c, readied, first_output) = started.map_err(|e| match e.downcast_ref::<ReadyingFailed>() {
        Some(failed) => anyhow::anyhow!(
            "{} builds on {}: readying the container (the scripts and the inputs) failed ({failed})",
            t.name(),
            t.engine.describe()
        ),
        None => e.context(format!("{} builds on {}", t.name(), t.engine.describe())),
    })?;
    let auditwheel = parse_setup(&readied);
    copy_input_dirs(runner, plan, &c)?;
    if copies_natives(t) {
        for (from, to) in native_dirs(recipes, t) {
            c.copy_in(runner, &from, &to).with_context(|| {
                format!("copying the native {to} into the {} container", t.arch)
            })?;
        }
    }
    Ok(Started {
        container: c,
        auditwheel,
        first_output,
    })
}

/// The folders outside the root, once per container, each to the path its variable holds.
pub(super) fn copy_input_dirs(runner: &Runner, plan: &Plan, c: &Container) -> Result<()> {
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
        c.copy_in(runner, dir, dest)
            .with_context(|| format!("copying {dir} into the container ({key})"))?;
    }
    Ok(())
}

/// The host's tar, streaming `plan`'s inputs on its stdout.
pub(super) fn inputs_tar(plan: &Plan) -> Result<Child> {
    plan.tar_command()
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar (is it installed?)")
}

/// `plan`'s inputs as one tar file, opened, and its size: in a temporary
/// file that is gone however the command ends.
fn inputs_file(plan: &Plan) -> Result<(std::fs::File, u64)> {
    let path = Utf8PathBuf::from_path_buf(std::env::temp_dir().join("xtask-inputs.tar"))
        .map_err(|p| anyhow::anyhow!("the temporary folder {} is not UTF-8", p.display()))?;
    let partial = crate::cleanup::Partial::beside(&path);
    let file = std::fs::File::create(partial.path())
        .with_context(|| format!("creating {}", partial.path()))?;
    let status = plan
        .tar_command()
        .stdout(file)
        .status()
        .context("starting tar (is it installed?)")?;
    unreadable_inputs(plan, status)?;
    let file = std::fs::File::open(partial.path())
        .with_context(|| format!("opening {}", partial.path()))?;
    let size = file.metadata()?.len();
    // Open, it stays readable once its name is gone.
    drop(partial);
    Ok((file, size))
}

/// The size in bytes of `plan`'s inputs as one tar stream, counted as the
/// host's tar makes it (nothing is written): what the dry run shows of a
/// container's start, as the run has it.
pub(super) fn inputs_size(plan: &Plan) -> Result<u64> {
    let mut tar = inputs_tar(plan)?;
    let size = std::io::copy(&mut tar.stdout.take().expect("piped"), &mut std::io::sink())?;
    unreadable_inputs(plan, tar.wait()?)?;
    Ok(size)
}

/// Runs `cmd` with `plan`'s inputs as one tar stream on its stdin: its
/// output, and how the host's tar ended.
pub(super) fn with_inputs(plan: &Plan, mut cmd: Command) -> Result<(Output, ExitStatus)> {
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
pub(super) fn unreadable_inputs(plan: &Plan, tar: ExitStatus) -> Result<()> {
    if !tar.success() {
        bail!(
            "tar could not read the inputs under {} ({tar}): see its message above",
            plan.root
        );
    }
    Ok(())
}

/// After its pre-build, copies `plan`'s inputs into the container for
/// recipe `r`, as one tar stream.
pub(super) fn copy_inputs(plan: &Plan, c: &Container, r: &Recipe) -> Result<()> {
    let Some(unpack) = r.unpack_inputs(&c.engine, &c.name) else {
        return Ok(());
    };
    let (out, tar) = with_inputs(plan, unpack)?;
    unreadable_inputs(plan, tar)?;
    if !out.status.success() {
        bail!(
            "copying the inputs into the container failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Each arch's container, started on its own engine, all at once; and for
/// `--keep-container` the line that says how to enter and remove each.
pub(super) fn start_all<'a>(
    runner: &Runner,
    plan: &Plan,
    targets: &[&'a Target],
    run_id: &str,
    recipes: &[Recipe],
    lone: Option<&Recipe>,
) -> Result<(Vec<Running<'a>>, Vec<String>)> {
    let started: Vec<Result<Started>> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&t| s.spawn(move || start_target(runner, plan, t, run_id, recipes, lone)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a start thread panicked"))
            .collect()
    });
    let mut containers = Vec::new();
    let mut kept = Vec::new();
    for (result, &target) in started.into_iter().zip(targets) {
        let Started {
            mut container,
            auditwheel,
            first_output,
        } = result?;
        if plan.keep_container {
            // From now on, not even Ctrl-C removes it.
            let enter = container.keep();
            let remove = container.engine.rm(&container.name);
            let line = format!(
                "==> {} is kept running: enter it with `{enter}`, remove it with `{}`",
                container.name,
                util::command_line(&remove, &[])
            );
            eprintln!("{line}");
            kept.push(line);
        }
        containers.push(Running {
            target,
            container,
            auditwheel,
            first: Mutex::new(first_output),
        });
    }
    Ok((containers, kept))
}

/// One arch's container, what its image told of itself, and the output of
/// the build its first process runs (taken by that build).
pub(super) struct Running<'a> {
    /// The target it runs the builds of.
    pub target: &'a Target,
    /// Declared (so dropped) before the container, which waits for its client.
    pub first: Mutex<Option<OutputAfterReady>>,
    pub container: Container,
    pub auditwheel: String,
}

/// The folder holding Python.h of interpreter `dir`, copied out of the
/// container once per image.
pub(super) fn headers(
    runner: &Runner,
    t: &Target,
    c: &Container,
    dir: &str,
) -> Result<Utf8PathBuf> {
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
    let partial = Partial::beside(&cache);
    let dir = partial.path().to_owned();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir}"))?;
    c.copy_out(runner, &format!("{found}/."), &dir)?;
    if !dir.join("Python.h").is_file() {
        bail!("{found} in image `{}` holds no Python.h", t.image);
    }
    // A run of another project may have kept them meanwhile: then those
    // stay (it may be reading them).
    if !cache.join("Python.h").is_file() {
        let _ = std::fs::remove_dir_all(&cache);
    }
    if let Err(e) = partial.keep() {
        if !cache.join("Python.h").is_file() {
            return Err(e);
        }
    }
    Ok(cache)
}
