//! Rules about the code itself, checked on every test run.

use std::path::Path;

fn sources() -> Vec<(String, String)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&dir, &dir, &mut files);
    files.sort();
    files
}

/// Only qemu-register runs a privileged container.
#[test]
fn privileged_only_in_qemu_register() {
    let users: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.contains("\"--privileged\""))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(users, ["qemu_register.rs"]);
}

/// Every subcommand lives in the module of its name.
#[test]
fn one_module_per_subcommand() {
    let flags = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/flags.rs"))
        .unwrap();
    let start = flags.find("pub enum Cmd {").unwrap();
    let body = &flags[start..flags[start..].find('}').unwrap() + start];
    let names: Vec<&str> = body
        .lines()
        .filter_map(|l| l.trim().strip_suffix(','))
        .filter_map(|l| l.split('(').next())
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    let modules: Vec<String> = sources().into_iter().map(|(n, _)| n).collect();
    for name in names {
        let mut snake = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        }
        assert!(
            modules.contains(&format!("{snake}.rs"))
                || modules.contains(&format!("{snake}/mod.rs")),
            "subcommand {name} has no module {snake}.rs or {snake}/mod.rs"
        );
    }
}
