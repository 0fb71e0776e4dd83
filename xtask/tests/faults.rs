//! Faults injected for real: after each, the wheels that were in the output
//! folder are still there, nothing partial landed, the source tree is as it
//! was, and no container of ours is left.

mod support;

use std::path::Path;
use std::process::Stdio;

use support::*;

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop.
struct Tmpfs(TempDir);

impl Tmpfs {
    fn new(name: &str, size: &str) -> Tmpfs {
        let dir = TempDir::new(name);
        sh(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                dir.str(),
            ],
        )
        .ok();
        Tmpfs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = sh("umount", &[self.0.str()]);
    }
}

fn demo_build(out: &Path) -> Vec<String> {
    [
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn run_args(args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    xtask(&args)
}

#[test]
fn output_folder_not_writable() {
    let (_serial, inv) = on_x86_64_standin();
    let fs = Tmpfs::new("ro", "1m");
    let earlier = earlier_wheel(fs.path());
    sh("mount", &["-o", "remount,ro", fs.0.str()]).ok();
    let run = run_args(&demo_build(fs.path())).fails(1);
    assert_has(&run.stderr, "Read-only file system");
    inv.check();
    assert_only_earlier(fs.path(), &earlier);
}

#[test]
fn disk_full_while_copying_wheels_out() {
    let (_serial, inv) = on_x86_64_standin();
    // Room for the earlier wheel, not for the new one (about 60 KiB).
    let fs = Tmpfs::new("full", "16k");
    let earlier = earlier_wheel(fs.path());
    let run = run_args(&demo_build(fs.path())).fails(1);
    assert_row(&run.stdout, &x86(&cp()), "FAILED");
    assert_has(&run.stdout.to_lowercase(), "no space left on device");
    inv.check();
    assert_only_earlier(fs.path(), &earlier);
}

#[test]
fn no_docker_cli_on_path() {
    let _serial = serial();
    let dir = TempDir::new("nocli");
    let out = dir.path().join("out");
    let run: Run = xtask_cmd(
        &demo_build(&out)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .env("PATH", "/nonexistent")
    .output()
    .unwrap()
    .into();
    let run = run.fails(1);
    assert_eq!(
        run.error_line(),
        "error: x86_64 builds: no container engine: neither `docker` nor `podman` is on PATH; install Docker (Debian/Ubuntu: `apt-get install docker.io`)"
    );
    assert!(!out.exists());
}

#[test]
fn daemon_not_running() {
    let _serial = serial();
    let dir = TempDir::new("nodaemon");
    let out = dir.path().join("out");
    let args = demo_build(&out);
    let run: Run = xtask_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap()
        .into();
    let run = run.fails(1);
    assert!(
        run.error_line()
            .starts_with("error: x86_64 builds: the engine `docker (DOCKER_HOST=unix:///nonexistent/docker.sock)` is not reachable ("),
        "{}",
        run.stderr
    );
    assert!(
        run.error_line()
            .ends_with("start it (`sudo systemctl start docker`, or `sudo dockerd &`)"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

#[test]
fn auditwheel_refuses_a_too_new_symbol() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("toonew");
    let config = probe_package(dir.path(), "");
    // arc4random is new in glibc 2.36: no wheel using it is manylinux_2_17.
    let c = dir.path().join("probe/probe/_c.c");
    let text = std::fs::read_to_string(&c).unwrap().replace(
        "PyMODINIT_FUNC PyInit__c(void) {",
        "#include <stdlib.h>\nunsigned int probe_random(void) { return arc4random(); }\nPyMODINIT_FUNC PyInit__c(void) {",
    );
    std::fs::write(&c, text).unwrap();
    let run = xtask(&[
        "--config",
        config.to_str().unwrap(),
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
        "--plat",
        "manylinux_2_17_x86_64",
    ])
    .fails(1);
    assert_row(&run.stdout, &x86(&cp()), "FAILED");
    assert!(
        run.stdout
            .contains("auditwheel could not repair the wheel for manylinux_2_17_x86_64"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("too-recent versioned symbols"),
        "auditwheel's reason is not shown:\n{}",
        run.stdout
    );
    assert!(
        std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .next()
            .is_none(),
        "something landed in the output folder"
    );
    inv.check();
}

/// A second run into the folder a run is building into stops at once,
/// naming the first: their SHA256SUMS and manifests would mix.
#[test]
fn two_runs_into_one_output_folder() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("twice");
    let config = slow_package(dir.path());
    let out = dir.path().join("out");
    let earlier = earlier_wheel(&out);
    let mut first = start_slow_build(&config, Stdio::null);
    let second = run_args(&demo_build(&out)).fails(1);
    assert!(
        second.error_line().contains(&format!(
            "another `cargo xtask wheels` (pid {}) is building into {}: wait for it to finish, or build into another folder (--out)",
            first.id(),
            out.display()
        )),
        "{}",
        second.stderr
    );
    assert_eq!(
        containers_of_ours().len(),
        1,
        "the second run started a container"
    );
    sh("kill", &["-INT", &first.id().to_string()]).ok();
    assert_eq!(first.wait().unwrap().code(), Some(130));
    inv.check();
    assert_only_earlier(&out, &earlier);
}

/// Two projects build on one engine at once: Ctrl-C on one removes its own
/// container only, the other goes on and lands its wheel, and each output
/// folder holds only its own.
#[test]
fn two_projects_at_once_on_one_engine() {
    let (_serial, inv) = on_x86_64_standin();
    let (a, b) = (TempDir::new("project-a"), TempDir::new("project-b"));
    let config_a = slow_package_of(a.path(), 20);
    let config_b = slow_package(b.path());
    let earlier = earlier_wheel(&b.path().join("out"));
    let build = |config: &Path| {
        let mut cmd = xtask_cmd(&["--config", config.to_str().unwrap()]);
        cmd.args(["wheels", "--standin", "--arch", "x86_64", "--py", &cp()]);
        cmd.args(["--pure-wheel", "accept"]);
        start_build(cmd, Stdio::piped)
    };
    let first = build(&config_a);
    let mut second = build(&config_b);
    let of = |pid: u32| {
        container_names_of_ours()
            .into_iter()
            .filter(move |n| n.starts_with(&format!("xtask-wheels-{pid}-")))
            .count()
    };
    assert_eq!(
        (of(first.id()), of(second.id())),
        (1, 1),
        "{:?}",
        container_names_of_ours()
    );
    sh("kill", &["-INT", &second.id().to_string()]).ok();
    assert_eq!(second.wait().unwrap().code(), Some(130));
    assert_eq!(
        (of(first.id()), of(second.id())),
        (1, 0),
        "{:?}",
        container_names_of_ours()
    );
    let first = Run::from(first.wait_with_output().unwrap()).ok();
    assert_row(&first.stdout, &format!("{}-manylinux_x86_64", cp()), "ok");
    let wheels = wheels_in(&a.path().join("out"));
    assert!(
        matches!(wheels.as_slice(), [w] if w.starts_with("slow-1-py3-none-any")),
        "{wheels:?}"
    );
    inv.check();
    assert_only_earlier(&b.path().join("out"), &earlier);
}

#[test]
fn shell_characters_are_data() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("quoting");
    let marker = Path::new("/tmp/xtask-pwned-by-path");
    let _ = std::fs::remove_file(marker);
    // A root whose name a shell would run, holding a package folder with spaces.
    let root_dir = dir
        .path()
        .join("we ird 'q' \"dq\" $(touch /tmp/xtask-pwned-by-path) `id` ; x\ny");
    let pkg = root_dir.join("py pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    sh(
        "cp",
        &[
            "-a",
            root().join("demo/python/.").to_str().unwrap(),
            pkg.to_str().unwrap(),
        ],
    )
    .ok();
    sh(
        "cp",
        &[
            "-a",
            root().join("demo/native").to_str().unwrap(),
            root_dir.join("native").to_str().unwrap(),
        ],
    )
    .ok();
    std::fs::write(root_dir.join("README.md"), "demo\n").unwrap();
    // The demo reads ../native and ../../README.md: lay the tree out to match.
    let setup = std::fs::read_to_string(pkg.join("setup.py"))
        .unwrap()
        .replace("\"..\", \"..\", \"README.md\"", "\"..\", \"README.md\"");
    std::fs::write(pkg.join("setup.py"), setup).unwrap();
    let out = root_dir.join("out $(id)");
    let run = xtask(&[
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
        "--root",
        root_dir.to_str().unwrap(),
        "--package",
        "py pkg",
        "--include",
        "native",
        "--include",
        "README.md",
        "--out",
        out.to_str().unwrap(),
        "--env",
        "NOTE=$(touch /tmp/xtask-pwned-by-path)",
    ]);
    let run = run.ok();
    assert!(!marker.exists(), "a path or value was run by a shell");
    assert_eq!(wheels_in(&out).len(), 1, "{}", run.stdout);
    inv.check();
}

#[test]
fn secrets_are_masked_and_the_host_environment_stays_out() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("secret");
    let secret = "s3cret-value-42";
    let config = probe_package(
        dir.path(),
        &format!(
            "secret-env = [\"TOKEN\"]\n[workspace.metadata.wheels.env]\nTOKEN = \"{secret}\"\n"
        ),
    );
    let config = config.to_str().unwrap();
    let mut cmd = xtask_cmd(&[
        "--config",
        config,
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
    ]);
    cmd.env("XTASK_TEST_HOST_ONLY", "leaked");
    let (run, logs) = run_logged(cmd);
    let run = run.ok();
    let out = dir.path().join("out");
    let wheels = wheels_in(&out);
    let seen = read_in_wheel(&out.join(&wheels[0]), "probe/seen.py");
    assert!(
        seen.contains(&format!("TOKEN = '{secret}'")),
        "the secret did not reach the build: {seen}"
    );
    assert!(
        seen.contains("HOST_ONLY = None"),
        "the host environment leaked into the build: {seen}"
    );
    let log = std::fs::read_to_string(logs.join(format!("{}.log", x86(&cp())))).unwrap();
    for (what, text) in [
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
        ("log", &log),
    ] {
        assert!(
            !text.contains(secret),
            "the secret is in the {what}:\n{text}"
        );
    }
    assert!(log.contains("--env TOKEN "), "{log}");
    let dry = xtask(&[
        "--config",
        config,
        "--dry-run",
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
    ])
    .ok();
    assert!(!dry.stdout.contains(secret), "{}", dry.stdout);
    inv.check();
}

#[test]
fn bad_config_and_paths_are_usage_errors() {
    let _serial = serial();
    let dir = TempDir::new("badconfig");
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"demo/python\"\njobs = 4\n",
    )
    .unwrap();
    let run = xtask(&["--config", config.to_str().unwrap(), "wheels"]).fails(2);
    assert!(
        run.error_line().contains(&format!(
            "unknown key `workspace.metadata.wheels.jobs` in {}",
            config.display()
        )),
        "{}",
        run.stderr
    );
    std::fs::write(&config, "[workspace.metadata.wheels]\narch = \"x86_64\"\n").unwrap();
    let run = xtask(&["--config", config.to_str().unwrap(), "doctor"]).fails(2);
    assert!(
        run.error_line()
            .contains("`workspace.metadata.wheels.arch`")
            && run
                .error_line()
                .contains("must be a list of strings, not a string"),
        "{}",
        run.stderr
    );

    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"/tmp/out-\xff");
    let run: Run = xtask_cmd(&["wheels", "--out"])
        .arg(bad)
        .output()
        .unwrap()
        .into();
    let run = run.fails(2);
    assert_has(&run.stderr, "invalid UTF-8");
    let run = xtask(&["wheelz"]).fails(2);
    assert_has(&run.stderr, "unrecognized subcommand 'wheelz'");
    let run = xtask(&["wheels", "--jobs", "0"]).fails(2);
    assert_has(&run.stderr, "'0'");
    let run = xtask(&["x64-image", "--packages", "libpng-devel;reboot"]).fails(2);
    assert!(
        run.error_line()
            .contains("`libpng-devel;reboot` is not a package name"),
        "{}",
        run.stderr
    );
}

fn daemon_answers() -> bool {
    sh("docker", &["version", "--format", "{{.Server.Version}}"]).status == 0
}

/// The daemon stops while a build runs (and is started again afterwards, as
/// scripts/setup-host.sh starts it).
#[test]
fn daemon_stopped_in_the_middle_of_a_build() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("daemon-stop");
    let config = slow_package(dir.path());
    let out = dir.path().join("out");
    let earlier = earlier_wheel(&out);
    let child = start_slow_build(&config, Stdio::piped);

    let pid = std::fs::read_to_string("/var/run/docker.pid")
        .expect("dockerd's pid file")
        .trim()
        .to_string();
    sh("kill", &["-TERM", &pid]).ok();
    let run: Run = child.wait_with_output().unwrap().into();
    wait_for("dockerd to stop", 60, || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    // Started again the one way the suite starts it, so the tests after this
    // one run on the same configuration.
    sh(root().join("scripts/setup-host.sh").to_str().unwrap(), &[]).ok();
    wait_for("dockerd to answer again", 60, daemon_answers);

    let run = run.fails(1);
    assert_row(&run.stdout, &x86(&cp()), "FAILED");
    assert!(
        run.error_line()
            .contains("1 of 1 builds did not produce a wheel"),
        "{}",
        run.stderr
    );
    inv.check();
    assert_only_earlier(&out, &earlier);
}

/// A maintainer who is not root but may use Docker: every file the run
/// leaves in their folders is theirs.
#[test]
fn a_non_root_user_gets_only_files_of_their_own() {
    let _serial = serial();
    standin(&["--arch", "x86_64"]);
    let user = "xtask-user";
    if sh("id", &["-u", user]).status != 0 {
        sh("useradd", &["--no-create-home", "--groups", "docker", user]).ok();
    }
    let inv = Invariants::before();
    let checkout = UserCheckout::new(user, "");
    let run = checkout
        .run(&["wheels", "--standin", "--arch", "x86_64", "--py", &cp()])
        .ok();
    assert_row(&run.stdout, &x86(&cp()), "ok");
    inv.check();
    checkout.assert_owns_everything();
}

/// A build the kernel kills for memory (a container limit given with
/// --container-arg) is said as out of memory, with the limit and the fixes;
/// another build of the same container, which fails on its own after the
/// kill, is said as its own failure, not as out of memory.
#[test]
fn a_build_killed_for_memory_says_so() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("oom");
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let cps = gil_cpythons("x86_64");
    let [hog, other, ..] = cps.as_slice() else {
        panic!("the x86_64 stand-in offers fewer than two CPythons: {cps:?}")
    };
    // On one interpreter, 600 MB written (so the pages are real) while the
    // wheel builds; on the other, a failure of its own once that one is
    // killed.
    let minor = |tag: &str| tag.trim_start_matches("cp3").to_string();
    std::fs::write(
        pkg.join("setup.py"),
        format!(
            "import sys, time\nfrom setuptools import setup\nif sys.version_info[1] == {}:\n    hog = b'x' * (600 << 20)\nelif sys.version_info[1] == {}:\n    time.sleep(8)\n    raise SystemExit('this build fails on its own')\nsetup(name='hog', version='1')\n",
            minor(hog),
            minor(other)
        ),
    )
    .unwrap();
    let config = dir.path().join("pkg.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"pkg\"\nout = \"out\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let earlier = earlier_wheel(&out);
    let run = wheels_x86(
        config.to_str().unwrap(),
        &[
            "--py",
            &format!("{hog},{other}"),
            "--jobs",
            "2",
            "--container-arg=--memory=256m",
            "--container-arg=--memory-swap=256m",
        ],
    )
    .fails(1);
    assert_row(&run.stdout, &x86(hog), "FAILED");
    assert_row(&run.stdout, &x86(other), "FAILED");
    assert_has(&run.stdout, &format!("{} failed: out of memory: the kernel killed a process of this build (the container may use 268435456 bytes); raise the limit (--container-arg=--memory=4g) or build less at once (--jobs 1, --build-jobs 1)", x86(hog)));
    assert_has(&run.stdout, &format!("{} failed: the wheel build failed (see the output above) (meanwhile the kernel killed a process of another build of this container for memory)", x86(other)));
    assert!(
        !run.stdout
            .contains(&format!("{} failed: out of memory", x86(other))),
        "{}",
        run.stdout
    );
    inv.check();
    assert_only_earlier(&out, &earlier);
}

/// The aarch64 handler disabled while an emulated build runs: that build
/// fails naming the handler and `cargo xtask qemu-register`; the x86_64
/// build of the same run lands; the handler is enabled again after.
#[test]
fn binfmt_handler_disabled_during_a_run() {
    handler_lost_during_a_run("0", "the aarch64 binfmt handler was disabled during the run, so nothing of aarch64 runs any more: run `cargo xtask qemu-register --arch aarch64`");
}

/// The same with the handler removed (not only disabled): said as removed.
#[test]
fn binfmt_handler_removed_during_a_run() {
    handler_lost_during_a_run("-1", "the aarch64 binfmt handler was removed during the run, so nothing of aarch64 runs any more: run `cargo xtask qemu-register --arch aarch64`, then build again");
}

/// Writes `what` to the aarch64 handler once a run's emulated build is
/// compiling; that build fails with `said`, the x86_64 one lands, and the
/// handler is as it was after.
fn handler_lost_during_a_run(what: &str, said: &str) {
    let _serial = serial_binfmt_alone();
    standin(&["--arch", "x86_64"]);
    let inv = Invariants::before();
    standin(&["--arch", "arm64"]);
    let handler = Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64");
    assert!(
        std::fs::read_to_string(handler)
            .unwrap()
            .starts_with("enabled"),
        "the test needs an enabled aarch64 handler to start from"
    );
    let saved = BinfmtState::save();
    let dir = TempDir::new("binfmt-lost");
    let out = dir.path().join("out");
    let mut cmd = xtask_cmd(&[
        "wheels",
        "--standin",
        "--arch",
        "x86_64,aarch64",
        "--py",
        &arm_cp(),
        "--no-test",
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lost once the emulated build has begun compiling.
    let log = logs_of(child.id()).join(format!("{}-manylinux_aarch64.log", arm_cp()));
    wait_for("the emulated build to begin", 300, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("==> build wheel with"))
    });
    std::fs::write(handler, what).unwrap();
    let run: Run = child.wait_with_output().unwrap().into();
    drop(saved);
    let run = run.fails(1);
    assert_row(&run.stdout, &format!("{}-manylinux_x86_64", arm_cp()), "ok");
    assert_row(
        &run.stdout,
        &format!("{}-manylinux_aarch64", arm_cp()),
        "FAILED",
    );
    assert_has(&run.stdout, said);
    let wheels = wheels_in(&out);
    assert!(wheels.iter().any(|w| w.contains("x86_64")), "{wheels:?}");
    assert!(!wheels.iter().any(|w| w.contains("aarch64")), "{wheels:?}");
    assert_sums_check(&out);
    inv.check();
}

/// `--json` is written when the run stops before any build finishes: after
/// an error (an interpreter the image lacks, found before any container
/// starts) and after Ctrl-C, each entry saying why.
#[test]
fn json_is_written_when_the_run_stops_before_any_build_finishes() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("json-stop");
    let json = dir.path().join("summary.json");
    let reason = |json: &Path| {
        let script = "import json, sys; e = json.load(open(sys.argv[1])); print(len(e), e[0]['id'], e[0]['result'], e[0]['reason'])";
        sh("python3", &["-c", script, json.to_str().unwrap()])
            .ok()
            .stdout
    };
    let out = dir.path().join("out");
    let config = root().join("Cargo.toml");
    let run = wheels_x86(
        config.to_str().unwrap(),
        &[
            "--py",
            "cp312",
            "--json",
            json.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .fails(2);
    assert_has(run.error_line(), "interpreter `cp312` is not in the image");
    let said = reason(&json);
    assert!(
        said.starts_with("1 None failed ")
            && said.contains("interpreter `cp312` is not in the image"),
        "{said}"
    );

    let config = slow_package(dir.path());
    let interrupted = dir.path().join("interrupted.json");
    let cmd = wheels_x86_cmd(
        config.to_str().unwrap(),
        &["--py", &cp(), "--json", interrupted.to_str().unwrap()],
    );
    let child = start_build(cmd, Stdio::null);
    sh("kill", &["-INT", &child.id().to_string()]).ok();
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(130));
    // Its build was known (decided before the container started): named, stopped.
    assert_eq!(
        reason(&interrupted).trim(),
        format!(
            "1 {} stopped stopped by a signal before it finished",
            x86(&cp())
        )
    );
    inv.check();
}

/// Stopped by a signal once one build finished and another runs, the JSON
/// summary keeps the finished build's entry and names the other `stopped`.
#[test]
fn json_after_a_signal_keeps_the_finished_builds() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("json-signal");
    // A pure-Python package whose build is quick under CPython and takes a
    // minute under PyPy.
    std::fs::create_dir_all(dir.path().join("two")).unwrap();
    std::fs::write(dir.path().join("two/pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n").unwrap();
    std::fs::write(dir.path().join("two/setup.py"), "import sys, time\nfrom setuptools import setup\nif sys.implementation.name == 'pypy':\n    time.sleep(60)\nsetup(name='two', version='1', py_modules=['twomod'])\n").unwrap();
    std::fs::write(dir.path().join("two/twomod.py"), "").unwrap();
    let config = dir.path().join("two.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"two\"\ninclude = []\nout = \"out\"\n",
    )
    .unwrap();
    let json = dir.path().join("summary.json");
    let mut cmd = wheels_x86_cmd(
        config.to_str().unwrap(),
        &[
            "--py",
            &cp_and_pp(),
            "--jobs",
            "2",
            "--pure-wheel",
            "accept",
            "--no-test",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read until the CPython build is done, then stop the run.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let finished = format!("==> {}: ok", x86(&cp()));
    let mut seen = String::new();
    for line in std::io::BufRead::lines(stderr) {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with(&finished) {
            break;
        }
    }
    assert_has(&seen, &finished);
    sh("kill", &["-INT", &child.id().to_string()]).ok();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let script = "import json, sys\nfor e in json.load(open(sys.argv[1])): print(e['id'], e['result'], bool(e['wheel']))";
    let entries = sh("python3", &["-c", script, json.to_str().unwrap()])
        .ok()
        .stdout;
    let mut lines: Vec<&str> = entries.lines().collect();
    lines.sort();
    let mut want = vec![
        format!("{} ok True", x86(&cp())),
        format!("{} stopped False", x86(&pp())),
    ];
    want.sort();
    assert_eq!(lines, want, "{entries}");
    inv.check();
}
