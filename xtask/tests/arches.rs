//! Every arch from one x86_64 machine, on the stand-ins: i686 natively,
//! the others under QEMU with the native helpers.

mod support;

use std::path::Path;

use support::*;

/// The arches, each with its ELF machine, class (1: 32-bit, 2: 64-bit) and
/// byte order (1: little, 2: big), as the wheels' shared objects must have them.
const ARCHES: &[(&str, u16, u8, u8)] = &[
    ("x86_64", 62, 2, 1),
    ("i686", 3, 1, 1),
    ("aarch64", 183, 2, 1),
    ("ppc64le", 21, 2, 1),
    ("s390x", 22, 2, 2),
    ("armv7l", 40, 1, 1),
    ("riscv64", 243, 2, 1),
];

/// The first CPython of the stand-in of `arch` (the emulated ones offer one).
fn first_cpython(arch: &str) -> String {
    gil_cpythons(arch)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("the {arch} stand-in offers no CPython"))
}

/// Every `.so` of `wheel`: its name, e_machine, class and byte order, read
/// from its ELF header by the host's Python.
fn shared_objects(wheel: &Path) -> Vec<(String, u16, u8, u8)> {
    let script = r#"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if ".so" in n.rsplit("/", 1)[-1]:
        b = z.read(n)[:20]
        order = "little" if b[5] == 1 else "big"
        print(n, int.from_bytes(b[18:20], order), b[4], b[5])
"#;
    let run = sh("python3", &["-c", script, wheel.to_str().unwrap()]).ok();
    run.stdout
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (
                w[0].to_string(),
                w[1].parse().unwrap(),
                w[2].parse().unwrap(),
                w[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_arch_in_one_run_each_in_its_own_container() {
    let (_serial, inv) = on_x86_64_standin();
    for (arch, ..) in ARCHES {
        standin(&["--arch", arch]);
    }
    // The CPython every stand-in has (the emulated ones offer one).
    let py = first_cpython("riscv64");
    // From no kept native uv, as on a fresh clone: the emulated arches'
    // builds all ask for it at once, and one fetch serves them. The kept
    // one is moved aside, not removed: the other test stream's containers
    // may have it mounted (the folder moved stays theirs). What earlier
    // suites moved aside goes now.
    let native = root().join("target/xtask/native");
    for entry in std::fs::read_dir(&native).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("moved-uv-") {
            std::fs::remove_dir_all(entry.path()).unwrap();
        }
    }
    for entry in std::fs::read_dir(native.join("x86_64"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("uv-") {
            let aside = native.join(format!("moved-{name}-{}", std::process::id()));
            std::fs::rename(entry.path(), aside).unwrap();
        }
    }
    let out = TempDir::new("all-arches");
    let (run, logs) = xtask_logged(&[
        "wheels",
        "--standin",
        "--arch",
        "all",
        "--py",
        &py,
        "--out",
        out.str(),
    ]);
    let run = run.ok();
    inv.check();
    let wheels = wheels_in(out.path());
    assert_eq!(wheels.len(), ARCHES.len(), "{wheels:?}");
    for &(arch, machine, class, order) in ARCHES {
        // Its own container, of its own stand-in, natively only for
        // x86_64 and i686.
        assert_has(
            &run.stderr,
            &format!("starting a container of xtask-standin:{arch} on docker"),
        );
        let how = match arch {
            "x86_64" | "i686" => "(native)".to_string(),
            _ => "(emulated, ".to_string(),
        };
        if how != "(native)" {
            let line = run
                .stdout
                .lines()
                .find(|l| l.starts_with(&format!("{arch}: ")))
                .unwrap_or_else(|| panic!("no {arch} line in the summary"));
            assert_has(line, "environments made by the native uv");
        }
        assert_has(
            &run.stdout,
            &format!("{arch}: xtask-standin:{arch} on docker {how}"),
        );
        for tag in py.split(',') {
            let id = format!("{tag}-manylinux_{arch}");
            let wheel = wheels
                .iter()
                .find(|w| {
                    w.contains(&format!("-{tag}-{tag}-")) && w.ends_with(&format!("_{arch}.whl"))
                })
                .unwrap_or_else(|| panic!("no {id} wheel: {wheels:?}"));
            // Repaired for this arch's policy, every tag of this arch.
            let plats = wheel.trim_end_matches(".whl").rsplit('-').next().unwrap();
            assert!(
                plats.split('.').all(|p| p.ends_with(&format!("_{arch}"))),
                "{wheel}"
            );
            assert!(plats.contains(&format!("manylinux_2_41_{arch}")), "{wheel}");
            let objects = shared_objects(&out.path().join(wheel));
            assert!(
                objects
                    .iter()
                    .any(|(n, ..)| n.starts_with("democodec/_native")),
                "{wheel}: {objects:?}"
            );
            assert!(
                objects
                    .iter()
                    .any(|(n, ..)| n.starts_with("demo_codec.libs/libbz2")),
                "{wheel}: libbz2 not grafted: {objects:?}"
            );
            for (name, m, c, o) in &objects {
                assert_eq!((*m, *c, *o), (machine, class, order), "{wheel}: {name}");
            }
            // The tests ran, in that arch's container: the extension they
            // import is of that machine (s390x's big-endian).
            let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
            assert!(
                log.lines().any(|l| l.contains(" passed in ")),
                "no pytest summary for {id}:\n{log}"
            );
        }
    }
    // i686 builds under linux32, as manylinux's entrypoint runs them: the
    // build's platform is i686, not the kernel's x86_64.
    let log = std::fs::read_to_string(logs.join(format!(
        "{}-manylinux_i686.log",
        py.split(',').next().unwrap()
    )))
    .unwrap();
    assert!(
        log.contains("linux-i686") && !log.contains("linux-x86_64"),
        "the i686 build saw x86_64:\n{log}"
    );

    // verify, as CI's gather job runs it: the build's folder and an sdist's
    // gathered into one folder with one SHA256SUMS, every wheel checked
    // with auditwheel in a stand-in of its arch, the sdist as pip reads it.
    let sdist = TempDir::new("all-arches-sdist");
    sh(
        "python3",
        &[
            "-c",
            "import io, sys, tarfile\nwith tarfile.open(sys.argv[1] + '/demo_codec-0.1.0.tar.gz', 'w:gz') as t:\n    for name, text in [('PKG-INFO', 'Metadata-Version: 2.1\\nName: demo-codec\\nVersion: 0.1.0\\n'), ('pyproject.toml', '[build-system]\\n')]:\n        data = text.encode()\n        info = tarfile.TarInfo('demo_codec-0.1.0/' + name)\n        info.size = len(data)\n        t.addfile(info, io.BytesIO(data))",
            sdist.str(),
        ],
    )
    .ok();
    let gathered = TempDir::new("all-arches-dist");
    let dist = gathered.path().join("dist");
    let before = snapshot(out.path());
    let verified = xtask(&[
        "verify",
        out.str(),
        sdist.str(),
        "--into",
        dist.to_str().unwrap(),
        "--standin",
    ])
    .ok();
    assert!(!verified.stdout.contains("FAIL"), "{}", verified.stdout);
    for wheel in &wheels {
        assert_has(&verified.stdout, &format!("ok    {wheel} (sha256, manifest.json, RECORD, tags, auditwheel in a manylinux image)"));
    }
    assert_has(
        &verified.stdout,
        "ok    demo_codec-0.1.0.tar.gz (sha256, manifest.json, PKG-INFO (demo-codec 0.1.0))",
    );
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), wheels.len() + 1, "{sums}");
    assert_eq!(snapshot(out.path()), before, "the build's folder changed");
    // matrix lists every arch's builds from its image, as wheels selected them.
    let matrix = xtask(&["matrix", "--standin", "--arch", "all", "--py", &py]).ok();
    let mut listed: Vec<&str> = matrix.stdout.lines().collect();
    listed.sort();
    let mut built: Vec<String> = ARCHES
        .iter()
        .flat_map(|(arch, ..)| {
            py.split(',')
                .map(move |tag| format!("{tag}-manylinux_{arch}"))
        })
        .collect();
    built.sort();
    assert_eq!(listed, built);

    // --native-compiler on every emulated arch of this machine but aarch64
    // (e2e's own test): the same wheels as the image's gcc, tests passing.
    let emulated = ["ppc64le", "s390x", "armv7l", "riscv64"];
    let first = py.split(',').next().unwrap();
    let clang = TempDir::new("all-arches-clang");
    let (run, logs) = xtask_logged(&[
        "wheels",
        "--standin",
        "--arch",
        &emulated.join(","),
        "--py",
        first,
        "--native-compiler",
        "--out",
        clang.str(),
    ]);
    let run = run.ok();
    inv.check();
    let gcc = TempDir::new("all-arches-gcc");
    for wheel in wheels_in(out.path()) {
        if wheel.contains(&format!("-{first}-"))
            && emulated
                .iter()
                .any(|a| wheel.ends_with(&format!("_{a}.whl")))
        {
            std::fs::copy(out.path().join(&wheel), gcc.path().join(&wheel)).unwrap();
        }
    }
    let names = wheels_in(gcc.path());
    assert_eq!(
        names,
        wheels_in(clang.path()),
        "the two builds' wheel names (their tags) differ"
    );
    let facts =
        |dir: &TempDir| wheel_facts(&names.iter().map(|n| dir.path().join(n)).collect::<Vec<_>>());
    let (a, b) = (facts(&gcc), facts(&clang));
    assert_eq!(a.len(), emulated.len(), "{a:?}");
    assert_eq!(a, b, "the native clang's wheels differ from gcc's");
    for arch in emulated {
        let id = format!("{first}-manylinux_{arch}");
        let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
        let target = match arch {
            "ppc64le" => "powerpc64le-unknown-linux-gnu",
            "s390x" => "s390x-unknown-linux-gnu",
            "armv7l" => "armv7-unknown-linux-gnueabihf",
            _ => "riscv64-unknown-linux-gnu",
        };
        assert_has(&log, "==> compiler: the native clang ");
        assert_has(&log, &format!(" for {target} (--native-compiler)"));
        assert!(
            log.lines().any(|l| l.contains(" passed in ")),
            "no pytest summary for {id}:\n{log}"
        );
        assert_has(
            &run.stdout,
            &format!("{arch}: xtask-standin:{arch} on docker (emulated, "),
        );
    }
}

/// The cross environment changes nothing but time: on the emulated arches
/// other than aarch64 (trust.rs compares that one), big-endian s390x and
/// 32-bit armv7l among them, the wheel whose frontend and backend ran in
/// the native CPython of the x86_64 stand-in is byte-identical to the one
/// `--full-emulation` builds with all of it emulated; the run and each
/// build's log say which ran how, and the dry run copies the native CPython
/// in, which `cross-environment = false` turns off.
#[test]
fn the_cross_environment_builds_the_bytes_full_emulation_builds() {
    let (_serial, inv) = on_x86_64_standin();
    let arches = ["ppc64le", "s390x", "armv7l", "riscv64"];
    for arch in arches {
        standin(&["--arch", arch]);
    }
    let py = first_cpython("riscv64");
    let dir = format!("{py}-{py}");
    let list = arches.join(",");
    let build = |extra: &[&str], out: &TempDir| {
        let mut args = vec![
            "wheels",
            "--standin",
            "--arch",
            &list,
            "--py",
            &py,
            "--no-test",
        ];
        args.extend(extra);
        args.extend(["--out", out.str()]);
        xtask_logged(&args)
    };
    let cross = TempDir::new("cross");
    let (run, cross_logs) = build(&[], &cross);
    let run = run.ok();
    let full = TempDir::new("full-emulation");
    let (full_run, full_logs) = build(&["--full-emulation"], &full);
    let full_run = full_run.ok();
    inv.check();
    for arch in arches {
        assert_has(
            &run.stderr,
            &format!("==> {arch}: the build frontend and backend of {dir} run in the native CPython of `xtask-standin:x86_64` (cross environment)"),
        );
        let log = |logs: &Path| {
            std::fs::read_to_string(logs.join(format!("{py}-manylinux_{arch}.log"))).unwrap()
        };
        assert_has(
            &log(&cross_logs),
            &format!("), configured for {arch} (cross environment)"),
        );
        // auditwheel too, told the target: it repaired for the arch.
        assert_has(
            &log(&cross_logs),
            "\n==> repair: the image's auditwheel, run by the native CPython (cross environment)\n",
        );
        let tags = log(&cross_logs)
            .lines()
            .find_map(|l| l.strip_prefix("INFO:auditwheel.wheeltools:New filename tags: "))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{arch}: no tags from auditwheel"));
        assert!(
            tags.split(", ").all(|t| t.ends_with(&format!("_{arch}")))
                && tags.contains(&format!("manylinux_2_41_{arch}")),
            "{arch}: {tags}"
        );
        assert!(
            !log(&full_logs).contains("cross environment"),
            "{}",
            log(&full_logs)
        );
    }
    assert!(
        !full_run.stderr.contains("native CPython"),
        "{}",
        full_run.stderr
    );
    let wheels = wheels_in(cross.path());
    assert_eq!(wheels.len(), arches.len(), "{wheels:?}");
    assert_eq!(wheels, wheels_in(full.path()));
    for wheel in &wheels {
        assert!(
            std::fs::read(cross.path().join(wheel)).unwrap()
                == std::fs::read(full.path().join(wheel)).unwrap(),
            "{wheel} differs between the cross environment and --full-emulation"
        );
    }

    // A package whose build compiles a generator and runs it, and bakes
    // what its setup.py reads of the interpreter (machine, platform,
    // pointer size, byte order) into its extension: on big-endian s390x and
    // 32-bit armv7l the cross environment builds the bytes --full-emulation
    // builds, and the wheel's own test, in the target's interpreter, finds
    // the values its interpreter has.
    let gen = TempDir::new("generator");
    generator_package(gen.path());
    let build_gen = |extra: &[&str], out: &str| {
        let config = gen.path().join("gen.toml");
        let mut args = vec!["--config", config.to_str().unwrap(), "wheels", "--standin"];
        // Not in a git checkout: the wheels' times are given.
        args.extend(["--arch", "s390x,armv7l", "--py", &py, "--out", out]);
        args.extend(["--env", "SOURCE_DATE_EPOCH=1700000000"]);
        args.extend(extra);
        xtask_logged(&args)
    };
    let (gen_cross, gen_full) = (TempDir::new("gen-cross"), TempDir::new("gen-full"));
    let (run, logs) = build_gen(&[], gen_cross.str());
    run.ok();
    let (full_gen, _) = build_gen(&["--full-emulation"], gen_full.str());
    full_gen.ok();
    for arch in ["s390x", "armv7l"] {
        let log = std::fs::read_to_string(logs.join(format!("{py}-manylinux_{arch}.log"))).unwrap();
        assert_has(&log, &format!("configured for {arch} (cross environment)"));
        assert_has(&log, "the generated facts are the target interpreter's");
    }
    let wheels = wheels_in(gen_cross.path());
    assert_eq!(wheels.len(), 2, "{wheels:?}");
    for wheel in &wheels {
        assert!(
            std::fs::read(gen_cross.path().join(wheel)).unwrap()
                == std::fs::read(gen_full.path().join(wheel)).unwrap(),
            "{wheel} differs between the cross environment and --full-emulation"
        );
    }

    // The dry run mounts the native CPython and uv read-only (a local
    // engine: nothing is copied in, and the one build runs in the
    // container's first process); the configuration turns it off.
    let dry_s390x = |config: &[&str]| {
        let mut args = config.to_vec();
        args.extend([
            "--dry-run",
            "wheels",
            "--standin",
            "--arch",
            "s390x",
            "--py",
            &py,
        ]);
        xtask(&args).ok()
    };
    let dry = dry_s390x(&[]);
    assert_has(
        &dry.stdout,
        &format!("/{dir}/xtask-python/{dir}:/opt/xtask-python/{dir}:ro "),
    );
    assert_has(&dry.stdout, "/target/xtask/native/x86_64/uv-");
    assert_has(&dry.stdout, ":/xtask/native:ro ");
    assert!(
        !dry.stdout
            .lines()
            .any(|l| l.contains(" cp ") || l.contains(" exec ")),
        "{}",
        dry.stdout
    );
    assert_has(
        &dry.stdout,
        &format!("XTASK_NATIVE_PYTHON=/opt/xtask-python/{dir}/bin/python"),
    );
    let config = TempDir::new("no-cross");
    let file = config.path().join("Cargo.toml");
    std::fs::write(
        &file,
        format!(
            "[workspace.metadata.wheels]\nroot = {:?}\npackage = \"demo/python\"\ninclude = [\"demo/native\", \"README.md\"]\ncross-environment = false\n",
            root().to_str().unwrap()
        ),
    )
    .unwrap();
    let off = dry_s390x(&["--config", file.to_str().unwrap()]);
    assert_has(
        &off.stderr,
        "==> s390x: the builds run their Python emulated: --no-cross-environment or cross-environment = false",
    );
    assert!(
        !off.stdout.contains("XTASK_NATIVE_PYTHON"),
        "{}",
        off.stdout
    );

    // numpy in the build requirements: the native side would install
    // x86_64's, whose headers are 64-bit, so a 32-bit target runs its
    // Python emulated, and a 64-bit one keeps the cross environment.
    let numpy = TempDir::new("numpy-requirement");
    let tree = numpy.path().join("tree");
    demo_tree(&tree);
    let pyproject = tree.join("demo/python/pyproject.toml");
    let text = std::fs::read_to_string(&pyproject).unwrap();
    assert_has(&text, "requires = [\"");
    std::fs::write(
        &pyproject,
        text.replacen("requires = [\"", "requires = [\"numpy>=2\", \"", 1),
    )
    .unwrap();
    let file = numpy.path().join("Cargo.toml");
    std::fs::write(
        &file,
        format!(
            "[workspace.metadata.wheels]\nroot = {:?}\npackage = \"demo/python\"\ninclude = [\"demo/native\", \"README.md\"]\n",
            tree.to_str().unwrap()
        ),
    )
    .unwrap();
    let dry_numpy = |arch: &str| {
        let args = [
            "--config",
            file.to_str().unwrap(),
            "--dry-run",
            "wheels",
            "--standin",
            "--arch",
            arch,
            "--py",
            &py,
        ];
        xtask(&args).ok()
    };
    let armv7l = dry_numpy("armv7l");
    assert_has(
        &armv7l.stderr,
        "==> armv7l: the builds run their Python emulated: its build requirement `numpy` would be the native x86_64 one, whose C headers give long and pointers 64 bits, where armv7l has 32",
    );
    assert!(
        !armv7l.stdout.contains("XTASK_NATIVE_PYTHON"),
        "{}",
        armv7l.stdout
    );
    let s390x = dry_numpy("s390x");
    assert_has(&s390x.stdout, "XTASK_NATIVE_PYTHON=");
    // A 32-bit target's scikit-build-core build runs its Python natively
    // (built for real by
    // cython_extensions_built_by_cmake_and_by_setuptools_in_the_cross_environment).
    std::fs::write(
        &pyproject,
        text.replacen(
            "requires = [\"",
            "requires = [\"scikit-build-core>=0.10\", \"",
            1,
        ),
    )
    .unwrap();
    let armv7l = dry_numpy("armv7l");
    assert_has(&armv7l.stdout, "XTASK_NATIVE_PYTHON=");
    assert!(
        !armv7l.stderr.contains("emulated: its build requirement"),
        "{}",
        armv7l.stderr
    );
}

/// A package whose setup.py compiles a helper with the interpreter's
/// compiler and runs it (a generator), and writes what it reads of the
/// interpreter into a header its extension returns; its test compares that
/// with what the interpreter running the test says.
fn generator_package(dir: &Path) {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let files = [
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n",
        ),
        (
            "setup.py",
            r#"import os, platform, struct, subprocess, sys, sysconfig, tempfile
from setuptools import Extension, setup

helper = os.path.join(tempfile.mkdtemp(), "gen")
subprocess.run(sysconfig.get_config_var("CC").split() + ["-o", helper, "gen.c"], check=True)
generated = subprocess.run([helper], check=True, capture_output=True, text=True).stdout
facts = f"{platform.machine()} {sysconfig.get_platform()} {sys.maxsize} {struct.calcsize('P')} {sys.byteorder} {generated}"
with open("facts.h", "w") as f:
    f.write(f'#define FACTS "{facts}"\n')
setup(name="generated", version="1", ext_modules=[Extension("generated", ["generated.c"])])
"#,
        ),
        (
            "gen.c",
            "#include <stdio.h>
int main(void) { unsigned one = 1; printf(\"%d-bit %s\", (int)sizeof(void *) * 8, *(unsigned char *)&one ? \"little\" : \"big\"); return 0; }\n",
        ),
        (
            "generated.c",
            "#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n#include \"facts.h\"\nstatic PyObject *facts(PyObject *m, PyObject *a) { return PyUnicode_FromString(FACTS); }\nstatic PyMethodDef methods[] = {{\"facts\", facts, METH_NOARGS, 0}, {0}};\nstatic struct PyModuleDef def = {PyModuleDef_HEAD_INIT, \"generated\", 0, -1, methods};\nPyMODINIT_FUNC PyInit_generated(void) { return PyModule_Create(&def); }\n",
        ),
        (
            "check.py",
            r#"import platform, struct, sys, sysconfig
import generated

bits = struct.calcsize("P") * 8
want = f"{platform.machine()} {sysconfig.get_platform()} {sys.maxsize} {struct.calcsize('P')} {sys.byteorder} {bits}-bit {sys.byteorder}"
assert generated.facts() == want, (generated.facts(), want)
print("the generated facts are the target interpreter's:", want)
"#,
        ),
    ];
    for (name, text) in files {
        std::fs::write(pkg.join(name), text).unwrap();
    }
    std::fs::write(
        dir.join("gen.toml"),
        "[workspace.metadata.wheels]\npackage = \"pkg\"\ninclude = []\ntest-command = \"python {package}/check.py\"\n",
    )
    .unwrap();
}

/// A Cython extension built by scikit-build-core with cmake and ninja from
/// PyPI (the stand-ins' wheelhouse, scripts/standin/cross.txt) on emulated
/// aarch64 (demo/cmake): in the cross environment cmake, ninja and Cython
/// are x86_64's and run natively, the compiler is the image's gcc, and the
/// wheel is the bytes `--no-cross-environment` builds (where all of them
/// run emulated: aarch64's cmake and ninja). cmake names the target's
/// processor (it bakes CMAKE_SYSTEM_PROCESSOR into the extension) and the
/// extension's test passes in the target's interpreter, with
/// `--native-compiler` too; the same on 32-bit armv7l (FindPython, given
/// the interpreter by scikit-build-core, does not ask its pointer size).
/// And a setuptools package whose setup.py
/// imports Cython (demo/cython), on 32-bit armv7l: the backend loads
/// Cython's compiled modules, x86_64's, in its own process (they need
/// libpthread.so.0, which the native interpreter does not load); the same
/// bytes as the emulated Python's, its test passing.
#[test]
fn cython_extensions_built_by_cmake_and_by_setuptools_in_the_cross_environment() {
    let (_serial, inv) = on_x86_64_standin();
    standin(&["--arch", "aarch64"]);
    standin(&["--arch", "armv7l"]);
    let py = first_cpython("aarch64");
    let (cross, mut logs) = cross_and_emulated("cmake", "aarch64,armv7l", &py);
    let (cross_log, emulated_log) = logs.remove(0);
    // 32-bit: cmake, ninja and the build's Python native too.
    let (armv7l_log, armv7l_emulated_log) = logs.remove(0);
    assert_has(&armv7l_log, "cmake's ELF machine: 3e00");
    assert_has(&armv7l_log, "cmake's processor: armv7l");
    assert_has(
        &armv7l_log,
        "the extension's machine is the interpreter's: armv7l",
    );
    assert_has(&armv7l_emulated_log, "cmake's ELF machine: 2800");
    let clang = TempDir::new("cmake-clang");
    let clang_log = demo_package_build("cmake", "aarch64", &py, &["--native-compiler"], &clang);
    for log in [&cross_log, &clang_log[0]] {
        assert_has(log, "configured for aarch64 (cross environment)");
        // cmake and ninja of the native side: x86_64's, run natively.
        assert_has(log, "cmake's ELF machine: 3e00");
        assert_has(log, "ninja's ELF machine: 3e00");
        assert_has(log, "cmake's processor: aarch64");
        assert_has(log, "the extension's machine is the interpreter's: aarch64");
    }
    assert_has(&emulated_log, "cmake's processor: aarch64");
    assert_has(&emulated_log, "cmake's ELF machine: b700");
    assert_has(&clang_log[0], "compiler: the native clang ");
    let (armv7l, aarch64): (Vec<_>, Vec<_>) = wheels_in(cross.path())
        .into_iter()
        .partition(|w| w.ends_with("_armv7l.whl"));
    assert_eq!(
        (armv7l.len(), aarch64.len()),
        (1, 1),
        "{armv7l:?} {aarch64:?}"
    );
    assert_eq!(aarch64, wheels_in(clang.path()));

    let (cross, logs) = cross_and_emulated("cython", "armv7l", &py);
    inv.check();
    assert_has(&logs[0].0, "cystats works");
    let wheels = wheels_in(cross.path());
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    assert!(wheels[0].ends_with("_armv7l.whl"), "{wheels:?}");
}

/// Builds demo/PACKAGE for `py` on `arches` (comma-separated) twice: in
/// the cross environment, its test run, and with `--no-cross-environment
/// --no-test` (the build's Python, and the tools it installs, emulated).
/// Each arch's first log says it was configured in the cross environment,
/// the second does not, and the wheels are the same bytes. The first
/// run's folder, and each arch's (cross, emulated) logs.
fn cross_and_emulated(package: &str, arches: &str, py: &str) -> (TempDir, Vec<(String, String)>) {
    let cross = TempDir::new(&format!("{package}-cross"));
    let emulated = TempDir::new(&format!("{package}-emulated"));
    let cross_logs = demo_package_build(package, arches, py, &[], &cross);
    // Its test, emulated, adds time: the cross run's tests are the ones asserted.
    let no_cross = ["--no-cross-environment", "--no-test"];
    let emulated_logs = demo_package_build(package, arches, py, &no_cross, &emulated);
    for (arch, (c, e)) in arches.split(',').zip(cross_logs.iter().zip(&emulated_logs)) {
        assert_has(c, &format!("configured for {arch} (cross environment)"));
        assert!(!e.contains("(cross environment)"), "{e}");
    }
    same_bytes(&cross, &emulated, &wheels_in(cross.path()));
    (cross, cross_logs.into_iter().zip(emulated_logs).collect())
}

/// The same wheels, byte for byte, in both folders.
fn same_bytes(a: &TempDir, b: &TempDir, wheels: &[String]) {
    assert_eq!(wheels, wheels_in(b.path()));
    for wheel in wheels {
        assert!(
            std::fs::read(a.path().join(wheel)).unwrap()
                == std::fs::read(b.path().join(wheel)).unwrap(),
            "{wheel} differs between the cross environment and --no-cross-environment"
        );
    }
}

/// Builds a copy of the package demo/NAME (outside this checkout) for
/// `py` on `arches` (comma-separated) into `out`, its check.py as the
/// test; the run must succeed. Each arch's build log, in `arches`' order.
fn demo_package_build(
    package: &str,
    arches: &str,
    py: &str,
    extra: &[&str],
    out: &TempDir,
) -> Vec<String> {
    let dir = TempDir::new(package);
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(root().join("demo").join(package))
        .arg(dir.path().join("pkg"))
        .status()
        .unwrap();
    assert!(status.success());
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"pkg\"\ninclude = []\ntest-command = \"python {package}/check.py\"\n",
    )
    .unwrap();
    let mut args = vec!["--config", config.to_str().unwrap(), "wheels", "--standin"];
    args.extend(["--arch", arches, "--py", py, "--out", out.str()]);
    // Not in a git checkout: the wheels' times are given.
    args.extend(["--env", "SOURCE_DATE_EPOCH=1700000000"]);
    args.extend(extra);
    let (run, logs) = xtask_logged(&args);
    run.ok();
    arches
        .split(',')
        .map(|arch| {
            std::fs::read_to_string(logs.join(format!("{py}-manylinux_{arch}.log"))).unwrap()
        })
        .collect()
}

/// A meson-python package (demo/meson) whose C extension meson and ninja
/// from PyPI build, on emulated aarch64 and big-endian s390x: in the cross
/// environment meson (Python) and ninja run natively, yet meson takes the
/// host machine for the target (its cpu and endianness, baked into the
/// extension and checked by its test in the target's interpreter) with no
/// cross file; the wheels are the bytes `--no-cross-environment` builds.
#[test]
fn a_meson_python_extension_in_the_cross_environment() {
    let (_serial, inv) = on_x86_64_standin();
    standin(&["--arch", "aarch64"]);
    standin(&["--arch", "s390x"]);
    let py = first_cpython("aarch64");
    let (cross, logs) = cross_and_emulated("meson", "aarch64,s390x", &py);
    inv.check();
    for ((arch, endian), (cross, emulated)) in [("aarch64", "little"), ("s390x", "big")]
        .into_iter()
        .zip(&logs)
    {
        assert_has(
            cross,
            &format!("meson's host machine: {arch} {arch} {endian}"),
        );
        assert_has(
            cross,
            &format!("the extension's machine is the interpreter's: {arch} {endian}"),
        );
        assert_has(
            emulated,
            &format!("meson's host machine: {arch} {arch} {endian}"),
        );
    }
    let wheels = wheels_in(cross.path());
    assert_eq!(wheels.len(), 2, "{wheels:?}");
}

/// `standin --current-qemu` registers Debian forky's QEMU (the version its
/// pin in xtask/src/debian.rs names), as users' CI runs 10 or newer, for
/// timing emulated builds as they run there: then a container of every
/// emulated arch, asked with `QEMU_VERSION`, answers with that version, and
/// registering it again changes nothing. The handlers there before are put
/// back after.
#[test]
fn the_emulated_arches_run_the_pinned_current_qemu() {
    let _serial = serial_binfmt_alone();
    let _saved = BinfmtState::save();
    let pins = std::fs::read_to_string(root().join("xtask/src/debian.rs")).unwrap();
    let version = pins
        .split("qemu-user_")
        .nth(1)
        .and_then(|rest| rest.split('+').next())
        .expect("the QEMU pin in debian.rs");
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    assert!(
        major >= 10,
        "the pinned QEMU {version} is older than users' CI runs"
    );
    let first = xtask(&["standin", "--current-qemu"]).ok();
    let entries = qemu_entries();
    let again = xtask(&["standin", "--current-qemu"]).ok();
    assert_eq!(
        qemu_entries(),
        entries,
        "registering it again changed the table"
    );
    let minor = version.rsplit_once('.').map_or(version, |(m, _)| m);
    for (arch, qemu) in [
        ("aarch64", "aarch64"),
        ("ppc64le", "ppc64le"),
        ("s390x", "s390x"),
        ("armv7l", "arm"),
        ("riscv64", "riscv64"),
    ] {
        let said = format!("{arch}: the kernel runs QEMU {minor} (");
        assert_has(&first.stdout, &said);
        assert_has(&again.stdout, &said);
        let entry = entries
            .iter()
            .find(|(name, _)| *name == format!("qemu-{qemu}"))
            .unwrap_or_else(|| panic!("no qemu-{qemu} entry: {entries:?}"));
        assert_has(&entry.1, "enabled\n");
        assert_has(&entry.1, "flags: PF\n");
        assert_has(&entry.1, &format!("/qemu-user_{version}+"));
        let image = standin(&["--arch", arch]);
        let asked = qemu_in_container(docker_platform(arch), &image);
        assert!(
            asked.starts_with(&format!("qemu-{qemu} version {version}")),
            "{arch}: {asked}"
        );
    }
}

/// `qemu-register --arch` registers exactly the handlers asked for (with
/// an image that takes names, as tonistiigi/binfmt does), each one running
/// its arch's code in a container with no emulator inside; a build for an
/// arch without a handler is refused before any container starts, naming
/// the arch and the command that registers it.
#[test]
fn qemu_register_registers_the_arches_asked_for() {
    let _serial = serial_binfmt_alone();
    standin(&["--qemu-register"]);
    standin(&["--arch", "s390x"]);
    standin(&["--arch", "riscv64"]);
    let binfmt = "xtask-standin/binfmt:latest";
    let saved = BinfmtState::save();
    let inv = Invariants::before();
    let present = |name: &str| Path::new("/proc/sys/fs/binfmt_misc").join(name).exists();
    BinfmtState::remove("qemu-s390x");
    BinfmtState::remove("qemu-riscv64");
    BinfmtState::remove("qemu-ppc64le");

    // No handler, and no other arch: refused, nothing started or written.
    let out = TempDir::new("no-handler");
    let lone = out.path().join("lone");
    let run = xtask(&[
        "wheels",
        "--standin",
        "--arch",
        "riscv64",
        "--py",
        "cp313",
        "--out",
        lone.to_str().unwrap(),
    ])
    .fails(1);
    assert_has(
        run.error_line(),
        "no riscv64 binfmt handler is enabled: run `cargo xtask qemu-register --arch riscv64`",
    );
    assert!(!lone.exists());
    // With another arch: riscv64's builds fail, saying so, without a
    // container; x86_64's wheel lands.
    let (run, logs) = xtask_logged(&[
        "wheels",
        "--standin",
        "--arch",
        "riscv64,x86_64",
        "--py",
        "cp313",
        "--out",
        out.str(),
    ]);
    let run = run.fails(1);
    assert_has(&run.stderr, "1 of 2 builds did not produce a wheel");
    assert_has(&run.stderr, "starting a container of xtask-standin:x86_64");
    assert!(
        !run.stderr
            .contains("starting a container of xtask-standin:riscv64"),
        "{}",
        run.stderr
    );
    let why =
        "no riscv64 binfmt handler is enabled: run `cargo xtask qemu-register --arch riscv64`";
    assert_has(&run.stderr, &format!("riscv64 builds fail, the others go on: building for riscv64 on this host needs QEMU emulation, and {why}"));
    assert_has(&run.stdout, "cp313-manylinux_riscv64  FAILED");
    assert_has(
        &run.stdout,
        "cp313-manylinux_riscv64 failed: building for riscv64",
    );
    assert_has(
        &std::fs::read_to_string(logs.join("cp313-manylinux_riscv64.log")).unwrap(),
        why,
    );
    let wheels = wheels_in(out.path());
    assert!(
        matches!(wheels.as_slice(), [w] if w.contains("-cp313-cp313-") && w.ends_with("_x86_64.whl")),
        "{wheels:?}"
    );

    let names = || -> Vec<String> { qemu_entries().into_iter().map(|(n, _)| n).collect() };
    let before = names();
    let run = xtask(&[
        "qemu-register",
        "--arch",
        "s390x,riscv64,i686",
        "--image",
        binfmt,
    ])
    .ok();
    assert_has(
        &run.stdout,
        "i686 runs natively on this machine: it needs no handler",
    );
    assert_has(&run.stderr, "--install s390x,riscv64");
    for arch in ["s390x", "riscv64"] {
        assert_has(&run.stdout, &format!("{arch} handler registered"));
        assert_registered_and_runs(arch);
    }
    // Exactly those two were added; every other entry is as it was (ppc64le,
    // not asked for, still absent).
    let mut want = before.clone();
    want.extend(["qemu-riscv64".to_string(), "qemu-s390x".to_string()]);
    want.sort();
    let mut after = names();
    after.sort();
    assert_eq!(after, want, "the handlers before: {before:?}");
    assert!(
        !present("qemu-ppc64le"),
        "a handler not asked for was registered"
    );
    // prep registers the handlers of the configured emulated arches that
    // have none (ppc64le here), and aarch64's copy and image only for it.
    let dir = TempDir::new("prep-arches");
    let config = dir.path().join("wheels.toml");
    std::fs::write(
        &config,
        format!(
            r#"[workspace.metadata.wheels]
root = "{root}"
package = "demo/python"
include = ["demo/native", "README.md"]
arch = ["x86_64", "ppc64le", "i686"]
qemu-image = "{binfmt}"
[workspace.metadata.wheels.images]
x86_64 = "xtask-standin:x86_64"
i686 = "xtask-standin:i686"
ppc64le = "xtask-standin:ppc64le"
[workspace.metadata.wheels.x64-image]
base = "xtask-standin:x86_64"
tag = "xtask-test-x64:latest"
packages = []
"#,
            root = root().display()
        ),
    )
    .unwrap();
    let prep = xtask(&["--config", config.to_str().unwrap(), "prep"]).ok();
    assert_has(&prep.stdout, "ppc64le handler registered");
    assert_has(&prep.stderr, "--install ppc64le");
    assert!(!prep.stdout.contains("== qemu-copy"), "{}", prep.stdout);
    assert!(prep.stdout.trim_end().ends_with("ready"), "{}", prep.stdout);
    assert_registered_and_runs("ppc64le");

    // Asked again: nothing to do, no container.
    let run = xtask(&["qemu-register", "--arch", "s390x", "--image", binfmt]).ok();
    assert_has(&run.stdout, "s390x handler already registered");
    assert!(!run.stderr.contains("--privileged"), "{}", run.stderr);
    inv.check();
    drop(saved);
    assert!(present("qemu-ppc64le"));
}

/// cross-image makes the seed's cross-arch image for any emulated arch:
/// the emulator qemu-copy put in its context is in the image, where a
/// handler without flag F looks for it, and the image builds wheels.
#[test]
fn cross_image_of_an_emulated_arch() {
    let _serial = serial();
    standin(&["--arch", "s390x"]);
    let contexts = root().join("scripts/cross-image");
    // Bad arches: refused, naming the fix, nothing written.
    for (command, arch, says) in [
        ("cross-image", "i686", "this machine runs i686 natively"),
        ("qemu-copy", "x86_64", "this machine runs x86_64 natively"),
        (
            "cross-image",
            "sparc",
            "unknown arch: name one of aarch64, ppc64le, s390x, armv7l, riscv64",
        ),
    ] {
        let run = xtask(&[command, "--arch", arch]).fails(2);
        assert_has(
            run.error_line(),
            &format!("{command} --arch {arch}: {says}"),
        );
        assert!(!contexts.join(arch).exists());
    }
    // qemu-copy --arch readies the context: the host's emulator and the Dockerfile.
    xtask(&["qemu-copy", "--arch", "s390x"]).ok();
    let host = sh("sh", &["-c", "command -v qemu-s390x-static"]).ok();
    assert_eq!(
        std::fs::read(contexts.join("s390x/qemu-s390x-static")).unwrap(),
        std::fs::read(host.stdout.trim()).unwrap()
    );
    assert_eq!(
        std::fs::read(contexts.join("s390x/Dockerfile")).unwrap(),
        std::fs::read(contexts.join("Dockerfile")).unwrap()
    );
    let inv = Invariants::before();
    let tag = "xtask-test-cross:s390x";
    let build = || {
        xtask(&[
            "cross-image",
            "--arch",
            "s390x",
            "--base",
            "xtask-standin:s390x",
            "--tag",
            tag,
        ])
    };
    assert_cross_image(tag, "s390x", build);
    // Wheels build in it, and are tested there; with --full-emulation, as
    // where the native uv cannot be had: the emulated pip makes the test
    // environment (the interpreter's ensurepip, as in manylinux's images).
    let out = TempDir::new("cross-out");
    let py = first_cpython("s390x");
    let run = xtask(&[
        "wheels",
        "--arch",
        "s390x",
        "--image",
        tag,
        "--py",
        &py,
        "--full-emulation",
        "--out",
        out.str(),
    ])
    .ok();
    assert_has(
        &run.stdout,
        "environments made by the emulated pip (--full-emulation)",
    );
    assert_has(&run.stdout, "  passed  ");
    let wheels = wheels_in(out.path());
    assert!(
        wheels
            .iter()
            .any(|w| w.contains(&format!("-{py}-{py}-")) && w.ends_with("_s390x.whl")),
        "{wheels:?}"
    );
    inv.check();
}
