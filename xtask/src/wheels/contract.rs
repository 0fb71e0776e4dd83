//! The one contract between the host and a build container: the paths
//! inside it, the script its first process runs (`SETUP`), the scripts
//! copied in, the arguments of build-wheel.sh (`BuildArgs`), the variables
//! it and its helpers read (`Var`), and how `{project}` and `{package}` are
//! filled in (`Placeholders`). Nothing else of the container is known to
//! the host's code; the tests below hold the scripts to it.

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::config::PureWheel;
use crate::util;

/// What readies a new build container, run by its first process (an exec
/// would cost a round trip), with no Python (a second under emulation): make the folders,
/// write the scripts given as arguments (pairs of a path under /xtask/bin and
/// its text), unpack the inputs from stdin when the first argument is 1, and
/// find auditwheel's version (for the manifest) by its dist-info folder.
pub const SETUP: &str = r#"mkdir -p /xtask/src /xtask/out /xtask/bin || exit 1
unpack=$1; shift
while [ $# -gt 1 ]; do
  case $1 in */*) mkdir -p "/xtask/bin/${1%/*}" || exit 1 ;; esac
  printf '%s' "$2" >"/xtask/bin/$1" || exit 1
  shift 2
done
if [ "$unpack" != 0 ]; then head -c "$unpack" | tar -x -o -f - -C /xtask/src || exit 1; fi
{ a=$(readlink -f "$(command -v auditwheel)") && ls -d "${a%/bin/*}"/lib/python*/site-packages/auditwheel-*.dist-info 2>/dev/null || true; }"#;

/// auditwheel's version (for the manifest), from SETUP's output.
pub fn parse_setup(output: &str) -> String {
    output
        .lines()
        .filter(|line| line.starts_with('/'))
        .find_map(|line| line.rsplit('/').next()?.strip_prefix("auditwheel-"))
        .map_or("unknown".into(), |v| {
            v.trim_end_matches(".dist-info").to_string()
        })
}

/// The scripts that run inside the build containers.
pub fn container_scripts() -> Utf8PathBuf {
    util::project_root().join("scripts/container")
}

/// The scripts' paths under `dir` and their text, for SETUP's arguments.
pub fn script_files(dir: &Utf8Path) -> Result<Vec<(String, String)>> {
    fn walk(base: &Utf8Path, dir: &Utf8Path, out: &mut Vec<(String, String)>) -> Result<()> {
        for entry in dir
            .read_dir_utf8()
            .with_context(|| format!("reading {dir}"))?
        {
            let path = entry?.into_path();
            if path.is_dir() {
                if path.file_name() != Some("__pycache__") {
                    walk(base, &path, out)?;
                }
            } else {
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                let rel = path.strip_prefix(base).expect("below base").to_string();
                out.push((rel, text));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    Ok(files)
}

/// Where the inputs, the scripts and the results live inside the container.
pub const SRC: &str = "/xtask/src";
pub const BIN: &str = "/xtask/bin";
pub const OUT: &str = "/xtask/out";
/// Where `--ccache` keeps its cache in the container (a volume).
pub const CCACHE_DIR: &str = "/xtask/ccache";
/// Where `input-dirs` are copied, each under its variable's name.
pub const INPUTS: &str = "/xtask/inputs";

/// Where each interpreter builds (`WORK/<interpreter>`): its copy of the
/// sources in `src`, its wheels in `OUT/<interpreter>`.
pub const WORK: &str = "/xtask/work";
/// Where the bytecode of emulated builds is kept (a volume).
pub const PYCACHE_DIR: &str = "/xtask/pycache";
/// Where the native tools are copied: uv, and the native clang (its tar
/// holds `clang/`, unpacked in /opt).
pub const NATIVE_DIR: &str = "/xtask/native";
pub const NATIVE_CLANG: &str = "/opt/clang";
/// Where the native CPythons are (each tar holds `xtask-python/<dir>/`,
/// unpacked in /opt): `/opt/xtask-python/<dir>/bin/python`.
pub const NATIVE_PYTHONS: &str = "/opt/xtask-python";

/// The arguments of build-wheel.sh (its header describes each).
pub struct BuildArgs<'a> {
    /// The folder under /opt/python (`cp312-cp312`).
    pub interpreter: &'a str,
    /// auditwheel's platform tag.
    pub plat: &'a str,
    /// Where the copied inputs are (`SRC`, or its own copy after a pre-build).
    pub sources: &'a str,
    /// The package folder, relative to `sources`.
    pub package: &'a Utf8Path,
    pub isolation: bool,
    pub pure_wheel: PureWheel,
}

impl BuildArgs<'_> {
    /// The command that builds one interpreter's wheel in the container:
    /// the build script, all it prints on stderr (the log), then the wheel
    /// as a tar stream on stdout, which the host unpacks (no `cp` after).
    /// Only `*.whl` members, links followed: nothing in the stream can make
    /// the host's tar write outside the folder it unpacks into.
    pub fn command(&self) -> Vec<String> {
        vec![
            "sh".into(),
            "-c".into(),
            format!("bash {BIN}/build-wheel.sh \"$@\" >&2 && cd \"{OUT}/$1\" && exec tar -c -h -- *.whl"),
            "sh".into(),
            self.interpreter.into(),
            self.plat.into(),
            self.sources.into(),
            self.package.to_string(),
            if self.isolation { "1" } else { "0" }.into(),
            self.pure_wheel.name().into(),
        ]
    }
}

/// cibuildwheel's `{project}` (the copied root) and `{package}` of a
/// command or setting, filled in here alone, by one rule: where bash reads
/// the text (a command), each path is one quoted word; where the text is
/// handed on as one argument (a config setting), the path is as it is.
/// (`{wheel}` and `{dest_dir}` of repair-wheel-command are known only in
/// the container: repair-wheel.py fills them by the same rule.)
pub struct Placeholders {
    project: String,
    package: String,
}

impl Placeholders {
    /// For the steps of one build: its interpreter's own copy of the sources.
    pub fn of_build(interpreter: &str, package: &Utf8Path) -> Placeholders {
        Placeholders::at(&format!("{WORK}/{interpreter}/src"), package)
    }

    /// For before-all, which runs where the inputs were copied (`sources`).
    pub fn at(sources: &str, package: &Utf8Path) -> Placeholders {
        Placeholders {
            project: sources.to_string(),
            package: format!("{sources}/{package}"),
        }
    }

    /// A command bash runs: each path one quoted word (a package folder
    /// may hold spaces or shell characters).
    pub fn command(&self, text: &str) -> String {
        text.replace("{project}", &util::shell_quote(&self.project))
            .replace("{package}", &util::shell_quote(&self.package))
    }

    /// A value handed on as one argument: the paths as they are.
    pub fn value(&self, text: &str) -> String {
        text.replace("{project}", &self.project)
            .replace("{package}", &self.package)
    }
}

/// A variable the container's scripts read (build-wheel.sh, and the
/// Python helpers it runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    /// cibuildwheel's before-all: run once per container.
    BeforeAll,
    /// before-build, run in the package's copy.
    BeforeBuild,
    /// repair-wheel-command (present and empty: no repair).
    RepairCommand,
    /// environment: lines `NAME=bash-word`, evaluated in order.
    Environment,
    /// test-environment: as `Environment`, for the test steps only.
    TestEnvironment,
    /// config-settings: one `KEY=VALUE` a line, each given as `-C`.
    ConfigSettings,
    /// `pip` or `build[uv]`; unset: build.
    Frontend,
    /// The frontend's own arguments, one a line.
    FrontendArgs,
    /// -3 to 3.
    Verbosity,
    /// The test command; unset: no tests.
    TestCommand,
    /// One requirement a line.
    TestRequires,
    /// One path a line, relative to the copied root.
    TestSources,
    /// The extras the wheel is installed with, comma-separated.
    TestExtras,
    BeforeTest,
    /// This build's share of the cores, for setuptools' parallel compile.
    CompileJobs,
    /// `1`: the compilers go through ccache.
    Ccache,
    /// The native uv under emulation.
    Uv,
    /// uv's cache kept in the bytecode volume.
    UvCache,
    /// pip's settings as uv's configuration (a uv.toml).
    UvConfig,
    /// Why pip makes the environments instead of uv.
    UvRefused,
    /// The native clang of --native-compiler.
    NativeClang,
    /// Its `--target` (the arch table's clang target).
    ClangTarget,
    /// The Rust target whose linker it is (glibc's; musl's is derived).
    RustTarget,
    /// The program the build runs under so that `uname -m` says the
    /// image's arch (`linux32` for i686 on x86_64).
    Personality,
    /// Where the interpreters' kept bytecode goes.
    Pycache,
    /// The native CPython of the build's version that runs its frontend
    /// and backend under emulation (the cross environment).
    NativePython,
    /// Set by build-wheel.sh itself for site/sitecustomize.py in the cross
    /// environment: the target's machine and sysconfig data file. Named
    /// here for the test that holds the scripts to these names; the host
    /// never sets it.
    #[allow(dead_code)]
    Cross,
    /// Set by build-wheel.sh itself for repair-wheel.py in the cross
    /// environment: the target's machine and the site-packages folder of
    /// the image's auditwheel, which the native CPython then runs. Named
    /// here for the same test; the host never sets it.
    #[allow(dead_code)]
    RepairCross,
}

impl Var {
    #[cfg(test)]
    const ALL: [Var; 28] = [
        Var::BeforeAll,
        Var::BeforeBuild,
        Var::RepairCommand,
        Var::Environment,
        Var::TestEnvironment,
        Var::ConfigSettings,
        Var::Frontend,
        Var::FrontendArgs,
        Var::Verbosity,
        Var::TestCommand,
        Var::TestRequires,
        Var::TestSources,
        Var::TestExtras,
        Var::BeforeTest,
        Var::CompileJobs,
        Var::Ccache,
        Var::Uv,
        Var::UvCache,
        Var::UvConfig,
        Var::UvRefused,
        Var::NativeClang,
        Var::ClangTarget,
        Var::RustTarget,
        Var::Personality,
        Var::Pycache,
        Var::NativePython,
        Var::Cross,
        Var::RepairCross,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Var::BeforeAll => "XTASK_BEFORE_ALL",
            Var::BeforeBuild => "XTASK_BEFORE_BUILD",
            Var::RepairCommand => "XTASK_REPAIR_COMMAND",
            Var::Environment => "XTASK_ENVIRONMENT",
            Var::TestEnvironment => "XTASK_TEST_ENVIRONMENT",
            Var::ConfigSettings => "XTASK_CONFIG_SETTINGS",
            Var::Frontend => "XTASK_FRONTEND",
            Var::FrontendArgs => "XTASK_FRONTEND_ARGS",
            Var::Verbosity => "XTASK_VERBOSITY",
            Var::TestCommand => "XTASK_TEST_COMMAND",
            Var::TestRequires => "XTASK_TEST_REQUIRES",
            Var::TestSources => "XTASK_TEST_SOURCES",
            Var::TestExtras => "XTASK_TEST_EXTRAS",
            Var::BeforeTest => "XTASK_BEFORE_TEST",
            Var::CompileJobs => "XTASK_COMPILE_JOBS",
            Var::Ccache => "XTASK_CCACHE",
            Var::Uv => "XTASK_UV",
            Var::UvCache => "XTASK_UV_CACHE",
            Var::UvConfig => "XTASK_UV_CONFIG",
            Var::UvRefused => "XTASK_UV_REFUSED",
            Var::NativeClang => "XTASK_NATIVE_CLANG",
            Var::ClangTarget => "XTASK_CLANG_TARGET",
            Var::RustTarget => "XTASK_RUST_TARGET",
            Var::Personality => "XTASK_PERSONALITY",
            Var::Pycache => "XTASK_PYCACHE",
            Var::NativePython => "XTASK_NATIVE_PYTHON",
            Var::Cross => "XTASK_CROSS",
            Var::RepairCross => "XTASK_REPAIR_CROSS",
        }
    }

    /// The variable with its value.
    pub fn set(self, value: impl Into<String>) -> (String, String) {
        (self.name().to_string(), value.into())
    }

    /// The variable with a list, one item a line.
    pub fn list<S: AsRef<str>>(self, items: &[S]) -> (String, String) {
        let lines: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
        self.set(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_makes_the_container_folders() {
        assert!(SETUP.contains(&format!("mkdir -p {SRC} {OUT} {BIN}")));
        let version = parse_setup(
            "/opt/_internal/tools/lib/python3.11/site-packages/auditwheel-6.8.2.dist-info\n",
        );
        assert_eq!(version, "6.8.2");
        assert_eq!(parse_setup(""), "unknown");
    }

    #[test]
    fn placeholders_are_one_word_in_a_command_and_as_they_are_in_a_value() {
        let p = Placeholders::of_build("cp313-cp313", Utf8Path::new("my pkg"));
        assert_eq!(
            p.command("pytest {package}/tests && ls {project}"),
            "pytest '/xtask/work/cp313-cp313/src/my pkg'/tests && ls /xtask/work/cp313-cp313/src"
        );
        assert_eq!(
            p.value("builddir={package}/b"),
            "builddir=/xtask/work/cp313-cp313/src/my pkg/b"
        );
        let inputs = Placeholders::at(SRC, Utf8Path::new("pkg"));
        assert_eq!(
            inputs.command("make -C {package}"),
            "make -C /xtask/src/pkg"
        );
    }

    /// The variables the container's scripts read, every script under
    /// scripts/container: `$NAME` and `${NAME` in shell, `environ` reads
    /// (`.get("NAME"` or `["NAME"`) in Python; comments are not reads.
    fn read_by_scripts() -> Vec<String> {
        let dir = container_scripts();
        let mut read = Vec::new();
        for (path, text) in script_files(&dir).unwrap() {
            let openers: &[&str] = match path.rsplit('.').next() {
                Some("sh") => &["$XTASK_", "${XTASK_"],
                Some("py") => &["environ.get(\"XTASK_", "environ[\"XTASK_"],
                _ => continue,
            };
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                for opener in openers {
                    for (i, _) in line.match_indices(opener) {
                        let name = &line[i + opener.len() - "XTASK_".len()..];
                        let end = name
                            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                            .unwrap_or(name.len());
                        read.push(name[..end].to_string());
                    }
                }
            }
        }
        read.sort();
        read.dedup();
        read
    }

    /// The scripts read exactly the variables named here.
    #[test]
    fn the_scripts_read_exactly_these_variables() {
        let mut named: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
        named.sort();
        assert_eq!(read_by_scripts(), named);
    }

    #[test]
    fn lists_travel_one_item_a_line() {
        assert_eq!(
            Var::TestRequires.list(&["pytest", "numpy>=2"]),
            (
                "XTASK_TEST_REQUIRES".to_string(),
                "pytest\nnumpy>=2".to_string()
            )
        );
    }
}
