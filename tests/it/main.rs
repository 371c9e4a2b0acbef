//! The one integration-test binary (as ripgrep, uv and just do): one module per area.

mod support;

// Modules that cannot run on Windows (the Windows stage of .ci/cross runs the rest under Wine;
// README "Platforms" lists why): apply's conda/mamba stand-ins are shell scripts; bench, the
// heavy probe/apply/docs tests run Python or `sh`, and there is no Windows CPython or shell
// under Wine here; pty needs a Unix pseudo-terminal (readme.rs gates its `sh` part itself).
#[cfg(unix)]
mod apply;
mod architecture;
#[cfg(unix)]
mod bench;
mod cli;
mod corpus_condarc;
mod corpus_envs;
mod cpu;
mod cpu_recorded;
mod doctor;
mod explain;
#[cfg(unix)]
mod heavy_apply;
#[cfg(unix)]
mod heavy_docs;
mod heavy_interrupt;
mod heavy_linkage;
#[cfg(unix)]
mod heavy_probe;
mod heavy_ps;
mod heavy_truth;
mod interrupt;
mod linkage;
mod pin;
mod pixi;
mod prefix;
mod probe;
mod ps;
mod pty;
mod readme;
mod schema;
mod ship;
mod skips;
mod verdicts;
mod windows;
