//! Builds on engines other than the local dockerd, all real and on this
//! machine (scripts/test-engines.sh sets them up): a second dockerd reached
//! over ssh on loopback, podman as root, and rootless podman.
//! Also the CI fan-out: `matrix`, `--only`, and the generated workflow.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::*;

const REMOTE: &str = "ssh://xtask-remote@127.0.0.1:2222";
/// The ssh the docker CLI runs, with the test key (see scripts/test-engines.sh).
const SSH_WRAPPER: &str = "/var/lib/xtask-test/bin";
const ROOTLESS: &str = "xtask-rootless";

/// The engines scripts/test-engines.sh starts: without them these tests fail, loudly.
fn require_engines() {
    require_second_daemon();
    assert!(
        Path::new(SSH_WRAPPER).join("ssh").exists(),
        "no ssh set-up for the remote engine: run scripts/test.sh"
    );
}

fn with_ssh(mut cmd: Command) -> Command {
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{SSH_WRAPPER}:{path}"));
    cmd
}

fn podman_containers(user: Option<&str>) -> Vec<String> {
    let ps = "cd && podman ps --all --quiet";
    let run = match user {
        None => sh("sh", &["-c", ps]),
        Some(user) => sh("runuser", &["-u", user, "--", "sh", "-c", ps]),
    }
    .ok();
    run.stdout.lines().map(String::from).collect()
}

/// A tag of `image` on the local daemon only, named for this process and
/// removed when dropped.
struct LocalTag(String);

impl LocalTag {
    fn new(image: &str) -> LocalTag {
        let tag = format!("xtask-local-only:{}", std::process::id());
        sh("docker", &["tag", image, &tag]).ok();
        let remote = sh(
            "docker",
            &["--host", REMOTE_SOCKET, "image", "inspect", &tag],
        );
        assert_ne!(remote.status, 0, "{tag} is on the second engine too");
        LocalTag(tag)
    }
}

impl Drop for LocalTag {
    fn drop(&mut self) {
        let _ = sh("docker", &["rmi", &self.0]);
    }
}

/// A config with x86_64 on the local daemon and aarch64 on `aarch64_engine`,
/// whose image exists only on the second daemon.
fn two_engine_config(dir: &Path, aarch64_engine: &str) -> String {
    let file = dir.join("two.toml");
    std::fs::write(
        &file,
        format!(
            r#"[workspace.metadata.wheels]
root = "{root}"
package = "demo/python"
include = ["demo/native", "README.md"]
[workspace.metadata.wheels.images]
x86_64 = "xtask-standin:x86_64"
aarch64 = "xtask-remote-only:aarch64"
[workspace.metadata.wheels.engines]
aarch64 = "{aarch64_engine}"
"#,
            root = root().display()
        ),
    )
    .unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn two_engines_in_one_run() {
    let (_serial, inv) = on_x86_64_standin();
    require_engines();
    assert!(
        image_id("xtask-remote-only:aarch64").is_none(),
        "the aarch64 image must exist only on the second engine, or the wheel proves no routing"
    );
    let dir = TempDir::new("two-engines");
    let config = two_engine_config(dir.path(), REMOTE);
    let out = dir.path().join("out");
    let mut cmd = xtask_cmd(&["--config", &config, "wheels", "--py", &cp(), "--out"]);
    cmd.arg(&out);
    let mut child = with_ssh(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both containers up at once: seen together, each on its engine, while
    // the run goes on (its output is small enough to wait in the pipes).
    let mut together = false;
    while child.try_wait().unwrap().is_none() {
        together |= !remote_containers().is_empty() && !containers_of_ours().is_empty();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let run = Run::from(child.wait_with_output().unwrap()).ok();
    inv.check();
    assert!(together, "the two arches' containers were never up at once");
    assert_eq!(
        remote_containers(),
        Vec::<String>::new(),
        "a container outlived the run on the second engine"
    );

    let wheels = wheels_in(&out);
    assert_eq!(wheels.len(), 2, "{wheels:?}");
    assert!(
        wheels
            .iter()
            .any(|w| w.contains(&wheel_tags(&cp())) && w.contains("x86_64")),
        "{wheels:?}"
    );
    assert!(
        wheels
            .iter()
            .any(|w| w.contains(&wheel_tags(&cp())) && w.contains("aarch64")),
        "{wheels:?}"
    );
    assert_row(&run.stdout, &format!("{}-manylinux_aarch64", cp()), "ok");
    assert_has(
        &run.stdout,
        &format!("aarch64: xtask-remote-only:aarch64 on docker --host {REMOTE} (emulated, QEMU_CPU=neoverse-n1 (the engine's emulator takes it); environments made by the native uv "),
    );
    // A remote engine cannot mount this machine's folders: the native uv
    // is copied in (a local one mounts it read-only: arches.rs).
    assert_has(&run.stderr, "/target/xtask/native/x86_64/uv-");
    let start = run
        .stderr
        .lines()
        .find(|l| l.contains(" run ") && l.contains("xtask-remote-only:aarch64"))
        .expect("the aarch64 container's start line");
    assert!(!start.contains(":ro "), "{start}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains(" cp ") && l.ends_with(":/xtask/native")),
        "{}",
        run.stderr
    );
    assert_has(
        &run.stdout,
        "x86_64: xtask-standin:x86_64 on docker (native)",
    );
}

/// Starts both arches' builds of the first CPython, x86_64 locally and
/// aarch64 on the second engine over ssh, into `dir`/out, and returns once
/// the emulated build has begun.
fn start_until_aarch64_builds(dir: &TempDir) -> (PathBuf, std::process::Child) {
    let config = two_engine_config(dir.path(), REMOTE);
    let out = dir.path().join("out");
    let mut cmd = xtask_cmd(&[
        "--config",
        &config,
        "wheels",
        "--py",
        &cp(),
        "--no-test",
        "--out",
    ]);
    cmd.arg(&out);
    let child = with_ssh(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = logs_of(child.id()).join(format!("{}-manylinux_aarch64.log", cp()));
    wait_for("the emulated build to begin", 300, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("==> build wheel with"))
    });
    (out, child)
}

/// What a run that lost its aarch64 engine mid-build leaves: the x86_64
/// build ok and the aarch64 one failed in the summary, the x86_64 wheel
/// alone in `out`, and SHA256SUMS and manifest.json holding just it.
fn assert_only_x86_64_landed(run: &Run, out: &Path) {
    assert_row(&run.stdout, &format!("{}-manylinux_x86_64", cp()), "ok");
    assert_row(
        &run.stdout,
        &format!("{}-manylinux_aarch64", cp()),
        "FAILED",
    );
    let wheels = wheels_in(out);
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    assert!(wheels[0].contains("x86_64"), "{wheels:?}");
    assert_sums_check(out);
}

/// The aarch64 engine's daemon dies while its build runs: the x86_64 wheel
/// lands, the run exits 1, the summary names the lost engine and how to
/// check it, SHA256SUMS lists the wheel that landed, nothing of ours is left
/// on the engine that survived. The daemon is started again after.
#[test]
fn an_engine_lost_mid_run_takes_down_only_its_builds() {
    let (_serial, inv) = on_x86_64_standin();
    require_engines();
    let dir = TempDir::new("engine-lost");
    let (out, child) = start_until_aarch64_builds(&dir);
    let pid = std::fs::read_to_string("/run/xtask-test/d2/pid").unwrap();
    sh("kill", &["-KILL", pid.trim()]).ok();
    let run = Run::from(child.wait_with_output().unwrap());
    // Up again for the tests after this one, the way the suite starts it.
    sh(
        root().join("scripts/test-engines.sh").to_str().unwrap(),
        &[],
    )
    .ok();
    let run = run.fails(1);
    assert_only_x86_64_landed(&run, &out);
    assert_has(
        &run.stdout,
        &format!("the aarch64 engine docker --host {REMOTE} was lost during the run (it no longer answers): check it with `"),
    );
    assert_has(&run.stdout, &format!("--host {REMOTE} info`"));
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 1, "{sums}");
    inv.check();
}

/// The ssh connections to the aarch64 engine are cut while its build runs
/// (its daemon lives on): the x86_64 wheel lands, the run exits 1 and says
/// the connection was cut and how to check it, and nothing of ours is left
/// on either engine.
#[test]
fn an_ssh_connection_cut_mid_run_takes_down_only_its_builds() {
    let (_serial, inv) = on_x86_64_standin();
    require_engines();
    let dir = TempDir::new("ssh-cut");
    let (out, child) = start_until_aarch64_builds(&dir);
    // Every process of the engine's ssh user: its sessions and what they run.
    sh("pkill", &["-KILL", "-u", "xtask-remote"]).ok();
    let run = Run::from(child.wait_with_output().unwrap()).fails(1);
    assert_only_x86_64_landed(&run, &out);
    assert_has(
        &run.stdout,
        &format!("the connection to the aarch64 engine docker --host {REMOTE} was cut during the run: check it with `"),
    );
    // The cut build's container ends on the engine by itself.
    wait_for("the cut build's container to end", 60, || {
        remote_containers().is_empty()
    });
    inv.check();
}

#[test]
fn an_unreachable_engine_is_named_and_nothing_is_left() {
    let (_serial, inv) = on_x86_64_standin();
    require_engines();
    let dir = TempDir::new("unreachable");
    // Nothing listens there: what a client sees when sshd is down.
    let gone = "ssh://xtask-remote@127.0.0.1:2223";
    let config = two_engine_config(dir.path(), gone);
    let out = dir.path().join("out");
    let earlier = earlier_wheel(&out);
    let mut cmd = xtask_cmd(&["--config", &config, "wheels", "--py", &cp(), "--out"]);
    cmd.arg(&out);
    let run = Run::from(with_ssh(cmd).output().unwrap()).fails(1);
    let line = run.error_line();
    assert!(line.contains("aarch64 builds"), "{line}");
    assert!(
        line.contains(&format!("`docker --host {gone}` is not reachable")),
        "{line}"
    );
    assert!(
        line.contains("ssh -p 2223 xtask-remote@127.0.0.1 docker version"),
        "{line}"
    );
    inv.check();
    assert_eq!(remote_containers(), Vec::<String>::new());
    assert_only_earlier(&out, &earlier);

    // An image that is on another engine: the error says which lacks it and how to move it.
    // The tag is made here, so the second engine cannot have it from an earlier run.
    let local = LocalTag::new("xtask-standin:aarch64");
    let mut cmd = xtask_cmd(&[
        "--config",
        &config,
        "--engine",
        &format!("aarch64={REMOTE}"),
        "wheels",
        "--arch",
        "aarch64",
        "--image",
        &local.0,
        "--out",
    ]);
    cmd.arg(&out);
    let run = Run::from(with_ssh(cmd).output().unwrap()).fails(1);
    assert_has(
        run.error_line(),
        &format!(
            "image `{}` is on docker but not on the aarch64 engine docker --host {REMOTE}: copy it with `",
            local.0
        ),
    );
    assert_has(
        run.error_line(),
        &format!(
            "save {} | /usr/local/bin/docker --host {REMOTE} load`",
            local.0
        ),
    );
    inv.check();
    assert_only_earlier(&out, &earlier);
}

#[test]
fn doctor_asks_each_engine() {
    let _serial = serial();
    require_engines();
    let dir = TempDir::new("doctor-engines");
    let config = two_engine_config(dir.path(), REMOTE);
    let run = Run::from(
        with_ssh(xtask_cmd(&["--config", &config, "doctor"]))
            .output()
            .unwrap(),
    )
    .ok();
    assert_has(&run.stdout, "ok    x86_64 engine          docker: server ");
    assert_has(
        &run.stdout,
        &format!("ok    aarch64 engine         docker --host {REMOTE}: server "),
    );
    assert_has(&run.stdout, "aarch64 builds emulated");
    assert_has(&run.stdout, "xtask-remote-only:aarch64 (");

    let run = Run::from(
        with_ssh(xtask_cmd(&[
            "--config",
            &config,
            "--engine",
            "aarch64=ssh://xtask-remote@127.0.0.1:2223",
            "doctor",
        ]))
        .output()
        .unwrap(),
    )
    .fails(1);
    assert_has(&run.stdout, "FAIL  aarch64 engine         the engine `docker --host ssh://xtask-remote@127.0.0.1:2223` is not reachable");
    assert_has(&run.stdout, "FAIL  aarch64 image          xtask-remote-only:aarch64: not checked, its engine does not answer");
}

#[test]
fn podman_as_root_builds_and_leaves_nothing() {
    let (_serial, inv) = on_x86_64_standin();
    require_engines();
    assert_eq!(podman_containers(None), Vec::<String>::new());
    let out = TempDir::new("podman-out");
    // A CPython and the PyPy: what an engine does is the same for every
    // interpreter of one kind.
    let py = cp_and_pp();
    let run = xtask(&[
        "--engine",
        "x86_64=podman",
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &py,
        "--out",
        out.str(),
    ])
    .ok();
    inv.check();
    assert_eq!(
        podman_containers(None),
        Vec::<String>::new(),
        "a podman container outlived the run"
    );
    let wheels = wheels_in(out.path());
    assert_eq!(wheels.len(), 2, "{wheels:?}");
    assert_has(
        &run.stdout,
        "x86_64: xtask-standin:x86_64 on podman (native)",
    );

    // Ctrl-C during a podman build removes its container too.
    let dir = TempDir::new("podman-interrupt");
    let slow = slow_package(dir.path());
    let earlier = earlier_wheel(&dir.path().join("out"));
    let mut cmd = xtask_cmd(&[
        "--config",
        slow.to_str().unwrap(),
        "--engine",
        "x86_64=podman",
    ]);
    cmd.args(["wheels", "--standin", "--arch", "x86_64", "--py", &cp()]);
    let mut child = start_build(cmd, Stdio::null);
    assert_eq!(podman_containers(None).len(), 1);
    sh("kill", &["-INT", &child.id().to_string()]).ok();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(
        podman_containers(None),
        Vec::<String>::new(),
        "a podman container outlived Ctrl-C"
    );
    assert_only_earlier(&dir.path().join("out"), &earlier);

    // The image builds work on podman too: built once, labelled, then up to date.
    let tag = "xtask-test-podman-x64:latest";
    let build = [
        "--engine",
        "x86_64=podman",
        "x64-image",
        "--base",
        "xtask-standin:x86_64",
        "--tag",
        tag,
        "--packages",
        "",
    ];
    let first = xtask(&build).ok();
    assert_has(
        &first.stderr,
        &format!("==> building image {tag} (x86_64) (log: "),
    );
    assert_has(&first.stderr, "\n    done in ");
    let log = std::fs::read_to_string(
        root().join("target/xtask/image-logs/xtask-test-podman-x64_latest.log"),
    )
    .unwrap();
    let first = log.lines().next().unwrap();
    assert!(
        first.starts_with("$ ")
            && first.contains("podman build --platform linux/amd64 --label org.xtask-wheels=image"),
        "{log}"
    );
    let labels = sh(
        "podman",
        &[
            "image",
            "inspect",
            "--format",
            "{{.Architecture}} {{index .Labels \"org.xtask-wheels\"}}",
            tag,
        ],
    )
    .ok();
    assert_eq!(labels.stdout.trim(), "amd64 image");
    assert_has(&xtask(&build).ok().stderr, "is up to date");
    sh("podman", &["image", "rm", tag]).ok();
    inv.check();
}

/// podman as root with none of containers.conf's limits (CONTAINERS_CONF
/// names an empty file): one `--ulimit` alone fails on the next limit, and
/// the tool names it with the whole set; the README's advice, as written, builds.
#[test]
fn podman_limits_are_named_and_the_readme_advice_builds() {
    let (_serial, inv) = on_x86_64_standin();
    require_engines();
    let dir = TempDir::new("podman-limits");
    let conf = dir.path().join("containers.conf");
    std::fs::write(&conf, "[containers]\n").unwrap();
    let py = cp_and_pp();
    let wheels = |out: &str, limits: &[&str]| {
        let mut args = vec![
            "--engine",
            "x86_64=podman",
            "wheels",
            "--standin",
            "--arch",
            "x86_64",
            "--py",
            &py,
            "--no-test",
            "--out",
            out,
        ];
        args.extend_from_slice(limits);
        let mut cmd = xtask_cmd(&args);
        cmd.env("CONTAINERS_CONF", &conf);
        Run::from(cmd.output().expect("running xtask"))
    };
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    // The nproc flag alone, as a user who met the nproc error passes it.
    let run = wheels(out, &["--container-arg=--ulimit=nproc=1024:1024"]).fails(1);
    assert_has(&run.stderr, "error setting rlimit type 7");
    assert_has(&run.stderr, "open-file limit (RLIMIT_NOFILE, `nofile`)");
    assert_has(
        &run.stderr,
        "--container-arg=--ulimit=nproc=1024:1024 --container-arg=--ulimit=nofile=1024:1024",
    );
    // Refused at the container's start: nothing was written, not even the folder.
    assert!(!Path::new(out).exists(), "{out} was made");
    // The README's flags, as written there.
    let run = wheels(
        out,
        &[
            "--container-arg=--ulimit=nproc=1024:1024",
            "--container-arg=--ulimit=nofile=1024:1024",
        ],
    )
    .ok();
    assert_eq!(wheels_in(Path::new(out)).len(), 2, "{}", run.stdout);
    assert_eq!(podman_containers(None), Vec::<String>::new());
    inv.check();
}

#[test]
fn rootless_podman_builds_wheels_its_user_owns() {
    let (_serial, inv) = on_x86_64_standin();
    require_engines();
    assert_eq!(podman_containers(Some(ROOTLESS)), Vec::<String>::new());
    // Rootless networking needs /dev/net/tun, which this host denies; builds need no network.
    let checkout = UserCheckout::new(ROOTLESS, "container-args = [\"--network=none\"]\n");
    let py = cp_and_pp();
    let run = checkout
        .run(&[
            "--engine",
            "x86_64=podman",
            "wheels",
            "--standin",
            "--arch",
            "x86_64",
            "--py",
            &py,
        ])
        .ok();
    for tag in cp_and_pp_tags() {
        assert_row(&run.stdout, &x86(&tag), "ok");
    }
    assert_eq!(podman_containers(Some(ROOTLESS)), Vec::<String>::new());
    checkout.assert_owns_everything();
    inv.check();

    // Ctrl-C, sent to the tool itself (runuser is its parent).
    let slow_dir = TempDir::new("rootless-slow");
    let slow = slow_package(slow_dir.path());
    std::fs::write(
        &slow,
        "[workspace.metadata.wheels]\npackage = \"slow\"\ninclude = []\nout = \"out\"\ncontainer-args = [\"--network=none\"]\n",
    )
    .unwrap();
    // A wheel of an earlier run, which the interrupted one must leave as it is.
    let earlier = earlier_wheel(&slow_dir.path().join("out"));
    sh(
        "chown",
        &["-R", &format!("{ROOTLESS}:{ROOTLESS}"), slow_dir.str()],
    )
    .ok();
    let _state = checkout.open_state();
    let mut cmd = Command::new("runuser");
    cmd.args([
        "-u",
        ROOTLESS,
        "--",
        env!("CARGO_BIN_EXE_xtask"),
        "--config",
    ])
    .arg(&slow)
    .args([
        "--engine",
        "x86_64=podman",
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
        "--py",
        &cp(),
    ])
    .current_dir(slow_dir.path());
    let mut child = start_build(cmd, Stdio::null);
    let tool = sh("pgrep", &["-P", &child.id().to_string()])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(podman_containers(Some(ROOTLESS)).len(), 1);
    sh("kill", &["-INT", &tool]).ok();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C");
    assert_eq!(
        podman_containers(Some(ROOTLESS)),
        Vec::<String>::new(),
        "a rootless container outlived Ctrl-C"
    );
    assert_only_earlier(&slow_dir.path().join("out"), &earlier);
}

/// `matrix` lists what a full run builds; each line built alone with
/// `--only` gives exactly that wheel, and together they are the full run.
#[test]
fn matrix_lines_built_one_by_one_make_the_full_run() {
    let (_serial, inv) = on_x86_64_standin();
    standin(&["--arch", "arm64"]);
    let run = xtask(&["matrix", "--standin"]).ok();
    let ids: Vec<&str> = run.stdout.lines().collect();
    assert!(ids.len() >= 3, "{ids:?}");
    assert!(
        ids.contains(&x86(&cp()).as_str())
            && ids.contains(&format!("{}-manylinux_aarch64", arm_cp()).as_str()),
        "{ids:?}"
    );
    inv.check();

    // Every line alone and the full run, side by side (each run mostly one
    // core's work), each into a folder of its own.
    let one_by_one = TempDir::new("matrix-only");
    let full = TempDir::new("matrix-full");
    let runs: Vec<_> = ids
        .iter()
        .map(|id| {
            let (id, out) = (id.to_string(), one_by_one.path().join(id));
            std::thread::spawn(move || {
                // What is selected is the point here; the demo's tests run elsewhere.
                let run = xtask(&[
                    "wheels",
                    "--standin",
                    "--only",
                    &id,
                    "--no-test",
                    "--out",
                    out.to_str().unwrap(),
                ]);
                (id, out, run)
            })
        })
        .collect();
    xtask(&[
        "wheels",
        "--standin",
        "--py",
        "all",
        "--no-test",
        "--out",
        full.str(),
    ])
    .ok();
    for run in runs {
        let (id, out, run) = run.join().unwrap();
        let run = run.ok();
        let wheels = wheels_in(&out);
        assert_eq!(wheels.len(), 1, "{id}: {wheels:?}");
        let (python, arch) = id.split_once("-manylinux_").unwrap();
        assert!(
            wheels[0].contains(&format!("-{python}-")) && wheels[0].contains(arch),
            "{id}: {wheels:?}"
        );
        assert_eq!(
            run.stdout.lines().filter(|l| l.contains("  ok  ")).count(),
            1,
            "{}",
            run.stdout
        );
    }
    let mut union: Vec<String> = ids
        .iter()
        .flat_map(|id| wheels_in(&one_by_one.path().join(id)))
        .collect();
    union.sort();
    assert_eq!(union, wheels_in(full.path()));
    inv.check();

    let json = xtask(&[
        "matrix",
        "--standin",
        "--format",
        "github",
        "--build",
        "*-manylinux_aarch64",
    ])
    .ok();
    let parsed = sh(
        "python3",
        &["-c", "import json,sys; m=json.loads(sys.argv[1]); print(' '.join(e['id']+'@'+e['runner'] for e in m['include']))", json.stdout.trim()],
    )
    .ok();
    let arm: Vec<String> = ids
        .iter()
        .filter(|i| i.ends_with("aarch64"))
        .map(|i| format!("{i}@ubuntu-24.04-arm"))
        .collect();
    assert_eq!(parsed.stdout.trim(), arm.join(" "));
}

/// The generated workflow is valid YAML, and each command it runs is one
/// this tool accepts (checked by running it as a dry run).
#[test]
fn generated_workflow_parses_and_runs_only_real_commands() {
    let (_serial, inv) = on_x86_64_standin();
    for per in ["build", "arch"] {
        let dir = TempDir::new("workflow");
        let file = dir.path().join("wheels.yml");
        xtask(&[
            "ci",
            "github",
            "--standin",
            "--skip",
            "pp*",
            "--per",
            per,
            "--publish",
            "pypi",
            "--out",
            file.to_str().unwrap(),
        ])
        .ok();
        // Each job's run lines, with the matrix values its env passes in.
        let script = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
jobs = doc["jobs"]
assert jobs["gather"]["needs"] == ["build"], jobs["gather"]["needs"]
assert jobs["publish"]["needs"] == ["gather"]
for name, job in jobs.items():
    entries = job.get("strategy", {}).get("matrix", {}).get("include", [{}])
    for entry in entries:
        for step in job["steps"]:
            # The one condition of a step: the QEMU step of emulated jobs.
            if step.get("if") == "matrix.emulate != ''" and not entry["emulate"]:
                continue
            if "run" in step:
                line = step["run"]
                for var, value in step.get("env", {}).items():
                    key = value.removeprefix("${{ matrix.").removesuffix(" }}")
                    line = line.replace('"$' + var + '"', entry[key]).replace("$" + var, entry[key])
                assert "${{" not in line, line
                print(name + "\t" + entry.get("runner", job["runs-on"]) + "\t" + line)
"#;
        let lines = sh("python3", &["-c", script, file.to_str().unwrap()])
            .ok()
            .stdout;
        let lines: Vec<&str> = lines.lines().collect();
        let builds = lines.iter().filter(|l| l.starts_with("build\t")).count();
        match per {
            "build" => assert!(builds >= 2, "{lines:?}"),
            _ => assert_eq!(builds, 2, "{lines:?}"),
        }
        for line in lines {
            let [job, runner, command] = line.splitn(3, '\t').collect::<Vec<_>>()[..] else {
                panic!("{line}")
            };
            // The publish job's one shell line keeps the sums out of the upload.
            if job == "publish" {
                assert_eq!(
                    command,
                    "mkdir checks && mv dist/SHA256SUMS dist/manifest.json checks/"
                );
                continue;
            }
            let words: Vec<String> = sh(
                "python3",
                &[
                    "-c",
                    "import shlex,sys; print('\\n'.join(shlex.split(sys.argv[1])))",
                    command,
                ],
            )
            .ok()
            .stdout
            .lines()
            .map(String::from)
            .collect();
            assert_eq!(&words[..2], ["cargo", "xtask"], "{command}");
            assert!(!words.iter().any(|w| *w == x86(&pp())), "{command}");
            if job == "build" && command.contains("aarch64") {
                assert_eq!(runner, "ubuntu-24.04-arm", "{command}");
            }
            let mut args: Vec<&str> = words[2..].iter().map(String::as_str).collect();
            args.insert(0, "--dry-run");
            let run = xtask(&args);
            assert_eq!(
                run.status, 0,
                "`{command}` is not a command this tool accepts:\n{}",
                run.stderr
            );
        }
    }
    inv.check();
}

/// Every workflow `ci` writes (GitHub and GitLab, per build and per arch,
/// with and without publishing) passes zizmor's audit offline with no
/// finding, at its default persona and at the auditor's, and validates
/// against the service's schema (check-jsonschema's vendored ones); the
/// checks themselves fail on a broken file. In GitHub's, the publish job
/// alone may mint an OIDC token and every action is pinned to a commit.
#[test]
fn written_workflows_pass_the_security_audit_and_the_schemas() {
    let (_serial, inv) = on_x86_64_standin();
    for tool in ["zizmor", "check-jsonschema"] {
        assert_eq!(
            sh("sh", &["-c", &format!("command -v {tool}")]).status,
            0,
            "{tool} is missing: scripts/test.sh installs it from PyPI"
        );
    }
    let dir = TempDir::new("audit");
    let mut written = Vec::new();
    for service in ["github", "gitlab"] {
        for per in ["build", "arch"] {
            for publish in ["none", "testpypi", "pypi"] {
                // zizmor reads a workflow where GitHub keeps them.
                let file = match service {
                    "github" => dir
                        .path()
                        .join(format!("{per}-{publish}/.github/workflows/wheels.yml")),
                    _ => dir.path().join(format!("{per}-{publish}/.gitlab-ci.yml")),
                };
                let f = file.to_str().unwrap();
                xtask(&[
                    "ci",
                    service,
                    "--standin",
                    "--py",
                    "cp313",
                    "--per",
                    per,
                    "--publish",
                    publish,
                    "--out",
                    f,
                ])
                .ok();
                written.push((service, file.clone()));
                if service == "gitlab" {
                    continue;
                }
                let text = std::fs::read_to_string(&file).unwrap();
                let script = r#"
import re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert doc["permissions"] == {}, doc["permissions"]
minting = [n for n, j in doc["jobs"].items() if j.get("permissions", {}).get("id-token") == "write"]
print(",".join(minting))
for job in doc["jobs"].values():
    for step in job["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
"#;
                let minting = sh("python3", &["-c", script, f]).ok().stdout;
                match publish {
                    "none" => assert_eq!(minting.trim(), "", "{text}"),
                    _ => assert_eq!(minting.trim(), "publish", "{text}"),
                }
                // Each `uses:` names its version beside the commit.
                for line in text.lines().filter(|l| l.contains("uses: ")) {
                    assert!(line.contains(" # v"), "{line}");
                }
            }
        }
    }
    // Each tool once over every file of its kind.
    for (service, schema) in [
        ("github", "vendor.github-workflows"),
        ("gitlab", "vendor.gitlab-ci"),
    ] {
        let files: Vec<&str> = written
            .iter()
            .filter(|(s, _)| *s == service)
            .map(|(_, f)| f.to_str().unwrap())
            .collect();
        assert_eq!(files.len(), 6);
        let mut args = vec!["--builtin-schema", schema];
        args.extend(&files);
        let valid = sh("check-jsonschema", &args);
        assert_eq!(
            valid.status, 0,
            "{files:?}: {}{}",
            valid.stdout, valid.stderr
        );
        if service == "github" {
            for persona in ["regular", "auditor"] {
                let mut args = vec!["--offline", "--no-progress", "--persona", persona];
                args.extend(&files);
                let audit = sh("zizmor", &args);
                assert_eq!(
                    audit.status, 0,
                    "{persona}:\n{}{}",
                    audit.stdout, audit.stderr
                );
                assert_has(&audit.stdout, "No findings to report");
            }
        }
    }
    // The checks can fail: a workflow that persists credentials, floats an
    // action and mints tokens everywhere, and a pipeline with a misspelt key.
    let bad = dir.path().join("bad/.github/workflows/bad.yml");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, "on: push\npermissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/upload-artifact@v4\n        with:\n          path: .\n").unwrap();
    let audit = sh(
        "zizmor",
        &["--offline", "--no-progress", bad.to_str().unwrap()],
    );
    assert_ne!(audit.status, 0, "{}", audit.stdout);
    assert_has(&audit.stdout, "artipacked");
    let bad = dir.path().join("bad/.gitlab-ci.yml");
    std::fs::write(&bad, "build:\n  scirpt: [\"true\"]\n").unwrap();
    assert_ne!(
        sh(
            "check-jsonschema",
            &[
                "--builtin-schema",
                "vendor.gitlab-ci",
                bad.to_str().unwrap()
            ]
        )
        .status,
        0
    );
    inv.check();
}

/// `ci github` pulls nothing: with no engine reachable at all (so no image
/// and no registry) it writes, for the pinned default images, the same
/// workflow as with the engine there.
#[test]
fn ci_writes_the_same_workflow_with_no_engine_and_no_image() {
    let (_serial, inv) = on_x86_64_standin();
    let dir = TempDir::new("no-engine");
    let write = |file: &str, no_engine: bool| {
        let mut cmd = xtask_cmd(&[
            "ci",
            "github",
            "--publish",
            "pypi",
            "--arch",
            "all",
            "--libc",
            "all",
            "--out",
            file,
        ]);
        if no_engine {
            cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let (with, without) = (dir.path().join("with.yml"), dir.path().join("without.yml"));
    let said = write(with.to_str().unwrap(), false);
    write(without.to_str().unwrap(), true);
    let (a, b) = (
        std::fs::read_to_string(&with).unwrap(),
        std::fs::read_to_string(&without).unwrap(),
    );
    assert_eq!(a, b);
    // The pinned images' interpreters, on all seven arches and both libcs,
    // said of none of them that it was guessed.
    assert!(!said.contains("not here to list"), "{said}");
    for id in [
        "cp39-manylinux_x86_64",
        "cp315t-manylinux_riscv64",
        "pp311-manylinux_aarch64",
        "cp314t-musllinux_armv7l",
    ] {
        assert!(a.contains(&format!("name: \"{id}\"")), "{id}\n{a}");
    }
    assert!(
        !a.contains("pp311-musllinux") && !a.contains("cp313t"),
        "{a}"
    );
    inv.check();
}

#[test]
fn selection_errors_name_the_value_and_start_nothing() {
    let (_serial, inv) = on_x86_64_standin();
    let out = TempDir::new("select-out");
    let o = out.str();
    let offered = offered("x86_64");
    let offers = format!(
        "interpreter `cp399` is not in the image; it offers: {}",
        offered.join(", ")
    );
    let ids: Vec<String> = offered.iter().map(|t| x86(t)).collect();
    let none_of = format!(
        "build pattern `cp399-*` selects none of the builds the images offer: {}",
        ids.join(" ")
    );
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["--only", "cp311-linux_x86_64"],
            2,
            "--only: `cp311-linux_x86_64` is not a build identifier",
        ),
        (
            &["--only", "cp311-manylinux_x86_64", "--py", "cp311"],
            2,
            "cannot be used with",
        ),
        (
            &["--build", "cp3{1-*"],
            2,
            "--build: pattern `cp3{1-*` has unbalanced braces",
        ),
        (&["--build", "  "], 2, "--build is empty"),
        (
            &["--arch", "x86_64", "--build", "*-manylinux_aarch64"],
            2,
            "select no build for manylinux_x86_64",
        ),
        (&["--only", "cp399-manylinux_x86_64"], 2, &offers),
        (
            &["--arch", "x86_64", "--build", "cp3*-* cp399-*"],
            2,
            &none_of,
        ),
        (
            &["--engine", "x86_64=http://x", "--arch", "x86_64"],
            2,
            "--engine `x86_64=http://x`: engine `http://x` is not an engine URL",
        ),
    ];
    for (args, code, says) in cases {
        let mut all = vec!["wheels", "--standin", "--out", o];
        all.extend_from_slice(args);
        let run = xtask(&all).fails(*code);
        assert!(run.stderr.contains(says), "{args:?}:\n{}", run.stderr);
        inv.check();
        assert!(wheels_in(out.path()).is_empty(), "{args:?} wrote a wheel");
    }
}
