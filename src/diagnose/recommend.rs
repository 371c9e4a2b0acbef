//! The backend this machine and platform should use, and why: an ordered list of rules, the
//! first that applies decides.

use serde::Serialize;

use crate::facts::Facts;
use crate::facts::blas::{self, BlasImpl, ChannelFamily};
use crate::facts::cpu::VendorFamily;

use super::platform::{env_family, env_subdir, is_x86};

/// The backend this machine and platform should use, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Recommendation {
    pub backend: BlasImpl,
    pub reason: String,
}

/// The rules in the order they are asked; each answers only for the machines it knows.
const RULES: &[fn(&Facts) -> Option<Recommendation>] =
    &[rosetta, apple_silicon, intel_mac, not_x86, x86_by_vendor];

/// The recommended backend (pure).
pub fn recommend(f: &Facts) -> Recommendation {
    RULES.iter().find_map(|rule| rule(f)).unwrap_or_default()
}

fn rec(backend: BlasImpl, reason: impl Into<String>) -> Option<Recommendation> {
    Some(Recommendation {
        backend,
        reason: reason.into(),
    })
}

/// An x86_64 environment under Rosetta: a native environment with Accelerate.
fn rosetta(f: &Facts) -> Option<Recommendation> {
    let m = &f.machine;
    if !(m.rosetta || (m.subdir == "osx-arm64" && env_subdir(f) == "osx-64")) {
        return None;
    }
    rec(
        BlasImpl::Accelerate,
        "Apple silicon: use a native osx-arm64 environment; Accelerate (conda-forge `libblas=*=*accelerate`, or \
         PyPI NumPy 2 wheels on macOS 14+) runs on the AMX/SME units.",
    )
}

/// Apple silicon: Accelerate, unless the channel publishes only OpenBLAS.
fn apple_silicon(f: &Facts) -> Option<Recommendation> {
    if env_subdir(f) != "osx-arm64" {
        return None;
    }
    if env_family(f) == ChannelFamily::Defaults {
        return rec(
            BlasImpl::Openblas,
            "Apple silicon on Anaconda's defaults channel: OpenBLAS is the only BLAS it publishes for osx-arm64.",
        );
    }
    rec(
        BlasImpl::Accelerate,
        "Apple silicon: Accelerate uses the AMX/SME matrix units and is usually several times faster than OpenBLAS \
         for DGEMM-heavy work.",
    )
}

/// Intel Macs: MKL is no longer published there.
fn intel_mac(f: &Facts) -> Option<Recommendation> {
    if !env_subdir(f).starts_with("osx-") {
        return None;
    }
    rec(
        BlasImpl::Openblas,
        "Intel Mac: MKL is no longer published for osx-64 (conda-forge and defaults dropped it in 2024); OpenBLAS is the maintained choice.",
    )
}

/// Not x86: OpenBLAS has tuned kernels, MKL does not exist.
fn not_x86(f: &Facts) -> Option<Recommendation> {
    if is_x86(f) {
        return None;
    }
    rec(
        BlasImpl::Openblas,
        format!(
            "{} on {}: OpenBLAS has tuned kernels for this architecture; MKL does not exist here.",
            f.machine.vendor,
            env_subdir(f)
        ),
    )
}

/// x86: MKL on Intel where it is published, OpenBLAS elsewhere.
fn x86_by_vendor(f: &Facts) -> Option<Recommendation> {
    let subdir = env_subdir(f);
    let family = env_family(f);
    let m = &f.machine;
    match m.vendor_family {
        VendorFamily::Intel => {
            if family == ChannelFamily::Pip {
                rec(
                    BlasImpl::Openblas,
                    format!(
                        "Intel CPU ({}), but PyPI NumPy always uses its bundled OpenBLAS; a conda environment could use MKL.",
                        m.microarch.as_deref().unwrap_or("x86_64")
                    ),
                )
            } else if blas::available(family, &subdir).contains(&BlasImpl::Mkl)
                || family == ChannelFamily::Other
            {
                rec(
                    BlasImpl::Mkl,
                    format!(
                        "Intel CPU ({}) on {subdir}: MKL is Intel's own BLAS/LAPACK, tuned for this CPU, and is published for this platform.",
                        m.microarch.as_deref().unwrap_or("x86_64")
                    ),
                )
            } else {
                rec(
                    BlasImpl::Openblas,
                    format!("Intel CPU, but MKL is not published for {subdir} on this channel."),
                )
            }
        }
        VendorFamily::Amd | VendorFamily::Hygon => rec(
            BlasImpl::Openblas,
            format!(
                "{} CPU ({}): MKL checks for Intel CPUs and may use slower code paths here; OpenBLAS has Zen kernels.",
                if m.vendor_family == VendorFamily::Hygon {
                    "Hygon"
                } else {
                    "AMD"
                },
                m.microarch.as_deref().unwrap_or("x86_64")
            ),
        ),
        _ => rec(
            BlasImpl::Openblas,
            format!(
                "{} CPU: OpenBLAS detects this CPU at run time; MKL targets Intel CPUs.",
                m.vendor.trim()
            ),
        ),
    }
}
