//! `cargo xtask cross-image --arch ARCH`: the cross-arch manylinux image of
//! any emulated arch, from that arch's manylinux base with the host's static
//! emulator copied in (qemu-copy's context), so that it also runs where the
//! binfmt handler lacks flag F. arm-image is this for aarch64.

use anyhow::Result;
use xshell::Shell;

use crate::engine::{DerivedImage, Engine};
use crate::platform::Arch;
use crate::{config::Config, flags, qemu_copy, qemu_register, util};

impl flags::CrossImage {
    pub fn run(self, sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
        let arch = qemu_copy::emulated_arch(&self.arch, "cross-image")?;
        let base = self
            .base
            .unwrap_or_else(|| config.images.get(arch).to_string());
        let tag = self.tag.unwrap_or_else(|| format!("manylinux_{arch}"));
        build(sh, runner, config, arch, &base, &tag, self.pull)
    }
}

/// Builds `tag` from `base` of `arch` with the emulator in, copying the
/// emulator into the context first when it is missing; nothing is built
/// when neither the context nor the base changed.
pub fn build(
    sh: &Shell,
    runner: &util::Runner,
    config: &Config,
    arch: Arch,
    base: &str,
    tag: &str,
    pull: bool,
) -> Result<()> {
    let dest = qemu_copy::dest(arch);
    let context = qemu_copy::context_dir(arch);
    if !dest.exists() {
        eprintln!(
            "the build context {context} has no {}: copying it first",
            dest.file_name().unwrap_or_default()
        );
        qemu_copy::ready_context(runner, arch, &qemu_copy::find(arch, None)?)?;
    }
    qemu_copy::dockerfile(runner, arch)?;
    let engine = Engine::ready(sh, runner.dry_run, config.engine(arch))?;
    // Its RUN steps run emulated here: with the faster CPU model.
    let mut build_args = match engine.is_local() {
        true => qemu_register::host_cpu_model(arch).env(),
        false => Vec::new(),
    };
    // cross-image's Dockerfile copies the emulator by this name.
    if arch != Arch::Aarch64 {
        build_args.push(("QEMU".to_string(), arch.row().qemu.to_string()));
    }
    let derived = DerivedImage {
        base,
        tag,
        arch,
        context: &context,
        build_args,
        pull,
    };
    if engine.build_on_base(sh, runner, derived)? && !runner.dry_run {
        eprintln!("built {tag} from {base}");
    }
    Ok(())
}
