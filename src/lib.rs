//! blasfix: find out which BLAS NumPy really runs on, explain why, and switch it safely.
//!
//! Functional core, imperative shell, one folder per layer (see ARCHITECTURE.md): `facts`
//! reads, `diagnose` judges, `change` decides and carries out changes, `render` prints,
//! `commands` is the shell that runs processes, prompts and writes files.

pub mod change;
pub mod cli;
pub mod commands;
pub mod diagnose;
pub mod error;
pub mod facts;
pub mod render;
#[doc(hidden)]
pub mod testing;

use std::ffi::OsString;
use std::process::ExitCode;

/// Parse arguments, run the command, map the outcome to an exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<OsString> = args.into_iter().collect();
    // clap prints its own errors and help before our colour decision exists: give it the same
    // precedence (flag > NO_COLOR > FORCE_COLOR/CLICOLOR_FORCE > terminal).
    let color = match render::style::early_choice(&args) {
        Some(true) => clap::ColorChoice::Always,
        Some(false) => clap::ColorChoice::Never,
        None => clap::ColorChoice::Auto,
    };
    let parsed = cli::Cli::command()
        .color(color)
        .try_get_matches_from(&args)
        .and_then(|m| cli::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { error::EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    render::style::init(cli.global.color.into());
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            error::report(&e);
            ExitCode::from(error::exit_code(&e))
        }
    }
}
