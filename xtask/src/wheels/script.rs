//! What the host tells build-wheel.sh besides its arguments: every variable
//! the script reads, in one typed form. Lists travel one item per line; the
//! script reads each variable named here and no other (a unit test holds
//! both sides to the same names).

/// A variable of build-wheel.sh.
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
}

impl Var {
    #[cfg(test)]
    const ALL: [Var; 25] = [
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

    /// build-wheel.sh reads exactly the variables named here.
    #[test]
    fn the_script_reads_exactly_these_variables() {
        let script = crate::util::project_root().join("scripts/container/build-wheel.sh");
        let text = std::fs::read_to_string(script).unwrap();
        let mut read: Vec<&str> = text
            .match_indices("XTASK_")
            .map(|(i, _)| {
                let rest = &text[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            // The prefix alone, as the header's prose names the variables.
            .filter(|name| name.len() > "XTASK_".len())
            .collect();
        read.sort();
        read.dedup();
        let mut named: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
        named.sort();
        assert_eq!(read, named);
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
