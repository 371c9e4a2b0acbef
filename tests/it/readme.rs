//! README.md's output blocks cannot drift from what blasfix prints: every block between
//! `<!-- output: NAME -->` and `<!-- /output -->` is regenerated here (fixture prefixes, plain
//! `cargo test`) or in `heavy_docs.rs` (real prefixes, `tests/heavy/run.sh`) and compared.
//!
//! The comparison is on words after [`normalise`]: the Machine section's values and every run of
//! digits are masked and line wrapping is ignored, so the check passes on another machine of the
//! same kind (other CPU model, core count, temp paths, library versions) but fails when a label,
//! a section, a sentence or the order of things changes. Blocks marked `(vendor: X)` also hold
//! findings that depend on the CPU vendor; on a machine of another vendor only the part before
//! `Findings` is compared. With `BLASFIX_UPDATE_README=1` the blocks are rewritten instead.

// The fixture blocks run blasfix through `sh` (no shell under Wine): on Windows only the
// contracts and the README helpers that other modules use are compiled.
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::path::{Path, PathBuf};

use blasfix::diagnose::recommend;
use blasfix::diagnose::rules;
use blasfix::facts::Facts;
use blasfix::facts::cpu::{CpuFacts, VendorFamily};
use blasfix::facts::snapshot::EnvSnapshot;
use blasfix::facts::{self, envs, threads};
use blasfix::render::explain::{self, Topic};
use blasfix::render::report;
use blasfix::testing::CONDA_FORGE;

use crate::doctor::{conda_forge_env, home_with_condarc};
use crate::support::blasfix;

pub const BEGIN: &str = "<!-- output: ";
pub const END: &str = "<!-- /output -->";

pub fn readme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

pub fn readme() -> String {
    std::fs::read_to_string(readme_path()).expect("README.md")
}

/// One generated block: its name, the command line shown above the output, the output, and
/// the vendor family of this machine when the output depends on it.
pub struct Block {
    pub name: &'static str,
    pub command: String,
    pub output: String,
    pub vendor: Option<&'static str>,
}

impl Block {
    fn body(&self) -> String {
        format!("```text\n$ {}\n{}```\n", self.command, self.output)
    }
    fn header(&self) -> String {
        match self.vendor {
            Some(v) => format!("{BEGIN}{} (vendor: {v}) -->", self.name),
            None => format!("{BEGIN}{} -->", self.name),
        }
    }
}

/// This machine's CPU vendor family, as JSON names it.
pub fn this_vendor() -> &'static str {
    match blasfix::facts::cpu::detect().vendor_family {
        VendorFamily::Intel => "intel",
        VendorFamily::Amd => "amd",
        VendorFamily::Hygon => "hygon",
        VendorFamily::Zhaoxin => "zhaoxin",
        VendorFamily::Apple => "apple",
        VendorFamily::Arm => "arm",
        VendorFamily::Other => "other",
    }
}

/// Words of a block with machine-specific values masked (see the module doc).
pub fn normalise(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_machine = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_machine = line.trim() == "Machine";
        } else if in_machine {
            // Keep the label (`CPU`, `SIMD`, ...), mask the value.
            if let Some(label) = line.get(2..13).map(str::trim).filter(|l| !l.is_empty()) {
                out.push(label.to_string());
            }
            continue;
        }
        let mut after_core = false;
        for word in line.split_whitespace() {
            // OpenBLAS's kernel name (`core Haswell`) is the CPU's, like the Machine section.
            if std::mem::replace(&mut after_core, word == "core") {
                out.push("<core>".into());
                continue;
            }
            let mut w = String::new();
            let mut digit = false;
            for c in word.chars() {
                // A number is a run of digits and dots (`0.3.21`, `58.4`, `100`).
                if c.is_ascii_digit() || (digit && c == '.') {
                    if !digit {
                        w.push('0');
                    }
                    digit = true;
                } else {
                    w.push(c);
                    digit = false;
                }
            }
            out.push(w);
        }
    }
    out
}

/// The part of a vendor-dependent block that every vendor shares: what comes before the
/// findings, without the plan's warnings (`apply` warns about MKL on a non-Intel CPU).
fn before_findings(text: &str) -> String {
    let head = text.find("\nFindings\n").map_or(text, |i| &text[..i]);
    head.split_inclusive('\n')
        .filter(|l| !l.starts_with("  warning: "))
        .collect()
}

/// The README's blocks, by name: (name, header line, body). Markers count only at the start
/// of a line (prose may quote them).
fn readme_blocks(readme: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String, String)> = None;
    for line in readme.split_inclusive('\n') {
        match &mut open {
            None if line.starts_with(BEGIN) => {
                let header = line.trim_end().to_string();
                let name = header[BEGIN.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                open = Some((name, header, String::new()));
            }
            None => {}
            Some(_) if line.starts_with(END) => out.extend(open.take()),
            Some((_, _, body)) => body.push_str(line),
        }
    }
    assert!(
        open.is_none(),
        "README: an output block is not closed with {END}"
    );
    out
}

/// Compare the blocks with the README (or rewrite them with `BLASFIX_UPDATE_README=1`).
pub fn check(blocks: &[Block]) {
    let path = readme_path();
    let mut text = readme();
    let update = std::env::var_os("BLASFIX_UPDATE_README").is_some_and(|v| v == "1");
    let here = this_vendor();
    let mut failures = Vec::new();
    for b in blocks {
        let found = readme_blocks(&text)
            .into_iter()
            .find(|(n, _, _)| n == b.name);
        if update {
            let Some((_, header, body)) = found else {
                failures.push(format!(
                    "README.md has no block `{}{} -->`: add the marker pair where it belongs",
                    BEGIN, b.name
                ));
                continue;
            };
            let old = format!("{header}\n{body}");
            text = text.replacen(&old, &format!("{}\n{}", b.header(), b.body()), 1);
            continue;
        }
        let Some((_, header, body)) = found else {
            failures.push(format!("README.md lacks the block `{}`", b.header()));
            continue;
        };
        let want = b.body();
        let vendor_of_readme = header
            .split("(vendor: ")
            .nth(1)
            .and_then(|s| s.split(')').next());
        let (a, w) = match vendor_of_readme {
            Some(v) if v != here => {
                eprintln!(
                    "note: README block {} was captured on {v}, this machine is {here}: comparing up to Findings",
                    b.name
                );
                (before_findings(&body), before_findings(&want))
            }
            _ => (body.clone(), want.clone()),
        };
        let (na, nw) = (normalise(&a), normalise(&w));
        if na != nw {
            let at = na.iter().zip(&nw).take_while(|(x, y)| x == y).count();
            let ctx = |v: &[String]| v[at.saturating_sub(6)..(at + 6).min(v.len())].join(" ");
            failures.push(format!(
                "README block `{}` differs from what blasfix prints now\n  README: ...{}...\n  now:    ...{}...\nnow prints:\n{}",
                b.name,
                ctx(&na),
                ctx(&nw),
                want
            ));
        }
    }
    if update {
        std::fs::write(&path, &text).expect("write README.md");
    }
    assert!(
        failures.is_empty(),
        "{}\n\nRegenerate with: BLASFIX_UPDATE_README=1 cargo test --test it readme_ (and \
         BLASFIX_HEAVY_DIR=... cargo test --test it heavy_readme -- --ignored for the heavy \
         blocks), then review the diff.",
        failures.join("\n\n")
    );
}

/// Replace each `(from, to)` in order (longest paths first is the caller's job).
pub fn replace_paths(text: &str, pairs: &[(&Path, &str)]) -> String {
    let mut s = text.to_string();
    for (from, to) in pairs {
        s = s.replace(&from.display().to_string(), to);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Fixture blocks

/// The `.condarc` the Tsinghua mirror's help page tells users to write.
pub const TUNA_CONDARC: &str = "\
channels:
  - defaults
show_channel_urls: true
default_channels:
  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main
  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/r
  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/msys2
custom_channels:
  conda-forge: https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud
  pytorch: https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud
";
pub const TUNA_CF: &str = "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge";

/// `~` (HOME with the TUNA .condarc) and `~/envs/ml` (conda-forge's NumPy and OpenBLAS, records
/// downloaded from the TUNA mirror).
struct Tuna {
    _t: tempfile::TempDir,
    home: PathBuf,
    prefix: PathBuf,
}

fn tuna() -> Tuna {
    let t = tempfile::tempdir().unwrap();
    let home = home_with_condarc(t.path(), TUNA_CONDARC);
    let prefix = conda_forge_env(&home, TUNA_CF);
    Tuna {
        _t: t,
        home,
        prefix,
    }
}

fn run(home: &Path, args: &[&str], prefix: &Path, vars: &[(&str, &str)]) -> String {
    let mut cmd = blasfix();
    cmd.env("HOME", home);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.args(args).arg("-p").arg(prefix).output().unwrap();
    assert!(
        out.status.success(),
        "blasfix {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A 28-core Ice Lake Xeon (the Tsinghua walk-through's machine; this one may be anything).
pub fn intel_xeon() -> CpuFacts {
    CpuFacts {
        arch: "x86_64".into(),
        vendor: "GenuineIntel".into(),
        vendor_family: VendorFamily::Intel,
        brand: Some("Intel(R) Xeon(R) Gold 6330 CPU @ 2.00GHz".into()),
        microarch: Some("icelake".into()),
        simd: [
            "sse4_2",
            "avx",
            "avx2",
            "fma",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512_vnni",
        ]
        .map(String::from)
        .to_vec(),
        logical_cpus: 56,
        physical_cores: Some(28),
        usable_cpus: 56,
        affinity_cpus: Some(56),
        subdir: "linux-64".into(),
        process_subdir: "linux-64".into(),
        ..Default::default()
    }
}

/// A 64-CPU EPYC host seen from inside `docker run --cpus=2`.
pub fn epyc_container() -> CpuFacts {
    CpuFacts {
        arch: "x86_64".into(),
        vendor: "AuthenticAMD".into(),
        vendor_family: VendorFamily::Amd,
        brand: Some("AMD EPYC 7B13 64-Core Processor".into()),
        microarch: Some("zen3".into()),
        simd: ["sse4_2", "avx", "avx2", "fma"].map(String::from).to_vec(),
        logical_cpus: 64,
        physical_cores: Some(32),
        usable_cpus: 2,
        affinity_cpus: Some(64),
        cpu_quota: Some(2.0),
        cpu_quota_source: Some("/sys/fs/cgroup/cpu.max".into()),
        subdir: "linux-64".into(),
        process_subdir: "linux-64".into(),
        ..Default::default()
    }
}

/// The facts blasfix reads from `prefix` with HOME `home`, on the machine `cpu` instead of
/// this one; rendered by blasfix's own renderers (the facts are what the binary would gather).
fn facts_on(cpu: CpuFacts, home: &Path, prefix: &Path) -> Facts {
    let env = EnvSnapshot::from_pairs([]).with_home(home);
    let sel = envs::Selector {
        prefix: Some(prefix.to_path_buf()),
        ..Default::default()
    };
    let mut f = facts::gather(&sel, &env, None).expect("gather");
    f.threads = threads::from_env(&env, &cpu);
    f.machine = cpu;
    f
}

fn doctor_text(f: &Facts) -> String {
    console::set_colors_enabled(false);
    report::human(
        f,
        &rules::evaluate(f),
        &recommend::recommend(f),
        false,
        false,
    )
}

/// Blocks that need only fixtures: plain `cargo test` checks them.
#[cfg(unix)]
pub fn fixture_blocks() -> Vec<Block> {
    let t = tuna();
    let paths = |s: &str| replace_paths(s, &[(&t.prefix, "~/envs/ml"), (&t.home, "~")]);
    let mut blocks = Vec::new();

    let out = run(
        &t.home,
        &["explain", "mirrors", "--no-runtime"],
        &t.prefix,
        &[],
    );
    blocks.push(Block {
        name: "explain-mirrors",
        command: "blasfix explain mirrors -p ~/envs/ml".into(),
        output: paths(&out),
        vendor: None,
    });

    let intel = facts_on(intel_xeon(), &t.home, &t.prefix);
    blocks.push(Block {
        name: "guide-tuna-doctor",
        command: "blasfix doctor --no-runtime -p ~/envs/ml".into(),
        output: paths(&doctor_text(&intel)),
        vendor: None,
    });

    let cf = tempfile::tempdir().unwrap();
    let home = home_with_condarc(cf.path(), "channels:\n  - conda-forge\n");
    let prefix = conda_forge_env(&home, CONDA_FORGE);
    let container = facts_on(epyc_container(), &home, &prefix);
    let text = doctor_text(&container);
    let paths = |s: &str| replace_paths(s, &[(&prefix, "/opt/conda/envs/ml"), (&home, "~")]);
    blocks.push(Block {
        name: "guide-container-doctor",
        command: "blasfix doctor --no-runtime -p /opt/conda/envs/ml".into(),
        output: paths(&text),
        vendor: None,
    });
    let f = facts_on(epyc_container(), &home, &prefix);
    blocks.push(Block {
        name: "guide-container-threads",
        command: "blasfix explain threads --no-runtime -p /opt/conda/envs/ml".into(),
        output: paths(&explain::render(
            &f,
            &recommend::recommend(&f),
            Topic::Threads,
        )),
        vendor: None,
    });

    // pin: an environment.yml edited in place; stdout and stderr as a terminal shows them.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("environment.yml"), ENV_YML).unwrap();
    for (name, args) in [
        ("pin-env-yml", "pin --backend mkl --yes environment.yml"),
        ("pin-lines", "pin --backend mkl"),
    ] {
        // blasfix (under the cross runner when there is one, support::runner) with stdout and
        // stderr interleaved as a terminal shows them.
        let mut argv = crate::support::runner().unwrap_or_default();
        argv.push(env!("CARGO_BIN_EXE_blasfix").to_string());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec \"$@\" {args} 2>&1"))
            .arg("sh")
            .args(&argv)
            .current_dir(d.path())
            .env("HOME", d.path())
            .env("NO_COLOR", "1")
            .env_remove("CONDA_PREFIX")
            .env_remove("VIRTUAL_ENV")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        blocks.push(Block {
            name,
            command: format!("blasfix {args}"),
            output: String::from_utf8(out.stdout).unwrap(),
            vendor: None,
        });
    }
    blocks
}

/// The environment file the `pin` example edits.
pub const ENV_YML: &str = "\
name: ml
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy  # the array library
  - scipy
";

#[cfg(unix)]
#[test]
fn readme_fixture_outputs_are_current() {
    check(&fixture_blocks());
}

#[test]
fn readme_keeps_its_contracts() {
    let r = readme();
    for needle in [
        "cargo test",
        "`.ci/run` runs both",
        "tests/heavy/run.sh",
        "cargo bench --bench doctor",
        "cargo bench --bench runtime",
        "BLASFIX_UPDATE_README=1",
        "heavy_readme -- --ignored",
        "<!-- check: fresh-home -->",
        ".ci/readme-commands",
        ".ci/test-stage",
        "skip(Need::Ci",
        "#[ignore = \"reason\"]",
        "templates/schema/doctor.schema.json",
        "## Exit codes",
    ] {
        assert!(
            r.contains(needle),
            "README.md no longer mentions {needle:?}"
        );
    }
    for cmd in ["doctor", "explain", "apply", "pin", "bench"] {
        assert!(
            r.contains(&format!("### `blasfix {cmd}")),
            "README.md has no section for `blasfix {cmd}`"
        );
    }
    // Every exit code the CLI documents is in the README's table.
    for code in ["| 0 |", "| 1 |", "| 2 |", "| 3 |"] {
        assert!(r.contains(code), "exit code row {code} missing");
    }
    // Every block has its end marker, and names are unique.
    let blocks = readme_blocks(&r);
    let mut names: Vec<&str> = blocks.iter().map(|(n, _, _)| n.as_str()).collect();
    names.sort();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "duplicate README output block names");
}

#[test]
fn normalise_masks_machine_values_digits_and_wrapping() {
    let a = "Machine\n  CPU        AMD EPYC (AuthenticAMD, x86_64_v4)\n  Cores      2 logical\n\nBLAS\n  Loaded     OpenBLAS 0.3.21, 2 threads\n";
    let b = "Machine\n  CPU        Intel Xeon\n             more\n  Cores      56 logical\n\nBLAS\n  Loaded     OpenBLAS 0.3.27,\n             16 threads\n";
    assert_eq!(normalise(a), normalise(b));
    let c = "Machine\n  CPU        x\n\nBLAS\n  Loaded     OpenBLAS 0.3.21, 2 cores\n";
    assert_ne!(normalise(a), normalise(c), "a changed word is a change");
}
