//! The shell: one module per command. Each gathers facts, calls the pure core and prints.

pub mod apply;
pub mod bench;
pub mod completions;
pub mod doctor;
pub mod explain;
pub mod man;
pub mod pin;

use std::time::Duration;

use crate::cli::{Cli, Command, EnvSelector};
use crate::error::UserError;
use crate::facts::snapshot::EnvSnapshot;
use crate::facts::{self, Facts};

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

/// Gather the facts of the selected environment (with `runtime`, also run the probe, waiting at
/// most that long); an environment that cannot be found is a usage error.
pub(crate) fn gather(
    sel: &EnvSelector,
    env: &EnvSnapshot,
    runtime: Option<Duration>,
) -> anyhow::Result<Facts> {
    facts::gather(&sel.into(), env, runtime).map_err(|e| UserError::usage(e.to_string()).into())
}
