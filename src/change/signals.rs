//! Signals while `apply` may change an environment. While a [`Trap`] is alive, every catchable
//! signal whose default action ends the process is noted instead (the first one and how many
//! arrived), so that the shell can stop the frontend's process group, put files back and
//! report; afterwards [`die_of`] ends blasfix by that same signal, as a well-behaved child of a
//! shell must (a `for` loop around `blasfix apply` then stops on Ctrl-C).
//!
//! The handler only stores into atomics (async-signal-safe). Signals that report a bug in the
//! process itself (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS) keep their default
//! action; SIGKILL and SIGSTOP cannot be caught (the pinned journal covers SIGKILL); SIGPIPE is
//! already ignored by the Rust runtime (a closed pipe is an `EPIPE` error instead).
//!
//! libc's `sigaction` directly, not signal-hook: one handler that stores a number is all that is
//! needed, and this keeps the flags (`SA_RESTART`) and the restore-on-drop explicit.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// A signal number with its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub i32);

impl Signal {
    /// `SIGTERM`, `SIGINT`, ... (`signal 42` for others).
    pub fn name(self) -> String {
        #[cfg(unix)]
        {
            for &(n, name) in NAMES {
                if n == self.0 {
                    return name.to_string();
                }
            }
        }
        format!("signal {}", self.0)
    }
    /// How people know it: "Ctrl-C (SIGINT)", "SIGTERM".
    pub fn describe(self) -> String {
        #[cfg(unix)]
        if self.0 == libc::SIGINT {
            return "Ctrl-C (SIGINT)".into();
        }
        self.name()
    }
}

#[cfg(unix)]
const NAMES: &[(i32, &str)] = &[
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::SIGPWR, "SIGPWR"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGPIPE, "SIGPIPE"),
];

/// The signals a [`Trap`] catches: every catchable one whose default action ends the process,
/// except those that report a bug in blasfix itself, and SIGPIPE (ignored by Rust).
#[cfg(unix)]
pub const CAUGHT: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGALRM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    libc::SIGPWR,
];

static FIRST: AtomicI32 = AtomicI32::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// The first signal caught since the trap was installed.
pub fn caught() -> Option<Signal> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        n => Some(Signal(n)),
    }
}

/// How many signals arrived since the trap was installed (a second one hurries things up).
pub fn count() -> usize {
    COUNT.load(Ordering::SeqCst)
}

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    COUNT.fetch_add(1, Ordering::SeqCst);
}

/// While alive, the signals of [`CAUGHT`] are noted instead of ending blasfix.
pub struct Trap {
    #[cfg(unix)]
    old: Vec<(libc::c_int, libc::sigaction)>,
}

/// Catch the signals of [`CAUGHT`] from now on (and forget any caught before).
pub fn install() -> Trap {
    #[cfg(unix)]
    {
        install_for(CAUGHT)
    }
    #[cfg(not(unix))]
    {
        install_for(&[])
    }
}

/// Catch only these signals (`blasfix ps` lets the others keep their default action).
pub fn install_for(signals: &[i32]) -> Trap {
    FIRST.store(0, Ordering::SeqCst);
    COUNT.store(0, Ordering::SeqCst);
    #[cfg(not(unix))]
    let _ = signals;
    #[cfg(unix)]
    {
        let mut old = Vec::new();
        for &sig in signals {
            // SAFETY: the handler only touches atomics (async-signal-safe); the structs are
            // zero-initialised as sigaction(2) allows; the old actions are restored on drop.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&mut new.sa_mask);
                // Restart interrupted system calls: the handler only notes the signal, and the
                // code that acts on it polls (a poll(2) such as the prompt's still returns EINTR).
                new.sa_flags = libc::SA_RESTART;
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &new, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        Trap { old }
    }
    #[cfg(not(unix))]
    Trap {}
}

impl Drop for Trap {
    fn drop(&mut self) {
        #[cfg(unix)]
        for (sig, prev) in self.old.drain(..) {
            // SAFETY: restores the action saved by `install`.
            unsafe {
                libc::sigaction(sig, &prev, std::ptr::null_mut());
            }
        }
    }
}

/// End the process by `sig` with its default action, after everything was put back and
/// reported; falls back to exit status 128 + N (what shells show for a signal death).
pub fn die_of(sig: Signal) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    #[cfg(unix)]
    {
        // Signals whose default action dumps core end with an exit status instead.
        let core = [libc::SIGQUIT, libc::SIGXCPU, libc::SIGXFSZ].contains(&sig.0);
        if !core {
            // SAFETY: resetting a disposition and raising are plain syscalls; nothing of the
            // process needs to survive them.
            unsafe {
                libc::signal(sig.0, libc::SIG_DFL);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, sig.0);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig.0);
            }
        }
    }
    std::process::exit(128 + sig.0)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    // The trap itself is process-wide, so it is tested on the real binary (tests/it/signals.rs),
    // not here where tests run in parallel threads of one process.
    #[test]
    fn names() {
        assert_eq!(Signal(libc::SIGTERM).name(), "SIGTERM");
        assert_eq!(Signal(libc::SIGHUP).describe(), "SIGHUP");
        assert_eq!(Signal(libc::SIGINT).describe(), "Ctrl-C (SIGINT)");
        assert_eq!(Signal(250).name(), "signal 250");
        assert!(CAUGHT.contains(&libc::SIGTERM) && !CAUGHT.contains(&libc::SIGSEGV));
    }
}
