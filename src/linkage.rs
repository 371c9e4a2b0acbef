//! The BLAS NumPy's extension modules link, without running Python: ELF `DT_NEEDED` with
//! RPATH/RUNPATH and `$ORIGIN`, Mach-O `LC_LOAD_DYLIB` with `@rpath`/`@loader_path`, PE imports;
//! resolved as the loader would, following the prefix's symlinks to the implementation.

use std::path::PathBuf;

use serde::Serialize;

use crate::blas::BlasImpl;

/// One resolved dependency chain from a NumPy extension to a BLAS.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct LinkChain {
    /// The extension module (`numpy/_core/_multiarray_umath...so`).
    pub module: PathBuf,
    /// Each hop: the name as written, then the resolved file (symlinks followed).
    pub hops: Vec<LinkHop>,
    pub implementation: BlasImpl,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct LinkHop {
    /// The name as the binary records it (`libcblas.so.3`, `@rpath/libopenblas.0.dylib`).
    pub needed: String,
    /// Where the loader would find it (None: not found).
    pub resolved: Option<PathBuf>,
    /// The real file after following symlinks.
    pub real: Option<PathBuf>,
}

/// What NumPy links.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LinkageFacts {
    pub chains: Vec<LinkChain>,
    /// The implementation the chains end in (Ambiguous when they disagree, Unknown when none).
    pub implementation: BlasImpl,
    pub problems: Vec<crate::facts::Problem>,
}
