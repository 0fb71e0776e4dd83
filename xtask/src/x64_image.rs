//! `cargo xtask x64-image`: the x86_64 manylinux image with the system packages
//! the native build needs.

use anyhow::Result;
use xshell::Shell;

use crate::engine::{DerivedImage, Engine};
use crate::platform::Arch;
use crate::{config::Config, flags, util};

impl flags::X64Image {
    pub fn run(self, sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
        let base = self.base.unwrap_or_else(|| config.x64_image.base.clone());
        let tag = self.tag.unwrap_or_else(|| config.x64_image.tag.clone());
        let packages = self
            .packages
            .unwrap_or_else(|| config.x64_image.packages.clone());
        let packages: Vec<String> = packages.into_iter().filter(|p| !p.is_empty()).collect();
        for p in &packages {
            check_package_name(p).map_err(util::usage)?;
        }
        let engine = Engine::ready(sh, runner.dry_run, config.engine(Arch::X86_64))?;
        let context = util::project_root().join("scripts/x64-image");
        let build_args = vec![("PACKAGES".to_string(), packages.join(" "))];
        let derived = DerivedImage {
            base: &base,
            tag: &tag,
            arch: Arch::X86_64,
            context: &context,
            build_args,
            pull: self.pull,
        };
        if engine.build_on_base(sh, runner, derived)? && !runner.dry_run {
            eprintln!("built {tag} from {base}");
        }
        Ok(())
    }
}

/// Package names reach a shell inside the image build, so only plain names pass.
fn check_package_name(name: &str) -> Result<(), String> {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._+-:".contains(&b))
        && !name.starts_with('-');
    if plain {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a package name: use letters, digits and . _ + - :"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names() {
        assert!(check_package_name("libpng-devel").is_ok());
        assert!(check_package_name("gcc-c++").is_ok());
        assert!(check_package_name("x;rm -rf /")
            .unwrap_err()
            .contains("`x;rm -rf /`"));
        assert!(check_package_name("-y").is_err());
        assert!(check_package_name("$(id)").is_err());
    }
}
