//! `cargo xtask prep`: the laptop prep in one go, each step skipped when done.

use anyhow::{Context, Result};
use xshell::Shell;

use crate::{config::Config, doctor, flags, qemu_register, util};

impl flags::Prep {
    pub fn run(self, sh: &Shell, run: &util::Runner, config: &Config) -> Result<()> {
        println!("== doctor");
        for check in doctor::checks(sh, config) {
            println!("{}", check.line());
        }

        println!("== qemu-register");
        match qemu_register::aarch64_handler()? {
            Some(h) if h.usable() => {
                println!("skipped: aarch64 handler already usable ({})", h.describe())
            }
            _ => flags::QemuRegister::default()
                .run(sh, run, config)
                .context("prep: qemu-register")?,
        }

        println!("== qemu-copy");
        flags::QemuCopy::default()
            .run(sh, run)
            .context("prep: qemu-copy")?;

        println!("== arm-image");
        flags::ArmImage::default()
            .run(sh, run, config)
            .context("prep: arm-image")?;

        println!("== x64-image");
        flags::X64Image::default()
            .run(sh, run, config)
            .context("prep: x64-image")?;

        if run.dry_run {
            return Ok(());
        }
        println!("== ready?");
        doctor::report(&doctor::checks(sh, config))
    }
}
