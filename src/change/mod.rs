//! What to change and how: the switch plan (pure), lossless edits of environment files (pure),
//! and the conda / mamba / micromamba frontend that carries a plan out, as a supervised process
//! tree that signals to blasfix stop as a whole.

pub mod condarc;
pub mod envfile;
pub mod frontend;
pub mod plan;
pub mod signals;
pub mod supervise;
pub mod verify;
