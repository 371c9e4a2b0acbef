//! `cargo bench --bench doctor`: `blasfix doctor --no-runtime --json` on a generated prefix of
//! 800 records / ~33 MB of conda-meta against `cat conda-meta/*.json > /dev/null`; fails when
//! the doctor takes more than 3x the cat or more than 30 MiB peak RSS.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const RECORDS: usize = 800;
const TARGET_BYTES: u64 = 33_000_000;
const RUNS: usize = 20;
const MAX_RATIO: f64 = 3.0;
const MAX_RSS_KIB: u64 = 30 * 1024;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Run a command to the end with stdout discarded; its wall time and peak RSS (KiB) when known.
fn run(cmd: &mut Command) -> Result<(Duration, Option<u64>), String> {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    wait_with_rusage(child, start)
}

#[cfg(unix)]
fn wait_with_rusage(
    mut child: std::process::Child,
    start: Instant,
) -> Result<(Duration, Option<u64>), String> {
    use std::io::Read;
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    if rc < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("exited with status {status}: {stderr}"));
    }
    // ru_maxrss is KiB on Linux, bytes on macOS.
    let rss = usage.ru_maxrss as u64;
    let kib = if cfg!(target_os = "macos") {
        rss / 1024
    } else {
        rss
    };
    Ok((elapsed, Some(kib)))
}

#[cfg(not(unix))]
fn wait_with_rusage(
    child: std::process::Child,
    start: Instant,
) -> Result<(Duration, Option<u64>), String> {
    let out = child.wait_with_output().map_err(|e| format!("wait: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((start.elapsed(), None))
}

fn bench(
    label: &str,
    mut make: impl FnMut() -> Command,
) -> Result<(Duration, Option<u64>), String> {
    run(&mut make()).map_err(|e| format!("{label}: {e}"))?;
    let mut times = Vec::with_capacity(RUNS);
    let mut peak = None::<u64>;
    for _ in 0..RUNS {
        let (t, rss) = run(&mut make()).map_err(|e| format!("{label}: {e}"))?;
        times.push(t);
        peak = match (peak, rss) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    Ok((median(times), peak))
}

fn conda_meta_bytes(prefix: &Path) -> u64 {
    std::fs::read_dir(prefix.join("conda-meta"))
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> ExitCode {
    // The prefix is generated in a child process: on Linux a child's ru_maxrss includes the
    // memory it shared with this process before exec, so this process must stay small.
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--generate-into") {
        let Some(dest) = args.get(pos + 1) else {
            return ExitCode::FAILURE;
        };
        return match blasfix::testing::generate_big_prefix(Path::new(dest), RECORDS, TARGET_BYTES) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot generate the prefix: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create a tempdir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let prefix = dir.path().join("big");
    let generated = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .arg("--generate-into")
            .arg(&prefix)
            .status()
    });
    if !generated.is_ok_and(|s| s.success()) {
        eprintln!("error: cannot generate the prefix in {}", prefix.display());
        return ExitCode::FAILURE;
    }
    let bytes = conda_meta_bytes(&prefix);
    println!(
        "prefix: {RECORDS} records, {:.1} MB of conda-meta",
        bytes as f64 / 1e6
    );

    let cat = bench("cat", || {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("cat conda-meta/*.json > /dev/null")
            .current_dir(&prefix);
        c
    });
    let doctor = bench("blasfix doctor", || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_blasfix"));
        c.args(["doctor", "--no-runtime", "--json", "-p"])
            .arg(&prefix)
            .env("NO_COLOR", "1")
            .env_remove("CONDA_PREFIX")
            .env_remove("CONDARC");
        c
    });
    let ((cat_t, _), (doc_t, rss)) = match (cat, doctor) {
        (Ok(c), Ok(d)) => (c, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ratio = doc_t.as_secs_f64() / cat_t.as_secs_f64().max(1e-9);
    println!("cat conda-meta/*.json:                 median {cat_t:?}");
    println!("blasfix doctor --no-runtime --json:    median {doc_t:?}");
    println!("ratio: {ratio:.2} (limit {MAX_RATIO})");
    match rss {
        Some(kib) => println!(
            "blasfix peak RSS: {:.1} MiB (limit {} MiB)",
            kib as f64 / 1024.0,
            MAX_RSS_KIB / 1024
        ),
        None => println!("blasfix peak RSS: not measured on this platform"),
    }
    let mut read_times = Vec::with_capacity(RUNS);
    let _ = blasfix::facts::prefix::read(&prefix);
    for _ in 0..RUNS {
        let t = Instant::now();
        let facts = blasfix::facts::prefix::read(&prefix);
        let _ = blasfix::facts::declared::declared(&facts);
        read_times.push(t.elapsed());
    }
    println!(
        "prefix::read + declared::declared (in process): median {:?}",
        median(read_times)
    );

    let mut ok = true;
    if ratio > MAX_RATIO {
        eprintln!("FAIL: doctor takes {ratio:.2}x the cat (limit {MAX_RATIO}x)");
        ok = false;
    }
    if rss.is_some_and(|k| k > MAX_RSS_KIB) {
        eprintln!("FAIL: peak RSS above {} MiB", MAX_RSS_KIB / 1024);
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
