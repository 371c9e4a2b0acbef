//! Readers: each gathers one kind of fact (the machine, the environment, its records and
//! configuration, what NumPy links and loads, thread settings) into plain data. Nothing here
//! judges; `diagnose` does. `Facts` is the aggregate of one diagnosis.

pub mod bench;
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

use std::time::Duration;

use serde::Serialize;

use self::problem::Problem;
use self::snapshot::EnvSnapshot;

/// Everything one diagnosis knows. Readers fill it; the rules and the renderers read it.
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

/// Gather the facts; with `runtime`, also run the environment's Python with the probe (started
/// first, so that the static work happens while it imports NumPy) and wait at most that long.
pub fn gather(
    selector: &envs::Selector,
    env: &EnvSnapshot,
    runtime: Option<Duration>,
) -> Result<Facts, envs::LocateError> {
    let located = envs::locate(selector, env)?;
    let probe = match (runtime, &located.python) {
        (Some(timeout), Some(python)) => Some(probe::spawn(python, timeout, &[])),
        _ => None,
    };
    let mut problems = Vec::new();
    if runtime.is_some() && located.python.is_none() {
        problems.push(Problem::at(
            &located.prefix,
            "no Python interpreter in this environment; the runtime probe was skipped",
        ));
    }
    let machine = cpu::detect();
    let prefix = prefix::read(&located.prefix);
    let blas = declared::declared(&prefix);
    let cfg = condarc::load(env, Some(&located.prefix));
    let subdir = prefix
        .subdir
        .clone()
        .unwrap_or_else(|| machine.process_subdir.clone());
    let channels = condarc::channel_facts(&cfg, &subdir);
    let pip_indexes = mirrors::pip_indexes(env, Some(&located.prefix));
    let threads = threads::from_env(env, &machine);
    let linkage = prefix.site.as_ref().map(|site| {
        linkage::inspect_with(
            &located.prefix,
            &site.path,
            Some(&subdir),
            &linkage::LoaderEnv::capture(env),
        )
    });
    let runtime = probe.map(|p| p.wait());
    Ok(Facts {
        machine,
        environment: located,
        prefix,
        blas,
        channels,
        pip_indexes,
        threads,
        linkage,
        runtime,
        problems,
    })
}
