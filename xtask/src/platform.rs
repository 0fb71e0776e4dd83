//! The names of the domain: architectures, interpreter tags and build ids.

use std::fmt;

use anyhow::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    I686,
    Aarch64,
    Ppc64le,
    S390x,
    Armv7l,
    Riscv64,
}

/// What one architecture is, under every name the tools around it use. The
/// code asks the row; adding an arch is adding a row (and its stand-in).
#[derive(Debug)]
pub struct Row {
    pub arch: Arch,
    /// In build identifiers, wheel tags, auditwheel and `--arch`.
    pub name: &'static str,
    /// Other names `--arch` and cibuildwheel's `archs` take.
    pub aliases: &'static [&'static str],
    /// Docker's `--platform` (`linux/arm/v7`) and the architecture an
    /// engine reports for an image (`arm`).
    pub docker_platform: &'static str,
    pub docker_arch: &'static str,
    /// The Debian port.
    pub debian: &'static str,
    /// The QEMU user emulator's name (`qemu-<qemu>-static`) and its
    /// binfmt_misc magic and mask, as qemu-binfmt-conf.sh writes them.
    pub qemu: &'static str,
    pub binfmt_magic: &'static str,
    pub binfmt_mask: &'static str,
    /// e_machine of its ELF files, and their class.
    pub elf_machine: u16,
    pub bits: u8,
    /// The program that makes `uname -m` say this arch on a 64-bit kernel
    /// of another (i686 on x86_64), as manylinux's entrypoint runs it.
    pub personality: Option<&'static str>,
    /// clang's `--target`, for the native compiler, and Rust's target
    /// (whose linker it is).
    pub clang_target: &'static str,
    pub rust_target: &'static str,
    /// manylinux's default image (quay.io/pypa/<image>).
    pub manylinux_image: &'static str,
    /// cibuildwheel 4's default manylinux image, for packages with a
    /// `[tool.cibuildwheel]` table.
    pub cibuildwheel_image: &'static str,
    /// The GitHub runner its jobs go on.
    pub runner: &'static str,
    /// Which machines run its code without an emulator.
    pub runs_on: &'static [Arch],
    /// A QEMU CPU model that emulates it faster than QEMU's default.
    pub fast_cpu: Option<FastCpu>,
}

/// A faster CPU model, for the QEMU versions where it is faster.
#[derive(Debug)]
pub struct FastCpu {
    pub model: &'static str,
    /// The first QEMU (major, minor) that has it, and the first whose
    /// default is as fast.
    pub from: (u32, u32),
    pub until: Option<(u32, u32)>,
    /// Why it is faster, after "QEMU 7.2".
    pub why: &'static str,
}

pub const ROWS: [Row; 7] = [
    Row {
        arch: Arch::X86_64,
        name: "x86_64",
        aliases: &["amd64", "x64"],
        docker_platform: "linux/amd64",
        docker_arch: "amd64",
        debian: "amd64",
        qemu: "x86_64",
        binfmt_magic: r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        binfmt_mask: r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine: 62,
        bits: 64,
        personality: None,
        clang_target: "x86_64-unknown-linux-gnu",
        rust_target: "x86_64-unknown-linux-gnu",
        manylinux_image: "manylinux2014_x86_64",
        cibuildwheel_image: "manylinux_2_28_x86_64",
        runner: "ubuntu-24.04",
        runs_on: &[Arch::X86_64],
        fast_cpu: None,
    },
    Row {
        arch: Arch::I686,
        name: "i686",
        aliases: &["i386", "x86", "386"],
        docker_platform: "linux/386",
        docker_arch: "386",
        debian: "i386",
        qemu: "i386",
        binfmt_magic: r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00",
        binfmt_mask: r"\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine: 3,
        bits: 32,
        personality: Some("linux32"),
        clang_target: "i686-unknown-linux-gnu",
        rust_target: "i686-unknown-linux-gnu",
        manylinux_image: "manylinux2014_i686",
        cibuildwheel_image: "manylinux_2_28_i686",
        runner: "ubuntu-24.04",
        runs_on: &[Arch::X86_64, Arch::I686],
        fast_cpu: None,
    },
    Row {
        arch: Arch::Aarch64,
        name: "aarch64",
        aliases: &["arm64"],
        docker_platform: "linux/arm64",
        docker_arch: "arm64",
        debian: "arm64",
        qemu: "aarch64",
        binfmt_magic: r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
        binfmt_mask: r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine: 183,
        bits: 64,
        personality: None,
        clang_target: "aarch64-unknown-linux-gnu",
        rust_target: "aarch64-unknown-linux-gnu",
        manylinux_image: "manylinux2014_aarch64",
        cibuildwheel_image: "manylinux_2_28_aarch64",
        runner: "ubuntu-24.04-arm",
        runs_on: &[Arch::Aarch64],
        // Pointer authentication kept (Debian's and most arm64 binaries use
        // it) but computed by QEMU's cheap implementation-defined hash
        // instead of the architected QARMA: the same instructions stay
        // valid, three times faster (`pauth=off` is faster still, but makes
        // the non-hint PAC instructions of Armv8.3 code undefined).
        fast_cpu: Some(FastCpu {
            model: "max,pauth-impdef=on",
            from: (6, 0),
            until: Some((10, 0)),
            why: "emulates pointer authentication slowly by default",
        }),
    },
    Row {
        arch: Arch::Ppc64le,
        name: "ppc64le",
        aliases: &["ppc64el", "powerpc64le"],
        docker_platform: "linux/ppc64le",
        docker_arch: "ppc64le",
        debian: "ppc64el",
        qemu: "ppc64le",
        binfmt_magic: r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x15\x00",
        binfmt_mask: r"\xff\xff\xff\xff\xff\xff\xff\xfc\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\x00",
        elf_machine: 21,
        bits: 64,
        personality: None,
        clang_target: "powerpc64le-unknown-linux-gnu",
        rust_target: "powerpc64le-unknown-linux-gnu",
        manylinux_image: "manylinux2014_ppc64le",
        cibuildwheel_image: "manylinux_2_28_ppc64le",
        runner: "ubuntu-24.04",
        runs_on: &[Arch::Ppc64le],
        fast_cpu: None,
    },
    Row {
        arch: Arch::S390x,
        name: "s390x",
        aliases: &[],
        docker_platform: "linux/s390x",
        docker_arch: "s390x",
        debian: "s390x",
        qemu: "s390x",
        binfmt_magic: r"\x7fELF\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16",
        binfmt_mask: r"\xff\xff\xff\xff\xff\xff\xff\xfc\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff",
        elf_machine: 22,
        bits: 64,
        personality: None,
        clang_target: "s390x-unknown-linux-gnu",
        rust_target: "s390x-unknown-linux-gnu",
        manylinux_image: "manylinux2014_s390x",
        cibuildwheel_image: "manylinux_2_28_s390x",
        runner: "ubuntu-24.04",
        runs_on: &[Arch::S390x],
        fast_cpu: None,
    },
    Row {
        arch: Arch::Armv7l,
        name: "armv7l",
        aliases: &["armv7", "armhf"],
        docker_platform: "linux/arm/v7",
        docker_arch: "arm",
        debian: "armhf",
        qemu: "arm",
        binfmt_magic: r"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00",
        binfmt_mask: r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine: 40,
        bits: 32,
        personality: None,
        clang_target: "armv7-unknown-linux-gnueabihf",
        rust_target: "armv7-unknown-linux-gnueabihf",
        manylinux_image: "manylinux_2_31_armv7l",
        cibuildwheel_image: "manylinux_2_31_armv7l",
        runner: "ubuntu-24.04",
        runs_on: &[Arch::Armv7l],
        fast_cpu: None,
    },
    Row {
        arch: Arch::Riscv64,
        name: "riscv64",
        aliases: &[],
        docker_platform: "linux/riscv64",
        docker_arch: "riscv64",
        debian: "riscv64",
        qemu: "riscv64",
        binfmt_magic: r"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00",
        binfmt_mask: r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
        elf_machine: 243,
        bits: 64,
        personality: None,
        clang_target: "riscv64-unknown-linux-gnu",
        rust_target: "riscv64gc-unknown-linux-gnu",
        manylinux_image: "manylinux_2_39_riscv64",
        cibuildwheel_image: "manylinux_2_39_riscv64",
        runner: "ubuntu-24.04",
        runs_on: &[Arch::Riscv64],
        fast_cpu: None,
    },
];

impl Arch {
    pub const COUNT: usize = ROWS.len();
    pub const ALL: [Arch; Arch::COUNT] = [
        Arch::X86_64,
        Arch::I686,
        Arch::Aarch64,
        Arch::Ppc64le,
        Arch::S390x,
        Arch::Armv7l,
        Arch::Riscv64,
    ];

    pub fn row(self) -> &'static Row {
        &ROWS[self as usize]
    }

    /// The name manylinux and auditwheel use (`x86_64`, `aarch64`).
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The architecture Docker reports for an image (`amd64`, `arm64`).
    pub fn docker_name(self) -> &'static str {
        self.row().docker_arch
    }

    /// From the architecture an engine reports (`amd64`, `arm64`; podman and
    /// some daemons also say `x86_64`, `aarch64`).
    pub fn from_docker_name(name: &str) -> Option<Arch> {
        let name = name.strip_suffix("/v8").unwrap_or(name);
        let name = name.strip_suffix("/v7").unwrap_or(name);
        ROWS.iter()
            .find(|r| r.docker_arch == name || r.name == name)
            .map(|r| r.arch)
    }

    /// The `--platform` value of `docker run` and `docker build`.
    pub fn docker_platform(self) -> String {
        self.row().docker_platform.to_string()
    }

    /// The architecture this program runs on.
    pub fn host() -> Option<Arch> {
        ROWS.iter()
            .find(|r| r.name == std::env::consts::ARCH)
            .map(|r| r.arch)
    }

    /// Whether a machine of `machine`'s arch runs this arch's code without
    /// an emulator (x86_64 runs i686).
    pub fn runs_natively_on(self, machine: Arch) -> bool {
        self.row().runs_on.contains(&machine)
    }

    /// Whether this machine runs its code without an emulator.
    pub fn is_native_here(self) -> bool {
        Arch::host().is_some_and(|h| self.runs_natively_on(h))
    }

    /// The arches this machine needs QEMU for.
    pub fn foreign() -> Vec<Arch> {
        Arch::ALL
            .into_iter()
            .filter(|a| !Arch::host().is_some_and(|h| a.runs_natively_on(h)))
            .collect()
    }

    pub fn parse(s: &str) -> Result<Arch> {
        ROWS.iter()
            .find(|r| r.name == s || r.aliases.contains(&s))
            .map(|r| r.arch)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown arch `{s}`: use one of {}, or `all`, comma-separated",
                    Arch::ALL.map(Arch::name).join(", ")
                )
            })
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An interpreter as the user names it: `cp312`, `cp313t` (free-threaded) or `pp310` (PyPy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PythonTag {
    CPython { minor: u16, free_threaded: bool },
    PyPy { minor: u16 },
}

impl PythonTag {
    pub fn parse(s: &str) -> Result<PythonTag> {
        let err = || {
            anyhow::anyhow!(
                "invalid interpreter tag `{s}`: use cp3XY (CPython), cp3XYt (free-threaded CPython), pp3XY (PyPy) or `all`"
            )
        };
        let (kind, rest) = s.split_at_checked(2).ok_or_else(err)?;
        let (digits, free_threaded) = match rest.strip_suffix('t') {
            Some(d) if kind == "cp" => (d, true),
            _ => (rest, false),
        };
        let minor = digits
            .strip_prefix('3')
            .filter(|m| !m.is_empty() && m.len() <= 2 && m.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|m| m.parse::<u16>().ok())
            .ok_or_else(err)?;
        match kind {
            "cp" => Ok(PythonTag::CPython {
                minor,
                free_threaded,
            }),
            "pp" => Ok(PythonTag::PyPy { minor }),
            _ => Err(err()),
        }
    }

    /// Recognises a folder of /opt/python (`cp312-cp312`, `cp313-cp313t`,
    /// `pp310-pypy310_pp73`); other folders (such as `cp312-cp312` links
    /// added by some images under other names) are not interpreters we build for.
    pub fn from_dir(dir: &str) -> Option<PythonTag> {
        let (py, abi) = dir.split_once('-')?;
        let tag = PythonTag::parse(py).ok()?;
        let ok = match tag {
            PythonTag::CPython { .. } => abi == py || abi.strip_suffix('t') == Some(py),
            PythonTag::PyPy { minor } => abi.starts_with(&format!("pypy3{minor}_")),
        };
        if !ok {
            return None;
        }
        match tag {
            PythonTag::CPython { minor, .. } => Some(PythonTag::CPython {
                minor,
                free_threaded: abi.ends_with('t'),
            }),
            pypy => Some(pypy),
        }
    }

    /// The folder manylinux images use for this interpreter, when it is
    /// derivable from the tag alone (PyPy's ABI tag carries its own version).
    pub fn dir_guess(self) -> String {
        match self {
            PythonTag::CPython { .. } => {
                let py = format!("cp3{}", self.minor());
                format!("{py}-{self}")
            }
            PythonTag::PyPy { minor } => format!("{self}-pypy3{minor}_pp73"),
        }
    }

    pub fn minor(self) -> u16 {
        match self {
            PythonTag::CPython { minor, .. } | PythonTag::PyPy { minor } => minor,
        }
    }
}

impl fmt::Display for PythonTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PythonTag::CPython {
                minor,
                free_threaded,
            } => {
                write!(f, "cp3{minor}{}", if *free_threaded { "t" } else { "" })
            }
            PythonTag::PyPy { minor } => write!(f, "pp3{minor}"),
        }
    }
}

/// Which interpreters to build for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    All,
    Tags(Vec<PythonTag>),
}

impl Selection {
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Selection> {
        let items: Vec<&str> = items.iter().map(|s| s.as_ref().trim()).collect();
        if items.is_empty() || items.iter().all(|s| s.is_empty()) {
            bail!("empty interpreter list: name at least one tag, such as cp312, or `all`");
        }
        if items.contains(&"all") {
            if items.len() > 1 {
                bail!("`all` cannot be combined with other interpreter tags: give `all` alone");
            }
            return Ok(Selection::All);
        }
        let mut tags = Vec::new();
        for item in items {
            let tag = PythonTag::parse(item)?;
            if tags.contains(&tag) {
                bail!("interpreter `{tag}` is given twice: name each interpreter once");
            }
            tags.push(tag);
        }
        Ok(Selection::Tags(tags))
    }

    /// Picks the interpreters from what an image offers (its /opt/python folders).
    /// Returns (tag, folder) pairs in the order asked, or in the image's order for `all`.
    pub fn resolve(&self, offered: &[String]) -> Result<Vec<(PythonTag, String)>> {
        let available: Vec<(PythonTag, String)> = offered
            .iter()
            .filter_map(|dir| PythonTag::from_dir(dir).map(|tag| (tag, dir.clone())))
            .collect();
        match self {
            Selection::All => {
                if available.is_empty() {
                    bail!("the image offers no interpreter in /opt/python");
                }
                Ok(available)
            }
            Selection::Tags(tags) => tags
                .iter()
                .map(|tag| {
                    available
                        .iter()
                        .find(|(t, _)| t == tag)
                        .cloned()
                        .ok_or_else(|| {
                            let list: Vec<String> =
                                available.iter().map(|(t, _)| t.to_string()).collect();
                            anyhow::anyhow!(
                                "interpreter `{tag}` is not in the image; it offers: {}",
                                if list.is_empty() {
                                    "none".to_string()
                                } else {
                                    list.join(", ")
                                }
                            )
                        })
                })
                .collect(),
        }
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::All => f.write_str("all"),
            Selection::Tags(tags) => {
                let names: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// The C library a wheel is built against: glibc (manylinux wheels, the
/// default) or musl (musllinux wheels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Libc {
    #[default]
    Glibc,
    Musl,
}

impl Libc {
    pub const ALL: [Libc; 2] = [Libc::Glibc, Libc::Musl];

    /// The platform tag's family: `manylinux` or `musllinux`.
    pub fn family(self) -> &'static str {
        match self {
            Libc::Glibc => "manylinux",
            Libc::Musl => "musllinux",
        }
    }

    pub fn parse(s: &str) -> Result<Libc> {
        match s {
            "manylinux" | "glibc" => Ok(Libc::Glibc),
            "musllinux" | "musl" => Ok(Libc::Musl),
            _ => bail!("unknown libc `{s}`: use manylinux (glibc), musllinux (musl) or both, as in manylinux,musllinux"),
        }
    }

    /// `manylinux`, `musllinux`, `manylinux,musllinux` or `all`, in the
    /// order given.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Libc>> {
        let items: Vec<&str> = items
            .iter()
            .flat_map(|s| s.as_ref().split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items == ["all"] {
            return Ok(Libc::ALL.to_vec());
        }
        let mut libcs = Vec::new();
        for item in items {
            let libc = Libc::parse(item)?;
            if libcs.contains(&libc) {
                bail!("`{item}` is given twice: name manylinux and musllinux once each");
            }
            libcs.push(libc);
        }
        if libcs.is_empty() {
            bail!("no libc given: name manylinux, musllinux or both");
        }
        Ok(libcs)
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.family())
    }
}

/// One wheel to build: `cp312-manylinux_x86_64`, `cp313-musllinux_aarch64`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildId {
    pub python: PythonTag,
    pub arch: Arch,
    pub libc: Libc,
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}_{}", self.python, self.libc.family(), self.arch)
    }
}

impl BuildId {
    /// `cp312-manylinux_x86_64`, `pp310-manylinux_aarch64`, `cp313-musllinux_x86_64`.
    pub fn parse(s: &str) -> Result<BuildId> {
        let err = || {
            anyhow::anyhow!(
                "`{s}` is not a build identifier: write <interpreter>-manylinux_<arch> or <interpreter>-musllinux_<arch>, such as cp312-manylinux_x86_64"
            )
        };
        let (python, platform) = s.split_once('-').ok_or_else(err)?;
        let (family, arch) = platform.split_once('_').ok_or_else(err)?;
        Ok(BuildId {
            python: PythonTag::parse(python)?,
            arch: Arch::parse(arch)
                .ok()
                .filter(|a| a.name() == arch)
                .ok_or_else(err)?,
            libc: Libc::ALL
                .into_iter()
                .find(|l| l.family() == family)
                .ok_or_else(err)?,
        })
    }
}

/// cibuildwheel's build selectors: glob patterns over build identifiers
/// (`*`, `?`, `[...]`, `[!...]`), with shell-like braces (`cp3{10,11}-*`,
/// `cp3{10..12}-*`), matched case-sensitively as Python's fnmatch does on Linux.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Patterns(Vec<String>);

impl Patterns {
    /// Each item may hold several space-separated patterns.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Patterns> {
        let mut patterns = Vec::new();
        for item in items {
            for word in item.as_ref().split_whitespace() {
                let expanded = expand_braces(word);
                if expanded.is_empty() {
                    bail!("pattern `{word}` has unbalanced braces: write cp3{{10,11}}-*");
                }
                patterns.push(word.to_string());
            }
        }
        Ok(Patterns(patterns))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether any pattern matches `id`.
    pub fn matches(&self, id: &str) -> bool {
        self.0.iter().any(|p| pattern_matches(p, id))
    }
}

impl fmt::Display for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// Whether some build of `arch` could pass the patterns, whatever the image
/// offers: tried on every interpreter a manylinux image might carry, so that
/// an arch the patterns rule out needs no container at all.
pub fn could_select(build: &Patterns, skip: &Patterns, arch: Arch, libc: Libc) -> bool {
    let minors = 6..=30;
    let tags = minors.clone().flat_map(|minor| {
        [
            PythonTag::CPython {
                minor,
                free_threaded: false,
            },
            PythonTag::CPython {
                minor,
                free_threaded: true,
            },
            PythonTag::PyPy { minor },
        ]
    });
    tags.map(|python| BuildId { python, arch, libc }.to_string())
        .any(|id| (build.is_empty() || build.matches(&id)) && !skip.matches(&id))
}

/// The builds the patterns keep, in the order given. Each build pattern must
/// select something: one that selects nothing is most likely a typo.
pub fn filter_builds<T>(
    builds: Vec<(BuildId, T)>,
    build: &Patterns,
    skip: &Patterns,
) -> Result<Vec<(BuildId, T)>> {
    let ids: Vec<String> = builds.iter().map(|(id, _)| id.to_string()).collect();
    for pattern in build.iter() {
        if !ids.iter().any(|id| pattern_matches(pattern, id)) {
            bail!(
                "build pattern `{pattern}` selects none of the builds the images offer: {}",
                ids.join(" ")
            );
        }
    }
    let kept: Vec<(BuildId, T)> = builds
        .into_iter()
        .filter(|(id, _)| {
            let id = id.to_string();
            (build.is_empty() || build.matches(&id)) && !skip.matches(&id)
        })
        .collect();
    if kept.is_empty() {
        bail!(
            "build `{build}` and skip `{skip}` leave none of the builds the images offer: {}",
            ids.join(" ")
        );
    }
    Ok(kept)
}

/// Whether one pattern (braces and all) matches `id`.
pub fn pattern_matches(pattern: &str, id: &str) -> bool {
    expand_braces(pattern)
        .iter()
        .any(|p| glob(p.as_bytes(), id.as_bytes()))
}

/// Expands the first brace group, then the rest; empty when braces do not balance.
fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return if pattern.contains('}') {
            Vec::new()
        } else {
            vec![pattern.to_string()]
        };
    };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return Vec::new();
    };
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let alternatives: Vec<String> = if commas.is_empty() {
        match inner
            .split_once("..")
            .map(|(a, b)| (a.parse::<u32>(), b.parse::<u32>()))
        {
            Some((Ok(a), Ok(b))) if a <= b => (a..=b).map(|n| n.to_string()).collect(),
            // `{x}` with neither comma nor range stays as it is, as in a shell.
            _ => {
                return expand_braces(tail)
                    .into_iter()
                    .map(|t| format!("{head}{{{inner}}}{t}"))
                    .collect()
            }
        }
    } else {
        bounds
            .windows(2)
            .map(|w| pattern[w[0] + 1..w[1]].to_string())
            .collect()
    };
    let mut out = Vec::new();
    for alt in alternatives {
        let expanded = expand_braces(&format!("{head}{alt}{tail}"));
        if expanded.is_empty() {
            return Vec::new();
        }
        out.extend(expanded);
    }
    out
}

/// fnmatch: `*`, `?`, `[set]`, `[!set]`; other bytes match themselves.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((b'[', rest)) => match (s.split_first(), class(rest)) {
            (Some((&c, s_rest)), Some((matches, p_rest))) => matches(c) && glob(p_rest, s_rest),
            // An unclosed `[` is a literal, as in fnmatch.
            (Some((&c, s_rest)), None) => c == b'[' && glob(rest, s_rest),
            (None, _) => false,
        },
        Some((&c, rest)) => s.first() == Some(&c) && glob(rest, &s[1..]),
    }
}

/// A bracket expression after its `[`: a test for one byte, and the rest of the pattern.
fn class(p: &[u8]) -> Option<(impl Fn(u8) -> bool + '_, &[u8])> {
    let (negate, body) = match p.first() {
        Some(b'!') => (true, &p[1..]),
        _ => (false, p),
    };
    // A `]` first in the set is a member, not the end.
    let end = body.iter().skip(1).position(|&b| b == b']')? + 1;
    let set = &body[..end];
    let test = move |c: u8| {
        let mut hit = false;
        let mut i = 0;
        while i < set.len() {
            if i + 2 < set.len() && set[i + 1] == b'-' {
                hit |= set[i] <= c && c <= set[i + 2];
                i += 3;
            } else {
                hit |= set[i] == c;
                i += 1;
            }
        }
        hit != negate
    };
    Some((test, &body[end + 1..]))
}

/// Parses a comma-separated list of architectures, rejecting repeats.
pub fn parse_arches<S: AsRef<str>>(items: &[S]) -> Result<Vec<Arch>> {
    let mut arches = Vec::new();
    if items.len() == 1 && items[0].as_ref().trim() == "all" {
        return Ok(Arch::ALL.to_vec());
    }
    for item in items {
        let arch = Arch::parse(item.as_ref().trim())?;
        if arches.contains(&arch) {
            bail!(
                "arch `{}` is given twice: name each arch once",
                item.as_ref().trim()
            );
        }
        arches.push(arch);
    }
    if arches.is_empty() {
        bail!("empty arch list: name at least one arch, such as x86_64, or `all`");
    }
    Ok(arches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names() {
        assert_eq!(Arch::parse("x86_64").unwrap(), Arch::X86_64);
        assert_eq!(Arch::parse("amd64").unwrap(), Arch::X86_64);
        assert_eq!(Arch::parse("arm64").unwrap(), Arch::Aarch64);
        assert_eq!(Arch::parse("aarch64").unwrap(), Arch::Aarch64);
        let err = Arch::parse("arm").unwrap_err().to_string();
        assert!(
            err.contains("`arm`")
                && err.contains("x86_64, i686, aarch64, ppc64le, s390x, armv7l, riscv64, or `all`"),
            "{err}"
        );
        assert_eq!(Arch::Aarch64.docker_platform(), "linux/arm64");
        assert_eq!(Arch::X86_64.docker_platform(), "linux/amd64");
    }

    #[test]
    fn arch_lists() {
        assert_eq!(
            parse_arches(&["x86_64", "arm64"]).unwrap(),
            vec![Arch::X86_64, Arch::Aarch64]
        );
        assert!(parse_arches(&["arm64", "aarch64"])
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(parse_arches::<&str>(&[])
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn python_tags_round_trip() {
        for s in ["cp36", "cp312", "cp313t", "pp39", "pp310", "cp314t"] {
            assert_eq!(PythonTag::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            PythonTag::parse("cp313t").unwrap(),
            PythonTag::CPython {
                minor: 13,
                free_threaded: true
            }
        );
    }

    #[test]
    fn bad_python_tags() {
        for s in [
            "", "cp", "cp3", "cp27", "py312", "cp3x", "pp310t", "cp3123", "CP312", "cp312tt",
            "cp-1",
        ] {
            let err = PythonTag::parse(s).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{s}`")) && err.contains("cp3XY"),
                "{s}: {err}"
            );
        }
    }

    #[test]
    fn dirs() {
        assert_eq!(
            PythonTag::from_dir("cp312-cp312"),
            Some(PythonTag::parse("cp312").unwrap())
        );
        assert_eq!(
            PythonTag::from_dir("cp313-cp313t"),
            Some(PythonTag::parse("cp313t").unwrap())
        );
        assert_eq!(
            PythonTag::from_dir("pp310-pypy310_pp73"),
            Some(PythonTag::parse("pp310").unwrap())
        );
        assert_eq!(PythonTag::from_dir("cp312-cp311"), None);
        assert_eq!(PythonTag::from_dir("pp310-pypy39_pp73"), None);
        assert_eq!(PythonTag::from_dir("README"), None);
        assert_eq!(
            PythonTag::parse("cp313t").unwrap().dir_guess(),
            "cp313-cp313t"
        );
        assert_eq!(
            PythonTag::parse("cp312").unwrap().dir_guess(),
            "cp312-cp312"
        );
        assert_eq!(
            PythonTag::parse("pp39").unwrap().dir_guess(),
            "pp39-pypy39_pp73"
        );
    }

    #[test]
    fn selections() {
        assert_eq!(Selection::parse_list(&["all"]).unwrap(), Selection::All);
        assert!(Selection::parse_list(&["all", "cp312"])
            .unwrap_err()
            .to_string()
            .contains("alone"));
        assert!(Selection::parse_list(&[""])
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(Selection::parse_list(&["cp312", "cp312"])
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let offered: Vec<String> = [
            "cp311-cp311",
            "cp313-cp313t",
            "pp39-pypy39_pp73",
            "cp313-cp313",
        ]
        .map(String::from)
        .to_vec();
        let all = Selection::All.resolve(&offered).unwrap();
        assert_eq!(all.len(), 4);
        let some = Selection::parse_list(&["pp39", "cp313"])
            .unwrap()
            .resolve(&offered)
            .unwrap();
        assert_eq!(some[0].1, "pp39-pypy39_pp73");
        assert_eq!(some[1].1, "cp313-cp313");
        let err = Selection::parse_list(&["cp312"])
            .unwrap()
            .resolve(&offered)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "interpreter `cp312` is not in the image; it offers: cp311, cp313t, pp39, cp313"
        );
    }

    #[test]
    fn build_ids() {
        let id = BuildId {
            python: PythonTag::parse("cp312").unwrap(),
            arch: Arch::X86_64,
            libc: Libc::Glibc,
        };
        assert_eq!(id.to_string(), "cp312-manylinux_x86_64");
        let musl = BuildId::parse("cp313-musllinux_aarch64").unwrap();
        assert_eq!(
            (musl.arch, musl.libc, musl.to_string().as_str()),
            (Arch::Aarch64, Libc::Musl, "cp313-musllinux_aarch64")
        );
        assert!(BuildId::parse("cp313-muslinux_x86_64").is_err());
        assert_eq!(
            Libc::parse_list(&["musllinux,manylinux"]).unwrap(),
            [Libc::Musl, Libc::Glibc]
        );
        assert_eq!(Libc::parse_list(&["all"]).unwrap(), Libc::ALL);
        assert!(Libc::parse_list(&["musl,musllinux"]).is_err());
        assert_eq!(
            Libc::parse("alpine").unwrap_err().to_string(),
            "unknown libc `alpine`: use manylinux (glibc), musllinux (musl) or both, as in manylinux,musllinux"
        );
        let id = BuildId {
            python: PythonTag::parse("pp39").unwrap(),
            arch: Arch::Aarch64,
            libc: Libc::Glibc,
        };
        assert_eq!(id.to_string(), "pp39-manylinux_aarch64");
    }

    fn pats(s: &str) -> Patterns {
        Patterns::parse(&[s]).unwrap()
    }

    /// The examples of cibuildwheel's documentation of `build` and `skip`,
    /// on Linux identifiers.
    #[test]
    fn patterns_as_cibuildwheel_documents_them() {
        let ids = [
            "cp38-manylinux_x86_64",
            "cp310-manylinux_x86_64",
            "cp311-manylinux_x86_64",
            "cp311-manylinux_aarch64",
            "cp313t-manylinux_x86_64",
            "pp39-manylinux_x86_64",
            "pp310-manylinux_aarch64",
        ];
        let hits = |p: &str| -> Vec<&str> {
            let p = pats(p);
            ids.iter().copied().filter(|id| p.matches(id)).collect()
        };
        // "Only build on CPython 3.11": `cp311-*`.
        assert_eq!(
            hits("cp311-*"),
            ["cp311-manylinux_x86_64", "cp311-manylinux_aarch64"]
        );
        // "Skip PyPy": `pp*`.
        assert_eq!(
            hits("pp*"),
            ["pp39-manylinux_x86_64", "pp310-manylinux_aarch64"]
        );
        // Several patterns, space-separated.
        assert_eq!(
            hits("cp38-* pp39-*"),
            ["cp38-manylinux_x86_64", "pp39-manylinux_x86_64"]
        );
        // `?` is one character: cp31? is 3.10 to 3.19, and not cp313t.
        assert_eq!(
            hits("cp31?-*"),
            [
                "cp310-manylinux_x86_64",
                "cp311-manylinux_x86_64",
                "cp311-manylinux_aarch64"
            ]
        );
        // "Skip every aarch64 build": `*-manylinux_aarch64`.
        assert_eq!(
            hits("*-manylinux_aarch64"),
            ["cp311-manylinux_aarch64", "pp310-manylinux_aarch64"]
        );
        // Braces: `cp3{10,11}-*`, and numeric ranges.
        assert_eq!(
            hits("cp3{10,11}-manylinux_x86_64"),
            ["cp310-manylinux_x86_64", "cp311-manylinux_x86_64"]
        );
        assert_eq!(
            hits("cp3{8..10}-*"),
            ["cp38-manylinux_x86_64", "cp310-manylinux_x86_64"]
        );
        // Free-threaded builds: `cp3??t-*` (cibuildwheel's own test for them).
        assert_eq!(hits("cp3??t-*"), ["cp313t-manylinux_x86_64"]);
        // Sets and negated sets.
        assert_eq!(hits("cp3[8]-*"), ["cp38-manylinux_x86_64"]);
        assert_eq!(hits("[!c]*aarch64"), ["pp310-manylinux_aarch64"]);
        // `*` alone is everything; matching is case-sensitive, as fnmatch on Linux.
        assert_eq!(hits("*").len(), ids.len());
        assert!(hits("CP311-*").is_empty());
        assert!(Patterns::parse(&["cp3{10,11-*"]).is_err());
        assert!(Patterns::parse(&["cp3}-*"]).is_err());
        assert_eq!(Patterns::parse(&["  "]).unwrap(), Patterns::default());
    }

    #[test]
    fn patterns_rule_out_arches_before_anything_starts() {
        let none = Patterns::default();
        assert!(could_select(&none, &none, Arch::Aarch64, Libc::Glibc));
        let x86 = pats("*-manylinux_x86_64");
        assert!(!could_select(&x86, &none, Arch::Aarch64, Libc::Glibc));
        assert!(could_select(&x86, &none, Arch::X86_64, Libc::Glibc));
        assert!(!could_select(&x86, &none, Arch::X86_64, Libc::Musl));
        let musl = pats("*-musllinux_*");
        assert!(could_select(&musl, &none, Arch::Aarch64, Libc::Musl));
        assert!(!could_select(&none, &musl, Arch::Aarch64, Libc::Musl));
        assert!(could_select(&none, &musl, Arch::Aarch64, Libc::Glibc));
        assert!(!could_select(
            &none,
            &pats("*aarch64"),
            Arch::Aarch64,
            Libc::Glibc
        ));
        assert!(could_select(
            &pats("cp3??t-*"),
            &none,
            Arch::Aarch64,
            Libc::Glibc
        ));
    }

    #[test]
    fn filtering_builds() {
        let offered: Vec<(BuildId, ())> = [
            "cp311-manylinux_x86_64",
            "pp39-manylinux_x86_64",
            "cp311-manylinux_aarch64",
        ]
        .iter()
        .map(|s| (BuildId::parse(s).unwrap(), ()))
        .collect();
        let kept = filter_builds(offered.clone(), &pats("cp*"), &pats("*aarch64")).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0.to_string(), "cp311-manylinux_x86_64");
        let e = filter_builds(
            offered.clone(),
            &pats("cp311-* cp399-*"),
            &Patterns::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "build pattern `cp399-*` selects none of the builds the images offer: cp311-manylinux_x86_64 pp39-manylinux_x86_64 cp311-manylinux_aarch64"
        );
        let e = filter_builds(offered, &Patterns::default(), &pats("*")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("build `` and skip `*` leave none"),
            "{e}"
        );
    }

    #[test]
    fn build_ids_round_trip() {
        for s in [
            "cp312-manylinux_x86_64",
            "cp313t-manylinux_aarch64",
            "pp310-manylinux_aarch64",
        ] {
            assert_eq!(BuildId::parse(s).unwrap().to_string(), s);
        }
        for bad in [
            "cp312",
            "cp312-linux_x86_64",
            "cp312-manylinux_arm64",
            "cp3x-manylinux_x86_64",
            "cp312-manylinux_sparc",
        ] {
            assert!(BuildId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Arch::from_docker_name("arm64"), Some(Arch::Aarch64));
        assert_eq!(Arch::from_docker_name("amd64"), Some(Arch::X86_64));
        assert_eq!(Arch::from_docker_name("s390x"), Some(Arch::S390x));
        assert_eq!(Arch::from_docker_name("arm"), Some(Arch::Armv7l));
        assert_eq!(Arch::from_docker_name("386"), Some(Arch::I686));
        assert_eq!(Arch::from_docker_name("mips64le"), None);
        assert_eq!(Arch::parse("armhf").unwrap(), Arch::Armv7l);
        assert_eq!(parse_arches(&["all"]).unwrap(), Arch::ALL.to_vec());
        for row in &ROWS {
            assert_eq!(row.arch.row().name, row.name, "rows are in Arch's order");
            assert_eq!(Arch::parse(row.name).unwrap(), row.arch);
            assert_eq!(
                BuildId::parse(&format!("cp313-manylinux_{}", row.name))
                    .unwrap()
                    .arch,
                row.arch
            );
        }
    }
}
