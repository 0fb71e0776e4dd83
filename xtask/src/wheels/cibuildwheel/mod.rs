//! A package's `[tool.cibuildwheel]`, read as cibuildwheel reads it on Linux:
//! each key this tool honours fills what its own configuration leaves out,
//! every other key is named with the reason it is not used here, and a key
//! cibuildwheel does not know is a warning naming the nearest one.

use camino::Utf8Path;

pub mod values;

use crate::config::{Config, Inherit, Override, RESERVED_ENV};
use crate::patterns::Patterns;
use crate::platform::{Arch, Libc};
use values::{archs, config_settings, dependency_group, environment, literal, manylinux_image};

/// What became of each key of a package's `[tool.cibuildwheel]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Account {
    /// The pyproject.toml read; None when it has no `[tool.cibuildwheel]`.
    pub file: Option<String>,
    pub adopted: Vec<String>,
    /// Keys (with `linux.` or `overrides[N].` in front where they were) and why not.
    pub unused: Vec<(String, String)>,
    /// Keys cibuildwheel does not know either, and the nearest it knows.
    pub unknown: Vec<(String, Option<&'static str>)>,
    /// Each overrides entry honoured: which builds, which keys.
    pub overrides: Vec<String>,
    /// cibuildwheel 4's defaults taken, where they differ from this tool's.
    pub defaults: Option<String>,
}

impl Account {
    /// One line each, every one saying `[tool.cibuildwheel]`; a key from an
    /// overrides entry on a line that says `overrides`.
    pub fn lines(&self) -> Vec<String> {
        let Some(file) = &self.file else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        if let Some(defaults) = &self.defaults {
            lines.push(format!(
                "[tool.cibuildwheel] in {file}: cibuildwheel 4's defaults, {defaults}"
            ));
        }
        if !self.adopted.is_empty() {
            lines.push(format!(
                "taken from [tool.cibuildwheel] in {file}: {}",
                self.adopted.join(", ")
            ));
        }
        for entry in &self.overrides {
            lines.push(format!(
                "taken from [tool.cibuildwheel] {entry}, for the builds it selects"
            ));
        }
        for (key, why) in &self.unused {
            lines.push(format!("[tool.cibuildwheel] {key}: not used here ({why})"));
        }
        for (key, near) in &self.unknown {
            let hint = match near {
                Some(k) => format!("; did you mean `{k}`?"),
                None => String::new(),
            };
            lines.push(format!(
                "warning: [tool.cibuildwheel] {key} in {file} is not a cibuildwheel option{hint}"
            ));
        }
        lines
    }
}

/// Every option key cibuildwheel knows (its resources/defaults.toml), in
/// the order the used ones are applied: whether an overrides entry may set
/// it per build, and this tool's own key that wins over it when the
/// configuration file sets it, or why it is not used here.
const KEYS: &[Key] = &[
    Key::ours("build", "build"),
    Key::ours("skip", "skip"),
    Key::ours("archs", "arch"),
    Key::per_build("environment", "env"),
    Key::ours("environment-pass", "env"),
    Key::ours("before-all", "before-all"),
    Key::per_build("before-build", "before-build"),
    Key::per_build("before-test", "before-test"),
    Key::per_build("test-command", "test-command"),
    Key::per_build("test-requires", "test-requires"),
    Key::per_build("test-sources", "test-sources"),
    Key::ours("test-environment", "test-environment"),
    Key::per_build("test-skip", "test-skip"),
    Key::per_build("test-extras", "test-extras"),
    Key::per_build("test-groups", "test-groups"),
    Key::per_build("config-settings", "config-settings"),
    Key::per_build("build-frontend", "build-frontend"),
    Key::per_build("build-verbosity", "build-verbosity"),
    Key::per_build("repair-wheel-command", "repair-wheel-command"),
    Key::ours("manylinux-x86_64-image", "images"),
    Key::ours("manylinux-aarch64-image", "images"),
    Key::ours("manylinux-pypy_x86_64-image", "images"),
    Key::ours("manylinux-pypy_aarch64-image", "images"),
    Key::ours("manylinux-i686-image", "images"),
    Key::ours("manylinux-ppc64le-image", "images"),
    Key::ours("manylinux-s390x-image", "images"),
    Key::ours("manylinux-armv7l-image", "images"),
    Key::ours("manylinux-riscv64-image", "images"),
    Key::ours("manylinux-pypy_i686-image", "images"),
    Key::ours("musllinux-x86_64-image", "musllinux-images"),
    Key::ours("musllinux-i686-image", "musllinux-images"),
    Key::ours("musllinux-aarch64-image", "musllinux-images"),
    Key::ours("musllinux-ppc64le-image", "musllinux-images"),
    Key::ours("musllinux-s390x-image", "musllinux-images"),
    Key::ours("musllinux-armv7l-image", "musllinux-images"),
    Key::ours("musllinux-riscv64-image", "musllinux-images"),
    Key::ours("enable", "enable"),
    Key::per_build("audit-requires", "audit-requires"),
    Key::per_build("audit-command", "audit-command"),
    Key::unused(
        "container-engine",
        "the engine of each arch is chosen with --engine or engines.<arch> in Cargo.toml",
    ),
    Key::unused(
        "dependency-versions",
        "the images' own build tools are used, as the image has them",
    ),
    Key::unused(
        "test-runtime",
        "tests run in the container that built the wheel",
    ),
    Key::entries("overrides"),
    Key::unused("xbuild-tools", "an iOS option"),
    Key::unused("xbuild-files", "an iOS option"),
    Key::unused("pyodide-version", "a Pyodide option"),
];

struct Key {
    name: &'static str,
    scope: Scope,
    used: Use,
}

/// Whom a key's value is for.
#[derive(PartialEq)]
enum Scope {
    /// The run: every build alike (the images, the selection, before-all).
    Run,
    /// Each build: an overrides entry may set it for the builds it selects.
    PerBuild,
}

enum Use {
    /// Taken, unless the configuration file sets this tool's key of that name.
    Ours(&'static str),
    /// Its entries are read one by one, each for the builds it selects.
    Entries,
    /// Not used here, and why.
    Unused(&'static str),
}

impl Key {
    /// Taken for the whole run, unless our key `ours` is set.
    const fn ours(name: &'static str, ours: &'static str) -> Key {
        Key {
            name,
            scope: Scope::Run,
            used: Use::Ours(ours),
        }
    }

    /// Taken per build (an overrides entry may set it), unless our key `ours` is set.
    const fn per_build(name: &'static str, ours: &'static str) -> Key {
        Key {
            name,
            scope: Scope::PerBuild,
            used: Use::Ours(ours),
        }
    }

    const fn entries(name: &'static str) -> Key {
        Key {
            name,
            scope: Scope::Run,
            used: Use::Entries,
        }
    }

    const fn unused(name: &'static str, why: &'static str) -> Key {
        Key {
            name,
            scope: Scope::Run,
            used: Use::Unused(why),
        }
    }

    fn find(name: &str) -> Option<&'static Key> {
        KEYS.iter().find(|k| k.name == name)
    }
}

/// The arch and libc of `manylinux-<arch>-image`,
/// `manylinux-pypy_<arch>-image` and `musllinux-<arch>-image`.
fn image_key_arch(key: &str) -> Option<(Arch, Libc)> {
    let (libc, name) = match key.strip_prefix("manylinux-") {
        Some(rest) => (Libc::Glibc, rest),
        None => (Libc::Musl, key.strip_prefix("musllinux-")?),
    };
    let name = name.strip_suffix("-image")?;
    let name = name.strip_prefix("pypy_").unwrap_or(name);
    Arch::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .map(|a| (a, libc))
}

/// The platform tables: `linux` is read, the others are another platform's.
const PLATFORMS: &[&str] = &["linux", "macos", "windows", "ios", "android", "pyodide"];

/// `config` with the `[tool.cibuildwheel]` of the package it names adopted
/// (see `adopt`): what `matrix`, `ci` and `verify` read, as `wheels` does.
pub fn adopt_configured(config: &Config) -> anyhow::Result<Config> {
    let package = config.dir.join(&config.root).join(&config.package);
    let (config, _) = adopt(config, &package).map_err(crate::util::usage)?;
    Ok(config)
}

/// `config` with what the package's `[tool.cibuildwheel]` (and its `.linux`
/// table) says, for each key the configuration file does not set; and the
/// account of every key.
pub fn adopt(config: &Config, package: &Utf8Path) -> Result<(Config, Account), String> {
    let file = package.join("pyproject.toml");
    let mut config = config.clone();
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok((config, Account::default()));
    };
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{file} is not valid TOML: {e}"))?;
    let Some(cibw) = doc
        .get("tool")
        .and_then(|t| t.get("cibuildwheel"))
        .and_then(|c| c.as_table())
    else {
        return Ok((config, Account::default()));
    };
    let mut account = Account {
        file: Some(file.to_string()),
        ..Account::default()
    };
    let linux = match cibw.get("linux") {
        Some(toml::Value::Table(t)) => Some(t),
        Some(_) => {
            return Err(format!(
                "[tool.cibuildwheel] linux in {file}: a table is expected"
            ))
        }
        None => None,
    };
    sort_keys(cibw, "", &mut account);
    if let Some(linux) = linux {
        sort_keys(linux, "linux.", &mut account);
    }
    let tables = CibuildwheelTables {
        file: &file,
        cibw,
        linux,
    };
    cibuildwheel_defaults(&mut config, &mut account);
    for key in KEYS {
        let (key, Use::Ours(ours)) = (key.name, &key.used) else {
            continue;
        };
        if config.given.iter().any(|g| g == ours) {
            continue;
        }
        let Some(value) = tables.value(key) else {
            continue;
        };
        if tables.apply(key, value, &mut config, package, &doc)? {
            account.adopted.push(key.to_string());
        }
        if key == "enable" {
            let (_, obsolete) = values::enable_groups(&tables.list(key, value)?)
                .expect("checked when it was applied");
            for name in obsolete {
                let (_, meant) = values::OBSOLETE_ENABLE
                    .iter()
                    .find(|(n, _)| *n == name)
                    .expect("an obsolete value");
                account
                    .unused
                    .push((format!("enable `{name}`"), format!("obsolete: {meant}")));
            }
        }
    }
    // With a table, cibuildwheel's selection: its groups only when enabled.
    if config.steps.enable.is_none() {
        config.steps.enable = Some(Vec::new());
    }
    if let Some(overrides) = cibw.get("overrides") {
        config.overrides = tables.overrides(overrides, package, &doc, &mut account)?;
    }
    Ok((config, account))
}

/// cibuildwheel 4's defaults where they differ from this tool's, for what
/// the configuration file does not set (the table's keys then win): its
/// images (`manylinux_2_28`, armv7l's `manylinux_2_31`, riscv64's
/// `manylinux_2_39`) and musllinux wheels beside manylinux ones. Without a
/// table, this tool keeps the seed's `manylinux2014` and manylinux alone,
/// the wheels its users shipped.
fn cibuildwheel_defaults(config: &mut Config, account: &mut Account) {
    let mut defaults = Vec::new();
    if !config.given.iter().any(|g| g == "images") {
        for arch in Arch::ALL {
            config.images.0[arch as usize] = crate::images::image(arch.row().cibuildwheel_image);
        }
        defaults.push("its manylinux_2_28 images (armv7l manylinux_2_31, riscv64 manylinux_2_39)");
    }
    if !config.given.iter().any(|g| g == "libc") {
        config.libc = Libc::ALL.to_vec();
        defaults.push("musllinux wheels beside manylinux ones");
    }
    if !defaults.is_empty() {
        account.defaults = Some(defaults.join(", "));
    }
}

/// Each key of one table: known and used, known and not used here (with
/// why), a platform table, or unknown.
fn sort_keys(table: &toml::Table, prefix: &str, account: &mut Account) {
    for key in table.keys() {
        match Key::find(key).map(|k| &k.used) {
            Some(Use::Unused(why)) => account
                .unused
                .push((format!("{prefix}{key}"), why.to_string())),
            Some(Use::Ours(_) | Use::Entries) => {}
            None if prefix.is_empty() && key == "linux" => {}
            None if prefix.is_empty() && PLATFORMS.contains(&key.as_str()) => {
                account.unused.push((
                    key.clone(),
                    "another platform's table: this tool builds Linux wheels".into(),
                ))
            }
            None => account
                .unknown
                .push((format!("{prefix}{key}"), nearest(key))),
        }
    }
}

/// The known key nearest to `key` by edit distance, when it is near enough
/// to be a typo.
fn nearest(key: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|k| k.name)
        .chain(PLATFORMS.iter().copied())
        .map(|k| (distance(key, k), k))
        .filter(|(d, k)| *d <= 3 && *d < k.len() / 2 + 1)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

struct CibuildwheelTables<'a> {
    file: &'a Utf8Path,
    cibw: &'a toml::Table,
    linux: Option<&'a toml::Table>,
}

impl CibuildwheelTables<'_> {
    /// Each overrides entry read: its `select`, its `inherit`, and its keys
    /// into settings of their own; each key the account names on a line
    /// that says `overrides`.
    fn overrides(
        &self,
        value: &toml::Value,
        package: &Utf8Path,
        doc: &toml::Table,
        account: &mut Account,
    ) -> Result<Vec<Override>, String> {
        let toml::Value::Array(entries) = value else {
            return Err(self.bad("overrides", "an array of tables is expected"));
        };
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("overrides[{i}]");
            let entry = entry
                .as_table()
                .ok_or_else(|| self.bad(&at, "a table is expected"))?;
            let select = entry.get("select").ok_or_else(|| {
                self.bad(
                    &at,
                    "it has no `select`: give the identifiers it applies to, such as \"cp312-*\"",
                )
            })?;
            let select = Patterns::parse(&[self.words(&format!("{at} select"), select, " ")?])
                .map_err(|e| self.bad(&format!("{at} select"), &format!("{e:#}")))?;
            let inherit = match entry.get("inherit") {
                None => toml::Table::new(),
                Some(toml::Value::Table(t)) => t.clone(),
                Some(_) => return Err(self.bad(&format!("{at} inherit"), "a table is expected")),
            };
            let mut settings = Config::default();
            let mut keys = Vec::new();
            let mut used = Vec::new();
            for (key, value) in entry
                .iter()
                .filter(|(k, _)| *k != "select" && *k != "inherit")
            {
                let name = format!("{at} (select `{select}`) {key}");
                let known = Key::find(key);
                if known.is_some_and(|k| k.scope == Scope::PerBuild) {
                    self.apply(key, value, &mut settings, package, doc)?;
                    let how = match inherit.get(key).and_then(|v| v.as_str()) {
                        None | Some("none") => Inherit::None,
                        Some("prepend") => Inherit::Prepend,
                        Some("append") => Inherit::Append,
                        Some(other) => {
                            return Err(self.bad(
                                &format!("{at} inherit.{key}"),
                                &format!("`{other}` is not none, prepend or append"),
                            ))
                        }
                    };
                    keys.push((key.clone(), how));
                    used.push(key.clone());
                } else if known.is_some() {
                    account.unused.push((name, "an override changes it for some builds only, and this tool gives it to every build alike".into()));
                } else {
                    account.unknown.push((name, nearest(key)));
                }
            }
            // test-groups were read into test-requires' list: one key joins it.
            if used.iter().any(|k| k == "test-requires") {
                keys.retain(|(k, _)| k != "test-groups");
            }
            if !used.is_empty() {
                account
                    .overrides
                    .push(format!("{at} (select `{select}`): {}", used.join(", ")));
            }
            out.push(Override {
                select,
                keys,
                settings: Box::new(settings),
            });
        }
        Ok(out)
    }

    /// `[tool.cibuildwheel.linux]` first, as cibuildwheel reads it on Linux.
    fn value(&self, key: &str) -> Option<&toml::Value> {
        self.linux
            .and_then(|l| l.get(key))
            .or_else(|| self.cibw.get(key))
    }

    fn bad(&self, key: &str, why: &str) -> String {
        format!("[tool.cibuildwheel] {key} in {}: {why}", self.file)
    }

    /// A string, or a list of strings joined by `sep` (as cibuildwheel joins them).
    fn words(&self, key: &str, value: &toml::Value, sep: &str) -> Result<String, String> {
        match value {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(String::from)
                        .ok_or_else(|| self.bad(key, "a list of strings is expected"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|v| v.join(sep)),
            _ => Err(self.bad(key, "a string or a list of strings is expected")),
        }
    }

    fn list(&self, key: &str, value: &toml::Value) -> Result<Vec<String>, String> {
        Ok(self
            .words(key, value, " ")?
            .split_whitespace()
            .map(String::from)
            .collect())
    }

    /// Applies one key to `config`; false when it turned out to say nothing.
    fn apply(
        &self,
        key: &str,
        value: &toml::Value,
        config: &mut Config,
        package: &Utf8Path,
        doc: &toml::Table,
    ) -> Result<bool, String> {
        let patterns =
            |v: String| Patterns::parse(&[v]).map_err(|e| self.bad(key, &format!("{e:#}")));
        match key {
            "build" => config.build = patterns(self.words(key, value, " ")?)?,
            "skip" => config.skip = patterns(self.words(key, value, " ")?)?,
            "test-skip" => config.test.skip = patterns(self.words(key, value, " ")?)?,
            "archs" => {
                config.arch = archs(&self.list(key, value)?).map_err(|e| self.bad(key, &e))?
            }
            "environment" => {
                let pairs = environment(value).map_err(|e| self.bad(key, &e))?;
                for (k, word) in pairs {
                    match literal(&word) {
                        Some(v) if !RESERVED_ENV.contains(&k.as_str()) => config.env.push((k, v)),
                        _ => config.steps.env_eval.push((k, word)),
                    }
                }
            }
            "environment-pass" => {
                for name in self.list(key, value)? {
                    crate::config::check_env_name(&name)
                        .map_err(|e| self.bad(key, &format!("{e:#}")))?;
                    if let Ok(v) = std::env::var(&name) {
                        config.env.retain(|(k, _)| *k != name);
                        config.env.push((name.clone(), v));
                    }
                    // Passed on as a secret: its value is never printed
                    // nor kept in a container's configuration.
                    if !config.secret_env.contains(&name) {
                        config.secret_env.push(name);
                    }
                }
            }
            "test-environment" => {
                config.steps.test_env_eval = environment(value).map_err(|e| self.bad(key, &e))?
            }
            "before-all" => config.steps.before_all = Some(self.words(key, value, " && ")?),
            "before-build" => config.before_build = Some(self.words(key, value, " && ")?),
            "before-test" => config.steps.before_test = Some(self.words(key, value, " && ")?),
            "test-command" => config.test.command = Some(self.words(key, value, " && ")?),
            "test-requires" => config.test.requires = self.list(key, value)?,
            "test-sources" => config.test.sources = self.list(key, value)?,
            "test-extras" => config.test.extras = self.list(key, value)?,
            "test-groups" => {
                for group in self.list(key, value)? {
                    let found = dependency_group(doc, &group, 0).map_err(|e| self.bad(key, &e))?;
                    config.test.requires.extend(found);
                }
            }
            "config-settings" => {
                config.steps.config_settings =
                    config_settings(value).map_err(|e| self.bad(key, &e))?
            }
            "build-frontend" => {
                config.steps.frontend =
                    crate::config::Frontend::from_value(value).map_err(|e| self.bad(key, &e))?
            }
            "build-verbosity" => match value.as_integer() {
                Some(v) if (-3..=3).contains(&v) => config.steps.verbosity = v as i8,
                _ => return Err(self.bad(key, "an integer from -3 to 3 is expected")),
            },
            _ if image_key_arch(key).is_some() => {
                let (arch, libc) = image_key_arch(key).expect("matched above");
                let name = value
                    .as_str()
                    .ok_or_else(|| self.bad(key, "a string is expected"))?;
                let image = manylinux_image(name, arch);
                if libc == Libc::Musl {
                    config.musllinux_images.0[arch as usize] = image;
                } else if !key.contains("pypy") {
                    config.images.0[arch as usize] = image;
                } else if image != config.images.get(arch) {
                    // One image per arch builds every interpreter: PyPy's must be the same.
                    return Err(self.bad(key, &format!("`{name}` is another image than CPython's `{}`: this tool builds every interpreter of an arch in one image; give both the same image, or set images.{arch} in Cargo.toml", config.images.get(arch))));
                }
            }
            "enable" => {
                let (groups, _) = values::enable_groups(&self.list(key, value)?)
                    .map_err(|e| self.bad(key, &e))?;
                config.steps.enable = Some(groups);
            }
            "repair-wheel-command" => {
                config.steps.repair_command = Some(self.words(key, value, " && ")?)
            }
            "audit-requires" => config.steps.audit_requires = Some(self.list(key, value)?),
            "audit-command" => {
                let command = self.words(key, value, " && ")?;
                if !command.trim().is_empty() {
                    crate::wheels::audit::check_command(&command).map_err(|e| self.bad(key, &e))?;
                }
                config.steps.audit_command = Some(command)
            }
            _ => unreachable!("{key} is not adopted"),
        }
        let _ = package;
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
