//! pixi.toml (`[dependencies]`, `[feature.*.dependencies]`, `[target.*.dependencies]`) and
//! pyproject.toml (`[tool.pixi...]`), edited losslessly with `toml_edit`. pixi takes a build
//! only in the table form: `libblas = { build = "*mkl" }` (a string is a version only).
//!
//! Rules, as for environment.yml: every selector entry of another backend, in any of those
//! tables, gets its build rewritten (version kept); with no selector, the top-level table gets
//! the pin (a build-less `libblas = "3.9.*"` gains the build); `nomkl` goes when pinning MKL.
//! Verified by re-parsing: with the touched entries taken out of both, the documents must render
//! identically.

use std::path::Path;

use toml_edit::{DocumentMut, InlineTable, Item, TableLike, Value};

use super::edit::{Edited, PinRequest, build_glob_for};
use super::error::EditError;
use super::spec::{self, Selector};
use super::text;
use crate::facts::blas::BlasImpl;

/// Which manifest a TOML file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    Pixi,
    Pyproject,
}

impl ManifestKind {
    /// `pyproject.toml` => Pyproject; any other `*.toml` => Pixi; else None (environment.yml).
    pub fn from_path(p: &Path) -> Option<Self> {
        let name = p.file_name()?.to_str()?;
        if name == "pyproject.toml" {
            Some(ManifestKind::Pyproject)
        } else if name.ends_with(".toml") {
            Some(ManifestKind::Pixi)
        } else {
            None
        }
    }

    fn root(self) -> Vec<String> {
        match self {
            ManifestKind::Pixi => Vec::new(),
            ManifestKind::Pyproject => vec!["tool".into(), "pixi".into()],
        }
    }
}

fn table_at<'a>(doc: &'a DocumentMut, path: &[String]) -> Option<&'a dyn TableLike> {
    let mut t: &dyn TableLike = doc.as_table();
    for seg in path {
        t = t.get(seg)?.as_table_like()?;
    }
    Some(t)
}

fn table_at_mut<'a>(doc: &'a mut DocumentMut, path: &[String]) -> Option<&'a mut dyn TableLike> {
    let mut t: &mut dyn TableLike = doc.as_table_mut();
    for seg in path {
        t = t.get_mut(seg)?.as_table_like_mut()?;
    }
    Some(t)
}

/// Every dependency table under the manifest root, top-level first.
fn dependency_tables(doc: &DocumentMut, root: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let with = |base: &[String], tail: &[&str]| -> Vec<String> {
        base.iter()
            .cloned()
            .chain(tail.iter().map(|s| s.to_string()))
            .collect()
    };
    let push_level = |base: Vec<String>, out: &mut Vec<Vec<String>>| {
        let deps = with(&base, &["dependencies"]);
        if table_at(doc, &deps).is_some() {
            out.push(deps);
        }
        if let Some(targets) = table_at(doc, &with(&base, &["target"])) {
            for (t, _) in targets.iter() {
                let p = with(&base, &["target", t, "dependencies"]);
                if table_at(doc, &p).is_some() {
                    out.push(p);
                }
            }
        }
    };
    push_level(root.to_vec(), &mut out);
    if let Some(features) = table_at(doc, &with(root, &["feature"])) {
        for (f, _) in features.iter() {
            push_level(with(root, &["feature", f]), &mut out);
        }
    }
    out
}

/// (version, build) of a pixi dependency value. A string is a version, except the common
/// mistake `"*=*openblas"`, which pixi reads as version `*`, build `*openblas`.
fn version_build(item: &Item) -> (Option<String>, Option<String>) {
    if let Some(s) = item.as_str() {
        let s = s.trim();
        let split = s.split_once('=').filter(|(v, b)| {
            !v.is_empty() && !b.is_empty() && !b.contains('=') && !v.ends_with(['<', '>', '!', '~'])
        });
        if let Some((v, b)) = split {
            return (Some(v.to_string()), Some(b.to_string()));
        }
        return (Some(s.to_string()), None);
    }
    match item.as_table_like() {
        Some(t) => (
            t.get("version").and_then(Item::as_str).map(str::to_string),
            t.get("build").and_then(Item::as_str).map(str::to_string),
        ),
        None => (None, None),
    }
}

/// Edit a pixi.toml or pyproject.toml (pure).
pub fn edit_manifest(
    bytes: &[u8],
    kind: ManifestKind,
    req: &PinRequest,
) -> Result<Edited, EditError> {
    req.check()?;
    let (src, encoding) = text::decode(bytes)?;
    let original: DocumentMut =
        src.parse()
            .map_err(|e: toml_edit::TomlError| EditError::InvalidToml {
                message: e.to_string(),
            })?;
    let root = kind.root();
    if kind == ManifestKind::Pyproject && table_at(&original, &root).is_none() {
        return Err(EditError::NotPixiProject);
    }
    let t = req.backend;
    let mut doc = original.clone();
    let mut changes = Vec::new();
    let mut touched: Vec<(Vec<String>, String)> = Vec::new();
    let mut right = false;
    let mut wrong_found = false;
    let tables = dependency_tables(&original, &root);
    for path in &tables {
        let Some(tbl) = table_at(&original, path) else {
            continue;
        };
        for (key, item) in tbl.iter() {
            let (version, build) = version_build(item);
            let as_spec = spec_of(key, version.as_deref(), build.as_deref());
            match spec::classify(&as_spec) {
                Selector::Selects { backend, .. } if backend == t => right = true,
                Selector::Selects { name, .. } => {
                    wrong_found = true;
                    let glob = build_glob_for(&name, t);
                    set_build(&mut doc, path, key, version.as_deref(), &glob)?;
                    changes.push(format!(
                        "[{}] {key}: build `{}` -> `{glob}`",
                        path.join("."),
                        build.unwrap_or_default()
                    ));
                    touched.push((path.clone(), key.to_string()));
                }
                Selector::Nomkl if t == BlasImpl::Mkl => {
                    if let Some(tm) = table_at_mut(&mut doc, path) {
                        tm.remove(key);
                    }
                    changes.push(format!(
                        "[{}] removed `nomkl`: it forbids MKL",
                        path.join(".")
                    ));
                    touched.push((path.clone(), key.to_string()));
                }
                _ => {}
            }
        }
    }
    let mut created_table = false;
    if !right && !wrong_found {
        let top: Vec<String> = root
            .iter()
            .cloned()
            .chain(["dependencies".to_string()])
            .collect();
        if table_at(&doc, &top).is_none() {
            let parent = table_at_mut(&mut doc, &root).ok_or(EditError::NotPixiProject)?;
            if parent.contains_key("dependencies") {
                return Err(EditError::Unlocatable {
                    what: "a `dependencies` table (the key holds something else)".into(),
                });
            }
            let mut tbl = toml_edit::Table::new();
            tbl.set_implicit(false);
            parent.insert("dependencies", Item::Table(tbl));
            created_table = true;
        }
        let name = req.selector_name();
        let version = table_at(&doc, &top)
            .and_then(|tb| tb.get(name))
            .and_then(|i| version_build(i).0);
        set_build(&mut doc, &top, name, version.as_deref(), &req.build_glob())?;
        changes.push(format!("[{}] {}", top.join("."), req.pixi_line()));
        touched.push((top.clone(), name.to_string()));
        if created_table {
            touched.push((root.clone(), "dependencies".into()));
        }
    }
    let after = doc.to_string();
    if after == src {
        return Ok(Edited {
            before: src.clone(),
            after: src,
            bytes: bytes.to_vec(),
            encoding,
            changes: Vec::new(),
            notes: Vec::new(),
        });
    }
    verify(&original, &after, &touched, req)?;
    let bytes = text::encode(&after, encoding);
    Ok(Edited {
        before: src,
        after,
        bytes,
        encoding,
        changes,
        notes: Vec::new(),
    })
}

/// The MatchSpec text of a pixi entry, for classification.
fn spec_of(key: &str, version: Option<&str>, build: Option<&str>) -> String {
    match (version.map(str::trim).filter(|v| !v.is_empty()), build) {
        (v, Some(b)) => format!("{key}[version='{}',build='{b}']", v.unwrap_or("*")),
        (Some(v), None) => format!("{key} {v}"),
        (None, None) => key.to_string(),
    }
}

fn set_build(
    doc: &mut DocumentMut,
    path: &[String],
    key: &str,
    version: Option<&str>,
    glob: &str,
) -> Result<(), EditError> {
    let tbl = table_at_mut(doc, path).ok_or_else(|| EditError::Unlocatable {
        what: format!("[{}]", path.join(".")),
    })?;
    match tbl.get_mut(key) {
        Some(item) if item.is_table_like() => {
            let t = item
                .as_table_like_mut()
                .ok_or_else(|| EditError::Unlocatable { what: key.into() })?;
            t.insert("build", toml_edit::value(glob));
        }
        existing => {
            let decor = existing
                .as_ref()
                .and_then(|i| i.as_value())
                .map(|v| v.decor().clone());
            let mut it = InlineTable::new();
            if let Some(v) = version.filter(|v| *v != "*") {
                it.insert("version", v.into());
            }
            it.insert("build", glob.into());
            it.fmt();
            let mut v = Value::InlineTable(it);
            if let Some(d) = decor {
                *v.decor_mut() = d;
            }
            tbl.insert(key, Item::Value(v));
        }
    }
    Ok(())
}

fn verify(
    original: &DocumentMut,
    after: &str,
    touched: &[(Vec<String>, String)],
    req: &PinRequest,
) -> Result<(), EditError> {
    let fail = |d: String| EditError::VerificationFailed { detail: d };
    let mut new: DocumentMut = after
        .parse()
        .map_err(|e: toml_edit::TomlError| fail(format!("the result does not parse: {e}")))?;
    let mut old = original.clone();
    let mut pinned = false;
    for (path, key) in touched {
        if let Some(item) = table_at(&new, path).and_then(|t| t.get(key)) {
            let (v, b) = version_build(item);
            let s = spec_of(key, v.as_deref(), b.as_deref());
            pinned |= spec::selects(&s, key, req.backend);
        }
    }
    for (path, key) in touched.iter().rev() {
        for d in [&mut new, &mut old] {
            if let Some(t) = table_at_mut(d, path) {
                t.remove(key);
            }
        }
    }
    if !pinned {
        return Err(fail(
            "no entry selects the requested BLAS after the edit".into(),
        ));
    }
    if new.to_string() != old.to_string() {
        return Err(fail("something besides the BLAS entries changed".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::blas::ChannelFamily;

    fn mkl() -> PinRequest {
        PinRequest::new(BlasImpl::Mkl, ChannelFamily::CondaForge)
    }

    #[test]
    fn adds_table_form_to_pixi() {
        let src = "[workspace]\nname = \"x\"\nchannels = [\"conda-forge\"]\nplatforms = [\"linux-64\"]\n\n[dependencies]\n# the stack\nnumpy = \">=2\"  # fast\npython = \"3.12.*\"\n\n[tasks]\nt = \"pytest\"\n";
        let e = edit_manifest(src.as_bytes(), ManifestKind::Pixi, &mkl()).unwrap();
        assert_eq!(
            e.after,
            src.replace(
                "python = \"3.12.*\"\n",
                "python = \"3.12.*\"\nlibblas = { build = \"*mkl\" }\n"
            )
        );
        let again = edit_manifest(&e.bytes, ManifestKind::Pixi, &mkl()).unwrap();
        assert!(again.is_noop());
    }

    #[test]
    fn replaces_existing_entries_everywhere() {
        let src = "[dependencies]\nlibblas = { version = \"3.9.*\", build = \"*openblas\" } # old\nnomkl = \"*\"\n\n[feature.fast.dependencies]\nliblapack = { build = \"*openblas\" }\n";
        let e = edit_manifest(src.as_bytes(), ManifestKind::Pixi, &mkl()).unwrap();
        assert_eq!(
            e.after,
            "[dependencies]\nlibblas = { version = \"3.9.*\", build = \"*mkl\" } # old\n\n[feature.fast.dependencies]\nliblapack = { build = \"*mkl\" }\n"
        );
    }

    #[test]
    fn string_build_mistake_is_replaced() {
        let src = "[dependencies]\nlibblas = \"*=*openblas\"  # why\n";
        let e = edit_manifest(src.as_bytes(), ManifestKind::Pixi, &mkl()).unwrap();
        assert_eq!(
            e.after,
            "[dependencies]\nlibblas = { build = \"*mkl\" }  # why\n"
        );
    }

    #[test]
    fn string_version_becomes_table() {
        let src = "[dependencies]\nlibblas = \"3.9.*\"\n";
        let e = edit_manifest(src.as_bytes(), ManifestKind::Pixi, &mkl()).unwrap();
        assert_eq!(
            e.after,
            "[dependencies]\nlibblas = { version = \"3.9.*\", build = \"*mkl\" }\n"
        );
    }

    #[test]
    fn pyproject_needs_tool_pixi() {
        let src = "[project]\nname = \"x\"\n";
        assert_eq!(
            edit_manifest(src.as_bytes(), ManifestKind::Pyproject, &mkl()).unwrap_err(),
            EditError::NotPixiProject
        );
        let src =
            "[project]\nname = \"x\"\n\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\n";
        let e = edit_manifest(src.as_bytes(), ManifestKind::Pyproject, &mkl()).unwrap();
        assert!(e.after.starts_with(src), "{}", e.after);
        assert!(
            e.after
                .contains("[tool.pixi.dependencies]\nlibblas = { build = \"*mkl\" }\n"),
            "{}",
            e.after
        );
        let src = "[tool.pixi.dependencies]\nlibblas = { build = \"*openblas\" }\n";
        let e = edit_manifest(src.as_bytes(), ManifestKind::Pyproject, &mkl()).unwrap();
        assert_eq!(
            e.after,
            "[tool.pixi.dependencies]\nlibblas = { build = \"*mkl\" }\n"
        );
    }

    #[test]
    fn dependencies_that_are_not_a_table_are_refused() {
        let r = edit_manifest(b"dependencies = 3\n", ManifestKind::Pixi, &mkl());
        assert!(matches!(r, Err(EditError::Unlocatable { .. })), "{r:?}");
    }

    #[test]
    fn bad_toml_refused() {
        assert!(matches!(
            edit_manifest(b"[dependencies\n", ManifestKind::Pixi, &mkl()),
            Err(EditError::InvalidToml { .. })
        ));
    }
}
