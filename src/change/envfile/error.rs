//! Why a file was not edited, with what the user can do about it. The file is never touched
//! when an edit fails.

use crate::facts::blas::{BlasImpl, ChannelFamily};

/// Why a file was not edited. The file is never touched when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the file is not text: {detail}")]
    NotText { detail: String },
    #[error("the file has merge-conflict markers (line {line}); resolve the conflict first")]
    MergeConflict { line: usize },
    #[error("the file is not valid YAML: {message}")]
    InvalidYaml { message: String },
    #[error("the file is not valid TOML: {message}")]
    InvalidToml { message: String },
    #[error("the top level of the file is not a mapping of keys (name, channels, dependencies)")]
    NotAMapping,
    #[error("{what} is written in flow style ({{...}} or [...]); blasfix edits only block style")]
    FlowStyle { what: String },
    #[error("`dependencies` is not a list")]
    DependenciesNotAList,
    #[error("cannot locate {what} in the text safely")]
    Unlocatable { what: String },
    #[error("{} has no {} build", family_name(*family), backend.display_name())]
    UnsupportedBackend {
        backend: BlasImpl,
        family: ChannelFamily,
    },
    #[error(
        "`{spec}` is an exact build from Anaconda's defaults, where NumPy is built once per BLAS: its build string pins the current BLAS"
    )]
    BuildPinnedExport { spec: String },
    #[error("`{spec}` selects a BLAS through a build pattern blasfix does not recognise")]
    UnrecognizedBuild { spec: String },
    #[error(
        "pyproject.toml has no [tool.pixi] table; only pixi-managed projects can be pinned there"
    )]
    NotPixiProject,
    #[error("the edit did not verify ({detail}); nothing was written")]
    VerificationFailed { detail: String },
}

impl EditError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            EditError::BuildPinnedExport { .. } => Some(
                "re-export without build strings (`conda env export --no-builds` or `--from-history`), then run `blasfix pin` again".into(),
            ),
            EditError::UnsupportedBackend { .. } => Some("choose another --backend or --channel-family".into()),
            EditError::FlowStyle { .. } | EditError::Unlocatable { .. } | EditError::UnrecognizedBuild { .. } => {
                Some("add the pin by hand; `blasfix pin` without a FILE prints it".into())
            }
            _ => None,
        }
    }
}

fn family_name(f: ChannelFamily) -> &'static str {
    match f {
        ChannelFamily::CondaForge => "conda-forge",
        ChannelFamily::Defaults => "Anaconda defaults",
        ChannelFamily::Pip => "PyPI",
        ChannelFamily::Other => "this channel family",
    }
}
