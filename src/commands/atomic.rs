//! Writing a user's file safely: through a temporary file beside it, keeping its permissions,
//! with a backup of the original when asked; nothing is changed when any step fails.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::UserError;

/// Write through a temporary file in the same directory, keeping the original's permissions and,
/// when `backup`, a copy of the original in `<file>.bak`. Returns the backup's path.
pub fn write_atomic(path: &Path, bytes: &[u8], backup: bool) -> anyhow::Result<Option<PathBuf>> {
    let fail = |what: String| {
        UserError::usage(what)
            .with_hint("nothing was changed; check the permissions or pass --stdout")
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let old_meta = std::fs::metadata(path).ok();
    if old_meta
        .as_ref()
        .is_some_and(|m| m.permissions().readonly())
    {
        return Err(fail(format!("{} is read-only", path.display())).into());
    }
    let dir_meta = std::fs::metadata(&dir)
        .map_err(|e| fail(format!("cannot use directory {}: {e}", dir.display())))?;
    if dir_meta.permissions().readonly() {
        return Err(fail(format!(
            "directory {} is read-only (the edit goes through a temporary file beside {})",
            dir.display(),
            path.display()
        ))
        .into());
    }
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
        fail(format!(
            "cannot create a temporary file in {}: {e}",
            dir.display()
        ))
    })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| {
            fail(format!(
                "cannot write a temporary file in {}: {e}",
                dir.display()
            ))
        })?;
    if let Some(m) = &old_meta {
        std::fs::set_permissions(tmp.path(), m.permissions()).map_err(|e| {
            fail(format!(
                "cannot copy the permissions of {}: {e}",
                path.display()
            ))
        })?;
    }
    let bak = if backup && old_meta.is_some() {
        let mut name = path.as_os_str().to_owned();
        name.push(".bak");
        let bak = PathBuf::from(name);
        std::fs::copy(path, &bak)
            .map_err(|e| fail(format!("cannot keep a backup in {}: {e}", bak.display())))?;
        Some(bak)
    } else {
        None
    };
    let persisted = if old_meta.is_some() {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted
        .map_err(|e| fail(format!("cannot replace {}: {}", path.display(), e.error)))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(bak)
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
}
