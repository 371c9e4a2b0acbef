//! Rules that need the linkage or the runtime probe: layers that disagree, a failed probe,
//! several BLAS or OpenMP runtimes in one process, pools larger than the usable CPUs, MKL on a
//! non-Intel CPU, OpenBLAS on weaker kernels than the CPU allows.

use std::collections::BTreeSet;

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::in_use::effective;
use crate::diagnose::platform::cpu_label;
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;
use crate::facts::cpu::VendorFamily;
use crate::facts::probe::{LoadedLib, RuntimeFacts};

use super::backend;

/// What a real import loaded, when the probe ran and succeeded.
fn loaded(f: &Facts) -> Option<&RuntimeFacts> {
    f.runtime.as_ref().filter(|r| r.error.is_none())
}

/// The BLAS libraries a successful probe saw loaded.
fn loaded_blas(f: &Facts) -> Vec<&LoadedLib> {
    loaded(f)
        .map(|rt| {
            rt.libraries
                .iter()
                .filter(|l| l.user_api == "blas")
                .collect()
        })
        .unwrap_or_default()
}

/// `blas-layers-disagree`: declared, linked and loaded name different implementations.
pub fn blas_layers_disagree(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let declared = f.blas.implementation;
    let linked = f
        .linkage
        .as_ref()
        .map(|l| l.implementation)
        .filter(|i| i.is_concrete());
    let loaded = f
        .runtime
        .as_ref()
        .filter(|r| r.error.is_none())
        .map(|r| r.implementation)
        .filter(|i| i.is_concrete());
    let mut layers = vec![];
    if declared.is_concrete() {
        layers.push(("declared", declared));
    }
    if let Some(l) = linked {
        layers.push(("linked", l));
    }
    if let Some(l) = loaded {
        layers.push(("loaded", l));
    }
    if layers.windows(2).any(|w| w[0].1 != w[1].1) {
        let said: Vec<String> = layers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.display_name()))
            .collect();
        let (winner, layer) = effective(f);
        out.push(Finding::new(
            "blas-layers-disagree",
            Severity::Warning,
            format!("Metadata and binaries disagree; NumPy really runs on {}", winner.display_name()),
            format!(
                "{}. What a process loads wins over what binaries link, which wins over what records declare; \
                 here the {} layer decides. Stale records or leftover libraries are the usual cause.",
                said.join(", "),
                layer.as_str()
            ),
        ));
    }
    out
}

/// `probe-failed`: the runtime probe could not import NumPy. Not when it confirms what the
/// files say (no NumPy): that is `no-numpy`, so the same fact gives the same findings and
/// `--strict` exit code with and without `--no-runtime`.
pub fn probe_failed(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(rt) = &f.runtime else { return out };
    if rt.numpy_missing && f.blas.implementation == BlasImpl::None {
        return out;
    }
    if let Some(err) = &rt.error {
        out.push(Finding::new(
            "probe-failed",
            Severity::Warning,
            "The runtime probe could not import NumPy",
            err.clone(),
        ));
    }
    out
}

/// `two-blas-loaded`: several BLAS libraries, each with its own pool, in one process.
pub fn two_blas_loaded(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let blas_libs = loaded_blas(f);
    // NumPy's and SciPy's wheels each bundling an OpenBLAS is by design (two-openblas-wheels).
    let wheel_pair = blas_libs.len() == 2
        && blas_libs.iter().all(|l| l.internal_api == "openblas")
        && blas_libs
            .iter()
            .any(|l| l.owner.as_deref() == Some("numpy"))
        && blas_libs
            .iter()
            .any(|l| l.owner.as_deref() == Some("scipy"));
    if blas_libs.len() > 1 && !wheel_pair {
        let names: Vec<String> = blas_libs
            .iter()
            .map(|l| format!("{} ({})", l.internal_api, l.filepath))
            .collect();
        out.push(Finding::new(
            "two-blas-loaded",
            Severity::Warning,
            format!("{} BLAS libraries are loaded in one process", blas_libs.len()),
            format!(
                "{}. Each keeps its own thread pool (e.g. numpy and scipy wheels each bundle an OpenBLAS), so the \
                 process can start twice as many threads as cores. Use one source for numpy and scipy (both conda or \
                 both pip) or limit threads with threadpoolctl.",
                names.join("; ")
            ),
        ));
    }
    out
}

/// `two-openmp-loaded`: several OpenMP runtimes in one process.
pub fn two_openmp_loaded(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(rt) = loaded(f) else { return out };
    let omp: Vec<&LoadedLib> = rt
        .libraries
        .iter()
        .filter(|l| l.user_api == "openmp")
        .collect();
    let omp_kinds: BTreeSet<String> = omp
        .iter()
        .filter_map(|l| {
            let base = l
                .filepath
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            ["libiomp", "libgomp", "libomp", "vcomp"]
                .iter()
                .find(|p| base.starts_with(*p))
                .map(|p| p.to_string())
        })
        .collect();
    if omp_kinds.len() > 1 {
        let sev = if omp_kinds.contains("libiomp") && omp_kinds.contains("libomp") {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(
            Finding::new(
                "two-openmp-loaded",
                sev,
                format!("Several OpenMP runtimes are loaded: {}", omp_kinds.iter().cloned().collect::<Vec<_>>().join(", ")),
                "Two OpenMP runtimes in one process oversubscribe the CPU and can crash or deadlock (libiomp5 with \
                 LLVM libomp especially). With MKL, MKL_THREADING_LAYER=GNU makes MKL use libgomp."
                    .to_string(),
            )
            .fix(Some("export MKL_THREADING_LAYER=GNU".into()), None),
        );
    }
    out
}

/// `runtime-threads-oversubscribed`: a loaded BLAS sized its pool above the usable CPUs.
pub fn runtime_threads_oversubscribed(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let usable = f.machine.usable_cpus.max(1) as i64;
    // With the process's real thread count, pool-oversubscribed speaks instead.
    let counted = loaded(f)
        .and_then(|rt| rt.threads.as_ref())
        .is_some_and(|t| t.pool_threads().is_some());
    for l in loaded_blas(f) {
        if let Some(n) = l.num_threads.filter(|n| *n > usable && !counted) {
            out.push(
                Finding::new(
                    "runtime-threads-oversubscribed",
                    Severity::Warning,
                    format!("{} runs {n} threads on {usable} usable CPUs", l.internal_api),
                    format!(
                        "The loaded {} ({}) sized its pool at {n} threads but this process may use only {usable} CPUs \
                         (affinity and cgroup quota). In multiprocessing code (joblib, PyTorch DataLoader workers, \
                         Stable-Baselines3 SubprocVecEnv) every worker starts its own pool: N workers x {n} threads. \
                         Set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS before NumPy is imported, or use \
                         threadpoolctl.threadpool_limits(1) in workers.",
                        l.internal_api, l.filepath
                    ),
                )
                .fix(Some(format!("export OMP_NUM_THREADS={usable} OPENBLAS_NUM_THREADS={usable} MKL_NUM_THREADS={usable}")), None),
            );
        }
    }
    out
}

/// `mkl-on-non-intel` from the probe: MKL is loaded (beside another BLAS, say) on AMD or Hygon,
/// where the rule on the BLAS in use has not already said so.
pub fn mkl_loaded_on_non_intel(f: &Facts) -> Vec<Finding> {
    if !matches!(
        f.machine.vendor_family,
        VendorFamily::Amd | VendorFamily::Hygon
    ) || !backend::mkl_on_non_intel(f).is_empty()
    {
        return Vec::new();
    }
    let mkl = loaded_blas(f).into_iter().find(|l| l.internal_api == "mkl");
    mkl.map(|l| {
        Finding::new(
            "mkl-on-non-intel",
            Severity::Warning,
            "MKL is loaded on a non-Intel CPU",
            format!(
                "{} is loaded on {}; MKL may use generic kernels there.",
                l.filepath,
                cpu_label(f)
            ),
        )
    })
    .into_iter()
    .collect()
}

/// `openblas-weak-core`: the loaded OpenBLAS picked weaker kernels than the CPU supports.
pub fn openblas_weak_core(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for l in loaded_blas(f) {
        if l.internal_api == "openblas"
            && let Some(core) = &l.architecture
            && let Some(better) = weaker_core(core, f)
        {
            out.push(Finding::new(
                        "openblas-weak-core",
                        Severity::Warning,
                        format!("OpenBLAS uses its {core} kernels on a CPU that supports {better}"),
                        format!(
                            "The loaded OpenBLAS ({}) picked the {core} core, but this CPU supports {better}. An old \
                             OpenBLAS that does not know the CPU, a hypervisor hiding CPUID bits, or OPENBLAS_CORETYPE \
                             cause this. Update OpenBLAS (conda: libopenblas; pip: numpy).",
                            l.filepath
                        ),
                    ));
        }
    }
    out
}

/// The OpenBLAS core name is weaker than what the CPU's SIMD allows.
fn weaker_core(core: &str, f: &Facts) -> Option<&'static str> {
    let c = core.to_ascii_lowercase();
    let avx512 = f.machine.has("avx512f");
    let avx2 = f.machine.has("avx2") && f.machine.has("fma");
    let weak_x86 = [
        "prescott",
        "core2",
        "nehalem",
        "penryn",
        "dunnington",
        "atom",
        "katmai",
        "northwood",
        "unknown",
        "barcelona",
        "opteron",
    ];
    if weak_x86.iter().any(|w| c == *w) && (avx2 || avx512) {
        return Some(if avx512 { "AVX-512" } else { "AVX2/FMA" });
    }
    if c == "sandybridge" && avx2 {
        return Some(if avx512 { "AVX-512" } else { "AVX2/FMA" });
    }
    if c == "haswell" && avx512 && f.machine.vendor_family == VendorFamily::Intel {
        return Some("AVX-512");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::finding::Severity;
    use crate::diagnose::fixture::{ids, intel_linux};
    use crate::diagnose::in_use::Layer;
    use crate::diagnose::rules::evaluate;

    #[test]
    fn runtime_layers_disagree_and_two_pools() {
        let mut f = intel_linux();
        f.runtime = Some(RuntimeFacts {
            implementation: BlasImpl::Mkl,
            libraries: vec![
                LoadedLib {
                    user_api: "blas".into(),
                    internal_api: "mkl".into(),
                    filepath: "/e/lib/libmkl_rt.so.2".into(),
                    num_threads: Some(4),
                    ..Default::default()
                },
                LoadedLib {
                    user_api: "blas".into(),
                    internal_api: "openblas".into(),
                    filepath: "/e/lib/scipy.libs/libopenblas.so".into(),
                    num_threads: Some(16),
                    architecture: Some("Prescott".into()),
                    ..Default::default()
                },
                LoadedLib {
                    user_api: "openmp".into(),
                    internal_api: "openmp".into(),
                    filepath: "/e/lib/libiomp5.so".into(),
                    ..Default::default()
                },
                LoadedLib {
                    user_api: "openmp".into(),
                    internal_api: "openmp".into(),
                    filepath: "/e/lib/libomp.so".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let found = evaluate(&f);
        let i: Vec<&str> = found.iter().map(|x| x.id.as_str()).collect();
        for want in [
            "blas-layers-disagree",
            "two-blas-loaded",
            "two-openmp-loaded",
            "runtime-threads-oversubscribed",
            "openblas-weak-core",
        ] {
            assert!(i.contains(&want), "{want} missing from {i:?}");
        }
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(effective(&f), (BlasImpl::Mkl, Layer::Loaded));
    }

    #[test]
    fn probe_error_is_reported_and_declared_wins() {
        let mut f = intel_linux();
        f.runtime = Some(RuntimeFacts {
            error: Some("NumPy import crashed (SIGILL)".into()),
            ..Default::default()
        });
        assert!(ids(&f).contains(&"probe-failed".to_string()));
        assert_eq!(effective(&f), (BlasImpl::Openblas, Layer::Declared));
    }

    #[test]
    fn probe_without_numpy_agrees_with_files_without_numpy() {
        let missing = || {
            Some(RuntimeFacts {
                numpy_missing: true,
                error: Some(
                    "NumPy is not installed for /e/bin/python (ModuleNotFoundError)".into(),
                ),
                ..Default::default()
            })
        };
        let mut f = intel_linux();
        f.blas.implementation = BlasImpl::None;
        let static_only = ids(&f);
        assert!(
            static_only.contains(&"no-numpy".to_string()),
            "{static_only:?}"
        );
        f.runtime = missing();
        assert_eq!(ids(&f), static_only, "same fact, same findings");
        // The records declare NumPy but the interpreter has none: that is worth a warning.
        let mut g = intel_linux();
        g.runtime = missing();
        assert!(ids(&g).contains(&"probe-failed".to_string()));
    }
}
