//! `cargo xtask bench`: the same builds done several ways in one run,
//! alternating, with medians and ratios written to BENCHMARKS.md. These
//! machines are noisy: only ratios measured side by side mean anything.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::engine::{Engine, EngineSpec};
use crate::flags::{self, BenchCase};
use crate::platform::{Arch, PythonTag};
use crate::{standin, util};

/// The cibuildwheel the bench measures against, installed under target/bench.
const CIBUILDWHEEL: &str = "4.3.5";

/// One way of building one case.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Way {
    /// One `docker run --rm` per interpreter, bind mounts, the old in-container script.
    Baseline,
    /// `cargo xtask wheels --jobs N`.
    Wheels(usize),
    /// cibuildwheel, on the same image, package and interpreters.
    Cibuildwheel,
}

impl Way {
    fn name(self) -> String {
        match self {
            Way::Baseline => "baseline (docker run per interpreter)".into(),
            Way::Wheels(n) => format!("wheels --jobs {n}"),
            Way::Cibuildwheel => format!("cibuildwheel {CIBUILDWHEEL}"),
        }
    }
}

/// A package built for some interpreters on some arches.
struct Case {
    /// How `--case` names it.
    key: BenchCase,
    name: String,
    package: Package,
    arches: Vec<Arch>,
    /// (tag, /opt/python folder) of each interpreter.
    pythons: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Package {
    Demo,
    Heavy,
}

/// Where a case's sources are, as `wheels` and the baseline each take them.
struct Inputs {
    root: Utf8PathBuf,
    package: &'static str,
    include: Vec<&'static str>,
    /// The `--config` that names them and the bench images.
    config: Utf8PathBuf,
}

impl flags::Bench {
    pub fn run(self, sh: &Shell, _run: &util::Runner) -> Result<()> {
        let reps = self.reps.get();
        let engine = Engine::ready(sh, false, &EngineSpec::Default)?;
        let quiet = util::Runner {
            dry_run: false,
            secrets: &[],
            quiet: true,
        };
        for arch in Arch::ALL {
            standin::ensure(sh, &engine, &quiet, arch)?;
            bench_image(&engine, arch)?;
        }
        let work = util::project_root().join("target/bench");
        std::fs::create_dir_all(&work)?;
        let cibuildwheel = install_cibuildwheel(&work)?;
        generate_heavy(&work.join("heavy"), self.heavy_files)?;
        // A copy of this binary: a rebuild during the run must not change what is measured.
        let xtask = work.join("xtask-under-test");
        std::fs::copy(std::env::current_exe()?, &xtask).context("copying the xtask binary")?;
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);

        // The interpreters the stand-ins offer: one CPython, and all of them.
        let offered = |arch| -> Result<Vec<(String, String)>> {
            let dirs = engine.list_image_dir(&standin::image_ref(arch), arch, "/opt/python")?;
            Ok(dirs
                .into_iter()
                .filter_map(|d| PythonTag::from_dir(&d).map(|t| (t.to_string(), d)))
                .collect())
        };
        let (x86_all, arm_all) = (offered(Arch::X86_64)?, offered(Arch::Aarch64)?);
        let first_cp = |all: &[(String, String)]| {
            all.iter()
                .find(|(t, _)| t.starts_with("cp"))
                .cloned()
                .context("a stand-in offers no CPython")
        };
        let (cp, arm_cp) = (first_cp(&x86_all)?, first_cp(&arm_all)?);
        let all_name = format!("all {}", x86_all.len());
        let case = |key, package, name: &str, arches: Vec<Arch>, pythons: Vec<(String, String)>| {
            let what = if package == Package::Demo {
                "demo"
            } else {
                "heavy"
            };
            Case {
                key,
                name: format!("{what}, {name}"),
                package,
                arches,
                pythons,
            }
        };
        let mut cases = vec![
            case(
                BenchCase::DemoOne,
                Package::Demo,
                &format!("x86_64, {}", cp.0),
                vec![Arch::X86_64],
                vec![cp.clone()],
            ),
            case(
                BenchCase::DemoAll,
                Package::Demo,
                &format!("x86_64, {all_name}"),
                vec![Arch::X86_64],
                x86_all.clone(),
            ),
            case(
                BenchCase::HeavyOne,
                Package::Heavy,
                &format!("x86_64, {}", cp.0),
                vec![Arch::X86_64],
                vec![cp.clone()],
            ),
            case(
                BenchCase::HeavyAll,
                Package::Heavy,
                &format!("x86_64, {all_name}"),
                vec![Arch::X86_64],
                x86_all.clone(),
            ),
            case(
                BenchCase::DemoArm,
                Package::Demo,
                &format!("aarch64 (emulated), {}", arm_cp.0),
                vec![Arch::Aarch64],
                vec![arm_cp.clone()],
            ),
            case(
                BenchCase::DemoArmAll,
                Package::Demo,
                &format!("aarch64 (emulated), all {}", arm_all.len()),
                vec![Arch::Aarch64],
                arm_all,
            ),
            case(
                BenchCase::DemoBoth,
                Package::Demo,
                &format!("x86_64+aarch64, {}", cp.0),
                vec![Arch::X86_64, Arch::Aarch64],
                vec![cp.clone()],
            ),
        ];
        if self.heavy_arm || self.case.contains(&BenchCase::HeavyArm) {
            cases.push(case(
                BenchCase::HeavyArm,
                Package::Heavy,
                &format!("aarch64 (emulated), {}", arm_cp.0),
                vec![Arch::Aarch64],
                vec![arm_cp.clone()],
            ));
        }
        if !self.case.is_empty() {
            cases.retain(|c| self.case.contains(&c.key));
        }
        let ways = [
            Way::Baseline,
            Way::Cibuildwheel,
            Way::Wheels(1),
            Way::Wheels(cores),
        ];

        let mut report = String::new();
        writeln!(report, "# Benchmarks\n")?;
        writeln!(
            report,
            "Written by `cargo xtask bench --reps {reps}{}{}` on {}.\n",
            if self.heavy_arm { " --heavy-arm" } else { "" },
            self.case
                .iter()
                .map(|c| format!(
                    " --case {}",
                    clap::ValueEnum::to_possible_value(c)
                        .expect("a value")
                        .get_name()
                ))
                .collect::<String>(),
            machine(sh)
        )?;
        writeln!(report, "Each row is the median of {reps} runs; the ways of one case ran alternately (each round in a rotated order), so the ratios (time / baseline time, time / cibuildwheel time) compare runs made side by side. The heavy package is {} generated C files (one extension) that take tens of seconds to compile per interpreter. Every way builds in the same images: the local stand-ins (`cargo xtask standin`) plus the `/opt/python/cp39-cp39` link cibuildwheel {CIBUILDWHEEL} runs its own tools with (`xtask-bench:ARCH`). No way runs tests here (cibuildwheel: `CIBW_TEST_SKIP='*'`, this tool: `--no-test`){}. After each case the wheels of cibuildwheel and of this tool are compared: same file names, same files inside.\n", self.heavy_files, if self.case.is_empty() { "; the test step is measured below" } else { "" })?;
        writeln!(
            report,
            "| case | way | median | ratio to baseline | ratio to cibuildwheel |\n|---|---|---:|---:|---:|"
        )?;
        let mut emulation = Vec::new();
        for case in &cases {
            let inputs = inputs(case.package, &work)?;
            let mut times: Vec<Vec<Duration>> = vec![Vec::new(); ways.len()];
            for rep in 0..reps {
                // Each round in another order: no way always runs right
                // after the same other (whose clean-up may still run).
                for k in 0..ways.len() {
                    let i = (k + rep) % ways.len();
                    let way = &ways[i];
                    if *way == Way::Wheels(cores) && cores == 1 {
                        continue;
                    }
                    let t = measure(
                        &xtask,
                        &cibuildwheel,
                        &engine,
                        &work,
                        case,
                        &inputs,
                        *way,
                        i,
                    )
                    .with_context(|| format!("{}: {}", case.name, way.name()))?;
                    eprintln!(
                        "bench: {} | {} | run {} | {}",
                        case.name,
                        way.name(),
                        rep + 1,
                        util::format_duration(t)
                    );
                    times[i].push(t);
                }
            }
            let base = median(&times[0]);
            let cibw = median(&times[1]);
            for (i, way) in ways.iter().enumerate() {
                if times[i].is_empty() {
                    continue;
                }
                let m = median(&times[i]);
                writeln!(
                    report,
                    "| {} | {} | {} | {:.2} | {:.2} |",
                    case.name,
                    way.name(),
                    secs(m),
                    ratio(m, base),
                    ratio(m, cibw)
                )?;
            }
            same_wheels(&work.join("out-1"), &work.join("out-2")).with_context(|| {
                format!("{}: cibuildwheel's wheels against this tool's", case.name)
            })?;
            if case.arches.len() == 1 && case.pythons.len() == 1 {
                emulation.push((case.package, case.arches[0], median(&times[2])));
            }
        }
        writeln!(report)?;
        for package in [Package::Demo, Package::Heavy] {
            let find = |arch| {
                emulation
                    .iter()
                    .find(|(p, a, _)| *p == package && *a == arch)
                    .map(|e| e.2)
            };
            if let (Some(x86), Some(arm)) = (find(Arch::X86_64), find(Arch::Aarch64)) {
                let name = if package == Package::Demo {
                    "demo"
                } else {
                    "heavy"
                };
                writeln!(report, "Emulation factor ({name}, {}, `wheels --jobs 1`): aarch64 {} / x86_64 {} = **{:.1}x**.\n", cp.0, secs(arm), secs(x86), ratio(arm, x86))?;
            }
        }

        if self.case.is_empty() {
            self.other_tables(
                &mut report,
                sh,
                &engine,
                &xtask,
                &work,
                &cp.0,
                &x86_all,
                &arm_cp.0,
            )?;
        }
        let file = self
            .report
            .clone()
            .unwrap_or_else(|| util::project_root().join("BENCHMARKS.md"));
        std::fs::write(&file, &report).with_context(|| format!("writing {file}"))?;
        print!("{report}");
        eprintln!("written to {file}");
        Ok(())
    }

    /// Everything after the main table: the test step, verify, ccache, engines,
    /// the up-to-date steps and the xtask itself.
    #[allow(clippy::too_many_arguments)]
    fn other_tables(
        &self,
        report: &mut String,
        sh: &Shell,
        engine: &Engine,
        xtask: &Utf8Path,
        work: &Utf8Path,
        cp: &str,
        x86_all: &[(String, String)],
        arm_cp: &str,
    ) -> Result<()> {
        let reps = self.reps.get();
        trust_rows(report, xtask, work, reps, cp, x86_all, arm_cp)?;
        ccache_rows(report, sh, engine, xtask, work, cp, arm_cp)?;

        if let (Some(ssh), Some(socket)) = (&self.ssh_engine, &self.socket_engine) {
            engine_rows(report, xtask, work, reps, ssh, socket, cp)?;
        }

        writeln!(
            report,
            "| up-to-date step | median | images rebuilt |\n|---|---:|---|"
        )?;
        let config = bench_config(work)?;
        let config_arg = config.as_str();
        let warm: [(&str, Vec<&str>); 2] = [
            ("`prep`", vec!["--config", config_arg, "prep"]),
            ("`arm-image`", vec!["--config", config_arg, "arm-image"]),
        ];
        run_quiet(Command::new(xtask.as_str()).args(["--config", config_arg, "prep"]))?;
        for (name, args) in &warm {
            let before = image_ids(sh)?;
            let mut t = Vec::new();
            for _ in 0..reps {
                let start = Instant::now();
                run_quiet(Command::new(xtask.as_str()).args(args))?;
                t.push(start.elapsed());
            }
            let rebuilt = if image_ids(sh)? == before {
                "none"
            } else {
                "some"
            };
            writeln!(report, "| {name} | {} | {rebuilt} |", secs(median(&t)))?;
        }

        writeln!(report, "\n| the xtask itself | median |\n|---|---:|")?;
        let cold = cold_build(work, reps)?;
        writeln!(
            report,
            "| cold `cargo build -p xtask` (fresh target folder, crates downloaded) | {} |",
            secs(cold)
        )?;
        let mut t = Vec::new();
        for _ in 0..reps.max(5) {
            let start = Instant::now();
            run_quiet(
                Command::new("cargo")
                    .args(["xtask", "--help"])
                    .current_dir(util::project_root().as_str()),
            )?;
            t.push(start.elapsed());
        }
        writeln!(
            report,
            "| warm `cargo xtask --help` | {} |",
            secs(median(&t))
        )?;

        Ok(())
    }
}

/// A way of building that differs only in its flags: its name, the flags.
type EngineWay = (String, Vec<String>);

/// Builds that differ only in the engines `wheels` is given: both arches on
/// one engine or on two, and one daemon reached by its socket or over ssh.
fn engine_rows(
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
fn trust_rows(
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
fn ccache_rows(
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

/// The wheels in `out` (SHA256SUMS and manifest.json land beside them).
fn count_wheels(out: &Utf8Path) -> Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(out)? {
        n += usize::from(e?.file_name().to_string_lossy().ends_with(".whl"));
    }
    Ok(n)
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn machine(sh: &Shell) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let date = xshell::cmd!(sh, "date -u +%Y-%m-%d")
        .quiet()
        .read()
        .unwrap_or_default();
    let kernel = xshell::cmd!(sh, "uname -r")
        .quiet()
        .read()
        .unwrap_or_default();
    format!("{date}, {cores} cores ({cpu}), Linux {kernel}")
}

fn inputs(package: Package, work: &Utf8Path) -> Result<Inputs> {
    let (name, root, package, include) = match package {
        Package::Demo => (
            "demo",
            util::project_root(),
            "demo/python",
            vec!["demo/native", "README.md"],
        ),
        Package::Heavy => ("heavy", work.join("heavy"), "heavy", vec![]),
    };
    let config = work.join(format!("{name}.toml"));
    let list: Vec<String> = include.iter().map(|i| format!("\"{i}\"")).collect();
    std::fs::write(
        &config,
        format!(
            "[workspace.metadata.wheels]\nroot = \"{root}\"\npackage = \"{package}\"\ninclude = [{}]\n[workspace.metadata.wheels.images]\nx86_64 = \"{}\"\naarch64 = \"{}\"\n",
            list.join(", "),
            bench_image_ref(Arch::X86_64),
            bench_image_ref(Arch::Aarch64)
        ),
    )?;
    Ok(Inputs {
        root,
        package,
        include,
        config,
    })
}

/// The image every way of the bench builds in: the stand-in, plus the
/// `/opt/python/cp39-cp39` that cibuildwheel runs its own tools with (the
/// real manylinux images have it); this tool is given explicit interpreters.
fn bench_image_ref(arch: Arch) -> String {
    format!("xtask-bench:{arch}")
}

fn bench_image(engine: &Engine, arch: Arch) -> Result<()> {
    let dockerfile = format!(
        "FROM {}\nRUN ln -s \"$(ls -d /opt/python/cp3* | head -n 1)\" /opt/python/cp39-cp39\n",
        standin::image_ref(arch)
    );
    let mut cmd = engine.command();
    cmd.args(["build", "--quiet", "--platform", &arch.docker_platform()])
        .args(["--label", &format!("{}=bench", crate::engine::LABEL)])
        .args(["--tag", &bench_image_ref(arch), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("building the bench image")?;
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(dockerfile.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "building {}: {}",
            bench_image_ref(arch),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// cibuildwheel in a virtual environment of its own; its program.
fn install_cibuildwheel(work: &Utf8Path) -> Result<Utf8PathBuf> {
    let venv = work.join(format!("cibuildwheel-{CIBUILDWHEEL}"));
    let program = venv.join("bin/cibuildwheel");
    if !program.exists() {
        run_quiet(Command::new("python3").args(["-m", "venv", venv.as_str()]))?;
        run_quiet(Command::new(venv.join("bin/pip").as_str()).args([
            "install",
            "--quiet",
            &format!("cibuildwheel=={CIBUILDWHEEL}"),
        ]))
        .context("installing cibuildwheel from PyPI")?;
    }
    Ok(program)
}

/// cibuildwheel's way: a fresh copy of the inputs as its project folder (it
/// archives the folder it runs in), the same image and interpreters, no tests.
fn cibuildwheel(
    program: &Utf8Path,
    work: &Utf8Path,
    case: &Case,
    inputs: &Inputs,
    out: &Utf8Path,
) -> Result<()> {
    let copy = work.join("cibuildwheel-src");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy)?;
    let mut paths = vec![inputs.package];
    paths.extend(&inputs.include);
    run_quiet(
        Command::new("cp")
            .args(["-a", "--parents"])
            .args(&paths)
            .arg(copy.as_str())
            .current_dir(inputs.root.as_str()),
    )?;
    let mut ids = Vec::new();
    for &arch in &case.arches {
        for (tag, _) in &case.pythons {
            ids.push(format!("{tag}-manylinux_{arch}"));
        }
    }
    let arches: Vec<&str> = case.arches.iter().map(|a| a.name()).collect();
    let mut cmd = Command::new(program.as_str());
    cmd.args([
        "--platform",
        "linux",
        "--output-dir",
        out.as_str(),
        inputs.package,
    ])
    .current_dir(copy.as_str())
    .env("CIBW_BUILD", ids.join(" "))
    .env("CIBW_ARCHS_LINUX", arches.join(" "))
    .env("CIBW_ENABLE", "pypy pypy-eol")
    .env("CIBW_BUILD_FRONTEND", "build")
    // abi3audit would download itself; no wheel here is abi3.
    .env("CIBW_AUDIT_COMMAND", "")
    .env("CIBW_TEST_SKIP", "*");
    for arch in Arch::ALL {
        let key = arch.name().to_uppercase();
        cmd.env(format!("CIBW_MANYLINUX_{key}_IMAGE"), bench_image_ref(arch))
            .env(
                format!("CIBW_MANYLINUX_PYPY_{key}_IMAGE"),
                bench_image_ref(arch),
            );
    }
    run_quiet(&mut cmd)
}

/// Two folders hold wheels of the same names with the same files inside.
fn same_wheels(a: &Utf8Path, b: &Utf8Path) -> Result<()> {
    let listing = |dir: &Utf8Path| -> Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for e in dir.read_dir_utf8()? {
            let e = e?;
            if e.file_name().ends_with(".whl") {
                let names = Command::new("python3")
                    .args(["-c", "import sys, zipfile; print('\\n'.join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))", e.path().as_str()])
                    .output()?;
                let names = String::from_utf8_lossy(&names.stdout)
                    .lines()
                    .map(String::from)
                    .collect();
                out.push((e.file_name().to_string(), names));
            }
        }
        out.sort();
        Ok(out)
    };
    let (x, y) = (listing(a)?, listing(b)?);
    let names = |l: &[(String, Vec<String>)]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(&x) != names(&y) {
        bail!("different wheels: {:?} and {:?}", names(&x), names(&y));
    }
    for ((name, fx), (_, fy)) in x.iter().zip(&y) {
        if fx != fy {
            bail!("{name} holds different files: {fx:?} and {fy:?}");
        }
    }
    Ok(())
}

/// A package whose C sources take a while to compile, like a real extension.
fn generate_heavy(dir: &Utf8Path, files: usize) -> Result<()> {
    let pkg = dir.join("heavy");
    std::fs::create_dir_all(pkg.join("src"))?;
    std::fs::write(pkg.join("pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n")?;
    let mut setup = String::from("import glob\nfrom setuptools import Extension, setup\n");
    setup.push_str("setup(name='heavy', version='1', ext_modules=[Extension('heavy', sorted(glob.glob('src/*.c')))])\n");
    std::fs::write(pkg.join("setup.py"), setup)?;
    let mut module = String::from("#include <Python.h>\n");
    for f in 0..files {
        let mut c = String::from("#include <math.h>\n");
        for j in 0..60 {
            write!(
                c,
                "double heavy_{f}_{j}(const double *x, int n) {{\n    double a = {j}.5, b = 1.0;\n    for (int k = 0; k < n; k++) {{\n        a = a * 0.999 + x[k] * {m}.0 / (k + 1.0);\n        b += sin(a) * cos(b + {j});\n        if (a > 1e6) a = fmod(a, 1e3);\n        switch ((k + {j}) % 4) {{\n        case 0: b -= a / (1.0 + k); break;\n        case 1: b += sqrt(fabs(a)); break;\n        case 2: a += exp(-fabs(b)); break;\n        default: b *= 0.5;\n        }}\n    }}\n    return a + b;\n}}\n",
                m = j + 1
            )?;
        }
        std::fs::write(pkg.join(format!("src/f{f}.c")), c)?;
    }
    module.push_str("double heavy_0_0(const double *x, int n);\n");
    module.push_str("static PyObject *run(PyObject *s, PyObject *a) { double x[4] = {1, 2, 3, 4}; return PyFloat_FromDouble(heavy_0_0(x, 4)); }\n");
    module.push_str(
        "static PyMethodDef m[] = {{\"run\", run, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};\n",
    );
    module.push_str(
        "static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, \"heavy\", NULL, -1, m};\n",
    );
    module.push_str("PyMODINIT_FUNC PyInit_heavy(void) { return PyModule_Create(&d); }\n");
    std::fs::write(pkg.join("src/module.c"), module)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn measure(
    xtask: &Utf8Path,
    cibuildwheel_program: &Utf8Path,
    engine: &Engine,
    work: &Utf8Path,
    case: &Case,
    inputs: &Inputs,
    way: Way,
    index: usize,
) -> Result<Duration> {
    // Each way's wheels stay until its next run, to be compared.
    let out = work.join(format!("out-{index}"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let start = Instant::now();
    match way {
        Way::Baseline => baseline(engine, work, case, inputs, &out)?,
        Way::Cibuildwheel => cibuildwheel(cibuildwheel_program, work, case, inputs, &out)?,
        Way::Wheels(jobs) => {
            let arches: Vec<&str> = case.arches.iter().map(|a| a.name()).collect();
            let mut cmd = Command::new(xtask.as_str());
            cmd.args(["--config", inputs.config.as_str()]);
            cmd.args([
                "wheels",
                "--arch",
                &arches.join(","),
                "--py",
                &case
                    .pythons
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
            // The baseline runs no tests: the test step is measured on its own.
            cmd.args([
                "--jobs",
                &jobs.to_string(),
                "--no-test",
                "--out",
                out.as_str(),
            ]);
            run_quiet(&mut cmd)?;
        }
    }
    let elapsed = start.elapsed();
    let wheels = count_wheels(&out)?;
    let expected = case.arches.len() * case.pythons.len();
    if wheels != expected {
        bail!("expected {expected} wheels, found {wheels}");
    }
    Ok(elapsed)
}

/// The replaced scripts' way: a fresh copy of the sources (they built in the
/// checkout), then one container per interpreter with bind mounts.
fn baseline(
    engine: &Engine,
    work: &Utf8Path,
    case: &Case,
    inputs: &Inputs,
    out: &Utf8Path,
) -> Result<()> {
    let copy = work.join("baseline-src");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy)?;
    let mut paths = vec![inputs.package];
    paths.extend(&inputs.include);
    run_quiet(
        Command::new("cp")
            .args(["-a", "--parents"])
            .args(&paths)
            .arg(copy.as_str())
            .current_dir(inputs.root.as_str()),
    )?;
    let script = util::project_root().join("scripts/bench/baseline-build.sh");
    let (uid, gid) = ids();
    for &arch in &case.arches {
        for (_, dir) in &case.pythons {
            let plat = format!("{}_{arch}", standin::POLICY);
            let mut cmd = engine.command();
            cmd.args(["run", "--rm", "--platform", &arch.docker_platform()]);
            cmd.args(["--label", &format!("{}=bench", crate::engine::LABEL)]);
            cmd.args([
                "-v",
                &format!("{copy}:/tmp/pkg"),
                "-v",
                &format!("{script}:/tmp/build.sh:ro"),
            ]);
            cmd.args([
                &bench_image_ref(arch),
                "bash",
                "/tmp/build.sh",
                dir,
                &plat,
                inputs.package,
                &uid,
                &gid,
            ]);
            run_quiet(&mut cmd)?;
            let dist = copy.join(inputs.package).join("dist");
            for e in std::fs::read_dir(&dist)? {
                let e = e?;
                std::fs::rename(e.path(), out.as_std_path().join(e.file_name()))?;
            }
        }
    }
    Ok(())
}

fn ids() -> (String, String) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(util::project_root()).ok();
    (
        m.as_ref().map(|m| m.uid()).unwrap_or(0).to_string(),
        m.map(|m| m.gid()).unwrap_or(0).to_string(),
    )
}

fn run_quiet(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}):\n{}{}",
            util::command_line(cmd, &[]),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Every image id, sorted: equal before and after means nothing was rebuilt.
fn image_ids(sh: &Shell) -> Result<Vec<String>> {
    let out = xshell::cmd!(sh, "docker images --all --quiet --no-trunc")
        .quiet()
        .read()?;
    let mut ids: Vec<String> = out.lines().map(String::from).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The stand-in images, as images a user's config names, for `prep` and `arm-image`.
fn bench_config(work: &Utf8Path) -> Result<Utf8PathBuf> {
    let file = work.join("bench.toml");
    let text = format!(
        "[workspace.metadata.wheels]\nroot = \"{}\"\nqemu-image = \"{}\"\n[workspace.metadata.wheels.images]\nx86_64 = \"xtask-bench-x64:latest\"\naarch64 = \"xtask-bench-arm:latest\"\n[workspace.metadata.wheels.arm-image]\nbase = \"{}\"\ntag = \"xtask-bench-arm:latest\"\n[workspace.metadata.wheels.x64-image]\nbase = \"{}\"\ntag = \"xtask-bench-x64:latest\"\npackages = []\n",
        util::project_root(),
        standin::QEMU_REGISTER_IMAGE,
        standin::image_ref(Arch::Aarch64),
        standin::image_ref(Arch::X86_64)
    );
    std::fs::write(&file, text)?;
    Ok(file)
}

/// A cold build: a fresh target folder, the crates already downloaded.
fn cold_build(work: &Utf8Path, reps: usize) -> Result<Duration> {
    let mut t = Vec::new();
    for _ in 0..reps {
        let target = work.join("cold-target");
        let _ = std::fs::remove_dir_all(&target);
        let start = Instant::now();
        run_quiet(
            Command::new("cargo")
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "xtask",
                    "--target-dir",
                    target.as_str(),
                ])
                .current_dir(util::project_root().as_str()),
        )?;
        t.push(start.elapsed());
    }
    Ok(median(&t))
}
