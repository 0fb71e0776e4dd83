//! The plan of a `wheels` run: every input decided and validated before
//! anything is started or written.

use anyhow::Result;
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};

use super::cibuildwheel::{self, Account};
use super::contract::INPUTS;
use super::package::Provenance;
use super::package::RequiresPython;
use super::select::{platform_name, SelectionFlags, Selector};
use crate::config::{check_env_name, Config, Inherit, Override, PureWheel, Steps, Test};
use crate::flags;
use crate::platform::{Arch, BuildId, Libc};
use crate::util::usage;

/// Everything a run needs, decided and validated before anything is started.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What the run builds (see `Selector::builds`).
    pub selector: Selector,
    pub image: Option<String>,
    pub plat: Option<String>,
    pub standin: bool,
    pub pull: bool,
    pub root: Utf8PathBuf,
    pub package: Utf8PathBuf,
    pub include: Vec<Utf8PathBuf>,
    pub out: Utf8PathBuf,
    pub env: Vec<(String, String)>,
    /// The variables whose values are never printed nor kept in a
    /// container's configuration (`secret-env`, cibuildwheel's
    /// `environment-pass`).
    pub secrets: Vec<String>,
    pub isolation: bool,
    pub pip_cache: bool,
    pub ccache: bool,
    /// Emulated builds with every native helper off (`--full-emulation`).
    pub full_emulation: bool,
    /// Emulated builds compile with the native clang (`--native-compiler`).
    pub native_compiler: bool,
    /// Emulated builds run their frontend and backend natively where they
    /// can (`cross-environment`, off with `--full-emulation`).
    pub cross_environment: bool,
    pub jobs: usize,
    /// The compile jobs of one build; None: its share of the cores.
    pub build_jobs: Option<usize>,
    pub fail_fast: bool,
    pub pre_build: Vec<String>,
    pub post_build: Vec<String>,
    pub arch_names: [Option<String>; Arch::COUNT],
    /// Folders outside the root, by the variable that holds their path in the container.
    pub input_dirs: Vec<(String, Utf8PathBuf)>,
    /// Extra arguments for creating each build container.
    pub container_args: Vec<String>,
    pub pure_wheel: PureWheel,
    /// A shell command run in the container before each build.
    pub before_build: Option<String>,
    pub verbose: bool,
    pub keep_container: bool,
    /// Where the summary goes as JSON (`-`: stdout).
    pub json: Option<Utf8PathBuf>,
    /// What became of each key of the package's `[tool.cibuildwheel]`.
    pub cibuildwheel: Account,
    /// The configuration with the package's `[tool.cibuildwheel]` adopted:
    /// what every later stage (targets, images, engines) reads.
    pub config: Config,
    /// cibuildwheel's steps and settings of the build in the container.
    pub steps: Steps,
    /// `[[tool.cibuildwheel.overrides]]`, applied per build (see `for_build`).
    pub overrides: Vec<Override>,
    /// The project's tests; None when there are none or `--no-test`.
    pub test: Option<Test>,
    /// Whether the configuration has tests (that `--no-test` turned off).
    pub test_configured: bool,
    /// Where the sources come from (git, see `take_provenance`), and the timestamp the
    /// wheels carry.
    pub provenance: Provenance,
    pub epoch: Epoch,
}

/// The variables whose values are never shown: the configuration's secrets
/// and, where one of them is a setting of pip's, the native uv's
/// configuration made of it (a token in an index URL goes there too).
fn secrets(config: &Config, env: &[(String, String)]) -> Vec<String> {
    let mut secrets = config.secret_env.clone();
    let pip_secret = env
        .iter()
        .any(|(k, _)| secrets.contains(k) && super::pip_settings::reads(k));
    if pip_secret {
        secrets.push(super::contract::Var::UvConfig.name().to_string());
    }
    secrets
}

/// Where `SOURCE_DATE_EPOCH` came from, for the summary and the manifest.
#[derive(Clone, Debug, PartialEq)]
pub enum Epoch {
    /// Given with `--env` or `env`.
    Given(String),
    /// The root's last commit.
    Commit(String),
    /// Not a git checkout and not given: entry times are the build's.
    Unset,
}

impl Epoch {
    pub fn value(&self) -> Option<&str> {
        match self {
            Epoch::Given(v) | Epoch::Commit(v) => Some(v),
            Epoch::Unset => None,
        }
    }
}

impl Plan {
    /// `cwd` anchors paths from the command line; the config's own folder, its paths.
    pub fn new(flags: flags::Wheels, config: &Config, cwd: &Utf8Path) -> Result<Plan> {
        // A package that already has a cibuildwheel configuration builds the
        // same way without restating it: its keys fill what ours leaves out.
        let package_dir = {
            let root = match &flags.root {
                Some(root) => absolute(cwd, root),
                None => absolute(&config.dir, &config.root),
            };
            root.join(flags.package.as_ref().unwrap_or(&config.package))
        };
        let (config, cibuildwheel) = cibuildwheel::adopt(config, &package_dir).map_err(usage)?;
        let config = &config;
        let whence = Origin(config);
        let mut selector = Selector::new(
            SelectionFlags {
                arch: &flags.arch,
                libc: flags.libc.as_deref(),
                py: flags.py.as_deref(),
                build: flags.build.as_deref(),
                skip: flags.skip.as_deref(),
                only: flags.only.as_deref(),
            },
            config,
        )?;
        if flags.standin && flags.libc.is_none() {
            for line in selector.leave_out_missing_standins() {
                eprintln!("==> {line}");
            }
        }
        check_one_arch_flags(&flags, &selector.platforms, config)?;
        let (root, package) = package_paths(&flags, config, cwd, whence)?;
        let asked = match (&flags.only, &flags.py) {
            (Some(_), _) => "--only".to_string(),
            (None, Some(_)) => "--py".to_string(),
            (None, None) => whence.of("--python", false),
        };
        selector.require(
            RequiresPython::read(&root.join(&package)).map_err(usage)?,
            &asked,
        )?;
        let include = includes(&flags, config, &root, whence)?;
        let out = out_folder(&flags, config, cwd, &root, &package, whence)?;
        let (env, input_dirs) = environment(&flags, config, cwd, whence)?;
        // Reproducible wheels: entry times as given, else from the last
        // commit (see `take_provenance`).
        let epoch = match env.iter().find(|(k, _)| k == "SOURCE_DATE_EPOCH") {
            Some((_, v)) if v.parse::<u64>().is_err() => {
                return Err(usage(format!("SOURCE_DATE_EPOCH `{v}` is not a number of seconds since 1970: give one such as 1700000000")));
            }
            Some((_, v)) => Epoch::Given(v.clone()),
            None => Epoch::Unset,
        };
        let secrets = secrets(config, &env);
        let jobs = flags.jobs.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
        });
        Ok(Plan {
            build_jobs: flags.build_jobs.map(usize::from).or(config.build_jobs),
            selector,
            json: json_file(&flags, cwd)?,
            image: flags.image,
            plat: flags.plat,
            standin: flags.standin,
            pull: flags.pull,
            root,
            package,
            include,
            out,
            env,
            secrets,
            isolation: config.build_isolation && !flags.no_isolation,
            pip_cache: config.pip_cache || flags.pip_cache,
            ccache: config.ccache || flags.ccache,
            full_emulation: flags.full_emulation,
            // --full-emulation wins over the configuration's compiler (the
            // two flags together are refused).
            native_compiler: (config.native_compiler && !flags.full_emulation)
                || flags.native_compiler,
            cross_environment: config.cross_environment
                && !flags.full_emulation
                && !flags.no_cross_environment,
            jobs,
            fail_fast: flags.fail_fast,
            pre_build: config.pre_build.clone(),
            post_build: config.post_build.clone(),
            arch_names: config.arch_names.clone(),
            input_dirs,
            container_args: if flags.container_arg.is_empty() {
                config.container_args.clone()
            } else {
                flags.container_arg
            },
            before_build: config.before_build.clone(),
            verbose: flags.verbose,
            keep_container: flags.keep_container,
            cibuildwheel,
            config: config.clone(),
            steps: config.steps.clone(),
            pure_wheel: match &flags.pure_wheel {
                Some(v) => PureWheel::parse(v).map_err(|e| usage(format!("--pure-wheel {e}")))?,
                None => config.pure_wheel,
            },
            test: (!flags.no_test && tests_configured(config)).then(|| config.test.clone()),
            test_configured: tests_configured(config),
            overrides: config.overrides.clone(),
            provenance: Provenance::default(),
            epoch,
        })
    }

    /// Whether a build of the run asks for uv (`build-frontend = "build[uv]"`,
    /// for the run or in an overrides entry): the native uv then makes the
    /// environments of native targets too, as it does under emulation.
    pub fn asks_uv(&self) -> bool {
        self.steps.frontend.name == "build[uv]"
            || self.overrides.iter().any(|o| {
                o.keys.iter().any(|(k, _)| k == "build-frontend")
                    && o.settings.steps.frontend.name == "build[uv]"
            })
    }

    /// The plan as build `id` sees it: the overrides entries that select it
    /// applied in order, each key joining the run's value as its `inherit`
    /// says.
    pub fn for_build(&self, id: &BuildId) -> Plan {
        let mut plan = self.clone();
        let name = id.to_string();
        for o in self.overrides.iter().filter(|o| o.select.matches(&name)) {
            for (key, how) in &o.keys {
                plan.take_override(key, *how, &o.settings);
            }
        }
        plan
    }

    fn take_override(&mut self, key: &str, how: Inherit, from: &Config) {
        fn join(how: Inherit, ours: Option<&String>, theirs: Option<&String>) -> Option<String> {
            match (how, ours, theirs) {
                (Inherit::Prepend, Some(a), Some(b)) => Some(format!("{b} && {a}")),
                (Inherit::Append, Some(a), Some(b)) => Some(format!("{a} && {b}")),
                (Inherit::None, _, b) | (_, None, b) => b.cloned(),
                (_, a, None) => a.cloned(),
            }
        }
        fn list<T: Clone>(how: Inherit, ours: &[T], theirs: &[T]) -> Vec<T> {
            match how {
                Inherit::None => theirs.to_vec(),
                Inherit::Prepend => theirs.iter().chain(ours).cloned().collect(),
                Inherit::Append => ours.iter().chain(theirs).cloned().collect(),
            }
        }
        match key {
            // Added to the run's variables, which also hold --env and the
            // input dirs: a variable the override sets takes its value, the
            // others stay (inherit only orders the evaluated ones).
            "environment" => {
                let set = |k: &String| {
                    from.env
                        .iter()
                        .chain(&from.steps.env_eval)
                        .any(|(o, _)| o == k)
                };
                self.env.retain(|(k, _)| !set(k));
                self.env.extend(from.env.iter().cloned());
                let kept: Vec<(String, String)> = self
                    .steps
                    .env_eval
                    .iter()
                    .filter(|(k, _)| !set(k))
                    .cloned()
                    .collect();
                let how = if how == Inherit::None {
                    Inherit::Append
                } else {
                    how
                };
                self.steps.env_eval = list(how, &kept, &from.steps.env_eval);
            }
            "before-build" => {
                self.before_build =
                    join(how, self.before_build.as_ref(), from.before_build.as_ref())
            }
            "before-test" => {
                self.steps.before_test = join(
                    how,
                    self.steps.before_test.as_ref(),
                    from.steps.before_test.as_ref(),
                )
            }
            "repair-wheel-command" => self.steps.repair_command = from.steps.repair_command.clone(),
            "audit-requires" => self.steps.audit_requires = from.steps.audit_requires.clone(),
            "audit-command" => self.steps.audit_command = from.steps.audit_command.clone(),
            "config-settings" => {
                self.steps.config_settings = list(
                    how,
                    &self.steps.config_settings,
                    &from.steps.config_settings,
                )
            }
            "build-frontend" => self.steps.frontend = from.steps.frontend.clone(),
            "build-verbosity" => self.steps.verbosity = from.steps.verbosity,
            _ => {
                // The test keys change the tests only where they run (not with --no-test).
                let Some(test) = self.test.as_mut() else {
                    return;
                };
                match key {
                    "test-command" => {
                        test.command = join(how, test.command.as_ref(), from.test.command.as_ref())
                    }
                    // test-groups were read into the requirements.
                    "test-requires" | "test-groups" => {
                        test.requires = list(how, &test.requires, &from.test.requires)
                    }
                    "test-extras" => test.extras = list(how, &test.extras, &from.test.extras),
                    "test-sources" => test.sources = list(how, &test.sources, &from.test.sources),
                    "test-skip" => test.skip = from.test.skip.clone(),
                    _ => {}
                }
            }
        }
    }

    /// Takes what git tells of the root (asked while the engines answer):
    /// unless given, the wheels' entry times are the last commit's.
    pub fn take_provenance(&mut self, provenance: Provenance) {
        if let (Epoch::Unset, Some(t)) = (&self.epoch, &provenance.commit_time) {
            self.env.push(("SOURCE_DATE_EPOCH".into(), t.clone()));
            self.epoch = Epoch::Commit(t.clone());
        }
        self.provenance = provenance;
    }
}

/// Whether the project has tests: a test command for every build, or for
/// the builds an overrides entry selects.
fn tests_configured(config: &Config) -> bool {
    config.test.command.is_some()
        || config
            .overrides
            .iter()
            .any(|o| o.keys.iter().any(|(k, _)| k == "test-command"))
}

/// Where a value came from, for its errors: the flag, or the key and its file.
#[derive(Clone, Copy)]
struct Origin<'a>(&'a Config);

impl Origin<'_> {
    fn of(self, flag: &str, given: bool) -> String {
        if given {
            flag.to_string()
        } else {
            format!("{} (in {})", flag.trim_start_matches('-'), self.0.file)
        }
    }
}

/// `--image` and `--plat` name one arch's image and tag; they are checked
/// before anything starts.
fn check_one_arch_flags(
    flags: &flags::Wheels,
    platforms: &[(Arch, Libc)],
    config: &Config,
) -> Result<()> {
    for (flag, given) in [
        ("--image", flags.image.is_some()),
        ("--plat", flags.plat.is_some()),
    ] {
        if given && platforms.len() > 1 {
            let names: Vec<String> = platforms
                .iter()
                .map(|&(a, l)| platform_name(a, l))
                .collect();
            return Err(usage(format!(
                "{flag} applies to one arch and libc, but {} are asked for ({}): build one at a time, or set images/musllinux-images/plat per arch in Cargo.toml",
                platforms.len(),
                names.join(", ")
            )));
        }
    }
    let arches: Vec<Arch> = platforms.iter().map(|&(a, _)| a).collect();
    if let Some(image) = &flags.image {
        if image.trim().is_empty() {
            return Err(usage(
                "--image is empty: name an image, such as quay.io/pypa/manylinux2014_x86_64",
            ));
        }
    }
    if let Some(plat) = flags
        .plat
        .as_deref()
        .or(arches.first().and_then(|&a| config.plat(a)))
    {
        check_plat(plat).map_err(usage)?;
    }
    Ok(())
}

/// The root (an existing folder) and the package folder under it, which
/// holds pyproject.toml or setup.py.
fn package_paths(
    flags: &flags::Wheels,
    config: &Config,
    cwd: &Utf8Path,
    whence: Origin,
) -> Result<(Utf8PathBuf, Utf8PathBuf)> {
    let root = match &flags.root {
        Some(root) => absolute(cwd, root),
        None => absolute(&config.dir, &config.root),
    };
    let root = existing_dir(&root, &whence.of("--root", flags.root.is_some()))?;
    let package_from = whence.of("--package", flags.package.is_some());
    let package = inside(
        &root,
        flags.package.as_ref().unwrap_or(&config.package),
        &package_from,
    )?;
    if !root.join(&package).is_dir() {
        return Err(usage(format!("{package_from} `{package}` is not a folder under {root}: give the folder that holds pyproject.toml or setup.py")));
    }
    if !["pyproject.toml", "setup.py"]
        .iter()
        .any(|f| root.join(&package).join(f).is_file())
    {
        return Err(usage(format!("{package_from} `{package}` has no pyproject.toml or setup.py: give the Python package's folder")));
    }
    Ok((root, package))
}

/// The other paths under the root the build reads, globs expanded.
fn includes(
    flags: &flags::Wheels,
    config: &Config,
    root: &Utf8Path,
    whence: Origin,
) -> Result<Vec<Utf8PathBuf>> {
    let (includes, from) = if flags.include.is_empty() {
        (&config.include, whence.of("--include", false))
    } else {
        (&flags.include, whence.of("--include", true))
    };
    let mut include = Vec::new();
    for p in includes {
        for path in expand_include(root, p, &from)? {
            let path = inside(root, &path, &from)?;
            if !include.contains(&path) {
                include.push(path);
            }
        }
    }
    Ok(include)
}

/// Where the wheels land: a folder (or none yet), not the root, not inside
/// the package.
fn out_folder(
    flags: &flags::Wheels,
    config: &Config,
    cwd: &Utf8Path,
    root: &Utf8Path,
    package: &Utf8Path,
    whence: Origin,
) -> Result<Utf8PathBuf> {
    let out_from = whence.of("--out", flags.out.is_some());
    let out = match &flags.out {
        Some(out) => absolute(cwd, out),
        None => absolute(&config.dir, &config.out),
    };
    let out =
        normalize(&out).ok_or_else(|| usage(format!("{out_from} `{out}` is not a usable path")))?;
    if out.exists() && !out.is_dir() {
        return Err(usage(format!(
            "{out_from} `{out}` is a file: give a folder for the wheels"
        )));
    }
    let real_out = canonical_or_self(&out);
    let real_package = canonical_or_self(&root.join(package));
    if real_out == root {
        return Err(usage(format!(
            "{out_from} `{out}` is the root itself: give a folder such as {root}/dist"
        )));
    }
    if real_out.starts_with(&real_package) {
        return Err(usage(format!("{out_from} `{out}` is inside the package folder {real_package}: give a folder outside it, such as {root}/dist")));
    }
    Ok(out)
}

/// Folders outside the root, by the variable that holds their path in the container.
type InputDirs = Vec<(String, Utf8PathBuf)>;

/// The build's variables (`env`, then `--env`, then each input dir's path
/// in the container) and the input dirs, each variable given once.
fn environment(
    flags: &flags::Wheels,
    config: &Config,
    cwd: &Utf8Path,
    whence: Origin,
) -> Result<(Vec<(String, String)>, InputDirs)> {
    let mut env = config.env.clone();
    for item in &flags.env {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| usage(format!("--env `{item}` has no `=`: write KEY=VALUE")))?;
        check_env_name(key).map_err(|e| usage(format!("--env `{item}`: {e}")))?;
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
    }
    let given: Vec<(String, Utf8PathBuf, String)> = if flags.input_dir.is_empty() {
        let from = whence.of("--input-dir", false);
        config
            .input_dirs
            .iter()
            .map(|(k, p)| (k.clone(), p.clone(), from.clone()))
            .collect()
    } else {
        let mut given = Vec::new();
        for item in &flags.input_dir {
            let (key, path) = item.split_once('=').ok_or_else(|| {
                usage(format!("--input-dir `{item}` has no `=`: write VAR=PATH, such as IMAGICK_LIB_PATH=../imagemagick"))
            })?;
            given.push((
                key.to_string(),
                absolute(cwd, path.into()),
                "--input-dir".to_string(),
            ));
        }
        given
    };
    let mut input_dirs = Vec::new();
    for (key, path, from) in given {
        check_env_name(&key).map_err(|e| usage(format!("{from} `{key}`: {e}")))?;
        if env.iter().any(|(k, _)| *k == key) || input_dirs.iter().any(|(k, _)| *k == key) {
            return Err(usage(format!("{from} `{key}` is set twice (also in env or another input dir): give each variable once")));
        }
        let dir = existing_dir(&path, &format!("{from} {key}"))?;
        env.push((key.clone(), format!("{INPUTS}/{key}")));
        input_dirs.push((key, dir));
    }
    Ok((env, input_dirs))
}

/// `--json`: a file in an existing folder, or `-` for stdout.
fn json_file(flags: &flags::Wheels, cwd: &Utf8Path) -> Result<Option<Utf8PathBuf>> {
    match &flags.json {
        Some(p) if p.as_str() == "-" => Ok(Some(p.clone())),
        Some(p) => {
            let file = absolute(cwd, p);
            if file.is_dir() {
                return Err(usage(format!(
                    "--json `{p}` is a folder: give a file name, or - for stdout"
                )));
            }
            match file.parent() {
                Some(dir) if dir.is_dir() => Ok(Some(file)),
                _ => Err(usage(format!("--json `{p}`: its folder does not exist"))),
            }
        }
        None => Ok(None),
    }
}

/// A platform tag is passed to auditwheel and checked against the wheel: plain words only.
fn check_plat(plat: &str) -> Result<(), String> {
    let ok = plat.starts_with("manylinux") || plat.starts_with("musllinux");
    if ok && plat.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(format!("`{plat}` is not a manylinux platform tag: use one such as manylinux2014_x86_64 or manylinux_2_28_aarch64"))
    }
}

fn absolute(base: &Utf8Path, path: &Utf8Path) -> Utf8PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// Removes `.` and resolves `..` lexically; None when it climbs above `/`.
fn normalize(path: &Utf8Path) -> Option<Utf8PathBuf> {
    let mut out = Utf8PathBuf::new();
    for c in path.components() {
        match c {
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

fn canonical_or_self(path: &Utf8Path) -> Utf8PathBuf {
    path.canonicalize_utf8()
        .unwrap_or_else(|_| path.to_path_buf())
}

fn existing_dir(path: &Utf8Path, flag: &str) -> Result<Utf8PathBuf> {
    match path.canonicalize_utf8() {
        Ok(p) if p.is_dir() => Ok(p),
        Ok(_) => Err(usage(format!("{flag} `{path}` is a file: give a folder"))),
        Err(_) => Err(usage(format!(
            "{flag} `{path}` does not exist: give an existing folder"
        ))),
    }
}

/// One include: empty is refused; a path with glob characters (`*`, `?`,
/// `[...]`, braces, per path component, hidden names only when the pattern
/// says so) becomes the paths it matches under `root`, which must be some.
fn expand_include(root: &Utf8Path, path: &Utf8Path, from: &str) -> Result<Vec<Utf8PathBuf>> {
    if path.as_str().trim().is_empty() {
        return Err(usage(format!(
            "{from} has an empty path: give a file or folder under the root {root}, or leave it out"
        )));
    }
    if !path.as_str().contains(['*', '?', '[', '{']) {
        return Ok(vec![path.to_path_buf()]);
    }
    if path.is_absolute() {
        return Err(usage(format!(
            "{from} `{path}` is an absolute pattern: patterns are relative to the root {root}"
        )));
    }
    let mut found = vec![Utf8PathBuf::new()];
    for part in path.components().map(|c| c.as_str()) {
        let mut next = Vec::new();
        for base in &found {
            if !part.contains(['*', '?', '[', '{']) {
                next.push(base.join(part));
                continue;
            }
            let Ok(entries) = root.join(base).read_dir_utf8() else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if (part.starts_with('.') || !name.starts_with('.'))
                    && crate::patterns::pattern_matches(part, name)
                {
                    next.push(base.join(name));
                }
            }
        }
        found = next;
    }
    found.retain(|p| root.join(p).exists());
    found.sort();
    if found.is_empty() {
        return Err(usage(format!(
            "{from} `{path}` matches nothing under {root}: check the pattern"
        )));
    }
    Ok(found)
}

/// A path under `root`, as a relative path; fails when it does not exist or
/// leads out of the root (by `..`, an absolute path elsewhere, or a link).
fn inside(root: &Utf8Path, path: &Utf8Path, flag: &str) -> Result<Utf8PathBuf> {
    let escapes = || {
        usage(format!("{flag} `{path}` is outside the root {root}: give a path inside it (or move the root with --root)"))
    };
    let full = normalize(&absolute(root, path)).ok_or_else(escapes)?;
    let rel = full
        .strip_prefix(root)
        .map_err(|_| escapes())?
        .to_path_buf();
    let real = full.canonicalize_utf8().map_err(|_| {
        usage(format!(
            "{flag} `{path}` does not exist under {root}: give an existing path"
        ))
    })?;
    if !real.starts_with(root) {
        return Err(escapes());
    }
    Ok(if rel.as_str().is_empty() {
        ".".into()
    } else {
        rel
    })
}

#[cfg(test)]
mod tests;
