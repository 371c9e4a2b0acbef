//! A finding: one thing the rules noticed, with its severity, the reason and the exact fix.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
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

impl Finding {
    pub(crate) fn new(
        id: &str,
        severity: Severity,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Finding {
            id: id.into(),
            severity,
            title: title.into(),
            detail: detail.into(),
            fix: None,
            fix_raw: None,
        }
    }
    pub(crate) fn fix(mut self, fix: Option<String>, raw: Option<String>) -> Self {
        self.fix = fix;
        self.fix_raw = raw;
        self
    }
}
