//! Files a switch changes before the frontend runs (`conda-meta/pinned`, a `.condarc` with
//! `--edit-condarc`), kept restorable. The original bytes go first into a journal beside the
//! file, `<name>.blasfix-backup`, created new (an existing one is never written over) and
//! synced; only then is the file itself replaced (atomically, through a symlink if it is one).
//! The switch ends by [`Journaled::commit`] (final content, journal removed) or
//! [`Journaled::restore`] (original bytes back, journal removed); a `Drop` restores as a last
//! resort. When blasfix dies without either (SIGKILL, power loss), the journal stays: `doctor`
//! reports it and the next `apply` offers to put it back.

use std::path::{Path, PathBuf};

use crate::commands::atomic;
use crate::error::UserError;

/// The journal's name beside `pinned` (kept for the record: `pinned.blasfix-backup`).
pub const PINNED_BACKUP: &str = "pinned.blasfix-backup";

/// The journal of `file`: `<file>.blasfix-backup` beside it.
pub fn journal_of(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".blasfix-backup");
    file.with_file_name(name)
}

/// The bytes of `path`, None when it does not exist.
pub fn read_optional(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(UserError::usage(format!("cannot read {}: {e}", path.display())).into()),
    }
}

/// One file changed for the duration of a switch.
pub struct Journaled {
    path: PathBuf,
    original: Option<Vec<u8>>,
    journal: Option<PathBuf>,
    changed: bool,
}

impl Journaled {
    /// Start: when `during` is given, journal the original and write `during`. Refuses when a
    /// journal from an earlier run is there (it is the only copy of something).
    pub fn begin(
        path: &Path,
        original: Option<Vec<u8>>,
        during: Option<&[u8]>,
    ) -> anyhow::Result<Self> {
        let mut j = Journaled {
            path: path.to_path_buf(),
            original,
            journal: None,
            changed: false,
        };
        let Some(during) = during else {
            return Ok(j);
        };
        if let Some(bytes) = &j.original {
            let journal = journal_of(path);
            atomic::create_synced(&journal, bytes).map_err(|e| {
                let what = if e.kind() == std::io::ErrorKind::AlreadyExists {
                    format!(
                        "{} already exists (left by an interrupted switch); it is not written over",
                        journal.display()
                    )
                } else {
                    format!(
                        "cannot keep the original of {} in {}: {e}",
                        path.display(),
                        journal.display()
                    )
                };
                UserError::usage(what).with_hint(
                    "nothing was changed; `blasfix doctor` tells what the leftover holds",
                )
            })?;
            j.journal = Some(journal);
        }
        j.changed = true;
        if let Err(e) = write(path, during, j.original.is_some()) {
            let note = j.restore_note();
            return Err(
                UserError::usage(format!("cannot rewrite {}: {e}{note}", path.display())).into(),
            );
        }
        Ok(j)
    }

    /// Put the original back and say so, for a message ("" when nothing had changed).
    pub fn restore_note(&mut self) -> String {
        let restored = self.restore();
        match restored {
            Ok(true) => format!("\n{} restored as it was", self.path.display()),
            Ok(false) => String::new(),
            Err(e) => format!(
                "\nwarning: could not restore {}: {e}; the original is in {}",
                self.path.display(),
                journal_of(&self.path).display()
            ),
        }
    }

    /// Put the original back, then remove the journal (Ok(true) when something was restored).
    pub fn restore(&mut self) -> std::io::Result<bool> {
        if !self.changed {
            return Ok(false);
        }
        match &self.original {
            Some(bytes) => write(&self.path, bytes, true)?,
            None => atomic::remove_synced(&self.path)?,
        }
        self.changed = false;
        if let Some(j) = self.journal.take() {
            atomic::remove_synced(&j)?;
        }
        Ok(true)
    }

    /// Write the final content (None: keep what was written at `begin`), then remove the
    /// journal. Ok(true) when content was written here.
    pub fn commit(&mut self, after: Option<&[u8]>) -> anyhow::Result<bool> {
        let written = match after {
            Some(bytes) => {
                let exists = self.path.exists();
                write(&self.path, bytes, exists).map_err(|e| {
                    UserError::failed(format!(
                        "switched, but cannot write {}: {e}{}",
                        self.path.display(),
                        self.journal
                            .as_ref()
                            .map(|j| format!("; the original is in {}", j.display()))
                            .unwrap_or_default()
                    ))
                })?;
                true
            }
            None => false,
        };
        self.changed = false;
        if let Some(j) = self.journal.take() {
            atomic::remove_synced(&j).map_err(|e| {
                UserError::failed(format!("switched, but cannot remove {}: {e}", j.display()))
            })?;
        }
        Ok(written)
    }
}

impl Drop for Journaled {
    fn drop(&mut self) {
        let _ = self.restore();
    }
}

/// Replace the file `path` names (through symlinks) atomically.
fn write(path: &Path, bytes: &[u8], exists: bool) -> std::io::Result<()> {
    let real = atomic::resolve_links(path)?;
    atomic::replace(&real, bytes, exists && real.exists())
}

/// A journal left by an interrupted switch.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub file: PathBuf,
    pub journal: PathBuf,
    /// The journal's bytes: the file as it was before that switch.
    pub original: Vec<u8>,
    /// The file now (None: missing).
    pub now: Option<Vec<u8>>,
}

impl Leftover {
    pub fn find(file: &Path) -> anyhow::Result<Option<Leftover>> {
        let journal = journal_of(file);
        let Some(original) = read_optional(&journal)? else {
            return Ok(None);
        };
        Ok(Some(Leftover {
            file: file.to_path_buf(),
            now: read_optional(file)?,
            journal,
            original,
        }))
    }

    /// Put the journal's bytes back into the file, then remove the journal.
    pub fn restore(&self) -> anyhow::Result<()> {
        if self.now.as_deref() != Some(self.original.as_slice()) {
            write(&self.file, &self.original, self.now.is_some()).map_err(|e| {
                UserError::usage(format!("cannot restore {}: {e}", self.file.display()))
            })?;
        }
        atomic::remove_synced(&self.journal).map_err(|e| {
            UserError::usage(format!("cannot remove {}: {e}", self.journal.display()))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_restore_commit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pinned");
        std::fs::write(&p, "a\nlibblas=*=*openblas\n").unwrap();
        let mut j = Journaled::begin(&p, Some(std::fs::read(&p).unwrap()), Some(b"a\n")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"a\n");
        assert_eq!(
            std::fs::read(journal_of(&p)).unwrap(),
            b"a\nlibblas=*=*openblas\n"
        );
        assert!(j.restore().unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"a\nlibblas=*=*openblas\n");
        assert!(!journal_of(&p).exists());

        let mut j = Journaled::begin(&p, Some(std::fs::read(&p).unwrap()), Some(b"a\n")).unwrap();
        assert!(j.commit(Some(b"a\nlibblas=*=*mkl\n")).unwrap());
        drop(j);
        assert_eq!(std::fs::read(&p).unwrap(), b"a\nlibblas=*=*mkl\n");
        assert!(!journal_of(&p).exists());
    }

    #[test]
    fn an_existing_journal_is_never_written_over() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pinned");
        std::fs::write(&p, "x\n").unwrap();
        std::fs::write(journal_of(&p), "older\n").unwrap();
        let e = Journaled::begin(&p, Some(b"x\n".to_vec()), Some(b""))
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("not written over"), "{e:#}");
        assert_eq!(std::fs::read(journal_of(&p)).unwrap(), b"older\n");
        assert_eq!(std::fs::read(&p).unwrap(), b"x\n");
        let left = Leftover::find(&p).unwrap().unwrap();
        left.restore().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"older\n");
        assert!(Leftover::find(&p).unwrap().is_none());
    }

    #[test]
    fn drop_restores() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pinned");
        std::fs::write(&p, "x\n").unwrap();
        drop(Journaled::begin(&p, Some(b"x\n".to_vec()), Some(b"y\n")).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"x\n");
        assert!(!journal_of(&p).exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_pinned_is_written_through() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("shared-pins");
        std::fs::write(&real, "libblas=*=*openblas\n").unwrap();
        let p = d.path().join("pinned");
        std::os::unix::fs::symlink(&real, &p).unwrap();
        let mut j = Journaled::begin(&p, Some(std::fs::read(&p).unwrap()), Some(b"")).unwrap();
        assert!(std::fs::symlink_metadata(&p).unwrap().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"");
        j.commit(Some(b"libblas=*=*mkl\n")).unwrap();
        assert!(std::fs::symlink_metadata(&p).unwrap().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"libblas=*=*mkl\n");
    }
}
