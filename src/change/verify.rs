//! What proves a switch: the BLAS an environment runs as the records declare it, its binaries
//! link it and a fresh `import numpy` loads it, and whether all of them name the target.

use serde::Serialize;

use crate::facts::Facts;
use crate::facts::blas::BlasImpl;

use super::plan;

/// The BLAS an environment runs, as far as blasfix can see after a change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Observed {
    /// What conda-meta declares.
    pub declared: BlasImpl,
    /// What NumPy's extension modules link (None: not looked at).
    pub linked: Option<BlasImpl>,
    /// What `import numpy` loads (None: not run).
    pub loaded: Option<BlasImpl>,
}

impl Observed {
    pub fn from_facts(facts: &Facts) -> Self {
        Observed {
            declared: plan::current_backend(facts),
            linked: facts.linkage.as_ref().map(|l| l.implementation),
            loaded: facts
                .runtime
                .as_ref()
                .filter(|r| r.error.is_none())
                .map(|r| r.implementation),
        }
    }
    /// Every concrete observation names `target`, and the declaration does.
    pub fn runs(&self, target: BlasImpl) -> bool {
        let fits = |b: Option<BlasImpl>| b.is_none_or(|b| !b.is_concrete() || b == target);
        self.declared == target && fits(self.linked) && fits(self.loaded)
    }
    /// "OpenBLAS (declared), Intel MKL (loaded)".
    pub fn describe(&self) -> String {
        let mut s = format!("{} (declared)", self.declared.display_name());
        if let Some(l) = self.linked.filter(|l| l.is_concrete()) {
            s.push_str(&format!(", {} (linked)", l.display_name()));
        }
        if let Some(l) = self.loaded.filter(|l| l.is_concrete()) {
            s.push_str(&format!(", {} (loaded)", l.display_name()));
        }
        s
    }
}
