//! The one integration-test binary (as ripgrep, uv and just do): one module per area.

mod support;

mod apply;
mod architecture;
mod bench;
mod cli;
mod corpus_condarc;
mod corpus_envs;
mod cpu;
mod doctor;
mod explain;
mod heavy_apply;
mod heavy_docs;
mod heavy_linkage;
mod heavy_probe;
mod linkage;
mod pin;
mod prefix;
mod probe;
mod pty;
mod readme;
mod schema;
mod ship;
mod skips;
