//! What a person sees while the builds run. On a terminal: one live line per
//! running build (identifier, phase, elapsed time, the last line of its log),
//! redrawn in place, and finished builds scrolling above (indicatif draws and
//! clears the lines, so no escape codes are written by hand). Elsewhere (CI,
//! a pipe, `TERM=dumb`): the plain `==>` lines. No colours either way, so
//! NO_COLOR has nothing to turn off. `--verbose` adds every log line,
//! prefixed by its build's identifier.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    /// None when the output is not a terminal: plain lines instead.
    live: Option<MultiProgress>,
    verbose: bool,
}

/// One build's line.
pub struct Line<'a> {
    progress: &'a Progress,
    id: String,
    bar: Option<ProgressBar>,
    phase: Mutex<&'static str>,
}

impl Progress {
    pub fn new(verbose: bool) -> Progress {
        let terminal =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Progress {
            live: terminal.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            verbose,
        }
    }

    /// Whether lines are redrawn in place (commands are then not echoed).
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// A line above the live ones, or a plain line.
    pub fn println(&self, text: &str) {
        match &self.live {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    pub fn start(&self, id: &str) -> Line<'_> {
        let bar = self.live.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{prefix} {elapsed:>4} {wide_msg}")
                    .expect("a valid template"),
            );
            bar.set_prefix(format!("{id:<24}"));
            bar.set_message("start");
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        if bar.is_none() {
            eprintln!("==> {id}: building");
        }
        Line {
            progress: self,
            id: id.to_string(),
            bar,
            phase: Mutex::new("start"),
        }
    }
}

impl Line<'_> {
    /// One line of the build's log.
    pub fn feed(&self, text: &str) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(next) = phase_of(text) {
            *phase = next;
        }
        if self.progress.verbose {
            self.progress.println(&format!("{} | {text}", self.id));
        }
        if let Some(bar) = &self.bar {
            let text: String = text.chars().filter(|c| !c.is_control()).collect();
            bar.set_message(format!("{:<7} {text}", *phase));
        }
    }

    /// Ends the live line; `text` stays, above the running ones.
    pub fn finish(self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.progress.println(text);
    }
}

/// The phase a line of build-wheel.sh starts (its `==> ` steps).
fn phase_of(line: &str) -> Option<&'static str> {
    let step = line.strip_prefix("==> ")?;
    [
        ("copy", "copy"),
        ("before-build", "prepare"),
        ("build", "build"),
        ("the interpreter has no 'build'", "build"),
        ("repair", "repair"),
        ("check", "check"),
        ("test", "test"),
        ("done", "done"),
    ]
    .into_iter()
    .find(|(start, _)| step.starts_with(start))
    .map(|(_, phase)| phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_from_the_build_scripts_steps() {
        assert_eq!(phase_of("==> copy sources for cp313-cp313"), Some("copy"));
        assert_eq!(
            phase_of("==> build wheel with /opt/python/x/bin/python"),
            Some("build")
        );
        assert_eq!(
            phase_of("==> repair demo-1-cp313-cp313-linux_x86_64.whl for manylinux_2_41_x86_64"),
            Some("repair")
        );
        assert_eq!(phase_of("==> check demo.whl"), Some("check"));
        assert_eq!(phase_of("==> test: pytest -q"), Some("test"));
        assert_eq!(phase_of("==> done: demo.whl"), Some("done"));
        assert_eq!(phase_of("building 'democodec._native' extension"), None);
    }
}
