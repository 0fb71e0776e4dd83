//! `cargo xtask matrix`: the build identifiers the configuration selects, for
//! a CI matrix: one per line, or as JSON for GitHub's `strategy.matrix`.

use anyhow::{Context, Result};
use xshell::Shell;

use crate::config::Config;
use crate::engine::Engine;
use crate::platform::{Arch, BuildId, Libc};
use crate::util::{self, usage, Runner};
use crate::wheels::cibuildwheel;
use crate::wheels::package::RequiresPython;
use crate::wheels::select::{Build, Offer, SelectionFlags, Selector};
use crate::{flags, pins, standin};

/// The GitHub-hosted runner that builds an arch natively.
pub fn github_runner(arch: Arch) -> &'static str {
    arch.row().runner
}

impl flags::Matrix {
    pub fn run(self, sh: &Shell, runner: &Runner, config: &Config) -> Result<()> {
        let github = match self.format.as_str() {
            "lines" => false,
            "github" => true,
            other => {
                return Err(usage(format!(
                    "--format `{other}` is not known: use lines or github"
                )))
            }
        };
        let ids = selected(sh, runner, &self.select, config)?;
        if github {
            println!("{}", github_matrix(&ids));
        } else {
            for id in ids {
                println!("{id}");
            }
        }
        Ok(())
    }
}

/// What `wheels` would build with the same selection: each arch's image
/// listed on its own engine (or, when it is not here, known from the pinned
/// table), then the run's selector applied.
pub fn selected(
    sh: &Shell,
    runner: &Runner,
    select: &flags::Select,
    config: &Config,
) -> Result<Vec<BuildId>> {
    Ok(selected_builds(sh, runner, select, config)?
        .into_iter()
        .map(|b| b.id)
        .collect())
}

/// As `selected`, each build with its interpreter's folder under /opt/python.
pub fn selected_builds(
    sh: &Shell,
    runner: &Runner,
    select: &flags::Select,
    config: &Config,
) -> Result<Vec<Build>> {
    // As `wheels` does: a [tool.cibuildwheel] fills what our configuration leaves out.
    let package = config.dir.join(&config.root).join(&config.package);
    let config = &cibuildwheel::adopt_configured(config)?;
    let mut selector = Selector::new(
        SelectionFlags {
            arch: &select.arch,
            libc: select.libc.as_deref(),
            py: select.py.as_deref(),
            build: select.build.as_deref(),
            skip: select.skip.as_deref(),
            only: None,
        },
        config,
    )?;
    if select.standin && select.libc.is_none() {
        for line in selector.leave_out_missing_standins() {
            eprintln!("{line}");
        }
    }
    let asked = match &select.py {
        Some(_) => "--py".to_string(),
        None => format!("python (in {})", config.file),
    };
    selector.require(RequiresPython::read(&package).map_err(usage)?, &asked)?;
    // Nothing is pulled: an image that is not here is known from the
    // pinned table, or its builds are named from the selection (said).
    let mut images = Vec::new();
    for &(arch, libc) in &selector.platforms {
        let engine = Engine::ready(sh, false, config.engine(arch));
        let (image, dirs) = match select.standin {
            true => {
                let engine = engine.with_context(|| format!("{arch} builds"))?;
                let image = match libc {
                    Libc::Glibc => standin::ensure(sh, &engine, runner, arch)?,
                    Libc::Musl => standin::ensure_musllinux(sh, &engine, runner, arch)?,
                };
                let dirs = listed(sh, &engine, &image, arch)?.context("the stand-in is here")?;
                (image, dirs)
            }
            false => {
                let image = config.image(arch, libc).to_string();
                let here = match &engine {
                    Ok(engine) => listed(sh, engine, &image, arch)?,
                    Err(_) => None,
                };
                let dirs = here.unwrap_or_else(|| {
                    let (dirs, line) =
                        pins::offered_unlisted(&image, arch, libc, &selector.pythons);
                    if let Some(line) = line {
                        eprintln!("==> {arch} {libc}: {line}");
                    }
                    dirs
                });
                (image, dirs)
            }
        };
        images.push((arch, libc, image, dirs));
    }
    let offers: Vec<Offer> = images
        .iter()
        .map(|(arch, libc, image, dirs)| Offer {
            arch: *arch,
            libc: *libc,
            image,
            dirs,
        })
        .collect();
    Ok(selector.builds(&offers)?.builds)
}

/// The interpreter folders of `image`, if it is here.
fn listed(sh: &Shell, engine: &Engine, image: &str, arch: Arch) -> Result<Option<Vec<String>>> {
    match engine.inspect_image(sh, image)? {
        Some(info) => Ok(Some(engine.list_interpreters(image, &info.id, arch)?)),
        None => Ok(None),
    }
}

/// `{"include": [{"id": ..., "arch": ..., "runner": ...}]}`.
pub fn github_matrix(ids: &[BuildId]) -> String {
    let entries: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                "{{\"id\": {}, \"arch\": {}, \"runner\": {}}}",
                util::json_string(&id.to_string()),
                util::json_string(id.arch.name()),
                util::json_string(github_runner(id.arch))
            )
        })
        .collect();
    format!("{{\"include\": [{}]}}", entries.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::PythonTag;

    #[test]
    fn github_json() {
        let ids = [
            BuildId {
                python: PythonTag::parse("cp311").unwrap(),
                arch: Arch::X86_64,
                libc: Libc::Glibc,
            },
            BuildId {
                python: PythonTag::parse("cp313t").unwrap(),
                arch: Arch::Aarch64,
                libc: Libc::Glibc,
            },
        ];
        assert_eq!(
            github_matrix(&ids),
            r#"{"include": [{"id": "cp311-manylinux_x86_64", "arch": "x86_64", "runner": "ubuntu-24.04"}, {"id": "cp313t-manylinux_aarch64", "arch": "aarch64", "runner": "ubuntu-24.04-arm"}]}"#
        );
        assert_eq!(github_matrix(&[]), r#"{"include": []}"#);
    }
}
