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
        let (user, system) = user_system_seconds();
        user + system
    }

    /// This process's user and system CPU time so far.
    fn user_system_seconds() -> (f64, f64) {
        // SAFETY: getrusage fills a zeroed struct.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        (t(u.ru_utime), t(u.ru_stime))
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// Median CPU ms of a snapshot of `sel`, and the processes and threads it read.
    /// ... and the median of its user (not kernel) part (approximate: the kernel splits a
    /// process's CPU time between user and system by tick samples).
    fn measure(reader: &mut Reader, sel: &Selection) -> (f64, f64, usize, usize) {
        let (mut times, mut user) = (Vec::new(), Vec::new());
        let (mut procs, mut threads) = (0, 0);
        for _ in 0..ROUNDS {
            let (u0, s0) = user_system_seconds();
            let snap = reader.snapshot(sel);
            let (u1, s1) = user_system_seconds();
            times.push((u1 - u0 + s1 - s0) * 1e3);
            user.push((u1 - u0) * 1e3);
            procs = snap.processes.len();
            threads = snap.processes.iter().map(|p| p.threads.len()).sum();
        }
        (median(&mut times), median(&mut user), procs, threads)
    }

    /// `openat(dir, name)` with `name` formatted into a reused buffer.
    fn open_at(
        dir: libc::c_int,
        name: &mut Vec<u8>,
        rel: std::fmt::Arguments<'_>,
        flags: libc::c_int,
    ) -> libc::c_int {
        use std::io::Write;
        name.clear();
        let _ = name.write_fmt(rel);
        name.push(0);
        // SAFETY: `name` is NUL-terminated and outlives the call.
        unsafe { libc::openat(dir, name.as_ptr().cast(), flags | libc::O_CLOEXEC) }
    }

    /// Read an open file to its end into `buf` and close it.
    fn drain(fd: libc::c_int, buf: &mut [u8]) {
        if fd < 0 {
            return;
        }
        // SAFETY: reads into a buffer this function borrows; the descriptor is ours to close.
        unsafe {
            while libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
            libc::close(fd);
        }
    }

    /// The numeric entries of an open directory (raw getdents64 into `dents`).
    fn numbers(fd: libc::c_int, dents: &mut [u8], out: &mut Vec<u32>) {
        out.clear();
        loop {
            // SAFETY: the kernel writes at most `dents.len()` bytes of linux_dirent64 records.
            let n =
                unsafe { libc::syscall(libc::SYS_getdents64, fd, dents.as_mut_ptr(), dents.len()) };
            if n <= 0 {
                return;
            }
            let mut at = 0usize;
            while at < n as usize {
                let reclen = u16::from_ne_bytes([dents[at + 16], dents[at + 17]]) as usize;
                let name = &dents[at + 19..at + reclen];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if let Some(v) = std::str::from_utf8(name).ok().and_then(|t| t.parse().ok()) {
                    out.push(v);
                }
                at += reclen;
            }
        }
    }

    fn affinity(tid: u32) {
        // SAFETY: cpu_set_t is plain data; the kernel fills at most its size.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sched_getaffinity(tid as libc::pid_t, std::mem::size_of_val(&set), &mut set)
        };
    }

    /// CPU ms of only reading the files a snapshot of `pids` reads, the way the reader reads
    /// them (`openat` relative to `/proc`, each process's directory and its `task` directory,
    /// raw `getdents64`, reused buffers): every `/proc/PID/stat` for the tree, then each
    /// selected process's maps, cmdline, environ, cgroup, affinity, task listing, and every
    /// thread's stat and affinity; no parsing, no allocation. What lies between this and a
    /// snapshot is the reader's own work.
    fn floor(pids: &[u32]) -> f64 {
        let (mut buf, mut dents, mut name) = (vec![0u8; 1 << 20], vec![0u8; 32 * 1024], Vec::new());
        let (mut all, mut tids) = (Vec::new(), Vec::new());
        let (rd, dir) = (libc::O_RDONLY, libc::O_RDONLY | libc::O_DIRECTORY);
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let t0 = cpu_seconds();
            let proc_fd = open_at(libc::AT_FDCWD, &mut name, format_args!("/proc"), dir);
            numbers(proc_fd, &mut dents, &mut all);
            for pid in &all {
                drain(
                    open_at(proc_fd, &mut name, format_args!("{pid}/stat"), rd),
                    &mut buf,
                );
            }
            for &pid in pids {
                let p = open_at(proc_fd, &mut name, format_args!("{pid}"), dir);
                if p < 0 {
                    continue;
                }
                for f in ["maps", "cmdline", "environ", "cgroup"] {
                    drain(open_at(p, &mut name, format_args!("{f}"), rd), &mut buf);
                }
                affinity(pid);
                let task = open_at(p, &mut name, format_args!("task"), dir);
                numbers(task, &mut dents, &mut tids);
                for &tid in &tids {
                    drain(
                        open_at(task, &mut name, format_args!("{tid}/stat"), rd),
                        &mut buf,
                    );
                    affinity(tid);
                }
                // SAFETY: descriptors opened above, closed once.
                unsafe {
                    libc::close(task);
                    libc::close(p);
                }
            }
            // SAFETY: as above.
            unsafe { libc::close(proc_fd) };
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
            let (ms, user, procs, threads) =
                measure(&mut reader, &Selection::Trees(pids[..k].to_vec()));
            println!(
                "  {procs:>4} processes {threads:>5} threads  {ms:6.1} ms  ({:.2} µs per thread; \
                 {user:.1} ms of it in user space)",
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
            "  floor: only reading the same files as the reader does (no parsing, no allocation) \
             takes {fl:.1} ms of CPU for the largest run, {:.0} % of the snapshot",
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
