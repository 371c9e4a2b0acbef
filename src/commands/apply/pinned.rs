//! `conda-meta/pinned` during a switch: read once, its conflicting BLAS line taken out with a
//! backup beside it, the original bytes written back on any failure (or drop), the new pin
//! written after success.

use std::path::{Path, PathBuf};

use crate::error::UserError;

/// Where the pinned backup lives while a switch runs (removed after success or restore).
pub const PINNED_BACKUP: &str = "pinned.blasfix-backup";

/// The bytes of `path`, None when it does not exist.
pub fn read_optional(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::usage(format!("cannot read {}: {e}", path.display())).into()),
    }
}

/// Keeps `conda-meta/pinned` restorable: a backup beside it while the switch runs, the original
/// bytes written back on `restore` or drop, the final content on `commit`.
pub struct PinnedGuard {
    path: PathBuf,
    original: Option<Vec<u8>>,
    backup: Option<PathBuf>,
    changed: bool,
}

impl PinnedGuard {
    pub fn begin(
        path: &Path,
        original: Option<Vec<u8>>,
        during: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut g = PinnedGuard {
            path: path.to_path_buf(),
            original,
            backup: None,
            changed: false,
        };
        if let Some(text) = during {
            if let Some(bytes) = &g.original {
                let backup = path.with_file_name(PINNED_BACKUP);
                std::fs::write(&backup, bytes).map_err(|e| {
                    UserError::usage(format!(
                        "cannot back up {} to {}: {e}",
                        path.display(),
                        backup.display()
                    ))
                })?;
                g.backup = Some(backup);
            }
            g.changed = true;
            std::fs::write(path, text)
                .map_err(|e| UserError::usage(format!("cannot rewrite {}: {e}", path.display())))?;
        }
        Ok(g)
    }

    /// Put the original back and say so, for an error message.
    pub fn restore_note(&mut self) -> String {
        let restored = self.restore();
        restored_note(&restored, &self.path)
    }

    /// Put the original back (Ok(true) when something was restored).
    fn restore(&mut self) -> std::io::Result<bool> {
        if !self.changed {
            return Ok(false);
        }
        match &self.original {
            Some(bytes) => std::fs::write(&self.path, bytes)?,
            None => match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        self.changed = false;
        if let Some(b) = self.backup.take() {
            let _ = std::fs::remove_file(b);
        }
        Ok(true)
    }

    /// Write the final content (Ok(true) when it was written).
    pub fn commit(mut self, after: Option<&str>) -> anyhow::Result<bool> {
        let written = match after {
            Some(text) => {
                std::fs::write(&self.path, text).map_err(|e| {
                    UserError::failed(format!(
                        "switched, but cannot write {}: {e}",
                        self.path.display()
                    ))
                })?;
                true
            }
            None => false,
        };
        self.changed = false;
        if let Some(b) = self.backup.take() {
            let _ = std::fs::remove_file(b);
        }
        Ok(written)
    }
}

impl Drop for PinnedGuard {
    fn drop(&mut self) {
        let _ = self.restore();
    }
}

fn restored_note(r: &std::io::Result<bool>, pinned: &Path) -> String {
    match r {
        Ok(true) => format!(
            "\nconda-meta/pinned restored as it was ({})",
            pinned.display()
        ),
        Ok(false) => String::new(),
        Err(e) => format!(
            "\nwarning: could not restore {}: {e}; the original is in {}",
            pinned.display(),
            pinned.with_file_name(PINNED_BACKUP).display()
        ),
    }
}
