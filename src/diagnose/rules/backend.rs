//! Rules on the backend for this CPU and platform: OpenBLAS on Intel where MKL exists, MKL on a
//! non-Intel CPU, MKL where none is published, x86_64 under Rosetta.

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::fix::distro_switch;
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

/// Why MKL may be slow on this CPU, when it is not an Intel one (None on Intel and for other
/// backends). Shared by the finding and by `apply`'s plan, which warns before switching.
pub fn mkl_slow_here(f: &Facts, backend: BlasImpl) -> Option<String> {
    let non_intel = matches!(
        f.machine.vendor_family,
        VendorFamily::Amd | VendorFamily::Hygon | VendorFamily::Zhaoxin
    );
    let maker = match f.machine.vendor_family {
        VendorFamily::Amd => "AMD",
        VendorFamily::Hygon => "Hygon",
        _ => "Zhaoxin",
    };
    let arch = f
        .machine
        .microarch
        .as_deref()
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    (backend == BlasImpl::Mkl && non_intel).then(|| {
        format!(
            "MKL picks its fast code paths by checking for a GenuineIntel CPU; on this {maker} CPU{arch} it \
             may fall back to slower generic kernels (MKL_DEBUG_CPU_TYPE=5 no longer works since MKL 2020.1). \
             OpenBLAS (or BLIS) is usually as fast or faster here. Measure with `blasfix bench`."
        )
    })
}

/// `mkl-on-non-intel`: MKL on AMD, Hygon or Zhaoxin (by the BLAS in use).
pub fn mkl_on_non_intel(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let (imp, _) = effective(f);
    if let Some(why) = mkl_slow_here(f, imp) {
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
                format!(
                    "NumPy runs on MKL on a non-Intel CPU ({})",
                    f.machine.vendor.trim()
                ),
                why,
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

/// `reference-blas`: NumPy runs on the reference (netlib) BLAS, unoptimised and single-threaded.
/// The fix is the environment's own route: update-alternatives on Debian/Ubuntu, `flexiblas
/// default` on Fedora, the libblas build string on conda-forge.
pub fn reference_blas(f: &Facts) -> Vec<Finding> {
    reference_blas_check(f).into_iter().collect()
}

fn reference_blas_check(f: &Facts) -> Option<Finding> {
    let (imp, layer) = effective(f);
    if imp != BlasImpl::Netlib {
        return None;
    }
    let family = env_family(f);
    let route = match family {
        ChannelFamily::Debian => {
            "Debian and Ubuntu pick it with update-alternatives (`libblas.so.3` and \
             `liblapack.so.3`); switch both to OpenBLAS (after `apt install libopenblas0-pthread` \
             when it is missing). It is a system change: every program linking libblas.so.3 \
             follows it."
        }
        ChannelFamily::Fedora => {
            "FlexiBLAS loads it as its backend; `flexiblas list` shows the installed backends \
             and `flexiblas default OPENBLAS-OPENMP` switches (or set FLEXIBLAS=OPENBLAS-OPENMP \
             for one program)."
        }
        ChannelFamily::CondaForge => {
            "conda-forge's `libblas *_netlib` build is installed; any other build string \
             switches NumPy without reinstalling it."
        }
        _ => "Install NumPy from a source that ships an optimised BLAS.",
    };
    let (fix, raw) = match family {
        ChannelFamily::Debian | ChannelFamily::Fedora => {
            let c = distro_switch(f, BlasImpl::Openblas);
            (c.clone(), c)
        }
        ChannelFamily::CondaForge | ChannelFamily::Defaults => switch_fix(f, BlasImpl::Openblas),
        _ => (None, None),
    };
    let mut x = Finding::new(
        "reference-blas",
        Severity::Warning,
        "NumPy runs on the reference BLAS",
        format!(
            "NumPy uses the reference (netlib) BLAS ({}): the unoptimised Fortran loops, one \
             thread, often 10 to 50 times slower than OpenBLAS, BLIS or MKL for matrix products \
             and LAPACK. {route}",
            layer.as_str()
        ),
    );
    x.fix = fix;
    x.fix_raw = raw;
    Some(x)
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
    fn linux_aarch64_recommends_openblas_and_names_nvpl() {
        let mut f = intel_linux();
        f.machine.arch = "aarch64".into();
        f.machine.vendor = "ARM".into();
        f.machine.vendor_family = crate::facts::cpu::VendorFamily::Arm;
        f.machine.microarch = Some("neoverse_v2".into());
        f.machine.cpu_part = Some("0xd4f".into());
        f.machine.subdir = "linux-aarch64".into();
        f.machine.process_subdir = "linux-aarch64".into();
        f.prefix.subdir = Some("linux-aarch64".into());
        let r = recommend(&f);
        assert_eq!(r.backend, BlasImpl::Openblas);
        assert!(r.reason.contains("MKL does not exist here"), "{}", r.reason);
        assert!(r.reason.contains("libblas=*=*nvpl"), "{}", r.reason);
        assert!(r.reason.contains("Grace"), "{}", r.reason);
        assert!(
            !ids(&f)
                .iter()
                .any(|i| i.contains("mkl") || i.contains("intel"))
        );
        // Neoverse-V1 (Graviton3): NVPL named, Grace not.
        f.machine.cpu_part = Some("0xd40".into());
        let r = recommend(&f);
        assert!(
            r.reason.contains("nvpl") && !r.reason.contains("Grace"),
            "{}",
            r.reason
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

#[cfg(test)]
mod reference_blas_tests {
    use super::*;
    use crate::diagnose::finding::Severity;
    use crate::facts::declared::{DeclaredBlas, NumpyFacts, NumpySource};
    use crate::facts::distro::{Alternative, DistroFacts, Package};
    use std::path::{Path, PathBuf};

    fn debian(alt: &str) -> Facts {
        let mut f = Facts::default();
        f.machine.usable_cpus = 2;
        f.machine.logical_cpus = 2;
        f.environment.prefix = PathBuf::from("/usr");
        f.blas = DeclaredBlas {
            implementation: BlasImpl::Netlib,
            family: Some(ChannelFamily::Debian),
            numpy: NumpyFacts {
                source: Some(NumpySource::Distribution),
                family: Some(ChannelFamily::Debian),
                ..Default::default()
            },
            ..Default::default()
        };
        let t = "x86_64-linux-gnu";
        f.prefix.distro = Some(DistroFacts {
            manager: Some("dpkg".into()),
            triplet: Some(t.into()),
            numpy_package: None,
            alternatives: vec![Alternative {
                name: format!("libblas.so.3-{t}"),
                target: Some(PathBuf::from(alt)),
                mode: Some("manual".into()),
                candidates: vec![
                    (
                        PathBuf::from(format!("/usr/lib/{t}/openblas-pthread/libblas.so.3")),
                        100,
                    ),
                    (PathBuf::from(format!("/usr/lib/{t}/blas/libblas.so.3")), 10),
                ],
                owner: None,
            }],
            blas_packages: vec![Package {
                name: "libopenblas0-pthread".into(),
                version: "0.3.21".into(),
            }],
        });
        f
    }

    #[test]
    fn reference_blas_on_debian_gets_the_alternatives_fix() {
        let f = debian("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3");
        let x = reference_blas_check(&f).expect("finding");
        assert_eq!(x.severity, Severity::Warning);
        // liblapack.so.3 is joined to the directory of the chosen libblas.so.3 (a backslash
        // on Windows).
        let lapack = Path::new("/usr/lib/x86_64-linux-gnu/openblas-pthread").join("liblapack.so.3");
        assert_eq!(
            x.fix,
            Some(format!(
                "sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 && sudo update-alternatives --set liblapack.so.3-x86_64-linux-gnu {}",
                lapack.display()
            ))
        );
        assert!(x.detail.contains("update-alternatives"), "{}", x.detail);
        let mut other = f.clone();
        other.blas.implementation = BlasImpl::Atlas;
        assert!(reference_blas_check(&other).is_none());
        // OpenBLAS not installed: apt first.
        let mut bare = f.clone();
        if let Some(d) = bare.prefix.distro.as_mut() {
            d.blas_packages.clear();
        }
        let x = reference_blas_check(&bare).expect("finding");
        assert!(
            x.fix
                .as_deref()
                .is_some_and(|c| c.starts_with("sudo apt install libopenblas0-pthread && ")),
            "{:?}",
            x.fix
        );
    }

    #[test]
    fn reference_blas_on_fedora_is_flexiblas_default() {
        let mut f = debian("/x");
        f.prefix.distro = None;
        f.blas.family = Some(ChannelFamily::Fedora);
        f.blas.numpy.family = Some(ChannelFamily::Fedora);
        let x = reference_blas_check(&f).expect("finding");
        assert_eq!(x.fix.as_deref(), Some("flexiblas default OPENBLAS-OPENMP"));
    }
}
