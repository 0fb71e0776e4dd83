//! The values of cibuildwheel's keys, read as cibuildwheel reads them:
//! arches, image names, dependency groups, config settings, the frontend,
//! the environment's bash words; and how the steps reach the container.

use crate::config::{Steps, RESERVED_ENV};
use crate::platform::Arch;
use crate::util::shell_words;
use crate::wheels::contract::{Placeholders, Var};

/// cibuildwheel's `archs` on Linux (its architecture.py): `auto` and
/// `native` are this machine's arch (x86_64's `auto` adds i686, which it
/// runs natively), `auto64` and `auto32` those of them that are 64 or 32
/// bits, `all` every arch, and each name itself: an emulated arch only
/// when named.
pub(super) fn archs(names: &[String]) -> Result<Vec<Arch>, String> {
    let host = Arch::host();
    let native: Vec<Arch> = Arch::ALL
        .into_iter()
        .filter(|a| a.is_native_here())
        .collect();
    let mut out = Vec::new();
    for name in names {
        let add: Vec<Arch> = match name.as_str() {
            "all" => Arch::ALL.to_vec(),
            "native" => host.into_iter().collect(),
            "auto" => native.clone(),
            "auto64" => native.iter().copied().filter(|a| a.row().bits == 64).collect(),
            "auto32" => native.iter().copied().filter(|a| a.row().bits == 32).collect(),
            // macOS's name for aarch64, which cibuildwheel takes as a synonym.
            "arm64" => vec![Arch::Aarch64],
            other => match Arch::ALL.into_iter().find(|a| a.name() == other) {
                Some(arch) => vec![arch],
                None => {
                    return Err(format!(
                        "`{other}` is not an arch cibuildwheel knows on Linux: use auto, auto64, auto32, native, all or one of {}",
                        Arch::ALL.map(Arch::name).join(", ")
                    ))
                }
            },
        };
        for a in add {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "`{}` names no arch of this machine ({})",
            names.join(" "),
            host.map_or("unknown", Arch::name)
        ));
    }
    Ok(out)
}

/// A name cibuildwheel maps to quay.io's manylinux or musllinux images, else an image.
pub(super) fn manylinux_image(name: &str, arch: Arch) -> String {
    let known = name == "manylinux2014"
        || name == "manylinux2010"
        || name == "manylinux1"
        || name == "musllinux_1_1"
        || name == "musllinux_1_2"
        || (name.starts_with("manylinux_2_") && name[12..].bytes().all(|b| b.is_ascii_digit()));
    match known {
        true => crate::images::image(&format!("{name}_{arch}")),
        false => name.to_string(),
    }
}

/// The requirements of a PEP 735 dependency group, includes followed.
pub(super) fn dependency_group(
    doc: &toml::Table,
    group: &str,
    depth: usize,
) -> Result<Vec<String>, String> {
    if depth > 10 {
        return Err(format!("dependency group `{group}` includes itself"));
    }
    let items = doc
        .get("dependency-groups")
        .and_then(|g| g.get(group))
        .and_then(|g| g.as_array())
        .ok_or_else(|| format!("no dependency group `{group}` in [dependency-groups]"))?;
    let mut out = Vec::new();
    for item in items {
        match item {
            toml::Value::String(s) => out.push(s.clone()),
            toml::Value::Table(t) => match t.get("include-group").and_then(|g| g.as_str()) {
                Some(inner) => out.extend(dependency_group(doc, inner, depth + 1)?),
                None => return Err(format!("dependency group `{group}` has an entry that is neither a requirement nor an include-group")),
            },
            _ => return Err(format!("dependency group `{group}`: strings are expected")),
        }
    }
    Ok(out)
}

/// `config-settings`: a table (a list value repeats its key) or `k=v` words.
pub(super) fn config_settings(value: &toml::Value) -> Result<Vec<String>, String> {
    match value {
        toml::Value::Table(t) => {
            let mut out = Vec::new();
            for (k, v) in t {
                match v {
                    toml::Value::String(s) => out.push(format!("{k}={s}")),
                    toml::Value::Array(items) => {
                        for i in items {
                            let s = i
                                .as_str()
                                .ok_or_else(|| format!("{k}: strings are expected"))?;
                            out.push(format!("{k}={s}"));
                        }
                    }
                    toml::Value::Integer(i) => out.push(format!("{k}={i}")),
                    toml::Value::Boolean(b) => out.push(format!("{k}={b}")),
                    _ => return Err(format!("{k}: a string or a list of strings is expected")),
                }
            }
            Ok(out)
        }
        toml::Value::String(s) => shell_words(s),
        _ => Err("a table or a string of KEY=VALUE is expected".into()),
    }
}

/// cibuildwheel's `environment`: a table (each value a bash word in double
/// quotes, as cibuildwheel makes it), or `KEY=word KEY2="two words"`: each
/// name with its value as bash would read it, quotes and all.
pub(super) fn environment(value: &toml::Value) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> = match value {
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => Ok((k.clone(), format!("\"{s}\""))),
                toml::Value::Integer(i) => Ok((k.clone(), i.to_string())),
                toml::Value::Boolean(b) => Ok((k.clone(), b.to_string())),
                _ => Err(format!("{k}: a string is expected")),
            })
            .collect::<Result<_, String>>()?,
        toml::Value::String(s) => {
            let mut pairs = Vec::new();
            for word in raw_words(s)? {
                let (k, v) = word
                    .split_once('=')
                    .ok_or_else(|| format!("`{word}` is not KEY=VALUE"))?;
                pairs.push((k.to_string(), v.to_string()));
            }
            pairs
        }
        _ => return Err("a table or a string of KEY=VALUE is expected".into()),
    };
    for (k, v) in &pairs {
        // The container evaluates PATH and the like in order (`PATH=$PATH:...`);
        // what build-wheel.sh passes on itself stays its own.
        if !RESERVED_ENV.contains(&k.as_str()) || k.starts_with("AUDITWHEEL_") {
            crate::config::check_env_name(k).map_err(|e| format!("{e:#}"))?;
        }
        if v.contains('\n') {
            return Err(format!("{k}: a value on one line is expected"));
        }
    }
    Ok(pairs)
}

/// The value of a bash word that expands nothing (no `$`, backquote or
/// backslash): its quotes taken off. None when bash must evaluate it.
pub(super) fn literal(word: &str) -> Option<String> {
    if word.contains(['$', '`', '\\']) {
        return None;
    }
    let mut words = shell_words(word).ok()?;
    match words.len() {
        0 => Some(String::new()),
        1 => words.pop(),
        _ => None,
    }
}

/// Words as a shell splits them, each kept as written (quotes and all); a
/// `$(...)` is part of its word, spaces and all.
pub(super) fn raw_words(s: &str) -> Result<Vec<String>, String> {
    let (mut words, mut word, mut quote, mut escaped) = (Vec::new(), String::new(), None, false);
    let mut depth = 0usize;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if escaped {
            word.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => escaped = true,
            (_, '$') if chars.peek() == Some(&'(') => {
                word.push(c);
                word.push(chars.next().expect("peeked"));
                depth += 1;
                continue;
            }
            (q, ')') if depth > 0 && q != Some('\'') => depth -= 1,
            (None, '\'' | '"') => quote = Some(c),
            (Some('"'), '"') => quote = None,
            (None, c) if c.is_whitespace() && depth == 0 => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            _ => {}
        }
        word.push(c);
    }
    if quote.is_some() || depth > 0 {
        return Err(format!("`{s}` has an unclosed quote"));
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

impl Steps {
    /// The variables that carry these steps to build-wheel.sh, with
    /// `{project}` and `{package}` filled in: of before-all where the
    /// inputs are (`inputs`), of config-settings in the build's copy
    /// (`build`).
    pub fn env(&self, build: &Placeholders, inputs: &Placeholders) -> Vec<(String, String)> {
        let mut env = Vec::new();
        let lines = |pairs: &[(String, String)]| -> Vec<String> {
            pairs.iter().map(|(k, w)| format!("{k}={w}")).collect()
        };
        if !self.env_eval.is_empty() {
            env.push(Var::Environment.list(&lines(&self.env_eval)));
        }
        if !self.test_env_eval.is_empty() {
            env.push(Var::TestEnvironment.list(&lines(&self.test_env_eval)));
        }
        if let Some(c) = &self.before_all {
            env.push(Var::BeforeAll.set(inputs.command(c)));
        }
        if !self.config_settings.is_empty() {
            let settings: Vec<String> = self
                .config_settings
                .iter()
                .map(|s| build.value(s))
                .collect();
            env.push(Var::ConfigSettings.list(&settings));
        }
        // build[uv] builds as build does; its test environment has no pip.
        if matches!(self.frontend.name.as_str(), "pip" | "build[uv]") {
            env.push(Var::Frontend.set(&self.frontend.name));
        }
        if !self.frontend.args.is_empty() {
            env.push(Var::FrontendArgs.list(&self.frontend.args));
        }
        if self.verbosity != 0 {
            env.push(Var::Verbosity.set(self.verbosity.to_string()));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::super::nearest;
    use super::*;

    #[test]
    fn archs_select_as_cibuildwheel_does() {
        let names = |v: &[&str]| archs(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(names(&["all"]).unwrap(), Arch::ALL.to_vec());
        assert_eq!(
            names(&["s390x", "riscv64", "s390x"]).unwrap(),
            [Arch::S390x, Arch::Riscv64]
        );
        assert_eq!(names(&["arm64"]).unwrap(), [Arch::Aarch64]);
        if Arch::host() == Some(Arch::X86_64) {
            assert_eq!(names(&["auto"]).unwrap(), [Arch::X86_64, Arch::I686]);
            assert_eq!(names(&["auto64"]).unwrap(), [Arch::X86_64]);
            assert_eq!(names(&["auto32"]).unwrap(), [Arch::I686]);
            assert_eq!(names(&["native"]).unwrap(), [Arch::X86_64]);
            assert_eq!(
                names(&["auto64", "aarch64"]).unwrap(),
                [Arch::X86_64, Arch::Aarch64]
            );
        }
        let e = names(&["sparc"]).unwrap_err();
        assert!(e.contains("`sparc`") && e.contains("riscv64"), "{e}");
    }

    #[test]
    fn words_and_literals() {
        assert_eq!(
            raw_words(r#"A=1 B="two words" C='$x' D=$(echo "a b")"#).unwrap(),
            ["A=1", "B=\"two words\"", "C='$x'", "D=$(echo \"a b\")"]
        );
        assert_eq!(literal("\"two words\"").as_deref(), Some("two words"));
        assert_eq!(literal("plain").as_deref(), Some("plain"));
        assert_eq!(literal("$PATH:/x"), None);
        assert_eq!(nearest("test-comand"), Some("test-command"));
        assert_eq!(nearest("befor-all"), Some("before-all"));
        assert_eq!(nearest("something-else-entirely"), None);
        assert_eq!(
            manylinux_image("manylinux2014", Arch::Aarch64),
            crate::images::image("manylinux2014_aarch64")
        );
        assert_eq!(
            manylinux_image("manylinux1", Arch::X86_64),
            "quay.io/pypa/manylinux1_x86_64"
        );
        assert_eq!(
            manylinux_image("ghcr.io/me/img:1", Arch::X86_64),
            "ghcr.io/me/img:1"
        );
    }
}

/// cibuildwheel 4's `enable` groups: builds it makes only when enabled.
pub const ENABLE_GROUPS: &[&str] = &[
    "cpython-prerelease",
    "graalpy",
    "pypy",
    "pypy-eol",
    "pyodide-eol",
    "pyodide-prerelease",
];

/// Values of `enable` that cibuildwheel once took and 4 dropped, and what
/// each meant: real projects still carry them, so they are named, not refused.
pub const OBSOLETE_ENABLE: &[(&str, &str)] = &[
    (
        "cpython-freethreading",
        "it enabled free-threaded CPython 3.13t, which cibuildwheel 4 builds no more; 3.14t and later are built without it",
    ),
    (
        "cpython-experimental-riscv64",
        "it enabled riscv64 builds, which cibuildwheel 4 makes without it",
    ),
];

/// `enable`'s values as groups (`all`: every group), and the obsolete values
/// among them (see OBSOLETE_ENABLE); a value cibuildwheel never knew is an
/// error that names it.
pub fn enable_groups(values: &[String]) -> Result<(Vec<String>, Vec<&'static str>), String> {
    let mut groups = Vec::new();
    let mut obsolete = Vec::new();
    for value in values {
        match value.as_str() {
            "all" => groups = ENABLE_GROUPS.iter().map(|g| g.to_string()).collect(),
            g if ENABLE_GROUPS.contains(&g) => {
                if !groups.iter().any(|have| have == g) {
                    groups.push(g.to_string())
                }
            }
            other => match OBSOLETE_ENABLE.iter().find(|(name, _)| *name == other) {
                Some((name, _)) => obsolete.push(*name),
                None => {
                    return Err(format!(
                        "`{other}` is not an enable group: cibuildwheel 4's are all, {}",
                        ENABLE_GROUPS.join(", ")
                    ))
                }
            },
        }
    }
    Ok((groups, obsolete))
}

#[cfg(test)]
mod enable_tests {
    use super::*;

    fn groups(values: &[&str]) -> Result<Vec<String>, String> {
        enable_groups(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>()).map(|(g, _)| g)
    }

    #[test]
    fn enable_takes_cibuildwheel_4s_groups_and_names_any_other() {
        assert_eq!(groups(&["pypy", "pypy-eol"]).unwrap(), ["pypy", "pypy-eol"]);
        assert_eq!(groups(&["pypy", "all"]).unwrap(), ENABLE_GROUPS);
        assert_eq!(
            groups(&["pypi"]).unwrap_err(),
            "`pypi` is not an enable group: cibuildwheel 4's are all, cpython-prerelease, graalpy, pypy, pypy-eol, pyodide-eol, pyodide-prerelease"
        );
        // Values cibuildwheel 4 dropped are named, and the rest still counts.
        let values = [
            "cpython-freethreading",
            "pypy",
            "cpython-experimental-riscv64",
        ];
        let (groups, obsolete) =
            enable_groups(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>()).unwrap();
        assert_eq!(groups, ["pypy"]);
        assert_eq!(
            obsolete,
            ["cpython-freethreading", "cpython-experimental-riscv64"]
        );
    }
}
