//! A package's `[tool.cibuildwheel]`, read as cibuildwheel reads it on Linux:
//! each key this tool honours fills what its own configuration leaves out,
//! every other key is named with the reason it is not used here, and a key
//! cibuildwheel does not know is a warning naming the nearest one.

use camino::Utf8Path;

pub mod values;

use crate::config::{Config, Inherit, Override, RESERVED_ENV};
use crate::platform::{Arch, Libc, Patterns};
use values::{
    archs, config_settings, dependency_group, environment, frontend, literal, manylinux_image,
};

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
    Key {
        name: "build",
        scope: Scope::Run,
        used: Use::Ours("build"),
    },
    Key {
        name: "skip",
        scope: Scope::Run,
        used: Use::Ours("skip"),
    },
    Key {
        name: "archs",
        scope: Scope::Run,
        used: Use::Ours("arch"),
    },
    Key {
        name: "environment",
        scope: Scope::PerBuild,
        used: Use::Ours("env"),
    },
    Key {
        name: "environment-pass",
        scope: Scope::Run,
        used: Use::Ours("env"),
    },
    Key {
        name: "before-all",
        scope: Scope::Run,
        used: Use::Ours("before-all"),
    },
    Key {
        name: "before-build",
        scope: Scope::PerBuild,
        used: Use::Ours("before-build"),
    },
    Key {
        name: "before-test",
        scope: Scope::PerBuild,
        used: Use::Ours("before-test"),
    },
    Key {
        name: "test-command",
        scope: Scope::PerBuild,
        used: Use::Ours("test-command"),
    },
    Key {
        name: "test-requires",
        scope: Scope::PerBuild,
        used: Use::Ours("test-requires"),
    },
    Key {
        name: "test-sources",
        scope: Scope::PerBuild,
        used: Use::Ours("test-sources"),
    },
    Key {
        name: "test-environment",
        scope: Scope::Run,
        used: Use::Ours("test-environment"),
    },
    Key {
        name: "test-skip",
        scope: Scope::PerBuild,
        used: Use::Ours("test-skip"),
    },
    Key {
        name: "test-extras",
        scope: Scope::PerBuild,
        used: Use::Ours("test-extras"),
    },
    Key {
        name: "test-groups",
        scope: Scope::PerBuild,
        used: Use::Ours("test-groups"),
    },
    Key {
        name: "config-settings",
        scope: Scope::PerBuild,
        used: Use::Ours("config-settings"),
    },
    Key {
        name: "build-frontend",
        scope: Scope::PerBuild,
        used: Use::Ours("build-frontend"),
    },
    Key {
        name: "build-verbosity",
        scope: Scope::PerBuild,
        used: Use::Ours("build-verbosity"),
    },
    Key {
        name: "repair-wheel-command",
        scope: Scope::PerBuild,
        used: Use::Ours("repair-wheel-command"),
    },
    Key {
        name: "manylinux-x86_64-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-aarch64-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-pypy_x86_64-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-pypy_aarch64-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-i686-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-ppc64le-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-s390x-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-armv7l-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-riscv64-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "manylinux-pypy_i686-image",
        scope: Scope::Run,
        used: Use::Ours("images"),
    },
    Key {
        name: "musllinux-x86_64-image",
        scope: Scope::Run,
        used: Use::Ours("musllinux-images"),
    },
    Key {
        name: "musllinux-i686-image",
        scope: Scope::Run,
        used: Use::Ours("musllinux-images"),
    },
    Key {
        name: "musllinux-aarch64-image",
        scope: Scope::Run,
        used: Use::Ours("musllinux-images"),
    },
    Key {
        name: "musllinux-ppc64le-image",
        scope: Scope::Run,
        used: Use::Ours("musllinux-images"),
    },
    Key {
        name: "musllinux-s390x-image",
        scope: Scope::Run,
        used: Use::Ours("musllinux-images"),
    },
    Key {
        name: "musllinux-armv7l-image",
        scope: Scope::Run,
        used: Use::Ours("musllinux-images"),
    },
    Key {
        name: "musllinux-riscv64-image",
        scope: Scope::Run,
        used: Use::Ours("musllinux-images"),
    },
    Key {
        name: "enable",
        scope: Scope::Run,
        used: Use::Ours("enable"),
    },
    Key {
        name: "audit-requires",
        scope: Scope::Run,
        used: Use::Unused(
            "abi3audit is not run: each wheel is imported in the interpreter that built it",
        ),
    },
    Key {
        name: "audit-command",
        scope: Scope::Run,
        used: Use::Unused(
            "abi3audit is not run: each wheel is imported in the interpreter that built it",
        ),
    },
    Key {
        name: "dependency-versions",
        scope: Scope::Run,
        used: Use::Unused("the images' own build tools are used, as the image has them"),
    },
    Key {
        name: "container-engine",
        scope: Scope::Run,
        used: Use::Unused(
            "the engine of each arch is chosen with --engine or engines.<arch> in Cargo.toml",
        ),
    },
    Key {
        name: "test-runtime",
        scope: Scope::Run,
        used: Use::Unused("tests run in the container that built the wheel"),
    },
    Key {
        name: "overrides",
        scope: Scope::Run,
        used: Use::Entries,
    },
    Key {
        name: "xbuild-tools",
        scope: Scope::Run,
        used: Use::Unused("an iOS option"),
    },
    Key {
        name: "xbuild-files",
        scope: Scope::Run,
        used: Use::Unused("an iOS option"),
    },
    Key {
        name: "pyodide-version",
        scope: Scope::Run,
        used: Use::Unused("a Pyodide option"),
    },
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
    if config.steps.frontend.name == "build[uv]" {
        account.unused.push((
            "build-frontend `build[uv]`".into(),
            "uv is not in the images: build installs with the image's pip (the native uv under emulation), and the wheels are the same; the test environment has no pip, as cibuildwheel makes it".into(),
        ));
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
            config.images.0[arch as usize] =
                format!("quay.io/pypa/{}", arch.row().cibuildwheel_image);
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
                config.steps.frontend = frontend(value).map_err(|e| self.bad(key, &e))?
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
            _ => unreachable!("{key} is not adopted"),
        }
        let _ = package;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(text: &str) -> camino::Utf8PathBuf {
        let dir = camino::Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!(
                "xtask-cibw-{}-{}",
                crate::util::run_id(),
                distance(text, "")
            ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pyproject.toml"), text).unwrap();
        dir
    }

    #[test]
    fn a_table_brings_cibuildwheel_4s_images_and_musllinux() {
        let dir = package(
            r#"[tool.cibuildwheel]
musllinux-aarch64-image = "ghcr.io/me/musl:1"
enable = ["cpython-freethreading", "pypy"]
"#,
        );
        let (c, account) = adopt(&Config::default(), &dir).unwrap();
        let images: Vec<&str> = Arch::ALL.iter().map(|&a| c.image(a, Libc::Glibc)).collect();
        assert_eq!(
            images,
            [
                "quay.io/pypa/manylinux_2_28_x86_64",
                "quay.io/pypa/manylinux_2_28_i686",
                "quay.io/pypa/manylinux_2_28_aarch64",
                "quay.io/pypa/manylinux_2_28_ppc64le",
                "quay.io/pypa/manylinux_2_28_s390x",
                "quay.io/pypa/manylinux_2_31_armv7l",
                "quay.io/pypa/manylinux_2_39_riscv64",
            ]
        );
        assert_eq!(c.image(Arch::Aarch64, Libc::Musl), "ghcr.io/me/musl:1");
        assert_eq!(
            c.image(Arch::X86_64, Libc::Musl),
            "quay.io/pypa/musllinux_1_2_x86_64"
        );
        assert_eq!(c.libc, [Libc::Glibc, Libc::Musl]);
        assert_eq!(c.steps.enable.as_deref(), Some(&["pypy".to_string()][..]));
        let lines = account.lines();
        assert!(
            lines[0].ends_with("cibuildwheel 4's defaults, its manylinux_2_28 images (armv7l manylinux_2_31, riscv64 manylinux_2_39), musllinux wheels beside manylinux ones"),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l == "[tool.cibuildwheel] enable `cpython-freethreading`: not used here (obsolete: it enabled free-threaded CPython 3.13t, which cibuildwheel 4 builds no more; 3.14t and later are built without it)"),
            "{lines:?}"
        );
        // What the configuration file sets wins over cibuildwheel's defaults.
        let ours = Config {
            given: vec!["images".into(), "libc".into()],
            ..Config::default()
        };
        let (c, account) = adopt(&ours, &dir).unwrap();
        assert_eq!(
            c.image(Arch::X86_64, Libc::Glibc),
            "quay.io/pypa/manylinux2014_x86_64"
        );
        assert_eq!(c.libc, [Libc::Glibc]);
        assert_eq!(account.defaults, None);
        // Without a table, this tool's own defaults.
        let plain = package("[project]\nname = \"plain\"\n");
        let (c, _) = adopt(&Config::default(), &plain).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn a_key_set_per_build_is_one_this_tool_takes() {
        for key in KEYS {
            if key.scope == Scope::PerBuild {
                assert!(matches!(key.used, Use::Ours(_)), "{}", key.name);
            }
            let named = KEYS.iter().filter(|k| k.name == key.name).count();
            assert_eq!(named, 1, "{} is named {named} times", key.name);
        }
    }

    #[test]
    fn every_key_is_adopted_or_named() {
        let dir = package(
            r#"[tool.cibuildwheel]
build = ["cp312-*", "cp313-*"]
skip = "*-manylinux_aarch64"
environment = 'FLAG=1 NAME="two words" PATH=$PATH:/opt/tool/bin LIBS="$(pkg-config --libs z)"'
test-command = "pytest {project}/tests"
test-requires = ["pytest", "numpy"]
test-groups = ["test"]
before-build = "make prepare"
before-all = "yum install -y libffi-devel"
archs = "auto"
test-comand = "typo"
container-engine = "podman"
musllinux-x86_64-image = "musllinux_1_1"
manylinux-x86_64-image = "manylinux_2_28"
build-frontend = "build; args: --quiet"
config-settings = { "cmake.verbose" = "true", "setup-args" = ["-Da=1", "-Db=2"] }
repair-wheel-command = "auditwheel repair --exclude libz.so.1 -w {dest_dir} {wheel}"

[dependency-groups]
test = ["pytest-cov", { include-group = "more" }]
more = ["hypothesis"]

[tool.cibuildwheel.macos]
archs = "universal2"

[tool.cibuildwheel.linux]
test-skip = "pp*"
before-build = ["make a", "make b"]

[[tool.cibuildwheel.overrides]]
select = "cp313-*"
inherit.before-build = "append"
before-build = "echo 313"
archs = "aarch64"
environment = { ONLY = "313" }
"#,
        );
        let config = Config {
            given: vec!["skip".into()],
            ..Config::default()
        };
        let (c, account) = adopt(&config, &dir).unwrap();
        assert_eq!(
            account.adopted,
            [
                "build",
                "archs",
                "environment",
                "before-all",
                "before-build",
                "test-command",
                "test-requires",
                "test-skip",
                "test-groups",
                "config-settings",
                "build-frontend",
                "repair-wheel-command",
                "manylinux-x86_64-image",
                "musllinux-x86_64-image"
            ]
        );
        assert_eq!(c.build.to_string(), "cp312-* cp313-*");
        assert!(c.skip.is_empty(), "skip is set by our own file");
        // auto: this machine's arch, and i686 beside x86_64.
        let mut auto: Vec<Arch> = Arch::host().into_iter().collect();
        if auto == [Arch::X86_64] {
            auto.push(Arch::I686);
        }
        assert_eq!(c.arch, auto);
        assert_eq!(
            c.env,
            [
                ("FLAG".to_string(), "1".to_string()),
                ("NAME".to_string(), "two words".to_string())
            ]
        );
        assert_eq!(
            c.steps.env_eval,
            [
                ("PATH".to_string(), "$PATH:/opt/tool/bin".to_string()),
                ("LIBS".to_string(), "\"$(pkg-config --libs z)\"".to_string())
            ]
        );
        assert_eq!(c.before_build.as_deref(), Some("make a && make b"));
        assert_eq!(
            c.steps.before_all.as_deref(),
            Some("yum install -y libffi-devel")
        );
        assert_eq!(c.test.command.as_deref(), Some("pytest {project}/tests"));
        assert_eq!(
            c.test.requires,
            ["pytest", "numpy", "pytest-cov", "hypothesis"]
        );
        assert!(c.test.skip.matches("pp311-manylinux_x86_64"));
        assert_eq!(
            c.images.get(Arch::X86_64),
            "quay.io/pypa/manylinux_2_28_x86_64"
        );
        assert_eq!(
            c.musllinux_images.get(Arch::X86_64),
            "quay.io/pypa/musllinux_1_1_x86_64"
        );
        assert_eq!(
            c.steps.config_settings,
            ["cmake.verbose=true", "setup-args=-Da=1", "setup-args=-Db=2"]
        );
        assert_eq!(c.steps.frontend.args, ["--quiet"]);
        assert_eq!(
            c.steps.repair_command.as_deref(),
            Some("auditwheel repair --exclude libz.so.1 -w {dest_dir} {wheel}")
        );
        let lines = account.lines().join("\n");
        for want in [
            "[tool.cibuildwheel] container-engine: not used here (the engine of each arch",
            "[tool.cibuildwheel] macos: not used here (another platform's table",
            "taken from [tool.cibuildwheel] overrides[0] (select `cp313-*`): before-build, environment, for the builds it selects",
            "[tool.cibuildwheel] overrides[0] (select `cp313-*`) archs: not used here (an override changes it for some builds only",
            "is not a cibuildwheel option; did you mean `test-command`?",
        ] {
            assert!(lines.contains(want), "{want:?} in:\n{lines}");
        }
        assert!(
            lines.contains("warning: [tool.cibuildwheel] test-comand in "),
            "{lines}"
        );
        let [o] = c.overrides.as_slice() else {
            panic!("{:?}", c.overrides)
        };
        assert!(o.select.matches("cp313-manylinux_x86_64"));
        assert_eq!(
            o.keys,
            [
                ("before-build".to_string(), Inherit::Append),
                ("environment".to_string(), Inherit::None)
            ]
        );
        assert_eq!(o.settings.before_build.as_deref(), Some("echo 313"));
        assert_eq!(o.settings.env, [("ONLY".to_string(), "313".to_string())]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wrong_types_and_values_name_the_key_and_the_file() {
        for (text, want) in [
            ("build-verbosity = \"loud\"", "build-verbosity in "),
            ("test-requires = 3", "test-requires in "),
            ("environment = \"CFLAGS='-O2 -g\"", "unclosed quote"),
            ("archs = \"sparc\"", "`sparc` is not an arch cibuildwheel knows on Linux"),
            ("build-frontend = \"hatch\"", "not a frontend"),
            ("[[tool.cibuildwheel.overrides]]\nbefore-build = \"x\"", "overrides[0] in "),
            ("[[tool.cibuildwheel.overrides]]\nselect = \"*\"\ninherit.before-build = \"later\"\nbefore-build = \"x\"", "`later` is not none, prepend or append"),
            ("linux = 3", "linux in "),
            ("test-groups = [\"nope\"]", "no dependency group `nope`"),
        ] {
            let dir = package(&format!("[tool.cibuildwheel]\n{text}\n"));
            let e = adopt(&Config::default(), &dir).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.contains("pyproject.toml"), "{text}: {e}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    /// Tables shaped as real projects write them (the keys counted over 35
    /// well-known native packages, platform tables, dotted keys, inline
    /// overrides, `$VAR` values, keys of other platforms and older versions):
    /// every key is taken or named, and only the typo is unknown.
    #[test]
    fn a_corpus_of_real_world_tables_is_accounted_for() {
        let corpus: &[&str] = &[
            r#"[tool.cibuildwheel]
skip = ["*-musllinux*", "pp*"]
test-command = ["python {project}/tests/runner.py", "python {project}/tests/leaks.py"]
test-extras = "test"
[tool.cibuildwheel.macos]
archs = ["arm64", "x86_64"]"#,
            r#"[tool.cibuildwheel]
build = "cp3*"
build-verbosity = 1
test-requires = ["pytest", "hypothesis"]
test-command = "pytest {package}/tests"
[tool.cibuildwheel.linux]
before-all = "yum install -y libffi-devel || apk add libffi-dev"
environment = { CFLAGS = "-O2", PATH = "$PATH:/usr/local/bin" }
repair-wheel-command = "auditwheel repair --exclude libcuda.so.1 -w {dest_dir} {wheel}"
manylinux-x86_64-image = "manylinux_2_28"
manylinux-aarch64-image = "manylinux_2_28"
musllinux-x86_64-image = "musllinux_1_2"
[tool.cibuildwheel.windows]
before-build = "pip install delvewheel"
repair-wheel-command = "delvewheel repair -w {dest_dir} {wheel}""#,
            r#"[tool.cibuildwheel]
enable = ["pypy", "pypy-eol"]
test-skip = ["*-macosx_arm64", "pp*"]
build-frontend = "build[uv]"
config-settings = { "setup-args" = ["-Dallow-noblas=true"], "build-dir" = "build" }
macos.config-settings = { "setup-args" = ["-Dblas=accelerate"] }
overrides = [
  { select = "*-manylinux*", environment = { PATH = "$PATH:/opt/tool/bin" }, inherit.environment = "append" },
  { select = "cp313t-*", test-command = "pytest -p no:cacheprovider {project}/tests" },
]"#,
            r#"[tool.cibuildwheel]
before-build = ["pip install cython", "python {project}/tools/prepare.py"]
environment = "LDFLAGS=\"-Wl,--strip-all\" OPENSSL_DIR=/usr/local/ssl"
environment-pass = ["CI", "GITHUB_SHA"]
test-sources = ["tests", "conftest.py"]
test-groups = ["test"]
dependency-versions = "latest"
container-engine = "docker; create_args: --memory=8g"
archs = ["auto64"]
[dependency-groups]
test = ["pytest"]
[tool.cibuildwheel.pyodide]
build-frontend = "pyodide-build"
[tool.cibuildwheel.ios]
xbuild-tools = ["cmake"]
[[tool.cibuildwheel.overrides]]
select = "pp*"
before-test = "pip install numpy"
manylinux-x86_64-image = "manylinux2014"
test-comand = "pytest""#,
        ];
        let mut accounted = 0;
        for (n, text) in corpus.iter().enumerate() {
            let dir = package(text);
            let (_, account) =
                adopt(&Config::default(), &dir).unwrap_or_else(|e| panic!("{n}: {e}"));
            let lines = account.lines().join("\n");
            let doc: toml::Table = text.parse().unwrap();
            let cibw = doc["tool"]["cibuildwheel"].as_table().unwrap();
            let named = |key: &str| {
                account.adopted.iter().any(|a| a == key)
                    || account
                        .unused
                        .iter()
                        .any(|(k, _)| k == key || k.ends_with(&format!(") {key}")))
                    || account.overrides.iter().any(|o| o.contains(key))
            };
            for (key, value) in cibw {
                match (key.as_str(), value) {
                    ("linux", toml::Value::Table(t)) => {
                        for k in t.keys() {
                            assert!(
                                named(k) || named(&format!("linux.{k}")),
                                "{n}: linux.{k} is neither taken nor named:\n{lines}"
                            );
                        }
                    }
                    ("overrides", toml::Value::Array(entries)) => {
                        for e in entries {
                            for k in e
                                .as_table()
                                .unwrap()
                                .keys()
                                .filter(|k| *k != "select" && *k != "inherit")
                            {
                                let typo = k == "test-comand";
                                assert!(
                                    named(k)
                                        || (typo && lines.contains("did you mean `test-command`")),
                                    "{n}: overrides {k}:\n{lines}"
                                );
                            }
                        }
                    }
                    (key, _) => assert!(
                        named(key),
                        "{n}: {key} is neither taken nor named:\n{lines}"
                    ),
                }
            }
            assert_eq!(
                account.unknown.len(),
                usize::from(text.contains("test-comand")),
                "{n}: {lines}"
            );
            if text.contains("build[uv]") {
                assert!(
                    lines.contains(
                        "build-frontend `build[uv]`: not used here (uv is not in the images"
                    ),
                    "{n}: {lines}"
                );
            }
            accounted += 1;
            std::fs::remove_dir_all(dir).unwrap();
        }
        assert_eq!(accounted, corpus.len());
    }
}
