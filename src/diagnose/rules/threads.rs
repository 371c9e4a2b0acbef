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
                     every BLAS call. With several worker processes it multiplies (N workers x {pool} threads)."
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
