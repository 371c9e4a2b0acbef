//! Rules on thread settings as the environment's variables leave them: a pool larger than the
//! usable CPUs, contradicting or invalid variables, notes on kernel- and layer-selecting ones.

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::in_use::effective;
use crate::diagnose::threads;
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;

/// `threads-oversubscribed`: the BLAS in use would start more threads than usable CPUs.
pub fn threads_oversubscribed(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let (imp, _) = effective(f);
    let over = threads::oversubscribed(&f.threads, imp);
    if let Some((pool, usable)) = over {
        let why = match (f.machine.cpu_quota, imp) {
            (Some(q), BlasImpl::Openblas) => format!(
                "a cgroup CPU quota of {q} CPUs{} limits this process to {usable}, but OpenBLAS ignores quotas and \
                 sizes its pool from all {} CPUs it can see",
                f.machine
                    .cpu_quota_source
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                f.machine.affinity_cpus.unwrap_or(f.machine.logical_cpus)
            ),
            _ => format!("only {usable} CPUs are usable by this process"),
        };
        let var = match imp {
            BlasImpl::Mkl => "MKL_NUM_THREADS",
            BlasImpl::Blis => "BLIS_NUM_THREADS",
            _ => "OPENBLAS_NUM_THREADS",
        };
        out.push(
            Finding::new(
                "threads-oversubscribed",
                Severity::Warning,
                format!("{} would start {pool} threads but only {usable} CPUs are usable", imp.display_name()),
                format!(
                    "{why}. Extra threads time-slice the same cores and spin while waiting, which burns CPU and slows \
                     every BLAS call. With several worker processes it multiplies (N workers x {pool} threads): \
                     `blasfix ps` shows the pools of the running workers."
                ),
            )
            .fix(Some(format!("export {var}={n} OMP_NUM_THREADS={n}", n = threads::suggested_threads(&f.machine))), None),
        );
    }
    out
}

/// `thread-vars-contradict`: variables that disagree, and which one wins.
pub fn thread_vars_contradict(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in threads::contradictions(&f.threads) {
        out.push(Finding::new(
            "thread-vars-contradict",
            Severity::Warning,
            "Thread variables contradict each other",
            c,
        ));
    }
    out
}

/// `thread-vars-invalid`: values the libraries ignore.
pub fn thread_vars_invalid(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    if !f.threads.invalid.is_empty() {
        out.push(Finding::new(
            "thread-vars-invalid",
            Severity::Warning,
            "Thread variables with values the libraries ignore",
            f.threads.invalid.join("; "),
        ));
    }
    out
}

/// `env-<variable>`: what a kernel- or layer-selecting variable does here.
pub fn thread_var_notes(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in threads::notes(&f.threads) {
        out.push(Finding::new(
            &format!("env-{}", n.var.to_ascii_lowercase().replace('_', "-")),
            if n.warning {
                Severity::Warning
            } else {
                Severity::Info
            },
            format!("{}={} is set", n.var, n.value),
            n.message,
        ));
    }
    out
}

/// `pool-oversubscribed`: the pools as they really became are larger than the CPUs this process
/// may use. From the probe: the threads its process ran after NumPy's first BLAS call. Without
/// the probe: an OpenMP-built OpenBLAS (as linked) takes `OMP_NUM_THREADS` as it is, with no cap
/// at the CPUs it can see.
pub fn pool_oversubscribed(f: &Facts) -> Vec<Finding> {
    pool_oversubscribed_check(f).into_iter().collect()
}

fn pool_oversubscribed_check(f: &Facts) -> Option<Finding> {
    let usable = f.machine.usable_cpus.max(1);
    let (n, how) = match f.runtime.as_ref().filter(|r| r.error.is_none()) {
        Some(rt) => {
            let n = rt.threads.as_ref().and_then(|t| t.pool_threads())? as usize;
            (
                n,
                "the probed Python ran {n} threads after NumPy's first BLAS call".to_string(),
            )
        }
        None => {
            let openmp = f.linkage.as_ref().is_some_and(|l| {
                l.chains.iter().any(|c| {
                    c.implementation == BlasImpl::Openblas && c.detail.as_deref() == Some("openmp")
                })
            });
            let omp = f.threads.vars.get("OMP_NUM_THREADS").and_then(|v| {
                crate::facts::threads::parse_count("OMP_NUM_THREADS", v)
                    .ok()
                    .flatten()
            })?;
            if !openmp {
                return None;
            }
            (
                omp,
                "NumPy links an OpenMP build of OpenBLAS, which starts OMP_NUM_THREADS={n} \
                 threads at the first BLAS call without capping them at the CPUs it can see"
                    .to_string(),
            )
        }
    };
    if n <= usable {
        return None;
    }
    let how = how.replace("{n}", &n.to_string());
    let mut x = Finding::new(
        "pool-oversubscribed",
        Severity::Warning,
        format!("The BLAS pools run {n} threads on {usable} usable CPUs"),
        format!(
            "{how}, but this process may use only {usable} CPUs (affinity and cgroup quota). The \
             extra threads time-slice the same cores and spin while they wait; with several \
             worker processes it multiplies (N workers x {n} threads)."
        ),
    );
    let s = crate::diagnose::threads::suggested_threads(&f.machine);
    x.fix = Some(format!(
        "export OMP_NUM_THREADS={s} OPENBLAS_NUM_THREADS={s} MKL_NUM_THREADS={s}"
    ));
    Some(x)
}

#[cfg(test)]
mod tests {
    use crate::diagnose::fixture::{ids, intel_linux};
    use crate::diagnose::rules::evaluate;

    #[test]
    fn openblas_ignores_quota() {
        let mut f = intel_linux();
        f.machine.usable_cpus = 2;
        f.threads.usable_cpus = 2;
        f.machine.cpu_quota = Some(2.0);
        f.machine.cpu_quota_source = Some("/sys/fs/cgroup/cpu.max".into());
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "threads-oversubscribed")
            .unwrap();
        assert!(x.detail.contains("ignores quotas"), "{}", x.detail);
        assert_eq!(
            x.fix.as_deref(),
            Some("export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2")
        );
        f.threads.openblas_default = 2;
        assert!(!ids(&f).contains(&"threads-oversubscribed".to_string()));
    }

    #[test]
    fn thread_variable_findings() {
        let mut f = intel_linux();
        let env = crate::facts::snapshot::EnvSnapshot::from_pairs([
            ("OMP_NUM_THREADS", "1"),
            ("OPENBLAS_NUM_THREADS", "8"),
            ("MKL_NUM_THREADS", "zero"),
            ("MKL_DEBUG_CPU_TYPE", "5"),
        ]);
        f.threads = crate::facts::threads::from_env(&env, &f.machine);
        let i = ids(&f);
        for want in [
            "thread-vars-contradict",
            "thread-vars-invalid",
            "env-mkl-debug-cpu-type",
        ] {
            assert!(i.contains(&want.to_string()), "{want} missing from {i:?}");
        }
    }
}

#[cfg(test)]
mod pool_tests {
    use super::*;
    use crate::facts::probe::{ProcessThreads, RuntimeFacts};

    #[test]
    fn real_pool_sizes_decide_oversubscription() {
        let mut f = Facts::default();
        f.machine.usable_cpus = 2;
        f.runtime = Some(RuntimeFacts {
            threads: Some(ProcessThreads {
                before_numpy: Some(1),
                after_import: Some(1),
                after_gemm: Some(64),
            }),
            ..Default::default()
        });
        let x = pool_oversubscribed_check(&f).expect("64 on 2");
        assert!(x.title.contains("64 threads on 2"), "{}", x.title);
        f.runtime
            .as_mut()
            .unwrap()
            .threads
            .as_mut()
            .unwrap()
            .after_gemm = Some(2);
        assert!(pool_oversubscribed_check(&f).is_none());
        // Without the probe: an OpenMP OpenBLAS as linked, with OMP_NUM_THREADS=64.
        f.runtime = None;
        f.threads.vars.insert("OMP_NUM_THREADS".into(), "64".into());
        assert!(
            pool_oversubscribed_check(&f).is_none(),
            "not known to be OpenMP"
        );
        f.linkage = Some(crate::facts::linkage::LinkageFacts {
            chains: vec![crate::facts::linkage::LinkChain {
                implementation: BlasImpl::Openblas,
                detail: Some("openmp".into()),
                ..Default::default()
            }],
            implementation: BlasImpl::Openblas,
            problems: vec![],
        });
        assert!(pool_oversubscribed_check(&f).is_some());
    }
}
