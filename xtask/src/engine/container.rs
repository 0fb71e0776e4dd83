//! A build container: how it is started (its `docker run` line, its first
//! process), the commands run in it, and its removal however the command
//! ends; and the fixes for start failures this tool knows.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use camino::Utf8Path;

use super::{Engine, CONTAINER_LABEL, LABEL};
use crate::cleanup::{Undo, UndoGuard};
use crate::platform::Arch;
use crate::util::{shell_quote, Runner};

/// `docker exec` with the build's environment. A secret goes as `--env NAME`
/// with its value in the client's own environment, so that it appears in no
/// command line (not in `ps`, not in a log).
pub fn exec_command(
    engine: &Engine,
    container: &str,
    env: &[(String, String)],
    secrets: &[String],
    args: &[&str],
) -> Command {
    let mut cmd = engine.command();
    cmd.arg("exec");
    env_args(&mut cmd, env, secrets);
    cmd.arg(container).args(args);
    cmd
}

/// `--env` options of `docker run` or `exec`; a secret's value stays in the
/// client's own environment.
fn env_args(cmd: &mut Command, env: &[(String, String)], secrets: &[String]) {
    for (k, v) in env {
        if secrets.contains(k) {
            cmd.arg("--env").arg(k).env(k, v);
        } else {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
    }
}

/// The resource limits an engine may fail to give a container (`error
/// setting rlimit type N`, N as Linux numbers them): the name `--ulimit` and
/// `default_ulimits` use, and what it limits.
const RLIMITS: &[(u32, &str, &str)] = &[
    (0, "cpu", "CPU time"),
    (1, "fsize", "file size"),
    (2, "data", "data segment"),
    (3, "stack", "stack size"),
    (4, "core", "core file size"),
    (5, "rss", "resident memory"),
    (6, "nproc", "process"),
    (7, "nofile", "open-file"),
    (8, "memlock", "locked memory"),
    (9, "as", "address space"),
    (10, "locks", "file lock"),
    (11, "sigpending", "pending signal"),
    (12, "msgqueue", "message queue"),
    (13, "nice", "nice"),
    (14, "rtprio", "real-time priority"),
    (15, "rttime", "real-time CPU time"),
];

/// The fix for a container start failure this tool knows, as a suffix for its message.
pub fn start_failure_fix(error: &str) -> String {
    let rlimit = error
        .split("error setting rlimit type ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .and_then(|n| RLIMITS.iter().find(|(k, _, _)| *k == n));
    if let Some((_, name, what)) = rlimit {
        // podman as root on hosts whose limits are above what the runtime may
        // set: lower them for the container. A --ulimit given for one limit
        // makes podman drop default_ulimits for all, so the flags come as a
        // set: the two seen here, and the one that failed.
        let mut names = vec!["nproc", "nofile"];
        if !names.contains(name) {
            names.push(name);
        }
        let values: Vec<String> = names.iter().map(|n| format!("{n}=1024:1024")).collect();
        let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
        let flags: Vec<String> = values
            .iter()
            .map(|v| format!("--container-arg=--ulimit={v}"))
            .collect();
        format!(
            "; the engine cannot give containers the host's {what} limit (RLIMIT_{}, `{name}`): \
             set `default_ulimits = [{}]` under [containers] in containers.conf, \
             or pass {} (a --ulimit for one limit makes podman drop default_ulimits for the others: give them all)",
            name.to_uppercase(),
            quoted.join(", "),
            flags.join(" ")
        )
    } else if error.contains("/dev/net/tun") || error.contains("slirp4netns") {
        "; rootless podman cannot set up networking here: builds need none, so pass --container-arg=--network=none (config: container-args)".into()
    } else {
        String::new()
    }
}

/// What a container is made of: its name (and the run it belongs to), image
/// and arch, `name:/path` volumes (and read-only `/host/path:/path:ro`
/// mounts of this tool's native helpers), and the user's own create arguments.
pub struct ContainerSpec<'a> {
    pub name: String,
    pub run_id: &'a str,
    pub image: &'a str,
    pub arch: Arch,
    pub volumes: Vec<String>,
    /// Variables of every process in it (such as the emulated CPU model).
    pub env: Vec<(String, String)>,
    pub extra: &'a [String],
    /// `--keep-container`: it is to outlive this tool.
    pub keep: bool,
}

/// What a container's first process does once: a shell script (which ends
/// the container with `exit` when it fails) and its arguments. What it prints
/// on stdout is handed back; then the process waits for its stdin to close,
/// or runs `then`.
pub struct StartScript {
    pub script: String,
    pub args: Vec<String>,
    pub then: Option<CommandAfterReady>,
}

/// A command the first process runs after the setup, in place of an exec
/// (one round trip less): the container ends when it ends, or when its
/// stdin closes first. Its environment goes on the `docker run` line.
pub struct CommandAfterReady {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The output of `CommandAfterReady`'s command: the rest of the first process's stdout,
/// and its error output line by line; and when the command started (when
/// the container said it was ready).
pub struct OutputAfterReady {
    pub stdout: BufReader<ChildStdout>,
    pub stderr: Receiver<String>,
    pub started: std::time::Instant,
}

/// The line the first process prints when the setup is done.
const READY: &str = "xtask: the container is ready";

/// Why a container's setup failed: its exit status and its error output.
#[derive(Debug)]
pub struct ReadyingFailed {
    pub code: Option<i32>,
    pub stderr: String,
}

impl std::fmt::Display for ReadyingFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "exit status {code}: {}", self.stderr.trim()),
            None => write!(f, "ended by a signal: {}", self.stderr.trim()),
        }
    }
}

impl std::error::Error for ReadyingFailed {}

/// A container that lives as long as this value (and no longer, also on
/// Ctrl-C, and also when this tool is killed): its first process runs
/// attached, and ends when its stdin, held here, closes.
pub struct Container {
    pub engine: Engine,
    pub name: String,
    /// The `docker run` line, as printed (the scripts by their size).
    pub command: String,
    guard: Option<UndoGuard>,
    /// The attached `docker run`; it returns once the engine removed the container.
    client: Mutex<Child>,
    stdin: Option<ChildStdin>,
    keep: bool,
}

impl ContainerSpec<'_> {
    /// The `docker run` command of a build container, attached, with `setup`
    /// as its first process.
    pub fn command(&self, engine: &Engine, setup: &StartScript, secrets: &[String]) -> Command {
        let mut cmd = engine.command();
        cmd.args(["run", "--interactive", "--rm", "--name", &self.name]);
        cmd.args(["--label", CONTAINER_LABEL]);
        cmd.args(["--label", &format!("{LABEL}.run={}", self.run_id)]);
        cmd.args(["--platform", &self.arch.docker_platform()]);
        cmd.args(["--entrypoint", "", "--workdir", "/"]);
        for v in &self.volumes {
            cmd.args(["--volume", v]);
        }
        env_args(&mut cmd, &self.env, secrets);
        if let Some(then) = &setup.then {
            env_args(&mut cmd, &then.env, secrets);
        }
        cmd.args(self.extra);
        // `cat` returns when this tool closes the container's stdin: at the
        // end, or when it dies, however it dies.
        let wait = match (&setup.then, self.keep) {
            (_, true) => "exec sleep infinity".to_string(),
            (None, false) => "exec cat >/dev/null".to_string(),
            // The command in the background (its stdin is /dev/null), `cat`
            // on the real stdin (fd 3) ending it early.
            (Some(then), false) => {
                let quoted: Vec<String> = then.args.iter().map(|a| shell_quote(a)).collect();
                format!(
                    "exec 3<&0\n{} 3<&- &\nb=$!\n{{ cat <&3 >/dev/null; kill -9 $b; }} 2>/dev/null &\nwait $b",
                    quoted.join(" ")
                )
            }
        };
        let main = format!("{}\necho '{READY}'\n{wait}", setup.script);
        cmd.args([self.image, "sh", "-c", &main, "sh"]);
        cmd.args(&setup.args);
        cmd
    }
}

impl ContainerSpec<'_> {
    /// The start line as it is shown (the log, the dry run): its options and
    /// image in full, the long arguments after it (scripts) by their size, secrets masked; after `input`,
    /// the command whose output is its stdin, where there is one.
    pub fn shown(
        &self,
        engine: &Engine,
        setup: &StartScript,
        secrets: &[String],
        input: Option<&Command>,
    ) -> String {
        let cmd = self.command(engine, setup, secrets);
        let mut shown = engine.command();
        // The options and the image in full; after it, the scripts and
        // their arguments, long ones by their size.
        let mut after_image = false;
        shown.args(cmd.get_args().map(|a| {
            let a = a.to_string_lossy();
            let arg = match after_image {
                true => shorten(&a),
                false => a.to_string(),
            };
            after_image |= a == self.image;
            arg
        }));
        let line = crate::util::command_line(&shown, secrets);
        match input {
            Some(input) => format!("{} | {line}", crate::util::command_line(input, secrets)),
            None => line,
        }
    }
}

impl Container {
    /// Starts it, runs `setup` fed with `input` (made by `input_from`, for
    /// the line shown), and returns what the setup
    /// printed (and with `setup.then`, that command's output); registered for
    /// removal before it exists, so no signal can leak it. A failed setup is
    /// a `ReadyingFailed` error.
    pub fn start(
        engine: &Engine,
        runner: &Runner,
        spec: &ContainerSpec,
        setup: &StartScript,
        input: Option<(std::fs::File, &Command)>,
    ) -> Result<(Container, String, Option<OutputAfterReady>)> {
        let guard = UndoGuard::new(Undo::run(&engine.rm(&spec.name)));
        let mut cmd = spec.command(engine, setup, runner.secrets);
        let line = spec.shown(
            engine,
            setup,
            runner.secrets,
            input.as_ref().map(|(_, from)| *from),
        );
        let input = input.map(|(file, _)| file);
        if !runner.quiet {
            eprintln!("$ {line}");
        }
        let mut client = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start `{line}`"))?;
        let err = client.stderr.take().expect("piped");
        let (lines, stderr) = std::sync::mpsc::channel();
        // Read to the end even when nobody listens any more: a client whose
        // stderr is closed dies of SIGPIPE at its next word.
        std::thread::spawn(move || {
            let mut err = BufReader::new(err);
            let mut line = Vec::new();
            while err.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let _ = lines.send(String::from_utf8_lossy(&line).trim_end().to_string());
                line.clear();
            }
        });
        let mut stdin = client.stdin.take();
        // The input goes in while the setup's output is read here.
        let feeder = input.map(|mut input| {
            let mut to = stdin.take().expect("piped");
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut input, &mut to);
                to
            })
        });
        let mut output = String::new();
        let mut ready = false;
        let mut stdout = BufReader::new(client.stdout.take().expect("piped"));
        let mut text = String::new();
        while stdout
            .read_line(&mut text)
            .context("reading the container's setup output")?
            > 0
        {
            if text.trim_end() == READY {
                ready = true;
                break;
            }
            output.push_str(&text);
            text.clear();
        }
        if let Some(feeder) = feeder {
            stdin = Some(feeder.join().expect("the input thread panicked"));
        }
        let c = Container {
            engine: engine.clone(),
            name: spec.name.clone(),
            command: line,
            guard: Some(guard),
            client: Mutex::new(client),
            stdin,
            keep: spec.keep,
        };
        if ready {
            let first = setup.then.as_ref().map(|_| OutputAfterReady {
                stdout,
                stderr,
                started: std::time::Instant::now(),
            });
            return Ok((c, output, first));
        }
        let status = c.wait()?;
        let stderr: Vec<String> = stderr.iter().collect();
        let stderr = stderr.join("\n");
        // 125: the engine could not make or start it; 126, 127: no `sh` in it.
        if matches!(status.code(), Some(125..=127)) {
            let fix = start_failure_fix(&stderr);
            bail!(
                "starting a container of `{}` failed ({status}): {}{fix}",
                spec.image,
                stderr.trim()
            );
        }
        Err(ReadyingFailed {
            code: status.code(),
            stderr,
        }
        .into())
    }

    /// Waits for the first process to end (with `StartScript::then`, that
    /// command's status), and with it the container.
    pub fn wait(&self) -> Result<ExitStatus> {
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        Ok(client.wait()?)
    }

    /// Leaves the container running past this value, and past Ctrl-C; the
    /// command that enters it.
    pub fn keep(&mut self) -> String {
        if let Some(guard) = self.guard.take() {
            guard.disarm();
        }
        let mut enter = self.engine.command();
        enter.args(["exec", "-it", &self.name, "bash"]);
        crate::util::command_line(&enter, &[])
    }

    /// `docker exec` of a command in the container.
    pub fn exec(&self, env: &[(String, String)], secrets: &[String], args: &[&str]) -> Command {
        exec_command(&self.engine, &self.name, env, secrets, args)
    }

    /// Output of a quick command in the container.
    pub fn read(&self, args: &[&str]) -> Result<String> {
        let out = self.exec(&[], &[], args).stdin(Stdio::null()).output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `docker cp` of a host folder's contents into the container.
    pub fn copy_in(&self, runner: &Runner, from: &Utf8Path, to: &str) -> Result<()> {
        runner.run_captured(
            self.engine
                .cp(&format!("{from}/."), &format!("{}:{to}", self.name)),
        )
    }

    /// `docker cp` from the container to a host folder (files then belong to the caller).
    pub fn copy_out(&self, runner: &Runner, from: &str, to: &Utf8Path) -> Result<()> {
        runner.run_captured(
            self.engine
                .cp(&format!("{}:{from}", self.name), to.as_str()),
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let client = self.client.get_mut().unwrap_or_else(|e| e.into_inner());
        if self.keep {
            // The container sleeps on; only the attached client ends.
            let _ = client.kill();
        }
        // Its first process reads its stdin to the end: closing it ends the container.
        drop(self.stdin.take());
        let ended = client.wait();
        // Once the attached client returned cleanly the engine has removed it;
        // else the guard removes it by force.
        if !self.keep && ended.is_ok_and(|s| s.success()) {
            if let Some(guard) = self.guard.take() {
                guard.disarm();
            }
        }
        drop(self.guard.take());
        // A removal the engine had already begun (its own, for --rm) makes
        // `rm --force` return at once while the container is still there,
        // for as long as the engine takes to delete its files on a busy
        // disk: the command ends only once it is gone.
        if !self.keep {
            self.engine.wait_gone(&self.name);
        }
    }
}

/// An argument as a printed command line shows it: a long text by its size.
fn shorten(arg: &str) -> String {
    if arg.len() > 60 || arg.contains('\n') {
        format!("<{} bytes>", arg.len())
    } else {
        arg.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_run_line() {
        let mut spec = ContainerSpec {
            name: "xtask-1-x86_64".into(),
            run_id: "1",
            image: "manylinux:latest",
            arch: Arch::X86_64,
            volumes: vec!["c:/root/.cache/pip".into()],
            env: Vec::new(),
            extra: &["--ulimit=nproc=1024:1024".into()],
            keep: false,
        };
        let mut setup = StartScript {
            script: "ls /opt/python || exit 42".into(),
            args: vec!["1".into()],
            then: None,
        };
        let docker = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
            api: None,
        };
        let line = |spec: &ContainerSpec, setup: &StartScript| {
            crate::util::command_line(&spec.command(&docker, setup, &["TOKEN".into()]), &[])
        };
        assert_eq!(
            line(&spec, &setup),
            "docker run --interactive --rm --name xtask-1-x86_64 --label org.xtask-wheels=container --label org.xtask-wheels.run=1 \
             --platform linux/amd64 --entrypoint '' --workdir / --volume c:/root/.cache/pip --ulimit=nproc=1024:1024 manylinux:latest \
             sh -c $'ls /opt/python || exit 42\\necho \\'xtask: the container is ready\\'\\nexec cat >/dev/null' sh 1"
        );
        // The first process's script, as the engine gets it.
        let script = |spec: &ContainerSpec, setup: &StartScript| -> String {
            let cmd = spec.command(&docker, setup, &["TOKEN".into()]);
            let args: Vec<String> = cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let c = args.iter().position(|a| a == "-c").expect("sh -c");
            args[c + 1].clone()
        };
        spec.keep = true;
        assert!(script(&spec, &setup).ends_with("\nexec sleep infinity"));
        // A command run after the setup: its environment on the run line (a
        // secret by name only), the command quoted into the script.
        spec.keep = false;
        setup.then = Some(CommandAfterReady {
            args: vec!["sh".into(), "-c".into(), "echo \"$1\"".into(), "a b".into()],
            env: vec![
                ("MODE".into(), "x y".into()),
                ("TOKEN".into(), "s3cret".into()),
            ],
        });
        let cmd = spec.command(&docker, &setup, &["TOKEN".into()]);
        let text = crate::util::command_line(&cmd, &[]);
        assert!(
            text.contains(" --env 'MODE=x y' --env TOKEN --ulimit"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        let text = script(&spec, &setup);
        assert!(
            text.contains("\nexec 3<&0\nsh -c 'echo \"$1\"' 'a b' 3<&- &\nb=$!\n"),
            "{text}"
        );
    }

    #[test]
    fn exec_line_keeps_secrets_off_the_command_line() {
        let env = vec![
            ("MODE".to_string(), "a b".to_string()),
            ("TOKEN".to_string(), "s3cret".to_string()),
        ];
        let docker = Engine {
            program: "docker".into(),
            endpoint: Vec::new(),
            api: None,
        };
        let cmd = exec_command(
            &docker,
            "c1",
            &env,
            &["TOKEN".to_string()],
            &["bash", "x.sh"],
        );
        assert_eq!(
            crate::util::command_line(&cmd, &[]),
            "docker exec --env 'MODE=a b' --env TOKEN c1 bash x.sh"
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            envs,
            [(
                std::ffi::OsStr::new("TOKEN"),
                Some(std::ffi::OsStr::new("s3cret"))
            )]
        );
    }

    #[test]
    fn known_start_failures_name_their_fix() {
        let fix =
            start_failure_fix("Error: crun: error setting rlimit type 6: operation not permitted");
        assert!(
            fix.contains("default_ulimits = [\"nproc=1024:1024\", \"nofile=1024:1024\"]"),
            "{fix}"
        );
        assert!(
            fix.contains("--container-arg=--ulimit=nproc=1024:1024 --container-arg=--ulimit=nofile=1024:1024 "),
            "{fix}"
        );
        assert!(fix.contains("process limit (RLIMIT_NPROC"), "{fix}");
        let fix =
            start_failure_fix("Error: runc: error setting rlimit type 7: operation not permitted");
        assert!(
            fix.contains("open-file limit (RLIMIT_NOFILE, `nofile`)"),
            "{fix}"
        );
        let fix = start_failure_fix("error setting rlimit type 8: invalid argument");
        assert!(
            fix.contains("\"nproc=1024:1024\", \"nofile=1024:1024\", \"memlock=1024:1024\""),
            "{fix}"
        );
        assert!(
            start_failure_fix("open /dev/net/tun: permission denied").contains("--network=none")
        );
        assert_eq!(start_failure_fix("no such image"), "");
    }
}
