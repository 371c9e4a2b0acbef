//! The stage summary (`.ci/test-stage`; the skip itself is tested in
//! `blasfix::testing::skip`) and the rules every test
//! file follows so that no skip passes for a success: heavy tests are `#[ignore = "heavy: ..."]`,
//! every `#[ignore]` gives its reason, and no test skips by printing a note and returning.

use std::path::{Path, PathBuf};

use crate::support::{Need, program};

fn stage_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/test-stage")
}

/// `.ci/test-stage` counts libtest's ignored and failed tests and the logged runtime skips
/// (which libtest counted as passed), lists each skip, and ends with the summary line.
#[test]
fn test_stage_ends_with_run_failed_skipped_and_reasons() {
    let Some(bash) = program("bash", Need::Ci) else {
        return;
    };
    let fake_cargo = r#"
printf 'running 5 tests\n'
printf 'test heavy_a ... ignored, heavy: needs X\n'
printf 'test m::b ... ok\n'
printf 'm::b\tzsh is not on PATH\n' >> "$BLASFIX_SKIP_LOG"
printf 'test m::c ... FAILED\n'
printf 'test result: FAILED. 3 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.1s\n'
printf 'test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.0s\n'
exit 101
"#;
    let out = std::process::Command::new(bash)
        .arg(stage_script())
        .args(["demo", "--", "sh", "-c", fake_cargo])
        .env_remove("BLASFIX_SKIP_LOG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(101), "{text}");
    let tail: Vec<&str> = text.lines().rev().take(4).collect();
    assert_eq!(
        tail,
        [
            "== demo: 5 run, 1 failed, 2 skipped (1x heavy: needs X; 1x zsh is not on PATH)",
            "-- FAILED m::c",
            "-- skipped m::b: zsh is not on PATH",
            "-- skipped heavy_a: heavy: needs X",
        ],
        "{text}"
    );
}

/// Every `.rs` file under `tests/it` and `src` (unit tests live beside the code).
fn test_sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("tests/it"), root.join("src")];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for p in std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()) {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                files.push((p, text));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_skip_is_visible() {
    let mut wrong = Vec::new();
    for (path, text) in test_sources() {
        let name = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&path)
            .display()
            .to_string();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if t.starts_with("#[ignore") && !t.starts_with("#[ignore = \"") {
                wrong.push(format!("{name}:{}: #[ignore] without a reason", i + 1));
            }
            if t.starts_with("fn heavy_") && t.ends_with("() {") {
                let attrs = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| l.trim().starts_with("#["));
                if !attrs
                    .into_iter()
                    .any(|l| l.contains("#[ignore = \"heavy: "))
                {
                    wrong.push(format!(
                        "{name}:{}: heavy test without #[ignore = \"heavy: ...\"]",
                        i + 1
                    ));
                }
            }
            // The old silent pattern: a note on stderr (captured, so unseen) and an early return.
            let lower = t.to_lowercase();
            if !name.ends_with("support.rs")
                && lower.contains("eprintln!")
                && (lower.contains("skipped") || lower.contains("skipping"))
            {
                wrong.push(format!(
                    "{name}:{}: a skip printed with eprintln! is invisible; use support::skip",
                    i + 1
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
