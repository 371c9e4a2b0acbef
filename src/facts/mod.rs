//! Readers: each gathers one kind of fact (the machine, the environment, its records and
//! configuration, what NumPy links and loads, thread settings) into plain data. Nothing here
//! judges; `diagnose` does. `Facts` is the aggregate of one diagnosis.

pub mod blas;
pub mod condarc;
pub mod cpu;
pub mod declared;
pub mod envs;
pub mod linkage;
pub mod mirrors;
pub mod prefix;
pub mod probe;
pub mod problem;
pub mod snapshot;
pub mod threads;

use serde::Serialize;

use self::problem::Problem;

/// Everything one diagnosis knows. Readers fill it; `findings` and the renderers read it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facts {
    pub machine: cpu::CpuFacts,
    pub environment: envs::Located,
    pub prefix: prefix::PrefixFacts,
    pub blas: declared::DeclaredBlas,
    pub channels: condarc::ChannelFacts,
    pub pip_indexes: Vec<mirrors::PipIndex>,
    pub threads: threads::ThreadFacts,
    /// What NumPy's extension modules link (None: not looked at).
    pub linkage: Option<linkage::LinkageFacts>,
    /// What a real `import numpy` loaded (None: `--no-runtime`).
    pub runtime: Option<probe::RuntimeFacts>,
    /// Problems that belong to no single reader.
    pub problems: Vec<Problem>,
}
