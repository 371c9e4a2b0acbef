//! The one integration-test binary (as ripgrep, uv and just do): one module per area.

mod support;

mod cli;
mod corpus_condarc;
mod corpus_envs;
mod doctor;
mod explain;
mod pin;
