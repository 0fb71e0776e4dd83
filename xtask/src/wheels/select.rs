//! What a run builds, decided in one place: `wheels`, its dry run and
//! `matrix` all ask a `Selector`, so a CI fan-out lists exactly what `wheels`
//! would build.

use anyhow::{Context, Result};

use super::package::RequiresPython;
use crate::config::Config;
use crate::patterns::{could_select, filter_builds, Patterns};
use crate::platform::{parse_arches, Arch, BuildId, Libc, PythonTag, Selection};
use crate::util::usage;

/// The arches, the interpreters, the identifier patterns and the package's
/// Requires-Python of a run.
#[derive(Clone, Debug)]
pub struct Selector {
    /// The arches of `platforms`, each once, in order.
    pub arches: Vec<Arch>,
    /// What the targets are: each arch with each C library asked for
    /// (manylinux first), less those the patterns rule out.
    pub platforms: Vec<(Arch, Libc)>,
    pub pythons: Selection,
    /// Identifier patterns: what to build (empty: everything), what to skip.
    pub build: Patterns,
    pub skip: Patterns,
    /// The Python versions the package supports, as it states them.
    pub requires_python: Option<RequiresPython>,
    /// cibuildwheel's `enable`, when the package gives it: PyPy and
    /// free-threaded CPython are built only when it names them.
    pub enable: Option<Vec<String>>,
}

/// The selection as the command line gave it (None and empty: the configuration's).
#[derive(Clone, Copy, Debug, Default)]
pub struct SelectionFlags<'a> {
    pub arch: &'a [String],
    /// `--libc`: manylinux, musllinux or both.
    pub libc: Option<&'a str>,
    pub py: Option<&'a str>,
    pub build: Option<&'a str>,
    pub skip: Option<&'a str>,
    /// One build identifier: its arch and interpreter are the whole selection.
    pub only: Option<&'a str>,
}

/// One build of a run: its identifier (whose arch and C library name its
/// target) and its interpreter's folder under /opt/python.
#[derive(Clone, Debug, PartialEq)]
pub struct Build {
    pub id: BuildId,
    pub dir: String,
}

/// What one arch's image offers: the folders of its /opt/python.
pub struct Offer<'a> {
    pub arch: Arch,
    pub libc: Libc,
    pub image: &'a str,
    pub dirs: &'a [String],
}

/// The builds of a run, and the interpreters Requires-Python left out (a line each).
#[derive(Debug)]
pub struct Selected {
    pub builds: Vec<Build>,
    pub excluded: Vec<String>,
}

impl Offer<'_> {
    /// `x86_64` for manylinux, `musllinux_x86_64` for musllinux: how
    /// messages name the target.
    pub fn name(&self) -> String {
        platform_name(self.arch, self.libc)
    }
}

/// How messages name a target: its arch for manylinux, which most runs
/// build alone, `musllinux_<arch>` for musllinux.
pub fn platform_name(arch: Arch, libc: Libc) -> String {
    match libc {
        Libc::Glibc => arch.name().into(),
        Libc::Musl => format!("musllinux_{arch}"),
    }
}

impl Selector {
    /// From the flags, else the configuration; arches that the patterns rule
    /// out entirely are dropped before any container starts.
    pub fn new(asked: SelectionFlags, config: &Config) -> Result<Selector> {
        if let Some(only) = asked.only {
            let id = BuildId::parse(only).map_err(|e| usage(format!("--only: {e:#}")))?;
            return Ok(Selector {
                arches: vec![id.arch],
                platforms: vec![(id.arch, id.libc)],
                pythons: Selection::Tags(vec![id.python]),
                build: Patterns::default(),
                skip: Patterns::default(),
                requires_python: None,
                enable: None,
            });
        }
        let arches = if asked.arch.is_empty() {
            config.arch.clone()
        } else {
            parse_arches(asked.arch).map_err(usage)?
        };
        let pythons = match asked.py {
            Some(py) => Selection::parse_list(&py.split(',').collect::<Vec<_>>())
                .map_err(|e| usage(format!("--py: {e:#}")))?,
            None => config.python.clone(),
        };
        let patterns = |flag: Option<&str>, name: &str, from_config: &Patterns| match flag {
            Some(p) => {
                let parsed =
                    Patterns::parse(&[p]).map_err(|e| usage(format!("--{name}: {e:#}")))?;
                if parsed.is_empty() {
                    return Err(usage(format!(
                        "--{name} is empty: give glob patterns such as 'cp31?-*', or leave it out"
                    )));
                }
                Ok(parsed)
            }
            None => Ok(from_config.clone()),
        };
        let build = patterns(asked.build, "build", &config.build)?;
        let skip = patterns(asked.skip, "skip", &config.skip)?;
        let libcs = match asked.libc {
            Some(l) => Libc::parse_list(&[l]).map_err(|e| usage(format!("--libc: {e:#}")))?,
            None => config.libc.clone(),
        };
        let platforms: Vec<(Arch, Libc)> = libcs
            .iter()
            .flat_map(|&l| arches.iter().map(move |&a| (a, l)))
            .filter(|&(a, l)| could_select(&build, &skip, a, l))
            .collect();
        if platforms.is_empty() {
            let names: Vec<String> = libcs
                .iter()
                .flat_map(|l| arches.iter().map(move |a| format!("{l}_{a}")))
                .collect();
            let hint = match libcs.as_slice() {
                [Libc::Glibc] if build.iter().any(|p| p.contains("musllinux")) => {
                    " (musllinux builds are made only when asked: --libc musllinux, or libc in Cargo.toml)"
                }
                _ => "",
            };
            return Err(usage(format!(
                "build `{build}` and skip `{skip}` select no build for {}: widen --build or narrow --skip (identifiers look like cp312-manylinux_x86_64){hint}",
                names.join(", ")
            )));
        }
        let mut kept: Vec<Arch> = Vec::new();
        for &(a, _) in &platforms {
            if !kept.contains(&a) {
                kept.push(a);
            }
        }
        Ok(Selector {
            arches: kept,
            platforms,
            pythons,
            build,
            skip,
            requires_python: None,
            enable: config.steps.enable.clone(),
        })
    }

    /// With `--standin`, where the libc was not asked for by name: the
    /// platforms that have no stand-in are left out, a line each saying so
    /// (the stand-ins are test images; the real images build every libc).
    pub fn leave_out_missing_standins(&mut self) -> Vec<String> {
        let (kept, left): (Vec<_>, Vec<_>) = self
            .platforms
            .iter()
            .partition(|&&(a, l)| crate::standin::exists(a, l));
        if kept.is_empty() {
            return Vec::new();
        }
        self.platforms = kept;
        self.arches
            .retain(|a| self.platforms.iter().any(|(p, _)| p == a));
        left.into_iter()
            .map(|(a, l)| format!("{}: left out, there is no {l} stand-in for {a} (the real image, without --standin, builds it)", platform_name(a, l)))
            .collect()
    }

    /// Takes the package's Requires-Python: an interpreter named (by `asked`,
    /// such as `--py`) that it excludes is an error before anything starts.
    pub fn require(&mut self, req: Option<RequiresPython>, asked: &str) -> Result<()> {
        if let (Some(req), Selection::Tags(tags)) = (&req, &self.pythons) {
            if let Some(tag) = tags.iter().find(|&&t| !req.allows(t)) {
                return Err(usage(format!(
                    "{asked} names {tag}, but the package's Requires-Python `{}` ({}) excludes Python 3.{}: leave {tag} out (`all` builds every interpreter it allows)",
                    req.spec,
                    req.from,
                    tag.minor()
                )));
            }
        }
        self.requires_python = req;
        Ok(())
    }

    /// Why cibuildwheel 4's selection leaves this interpreter out, when a
    /// `[tool.cibuildwheel]` table asks for it: the `enable` group it needs
    /// is not named, or cibuildwheel 4 builds it no more.
    fn not_enabled(&self, python: PythonTag) -> Option<String> {
        let enable = self.enable.as_ref()?;
        let group = match python {
            PythonTag::PyPy { minor } if minor <= 10 => "pypy-eol",
            PythonTag::PyPy { .. } => "pypy",
            PythonTag::CPython {
                minor: ..=13,
                free_threaded: true,
            } => return Some("cibuildwheel 4 builds no free-threaded CPython before 3.14".into()),
            PythonTag::CPython { minor: 16.., .. } => "cpython-prerelease",
            PythonTag::CPython { .. } => return None,
        };
        (!enable.iter().any(|e| e == group))
            .then(|| format!("[tool.cibuildwheel] enable does not name {group}"))
    }

    /// The builds, given what each arch's image offers (in the run's order of
    /// targets): the interpreters asked for, less those Requires-Python
    /// excludes, then the patterns.
    pub fn builds(&self, offers: &[Offer]) -> Result<Selected> {
        let mut offered = Vec::new();
        let mut excluded = Vec::new();
        let offers_tag =
            |offer: &Offer, tag: PythonTag| Selection::Tags(vec![tag]).resolve(offer.dirs).is_ok();
        for offer in offers {
            // An interpreter named that this target's image lacks is left
            // out of it when another target's image has it (cp313t where
            // the musllinux image has no free-threaded CPython).
            let pythons = match &self.pythons {
                Selection::Tags(tags) if offers.len() > 1 => {
                    let (have, lack): (Vec<PythonTag>, Vec<PythonTag>) =
                        tags.iter().partition(|&&t| offers_tag(offer, t));
                    for tag in lack {
                        if offers.iter().any(|o| offers_tag(o, tag)) {
                            excluded.push(format!(
                                "{tag} on {}: skipped, image `{}` does not offer it",
                                offer.name(),
                                offer.image
                            ));
                        } else {
                            // Named, and offered nowhere: the image's error.
                            return Err(usage(format!(
                                "{:#}",
                                Selection::Tags(vec![tag])
                                    .resolve(offer.dirs)
                                    .with_context(|| format!("image `{}`", offer.image))
                                    .expect_err("not offered")
                            )));
                        }
                    }
                    match have.is_empty() {
                        true => continue,
                        false => Selection::Tags(have),
                    }
                }
                _ => self.pythons.clone(),
            };
            let mut chosen = pythons
                .resolve(offer.dirs)
                .with_context(|| format!("image `{}`", offer.image))
                .map_err(|e| usage(format!("{e:#}")))?;
            if let Some(req) = &self.requires_python {
                chosen.retain(|(tag, _)| {
                    let allowed = req.allows(*tag);
                    if !allowed {
                        excluded.push(format!(
                            "{tag} on {}: skipped, the package's Requires-Python `{}` ({}) excludes Python 3.{}",
                            offer.name(),
                            req.spec,
                            req.from,
                            tag.minor()
                        ));
                    }
                    allowed
                });
                if chosen.is_empty() {
                    return Err(usage(format!(
                        "the package's Requires-Python `{}` ({}) excludes every interpreter `{}` offers: use an image with a Python it supports",
                        req.spec, req.from, offer.image
                    )));
                }
            }
            offered.extend(chosen.into_iter().map(|(python, dir)| {
                let id = BuildId {
                    python,
                    arch: offer.arch,
                    libc: offer.libc,
                };
                (id, dir)
            }));
        }
        // The patterns select among what the images offer; then, as in
        // cibuildwheel, `enable` leaves its groups out.
        let mut picked = filter_builds(offered, &self.build, &self.skip).map_err(usage)?;
        let mut left_out = Vec::new();
        picked.retain(|(id, _)| {
            let why = self.not_enabled(id.python);
            if let Some(why) = &why {
                left_out.push(format!(
                    "{} on {}: skipped, {why}",
                    id.python,
                    platform_name(id.arch, id.libc)
                ));
            }
            why.is_none()
        });
        if picked.is_empty() && !left_out.is_empty() {
            return Err(usage(format!(
                "cibuildwheel 4's selection leaves out every build selected ({}): name the group in [tool.cibuildwheel] enable, or select other builds",
                left_out.join("; ")
            )));
        }
        excluded.extend(left_out);
        let builds = picked
            .into_iter()
            .map(|(id, dir)| Build { id, dir })
            .collect();
        Ok(Selected { builds, excluded })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::default()
    }

    fn dirs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_selection_from_flags_patterns_and_requires_python() {
        let config = config();
        let mut s = Selector::new(
            SelectionFlags {
                skip: Some("pp*"),
                ..SelectionFlags::default()
            },
            &config,
        )
        .unwrap();
        s.require(
            Some(RequiresPython {
                spec: ">=3.14".into(),
                from: "pyproject.toml".into(),
            }),
            "--py",
        )
        .unwrap();
        let x86 = dirs(&["cp313-cp313", "cp314-cp314", "pp311-pypy311_pp80"]);
        let arm = dirs(&["cp313-cp313", "cp314-cp314"]);
        let offers = [
            Offer {
                arch: Arch::X86_64,
                libc: Libc::Glibc,
                image: "x",
                dirs: &x86,
            },
            Offer {
                arch: Arch::Aarch64,
                libc: Libc::Glibc,
                image: "a",
                dirs: &arm,
            },
        ];
        let selected = s.builds(&offers).unwrap();
        let ids: Vec<String> = selected.builds.iter().map(|b| b.id.to_string()).collect();
        assert_eq!(ids, ["cp314-manylinux_x86_64", "cp314-manylinux_aarch64"]);
        assert_eq!(selected.builds[1].id.arch, Arch::Aarch64);
        assert_eq!(selected.builds[1].dir, "cp314-cp314");
        // PyPy 3.11 is skipped by the pattern after Requires-Python named it.
        assert_eq!(selected.excluded.len(), 3, "{:?}", selected.excluded);
        assert!(selected.excluded[0].starts_with("cp313 on x86_64: skipped"));
    }

    /// cibuildwheel's documented selectors over musllinux builds (its
    /// options page: `skip = "*-musllinux_*"` leaves them all out,
    /// `build = "cp313-musllinux_x86_64"` one), and an interpreter one
    /// target's image lacks left out of that target only.
    #[test]
    fn musllinux_builds_select_as_cibuildwheel_documents() {
        let mut config = config();
        config.libc = Libc::ALL.to_vec();
        config.arch = vec![Arch::X86_64, Arch::Aarch64];
        let glibc = dirs(&["cp313-cp313", "cp313-cp313t", "pp311-pypy311_pp80"]);
        let musl = dirs(&["cp313-cp313", "pp311-pypy311_pp80"]);
        let select = |asked: SelectionFlags| {
            let s = Selector::new(asked, &config)?;
            let offers: Vec<Offer> = s
                .platforms
                .iter()
                .map(|&(arch, libc)| Offer {
                    arch,
                    libc,
                    image: "i",
                    dirs: match libc {
                        Libc::Glibc => &glibc,
                        Libc::Musl => &musl,
                    },
                })
                .collect();
            let selected = s.builds(&offers)?;
            let ids: Vec<String> = selected.builds.iter().map(|b| b.id.to_string()).collect();
            anyhow::Ok((ids, selected.excluded))
        };
        let (ids, _) = select(SelectionFlags {
            skip: Some("*-musllinux_*"),
            ..SelectionFlags::default()
        })
        .unwrap();
        assert!(ids.iter().all(|i| i.contains("-manylinux_")), "{ids:?}");
        assert_eq!(ids.len(), 6);
        let (ids, _) = select(SelectionFlags {
            build: Some("cp313-musllinux_x86_64"),
            ..SelectionFlags::default()
        })
        .unwrap();
        assert_eq!(ids, ["cp313-musllinux_x86_64"]);
        let (ids, _) = select(SelectionFlags {
            build: Some("*-musllinux_aarch64"),
            ..SelectionFlags::default()
        })
        .unwrap();
        assert_eq!(ids, ["cp313-musllinux_aarch64", "pp311-musllinux_aarch64"]);
        let (ids, excluded) = select(SelectionFlags {
            arch: &["x86_64".into()],
            py: Some("cp313t"),
            ..SelectionFlags::default()
        })
        .unwrap();
        assert_eq!(ids, ["cp313t-manylinux_x86_64"]);
        assert_eq!(
            excluded,
            ["cp313t on musllinux_x86_64: skipped, image `i` does not offer it"]
        );
        let only = select(SelectionFlags {
            only: Some("pp311-musllinux_aarch64"),
            ..SelectionFlags::default()
        })
        .unwrap();
        assert_eq!(only.0, ["pp311-musllinux_aarch64"]);
        // Named and offered by no target: the image's error.
        let err = select(SelectionFlags {
            py: Some("cp399"),
            ..SelectionFlags::default()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("interpreter `cp399` is not in the image"),
            "{err}"
        );
    }

    /// cibuildwheel 4's selection (its selector.py): PyPy 3.11 with `pypy`,
    /// PyPy 3.10 and older with `pypy-eol`, free-threaded CPython from 3.14
    /// on by default and 3.13t never, CPython 3.16 with `cpython-prerelease`.
    #[test]
    fn enable_groups_select_as_cibuildwheel_4() {
        let mut config = config();
        config.steps.enable = Some(Vec::new());
        let x86 = dirs(&[
            "cp313-cp313",
            "cp313-cp313t",
            "cp314-cp314",
            "cp314-cp314t",
            "cp316-cp316",
            "pp310-pypy310_pp73",
            "pp311-pypy311_pp80",
        ]);
        let offers = [Offer {
            arch: Arch::X86_64,
            libc: Libc::Glibc,
            image: "x",
            dirs: &x86,
        }];
        let ids = |enable: &[&str]| {
            let mut config = config.clone();
            config.steps.enable = Some(enable.iter().map(|e| e.to_string()).collect());
            let s = Selector::new(SelectionFlags::default(), &config).unwrap();
            let selected = s.builds(&offers).unwrap();
            let ids: Vec<String> = selected
                .builds
                .iter()
                .map(|b| b.id.python.to_string())
                .collect();
            (ids, selected.excluded)
        };
        let (built, excluded) = ids(&[]);
        assert_eq!(built, ["cp313", "cp314", "cp314t"]);
        assert_eq!(
            excluded,
            [
                "cp313t on x86_64: skipped, cibuildwheel 4 builds no free-threaded CPython before 3.14",
                "cp316 on x86_64: skipped, [tool.cibuildwheel] enable does not name cpython-prerelease",
                "pp310 on x86_64: skipped, [tool.cibuildwheel] enable does not name pypy-eol",
                "pp311 on x86_64: skipped, [tool.cibuildwheel] enable does not name pypy",
            ]
        );
        assert_eq!(ids(&["pypy"]).0, ["cp313", "cp314", "cp314t", "pp311"]);
        assert_eq!(ids(&["pypy-eol"]).0, ["cp313", "cp314", "cp314t", "pp310"]);
        let all = crate::wheels::cibuildwheel::values::enable_groups(&["all".into()])
            .unwrap()
            .0;
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(
            ids(&all).0,
            ["cp313", "cp314", "cp314t", "cp316", "pp310", "pp311"]
        );
        // Without a table: everything the image offers.
        config.steps.enable = None;
        let s = Selector::new(SelectionFlags::default(), &config).unwrap();
        assert_eq!(s.builds(&offers).unwrap().builds.len(), 7);
    }

    /// The patterns select among what the image offers, then `enable`
    /// leaves its groups out: a pattern naming only PyPy is no error, and
    /// a selection that `enable` empties says so.
    #[test]
    fn patterns_select_before_enable_leaves_out() {
        let mut config = config();
        config.steps.enable = Some(Vec::new());
        let x86 = dirs(&["cp313-cp313", "pp311-pypy311_pp80"]);
        let offers = [Offer {
            arch: Arch::X86_64,
            libc: Libc::Glibc,
            image: "x",
            dirs: &x86,
        }];
        config.build = Patterns::parse(&["cp313-* pp*"]).unwrap();
        let s = Selector::new(SelectionFlags::default(), &config).unwrap();
        let selected = s.builds(&offers).unwrap();
        assert_eq!(selected.builds.len(), 1);
        config.build = Patterns::parse(&["pp*"]).unwrap();
        let s = Selector::new(SelectionFlags::default(), &config).unwrap();
        assert_eq!(
            format!("{:#}", s.builds(&offers).unwrap_err()),
            "cibuildwheel 4's selection leaves out every build selected (pp311 on x86_64: skipped, [tool.cibuildwheel] enable does not name pypy): name the group in [tool.cibuildwheel] enable, or select other builds"
        );
    }

    #[test]
    fn only_names_the_arch_and_the_interpreter() {
        let s = Selector::new(
            SelectionFlags {
                only: Some("cp313-manylinux_aarch64"),
                ..SelectionFlags::default()
            },
            &config(),
        )
        .unwrap();
        assert_eq!(s.arches, [Arch::Aarch64]);
        assert_eq!(s.platforms, [(Arch::Aarch64, Libc::Glibc)]);
        assert_eq!(
            s.pythons,
            Selection::Tags(vec![PythonTag::parse("cp313").unwrap()])
        );
    }

    #[test]
    fn a_named_interpreter_that_requires_python_excludes_is_an_error() {
        let one_arch = Config {
            arch: vec![Arch::X86_64],
            ..config()
        };
        let asked = SelectionFlags {
            py: Some("cp313"),
            ..SelectionFlags::default()
        };
        let mut s = Selector::new(asked, &one_arch).unwrap();
        let req = RequiresPython {
            spec: ">=3.14".into(),
            from: "setup.cfg".into(),
        };
        let err = s.require(Some(req), "--py").unwrap_err().to_string();
        assert!(err.starts_with("--py names cp313"), "{err}");
    }

    #[test]
    fn requires_python_excluding_an_image_entirely_is_an_error() {
        let mut s = Selector::new(SelectionFlags::default(), &config()).unwrap();
        s.require(
            Some(RequiresPython {
                spec: ">=3.20".into(),
                from: "pyproject.toml".into(),
            }),
            "python",
        )
        .unwrap();
        let offered = dirs(&["cp313-cp313"]);
        let err = s
            .builds(&[Offer {
                arch: Arch::X86_64,
                libc: Libc::Glibc,
                image: "img",
                dirs: &offered,
            }])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("excludes every interpreter `img` offers"),
            "{err}"
        );
    }
}
