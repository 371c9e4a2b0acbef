//! Unified diffs of a file's edit, coloured when the stream takes colour.

use crate::render::style::Styles;

/// A unified diff (3 lines of context), coloured when stdout takes colour.
pub fn diff(before: &str, after: &str, name: &str) -> String {
    let s = Styles::stdout();
    let text = similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(name, name)
        .to_string();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b.strip_suffix('\r').unwrap_or(b), "\n"),
            None => (line, ""),
        };
        let styled = if body.starts_with("+++") || body.starts_with("---") {
            s.bold(body)
        } else if body.starts_with('+') {
            s.ok(body)
        } else if body.starts_with('-') {
            s.error(body)
        } else if body.starts_with("@@") {
            s.dim(body)
        } else {
            body.to_string()
        };
        out.push_str(&styled);
        out.push_str(nl);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_is_unified() {
        let d = diff("a\nb\n", "a\nc\n", "environment.yml");
        assert!(
            d.contains("--- environment.yml\n+++ environment.yml\n"),
            "{d}"
        );
        assert!(d.contains("-b\n+c\n"), "{d}");
    }
}
