//! The findings rules, one function per finding id (or a tight group), listed in [`RULES`].
//! Adding a rule is adding a function and one entry; `evaluate` runs them all in table order
//! and sorts the findings by severity (stable, so the table order breaks ties).

pub mod backend;
pub mod channels;
pub mod environment;
pub mod runtime;
pub mod threads;

use crate::facts::Facts;

use super::finding::Finding;

/// One rule: the finding ids it may emit (`env-*` stands for a family) and the check.
pub struct Rule {
    pub ids: &'static [&'static str],
    pub check: fn(&Facts) -> Vec<Finding>,
}

/// Every rule, in the order their findings are listed within one severity.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    rule(&["no-numpy"], environment::no_numpy),
    rule(&["blas-ambiguous"], environment::blas_ambiguous),
    rule(&["openblas-on-intel", "openblas-on-intel-pip"], backend::openblas_on_intel),
    rule(&["mkl-on-non-intel"], backend::mkl_on_non_intel),
    rule(&["mkl-unavailable"], backend::mkl_unavailable),
    rule(&["pip-numpy-mixed", "pip-numpy-in-conda-env"], environment::pip_numpy),
    rule(&["mixed-blas-stacks"], environment::mixed_blas_stacks),
    rule(&["mirror-conda-forge"], channels::mirror_conda_forge),
    rule(&["rosetta"], backend::rosetta),
    rule(&["threads-oversubscribed"], threads::threads_oversubscribed),
    rule(&["thread-vars-contradict"], threads::thread_vars_contradict),
    rule(&["thread-vars-invalid"], threads::thread_vars_invalid),
    rule(&["env-*"], threads::thread_var_notes),
    rule(&["blas-layers-disagree"], runtime::blas_layers_disagree),
    rule(&["probe-failed"], runtime::probe_failed),
    rule(&["two-blas-loaded"], runtime::two_blas_loaded),
    rule(&["two-openmp-loaded"], runtime::two_openmp_loaded),
    rule(&["runtime-threads-oversubscribed"], runtime::runtime_threads_oversubscribed),
    rule(&["mkl-on-non-intel"], runtime::mkl_loaded_on_non_intel),
    rule(&["openblas-weak-core"], runtime::openblas_weak_core),
    rule(&["unreadable-input"], environment::unreadable_input),
];

const fn rule(ids: &'static [&'static str], check: fn(&Facts) -> Vec<Finding>) -> Rule {
    Rule { ids, check }
}

/// All findings, most severe first (pure).
pub fn evaluate(f: &Facts) -> Vec<Finding> {
    let mut out: Vec<Finding> = RULES.iter().flat_map(|rule| (rule.check)(f)).collect();
    out.sort_by_key(|x| x.severity);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixture::intel_linux;

    #[test]
    fn findings_are_sorted_by_severity() {
        let mut f = intel_linux();
        f.blas.pinned = vec!["libblas=*=*mkl".into()];
        f.prefix.subdir = Some("osx-arm64".into());
        f.blas.mixed_stacks = vec!["x".into()];
        let found = evaluate(&f);
        assert!(found.windows(2).all(|w| w[0].severity <= w[1].severity));
    }

    /// Every finding a rule emits carries one of the ids its table entry lists.
    #[test]
    fn rules_emit_only_their_listed_ids() {
        let mut f = intel_linux();
        f.blas.mixed_stacks = vec!["x".into()];
        f.blas.pinned = vec!["libblas=*=*mkl".into()];
        f.prefix.subdir = Some("osx-arm64".into());
        f.threads.invalid = vec!["MKL_NUM_THREADS=zero".into()];
        for rule in RULES {
            for found in (rule.check)(&f) {
                let listed = rule.ids.iter().any(|id| match id.strip_suffix('*') {
                    Some(stem) => found.id.starts_with(stem),
                    None => found.id == *id,
                });
                assert!(listed, "{} is not in {:?}", found.id, rule.ids);
            }
        }
    }
}
