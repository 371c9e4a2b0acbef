//! Exit codes and the edge where errors become messages for a person.

/// Ran to the end (findings or not).
pub const EXIT_OK: u8 = 0;
/// `--strict` and at least one warning or error finding.
pub const EXIT_FINDINGS: u8 = 1;
/// Bad usage or unreadable input (the message names the path).
pub const EXIT_USAGE: u8 = 2;
/// A frontend (conda/mamba/micromamba) failed, or a switch did not take effect.
pub const EXIT_FAILED: u8 = 3;

/// An error the user caused or can fix; carries its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
    pub code: u8,
}

impl UserError {
    pub fn usage(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: None,
            code: EXIT_USAGE,
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        UserError {
            message: message.into(),
            hint: None,
            code: EXIT_FAILED,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The exit code for an error that reached `main`.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| c.downcast_ref::<UserError>())
        .map(|u| u.code)
        .unwrap_or(EXIT_USAGE)
}

/// Print `error: …`, its causes and a hint, on stderr.
pub fn report(e: &anyhow::Error) {
    let s = crate::render::style::Styles::stderr();
    eprintln!("{} {}", s.error("error:"), e);
    for cause in e.chain().skip(1) {
        eprintln!("  {} {}", s.dim("caused by:"), cause);
    }
    if let Some(hint) = e
        .chain()
        .find_map(|c| c.downcast_ref::<UserError>())
        .and_then(|u| u.hint.as_ref())
    {
        eprintln!("{} {}", s.hint("hint:"), hint);
    }
}
