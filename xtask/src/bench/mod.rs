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
    /// `cargo xtask wheels --jobs 1 --libc musllinux`, in the musllinux stand-in.
    Musllinux,
    /// `cargo xtask wheels --jobs 1 --no-cross-environment` (emulated arches):
    /// the build's Python emulated, as before the cross environment.
    EmulatedPython,
}

impl Way {
    fn name(self) -> String {
        match self {
            Way::Baseline => "baseline (docker run per interpreter)".into(),
            Way::Wheels(n) => format!("wheels --jobs {n}"),
            Way::Cibuildwheel => format!("cibuildwheel {CIBUILDWHEEL}"),
            Way::NativeCompiler => "wheels --jobs 1 --native-compiler".into(),
            Way::Musllinux => "wheels --jobs 1 --libc musllinux".into(),
            Way::EmulatedPython => "wheels --jobs 1 --no-cross-environment".into(),
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
    /// The ways it is built.
    ways: Vec<Way>,
}

#[derive(Clone, Copy, PartialEq)]
enum Package {
    Demo,
    Heavy,
    /// demo/cython: setuptools and Cython.
    Cython,
    /// demo/cmake: scikit-build-core, cmake, ninja and Cython.
    Cmake,
    /// demo/meson: meson-python, meson and ninja.
    Meson,
}

impl Package {
    fn name(self) -> &'static str {
        match self {
            Package::Demo => "demo",
            Package::Heavy => "heavy",
            Package::Cython => "Cython (setuptools)",
            Package::Cmake => "cmake + ninja + Cython",
            Package::Meson => "meson + ninja",
        }
    }

    /// Its folder in this repository, for the ones there.
    fn folder(self) -> Option<&'static str> {
        match self {
            Package::Demo => Some("demo/python"),
            Package::Heavy => None,
            Package::Cython => Some("demo/cython"),
            Package::Cmake => Some("demo/cmake"),
            Package::Meson => Some("demo/meson"),
        }
    }
}

/// Where a case's sources are, as `wheels` and the baseline each take them.
struct Inputs {
    root: Utf8PathBuf,
    package: &'static str,
    include: Vec<&'static str>,
    /// The `--config` that names them and the bench images.
    config: Utf8PathBuf,
}

/// The interpreters (python tag, folder) the bench's cases build, as the
/// stand-ins offer them: x86_64's and aarch64's without the free-threaded
/// CPython cibuildwheel refuses, x86_64's every one, each one's first
/// CPython, and the CPythons every stand-in has.
struct Pythons<'a> {
    x86_all: &'a [(String, String)],
    x86_every: Vec<(String, String)>,
    arm_all: Vec<(String, String)>,
    cp: &'a (String, String),
    arm_cp: &'a (String, String),
    common: &'a [(String, String)],
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
        if self.case.contains(&BenchCase::DemoMusllinux) {
            standin::ensure_musllinux(sh, &engine, &quiet, Arch::X86_64)?;
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

        // The interpreters each stand-in offers, as `wheels --standin --py
        // all` decides them for the demo (matrix's selection): one CPython,
        // and all of them.
        let demo = crate::config::Config::load(&util::project_root().join("Cargo.toml"))
            .map_err(util::usage)?;
        let offered = |arch: Arch| -> Result<Vec<(PythonTag, String)>> {
            let select = flags::Select {
                arch: vec![arch.name().to_string()],
                libc: Some("manylinux".into()),
                py: Some("all".into()),
                standin: true,
                ..Default::default()
            };
            let builds = crate::matrix::selected_builds(sh, &quiet, &select, &demo)?;
            Ok(builds.into_iter().map(|b| (b.id.python, b.dir)).collect())
        };
        let listed = Arch::ALL
            .into_iter()
            .map(|arch| offered(arch).map(|all| (arch, all)))
            .collect::<Result<Vec<_>>>()?;
        // Every way builds the same interpreters, and cibuildwheel 4
        // refuses a free-threaded CPython before 3.14 (cp313t): left out
        // but in the case of every interpreter, which it sits out.
        let of = |arch, with_cp313t: bool| {
            listed
                .iter()
                .find(|(a, _)| *a == arch)
                .expect("every arch listed")
                .1
                .iter()
                .filter(|(python, _)| {
                    with_cp313t
                        || !matches!(
                            python,
                            PythonTag::CPython {
                                minor: ..=13,
                                free_threaded: true
                            }
                        )
                })
                .map(|(python, dir)| (python.to_string(), dir.clone()))
                .collect::<Vec<_>>()
        };
        let x86_every = of(Arch::X86_64, true);
        let (x86_all, arm_all) = (of(Arch::X86_64, false), of(Arch::Aarch64, false));
        let first_cp = |all: &[(String, String)]| {
            all.iter()
                .find(|(t, _)| t.starts_with("cp"))
                .cloned()
                .context("a stand-in offers no CPython")
        };
        let (cp, arm_cp) = (first_cp(&x86_all)?, first_cp(&arm_all)?);
        // The CPythons every stand-in has, in x86_64's order.
        let mut common: Vec<(String, String)> = x86_all
            .iter()
            .filter(|(t, _)| t.starts_with("cp"))
            .cloned()
            .collect();
        for &(arch, _) in &listed {
            let there = of(arch, false);
            common.retain(|p| there.contains(p));
        }
        let ways = vec![
            Way::Baseline,
            Way::Cibuildwheel,
            Way::Wheels(1),
            Way::Wheels(cores),
            Way::NativeCompiler,
        ];
        let pythons = Pythons {
            x86_all: &x86_all,
            x86_every,
            arm_all,
            cp: &cp,
            arm_cp: &arm_cp,
            common: &common,
        };
        let cases = self.cases(pythons, &ways);

        let mut report = self.report_head(&machine(sh))?;
        let emulation = main_table(
            &mut report,
            &cases,
            reps,
            &xtask,
            &cibuildwheel,
            &engine,
            &work,
        )?;
        emulation_factors(&mut report, &emulation, &cp.0)?;
        musllinux_factor(&mut report, &emulation)?;
        arch_table(&mut report, &emulation, &cp.0)?;

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
    fn cases(&self, pythons: Pythons, ways: &[Way]) -> Vec<Case> {
        let Pythons {
            x86_all,
            x86_every,
            arm_all,
            cp,
            arm_cp,
            common,
        } = pythons;
        let all_name = format!("all {}", x86_all.len());
        let case = |key,
                    package: Package,
                    name: &str,
                    arches: Vec<Arch>,
                    pythons: Vec<(String, String)>| {
            // The native compiler only changes emulated builds.
            let emulated = arches.iter().any(|a| !a.is_native_here());
            Case {
                key,
                name: format!("{}, {name}", package.name()),
                package,
                arches,
                pythons,
                ways: ways
                    .iter()
                    .copied()
                    .filter(|w| *w != Way::NativeCompiler || emulated)
                    .collect(),
            }
        };
        let how = |arch: Arch| match arch.is_native_here() {
            true => arch.name().to_string(),
            false => format!("{arch} (emulated)"),
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
        // Every interpreter, the free-threaded one too: cibuildwheel sits it out.
        let mut every = case(
            BenchCase::HeavyEvery,
            Package::Heavy,
            &format!("x86_64, every {}", x86_every.len()),
            vec![Arch::X86_64],
            x86_every,
        );
        every.ways.retain(|w| *w != Way::Cibuildwheel);
        cases.push(every);
        if self.heavy_arm || self.case.contains(&BenchCase::HeavyArm) {
            cases.push(case(
                BenchCase::HeavyArm,
                Package::Heavy,
                &format!("aarch64 (emulated), {}", arm_cp.0),
                vec![Arch::Aarch64],
                vec![arm_cp.clone()],
            ));
        }
        // Each arch, one CPython, cibuildwheel's way beside this tool's (the
        // old scripts' way is left out: minutes per emulated build).
        for arch in Arch::ALL {
            let mut c = case(
                BenchCase::DemoArches,
                Package::Demo,
                &format!("{}, {}", how(arch), cp.0),
                vec![arch],
                vec![cp.clone()],
            );
            c.ways
                .retain(|w| matches!(w, Way::Cibuildwheel | Way::Wheels(1) | Way::NativeCompiler));
            if !arch.is_native_here() {
                c.ways.push(Way::EmulatedPython);
            }
            cases.push(c);
        }
        // The heavy package: x86_64, and each emulated arch with the native compiler.
        for arch in Arch::ALL.into_iter().filter(|&a| a != Arch::I686) {
            let mut c = case(
                BenchCase::HeavyArches,
                Package::Heavy,
                &format!("{}, {}", how(arch), cp.0),
                vec![arch],
                vec![cp.clone()],
            );
            c.ways.retain(|w| match arch.is_native_here() {
                true => *w == Way::Wheels(1),
                false => *w == Way::NativeCompiler,
            });
            cases.push(c);
        }
        // The packages whose build runs Cython, cmake, ninja or meson from
        // PyPI: each arch, one CPython, this tool's ways against x86_64's.
        for (key, package) in [
            (BenchCase::CythonArches, Package::Cython),
            (BenchCase::CmakeArches, Package::Cmake),
            (BenchCase::MesonArches, Package::Meson),
        ] {
            for arch in Arch::ALL {
                let mut c = case(
                    key,
                    package,
                    &format!("{}, {}", how(arch), cp.0),
                    vec![arch],
                    vec![cp.clone()],
                );
                c.ways = match arch.is_native_here() {
                    true => vec![Way::Wheels(1)],
                    false => vec![Way::Wheels(1), Way::EmulatedPython, Way::NativeCompiler],
                };
                cases.push(c);
            }
        }
        let mut all = case(
            BenchCase::AllArches,
            Package::Demo,
            &format!(
                "all {} arches, {}",
                Arch::COUNT,
                common
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            Arch::ALL.to_vec(),
            common.to_vec(),
        );
        all.ways
            .retain(|w| matches!(w, Way::Cibuildwheel | Way::Wheels(_)));
        cases.push(all);
        let mut musl = case(
            BenchCase::DemoMusllinux,
            Package::Demo,
            &format!("x86_64, {}, manylinux and musllinux", cp.0),
            vec![Arch::X86_64],
            vec![cp.clone()],
        );
        musl.ways = vec![Way::Wheels(1), Way::Musllinux];
        cases.push(musl);
        match self.case.is_empty() {
            // The per-arch cases take an hour under emulation, and heavy-every
            // is heavy-all with one more interpreter: asked for by name.
            true => cases.retain(|c| {
                !matches!(
                    c.key,
                    BenchCase::DemoArches
                        | BenchCase::HeavyEvery
                        | BenchCase::HeavyArches
                        | BenchCase::CythonArches
                        | BenchCase::CmakeArches
                        | BenchCase::MesonArches
                        | BenchCase::AllArches
                        | BenchCase::DemoMusllinux
                )
            }),
            false => cases.retain(|c| self.case.contains(&c.key)),
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

/// The main table: each case built each of its ways, `reps` rounds, each
/// round in a rotated order; after each case cibuildwheel's wheels and this
/// tool's are compared. Returns each one-arch, one-interpreter case's
/// medians, for the emulation factors and the table of arches.
fn main_table(
    report: &mut String,
    cases: &[Case],
    reps: usize,
    xtask: &Utf8Path,
    cibuildwheel: &Utf8Path,
    engine: &Engine,
    work: &Utf8Path,
) -> Result<Vec<Emulation>> {
    let mut emulation = Vec::new();
    for case in cases {
        let inputs = inputs(case.package, work)?;
        let ways = &case.ways;
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); ways.len()];
        for rep in 0..reps {
            // Each round in another order: no way always runs right
            // after the same other (whose clean-up may still run).
            for k in 0..ways.len() {
                let i = (k + rep) % ways.len();
                let way = &ways[i];
                // One core: `--jobs N` is `--jobs 1`, measured once.
                if ways[..i].contains(way) {
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
        let of = |way: Way| {
            ways.iter()
                .position(|w| *w == way)
                .filter(|&i| !times[i].is_empty())
                .map(|i| median(&times[i]))
        };
        let against = |m: Duration, other: Option<Duration>| {
            other.map_or("-".to_string(), |o| format!("{:.2}", ratio(m, o)))
        };
        let (base, cibw) = (of(Way::Baseline), of(Way::Cibuildwheel));
        for (i, way) in ways.iter().enumerate() {
            if times[i].is_empty() {
                continue;
            }
            let m = median(&times[i]);
            writeln!(
                report,
                "| {} | {} | {} | {} | {} |",
                case.name,
                way.name(),
                secs(m),
                against(m, base),
                against(m, cibw)
            )?;
        }
        let out = |way: Way| {
            ways.iter()
                .position(|w| *w == way)
                .map(|i| work.join(format!("out-{i}")))
        };
        if let (Some(theirs), Some(ours)) = (out(Way::Cibuildwheel), out(Way::Wheels(1))) {
            same_wheels(&theirs, &ours).with_context(|| {
                format!("{}: cibuildwheel's wheels against this tool's", case.name)
            })?;
        }
        if let (Some(emulated), Some(cross)) = (out(Way::EmulatedPython), out(Way::Wheels(1))) {
            same_wheels(&emulated, &cross).with_context(|| {
                format!(
                    "{}: the wheels of the emulated Python against the cross environment's",
                    case.name
                )
            })?;
        }
        if case.arches.len() == 1 && case.pythons.len() == 1 {
            emulation.push(Emulation {
                package: case.package,
                arch: case.arches[0],
                wheels: of(Way::Wheels(1)),
                native_compiler: of(Way::NativeCompiler),
                musllinux: of(Way::Musllinux),
                emulated_python: of(Way::EmulatedPython),
                cibuildwheel: cibw,
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
    wheels: Option<Duration>,
    native_compiler: Option<Duration>,
    /// `wheels --jobs 1 --libc musllinux`, where measured.
    musllinux: Option<Duration>,
    /// `wheels --jobs 1 --no-cross-environment`, where measured.
    emulated_python: Option<Duration>,
    cibuildwheel: Option<Duration>,
}

/// How much longer the musllinux build took than the manylinux one, side
/// by side, where both were measured.
fn musllinux_factor(report: &mut String, emulation: &[Emulation]) -> Result<()> {
    for e in emulation {
        if let (Some(many), Some(musl)) = (e.wheels, e.musllinux) {
            writeln!(
                report,
                "musllinux against manylinux on {} (`wheels --jobs 1`, the demo, each in its stand-in): {} against {}, **{:.2}x**.\n",
                e.arch,
                secs(musl),
                secs(many),
                ratio(musl, many)
            )?;
        }
    }
    Ok(())
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
        if let (Some(x86), Some(arm)) = (
            find(Arch::X86_64).and_then(|e| e.wheels),
            find(Arch::Aarch64).filter(|e| e.wheels.is_some()),
        ) {
            let name = package.name();
            let wheels = arm.wheels.expect("measured");
            writeln!(report, "Emulation factor ({name}, {}, `wheels --jobs 1`): aarch64 {} / x86_64 {} = **{:.1}x**.\n", cp, secs(wheels), secs(x86), ratio(wheels, x86))?;
            if let Some(native) = arm.native_compiler {
                writeln!(report, "With the native compiler ({name}, {}, `wheels --jobs 1 --native-compiler`): aarch64 {} / x86_64 {} = **{:.1}x**.\n", cp, secs(native), secs(x86), ratio(native, x86))?;
            }
        }
    }
    Ok(())
}

/// One row per arch: the one-CPython build of the demo, and of the Cython,
/// cmake and meson packages, this tool's way (with and without the cross
/// environment and the native compiler) and cibuildwheel's where measured,
/// each against x86_64's `wheels --jobs 1`; then the heavy package with the
/// native compiler against x86_64's.
fn arch_table(report: &mut String, emulation: &[Emulation], cp: &str) -> Result<()> {
    let rows = |package: Package| -> Vec<&Emulation> {
        Arch::ALL
            .into_iter()
            .filter_map(|a| {
                emulation
                    .iter()
                    .rev()
                    .find(|e| e.package == package && e.arch == a)
            })
            .collect()
    };
    let x86 = |package| {
        rows(package)
            .into_iter()
            .find(|e| e.arch == Arch::X86_64)
            .and_then(|e| e.wheels)
    };
    let cell = |d: Option<Duration>| d.map_or("-".to_string(), secs);
    let times = |d: Option<Duration>, of: Option<Duration>| match (d, of) {
        (Some(d), Some(of)) => format!("{:.1}x", ratio(d, of)),
        _ => "-".to_string(),
    };
    for package in [
        Package::Demo,
        Package::Cython,
        Package::Cmake,
        Package::Meson,
    ] {
        let Some(x86) = x86(package) else { continue };
        let rows = rows(package);
        if rows.len() <= 2 {
            continue;
        }
        if package == Package::Demo {
            writeln!(report, "The demo, {cp}, `--no-test`, per arch (i686 natively, the others under QEMU on this x86_64 machine): this tool's `wheels --jobs 1` (the build's Python native, in the cross environment), with `--no-cross-environment` (its Python emulated), with `--native-compiler`, and cibuildwheel {CIBUILDWHEEL} (QEMU's default CPU model, the image's pip, gcc emulated), each against x86_64's `wheels --jobs 1`.\n")?;
        } else {
            writeln!(report, "The {} package (`{}`), {cp}, `--no-test`, per arch, the same ways but cibuildwheel's: its build requirements (Cython; scikit-build-core, cmake, ninja; meson-python, meson) come from the stand-ins' wheelhouse, on the emulated arches also x86_64's for the cross environment.\n", package.name(), package.folder().unwrap_or_default())?;
        }
        writeln!(report, "| arch | wheels --jobs 1 | to x86_64 | --no-cross-environment | to x86_64 | --native-compiler | to x86_64 | cibuildwheel | to x86_64 | wheels / cibuildwheel |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        for e in rows {
            let x = Some(x86);
            writeln!(
                report,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                e.arch,
                cell(e.wheels),
                times(e.wheels, x),
                cell(e.emulated_python),
                times(e.emulated_python, x),
                cell(e.native_compiler),
                times(e.native_compiler, x),
                cell(e.cibuildwheel),
                times(e.cibuildwheel, x),
                match (e.wheels, e.cibuildwheel) {
                    (Some(w), Some(c)) => format!("{:.2}", ratio(w, c)),
                    _ => "-".to_string(),
                }
            )?;
        }
        writeln!(report)?;
    }
    let heavy = rows(Package::Heavy);
    if let (Some(x86), true) = (x86(Package::Heavy), heavy.len() > 2) {
        writeln!(report, "The heavy package, {cp}, `--no-test`, with `--native-compiler` on each emulated arch, against x86_64's `wheels --jobs 1`.\n")?;
        writeln!(report, "| arch | time | to x86_64 |\n|---|---:|---:|")?;
        for e in heavy.into_iter().filter(|e| e.arch != Arch::X86_64) {
            writeln!(
                report,
                "| {} (--native-compiler) | {} | {} |",
                e.arch,
                cell(e.native_compiler),
                times(e.native_compiler, Some(x86))
            )?;
        }
        writeln!(report)?;
    }
    Ok(())
}
