//! The BLAS vocabulary every layer shares: the implementations (`BlasImpl`), the channel
//! families whose schemes choose them (`ChannelFamily`), how names and build strings point to an
//! implementation, and which family offers which backend on which subdir.

use serde::Serialize;

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

impl ChannelFamily {
    /// The short name (as in `--channel-family` and the JSON): conda-forge, defaults, pip, other.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelFamily::CondaForge => "conda-forge",
            ChannelFamily::Defaults => "defaults",
            ChannelFamily::Pip => "pip",
            ChannelFamily::Other => "other",
        }
    }
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

/// The implementation a library file name points to (`libopenblasp-r0.3.21.so`,
/// `libmkl_rt.so.2`, `mkl_rt.2.dll`, `libblis.so.4`, `libvecLibFort-ng.dylib`, ...).
pub fn impl_from_lib_name(name: &str) -> Option<BlasImpl> {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    if base.contains("openblas") {
        Some(BlasImpl::Openblas)
    } else if base.contains("mkl") {
        Some(BlasImpl::Mkl)
    } else if base.contains("blis") {
        Some(BlasImpl::Blis)
    } else if base.contains("veclib")
        || base.contains("accelerate")
        || base.contains("blas_reexport")
    {
        Some(BlasImpl::Accelerate)
    } else if base.contains("nvpl") {
        Some(BlasImpl::Nvpl)
    } else {
        None
    }
}

/// Backends a channel family publishes for a subdir, default first (conda.md §1.3, §2).
///
/// conda-forge: MKL only on linux-64/win-64 (win-64 defaults to it), BLIS on x86_64,
/// Accelerate on macOS, NVPL on linux-aarch64, netlib everywhere. defaults: MKL on x86/x86_64
/// Linux and Windows (Windows has nothing else), OpenBLAS elsewhere (osx-64 dropped MKL in 2024).
/// PyPI: NumPy ≥ 2 wheels for macOS 14+ (arm64 and x86_64) use Accelerate, the rest OpenBLAS.
pub fn available(family: ChannelFamily, subdir: &str) -> Vec<BlasImpl> {
    use BlasImpl::*;
    match (family, subdir) {
        (ChannelFamily::CondaForge, "linux-64") => vec![Openblas, Mkl, Blis, Netlib],
        (ChannelFamily::CondaForge, "win-64") => vec![Mkl, Openblas, Blis, Netlib],
        (ChannelFamily::CondaForge, "osx-64") => vec![Openblas, Blis, Accelerate, Netlib],
        (ChannelFamily::CondaForge, "osx-arm64") => vec![Openblas, Accelerate, Netlib],
        (ChannelFamily::CondaForge, "linux-aarch64") => vec![Openblas, Nvpl, Netlib],
        (ChannelFamily::CondaForge, _) => vec![Openblas, Netlib],
        (ChannelFamily::Defaults, "linux-64" | "linux-32") => vec![Mkl, Openblas],
        (ChannelFamily::Defaults, "win-64" | "win-32") => vec![Mkl],
        (ChannelFamily::Defaults, _) => vec![Openblas],
        (ChannelFamily::Pip, "osx-arm64" | "osx-64") => vec![Accelerate, Openblas],
        (ChannelFamily::Pip, _) => vec![Openblas],
        (ChannelFamily::Other, _) => vec![],
    }
}

/// What a fresh install from this family gets on this subdir (None: the family's scheme is
/// unknown).
pub fn default_for(family: ChannelFamily, subdir: &str) -> Option<BlasImpl> {
    available(family, subdir).into_iter().next()
}

/// The MatchSpec that selects `imp` in a family's scheme, for `conda install`:
/// conda-forge `libblas=*=*mkl` (the build glob also matches every era's build strings and,
/// for `*accelerate`, `newaccelerate`); defaults `blas=*=mkl` / `blas=*=openblas`, which must be
/// installed together with `numpy` so that numpy/numpy-base are re-solved to the matching
/// variant (`conda install numpy "blas=*=mkl"`). None when the family has no such switch
/// (PyPI, unknown channels) or `imp` is not a backend.
pub fn switch_spec(family: ChannelFamily, imp: BlasImpl) -> Option<String> {
    if !imp.is_concrete() {
        return None;
    }
    match family {
        ChannelFamily::CondaForge => Some(format!("libblas=*=*{}", imp.as_str())),
        ChannelFamily::Defaults => matches!(imp, BlasImpl::Mkl | BlasImpl::Openblas)
            .then(|| format!("blas=*={}", imp.as_str())),
        ChannelFamily::Pip | ChannelFamily::Other => None,
    }
}

/// conda-forge `libblas` build strings of every era and the implementation each selects.
#[cfg(test)]
pub(crate) const BUILD_STRINGS_OF_EVERY_ERA: &[(&str, BlasImpl)] = &[
    ("8_openblas", BlasImpl::Openblas),
    ("12_mkl", BlasImpl::Mkl),
    ("12_linux64_openblas", BlasImpl::Openblas),
    ("16_win64_mkl", BlasImpl::Mkl),
    ("16_osxarm64_accelerate", BlasImpl::Accelerate),
    ("20_win64_blis", BlasImpl::Blis),
    ("31_h59b9bed_openblas", BlasImpl::Openblas),
    ("35_hfdb39a5_mkl", BlasImpl::Mkl),
    ("37_h1462f9a_newaccelerate", BlasImpl::Accelerate),
    ("1_h86c2bf4_netlib", BlasImpl::Netlib),
    ("5_h0_nvpl", BlasImpl::Nvpl),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_suffixes_of_every_era() {
        for &(b, imp) in BUILD_STRINGS_OF_EVERY_ERA {
            assert_eq!(impl_from_build_suffix(b), Some(imp), "{b}");
        }
        assert_eq!(impl_from_build_suffix("pthreads_h413a1c8_0"), None);
    }

    #[test]
    fn families_defaults_and_switch_specs() {
        assert_eq!(
            default_for(ChannelFamily::CondaForge, "win-64"),
            Some(BlasImpl::Mkl)
        );
        assert_eq!(
            default_for(ChannelFamily::CondaForge, "linux-64"),
            Some(BlasImpl::Openblas)
        );
        assert_eq!(
            default_for(ChannelFamily::Defaults, "linux-64"),
            Some(BlasImpl::Mkl)
        );
        assert_eq!(
            default_for(ChannelFamily::Defaults, "osx-64"),
            Some(BlasImpl::Openblas)
        );
        assert_eq!(default_for(ChannelFamily::Other, "linux-64"), None);
        assert!(!available(ChannelFamily::CondaForge, "osx-arm64").contains(&BlasImpl::Mkl));
        assert!(!available(ChannelFamily::Defaults, "win-64").contains(&BlasImpl::Openblas));
        assert_eq!(
            switch_spec(ChannelFamily::CondaForge, BlasImpl::Mkl).as_deref(),
            Some("libblas=*=*mkl")
        );
        assert_eq!(
            switch_spec(ChannelFamily::Defaults, BlasImpl::Openblas).as_deref(),
            Some("blas=*=openblas")
        );
        assert_eq!(switch_spec(ChannelFamily::Defaults, BlasImpl::Blis), None);
        assert_eq!(switch_spec(ChannelFamily::Pip, BlasImpl::Mkl), None);
        assert_eq!(
            switch_spec(ChannelFamily::CondaForge, BlasImpl::Ambiguous),
            None
        );
    }
}
