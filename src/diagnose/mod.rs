//! Pure rules: facts in, findings and a recommendation out. No I/O; every rule is testable
//! with facts built in memory.

pub mod bench;
pub mod finding;
pub mod fix;
pub mod in_use;
pub mod platform;
pub mod recommend;
pub mod rules;
pub mod threads;

#[cfg(test)]
mod fixture;
