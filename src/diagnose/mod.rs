//! Pure rules: facts in, findings out.

pub mod workload;
