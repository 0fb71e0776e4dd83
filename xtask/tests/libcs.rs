//! musllinux wheels beside manylinux ones, and free-threaded CPython, on the
//! x86_64 stand-ins: the musllinux one (a CPython built against Debian's
//! musl) and the manylinux one's free-threaded CPython (built from Debian's
//! source with --disable-gil).

mod support;

use std::path::{Path, PathBuf};

use support::*;

/// The facts of each wheel's `.so` files that tell its C library, read with
/// pyelftools in the x86_64 stand-in: NEEDED, and the versions of the
/// symbols they need (GLIBC_* for glibc).
fn libc_facts(wheel: &Path) -> String {
    let script = r#"
import io, sys, zipfile
from elftools.elf.elffile import ELFFile
z = zipfile.ZipFile(sys.argv[1])
for n in sorted(z.namelist()):
    if ".so" not in n.rsplit("/", 1)[-1]:
        continue
    elf = ELFFile(io.BytesIO(z.read(n)))
    needed = sorted(t.needed for t in elf.get_section_by_name(".dynamic").iter_tags() if t.entry.d_tag == "DT_NEEDED")
    versions = set()
    vr = elf.get_section_by_name(".gnu.version_r")
    if vr is not None:
        for _, auxs in vr.iter_versions():
            versions.update(a.name for a in auxs)
    print(n, needed, sorted(v for v in versions if v.startswith("GLIBC")))
"#;
    let mount = format!("{}:/w.whl:ro", wheel.display());
    sh(
        "docker",
        &[
            "run",
            "--rm",
            "--network=none",
            "--volume",
            &mount,
            "--entrypoint",
            "/opt/_internal/tools/bin/python",
            "xtask-standin:x86_64",
            "-c",
            script,
            "/w.whl",
        ],
    )
    .ok()
    .stdout
}

/// The musllinux stand-in, whose shell tools are busybox's applets, as
/// Alpine's are: every build in it runs the scripts with them.
fn standin_musllinux() {
    let image = standin(&["--arch", "x86_64", "--musllinux"]);
    assert_eq!(image, "xtask-standin:x86_64-musllinux");
    let tools = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--network=none",
            &image,
            "sh",
            "-c",
            "for t in sh tar head sed find cp mktemp readlink; do command -v $t; done",
        ],
    )
    .ok();
    let paths: Vec<&str> = tools.stdout.lines().collect();
    assert_eq!(paths.len(), 8, "{}", tools.stdout);
    assert!(
        paths.iter().all(|p| p.starts_with("/opt/busybox/bin/")),
        "{}",
        tools.stdout
    );
}

#[test]
fn every_x86_64_interpreter_manylinux_and_musllinux_in_one_run() {
    let (_serial, inv) = on_x86_64_standin();
    standin_musllinux();
    let out = TempDir::new("libcs-out");
    let config = standin_config(
        out.path(),
        "test-command = \"pytest -q {package}/tests\"\ntest-requires = [\"pytest\"]\n",
    );
    let cfg = config.to_str().unwrap();
    let args = [
        "wheels",
        "--config",
        cfg,
        "--standin",
        "--arch",
        "x86_64",
        "--libc",
        "manylinux,musllinux",
        "--py",
        "all",
        "--out",
        out.str(),
    ];
    let dry = xtask(&[&["--dry-run"], &args[..]].concat()).ok();
    let (run, logs) = xtask_logged(&args);
    let run = run.ok();
    // The dry run showed this run: PyPy and the free-threaded CPython
    // among its builds, in both containers.
    assert_dry_run_is_the_run(&dry.stdout, &run, &logs);
    assert_has(
        &dry.stdout,
        "CIBUILDWHEEL_BUILD_IDENTIFIER=cp313t-manylinux_x86_64",
    );
    assert_has(
        &dry.stdout,
        "CIBUILDWHEEL_BUILD_IDENTIFIER=cp313-musllinux_x86_64",
    );
    assert_has(
        &dry.stdout,
        &format!("CIBUILDWHEEL_BUILD_IDENTIFIER={}", x86(&pp())),
    );
    let wheels = wheels_in(out.path());
    // Every interpreter of the manylinux stand-in, cp313t among them, and
    // the musllinux one's CPython: one container each.
    let mut manylinux = offered("x86_64");
    assert!(manylinux.contains(&"cp313t".to_string()), "{manylinux:?}");
    manylinux.sort();
    assert_eq!(wheels.len(), manylinux.len() + 1, "{wheels:?}");
    let musl: Vec<&String> = wheels.iter().filter(|w| w.contains("musllinux")).collect();
    assert_eq!(
        musl,
        ["demo_codec-0.1.0-cp313-cp313-musllinux_1_2_x86_64.whl"],
        "{wheels:?}"
    );
    assert!(
        wheels
            .iter()
            .any(|w| w.starts_with("demo_codec-0.1.0-cp313-cp313t-manylinux")),
        "{wheels:?}"
    );
    for line in [
        "musllinux_x86_64: xtask-standin:x86_64-musllinux on docker (native), platform tag musllinux_1_2_x86_64",
        "x86_64: xtask-standin:x86_64 on docker (native), platform tag manylinux_2_41_x86_64",
    ] {
        assert_has(&run.stdout, line);
    }
    for id in ["cp313-musllinux_x86_64", "cp313t-manylinux_x86_64"] {
        let row = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no summary row of {id}:\n{}", run.stdout));
        assert!(row.contains(" ok ") && row.contains(" passed "), "{row}");
    }
    assert!(
        !run.stdout.contains("enabled the GIL again"),
        "{}",
        run.stdout
    );
    // Two containers, named by their targets.
    assert_has(
        &run.stderr,
        "==> musllinux_x86_64: starting a container of xtask-standin:x86_64-musllinux",
    );

    // The musllinux wheel's shared objects need musl, and no glibc symbol;
    // the manylinux ones need glibc.
    let facts = libc_facts(&out.path().join(musl[0]));
    let lines: Vec<&str> = facts.lines().collect();
    assert_eq!(lines.len(), 2, "{facts}");
    assert!(lines[0].starts_with("demo_codec.libs/libbz2-"), "{facts}");
    assert!(
        lines[1].starts_with("democodec/_native.cpython-313-x86_64-linux-musl.so ['libbz2-"),
        "{facts}"
    );
    for line in lines {
        assert!(line.contains("'libc.musl-x86_64.so.1'"), "{facts}");
        assert!(
            !line.contains("libc.so.6") && line.ends_with(" []"),
            "{facts}"
        );
    }
    let glibc = wheels
        .iter()
        .find(|w| w.contains("-cp313-cp313-manylinux"))
        .unwrap();
    let facts = libc_facts(&out.path().join(glibc));
    assert!(
        facts.contains("'libc.so.6'") && facts.contains("'GLIBC_"),
        "{facts}"
    );

    // The musl interpreter imported it, and its tests ran there.
    let log = std::fs::read_to_string(logs.join("cp313-musllinux_x86_64.log")).unwrap();
    assert_has(&log, "extension democodec._native: ok");
    // The free-threaded one kept the GIL off: the demo declares Py_mod_gil.
    let log = std::fs::read_to_string(logs.join("cp313t-manylinux_x86_64.log")).unwrap();
    assert_has(&log, "gil: disabled at the start");
    assert_has(&log, "gil: still disabled after every import");

    // verify checks each wheel in an image of its C library.
    let verified = xtask(&["verify", "--config", cfg, "--standin", out.str()]).ok();
    let musl_line = verified
        .stdout
        .lines()
        .find(|l| l.contains("musllinux_1_2"))
        .unwrap_or_else(|| panic!("{}", verified.stdout));
    assert!(
        musl_line.starts_with("ok ") && musl_line.ends_with("auditwheel in a musllinux image)"),
        "{musl_line}"
    );
    assert_eq!(
        verified
            .stdout
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count(),
        wheels.len(),
        "{}",
        verified.stdout
    );
    // matrix lists the same builds.
    let matrix = xtask(&[
        "matrix",
        "--config",
        cfg,
        "--standin",
        "--arch",
        "x86_64",
        "--libc",
        "all",
    ])
    .ok();
    assert_has(&matrix.stdout, "cp313-musllinux_x86_64");
    assert_has(&matrix.stdout, "cp313t-manylinux_x86_64");
    assert_eq!(
        matrix
            .stdout
            .lines()
            .filter(|l| l.contains("linux_x86_64"))
            .count(),
        wheels.len(),
        "{}",
        matrix.stdout
    );
    inv.check();
}

/// A musllinux wheel whose `.so` needs glibc, named as musl: the manylinux
/// wheel with its tags rewritten (WHEEL, RECORD and the file name agree).
fn renamed_as_musllinux(wheel: &Path, dir: &Path) -> PathBuf {
    let script = r#"
import base64, hashlib, re, sys, zipfile
src, dst_dir = sys.argv[1], sys.argv[2]
name = src.rsplit("/", 1)[-1]
head = name.rsplit("-", 1)[0]
new = head + "-musllinux_1_2_x86_64.whl"
zin = zipfile.ZipFile(src)
files = {n: zin.read(n) for n in zin.namelist() if not n.endswith("/")}
wheel = [n for n in files if n.endswith(".dist-info/WHEEL")][0]
text = files[wheel].decode()
py, abi = head.split("-")[-2:]
text = re.sub(r"(?m)^Tag: .*\n", "", text) + "Tag: %s-%s-musllinux_1_2_x86_64\n" % (py, abi)
files[wheel] = text.encode()
record = [n for n in files if n.endswith(".dist-info/RECORD")][0]
rows = []
for n, data in files.items():
    if n == record:
        continue
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows.append("%s,sha256=%s,%d" % (n, h, len(data)))
rows.append(record + ",,")
files[record] = ("\n".join(rows) + "\n").encode()
with zipfile.ZipFile(dst_dir + "/" + new, "w") as z:
    for n, data in files.items():
        z.writestr(n, data)
digest = hashlib.sha256(open(dst_dir + "/" + new, "rb").read()).hexdigest()
open(dst_dir + "/SHA256SUMS", "w").write("%s  %s\n" % (digest, new))
print(new)
"#;
    let run = sh(
        "python3",
        &["-c", script, wheel.to_str().unwrap(), dir.to_str().unwrap()],
    )
    .ok();
    dir.join(run.stdout.trim())
}

#[test]
fn verify_refuses_a_musllinux_wheel_that_needs_glibc() {
    let (_serial, inv) = on_x86_64_standin();
    standin_musllinux();
    let out = TempDir::new("libcs-glibc-out");
    let config = standin_config(out.path(), "");
    let cfg = config.to_str().unwrap();
    xtask(&[
        "wheels",
        "--config",
        cfg,
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        "cp313",
        "--out",
        out.str(),
    ])
    .ok();
    let bad_dir = TempDir::new("libcs-glibc-bad");
    let glibc = out.path().join(&wheels_in(out.path())[0]);
    let bad = renamed_as_musllinux(&glibc, bad_dir.path());
    let run = xtask(&["verify", "--config", cfg, "--standin", bad_dir.str()]).fails(1);
    let name = bad.file_name().unwrap().to_str().unwrap();
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(name))
        .unwrap_or_else(|| panic!("{}\n{}", run.stdout, run.stderr));
    assert!(line.starts_with("FAIL "), "{line}");
    assert_has(
        line,
        "musllinux_1_2_x86_64 claims musl, but auditwheel finds ",
    );
    assert!(line.ends_with(" needs glibc"), "{line}");
    inv.check();
}

/// A package whose extension does not declare Py_mod_gil, and whose
/// before-all installs Alpine packages when `apk` is given.
fn gil_package(dir: &Path, before_all: &str) -> PathBuf {
    let pkg = dir.join("gilpkg");
    std::fs::create_dir_all(pkg.join("gilpkg")).unwrap();
    std::fs::write(
        pkg.join("pyproject.toml"),
        format!("[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"gilpkg\"\nversion = \"1\"\n\n{before_all}"),
    )
    .unwrap();
    std::fs::write(
        pkg.join("setup.py"),
        "from setuptools import Extension, setup\nsetup(packages=['gilpkg'], ext_modules=[Extension('gilpkg._c', ['gilpkg/_c.c'])])\n",
    )
    .unwrap();
    std::fs::write(pkg.join("gilpkg/__init__.py"), "").unwrap();
    std::fs::write(
        pkg.join("gilpkg/_c.c"),
        "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_c\", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&m); }\n",
    )
    .unwrap();
    let config = dir.join("gil.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"gilpkg\"\ninclude = []\nout = \"out\"\n",
    )
    .unwrap();
    config
}

#[test]
fn an_extension_without_py_mod_gil_turns_the_gil_on_and_the_summary_says_so() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("libcs-gil");
    let config = gil_package(dir.path(), "");
    let (run, logs) = xtask_logged(&[
        "wheels",
        "--config",
        config.to_str().unwrap(),
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        "cp313t",
    ]);
    let run = run.ok();
    let wheels = wheels_in(&dir.path().join("out"));
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    assert!(
        wheels[0].starts_with("gilpkg-1-cp313-cp313t-"),
        "{wheels:?}"
    );
    assert_has(
        &run.stdout,
        "cp313t-manylinux_x86_64: importing gilpkg._c enabled the GIL again, as CPython warns: it does not declare Py_mod_gil",
    );
    let log = std::fs::read_to_string(logs.join("cp313t-manylinux_x86_64.log")).unwrap();
    assert_has(&log, "gil: disabled at the start");
    assert_has(&log, "gil: enabled again by importing gilpkg._c");
    inv.check();
}

#[test]
fn apk_in_before_all_is_refused_on_the_musllinux_standin_naming_its_limit() {
    let (_serial, inv) = on_x86_64_standin();
    standin_musllinux();
    let dir = TempDir::new("libcs-apk");
    let config = gil_package(
        dir.path(),
        "[tool.cibuildwheel]\nbefore-all = \"apk add zlib-dev\"\n",
    );
    let run = xtask(&[
        "wheels",
        "--config",
        config.to_str().unwrap(),
        "--standin",
        "--arch",
        "x86_64",
        "--libc",
        "musllinux",
    ])
    .fails(1);
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert_has(
        &all,
        "apk add zlib-dev: the musllinux stand-in (xtask-standin:x86_64-musllinux) is Debian with a musl CPython, not Alpine",
    );
    assert!(!dir.path().join("out").exists() || wheels_in(&dir.path().join("out")).is_empty());
    inv.check();
}

#[test]
fn bad_libc_choices_are_refused_before_anything_starts() {
    let (_serial, inv) = on_x86_64_standin();
    let out = TempDir::new("libcs-bad");
    for (args, want) in [
        (
            &["--libc", "alpine"][..],
            "--libc: unknown libc `alpine`: use manylinux (glibc), musllinux (musl) or both",
        ),
        (
            &["--standin", "--arch", "aarch64", "--libc", "musllinux"][..],
            "there is a musllinux stand-in for x86_64 only, not aarch64",
        ),
        (
            &["--arch", "x86_64", "--libc", "all", "--image", "xtask-standin:x86_64"][..],
            "--image applies to one arch and libc, but 2 are asked for (x86_64, musllinux_x86_64)",
        ),
        (
            &["--arch", "x86_64", "--libc", "musllinux", "--image", "xtask-standin:x86_64"][..],
            "musllinux_x86_64 builds: image `xtask-standin:x86_64` makes manylinux_2_41_x86_64 wheels, not musllinux ones",
        ),
        (
            &["--arch", "x86_64", "--build", "*-musllinux_*"][..],
            "musllinux builds are made only when asked: --libc musllinux",
        ),
    ] {
        let mut all = vec!["wheels", "--out", out.str()];
        all.extend_from_slice(args);
        let run = xtask(&all).fails(2);
        assert_has(run.error_line(), want);
        assert!(!out.path().exists() || wheels_in(out.path()).is_empty());
    }
    inv.check();
}

/// `build-frontend = "build[uv]"` on a native target: the native uv makes
/// the environments there too, the free-threaded CPython's included; its
/// test environment has no pip (as cibuildwheel makes it), the interpreter
/// runs without the GIL, and the tests pass. The dry run shows that run.
#[test]
fn build_uv_makes_a_free_threaded_interpreters_environments_natively() {
    let (_serial, inv) = on_x86_64_standin();
    let ft = offered("x86_64")
        .into_iter()
        .find(|t| t.ends_with('t'))
        .expect("the x86_64 stand-in's free-threaded CPython");
    let out = TempDir::new("uv-ft-out");
    let config = standin_config(
        out.path(),
        "build-frontend = \"build[uv]\"\ntest-command = \"python -c \\\"import importlib.util, sys; assert importlib.util.find_spec('pip') is None, 'pip is there'; assert not sys._is_gil_enabled()\\\" && pytest -q {package}/tests\"\ntest-requires = [\"pytest\"]\n",
    );
    let args = [
        "wheels",
        "--config",
        config.to_str().unwrap(),
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &ft,
        "--out",
        out.str(),
    ];
    let dry = xtask(&[&["--dry-run"], &args[..]].concat()).ok();
    let (run, logs) = xtask_logged(&args);
    let run = run.ok();
    assert_dry_run_is_the_run(&dry.stdout, &run, &logs);
    assert_has(&dry.stdout, "XTASK_UV=/xtask/native/uv");
    let id = format!("{ft}-manylinux_x86_64");
    assert_row(&run.stdout, &id, "ok");
    assert!(row(&run.stdout, &id).contains(" passed "), "{}", run.stdout);
    assert_has(
        &run.stdout,
        "x86_64: xtask-standin:x86_64 on docker (native; environments made by the native uv ",
    );
    let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
    assert_has(&log, "environments: made by the native uv ");
    assert_has(&log, "gil: disabled at the start");
    assert_eq!(wheels_in(out.path()).len(), 1);
    inv.check();
}
