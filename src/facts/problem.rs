//! Something a reader could not read or understand; the diagnosis goes on without it and
//! reports it.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Something that could not be read or understood; the diagnosis goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file or directory concerned, when there is one.
    pub path: Option<PathBuf>,
    pub message: String,
}

impl Problem {
    pub fn at(path: &Path, message: impl Into<String>) -> Self {
        Problem {
            path: Some(path.to_path_buf()),
            message: message.into(),
        }
    }
    pub fn general(message: impl Into<String>) -> Self {
        Problem {
            path: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.message),
            None => f.write_str(&self.message),
        }
    }
}
