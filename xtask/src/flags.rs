//! The whole command line, in one place.

use std::num::NonZeroUsize;

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Release-quality manylinux wheels for a Python package with a native core",
    long_about = None,
    arg_required_else_help = true,
    after_help = "Examples:\n  cargo xtask prep\n  cargo xtask wheels --arch x86_64 --py cp312\n  cargo xtask wheels --arch x86_64,arm64 --py all\n\nConfiguration: [workspace.metadata.wheels] in the root Cargo.toml (see README.md)."
)]
pub struct Xtask {
    /// Print the commands that would change anything, shell-quoted, and run none of them
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Read [workspace.metadata.wheels] from this file instead of the root Cargo.toml;
    /// its relative paths are taken from the file's folder
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<Utf8PathBuf>,

    /// The engine an architecture builds on: a Docker context, unix://, tcp://,
    /// ssh://user@host[:port], podman, or podman+URL; repeatable [config: engines.<arch>]
    #[arg(long, global = true, value_name = "ARCH=ENGINE")]
    pub engine: Vec<String>,

    #[command(subcommand)]
    pub subcommand: Cmd,
}

#[derive(Subcommand, Debug)]
// Parsed once per run: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Cmd {
    Wheels(Wheels),
    QemuRegister(QemuRegister),
    QemuCopy(QemuCopy),
    ArmImage(ArmImage),
    CrossImage(CrossImage),
    X64Image(X64Image),
    Doctor(Doctor),
    Prep(Prep),
    Standin(Standin),
    Bench(Bench),
    Matrix(Matrix),
    Ci(Ci),
    Verify(Verify),
    Pins(Pins),
}

/// Build, repair and check wheels in manylinux containers
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask wheels --arch x86_64 --py cp312\n  cargo xtask wheels --arch x86_64,arm64 --py cp311,cp312,pp310 --out wheelhouse\n  cargo xtask wheels --arch all --py cp313     (every arch: i686 natively, the others under QEMU)\n  cargo xtask wheels --arch x86_64 --libc manylinux,musllinux     (musllinux wheels too)\n  cargo xtask wheels --standin --arch x86_64 --py all     (offline stand-in image)\n\nPaths given here are relative to the current folder; paths in Cargo.toml to the project root."
)]
pub struct Wheels {
    /// Architectures, comma-separated: x86_64, i686, aarch64 (arm64), ppc64le, s390x, armv7l, riscv64, or all [config: arch]
    #[arg(long, value_name = "ARCH", value_delimiter = ',')]
    pub arch: Vec<String>,

    /// C libraries: manylinux (glibc), musllinux (musl), manylinux,musllinux or all [config: libc; default: manylinux]
    #[arg(long, value_name = "LIST")]
    pub libc: Option<String>,

    /// Interpreters, comma-separated: cp3XY, cp3XYt (free-threaded), pp3XY (PyPy), or all [config: python]
    #[arg(long, value_name = "LIST")]
    pub py: Option<String>,

    /// Image to build in (one arch and libc only) [config: images.<arch>, musllinux-images.<arch>]
    #[arg(long)]
    pub image: Option<String>,

    /// Platform tag for auditwheel (one arch and libc only) [config: plat.<arch> for manylinux; default: the image's AUDITWHEEL_PLAT]
    #[arg(long)]
    pub plat: Option<String>,

    /// Build in the local stand-in images (made by `cargo xtask standin`) instead of the configured ones
    #[arg(long, conflicts_with = "image")]
    pub standin: bool,

    /// Pull the images even when they are present locally
    #[arg(long)]
    pub pull: bool,

    /// Folder the repaired wheels land in [config: out; default: dist]
    #[arg(long, value_name = "DIR")]
    pub out: Option<Utf8PathBuf>,

    /// Folder whose files the build may read [config: root; default: the project root]
    #[arg(long, value_name = "DIR")]
    pub root: Option<Utf8PathBuf>,

    /// The Python package folder, relative to the root [config: package]
    #[arg(long, value_name = "DIR")]
    pub package: Option<Utf8PathBuf>,

    /// Another path under the root that the build reads (globs allowed); repeatable [config: include]
    #[arg(long, value_name = "PATH")]
    pub include: Vec<Utf8PathBuf>,

    /// Environment variable for the build; repeatable [config: env]
    #[arg(long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// A folder outside the root that the build reads (such as a library's build), copied
    /// into the container; VAR holds its path there; repeatable [config: input-dirs]
    #[arg(long, value_name = "VAR=PATH")]
    pub input_dir: Vec<String>,

    /// Build without build isolation (the interpreter must have the build requirements) [config: build-isolation = false]
    #[arg(long)]
    pub no_isolation: bool,

    /// Builds to run at once [default: the number of cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,

    /// Compile jobs of each build (MAKEFLAGS, CMAKE_BUILD_PARALLEL_LEVEL, CARGO_BUILD_JOBS,
    /// setuptools) [default: its share of the cores; 1 turns it off] [config: build-jobs]
    #[arg(long, value_name = "N")]
    pub build_jobs: Option<NonZeroUsize>,

    /// Stop at the first failed build instead of building the others
    #[arg(long)]
    pub fail_fast: bool,

    /// Build exactly this one identifier, such as cp311-manylinux_x86_64 (implies its arch and interpreter)
    #[arg(long, value_name = "ID", conflicts_with_all = ["py", "arch"])]
    pub only: Option<String>,

    /// Build only identifiers matching these globs, space-separated (cibuildwheel's CIBW_BUILD) [config: build]
    #[arg(long, value_name = "PATTERNS")]
    pub build: Option<String>,

    /// Skip identifiers matching these globs, space-separated (cibuildwheel's CIBW_SKIP) [config: skip]
    #[arg(long, value_name = "PATTERNS")]
    pub skip: Option<String>,

    /// An extra argument for creating each build container (like cibuildwheel's
    /// create_args), such as --container-arg=--ulimit=nproc=1024:1024; repeatable [config: container-args]
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub container_arg: Vec<String>,

    /// Do not run the project's tests (test-command) against the wheels
    #[arg(long)]
    pub no_test: bool,

    /// Stream each build's log, every line prefixed by its build identifier
    #[arg(long, short)]
    pub verbose: bool,

    /// Leave the run's containers running at the end (also on failure and Ctrl-C)
    /// and print the command that enters each
    #[arg(long)]
    pub keep_container: bool,

    /// Also write the summary as JSON to FILE (`-`: stdout, the table then goes to stderr)
    #[arg(long, value_name = "FILE")]
    pub json: Option<Utf8PathBuf>,

    /// What a build that gives a pure-Python wheel gets (a package native on CPython
    /// may be pure on PyPy): fail, accept (ship it) or skip [config: pure-wheel]
    #[arg(long, value_name = "ACTION")]
    pub pure_wheel: Option<String>,

    /// Keep pip's cache between runs in the volume xtask-wheels-pip-cache (for images
    /// that download build requirements) [config: pip-cache = true]
    #[arg(long)]
    pub pip_cache: bool,

    /// Compile through ccache (which the image must have), its cache kept between runs
    /// in a volume per arch and image; the summary gives the hit rate [config: ccache = true]
    #[arg(long)]
    pub ccache: bool,

    /// Emulated builds with every native helper off: QEMU's own CPU model, no
    /// bytecode kept between runs, pip instead of the native uv (the wheels
    /// are the same; only slower)
    #[arg(long, conflicts_with = "native_compiler")]
    pub full_emulation: bool,

    /// Emulated builds compile with a native x86_64 clang and lld (the
    /// image's gcc gives headers and libraries): a different compiler,
    /// recorded in the summary and manifest.json [config: native-compiler = true]
    #[arg(long)]
    pub native_compiler: bool,

    /// Emulated builds run their frontend and backend in their own emulated
    /// interpreter, not in a native CPython configured for the target (the
    /// cross environment) [config: cross-environment = false]
    #[arg(long)]
    pub no_cross_environment: bool,
}

/// Register the aarch64 binfmt handler (QEMU) through a privileged container.
///
/// This is the one subcommand that runs a container with --privileged: writing
/// to /proc/sys/fs/binfmt_misc needs it. Where the engine cannot grant every
/// capability (inside a container), it retries with only CAP_SYS_ADMIN, a
/// writable /proc/sys and AppArmor unconfined. It does nothing when a usable
/// handler (enabled, flag F) is already registered.
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask qemu-register\n  cargo xtask qemu-register --reset\n  cargo xtask qemu-register --image tonistiigi/binfmt -- --install arm64"
)]
pub struct QemuRegister {
    /// Architectures whose handlers to register, comma-separated, or `all`
    /// [default: every arch this machine cannot run natively]
    #[arg(long, value_name = "ARCH", value_delimiter = ',')]
    pub arch: Vec<String>,

    /// Registration image [config: qemu-image; default: multiarch/qemu-user-static]
    #[arg(long)]
    pub image: Option<String>,

    /// Register again even when a handler exists; with multiarch/qemu-user-static
    /// this removes every qemu-* handler on the host first
    #[arg(long)]
    pub reset: bool,

    /// Arguments for the image instead of the default (`--reset -p yes`, or `--install arm64,s390x` for tonistiigi/binfmt)
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Copy the host's static emulator of an arch (qemu-aarch64-static by default) into its cross-arch image's build context
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask qemu-copy\n  cargo xtask qemu-copy --from /usr/bin/qemu-aarch64\n  cargo xtask qemu-copy --arch s390x     (into scripts/cross-image/s390x, for cross-image)"
)]
pub struct QemuCopy {
    /// The arch whose emulator is copied: aarch64 into scripts/arm-image (for arm-image),
    /// any other emulated arch into scripts/cross-image/ARCH (for cross-image) [default: aarch64]
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,

    /// The emulator to copy [default: qemu-ARCH-static or qemu-ARCH on PATH]
    #[arg(long, value_name = "PATH")]
    pub from: Option<Utf8PathBuf>,
}

/// Build a cross-arch manylinux image of any emulated arch (runs on an x86_64 host under QEMU)
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask cross-image --arch ppc64le\n  cargo xtask cross-image --arch riscv64 --base quay.io/pypa/manylinux_2_39_riscv64 --tag manylinux_riscv64\n\narm-image is this for aarch64, with its own configuration (arm-image.base, arm-image.tag)."
)]
pub struct CrossImage {
    /// The arch of the image: aarch64, ppc64le, s390x, armv7l or riscv64
    #[arg(long, value_name = "ARCH")]
    pub arch: String,

    /// Base image [config: images.<arch>; default: that arch's manylinux image]
    #[arg(long)]
    pub base: Option<String>,

    /// Tag of the image built [default: manylinux_<arch>]
    #[arg(long)]
    pub tag: Option<String>,

    /// Pull the base even when it is present locally
    #[arg(long)]
    pub pull: bool,
}

/// Build the cross-arch aarch64 manylinux image (runs on an x86_64 host under QEMU)
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask arm-image\n  cargo xtask arm-image --base quay.io/pypa/manylinux_2_28_aarch64 --tag manylinux_2_28_aarch64"
)]
pub struct ArmImage {
    /// Base image [config: arm-image.base; default: quay.io/pypa/manylinux2014_aarch64]
    #[arg(long)]
    pub base: Option<String>,

    /// Tag of the image built [config: arm-image.tag; default: manylinux_aarch64]
    #[arg(long)]
    pub tag: Option<String>,

    /// Pull the base even when it is present locally
    #[arg(long)]
    pub pull: bool,
}

/// Build the x86_64 manylinux image with the extra packages the build needs
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask x64-image\n  cargo xtask x64-image --packages libpng-devel,cmake"
)]
pub struct X64Image {
    /// Base image [config: x64-image.base; default: quay.io/pypa/manylinux2014_x86_64]
    #[arg(long)]
    pub base: Option<String>,

    /// Tag of the image built [config: x64-image.tag; default: manylinux_x64]
    #[arg(long)]
    pub tag: Option<String>,

    /// Packages to install, comma-separated (yum, dnf or apt-get) [config: x64-image.packages; default: libpng-devel]
    #[arg(long, value_delimiter = ',')]
    pub packages: Option<Vec<String>>,

    /// Pull the base even when it is present locally
    #[arg(long)]
    pub pull: bool,
}

/// Check every prerequisite and say how to fix what is missing
#[derive(Args, Debug, Default)]
#[command(after_help = "Example:\n  cargo xtask doctor")]
pub struct Doctor {}

/// Prepare this machine in one go: doctor, qemu-register, qemu-copy, arm-image, x64-image
#[derive(Args, Debug, Default)]
#[command(after_help = "Example:\n  cargo xtask prep")]
pub struct Prep {}

/// Build an offline stand-in for a manylinux image from Debian packages
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask standin --arch x86_64\n  cargo xtask standin --arch arm64\n  cargo xtask standin --arch x86_64 --musllinux\n  cargo xtask standin --qemu-register\n\nThe image reference is the last line of stdout."
)]
pub struct Standin {
    /// The architecture of the stand-in
    #[arg(
        long,
        value_name = "ARCH",
        required_unless_present_any = ["qemu_register", "native_clang", "current_qemu"],
        conflicts_with_all = ["qemu_register", "native_clang", "current_qemu"]
    )]
    pub arch: Option<String>,

    /// The musllinux stand-in (a musl CPython on the x86_64 one) instead of the manylinux one
    #[arg(long, requires = "arch")]
    pub musllinux: bool,

    /// Build the stand-in for multiarch/qemu-user-static instead (for testing qemu-register)
    #[arg(long, conflicts_with_all = ["native_clang", "current_qemu"])]
    pub qemu_register: bool,

    /// Register Debian forky's QEMU 11 (fetched once, pinned by sha256) as this
    /// host's emulator of every arch it cannot run, in place of the handlers
    /// there, as users' CI runs 10 or newer; needs root, and nothing emulated
    /// running meanwhile
    #[arg(long, conflicts_with = "native_clang")]
    pub current_qemu: bool,

    /// Make the native compiler of --native-compiler instead (the relocatable
    /// clang and lld bundle); prints its file
    #[arg(long)]
    pub native_clang: bool,
}

/// Measure builds side by side (the old scripts' way against this tool's) and write BENCHMARKS.md
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  cargo xtask bench\n  cargo xtask bench --reps 5 --heavy-arm")]
pub struct Bench {
    /// Runs of each way of each case; the median is reported
    #[arg(long, value_name = "N", default_value = "3")]
    pub reps: NonZeroUsize,

    /// C files in the generated heavy package (60 functions each)
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub heavy_files: usize,

    /// Also build the heavy package under aarch64 emulation (minutes per run)
    #[arg(long)]
    pub heavy_arm: bool,

    /// A second Docker engine reached over ssh (ssh://user@host[:port]): measures
    /// both arches on two engines against one, and the ssh hop (needs --socket-engine)
    #[arg(long, value_name = "URL", requires = "socket_engine")]
    pub ssh_engine: Option<String>,

    /// The same daemon as --ssh-engine, by its local socket (unix:///path)
    #[arg(long, value_name = "URL", requires = "ssh_engine")]
    pub socket_engine: Option<String>,

    /// Only these cases of the main table, and none of the other tables: a
    /// quick side-by-side check; repeatable
    #[arg(long, value_enum)]
    pub case: Vec<BenchCase>,

    /// Where the report goes [default: BENCHMARKS.md]
    #[arg(long, value_name = "FILE")]
    pub report: Option<Utf8PathBuf>,
}

/// A case of the bench's main table: the package, then the builds.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchCase {
    /// The demo, x86_64, one CPython
    DemoOne,
    /// The demo, x86_64, every interpreter of the image
    DemoAll,
    /// The heavy package, x86_64, one CPython
    HeavyOne,
    /// The heavy package, x86_64, every interpreter of the image
    HeavyAll,
    /// The heavy package, x86_64, every interpreter with the free-threaded one, which cibuildwheel 4 refuses (its way left out)
    HeavyEvery,
    /// The demo, aarch64 (emulated), one CPython
    DemoArm,
    /// The demo, aarch64 (emulated), every interpreter of the image
    DemoArmAll,
    /// The demo, both arches, one CPython
    DemoBoth,
    /// The heavy package, aarch64 (emulated), one CPython
    HeavyArm,
    /// The demo, one CPython, on each of the seven arches, cibuildwheel's way beside it
    DemoArches,
    /// The heavy package with --native-compiler on each emulated arch, against x86_64
    HeavyArches,
    /// Every arch in one run, the CPythons every stand-in has, against cibuildwheel
    AllArches,
    /// The demo, x86_64, one CPython: musllinux (the musllinux stand-in) beside manylinux
    DemoMusllinux,
    /// demo/cython (setuptools, Cython) on each arch, one CPython: emulated by default, with its Python emulated and with --native-compiler, against x86_64
    CythonArches,
    /// demo/cmake (scikit-build-core, cmake, ninja, Cython) on each arch, one CPython, as cython-arches
    CmakeArches,
    /// demo/meson (meson-python, meson, ninja) on each arch, one CPython, as cython-arches
    MesonArches,
}

/// Print the build identifiers the configuration selects (for a CI matrix)
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask matrix\n  cargo xtask matrix --build 'cp31?-*' --skip '*-manylinux_aarch64'\n  cargo xtask matrix --format github     (JSON for strategy.matrix)\n\nThe interpreters are those the images offer (listed without running them)."
)]
pub struct Matrix {
    #[command(flatten)]
    pub select: Select,

    /// `lines` (one identifier per line) or `github` (JSON for strategy.matrix, with each entry's arch and runner)
    #[arg(long, value_name = "FORMAT", default_value = "lines")]
    pub format: String,
}

/// What `matrix` and `ci` select, as `wheels` would.
#[derive(Args, Debug, Default)]
pub struct Select {
    /// Architectures, comma-separated [config: arch]
    #[arg(long, value_name = "ARCH", value_delimiter = ',')]
    pub arch: Vec<String>,

    /// C libraries: manylinux, musllinux, manylinux,musllinux or all [config: libc]
    #[arg(long, value_name = "LIST")]
    pub libc: Option<String>,

    /// Interpreters, comma-separated, or all [config: python]
    #[arg(long, value_name = "LIST")]
    pub py: Option<String>,

    /// Build identifier globs to build, space-separated [config: build]
    #[arg(long, value_name = "PATTERNS")]
    pub build: Option<String>,

    /// Build identifier globs to skip, space-separated [config: skip]
    #[arg(long, value_name = "PATTERNS")]
    pub skip: Option<String>,

    /// Use the local stand-in images (and pass --standin on to the builds)
    #[arg(long)]
    pub standin: bool,
}

/// Write a release workflow: sdist, a build job per identifier (or arch), gather and verify, publish
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask ci github --publish pypi\n  cargo xtask ci github --per arch --out -\n  cargo xtask ci gitlab --publish testpypi\n\nNothing is pulled: the pinned default images' builds are known from `cargo xtask pins`."
)]
pub struct Ci {
    /// The CI service: github (GitHub Actions) or gitlab (GitLab CI/CD)
    #[arg(value_name = "SERVICE")]
    pub service: String,

    #[command(flatten)]
    pub select: Select,

    /// One job per build identifier (`build`) or per architecture (`arch`)
    #[arg(long, value_name = "UNIT", default_value = "build")]
    pub per: String,

    /// Where a version tag's release goes: none, testpypi or pypi (trusted
    /// publishing, with attestations)
    #[arg(long, value_name = "INDEX", default_value = "none")]
    pub publish: String,

    /// Where to write the workflow (`-` for stdout) [default: .github/workflows/wheels.yml, or .gitlab-ci.yml]
    #[arg(long, value_name = "FILE")]
    pub out: Option<Utf8PathBuf>,
}

/// Verify a folder of wheels and sdists: SHA256SUMS, RECORD, tags, auditwheel, PKG-INFO, and optionally a rebuild
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask verify\n  cargo xtask verify dist --rebuild\n  cargo xtask verify parts/* --into dist\n\nExit 1 names the first difference; exit 0 prints one line per wheel."
)]
pub struct Verify {
    /// The folder of wheels (and sdists) [default: the configured out]; with
    /// --into, the folders to gather
    #[arg(value_name = "DIR")]
    pub dirs: Vec<Utf8PathBuf>,

    /// Gather the folders' wheels and sdists (each checked against its own
    /// SHA256SUMS) into this new folder with one SHA256SUMS and one
    /// manifest.json, then verify it
    #[arg(long, value_name = "DIR")]
    pub into: Option<Utf8PathBuf>,

    /// Also build each wheel again (identifier, image and SOURCE_DATE_EPOCH from manifest.json) and compare the bytes
    #[arg(long)]
    pub rebuild: bool,

    /// Run the checks in the local stand-in images instead of the configured ones
    #[arg(long)]
    pub standin: bool,
}

/// The default images, pinned to a dated tag and digest with the interpreters
/// each offers: print the table, or pull every image at a new tag and write it
#[derive(Args, Debug, Default)]
#[command(
    after_help = "Examples:\n  cargo xtask pins\n  cargo xtask pins --update --tag 2026.09.01-1\n\nThe table is xtask/src/pins.txt; build the tool again after an update."
)]
pub struct Pins {
    /// Pull each pinned image at --tag (a registry is needed), list its
    /// interpreters and write the table again (nothing is written if one fails)
    #[arg(long)]
    pub update: bool,

    /// The dated tag --update pins, such as 2026.09.01-1
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
}
