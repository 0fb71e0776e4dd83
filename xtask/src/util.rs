//! Small helpers shared by the subcommands.

use std::ffi::OsStr;
use std::process::Command;

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

pub fn project_root() -> Utf8PathBuf {
    Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the project root")
        .to_path_buf()
}

/// A shell for another thread (a `Shell` stays on its own), in the folder
/// every subcommand's shell works in.
pub fn thread_shell() -> Result<xshell::Shell> {
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

/// A path from the command line, made absolute against the current folder.
pub fn absolute_from_cwd(path: &Utf8Path) -> Result<Utf8PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let cwd = Utf8PathBuf::from_path_buf(cwd)
        .map_err(|p| usage(format!("the current folder {} is not UTF-8", p.display())))?;
    Ok(cwd.join(path))
}

/// An error in what the user typed or configured: exit status 2, like clap's.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// Quotes one argument for a POSIX shell, so that printed commands can be pasted.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./=:,+@%^".contains(&b));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Quotes one argument for a line a user reads and pastes into bash: as
/// `shell_quote`, but a value with a line break or another control
/// character in `$'...'`, so that every command stays on one line.
fn shown_quote(arg: &str) -> String {
    if !arg.chars().any(char::is_control) {
        return shell_quote(arg);
    }
    let mut out = String::from("$'");
    for c in arg.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The command line of `cmd`, quoted for bash, one line, with the values of
/// `secrets` masked.
pub fn command_line(cmd: &Command, secrets: &[String]) -> String {
    let mut words = vec![shown_quote(&cmd.get_program().to_string_lossy())];
    for arg in cmd.get_args() {
        words.push(shown_quote(&mask(arg, secrets)));
    }
    words.join(" ")
}

/// A command like `cmd`: its program, arguments, variables and folder
/// (std's Command cannot be cloned).
pub fn copy_command(cmd: &Command) -> Command {
    let mut copy = Command::new(cmd.get_program());
    copy.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => copy.env(k, v),
            None => copy.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        copy.current_dir(dir);
    }
    copy
}

fn mask(arg: &OsStr, secrets: &[String]) -> String {
    let arg = arg.to_string_lossy();
    for name in secrets {
        if let Some(value) = arg
            .strip_prefix(name.as_str())
            .and_then(|rest| rest.strip_prefix('='))
        {
            if !value.is_empty() {
                return format!("{name}=***");
            }
        }
    }
    arg.into_owned()
}

/// The last line of a command's output (its stderr, as a rule) that says
/// anything, trimmed; `none` when no line does.
pub fn last_line(output: &[u8], none: &str) -> String {
    String::from_utf8_lossy(output)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(none)
        .to_string()
}

/// Runs state-changing commands, or only prints them under `--dry-run`.
/// Read-only queries (image inspect, version) go straight through xshell.
#[derive(Clone, Copy, Debug)]
pub struct Runner<'a> {
    pub dry_run: bool,
    pub secrets: &'a [String],
    /// Run without echoing the command (the live display owns the terminal).
    pub quiet: bool,
}

impl Runner<'_> {
    /// Echoes the command (as xshell does) and runs it with inherited output.
    pub fn run(&self, cmd: impl Into<Command>) -> Result<()> {
        let mut cmd = cmd.into();
        let Some(line) = self.announce(&cmd) else {
            return Ok(());
        };
        let status = cmd
            .status()
            .with_context(|| format!("could not start `{line}`"))?;
        if !status.success() {
            bail!("`{line}` failed ({status})");
        }
        Ok(())
    }

    /// Like `run`, but the command's error output becomes part of the error,
    /// so that a summary can say why (such as "no space left on device").
    pub fn run_captured(&self, cmd: impl Into<Command>) -> Result<()> {
        let mut cmd = cmd.into();
        let Some(line) = self.announce(&cmd) else {
            return Ok(());
        };
        captured(cmd.stdin(std::process::Stdio::null()), &line)
    }

    /// Runs `cmd`, a long step such as an image build, with its output in
    /// `log` (the command line first) instead of on the terminal: a line
    /// says what runs and where its log is, the next how long so far (kept
    /// up to date on a terminal) and then how long it took; on failure the
    /// error holds the log's last lines and its path.
    pub fn run_logged(&self, cmd: impl Into<Command>, what: &str, log: &Utf8Path) -> Result<()> {
        use std::io::{IsTerminal, Write};
        let mut cmd = cmd.into();
        let line = command_line(&cmd, self.secrets);
        if self.dry_run {
            println!("{line}");
            return Ok(());
        }
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
        }
        let mut file = std::fs::File::create(log).with_context(|| format!("creating {log}"))?;
        writeln!(file, "$ {line}").with_context(|| format!("writing {log}"))?;
        let start = std::time::Instant::now();
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("could not start `{line}`"))?;
        // The step and its log on a line of their own; then, on a terminal,
        // how long so far on one short line rewritten in place (it never
        // wraps), which ends as how long it took.
        let live = !self.quiet && std::io::stderr().is_terminal();
        if !self.quiet {
            eprintln!("==> {what} (log: {log})");
        }
        // The live line is there from the start, so that even a step the
        // engine's cache answers at once shows it.
        if live {
            eprint!("    {} so far\x1b[K", format_duration(start.elapsed()));
        }
        let mut shown = 0;
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for the step")? {
                break status;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            let secs = start.elapsed().as_secs();
            if live && secs > shown {
                shown = secs;
                eprint!("\r    {} so far\x1b[K", format_duration(start.elapsed()));
            }
        };
        if live {
            eprint!("\r\x1b[K");
        }
        let took = format_duration(start.elapsed());
        if status.success() {
            if !self.quiet {
                eprintln!("    done in {took}");
            }
            return Ok(());
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        bail!("{what} failed after {took} ({status}); the end of {log}:\n{tail}")
    }

    /// Prints the command; its line when it is
    /// to run, None under `--dry-run`.
    fn announce(&self, cmd: &Command) -> Option<String> {
        let line = command_line(cmd, self.secrets);
        if self.dry_run {
            println!("{line}");
            return None;
        }
        if !self.quiet {
            eprintln!("$ {line}");
        }
        Some(line)
    }
}

/// Runs `cmd` (shown as `line`), its error output part of the error.
fn captured(cmd: &mut Command, line: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!("`{line}` failed ({}): {}", out.status, stderr.trim());
    }
    Ok(())
}

/// FNV-1a: a stable content hash for "has this input changed" labels
/// (std's hasher may change between Rust releases).
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // Separates fields, so that ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }

    /// Hashes every file below `dir` (names and contents), in a stable order.
    pub fn write_tree(&mut self, dir: &Utf8Path) -> Result<()> {
        let mut files = Vec::new();
        walk(dir, &mut files)?;
        files.sort();
        for file in files {
            self.write(file.strip_prefix(dir).unwrap_or(&file).as_str().as_bytes());
            self.write(&std::fs::read(&file).with_context(|| format!("reading {file}"))?);
        }
        Ok(())
    }

    pub fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

fn walk(dir: &Utf8Path, files: &mut Vec<Utf8PathBuf>) -> Result<()> {
    for entry in dir
        .read_dir_utf8()
        .with_context(|| format!("reading {dir}"))?
    {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            walk(entry.path(), files)?;
        } else {
            files.push(entry.path().to_path_buf());
        }
    }
    Ok(())
}

/// The SHA-256 of a file, in hex, by coreutils' sha256sum.
/// Fetches `url` into `to` with curl (`what` names it for the messages).
pub fn curl(url: &str, to: &Utf8Path, what: &str) -> Result<()> {
    let out = Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--location"])
        .args(["--connect-timeout", "10", "--output", to.as_str(), url])
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("starting curl (to fetch {what})"))?;
    if !out.status.success() {
        bail!(
            "fetching {url} failed: {}",
            last_line(&out.stderr, "no message")
        );
    }
    Ok(())
}

pub fn sha256(path: &Utf8Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg("--")
        .arg(path.as_str())
        .output()
        .context("running sha256sum (coreutils)")?;
    if !out.status.success() {
        bail!(
            "sha256sum {path} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Holds an exclusive lock on `path` (created if missing) for as long as the
/// returned file lives; fails at once with `busy(the holder's pid)` when
/// another process has it.
pub fn lock_exclusive(path: &Utf8Path, busy: impl Fn(&str) -> String) -> Result<std::fs::File> {
    lock(path, Err(&busy))
}

/// Holds an exclusive lock on `path` as `lock_exclusive` does, but waits for
/// another process that has it, saying so (`making`: what it is making, which
/// this process will then find made). For work that any command may need and
/// one does: a native helper, a stand-in.
pub fn lock_waiting(path: &Utf8Path, making: &str) -> Result<std::fs::File> {
    lock(path, Ok(making))
}

/// `lock_exclusive` (`or`: what to fail with) or `lock_waiting` (what to say).
fn lock(
    path: &Utf8Path,
    or: std::result::Result<&str, &dyn Fn(&str) -> String>,
) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {dir}"))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening {path}"))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        match or {
            Err(busy) => bail!("{}", busy(holder.trim())),
            Ok(making) => {
                eprintln!(
                    "==> waiting for another command (pid {}), which is making {making}",
                    holder.trim()
                );
                // SAFETY: as above; blocks until the holder lets go.
                if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                    return Err(std::io::Error::last_os_error())
                        .with_context(|| format!("locking {path}"));
                }
            }
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

/// A name unique to this run, for containers and temporary folders.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{:x}", std::process::id(), nanos)
}

/// Words split as a shell would, with single and double quotes, no expansion.
pub fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("`{s}` has an unclosed quote"));
    }
    if any {
        words.push(word);
    }
    Ok(words)
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn format_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_lock_waits_where_an_exclusive_one_fails() {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-lock-{}", run_id()));
        let path = dir.join("x.lock");
        let held = lock_exclusive(&path, |pid| format!("busy {pid}")).unwrap();
        let pid = std::process::id().to_string();
        assert_eq!(
            lock_exclusive(&path, |p| format!("busy {p}"))
                .unwrap_err()
                .to_string(),
            format!("busy {pid}")
        );
        let start = std::time::Instant::now();
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || lock_waiting(&path, "a test").map(|_| start.elapsed())
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(held);
        let waited = waiter.join().unwrap().unwrap();
        assert!(
            waited >= std::time::Duration::from_millis(300),
            "{waited:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("docker"), "docker");
        assert_eq!(shell_quote("linux/arm64"), "linux/arm64");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("`x`;y\nz"), "'`x`;y\nz'");
    }

    #[test]
    fn a_value_with_a_line_break_stays_on_the_line_and_pastes_into_bash() {
        let mut cmd = Command::new("docker");
        cmd.args(["exec", "--env", "A=one\ntwo 'x'\\", "plain"]);
        let line = command_line(&cmd, &[]);
        assert_eq!(line, r"docker exec --env $'A=one\ntwo \'x\'\\' plain");
        let echoed = Command::new("bash")
            .args(["-c", &format!("printf %s {}", &line[18..line.len() - 6])])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&echoed.stdout), "A=one\ntwo 'x'\\");
    }

    #[test]
    fn command_lines_mask_secrets() {
        let mut cmd = Command::new("docker");
        cmd.args(["exec", "-e", "TOKEN=abc", "-e", "MODE=a b", "c"]);
        assert_eq!(
            command_line(&cmd, &["TOKEN".into()]),
            "docker exec -e 'TOKEN=***' -e 'MODE=a b' c"
        );
        assert_eq!(
            command_line(&cmd, &[]),
            "docker exec -e TOKEN=abc -e 'MODE=a b' c"
        );
    }

    #[test]
    fn fnv_separates_fields() {
        let mut a = Fnv::default();
        a.write(b"ab");
        a.write(b"c");
        let mut b = Fnv::default();
        b.write(b"a");
        b.write(b"bc");
        assert_ne!(a.hex(), b.hex());
        assert_eq!(a.hex().len(), 16);
    }

    #[test]
    fn json_strings() {
        assert_eq!(json_string("cp311"), r#""cp311""#);
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }

    #[test]
    fn durations() {
        assert_eq!(
            format_duration(std::time::Duration::from_millis(12_340)),
            "12.3s"
        );
        assert_eq!(
            format_duration(std::time::Duration::from_secs(125)),
            "2m05s"
        );
    }
}
