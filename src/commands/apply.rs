//! `blasfix apply`.

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::error::UserError;

pub fn run(_args: &ApplyArgs, _global: &GlobalArgs) -> anyhow::Result<u8> {
    Err(UserError::usage("`blasfix apply` is not built yet").into())
}
