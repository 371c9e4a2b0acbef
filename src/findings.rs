//! Rules: pure functions from `Facts` to findings (each with its reason and exact fix) and to
//! a recommendation of the backend this machine and platform should use.

use serde::Serialize;

use crate::blas::BlasImpl;
use crate::facts::Facts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// One finding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier (`openblas-on-intel`, `mkl-on-amd`, ...).
    pub id: String,
    pub severity: Severity,
    pub title: String,
    /// Why, with the facts that triggered it.
    pub detail: String,
    /// The command that fixes it (`blasfix apply --backend mkl`), if one does.
    pub fix: Option<String>,
    /// The raw command it stands for on this channel (`conda install -n x "libblas=*=*mkl"`).
    pub fix_raw: Option<String>,
}

/// The backend this machine and platform should use, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Recommendation {
    pub backend: BlasImpl,
    pub reason: String,
}

/// All findings, most severe first (pure).
pub fn evaluate(facts: &Facts) -> Vec<Finding> {
    let _ = facts;
    Vec::new()
}

/// The recommended backend (pure).
pub fn recommend(facts: &Facts) -> Recommendation {
    let _ = facts;
    Recommendation::default()
}
