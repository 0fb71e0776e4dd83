//! Release trust on a real engine: the project's tests against each
//! installed wheel, byte-identical wheels from two clones, SHA256SUMS and
//! the manifest, and `verify` catching what changed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::*;

/// `git clone` of this checkout's HEAD into `dir`.
fn clone_into(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    sh(
        "git",
        &[
            "clone",
            "--quiet",
            "--no-hardlinks",
            root().to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    )
    .ok();
    dir.to_path_buf()
}

/// Two clones at different paths, built one after the other, and an
/// emulated build with --full-emulation: every wheel byte-identical (x86_64
/// CPython and PyPy, emulated aarch64: one of each).
///
/// The --full-emulation build takes about as long as all the other tests
/// here. It runs on the second dockerd's copy of the arm64 stand-in (the
/// same image id, checked), started before this test waits for the lock and
/// holding only the binfmt table's (shared): the file's other tests, which
/// check that the local engine is left clean, run beside it.
#[test]
fn clones_and_full_emulation_give_byte_identical_wheels() {
    require_docker();
    require_second_daemon();
    let id = image_id(&standin(&["--arch", "arm64"])).expect("the arm64 stand-in's id");
    assert_eq!(
        image_id_on(&["--host", REMOTE_SOCKET], "xtask-remote-only:aarch64").as_ref(),
        Some(&id),
        "the second daemon's copy of the arm64 stand-in is stale: run scripts/test-engines.sh"
    );
    let scratch = TempDir::new("repro");
    let a = clone_into(&scratch.path().join("a/first"));
    let b = clone_into(&scratch.path().join("elsewhere/b/second clone"));
    let commit_time = sh(
        "git",
        &["-C", a.to_str().unwrap(), "log", "-1", "--format=%ct"],
    )
    .ok()
    .stdout
    .trim()
    .to_string();
    // --full-emulation: QEMU's own model, no bytecode volume, the emulated
    // pip; into a folder of its own, reading clone b's sources.
    let full = scratch.path().join("full");
    let full_run = {
        let (config, out) = (b.join("Cargo.toml"), full.clone());
        std::thread::spawn(move || {
            // Emulated on this machine's binfmt table, which no test may
            // change meanwhile.
            let _binfmt = binfmt_used();
            xtask_logged(&[
                "--config",
                config.to_str().unwrap(),
                "--engine",
                &format!("aarch64={REMOTE_SOCKET}"),
                "wheels",
                "--arch",
                "aarch64",
                "--image",
                "xtask-remote-only:aarch64",
                "--py",
                &arm_cp(),
                "--no-test",
                "--full-emulation",
                "--out",
                out.to_str().unwrap(),
            ])
        })
    };
    let outs = {
        let (_serial, inv) = on_x86_64_standin();
        // From no kept bytecode: each clone's first build makes its volume.
        let id = id.trim_start_matches("sha256:");
        let prefix = format!("xtask-wheels-pycache-aarch64-{}-", &id[..12]);
        for volume in volumes_named(&prefix) {
            sh("docker", &["volume", "rm", "--force", &volume]).ok();
        }
        let outs = clone_builds(&[&a, &b], &commit_time);
        // Kept per project: no clone runs bytecode another one left.
        let volumes = volumes_named(&prefix);
        assert_eq!(
            volumes.len(),
            2,
            "one bytecode volume per clone: {volumes:?}"
        );
        for volume in &volumes {
            kept_bytecode(volume);
        }
        same_wheels(&outs);
        inv.check();
        outs
    };
    let (run, logs) = full_run.join().unwrap();
    let run = run.ok();
    assert_has(
        &run.stdout,
        "emulated, QEMU's default CPU model (--full-emulation); environments made by the emulated pip (--full-emulation)",
    );
    let log =
        std::fs::read_to_string(logs.join(format!("{}-manylinux_aarch64.log", arm_cp()))).unwrap();
    assert_has(&log, "* Creating isolated environment: venv+pip...");
    assert!(!log.contains("native uv"), "{log}");
    let emulated: Vec<String> = wheels_in(&full)
        .into_iter()
        .filter(|w| w.ends_with(".whl"))
        .collect();
    let [wheel] = emulated.as_slice() else {
        panic!("{emulated:?}")
    };
    assert_eq!(
        std::fs::read(full.join(wheel)).unwrap(),
        std::fs::read(outs[0].join(wheel)).unwrap(),
        "{wheel} differs with --full-emulation"
    );
    assert_eq!(
        remote_containers(),
        Vec::<String>::new(),
        "a container outlived the run on the second daemon"
    );
}

/// Each kind of wheel once per clone, into its dist/: x86_64 CPython and
/// PyPy, and aarch64 CPython with the native helpers (the faster CPU
/// model, bytecode kept in a volume).
fn clone_builds(clones: &[&Path], commit_time: &str) -> Vec<PathBuf> {
    let kinds = format!(
        "{} {} {}-manylinux_aarch64",
        x86(&cp()),
        x86(&pp()),
        arm_cp()
    );
    let mut outs = Vec::new();
    for clone in clones {
        let out = clone.join("dist");
        let args = vec![
            "--config",
            clone.join("Cargo.toml").to_str().unwrap(),
            "wheels",
            "--standin",
            "--py",
            "all",
            "--build",
            &kinds,
            "--no-test",
            "--out",
            out.to_str().unwrap(),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = xtask(&args).ok();
        assert_has(
            &run.stdout,
            &format!("SOURCE_DATE_EPOCH={commit_time} (the last commit of"),
        );
        assert_has(&run.stdout, "emulated, QEMU_CPU=neoverse-n1 (QEMU ");
        assert_has(&run.stdout, "environments made by the native uv ");
        assert_has(
            &run.stderr,
            &format!(
                "==> aarch64: the build frontend and backend of {0}-{0} run in the native CPython of `xtask-standin:x86_64` (cross environment)",
                arm_cp()
            ),
        );
        outs.push(out);
    }
    outs
}

/// The volumes whose names start with `prefix`.
fn volumes_named(prefix: &str) -> Vec<String> {
    let filter = format!("name={prefix}");
    let run = sh("docker", &["volume", "ls", "-q", "--filter", &filter]).ok();
    run.stdout
        .lines()
        .filter(|v| v.starts_with(prefix))
        .map(String::from)
        .collect()
}

fn kept_bytecode(volume: &str) {
    // The run kept the interpreters' bytecode (that of build, which every
    // build runs in the native CPython of its cross environment, among it)
    // in its volume for the next run, and that
    // of the isolated environment's setuptools, whose files link to uv's
    // cache (kept in the volume too), under the cache's path: each wheel uv
    // unpacks has a folder of its own. Of the project's files (its sources,
    // its build's output, its installed wheel), and of the environments' own
    // paths, nothing: their bytecode stays beside them.
    let kept = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--volume",
            &format!("{volume}:/kept"),
            "--entrypoint",
            "sh",
            "xtask-standin:x86_64",
            "-c",
            "find /kept -name '*.pyc' -path '*/xtask-python/*/frontend/build/*' | wc -l; \
             find /kept/xtask/pycache/.uv -name '*.pyc' -path '*/setuptools/*' | wc -l; \
             find /kept -path '*build-env-*' | wc -l; find /kept/.uv -maxdepth 1 -name 'archive-v*' | wc -l; \
             find /kept/xtask/work /kept/xtask/test /kept/xtask/tmp -name '*.pyc' 2>/dev/null | wc -l; \
             find /kept -name '*.pyc' -path '*democodec*' | wc -l",
        ],
    )
    .ok();
    let counts: Vec<u32> = kept
        .stdout
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(counts[0] > 0, "no bytecode of build kept in {volume}");
    assert!(counts[1] > 0, "no bytecode of setuptools kept in {volume}");
    assert_eq!(
        counts[2], 0,
        "bytecode of an environment at a new path was kept in {volume}"
    );
    assert_eq!(counts[3], 1, "uv's cache was not kept in {volume}");
    assert_eq!(
        counts[4], 0,
        "bytecode of the builds' work, test or temporary folders was kept in {volume}"
    );
    assert_eq!(counts[5], 0, "the project's bytecode was kept in {volume}");
}

/// The clones' wheels: one of each kind, byte for byte the same, and their
/// SHA256SUMS too.
fn same_wheels(outs: &[PathBuf]) {
    let names = wheels_in(&outs[0]);
    let whl: Vec<&String> = names.iter().filter(|n| n.ends_with(".whl")).collect();
    assert_eq!(whl.len(), 3, "{names:?}");
    // The emulated wheel holds the Python files and bytecode the native one
    // of the same CPython holds (setup.cfg's build_py compile).
    let python_files = |arch: &str| -> Vec<String> {
        let wheel = whl
            .iter()
            .find(|w| w.contains(&wheel_tags(&cp())) && w.contains(arch))
            .unwrap_or_else(|| panic!("no {} wheel for {arch}: {whl:?}", cp()));
        wheel_names(&outs[0].join(wheel))
            .into_iter()
            .filter(|n| n.ends_with(".py") || n.ends_with(".pyc"))
            .collect()
    };
    // The same CPython on both arches, or there is nothing to compare.
    assert_eq!(
        cp(),
        arm_cp(),
        "the x86_64 and aarch64 stand-ins' first CPythons differ: build one both offer"
    );
    let native = python_files("x86_64");
    assert!(native.iter().any(|n| n.ends_with(".pyc")), "{native:?}");
    assert_eq!(python_files("aarch64"), native);
    let cp_tags = wheel_tags(&cp());
    let pp_tags = wheel_tags(&pp());
    for arch_or_py in [cp_tags.as_str(), pp_tags.as_str(), "aarch64"] {
        assert!(
            whl.iter().any(|w| w.contains(arch_or_py)),
            "{arch_or_py}: {whl:?}"
        );
    }
    assert_eq!(names, wheels_in(&outs[1]));
    for name in whl {
        let (x, y) = (outs[0].join(name), outs[1].join(name));
        let cmp = sh("cmp", &[x.to_str().unwrap(), y.to_str().unwrap()]);
        assert_eq!(
            cmp.status, 0,
            "{name} differs between the clones: {}",
            cmp.stdout
        );
        // pip accepts the normalised wheel: its RECORD still matches.
        if name.contains(&cp_tags) && name.contains("x86_64") {
            let run = install_and_run(
                "xtask-standin:x86_64",
                "linux/amd64",
                &standin_dir(&cp()),
                &x,
                "import democodec, zlib; assert democodec.crc32(b'x') == zlib.crc32(b'x'); print('ok')",
            );
            assert_has(&run.stdout, "ok");
        }
    }
    assert_eq!(
        std::fs::read(outs[0].join("SHA256SUMS")).unwrap(),
        std::fs::read(outs[1].join("SHA256SUMS")).unwrap()
    );
}

/// A package whose test suite fails on PyPy only.
fn package_with_tests(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("pkg/tested")).unwrap();
    std::fs::create_dir_all(dir.join("pkg/tests")).unwrap();
    std::fs::write(dir.join("pkg/pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n").unwrap();
    std::fs::write(dir.join("pkg/setup.py"), "from setuptools import Extension, setup\nsetup(name='tested', version='1', packages=['tested'], ext_modules=[Extension('tested._c', ['tested/_c.c'])])\n").unwrap();
    std::fs::write(dir.join("pkg/tested/__init__.py"), "from . import _c\n").unwrap();
    std::fs::write(
        dir.join("pkg/tested/_c.c"),
        "#include <Python.h>\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_c\", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&m); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pkg/tests/test_tested.py"),
        "import sys\nimport tested\n\ndef test_from_the_installed_wheel():\n    assert '/xtask/work/' not in tested.__file__, tested.__file__\n    assert 'site-packages' in tested.__file__\n\ndef test_not_on_pypy():\n    assert sys.implementation.name != 'pypy', 'this suite fails on PyPy'\n",
    )
    .unwrap();
    let config = dir.join("tested.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"pkg\"\nout = \"out\"\ntest-command = \"pytest -q {package}/tests\"\ntest-requires = \"pytest\"\n",
    )
    .unwrap();
    config
}

#[test]
fn a_suite_failing_on_one_interpreter_fails_that_build_only() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("tested");
    let config = package_with_tests(dir.path());
    let out = dir.path().join("out");
    let earlier = earlier_wheel(&out);
    // A CPython and the PyPy: the build that fails beside one that passes.
    let py = cp_and_pp();
    let run = wheels_x86(config.to_str().unwrap(), &["--py", &py]).fails(1);
    assert_row(&run.stdout, &x86(&cp()), "ok");
    assert_row(&run.stdout, &x86(&pp()), "FAILED");
    assert_has(
        &run.stdout,
        &format!("{} failed: the tests failed", x86(&pp())),
    );
    // The failing test is named in what the summary shows of the log.
    assert_has(&run.stdout, "FAILED");
    assert_has(&run.stdout, "test_not_on_pypy");
    let wheels: Vec<String> = wheels_in(&out)
        .into_iter()
        .filter(|w| !w.starts_with("earlier-"))
        .collect();
    // The CPython's wheel alone.
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    assert!(
        !wheels.iter().any(|w| w.contains(&format!("-{}-", pp()))),
        "a wheel whose tests failed landed: {wheels:?}"
    );
    assert_eq!(
        std::fs::read(&earlier).unwrap(),
        b"a wheel from an earlier run"
    );
    // SHA256SUMS holds the wheel that landed, and checks.
    assert_sums_check(&out);
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 1, "{sums}");
    assert!(sums.contains(&wheel_tags(&cp())), "{sums}");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let parsed = sh("python3", &["-c", "import json,sys; e=json.load(open(sys.argv[1]))[0]; print(e['id'], e['test'], e['interpreter'], e['auditwheel'], e['source_date_epoch'], e['commit'], e['image'])", out.join("manifest.json").to_str().unwrap()]).ok();
    let minor = cp().trim_start_matches("cp3").to_string();
    let fields: Vec<&str> = parsed.stdout.split_whitespace().collect();
    assert_eq!(fields[..2], [x86(&cp()).as_str(), "passed"], "{manifest}");
    assert!(fields[2].starts_with(&format!("3.{minor}.")), "{manifest}");
    assert_eq!(
        fields[3..],
        ["6.8.2", "None", "None", "xtask-standin:x86_64"],
        "{manifest}"
    );
    inv.check();

    // --no-test builds all of them; test-skip skips the failing one.
    let out2 = dir.path().join("out2");
    let run = wheels_x86(
        config.to_str().unwrap(),
        &["--py", &py, "--no-test", "--out", out2.to_str().unwrap()],
    )
    .ok();
    assert_eq!(wheels_in(&out2).len(), cp_and_pp_tags().len());
    assert!(run.stdout.contains("not run"), "{}", run.stdout);
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap() + "test-skip = \"pp*\"\n",
    )
    .unwrap();
    let out3 = dir.path().join("out3");
    let run = wheels_x86(
        config.to_str().unwrap(),
        &["--py", &py, "--out", out3.to_str().unwrap()],
    )
    .ok();
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with(&x86(&pp())) && l.contains("skipped")),
        "{}",
        run.stdout
    );
    inv.check();
}

#[test]
fn sums_stay_consistent_after_ctrl_c() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("sums-int");
    let out = dir.path().join("out");
    let wheels = |py: &str| {
        let mut cmd = xtask_cmd(&[
            "wheels",
            "--standin",
            "--arch",
            "x86_64",
            "--py",
            py,
            "--no-test",
            "--out",
            out.to_str().unwrap(),
        ]);
        // Two seconds between the wheel's rename and its lines: Ctrl-C lands there.
        cmd.env("XTASK_TEST_LANDING_PAUSE", "2000");
        cmd
    };
    let earlier = Run::from(wheels(&pp()).output().unwrap()).ok();
    assert_eq!(
        wheels_in(&out)
            .iter()
            .filter(|w| w.ends_with(".whl"))
            .count(),
        1,
        "{}",
        earlier.stdout
    );
    let mut child = wheels(&cp())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Interrupted once the second wheel is in the folder, before its lines are.
    let start = std::time::Instant::now();
    // Counted without wheels_in, which fails on the staging folder a build has.
    let landed = || {
        std::fs::read_dir(&out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".whl")
            })
            .count()
    };
    while landed() < 2 {
        assert!(
            start.elapsed().as_secs() < 120,
            "the second wheel never landed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sh("kill", &["-INT", &child.id().to_string()]).ok();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    // The landing finished before the signal was taken: both wheels, both lines.
    assert_sums_check(&out);
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    let named: Vec<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    let present: Vec<String> = wheels_in(&out)
        .into_iter()
        .filter(|w| w.ends_with(".whl"))
        .collect();
    assert_eq!(present.len(), 2, "{present:?}");
    assert_eq!(named, present);
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    for wheel in &present {
        assert_has(&manifest, &format!("{{\"file\": \"{wheel}\""));
    }
    inv.check();
}

/// A copy of the demo in a folder of its own, so that its sources can change.
fn demo_copy(dir: &Path) -> PathBuf {
    demo_tree(&dir.join("tree"));
    let config = dir.join("demo.toml");
    std::fs::write(&config, "[workspace.metadata.wheels]\nroot = \"tree\"\npackage = \"demo/python\"\ninclude = [\"demo/native\", \"README.md\"]\nout = \"out\"\n").unwrap();
    config
}

#[test]
fn verify_catches_what_changed() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("verify");
    let config = demo_copy(dir.path());
    let config = config.to_str().unwrap();
    let out = dir.path().join("out");
    // A CPython wheel and a PyPy one.
    let py = cp_and_pp();
    wheels_x86(
        config,
        &["--py", &py, "--env", "SOURCE_DATE_EPOCH=1700000000"],
    )
    .ok();
    let good = xtask(&["--config", config, "verify", "--standin", "--rebuild"]).ok();
    let lines: Vec<&str> = good.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", good.stdout);
    for line in lines {
        assert!(
            line.starts_with("ok    demo_codec-0.1.0-")
                && line.ends_with(
                    "(sha256, manifest.json, RECORD, tags, auditwheel in a manylinux image, rebuilt identically)"
                ),
            "{line}"
        );
    }
    let cp = wheels_in(&out)
        .into_iter()
        .find(|w| w.contains(&wheel_tags(&cp())))
        .unwrap();

    // Each tampering on a fresh copy of the folder.
    let tampered = |name: &str, change: &dyn Fn(&Path)| -> Run {
        let copy = dir.path().join(name);
        sh("cp", &["-a", out.to_str().unwrap(), copy.to_str().unwrap()]).ok();
        change(&copy);
        xtask(&[
            "--config",
            config,
            "verify",
            "--standin",
            copy.to_str().unwrap(),
        ])
        .fails(1)
    };
    let resum = |folder: &Path, old: &str, new: &str| {
        let sums = std::fs::read_to_string(folder.join("SHA256SUMS")).unwrap();
        let hash = sh("sha256sum", &[folder.join(new).to_str().unwrap()])
            .ok()
            .stdout
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let old_hash = sums
            .lines()
            .find(|l| l.ends_with(old))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string();
        let sums: String = sums
            .lines()
            .map(|l| {
                if l.ends_with(old) {
                    format!("{hash}  {new}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(folder.join("SHA256SUMS"), sums).unwrap();
        // The manifest says the same, as one who rewrote both would have it.
        let manifest = std::fs::read_to_string(folder.join("manifest.json")).unwrap();
        let manifest = manifest.replace(&old_hash, &hash).replace(old, new);
        std::fs::write(folder.join("manifest.json"), manifest).unwrap();
    };

    let run = tampered("flipped", &|f| {
        let path = f.join(&cp);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    });
    assert_has(run.error_line(), &format!("error: {cp}: its sha256 is "));

    let run = tampered("record", &|f| {
        let path = f.join(&cp);
        let script = "import sys, zipfile\nsrc, dst = sys.argv[1], sys.argv[1] + '.new'\nwith zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, 'w') as b:\n    for i in a.infolist():\n        data = a.read(i)\n        if i.filename == 'democodec/__init__.py':\n            data += b'# changed\\n'\n        b.writestr(i, data)\nimport os; os.replace(dst, src)\n";
        sh("python3", &["-c", script, path.to_str().unwrap()]).ok();
        resum(f, &cp, &cp);
    });
    assert_has(
        run.error_line(),
        "democodec/__init__.py does not match its RECORD hash",
    );

    let renamed = cp.replace("manylinux1_x86_64.", "manylinux_2_17_x86_64.");
    let run = tampered("renamed", &|f| {
        std::fs::rename(f.join(&cp), f.join(&renamed)).unwrap();
        resum(f, &cp, &renamed);
    });
    let t = format!("{0}-{0}", support::cp());
    assert_has(run.error_line(), &format!("{renamed}: the file name's tags differ from WHEEL's (named only: {t}-manylinux_2_17_x86_64; declared only: {t}-manylinux1_x86_64)"));

    let run = tampered("unlisted", &|f| {
        let sums = std::fs::read_to_string(f.join("SHA256SUMS")).unwrap();
        let kept: String = sums
            .lines()
            .filter(|l| !l.ends_with(&cp))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(f.join("SHA256SUMS"), kept).unwrap();
    });
    assert_has(run.error_line(), &format!("{cp}: it is not in SHA256SUMS"));

    // manifest.json says another hash than the file's.
    let run = tampered("manifest", &|f| {
        let manifest = std::fs::read_to_string(f.join("manifest.json")).unwrap();
        let sha = sh("sha256sum", &[f.join(&cp).to_str().unwrap()]).ok();
        let sha = sha.stdout.split_whitespace().next().unwrap().to_string();
        let forged = manifest.replace(&sha, &"0".repeat(64));
        assert_ne!(forged, manifest);
        std::fs::write(f.join("manifest.json"), forged).unwrap();
    });
    assert_has(
        run.error_line(),
        &format!("{cp}: manifest.json gives its sha256 as {}", "0".repeat(64)),
    );

    // Hostile wheels: each refused, naming the wheel and the member, before
    // anything is read or unpacked.
    let hostile = |name: &str, python: &str, member: &str| {
        let run = tampered(name, &|f| {
            let path = f.join(&cp);
            sh("python3", &["-c", python, path.to_str().unwrap()]).ok();
            resum(f, &cp, &cp);
        });
        assert_has(run.error_line(), &format!("{cp}: {member}"));
    };
    let add = |member: &str, extra: &str| {
        format!("import sys, zipfile, os\nsrc = sys.argv[1]\nwith zipfile.ZipFile(src, 'a', zipfile.ZIP_DEFLATED) as z:\n    i = zipfile.ZipInfo({member:?})\n    i.compress_type = zipfile.ZIP_DEFLATED\n{extra}    z.writestr(i, DATA)\n")
    };
    let data = |d: &str| format!("DATA = {d}\n");
    hostile(
        "dotdot",
        &(data("b'x'") + &add("../escaped.txt", "")),
        "member ../escaped.txt climbs out of the wheel with ..",
    );
    hostile(
        "absolute",
        &(data("b'x'") + &add("/tmp/xtask-absolute.txt", "")),
        "member /tmp/xtask-absolute.txt is an absolute path",
    );
    hostile(
        "symlink",
        &(data("b'/etc/passwd'")
            + &add("democodec/link", "    i.external_attr = 0o120777 << 16\n")),
        "member democodec/link is a symbolic link",
    );
    hostile("collision", &(data("b'x'") + &add("democodec/./__init__.py", "")), "member democodec/./__init__.py collides with democodec/__init__.py once names are normalised");
    hostile(
        "bomb",
        &(data("bytes(100 << 20)") + &add("democodec/zeros.bin", "")),
        "member democodec/zeros.bin declares 104857600 bytes, far beyond the ",
    );
    let record = "import sys, zipfile\nsrc, dst = sys.argv[1], sys.argv[1] + '.new'\nwith zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, 'w') as b:\n    for i in a.infolist():\n        data = a.read(i)\n        if i.filename.endswith('.dist-info/RECORD'):\n            data += b'../../outside.py,,\\n'\n        b.writestr(i, data)\nimport os; os.replace(dst, src)\n";
    hostile(
        "record-outside",
        record,
        "RECORD lists ../../outside.py, outside the wheel",
    );
    for host_path in [
        dir.path().join("escaped.txt"),
        dir.path().join("outside.py"),
    ] {
        assert!(!host_path.exists(), "{} was written", host_path.display());
    }
    assert!(!Path::new("/tmp/xtask-absolute.txt").exists());

    // The sources change after the build: the rebuild differs.
    let native = dir.path().join("tree/demo/native/zcrc.c");
    let source = std::fs::read_to_string(&native).unwrap();
    std::fs::write(
        &native,
        source + "\nint demo_changed_after_release(void) { return 42; }\n",
    )
    .unwrap();
    let run = xtask(&["--config", config, "verify", "--standin", "--rebuild"]).fails(1);
    assert_has(run.error_line(), "the rebuild of ");
    assert_has(run.error_line(), " differs from byte ");
    inv.check();
}
