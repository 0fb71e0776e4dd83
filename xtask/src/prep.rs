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

        // A native aarch64 engine needs no emulation, emulator or cross-arch image.
        let aarch64 = Engine::from_spec(config.engine(Arch::Aarch64))?;
        let native = !runner.dry_run && aarch64.server(sh)?.native(Arch::Aarch64);
        if native || !config.arch.contains(&Arch::Aarch64) {
            println!(
                "== qemu-register, qemu-copy, arm-image: skipped, aarch64 builds {}",
                if native {
                    format!("natively on {}", aarch64.describe())
                } else {
                    "are not configured".to_string()
                }
            );
        } else {
            emulation(sh, runner, config)?;
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

/// What emulated aarch64 builds need: the handler, the emulator, the image.
fn emulation(sh: &Shell, runner: &util::Runner, config: &Config) -> Result<()> {
    println!("== qemu-register");
    match qemu_register::handler(Arch::Aarch64)? {
        Some(h) if h.usable() => {
            println!("skipped: aarch64 handler already usable ({})", h.describe())
        }
        _ => flags::QemuRegister::default()
            .run(sh, runner, config)
            .context("prep: qemu-register")?,
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
