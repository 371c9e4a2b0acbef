//! Writing a user's file safely: through a temporary file beside it, keeping its permissions,
//! with a backup of the original when asked; nothing is changed when any step fails. A symlink
//! (`environment.yml -> envs/dev.yml`, a `conda-meta/pinned` managed elsewhere) is written
//! through: the file it points to is replaced atomically and the link stays a link.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::UserError;

/// The file a path finally names, following symlinks (relative ones from their own folder). A
/// path that is not a link is returned as it is; a link whose target is missing is an error
/// that names both.
pub fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && current != path => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!(
                        "{} is a symlink to {}, which does not exist",
                        path.display(),
                        current.display()
                    ),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Write through a temporary file in the same directory, keeping the original's permissions and,
/// when `backup`, a copy of the original in `<file>.bak` (beside the file really written, when
/// `path` is a symlink). Returns the backup's path.
pub fn write_atomic(path: &Path, bytes: &[u8], backup: bool) -> anyhow::Result<Option<PathBuf>> {
    let fail = |what: String| {
        UserError::usage(what)
            .with_hint("nothing was changed; check the permissions or pass --stdout")
    };
    let real =
        resolve_links(path).map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    let old_meta = std::fs::metadata(&real).ok();
    if old_meta
        .as_ref()
        .is_some_and(|m| m.permissions().readonly())
    {
        return Err(fail(format!("{} is read-only", real.display())).into());
    }
    let bak = if backup && old_meta.is_some() {
        let mut name = real.as_os_str().to_owned();
        name.push(".bak");
        let bak = PathBuf::from(name);
        std::fs::copy(&real, &bak)
            .map_err(|e| fail(format!("cannot keep a backup in {}: {e}", bak.display())))?;
        Some(bak)
    } else {
        None
    };
    replace(&real, bytes, old_meta.is_some())
        .map_err(|e| fail(e.to_string()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(bak)
}

/// Replace the file `real` (no symlink: see [`resolve_links`]) by `bytes` through a synced
/// temporary file beside it, keeping its permissions; the directory is synced afterwards, so
/// the new content survives a power loss once this returns. `exists`: the file is there (it
/// is never created over a file that appeared meanwhile otherwise).
pub fn replace(real: &Path, bytes: &[u8], exists: bool) -> std::io::Result<()> {
    let dir = parent_dir(real);
    let dir_meta = std::fs::metadata(&dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot use directory {}: {e}", dir.display()),
        )
    })?;
    if dir_meta.permissions().readonly() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "directory {} is read-only (the edit goes through a temporary file beside {})",
                dir.display(),
                real.display()
            ),
        ));
    }
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot create a temporary file in {}: {e}", dir.display()),
        )
    })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot write a temporary file in {}: {e}", dir.display()),
            )
        })?;
    if exists && let Ok(m) = std::fs::metadata(real) {
        std::fs::set_permissions(tmp.path(), m.permissions()).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot copy the permissions of {}: {e}", real.display()),
            )
        })?;
    }
    let persisted = if exists {
        tmp.persist(real)
    } else {
        tmp.persist_noclobber(real)
    };
    persisted.map_err(|e| {
        std::io::Error::new(
            e.error.kind(),
            format!("cannot replace {}: {}", real.display(), e.error),
        )
    })?;
    sync_dir(&dir);
    Ok(())
}

/// A new file holding `bytes`, never over an existing one (`AlreadyExists`), synced with its
/// directory: a journal entry that must survive a power loss before anything else changes.
pub fn create_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    sync_dir(&parent_dir(path));
    Ok(())
}

/// Remove a file and sync its directory (a missing file is fine).
pub fn remove_synced(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            sync_dir(&parent_dir(path));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// fsync a directory so that a rename or unlink in it is durable (Unix; best effort).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_backup_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("environment.yml");
        std::fs::write(&p, "old\n").unwrap();
        let bak = write_atomic(&p, b"new\n", true).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "old\n");
        assert_eq!(bak, dir.path().join("environment.yml.bak"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_written_through_and_stay_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("envs")).unwrap();
        let real = dir.path().join("envs/dev.yml");
        std::fs::write(&real, "old\n").unwrap();
        let link = dir.path().join("environment.yml");
        std::os::unix::fs::symlink("envs/dev.yml", &link).unwrap();
        // A chain of two links.
        let link2 = dir.path().join("env.yml");
        std::os::unix::fs::symlink(&link, &link2).unwrap();
        let bak = write_atomic(&link2, b"new\n", true).unwrap().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert!(std::fs::symlink_metadata(&link2).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new\n");
        assert_eq!(bak, dir.path().join("envs/dev.yml.bak"));
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "old\n");
        let dangling = dir.path().join("gone.yml");
        std::os::unix::fs::symlink("nowhere.yml", &dangling).unwrap();
        let e = write_atomic(&dangling, b"x", false).unwrap_err();
        assert!(format!("{e:#}").contains("does not exist"), "{e:#}");
        assert!(!dir.path().join("nowhere.yml").exists());
    }

    #[test]
    fn journal_entries_are_never_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pinned.blasfix-backup");
        create_synced(&p, b"a\n").unwrap();
        let e = create_synced(&p, b"b\n").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"a\n");
        remove_synced(&p).unwrap();
        remove_synced(&p).unwrap();
    }
}
