//! `blasfix ps` reading cost: one snapshot of 500 processes with 5,000 threads (this benchmark
//! spawns them: copies of itself, each with 9 extra threads parked) must take at most 50 ms of
//! CPU, and the cost must grow linearly with the threads read.
//!
//! CPU time is this process's user + system time (getrusage) around each snapshot, so the
//! kernel's work of producing `/proc` files counts. Run: `cargo bench --bench ps`.
//! `BLASFIX_BENCH_PROCS=N` changes the process count (threads stay 10 per process).

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{Read, Write};
    use std::process::{Child, Command, Stdio};

    use blasfix::facts::process::{Reader, Selection};

    const THREADS_PER_PROC: usize = 10;
    const ROUNDS: usize = 15;

    fn child_mode() -> ! {
        for _ in 1..THREADS_PER_PROC {
            std::thread::spawn(|| {
                loop {
                    std::thread::park();
                }
            });
        }
        let mut out = std::io::stdout();
        let _ = out.write_all(b"r");
        let _ = out.flush();
        // Exit when the benchmark closes our stdin (or dies): nothing is left behind.
        let mut sink = [0u8; 1];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0)
    }

    fn cpu_seconds() -> f64 {
        // SAFETY: getrusage fills a zeroed struct.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        t(u.ru_utime) + t(u.ru_stime)
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// Median CPU ms of a snapshot of `sel`, and the processes and threads it read.
    fn measure(reader: &mut Reader, sel: &Selection) -> (f64, usize, usize) {
        let mut times = Vec::new();
        let (mut procs, mut threads) = (0, 0);
        for _ in 0..ROUNDS {
            let t0 = cpu_seconds();
            let snap = reader.snapshot(sel);
            times.push((cpu_seconds() - t0) * 1e3);
            procs = snap.processes.len();
            threads = snap.processes.iter().map(|p| p.threads.len()).sum();
        }
        (median(&mut times), procs, threads)
    }

    /// CPU ms of only reading the files a snapshot of `pids` reads (every `/proc/PID/stat` for
    /// the tree, then each selected process's maps, cmdline, environ, cgroup, task listing, and
    /// every thread's stat and affinity), with one open, read and close each and no parsing:
    /// the kernel's share, which no reader can go below.
    fn floor(pids: &[u32]) -> f64 {
        let mut buf = vec![0u8; 1 << 20];
        let mut read = |path: &str| {
            let c = std::ffi::CString::new(path).expect("no NUL");
            // SAFETY: plain open/read/close on a NUL-terminated path into an owned buffer.
            unsafe {
                let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    while libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
                    libc::close(fd);
                }
            }
        };
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let t0 = cpu_seconds();
            let all: Vec<String> = std::fs::read_dir("/proc")
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                        .collect()
                })
                .unwrap_or_default();
            for pid in &all {
                read(&format!("/proc/{pid}/stat"));
            }
            for pid in pids {
                for f in ["maps", "cmdline", "environ", "cgroup"] {
                    read(&format!("/proc/{pid}/{f}"));
                }
                let tids: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
                    .map(|d| {
                        d.flatten()
                            .filter_map(|e| e.file_name().into_string().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                for tid in &tids {
                    read(&format!("/proc/{pid}/task/{tid}/stat"));
                    if let Ok(t) = tid.parse::<libc::pid_t>() {
                        // SAFETY: cpu_set_t is plain data; the kernel fills at most its size.
                        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
                        unsafe {
                            libc::sched_getaffinity(t, std::mem::size_of_val(&set), &mut set)
                        };
                    }
                }
            }
            times.push((cpu_seconds() - t0) * 1e3);
        }
        median(&mut times)
    }

    pub fn main() {
        if std::env::var_os("BLASFIX_BENCH_PS_CHILD").is_some() {
            child_mode();
        }
        if std::env::args().any(|a| a == "--list") {
            return;
        }
        let n: usize = std::env::var("BLASFIX_BENCH_PROCS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500);
        let exe = std::env::current_exe().expect("own path");
        let mut children: Vec<Child> = (0..n)
            .map(|_| {
                Command::new(&exe)
                    .env("BLASFIX_BENCH_PS_CHILD", "1")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("spawn a child")
            })
            .collect();
        for c in &mut children {
            let mut b = [0u8; 1];
            c.stdout
                .as_mut()
                .expect("piped")
                .read_exact(&mut b)
                .expect("child ready");
        }
        let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
        let mut reader = Reader::new();
        let _ = reader.snapshot(&Selection::Trees(vec![std::process::id()]));

        println!("blasfix ps snapshot cost (median of {ROUNDS}, CPU time of this process)");
        let mut rows = Vec::new();
        for k in [n / 5, n / 2, n] {
            let (ms, procs, threads) = measure(&mut reader, &Selection::Trees(pids[..k].to_vec()));
            println!(
                "  {procs:>4} processes {threads:>5} threads  {ms:6.1} ms  ({:.2} µs per thread)",
                ms * 1e3 / threads.max(1) as f64
            );
            rows.push((threads, ms));
        }
        let (t_small, ms_small) = rows[0];
        let (t_big, ms_big) = rows[rows.len() - 1];
        let marginal = (ms_big - ms_small) / (t_big - t_small).max(1) as f64 * 1e3;
        println!(
            "  marginal cost {marginal:.2} µs per thread (between the smallest and largest run)"
        );
        let fl = floor(&pids);
        println!(
            "  floor: only reading the same files (no parsing, one open/read/close each) takes \
             {fl:.1} ms of CPU for the largest run, {:.0} % of the snapshot",
            fl / ms_big.max(1e-9) * 100.0
        );
        let target = 50.0 * n as f64 / 500.0;
        let verdict = if ms_big <= target {
            "ok"
        } else {
            "OVER TARGET"
        };
        println!(
            "target: {n} processes in at most {target:.0} ms of CPU: {ms_big:.1} ms ({verdict})"
        );

        for mut c in children {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {}
