//! Rules on the backend for this CPU and platform: OpenBLAS on Intel where MKL exists, MKL on a
//! non-Intel CPU, MKL where none is published, x86_64 under Rosetta.

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::fix::switch_fix;
use crate::diagnose::in_use::effective;
use crate::diagnose::platform::{
    cpu_label, env_family, env_subdir, exists_here, family_name, is_x86,
};
use crate::facts::Facts;
use crate::facts::blas::{self, BlasImpl, ChannelFamily};
use crate::facts::cpu::VendorFamily;

/// `openblas-on-intel` / `openblas-on-intel-pip`: OpenBLAS on an Intel CPU where MKL exists.
pub fn openblas_on_intel(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let (imp, layer) = effective(f);
    let subdir = env_subdir(f);
    let family = env_family(f);
    let vendor = f.machine.vendor_family;
    if imp == BlasImpl::Openblas && vendor == VendorFamily::Intel && is_x86(f) {
        if matches!(family, ChannelFamily::CondaForge | ChannelFamily::Defaults)
            && exists_here(f, BlasImpl::Mkl)
        {
            let (fix, raw) = switch_fix(f, BlasImpl::Mkl);
            out.push(
                Finding::new(
                    "openblas-on-intel",
                    Severity::Warning,
                    "NumPy runs on OpenBLAS on an Intel CPU where MKL is available",
                    format!(
                        "{} uses OpenBLAS ({}) on {}. {} publishes MKL builds for {}; on Intel CPUs MKL is \
                         often faster for BLAS-3 and LAPACK work. Measure with `blasfix bench` before and after.",
                        "NumPy",
                        layer.as_str(),
                        cpu_label(f),
                        family_name(family),
                        subdir
                    ),
                )
                .fix(fix, raw),
            );
        } else if family == ChannelFamily::Pip && matches!(subdir.as_str(), "linux-64" | "win-64") {
            out.push(Finding::new(
                "openblas-on-intel-pip",
                Severity::Info,
                "NumPy from PyPI bundles its own OpenBLAS; MKL is not an option for this NumPy",
                format!(
                    "PyPI NumPy wheels always load the OpenBLAS in numpy.libs, whatever else is installed. On {} \
                     a conda environment with conda-forge or defaults NumPy can use MKL instead.",
                    cpu_label(f)
                ),
            ));
        }
    }
    out
}

/// `mkl-on-non-intel`: MKL on AMD, Hygon or Zhaoxin (by the BLAS in use).
pub fn mkl_on_non_intel(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let (imp, _) = effective(f);
    let vendor = f.machine.vendor_family;
    if imp == BlasImpl::Mkl
        && matches!(
            vendor,
            VendorFamily::Amd | VendorFamily::Hygon | VendorFamily::Zhaoxin
        )
    {
        let to = BlasImpl::Openblas;
        let (fix, raw) = if exists_here(f, to) {
            switch_fix(f, to)
        } else {
            (None, None)
        };
        out.push(
            Finding::new(
                "mkl-on-non-intel",
                Severity::Warning,
                format!("NumPy runs on MKL on a non-Intel CPU ({})", f.machine.vendor.trim()),
                format!(
                    "MKL picks its fast code paths by checking for a GenuineIntel CPU; on {} it may fall back to \
                     slower generic kernels (MKL_DEBUG_CPU_TYPE=5 no longer works since MKL 2020.1). OpenBLAS (or \
                     BLIS) is usually as fast or faster here. Measure with `blasfix bench`.",
                    cpu_label(f)
                ),
            )
            .fix(fix, raw),
        );
    }
    out
}

/// `mkl-unavailable`: MKL in use or pinned where the family publishes none.
pub fn mkl_unavailable(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let (imp, _) = effective(f);
    let subdir = env_subdir(f);
    let family = env_family(f);
    let mkl_pins: Vec<&String> = f
        .blas
        .pinned
        .iter()
        .filter(|p| p.contains("mkl") && !p.contains("nomkl"))
        .collect();
    let mkl_here = family == ChannelFamily::Other || exists_here(f, BlasImpl::Mkl);
    if !mkl_here && (!mkl_pins.is_empty() || imp == BlasImpl::Mkl) {
        let alts: Vec<&str> = blas::available(family, &subdir)
            .iter()
            .map(|b| b.as_str())
            .collect();
        let what = if mkl_pins.is_empty() {
            "The environment has MKL".to_string()
        } else {
            format!(
                "conda-meta/pinned asks for MKL ({})",
                mkl_pins
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push(Finding::new(
            "mkl-unavailable",
            if mkl_pins.is_empty() { Severity::Warning } else { Severity::Error },
            format!("MKL is not published for {subdir} on {}", family_name(family)),
            format!(
                "{what}, but {} has no current MKL builds for {subdir} (MKL exists only for x86_64 Linux and \
                 Windows; conda-forge dropped it on osx-64 in 2024). The solver will refuse or keep stale packages. \
                 Available here: {}.",
                family_name(family),
                if alts.is_empty() { "none known".to_string() } else { alts.join(", ") }
            ),
        ));
    }
    out
}

/// `rosetta`: an x86_64 environment on Apple silicon.
pub fn rosetta(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let subdir = env_subdir(f);
    if f.machine.rosetta || (f.machine.subdir == "osx-arm64" && subdir == "osx-64") {
        out.push(Finding::new(
            "rosetta",
            Severity::Warning,
            "An x86_64 environment runs under Rosetta 2 on Apple silicon",
            format!(
                "The environment is {subdir} but the machine is osx-arm64. Every NumPy call is translated; \
                 Rosetta lacks AVX-512 (and AVX on older macOS), and MKL 2022+ refuses to run there. A native \
                 osx-arm64 environment (Miniforge) with Accelerate or OpenBLAS is many times faster."
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::finding::Severity;
    use crate::diagnose::fixture::{ids, intel_linux};
    use crate::diagnose::recommend::recommend;
    use crate::diagnose::rules::evaluate;

    #[test]
    fn openblas_on_intel_conda_forge_suggests_libblas_mkl() {
        let f = intel_linux();
        let found = evaluate(&f);
        let x = found
            .iter()
            .find(|x| x.id == "openblas-on-intel")
            .expect("finding");
        assert_eq!(x.severity, Severity::Warning);
        assert_eq!(x.fix.as_deref(), Some("blasfix apply --backend mkl"));
        assert_eq!(
            x.fix_raw.as_deref(),
            Some("conda install -p /home/u/miniforge3/envs/ml \"libblas=*=*mkl\"")
        );
        assert_eq!(recommend(&f).backend, BlasImpl::Mkl);
        let mut f = f;
        f.environment.how = "-n ml in /home/u/miniforge3/envs".into();
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "openblas-on-intel")
            .unwrap();
        assert_eq!(x.fix.as_deref(), Some("blasfix apply --backend mkl -n ml"));
        assert_eq!(
            x.fix_raw.as_deref(),
            Some("conda install -n ml \"libblas=*=*mkl\"")
        );
    }

    #[test]
    fn openblas_on_intel_defaults_suggests_blas_mutex() {
        let mut f = intel_linux();
        f.blas.family = Some(ChannelFamily::Defaults);
        f.blas.numpy.family = Some(ChannelFamily::Defaults);
        f.environment.how = "-p".into();
        f.environment.name = None;
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "openblas-on-intel")
            .unwrap();
        assert_eq!(
            x.fix.as_deref(),
            Some("blasfix apply --backend mkl -p /home/u/miniforge3/envs/ml")
        );
        assert_eq!(
            x.fix_raw.as_deref(),
            Some("conda install -p /home/u/miniforge3/envs/ml numpy \"blas=*=mkl\"")
        );
    }

    #[test]
    fn openblas_on_intel_but_no_mkl_for_subdir() {
        let mut f = intel_linux();
        f.prefix.subdir = Some("osx-64".into());
        f.machine.subdir = "osx-64".into();
        assert!(!ids(&f).contains(&"openblas-on-intel".to_string()));
        assert_eq!(recommend(&f).backend, BlasImpl::Openblas);
    }

    #[test]
    fn mkl_on_amd_and_hygon() {
        for (vendor, fam) in [
            ("AuthenticAMD", VendorFamily::Amd),
            ("HygonGenuine", VendorFamily::Hygon),
        ] {
            let mut f = intel_linux();
            f.machine.vendor = vendor.into();
            f.machine.vendor_family = fam;
            f.blas.implementation = BlasImpl::Mkl;
            let x = evaluate(&f)
                .into_iter()
                .find(|x| x.id == "mkl-on-non-intel")
                .unwrap();
            assert_eq!(
                x.fix_raw.as_deref(),
                Some("conda install -p /home/u/miniforge3/envs/ml \"libblas=*=*openblas\"")
            );
            assert_eq!(recommend(&f).backend, BlasImpl::Openblas);
        }
    }

    #[test]
    fn mkl_pinned_on_osx_arm64_is_an_error() {
        let mut f = intel_linux();
        f.machine.vendor_family = VendorFamily::Apple;
        f.machine.arch = "aarch64".into();
        f.machine.subdir = "osx-arm64".into();
        f.prefix.subdir = Some("osx-arm64".into());
        f.blas.pinned = vec!["libblas=*=*mkl".into()];
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "mkl-unavailable")
            .unwrap();
        assert_eq!(x.severity, Severity::Error);
        assert!(x.detail.contains("accelerate"), "{}", x.detail);
        assert_eq!(recommend(&f).backend, BlasImpl::Accelerate);
    }

    #[test]
    fn mkl_on_linux_aarch64_unavailable() {
        let mut f = intel_linux();
        f.machine.arch = "aarch64".into();
        f.machine.vendor_family = VendorFamily::Arm;
        f.prefix.subdir = Some("linux-aarch64".into());
        f.blas.implementation = BlasImpl::Mkl;
        assert!(ids(&f).contains(&"mkl-unavailable".to_string()));
        assert_eq!(recommend(&f).backend, BlasImpl::Openblas);
    }

    #[test]
    fn rosetta_recommends_native_accelerate() {
        let mut f = intel_linux();
        f.machine.rosetta = true;
        f.machine.subdir = "osx-arm64".into();
        f.machine.process_subdir = "osx-64".into();
        f.prefix.subdir = Some("osx-64".into());
        assert!(ids(&f).contains(&"rosetta".to_string()));
        assert_eq!(recommend(&f).backend, BlasImpl::Accelerate);
    }
}
