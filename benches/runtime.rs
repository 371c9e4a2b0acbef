//! `cargo bench --bench runtime`: full `blasfix doctor --json` (runtime probe included) against
//! `python -c "import numpy"` in the same environment; fails when the doctor takes more than
//! 1.15x the import. The environments come from `tests/heavy/run.sh` (`$BLASFIX_HEAVY_DIR`:
//! `venv-pypi`, `prefixes/openblas`, `prefixes/mkl`) or `BLASFIX_BENCH_PREFIX=<prefix>`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 15;
const MAX_RATIO: f64 = 1.15;

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

/// Alternate the two commands so that load changes hit both alike.
fn measure(prefix: &Path) -> Result<(Duration, Duration), String> {
    let python = python_of(prefix).ok_or_else(|| format!("{}: no python", prefix.display()))?;
    let blasfix = env!("CARGO_BIN_EXE_blasfix");
    let import = || {
        let mut c = Command::new(&python);
        c.args(["-c", "import numpy"]);
        c
    };
    let doctor = || {
        let mut c = Command::new(blasfix);
        c.args(["doctor", "--json", "-p"]).arg(prefix);
        c
    };
    // Warm the page cache and Python's bytecode cache.
    for _ in 0..2 {
        time(&mut import())?;
        time(&mut doctor())?;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        a.push(time(&mut import())?);
        b.push(time(&mut doctor())?);
    }
    Ok((median(a), median(b)))
}

fn main() -> ExitCode {
    let prefixes: Vec<PathBuf> = match (
        std::env::var_os("BLASFIX_BENCH_PREFIX"),
        std::env::var_os("BLASFIX_HEAVY_DIR"),
    ) {
        (Some(p), _) => vec![PathBuf::from(p)],
        (None, Some(h)) => ["venv-pypi", "prefixes/openblas", "prefixes/mkl"]
            .iter()
            .map(|p| Path::new(&h).join(p))
            .collect(),
        (None, None) => {
            eprintln!(
                "runtime bench: set BLASFIX_HEAVY_DIR (tests/heavy/run.sh --setup-only) or \
                 BLASFIX_BENCH_PREFIX to an environment with NumPy"
            );
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    println!(
        "{:<40} {:>12} {:>12} {:>7}",
        "environment", "import numpy", "doctor", "ratio"
    );
    for p in &prefixes {
        match measure(p) {
            Ok((import, doctor)) => {
                let ratio = doctor.as_secs_f64() / import.as_secs_f64();
                let verdict = if ratio <= MAX_RATIO { "ok" } else { "OVER" };
                ok &= ratio <= MAX_RATIO;
                println!(
                    "{:<40} {:>9.1} ms {:>9.1} ms {:>6.2}x {verdict}",
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    import.as_secs_f64() * 1e3,
                    doctor.as_secs_f64() * 1e3,
                    ratio
                );
            }
            Err(e) => {
                ok = false;
                println!("{}: {e}", p.display());
            }
        }
    }
    println!("target: doctor <= {MAX_RATIO}x `python -c \"import numpy\"` (median of {RUNS})");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
