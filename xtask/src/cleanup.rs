//! What must be undone however the command ends, also on SIGINT, SIGTERM
//! and SIGHUP: the run's containers removed, its temporary files deleted. It
//! runs plain commands and removes paths; what a command is, its maker says
//! (the engine makes the `rm` of its containers).

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use camino::Utf8PathBuf;

/// What must be undone however the command ends. Global, because a signal
/// handler must reach it.
static CLEANUP: Mutex<Vec<Undo>> = Mutex::new(Vec::new());

/// Set as soon as a signal is taken, before its cleanup waits for the list.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Debug, PartialEq)]
pub enum Undo {
    /// A command that removes something of ours (such as `docker rm --force`
    /// of a container): its program, arguments and the variables it sets.
    Run {
        argv: Vec<OsString>,
        env: Vec<(OsString, OsString)>,
    },
    /// A file or folder of ours that must not outlive the command.
    Path(Utf8PathBuf),
    /// A file the command must leave however it ends (such as the JSON
    /// summary of a run stopped before its builds finished), and its text.
    Write(Utf8PathBuf, String),
}

impl Undo {
    /// Runs `cmd` (its program, arguments and variables; nothing else of it).
    pub fn run(cmd: &Command) -> Undo {
        Undo::Run {
            argv: std::iter::once(cmd.get_program())
                .chain(cmd.get_args())
                .map(OsString::from)
                .collect(),
            env: cmd
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_os_string(), v?.to_os_string())))
                .collect(),
        }
    }

    fn perform(&self) {
        match self {
            Undo::Run { argv, env } => {
                let _ = Command::new(&argv[0])
                    .args(&argv[1..])
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            Undo::Write(path, text) => {
                let _ = std::fs::write(path, text);
            }
            Undo::Path(path) => {
                if path.is_dir() {
                    let _ = std::fs::remove_dir_all(path);
                } else {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

/// Registers `undo` until the guard drops, when it is performed.
#[must_use]
pub struct UndoGuard(Undo);

impl UndoGuard {
    pub fn new(undo: Undo) -> UndoGuard {
        CLEANUP
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(undo.clone());
        UndoGuard(undo)
    }
}

impl UndoGuard {
    /// Registers `undo` in place of this guard's (the same slot: a signal
    /// taken meanwhile performs one or the other).
    pub fn replace(&mut self, undo: Undo) {
        let mut list = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
        match list.iter().position(|u| *u == self.0) {
            Some(i) => list[i] = undo.clone(),
            None => list.push(undo.clone()),
        }
        self.0 = undo;
    }

    /// Forgets the undo: what it would have removed is left in place.
    pub fn disarm(self) {
        let mut list = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = list.iter().position(|u| *u == self.0) {
            list.remove(i);
        }
        drop(list);
        std::mem::forget(self);
    }
}

impl Drop for UndoGuard {
    fn drop(&mut self) {
        let mut list = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = list.iter().position(|u| *u == self.0) {
            list.remove(i);
        }
        drop(list);
        self.0.perform();
    }
}

/// On SIGINT, SIGTERM or SIGHUP: undo everything registered, then exit as the
/// signal would have (130 for Ctrl-C). The signals are blocked in every thread
/// and taken by one thread with sigwait, so the undo runs as ordinary code, not
/// in a signal handler. Children get an empty mask from std's spawn.
pub fn handle_signals() {
    let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
    // SAFETY: plain libc calls on a local, initialised sigset_t.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is initialised and `sig` is a valid out pointer.
        while unsafe { libc::sigwait(&set, &mut sig) } != 0 {}
        SIGNALLED.store(true, Ordering::SeqCst);
        // Not eprintln!: it panics when stderr is a closed pipe (a reader that
        // went away), and the cleanup must happen all the same.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"\ninterrupted: removing this run's containers and temporary files\n",
        );
        // Held until exit, so that no guard dropping on another thread races
        // this cleanup and the exit status stays the signal's.
        let list = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
        for undo in list.iter().rev() {
            undo.perform();
        }
        std::process::exit(128 + sig);
    });
}

/// Runs `f` with the signal cleanup held off: a signal that arrives meanwhile
/// is handled once `f` returns. `f` must not register or drop an UndoGuard.
pub fn uninterrupted<T>(f: impl FnOnce() -> T) -> T {
    let held = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    let done = f();
    drop(held);
    // A signal taken meanwhile: its cleanup exits the command, with the
    // signal's status, before this thread can go on to finish (and exit 0).
    if SIGNALLED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    done
}

/// A file or folder made beside where it is kept, under a name of this
/// process's (`.NAME.PID.partial`), and renamed into place whole: whoever
/// reads the kept path sees all of it or nothing, and the partial one is
/// removed however the command ends.
pub struct Partial {
    path: Utf8PathBuf,
    kept: Utf8PathBuf,
    _undo: UndoGuard,
}

impl Partial {
    pub fn beside(kept: &camino::Utf8Path) -> Partial {
        // Unique to this call: threads of one run may make the same file.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = kept.file_name().unwrap_or("file");
        let path = kept.with_file_name(format!(".{name}.{}-{n}.partial", std::process::id()));
        Partial {
            _undo: UndoGuard::new(Undo::Path(path.clone())),
            path,
            kept: kept.to_owned(),
        }
    }

    /// Where to make it.
    pub fn path(&self) -> &camino::Utf8Path {
        &self.path
    }

    /// Renames it into place.
    pub fn keep(self) -> anyhow::Result<()> {
        let from = self.path.clone();
        self.keep_from(&from)
    }

    /// Renames `made` (it, or what was made inside it) into place; the
    /// rest is removed.
    pub fn keep_from(self, made: &camino::Utf8Path) -> anyhow::Result<()> {
        use anyhow::Context;
        std::fs::rename(made, &self.kept).with_context(|| format!("keeping {}", self.kept))
    }
}

/// Writes `text` to `path` whole (see `Partial`).
pub fn write_whole(path: &camino::Utf8Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let partial = Partial::beside(path);
    std::fs::write(partial.path(), text).with_context(|| format!("writing {}", partial.path()))?;
    partial.keep()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builds of one run are threads of one process: each thread's
    /// partial file is its own, so every one of them is kept whole.
    #[test]
    fn threads_writing_one_file_each_keep_theirs_whole() {
        let dir = std::env::temp_dir().join(format!("xtask-partial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = camino::Utf8PathBuf::try_from(dir.join("kept")).unwrap();
        let texts: Vec<String> = (0..8).map(|i| format!("{i}").repeat(100_000)).collect();
        let results: Vec<anyhow::Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = texts
                .iter()
                .map(|text| s.spawn(|| write_whole(&file, text)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for result in results {
            result.unwrap();
        }
        let kept = std::fs::read_to_string(&file).unwrap();
        assert!(
            texts.contains(&kept),
            "a mix of the threads' texts was kept"
        );
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(left.len(), 1, "partial files were left: {left:?}");
    }
}
