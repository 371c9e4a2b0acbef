//! Renderers for `doctor`: the JSON document (stable schema, see README) and the human report.

use serde::Serialize;

use crate::facts::Facts;
use crate::findings::{Finding, Recommendation};

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub schema_version: u32,
    pub facts: &'a Facts,
    pub findings: &'a [Finding],
    pub recommendation: &'a Recommendation,
}

/// Render the JSON document.
pub fn json(facts: &Facts, findings: &[Finding], rec: &Recommendation) -> serde_json::Value {
    let _ = (facts, findings, rec);
    serde_json::json!({})
}

/// Render the human report.
pub fn human(facts: &Facts, findings: &[Finding], rec: &Recommendation, verbose: bool) -> String {
    let _ = (facts, findings, rec, verbose);
    String::new()
}
