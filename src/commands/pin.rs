//! `blasfix pin`.

use crate::cli::{GlobalArgs, PinArgs};
use crate::error::UserError;

pub fn run(_args: &PinArgs, _global: &GlobalArgs) -> anyhow::Result<u8> {
    Err(UserError::usage("`blasfix pin` is not built yet").into())
}
