//! The shell: one module per command. Each gathers facts, calls the pure core and prints.

pub mod apply;
mod atomic;
pub mod bench;
pub mod completions;
pub mod doctor;
pub mod explain;
mod gather;
pub mod man;
pub mod pin;

use crate::cli::{Cli, Command};

/// Run the chosen command; `Ok` carries the exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Doctor(args) => doctor::run(&args, &cli.global),
        Command::Explain(args) => explain::run(&args, &cli.global),
        Command::Apply(args) => apply::run(&args, &cli.global),
        Command::Pin(args) => pin::run(&args, &cli.global),
        Command::Bench(args) => bench::run(&args, &cli.global),
        Command::Completions(args) => completions::run(&args),
    }
}
