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
    /// Where its programs look for the dynamic loader (PT_INTERP), for the
    /// machines whose native tools run in emulated containers.
    pub loader: Option<&'static str>,
    /// QEMU CPU models that emulate it faster than QEMU's default, each for
    /// the QEMU versions where it is faster; the first that fits is taken.
    pub fast_cpu: &'static [FastCpu],
}

/// A faster CPU model, for the QEMU versions where it is faster.
#[derive(Debug)]
pub struct FastCpu {
    pub model: &'static str,
    /// The first QEMU (major, minor) that has it, and the first where
    /// another model of the list takes over.
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
        loader: Some("/lib64/ld-linux-x86-64.so.2"),
        fast_cpu: &[],
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
        loader: None,
        fast_cpu: &[],
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
        loader: Some("/lib/ld-linux-aarch64.so.1"),
        // Neoverse-N1 is Armv8.2: no pointer authentication, which QEMU's
        // default and `max` models emulate slowly (the PAC hints Debian's
        // and most arm64 binaries carry are no-ops on it), and fewer
        // features to emulate. Wheels must run on Armv8.0 machines, so a
        // build that needs more than Armv8.2 is wrong whatever it runs on.
        // Measured on an 8-file C extension, the whole emulated build:
        // 0.77 of `max,pauth-impdef=on` under QEMU 7.2, 0.94 of the default
        // under 11.1. Before 7.1 (no Neoverse-N1): pointer authentication
        // kept, but computed by the cheap implementation-defined hash
        // instead of the architected QARMA, three times faster.
        fast_cpu: &[
            FastCpu {
                model: "neoverse-n1",
                from: (7, 1),
                until: None,
                why: "emulates Neoverse-N1 (Armv8.2, no pointer authentication) faster than its default model",
            },
            FastCpu {
                model: "max,pauth-impdef=on",
                from: (6, 0),
                until: Some((7, 1)),
                why: "emulates pointer authentication slowly by default",
            },
        ],
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
        loader: None,
        fast_cpu: &[],
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
        loader: None,
        fast_cpu: &[],
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
        loader: None,
        fast_cpu: &[],
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
        loader: None,
        // The demo's emulated build (gcc, repair, import check), paired
        // runs: `rv64` 0.62 of QEMU 11.1's default model, the wheels
        // byte-identical; under 7.2 the two were within noise.
        fast_cpu: &[FastCpu {
            model: "rv64",
            from: (7, 2),
            until: None,
            why: "emulates the plain RV64GC model faster than its default",
        }],
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
mod tests;
