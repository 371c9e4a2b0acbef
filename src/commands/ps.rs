//! `blasfix ps`: select the processes -> sample them over the window -> judge -> print. With
//! `-- CMD` it starts CMD first (stdio untouched) and reports when CMD exits; with `--watch` it
//! redraws a live table until `q` or Ctrl-C.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

#[cfg(unix)]
use crate::change::signals;
use crate::cli::{GlobalArgs, PsArgs};
use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::workload::{self, Workload};
use crate::error::{EXIT_FINDINGS, EXIT_OK, UserError};
use crate::facts::cpu::{self, CpuFacts};
use crate::facts::process::{self, Reader, Selection, Snapshot};
use crate::render::ps as render;
use crate::render::style::Styles;

pub fn run(args: &PsArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let machine = cpu::detect();
    if !args.command.is_empty() {
        return run_command(args, global, &machine);
    }
    let sel = if args.pids.is_empty() {
        Selection::User(process::current_uid())
    } else {
        Selection::Trees(args.pids.clone())
    };
    if args.watch {
        return watch::run(args, &sel, &machine);
    }
    let mut reader = Reader::new();
    let start = reader.snapshot(&sel);
    no_such_process(&sel, &start)?;
    if global.verbose > 0 {
        crate::render::out::errln!(
            "sampling {} process(es) for {:.1} s",
            start.processes.len(),
            args.interval
        );
    }
    wait_window(&start, Duration::from_secs_f64(args.interval));
    let end = reader.snapshot(&sel);
    let w = workload::analyse(&start, &end, &machine);
    let found = workload::evaluate(&w, &machine);
    report(args, global, &w, &found, &machine, Sink::Stdout)?;
    Ok(exit_code(args, &found))
}

/// Wait for the window to pass; end it early when every process seen at its start has exited
/// (there is nothing left to measure).
fn wait_window(start: &Snapshot, d: Duration) {
    let until = Instant::now() + d;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
        if !start.processes.is_empty() && !start.processes.iter().any(|p| process::alive(p.key())) {
            return;
        }
    }
}

/// Every PID asked for is gone: a usage error, not an empty report.
fn no_such_process(sel: &Selection, snap: &Snapshot) -> anyhow::Result<()> {
    if let Selection::Trees(pids) = sel
        && snap.processes.is_empty()
        && pids
            .iter()
            .all(|p| snap.unreadable.iter().any(|u| u.pid == *p))
    {
        let reasons: Vec<String> = snap
            .unreadable
            .iter()
            .map(|u| format!("PID {}: {}", u.pid, u.reason))
            .collect();
        return Err(UserError::usage(reasons.join("; "))
            .with_hint("`blasfix ps` without a PID lists your Python processes")
            .into());
    }
    Ok(())
}

fn exit_code(args: &PsArgs, found: &[Finding]) -> u8 {
    if args.strict && found.iter().any(|f| f.severity <= Severity::Warning) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// Where the report goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    Stdout,
    Stderr,
}

/// Print the report (JSON or human) to `--output FILE`, else to `sink`. A closed pipe ends
/// the output quietly.
fn report(
    args: &PsArgs,
    global: &GlobalArgs,
    w: &Workload,
    found: &[Finding],
    machine: &CpuFacts,
    sink: Sink,
) -> anyhow::Result<()> {
    let styles = match (&args.output, sink) {
        (Some(_), _) => Styles::plain(),
        (None, Sink::Stdout) => Styles::stdout(),
        (None, Sink::Stderr) => Styles::stderr(),
    };
    let text = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&render::json(w, found, machine))?
        )
    } else {
        render::human(w, found, machine, global.verbose > 0, global.quiet, &styles)
    };
    match &args.output {
        Some(path) => std::fs::write(path, text.as_bytes()).map_err(|e| {
            anyhow::Error::from(UserError::usage(format!(
                "cannot write {}: {e}",
                path.display()
            )))
        }),
        // A closed pipe or a vanished terminal ends the output, not the command.
        None => {
            match sink {
                Sink::Stdout => crate::render::out::stdout_bytes(text.as_bytes()),
                Sink::Stderr => crate::render::out::err!("{text}"),
            }
            Ok(())
        }
    }
}

// ------------------------------------------------------------------------------------------
// ps -- CMD

/// How good a window is to report: the most busy threads, then the largest pools, then the
/// latest.
fn score(w: &Workload) -> (usize, usize) {
    (w.totals.busy_threads, w.totals.pool_threads)
}

/// Start CMD, sample it and its descendants every interval while it runs, report the busiest
/// window when it exits (or after `--for`), and exit with CMD's exit code.
fn run_command(args: &PsArgs, global: &GlobalArgs, machine: &CpuFacts) -> anyhow::Result<u8> {
    let program = &args.command[0];
    let mut child = Command::new(program)
        .args(&args.command[1..])
        .spawn()
        .map_err(|e| {
            UserError::usage(format!("cannot start {}: {e}", program.to_string_lossy()))
        })?;
    // Ctrl-C reaches CMD through the terminal; blasfix waits for CMD and reports.
    #[cfg(unix)]
    let _guard = signals::install_for(&[libc::SIGINT]);
    let root = child.id();
    let started = Instant::now();
    let mut reader = Reader::new();
    let mut known: Vec<(u32, u64)> = Vec::new();
    let mut prev = tree_snapshot(&mut reader, root, &mut known);
    let mut best: Option<Workload> = None;
    let mut windows = 0;
    let deadline = args.for_secs.map(Duration::from_secs_f64);
    let status = loop {
        if let Some(status) = wait_up_to(&mut child, Duration::from_secs_f64(args.interval))? {
            break Some(status);
        }
        let cur = tree_snapshot(&mut reader, root, &mut known);
        let w = workload::analyse(&prev, &cur, machine);
        windows += 1;
        if global.verbose > 0 {
            crate::render::out::errln!(
                "window {windows}: {} process(es), {} busy thread(s), {} in pools",
                w.totals.processes,
                w.totals.busy_threads,
                w.totals.pool_threads
            );
        }
        if best.as_ref().is_none_or(|b| score(&w) >= score(b)) {
            best = Some(w);
        }
        prev = cur;
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            break None;
        }
    };
    let mut w = best.unwrap_or_else(|| {
        let mut w = workload::analyse(&prev, &prev, machine);
        w.notes.push(format!(
            "the command ended after {:.1} s, before a full window of {:.1} s: what it loaded \
             at the start is shown, CPU use was not measured (a longer run or a smaller \
             --interval shows more)",
            started.elapsed().as_secs_f64(),
            args.interval
        ));
        w
    });
    if global.verbose > 0 {
        w.notes.push(format!(
            "observed for {:.1} s; the busiest window is reported",
            started.elapsed().as_secs_f64()
        ));
    }
    let found = workload::evaluate(&w, machine);
    report(args, global, &w, &found, machine, Sink::Stderr)?;
    let status = match status {
        Some(s) => s,
        None => child.wait()?,
    };
    let code = status_code(status);
    Ok(if code == 0 {
        exit_code(args, &found)
    } else {
        code
    })
}

/// The tree under `root`, plus descendants seen before that were reparented when their parent
/// exited (known by pid and start time, so a reused PID is not taken for them).
fn tree_snapshot(reader: &mut Reader, root: u32, known: &mut Vec<(u32, u64)>) -> Snapshot {
    let mut roots = vec![root];
    roots.extend(known.iter().map(|(p, _)| *p).filter(|p| *p != root));
    roots.sort_unstable();
    roots.dedup();
    let mut snap = reader.snapshot(&Selection::Trees(roots));
    let in_tree = descendants(&snap, root);
    snap.processes
        .retain(|p| in_tree.contains(&p.pid) || known.contains(&p.key()));
    // Earlier members that are gone exited: the window reports them, not as "no such process".
    snap.unreadable
        .retain(|u| u.pid == root || in_tree.contains(&u.pid));
    for p in &snap.processes {
        if !known.contains(&p.key()) {
            known.push(p.key());
        }
    }
    snap
}

fn descendants(snap: &Snapshot, root: u32) -> Vec<u32> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            snap.processes
                .iter()
                .filter(|p| p.ppid == parent && p.pid != parent)
                .map(|p| p.pid),
        );
        i += 1;
    }
    out
}

/// Wait for the child at most `d`; `Some` when it exited.
fn wait_up_to(child: &mut Child, d: Duration) -> anyhow::Result<Option<ExitStatus>> {
    let until = Instant::now() + d;
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// CMD's exit code as a shell reports it (128 + N when killed by signal N).
fn status_code(s: ExitStatus) -> u8 {
    if let Some(c) = s.code() {
        return c.clamp(0, 255) as u8;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return (128 + sig).clamp(0, 255) as u8;
        }
    }
    1
}

// ------------------------------------------------------------------------------------------
// ps --watch

mod watch {
    //! The live table: the alternate screen with the cursor hidden, stdin in cbreak mode (keys
    //! arrive one by one, Ctrl-C still raises SIGINT), restored on every way out.

    use std::io::Write;
    use std::time::{Duration, Instant};

    use crate::change::signals;
    use crate::cli::PsArgs;
    use crate::diagnose::workload;
    use crate::error::{EXIT_OK, UserError};
    use crate::facts::cpu::CpuFacts;
    use crate::facts::process::{Reader, Selection};
    use crate::render::ps as render;
    use crate::render::style::Styles;

    /// Restores the terminal when dropped.
    struct Screen {
        #[cfg(unix)]
        saved: Option<libc::termios>,
    }

    impl Screen {
        fn enter() -> Screen {
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x1b[?1049h\x1b[?25l");
            let _ = out.flush();
            #[cfg(unix)]
            {
                // SAFETY: termios is plain data filled by tcgetattr on a terminal descriptor.
                let mut t: libc::termios = unsafe { std::mem::zeroed() };
                let saved = if unsafe { libc::isatty(0) } == 1
                    && unsafe { libc::tcgetattr(0, &mut t) } == 0
                {
                    let saved = t;
                    t.c_lflag &= !(libc::ICANON | libc::ECHO);
                    t.c_cc[libc::VMIN] = 1;
                    t.c_cc[libc::VTIME] = 0;
                    // SAFETY: applies a modified copy of the current settings.
                    unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
                    Some(saved)
                } else {
                    None
                };
                Screen { saved }
            }
            #[cfg(not(unix))]
            Screen {}
        }
    }

    impl Drop for Screen {
        fn drop(&mut self) {
            #[cfg(unix)]
            if let Some(t) = &self.saved {
                // SAFETY: restores the settings saved in `enter`.
                unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
            }
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x1b[?25h\x1b[?1049l");
            let _ = out.flush();
        }
    }

    enum Next {
        Refresh,
        Quit,
    }

    /// Wait for the next refresh, reading keys: `q` quits; a guarded signal quits.
    fn wait_keys(d: Duration, stdin_open: &mut bool) -> Next {
        #[cfg(not(unix))]
        let _ = stdin_open; // keys are read on Unix terminals only
        let until = Instant::now() + d;
        loop {
            if signals::caught().is_some() {
                return Next::Quit;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Next::Refresh;
            }
            #[cfg(unix)]
            if *stdin_open {
                let mut fds = libc::pollfd {
                    fd: 0,
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = left.as_millis().clamp(1, 1000) as libc::c_int;
                // SAFETY: one valid pollfd.
                let n = unsafe { libc::poll(&mut fds, 1, ms) };
                if n > 0 {
                    let mut buf = [0u8; 64];
                    // SAFETY: reading into a local buffer.
                    let r = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                    if r <= 0 {
                        *stdin_open = false; // EOF or error: keys no longer come
                    } else if buf[..r as usize]
                        .iter()
                        .any(|b| matches!(b, b'q' | b'Q' | 0x03))
                    {
                        return Next::Quit;
                    }
                }
                continue;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    fn draw(frame: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"\x1b[H\x1b[2J");
        let _ = out.write_all(frame.as_bytes());
        let _ = out.flush();
    }

    pub fn run(args: &PsArgs, sel: &Selection, machine: &CpuFacts) -> anyhow::Result<u8> {
        let term = console::Term::stdout();
        if !term.is_term() {
            return Err(
                UserError::usage("--watch needs a terminal, and stdout is not one")
                    .with_hint("use `blasfix ps --json` (once per call) in scripts")
                    .into(),
            );
        }
        #[cfg(unix)]
        let _signals = signals::install_for(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP]);
        let styles = Styles::stdout();
        let mut reader = Reader::new();
        let mut prev = reader.snapshot(sel);
        let screen = Screen::enter();
        draw(&format!(
            "blasfix ps --watch: sampling {} process(es) for {:.1} s ... (q or Ctrl-C to quit)",
            prev.processes.len(),
            args.interval
        ));
        let mut stdin_open = true;
        loop {
            if let Next::Quit = wait_keys(Duration::from_secs_f64(args.interval), &mut stdin_open) {
                break;
            }
            let cur = reader.snapshot(sel);
            let w = workload::analyse(&prev, &cur, machine);
            let found = workload::evaluate(&w, machine);
            let (rows, cols) = term.size();
            draw(&render::watch_frame(
                &w,
                &found,
                machine,
                cols as usize,
                rows as usize,
                &styles,
            ));
            prev = cur;
        }
        drop(screen);
        // q and Ctrl-C are the ways to quit; SIGTERM and SIGHUP are reported as such.
        #[cfg(unix)]
        {
            let sig = signals::caught().map_or(0, |s| s.0);
            if sig == libc::SIGTERM || sig == libc::SIGHUP {
                return Ok((128 + sig) as u8);
            }
        }
        Ok(EXIT_OK)
    }
}
