//! Pure rules: facts in, findings and a recommendation out. No I/O; every rule is testable
//! with facts built in memory.

pub mod findings;
