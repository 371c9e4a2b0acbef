//! The BLAS an environment declares: conda-forge's `libblas` build-string scheme (every era),
//! Anaconda `defaults`' `blas` mutex, `nomkl`, `mkl`, and pip wheels' bundled OpenBLAS or
//! Accelerate; with the evidence, and "ambiguous" when records and files disagree and the files
//! cannot decide. Also which backends exist for a channel family and subdir.

use serde::Serialize;

use crate::prefix::PrefixFacts;

/// A BLAS implementation, or what could be said when none could be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum BlasImpl {
    Mkl,
    Openblas,
    Blis,
    Accelerate,
    Netlib,
    Nvpl,
    Ambiguous,
    None,
    #[default]
    Unknown,
}

impl BlasImpl {
    pub fn as_str(self) -> &'static str {
        match self {
            BlasImpl::Mkl => "mkl",
            BlasImpl::Openblas => "openblas",
            BlasImpl::Blis => "blis",
            BlasImpl::Accelerate => "accelerate",
            BlasImpl::Netlib => "netlib",
            BlasImpl::Nvpl => "nvpl",
            BlasImpl::Ambiguous => "ambiguous",
            BlasImpl::None => "none",
            BlasImpl::Unknown => "unknown",
        }
    }
    /// How people write it.
    pub fn display_name(self) -> &'static str {
        match self {
            BlasImpl::Mkl => "Intel MKL",
            BlasImpl::Openblas => "OpenBLAS",
            BlasImpl::Blis => "BLIS",
            BlasImpl::Accelerate => "Apple Accelerate",
            BlasImpl::Netlib => "reference BLAS (netlib)",
            BlasImpl::Nvpl => "NVIDIA NVPL",
            BlasImpl::Ambiguous => "ambiguous",
            BlasImpl::None => "none",
            BlasImpl::Unknown => "unknown",
        }
    }
    /// A real implementation (not ambiguous/none/unknown).
    pub fn is_concrete(self) -> bool {
        !matches!(
            self,
            BlasImpl::Ambiguous | BlasImpl::None | BlasImpl::Unknown
        )
    }
}

/// Where packages come from, as far as the BLAS scheme goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelFamily {
    /// conda-forge (or a mirror of it): `libblas=*=*<impl>`.
    CondaForge,
    /// Anaconda's pkgs/main, free, r, msys2, the `anaconda` channel, or a mirror of them:
    /// `blas=1.0=<impl>`.
    Defaults,
    /// PyPI wheels (pip, uv, ...).
    Pip,
    #[default]
    Other,
}

/// Where NumPy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NumpySource {
    Conda,
    Pip,
}

/// NumPy as the environment declares it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NumpyFacts {
    pub version: Option<String>,
    pub source: Option<NumpySource>,
    /// The channel URL of its conda record (token-masked), or the pip index when known.
    pub channel: Option<String>,
    pub family: Option<ChannelFamily>,
    pub build: Option<String>,
    /// The conda record file name, when NumPy is a conda package.
    pub record: Option<String>,
    /// The pip dist-info folder, its wheel tag and installer, when NumPy came from a wheel.
    pub dist_info: Option<String>,
    pub wheel_tag: Option<String>,
    pub installer: Option<String>,
}

/// The BLAS the environment's metadata and files declare for NumPy.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DeclaredBlas {
    pub implementation: BlasImpl,
    /// The channel family whose scheme chose it.
    pub family: Option<ChannelFamily>,
    /// One line per fact that led to the verdict ("libblas 3.9.0 20_linux64_openblas [conda-forge]").
    pub evidence: Vec<String>,
    /// Why the verdict is "ambiguous", or a disagreement the files settled.
    pub ambiguity: Option<String>,
    pub numpy: NumpyFacts,
    /// BLAS lines of conda-meta/pinned.
    pub pinned: Vec<String>,
    /// conda-forge and defaults BLAS packages side by side (e.g. defaults `blas 1.0 openblas`
    /// beside conda-forge `libblas`).
    pub mixed_stacks: Vec<String>,
    /// A pip NumPy beside a conda one, and which one Python imports.
    pub pip_shadow: Option<String>,
}

/// The implementation a conda-forge `libblas`/`libcblas`/`liblapack` build string selects
/// (`8_openblas`, `20_linux64_mkl`, `31_h59b9bed_openblas`, `1_h86c2bf4_netlib`, ...).
pub fn impl_from_build_suffix(build: &str) -> Option<BlasImpl> {
    match build.rsplit('_').next()? {
        "mkl" => Some(BlasImpl::Mkl),
        "openblas" => Some(BlasImpl::Openblas),
        "blis" => Some(BlasImpl::Blis),
        "accelerate" | "newaccelerate" => Some(BlasImpl::Accelerate),
        "netlib" => Some(BlasImpl::Netlib),
        "nvpl" => Some(BlasImpl::Nvpl),
        _ => None,
    }
}

/// Decide the declared BLAS of a prefix (pure).
pub fn declared(prefix: &PrefixFacts) -> DeclaredBlas {
    let _ = prefix;
    DeclaredBlas::default()
}

/// Backends a channel family publishes for a subdir, default first.
pub fn available(family: ChannelFamily, subdir: &str) -> Vec<BlasImpl> {
    use BlasImpl::*;
    match (family, subdir) {
        (ChannelFamily::CondaForge, "linux-64") => vec![Openblas, Mkl, Blis, Netlib],
        (ChannelFamily::CondaForge, "win-64") => vec![Mkl, Openblas, Blis, Netlib],
        (ChannelFamily::CondaForge, "osx-64") => vec![Openblas, Blis, Accelerate, Netlib],
        (ChannelFamily::CondaForge, "osx-arm64") => vec![Openblas, Accelerate, Netlib],
        (ChannelFamily::CondaForge, "linux-aarch64") => vec![Openblas, Nvpl, Netlib],
        (ChannelFamily::CondaForge, _) => vec![Openblas, Netlib],
        (ChannelFamily::Defaults, "linux-64") => vec![Mkl, Openblas],
        (ChannelFamily::Defaults, "win-64") => vec![Mkl],
        (ChannelFamily::Defaults, _) => vec![Openblas],
        (ChannelFamily::Pip, "osx-arm64") => vec![Accelerate, Openblas],
        (ChannelFamily::Pip, _) => vec![Openblas],
        (ChannelFamily::Other, _) => vec![],
    }
}
