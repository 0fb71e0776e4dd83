//! End to end, on a real Docker engine with the stand-in images: what a
//! maintainer runs, checked the way a maintainer would check it.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::*;

const CHECK_DEMO: &str = r#"
import bz2, sys, zlib
import democodec
data = bytes(range(256)) * 1000 + b"manylinux"
assert democodec.crc32(data) == zlib.crc32(data), "crc32 differs from zlib's"
assert democodec.adler32(data) == zlib.adler32(data), "adler32 differs from zlib's"
assert bz2.decompress(democodec.bz2_compress(data)) == data, "bz2 round trip failed"
print("demo ok", democodec.zlib_version(), sys.implementation.name)
"#;

#[test]
fn x86_64_wheels_for_both_interpreters() {
    let (_serial, inv) = on_x86_64_standin();
    let out = TempDir::new("x86-out");
    let (run, logs) = xtask_logged(&[
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        "all",
        "--out",
        out.str(),
    ]);
    let run = run.ok();
    inv.check();

    // One wheel per interpreter the image offers, each with its own tags.
    let wheels = wheels_in(out.path());
    let offered = offered("x86_64");
    assert_eq!(wheels.len(), offered.len(), "{wheels:?} for {offered:?}");
    let cp_wheel = wheels
        .iter()
        .find(|w| w.contains(&wheel_tags(&cp())))
        .expect("a CPython wheel");
    for tag in &offered {
        let tags = wheel_tags(tag);
        let wheel = wheels
            .iter()
            .find(|w| w.contains(&tags))
            .unwrap_or_else(|| panic!("no {tags} wheel: {wheels:?}"));
        assert!(wheel.starts_with("demo_codec-0.1.0-"), "{wheel}");
        assert!(wheel.contains("manylinux_2_41_x86_64"), "{wheel}");
        let names = wheel_names(&out.path().join(wheel));
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("demo_codec.libs/libbz2")),
            "libbz2 not grafted: {names:?}"
        );
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("democodec/_native") && n.ends_with(".so")),
            "{names:?}"
        );
        // setup.cfg's build_py compile: the build's bytecode is in the wheel.
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("democodec/__pycache__/__init__.") && n.ends_with(".pyc")),
            "no bytecode of democodec/__init__.py in {wheel}: {names:?}"
        );
    }
    assert!(
        !wheels.iter().any(|w| w.contains("-linux_")),
        "an unrepaired wheel reached the output: {wheels:?}"
    );

    // The summary names every build with its result and wheel, and the
    // demo's pytest suite ran in each (its own summary line is in the log).
    for tag in &offered {
        assert_row(&run.stdout, &x86(tag), "ok");
        assert!(
            row(&run.stdout, &x86(tag)).contains("passed"),
            "the demo's tests did not run"
        );
        assert_pytest_ran(&logs, &x86(tag));
    }
    assert_has(&run.stdout, "built in the local stand-in images, which are for testing this tool: each wheel carries the tag it was repaired for (manylinux_2_41_x86_64)");

    // Wheels belong to the caller.
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata(out.path()).unwrap().uid();
    for w in &wheels {
        assert_eq!(std::fs::metadata(out.path().join(w)).unwrap().uid(), uid);
    }

    // The CPython wheel installs into a fresh virtual environment of a fresh
    // container and works (the host has none of the stand-in's Pythons).
    let run = install_and_run(
        "xtask-standin:x86_64",
        "linux/amd64",
        &standin_dir(&cp()),
        &out.path().join(cp_wheel),
        CHECK_DEMO,
    );
    assert!(run.stdout.starts_with("demo ok"), "{}", run.stdout);

    // Without build isolation, the interpreter's own setuptools builds it.
    let log = logs.join(format!("{}.log", x86(&cp())));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("Creating isolated environment"));
    let out2 = TempDir::new("x86-no-isolation");
    let (lone, logs) = xtask_logged(&[
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
        "--no-isolation",
        "--out",
        out2.str(),
    ]);
    let lone = lone.ok();
    assert_eq!(wheels_in(out2.path()).len(), 1);
    let text = std::fs::read_to_string(logs.join(format!("{}.log", x86(&cp())))).unwrap();
    assert!(!text.contains("Creating isolated environment"));
    // One arch and one CPython: the container's first process ran the build,
    // tests and all.
    assert_has(&text, "whose first process runs:");
    assert!(
        row(&lone.stdout, &x86(&cp())).contains("passed"),
        "{}",
        lone.stdout
    );
    assert_pytest_ran(&logs, &x86(&cp()));
    inv.check();
}

/// The demo's pytest suite printed its own summary (`4 passed in 0.05s`)
/// in the log of build `id` in the run's folder `logs`.
#[track_caller]
fn assert_pytest_ran(logs: &Path, id: &str) {
    let log = logs.join(format!("{id}.log"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().any(|l| l.contains(" passed in ")
            && l.split_whitespace()
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 0))),
        "no pytest summary in {}:\n{text}",
        log.display()
    );
}

/// The arm64 stand-in's packages were unpacked by this machine's own
/// dpkg-deb and dpkg-split (scripts/standin/native-dpkg-deb.sh): nothing of
/// that is left in the image. No diversion of them, none of the folders
/// and files it made, the image's own aarch64 programs in their places, and
/// dpkg's files as its package has them (only the excluded docs missing).
#[test]
fn arm64_standin_keeps_no_trace_of_its_native_unpacking() {
    let _serial = serial();
    let image = standin(&["--arch", "arm64"]);
    let run = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--platform",
            "linux/arm64",
            "--entrypoint",
            "sh",
            &image,
            "-c",
            "dpkg-divert --list | grep -c 'dpkg-deb\\|dpkg-split' || true; \
             ls -d /lib64 /usr/lib64 /usr/lib/x86_64-linux-gnu /.xtask-native-dpkg-deb \
                /usr/bin/dpkg-deb.distrib /usr/bin/dpkg-split.distrib 2>/dev/null | wc -l; \
             dpkg --verify dpkg | grep -v '^missing  *\\(c \\)\\?/usr/share/' | wc -l; \
             od -An -tx1 -j18 -N2 /usr/bin/dpkg-deb; od -An -tx1 -j18 -N2 /usr/bin/dpkg-split",
        ],
    )
    .ok();
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        ["0", "0", "0", "b7 00", "b7 00"],
        "diversions, leftover paths, dpkg's changed files, the ELF machines of dpkg-deb and dpkg-split"
    );
}

#[test]
fn arm64_wheel_from_the_arm_image() {
    let _serial = serial();
    standin(&["--arch", "arm64"]);
    // arm-image copies the emulator into its context when missing: done first,
    // so that what follows must leave the tree as it is.
    xtask(&["qemu-copy"]).ok();
    let inv = Invariants::before();
    let tag = "xtask-test-arm:latest";
    // The copied emulator is in the image (for hosts whose handler lacks
    // F); built again with nothing changed, nothing is rebuilt.
    assert_cross_image(tag, "aarch64", || {
        xtask(&["arm-image", "--base", "xtask-standin:aarch64", "--tag", tag])
    });

    // With tests and the native uv, and beside it (each build mostly one
    // core's work) with a pip setting uv would not be told of.
    let (out, pip_out) = (TempDir::new("arm-out"), TempDir::new("arm-pip-out"));
    let build = move |out: &Path, extra: &[&str]| {
        let mut args = vec!["wheels", "--arch", "arm64", "--image", tag, "--py"];
        let py = arm_cp();
        args.push(&py);
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        xtask_logged(&args)
    };
    let pip_run = {
        let out = pip_out.path().to_path_buf();
        std::thread::spawn(move || build(&out, &["--no-test", "--env", "PIP_CONSTRAINT=/dev/null"]))
    };
    let (run, logs) = build(out.path(), &[]);
    let (pip_run, pip_logs) = pip_run.join().unwrap();
    run.ok();
    pip_run.ok();
    inv.check();
    // The isolated build and the test environment were made by the native
    // uv, and the tests ran.
    let id = format!("{}-manylinux_aarch64", arm_cp());
    let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
    assert_has(&log, "==> environments: made by the native uv ");
    assert_has(&log, "* Creating isolated environment: venv+uv...");
    assert_pytest_ran(&logs, &id);
    let wheels = wheels_in(out.path());
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let wheel = out.path().join(&wheels[0]);
    assert!(
        wheels[0].contains(&wheel_tags(&arm_cp())) && wheels[0].contains("manylinux_2_41_aarch64"),
        "{wheels:?}"
    );

    // The extension is an aarch64 ELF (e_machine 183)...
    let script = r#"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
so = [n for n in z.namelist() if n.startswith("democodec/_native") and n.endswith(".so")][0]
elf = z.read(so)
assert elf[:4] == b"\x7fELF", so
print(int.from_bytes(elf[18:20], "little"))
"#;
    let machine = sh("python3", &["-c", script, wheel.to_str().unwrap()]).ok();
    assert_eq!(machine.stdout.trim(), "183", "not an aarch64 extension");

    // ...and it imports and works inside the arm image, under emulation.
    let import = format!(
        "import io, sys, tempfile, zipfile\nd = tempfile.mkdtemp()\nzipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())).extractall(d)\nsys.path.insert(0, d)\n{CHECK_DEMO}"
    );
    let mut cmd = std::process::Command::new("docker");
    cmd.args([
        "run",
        "--rm",
        "-i",
        "--platform",
        "linux/arm64",
        "--entrypoint",
        "",
        tag,
        &format!("/opt/python/{0}-{0}/bin/python", arm_cp()),
        "-c",
        &import,
    ]);
    cmd.stdin(std::fs::File::open(&wheel).unwrap());
    let run: Run = cmd.output().unwrap().into();
    let run = run.ok();
    assert!(run.stdout.starts_with("demo ok"), "{}", run.stdout);

    // pip made the environments of the other build, the log says why,
    // and the wheel is the same.
    let log = std::fs::read_to_string(pip_logs.join(format!("{id}.log"))).unwrap();
    assert_has(
        &log,
        "==> environments: made by pip, not the native uv: PIP_CONSTRAINT is set, and uv is not told it",
    );
    assert_has(&log, "* Creating isolated environment: venv+pip...");
    assert_eq!(
        std::fs::read(pip_out.path().join(&wheels[0])).unwrap(),
        std::fs::read(&wheel).unwrap(),
        "the wheel pip's environment built differs"
    );
    inv.check();
}

/// An image whose `build` predates 1.0 (which brought `--installer`) gets
/// its emulated isolated build environment from pip, and the log says why,
/// instead of every emulated build failing.
#[test]
fn an_image_whose_build_has_no_installer_option_builds_with_pip() {
    let (_serial, inv) = on_x86_64_standin();
    standin(&["--arch", "arm64"]);
    let tag = image_for(
        "linux/arm64",
        "xtask-test-old-build:aarch64",
        "FROM xtask-standin:aarch64\nRUN for d in /opt/python/*/lib/python3*/site-packages/build-*.dist-info; do mv \"$d\" \"${d%/build-*}/build-0.10.0.dist-info\"; done\n",
    );
    let out = TempDir::new("old-build");
    let (run, logs) = xtask_logged(&[
        "wheels",
        "--arch",
        "aarch64",
        "--image",
        &tag,
        "--py",
        &arm_cp(),
        "--no-test",
        "--out",
        out.str(),
    ]);
    run.ok();
    inv.check();
    let log =
        std::fs::read_to_string(logs.join(format!("{}-manylinux_aarch64.log", arm_cp()))).unwrap();
    assert_has(&log, "==> environments: made by the native uv ");
    assert_has(&log, "==> the isolated build environment: made by pip, not the native uv: the image's build 0.10.0 has no --installer (build 1.0 brought it)");
    assert_has(&log, "* Creating isolated environment: venv+pip...");
    assert_eq!(wheels_in(out.path()).len(), 1);
}

/// Under emulation the test environment is made by the native uv, whose
/// cache is kept between runs: the project's own installed files are
/// copies, so that a test writing into its installed package changes
/// nothing uv keeps (and a later run installs).
#[test]
fn a_test_writing_into_its_installed_package_leaves_uvs_cache_alone() {
    let (_serial, inv) = on_x86_64_standin();
    standin(&["--arch", "arm64"]);
    let dir = TempDir::new("writes-installed");
    std::fs::create_dir_all(dir.path().join("pkg/written")).unwrap();
    std::fs::write(dir.path().join("pkg/pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n").unwrap();
    std::fs::write(dir.path().join("pkg/setup.py"), "from setuptools import Extension, setup\nsetup(name='written', version='1', packages=['written'], ext_modules=[Extension('written._c', ['written/_c.c'])])\n").unwrap();
    std::fs::write(dir.path().join("pkg/written/__init__.py"), "VALUE = 1\n").unwrap();
    std::fs::write(
        dir.path().join("pkg/written/_c.c"),
        "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_c\", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&m); }\n",
    )
    .unwrap();
    let config = dir.path().join("written.toml");
    let test = "python -c \\\"import os, written; f = written.__file__; print('installed as a link' if os.path.islink(f) else 'installed as a copy'); open(f, 'a').write('# a test wrote here\\\\n')\\\"";
    std::fs::write(
        &config,
        format!("[workspace.metadata.wheels]\npackage = \"pkg\"\ninclude = []\nout = \"out\"\ntest-command = \"{test}\"\n"),
    )
    .unwrap();
    let bytecode_volumes = || -> Vec<String> {
        let filter = "name=xtask-wheels-pycache-aarch64-";
        let run = sh("docker", &["volume", "ls", "-q", "--filter", filter]).ok();
        run.stdout.lines().map(String::from).collect()
    };
    let before = bytecode_volumes();
    let (run, logs) = xtask_logged(&[
        "--config",
        config.to_str().unwrap(),
        "wheels",
        "--standin",
        "--arch",
        "aarch64",
        "--py",
        &arm_cp(),
    ]);
    let run = run.ok();
    inv.check();
    let id = format!("{}-manylinux_aarch64", arm_cp());
    assert!(row(&run.stdout, &id).contains("passed"), "{}", run.stdout);
    let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
    assert_has(&log, "==> environments: made by the native uv ");
    assert_has(&log, "\ninstalled as a copy\n");
    // Nothing uv keeps (in this project's volume) holds what the test wrote.
    let volumes: Vec<String> = bytecode_volumes()
        .into_iter()
        .filter(|v| !before.contains(v))
        .collect();
    assert_eq!(
        volumes.len(),
        1,
        "the project's bytecode volume: {volumes:?}"
    );
    for volume in &volumes {
        let found = sh(
            "docker",
            &[
                "run",
                "--rm",
                "--network=none",
                "--volume",
                &format!("{volume}:/kept:ro"),
                "--entrypoint",
                "sh",
                "xtask-standin:x86_64",
                "-c",
                "grep -rl 'a test wrote here' /kept || true",
            ],
        )
        .ok();
        assert_eq!(found.stdout.trim(), "", "{volume} holds what a test wrote");
    }
}

#[test]
fn qemu_register_through_a_privileged_container() {
    let _serial = serial_binfmt_alone();
    let image = standin(&["--qemu-register"]);
    let saved = BinfmtState::save();
    assert!(
        saved.entries().iter().any(|(n, _)| n == "qemu-aarch64"),
        "the test needs an aarch64 handler to start from"
    );
    let inv = Invariants::before();

    // A usable handler: nothing to do, no container.
    let run = xtask(&["qemu-register", "--image", &image]).ok();
    assert_has(&run.stdout, "already registered");
    assert_has(&run.stdout, "flags PF");

    // A handler without F (the seed's setup): registering one says what it means...
    BinfmtState::remove("qemu-aarch64");
    let run = xtask(&["qemu-register", "--image", &image, "--", "-p", "no"]).fails(1);
    assert_has(
        run.error_line(),
        "registered an aarch64 handler without flag F",
    );
    // ...and with one in place, qemu-register leaves it, with a note.
    let run = xtask(&["qemu-register", "--image", &image]).ok();
    assert_has(&run.stdout, "already registered");
    assert_has(
        &run.stderr,
        "note: without flag F, containers need /usr/bin/qemu-aarch64-static inside them",
    );
    // A disabled handler: the error names both fixes.
    std::fs::write(Path::new(BINFMT).join("qemu-aarch64"), "0").unwrap();
    let run = xtask(&["qemu-register", "--image", &image]).fails(1);
    assert_has(run.error_line(), "registered but disabled");
    assert_has(run.error_line(), "--reset");

    // No handler: doctor says so and names the fix; qemu-register registers one.
    BinfmtState::remove("qemu-aarch64");
    let doctor = xtask(&["doctor"]).fails(1);
    assert_has(&doctor.stdout, "FAIL  aarch64 emulation");
    assert_has(
        &doctor.stdout,
        "fix: `cargo xtask qemu-register --arch aarch64`",
    );
    let run = xtask(&["qemu-register", "--image", &image]).ok();
    assert_has(&run.stderr, "--privileged");
    assert_has(&run.stdout, "aarch64 handler registered");
    // The new handler runs arm64 code in a container that has no emulator inside.
    assert_registered_and_runs("aarch64");

    // --reset warns that it removes the other qemu handlers too, and does
    // so: one is registered here for it to remove (whatever the host has),
    // and the saved state brings the host's back after.
    std::fs::write(
        Path::new(BINFMT).join("register"),
        ":qemu-xtask-test:M::XTASKTEST::/bin/false:",
    )
    .unwrap();
    assert!(Path::new(BINFMT).join("qemu-xtask-test").exists());
    let run = xtask(&["qemu-register", "--reset", "--image", &image]).ok();
    assert!(
        run.stderr
            .contains("--reset removes every qemu handler on this host"),
        "{}",
        run.stderr
    );
    assert!(
        !Path::new(BINFMT).join("qemu-xtask-test").exists(),
        "--reset left another qemu handler in place"
    );
    assert!(Path::new(BINFMT).join("qemu-aarch64").exists());
    inv.check();
    drop(saved);
    assert!(
        std::fs::read_to_string(Path::new(BINFMT).join("qemu-aarch64"))
            .unwrap()
            .contains("flags: PF")
    );
}

#[test]
fn doctor_and_prep_on_an_unready_then_ready_machine() {
    let _serial = serial_binfmt_alone();
    standin(&["--arch", "x86_64"]);
    standin(&["--arch", "arm64"]);
    standin(&["--qemu-register"]);
    xtask(&["qemu-copy"]).ok();
    let saved = BinfmtState::save();
    let inv = Invariants::before();
    let dir = TempDir::new("prep");
    let config = standin_config(dir.path(), "");
    let config = config.to_str().unwrap();

    // Unready: the images are missing and so is the handler.
    for tag in ["xtask-test-x64:latest", "xtask-test-arm:latest"] {
        let _ = sh("docker", &["image", "rm", "--force", tag]);
    }
    BinfmtState::remove("qemu-aarch64");
    let doctor = xtask(&["--config", config, "doctor"]).fails(1);
    assert_has(&doctor.stdout, "FAIL  x86_64 image");
    assert!(
        doctor
            .stdout
            .contains("xtask-test-x64:latest is not on docker; fix:"),
        "{}",
        doctor.stdout
    );
    assert_has(&doctor.stdout, "FAIL  aarch64 emulation");
    assert!(
        doctor
            .stderr
            .contains("error: not ready: aarch64 emulation, x86_64 image, aarch64 image"),
        "{}",
        doctor.stderr
    );

    // prep fixes all of it, and ends ready.
    let prep = xtask(&["--config", config, "prep"]).ok();
    assert_has(&prep.stdout, "aarch64 handler registered");
    assert!(prep.stdout.trim_end().ends_with("ready"), "{}", prep.stdout);
    let doctor = xtask(&["--config", config, "doctor"]).ok();
    // It names the QEMU that the kernel runs for aarch64.
    let asked = qemu_in_container("linux/arm64", "xtask-test-arm:latest");
    let version = asked
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or_else(|| panic!("no version in {asked:?}"));
    let major_minor: Vec<&str> = version.split('.').take(2).collect();
    assert_has(
        &doctor.stdout,
        &format!(
            "aarch64 QEMU           the kernel runs QEMU {}",
            major_minor.join(".")
        ),
    );

    // Ready: prep changes nothing and rebuilds no image.
    let ids = [
        image_id("xtask-test-x64:latest"),
        image_id("xtask-test-arm:latest"),
    ];
    assert!(ids.iter().all(Option::is_some));
    let prep = xtask(&["--config", config, "prep"]).ok();
    assert!(
        prep.stdout
            .contains("skipped: aarch64 handler already usable"),
        "{}",
        prep.stdout
    );
    assert_eq!(
        prep.stderr.matches("is up to date").count(),
        3,
        "{}",
        prep.stderr
    );
    assert_eq!(
        [
            image_id("xtask-test-x64:latest"),
            image_id("xtask-test-arm:latest")
        ],
        ids
    );
    inv.check();
    drop(saved);
}

#[test]
fn qemu_copy_takes_only_a_static_x86_64_emulator() {
    let _serial = serial();
    let run = xtask(&["qemu-copy", "--from", "/bin/sh"]).fails(2);
    assert!(
        run.error_line().contains(
            "/bin/sh is dynamically linked: use the static x86_64 build from qemu-user-static"
        ),
        "{}",
        run.stderr
    );
    let run = xtask(&["qemu-copy", "--from", "/nonexistent/qemu"]).fails(2);
    assert!(
        run.error_line().contains("/nonexistent/qemu"),
        "{}",
        run.stderr
    );

    let dest = root().join("scripts/arm-image/qemu-aarch64-static");
    xtask(&["qemu-copy"]).ok();
    let host = sh("sh", &["-c", "command -v qemu-aarch64-static"]).ok();
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(host.stdout.trim()).unwrap()
    );
    let again = xtask(&["qemu-copy"]).ok();
    assert_has(&again.stderr, "is up to date");
}

#[test]
fn doctor_without_a_docker_cli() {
    let _serial = serial();
    let run: Run = xtask_cmd(&["doctor"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap()
        .into();
    let run = run.fails(1);
    assert_has(&run.stdout, "FAIL  x86_64 engine          no container engine: neither `docker` nor `podman` is on PATH; install Docker");
}

#[test]
fn dry_run_starts_nothing_and_writes_nothing() {
    let _serial = serial();
    let inv = Invariants::before();
    let dir = TempDir::new("dry");
    let out = dir.path().join("wheels");
    let run = xtask(&[
        "wheels",
        "--dry-run",
        "--arch",
        "x86_64",
        "--image",
        "xtask-standin:x86_64",
        "--py",
        &cp_and_pp(),
        "--out",
        out.to_str().unwrap(),
        "--env",
        "NOTE=a b $(id)",
    ])
    .ok();
    inv.check();
    assert!(!out.exists(), "a dry run created the output folder");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("tar --create ")
            && lines[0].contains(" | /usr/")
            && lines[0].contains(" run --interactive --rm --name xtask-wheels-RUN-x86_64 "),
        "{}",
        run.stdout
    );
    assert_has(
        &run.stdout,
        &format!("sh -c 'bash /xtask/bin/build-wheel.sh \"$@\" >&2 && cd \"/xtask/out/$1\" && exec tar -c -h -- *.whl' sh {0}-{0} manylinux_2_41_x86_64 /xtask/src demo/python 1 fail", cp()),
    );
    assert_has(&run.stdout, &format!("' sh {}-pypy", pp()));
    assert!(
        run.stdout.contains("--env 'NOTE=a b $(id)'"),
        "values must be quoted for pasting:\n{}",
        run.stdout
    );
    assert_has(&run.stdout, "tar --create --file=- --directory ");
}

/// The words of shell-quoted command lines, one list per line (the host
/// Python's shlex; words apart by US, lines by RS).
fn shell_words(lines: &[&str]) -> Vec<Vec<String>> {
    let script = "import shlex, sys\nprint('\\x1e'.join('\\x1f'.join(shlex.split(l)) for l in sys.argv[1:]), end='')";
    let run = sh("python3", &[&["-c", script], lines].concat()).ok();
    run.stdout
        .split('\x1e')
        .map(|l| l.split('\x1f').map(String::from).collect())
        .collect()
}

/// A build command's `--env` values and its interpreter's folder (the
/// first argument of build-wheel.sh).
fn env_and_dir(words: &[String]) -> (Vec<String>, String) {
    let env = words
        .windows(2)
        .filter(|w| w[0] == "--env")
        .map(|w| w[1].clone())
        .collect();
    let c = words.iter().position(|w| w == "-c").expect("sh -c");
    (env, words[c + 3].clone())
}

/// The dry run is the run: the builds it shows are those the run makes
/// (`--skip` applied), and each build's variables (its share of the
/// cores, ccache's, the tests') are those the run gave it, read from the
/// command each build's log starts with.
#[test]
fn the_dry_run_shows_the_runs_builds_and_environments() {
    let (_serial, inv) = on_x86_64_standin();
    let cps: Vec<String> = offered("x86_64")
        .into_iter()
        .filter(|t| t.starts_with("cp"))
        .collect();
    let [first, second, ..] = cps.as_slice() else {
        panic!("the x86_64 stand-in offers fewer than two CPythons: {cps:?}")
    };
    let out = TempDir::new("dry-is-run");
    let skip = format!("{second}-*");
    let args = [
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &format!("{first},{second}"),
        "--skip",
        &skip,
        "--ccache",
        "--out",
        out.str(),
    ];
    let dry = xtask(&[&["--dry-run"], &args[..]].concat()).ok();
    let (run, logs) = xtask_logged(&args);
    run.ok();
    inv.check();
    let exec_lines: Vec<&str> = dry
        .stdout
        .lines()
        .filter(|l| l.contains(" exec --env ") || l.contains(" exec --interactive --env "))
        .map(|l| l.split(" | tar ").next().unwrap())
        .collect();
    let shown: Vec<(Vec<String>, String)> = shell_words(&exec_lines)
        .iter()
        .map(|w| env_and_dir(w))
        .collect();
    assert_eq!(
        shown.len(),
        1,
        "the dry run shows other builds than the run's:\n{}",
        dry.stdout
    );
    let (env, dir) = &shown[0];
    assert_eq!(dir, &standin_dir(first));
    assert!(env.contains(&"XTASK_CCACHE=1".to_string()), "{env:?}");
    let built: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(built, [format!("{}.log", x86(first))], "the run's builds");
    let log = std::fs::read_to_string(logs.join(&built[0])).unwrap();
    let ran = log.lines().next().unwrap().strip_prefix("$ ").unwrap();
    let ran = env_and_dir(&shell_words(&[ran])[0]);
    assert_eq!(
        &ran, &shown[0],
        "the run's variables and folder against the dry run's"
    );
}

/// Builds start longest first, by the last run's times: after a run in
/// which the PyPy build took longer (its before-build sleeps), the next run
/// and its dry run start it before the CPython, which the selection lists
/// first; the dry run is still the run.
#[test]
fn the_longest_build_of_the_last_run_starts_first() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("longest-first");
    let config = standin_config(
        dir.path(),
        "before-build = \"case $CIBUILDWHEEL_BUILD_IDENTIFIER in pp*) sleep 5;; esac\"\n",
    );
    let out = dir.path().join("out");
    let py = format!("{},{}", cp(), pp());
    let args = [
        "--config",
        config.to_str().unwrap(),
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &py,
        "--no-test",
        "--out",
        out.to_str().unwrap(),
    ];
    let starts = |run: &Run| -> Vec<String> {
        run.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("==> ")?.strip_suffix(": building"))
            .map(String::from)
            .collect()
    };
    let first = xtask(&args).ok();
    assert_eq!(
        starts(&first),
        [x86(&cp()), x86(&pp())],
        "no times yet: the selection's order"
    );
    assert!(!first.stderr.contains("longest first"), "{}", first.stderr);

    let dry = xtask(&[&["--dry-run"], &args[..]].concat()).ok();
    assert_has(
        &dry.stderr,
        " at a time, longest first by the last run's times",
    );
    let (second, logs) = xtask_logged(&args);
    let second = second.ok();
    assert_has(
        &second.stderr,
        " at a time, longest first by the last run's times; logs in ",
    );
    assert_eq!(
        starts(&second),
        [x86(&pp()), x86(&cp())],
        "{}",
        second.stderr
    );
    assert_dry_run_is_the_run(&dry.stdout, &second, &logs);
    inv.check();
}

/// A `[tool.cibuildwheel]` table's images are the ones `wheels`, its dry
/// run and `matrix` use (derived stand-ins under other tags, as a project
/// names its own), and cibuildwheel 4's musllinux builds come beside the
/// manylinux ones; an overrides entry reaches the builds it selects. The
/// dry run is the run: a native, an emulated and a musllinux container.
#[test]
fn a_cibuildwheel_tables_images_are_the_ones_wheels_matrix_and_the_dry_run_use() {
    let (_serial, inv) = on_x86_64_standin();
    let images = [
        (
            "x86_64",
            standin(&["--arch", "x86_64"]),
            "xtask-test-cibw:x86_64",
        ),
        (
            "aarch64",
            standin(&["--arch", "aarch64"]),
            "xtask-test-cibw:aarch64",
        ),
        (
            "musllinux_x86_64",
            standin(&["--arch", "x86_64", "--musllinux"]),
            "xtask-test-cibw:musllinux",
        ),
    ];
    for (_, from, to) in &images {
        sh("docker", &["tag", from, to]).ok();
    }
    let dir = TempDir::new("cibw-images");
    demo_tree(&dir.path().join("tree"));
    let pyproject = dir.path().join("tree/demo/python/pyproject.toml");
    let base = std::fs::read_to_string(&pyproject).unwrap();
    std::fs::write(
        &pyproject,
        format!(
            r#"{base}
[tool.cibuildwheel]
archs = ["x86_64", "aarch64"]
build = "cp313-*"
skip = "*-musllinux_aarch64"
manylinux-x86_64-image = "xtask-test-cibw:x86_64"
manylinux-aarch64-image = "xtask-test-cibw:aarch64"
musllinux-x86_64-image = "xtask-test-cibw:musllinux"

[[tool.cibuildwheel.overrides]]
select = "*-musllinux_*"
environment = {{ ONLY_MUSL = "yes" }}
"#
        ),
    )
    .unwrap();
    let config = dir.path().join("demo.toml");
    std::fs::write(&config, "[workspace.metadata.wheels]\nroot = \"tree\"\npackage = \"demo/python\"\ninclude = [\"demo/native\", \"README.md\"]\n").unwrap();
    let out = dir.path().join("out");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "wheels",
        "--no-test",
        "--out",
        out.to_str().unwrap(),
    ];
    let dry = xtask(&[&args[..], &["--dry-run"]].concat()).ok();
    let (run, logs) = xtask_logged(&args);
    let run = run.ok();
    let matrix = xtask(&["--config", config.to_str().unwrap(), "matrix"]).ok();
    for (_, _, tag) in &images {
        sh("docker", &["rmi", tag]).ok();
    }
    inv.check();
    assert_dry_run_is_the_run(&dry.stdout, &run, &logs);
    for (name, _, image) in &images {
        assert_has(&run.stdout, &format!("{name}: {image} on docker ("));
        assert_has(&dry.stdout, &format!(" {image} sh -c "));
    }
    assert_has(
        &run.stderr,
        "cibuildwheel 4's defaults, its manylinux_2_28 images (armv7l manylinux_2_31, riscv64 manylinux_2_39), musllinux wheels beside manylinux ones",
    );
    let ids = [
        "cp313-manylinux_x86_64",
        "cp313-manylinux_aarch64",
        "cp313-musllinux_x86_64",
    ];
    let mut listed: Vec<&str> = matrix.stdout.lines().collect();
    listed.sort();
    let mut want = ids.to_vec();
    want.sort();
    assert_eq!(listed, want, "matrix");
    assert_eq!(wheels_in(&out).len(), 3, "{:?}", wheels_in(&out));
    for id in ids {
        let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
        let exec = log.lines().next().unwrap();
        assert_eq!(
            exec.contains("--env ONLY_MUSL=yes"),
            id.contains("musllinux"),
            "{id}: {exec}"
        );
    }
}

#[test]
fn bad_input_says_what_and_starts_nothing() {
    let _serial = serial();
    let inv = Invariants::before();
    let dir = TempDir::new("bad");
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["wheels", "--arch", "sparc", "--out", out],
            "unknown arch `sparc`: use one of x86_64, i686, aarch64, ppc64le, s390x, armv7l, riscv64, or `all`",
        ),
        (
            &["wheels", "--py", "cp3.12", "--out", out],
            "invalid interpreter tag `cp3.12`",
        ),
        (
            &["wheels", "--py", "", "--out", out],
            "empty interpreter list",
        ),
        (
            &["wheels", "--package", "../..", "--out", out],
            "is outside the root",
        ),
        (
            &["wheels", "--env", "JUSTNAME", "--out", out],
            "--env `JUSTNAME` has no `=`",
        ),
        (
            &["wheels", "--out", "demo/python/dist"],
            "is inside the package folder",
        ),
        (&["standin", "--arch", "mips"], "unknown arch `mips`"),
    ];
    for (args, expected) in cases {
        let run = xtask(args).fails(2);
        assert!(
            run.error_line().contains(expected),
            "{args:?}: {}",
            run.stderr
        );
    }
    // A tag the image does not offer: the error lists what it offers.
    standin(&["--arch", "x86_64"]);
    let run = xtask(&[
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        "cp312",
        "--out",
        out,
    ])
    .fails(2);
    assert!(
        run.error_line().contains(&format!(
            "interpreter `cp312` is not in the image; it offers: {}",
            offered("x86_64").join(", ")
        )),
        "{}",
        run.stderr
    );
    // An image that is not a manylinux image.
    image_from(
        "xtask-test-plain:latest",
        "FROM xtask-standin:x86_64\nRUN rm -rf /opt/python\n",
    );
    let run = xtask(&[
        "wheels",
        "--arch",
        "x86_64",
        "--image",
        "xtask-test-plain:latest",
        "--py",
        &cp(),
        "--out",
        out,
    ])
    .fails(2);
    assert!(
        run.error_line().contains(
            "image `xtask-test-plain:latest` is not a manylinux image: it has no /opt/python"
        ),
        "{}",
        run.stderr
    );
    // Neither /opt/python nor AUDITWHEEL_PLAT: said so first, not "pass --plat".
    let plain = image_from(
        "xtask-test-plainer:latest",
        "FROM xtask-standin:x86_64\nENV AUDITWHEEL_PLAT=\nRUN rm -rf /opt/python\n",
    );
    let run = xtask(&[
        "wheels",
        "--arch",
        "x86_64",
        "--image",
        &plain,
        "--py",
        &cp(),
        "--out",
        out,
    ])
    .fails(2);
    assert_has(run.error_line(), "image `xtask-test-plainer:latest` is not a manylinux image (it sets no AUDITWHEEL_PLAT): build in quay.io/pypa/manylinux2014_x86_64");
    let run = xtask(&[
        "wheels",
        "--arch",
        "arm64",
        "--image",
        "xtask-standin:x86_64",
        "--py",
        &cp(),
        "--out",
        out,
    ])
    .fails(1);
    assert!(
        run.error_line().contains(
            "image `xtask-standin:x86_64` is built for amd64, but aarch64 needs a arm64 image"
        ),
        "{}",
        run.stderr
    );
    let run = xtask(&[
        "wheels",
        "--arch",
        "x86_64",
        "--image",
        "xtask-no-such-image:1",
        "--py",
        &cp(),
        "--out",
        out,
    ])
    .fails(1);
    assert!(
        run.error_line()
            .contains("image `xtask-no-such-image:1` is not here and could not be pulled"),
        "{}",
        run.stderr
    );
    inv.check();
    assert!(
        !Path::new(out).exists(),
        "a failed run wrote its output folder"
    );
}

/// A real signal to a running build: containers are removed, the exit status
/// is the signal's, and the wheels already in the output folder survive.
fn interrupted_build(signal: &str, expected_status: i32, output: fn() -> std::process::Stdio) {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("interrupt");
    let config = slow_package(dir.path());
    let out = dir.path().join("out");
    let earlier = earlier_wheel(&out);
    let mut child = start_slow_build(&config, output);
    // A reader that went away (`... | head`): the cleanup must not depend on
    // being able to say that it is cleaning up.
    drop(child.stdout.take());
    drop(child.stderr.take());
    assert_eq!(
        containers_of_ours().len(),
        1,
        "the build runs in one container"
    );
    let killed = std::time::Instant::now();
    sh("kill", &[signal, &child.id().to_string()]).ok();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(expected_status),
        "exit status after kill {signal}"
    );
    assert!(
        killed.elapsed().as_secs() < 30,
        "the command waited for the build (60 s) instead of stopping"
    );
    inv.check();
    assert_only_earlier(&out, &earlier);
}

#[test]
fn sigint_during_a_build() {
    interrupted_build("-INT", 130, std::process::Stdio::null);
}

#[test]
fn sigterm_during_a_build() {
    interrupted_build("-TERM", 143, std::process::Stdio::null);
}

#[test]
fn sigint_with_output_to_a_closed_pipe() {
    interrupted_build("-INT", 130, std::process::Stdio::piped);
}

/// SIGKILL cannot be handled, and still no container outlives the command:
/// its first process waits on a stdin that only the killed command held.
#[test]
fn sigkill_during_a_build_leaves_no_container() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("sigkill");
    let config = slow_package(dir.path());
    let out = dir.path().join("out");
    let earlier = earlier_wheel(&out);
    let mut child = start_slow_build(&config, std::process::Stdio::null);
    assert_eq!(
        containers_of_ours().len(),
        1,
        "the build runs in one container"
    );
    sh("kill", &["-KILL", &child.id().to_string()]).ok();
    assert_eq!(child.wait().unwrap().code(), None, "killed by the signal");
    // The engine ends and removes it by itself: give it a few seconds.
    let killed = std::time::Instant::now();
    while !containers_of_ours().is_empty() && killed.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    inv.check();
    // The earlier wheel is untouched (the killed run's hidden staging folder
    // may stay: nothing runs after SIGKILL).
    assert_eq!(
        std::fs::read(&earlier).unwrap(),
        b"a wheel from an earlier run",
        "the earlier wheel changed"
    );
}

#[test]
fn env_and_pre_build_reach_each_build_as_data() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("probe");
    let config = probe_package(dir.path(), "");
    let note = "it's \"quoted\" $(touch /tmp/xtask-pwned) `id`; a\nb";
    let env = format!("NOTE={note}");
    xtask(&[
        "--config",
        config.to_str().unwrap(),
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp_and_pp(),
        "--env",
        &env,
    ])
    .ok();
    inv.check();
    assert!(
        !Path::new("/tmp/xtask-pwned").exists(),
        "a value was run by a shell"
    );
    let out = dir.path().join("out");
    let wheels = wheels_in(&out);
    // Each build, of either kind of interpreter.
    let built = cp_and_pp_tags();
    assert_eq!(wheels.len(), built.len(), "{wheels:?}");
    for py in &built {
        let wheel = wheels
            .iter()
            .find(|w| w.contains(&format!("-{py}-")))
            .unwrap_or_else(|| panic!("no {py} wheel: {wheels:?}"));
        let seen = read_in_wheel(&out.join(wheel), "probe/seen.py");
        assert!(
            seen.contains(&format!("STAMP = '{py} on x86_64'")),
            "{seen}"
        );
        assert!(
            seen.contains(r#"NOTE = 'it\'s "quoted" $(touch /tmp/xtask-pwned) `id`; a\nb'"#),
            "{seen}"
        );
        assert!(seen.contains("PIP_CACHE_MOUNTED = False"), "{seen}");
    }
}

#[test]
fn pip_cache_is_a_labelled_volume_kept_between_runs() {
    let (_serial, inv) = on_x86_64_standin();
    // From no volume at all: the first run makes it, the second finds in it
    // what the first left.
    sh(
        "docker",
        &["volume", "rm", "--force", "xtask-wheels-pip-cache"],
    )
    .ok();
    let dir = TempDir::new("pip-cache");
    let config = probe_package(dir.path(), "");
    let seen = |note: &str| {
        let out = dir.path().join(note);
        xtask(&[
            "--config",
            config.to_str().unwrap(),
            "wheels",
            "--standin",
            "--arch",
            "x86_64",
            "--py",
            &cp(),
            "--pip-cache",
            "--env",
            &format!("NOTE={note}"),
            "--out",
            out.to_str().unwrap(),
        ])
        .ok();
        read_in_wheel(&out.join(&wheels_in(&out)[0]), "probe/seen.py")
    };
    let first = seen("first");
    assert!(first.contains("PIP_CACHE_MOUNTED = True"), "{first}");
    // The first run's own mark at most (setup.py runs more than once a build).
    assert!(
        first.contains("PIP_CACHE_MARKERS = []")
            || first.contains("PIP_CACHE_MARKERS = ['probe-first']"),
        "{first}"
    );
    let second = seen("second");
    assert!(
        second.contains("'probe-first'"),
        "the cache was not kept: {second}"
    );
    inv.check();
    let label = sh(
        "docker",
        &[
            "volume",
            "inspect",
            "--format",
            "{{index .Labels \"org.xtask-wheels\"}}",
            "xtask-wheels-pip-cache",
        ],
    )
    .ok();
    assert_eq!(label.stdout.trim(), "cache");
}

#[test]
fn one_failing_interpreter_does_not_stop_the_others() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("fail");
    let config = probe_package(
        dir.path(),
        "[workspace.metadata.wheels.env]\nFAIL_ON_PYPY = \"1\"\n",
    );
    let config = config.to_str().unwrap();
    let (run, logs) = wheels_x86_logged(
        config,
        &["--py", &format!("{},{}", pp(), cp()), "--jobs", "1"],
    );
    let run = run.fails(1);
    inv.check();
    let out = dir.path().join("out");
    let wheels = wheels_in(&out);
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    assert!(wheels[0].contains(&format!("-{}-", cp())), "{wheels:?}");
    assert_row(&run.stdout, &x86(&pp()), "FAILED");
    assert_row(&run.stdout, &x86(&cp()), "ok");
    assert!(
        run.stdout.contains("this package does not build on PyPy"),
        "the log's last lines are not shown:\n{}",
        run.stdout
    );
    // The log is in this run's own folder, named by its time and pid.
    assert_has(
        &run.stdout,
        &format!(
            "target/xtask/logs/{}/{}.log",
            logs.file_name().unwrap().to_string_lossy(),
            x86(&pp())
        ),
    );
    assert!(
        run.error_line()
            .contains("1 of 2 builds did not produce a wheel"),
        "{}",
        run.stderr
    );

    // With --fail-fast the first failure stops the run.
    std::fs::remove_dir_all(&out).unwrap();
    let run = xtask(&[
        "--config",
        config,
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &format!("{},{}", pp(), cp()),
        "--jobs",
        "1",
        "--fail-fast",
    ])
    .fails(1);
    assert_row(&run.stdout, &x86(&cp()), "skipped");
    assert!(wheels_in(&out).is_empty());
    inv.check();
}

/// Runs xtask with `args` in a pseudo-terminal (util-linux's `script`):
/// its exit status and what the terminal showed.
fn xtask_in_a_terminal(args: &[&str]) -> (i32, String) {
    let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_xtask"))
        .chain(args.iter().copied())
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect();
    let out = Command::new("script")
        .args([
            "--quiet",
            "--return",
            "--command",
            &line.join(" "),
            "/dev/null",
        ])
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("running script (util-linux)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// x64-image installs the configured system packages with the base image's
/// package manager (apt-get in the stand-in; yum in manylinux2014). In a
/// terminal, the image build is one line of progress with its log, none of
/// the engine's output; a failing build shows its log's last lines.
#[test]
fn x64_image_installs_its_packages_once() {
    let (_serial, inv) = on_x86_64_standin();
    let tag = "xtask-test-x64-png:latest";
    let build = [
        "x64-image",
        "--base",
        "xtask-standin:x86_64",
        "--tag",
        tag,
        "--packages",
        "libpng-dev",
    ];
    // Built here, not left from an earlier run.
    sh("docker", &["image", "rm", "--force", tag]).ok();
    let (status, shown) = xtask_in_a_terminal(&build);
    assert_eq!(status, 0, "{shown}");
    let log = root().join("target/xtask/image-logs/xtask-test-x64-png_latest.log");
    assert_has(
        &shown,
        &format!(
            "==> building image {tag} (x86_64) (log: {})\r\n",
            log.display()
        ),
    );
    assert!(
        shown.contains("\r\x1b[K    done in ") && shown.contains(" so far\x1b[K"),
        "{shown:?}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    // The engine's output went to the log, and none of it to the terminal.
    for line in logged.lines().skip(1).filter(|l| l.trim().len() > 12) {
        assert!(
            !shown.contains(line.trim()),
            "the engine's line {line:?} reached the terminal:\n{shown}"
        );
    }
    let first = logged.lines().next().unwrap();
    assert!(
        first.starts_with("$ ") && first.contains("docker build --platform linux/amd64"),
        "{logged}"
    );
    assert!(logged.contains("libpng"), "{logged}");
    // A step that fails: its log's tail, in the terminal, with the path.
    let bad = [
        "x64-image",
        "--base",
        "xtask-standin:x86_64",
        "--tag",
        "xtask-test-x64-bad:latest",
        "--packages",
        "no-such-package-here",
    ];
    let (status, shown) = xtask_in_a_terminal(&bad);
    assert_ne!(status, 0, "{shown}");
    let log = root().join("target/xtask/image-logs/xtask-test-x64-bad_latest.log");
    assert_has(&shown, &format!("the end of {}:", log.display()));
    assert_has(&shown, "no-such-package-here");
    assert!(image_id("xtask-test-x64-bad:latest").is_none());
    let header = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--entrypoint",
            "",
            tag,
            "ls",
            "/usr/include/png.h",
        ],
    );
    assert_eq!(
        header.status, 0,
        "libpng-dev is not in the image: {}",
        header.stderr
    );
    let arch = sh(
        "docker",
        &["image", "inspect", "--format", "{{.Architecture}}", tag],
    )
    .ok();
    assert_eq!(arch.stdout.trim(), "amd64");
    let id = image_id(tag);
    let again = xtask(&build).ok();
    assert_has(&again.stderr, "is up to date");
    assert_eq!(image_id(tag), id);
    // Another package list is another image.
    let other = xtask(&[
        "x64-image",
        "--base",
        "xtask-standin:x86_64",
        "--tag",
        tag,
        "--packages",
        "",
    ])
    .ok();
    assert!(!other.stderr.contains("is up to date"), "{}", other.stderr);
    sh("docker", &["image", "rm", tag]).ok();
    inv.check();
}

/// In a real terminal (tmux): one live line per running build with its
/// phase and elapsed time while it runs; afterwards only the finished
/// builds' lines and the summary, nothing of the live lines left behind.
#[test]
fn live_lines_in_a_terminal() {
    let (_serial, inv) = on_x86_64_standin();
    let out = TempDir::new("live-out");
    let session = format!("xtask-live-{}", std::process::id());
    let done = out.path().join("exit-status");
    // The engine this test binary runs on (scripts/test.sh gives some a
    // docker context): tmux's server, which may be older than this test,
    // starts the command with its own environment.
    let engine = std::env::var("DOCKER_CONTEXT")
        .map(|c| format!("DOCKER_CONTEXT='{c}' "))
        .unwrap_or_default();
    let command = format!(
        "cd {} && {engine}{} wheels --standin --arch x86_64 --py {} --out {}; echo $? > {}; sleep 600",
        root().display(),
        env!("CARGO_BIN_EXE_xtask"),
        cp_and_pp(),
        out.str(),
        done.display()
    );
    sh(
        "tmux",
        &[
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "200",
            "-y",
            "40",
            &command,
        ],
    )
    .ok();
    let capture = || {
        sh("tmux", &["capture-pane", "-p", "-t", &session])
            .ok()
            .stdout
    };
    let live = |screen: &str| -> Vec<String> {
        screen
            .lines()
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 3
                    && w[0].ends_with("-manylinux_x86_64")
                    && w[1].ends_with('s')
                    && w[1][..w[1].len() - 1].parse::<u32>().is_ok()
                    && ["start", "copy", "build", "repair", "check", "test", "done"].contains(&w[2])
            })
            .map(String::from)
            .collect()
    };
    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    while !done.exists() && start.elapsed().as_secs() < 300 {
        seen.extend(live(&capture()));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let screen = capture();
    // With -e tmux writes each cell's attributes (colour, bold) as escape
    // codes: none may be there, as nothing is coloured.
    let attributes = sh("tmux", &["capture-pane", "-p", "-e", "-t", &session])
        .ok()
        .stdout;
    sh("tmux", &["kill-session", "-t", &session]).ok();
    assert_eq!(
        std::fs::read_to_string(&done).unwrap().trim(),
        "0",
        "{screen}"
    );
    assert!(
        !seen.is_empty(),
        "no live line was seen while the builds ran"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains(" build ") || l.contains(" test ")),
        "{seen:?}"
    );
    assert!(
        live(&screen).is_empty(),
        "live lines left on the screen:\n{screen}"
    );
    for tag in cp_and_pp_tags() {
        assert_has(&screen, &format!("==> {}: ok, ", x86(&tag)));
        assert_row(&screen, &x86(&tag), "ok");
    }
    assert!(
        !attributes.contains('\u{1b}'),
        "escape codes (colour or other attributes) on the screen:\n{attributes:?}"
    );
    inv.check();
}

/// --verbose streams each build's log with its identifier; --json writes the
/// summary for CI tools; --keep-container leaves the container running, with
/// the command that enters it, and Ctrl-C does not remove it either.
#[test]
fn verbose_json_and_kept_containers() {
    let (_serial, inv) = on_x86_64_standin();
    let out = TempDir::new("kept");
    let json = out.path().join("summary.json");
    let id = x86(&cp());
    let _kept = RemoveKeptContainers;
    let run = xtask(&[
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
        "--no-test",
        "--verbose",
        "--json",
        json.to_str().unwrap(),
        "--keep-container",
        "--out",
        out.str(),
    ])
    .ok();
    assert_has(
        &run.stderr,
        &format!("{id} | ==> build wheel with /opt/python/"),
    );
    assert_has(&run.stderr, &format!("{id} | ==> repair "));
    // A build that succeeded has its log too (CI uploads them).
    let parsed = sh("python3", &["-c", "import json, os, sys; e = json.load(open(sys.argv[1]))[0]; print(e['id'], e['result'], e['wheel'].endswith('.whl'), e['test'], e['reason'], os.path.isfile(e['log']) and e['log'].endswith(e['id'] + '.log'))", json.to_str().unwrap()]).ok();
    assert_eq!(
        parsed.stdout.trim(),
        format!("{id} ok True not run (--no-test) None True")
    );

    let kept = containers_of_ours();
    assert_eq!(kept.len(), 1, "the container is not kept");
    let name = run
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("==> ")?
                .split_once(" is kept running: enter it with `")
        })
        .map(|(name, _)| name.to_string())
        .unwrap_or_else(|| panic!("no enter command in:\n{}", run.stderr));
    assert_has(
        &run.stderr,
        &format!(" exec -it {name} bash`, remove it with `"),
    );
    // The build's folders are there to look at.
    let ls = sh(
        "docker",
        &[
            "exec",
            &name,
            "sh",
            "-c",
            "ls /xtask/work/*/raw /xtask/out/*",
        ],
    )
    .ok();
    assert_has(&ls.stdout, ".whl");
    sh("docker", &["rm", "--force", &name]).ok();

    // Ctrl-C with --keep-container leaves the container too.
    let dir = TempDir::new("kept-int");
    let slow = slow_package(dir.path());
    let mut cmd = xtask_cmd(&["--config", slow.to_str().unwrap()]);
    cmd.args([
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
        "--keep-container",
    ]);
    let mut child = start_build(cmd, std::process::Stdio::null);
    sh("kill", &["-INT", &child.id().to_string()]).ok();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let left = containers_of_ours();
    assert_eq!(
        left.len(),
        1,
        "--keep-container: Ctrl-C removed the container"
    );
    sh("docker", &["rm", "--force", &left[0]]).ok();

    // --json - puts only JSON on stdout; the table goes to stderr.
    let run = xtask(&[
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
        "--no-test",
        "--json",
        "-",
        "--out",
        out.str(),
    ])
    .ok();
    let parsed = sh(
        "python3",
        &[
            "-c",
            "import json, sys; print(len(json.loads(sys.argv[1])))",
            &run.stdout,
        ],
    )
    .ok();
    assert_eq!(parsed.stdout.trim(), "1");
    assert_row(&run.stderr, &id, "ok");
    inv.check();
}

/// --ccache: from an empty cache volume, a second run compiles from the
/// cache (the summary says so) and gives the same wheel.
#[test]
fn ccache_keeps_objects_between_runs() {
    let (_serial, inv) = on_x86_64_standin();
    let id = sh(
        "docker",
        &[
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "xtask-standin:x86_64",
        ],
    )
    .ok();
    let id = id.stdout.trim().trim_start_matches("sha256:");
    let volume = format!("xtask-wheels-ccache-x86_64-{}", &id[..12]);
    sh("docker", &["volume", "rm", "--force", &volume]).ok();
    let dir = TempDir::new("ccache");
    let config = probe_package(dir.path(), "");
    let run = |name: &str| {
        let out = dir.path().join(name);
        let run = xtask(&[
            "--config",
            config.to_str().unwrap(),
            "wheels",
            "--standin",
            "--arch",
            "x86_64",
            "--py",
            &cp(),
            "--ccache",
            "--env",
            "SOURCE_DATE_EPOCH=1700000000",
            "--out",
            out.to_str().unwrap(),
        ])
        .ok();
        let wheel = out.join(&wheels_in(&out)[0]);
        (run.stdout, std::fs::read(wheel).unwrap())
    };
    let (first, wheel1) = run("first");
    assert_has(
        &first,
        &format!("ccache on x86_64: 0 of 1 compiles from the cache (0%), in volume {volume}"),
    );
    let (second, wheel2) = run("second");
    assert_has(
        &second,
        &format!("ccache on x86_64: 1 of 1 compiles from the cache (100%), in volume {volume}"),
    );
    assert!(wheel1 == wheel2, "the wheel built from the cache differs");
    inv.check();
}

/// --build-jobs: setuptools compiles one extension's sources side by side
/// (several compilers at once, seen by a compiler wrapper that logs when
/// each runs), and --build-jobs 1 compiles them one after the other.
#[test]
fn build_jobs_compile_side_by_side_and_one_turns_it_off() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("build-jobs");
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(pkg.join("many")).unwrap();
    let mut sources = Vec::new();
    for i in 0..4 {
        std::fs::write(
            pkg.join(format!("many/f{i}.c")),
            format!("int f{i}(void) {{ return {i}; }}\n"),
        )
        .unwrap();
        sources.push(format!("\"many/f{i}.c\""));
    }
    std::fs::write(pkg.join("many/_c.c"), "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_c\", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&m); }\n").unwrap();
    std::fs::write(pkg.join("many/__init__.py"), "").unwrap();
    std::fs::write(pkg.join("pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n").unwrap();
    std::fs::write(pkg.join("setup.py"), format!("from setuptools import Extension, setup\nsetup(name='many', version='1', packages=['many'], ext_modules=[Extension('many._c', ['many/_c.c', {}])])\n", sources.join(", "))).unwrap();
    // Each compile logs its start and end, a second apart.
    std::fs::write(pkg.join("ccwrap"), "#!/bin/sh\ncase \" $* \" in *' -c '*) echo \"start $$\" >> /tmp/cc.log; sleep 1; \"$@\"; s=$?; echo \"end $$\" >> /tmp/cc.log; exit $s ;; esac\nexec \"$@\"\n").unwrap();
    std::fs::write(pkg.join("count.py"), "n = m = 0\nfor l in open('/tmp/cc.log'):\n    n += 1 if l.startswith('start') else -1\n    m = max(m, n)\nprint('compilers at once: %d' % m)\n").unwrap();
    let config = dir.path().join("pkg.toml");
    std::fs::write(&config, "[workspace.metadata.wheels]\npackage = \"pkg\"\nout = \"out\"\nbefore-build = \"rm -f /tmp/cc.log && cp {package}/ccwrap /tmp/ccwrap\"\ntest-command = \"python {package}/count.py\"\n\n[workspace.metadata.wheels.env]\nCC = \"sh /tmp/ccwrap gcc\"\n").unwrap();
    let at_once = |jobs: &str| -> u32 {
        let (run, logs) = wheels_x86_logged(
            config.to_str().unwrap(),
            &["--py", &cp(), "--build-jobs", jobs],
        );
        assert_row(&run.ok().stdout, &x86(&cp()), "ok");
        let log = logs.join(format!("{}.log", x86(&cp())));
        let text = std::fs::read_to_string(&log).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("compilers at once: "))
            .unwrap_or_else(|| panic!("{text}"));
        line.trim_start_matches("compilers at once: ")
            .parse()
            .unwrap()
    };
    assert!(
        at_once("3") >= 2,
        "no two compilers ran at once with --build-jobs 3"
    );
    assert_eq!(at_once("1"), 1);
    inv.check();
}

/// `--native-compiler`: the native x86_64 clang builds the emulated aarch64
/// wheel. Against the image's gcc: the same auditwheel policy, the same
/// NEEDED entries and exported `PyInit_*`, an AArch64 extension; the tests
/// pass under emulation, and the summary and manifest.json name the
/// compiler. A package the native clang cannot build fails naming the flag
/// to drop, and ships nothing.
#[test]
fn arm64_native_compiler_against_the_images_gcc() {
    let (_serial, inv) = on_x86_64_standin();
    standin(&["--arch", "arm64"]);
    let id = format!("{}-manylinux_aarch64", arm_cp());
    let build = |out: &Path, extra: &[&str]| {
        let mut args = vec!["wheels", "--standin", "--arch", "arm64", "--py"];
        let py = arm_cp();
        args.push(&py);
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        xtask_logged(&args)
    };
    // A package that only gcc builds. Its setup.py first links as Cargo
    // does, with the linker Cargo is given (no Rust in the stand-ins): an
    // AArch64 shared object from the native clang.
    let dir = TempDir::new("gcc-only");
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    // The project sets its C and C++ compilers and Cargo's linker:
    // --native-compiler keeps each (CC and the linker name the native clang
    // by another path, so that the build shows whose value it got).
    std::fs::write(dir.path().join("pkg/pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n[tool.cibuildwheel]\nenvironment = { CXX = \"g++\", CC = \"/opt/clang/bin/../bin/clang\", CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER = \"/opt/clang/bin/../bin/clang\" }\n").unwrap();
    std::fs::write(
        dir.path().join("pkg/setup.py"),
        r#"import os, platform, subprocess, sys, sysconfig, tempfile
from setuptools import Extension, setup
linker = os.environ["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"]
out = os.path.join(tempfile.mkdtemp(), "liblinked.so")
subprocess.run([linker, "-shared", "-o", out, "-x", "c", "-"], input=b"int f(void) { return 1; }", check=True)
machine = int.from_bytes(open(out, "rb").read()[18:20], "little")
print(f"cargo's linker {linker} made a shared object for machine {machine:#x}")
# Read inside the emulated container: the CPU model its processes got, the
# machine of the uv that made this environment, the C++ compiler kept.
print(f"QEMU_CPU in the container: {os.environ.get('QEMU_CPU')}")
uv = os.environ["XTASK_UV"]
print(f"the uv at {uv} is for machine {int.from_bytes(open(uv, 'rb').read()[18:20], 'little'):#x}")
print(f"CXX in the build: {os.environ.get('CXX')}")
print(f"CC in the build: {os.environ.get('CC')}")
# The backend runs natively, in the cross environment, told the target.
print(f"the backend's python: {os.path.realpath(sys.executable)}: {platform.machine()} {sysconfig.get_platform()} {sysconfig.get_config_var('EXT_SUFFIX')}")
setup(name='gcconly', version='1', ext_modules=[Extension('gcconly', ['gcconly.c'])])
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("pkg/gcconly.c"),
        "#ifdef __clang__\n#error this package builds with gcc only\n#endif\n",
    )
    .unwrap();
    let config = dir.path().join("gcconly.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"pkg\"\ninclude = []\nout = \"out\"\n",
    )
    .unwrap();
    let earlier = earlier_wheel(&dir.path().join("out"));
    // The three emulated builds run side by side (each mostly one core's
    // work), into folders of their own.
    let (gcc, clang) = (TempDir::new("arm-gcc"), TempDir::new("arm-clang"));
    let gcc_run = {
        let out = gcc.path().to_path_buf();
        std::thread::spawn(move || build(&out, &["--no-test"]))
    };
    let gcc_only_run = {
        let config = config.clone();
        std::thread::spawn(move || {
            xtask_logged(&[
                "--config",
                config.to_str().unwrap(),
                "wheels",
                "--standin",
                "--arch",
                "arm64",
                "--py",
                &arm_cp(),
                "--native-compiler",
            ])
        })
    };
    let (run, logs) = build(clang.path(), &["--native-compiler"]);
    gcc_run.join().unwrap().0.ok();
    let (gcc_only, gcc_only_logs) = gcc_only_run.join().unwrap();
    let run = run.ok();
    inv.check();
    assert_has(&run.stdout, "; compiler: the native clang ");
    let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
    assert_has(&log, "==> compiler: the native clang ");
    assert_has(&log, "\n/opt/clang/bin/clang ");
    assert_pytest_ran(&logs, &id);
    let manifest =
        |out: &TempDir| std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
    assert_has(&manifest(&clang), "\"compiler\": \"native clang ");
    assert_has(&manifest(&gcc), "\"compiler\": \"the image's\"");
    // Read by auditwheel and pyelftools in the x86_64 stand-in.
    let (a, b) = (wheels_in(gcc.path()), wheels_in(clang.path()));
    assert_eq!(a, b, "the two builds' wheel names (their tags) differ");
    let lines = wheel_facts(&[gcc.path().join(&a[0]), clang.path().join(&b[0])]);
    assert_eq!(lines[0], lines[1], "gcc's wheel, then clang's");
    assert!(lines[1].starts_with("EM_AARCH64 ["), "{}", lines[1]);
    assert!(lines[1].contains("['PyInit__native']"), "{}", lines[1]);
    assert!(lines[1].contains("manylinux_2_17_aarch64"), "{}", lines[1]);

    // The package only gcc builds failed naming the flag, and shipped nothing.
    let run = gcc_only.fails(1);
    let log = std::fs::read_to_string(gcc_only_logs.join(format!("{id}.log"))).unwrap();
    assert_has(
        &log,
        "cargo's linker /opt/clang/bin/../bin/clang made a shared object for machine 0xb7",
    );
    assert_has(&log, "\nQEMU_CPU in the container: neoverse-n1\n");
    assert_has(&log, "\nthe uv at /xtask/native/uv is for machine 0x3e\n");
    // uv through its wrapper, which sees the machine as it is.
    assert_has(&log, "Using external uv from /xtask/cross/bin/uv");
    assert_has(
        &log,
        &format!(
            "\nthe backend's python: /opt/xtask-python/{0}-{0}/bin/python3.{1}: aarch64 linux-aarch64 .cpython-3{1}-aarch64-linux-gnu.so\n",
            arm_cp(),
            &arm_cp()[3..]
        ),
    );
    assert_has(&log, "\nCXX in the build: g++\n");
    assert_has(&log, "\nCC in the build: /opt/clang/bin/../bin/clang\n");
    assert_has(
        &log,
        "==> compiler: the project sets CC=/opt/clang/bin/../bin/clang CXX=g++ CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=/opt/clang/bin/../bin/clang: kept (--native-compiler sets only what is unset)",
    );
    assert_has(&run.stdout, "this package builds with gcc only");
    assert_has(
        &run.stdout,
        "error: the wheel build failed (see the output above) (this build used the native clang of --native-compiler: a package it cannot build, such as one with Fortran or OpenMP, builds without --native-compiler)",
    );
    assert_only_earlier(&dir.path().join("out"), &earlier);
}

/// `pins` prints every pinned image by tag and digest; `--update` without
/// a registry fails naming the image and leaves the table as it was; bad
/// flags are refused before anything runs.
#[test]
fn pins_show_the_table_and_an_update_without_a_registry_changes_nothing() {
    let (_serial, inv) = on_x86_64_standin();
    let table = root().join("xtask/src/pins.txt");
    let before = std::fs::read_to_string(&table).unwrap();
    let shown = xtask(&["pins"]).ok();
    let lines: Vec<&str> = shown.stdout.lines().collect();
    assert_eq!(lines.len(), 25, "{}", shown.stdout);
    for line in &lines {
        assert!(
            line.starts_with("quay.io/pypa/") && line.contains(":2026.08.15-1@sha256:"),
            "{line}"
        );
    }
    // No registry is reachable here: the first pull fails, nothing is written.
    let run = xtask(&["pins", "--update", "--tag", "2099.01.01-1"]).fails(1);
    assert_has(
        run.error_line(),
        "pins.txt is unchanged: image `quay.io/pypa/",
    );
    assert_has(
        run.error_line(),
        ":2099.01.01-1` is not here and could not be pulled",
    );
    assert_eq!(std::fs::read_to_string(&table).unwrap(), before);
    for (args, says) in [
        (
            &["pins", "--tag", "2099.01.01-1"][..],
            "--tag is the tag --update pins: add --update",
        ),
        (
            &["pins", "--update"][..],
            "--update needs the dated tag to pin",
        ),
        (
            &["pins", "--update", "--tag", "a b"][..],
            "--tag `a b` is not an image tag",
        ),
    ] {
        let run = xtask(args).fails(2);
        assert_has(run.error_line(), says);
    }
    inv.check();
}
