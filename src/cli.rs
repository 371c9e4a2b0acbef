//! Command-line interface (clap derive types only; behaviour lives in `commands/`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::change::frontend;
use crate::facts::blas::BlasImpl;
use crate::facts::envs;
use crate::render::{explain, style};

const EXIT_CODES: &str = "\
Exit codes:
  0  ran to the end (findings or not)
  1  with --strict: at least one warning or error finding
  2  bad usage or unreadable input (the message names the path)
  3  apply: the frontend failed or the switch did not take effect";

#[derive(Debug, Parser)]
#[command(
    name = "blasfix",
    version = crate::cli::long_version(),
    about = "Find out which BLAS NumPy really runs on, explain why, and switch it safely.",
    after_help = EXIT_CODES,
    propagate_version = true,
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// When to use colours (auto: on a terminal; NO_COLOR turns it off, FORCE_COLOR on).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Say less (only findings and errors).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more (the evidence behind each fact; the frontend's output).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl From<ColorChoice> for style::ColorChoice {
    fn from(c: ColorChoice) -> Self {
        match c {
            ColorChoice::Auto => style::ColorChoice::Auto,
            ColorChoice::Always => style::ColorChoice::Always,
            ColorChoice::Never => style::ColorChoice::Never,
        }
    }
}

/// Which environment to look at.
#[derive(Debug, Args, Clone, Default)]
pub struct EnvSelector {
    /// Name of a conda environment (looked up in the envs dirs, like `conda -n`).
    #[arg(
        short = 'n',
        long = "name",
        value_name = "NAME",
        conflicts_with = "prefix"
    )]
    pub name: Option<String>,
    /// Path of an environment (a conda prefix, a venv, a pixi env).
    #[arg(short = 'p', long = "prefix", value_name = "PATH")]
    pub prefix: Option<PathBuf>,
}

impl From<&EnvSelector> for envs::Selector {
    fn from(s: &EnvSelector) -> Self {
        envs::Selector {
            name: s.name.clone(),
            prefix: s.prefix.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose the machine, the environment, its BLAS, channels, mirrors and threads.
    #[command(after_help = EXIT_CODES)]
    Doctor(DoctorArgs),
    /// Tell the same facts as an explanation for a person.
    #[command(after_help = EXIT_CODES)]
    Explain(ExplainArgs),
    /// Switch the BLAS of a live environment through conda, mamba or micromamba.
    #[command(after_help = EXIT_CODES)]
    Apply(ApplyArgs),
    /// Write the BLAS pin into environment.yml, pixi.toml or pyproject.toml.
    #[command(after_help = EXIT_CODES)]
    Pin(PinArgs),
    /// Measure what the BLAS delivers against the CPU's peak.
    #[command(after_help = EXIT_CODES)]
    Bench(BenchArgs),
    /// Print a shell completion script on stdout.
    #[command(after_help = COMPLETIONS_INSTALL)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_INSTALL: &str = "\
Install (then open a new shell):
  bash        blasfix completions bash \\
                > ~/.local/share/bash-completion/completions/blasfix
  zsh         blasfix completions zsh > ~/.zfunc/_blasfix
              (and in ~/.zshrc, before compinit: fpath+=~/.zfunc)
  fish        blasfix completions fish > ~/.config/fish/completions/blasfix.fish
  powershell  blasfix completions powershell >> $PROFILE";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub env: EnvSelector,
    /// Print one JSON object on stdout (schema in README.md).
    #[arg(long)]
    pub json: bool,
    /// Do not run the environment's Python (static facts only).
    #[arg(long)]
    pub no_runtime: bool,
    /// Exit 1 when any warning or error finding exists.
    #[arg(long)]
    pub strict: bool,
    /// Seconds to wait for the runtime probe.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TopicArg {
    All,
    Cpu,
    Blas,
    Channels,
    Mirrors,
    Threads,
}

impl From<TopicArg> for explain::Topic {
    fn from(t: TopicArg) -> Self {
        match t {
            TopicArg::All => explain::Topic::All,
            TopicArg::Cpu => explain::Topic::Cpu,
            TopicArg::Blas => explain::Topic::Blas,
            TopicArg::Channels => explain::Topic::Channels,
            TopicArg::Mirrors => explain::Topic::Mirrors,
            TopicArg::Threads => explain::Topic::Threads,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// What to explain.
    #[arg(value_enum, default_value_t = TopicArg::All)]
    pub topic: TopicArg,
    #[command(flatten)]
    pub env: EnvSelector,
    /// Do not run the environment's Python (static facts only).
    #[arg(long)]
    pub no_runtime: bool,
    /// Seconds to wait for the runtime probe.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendArg {
    Auto,
    Mkl,
    Openblas,
    Blis,
    Accelerate,
    Netlib,
}

impl BackendArg {
    /// The implementation named explicitly (None for `auto`).
    pub fn named(self) -> Option<BlasImpl> {
        match self {
            BackendArg::Mkl => Some(BlasImpl::Mkl),
            BackendArg::Openblas => Some(BlasImpl::Openblas),
            BackendArg::Blis => Some(BlasImpl::Blis),
            BackendArg::Accelerate => Some(BlasImpl::Accelerate),
            BackendArg::Netlib => Some(BlasImpl::Netlib),
            BackendArg::Auto => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FrontendArg {
    Conda,
    Mamba,
    Micromamba,
}

impl From<FrontendArg> for frontend::FrontendKind {
    fn from(a: FrontendArg) -> Self {
        match a {
            FrontendArg::Conda => frontend::FrontendKind::Conda,
            FrontendArg::Mamba => frontend::FrontendKind::Mamba,
            FrontendArg::Micromamba => frontend::FrontendKind::Micromamba,
        }
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub env: EnvSelector,
    /// The BLAS to switch to (auto: the recommendation for this machine).
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Do not ask; needed when there is no terminal.
    #[arg(short, long)]
    pub yes: bool,
    /// Show the plan and the frontend's preview, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not write the new BLAS pin into conda-meta/pinned.
    #[arg(long)]
    pub no_pin: bool,
    /// Which tool performs the install (default: the one that manages the environment).
    #[arg(long, value_enum)]
    pub frontend: Option<FrontendArg>,
    /// Replace a pip-installed NumPy with conda's (uninstalls the pip one).
    #[arg(long)]
    pub replace_pip_numpy: bool,
    /// Do not run the environment's Python to verify.
    #[arg(long)]
    pub no_runtime: bool,
    /// Run the quick benchmark before and after.
    #[arg(long)]
    pub bench: bool,
    /// Seconds the frontend may take before it is stopped.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    pub timeout: u64,
    /// Print the plan, the preview and the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    Auto,
    CondaForge,
    Defaults,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    /// environment.yml, pixi.toml or pyproject.toml (none: print the pin lines).
    pub file: Option<PathBuf>,
    /// The BLAS to pin (auto: the recommendation for this machine).
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Which channel family's spelling to use.
    #[arg(long, value_enum, default_value_t = FamilyArg::Auto)]
    pub channel_family: FamilyArg,
    /// Do not ask.
    #[arg(short, long)]
    pub yes: bool,
    /// Show the diff, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the edited file on stdout instead of writing it.
    #[arg(long)]
    pub stdout: bool,
    #[command(flatten)]
    pub env: EnvSelector,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub env: EnvSelector,
    /// Fewer sizes and repeats (about ten seconds).
    #[arg(long)]
    pub quick: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seconds the benchmark may take.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub timeout: u64,
}

/// `--version` text: the crate version, plus the git commit when built from a checkout.
pub fn long_version() -> &'static str {
    env!("BLASFIX_LONG_VERSION")
}
