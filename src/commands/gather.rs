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
    facts::gather(&sel.into(), env, runtime).map_err(|e| UserError::usage(e.to_string()).into())
}
