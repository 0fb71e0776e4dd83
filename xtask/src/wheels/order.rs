//! The order builds start in: longest first, by the time each build took in
//! this package's last run (kept beside the run logs), so that the longest
//! build does not start last and run alone on one core while the others
//! wait for nothing.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use camino::{Utf8Path, Utf8PathBuf};

use crate::platform::BuildId;
use crate::util;

/// How many times files (one per package and output folder) are kept: the
/// ones written last.
const KEPT_TIMES: usize = 50;

/// How long each build of a package took when it last built, by identifier.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Times(BTreeMap<String, Duration>);

impl Times {
    /// The file of the package in folder `package` built into `out`: one per
    /// package and output folder, beside the run logs
    /// (`target/xtask/logs/times-<hash>.tsv`). Runs into one output folder
    /// take turns (see `builds::execute`), so one run at a time updates it.
    pub fn file(package: &Utf8Path, out: &Utf8Path) -> Utf8PathBuf {
        let mut key = util::Fnv::default();
        key.write(package.as_str().as_bytes());
        key.write(out.as_str().as_bytes());
        util::project_root().join(format!("target/xtask/logs/times-{}.tsv", key.hex()))
    }

    /// The times kept in `file`; none when it is missing or unreadable (the
    /// order is only a matter of speed).
    pub fn read(file: &Utf8Path) -> Times {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        Times(
            text.lines()
                .filter_map(|l| {
                    let (id, ms) = l.split_once('\t')?;
                    Some((id.to_string(), Duration::from_millis(ms.parse().ok()?)))
                })
                .collect(),
        )
    }

    /// Keeps this run's times of the builds that finished (`built`), over
    /// the earlier ones; the others keep theirs.
    pub fn update(file: &Utf8Path, built: &[(&BuildId, Duration)]) -> Result<()> {
        let mut times = Times::read(file);
        for (id, time) in built {
            times.0.insert(id.to_string(), *time);
        }
        let text: String = times
            .0
            .iter()
            .map(|(id, t)| format!("{id}\t{}\n", t.as_millis()))
            .collect();
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::cleanup::write_whole(file, &text)?;
        if let Some(dir) = file.parent() {
            prune(dir, KEPT_TIMES);
        }
        Ok(())
    }

    /// The order to start `builds` (identifier, whether it runs natively)
    /// in, as indices: first the ones with no time yet (emulated before
    /// native: they are usually the slowest), then the others, longest
    /// first. Ties keep the selection's order.
    pub fn start_order(&self, builds: &[(&BuildId, bool)]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..builds.len()).collect();
        order.sort_by_key(|&i| {
            let (id, native) = builds[i];
            match self.0.get(&id.to_string()) {
                None => (false, native, Reverse(Duration::ZERO)),
                Some(time) => (true, false, Reverse(*time)),
            }
        });
        order
    }

    /// Whether any build of `builds` has a time: the order is then by them.
    pub fn knows_any(&self, builds: &[(&BuildId, bool)]) -> bool {
        builds
            .iter()
            .any(|(id, _)| self.0.contains_key(&id.to_string()))
    }
}

/// Removes the times files of `dir` (`times-*.tsv`) beyond the `keep`
/// written last: each output folder a package was ever built into has one,
/// and only the order of builds is lost with it.
fn prune(dir: &Utf8Path, keep: usize) {
    let Ok(entries) = dir.read_dir_utf8() else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, Utf8PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().starts_with("times-") && e.file_name().ends_with(".tsv"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.into_path())))
        .collect();
    files.sort_by(|a, b| b.cmp(a));
    for (_, old) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> BuildId {
        BuildId::parse(s).unwrap()
    }

    #[test]
    fn new_builds_first_then_the_longest() {
        let ids = [
            id("cp312-manylinux_x86_64"),
            id("cp313-manylinux_x86_64"),
            id("pp311-manylinux_x86_64"),
            id("cp313-manylinux_aarch64"),
            id("cp314-manylinux_x86_64"),
        ];
        let builds: Vec<(&BuildId, bool)> = ids
            .iter()
            .map(|i| (i, !i.to_string().ends_with("aarch64")))
            .collect();
        // No times: emulated first, then the selection's order.
        assert_eq!(Times::default().start_order(&builds), [3, 0, 1, 2, 4]);
        assert!(!Times::default().knows_any(&builds));

        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-times-{}", std::process::id()));
        let file = dir.join("logs/times.tsv");
        Times::update(
            &file,
            &[
                (&ids[0], Duration::from_millis(5000)),
                (&ids[1], Duration::from_millis(5200)),
                (&ids[2], Duration::from_millis(9000)),
                (&ids[3], Duration::from_millis(12000)),
            ],
        )
        .unwrap();
        // cp314 is new: first; then 12 s, 9 s, 5.2 s, 5 s.
        let times = Times::read(&file);
        assert!(times.knows_any(&builds));
        assert_eq!(times.start_order(&builds), [4, 3, 2, 1, 0]);

        // A later run updates what it built and keeps the rest.
        Times::update(&file, &[(&ids[0], Duration::from_millis(20000))]).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            "cp312-manylinux_x86_64\t20000\ncp313-manylinux_aarch64\t12000\ncp313-manylinux_x86_64\t5200\npp311-manylinux_x86_64\t9000\n"
        );
        assert_eq!(Times::read(&file).start_order(&builds), [4, 0, 3, 2, 1]);
        // A missing or garbled file orders as if no run had been.
        std::fs::write(&file, "garbage\ncp312-manylinux_x86_64\tten\n").unwrap();
        assert_eq!(Times::read(&file), Times::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_times_files_written_last_are_kept() {
        let dir = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("xtask-times-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let start = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for k in 0..5u64 {
            let file = dir.join(format!("times-{k}.tsv"));
            std::fs::write(&file, "").unwrap();
            let f = std::fs::File::options().write(true).open(&file).unwrap();
            f.set_modified(start + Duration::from_secs(k)).unwrap();
        }
        // Not a times file: left alone, however old.
        std::fs::write(dir.join("other.tsv"), "").unwrap();
        prune(&dir, 3);
        let mut left: Vec<String> = dir
            .read_dir_utf8()
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["other.tsv", "times-2.tsv", "times-3.tsv", "times-4.tsv"]
        );
        // Update keeps the file it writes (the newest).
        Times::update(&dir.join("times-0.tsv"), &[]).unwrap();
        assert!(dir.join("times-0.tsv").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
