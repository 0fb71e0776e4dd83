//! `verify PART... --into DIR`: the folders that CI's jobs made (each with
//! its wheels, SHA256SUMS and manifest.json; the sdist's with its sdist
//! alone) gathered into one folder with one SHA256SUMS and one manifest,
//! which `verify` then checks as a whole. Every part is read and checked
//! before anything is written, and DIR must be new or empty: a part that
//! does not match its own sums leaves nothing behind.

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::util::{self, usage};
use crate::wheels::landing::{manifest_file, sums_file, MANIFEST, SUMS};

/// What a release ships: wheels and sdists.
pub fn is_distribution(name: &str) -> bool {
    name.ends_with(".whl") || name.ends_with(".tar.gz")
}

/// One file to gather.
struct Found {
    from: Utf8PathBuf,
    name: String,
    sha256: String,
    /// Its manifest.json line, where its part has one.
    manifest: Option<String>,
}

/// Gathers `parts` into `into`; the number of files gathered.
pub fn gather(parts: &[Utf8PathBuf], into: &Utf8Path) -> Result<usize> {
    let empty = match into.read_dir_utf8() {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("reading {into}")),
    };
    if !empty {
        return Err(usage(format!(
            "--into `{into}` is not empty: gather into a new folder (what is there is left as it is)"
        )));
    }
    let mut found: Vec<Found> = Vec::new();
    for part in parts {
        if !part.is_dir() {
            return Err(usage(format!(
                "`{part}` is not a folder: give the folders CI's jobs made"
            )));
        }
        let sums = std::fs::read_to_string(part.join(SUMS)).unwrap_or_default();
        let manifest = std::fs::read_to_string(part.join(MANIFEST)).unwrap_or_default();
        let mut names: Vec<String> = Vec::new();
        for entry in part
            .read_dir_utf8()
            .with_context(|| format!("reading {part}"))?
        {
            let entry = entry?;
            if is_distribution(entry.file_name()) && entry.file_type()?.is_file() {
                names.push(entry.file_name().to_string());
            }
        }
        names.sort();
        for name in names {
            let from = part.join(&name);
            let sha256 = util::sha256(&from)?;
            // A part's own sums must hold: the transfer changed nothing.
            let listed = sums
                .lines()
                .find(|l| sums_file(l) == Some(name.as_str()))
                .map(|l| l[..64].to_string());
            if let Some(listed) = listed.filter(|l| *l != sha256) {
                anyhow::bail!(
                    "{from}: its sha256 is {sha256}, not {listed} as {part}/{SUMS} says: the file changed after it was built (nothing was gathered)"
                );
            }
            if let Some(other) = found.iter().find(|f| f.name == name) {
                if other.sha256 != sha256 {
                    anyhow::bail!(
                        "{name} is in {} and in {part} with other bytes: two jobs built the same file differently (nothing was gathered)",
                        other.from.parent().expect("a folder")
                    );
                }
                continue;
            }
            let manifest = manifest
                .lines()
                .find(|l| manifest_file(l) == Some(name.as_str()))
                .map(|l| l.trim().trim_end_matches(',').to_string());
            found.push(Found {
                from,
                name,
                sha256,
                manifest,
            });
        }
    }
    if found.is_empty() {
        return Err(usage(
            "the folders hold no wheel and no sdist: nothing to gather".to_string(),
        ));
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    std::fs::create_dir_all(into).with_context(|| format!("creating {into}"))?;
    for f in &found {
        std::fs::copy(&f.from, into.join(&f.name))
            .with_context(|| format!("copying {} into {into}", f.from))?;
    }
    let sums: String = found
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.name))
        .collect();
    std::fs::write(into.join(SUMS), sums).with_context(|| format!("writing {into}/{SUMS}"))?;
    let entries: Vec<String> = found
        .iter()
        .map(|f| {
            f.manifest.clone().unwrap_or_else(|| {
                format!(
                    "{{\"file\": {}, \"sha256\": {}, \"kind\": \"sdist\"}}",
                    util::json_string(&f.name),
                    util::json_string(&f.sha256)
                )
            })
        })
        .collect();
    std::fs::write(
        into.join(MANIFEST),
        format!("[\n{}\n]\n", entries.join(",\n")),
    )
    .with_context(|| format!("writing {into}/{MANIFEST}"))?;
    Ok(found.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> Utf8PathBuf {
        let dir = Utf8PathBuf::from(format!(
            "{}/xtask-gather-{name}-{}",
            std::env::temp_dir().display(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn put(dir: &Utf8Path, name: &str, bytes: &str, with_sums: bool) {
        std::fs::write(dir.join(name), bytes).unwrap();
        if with_sums {
            let sha = util::sha256(&dir.join(name)).unwrap();
            std::fs::write(dir.join(SUMS), format!("{sha}  {name}\n")).unwrap();
            std::fs::write(
                dir.join(MANIFEST),
                format!("[\n{{\"file\": \"{name}\", \"id\": \"x\", \"sha256\": \"{sha}\"}}\n]\n"),
            )
            .unwrap();
        }
    }

    #[test]
    fn parts_become_one_folder_with_one_sums_and_manifest() {
        let (a, b, sdist, into) = (
            folder("a"),
            folder("b"),
            folder("sdist"),
            folder("into").join("dist"),
        );
        put(&a, "d-1-cp312-cp312-manylinux_2_17_x86_64.whl", "a", true);
        put(&b, "d-1-cp312-cp312-manylinux_2_17_aarch64.whl", "b", true);
        put(&sdist, "d-1.tar.gz", "s", false);
        assert_eq!(
            gather(&[a.clone(), b.clone(), sdist.clone()], &into).unwrap(),
            3
        );
        let sums = std::fs::read_to_string(into.join(SUMS)).unwrap();
        let names: Vec<&str> = sums.lines().filter_map(sums_file).collect();
        assert_eq!(
            names,
            [
                "d-1-cp312-cp312-manylinux_2_17_aarch64.whl",
                "d-1-cp312-cp312-manylinux_2_17_x86_64.whl",
                "d-1.tar.gz"
            ]
        );
        let manifest = std::fs::read_to_string(into.join(MANIFEST)).unwrap();
        assert_eq!(manifest.matches("\"id\": \"x\"").count(), 2, "{manifest}");
        assert!(
            manifest.contains("{\"file\": \"d-1.tar.gz\", \"sha256\": \"")
                && manifest.contains("\"kind\": \"sdist\"}\n]"),
            "{manifest}"
        );
        // Gathering again into the same folder is refused, and it is kept.
        let e = gather(std::slice::from_ref(&a), &into).unwrap_err();
        assert!(format!("{e}").contains("is not empty"), "{e}");
        assert_eq!(std::fs::read_to_string(into.join(SUMS)).unwrap(), sums);
    }

    #[test]
    fn a_file_that_does_not_match_its_sums_stops_everything() {
        let (a, into) = (folder("bad"), folder("bad-into").join("dist"));
        put(&a, "d-1-cp312-cp312-manylinux_2_17_x86_64.whl", "a", true);
        std::fs::write(
            a.join("d-1-cp312-cp312-manylinux_2_17_x86_64.whl"),
            "changed",
        )
        .unwrap();
        let e = gather(&[a], &into).unwrap_err();
        assert!(
            format!("{e}").contains("the file changed after it was built (nothing was gathered)"),
            "{e}"
        );
        assert!(!into.exists());
    }
}
