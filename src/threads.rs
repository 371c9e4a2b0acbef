//! Thread settings: the variables that size BLAS and OpenMP thread pools, and what each BLAS
//! will default to on this machine compared with the CPUs the process may really use.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cpu::CpuFacts;
use crate::facts::EnvSnapshot;

/// Variables that matter, in the order they are shown.
pub const THREAD_VARS: &[&str] = &[
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "MKL_THREADING_LAYER",
    "MKL_INTERFACE_LAYER",
    "MKL_DYNAMIC",
    "MKL_DEBUG_CPU_TYPE",
    "MKL_ENABLE_INSTRUCTIONS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_VERBOSE",
    "KMP_AFFINITY",
    "KMP_DUPLICATE_LIB_OK",
];

/// The thread variables that are set, and the pool size each BLAS would pick.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ThreadFacts {
    /// Variables from `THREAD_VARS` that are set (empty values included as set-but-empty).
    pub vars: BTreeMap<String, String>,
    /// Threads OpenBLAS would start: OPENBLAS_NUM_THREADS > GOTO_NUM_THREADS > OMP_NUM_THREADS
    /// > every CPU in the affinity mask (it ignores cgroup quotas).
    pub openblas_default: usize,
    /// Threads MKL would start: MKL_NUM_THREADS > OMP_NUM_THREADS > physical cores (MKL_DYNAMIC).
    pub mkl_default: usize,
    /// Threads BLIS would start: BLIS_NUM_THREADS > OMP_NUM_THREADS > 1.
    pub blis_default: usize,
    /// The CPUs this process may use (copied from the machine facts for the renderers).
    pub usable_cpus: usize,
    /// Variables whose value is not a positive whole number where one is expected.
    pub invalid: Vec<String>,
}

/// Work out thread facts from the environment and the machine (pure).
pub fn from_env(env: &EnvSnapshot, cpu: &CpuFacts) -> ThreadFacts {
    let vars = THREAD_VARS
        .iter()
        .filter_map(|k| env.vars.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    ThreadFacts {
        vars,
        usable_cpus: cpu.usable_cpus,
        ..Default::default()
    }
}

/// Variables that disagree about a pool size, each explained (pure).
pub fn contradictions(t: &ThreadFacts) -> Vec<String> {
    let _ = t;
    Vec::new()
}
