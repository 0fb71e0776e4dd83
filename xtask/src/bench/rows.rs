//! The tables after the main one: the test step and `verify`, ccache, and
//! builds on two engines.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::Utf8Path;
use xshell::Shell;

use super::report::{median, ratio, secs};
use super::ways::{count_wheels, run_quiet};
use crate::engine::Engine;
use crate::platform::Arch;
use crate::{standin, util};

/// A way of building that differs only in its flags: its name, the flags.
pub(super) type EngineWay = (String, Vec<String>);

/// Builds that differ only in the engines `wheels` is given: both arches on
/// one engine or on two, and one daemon reached by its socket or over ssh.
pub(super) fn engine_rows(
    report: &mut String,
    xtask: &Utf8Path,
    work: &Utf8Path,
    reps: usize,
    ssh: &str,
    socket: &str,
    cp: &str,
) -> Result<()> {
    // The stand-ins on the second daemon, as `docker save | load` puts them there.
    for arch in Arch::ALL {
        let image = standin::image_ref(arch);
        let id = |host: &[&str]| {
            Command::new("docker")
                .args(host)
                .args(["image", "inspect", "--format", "{{.Id}}", &image])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        if id(&[])? != id(&["--host", socket])? {
            run_quiet(Command::new("sh").args([
                "-c",
                "docker save \"$1\" | docker --host \"$2\" load",
                "sh",
                &image,
                socket,
            ]))?;
        }
    }
    let cases: [(String, &str, [EngineWay; 2]); 2] = [
        (
            format!("demo, x86_64+aarch64, {cp}"),
            "x86_64,aarch64",
            [
                ("both on the local engine".into(), vec![]),
                (
                    "aarch64 on a second engine (over ssh)".into(),
                    vec!["--engine".into(), format!("aarch64={ssh}")],
                ),
            ],
        ),
        (
            format!("demo, x86_64, {cp}"),
            "x86_64",
            [
                (
                    "second daemon, local socket".into(),
                    vec!["--engine".into(), format!("x86_64={socket}")],
                ),
                (
                    "second daemon, over ssh".into(),
                    vec!["--engine".into(), format!("x86_64={ssh}")],
                ),
            ],
        ),
    ];
    writeln!(
        report,
        "| engines: case | way | median | ratio to the first way |\n|---|---|---:|---:|"
    )?;
    for (case, arches, ways) in &cases {
        let mut times = [Vec::new(), Vec::new()];
        for _ in 0..reps {
            for (i, (name, flags)) in ways.iter().enumerate() {
                let out = work.join("out");
                let _ = std::fs::remove_dir_all(&out);
                let mut cmd = Command::new(xtask.as_str());
                cmd.args(flags)
                    .args(["wheels", "--standin", "--arch", arches]);
                cmd.args(["--py", cp, "--jobs", "2", "--no-test"]);
                cmd.args(["--out", out.as_str()]);
                let start = Instant::now();
                run_quiet(&mut cmd).with_context(|| format!("{case}: {name}"))?;
                times[i].push(start.elapsed());
                let wheels = count_wheels(&out)?;
                if wheels != arches.split(',').count() {
                    bail!("{case}: {name}: expected one wheel per arch, found {wheels}");
                }
                eprintln!(
                    "bench: {case} | {name} | {}",
                    util::format_duration(start.elapsed())
                );
            }
        }
        let first = median(&times[0]);
        for (i, (name, _)) in ways.iter().enumerate() {
            let m = median(&times[i]);
            writeln!(
                report,
                "| {case} | {name} | {} | {:.2} |",
                secs(m),
                ratio(m, first)
            )?;
        }
    }
    writeln!(report, "\nThe second engine is a second dockerd on this same 2-core machine (scripts/test-engines.sh), so two engines share the cores: these rows measure the cost of splitting a run across engines and of the ssh hop, not the gain of a native arm64 machine, which is not available here.\n")?;
    Ok(())
}

/// What trust costs: the demo's test suite against each installed wheel
/// (`wheels` against `wheels --no-test`, alternating, one interpreter at a
/// time), and `verify` of the folder that run left, with and without a rebuild.
pub(super) fn trust_rows(
    report: &mut String,
    xtask: &Utf8Path,
    work: &Utf8Path,
    reps: usize,
    cp: &str,
    x86_all: &[(String, String)],
    arm_cp: &str,
) -> Result<()> {
    let out = work.join("out");
    let wheels = |extra: &[&str], arch: &str, py: &str| -> Result<Duration> {
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = Command::new(xtask.as_str());
        cmd.args([
            "wheels",
            "--standin",
            "--arch",
            arch,
            "--py",
            py,
            "--jobs",
            "1",
        ]);
        cmd.args(extra).args(["--out", out.as_str()]);
        let start = Instant::now();
        run_quiet(&mut cmd)?;
        Ok(start.elapsed())
    };
    writeln!(
        report,
        "| the test step (demo, pytest, 4 tests) | `wheels --no-test` | `wheels` | test step |\n|---|---:|---:|---:|"
    )?;
    let mut rows: Vec<(String, &str, &str)> = x86_all
        .iter()
        .filter(|(t, _)| t == cp || t.starts_with("pp"))
        .map(|(t, _)| (format!("x86_64 {t}"), "x86_64", t.as_str()))
        .collect();
    rows.push((format!("aarch64 {arm_cp} (emulated)"), "aarch64", arm_cp));
    for (name, arch, py) in rows {
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            without.push(
                wheels(&["--no-test"], arch, py).with_context(|| format!("{name}, --no-test"))?,
            );
            with.push(wheels(&[], arch, py).with_context(|| format!("{name}, tested"))?);
            eprintln!(
                "bench: test step | {name} | {} / {}",
                secs(*without.last().unwrap()),
                secs(*with.last().unwrap())
            );
        }
        let (a, b) = (median(&without), median(&with));
        writeln!(
            report,
            "| {name} | {} | {} | +{} |",
            secs(a),
            secs(b),
            secs(b.saturating_sub(a))
        )?;
    }
    // A folder of both x86_64 wheels, then verify it.
    wheels(&["--no-test"], "x86_64", "all")?;
    writeln!(
        report,
        "\n| verify (the x86_64 folder: {} wheels) | median |\n|---|---:|",
        x86_all.len()
    )?;
    for (name, extra) in [
        ("`verify`", vec![]),
        ("`verify --rebuild`", vec!["--rebuild"]),
    ] {
        let mut t = Vec::new();
        for _ in 0..reps {
            let start = Instant::now();
            run_quiet(
                Command::new(xtask.as_str())
                    .args(["verify", "--standin", out.as_str()])
                    .args(&extra),
            )?;
            t.push(start.elapsed());
        }
        writeln!(report, "| {name} | {} |", secs(median(&t)))?;
    }
    writeln!(report)?;
    Ok(())
}

/// `--ccache` on the heavy package, natively and under emulation: a first
/// run with an empty cache, then a run after a one-line change. One run
/// each (the emulated first run takes minutes); the emulated first run
/// against the native one is the emulation factor of a compile-bound build.
pub(super) fn ccache_rows(
    report: &mut String,
    sh: &Shell,
    engine: &Engine,
    xtask: &Utf8Path,
    work: &Utf8Path,
    cp: &str,
    arm_cp: &str,
) -> Result<()> {
    writeln!(
        report,
        "| `--ccache`, heavy package, one interpreter | first run (empty cache) | after a one-line change | ratio | hits |\n|---|---:|---:|---:|---|"
    )?;
    let mut first_runs = Vec::new();
    for (arch, py) in [(Arch::X86_64, cp), (Arch::Aarch64, arm_cp)] {
        let id = engine
            .inspect_image(sh, &standin::image_ref(arch))?
            .context("the stand-in image")?
            .id;
        let volume = crate::wheels::recipe::ccache_volume(arch, &id);
        let _ = engine
            .command()
            .args(["volume", "rm", "--force", &volume])
            .output();
        let root = work.join("ccache-heavy");
        let _ = std::fs::remove_dir_all(&root);
        run_quiet(Command::new("cp").args(["-a", work.join("heavy").as_str(), root.as_str()]))?;
        let config = work.join("ccache-heavy.toml");
        std::fs::write(
            &config,
            format!("[workspace.metadata.wheels]\nroot = \"{root}\"\npackage = \"heavy\"\n"),
        )?;
        let mut times = Vec::new();
        let mut hits = String::new();
        for change in [false, true] {
            if change {
                let file = root.join("heavy/src/f0.c");
                let text = std::fs::read_to_string(&file)?
                    + "int heavy_one_more_line(void) { return 1; }\n";
                std::fs::write(&file, text)?;
            }
            let out = work.join("out");
            let _ = std::fs::remove_dir_all(&out);
            let start = Instant::now();
            let run = Command::new(xtask.as_str())
                .args([
                    "--config",
                    config.as_str(),
                    "wheels",
                    "--standin",
                    "--arch",
                    arch.name(),
                ])
                .args(["--py", py, "--ccache", "--no-test", "--out", out.as_str()])
                .stdin(Stdio::null())
                .output()?;
            times.push(start.elapsed());
            if !run.status.success() {
                bail!(
                    "--ccache on {arch}: {}",
                    String::from_utf8_lossy(&run.stderr)
                );
            }
            hits = String::from_utf8_lossy(&run.stdout)
                .lines()
                .find_map(|l| l.strip_prefix(&format!("ccache on {arch}: ")))
                .map(|l| l.split(", in volume").next().unwrap_or(l).to_string())
                .unwrap_or_default();
            eprintln!(
                "bench: ccache | {arch} | {} | {}",
                secs(*times.last().unwrap()),
                hits
            );
        }
        let how = if arch == Arch::X86_64 {
            "native"
        } else {
            "emulated"
        };
        writeln!(
            report,
            "| {arch} ({how}), {py} | {} | {} | {:.2} | {hits} |",
            secs(times[0]),
            secs(times[1]),
            ratio(times[1], times[0])
        )?;
        first_runs.push(times[0]);
    }
    writeln!(
        report,
        "\nEmulation factor of a compile-bound build (heavy package, one interpreter, empty cache): aarch64 {} / x86_64 {} = **{:.1}x**.\n",
        secs(first_runs[1]),
        secs(first_runs[0]),
        ratio(first_runs[1], first_runs[0])
    )?;
    Ok(())
}
