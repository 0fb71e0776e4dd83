//! An sdist, checked as PyPI and pip read it: `NAME-VERSION.tar.gz`, one
//! top folder of that name, its PKG-INFO naming the same project and
//! version, and what a build frontend needs to build it (pyproject.toml or
//! setup.py).

use std::process::Command;

use camino::Utf8Path;

/// A name as PEP 503 compares names, and as sdist file names spell them
/// (lowercase, runs of `-_.` as `_`).
pub fn normalized(name: &str) -> String {
    let mut out = String::new();
    let mut run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            run = true;
            continue;
        }
        if run && !out.is_empty() {
            out.push('_');
        }
        run = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The name and version an sdist's file name gives.
pub fn name_version(file: &str) -> Result<(&str, &str), String> {
    file.strip_suffix(".tar.gz")
        .and_then(|stem| stem.rsplit_once('-'))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("`{file}` is not an sdist name (NAME-VERSION.tar.gz)"))
}

/// The version of a wheel, from its name.
pub fn wheel_version(wheel: &str) -> Option<&str> {
    wheel.split('-').nth(1)
}

/// Checks sdist `file` in `dir`: what it holds, as its name says.
pub fn check(dir: &Utf8Path, file: &str) -> Result<String, String> {
    let (name, version) = name_version(file)?;
    let stem = file.trim_end_matches(".tar.gz");
    let path = dir.join(file);
    let list = Command::new("tar")
        .args(["--list", "--gzip", "--file"])
        .arg(path.as_str())
        .output()
        .map_err(|e| format!("running tar: {e}"))?;
    if !list.status.success() {
        return Err(format!(
            "it is not a gzipped tar: {}",
            String::from_utf8_lossy(&list.stderr).trim()
        ));
    }
    let members = String::from_utf8_lossy(&list.stdout);
    let members: Vec<&str> = members.lines().map(|m| m.trim_end_matches('/')).collect();
    if let Some(stray) = members
        .iter()
        .find(|m| **m != stem && !m.starts_with(&format!("{stem}/")))
    {
        return Err(format!(
            "`{stray}` is outside its top folder {stem}/ (an sdist holds one folder, named as the file)"
        ));
    }
    let has = |m: &str| members.contains(&format!("{stem}/{m}").as_str());
    if !has("PKG-INFO") {
        return Err(format!("it has no {stem}/PKG-INFO: it is not an sdist"));
    }
    if !has("pyproject.toml") && !has("setup.py") {
        return Err(format!(
            "it has neither {stem}/pyproject.toml nor {stem}/setup.py: pip cannot build it"
        ));
    }
    let info = Command::new("tar")
        .args(["--extract", "--gzip", "--to-stdout", "--file"])
        .arg(path.as_str())
        .arg(format!("{stem}/PKG-INFO"))
        .output()
        .map_err(|e| format!("running tar: {e}"))?;
    let info = String::from_utf8_lossy(&info.stdout);
    let field = |key: &str| {
        info.lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .map(str::trim)
    };
    match (field("Name"), field("Version")) {
        (Some(n), Some(v)) if normalized(n) == normalized(name) && v == version => {
            Ok(format!("PKG-INFO ({n} {v})"))
        }
        (Some(n), Some(v)) => Err(format!(
            "its PKG-INFO says {n} {v}, its name {name} {version}"
        )),
        _ => Err("its PKG-INFO has no Name or no Version".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert_eq!(normalized("Demo.Codec--x"), "demo_codec_x");
        assert_eq!(
            name_version("demo_codec-0.1.0.tar.gz"),
            Ok(("demo_codec", "0.1.0"))
        );
        assert!(name_version("demo.zip").is_err());
        assert_eq!(
            wheel_version("demo_codec-0.1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
            Some("0.1.0")
        );
    }

    #[test]
    fn an_sdist_is_read_as_pip_reads_it() {
        let dir = camino::Utf8PathBuf::from(format!(
            "{}/xtask-sdist-{}",
            std::env::temp_dir().display(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let top = dir.join("src/demo_codec-0.1.0");
        std::fs::create_dir_all(&top).unwrap();
        std::fs::write(top.join("pyproject.toml"), "[project]\n").unwrap();
        let make = |info: &str, file: &str| {
            std::fs::write(top.join("PKG-INFO"), info).unwrap();
            let ok = Command::new("tar")
                .args(["--create", "--gzip", "--file"])
                .arg(dir.join(file).as_str())
                .args(["--directory", dir.join("src").as_str(), "demo_codec-0.1.0"])
                .status()
                .unwrap()
                .success();
            assert!(ok);
        };
        make(
            "Metadata-Version: 2.4\nName: demo-codec\nVersion: 0.1.0\n\nbody",
            "demo_codec-0.1.0.tar.gz",
        );
        assert_eq!(
            check(&dir, "demo_codec-0.1.0.tar.gz"),
            Ok("PKG-INFO (demo-codec 0.1.0)".into())
        );
        make(
            "Metadata-Version: 2.4\nName: demo-codec\nVersion: 0.2.0\n",
            "demo_codec-0.1.0.tar.gz",
        );
        assert_eq!(
            check(&dir, "demo_codec-0.1.0.tar.gz"),
            Err("its PKG-INFO says demo-codec 0.2.0, its name demo_codec 0.1.0".into())
        );
        std::fs::write(dir.join("demo_codec-0.1.0.tar.gz"), "not a tar").unwrap();
        assert!(check(&dir, "demo_codec-0.1.0.tar.gz")
            .unwrap_err()
            .starts_with("it is not a gzipped tar"));
    }
}
