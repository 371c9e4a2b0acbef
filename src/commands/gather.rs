//! The shell's first step for every command that looks at an environment: gather its facts,
//! turning "no such environment" into a usage error that names what was looked for.

use std::time::Duration;

use crate::cli::EnvSelector;
use crate::error::UserError;
use crate::facts::snapshot::EnvSnapshot;
use crate::facts::{self, Facts};

/// Gather the facts of the selected environment (with `runtime`, also run the probe, waiting at
/// most that long); an environment that cannot be found is a usage error.
pub fn gather(
    sel: &EnvSelector,
    env: &EnvSnapshot,
    runtime: Option<Duration>,
) -> anyhow::Result<Facts> {
    gather_with(sel, env, runtime, &[])
}

/// [`gather`] passing `probe_args` to the probe; a probe still running after a few seconds is
/// said on stderr, with when it will be stopped.
pub fn gather_with(
    sel: &EnvSelector,
    env: &EnvSnapshot,
    runtime: Option<Duration>,
    probe_args: &[String],
) -> anyhow::Result<Facts> {
    facts::gather_with(&sel.into(), env, runtime, probe_args, &|m| {
        eprintln!("blasfix: {m}")
    })
    .map_err(|e| UserError::usage(e.to_string()).into())
}
