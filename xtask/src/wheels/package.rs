//! What the Python package says about itself, read on the host before
//! anything starts: the Python versions it supports (`Requires-Python`);
//! where its sources come from (`Provenance`, as git tells); its
//! cibuildwheel configuration is read by `cibuildwheel`.

use camino::Utf8Path;

use crate::platform::PythonTag;

/// A package's `Requires-Python` and the file it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct RequiresPython {
    pub spec: String,
    pub from: String,
}

/// The project's name, as PyPI knows it: pyproject.toml's `[project] name`,
/// else setup.cfg's `[metadata] name`, else a literal `name=` in setup.py.
pub fn project_name(package: &Utf8Path) -> Option<String> {
    let read = |file: &str| std::fs::read_to_string(package.join(file)).ok();
    read("pyproject.toml")
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|doc| Some(doc.get("project")?.get("name")?.as_str()?.to_string()))
        .or_else(|| read("setup.cfg").and_then(|t| setup_cfg_value(&t, "metadata", "name")))
        .or_else(|| read("setup.py").and_then(|t| setup_py_literal(&t, "name")))
}

/// The build requirements pyproject.toml names (`[build-system] requires`),
/// by project name, normalized as PyPI compares them (`Cython`, `cython`).
pub fn build_requires(package: &Utf8Path) -> Vec<String> {
    let doc = std::fs::read_to_string(package.join("pyproject.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok());
    let requires = doc
        .as_ref()
        .and_then(|d| d.get("build-system")?.get("requires")?.as_array().cloned())
        .unwrap_or_default();
    requires
        .iter()
        .filter_map(|r| r.as_str())
        .map(|r| {
            let r = r.trim_start();
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .unwrap_or(r.len());
            r[..end].to_ascii_lowercase().replace(['_', '.'], "-")
        })
        .collect()
}

impl RequiresPython {
    /// From pyproject.toml's `[project] requires-python`, else setup.cfg's
    /// `[options] python_requires`, else a literal `python_requires=` in
    /// setup.py; None when the package states none there.
    pub fn read(package: &Utf8Path) -> Result<Option<RequiresPython>, String> {
        let found = |spec: String, file: &str| {
            let spec = spec.trim().to_string();
            check_spec(&spec)
                .map_err(|e| format!("{}: Requires-Python `{spec}`: {e}", package.join(file)))?;
            Ok(Some(RequiresPython {
                spec,
                from: file.to_string(),
            }))
        };
        if let Ok(text) = std::fs::read_to_string(package.join("pyproject.toml")) {
            let doc: toml::Table = text.parse().map_err(|e| {
                format!("{} is not valid TOML: {e}", package.join("pyproject.toml"))
            })?;
            let spec = doc
                .get("project")
                .and_then(|p| p.get("requires-python"))
                .and_then(|v| v.as_str());
            if let Some(spec) = spec {
                return found(spec.to_string(), "pyproject.toml");
            }
        }
        if let Ok(text) = std::fs::read_to_string(package.join("setup.cfg")) {
            if let Some(spec) = setup_cfg_value(&text, "options", "python_requires") {
                return found(spec, "setup.cfg");
            }
        }
        if let Ok(text) = std::fs::read_to_string(package.join("setup.py")) {
            if let Some(spec) = setup_py_literal(&text, "python_requires") {
                return found(spec, "setup.py");
            }
        }
        Ok(None)
    }

    /// Whether an interpreter of this Python version may install the package.
    pub fn allows(&self, tag: PythonTag) -> bool {
        allows(&self.spec, tag.minor())
    }
}

/// `key = value` in `[section]` of an INI file (one line; what setup.cfg uses).
fn setup_cfg_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
        } else if inside {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key && !v.trim().is_empty() {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// `key="literal"` (or single quotes) in setup.py; a computed value is not read.
fn setup_py_literal(text: &str, key: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let after = rest[at + key.len()..].trim_start();
        if let Some(value) = after.strip_prefix('=').map(str::trim_start) {
            if let Some(quote) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &value[1..];
                if let Some(end) = body.find(quote) {
                    return Some(body[..end].to_string());
                }
            }
        }
        rest = &rest[at + key.len()..];
    }
    None
}

/// The clauses of a specifier set: (operator, version).
fn clauses(spec: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut out = Vec::new();
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let op_len = clause
            .find(|c: char| c.is_ascii_digit())
            .ok_or_else(|| format!("`{clause}` has no version"))?;
        let (op, version) = clause.split_at(op_len);
        let op = op.trim();
        if !["~=", "==", "!=", "<=", ">=", "<", ">", "==="].contains(&op) {
            return Err(format!(
                "`{clause}` has no comparison operator (such as >=)"
            ));
        }
        out.push((op, version.trim()));
    }
    Ok(out)
}

fn check_spec(spec: &str) -> Result<(), String> {
    for (_, version) in clauses(spec)? {
        let release = version.strip_suffix(".*").unwrap_or(version);
        if release.split('.').any(|p| p.parse::<u32>().is_err()) {
            return Err(format!(
                "`{version}` is not a version this tool can compare"
            ));
        }
    }
    Ok(())
}

/// Whether Python 3.`minor` satisfies `spec` (PEP 440, release numbers only).
/// As cibuildwheel has it, the interpreter stands for `3.minor.99`: `>=3.11.4`
/// and `>3.11` allow 3.11; `<=3.11`, `<3.11.4` and `!=3.11.*` do not.
fn allows(spec: &str, minor: u16) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let Ok(clauses) = clauses(spec) else {
        return true;
    };
    let have = [3, u32::from(minor), 99];
    // Release numbers compared as long as the longer one, padded with zeros.
    let cmp = |want: &[u32]| {
        let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
        (0..have.len().max(want.len()))
            .map(|i| at(&have, i).cmp(&at(want, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Equal)
    };
    let prefix =
        |want: &[u32]| want.len() <= have.len() && have.iter().zip(want).all(|(a, b)| a == b);
    clauses.iter().all(|&(op, version)| {
        let (wild, release) = match version.strip_suffix(".*") {
            Some(r) => (true, r),
            None => (false, version),
        };
        let want: Vec<u32> = release.split('.').filter_map(|p| p.parse().ok()).collect();
        match op {
            "==" | "===" if wild => prefix(&want),
            "!=" if wild => !prefix(&want),
            "==" | "===" => cmp(&want) == Equal,
            "!=" => cmp(&want) != Equal,
            ">=" => cmp(&want) != Less,
            "<=" => cmp(&want) != Greater,
            ">" => cmp(&want) == Greater,
            "<" => cmp(&want) == Less,
            // ~=X.Y.Z: >=X.Y.Z and ==X.Y.*
            "~=" => cmp(&want) != Less && prefix(&want[..want.len().saturating_sub(1)]),
            _ => true,
        }
    })
}

/// Where the sources come from, as git tells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provenance {
    pub commit: Option<String>,
    /// Seconds since 1970 of the last commit.
    pub commit_time: Option<String>,
    /// Uncommitted changes (or untracked files) under the root.
    pub dirty: bool,
}

impl Provenance {
    /// Empty when `root` is not in a git checkout (or git is missing).
    pub fn of(root: &Utf8Path) -> Provenance {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .args(["-c", "safe.directory=*", "-C", root.as_str()])
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        // Both asked at once: each git start is tens of milliseconds.
        let (last, status) = std::thread::scope(|s| {
            let status = s.spawn(|| git(&["status", "--porcelain", "--", "."]));
            let last = git(&["log", "-1", "--format=%H %ct"]);
            (last, status.join().expect("the git thread panicked"))
        });
        let Some(last) = last else {
            return Provenance::default();
        };
        let (commit, time) = last.split_once(' ').unwrap_or((&last, ""));
        Provenance {
            commit: Some(commit.to_string()),
            commit_time: Some(time.to_string()).filter(|t| !t.is_empty()),
            dirty: status.is_some_and(|s| !s.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers() {
        let ok = |spec: &str, minors: &[u16]| {
            let got: Vec<u16> = (8..=15).filter(|&m| allows(spec, m)).collect();
            assert_eq!(got, minors, "{spec}");
        };
        ok(">=3.11", &[11, 12, 13, 14, 15]);
        ok(">=3.11.4", &[11, 12, 13, 14, 15]);
        ok(">=3.9,<3.13", &[9, 10, 11, 12]);
        ok("<3.12.2", &[8, 9, 10, 11]);
        ok("<=3.10", &[8, 9]);
        ok(">3.10", &[10, 11, 12, 13, 14, 15]);
        ok("!=3.11.*, >=3.10", &[10, 12, 13, 14, 15]);
        ok("==3.12.*", &[12]);
        ok("==3.12", &[]);
        ok("==3.12.99", &[12]);
        ok("~=3.10", &[10, 11, 12, 13, 14, 15]);
        ok("~=3.10.2", &[10]);
        ok(">= 3.8", &[8, 9, 10, 11, 12, 13, 14, 15]);
        ok("", &[8, 9, 10, 11, 12, 13, 14, 15]);
        assert!(check_spec(">=3.11").is_ok());
        assert!(check_spec("3.11").is_err());
        assert!(check_spec(">=3.11a").is_err());
    }

    #[test]
    fn where_it_is_read_from() {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-requires-{}", crate::util::run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let read = || RequiresPython::read(&dir).map(|r| r.map(|r| (r.spec, r.from)));
        assert_eq!(read(), Ok(None));
        std::fs::write(
            dir.join("setup.py"),
            "setup(name='x',\n    python_requires = \">=3.8\",\n)\n",
        )
        .unwrap();
        assert_eq!(read(), Ok(Some((">=3.8".into(), "setup.py".into()))));
        std::fs::write(
            dir.join("setup.cfg"),
            "[metadata]\nname = x\n[options]\npython_requires = >=3.9\n",
        )
        .unwrap();
        assert_eq!(read(), Ok(Some((">=3.9".into(), "setup.cfg".into()))));
        std::fs::write(
            dir.join("pyproject.toml"),
            "[project]\nname = \"x\"\nrequires-python = \">=3.11\"\n",
        )
        .unwrap();
        assert_eq!(read(), Ok(Some((">=3.11".into(), "pyproject.toml".into()))));
        std::fs::write(
            dir.join("pyproject.toml"),
            "[project]\nrequires-python = \"3.11\"\n",
        )
        .unwrap();
        assert!(read()
            .unwrap_err()
            .contains("Requires-Python `3.11`: `3.11` has no comparison operator"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn build_requirements_by_project_name() {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-build-requires-{}", crate::util::run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(build_requires(&dir), Vec::<String>::new());
        std::fs::write(
            dir.join("pyproject.toml"),
            "[build-system]\nrequires = [\"setuptools>=61\", \" NumPy >= 2.0; python_version >= '3.9'\", \"Cython[all]\", \"oldest_supported.numpy\", \"scikit-build-core @ file:///x\"]\n",
        )
        .unwrap();
        assert_eq!(
            build_requires(&dir),
            [
                "setuptools",
                "numpy",
                "cython",
                "oldest-supported-numpy",
                "scikit-build-core"
            ]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
