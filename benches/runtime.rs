//! `cargo bench --bench runtime`: full `blasfix doctor --json` (runtime probe included) against
//! `python -c "import numpy, threadpoolctl; threadpoolctl.threadpool_info()"` in the same
//! environment; fails when the doctor takes more than 1.0x that. In an environment without
//! threadpoolctl the baseline imports a copy of threadpoolctl's single module through
//! PYTHONPATH (from `venv-sci`), so the baseline is the same work everywhere; the doctor runs
//! the environment as it is.
//!
//! The environments come from `tests/heavy/run.sh` (`$BLASFIX_HEAVY_DIR`: PyPI NumPy 1.24, 1.26
//! and 2.x, NumPy + SciPy + scikit-learn, an old threadpoolctl, a --system-site-packages venv,
//! the conda OpenBLAS and MKL prefixes) plus Debian's own `/usr`, or `BLASFIX_BENCH_PREFIX=<prefix>`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 15;
const MAX_RATIO: f64 = 1.0;
const BASELINE: &str = "import numpy, threadpoolctl; threadpoolctl.threadpool_info()";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(cmd: &mut Command) -> Result<Duration, String> {
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    let t = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(t)
}

fn python_of(prefix: &Path) -> Option<PathBuf> {
    ["bin/python3", "bin/python", "python.exe"]
        .iter()
        .map(|p| prefix.join(p))
        .find(|p| p.exists())
}

fn has_threadpoolctl(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import threadpoolctl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A directory holding only threadpoolctl.py, copied from the heavy dir's venv-sci.
fn threadpoolctl_dir(heavy: Option<&Path>) -> Option<tempfile::TempDir> {
    let lib = heavy?.join("venv-sci/lib");
    let src = std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages/threadpoolctl.py"))
        .find(|p| p.exists())?;
    let dir = tempfile::tempdir().ok()?;
    std::fs::copy(&src, dir.path().join("threadpoolctl.py")).ok()?;
    Some(dir)
}

/// Alternate the two commands so that load changes hit both alike.
fn measure(
    prefix: &Path,
    tpc: Option<&Path>,
) -> Result<(Duration, Duration, &'static str), String> {
    let python = python_of(prefix).ok_or_else(|| format!("{}: no python", prefix.display()))?;
    let own = has_threadpoolctl(&python);
    let how = if own { "own" } else { "copied" };
    if !own && tpc.is_none() {
        return Err("no threadpoolctl to import for the baseline (venv-sci missing)".into());
    }
    let blasfix = env!("CARGO_BIN_EXE_blasfix");
    let baseline = || {
        let mut c = Command::new(&python);
        c.args(["-c", BASELINE]);
        if !own && let Some(dir) = tpc {
            c.env("PYTHONPATH", dir);
        }
        c
    };
    let doctor = || {
        let mut c = Command::new(blasfix);
        c.args(["doctor", "--json", "-p"]).arg(prefix);
        c
    };
    // Warm the page cache and Python's bytecode cache.
    for _ in 0..2 {
        time(&mut baseline())?;
        time(&mut doctor())?;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        a.push(time(&mut baseline())?);
        b.push(time(&mut doctor())?);
    }
    Ok((median(a), median(b), how))
}

fn main() -> ExitCode {
    let heavy = std::env::var_os("BLASFIX_HEAVY_DIR").map(PathBuf::from);
    let prefixes: Vec<PathBuf> = match (std::env::var_os("BLASFIX_BENCH_PREFIX"), &heavy) {
        (Some(p), _) => vec![PathBuf::from(p)],
        (None, Some(h)) => [
            "venv-pypi",
            "venv-np124",
            "venv-np126",
            "venv-sci",
            "venv-oldtpc",
            "venv-syssite",
            "prefixes/openblas",
            "prefixes/mkl",
        ]
        .iter()
        .map(|p| h.join(p))
        .chain(
            Path::new("/usr/lib/python3/dist-packages/numpy")
                .is_dir()
                .then(|| PathBuf::from("/usr")),
        )
        .collect(),
        (None, None) => {
            eprintln!(
                "runtime bench: set BLASFIX_HEAVY_DIR (tests/heavy/run.sh --setup-only) or \
                 BLASFIX_BENCH_PREFIX to an environment with NumPy"
            );
            return ExitCode::from(2);
        }
    };
    let tpc = threadpoolctl_dir(heavy.as_deref());
    let mut ok = true;
    println!(
        "{:<22} {:>13} {:>11} {:>7}  threadpoolctl",
        "environment", "baseline", "doctor", "ratio"
    );
    for p in &prefixes {
        let name = p
            .strip_prefix(heavy.as_deref().unwrap_or(Path::new("/nonexistent")))
            .unwrap_or(p)
            .display()
            .to_string();
        match measure(p, tpc.as_ref().map(|d| d.path())) {
            Ok((base, doctor, how)) => {
                let ratio = doctor.as_secs_f64() / base.as_secs_f64();
                let verdict = if ratio <= MAX_RATIO { "ok" } else { "OVER" };
                ok &= ratio <= MAX_RATIO;
                println!(
                    "{name:<22} {:>10.1} ms {:>8.1} ms {ratio:>6.2}x  {how:<6} {verdict}",
                    base.as_secs_f64() * 1e3,
                    doctor.as_secs_f64() * 1e3,
                );
            }
            Err(e) => {
                ok = false;
                println!("{name}: {e}");
            }
        }
    }
    println!(
        "target: doctor <= {MAX_RATIO}x `python -c \"{BASELINE}\"` (median of {RUNS}, alternated)"
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
