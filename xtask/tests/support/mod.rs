//! What the end-to-end tests share: running the xtask, a real engine, the
//! stand-in images, snapshots of the user's tree, and binfmt state.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

pub const LABEL: &str = "org.xtask-wheels";
pub const BINFMT: &str = "/proc/sys/fs/binfmt_misc";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A test's hold on what it shares: its engine, one test at a time, so that
/// "no container of ours is left" is exact; and the machine's binfmt
/// table, which test binaries on other engines (scripts/test.sh runs two
/// streams of them, each on a daemon of its own) use beside it. The table
/// is let go first, so that a test waiting to change it gets it between
/// two tests of this binary.
pub struct Serial {
    _binfmt: std::fs::File,
    _engine: MutexGuard<'static, ()>,
    since: std::time::Instant,
}

/// How long the test held them, in target/test-times.log (scripts/test.sh
/// prints the longest): what each test costs its stream.
impl Drop for Serial {
    fn drop(&mut self) {
        let line = format!(
            "{:5.0} s {}\n",
            self.since.elapsed().as_secs_f64(),
            test_name()
        );
        append("test-times.log", &line);
    }
}

fn lock_file(name: &str) -> std::fs::File {
    let path = std::env::temp_dir().join(name);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

/// The machine's binfmt table, held until the file is dropped: shared by
/// every test, of every test binary, that does not change it; alone by one
/// that does. flock grants a shared lock beside shared ones however long
/// an exclusive request has waited, and each stream's tests follow each
/// other closely, so a test that changes the table could wait as long as
/// the other stream kept one running. Both kinds take a queue lock first,
/// a shared one only for the moment of taking the table: a test waiting to
/// change the table holds the queue, and new users wait behind it, so it
/// waits only for the tests running now.
fn binfmt_table(alone: bool) -> std::fs::File {
    let lock = |file: &std::fs::File| match alone {
        true => file.lock(),
        false => file.lock_shared(),
    };
    let queue = lock_file("xtask-tests-binfmt-queue.lock");
    let table = lock_file("xtask-tests-binfmt.lock");
    let start = std::time::Instant::now();
    lock(&queue).expect("locking the binfmt table's queue");
    lock(&table).expect("locking the binfmt table");
    note_wait(start.elapsed(), if alone { "alone" } else { "shared" });
    table
}

/// A wait of more than a second for what tests share, appended to
/// target/test-waits.log (scripts/test.sh prints it at the end): where
/// the suite's time goes that no test spends.
fn note_wait(waited: std::time::Duration, what: &str) {
    if waited.as_secs_f64() < 1.0 {
        return;
    }
    let line = format!(
        "{}: waited {:.0} s for the binfmt table ({what})\n",
        test_name(),
        waited.as_secs_f64()
    );
    append("test-waits.log", &line);
}

/// `binary::test` of the running test.
fn test_name() -> String {
    let binary = std::env::current_exe().ok();
    let binary = binary
        .as_ref()
        .and_then(|p| p.file_stem()?.to_str()?.split('-').next())
        .unwrap_or("?");
    let test = std::thread::current().name().unwrap_or("?").to_string();
    format!("{binary}::{test}")
}

/// Appends `line` to target/`file`, best effort.
fn append(file: &str, line: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root().join("target").join(file))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .ok();
}

fn hold(binfmt_alone: bool) -> Serial {
    static LOCK: Mutex<()> = Mutex::new(());
    let engine = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let binfmt = binfmt_table(binfmt_alone);
    require_docker();
    Serial {
        _binfmt: binfmt,
        _engine: engine,
        since: std::time::Instant::now(),
    }
}

/// The binfmt table used, not changed, by a run that needs no engine of
/// this binary's alone (one on another daemon, beside a serial test): held
/// until the file is dropped.
pub fn binfmt_used() -> std::fs::File {
    binfmt_table(false)
}

/// One test at a time on this engine; the binfmt table used, not changed.
pub fn serial() -> Serial {
    hold(false)
}

/// As `serial`, for a test that changes the binfmt table: no emulated
/// build of any test binary runs meanwhile.
pub fn serial_binfmt_alone() -> Serial {
    hold(true)
}

/// The start of a test that builds on the x86_64 stand-in: the lock, the
/// image, and the state every run must leave as it found.
pub fn on_x86_64_standin() -> (Serial, Invariants) {
    let guard = serial();
    standin(&["--arch", "x86_64"]);
    (guard, Invariants::before())
}

/// These tests are the point of the suite: without a daemon they fail, loudly.
pub fn require_docker() {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "Docker is not available ({}): run scripts/test.sh, which installs and starts it",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("the docker CLI cannot run ({e}): run scripts/test.sh, which installs it"),
    }
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.status, 0,
            "expected success\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn fails(self, code: i32) -> Run {
        assert_eq!(
            self.status, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The one error line a failure prints.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or_else(|| panic!("no error line in:\n{}", self.stderr))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Fails showing the whole text when `needle` is not in it.
#[track_caller]
pub fn assert_has(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

pub fn xtask_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args).current_dir(root());
    cmd
}

pub fn xtask(args: &[&str]) -> Run {
    xtask_cmd(args).output().expect("running xtask").into()
}

/// The folder a run of this tool logs its builds to,
/// `target/xtask/logs/<seconds>-<its pid>`: found by the run's own pid, not
/// by the `latest` link, which a run of another process may have moved on.
/// Waits (a minute at most) for the run to make it.
pub fn logs_of(pid: u32) -> PathBuf {
    let logs = root().join("target/xtask/logs");
    let suffix = format!("-{pid}");
    let find = || {
        std::fs::read_dir(&logs).ok()?.flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(&suffix).then(|| e.path())
        })
    };
    let start = std::time::Instant::now();
    loop {
        if let Some(dir) = find() {
            return dir;
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "no log folder of run {pid} in {}",
            logs.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs this tool, and the folder its builds logged to (see `logs_of`).
pub fn xtask_logged(args: &[&str]) -> (Run, PathBuf) {
    run_logged(xtask_cmd(args))
}

/// Runs `cmd` (this tool), and the folder its builds logged to.
pub fn run_logged(mut cmd: Command) -> (Run, PathBuf) {
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running xtask");
    let pid = child.id();
    let run: Run = child.wait_with_output().expect("running xtask").into();
    let logs = root().join("target/xtask/logs");
    let dir = std::fs::read_dir(&logs)
        .ok()
        .and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(&format!("-{pid}")))
        })
        .unwrap_or_else(|| logs.join(format!("no-logs-of-{pid}")));
    (run, dir)
}

pub fn sh(program: &str, args: &[&str]) -> Run {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
        .into()
}

/// The stand-in image for `what` (`--arch x86_64`, `--qemu-register`), built if needed.
pub fn standin(args: &[&str]) -> String {
    let mut all = vec!["standin"];
    all.extend_from_slice(args);
    let run = xtask(&all).ok();
    run.stdout
        .lines()
        .last()
        .expect("the image reference")
        .to_string()
}

/// The second dockerd scripts/test-engines.sh starts, by its socket.
pub const REMOTE_SOCKET: &str = "unix:///run/xtask-test/d2/docker.sock";

/// Without the second dockerd the tests that use it fail, loudly.
pub fn require_second_daemon() {
    let d2 = sh("docker", &["--host", REMOTE_SOCKET, "version"]);
    assert_eq!(
        d2.status, 0,
        "the second dockerd is not running ({}): run scripts/test.sh, which starts it",
        d2.stderr
    );
}

/// This tool's containers on an engine (`host`: the docker CLI's `--host`
/// arguments, none for the default one), each as `shown` has ps print it.
fn ours_on(host: &[&str], shown: &[&str]) -> Vec<String> {
    labelled_on(host, shown, LABEL)
}

/// The containers on `host` labelled `label` (`KEY` or `KEY=VALUE`).
fn labelled_on(host: &[&str], shown: &[&str], label: &str) -> Vec<String> {
    let label = format!("label={label}");
    let mut args = host.to_vec();
    args.extend(["ps", "--all"]);
    args.extend(shown);
    args.extend(["--filter", label.as_str()]);
    let run = sh("docker", &args).ok();
    run.stdout.lines().map(String::from).collect()
}

/// This tool's containers on the second dockerd.
pub fn remote_containers() -> Vec<String> {
    ours_on(&["--host", REMOTE_SOCKET], &["--quiet"])
}

/// The names of this tool's containers on the default engine.
pub fn container_names_of_ours() -> Vec<String> {
    ours_on(&[], &["--format", "{{.Names}}"])
}

/// The containers this tool made (it labels each `container`): not the
/// tests' own of a stand-in image, which carry the image's label.
pub fn containers_of_ours() -> Vec<String> {
    labelled_on(&[], &["--quiet"], &format!("{LABEL}=container"))
}

/// This tool's containers on the default engine, one line each: what a
/// failure about them names (id, name with its run, image, state, command).
fn containers_described() -> String {
    labelled_on(
        &[],
        &[
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Names}} {{.Image}} {{.Status}} {{.Command}}",
        ],
        &format!("{LABEL}=container"),
    )
    .join("\n")
}

/// Removes this tool's containers on the default engine when dropped: a
/// test that keeps them (`--keep-container`) leaves none to the tests
/// after it, failing or not (never panics itself: it may run in a panic).
pub struct RemoveKeptContainers;

impl Drop for RemoveKeptContainers {
    fn drop(&mut self) {
        let label = format!("label={LABEL}");
        let Ok(out) = Command::new("docker")
            .args(["ps", "--all", "--quiet", "--filter", &label])
            .output()
        else {
            return;
        };
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = Command::new("docker").args(["rm", "--force", id]).output();
        }
    }
}

/// The id of `image` on an engine (`host` as for `ours_on`), if it has it.
pub fn image_id_on(host: &[&str], image: &str) -> Option<String> {
    let mut args = host.to_vec();
    args.extend(["image", "inspect", "--format", "{{.Id}}", image]);
    let run = sh("docker", &args);
    (run.status == 0).then(|| run.stdout.trim().to_string())
}

pub fn image_id(image: &str) -> Option<String> {
    image_id_on(&[], image)
}

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("xtask-test-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Names, sizes, modes, owners and modification times of every file below
/// `dir`: equal snapshots mean the tree was not touched.
pub fn snapshot(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            // qemu-copy's output is meant to land in the (ignored) build
            // contexts: arm-image's, and cross-image's folder per arch.
            let cross_context = rel.starts_with("scripts/cross-image/") && path.is_dir();
            if rel == "target"
                || rel == ".git"
                || rel == "dist"
                || rel == "scripts/arm-image/qemu-aarch64-static"
                || cross_context
            {
                continue;
            }
            let m = std::fs::symlink_metadata(&path).unwrap();
            // Those folders' parents change their times when one is made
            // (by a test of the other stream); their files are still compared.
            if rel == "scripts/arm-image" || rel == "scripts/cross-image" {
                out.push(format!("{rel} {:o}", m.mode()));
                walk(base, &path, out);
                continue;
            }
            out.push(format!(
                "{rel} {} {:o} {}:{} {}.{}",
                m.len(),
                m.mode(),
                m.uid(),
                m.gid(),
                m.mtime(),
                m.mtime_nsec()
            ));
            if m.is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

pub fn git_status() -> String {
    let out = Command::new("git")
        .args(["status", "--porcelain", "--ignored=no"])
        .current_dir(root())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks the promises every run makes: the tree as it was, no container of ours.
pub struct Invariants {
    tree: Vec<String>,
    git: String,
}

impl Invariants {
    pub fn before() -> Invariants {
        let left = containers_of_ours();
        assert!(
            left.is_empty(),
            "a container of ours was left by an earlier test:\n{}",
            containers_described()
        );
        Invariants {
            tree: snapshot(&root()),
            git: git_status(),
        }
    }

    pub fn check(&self) {
        let left = containers_of_ours();
        assert!(
            left.is_empty(),
            "a container of ours outlived the command:\n{}",
            containers_described()
        );
        // Volumes of ours: only caches may stay.
        let volumes = sh(
            "docker",
            &[
                "volume",
                "ls",
                "--filter",
                &format!("label={LABEL}"),
                "--format",
                &format!("{{{{.Name}}}}\t{{{{.Label \"{LABEL}\"}}}}"),
            ],
        )
        .ok();
        // Caches (pip's, ccache's) are meant to outlive a run.
        let left: Vec<&str> = volumes
            .stdout
            .lines()
            .filter(|v| !v.ends_with("\tcache"))
            .collect();
        assert!(left.is_empty(), "volumes of ours were left: {left:?}");
        assert_eq!(snapshot(&root()), self.tree, "the source tree changed");
        assert_eq!(git_status(), self.git, "git status changed");
    }
}

/// The binfmt entries named qemu-*, as /proc shows them.
pub fn qemu_entries() -> Vec<(String, String)> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(BINFMT).expect("binfmt_misc is mounted") {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("qemu-") {
            entries.push((
                name.clone(),
                std::fs::read_to_string(Path::new(BINFMT).join(&name)).unwrap(),
            ));
        }
    }
    entries.sort();
    entries
}

/// The qemu-* binfmt entries, saved and put back on drop, so that a test
/// may remove or replace them.
pub struct BinfmtState(Vec<(String, String)>);

impl BinfmtState {
    pub fn save() -> BinfmtState {
        BinfmtState(qemu_entries())
    }

    pub fn entries(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn remove(name: &str) {
        let path = Path::new(BINFMT).join(name);
        if path.exists() {
            std::fs::write(path, "-1").unwrap();
        }
    }
}

/// The handler `qemu-<arch>` (the arch's own QEMU name) is enabled with
/// flag F and the stand-in register image's emulator, and runs the arch's
/// stand-in in a container that has no emulator inside.
#[track_caller]
pub fn assert_registered_and_runs(arch: &str) {
    let entry = std::fs::read_to_string(Path::new(BINFMT).join(format!("qemu-{arch}"))).unwrap();
    assert!(
        entry.contains("enabled")
            && entry.contains(&format!("interpreter /usr/bin/qemu-{arch}-static"))
            && entry.contains("flags: F"),
        "{entry}"
    );
    let image = format!("xtask-standin:{arch}");
    let uname = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--platform",
            docker_platform(arch),
            &image,
            "uname",
            "-m",
        ],
    )
    .ok();
    assert_eq!(uname.stdout.trim(), arch);
}

/// What the emulator the kernel runs for `platform` says of itself, asked
/// from a container of `image` with `QEMU_VERSION` set (qemu-user prints
/// its version and exits): the file opened at registration (flag F), which
/// may be another than the host's file at the handler's path.
pub fn qemu_in_container(platform: &str, image: &str) -> String {
    sh(
        "docker",
        &[
            "run",
            "--rm",
            "--platform",
            platform,
            "--env",
            "QEMU_VERSION=1",
            "--entrypoint",
            "true",
            image,
        ],
    )
    .ok()
    .stdout
}

/// The line that registers an entry again from what /proc showed of it.
pub fn register_line(name: &str, text: &str) -> String {
    let mut offset = "0".to_string();
    let (mut magic, mut mask, mut interpreter, mut flags) =
        (String::new(), String::new(), String::new(), String::new());
    let hex = |h: &str| {
        (0..h.len())
            .step_by(2)
            .map(|i| format!("\\x{}", &h[i..i + 2]))
            .collect::<String>()
    };
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("offset ") {
            offset = v.to_string();
        } else if let Some(v) = line.strip_prefix("magic ") {
            magic = hex(v);
        } else if let Some(v) = line.strip_prefix("mask ") {
            mask = hex(v);
        } else if let Some(v) = line.strip_prefix("interpreter ") {
            interpreter = v.to_string();
        } else if let Some(v) = line.strip_prefix("flags:") {
            flags = v.trim().to_string();
        }
    }
    format!(":{name}:M:{offset}:{magic}:{mask}:{interpreter}:{flags}")
}

impl Drop for BinfmtState {
    fn drop(&mut self) {
        for (name, _) in qemu_entries() {
            BinfmtState::remove(&name);
        }
        for (name, text) in &self.0 {
            std::fs::write(
                Path::new(BINFMT).join("register"),
                register_line(name, text),
            )
            .unwrap_or_else(|e| panic!("restoring binfmt entry {name}: {e}"));
            if !text.lines().any(|l| l == "enabled") {
                std::fs::write(Path::new(BINFMT).join(name), "0").unwrap();
            }
        }
        if !std::thread::panicking() {
            assert_eq!(qemu_entries(), self.0, "binfmt state was not restored");
        }
    }
}

/// A config file for the stand-in images, as a user would write one.
pub fn standin_config(dir: &Path, extra: &str) -> PathBuf {
    let file = dir.join("wheels.toml");
    let text = format!(
        r#"[workspace.metadata.wheels]
root = "{root}"
package = "demo/python"
include = ["demo/native", "README.md"]
qemu-image = "xtask-standin:qemu-register"
{extra}
[workspace.metadata.wheels.images]
x86_64 = "xtask-test-x64:latest"
aarch64 = "xtask-test-arm:latest"

[workspace.metadata.wheels.arm-image]
base = "xtask-standin:aarch64"
tag = "xtask-test-arm:latest"

[workspace.metadata.wheels.x64-image]
base = "xtask-standin:x86_64"
tag = "xtask-test-x64:latest"
packages = []
"#,
        root = root().display()
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// The names inside a wheel (a zip), read with the host's Python.
pub fn wheel_names(wheel: &Path) -> Vec<String> {
    let script = "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))";
    let run = sh("python3", &["-c", script, wheel.to_str().unwrap()]).ok();
    run.stdout.lines().map(String::from).collect()
}

/// The wheels in `dir`, sorted (SHA256SUMS and manifest.json lie beside
/// them); fails when a staging folder or a partial file was left behind.
pub fn wheels_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let left: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(".xtask-") || n.ends_with(".partial"))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        dir.display()
    );
    names.retain(|n| n.ends_with(".whl"));
    names.sort();
    names
}

/// A package whose build takes a minute: something to interrupt.
pub fn slow_package(dir: &Path) -> std::path::PathBuf {
    slow_package_of(dir, 60)
}

/// A pure-Python package whose build takes `secs` seconds.
pub fn slow_package_of(dir: &Path, secs: u32) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("slow")).unwrap();
    std::fs::write(dir.join("slow/pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n").unwrap();
    std::fs::write(dir.join("slow/setup.py"), format!("import time\nfrom setuptools import setup\ntime.sleep({secs})\nsetup(name='slow', version='1', py_modules=['slowmod'])\n")).unwrap();
    std::fs::write(dir.join("slow/slowmod.py"), "").unwrap();
    let config = dir.join("slow.toml");
    std::fs::write(
        &config,
        "[workspace.metadata.wheels]\npackage = \"slow\"\ninclude = []\nout = \"out\"\n",
    )
    .unwrap();
    config
}

/// A package that shows what reached its build: `--env` values and the
/// output of the host pre-build command, per interpreter. It fails to compile
/// under PyPy when FAIL_ON_PYPY is set.
pub fn probe_package(dir: &Path, extra_config: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("probe/probe")).unwrap();
    std::fs::create_dir_all(dir.join("gen")).unwrap();
    std::fs::write(dir.join("probe/pyproject.toml"), "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n").unwrap();
    std::fs::write(
        dir.join("probe/setup.py"),
        r#"import os
from setuptools import Extension, setup
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "gen", "stamp.txt")) as f:
    stamp = f.read().strip()
cache = "/root/.cache/pip"
# What earlier builds left in pip's cache, and a mark of this one (named by NOTE).
markers = sorted(n for n in os.listdir(cache) if n.startswith("probe-")) if os.path.isdir(cache) else []
if os.path.ismount(cache):
    open(os.path.join(cache, "probe-%s" % os.environ.get("NOTE")), "w").close()
with open(os.path.join(here, "probe", "seen.py"), "w") as f:
    f.write("NOTE = %r\nSTAMP = %r\nTOKEN = %r\nHOST_ONLY = %r\nPIP_CACHE_MOUNTED = %r\nPIP_CACHE_MARKERS = %r\n" % (os.environ.get("NOTE"), stamp, os.environ.get("TOKEN"), os.environ.get("XTASK_TEST_HOST_ONLY"), os.path.ismount(cache), markers))
macros = [("FAIL_ON_PYPY", "1")] if os.environ.get("FAIL_ON_PYPY") else []
setup(name="probe", version="1", packages=["probe"],
      ext_modules=[Extension("probe._c", ["probe/_c.c"], define_macros=macros)])
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("probe/probe/__init__.py"),
        "from .seen import NOTE, STAMP\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("probe/probe/_c.c"),
        "#include <Python.h>\n#if defined(FAIL_ON_PYPY) && defined(PYPY_VERSION)\n#error this package does not build on PyPy\n#endif\nstatic struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"_c\", NULL, -1, NULL};\nPyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&m); }\n",
    )
    .unwrap();
    let config = dir.join("probe.toml");
    let text = format!(
        "[workspace.metadata.wheels]\npackage = \"probe\"\ninclude = [\"gen\"]\nout = \"out\"\npre-build = [\"sh\", \"-c\", \"echo \\\"$1\\\" > gen/stamp.txt\", \"pre-build\", \"{{py}} on {{arch}}\"]\n{extra_config}"
    );
    std::fs::write(&config, text).unwrap();
    config
}

pub fn read_in_wheel(wheel: &Path, member: &str) -> String {
    let script =
        "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())";
    sh("python3", &["-c", script, wheel.to_str().unwrap(), member])
        .ok()
        .stdout
}

pub fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed().as_secs() < secs,
            "{what} did not happen within {secs} s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Starts `wheels` on the slow package (see `slow_package`) and returns once
/// its build is running in the container.
pub fn start_slow_build(config: &Path, output: fn() -> std::process::Stdio) -> std::process::Child {
    let config = config.to_str().unwrap();
    let mut cmd = xtask_cmd(&["--config", config]);
    cmd.args(["wheels", "--standin", "--arch", "x86_64", "--py", &cp()]);
    start_build(cmd, output)
}

/// Starts a `wheels` command that builds the first CPython on x86_64 and returns
/// once that build is running.
// The child is returned running: the caller waits for it.
#[allow(clippy::zombie_processes)]
pub fn start_build(mut cmd: Command, output: fn() -> std::process::Stdio) -> std::process::Child {
    // Each run logs to a folder of its own, named by its pid: the tool's, or
    // (started through runuser) its child's.
    let mut child = cmd.stdout(output()).stderr(output()).spawn().unwrap();
    let logs = root().join("target/xtask/logs");
    let start = std::time::Instant::now();
    loop {
        let children = Command::new("pgrep")
            .args(["-P", &child.id().to_string()])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let pids: Vec<String> = std::iter::once(child.id().to_string())
            .chain(children.split_whitespace().map(String::from))
            .collect();
        let started = std::fs::read_dir(&logs).ok().and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                pids.iter().any(|pid| name.ends_with(&format!("-{pid}")))
            })
        });
        let building = started.is_some_and(|dir| {
            std::fs::read_to_string(dir.join(format!("{}.log", x86(&cp()))))
                .unwrap_or_default()
                .contains("==> build wheel")
        });
        if building {
            return child;
        }
        if start.elapsed().as_secs() >= 60 {
            // Not left running (with its container) past this test.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
            panic!("the build did not start within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A wheel "from an earlier run" in `out`, which every failure must leave alone.
pub fn earlier_wheel(out: &Path) -> PathBuf {
    std::fs::create_dir_all(out).unwrap();
    let wheel = out.join("earlier-1.0-cp313-cp313-manylinux_2_41_x86_64.whl");
    std::fs::write(&wheel, b"a wheel from an earlier run").unwrap();
    wheel
}

pub fn assert_only_earlier(out: &Path, earlier: &Path) {
    let names = wheels_in(out);
    assert_eq!(
        names,
        vec![earlier.file_name().unwrap().to_string_lossy().into_owned()],
        "the output folder changed"
    );
    assert_eq!(
        std::fs::read(earlier).unwrap(),
        b"a wheel from an earlier run"
    );
}

/// A copy of the demo package in a folder that belongs to `user`, with a
/// configuration of its own, as a maintainer who is not root has it.
pub struct UserCheckout {
    pub user: String,
    pub dir: TempDir,
    pub config: PathBuf,
}

impl UserCheckout {
    pub fn new(user: &str, extra_config: &str) -> UserCheckout {
        let dir = TempDir::new("user");
        demo_tree(&dir.path().join("tree"));
        let config = dir.path().join("wheels.toml");
        std::fs::write(
            &config,
            format!("[workspace.metadata.wheels]\nroot = \"tree\"\nout = \"tree/dist\"\npackage = \"demo/python\"\ninclude = [\"demo/native\", \"README.md\"]\n{extra_config}"),
        )
        .unwrap();
        sh("chown", &["-R", &format!("{user}:{user}"), dir.str()]).ok();
        UserCheckout {
            user: user.to_string(),
            dir,
            config,
        }
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("tree/dist")
    }

    /// `xtask --config <theirs> ARGS` as the user, from their home folder.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args([
            "-u",
            &self.user,
            "--",
            env!("CARGO_BIN_EXE_xtask"),
            "--config",
        ])
        .arg(&self.config)
        .args(args)
        .current_dir(self.dir.path());
        cmd
    }

    /// Runs it; the tool's own state folder (locks, logs), which in a checkout
    /// of their own would be theirs too, is open to them meanwhile.
    pub fn run(&self, args: &[&str]) -> Run {
        let _state = self.open_state();
        self.command(args).output().expect("runuser").into()
    }

    /// target/xtask, its logs and locks writable by the user until the guard
    /// drops; then what the user made there is root's again. Nothing is
    /// removed: runs of the other test stream log there meanwhile. The
    /// folders are not sticky, so that the user's run can replace the
    /// `latest` link a root run made.
    pub fn open_state(&self) -> impl Drop {
        struct Closed(PathBuf);
        impl Drop for Closed {
            fn drop(&mut self) {
                let state = self.0.to_str().unwrap();
                let (logs, locks) = (format!("{state}/logs"), format!("{state}/locks"));
                sh("chmod", &["755", state, &logs, &locks]).ok();
                sh("chown", &["-R", "root:root", &logs, &locks]).ok();
            }
        }
        let state = root().join("target/xtask");
        let (logs, locks) = (state.join("logs"), state.join("locks"));
        for dir in [&logs, &locks] {
            std::fs::create_dir_all(dir).unwrap();
        }
        sh("chmod", &["1777", state.to_str().unwrap()]).ok();
        sh(
            "chmod",
            &["777", logs.to_str().unwrap(), locks.to_str().unwrap()],
        )
        .ok();
        Closed(state)
    }

    /// Every file below their folder is theirs, a wheel among them.
    pub fn assert_owns_everything(&self) {
        use std::os::unix::fs::MetadataExt;
        fn owners(dir: &Path, out: &mut Vec<(PathBuf, u32)>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let path = e.unwrap().path();
                let m = std::fs::symlink_metadata(&path).unwrap();
                out.push((path.clone(), m.uid()));
                if m.is_dir() {
                    owners(&path, out);
                }
            }
        }
        let uid: u32 = sh("id", &["-u", &self.user])
            .ok()
            .stdout
            .trim()
            .parse()
            .unwrap();
        let mut files = Vec::new();
        owners(self.dir.path(), &mut files);
        assert!(
            files
                .iter()
                .any(|(p, _)| p.extension().is_some_and(|e| e == "whl")),
            "no wheel: {files:?}"
        );
        let foreign: Vec<_> = files.iter().filter(|(_, owner)| *owner != uid).collect();
        assert!(
            foreign.is_empty(),
            "files not owned by {}: {foreign:?}",
            self.user
        );
    }
}

/// An image built from a Dockerfile given as text, labelled as the tests' own.
pub fn image_from(tag: &str, dockerfile: &str) -> String {
    image_for("linux/amd64", tag, dockerfile)
}

/// As `image_from`, for the docker platform given (`linux/arm64`).
pub fn image_for(platform: &str, tag: &str, dockerfile: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("docker")
        .args([
            "build",
            "--quiet",
            "--platform",
            platform,
            "--label",
            &format!("{LABEL}=test"),
            "--tag",
            tag,
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "building {tag}");
    tag.to_string()
}

/// The interpreters (`cp313`, `pp311`) a stand-in offers, in its order, as
/// `cargo xtask matrix` lists them: tests select by what the image has.
pub fn offered(arch: &str) -> Vec<String> {
    static SEEN: Mutex<Vec<(String, Vec<String>)>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, tags)) = seen.iter().find(|(a, _)| a == arch) {
        return tags.clone();
    }
    // Asked of the image itself, not of this tool's selection (which the
    // tests check): the folders of its /opt/python.
    let image = standin(&["--arch", arch]);
    let platform = docker_platform(arch);
    let run = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--platform",
            platform,
            "--entrypoint",
            "ls",
            &image,
            "/opt/python",
        ],
    )
    .ok();
    let tags: Vec<String> = run.stdout.lines().map(dir_tag).collect();
    assert!(
        !tags.is_empty(),
        "the {arch} stand-in offers no interpreter"
    );
    seen.push((arch.to_string(), tags.clone()));
    tags
}

/// The interpreter tag of a folder of /opt/python: `cp313-cp313t` is the
/// free-threaded `cp313t`.
pub fn dir_tag(dir: &str) -> String {
    let (py, abi) = dir.split_once('-').unwrap_or((dir, ""));
    match py.starts_with("cp") && abi.ends_with('t') {
        true => format!("{py}t"),
        false => py.to_string(),
    }
}

/// Docker's platform of each arch the tool builds.
/// The facts of each wheel that must not depend on the compiler, one line
/// per wheel in order: its demo extension's ELF machine, NEEDED entries and
/// exported `PyInit_*`, and the policy `auditwheel show` finds; read by
/// pyelftools and auditwheel in the x86_64 stand-in.
pub fn wheel_facts(wheels: &[PathBuf]) -> Vec<String> {
    let facts = r#"
import io, subprocess, sys, zipfile
from elftools.elf.elffile import ELFFile
for path in sys.argv[1:]:
    z = zipfile.ZipFile(path)
    so = [n for n in z.namelist() if n.startswith("democodec/_native") and n.endswith(".so")][0]
    elf = ELFFile(io.BytesIO(z.read(so)))
    needed = sorted(t.needed for t in elf.get_section_by_name(".dynamic").iter_tags() if t.entry.d_tag == "DT_NEEDED")
    inits = sorted(s.name for s in elf.get_section_by_name(".dynsym").iter_symbols()
                   if s.name.startswith("PyInit_") and s.entry.st_shndx != "SHN_UNDEF")
    show = subprocess.run(["auditwheel", "show", path], capture_output=True, text=True, check=True).stdout
    policy = [l for l in show.replace("\n", " ").split(". ") if "platform tag" in l][0].split('"')[1]
    print(elf["e_machine"], needed, inits, policy)
"#;
    // Each wheel by its own name (auditwheel reads its tags), in a folder of its own.
    let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
    let mut inside = Vec::new();
    for (i, wheel) in wheels.iter().enumerate() {
        let at = format!("/w/{i}/{}", wheel.file_name().unwrap().to_string_lossy());
        args.extend(["--volume".into(), format!("{}:{at}:ro", wheel.display())]);
        inside.push(at);
    }
    args.extend(
        [
            "--entrypoint",
            "/opt/_internal/tools/bin/python",
            "xtask-standin:x86_64",
            "-c",
            facts,
        ]
        .map(String::from),
    );
    args.extend(inside);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = sh("docker", &args).ok();
    let lines: Vec<String> = run.stdout.lines().map(String::from).collect();
    assert_eq!(lines.len(), wheels.len(), "{}", run.stdout);
    lines
}

/// A cross-arch image of `arch` as `arm-image` and `cross-image` make it,
/// built by `build`: of that arch, with the host's emulator inside at
/// /usr/bin/qemu-ARCH-static (for hosts whose handler lacks flag F); built
/// again with nothing changed, it is up to date and not rebuilt.
pub fn assert_cross_image(tag: &str, arch: &str, build: impl Fn() -> Run) {
    let run = build().ok();
    let platform = docker_platform(arch);
    let inspect = sh(
        "docker",
        &["image", "inspect", "--format", "{{.Architecture}}", tag],
    )
    .ok();
    let docker_arch = platform.split('/').nth(1).unwrap();
    assert_eq!(inspect.stdout.trim(), docker_arch);
    let emulator = format!("/usr/bin/qemu-{arch}-static");
    let ls = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--platform",
            platform,
            "--entrypoint",
            "",
            tag,
            "ls",
            &emulator,
        ],
    );
    assert_eq!(ls.status, 0, "{}{}", run.stderr, ls.stderr);
    let id = image_id(tag);
    assert_has(&build().ok().stderr, "is up to date");
    assert_eq!(image_id(tag), id);
}

pub fn docker_platform(arch: &str) -> &'static str {
    match arch {
        "x86_64" => "linux/amd64",
        "i686" => "linux/386",
        "aarch64" | "arm64" => "linux/arm64",
        "ppc64le" => "linux/ppc64le",
        "s390x" => "linux/s390x",
        "armv7l" => "linux/arm/v7",
        "riscv64" => "linux/riscv64",
        other => panic!("no platform for {other}"),
    }
}

fn first(arch: &str, kind: &str) -> String {
    offered(arch)
        .into_iter()
        .find(|t| t.starts_with(kind))
        .unwrap_or_else(|| panic!("the {arch} stand-in offers no {kind} interpreter"))
}

/// The CPythons of the stand-in of `arch` that keep the GIL (a
/// free-threaded one shares its version with one of them).
pub fn gil_cpythons(arch: &str) -> Vec<String> {
    offered(arch)
        .into_iter()
        .filter(|t| t.starts_with("cp") && !t.ends_with('t'))
        .collect()
}

/// The x86_64 stand-in's first CPython and its PyPy: what the tests whose
/// point is not the interpreters build.
pub fn cp_and_pp_tags() -> [String; 2] {
    [cp(), pp()]
}

/// `--py` for those two.
pub fn cp_and_pp() -> String {
    cp_and_pp_tags().join(",")
}

/// The x86_64 stand-in's first CPython.
pub fn cp() -> String {
    first("x86_64", "cp")
}

/// The x86_64 stand-in's PyPy.
pub fn pp() -> String {
    first("x86_64", "pp")
}

/// The arm64 stand-in's first CPython.
pub fn arm_cp() -> String {
    first("aarch64", "cp")
}

/// The build identifier of `tag` on x86_64.
pub fn x86(tag: &str) -> String {
    format!("{tag}-manylinux_x86_64")
}

/// The wheel tags `-<python>-<abi>-` of an interpreter of the stand-ins
/// (`-cp313-cp313-`, `-pp311-pypy311_pp80-`), read from its /opt/python folder.
pub fn wheel_tags(tag: &str) -> String {
    format!("-{}-", standin_dir(tag))
}

/// The /opt/python folder of `tag` in the x86_64 stand-in (`pp311-pypy311_pp80`).
pub fn standin_dir(tag: &str) -> String {
    let out = sh(
        "docker",
        &[
            "run",
            "--rm",
            "--network=none",
            "xtask-standin:x86_64",
            "ls",
            "/opt/python",
        ],
    )
    .ok();
    out.stdout
        .lines()
        .find(|d| dir_tag(d) == tag)
        .unwrap_or_else(|| panic!("no /opt/python folder of {tag} in the stand-in"))
        .to_string()
}

/// The summary row of build `id` in a run's output.
#[track_caller]
pub fn row<'a>(stdout: &'a str, id: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id) && l.split_whitespace().count() >= 3)
        .unwrap_or_else(|| panic!("no summary row for {id} in:\n{stdout}"))
}

/// Whether the summary row of `id` says `result` (ok, FAILED, skipped).
#[track_caller]
pub fn assert_row(stdout: &str, id: &str, result: &str) {
    let line = row(stdout, id);
    assert_eq!(
        line.split_whitespace().nth(1),
        Some(result),
        "{line}\n{stdout}"
    );
}

/// Installs `wheel` into a fresh virtual environment of interpreter `dir` in
/// a fresh container of `image`, then runs `code` with it.
pub fn install_and_run(image: &str, platform: &str, dir: &str, wheel: &Path, code: &str) -> Run {
    let name = wheel.file_name().unwrap().to_str().unwrap();
    let script = format!(
        "/opt/python/{dir}/bin/python -m venv /tmp/v && cat > /tmp/{name} && /tmp/v/bin/pip install --quiet --no-index --no-deps /tmp/{name} && cd / && /tmp/v/bin/python -c \"$1\""
    );
    let mut cmd = Command::new("docker");
    cmd.args([
        "run",
        "--rm",
        "-i",
        "--network=none",
        "--platform",
        platform,
        "--entrypoint",
        "",
        image,
    ])
    .args(["sh", "-c", &script, "sh", code])
    .stdin(std::fs::File::open(wheel).unwrap());
    let run: Run = cmd.output().unwrap().into();
    run.ok()
}

/// `cargo xtask --config CONFIG wheels --standin --arch x86_64 ARGS...`.
pub fn wheels_x86(config: &str, args: &[&str]) -> Run {
    wheels_x86_logged(config, args).0
}

/// As `wheels_x86`, with the folder its builds logged to (see `logs_of`).
pub fn wheels_x86_logged(config: &str, args: &[&str]) -> (Run, PathBuf) {
    run_logged(wheels_x86_cmd(config, args))
}

/// The command of `wheels_x86`, to run as the caller wants.
pub fn wheels_x86_cmd(config: &str, args: &[&str]) -> Command {
    let mut cmd = xtask_cmd(&[
        "--config",
        config,
        "wheels",
        "--standin",
        "--arch",
        "x86_64",
    ]);
    cmd.args(args);
    cmd
}

/// `sha256sum -c SHA256SUMS` in `out` passes.
#[track_caller]
/// SHA256SUMS and manifest.json of `out` list exactly the wheels this tool
/// put in it (not `earlier_wheel`'s), and every sum checks.
pub fn assert_sums_check(out: &Path) {
    let wheels: Vec<String> = wheels_in(out)
        .into_iter()
        .filter(|w| !w.starts_with("earlier-"))
        .collect();
    for file in ["SHA256SUMS", "manifest.json"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        let mut named: Vec<String> = wheels
            .iter()
            .filter(|w| text.contains(w.as_str()))
            .cloned()
            .collect();
        named.sort();
        assert_eq!(named, wheels, "{file} against the folder:\n{text}");
        let entries = text.lines().filter(|l| l.contains(".whl")).count();
        assert_eq!(entries, wheels.len(), "{file} lists other wheels:\n{text}");
    }
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The demo's inputs (demo/python, demo/native, README.md) copied into `tree`,
/// laid out as in this repository.
pub fn demo_tree(tree: &Path) {
    std::fs::create_dir_all(tree.join("demo")).unwrap();
    for from in ["demo/python", "demo/native"] {
        sh(
            "cp",
            &[
                "-a",
                root().join(from).to_str().unwrap(),
                tree.join("demo").to_str().unwrap(),
            ],
        )
        .ok();
    }
    std::fs::copy(root().join("README.md"), tree.join("README.md")).unwrap();
}

/// The dry run is the run: every command the dry run printed (`dry`, its
/// stdout) is one the run logged, and no other: the run's `$` lines on
/// stderr (the containers' starts, the copies, the volumes), then the first
/// line of each build's log (its exec), builds in the order the run started
/// them. Only what names one run is made alike: the run id, and the process
/// id in the staging folder's name. The starts of several containers go on
/// at once, so those lines are compared as a set; the builds in order, per
/// target (the dry run prints each target's builds after its container).
pub fn assert_dry_run_is_the_run(dry: &str, run: &Run, logs: &Path) {
    fn alike(line: &str) -> String {
        let mut line = line.to_string();
        for marker in ["xtask-wheels-", "org.xtask-wheels.run=", ".xtask-partial-"] {
            let mut out = String::new();
            let mut rest = line.as_str();
            while let Some(i) = rest.find(marker) {
                out.push_str(&rest[..i + marker.len()]);
                rest = &rest[i + marker.len()..];
                let digits = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                if marker == ".xtask-partial-" {
                    // A process id.
                    out.push_str("PID");
                    rest = &rest[digits..];
                } else if let Some(after) = rest.strip_prefix("RUN") {
                    out.push_str("RUN");
                    rest = after;
                } else if digits > 0 && rest[digits..].starts_with('-') {
                    // A run id: `<process id>-<hex digits>` (the clock's
                    // nanoseconds, so from 1 to 8 of them).
                    let hex = &rest[digits + 1..];
                    let len = hex
                        .find(|c: char| !c.is_ascii_hexdigit())
                        .unwrap_or(hex.len());
                    if (1..=8).contains(&len) {
                        out.push_str("RUN");
                        rest = &hex[len..];
                    }
                }
            }
            out.push_str(rest);
            line = out;
        }
        line
    }
    let is_build = |l: &str| l.contains(" exec ") && l.contains("CIBUILDWHEEL_BUILD_IDENTIFIER=");
    let dry: Vec<String> = dry.lines().map(alike).collect();
    let (dry_builds, mut dry_rest): (Vec<String>, Vec<String>) =
        dry.into_iter().partition(|l| is_build(l));
    let mut run_rest: Vec<String> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .map(alike)
        .collect();
    let ids: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("==> ")?.strip_suffix(": building"))
        .collect();
    assert!(!ids.is_empty(), "no build started:\n{}", run.stderr);
    let mut run_builds: Vec<String> = ids
        .iter()
        .filter_map(|id| {
            let log = std::fs::read_to_string(logs.join(format!("{id}.log"))).unwrap();
            let first = log
                .lines()
                .next()
                .unwrap_or("")
                .strip_prefix("$ ")?
                .to_string();
            is_build(&first).then(|| alike(&first))
        })
        .collect();
    // A build's target: its identifier without the interpreter.
    let target = |line: &String| {
        let id = line
            .split("CIBUILDWHEEL_BUILD_IDENTIFIER=")
            .nth(1)
            .unwrap_or_default();
        let id: String = id
            .chars()
            .take_while(|c| c.is_alphanumeric() || "-_".contains(*c))
            .collect();
        id.split_once('-').map(|(_, t)| t.to_string()).unwrap_or(id)
    };
    let mut dry_builds = dry_builds;
    dry_builds.sort_by_key(target);
    run_builds.sort_by_key(target);
    dry_rest.sort();
    run_rest.sort();
    assert_eq!(
        dry_rest, run_rest,
        "the containers' starts and copies: dry run, then run"
    );
    assert_eq!(dry_builds, run_builds, "the builds: dry run, then run");
}
