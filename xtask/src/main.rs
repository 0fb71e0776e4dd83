//! `cargo xtask`: manylinux wheels, the cross-arch image and QEMU prep.
//! `flags.rs` is the whole command line; each subcommand lives in the module of its name.

mod arm_image;
mod bench;
mod ci;
mod cleanup;
mod config;
mod cross_image;
mod debian;
mod doctor;
mod engine;
mod flags;
mod images;
mod matrix;
mod native;
mod patterns;
mod pins;
mod platform;
mod prep;
mod qemu_copy;
mod qemu_register;
mod standin;
mod util;
mod verify;
mod wheels;
mod x64_image;

use std::process::ExitCode;

use clap::Parser;

use crate::flags::Cmd;
use crate::util::{Runner, UsageError};

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    cleanup::handle_signals();
    match dispatch(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn dispatch(flags: flags::Xtask) -> anyhow::Result<()> {
    let sh = util::thread_shell()?;
    let manifest = match &flags.config {
        Some(file) => util::absolute_from_cwd(file)?,
        None => util::project_root().join("Cargo.toml"),
    };
    let mut config = config::Config::load(&manifest).map_err(util::usage)?;
    config.set_engines(&flags.engine).map_err(util::usage)?;
    let secrets = config.secret_env.clone();
    let runner = Runner {
        dry_run: flags.dry_run,
        secrets: &secrets,
        quiet: false,
    };
    match flags.subcommand {
        Cmd::Wheels(cmd) => cmd.run(&runner, &config),
        Cmd::QemuRegister(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::QemuCopy(cmd) => cmd.run(&sh, &runner),
        Cmd::ArmImage(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::CrossImage(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::X64Image(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::Doctor(cmd) => cmd.run(&sh, &config),
        Cmd::Prep(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::Standin(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::Bench(cmd) => cmd.run(&sh, &runner),
        Cmd::Matrix(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::Ci(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::Verify(cmd) => cmd.run(&sh, &runner, &config),
        Cmd::Pins(cmd) => cmd.run(&sh, &runner, &config),
    }
}
