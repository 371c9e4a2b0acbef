//! The heavy half of the documentation checks (run by `tests/heavy/run.sh`): `doctor --json` with
//! the runtime probe on real prefixes validated against the schema, and README.md's blocks that
//! show real runs (doctor with the probe, a real switch with `apply`, `bench` before and after)
//! regenerated and compared as in `readme.rs`.

use std::path::{Path, PathBuf};

use crate::readme::{Block, check, replace_paths, this_vendor};
use crate::schema::{assert_valid, doctor_json, doctor_validator};
use crate::support::{blasfix, heavy_dir};

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_doctor_json_matches_the_schema_with_the_probe() {
    let Some(h) = heavy_dir() else { return };
    let v = doctor_validator();
    for (rel, want) in [
        ("prefixes/openblas", "openblas"),
        ("prefixes/mkl", "mkl"),
        ("venv-pypi", "openblas"),
        ("mkl-venv", "none"),
    ] {
        let prefix = h.join(rel);
        assert!(
            prefix.is_dir(),
            "{} missing: rerun tests/heavy/run.sh",
            prefix.display()
        );
        let doc = doctor_json(&prefix, None, &[]);
        assert_valid(&v, &doc, rel);
        if want != "none" {
            assert_eq!(
                doc["runtime"]["error"],
                serde_json::Value::Null,
                "{rel}: {}",
                doc["runtime"]
            );
            assert_eq!(doc["blas"]["loaded"], want, "{rel}");
            assert_eq!(doc["blas"]["decided_by"], "loaded", "{rel}");
            assert!(
                doc["linkage"]["chains"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty()),
                "{rel}"
            );
        }
    }
}

/// `fake_conda.py` (a real py-rattler solve and install) behind a `conda` script, and a fresh
/// OpenBLAS prefix `~/envs/ml` made by it from the heavy channel.
struct Rig {
    _t: tempfile::TempDir,
    home: PathBuf,
    prefix: PathBuf,
    conda: PathBuf,
    channel: PathBuf,
}

fn rig(h: &Path) -> Rig {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    std::fs::create_dir_all(home.join("envs")).unwrap();
    let conda = crate::heavy_apply::conda_wrapper(h, &t.path().join("bin"));
    let channel = h.join("channel");
    let prefix = home.join("envs/ml");
    crate::heavy_apply::create_numpy_prefix(&conda, &channel, &prefix);
    Rig {
        _t: t,
        home,
        prefix,
        conda,
        channel,
    }
}

fn stdout(cmd: &mut assert_cmd::Command, what: &str) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "heavy: needs BLASFIX_HEAVY_DIR; tests/heavy/run.sh runs it"]
fn heavy_readme_outputs_are_current() {
    let Some(h) = heavy_dir() else { return };
    let vendor = Some(this_vendor());
    let mut blocks = Vec::new();
    let real = |rel: &str| h.join(rel);
    let heavy_paths = |s: &str| replace_paths(s, &[(&h, "$H")]);

    let out = stdout(
        blasfix()
            .args(["doctor", "-p"])
            .arg(real("prefixes/openblas")),
        "doctor",
    );
    blocks.push(Block {
        name: "doctor-real",
        command: "blasfix doctor -p $H/prefixes/openblas".into(),
        output: heavy_paths(&out),
        vendor,
    });

    let r = rig(&h);
    let paths = |s: &str| {
        replace_paths(
            s,
            &[
                (&r.prefix, "~/envs/ml"),
                (&r.conda, "conda"),
                (&r.home, "~"),
                (&h, "$H"),
            ],
        )
    };
    // stdout only: a busy machine is reported on stderr, so the capture does not depend on
    // the load.
    let bench = |what: &str| {
        let out = stdout(
            blasfix().args(["bench", "--quick", "-p"]).arg(&r.prefix),
            what,
        );
        paths(&out)
    };
    blocks.push(Block {
        name: "bench-before",
        command: "blasfix bench --quick -p ~/envs/ml".into(),
        output: bench("bench before"),
        vendor,
    });
    let apply = |extra: &str| {
        let mut c = blasfix();
        c.env("HOME", &r.home)
            .env("CONDA_EXE", &r.conda)
            .env("FAKE_CONDA_CHANNELS", &r.channel)
            .args(["apply", "--backend", "mkl", extra, "-p"])
            .arg(&r.prefix);
        c
    };
    blocks.push(Block {
        name: "apply-dry-run",
        command: "blasfix apply --backend mkl --dry-run -p ~/envs/ml".into(),
        output: paths(&stdout(&mut apply("--dry-run"), "apply --dry-run")),
        // MKL on a non-Intel CPU adds a warning to the plan.
        vendor,
    });
    blocks.push(Block {
        name: "apply-real",
        command: "blasfix apply --backend mkl --yes -p ~/envs/ml".into(),
        output: paths(&stdout(&mut apply("--yes"), "apply --yes")),
        vendor,
    });
    blocks.push(Block {
        name: "bench-after",
        command: "blasfix bench --quick -p ~/envs/ml".into(),
        output: bench("bench after"),
        vendor,
    });
    check(&blocks);
}
