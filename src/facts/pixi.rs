//! The pixi workspace around a directory, found as pixi finds it: the nearest directory, from
//! the start upward, with a `pixi.toml`, or a `pyproject.toml` that has a `[tool.pixi]` table
//! (`pixi.toml` wins in the same directory). Its environments live in `.pixi/envs/<name>`.

use std::path::{Path, PathBuf};

/// A pixi workspace: its root directory and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub root: PathBuf,
    pub manifest: PathBuf,
}

impl Workspace {
    /// Where pixi installs the environment `name` (`default` unless told otherwise).
    pub fn env_prefix(&self, name: &str) -> PathBuf {
        self.root.join(".pixi").join("envs").join(name)
    }

    /// The environment names installed under `.pixi/envs/`, sorted.
    pub fn installed_envs(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join(".pixi").join("envs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("conda-meta").is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }
}

/// The manifest file names pixi looks for, in its order of preference.
pub const MANIFESTS: [&str; 2] = ["pixi.toml", "pyproject.toml"];

/// The nearest workspace at or above `start` (reads the file system).
pub fn find_workspace(start: &Path) -> Option<Workspace> {
    start.ancestors().find_map(|dir| {
        MANIFESTS.iter().find_map(|name| {
            let manifest = dir.join(name);
            let text = std::fs::read_to_string(&manifest).ok()?;
            is_manifest(name, &text).then(|| Workspace {
                root: dir.to_path_buf(),
                manifest,
            })
        })
    })
}

/// Whether a file of this name and text is a pixi manifest: any `pixi.toml`; a
/// `pyproject.toml` only with a `[tool.pixi]` table (pure).
pub fn is_manifest(file_name: &str, text: &str) -> bool {
    match file_name {
        "pixi.toml" => true,
        "pyproject.toml" => text
            .parse::<toml_edit::DocumentMut>()
            .ok()
            .is_some_and(|doc| doc.get("tool").and_then(|t| t.get("pixi")).is_some()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_rules() {
        let cases: &[(&str, &str, bool)] = &[
            ("pixi.toml", "[workspace]\nname = \"x\"\n", true),
            ("pixi.toml", "not toml at all [", true),
            (
                "pyproject.toml",
                "[tool.pixi.workspace]\nchannels = []\n",
                true,
            ),
            ("pyproject.toml", "[tool.pixi]\n", true),
            ("pyproject.toml", "[project]\nname = \"x\"\n", false),
            ("pyproject.toml", "[tool.ruff]\n", false),
            ("pyproject.toml", "[tool.pixi\n", false),
            ("environment.yml", "", false),
        ];
        for (name, text, want) in cases {
            assert_eq!(is_manifest(name, text), *want, "{name}: {text:?}");
        }
    }

    #[test]
    fn nearest_manifest_upward_pixi_toml_first() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let deep = root.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_workspace(&deep), None);

        std::fs::write(root.join("pyproject.toml"), "[tool.pixi.workspace]\n").unwrap();
        let w = find_workspace(&deep).unwrap();
        assert_eq!(w.manifest, root.join("pyproject.toml"));
        assert_eq!(w.env_prefix("default"), root.join(".pixi/envs/default"));

        std::fs::write(root.join("pixi.toml"), "[workspace]\n").unwrap();
        assert_eq!(
            find_workspace(&deep).unwrap().manifest,
            root.join("pixi.toml")
        );

        // A plain pyproject.toml nearer the start is not a workspace; the search goes on.
        std::fs::write(root.join("a/pyproject.toml"), "[project]\nname = \"x\"\n").unwrap();
        assert_eq!(find_workspace(&deep).unwrap().root, root);
        std::fs::write(root.join("a/b/pixi.toml"), "").unwrap();
        assert_eq!(find_workspace(&deep).unwrap().root, root.join("a/b"));
    }

    #[test]
    fn installed_envs_are_those_with_conda_meta() {
        let dir = tempfile::tempdir().unwrap();
        let w = Workspace {
            root: dir.path().into(),
            manifest: dir.path().join("pixi.toml"),
        };
        assert!(w.installed_envs().is_empty());
        std::fs::create_dir_all(w.env_prefix("default").join("conda-meta")).unwrap();
        std::fs::create_dir_all(w.env_prefix("cuda").join("conda-meta")).unwrap();
        std::fs::create_dir_all(w.env_prefix("broken")).unwrap();
        assert_eq!(w.installed_envs(), ["cuda", "default"]);
    }
}
