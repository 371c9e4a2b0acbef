//! What to change and how: the switch plan (pure), lossless edits of environment files (pure),
//! and the conda / mamba / micromamba frontend that carries a plan out.

pub mod envfile;
pub mod frontend;
pub mod plan;
pub mod verify;
