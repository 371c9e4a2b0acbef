//! Does watching slow the target? A real NumPy process (OpenBLAS with its full pool) runs DGEMM
//! and reports its GFLOP/s every second; phases alternate without and with
//! `blasfix ps --watch --interval 1 PID` running on a pseudo-terminal (1 Hz, the default), so
//! that drift of the machine falls on both. Prints the median GFLOP/s of each and blasfix's own
//! CPU use. Needs the heavy directory: `BLASFIX_HEAVY_DIR=/path cargo bench --bench ps_overhead`.
//! `BLASFIX_BENCH_PHASE_S` (default 10) and `BLASFIX_BENCH_PHASES` (default 6) size the run.

#[cfg(unix)]
fn main() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(heavy) = std::env::var_os("BLASFIX_HEAVY_DIR") else {
        eprintln!("ps_overhead: BLASFIX_HEAVY_DIR is unset (run tests/heavy/run.sh --setup-only)");
        return;
    };
    let python = std::path::Path::new(&heavy).join("venv-pypi/bin/python");
    let env_num = |k: &str, d: u64| -> u64 {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let phase = Duration::from_secs(env_num("BLASFIX_BENCH_PHASE_S", 10));
    let phases = env_num("BLASFIX_BENCH_PHASES", 6);

    // The target: GEMMs for ever, one GFLOP/s line per second.
    let script = r#"
import sys, time, numpy as np
n = 1000
a = np.random.rand(n, n); b = np.random.rand(n, n)
a @ b
t0 = time.perf_counter(); flops = 0.0
while True:
    a @ b
    flops += 2.0 * n ** 3
    t = time.perf_counter()
    if t - t0 >= 1.0:
        print("%.3f" % (flops / (t - t0) / 1e9), flush=True)
        t0 = t; flops = 0.0
"#;
    let mut target = Command::new(&python)
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the NumPy target");
    let pid = target.id();
    let (tx, rx) = mpsc::channel::<f64>();
    let out = target.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = line.trim().parse() {
                let _ = tx.send(v);
            }
        }
    });

    let collect = |d: Duration| -> Vec<f64> {
        let until = Instant::now() + d;
        let mut v = Vec::new();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if let Ok(x) = rx.recv_timeout(left) {
                v.push(x);
            }
        }
        // The first second of a phase straddles the switch.
        v.into_iter().skip(1).collect()
    };
    let cpu_ticks = |pid: i32| -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &s[s.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    };

    let _ = collect(Duration::from_secs(3)); // warm up
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut watch_cpu_s = 0.0;
    let mut watch_wall_s = 0.0;
    for i in 0..phases {
        if i % 2 == 0 {
            without.extend(collect(phase));
            continue;
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_blasfix"));
        cmd.env("TERM", "xterm")
            .args(["ps", "--watch", "--interval", "1"])
            .arg(pid.to_string());
        let mut p = rexpect::session::spawn_command(cmd, Some(30_000)).expect("watch on a pty");
        let t0 = Instant::now();
        with.extend(collect(phase));
        if let Some(t) = watcher_pid(pid).and_then(cpu_ticks) {
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
            watch_cpu_s += t as f64 / hz;
        }
        watch_wall_s += t0.elapsed().as_secs_f64();
        let _ = p.send("q");
        let _ = p.flush();
        let _ = p.exp_eof();
    }
    let _ = target.kill();
    let _ = target.wait();

    let median = |v: &mut Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (n0, n1) = (without.len(), with.len());
    let (m0, m1) = (median(&mut without), median(&mut with));
    println!(
        "DGEMM 1000x1000, NumPy from PyPI (OpenBLAS, full pool), {phases} alternating phases of {} s",
        phase.as_secs()
    );
    println!("  without ps --watch: {m0:7.2} GFLOP/s (median of {n0} one-second samples)");
    println!("  with    ps --watch: {m1:7.2} GFLOP/s (median of {n1} one-second samples)");
    println!("  difference: {:+.1} %", (m1 / m0 - 1.0) * 100.0);
    if watch_wall_s > 0.0 {
        println!(
            "  blasfix ps --watch used {:.2} % of one CPU ({watch_cpu_s:.2} s CPU in {watch_wall_s:.0} s)",
            watch_cpu_s / watch_wall_s * 100.0
        );
    }

    /// The blasfix process watching `target` (found by its command line).
    fn watcher_pid(target: u32) -> Option<i32> {
        let want = ["ps", "--watch", "--interval", "1", &target.to_string(), ""].join("\u{0}");
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            String::from_utf8_lossy(&cmd).contains(&want).then_some(pid)
        })
    }
}

#[cfg(not(unix))]
fn main() {}
