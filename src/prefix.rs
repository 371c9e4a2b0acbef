//! Reading an environment prefix: the conda-meta records that matter for BLAS (found by file
//! name, so a prefix of thousands of records costs a directory listing), `conda-meta/pinned`,
//! `conda-meta/history`, site-packages (NumPy's dist-info, the version written in its files,
//! bundled BLAS libraries) and the BLAS symlinks in `lib/` or `Library/bin`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::facts::Problem;

/// Names of records read in full; every other record is only counted.
pub const RELEVANT: &[&str] = &[
    "numpy",
    "numpy-base",
    "scipy",
    "python",
    "blas",
    "blas-devel",
    "libblas",
    "libcblas",
    "liblapack",
    "liblapacke",
    "mkl",
    "mkl-service",
    "mkl_fft",
    "mkl_random",
    "mkl-devel",
    "intel-openmp",
    "llvm-openmp",
    "_openmp_mutex",
    "libgomp",
    "nomkl",
    "openblas",
    "libopenblas",
    "openblas-devel",
    "blis",
    "libnvpl-blas0",
    "threadpoolctl",
    "numexpr",
];

/// One conda-meta record, reduced to what BLAS diagnosis needs.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Record {
    pub name: String,
    pub version: String,
    pub build: String,
    pub build_number: Option<u64>,
    /// As written: a URL with subdir, without, or absent (installer-made records).
    pub channel: Option<String>,
    pub url: Option<String>,
    pub subdir: Option<String>,
    pub depends: Vec<String>,
    pub constrains: Vec<String>,
    pub track_features: Vec<String>,
    /// The record file, relative to the prefix (`conda-meta/numpy-1.26.4-py311h..json`).
    pub file: PathBuf,
    /// Paths under site-packages/numpy this record installs, with sha256 when recorded
    /// (only kept for numpy and numpy-base).
    #[serde(skip)]
    pub numpy_files: Vec<(String, Option<String>)>,
}

/// One line of `conda-meta/pinned`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PinnedLine {
    pub line: usize,
    pub text: String,
    /// Why conda would ignore or reject it (quoted, not a MatchSpec), if so.
    pub problem: Option<String>,
}

/// A `*.dist-info` or `*.egg-info` folder in site-packages.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct DistInfo {
    pub dir: String,
    pub name: String,
    pub version: String,
    /// Contents of INSTALLER (`pip`, `conda`, `uv`, ...).
    pub installer: Option<String>,
    /// `Tag:` lines of WHEEL.
    pub wheel_tags: Vec<String>,
}

/// What site-packages says about NumPy.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SitePackages {
    pub path: PathBuf,
    /// numpy, numpy-base and scipy dist-info/egg-info folders.
    pub dists: Vec<DistInfo>,
    pub numpy_dir: bool,
    /// The version written in NumPy's own files (numpy/version.py or _version.py).
    pub numpy_version_in_files: Option<String>,
    pub numpy_version_file: Option<String>,
    /// Libraries under numpy.libs/, numpy/.libs/, numpy/.dylibs/ (relative to site-packages).
    pub numpy_bundled_libs: Vec<String>,
    pub scipy_bundled_libs: Vec<String>,
    /// NumPy's core extension module (`numpy/_core/_multiarray_umath*` or `numpy/core/...`).
    pub numpy_core_extension: Option<PathBuf>,
    /// Which installer's hashes match NumPy's files on disk: "conda", "pip" or none known.
    pub numpy_files_owner: Option<String>,
}

/// A BLAS-related file in `lib/` (or `Library/bin`) and where its symlink points.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LibLink {
    pub name: String,
    pub target: Option<String>,
}

/// Everything read from one prefix.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PrefixFacts {
    pub prefix: PathBuf,
    pub has_conda_meta: bool,
    /// Number of `conda-meta/*.json` records.
    pub record_count: usize,
    /// The records whose names are in `RELEVANT`, sorted by name.
    pub records: Vec<Record>,
    pub pinned: Vec<PinnedLine>,
    /// The tool named by the last `# cmd:` line of conda-meta/history (conda, mamba, micromamba).
    pub history_tool: Option<String>,
    pub history_last_cmd: Option<String>,
    /// Python's version (from its record, pyvenv.cfg or lib/pythonX.Y).
    pub python_version: Option<String>,
    pub site: Option<SitePackages>,
    pub blas_links: Vec<LibLink>,
    /// The environment's subdir, from its records (`linux-64`, `osx-64`, ...).
    pub subdir: Option<String>,
    pub problems: Vec<Problem>,
}

impl PrefixFacts {
    pub fn record(&self, name: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.name == name)
    }
}

/// Read a prefix. Never fails: what cannot be read becomes a `Problem`.
pub fn read(prefix: &Path) -> PrefixFacts {
    PrefixFacts {
        prefix: prefix.to_path_buf(),
        ..Default::default()
    }
}
