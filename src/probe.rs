//! The BLAS a real `import numpy` loads: runs the environment's own Python with the probe script
//! from `templates/probe.py` (standard library only; threadpoolctl when importable), with a
//! timeout and a clean environment, and reads its JSON.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::blas::BlasImpl;

/// One BLAS or OpenMP library loaded in the process.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct LoadedLib {
    /// "blas" or "openmp".
    pub user_api: String,
    /// "openblas", "mkl", "blis", "flexiblas", "accelerate", "openmp".
    pub internal_api: String,
    pub filepath: String,
    pub version: Option<String>,
    pub num_threads: Option<i64>,
    pub threading_layer: Option<String>,
    /// OpenBLAS core / BLIS architecture in use.
    pub architecture: Option<String>,
}

/// What the probe saw.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RuntimeFacts {
    pub python: Option<String>,
    pub python_executable: Option<PathBuf>,
    pub numpy_version: Option<String>,
    pub numpy_file: Option<String>,
    pub libraries: Vec<LoadedLib>,
    /// `numpy.show_config()` BLAS name (Meson `Build Dependencies.blas.name` or distutils keys).
    pub config_blas: Option<String>,
    pub implementation: BlasImpl,
    /// Why the probe could not answer, when it could not.
    pub error: Option<String>,
    pub elapsed_ms: Option<u64>,
}
