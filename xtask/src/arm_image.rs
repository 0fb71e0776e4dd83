//! `cargo xtask arm-image`: the cross-arch aarch64 manylinux image, from the
//! manylinux base with the host's emulator copied in (cross-image for
//! aarch64, with the seed's context and configuration).

use anyhow::Result;
use xshell::Shell;

use crate::platform::Arch;
use crate::{config::Config, cross_image, flags, util};

impl flags::ArmImage {
    pub fn run(self, sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
        let base = self.base.unwrap_or_else(|| config.arm_image.base.clone());
        let tag = self.tag.unwrap_or_else(|| config.arm_image.tag.clone());
        cross_image::build(sh, runner, config, Arch::Aarch64, &base, &tag, self.pull)
    }
}
