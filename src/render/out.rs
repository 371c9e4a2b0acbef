//! Where printed text goes: stdout and stderr written so that a write error never ends a
//! command. A closed pipe (`blasfix apply ... | head`: EPIPE), a terminal that went away (EIO
//! after SIGHUP) or a full disk make the rest of that stream's output quietly dropped; the
//! command itself goes on to its end (a switch in progress is completed or rolled back), and its
//! exit code is unchanged. `println!` would panic instead.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Write to stdout; after the first failure, nothing more is written there.
pub fn stdout_fmt(args: Arguments) {
    write_to(&STDOUT_GONE, &mut std::io::stdout().lock(), args);
}

/// Write to stderr; after the first failure, nothing more is written there.
pub fn stderr_fmt(args: Arguments) {
    write_to(&STDERR_GONE, &mut std::io::stderr().lock(), args);
}

/// Write raw bytes to stdout (a file printed with `--stdout`).
pub fn stdout_bytes(bytes: &[u8]) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
        STDOUT_GONE.store(true, Ordering::Relaxed);
    }
}

/// Whether stdout stopped taking output.
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

fn write_to(gone: &AtomicBool, w: &mut dyn Write, args: Arguments) {
    if gone.load(Ordering::Relaxed) {
        return;
    }
    if w.write_fmt(args).and_then(|()| w.flush()).is_err() {
        gone.store(true, Ordering::Relaxed);
    }
}

/// `print!` that never panics (see the module doc).
macro_rules! out {
    ($($t:tt)*) => { $crate::render::out::stdout_fmt(format_args!($($t)*)) };
}

/// `println!` that never panics (see the module doc).
macro_rules! outln {
    () => { $crate::render::out::stdout_fmt(format_args!("\n")) };
    ($($t:tt)*) => { $crate::render::out::stdout_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprint!` that never panics.
macro_rules! err {
    ($($t:tt)*) => { $crate::render::out::stderr_fmt(format_args!($($t)*)) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    () => { $crate::render::out::stderr_fmt(format_args!("\n")) };
    ($($t:tt)*) => { $crate::render::out::stderr_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

pub(crate) use {err, errln, out, outln};
