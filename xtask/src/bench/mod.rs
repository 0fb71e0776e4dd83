//! `cargo xtask bench`: the same builds done several ways in one run,
//! alternating, with medians and ratios written to BENCHMARKS.md. These
//! machines are noisy: only ratios measured side by side mean anything.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::config::EngineSpec;
use crate::engine::Engine;
use crate::flags::{self, BenchCase};
use crate::platform::{Arch, PythonTag};
use crate::{standin, util};

mod report;
mod rows;
mod ways;

use report::{machine, median, ratio, secs};
use rows::{ccache_rows, engine_rows, trust_rows};
use ways::{
    bench_config, bench_image, cold_build, generate_heavy, image_ids, inputs, install_cibuildwheel,
    measure, run_quiet, same_wheels,
};

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
    /// `cargo xtask wheels --jobs 1 --native-compiler` (cases with aarch64).
    NativeCompiler,
}

impl Way {
    fn name(self) -> String {
        match self {
            Way::Baseline => "baseline (docker run per interpreter)".into(),
            Way::Wheels(n) => format!("wheels --jobs {n}"),
            Way::Cibuildwheel => format!("cibuildwheel {CIBUILDWHEEL}"),
            Way::NativeCompiler => "wheels --jobs 1 --native-compiler".into(),
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
    pub fn run(self, sh: &Shell, _runner: &util::Runner) -> Result<()> {
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
        let cases = self.cases(&x86_all, arm_all, &cp, &arm_cp);
        let ways = [
            Way::Baseline,
            Way::Cibuildwheel,
            Way::Wheels(1),
            Way::Wheels(cores),
            Way::NativeCompiler,
        ];

        let mut report = self.report_head(&machine(sh))?;
        let emulation = main_table(
            &mut report,
            &cases,
            &ways,
            reps,
            &xtask,
            &cibuildwheel,
            &engine,
            &work,
        )?;
        emulation_factors(&mut report, &emulation, &cp.0)?;

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

    /// The report's title, how it was made, and the main table's head.
    fn report_head(&self, machine: &str) -> Result<String> {
        let reps = self.reps.get();
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
            machine
        )?;
        writeln!(report, "Each row is the median of {reps} runs; the ways of one case ran alternately (each round in a rotated order), so the ratios (time / baseline time, time / cibuildwheel time) compare runs made side by side. The heavy package is {} generated C files (one extension) that take tens of seconds to compile per interpreter. Every way builds in the same images: the local stand-ins (`cargo xtask standin`) plus the `/opt/python/cp39-cp39` link cibuildwheel {CIBUILDWHEEL} runs its own tools with (`xtask-bench:ARCH`). No way runs tests here (cibuildwheel: `CIBW_TEST_SKIP='*'`, this tool: `--no-test`){}. After each case the wheels of cibuildwheel and of this tool are compared: same file names, same files inside.\n", self.heavy_files, if self.case.is_empty() { "; the test step is measured below" } else { "" })?;
        writeln!(
            report,
            "| case | way | median | ratio to baseline | ratio to cibuildwheel |\n|---|---|---:|---:|---:|"
        )?;
        Ok(report)
    }

    /// The cases to measure: the demo and the heavy package, one and every
    /// interpreter, native and emulated (`--case` keeps some).
    fn cases(
        &self,
        x86_all: &[(String, String)],
        arm_all: Vec<(String, String)>,
        cp: &(String, String),
        arm_cp: &(String, String),
    ) -> Vec<Case> {
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
                x86_all.to_vec(),
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
                x86_all.to_vec(),
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
        cases
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

/// The main table: each case built each way, `reps` rounds, each round in a
/// rotated order; after each case cibuildwheel's wheels and this tool's are
/// compared. Returns each one-interpreter case's `wheels --jobs 1` median,
/// for the emulation factors.
#[allow(clippy::too_many_arguments)]
fn main_table(
    report: &mut String,
    cases: &[Case],
    ways: &[Way],
    reps: usize,
    xtask: &Utf8Path,
    cibuildwheel: &Utf8Path,
    engine: &Engine,
    work: &Utf8Path,
) -> Result<Vec<Emulation>> {
    let mut emulation = Vec::new();
    for case in cases {
        let inputs = inputs(case.package, work)?;
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); ways.len()];
        for rep in 0..reps {
            // Each round in another order: no way always runs right
            // after the same other (whose clean-up may still run).
            for k in 0..ways.len() {
                let i = (k + rep) % ways.len();
                let way = &ways[i];
                // One core: `--jobs N` is `--jobs 1`, measured once; the
                // native compiler only changes emulated builds.
                if ways[..i].contains(way)
                    || (*way == Way::NativeCompiler && !case.arches.contains(&Arch::Aarch64))
                {
                    continue;
                }
                let t = measure(xtask, cibuildwheel, engine, work, case, &inputs, *way, i)
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
        same_wheels(&work.join("out-1"), &work.join("out-2"))
            .with_context(|| format!("{}: cibuildwheel's wheels against this tool's", case.name))?;
        if case.arches.len() == 1 && case.pythons.len() == 1 {
            let native_compiler = ways
                .iter()
                .position(|w| *w == Way::NativeCompiler)
                .filter(|&i| !times[i].is_empty())
                .map(|i| median(&times[i]));
            emulation.push(Emulation {
                package: case.package,
                arch: case.arches[0],
                wheels: median(&times[2]),
                native_compiler,
            });
        }
    }
    Ok(emulation)
}

/// A one-interpreter case's `wheels --jobs 1` median, and with
/// `--native-compiler` where that was measured.
struct Emulation {
    package: Package,
    arch: Arch,
    wheels: Duration,
    native_compiler: Option<Duration>,
}

/// For each package measured on one interpreter natively and emulated: how
/// many times slower the emulated build was (`wheels --jobs 1`).
fn emulation_factors(report: &mut String, emulation: &[Emulation], cp: &str) -> Result<()> {
    writeln!(report)?;
    for package in [Package::Demo, Package::Heavy] {
        let find = |arch| {
            emulation
                .iter()
                .find(|e| e.package == package && e.arch == arch)
        };
        if let (Some(x86), Some(arm)) = (find(Arch::X86_64), find(Arch::Aarch64)) {
            let name = if package == Package::Demo {
                "demo"
            } else {
                "heavy"
            };
            let (x86, wheels) = (x86.wheels, arm.wheels);
            writeln!(report, "Emulation factor ({name}, {}, `wheels --jobs 1`): aarch64 {} / x86_64 {} = **{:.1}x**.\n", cp, secs(wheels), secs(x86), ratio(wheels, x86))?;
            if let Some(native) = arm.native_compiler {
                writeln!(report, "With the native compiler ({name}, {}, `wheels --jobs 1 --native-compiler`): aarch64 {} / x86_64 {} = **{:.1}x**.\n", cp, secs(native), secs(x86), ratio(native, x86))?;
            }
        }
    }
    Ok(())
}
