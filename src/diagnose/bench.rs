//! Judging a benchmark run: the peak the CPU could deliver with the threads that ran, each
//! GEMM's share of it, and whether a busy machine makes the numbers unreliable.

use serde::Serialize;

use crate::facts::bench::{CaseResult, Measured};
use crate::facts::cpu::CpuFacts;
use crate::facts::probe::{self, LoadedLib, RuntimeFacts};

/// The theoretical peak the percentages are relative to.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Peak {
    pub fp64_gflops: Option<f64>,
    pub fp32_gflops: Option<f64>,
    /// How it was computed, or why it is unknown.
    pub basis: String,
}

/// Everything `blasfix bench` prints.
#[derive(Debug, Clone, Serialize, Default)]
pub struct BenchReport {
    pub runtime: RuntimeFacts,
    /// Threads of the BLAS that ran the cases (None when the BLAS does not say, e.g. Accelerate).
    pub threads: Option<i64>,
    pub peak: Peak,
    pub quick: bool,
    pub elapsed_s: f64,
    /// The machine was already busy when the benchmark started: numbers will not reproduce.
    pub busy: Option<String>,
    pub cases: Vec<CaseResult>,
}

/// The report: the BLAS threads that ran the cases, the CPU's peak for them and each GEMM's
/// share of it, and whether the machine was busy (pure).
pub fn report(measured: Measured, cpu: &CpuFacts) -> BenchReport {
    let Measured { runtime, data } = measured;
    let threads = blas_threads(&runtime);
    let cores = threads
        .and_then(|t| usize::try_from(t).ok())
        .unwrap_or(cpu.usable_cpus.max(1));
    let fp64 = peak_gflops(cpu, cores, false);
    let fp32 = peak_gflops(cpu, cores, true);
    let basis = match (fp64, cpu.fp64_flops_per_cycle, cpu.base_mhz) {
        (Some(_), Some(f), Some(mhz)) => format!(
            "{} cores x {:.2} GHz x {f} FP64 FLOP/cycle (FP32: twice that); nominal clock, AVX clocks run lower",
            effective_cores(cpu, cores),
            f64::from(mhz) / 1000.0
        ),
        _ => "unknown: the CPU's clock or FLOPs per cycle is not known".to_string(),
    };
    let cases = data
        .cases
        .into_iter()
        .map(|mut c| {
            let peak = if c.dtype == "float32" { fp32 } else { fp64 };
            c.percent_of_peak = match (c.kind.as_str(), c.gflops, peak) {
                ("gemm", Some(g), Some(p)) if p > 0.0 => Some(100.0 * g.median / p),
                _ => None,
            };
            c
        })
        .collect();
    let busy = busy_note(data.load_before, cpu.usable_cpus);
    BenchReport {
        busy,
        runtime,
        threads,
        peak: Peak {
            fp64_gflops: fp64,
            fp32_gflops: fp32,
            basis,
        },
        quick: data.quick,
        elapsed_s: data.elapsed_s,
        cases,
    }
}

/// A warning when other work already loaded the CPUs the benchmark needs (the one-minute load
/// average before the first case includes only the probe's own brief start-up).
pub fn busy_note(load_before: Option<f64>, usable_cpus: usize) -> Option<String> {
    let load = load_before?;
    let cpus = usable_cpus.max(1) as f64;
    (load >= 0.5 * cpus).then(|| {
        format!(
            "the machine was busy before the benchmark started (load average {load:.1} on {} CPUs): \
             other work competes with the BLAS threads, so these numbers are low and will not reproduce",
            usable_cpus.max(1)
        )
    })
}

/// The BLAS library NumPy uses (its own copy first), for the thread count and the header line.
pub fn numpy_blas(rt: &RuntimeFacts) -> Option<&LoadedLib> {
    let is_impl = |l: &&LoadedLib| probe::impl_of(l) == Some(rt.implementation);
    rt.blas_libraries()
        .filter(is_impl)
        .find(|l| l.owner.as_deref() == Some("numpy"))
        .or_else(|| rt.blas_libraries().find(is_impl))
        .or_else(|| rt.blas_libraries().next())
}

fn blas_threads(rt: &RuntimeFacts) -> Option<i64> {
    numpy_blas(rt)
        .and_then(|l| l.num_threads)
        .filter(|n| *n > 0)
}

fn effective_cores(cpu: &CpuFacts, threads: usize) -> usize {
    let cores = cpu
        .physical_cores
        .unwrap_or(cpu.usable_cpus)
        .min(cpu.usable_cpus.max(1));
    threads.clamp(1, cores.max(1))
}

/// Peak GFLOP/s for `threads` threads (at least one); `single` = FP32.
pub fn peak_gflops(cpu: &CpuFacts, threads: usize, single: bool) -> Option<f64> {
    crate::facts::cpu::peak_gflops(cpu, threads.max(1), single)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;

    pub(crate) fn sample() -> serde_json::Value {
        serde_json::json!({
            "python": {"version": "3.11.7", "executable": "/v/bin/python"},
            "numpy": {"version": "2.4.6", "file": "/v/lib/python3.11/site-packages/numpy/__init__.py"},
            "loaded": {"method": "dl_iterate_phdr", "source": "blasfix (dl_iterate_phdr)", "libraries": [
                {"user_api": "blas", "internal_api": "openblas", "version": "0.3.31",
                 "filepath": "/v/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so",
                 "num_threads": 2, "threading_layer": "pthreads", "architecture": "Haswell"}]},
            "config": {"format": "meson", "blas": {"name": "scipy-openblas"}},
            "bench": {"quick": true, "elapsed_s": 4.2, "cases": [
                {"name": "dgemm", "kind": "gemm", "dtype": "float64", "n": 1024, "flops": 2.0e9, "repeats": 7,
                 "inner": 1, "seconds": {"median": 0.02, "min": 0.019, "max": 0.021, "q1": 0.0195, "q3": 0.0205},
                 "gflops": {"median": 100.0, "min": 95.0, "max": 105.0, "q1": 98.0, "q3": 102.0}},
                {"name": "sgemm", "kind": "gemm", "dtype": "float32", "n": 1024, "flops": 2.0e9, "repeats": 7,
                 "gflops": {"median": 200.0, "min": 190.0, "max": 210.0, "q1": 198.0, "q3": 202.0}},
                {"name": "svd", "kind": "svd", "dtype": "float64", "n": 512, "repeats": 7,
                 "gflops": {"median": 10.0, "min": 9.0, "max": 11.0, "q1": 9.5, "q3": 10.5}},
                {"name": "dgemm", "kind": "gemm", "dtype": "float64", "n": 4096, "repeats": 7,
                 "skipped": "one call would take about 30 s"}
            ]}
        })
    }

    pub(crate) fn cpu() -> CpuFacts {
        CpuFacts {
            usable_cpus: 4,
            physical_cores: Some(4),
            base_mhz: Some(2500),
            fp64_flops_per_cycle: Some(16),
            ..Default::default()
        }
    }

    /// The report for a bench.py answer, as `blasfix bench` builds it.
    pub(crate) fn build_report(
        python: &Path,
        value: &serde_json::Value,
        cpu: &CpuFacts,
    ) -> Result<BenchReport, probe::ProbeError> {
        Ok(report(crate::facts::bench::read(python, value)?, cpu))
    }

    #[test]
    fn report_uses_numpy_blas_threads_for_peak() {
        let r = build_report(Path::new("/v/bin/python"), &sample(), &cpu()).expect("report");
        assert_eq!(r.threads, Some(2));
        assert_eq!(r.peak.fp64_gflops, Some(80.0)); // 2 cores x 2.5 GHz x 16
        assert_eq!(r.peak.fp32_gflops, Some(160.0));
        assert_eq!(r.cases[0].percent_of_peak, Some(125.0));
        assert_eq!(r.cases[1].percent_of_peak, Some(125.0));
        assert_eq!(
            r.cases[2].percent_of_peak, None,
            "only GEMM has a meaningful peak share"
        );
        assert_eq!(
            r.runtime.implementation,
            crate::facts::blas::BlasImpl::Openblas
        );
    }

    #[test]
    fn peak_is_unknown_without_clock_or_flops() {
        let r = build_report(
            Path::new("/v/bin/python"),
            &sample(),
            &CpuFacts {
                usable_cpus: 2,
                ..Default::default()
            },
        )
        .expect("report");
        assert_eq!(r.peak.fp64_gflops, None);
        assert!(r.peak.basis.starts_with("unknown"));
        assert!(r.cases.iter().all(|c| c.percent_of_peak.is_none()));
    }

    #[test]
    fn peak_counts_physical_cores_only() {
        let c = CpuFacts {
            usable_cpus: 8,
            physical_cores: Some(4),
            base_mhz: Some(3000),
            fp64_flops_per_cycle: Some(16),
            ..Default::default()
        };
        assert_eq!(peak_gflops(&c, 8, false), Some(192.0));
        assert_eq!(peak_gflops(&c, 1, true), Some(96.0));
        assert_eq!(peak_gflops(&c, 0, false), Some(48.0));
    }

    #[test]
    fn busy_machine_is_noted() {
        assert!(busy_note(Some(0.3), 2).is_none());
        assert!(busy_note(None, 2).is_none());
        let n = busy_note(Some(12.25), 2).expect("busy");
        assert!(
            n.contains("load average 12.2 on 2 CPUs") || n.contains("load average 12.3 on 2 CPUs"),
            "{n}"
        );
    }
}
