//! Editing environment specs without disturbing them: the BLAS pin in environment.yml
//! (comments, quoting, indentation, CRLF, UTF-16 kept), pixi.toml and pyproject.toml; every edit
//! verified by re-parsing before it is written. Pure: bytes in, bytes out; `commands::pin` does
//! the I/O.
//!
//! Which entries select a BLAS is decided through conda's MatchSpec grammar
//! (`rattler_conda_types::MatchSpec`, lenient): parsed name plus build string, never a regex on
//! the raw line. The rules of an edit are in `yaml.rs`'s module documentation.

mod edit;
mod error;
mod spec;
mod text;
mod toml;
mod yaml;

pub use edit::{Edited, PinRequest, build_glob_for};
pub use error::EditError;
pub use spec::{Selector, classify};
pub use text::Encoding;
pub use toml::{ManifestKind, edit_manifest};
pub use yaml::edit_environment_yml;

use crate::facts::blas::ChannelFamily;

/// The channel family a file's own channel list implies: `nodefaults` or conda-forge listed
/// first => conda-forge; only Anaconda channels => defaults; otherwise unknown.
pub fn family_from_channels(channels: &[String]) -> Option<ChannelFamily> {
    fn is_cf(c: &str) -> bool {
        let c = c.trim_end_matches('/');
        c == "conda-forge" || c.ends_with("/conda-forge")
    }
    fn is_defaults(c: &str) -> bool {
        let c = c.trim_end_matches('/');
        matches!(c, "defaults" | "anaconda" | "main" | "r" | "msys2" | "free")
            || [
                "/pkgs/main",
                "/pkgs/r",
                "/pkgs/free",
                "/pkgs/msys2",
                "/anaconda",
            ]
            .iter()
            .any(|s| c.ends_with(s))
    }
    let live: Vec<&str> = channels
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    if live.contains(&"nodefaults") && live.iter().any(|c| is_cf(c)) {
        return Some(ChannelFamily::CondaForge);
    }
    if live.first().is_some_and(|c| is_cf(c)) {
        return Some(ChannelFamily::CondaForge);
    }
    if !live.is_empty() && live.iter().all(|c| is_defaults(c)) {
        return Some(ChannelFamily::Defaults);
    }
    if live.iter().any(|c| is_cf(c)) && !live.iter().any(|c| is_defaults(c)) {
        return Some(ChannelFamily::CondaForge);
    }
    None
}

/// Decode a file's bytes as the editor does (UTF-8, or UTF-16 with a BOM).
pub fn decode_text(bytes: &[u8]) -> Result<(String, Encoding), EditError> {
    text::decode(bytes)
}

/// The `name:` an environment.yml gives its environment (any encoding the editor reads).
pub fn file_name_key(bytes: &[u8]) -> Option<String> {
    let (src, _) = text::decode(bytes).ok()?;
    let v: serde_yaml::Value = serde_yaml::from_str(&src).ok()?;
    v.get("name")?.as_str().map(str::to_string)
}

/// The channels a file lists (environment.yml `channels`, pixi `workspace`/`project` channels),
/// best effort: empty when the file cannot be read as such.
pub fn file_channels(bytes: &[u8], kind: Option<ManifestKind>) -> Vec<String> {
    let Ok((src, _)) = text::decode(bytes) else {
        return Vec::new();
    };
    match kind {
        None => serde_yaml::from_str::<serde_yaml::Value>(&src)
            .ok()
            .and_then(|v| v.get("channels").and_then(|c| c.as_sequence()).cloned())
            .map(|seq| {
                seq.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        Some(kind) => {
            let Ok(doc) = src.parse::<toml_edit::DocumentMut>() else {
                return Vec::new();
            };
            let root = match kind {
                ManifestKind::Pixi => Some(doc.as_item()),
                ManifestKind::Pyproject => doc.get("tool").and_then(|t| t.get("pixi")),
            };
            let Some(root) = root else { return Vec::new() };
            ["workspace", "project"]
                .iter()
                .filter_map(|t| root.get(t)?.get("channels")?.as_array().cloned())
                .next()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| {
                            v.as_str().map(str::to_string).or_else(|| {
                                v.as_inline_table()?
                                    .get("channel")?
                                    .as_str()
                                    .map(str::to_string)
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
    }
}

/// The text blocks `blasfix pin` prints without a FILE.
pub fn pin_lines(req: &PinRequest) -> String {
    format!(
        "# environment.yml, under dependencies:\n  - {spec}\n\n# conda-meta/pinned (one line, no quotes):\n{spec}\n\n# pixi.toml [dependencies] (pyproject.toml: [tool.pixi.dependencies]):\n{pixi}\n",
        spec = req.spec(),
        pixi = req.pixi_line()
    )
}

/// A new environment.yml from the template of this family.
pub fn new_environment_yml(
    req: &PinRequest,
    name: &str,
    file_name: &str,
) -> Result<String, EditError> {
    req.check()?;
    let template = match req.family {
        ChannelFamily::Defaults => include_str!("../../../templates/environment-defaults.yml"),
        _ => include_str!("../../../templates/environment-conda-forge.yml"),
    };
    Ok(template
        .replace("{{name}}", name)
        .replace("{{file}}", file_name)
        .replace("{{pin}}", &req.spec())
        .replace("{{backend}}", req.backend.display_name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::blas::BlasImpl;

    fn ch(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pin_spellings() {
        let cf = PinRequest::new(BlasImpl::Mkl, ChannelFamily::CondaForge);
        assert_eq!(cf.spec(), "libblas=*=*mkl");
        assert_eq!(cf.pixi_line(), "libblas = { build = \"*mkl\" }");
        let d = PinRequest::new(BlasImpl::Openblas, ChannelFamily::Defaults);
        assert_eq!(d.spec(), "blas=*=openblas");
        assert!(
            PinRequest::new(BlasImpl::Blis, ChannelFamily::Defaults)
                .check()
                .is_err()
        );
        assert!(
            PinRequest::new(BlasImpl::Unknown, ChannelFamily::CondaForge)
                .check()
                .is_err()
        );
        assert!(pin_lines(&cf).contains("\nlibblas=*=*mkl\n"));
    }

    #[test]
    fn family_detection() {
        assert_eq!(
            family_from_channels(&ch(&["conda-forge", "defaults"])),
            Some(ChannelFamily::CondaForge)
        );
        assert_eq!(
            family_from_channels(&ch(&["pytorch", "nodefaults", "conda-forge"])),
            Some(ChannelFamily::CondaForge)
        );
        assert_eq!(
            family_from_channels(&ch(&["defaults"])),
            Some(ChannelFamily::Defaults)
        );
        assert_eq!(
            family_from_channels(&ch(&["anaconda", "https://repo.anaconda.com/pkgs/main"])),
            Some(ChannelFamily::Defaults)
        );
        assert_eq!(
            family_from_channels(&ch(&["pytorch", "conda-forge", "defaults"])),
            None
        );
        assert_eq!(
            family_from_channels(&ch(&["pytorch", "conda-forge"])),
            Some(ChannelFamily::CondaForge)
        );
        assert_eq!(family_from_channels(&ch(&[])), None);
    }

    #[test]
    fn channels_of_files() {
        assert_eq!(
            file_channels(b"channels:\n  - conda-forge\n  - defaults\n", None),
            ch(&["conda-forge", "defaults"])
        );
        assert_eq!(
            file_channels(
                b"[workspace]\nchannels = [\"conda-forge\"]\n",
                Some(ManifestKind::Pixi)
            ),
            ch(&["conda-forge"])
        );
        assert_eq!(
            file_channels(
                b"[tool.pixi.project]\nchannels = [\"defaults\"]\n",
                Some(ManifestKind::Pyproject)
            ),
            ch(&["defaults"])
        );
        assert!(file_channels(b"\xff\x00", None).is_empty());
    }

    #[test]
    fn template_has_pin() {
        let t = new_environment_yml(
            &PinRequest::new(BlasImpl::Mkl, ChannelFamily::CondaForge),
            "demo",
            "environment.yml",
        )
        .unwrap();
        assert!(t.contains("- libblas=*=*mkl"));
        assert!(t.contains("name: demo"));
        let e = edit_environment_yml(
            t.as_bytes(),
            &PinRequest::new(BlasImpl::Mkl, ChannelFamily::CondaForge),
        )
        .unwrap();
        assert!(e.is_noop());
        let d = new_environment_yml(
            &PinRequest::new(BlasImpl::Openblas, ChannelFamily::Defaults),
            "x",
            "env.yml",
        )
        .unwrap();
        assert!(d.contains("- blas=*=openblas") && d.contains("- defaults"));
        assert!(d.contains("conda env create -f env.yml"));
    }
}
