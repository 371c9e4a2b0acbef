//! What `apply` prints: the plan and its commands, the outcome document of `--json`, and the
//! message for a frontend run that did not succeed.

use std::path::Path;

use serde::Serialize;

use crate::change::frontend::{self, Ending, Frontend, JsonAnswer, Preview, RunOutput};
use crate::change::plan::{Decision, Plan};
use crate::change::verify::Observed;
use crate::facts::blas::BlasImpl;
use crate::render::style::Styles;

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct JsonDoc<'a> {
    pub schema_version: u32,
    pub prefix: &'a Path,
    pub target: Option<BlasImpl>,
    pub frontend: Option<&'a Frontend>,
    pub decision: Option<&'a Decision>,
    pub commands: Vec<String>,
    pub preview: Option<&'a Preview>,
    pub outcome: Outcome,
}

/// How the run ended.
#[derive(Debug, Serialize, Default)]
pub struct Outcome {
    /// already, dry-run, applied, declined, failed, timed-out, interrupted, not-verified
    pub status: String,
    pub message: String,
    pub before: Option<Observed>,
    pub after: Option<Observed>,
    pub pinned_written: Option<String>,
    pub bench: Option<String>,
}

/// The plan as the user sees it before anything runs: what changes and the exact commands.
pub fn plan_lines(plan: &Plan, commands: &[String]) -> Vec<String> {
    let s = Styles::stdout();
    let mut lines = vec![format!(
        "{} {} ({}, {}): {} -> {}",
        s.bold("Plan for"),
        plan.prefix.display(),
        plan.family.as_str(),
        plan.subdir,
        plan.current.display_name(),
        plan.target.display_name()
    )];
    lines.extend(plan.summary.iter().map(|l| format!("  - {l}")));
    lines.push(s.bold("Commands:"));
    lines.extend(commands.iter().map(|c| format!("  {}", s.code(c))));
    lines
}

/// The frontend's preview, indented under its heading.
pub fn preview_lines(preview: &Preview, pinned_ignored: bool) -> Vec<String> {
    let s = Styles::stdout();
    let mut lines = vec![format!(
        "{}{}",
        s.bold("Preview"),
        if pinned_ignored {
            " (conda-meta/pinned ignored: its BLAS line is taken out first):"
        } else {
            ":"
        }
    )];
    lines.extend(preview.lines().into_iter().map(|l| format!("  {l}")));
    lines
}

/// Status and message for a run that did not succeed.
pub fn describe_failure(exe: &Path, out: &RunOutput, timeout_secs: u64) -> (String, String) {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match out.ending {
        Ending::TimedOut => (
            "timed-out".into(),
            format!(
                "{name} timed out after {timeout_secs} s and was stopped (raise --timeout if it is just slow)"
            ),
        ),
        Ending::Interrupted => (
            "interrupted".into(),
            format!("interrupted; {name} was stopped"),
        ),
        Ending::Exited => {
            let status = match out.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            };
            let tail = out.tail(12);
            let detail = frontend::parse_preview(&out.stdout)
                .ok()
                .and_then(|a| match a {
                    JsonAnswer::Error { message, .. } => Some(message),
                    _ => None,
                })
                .unwrap_or(tail);
            (
                "failed".into(),
                format!("{name} failed ({status}):\n{}", indent(detail.trim_end())),
            )
        }
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
