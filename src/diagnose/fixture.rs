//! Facts for rule tests: an Intel Linux machine with a conda-forge OpenBLAS environment, which
//! each test bends to the case it checks.

use crate::diagnose::rules::evaluate;
use crate::facts::Facts;
use crate::facts::blas::{BlasImpl, ChannelFamily};
use crate::facts::cpu::{CpuFacts, VendorFamily};
use crate::facts::declared::{DeclaredBlas, NumpyFacts, NumpySource};
use crate::facts::envs::{EnvKind, Located};

pub fn intel_linux() -> Facts {
    Facts {
        machine: CpuFacts {
            arch: "x86_64".into(),
            vendor: "GenuineIntel".into(),
            vendor_family: VendorFamily::Intel,
            brand: Some("Intel(R) Xeon(R) Gold 6338".into()),
            microarch: Some("icelake".into()),
            simd: vec!["avx2".into(), "fma".into(), "avx512f".into()],
            logical_cpus: 8,
            physical_cores: Some(4),
            usable_cpus: 8,
            affinity_cpus: Some(8),
            subdir: "linux-64".into(),
            process_subdir: "linux-64".into(),
            ..Default::default()
        },
        environment: Located {
            prefix: "/home/u/miniforge3/envs/ml".into(),
            kind: EnvKind::Conda,
            name: Some("ml".into()),
            how: "CONDA_PREFIX".into(),
            ..Default::default()
        },
        prefix: crate::facts::prefix::PrefixFacts {
            subdir: Some("linux-64".into()),
            has_conda_meta: true,
            ..Default::default()
        },
        blas: DeclaredBlas {
            implementation: BlasImpl::Openblas,
            family: Some(ChannelFamily::CondaForge),
            numpy: NumpyFacts {
                version: Some("1.26.4".into()),
                source: Some(NumpySource::Conda),
                channel: Some("https://conda.anaconda.org/conda-forge/linux-64".into()),
                family: Some(ChannelFamily::CondaForge),
                ..Default::default()
            },
            ..Default::default()
        },
        threads: crate::facts::threads::ThreadFacts {
            openblas_default: 8,
            mkl_default: 4,
            blis_default: 1,
            usable_cpus: 8,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The ids of every finding, in order.
pub fn ids(f: &Facts) -> Vec<String> {
    evaluate(f).into_iter().map(|x| x.id).collect()
}
