//! Taking one `pinned_packages` entry out of a `.condarc`, losslessly (pure): the item's own
//! line goes, every other byte stays; a list left empty becomes `[]` (an empty key would be
//! `null`, which conda rejects). Only block-list items on their own line are edited; anything
//! else (a flow list, an anchor) is left to the user, with the line to change.

use std::path::Path;

use crate::facts::condarc;
use crate::facts::snapshot::EnvSnapshot;

/// Why an entry could not be taken out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of {file}: {why}")]
pub struct EditError {
    pub file: String,
    pub line: usize,
    pub why: String,
}

/// `text` without the `pinned_packages` item `spec` at 1-based `line`. The result is parsed
/// again as conda would: exactly that entry must be gone and nothing else changed.
pub fn remove_pinned(
    text: &str,
    file: &Path,
    line: usize,
    spec: &str,
) -> Result<String, EditError> {
    let err = |why: &str| EditError {
        file: file.display().to_string(),
        line,
        why: why.to_string(),
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(item) = lines.get(line.wrapping_sub(1)) else {
        return Err(err("no such line"));
    };
    let code = item.split(" #").next().unwrap_or(item).trim();
    let Some(value) = code.strip_prefix("- ").or_else(|| code.strip_prefix("-\t")) else {
        return Err(err(
            "not a block-list item (`- spec` on its own line); edit it by hand",
        ));
    };
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if value != spec {
        return Err(err(&format!("expected `- {spec}`, found `{code}`")));
    }
    let indent = |l: &str| l.len() - l.trim_start().len();
    let item_indent = indent(item);
    // The key this item belongs to: the nearest line above that is less indented (or, for
    // items at column 0, the nearest key line).
    let key_idx = (0..line - 1).rev().find(|&i| {
        let l = lines[i].trim_end();
        let t = l.trim_start();
        !t.is_empty()
            && !t.starts_with('#')
            && !t.starts_with('-')
            && (indent(l) < item_indent || (item_indent == 0 && indent(l) == 0))
    });
    let Some(key_idx) = key_idx else {
        return Err(err("no `pinned_packages:` key above the item"));
    };
    let key_line = lines[key_idx];
    let key_code = key_line.split(" #").next().unwrap_or(key_line).trim();
    if key_code != "pinned_packages:" {
        return Err(err(
            "the item is not under a plain `pinned_packages:` key; edit it by hand",
        ));
    }
    // Other items left under the key?
    let siblings = lines
        .iter()
        .enumerate()
        .skip(key_idx + 1)
        .filter(|&(i, _)| i != line - 1)
        .map(|(_, l)| *l)
        .take_while(|l| {
            let t = l.trim_start();
            t.is_empty() || t.starts_with('#') || indent(l) > indent(key_line) || t.starts_with('-')
        })
        .any(|l| l.trim_start().starts_with('-'));
    let mut out = String::with_capacity(text.len());
    for (i, l) in lines.iter().enumerate() {
        if i == line - 1 {
            continue;
        }
        if i == key_idx && !siblings {
            let eol = &l[l.trim_end_matches(['\n', '\r']).len()..];
            let body = l.trim_end_matches(['\n', '\r']);
            let (before, comment) = match body.find(" #") {
                Some(c) => (&body[..c], &body[c..]),
                None => (body, ""),
            };
            out.push_str(before.trim_end());
            out.push_str(" []");
            out.push_str(comment);
            out.push_str(eol);
            continue;
        }
        out.push_str(l);
    }
    // Check with conda's own reading: exactly this entry is gone.
    let env = EnvSnapshot::default();
    let before = condarc::load_text(text, file, &env);
    let after = condarc::load_text(&out, file, &env);
    let values = |c: &condarc::CondaConfig| -> Vec<String> {
        c.pinned_packages.iter().map(|p| p.value.clone()).collect()
    };
    let mut expected = values(&before);
    if let Some(i) = expected.iter().position(|v| v == spec) {
        expected.remove(i);
    }
    if values(&after) != expected || after.channels.len() != before.channels.len() {
        return Err(err(
            "the file would not read the same without the entry; edit it by hand",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("/home/u/.condarc")
    }

    #[test]
    fn removes_one_item_and_keeps_everything_else() {
        let text = "channels:\n  - conda-forge\npinned_packages:\n  - python 3.11.*\n  - libblas=*=*openblas  # keep OpenBLAS\nchannel_priority: strict\n";
        let out = remove_pinned(text, p(), 5, "libblas=*=*openblas").unwrap();
        assert_eq!(
            out,
            "channels:\n  - conda-forge\npinned_packages:\n  - python 3.11.*\nchannel_priority: strict\n"
        );
    }

    #[test]
    fn the_last_item_leaves_an_empty_list() {
        let text = "pinned_packages:   # for every env\r\n- 'libblas=*=*openblas'\r\nchannels: [conda-forge]\r\n";
        let out = remove_pinned(text, p(), 2, "libblas=*=*openblas").unwrap();
        assert_eq!(
            out,
            "pinned_packages: [] # for every env\r\nchannels: [conda-forge]\r\n"
        );
    }

    #[test]
    fn anything_else_is_left_to_the_user() {
        let flow = "pinned_packages: [libblas=*=*openblas]\n";
        let e = remove_pinned(flow, p(), 1, "libblas=*=*openblas").unwrap_err();
        assert!(e.to_string().contains("by hand"), "{e}");
        let text = "pinned_packages:\n  - libblas=*=*mkl\n";
        assert!(remove_pinned(text, p(), 2, "libblas=*=*openblas").is_err());
        assert!(remove_pinned(text, p(), 9, "libblas=*=*mkl").is_err());
        let other = "disallowed_packages:\n  - libblas=*=*mkl\n";
        assert!(remove_pinned(other, p(), 2, "libblas=*=*mkl").is_err());
    }
}
