//! The same records give the same verdict on every platform: one table of environments (conda
//! win-64 and linux-64 layouts, conda-forge and defaults, a pip venv), each built the same way
//! and read by `blasfix doctor --json --no-runtime`. The table is checked natively on Linux and,
//! by the Windows stage of .ci/cross, by the Windows build under Wine and the aarch64 build
//! under qemu: a verdict that differs by platform fails one of them. Findings that depend on
//! the CPU running the test (vendor, cores) are left out of the comparison.

use blasfix::testing::{CONDA_FORGE, PKGS_MAIN, PrefixBuilder, RecordSpec};
use serde_json::Value;

use crate::support::blasfix;

/// Finding ids that follow the machine rather than the records.
const MACHINE_FINDINGS: &[&str] = &[
    "openblas-on-intel",
    "openblas-on-intel-pip",
    "mkl-on-non-intel",
    "openblas-weak-core",
    "threads-oversubscribed",
];

struct Case {
    name: &'static str,
    build: fn(PrefixBuilder) -> PrefixBuilder,
    /// blas.implementation, blas.family, the remaining finding ids (sorted).
    expect: (&'static str, &'static str, &'static [&'static str]),
}

fn cf_stack(b: PrefixBuilder, subdir: &str, build: &str) -> PrefixBuilder {
    let mut b = b;
    for n in ["libblas", "libcblas", "liblapack"] {
        b = b.record(
            RecordSpec::new(n, "3.9.0", build)
                .channel(CONDA_FORGE)
                .subdir(subdir),
        );
    }
    b.record(
        RecordSpec::new("numpy", "2.1.3", "py312h49bc9c5_0")
            .channel(CONDA_FORGE)
            .subdir(subdir)
            .depends(&["libblas >=3.9.0,<4.0a0", "libcblas >=3.9.0,<4.0a0"]),
    )
    .numpy_files("2.1.3", "")
}

fn defaults_mkl(b: PrefixBuilder, subdir: &str) -> PrefixBuilder {
    b.record(
        RecordSpec::new("blas", "1.0", "mkl")
            .channel(PKGS_MAIN)
            .subdir(subdir),
    )
    .record(
        RecordSpec::new("mkl", "2023.1.0", "h6b88ed4_46358")
            .channel(PKGS_MAIN)
            .subdir(subdir),
    )
    .record(
        RecordSpec::new("numpy-base", "1.26.4", "py311hd01c5d8_0")
            .channel(PKGS_MAIN)
            .subdir(subdir)
            .depends(&["blas 1.0 mkl", "mkl >=2023.1.0,<2024.0a0"]),
    )
    .record(
        RecordSpec::new("numpy", "1.26.4", "py311hdab7c0b_0")
            .channel(PKGS_MAIN)
            .subdir(subdir)
            .depends(&["numpy-base 1.26.4 py311hd01c5d8_0"]),
    )
    .numpy_files("1.26.4", "")
}

const CASES: &[Case] = &[
    Case {
        name: "conda-forge win-64 mkl",
        build: |b| cf_stack(b.windows_layout(), "win-64", "31_h641d27c_mkl"),
        expect: ("mkl", "conda-forge", &[]),
    },
    Case {
        name: "conda-forge win-64 openblas",
        build: |b| cf_stack(b.windows_layout(), "win-64", "31_h5b2b0c0_openblas"),
        expect: ("openblas", "conda-forge", &[]),
    },
    Case {
        name: "conda-forge linux-64 openblas",
        build: |b| cf_stack(b, "linux-64", "31_h59b9bed_openblas"),
        expect: ("openblas", "conda-forge", &[]),
    },
    Case {
        name: "defaults win-64 mkl",
        build: |b| defaults_mkl(b.windows_layout(), "win-64"),
        expect: ("mkl", "defaults", &[]),
    },
    Case {
        name: "pip venv win_amd64",
        build: |b| {
            b.windows_layout()
                .venv("3.12.7")
                .pip_dist("numpy", "2.1.3", "pip", &["cp312-cp312-win_amd64"])
                .numpy_files("2.1.3", "")
                .bundled_lib("numpy.libs/libscipy_openblas64_-fb1711452d4d8cee9f276fd1449ee5c7.dll")
        },
        expect: ("openblas", "pip", &[]),
    },
];

#[test]
fn same_records_same_verdict_on_every_platform() {
    let t = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let prefix = (case.build)(PrefixBuilder::new(t.path().join(format!("env{i}"))))
            .build()
            .unwrap();
        let out = blasfix()
            .args(["doctor", "--json", "--no-runtime", "-p"])
            .arg(&prefix)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut ids: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["id"].as_str())
            .filter(|id| !MACHINE_FINDINGS.contains(id))
            .map(str::to_string)
            .collect();
        ids.sort();
        let got = (
            v["blas"]["implementation"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            v["blas"]["family"].as_str().unwrap_or("").to_string(),
            ids,
        );
        let (imp, family, want_ids) = case.expect;
        let want = (
            imp.to_string(),
            family.to_string(),
            want_ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
