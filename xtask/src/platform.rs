//! The names of the domain: architectures, interpreter tags and build ids.

use std::fmt;

use anyhow::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The name manylinux and auditwheel use (`x86_64`, `aarch64`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The name Docker uses for the architecture of an image (`amd64`, `arm64`).
    pub fn docker_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The `--platform` value of `docker run` and `docker build`.
    pub fn docker_platform(self) -> String {
        format!("linux/{}", self.docker_name())
    }

    /// The architecture this program runs on; the other one needs emulation.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            _ => None,
        }
    }

    pub fn parse(s: &str) -> Result<Arch> {
        match s {
            "x86_64" | "amd64" | "x64" => Ok(Arch::X86_64),
            "arm64" | "aarch64" => Ok(Arch::Aarch64),
            _ => {
                bail!("unknown arch `{s}`: use x86_64 or arm64 (aarch64), or both, comma-separated")
            }
        }
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

/// One wheel to build: `cp312-manylinux_x86_64`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildId {
    pub python: PythonTag,
    pub arch: Arch,
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-manylinux_{}", self.python, self.arch)
    }
}

/// Parses a comma-separated list of architectures, rejecting repeats.
pub fn parse_arches<S: AsRef<str>>(items: &[S]) -> Result<Vec<Arch>> {
    let mut arches = Vec::new();
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
        bail!("empty arch list: use x86_64, arm64, or both");
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
            err.contains("`arm`") && err.contains("x86_64 or arm64"),
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
        };
        assert_eq!(id.to_string(), "cp312-manylinux_x86_64");
        let id = BuildId {
            python: PythonTag::parse("pp39").unwrap(),
            arch: Arch::Aarch64,
        };
        assert_eq!(id.to_string(), "pp39-manylinux_aarch64");
    }
}
