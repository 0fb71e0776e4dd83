//! What lands in the output folder: each wheel by rename, then its line in
//! SHA256SUMS (the format `sha256sum -c` reads) and its entry in
//! manifest.json, both rewritten whole and renamed into place. The three
//! happen with signals held off, so that Ctrl-C never leaves a wheel without
//! its line, nor a line without its wheel. Lines of earlier wheels still in
//! the folder are kept; lines of wheels no longer there are dropped.

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::plan::Plan;
use super::recipe::Recipe;
use super::target::Target;
use crate::util;

pub const SUMS: &str = "SHA256SUMS";
pub const MANIFEST: &str = "manifest.json";

/// One wheel's record in manifest.json.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub file: String,
    pub id: String,
    pub sha256: String,
    pub image: String,
    pub image_id: String,
    /// `repo@sha256:...`, where the image came from a registry.
    pub image_digest: Option<String>,
    pub engine: String,
    pub native: bool,
    pub interpreter: String,
    pub auditwheel: String,
    pub platform_tags: String,
    pub source_date_epoch: Option<String>,
    pub commit: Option<String>,
    pub dirty: bool,
    pub tool: String,
    /// `passed`, `skipped (test-skip)`, `not run (--no-test)` or `none (no test-command)`.
    pub test: String,
    /// `the image's`, or `native clang VERSION` (`--native-compiler`).
    pub compiler: String,
}

impl Entry {
    /// One line of JSON; `file` first, which is how the line is found again.
    pub fn json(&self) -> String {
        let s = |v: &str| util::json_string(v);
        let opt = |v: &Option<String>| v.as_deref().map_or("null".to_string(), s);
        format!(
            "{{\"file\": {}, \"id\": {}, \"sha256\": {}, \"image\": {}, \"image_id\": {}, \"image_digest\": {}, \"engine\": {}, \"native\": {}, \"interpreter\": {}, \"auditwheel\": {}, \"platform_tags\": {}, \"source_date_epoch\": {}, \"commit\": {}, \"dirty\": {}, \"tool\": {}, \"test\": {}, \"compiler\": {}}}",
            s(&self.file),
            s(&self.id),
            s(&self.sha256),
            s(&self.image),
            s(&self.image_id),
            opt(&self.image_digest),
            s(&self.engine),
            self.native,
            s(&self.interpreter),
            s(&self.auditwheel),
            s(&self.platform_tags),
            opt(&self.source_date_epoch),
            opt(&self.commit),
            self.dirty,
            s(&self.tool),
            s(&self.test),
            s(&self.compiler),
        )
    }
}

/// build-wheel.sh's line when the project's tests passed against the wheel.
const TESTS_PASSED: &str = "==> tests passed";

impl Entry {
    /// The record of `wheel`, built by recipe `r` on target `t`, whose
    /// build logged `log`: what it says of its tests is what the build said,
    /// not what the configuration expects.
    pub(super) fn new(
        plan: &Plan,
        t: &Target,
        r: &Recipe,
        auditwheel: &str,
        wheel: &Utf8Path,
        log: &str,
    ) -> Result<Entry> {
        let said_passed = log.lines().any(|l| l == TESTS_PASSED);
        let test = match (&plan.test, r.tested) {
            (Some(_), true) if said_passed => "passed",
            (Some(_), true) => {
                anyhow::bail!("the tests were to run, but the build did not say `{TESTS_PASSED}`")
            }
            (Some(_), false) => "skipped (test-skip)",
            (None, _) if plan.test_configured => "not run (--no-test)",
            (None, _) => "none (no test-command)",
        };
        let file = wheel.file_name().expect("a file").to_string();
        Ok(Entry {
            id: r.build.id.to_string(),
            sha256: util::sha256(wheel)?,
            image: t.image.clone(),
            image_id: t.image_id.clone(),
            image_digest: t.image_digest.clone(),
            engine: t.engine.describe(),
            native: t.native,
            interpreter: log
                .lines()
                .find_map(|l| l.strip_prefix("interpreter "))
                .unwrap_or("unknown")
                .to_string(),
            auditwheel: auditwheel.to_string(),
            platform_tags: file
                .trim_end_matches(".whl")
                .rsplit('-')
                .next()
                .unwrap_or_default()
                .to_string(),
            source_date_epoch: plan.epoch.value().map(String::from),
            commit: plan.provenance.commit.clone(),
            dirty: plan.provenance.dirty,
            tool: format!("cargo xtask {}", env!("CARGO_PKG_VERSION")),
            test: test.to_string(),
            compiler: match &t.clang {
                Some(clang) => format!("native clang {}", clang.version),
                None => "the image's".into(),
            },
            file,
        })
    }
}

/// The file a manifest line is about (its leading `"file"` value).
pub fn manifest_file(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("{\"file\": \"")?;
    // Wheel names hold no quotes or backslashes, so the first quote ends it.
    rest.split('"').next()
}

/// The file a SHA256SUMS line is about.
pub fn sums_file(line: &str) -> Option<&str> {
    let (hash, name) = line.split_once("  ").or_else(|| line.split_once(" *"))?;
    (hash.len() == 64).then_some(name)
}

/// Moves `staged` into `out` and records it; returns where it landed.
pub fn land(out: &Utf8Path, staged: &Utf8Path, entry: &Entry) -> Result<Utf8PathBuf> {
    let dest = out.join(&entry.file);
    crate::cleanup::uninterrupted(|| {
        std::fs::rename(staged, &dest).with_context(|| format!("moving the wheel into {out}"))?;
        // The window a signal must not split; a test widens it to land one
        // there (XTASK_TEST_LANDING_PAUSE, in milliseconds).
        if let Some(ms) = std::env::var("XTASK_TEST_LANDING_PAUSE")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let sums = format!("{}  {}", entry.sha256, entry.file);
        rewrite(out, SUMS, &entry.file, &sums, sums_file, |lines| {
            lines.join("\n") + "\n"
        })?;
        rewrite(
            out,
            MANIFEST,
            &entry.file,
            &entry.json(),
            manifest_file,
            |lines| format!("[\n{}\n]\n", lines.join(",\n")),
        )?;
        Ok(dest)
    })
}

/// Rewrites `out/name`: the lines of files still in `out` but `file`, then
/// `line`; written beside it and renamed over it.
fn rewrite(
    out: &Utf8Path,
    name: &str,
    file: &str,
    line: &str,
    file_of: fn(&str) -> Option<&str>,
    render: fn(&[String]) -> String,
) -> Result<()> {
    let path = out.join(name);
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {path}")),
    };
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| {
            file_of(l).is_some_and(|f| f != file && !f.contains('/') && out.join(f).is_file())
        })
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .collect();
    lines.push(line.to_string());
    lines.sort_by(|a, b| file_of(a).cmp(&file_of(b)));
    // Not a cleanup::Partial: this runs uninterrupted, holding the list
    // of what to undo; a failed write removes its own file.
    let partial = out.join(format!(".{name}.{}.partial", std::process::id()));
    let written =
        std::fs::write(&partial, render(&lines)).and_then(|()| std::fs::rename(&partial, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.with_context(|| format!("writing {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> Utf8PathBuf {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-landing-{}", util::run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entry(file: &str, sha: char) -> Entry {
        Entry {
            file: file.into(),
            sha256: sha.to_string().repeat(64),
            ..Entry::default()
        }
    }

    #[test]
    fn sums_and_manifest_name_exactly_the_wheels_there() {
        let out = folder();
        let stage = out.join(".stage");
        std::fs::create_dir_all(&stage).unwrap();
        for (name, sha) in [
            ("b-1-cp311-cp311-x.whl", 'b'),
            ("a-1-cp311-cp311-x.whl", 'a'),
        ] {
            std::fs::write(stage.join(name), name).unwrap();
            land(&out, &stage.join(name), &entry(name, sha)).unwrap();
        }
        // A wheel removed by hand loses its line at the next landing; a
        // rebuilt wheel replaces its own line.
        std::fs::remove_file(out.join("b-1-cp311-cp311-x.whl")).unwrap();
        std::fs::write(stage.join("a-1-cp311-cp311-x.whl"), "again").unwrap();
        land(
            &out,
            &stage.join("a-1-cp311-cp311-x.whl"),
            &entry("a-1-cp311-cp311-x.whl", 'c'),
        )
        .unwrap();
        let sums = std::fs::read_to_string(out.join(SUMS)).unwrap();
        assert_eq!(sums, format!("{}  a-1-cp311-cp311-x.whl\n", "c".repeat(64)));
        let manifest = std::fs::read_to_string(out.join(MANIFEST)).unwrap();
        assert!(
            manifest.starts_with("[\n{\"file\": \"a-1-cp311-cp311-x.whl\", "),
            "{manifest}"
        );
        assert_eq!(manifest.matches("\"file\"").count(), 1, "{manifest}");
        assert!(!out.read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")));
        std::fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn lines_are_read_back() {
        assert_eq!(
            sums_file(&format!("{}  x.whl", "0".repeat(64))),
            Some("x.whl")
        );
        assert_eq!(sums_file("short  x.whl"), None);
        assert_eq!(
            manifest_file("{\"file\": \"x.whl\", \"id\": \"y\"},"),
            Some("x.whl")
        );
        assert_eq!(manifest_file("["), None);
        let e = Entry {
            file: "x.whl".into(),
            source_date_epoch: Some("1".into()),
            ..Entry::default()
        };
        assert!(
            e.json()
                .contains("\"source_date_epoch\": \"1\", \"commit\": null"),
            "{}",
            e.json()
        );
    }
}
