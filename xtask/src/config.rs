//! `[workspace.metadata.wheels]` of the root Cargo.toml: every key optional, every
//! unknown key or wrong type an error that names the key and the file.

use anyhow::{bail, Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::images;
use crate::patterns::Patterns;
use crate::platform::{parse_arches, Arch, Libc, Selection};

const SECTION: &str = "workspace.metadata.wheels";

/// Variables the in-container build sets or relies on; `env` may not override them.
pub const RESERVED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "PYTHONPATH",
    "PYTHONHOME",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "AUDITWHEEL_PLAT",
    "AUDITWHEEL_ARCH",
    "AUDITWHEEL_POLICY",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file it was read from, and its folder, where its relative paths start.
    pub file: Utf8PathBuf,
    pub dir: Utf8PathBuf,
    /// The folder whose files the build may read, relative to the project root.
    pub root: Utf8PathBuf,
    /// The Python package (where pyproject.toml or setup.py is), relative to `root`.
    pub package: Utf8PathBuf,
    /// Other paths under `root` that the build reads.
    pub include: Vec<Utf8PathBuf>,
    /// Where repaired wheels land, relative to the project root.
    pub out: Utf8PathBuf,
    pub arch: Vec<Arch>,
    /// The C libraries to build for: manylinux (glibc), musllinux (musl) or both.
    pub libc: Vec<Libc>,
    pub python: Selection,
    pub build_isolation: bool,
    /// Keep pip's cache in a named volume between runs.
    pub pip_cache: bool,
    /// Compile through ccache, its cache in a volume per arch and image.
    pub ccache: bool,
    /// Emulated builds compile with the native clang (`native-compiler`).
    pub native_compiler: bool,
    /// Emulated builds run their frontend and backend in a native CPython
    /// configured for the target, where one matches (`cross-environment`).
    pub cross_environment: bool,
    pub env: Vec<(String, String)>,
    /// Variables of `env` whose values are masked in printed commands.
    pub secret_env: Vec<String>,
    /// Host commands run before and after each build, placeholders substituted
    /// (`{arch}`, `{py}`, `{version}`, `{include}`).
    pub pre_build: Vec<String>,
    pub post_build: Vec<String>,
    /// What `{arch}` becomes in those commands, where the project names an arch
    /// its own way (Lets-Plot writes `arm64`).
    pub arch_names: [Option<String>; Arch::COUNT],
    /// Folders outside the root the build reads, each given to the build as
    /// an environment variable holding its path in the container.
    pub input_dirs: Vec<(String, Utf8PathBuf)>,
    pub images: PerArch,
    /// The image of each arch's musllinux builds.
    pub musllinux_images: PerArch,
    pub plat: [Option<String>; Arch::COUNT],
    /// The engine each architecture builds on.
    pub engines: [EngineSpec; Arch::COUNT],
    /// Extra arguments for every build container's create (`docker run`).
    pub container_args: Vec<String>,
    /// cibuildwheel-style build identifier patterns: what to build, what to skip.
    pub build: Patterns,
    pub skip: Patterns,
    /// The project's tests, run against each installed wheel (cibuildwheel's meaning).
    pub test: Test,
    /// What a build that gives a pure-Python wheel gets.
    pub pure_wheel: PureWheel,
    /// The compile jobs of one build; None: its share of the cores.
    pub build_jobs: Option<usize>,
    /// A shell command run in the container before each build, in the
    /// package's copy (cibuildwheel's `before-build`).
    pub before_build: Option<String>,
    /// Steps and settings of the build in the container that only a
    /// package's `[tool.cibuildwheel]` gives.
    pub steps: Steps,
    /// `[[tool.cibuildwheel.overrides]]`: settings of the builds each selects.
    pub overrides: Vec<Override>,
    /// The keys the file sets, so that another source fills only the others.
    pub given: Vec<String>,
    pub arm_image: ImageRecipe,
    pub x64_image: ImageRecipe,
    pub qemu_image: String,
}

/// A package that is native on some interpreters may be pure Python on
/// others (PyPy, where it skips its speed-ups): what such a build gets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum PureWheel {
    /// The build fails, naming the interpreter and both other choices.
    #[default]
    Fail,
    /// The pure wheel is checked, tested and shipped as it is.
    Accept,
    /// The build is skipped, and the run does not fail for it.
    Skip,
}

impl PureWheel {
    pub fn parse(s: &str) -> Result<PureWheel, String> {
        match s {
            "fail" => Ok(PureWheel::Fail),
            "accept" => Ok(PureWheel::Accept),
            "skip" => Ok(PureWheel::Skip),
            _ => Err(format!(
                "`{s}` is not one of fail, accept, skip (what a build that gives a pure-Python wheel gets)"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PureWheel::Fail => "fail",
            PureWheel::Accept => "accept",
            PureWheel::Skip => "skip",
        }
    }
}

/// cibuildwheel's test options: a shell command run in the container, with
/// `{project}` and `{package}` standing for the copied sources.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Test {
    pub command: Option<String>,
    pub requires: Vec<String>,
    /// Paths under the root copied into the folder the command runs in.
    pub sources: Vec<String>,
    /// Build identifiers whose wheels are not tested.
    pub skip: Patterns,
    /// The wheel's extras installed with it for the tests.
    pub extras: Vec<String>,
}

/// cibuildwheel's steps and settings of the build in the container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Steps {
    /// Run once per container, before any build, in the copied sources.
    pub before_all: Option<String>,
    /// Run before each wheel's tests, in the tests' environment.
    pub before_test: Option<String>,
    /// Variables whose values are bash words the container evaluates, in
    /// order (`PATH=$PATH:/opt/bin`, `LIBS="$(pkg-config --libs z)"`).
    pub env_eval: Vec<(String, String)>,
    /// cibuildwheel's `test-environment`: evaluated as `env_eval` is, for
    /// the test steps only (before-test, the installs, the test command).
    pub test_env_eval: Vec<(String, String)>,
    /// `KEY=VALUE` settings for the build backend (PEP 517 config settings).
    pub config_settings: Vec<String>,
    pub frontend: Frontend,
    /// The build frontend's verbosity, -3 to 3.
    pub verbosity: i8,
    /// cibuildwheel's `repair-wheel-command` in place of `auditwheel repair`
    /// (`{wheel}`, `{dest_dir}`); empty: the wheel is not repaired.
    pub repair_command: Option<String>,
    /// cibuildwheel 4's `audit-requires` and `audit-command` (wheels/audit.rs);
    /// None: its defaults (abi3audit on abi3 wheels).
    pub audit_requires: Option<Vec<String>>,
    pub audit_command: Option<String>,
    /// cibuildwheel 4's `enable` groups, where a `[tool.cibuildwheel]` table
    /// (or this tool's `enable`) asks for its selection: PyPy (`pypy`,
    /// `pypy-eol`) and pre-release CPython only when named, free-threaded
    /// CPython from 3.14 on. None: everything the images offer.
    pub enable: Option<Vec<String>>,
}

/// One `[[tool.cibuildwheel.overrides]]` entry: the builds it selects, the
/// keys it sets (each read into `settings` as the table's own key is read),
/// and how each joins what the run already has.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub select: Patterns,
    pub keys: Vec<(String, Inherit)>,
    pub settings: Box<Config>,
}

/// cibuildwheel's `inherit`: an override's value replaces the run's
/// (`none`), or comes before (`prepend`) or after it (`append`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inherit {
    None,
    Prepend,
    Append,
}

/// The build frontend: `build` (also `build[uv]`, `default`) or `pip`, and
/// extra arguments for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Frontend {
    pub name: String,
    pub args: Vec<String>,
}

impl Frontend {
    /// `build-frontend`: `build`, `build[uv]`, `pip`, with `; args: ...`,
    /// or a table with `name` and `args` (this tool's key and cibuildwheel's).
    pub fn from_value(value: &toml::Value) -> Result<Frontend, String> {
        let (name, args) = match value {
            toml::Value::String(s) => match s.split_once(';') {
                Some((name, rest)) => {
                    let args = rest
                        .trim()
                        .strip_prefix("args:")
                        .ok_or_else(|| format!("`{s}`: after `;` comes `args: ...`"))?;
                    (name.trim().to_string(), crate::util::shell_words(args)?)
                }
                None => (s.trim().to_string(), Vec::new()),
            },
            toml::Value::Table(t) => {
                let name = t
                    .get("name")
                    .and_then(|n| n.as_str())
                    .ok_or_else(|| "a table with a `name` is expected".to_string())?;
                let args = match t.get("args") {
                    Some(toml::Value::Array(items)) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(String::from)
                                .ok_or("args: strings are expected")
                        })
                        .collect::<Result<_, _>>()?,
                    None => Vec::new(),
                    Some(_) => return Err("args: a list of strings is expected".into()),
                };
                (name.to_string(), args)
            }
            _ => return Err("a string or a table is expected".into()),
        };
        match name.as_str() {
            "build" | "default" | "build[uv]" | "pip" => Ok(Frontend { name, args }),
            other => Err(format!(
                "`{other}` is not a frontend this tool runs on Linux: use build, build[uv] or pip"
            )),
        }
    }
}

impl Default for Frontend {
    fn default() -> Frontend {
        Frontend {
            name: "build".into(),
            args: Vec::new(),
        }
    }
}

/// One image per architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct PerArch(pub [String; Arch::COUNT]);

impl PerArch {
    pub fn get(&self, arch: Arch) -> &str {
        &self.0[arch as usize]
    }
}

/// How `arm-image` and `x64-image` make their image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecipe {
    pub base: String,
    pub tag: String,
    pub packages: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            file: crate::util::project_root().join("Cargo.toml"),
            dir: crate::util::project_root(),
            root: ".".into(),
            package: ".".into(),
            include: Vec::new(),
            out: "dist".into(),
            // The seed's two: the others are asked for by name (or `all`).
            arch: vec![Arch::X86_64, Arch::Aarch64],
            // manylinux alone: the wheels the seed's users ship.
            libc: vec![Libc::Glibc],
            python: Selection::All,
            build_isolation: true,
            pip_cache: false,
            ccache: false,
            native_compiler: false,
            cross_environment: true,
            env: Vec::new(),
            secret_env: Vec::new(),
            pre_build: Vec::new(),
            post_build: Vec::new(),
            arch_names: Default::default(),
            input_dirs: Vec::new(),
            images: PerArch(Arch::ALL.map(|a| images::image(a.row().manylinux_image))),
            musllinux_images: PerArch(
                Arch::ALL.map(|a| images::image(&format!("musllinux_1_2_{a}"))),
            ),
            plat: Default::default(),
            engines: Default::default(),
            container_args: Vec::new(),
            build: Patterns::default(),
            skip: Patterns::default(),
            test: Test::default(),
            pure_wheel: PureWheel::Fail,
            build_jobs: None,
            before_build: None,
            steps: Steps::default(),
            overrides: Vec::new(),
            given: Vec::new(),
            arm_image: ImageRecipe {
                base: images::image("manylinux2014_aarch64"),
                tag: "manylinux_aarch64".into(),
                packages: Vec::new(),
            },
            x64_image: ImageRecipe {
                base: images::image("manylinux2014_x86_64"),
                tag: "manylinux_x64".into(),
                packages: vec!["libpng-devel".into()],
            },
            qemu_image: "multiarch/qemu-user-static".into(),
        }
    }
}

impl Config {
    pub fn load(file: &Utf8Path) -> Result<Config> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        Config::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Utf8Path) -> Result<Config> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e| anyhow::anyhow!("{file} is not valid TOML: {e}"))?;
        let mut config = Config {
            file: file.to_path_buf(),
            dir: file.parent().map(Utf8Path::to_path_buf).unwrap_or_default(),
            ..Config::default()
        };
        let section = doc
            .get("workspace")
            .and_then(|w| w.get("metadata"))
            .and_then(|m| m.get("wheels"));
        let Some(section) = section else {
            return Ok(config);
        };
        let mut r = Reader::new(file, SECTION.to_string(), section)?;
        config.given = r.table.keys().cloned().collect();
        config.read_build(&mut r)?;
        config.read_environment(&mut r)?;
        config.read_images(&mut r)?;
        config.read_selection_and_tests(&mut r)?;
        r.finish()?;
        Ok(config)
    }

    /// What is built and how: paths, arches, interpreters, isolation, caches, jobs.
    fn read_build(&mut self, r: &mut Reader) -> Result<()> {
        if let Some(v) = r.path("root")? {
            self.root = v;
        }
        if let Some(v) = r.path("package")? {
            self.package = v;
        }
        if let Some(v) = r.strings("include")? {
            self.include = v.into_iter().map(Utf8PathBuf::from).collect();
        }
        if let Some(v) = r.path("out")? {
            self.out = v;
        }
        if let Some(v) = r.strings("arch")? {
            self.arch = parse_arches(&v).map_err(|e| r.invalid("arch", e))?;
        }
        if let Some(v) = r.strings("libc")? {
            self.libc = Libc::parse_list(&v).map_err(|e| r.invalid("libc", e))?;
        }
        if let Some(v) = r.strings_or_string("python")? {
            self.python = Selection::parse_list(&v).map_err(|e| r.invalid("python", e))?;
        }
        if let Some(v) = r.bool("build-isolation")? {
            self.build_isolation = v;
        }
        if let Some(v) = r.bool("pip-cache")? {
            self.pip_cache = v;
        }
        if let Some(v) = r.bool("ccache")? {
            self.ccache = v;
        }
        if let Some(v) = r.bool("native-compiler")? {
            self.native_compiler = v;
        }
        if let Some(v) = r.bool("cross-environment")? {
            self.cross_environment = v;
        }
        if let Some(v) = r.count("build-jobs")? {
            self.build_jobs = Some(v);
        }
        if let Some(v) = r.string("pure-wheel")? {
            self.pure_wheel = PureWheel::parse(&v).map_err(|e| r.invalid("pure-wheel", e))?;
        }
        Ok(())
    }

    /// The build's variables, the host hooks and the folders outside the root.
    fn read_environment(&mut self, r: &mut Reader) -> Result<()> {
        if let Some(mut env) = r.table("env")? {
            for key in env.keys() {
                let value = env.string(&key)?.expect("key exists");
                check_env_name(&key).map_err(|e| env.invalid(&key, e))?;
                self.env.push((key, value));
            }
            env.finish()?;
        }
        if let Some(v) = r.strings("secret-env")? {
            self.secret_env = v;
        }
        for (key, hook) in [
            ("pre-build", &mut self.pre_build),
            ("post-build", &mut self.post_build),
        ] {
            if let Some(v) = r.strings(key)? {
                if v.is_empty() {
                    return Err(r.invalid(
                        key,
                        "it is empty: give a program and its arguments, or leave the key out",
                    ));
                }
                *hook = v;
            }
        }
        if let Some(names) = r.table("arch-names")? {
            read_per_arch(names, |arch, v| self.arch_names[arch as usize] = Some(v))?;
        }
        if let Some(mut dirs) = r.table("input-dirs")? {
            for key in dirs.keys() {
                let value = dirs.path(&key)?.expect("key exists");
                check_env_name(&key).map_err(|e| dirs.invalid(&key, e))?;
                self.input_dirs.push((key, self.dir.join(value)));
            }
            dirs.finish()?;
        }
        Ok(())
    }

    /// Images, platform tags, the image recipes and each arch's engine.
    fn read_images(&mut self, r: &mut Reader) -> Result<()> {
        if let Some(images) = r.table("images")? {
            read_per_arch(images, |arch, v| self.images.0[arch as usize] = v)?;
        }
        if let Some(images) = r.table("musllinux-images")? {
            read_per_arch(images, |arch, v| self.musllinux_images.0[arch as usize] = v)?;
        }
        if let Some(plat) = r.table("plat")? {
            read_per_arch(plat, |arch, v| self.plat[arch as usize] = Some(v))?;
        }
        for (key, recipe) in [
            ("arm-image", &mut self.arm_image),
            ("x64-image", &mut self.x64_image),
        ] {
            if let Some(mut t) = r.table(key)? {
                if let Some(v) = t.string("base")? {
                    recipe.base = v;
                }
                if let Some(v) = t.string("tag")? {
                    recipe.tag = v;
                }
                if let Some(v) = t.strings("packages")? {
                    recipe.packages = v;
                }
                t.finish()?;
            }
        }
        if let Some(engines) = r.table("engines")? {
            let mut bad = None;
            let section = format!("{SECTION}.engines");
            read_per_arch(engines, |arch, v| match EngineSpec::parse(&v) {
                Ok(spec) => self.engines[arch as usize] = spec,
                Err(e) => bad = Some(format!("`{section}.{arch}` in {}: {e}", self.file)),
            })?;
            if let Some(e) = bad {
                bail!("{e}");
            }
        }
        Ok(())
    }

    /// Container arguments, identifier patterns, tests, before-build and the QEMU registration image.
    fn read_selection_and_tests(&mut self, r: &mut Reader) -> Result<()> {
        if let Some(v) = r.strings("container-args")? {
            self.container_args = v;
        }
        for key in ["build", "skip"] {
            if let Some(v) = r.strings_or_words(key)? {
                let patterns = Patterns::parse(&v).map_err(|e| r.invalid(key, e))?;
                match key {
                    "build" => self.build = patterns,
                    _ => self.skip = patterns,
                }
            }
        }
        if let Some(v) = r.string("test-command")? {
            if v.trim().is_empty() {
                return Err(r.invalid(
                    "test-command",
                    "is empty: give a command such as \"pytest {package}/tests\", or leave the key out",
                ));
            }
            self.test.command = Some(v);
        }
        if let Some(v) = r.strings_or_words("test-requires")? {
            self.test.requires = v;
        }
        if let Some(v) = r.strings_or_words("test-sources")? {
            self.test.sources = v;
        }
        if let Some(v) = r.string("before-build")? {
            self.before_build = Some(v);
        }
        if let Some(v) = r.strings_or_words("test-skip")? {
            self.test.skip = Patterns::parse(&v).map_err(|e| r.invalid("test-skip", e))?;
        }
        if let Some(v) = r.string("qemu-image")? {
            self.qemu_image = v;
        }
        if let Some(v) = r.get("build-frontend") {
            self.steps.frontend =
                Frontend::from_value(v).map_err(|e| r.invalid("build-frontend", e))?;
        }
        Ok(())
    }

    pub fn engine(&self, arch: Arch) -> &EngineSpec {
        &self.engines[arch as usize]
    }

    /// Applies the global `--engine ARCH=VALUE` flags over the file's engines.
    pub fn set_engines(&mut self, flags: &[String]) -> Result<()> {
        for item in flags {
            let (arch, value) = item.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--engine `{item}` has no `=`: write ARCH=ENGINE, such as aarch64=ssh://me@arm-box")
            })?;
            let arch =
                Arch::parse(arch.trim()).map_err(|e| anyhow::anyhow!("--engine `{item}`: {e}"))?;
            self.engines[arch as usize] =
                EngineSpec::parse(value).map_err(|e| anyhow::anyhow!("--engine `{item}`: {e}"))?;
        }
        Ok(())
    }

    /// The image of `arch`'s builds for `libc`.
    pub fn image(&self, arch: Arch, libc: Libc) -> &str {
        match libc {
            Libc::Glibc => self.images.get(arch),
            Libc::Musl => self.musllinux_images.get(arch),
        }
    }

    pub fn plat(&self, arch: Arch) -> Option<&str> {
        self.plat[arch as usize].as_deref()
    }
}

fn read_per_arch(mut t: Reader<'_>, mut set: impl FnMut(Arch, String)) -> Result<()> {
    for arch in Arch::ALL {
        if let Some(v) = t.string(arch.name())? {
            set(arch, v);
        }
    }
    t.finish()
}

/// A variable the user may pass into the build.
pub fn check_env_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        bail!("`{name}` is not a valid environment variable name: use letters, digits and _");
    }
    if RESERVED_ENV.contains(&name) || name.starts_with("XTASK_") {
        bail!("`{name}` is set by the build itself and cannot be overridden: pick another name");
    }
    Ok(())
}

/// Reads the keys of one table, remembering which it saw so that `finish`
/// can name every key it does not know.
struct Reader<'a> {
    file: &'a Utf8Path,
    section: String,
    table: &'a toml::Table,
    seen: Vec<String>,
}

impl<'a> Reader<'a> {
    fn new(file: &'a Utf8Path, section: String, value: &'a toml::Value) -> Result<Reader<'a>> {
        match value.as_table() {
            Some(table) => Ok(Reader {
                file,
                section,
                table,
                seen: Vec::new(),
            }),
            None => bail!("`{section}` in {file} must be a table, not {}", kind(value)),
        }
    }

    fn keys(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    fn invalid(&self, key: &str, e: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("`{}.{key}` in {}: {e}", self.section, self.file)
    }

    fn get(&mut self, key: &str) -> Option<&'a toml::Value> {
        self.seen.push(key.to_string());
        self.table.get(key)
    }

    fn wrong_type(&self, key: &str, expected: &str, value: &toml::Value) -> anyhow::Error {
        self.invalid(key, format!("must be {expected}, not {}", kind(value)))
    }

    fn string(&mut self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.wrong_type(key, "a string", v)),
        }
    }

    fn path(&mut self, key: &str) -> Result<Option<Utf8PathBuf>> {
        match self.string(key)? {
            Some(s) if s.is_empty() => {
                Err(self.invalid(key, "is empty: give a path, or leave the key out"))
            }
            other => Ok(other.map(Utf8PathBuf::from)),
        }
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong_type(key, "true or false", v)),
        }
    }

    /// A whole number of at least 1.
    fn count(&mut self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) if *n >= 1 => Ok(Some(*n as usize)),
            Some(toml::Value::Integer(n)) => {
                Err(self.invalid(key, format!("{n} is not a count: give 1 or more")))
            }
            Some(v) => Err(self.wrong_type(key, "an integer", v)),
        }
    }

    fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let items = value
            .as_array()
            .ok_or_else(|| self.wrong_type(key, "a list of strings", value))?;
        items
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => Ok(s.clone()),
                v => Err(self.wrong_type(key, "a list of strings", v)),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// A list, or one string holding a comma-separated list (as on the command line).
    fn strings_or_string(&mut self, key: &str) -> Result<Option<Vec<String>>> {
        match self.table.get(key) {
            Some(toml::Value::String(s)) => {
                self.seen.push(key.to_string());
                Ok(Some(s.split(',').map(str::to_string).collect()))
            }
            _ => self.strings(key),
        }
    }

    /// A list, or one string of space-separated words (cibuildwheel's selectors).
    fn strings_or_words(&mut self, key: &str) -> Result<Option<Vec<String>>> {
        match self.table.get(key) {
            Some(toml::Value::String(s)) => {
                self.seen.push(key.to_string());
                Ok(Some(s.split_whitespace().map(str::to_string).collect()))
            }
            _ => self.strings(key),
        }
    }

    fn table(&mut self, key: &str) -> Result<Option<Reader<'a>>> {
        let section = format!("{}.{key}", self.section);
        let file = self.file;
        self.get(key)
            .map(|v| Reader::new(file, section, v))
            .transpose()
    }

    fn finish(self) -> Result<()> {
        for key in self.table.keys() {
            if !self.seen.iter().any(|s| s == key) {
                let known = self.seen.join(", ");
                bail!(
                    "unknown key `{}.{key}` in {}: known keys here are {known}",
                    self.section,
                    self.file
                );
            }
        }
        Ok(())
    }
}

fn kind(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// Which engine an architecture builds on, as the user wrote it: a Docker
/// context name, an engine URL, or podman (local or by URL).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum EngineSpec {
    /// What the docker CLI uses now (its environment, its current context);
    /// `XTASK_ENGINE`, else `docker`, else `podman`.
    #[default]
    Default,
    Context(String),
    /// `unix://`, `tcp://` or `ssh://user@host[:port]`.
    Host(String),
    /// Local podman, or podman at a URL (written `podman+ssh://...`).
    Podman(Option<String>),
}

impl EngineSpec {
    pub fn parse(value: &str) -> Result<EngineSpec, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("the engine is empty: give a Docker context name, an engine URL (unix://, tcp://, ssh://user@host), or podman".into());
        }
        if value == "docker" {
            return Ok(EngineSpec::Default);
        }
        if value == "podman" {
            return Ok(EngineSpec::Podman(None));
        }
        let url_ok = |url: &str| {
            let (scheme, rest) = url.split_once("://")?;
            (["unix", "tcp", "ssh"].contains(&scheme) && !rest.is_empty()).then_some(())
        };
        if let Some(url) = value.strip_prefix("podman+") {
            return url_ok(url)
                .map(|()| EngineSpec::Podman(Some(url.to_string())))
                .ok_or_else(|| format!("engine `{value}` is not a podman URL: write podman+unix:///path, podman+tcp://host:port or podman+ssh://user@host[:port]/socket"));
        }
        if value.contains("://") {
            return url_ok(value)
                .map(|()| EngineSpec::Host(value.to_string()))
                .ok_or_else(|| format!("engine `{value}` is not an engine URL: use unix:///path, tcp://host:port or ssh://user@host[:port]"));
        }
        let context_ok = value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b));
        if context_ok {
            Ok(EngineSpec::Context(value.to_string()))
        } else {
            Err(format!("engine `{value}` is neither a Docker context name nor an engine URL: give a context (`docker context ls`), unix://, tcp://, ssh://user@host, or podman"))
        }
    }
}

impl std::fmt::Display for EngineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineSpec::Default => f.write_str("the default engine"),
            EngineSpec::Context(c) => write!(f, "context {c}"),
            EngineSpec::Host(h) => f.write_str(h),
            EngineSpec::Podman(None) => f.write_str("podman"),
            EngineSpec::Podman(Some(url)) => write!(f, "podman+{url}"),
        }
    }
}

#[cfg(test)]
mod tests;
