//! `cargo xtask prep`: the laptop prep in one go, each step skipped when done.

use anyhow::{Context, Result};
use xshell::Shell;

use crate::engine::Engine;
use crate::platform::Arch;
use crate::{config::Config, doctor, flags, qemu_register, util};

impl flags::Prep {
    pub fn run(self, sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
        println!("== doctor");
        for check in doctor::checks(sh, config) {
            println!("{}", check.line());
        }

        // An arch whose engine runs it natively needs no emulation.
        let mut emulated = Vec::new();
        for &arch in &config.arch {
            let engine = Engine::from_spec(config.engine(arch))?;
            match !runner.dry_run && engine.server(sh)?.native(arch) {
                true => println!("{arch} builds natively on {}", engine.describe()),
                false => emulated.push(arch),
            }
        }
        match emulated.is_empty() {
            true => println!(
                "== qemu-register, qemu-copy, arm-image: skipped, no configured arch is emulated"
            ),
            false => emulation(sh, runner, config, &emulated)?,
        }

        println!("== x64-image");
        flags::X64Image::default()
            .run(sh, runner, config)
            .context("prep: x64-image")?;

        if runner.dry_run {
            return Ok(());
        }
        println!("== ready?");
        doctor::report(&doctor::checks(sh, config))
    }
}

/// What emulated builds need: each arch's handler; for aarch64 also the
/// seed's emulator copy and cross-arch image.
fn emulation(sh: &Shell, runner: &util::Runner, config: &Config, arches: &[Arch]) -> Result<()> {
    println!("== qemu-register");
    let mut missing = Vec::new();
    for &arch in arches {
        match qemu_register::handler(arch)? {
            Some(h) if h.usable() => {
                println!("skipped: {arch} handler already usable ({})", h.describe())
            }
            // i686 on x86_64 has no handler and needs none.
            _ if arch.is_native_here() => {}
            _ => missing.push(arch.name().to_string()),
        }
    }
    if !missing.is_empty() {
        flags::QemuRegister {
            arch: missing,
            ..Default::default()
        }
        .run(sh, runner, config)
        .context("prep: qemu-register")?;
    }
    if !arches.contains(&Arch::Aarch64) {
        return Ok(());
    }
    println!("== qemu-copy");
    flags::QemuCopy::default()
        .run(sh, runner)
        .context("prep: qemu-copy")?;

    println!("== arm-image");
    flags::ArmImage::default()
        .run(sh, runner, config)
        .context("prep: arm-image")
}
