//! `cargo xtask arm-image`: the cross-arch aarch64 manylinux image, from the
//! manylinux base with the host's emulator copied in.

use anyhow::Result;
use xshell::Shell;

use crate::engine::{DerivedImage, Engine};
use crate::platform::Arch;
use crate::{config::Config, flags, qemu_copy, qemu_register, util};

impl flags::ArmImage {
    pub fn run(self, sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
        let base = self.base.unwrap_or_else(|| config.arm_image.base.clone());
        let tag = self.tag.unwrap_or_else(|| config.arm_image.tag.clone());
        if !qemu_copy::dest().exists() {
            eprintln!("the build context has no qemu-aarch64-static: copying it first");
            qemu_copy::copy(
                runner,
                &qemu_copy::find(Arch::Aarch64, None)?,
                &qemu_copy::dest(),
            )?;
        }
        let engine = Engine::ready(sh, runner.dry_run, config.engine(Arch::Aarch64))?;
        let context = qemu_copy::context_dir();
        // Its RUN steps run emulated here: with the faster CPU model.
        let build_args = match engine.is_local() {
            true => qemu_register::host_cpu_model(Arch::Aarch64).env(),
            false => Vec::new(),
        };
        let derived = DerivedImage {
            base: &base,
            tag: &tag,
            arch: Arch::Aarch64,
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
