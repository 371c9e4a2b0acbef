//! A frontend's whole process tree under supervision. The frontend starts in its own session
//! (so its own process group, without the terminal: Ctrl-C reaches blasfix, which decides) and
//! with a marker variable that its descendants inherit. It is stopped as a whole (a signal,
//! then SIGKILL after a grace period) and waited for; whatever it leaves behind is stopped too:
//! the rest of its group and, on Linux, any marked descendant that left the group (found in
//! /proc). On Linux the frontend also gets SIGTERM when blasfix itself is killed
//! (`PR_SET_PDEATHSIG`), so that conda can roll its transaction back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a stopped frontend may take to clean up (conda rolls its transaction back on
/// SIGINT/SIGTERM) before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(10);

/// SIGTERM and SIGKILL (no signals elsewhere: `signal` does nothing there).
#[cfg(unix)]
const TERM: i32 = libc::SIGTERM;
#[cfg(unix)]
const KILL: i32 = libc::SIGKILL;
#[cfg(not(unix))]
const TERM: i32 = 15;
#[cfg(not(unix))]
const KILL: i32 = 9;

/// The variable that marks a supervised tree (its value is unique per run).
pub const MARKER_VAR: &str = "BLASFIX_SUPERVISED";

/// One supervised process tree: its process group (the leader's pid) and its marker.
#[derive(Debug, Clone)]
pub struct Tree {
    pub group: u32,
    marker: String,
}

/// A fresh marker value for the next tree.
pub fn new_marker() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Prepare a command to run in its own session, marked (for duct's `before_spawn`).
pub fn isolate(cmd: &mut std::process::Command, marker: &str) {
    cmd.env(MARKER_VAR, marker);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid and prctl are async-signal-safe; nothing else runs between fork and
        // exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                #[cfg(any(target_os = "linux", target_os = "android"))]
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
}

impl Tree {
    pub fn new(leader: u32, marker: String) -> Self {
        Tree {
            group: leader,
            marker,
        }
    }

    /// Send `sig` to the group and to every marked process outside it.
    pub fn signal(&self, sig: i32) {
        signal_group(self.group, sig);
        for pid in self.strays() {
            signal_pid(pid, sig);
        }
    }

    /// Whether anything of the tree still runs (zombies are not counted).
    pub fn alive(&self) -> bool {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            procs().any(|p| p.running && (p.pgid == self.group || self.marked(p.pid)))
        } else {
            signal_group(self.group, 0)
        }
    }

    /// Running marked processes outside the group (they called setsid or setpgid).
    fn strays(&self) -> Vec<u32> {
        procs()
            .filter(|p| p.running && p.pgid != self.group && self.marked(p.pid))
            .map(|p| p.pid)
            .collect()
    }

    fn marked(&self, pid: u32) -> bool {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            return false;
        };
        let want = format!("{MARKER_VAR}={}", self.marker);
        env.split(|&b| b == 0).any(|kv| kv == want.as_bytes())
    }

    /// After the leader ended (and was reaped): stop whatever it left running, the signal
    /// first, SIGKILL after `grace` (or as soon as `hurry` says so), and wait until nothing is
    /// left (at most a few seconds more for a process stuck in the kernel). Returns how many
    /// processes were found running.
    pub fn stop_leftovers(&self, grace: Duration, hurry: &dyn Fn() -> bool) -> usize {
        if !self.alive() {
            return 0;
        }
        let found = if cfg!(any(target_os = "linux", target_os = "android")) {
            procs()
                .filter(|p| p.running && (p.pgid == self.group || self.marked(p.pid)))
                .count()
        } else {
            1
        };
        self.stop(TERM, grace, hurry);
        found
    }

    /// Send `first`, wait for the tree to end; SIGKILL after `grace` or when `hurry`.
    pub fn stop(&self, first: i32, grace: Duration, hurry: &dyn Fn() -> bool) {
        self.signal(first);
        let start = Instant::now();
        let mut killed = false;
        while self.alive() {
            if !killed && (start.elapsed() >= grace || hurry()) {
                self.signal(KILL);
                killed = true;
            }
            if start.elapsed() >= grace + Duration::from_secs(5) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn signal_group(group: u32, sig: i32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pgid) = libc::pid_t::try_from(group) else {
            return false;
        };
        // SAFETY: plain syscall; a negative pid names the process group.
        unsafe { libc::kill(-pgid, sig) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = (group, sig);
        false
    }
}

fn signal_pid(pid: u32, sig: i32) {
    #[cfg(unix)]
    if let Ok(p) = libc::pid_t::try_from(pid) {
        // SAFETY: plain syscall.
        unsafe {
            libc::kill(p, sig);
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, sig);
}

struct Proc {
    pid: u32,
    pgid: u32,
    /// Not a zombie.
    running: bool,
}

/// Every process with its group, from /proc (nothing elsewhere).
fn procs() -> impl Iterator<Item = Proc> {
    let dir = if cfg!(any(target_os = "linux", target_os = "android")) {
        std::fs::read_dir("/proc").ok()
    } else {
        None
    };
    dir.into_iter().flatten().flatten().filter_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        parse_stat(pid, &stat)
    })
}

/// `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so fields are
/// counted after the last `)`.
fn parse_stat(pid: u32, stat: &str) -> Option<Proc> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?;
    let _ppid = f.next()?;
    let pgid = f.next()?.parse().ok()?;
    Some(Proc {
        pid,
        pgid,
        running: !matches!(state, "Z" | "X" | "x"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names() {
        let p = parse_stat(42, "42 (a) b (c) S 7 42 42 0 -1 4194560").unwrap();
        assert_eq!((p.pid, p.pgid, p.running), (42, 42, true));
        assert!(!parse_stat(43, "43 (z) Z 1 43 43").unwrap().running);
        assert!(parse_stat(1, "garbage").is_none());
    }
}
