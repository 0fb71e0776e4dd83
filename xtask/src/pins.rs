//! `cargo xtask pins`: the default images, pinned (pins.txt). Each
//! manylinux and musllinux image of quay.io/pypa that this tool or
//! cibuildwheel 4 builds in by default is named at one dated tag and its
//! digest, with the interpreters it offers: `wheels` builds in exactly that
//! image (a rebuild next month, or `verify --rebuild` of an old release,
//! gets the same bytes), and `ci` and the dry run know its builds without
//! pulling it. `--update --tag TAG` pulls each image at TAG (a registry is
//! needed) and writes the table again.

use anyhow::{bail, Context, Result};
use xshell::Shell;

use crate::config::Config;
use crate::engine::Engine;
use crate::flags;
use crate::platform::{Arch, Libc, Selection};
use crate::util::{self, usage, Runner};

use crate::images::{all, listing, parse, Pin, REGISTRY, TABLE};

/// The interpreter folders of `image` when it is not here to list: a
/// pinned image's from the table; another's from the interpreters named
/// (their usual folders), or with `all` from the pinned default of its arch
/// and libc. The line says which, where it is not the image's own.
pub fn offered_unlisted(
    image: &str,
    arch: Arch,
    libc: Libc,
    pythons: &Selection,
) -> (Vec<String>, Option<String>) {
    if let Some(dirs) = listing(image) {
        return (dirs.to_vec(), None);
    }
    match pythons {
        Selection::Tags(tags) => (
            tags.iter().map(|p| p.dir_guess()).collect(),
            Some(format!(
                "image `{image}` is not here to list: its builds are named from the interpreters asked for, with their usual folders"
            )),
        ),
        Selection::All => {
            let default = Config::default().image(arch, libc).to_string();
            let dirs = listing(&default).map(<[String]>::to_vec).unwrap_or_default();
            (
                dirs,
                Some(format!(
                    "image `{image}` is not here to list: its builds are named from the interpreters of `{default}`, the pinned default (pull it, or name the interpreters with --py, to name them from its own)"
                )),
            )
        }
    }
}

impl flags::Pins {
    pub fn run(self, sh: &Shell, runner: &Runner, config: &Config) -> Result<()> {
        let tag = match (self.update, self.tag) {
            (true, Some(tag)) => tag,
            (true, None) => {
                return Err(usage(
                    "--update needs the dated tag to pin, such as --tag 2026.09.01-1 (quay.io/pypa lists them)",
                ))
            }
            (false, Some(_)) => {
                return Err(usage("--tag is the tag --update pins: add --update"))
            }
            (false, None) => {
                for pin in all() {
                    println!("{}  {}", pin.reference(), pin.dirs.join(" "));
                }
                return Ok(());
            }
        };
        if tag.is_empty()
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b))
        {
            return Err(usage(format!(
                "--tag `{tag}` is not an image tag: use letters, digits, `.`, `-` and `_`, such as 2026.09.01-1"
            )));
        }
        let file = util::project_root().join("xtask/src/pins.txt");
        // Every image read before the file is written: a pull that fails
        // leaves the table as it was.
        let mut pins = Vec::new();
        for pin in all() {
            let arch = pin
                .arch()
                .context("a pinned image's name ends with its arch")?;
            let engine = Engine::ready(sh, runner.dry_run, config.engine(arch))?;
            let reference = format!("{REGISTRY}/{}:{tag}", pin.name);
            let Some(info) = engine
                .ensure_image(sh, runner, &reference, arch, true)
                .with_context(|| format!("{file} is unchanged"))?
            else {
                continue; // a dry run
            };
            let repo = format!("{REGISTRY}/{}@", pin.name);
            let digest = info
                .digests
                .iter()
                .find_map(|d| d.strip_prefix(&repo))
                .with_context(|| {
                    format!("`{reference}` has no digest from {REGISTRY}: {file} is unchanged")
                })?
                .to_string();
            let dirs = engine.list_interpreters(&reference, &info.id, arch)?;
            pins.push(Pin {
                name: pin.name.clone(),
                tag: tag.clone(),
                digest,
                dirs,
            });
        }
        if runner.dry_run {
            println!("would write {file}");
            return Ok(());
        }
        let head: String = TABLE
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let body: String = pins
            .iter()
            .map(|p| format!("{} {} {} {}\n", p.name, p.tag, p.digest, p.dirs.join(" ")))
            .collect();
        if parse(&body).map_err(anyhow::Error::msg)? != pins {
            bail!("the table read back differs from the one written: {file} is unchanged");
        }
        crate::cleanup::write_whole(&file, &format!("{head}{body}"))?;
        eprintln!(
            "wrote {file}: {} images at {tag}; build the tool again to use them",
            pins.len()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::image;
    use crate::platform::PythonTag;

    #[test]
    fn the_table_is_well_formed_and_names_each_image_once() {
        let pins = parse(TABLE).unwrap();
        assert!(pins.len() >= 19, "{pins:?}");
        let mut names: Vec<&str> = pins.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), pins.len(), "a name twice");
        for pin in &pins {
            assert!(pin.arch().is_some(), "{}: no arch", pin.name);
            assert!(!pin.dirs.is_empty(), "{}: no interpreters", pin.name);
        }
        assert_eq!(
            parse("manylinux2014_x86_64 t sha256:12"),
            Err("line 1: `sha256:12` is not a digest (sha256: and 64 hex digits)".into())
        );
    }

    #[test]
    fn every_default_image_is_pinned_and_offers_what_cibuildwheel_builds() {
        let config = Config::default();
        for arch in Arch::ALL {
            for image in [
                config.image(arch, Libc::Glibc).to_string(),
                config.image(arch, Libc::Musl).to_string(),
                image(arch.row().cibuildwheel_image),
            ] {
                let dirs = listing(&image).unwrap_or_else(|| panic!("`{image}` is not pinned"));
                assert!(
                    image.contains(":2026.") && image.contains("@sha256:"),
                    "{image}"
                );
                // Every folder is an interpreter the selection knows.
                let tags: Vec<String> = dirs
                    .iter()
                    .map(|d| {
                        let tag = d.split('-').next().unwrap();
                        let free = d.ends_with('t') && d.starts_with("cp");
                        let tag = format!("{tag}{}", if free { "t" } else { "" });
                        PythonTag::parse(&tag).unwrap_or_else(|e| panic!("{image}: {d}: {e}"));
                        tag
                    })
                    .collect();
                // cibuildwheel 4.2's defaults: CPython 3.9 to 3.15 with
                // 3.14t and 3.15t, never 3.13t.
                for want in ["cp39", "cp313", "cp314t", "cp315", "cp315t"] {
                    assert!(tags.iter().any(|t| t == want), "{image}: no {want}");
                }
                assert!(!tags.iter().any(|t| t == "cp313t"), "{image}");
                let pypy = tags.iter().any(|t| t.starts_with("pp"));
                let has_pypy = image.contains("/manylinux")
                    && matches!(arch, Arch::X86_64 | Arch::I686 | Arch::Aarch64);
                assert_eq!(pypy, has_pypy, "{image}");
            }
        }
    }

    #[test]
    fn names_that_are_not_pinned_stay_floating() {
        assert_eq!(image("manylinux1_x86_64"), "quay.io/pypa/manylinux1_x86_64");
        assert_eq!(listing("quay.io/pypa/manylinux2014_x86_64"), None);
        assert!(image("manylinux2014_x86_64")
            .starts_with("quay.io/pypa/manylinux2014_x86_64:2026.08.15-1@sha256:95440e0e"));
    }
}
