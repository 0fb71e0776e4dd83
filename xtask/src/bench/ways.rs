//! The ways one case is built (this tool, the old scripts' way,
//! cibuildwheel), the inputs and images they share, and what checks them.

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use super::report::median;
use super::{Case, Inputs, Package, Way, CIBUILDWHEEL};
use crate::engine::Engine;
use crate::platform::Arch;
use crate::{standin, util};

pub(super) fn inputs(package: Package, work: &Utf8Path) -> Result<Inputs> {
    let (name, root, package, include) = match (package, package.folder()) {
        (Package::Heavy, _) | (_, None) => ("heavy", work.join("heavy"), "heavy", vec![]),
        (Package::Demo, Some(folder)) => (
            "demo",
            util::project_root(),
            folder,
            vec!["demo/native", "README.md"],
        ),
        // demo/cython: cython.toml.
        (_, Some(folder)) => (
            folder.rsplit('/').next().unwrap_or(folder),
            util::project_root(),
            folder,
            vec![],
        ),
    };
    let config = work.join(format!("{name}.toml"));
    let list: Vec<String> = include.iter().map(|i| format!("\"{i}\"")).collect();
    let images: String = Arch::ALL
        .iter()
        .map(|&a| format!("{a} = \"{}\"\n", bench_image_ref(a)))
        .collect();
    std::fs::write(
        &config,
        format!(
            "[workspace.metadata.wheels]\nroot = \"{root}\"\npackage = \"{package}\"\ninclude = [{}]\n[workspace.metadata.wheels.images]\n{images}[workspace.metadata.wheels.musllinux-images]\nx86_64 = \"{}\"\n",
            list.join(", "),
            standin::MUSLLINUX,
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
pub(super) fn bench_image_ref(arch: Arch) -> String {
    format!("xtask-bench:{arch}")
}

pub(super) fn bench_image(engine: &Engine, arch: Arch) -> Result<()> {
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
pub(super) fn install_cibuildwheel(work: &Utf8Path) -> Result<Utf8PathBuf> {
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
pub(super) fn cibuildwheel(
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
pub(super) fn same_wheels(a: &Utf8Path, b: &Utf8Path) -> Result<()> {
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
pub(super) fn generate_heavy(dir: &Utf8Path, files: usize) -> Result<()> {
    let pkg = dir.join("heavy");
    // Exactly `files` files: none left from a run with more.
    let _ = std::fs::remove_dir_all(pkg.join("src"));
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
pub(super) fn measure(
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
        Way::Wheels(_) | Way::NativeCompiler | Way::Musllinux | Way::EmulatedPython => {
            let jobs = match way {
                Way::Wheels(jobs) => jobs,
                _ => 1,
            };
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
            match way {
                Way::NativeCompiler => cmd.arg("--native-compiler"),
                Way::Musllinux => cmd.args(["--libc", "musllinux"]),
                Way::EmulatedPython => cmd.arg("--no-cross-environment"),
                _ => &mut cmd,
            };
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
pub(super) fn baseline(
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

pub(super) fn ids() -> (String, String) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(util::project_root()).ok();
    (
        m.as_ref().map(|m| m.uid()).unwrap_or(0).to_string(),
        m.map(|m| m.gid()).unwrap_or(0).to_string(),
    )
}

pub(super) fn run_quiet(cmd: &mut Command) -> Result<()> {
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
pub(super) fn image_ids(sh: &Shell) -> Result<Vec<String>> {
    let out = xshell::cmd!(sh, "docker images --all --quiet --no-trunc")
        .quiet()
        .read()?;
    let mut ids: Vec<String> = out.lines().map(String::from).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The stand-in images, as images a user's config names, for `prep` and `arm-image`.
pub(super) fn bench_config(work: &Utf8Path) -> Result<Utf8PathBuf> {
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
pub(super) fn cold_build(work: &Utf8Path, reps: usize) -> Result<Duration> {
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

/// The wheels in `out` (SHA256SUMS and manifest.json land beside them).
pub(super) fn count_wheels(out: &Utf8Path) -> Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(out)? {
        n += usize::from(e?.file_name().to_string_lossy().ends_with(".whl"));
    }
    Ok(n)
}
