//! `blasfix bench`.

use crate::cli::{BenchArgs, GlobalArgs};
use crate::error::UserError;

pub fn run(_args: &BenchArgs, _global: &GlobalArgs) -> anyhow::Result<u8> {
    Err(UserError::usage("`blasfix bench` is not built yet").into())
}
