//! What a run says at the end: one row per build, the images, and for each
//! failure its reason and the last lines of its log.

use std::sync::Mutex;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use super::landing::{MANIFEST, SUMS};
use super::plan::Epoch;
use super::plan::Plan;
use super::select::Build;
use super::target::Target;
use crate::cleanup::{Undo, UndoGuard};
use crate::util;

pub(super) enum Outcome {
    Built {
        wheel: Utf8PathBuf,
        test: String,
        log: Utf8PathBuf,
    },
    Failed {
        reason: String,
        log: Utf8PathBuf,
    },
    /// Not built: `--fail-fast` stopped the run first.
    Skipped,
    /// A pure-Python wheel, left out as `--pure-wheel skip` asks.
    Pure {
        log: Utf8PathBuf,
    },
}

pub(super) struct Done {
    pub outcome: Outcome,
    pub time: Duration,
}

fn tail(log: &Utf8Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// The summary table and what follows it, to stdout; to stderr when stdout
/// carries the JSON summary (`--json -`).
pub(super) fn print_summary(
    plan: &Plan,
    targets: &[Target],
    builds: &[Build],
    results: &[Done],
    notes: &[String],
) {
    use std::io::Write;
    let json_on_stdout = plan.json.as_ref().is_some_and(|j| j.as_str() == "-");
    let mut out: Box<dyn Write> = if json_on_stdout {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let lines = std::iter::once(String::new())
        .chain(table(builds, results))
        .chain(what_built(plan, targets, results, notes))
        .chain(failures(builds, results));
    for line in lines {
        drop(writeln!(out, "{line}"));
    }
}

/// A path as the user would type it: relative to the current folder when
/// it is under it.
fn show(p: &Utf8Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok());
    match cwd.as_deref().and_then(|c| p.strip_prefix(c).ok()) {
        Some(rel) => rel.to_string(),
        None => p.to_string(),
    }
}

/// One aligned row per build: identifier, result, time, tests, wheel.
fn table(builds: &[Build], results: &[Done]) -> Vec<String> {
    let mut rows = vec![[
        "build".to_string(),
        "result".into(),
        "time".into(),
        "tests".into(),
        "wheel".into(),
    ]];
    for (b, d) in builds.iter().zip(results) {
        let (result, tests, detail) = match &d.outcome {
            Outcome::Built { wheel, test, .. } => {
                // The first word: passed, skipped, not run, none.
                let short = test.split(" (").next().unwrap_or(test);
                ("ok", short.to_string(), show(wheel))
            }
            Outcome::Failed { log, .. } => ("FAILED", "-".into(), format!("log: {}", show(log))),
            Outcome::Skipped => ("skipped", "-".into(), "--fail-fast stopped the run".into()),
            Outcome::Pure { .. } => (
                "skipped",
                "-".into(),
                "a pure-Python wheel (--pure-wheel skip)".into(),
            ),
        };
        rows.push([
            b.id.to_string(),
            result.into(),
            util::format_duration(d.time),
            tests,
            detail,
        ]);
    }
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    rows.iter()
        .map(|r| {
            format!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}",
                r[0], r[1], r[2], r[3], r[4]
            )
        })
        .collect()
}

/// How the wheels were made: each arch's image, engine and CPU, the
/// timestamp they carry, the notes, the cibuildwheel account, where the
/// checksums are, and what the stand-ins' tags mean.
fn what_built(plan: &Plan, targets: &[Target], results: &[Done], notes: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    for t in targets {
        let how = t.how();
        lines.push(format!(
            "{}: {} on {} ({how}), platform tag {}",
            t.name(),
            t.image,
            t.engine.describe(),
            t.plat
        ));
    }
    lines.push(match &plan.epoch {
        Epoch::Given(v) => format!("SOURCE_DATE_EPOCH={v} (given): wheels from the same sources are byte-identical"),
        Epoch::Commit(v) => format!("SOURCE_DATE_EPOCH={v} (the last commit of {}): wheels from the same commit are byte-identical", plan.root),
        Epoch::Unset => format!("SOURCE_DATE_EPOCH unset ({} is not in a git checkout): the wheels carry the build's times; set it with --env SOURCE_DATE_EPOCH=SECONDS for reproducible wheels", plan.root),
    });
    lines.extend(notes.iter().cloned());
    lines.extend(plan.cibuildwheel.lines());
    if results
        .iter()
        .any(|d| matches!(d.outcome, Outcome::Built { .. }))
    {
        lines.push(format!(
            "checksums: {} (sha256sum -c), provenance: {}",
            show(&plan.out.join(SUMS)),
            show(&plan.out.join(MANIFEST))
        ));
    }
    if plan.standin {
        let mut tags: Vec<&str> = results
            .iter()
            .filter_map(|d| match &d.outcome {
                Outcome::Built { wheel, .. } => wheel.file_stem()?.rsplit('-').next(),
                _ => None,
            })
            .collect();
        tags.sort();
        tags.dedup();
        let plats: Vec<&str> = targets.iter().map(|t| t.plat.as_str()).collect();
        lines.push(format!(
            "built in the local stand-in images, which are for testing this tool: each wheel carries the tag it was repaired for ({}), plus the older tags auditwheel found it also satisfies{}",
            plats.join(", "),
            if tags.is_empty() {
                String::new()
            } else {
                format!(": {}", tags.join(", "))
            }
        ));
    }
    lines
}

/// Each failed build: why, and the last lines of its log.
fn failures(builds: &[Build], results: &[Done]) -> Vec<String> {
    let mut lines = Vec::new();
    for (b, d) in builds.iter().zip(results) {
        if let Outcome::Failed { reason, log } = &d.outcome {
            lines.push(format!(
                "\n{} failed: {reason}\nlast lines of {}:",
                b.id,
                show(log)
            ));
            lines.extend(tail(log, 15).into_iter().map(|l| format!("    {l}")));
        }
    }
    lines
}

/// The summary as JSON, for CI tools: one object per build.
pub(super) fn json_summary(builds: &[Build], results: &[Done]) -> String {
    let entries: Vec<String> = builds
        .iter()
        .zip(results)
        .map(|(b, d)| json_entry(b, d))
        .collect();
    format!("[\n{}\n]\n", entries.join(",\n"))
}

fn json_entry(b: &Build, d: &Done) -> String {
    let (result, wheel, reason, log, test) = match &d.outcome {
        Outcome::Built { wheel, test, log } => (
            "ok",
            Some(wheel.as_str()),
            None,
            Some(log.as_str()),
            Some(test.as_str()),
        ),
        Outcome::Failed { reason, log } => (
            "failed",
            None,
            Some(reason.as_str()),
            Some(log.as_str()),
            None,
        ),
        Outcome::Skipped => (
            "skipped",
            None,
            Some("--fail-fast stopped the run"),
            None,
            None,
        ),
        Outcome::Pure { log } => (
            "skipped",
            None,
            Some("a pure-Python wheel (--pure-wheel skip)"),
            Some(log.as_str()),
            None,
        ),
    };
    let id = b.id.to_string();
    let seconds = d.time.as_secs_f64();
    json_object(Some(&id), result, seconds, wheel, test, reason, log)
}

/// One entry of the JSON summary, every one of them in this shape; None is `null`.
fn json_object(
    id: Option<&str>,
    result: &str,
    seconds: f64,
    wheel: Option<&str>,
    test: Option<&str>,
    reason: Option<&str>,
    log: Option<&str>,
) -> String {
    let s = |v: Option<&str>| v.map_or("null".to_string(), util::json_string);
    format!(
        "  {{\"id\": {}, \"result\": \"{result}\", \"seconds\": {seconds:.1}, \"wheel\": {}, \"test\": {}, \"reason\": {}, \"log\": {}}}",
        s(id),
        s(wheel),
        s(test),
        s(reason),
        s(log)
    )
}

/// The JSON summary a run leaves when it is stopped (a signal): once its
/// builds are known, each finished build's entry and, for each other, an
/// entry with result `stopped`; before that, `json_of_stop`'s one entry.
pub(super) struct JsonOnStop {
    file: Utf8PathBuf,
    guard: Mutex<UndoGuard>,
}

impl JsonOnStop {
    pub const WHY: &'static str = "the run was interrupted before its builds finished";

    pub fn new(file: Utf8PathBuf) -> JsonOnStop {
        let guard = UndoGuard::new(Undo::Write(file.clone(), json_of_stop(Self::WHY)));
        JsonOnStop {
            file,
            guard: Mutex::new(guard),
        }
    }

    /// What a stop now leaves: `results` of `builds` so far (None: not finished).
    pub fn update(&self, builds: &[&Build], results: &[Option<Done>]) {
        let entries: Vec<String> = builds
            .iter()
            .zip(results)
            .map(|(b, d)| match d {
                Some(d) => json_entry(b, d),
                None => json_object(
                    Some(&b.id.to_string()),
                    "stopped",
                    0.0,
                    None,
                    None,
                    Some("stopped by a signal before it finished"),
                    None,
                ),
            })
            .collect();
        let text = format!("[\n{}\n]\n", entries.join(",\n"));
        let mut guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        guard.replace(Undo::Write(self.file.clone(), text));
    }

    /// The run finished (or failed, and says so itself): nothing to leave.
    pub fn disarm(self) {
        self.guard
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .disarm();
    }
}

/// The JSON summary of a run that stopped before its builds finished: one
/// entry, with no build, that says why.
pub(super) fn json_of_stop(why: &str) -> String {
    let entry = json_object(None, "failed", 0.0, None, None, Some(why), None);
    format!("[\n{entry}\n]\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::BuildId;

    #[test]
    fn a_stop_keeps_the_finished_builds_and_names_the_stopped_ones() {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-json-stop-{}.json", util::run_id()));
        let build = |id: &str| Build {
            id: BuildId::parse(id).unwrap(),
            dir: id.split('-').next().unwrap().to_string(),
        };
        let (a, b) = (
            build("cp313-manylinux_x86_64"),
            build("cp314-manylinux_x86_64"),
        );
        let stop = JsonOnStop::new(dir.clone());
        let done = Done {
            outcome: Outcome::Built {
                wheel: "dist/a.whl".into(),
                test: "passed".into(),
                log: "logs/a.log".into(),
            },
            time: Duration::from_secs(3),
        };
        stop.update(&[&a, &b], &[Some(done), None]);
        // What a signal would now leave: performed by dropping the guard.
        drop(stop);
        let text = std::fs::read_to_string(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].contains(r#""id": "cp313-manylinux_x86_64", "result": "ok", "seconds": 3.0, "wheel": "dist/a.whl""#), "{text}");
        assert!(
            lines[2].contains(r#""id": "cp314-manylinux_x86_64", "result": "stopped""#),
            "{text}"
        );
        // Disarmed (the run finished), it leaves nothing.
        let stop = JsonOnStop::new(dir.clone());
        stop.disarm();
        assert!(!dir.exists());
    }
}
