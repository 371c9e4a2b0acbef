//! Man pages generated from the clap definitions (`blasfix.1` and one `blasfix-<cmd>.1` per
//! visible command). The committed copies live in `man/`; `tests/it/ship.rs` fails when they
//! drift. Update them with `BLASFIX_UPDATE_MAN=1 cargo test --test it ship::man_pages` (readers
//! running meanwhile see the old page or the new one, never a missing or half-written one).
//! (Not a hidden subcommand: clap_complete would offer it in every completion script.)

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// Every page as (file name, roff text). The version is the crate version without the git
/// commit, so the pages change only when the interface or the release changes.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(&cmd, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn collect(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, out);
    }
    let man = clap_mangen::Man::new(cmd.clone()).manual("blasfix manual");
    let mut text = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = man.render(&mut text);
    out.push((man.get_filename(), text));
}

/// Write every page into `dir` (created if missing), each through a temporary file renamed
/// over the old page, then remove `blasfix*.1` pages the CLI no longer defines; returns the
/// paths written.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the man page directory {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, text) in pages() {
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .with_context(|| format!("writing the man page {}", path.display()))?;
        written.push(path);
    }
    let stale = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("blasfix") && n.ends_with(".1"))
                && !written.contains(p)
        })
        .collect::<Vec<_>>();
    for p in stale {
        std::fs::remove_file(&p)
            .with_context(|| format!("removing the old page {}", p.display()))?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_command_without_the_commit() {
        let pages = pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "blasfix.1",
            "blasfix-doctor.1",
            "blasfix-explain.1",
            "blasfix-apply.1",
            "blasfix-pin.1",
            "blasfix-bench.1",
            "blasfix-completions.1",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("generate-man")));
        let (_, top) = pages
            .iter()
            .find(|(n, _)| n == "blasfix.1")
            .expect("top page");
        let top = String::from_utf8_lossy(top);
        let th = top
            .lines()
            .find(|l| l.starts_with(".TH"))
            .expect(".TH line");
        let want = format!(
            ".TH blasfix 1  \"blasfix {}\" \"blasfix manual\"",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(th, want, "the page version must not carry the git commit");
    }
}
