//! The BLAS a real `import numpy` loads: runs the environment's own Python with the probe script
//! from `templates/probe.py` (standard library only; threadpoolctl when importable), with a
//! timeout and a clean environment, and reads its JSON.
//!
//! The child's environment is the user's, because thread variables, `PYTHONPATH` and user
//! site-packages decide what NumPy loads and how many threads it starts in real life; only
//! blasfix's own `BLASFIX_*` variables and the interactive-only `PYTHONSTARTUP`/`PYTHONINSPECT`
//! are removed. The current directory is taken off `sys.path` (the probe describes the
//! environment, not a `numpy/` folder that happens to be in the working directory). The script
//! runs from a temporary file through a tiny bootstrap that Python 2 can parse, so a too-old
//! interpreter gets a clear report instead of a `SyntaxError`. On timeout the whole process
//! group is killed (Unix); on Linux the child also dies with blasfix (`PR_SET_PDEATHSIG`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::facts::blas::BlasImpl;

/// The probe script (also the first half of the benchmark script).
pub const PROBE_PY: &str = include_str!("../../templates/probe.py");

/// Runs the script named in `argv[1]` when the interpreter is at least 3.6; otherwise prints the
/// too-old report. Python 2 must be able to parse it.
const BOOTSTRAP: &str = r#"import sys
if sys.version_info < (3, 6):
    sys.stdout.write('{"probe_version": 1, "fatal": "python_too_old", "python": {"version": "%d.%d.%d"}}\n' % tuple(sys.version_info[:3]))
else:
    if sys.path and sys.path[0] == '':
        del sys.path[0]
    if sys.argv[1] == '--cached':
        import os, marshal
        _s = os.path.join(sys.argv[2], sys.argv[3] + '.py')
        sys.argv = [_s] + sys.argv[4:]
        try:
            import _frozen_importlib_external as _bx
            with open(_bx.cache_from_source(_s), 'rb') as _f:
                _b = _f.read()
            _h = 16 if sys.version_info >= (3, 7) else 12
            _st = os.stat(_s)
            if (_b[:4] != _bx.MAGIC_NUMBER or (_h == 16 and _b[4:8] != b'\0\0\0\0')
                    or int.from_bytes(_b[_h - 8:_h - 4], 'little') != int(_st.st_mtime) & 0xFFFFFFFF
                    or int.from_bytes(_b[_h - 4:_h], 'little') != _st.st_size & 0xFFFFFFFF):
                raise ValueError('stale bytecode')
            _code = marshal.loads(_b[_h:])
        except Exception:
            try:
                import py_compile
                py_compile.compile(_s, doraise=True)
            except Exception:
                pass
            _code = compile(open(_s, 'rb').read(), _s, 'exec')
        exec(_code, {'__name__': '__main__', '__file__': _s, '__builtins__': __builtins__})
    else:
        _p = sys.argv[1]
        sys.argv = sys.argv[1:]
        _g = {'__name__': '__main__', '__file__': _p, '__builtins__': __builtins__}
        exec(compile(open(_p, 'rb').read(), _p, 'exec'), _g)
"#;

/// How much of stderr is kept (the rest is counted, not stored).
const STDERR_KEEP: usize = 256 * 1024;

/// One BLAS or OpenMP library loaded in the process.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct LoadedLib {
    /// "blas" or "openmp".
    pub user_api: String,
    /// "openblas", "mkl", "blis", "flexiblas", "accelerate", "openmp" (also "netlib" for a
    /// reference `libblas`, "nvpl").
    pub internal_api: String,
    pub filepath: String,
    pub version: Option<String>,
    pub num_threads: Option<i64>,
    pub threading_layer: Option<String>,
    /// OpenBLAS core / BLIS architecture in use.
    pub architecture: Option<String>,
    /// The filename prefix that matched (threadpoolctl's `prefix`: "libscipy_openblas", ...).
    pub prefix: Option<String>,
    /// The library's own description: `openblas_get_config()`, `MKL_Get_Version_String`, or
    /// "backend X" for FlexiBLAS.
    pub config: Option<String>,
    /// The package that ships it, when its path says so: "numpy" (`numpy.libs`, `numpy/.dylibs`)
    /// or "scipy".
    pub owner: Option<String>,
    /// A failure while querying it.
    pub error: Option<String>,
    /// How a generic `libblas.so.3` was named ("defines atl_f77wrap_dgemm_", "directory
    /// blis-pthread/"), or why it could not be ("unknown").
    pub evidence: Option<String>,
    /// A vendor build of the family ("AMD AOCL" for AMD's BLIS).
    pub build: Option<String>,
    /// Who found it: "blasfix", "threadpoolctl" or "both".
    pub source: Option<String>,
}

/// Threads of the probe's process (Linux `/proc/self/task`), before NumPy, after the import
/// and after one tiny GEMM (run only when an OpenMP runtime or MKL is loaded: their teams start
/// at the first parallel call).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(default)]
pub struct ProcessThreads {
    pub before_numpy: Option<u32>,
    pub after_import: Option<u32>,
    pub after_gemm: Option<u32>,
}

impl ProcessThreads {
    /// Threads the BLAS and OpenMP pools added to the process: the last count minus the one
    /// before NumPy was imported.
    pub fn pool_threads(&self) -> Option<u32> {
        let last = self.after_gemm.or(self.after_import)?;
        Some(last.saturating_sub(self.before_numpy.unwrap_or(1)) + 1)
    }
}

/// A `sys.path` entry of the probed interpreter and what put it there.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(default)]
pub struct PathEntry {
    pub path: String,
    /// "PYTHONPATH", "user site", "site-packages", "base site-packages", ".pth FILE:LINE",
    /// "stdlib" or "other".
    pub origin: String,
}

/// What the probe saw.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RuntimeFacts {
    pub python: Option<String>,
    pub python_executable: Option<PathBuf>,
    pub numpy_version: Option<String>,
    pub numpy_file: Option<String>,
    pub libraries: Vec<LoadedLib>,
    /// `numpy.show_config()` BLAS name (Meson `Build Dependencies.blas.name` or distutils keys).
    pub config_blas: Option<String>,
    pub implementation: BlasImpl,
    /// Why the probe could not answer, when it could not.
    pub error: Option<String>,
    /// The error is that the interpreter has no NumPy (`ProbeError::NumpyMissing`).
    #[serde(skip)]
    pub numpy_missing: bool,
    pub elapsed_ms: Option<u64>,
    /// `sys.prefix` of the interpreter.
    pub python_prefix: Option<PathBuf>,
    pub scipy_version: Option<String>,
    /// "meson" (numpy >= 1.26) or "distutils".
    pub config_format: Option<String>,
    /// `numpy.show_config()` LAPACK name (Meson builds).
    pub config_lapack: Option<String>,
    /// Who listed the libraries: "threadpoolctl 3.5.0" or "blasfix (dl_iterate_phdr)".
    pub library_source: Option<String>,
    /// Thread and BLAS variables as the child process saw them.
    pub thread_env: BTreeMap<String, String>,
    /// Things that went wrong without stopping the probe (SciPy import error, a library query).
    pub warnings: Vec<String>,
    /// Threads the process ran before and after NumPy and its first BLAS call.
    pub threads: Option<ProcessThreads>,
    /// The tiny GEMM's time, when it ran.
    pub gemm_ms: Option<f64>,
    /// The `sys.path` entries holding a `numpy` package, in import order (the first wins).
    pub numpy_copies: Vec<PathEntry>,
    /// The threadpoolctl version whose listing was merged in, when it was importable.
    pub threadpoolctl: Option<String>,
    /// Which file really serves NumPy's DGEMM (dlsym through NumPy's own extension module).
    pub gemm_provider: Option<GemmProvider>,
    /// More about `error` (a Python traceback), shown with `-v`.
    pub error_detail: Option<String>,
}

impl RuntimeFacts {
    /// The BLAS libraries only (no OpenMP runtimes).
    pub fn blas_libraries(&self) -> impl Iterator<Item = &LoadedLib> {
        self.libraries.iter().filter(|l| l.user_api == "blas")
    }
}

/// Why the probe could not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    #[error("{}: no such Python interpreter", .path.display())]
    PythonMissing { path: PathBuf },
    #[error("{}: a link to {}, which does not exist (was the Python this environment was made from removed or upgraded?)", .path.display(), .target.display())]
    BrokenLink { path: PathBuf, target: PathBuf },
    #[error("{}: cannot run it ({reason})", .path.display())]
    NotExecutable { path: PathBuf, reason: String },
    #[error("could not prepare the probe script: {0}")]
    Setup(String),
    #[error("{}: Python {version} is too old for the probe (3.6 or newer needed)", .path.display())]
    TooOld { path: PathBuf, version: String },
    #[error("NumPy is not installed for {} ({message})", .path.display())]
    NumpyMissing { path: PathBuf, message: String },
    /// `message` is the exception's last line; the traceback is kept apart (shown with `-v`).
    #[error("`import numpy` failed in {}: {message}", .path.display())]
    NumpyImportFailed {
        path: PathBuf,
        message: String,
        traceback: String,
    },
    #[error("{} crashed with {signal}{}{}", .path.display(), hint_suffix(.hint), stderr_suffix(.stderr))]
    Crashed {
        path: PathBuf,
        signal: String,
        hint: Option<String>,
        stderr: String,
    },
    #[error("{} timed out after {secs} s (stopped; --timeout SECS waits longer){}", .path.display(), stderr_suffix(.stderr))]
    Timeout {
        path: PathBuf,
        secs: u64,
        stderr: String,
    },
    #[error("{} gave no usable report ({detail}){}", .path.display(), stderr_suffix(.stderr))]
    InvalidOutput {
        path: PathBuf,
        detail: String,
        stderr: String,
    },
}

impl ProbeError {
    /// The part of the error too long for one line (a traceback), when there is one.
    pub fn detail(&self) -> Option<String> {
        match self {
            ProbeError::NumpyImportFailed { traceback, .. } if !traceback.is_empty() => {
                Some(traceback.clone())
            }
            _ => None,
        }
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("; its stderr began:\n{stderr}")
    }
}

/// What a finished (or stopped) Python run left behind.
#[derive(Debug, Clone, Default)]
pub struct PythonRun {
    /// None when the process could not be waited for.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// A probe started in the background; `wait` collects it.
pub struct ProbeHandle {
    inner: std::thread::JoinHandle<Result<RuntimeFacts, ProbeError>>,
    /// Closed when the probe thread ends (normally or by a panic): a waiter wakes at once.
    done: mpsc::Receiver<()>,
}

impl ProbeHandle {
    /// Wait at most `d` for the probe to end; whether it has (its result is then ready for
    /// `wait`). Returns the moment it ends, so callers that watch for something else meanwhile
    /// (signals) lose no time to polling.
    pub fn finished_within(&self, d: Duration) -> bool {
        !matches!(
            self.done.recv_timeout(d),
            Err(mpsc::RecvTimeoutError::Timeout)
        )
    }

    /// The facts, with `error` set when the probe could not answer.
    pub fn wait(self) -> RuntimeFacts {
        self.wait_result().unwrap_or_else(|e| RuntimeFacts {
            numpy_missing: matches!(e, ProbeError::NumpyMissing { .. }),
            error: Some(e.to_string()),
            error_detail: e.detail(),
            ..Default::default()
        })
    }

    /// [`wait`](Self::wait), saying on stderr once `patience` has passed that the probe is
    /// still importing NumPy and when it will be stopped (a hanging import waits the whole
    /// timeout otherwise with no word).
    pub fn wait_noting(
        self,
        python: &Path,
        timeout: Duration,
        patience: Duration,
        notice: &dyn Fn(&str),
    ) -> RuntimeFacts {
        if !self.finished_within(patience) {
            notice(&format!(
                "still waiting for {} to import NumPy; it is stopped after {} s \
                 (--timeout SECS changes that, --no-runtime skips the import)",
                python.display(),
                timeout.as_secs()
            ));
        }
        self.wait()
    }

    /// The facts, or the typed reason there are none.
    pub fn wait_result(self) -> Result<RuntimeFacts, ProbeError> {
        self.inner
            .join()
            .unwrap_or_else(|_| Err(ProbeError::Setup("the probe thread panicked".into())))
    }
}

/// Start the probe now (the caller does its static work meanwhile).
pub fn spawn(python: &Path, timeout: Duration, extra_env: &[(String, String)]) -> ProbeHandle {
    spawn_with_args(python, timeout, extra_env, &[])
}

/// `spawn` with arguments for probe.py (`--no-threadpoolctl` forces the built-in listing).
pub fn spawn_with_args(
    python: &Path,
    timeout: Duration,
    extra_env: &[(String, String)],
    args: &[String],
) -> ProbeHandle {
    let python = python.to_path_buf();
    let extra_env = extra_env.to_vec();
    let args = args.to_vec();
    let (done_tx, done) = mpsc::channel();
    let inner = std::thread::spawn(move || {
        // Dropped when this thread ends, however it ends: that wakes `finished_within`.
        let _done = done_tx;
        let run = run_script(&python, PROBE_PY, &args, timeout, &extra_env, &mut |_| {})?;
        let elapsed = run.elapsed;
        let raw: ProbeJson = parse_output(&python, timeout, &run)?;
        check_fatal(&python, &raw)?;
        let mut facts = interpret(raw);
        facts.elapsed_ms = Some(elapsed.as_millis() as u64);
        Ok(facts)
    });
    ProbeHandle { inner, done }
}

/// The user's cache directory for blasfix (`$XDG_CACHE_HOME/blasfix`, `~/.cache/blasfix`,
/// `~/Library/Caches/blasfix`, `%LOCALAPPDATA%\\blasfix`).
fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        var("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library/Caches"))
    } else {
        var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("blasfix"))
}

/// Write `script` once to the cache as `blasfix_<hash>.py`; its directory and module name.
/// None when the cache cannot be written (the caller falls back to a temporary file).
fn cached_script(script: &str) -> Option<(PathBuf, String)> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(script.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let module = format!("blasfix_{hex}");
    let dir = cache_dir()?.join("py");
    let path = dir.join(format!("{module}.py"));
    if std::fs::read(&path).ok().as_deref() == Some(script.as_bytes()) {
        return Some((dir, module));
    }
    std::fs::create_dir_all(&dir).ok()?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).ok()?;
    tmp.write_all(script.as_bytes()).ok()?;
    tmp.persist(&path).ok()?;
    Some((dir, module))
}

/// Is this variable removed from the child's environment?
pub fn is_scrubbed(key: &str) -> bool {
    key.starts_with("BLASFIX_") || key == "PYTHONSTARTUP" || key == "PYTHONINSPECT"
}

/// Run `script` with `python` (through the bootstrap), feeding each stderr line to `on_stderr`,
/// stopping the process group at `timeout`.
pub fn run_script(
    python: &Path,
    script: &str,
    args: &[String],
    timeout: Duration,
    extra_env: &[(String, String)],
    on_stderr: &mut (dyn FnMut(&str) + Send),
) -> Result<PythonRun, ProbeError> {
    // A script in the user's cache dir is run as a module, so Python keeps its bytecode
    // (compiling it costs milliseconds on every run); a temporary file otherwise.
    let cached = cached_script(script);
    let mut _temp = None;
    let mut cmd = Command::new(python);
    // -B: importing NumPy (and whatever site-packages' .pth files pull in) must not write
    // __pycache__ into the environment; the probe's own bytecode is compiled into blasfix's
    // cache by the bootstrap explicitly.
    cmd.arg("-B").arg("-c").arg(BOOTSTRAP);
    match &cached {
        Some((dir, module)) => {
            cmd.arg("--cached").arg(dir).arg(module);
        }
        None => {
            let mut file = tempfile::Builder::new()
                .prefix("blasfix-probe-")
                .suffix(".py")
                .tempfile()
                .map_err(|e| ProbeError::Setup(format!("temporary file: {e}")))?;
            file.write_all(script.as_bytes())
                .and_then(|_| file.flush())
                .map_err(|e| ProbeError::Setup(format!("{}: {e}", file.path().display())))?;
            cmd.arg(file.path());
            _temp = Some(file);
        }
    }
    cmd.args(args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(is_scrubbed) {
            cmd.env_remove(&key);
        }
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    isolate(&mut cmd);

    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| spawn_error(python, &e))?;
    let pid = child.id();
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let (tx, rx) = mpsc::channel::<Stream>();
    let tx2 = tx.clone();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut buf);
        }
        let _ = tx2.send(Stream::Stdout(buf));
    });
    let err_thread = std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(match err.take() {
            Some(e) => e,
            None => {
                let _ = tx.send(Stream::Done);
                return;
            }
        });
        let mut line = Vec::new();
        loop {
            line.clear();
            match std::io::BufRead::read_until(&mut reader, b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let _ = tx.send(Stream::Line(String::from_utf8_lossy(&line).into_owned()));
                }
            }
        }
        let _ = tx.send(Stream::Done);
    });

    let deadline = start + timeout;
    let mut run = PythonRun::default();
    let mut stdout = None;
    let mut stderr_done = false;
    let mut dropped = 0usize;
    while stdout.is_none() || !stderr_done {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            run.timed_out = true;
            break;
        }
        match rx.recv_timeout(left) {
            Ok(Stream::Stdout(b)) => stdout = Some(b),
            Ok(Stream::Line(l)) => {
                on_stderr(l.trim_end_matches(['\r', '\n']));
                if run.stderr.len() + l.len() <= STDERR_KEEP {
                    run.stderr.push_str(&l);
                } else {
                    dropped += l.len();
                }
            }
            Ok(Stream::Done) => stderr_done = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                run.timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    while !run.timed_out {
        match child.try_wait() {
            Ok(Some(status)) => {
                run.status = Some(status);
                break;
            }
            Ok(None) if Instant::now() >= deadline => run.timed_out = true,
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break,
        }
    }
    if run.timed_out {
        kill_tree(&mut child, pid);
        run.status = child.wait().ok();
    }
    if !run.timed_out {
        let _ = out_thread.join();
        let _ = err_thread.join();
    }
    if dropped > 0 {
        run.stderr
            .push_str(&format!("\n[{dropped} more bytes of stderr not kept]\n"));
    }
    run.stdout = String::from_utf8_lossy(&stdout.unwrap_or_default()).into_owned();
    run.elapsed = start.elapsed();
    drop(_temp);
    Ok(run)
}

enum Stream {
    Stdout(Vec<u8>),
    Line(String),
    Done,
}

#[cfg(unix)]
fn isolate(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn isolate(_cmd: &mut Command) {}

#[cfg(unix)]
fn kill_tree(child: &mut std::process::Child, pid: u32) {
    // SAFETY: plain syscall; the group id is our child's pid and the child is not reaped yet.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.kill();
}

#[cfg(not(unix))]
fn kill_tree(child: &mut std::process::Child, _pid: u32) {
    let _ = child.kill();
}

fn spawn_error(python: &Path, e: &std::io::Error) -> ProbeError {
    if let (false, Ok(t)) = (python.exists(), std::fs::read_link(python)) {
        let target = python.parent().map(|d| d.join(&t)).unwrap_or(t);
        return ProbeError::BrokenLink {
            path: python.to_path_buf(),
            target,
        };
    }
    match e.kind() {
        std::io::ErrorKind::NotFound if !python.exists() => ProbeError::PythonMissing {
            path: python.to_path_buf(),
        },
        std::io::ErrorKind::NotFound => ProbeError::NotExecutable {
            path: python.to_path_buf(),
            reason: "its interpreter line names a program that does not exist".into(),
        },
        std::io::ErrorKind::PermissionDenied => ProbeError::NotExecutable {
            path: python.to_path_buf(),
            reason: "permission denied; is it an executable file?".into(),
        },
        _ => ProbeError::NotExecutable {
            path: python.to_path_buf(),
            reason: e.to_string(),
        },
    }
}

/// The first `n` non-empty lines of a text, for error messages.
pub fn head_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut s = lines
        .iter()
        .take(n)
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > n {
        s.push_str(&format!("\n  [... {} more lines]", lines.len() - n));
    }
    s
}

/// Name of a signal, with what it usually means for an `import numpy`.
pub fn signal_name(sig: i32) -> (String, Option<String>) {
    #[cfg(unix)]
    {
        let known: &[(i32, &str, Option<&str>)] = &[
            (
                libc::SIGILL,
                "SIGILL (illegal instruction)",
                Some(
                    "a library uses CPU instructions this machine lacks; it was probably built \
                     for a newer CPU (for OpenBLAS, OPENBLAS_CORETYPE=Haswell or an older core \
                     can work around it)",
                ),
            ),
            (
                libc::SIGSEGV,
                "SIGSEGV (segmentation fault)",
                Some(
                    "a native library crashed while loading: mismatched binaries or two OpenMP \
                     runtimes in one process are the usual causes",
                ),
            ),
            (
                libc::SIGBUS,
                "SIGBUS (bus error)",
                Some("a native library crashed while loading"),
            ),
            (
                libc::SIGABRT,
                "SIGABRT (aborted)",
                Some("a library aborted the process (look at its stderr below)"),
            ),
            (libc::SIGFPE, "SIGFPE (floating-point exception)", None),
            (
                libc::SIGKILL,
                "SIGKILL",
                Some("killed from outside, often by the out-of-memory killer"),
            ),
            (libc::SIGTERM, "SIGTERM", None),
        ];
        if let Some((_, name, hint)) = known.iter().find(|(s, _, _)| *s == sig) {
            return (name.to_string(), hint.map(str::to_string));
        }
    }
    (format!("signal {sig}"), None)
}

/// A Windows exception status that stands for a crash.
fn windows_crash(code: i32) -> Option<(String, Option<String>)> {
    match code as u32 {
        0xC000_001D => Some(signal_name_illegal()),
        0xC000_0005 => Some(("an access violation (0xC0000005)".into(), None)),
        0xC000_0409 => Some(("a fast-fail abort (0xC0000409)".into(), None)),
        _ => None,
    }
}

fn signal_name_illegal() -> (String, Option<String>) {
    (
        "an illegal instruction (0xC000001D)".into(),
        Some("a library was probably built for a newer CPU than this one".into()),
    )
}

/// Turn a run into the probe's JSON, or the reason there is none.
pub fn parse_output<T: serde::de::DeserializeOwned>(
    python: &Path,
    timeout: Duration,
    run: &PythonRun,
) -> Result<T, ProbeError> {
    let stderr = head_lines(&run.stderr, 12);
    if run.timed_out {
        return Err(ProbeError::Timeout {
            path: python.to_path_buf(),
            secs: timeout.as_secs(),
            stderr,
        });
    }
    if let Some(status) = run.status {
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(sig) = status.signal() {
                let (signal, hint) = signal_name(sig);
                return Err(ProbeError::Crashed {
                    path: python.to_path_buf(),
                    signal,
                    hint,
                    stderr,
                });
            }
        }
        if let Some((signal, hint)) = status.code().and_then(windows_crash) {
            return Err(ProbeError::Crashed {
                path: python.to_path_buf(),
                signal,
                hint,
                stderr,
            });
        }
    }
    let json = last_json_object(&run.stdout);
    match json.map(serde_json::from_str::<T>) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(ProbeError::InvalidOutput {
            path: python.to_path_buf(),
            detail: format!("its JSON did not have the expected shape: {e}"),
            stderr,
        }),
        None => {
            let code = run.status.and_then(|s| s.code());
            let mut detail = match code {
                Some(0) | None => "no JSON object on stdout".to_string(),
                Some(c) => format!("exit code {c}, no JSON object on stdout"),
            };
            let first = run.stdout.lines().find(|l| !l.trim().is_empty());
            if let Some(first) = first {
                let first: String = first.chars().take(120).collect();
                detail.push_str(&format!("; stdout began with {first:?}"));
            }
            Err(ProbeError::InvalidOutput {
                path: python.to_path_buf(),
                detail,
                stderr,
            })
        }
    }
}

/// The probe prints one JSON object; tolerate stray lines before it.
fn last_json_object(stdout: &str) -> Option<&str> {
    let t = stdout.trim();
    if t.starts_with('{')
        && serde_json::from_str::<serde_json::Value>(t).is_ok_and(|v| v.is_object())
    {
        return Some(t);
    }
    stdout.lines().rev().map(str::trim).find(|l| {
        l.starts_with('{')
            && serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v.is_object())
    })
}

/// The errors the probe itself reports in its JSON (`fatal`).
pub fn check_fatal(python: &Path, raw: &ProbeJson) -> Result<(), ProbeError> {
    let path = python.to_path_buf();
    let np_msg = || {
        raw.numpy_error
            .as_ref()
            .map(|e| format!("{}: {}", e.r#type, e.message))
            .unwrap_or_else(|| "no detail".into())
    };
    match raw.fatal.as_deref() {
        None => Ok(()),
        Some("python_too_old") => Err(ProbeError::TooOld {
            path,
            version: raw
                .python
                .as_ref()
                .and_then(|p| p.version.clone())
                .unwrap_or_else(|| "?".into()),
        }),
        Some("numpy_missing") => Err(ProbeError::NumpyMissing {
            path,
            message: np_msg(),
        }),
        Some("numpy_import_failed") => {
            let traceback = raw
                .numpy_error
                .as_ref()
                .map(|e| e.traceback.trim().to_string())
                .unwrap_or_default();
            // The exception's own last line, not the whole message (which may span lines).
            let message = raw
                .numpy_error
                .as_ref()
                .map(|e| {
                    let first = e
                        .message
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("");
                    format!("{}: {}", e.r#type, first.trim())
                })
                .unwrap_or_else(np_msg);
            Err(ProbeError::NumpyImportFailed {
                path,
                message,
                traceback,
            })
        }
        Some(other) => Err(ProbeError::InvalidOutput {
            path,
            detail: format!("the probe failed ({other}): {}", raw.errors.join("; ")),
            stderr: String::new(),
        }),
    }
}

/// The probe's JSON as printed by `templates/probe.py` (every field optional).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ProbeJson {
    pub probe_version: Option<u32>,
    pub fatal: Option<String>,
    pub python: Option<RawPython>,
    pub env: BTreeMap<String, String>,
    pub errors: Vec<String>,
    pub numpy: Option<RawModule>,
    pub numpy_error: Option<RawError>,
    pub scipy: Option<RawModule>,
    pub scipy_error: Option<RawError>,
    pub loaded: Option<RawLoaded>,
    pub config: Option<RawConfig>,
    pub threads: Option<ProcessThreads>,
    pub gemm: Option<RawGemm>,
    pub numpy_copies: Vec<PathEntry>,
    pub sys_path: Vec<PathEntry>,
    pub gemm_provider: Option<GemmProvider>,
}

/// The file that defines the DGEMM NumPy's extension module binds to, and the listed library
/// serving it (that file, or the library a wrapper `libblas.so.3` forwards to).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct GemmProvider {
    pub file: String,
    pub symbol: String,
    pub library: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawGemm {
    pub ok: bool,
    pub ms: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawPython {
    pub version: Option<String>,
    pub executable: Option<String>,
    pub prefix: Option<String>,
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawModule {
    pub version: Option<String>,
    pub file: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawError {
    pub r#type: String,
    pub message: String,
    pub traceback: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawLoaded {
    pub method: Option<String>,
    pub source: Option<String>,
    pub images: Option<u64>,
    pub errors: Vec<String>,
    pub libraries: Vec<LoadedLib>,
    pub threadpoolctl: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawConfig {
    pub format: Option<String>,
    /// Meson `Build Dependencies.blas` / `.lapack` (keys optional, falsy values dropped).
    pub blas: Option<serde_json::Map<String, serde_json::Value>>,
    pub lapack: Option<serde_json::Map<String, serde_json::Value>>,
    /// distutils-era `*_info` globals.
    pub info: BTreeMap<String, serde_json::Value>,
    pub error: Option<String>,
}

/// Decide the facts from the probe's JSON (pure).
pub fn interpret(raw: ProbeJson) -> RuntimeFacts {
    let python = raw.python.clone().unwrap_or_default();
    let mut facts = RuntimeFacts {
        python: python.version.clone(),
        python_executable: python.executable.as_ref().map(PathBuf::from),
        python_prefix: python.prefix.as_ref().map(PathBuf::from),
        numpy_version: raw.numpy.as_ref().and_then(|n| n.version.clone()),
        numpy_file: raw.numpy.as_ref().and_then(|n| n.file.clone()),
        scipy_version: raw.scipy.as_ref().and_then(|n| n.version.clone()),
        thread_env: raw.env.clone(),
        threads: raw.threads.clone(),
        gemm_ms: raw.gemm.as_ref().and_then(|g| g.ms),
        numpy_copies: raw.numpy_copies.clone(),
        gemm_provider: raw.gemm_provider.clone(),
        ..Default::default()
    };
    if let Some(g) = raw.gemm.as_ref().filter(|g| !g.ok) {
        facts.warnings.push(format!(
            "the probe's tiny GEMM failed: {}",
            g.error.as_deref().unwrap_or("no detail")
        ));
    }
    if raw.fatal.is_some() {
        let exe = facts
            .python_executable
            .clone()
            .unwrap_or_else(|| PathBuf::from("python"));
        if let Err(e) = check_fatal(&exe, &raw) {
            facts.error = Some(e.to_string());
            facts.error_detail = e.detail();
        }
        return facts;
    }
    facts.warnings.extend(raw.errors.iter().cloned());
    if let Some(e) = &raw.scipy_error {
        facts.warnings.push(format!(
            "importing SciPy failed: {}: {}",
            e.r#type, e.message
        ));
    }
    let listed = raw
        .loaded
        .as_ref()
        .is_some_and(|l| l.method.is_some() || l.source.is_some());
    if let Some(loaded) = raw.loaded {
        facts.library_source = loaded.source.clone();
        facts.threadpoolctl = loaded.threadpoolctl.clone();
        facts.warnings.extend(
            loaded
                .errors
                .iter()
                .map(|e| format!("listing libraries: {e}")),
        );
        facts.libraries = loaded.libraries;
    }
    // Stable order: BLAS before OpenMP, then by path (the renderers mark NumPy's own).
    facts.libraries.sort_by(|a, b| {
        (a.user_api != "blas", &a.filepath).cmp(&(b.user_api != "blas", &b.filepath))
    });
    let np_file = facts.numpy_file.clone();
    let sp_file = raw.scipy.as_ref().and_then(|s| s.file.clone());
    for lib in &mut facts.libraries {
        if lib.owner.is_none() {
            lib.owner = owner_of(&lib.filepath, np_file.as_deref(), "numpy")
                .or_else(|| owner_of(&lib.filepath, sp_file.as_deref(), "scipy"));
        }
    }
    if let Some(cfg) = &raw.config {
        facts.config_format = cfg.format.clone();
        facts.config_blas = config_name(cfg, "blas");
        facts.config_lapack = config_name(cfg, "lapack");
        if let Some(e) = &cfg.error {
            facts.warnings.push(format!("numpy.__config__: {e}"));
        }
    }
    let served = facts
        .gemm_provider
        .as_ref()
        .and_then(|g| g.library.as_deref())
        .and_then(|path| facts.libraries.iter().find(|l| l.filepath == path))
        .and_then(impl_of);
    facts.implementation =
        served.unwrap_or_else(|| decide(&facts.libraries, facts.config_blas.as_deref(), listed));
    facts
}

/// "numpy" when `filepath` lies in NumPy's own folder or its `numpy.libs` sibling.
fn owner_of(filepath: &str, module_file: Option<&str>, name: &str) -> Option<String> {
    let norm = |s: &str| s.replace('\\', "/");
    let module_file = norm(module_file?);
    let pkg_dir = module_file.rsplit_once('/')?.0;
    let site = pkg_dir.rsplit_once('/')?.0;
    let f = norm(filepath);
    let inside = |dir: &str| f.starts_with(&format!("{dir}/"));
    (inside(pkg_dir) || inside(&format!("{site}/{name}.libs"))).then(|| name.to_string())
}

/// The implementation a library entry stands for.
pub fn impl_of(lib: &LoadedLib) -> Option<BlasImpl> {
    if lib.user_api != "blas" {
        return None;
    }
    Some(match lib.internal_api.as_str() {
        "openblas" => BlasImpl::Openblas,
        "mkl" => BlasImpl::Mkl,
        "blis" => BlasImpl::Blis,
        "accelerate" => BlasImpl::Accelerate,
        "netlib" => BlasImpl::Netlib,
        "nvpl" => BlasImpl::Nvpl,
        "atlas" => BlasImpl::Atlas,
        "armpl" => BlasImpl::Armpl,
        "flexiblas" => {
            let backend = lib.config.as_deref().unwrap_or("").to_ascii_lowercase();
            let backend = backend.strip_prefix("backend ").unwrap_or(&backend);
            impl_from_name(backend)
                .filter(|i| i.is_concrete())
                .unwrap_or(BlasImpl::Flexiblas)
        }
        _ => return None,
    })
}

pub use crate::facts::blas::impl_from_name;

/// The BLAS (or LAPACK) name `numpy.show_config()` declares, in either era.
pub fn config_name(cfg: &RawConfig, which: &str) -> Option<String> {
    let section = if which == "lapack" {
        &cfg.lapack
    } else {
        &cfg.blas
    };
    if let Some(name) = section
        .as_ref()
        .and_then(|m| m.get("name"))
        .and_then(|v| v.as_str())
    {
        return Some(name.to_string());
    }
    if cfg.info.is_empty() {
        return None;
    }
    // distutils era: the first non-empty `*_info` naming an implementation whose libraries
    // really are that implementation (conda-forge's `blas_mkl_info` lists `blas, cblas`).
    let candidates: &[(&str, &str, &str)] = if which == "lapack" {
        &[
            ("lapack_mkl_info", "mkl", "mkl"),
            ("openblas64__lapack_info", "openblas64_", "openblas"),
            ("openblas_ilp64_lapack_info", "openblas64_", "openblas"),
            ("openblas_lapack_info", "openblas", "openblas"),
            ("flame_info", "flame", "flame"),
            ("accelerate_info", "accelerate", ""),
        ]
    } else {
        &[
            ("blas_mkl_info", "mkl", "mkl"),
            ("openblas64__info", "openblas64_", "openblas"),
            ("openblas_ilp64_info", "openblas64_", "openblas"),
            ("openblas_info", "openblas", "openblas"),
            ("blis_info", "blis", "blis"),
            ("accelerate_info", "accelerate", ""),
        ]
    };
    for (key, name, lib_marker) in candidates {
        let Some(obj) = cfg
            .info
            .get(*key)
            .and_then(|v| v.as_object())
            .filter(|o| !o.is_empty())
        else {
            continue;
        };
        let libs: Vec<String> = obj
            .get("libraries")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_ascii_lowercase))
                    .collect()
            })
            .unwrap_or_default();
        if lib_marker.is_empty() || libs.is_empty() || libs.iter().any(|l| l.contains(lib_marker)) {
            return Some(name.to_string());
        }
        return Some(libs.first().cloned().unwrap_or_else(|| "blas".into()));
    }
    let opt = if which == "lapack" {
        "lapack_opt_info"
    } else {
        "blas_opt_info"
    };
    cfg.info
        .get(opt)
        .and_then(|v| v.get("libraries"))
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Which BLAS NumPy runs on, from what is loaded and what show_config says.
fn decide(libs: &[LoadedLib], config_blas: Option<&str>, listed: bool) -> BlasImpl {
    let config_impl = config_blas.and_then(impl_from_name);
    let own: BTreeSet<BlasImpl> = libs
        .iter()
        .filter(|l| l.owner.as_deref() == Some("numpy"))
        .filter_map(impl_of)
        .collect();
    if own.len() == 1 {
        return own.into_iter().next().unwrap_or_default();
    }
    let all: BTreeSet<BlasImpl> = libs.iter().filter_map(impl_of).collect();
    match all.len() {
        0 if config_impl == Some(BlasImpl::Accelerate) => BlasImpl::Accelerate,
        0 if !listed => config_impl.unwrap_or(BlasImpl::Unknown),
        0 => BlasImpl::Unknown,
        1 => all.into_iter().next().unwrap_or_default(),
        _ => match config_impl {
            Some(c) if all.contains(&c) => c,
            _ => BlasImpl::Ambiguous,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> RuntimeFacts {
        interpret(serde_json::from_str(json).expect("sample parses"))
    }

    const PIP_NUMPY2: &str = r#"{"probe_version":1,"python":{"version":"3.12.4","executable":"/v/bin/python","prefix":"/v"},
      "env":{},"errors":[],
      "numpy":{"version":"2.1.3","file":"/v/lib/python3.12/site-packages/numpy/__init__.py"},
      "loaded":{"method":"dl_iterate_phdr","source":"threadpoolctl 3.5.0","images":70,"errors":[],
        "libraries":[{"user_api":"blas","internal_api":"openblas","prefix":"libscipy_openblas",
          "filepath":"/v/lib/python3.12/site-packages/numpy.libs/libscipy_openblas64_-ff651d7f.so",
          "version":"0.3.27","num_threads":8,"threading_layer":"pthreads","architecture":"Haswell"}]},
      "config":{"format":"meson","blas":{"name":"scipy-openblas","found":true,"version":"0.3.27",
        "detection method":"pkgconfig","openblas configuration":"OpenBLAS 0.3.27  USE64BITINT DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"},
        "lapack":{"name":"scipy-openblas"}}}"#;

    #[test]
    fn pip_numpy2_scipy_openblas64() {
        let f = parse(PIP_NUMPY2);
        assert_eq!(f.implementation, BlasImpl::Openblas);
        assert_eq!(f.config_blas.as_deref(), Some("scipy-openblas"));
        assert_eq!(f.config_format.as_deref(), Some("meson"));
        assert_eq!(f.libraries.len(), 1);
        assert_eq!(f.libraries[0].owner.as_deref(), Some("numpy"));
        assert_eq!(f.libraries[0].num_threads, Some(8));
        assert_eq!(f.library_source.as_deref(), Some("threadpoolctl 3.5.0"));
        assert!(f.error.is_none());
    }

    #[test]
    fn conda_forge_openblas_through_libcblas_symlink() {
        // threadpoolctl resolves libcblas.so.3 -> libopenblasp-r0.3.28.so; show_config says "blas".
        let f = parse(
            r#"{"python":{"version":"3.11.9","executable":"/c/envs/x/bin/python"},
            "numpy":{"version":"1.26.4","file":"/c/envs/x/lib/python3.11/site-packages/numpy/__init__.py"},
            "loaded":{"method":"dl_iterate_phdr","source":"blasfix (dl_iterate_phdr)","libraries":[
              {"user_api":"blas","internal_api":"openblas","prefix":"libopenblas",
               "filepath":"/c/envs/x/lib/libopenblasp-r0.3.28.so","version":"0.3.28","num_threads":4,
               "threading_layer":"pthreads","architecture":"Zen"},
              {"user_api":"openmp","internal_api":"openmp","prefix":"libgomp",
               "filepath":"/c/envs/x/lib/libgomp.so.1.0.0","num_threads":4}]},
            "config":{"format":"meson","blas":{"name":"blas","version":"3.9.0","openblas configuration":"unknown"},
              "lapack":{"name":"lapack"}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Openblas);
        assert_eq!(f.config_blas.as_deref(), Some("blas"));
        assert_eq!(f.libraries[0].owner, None);
        assert_eq!(f.blas_libraries().count(), 1);
    }

    #[test]
    fn mkl_with_libiomp5() {
        let f = parse(
            r#"{"python":{"version":"3.10.14"},
            "numpy":{"version":"1.26.4","file":"/c/lib/python3.10/site-packages/numpy/__init__.py"},
            "loaded":{"method":"dl_iterate_phdr","libraries":[
              {"user_api":"blas","internal_api":"mkl","prefix":"libmkl_rt","filepath":"/c/lib/libmkl_rt.so.2",
               "version":"2024.0-Product","num_threads":16,"threading_layer":"intel"},
              {"user_api":"openmp","internal_api":"openmp","prefix":"libiomp","filepath":"/c/lib/libiomp5.so","num_threads":16}]},
            "config":{"format":"meson","blas":{"name":"mkl-sdl","version":"2023.1"}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Mkl);
        assert_eq!(f.libraries[0].threading_layer.as_deref(), Some("intel"));
    }

    #[test]
    fn numpy_and_scipy_wheels_each_with_their_openblas() {
        let f = parse(
            r#"{"numpy":{"version":"2.0.1","file":"/v/site-packages/numpy/__init__.py"},
            "scipy":{"version":"1.14.0","file":"/v/site-packages/scipy/__init__.py"},
            "loaded":{"method":"dl_iterate_phdr","libraries":[
              {"user_api":"blas","internal_api":"openblas","filepath":"/v/site-packages/numpy.libs/libscipy_openblas64_-99b71e71.so","version":"0.3.27","num_threads":64},
              {"user_api":"blas","internal_api":"openblas","filepath":"/v/site-packages/scipy.libs/libscipy_openblas-c128ec02.so","version":"0.3.27.dev","num_threads":64}]},
            "config":{"format":"meson","blas":{"name":"scipy-openblas"}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Openblas);
        let owners: Vec<_> = f.libraries.iter().map(|l| l.owner.clone()).collect();
        assert_eq!(
            owners,
            vec![Some("numpy".to_string()), Some("scipy".to_string())]
        );
        assert_eq!(f.scipy_version.as_deref(), Some("1.14.0"));
    }

    #[test]
    fn numpy_own_openblas_beside_conda_mkl_for_scipy() {
        let f = parse(
            r#"{"numpy":{"file":"/c/lib/python3.11/site-packages/numpy/__init__.py"},
            "loaded":{"method":"dl_iterate_phdr","libraries":[
              {"user_api":"blas","internal_api":"openblas","filepath":"/c/lib/python3.11/site-packages/numpy.libs/libopenblas64_p-r0-15028c96.3.21.so"},
              {"user_api":"blas","internal_api":"mkl","filepath":"/c/lib/libmkl_rt.so.2"}]},
            "config":{"format":"distutils","info":{"openblas64__info":{"libraries":["openblas64_","openblas64_"]}}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Openblas);
        assert_eq!(f.config_blas.as_deref(), Some("openblas64_"));
    }

    #[test]
    fn two_different_blas_without_owner_is_ambiguous_unless_config_decides() {
        let body = |cfg: &str| {
            format!(
                r#"{{"numpy":{{"file":"/c/lib/python3.11/site-packages/numpy/__init__.py"}},
                "loaded":{{"method":"x","libraries":[
                  {{"user_api":"blas","internal_api":"openblas","filepath":"/c/lib/libopenblas.so.0"}},
                  {{"user_api":"blas","internal_api":"blis","filepath":"/c/lib/libblis.so.4"}}]}},
                "config":{cfg}}}"#
            )
        };
        assert_eq!(
            parse(&body(r#"{"format":"meson","blas":{"name":"blas"}}"#)).implementation,
            BlasImpl::Ambiguous
        );
        assert_eq!(
            parse(&body(r#"{"format":"meson","blas":{"name":"blis"}}"#)).implementation,
            BlasImpl::Blis
        );
        let f = parse(&body(r#"{"format":"meson","blas":{"name":"blas"}}"#));
        assert_eq!(f.blas_libraries().count(), 2, "both are still reported");
    }

    #[test]
    fn libomp_and_libiomp_are_listed() {
        let f = parse(
            r#"{"numpy":{"file":"/c/site-packages/numpy/__init__.py"},
            "loaded":{"method":"dyld","libraries":[
              {"user_api":"blas","internal_api":"mkl","filepath":"/c/lib/libmkl_rt.2.dylib","num_threads":8,"threading_layer":"intel"},
              {"user_api":"openmp","internal_api":"openmp","prefix":"libiomp","filepath":"/c/lib/libiomp5.dylib","num_threads":8},
              {"user_api":"openmp","internal_api":"openmp","prefix":"libomp","filepath":"/c/lib/libomp.dylib","num_threads":8}]}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Mkl);
        let omp: Vec<_> = f
            .libraries
            .iter()
            .filter(|l| l.user_api == "openmp")
            .collect();
        assert_eq!(omp.len(), 2);
    }

    #[test]
    fn macos_accelerate_without_threadpool_entries() {
        let f = parse(
            r#"{"python":{"version":"3.12.2","platform":"darwin"},
            "numpy":{"version":"2.1.0","file":"/v/lib/python3.12/site-packages/numpy/__init__.py"},
            "loaded":{"method":"_dyld_get_image_name","source":"threadpoolctl 3.5.0","libraries":[]},
            "config":{"format":"meson","blas":{"name":"accelerate","detection method":"system","version":"unknown"},
              "lapack":{"name":"accelerate"}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Accelerate);
        assert_eq!(f.config_lapack.as_deref(), Some("accelerate"));
    }

    #[test]
    fn macos_accelerate_image_entry() {
        let f = parse(
            r#"{"numpy":{"file":"/v/site-packages/numpy/__init__.py"},
            "loaded":{"method":"_dyld_get_image_name","libraries":[{"user_api":"blas","internal_api":"accelerate",
              "filepath":"/System/Library/Frameworks/Accelerate.framework/Versions/A/Frameworks/vecLib.framework/Versions/A/libBLAS.dylib"}]},
            "config":{"format":"meson","blas":{"name":"accelerate"}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Accelerate);
    }

    #[test]
    fn nothing_loaded_and_generic_config_is_unknown() {
        let f = parse(
            r#"{"numpy":{"file":"/x/numpy/__init__.py"},"loaded":{"method":"dl_iterate_phdr","libraries":[]},
            "config":{"format":"meson","blas":{"name":"blas"}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Unknown);
        // When the listing itself failed, show_config is the best evidence left.
        let f = parse(
            r#"{"numpy":{"file":"/x/numpy/__init__.py"},"loaded":{"errors":["dl_iterate_phdr: no"],"libraries":[]},
            "config":{"format":"meson","blas":{"name":"scipy-openblas"}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Openblas);
        assert_eq!(
            f.warnings,
            vec!["listing libraries: dl_iterate_phdr: no".to_string()]
        );
    }

    #[test]
    fn distutils_conda_forge_mkl_label_is_generic() {
        let cfg: RawConfig = serde_json::from_str(
            r#"{"format":"distutils","info":{"blas_mkl_info":{"libraries":["blas","cblas","lapack"]},
            "blas_opt_info":{"libraries":["blas","cblas","lapack"]}}}"#,
        )
        .expect("parses");
        assert_eq!(config_name(&cfg, "blas").as_deref(), Some("blas"));
        let cfg: RawConfig = serde_json::from_str(
            r#"{"format":"distutils","info":{"blas_mkl_info":{},"openblas_info":{},
            "blas_opt_info":{"libraries":["mkl_rt","pthread"]}}}"#,
        )
        .expect("parses");
        assert_eq!(config_name(&cfg, "blas").as_deref(), Some("mkl_rt"));
        let cfg: RawConfig = serde_json::from_str(
            r#"{"format":"distutils","info":{"blas_mkl_info":{"libraries":["mkl_rt"]}}}"#,
        )
        .expect("parses");
        assert_eq!(config_name(&cfg, "blas").as_deref(), Some("mkl"));
    }

    #[test]
    fn flexiblas_backend_names_the_implementation() {
        let lib = LoadedLib {
            user_api: "blas".into(),
            internal_api: "flexiblas".into(),
            config: Some("backend OPENBLAS-OPENMP".into()),
            ..Default::default()
        };
        assert_eq!(impl_of(&lib), Some(BlasImpl::Openblas));
        let lib = LoadedLib {
            config: Some("backend NETLIB".into()),
            ..lib
        };
        assert_eq!(impl_of(&lib), Some(BlasImpl::Netlib));
    }

    #[test]
    fn fatal_reports_become_errors() {
        let raw: ProbeJson = serde_json::from_str(
            r#"{"fatal":"numpy_missing","python":{"version":"3.11.7","executable":"/usr/bin/python3"},
            "numpy_error":{"type":"ModuleNotFoundError","message":"No module named 'numpy'"}}"#,
        )
        .expect("parses");
        let err = check_fatal(Path::new("/usr/bin/python3"), &raw).unwrap_err();
        assert!(matches!(err, ProbeError::NumpyMissing { .. }));
        assert!(err.to_string().contains("NumPy is not installed"), "{err}");
        let f = interpret(raw);
        assert!(
            f.error
                .as_deref()
                .is_some_and(|e| e.contains("No module named 'numpy'"))
        );
        assert_eq!(f.implementation, BlasImpl::Unknown);

        let raw: ProbeJson =
            serde_json::from_str(r#"{"fatal":"python_too_old","python":{"version":"2.7.18"}}"#)
                .expect("parses");
        let err = check_fatal(Path::new("/usr/bin/python2"), &raw).unwrap_err();
        assert_eq!(
            err,
            ProbeError::TooOld {
                path: "/usr/bin/python2".into(),
                version: "2.7.18".into()
            }
        );
    }

    #[test]
    fn gemm_provider_threads_and_merged_sources() {
        // Debian: BLIS serves libblas.so.3, OpenBLAS only LAPACK; neither is NumPy's own file.
        let f = parse(
            r#"{"numpy":{"version":"1.24.2","file":"/usr/lib/python3/dist-packages/numpy/__init__.py"},
            "threads":{"before_numpy":1,"after_import":2,"after_gemm":null},
            "numpy_copies":[{"path":"/usr/lib/python3/dist-packages","origin":"site-packages"}],
            "gemm_provider":{"file":"/usr/lib/x86_64-linux-gnu/blis-pthread/libblas.so.3","symbol":"cblas_dgemm",
              "library":"/usr/lib/x86_64-linux-gnu/blis-pthread/libblas.so.3"},
            "loaded":{"method":"dl_iterate_phdr","source":"blasfix (dl_iterate_phdr) and threadpoolctl 3.1.0","threadpoolctl":"3.1.0","libraries":[
              {"user_api":"blas","internal_api":"openblas","filepath":"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so","num_threads":2,"source":"both"},
              {"user_api":"blas","internal_api":"blis","filepath":"/usr/lib/x86_64-linux-gnu/blis-pthread/libblas.so.3","evidence":"directory blis-pthread/","source":"blasfix"}]},
            "config":{"format":"distutils","info":{}}}"#,
        );
        assert_eq!(f.implementation, BlasImpl::Blis);
        assert_eq!(f.threadpoolctl.as_deref(), Some("3.1.0"));
        assert_eq!(f.threads.as_ref().and_then(|t| t.pool_threads()), Some(2));
        assert_eq!(f.numpy_copies[0].origin, "site-packages");
        // Stable order: by path among the BLAS libraries.
        assert!(f.libraries[0].filepath.contains("blis-pthread"));
        assert_eq!(f.libraries[1].source.as_deref(), Some("both"));
        // Without the provider the two are ambiguous, as before.
        let mut raw: ProbeJson = serde_json::from_str(
            r#"{"numpy":{"file":"/n/numpy/__init__.py"},"loaded":{"method":"x","libraries":[
              {"user_api":"blas","internal_api":"openblas","filepath":"/a/libopenblas.so"},
              {"user_api":"blas","internal_api":"blis","filepath":"/b/libblas.so.3"}]}}"#,
        )
        .unwrap();
        assert_eq!(interpret(raw.clone()).implementation, BlasImpl::Ambiguous);
        raw.gemm_provider = Some(GemmProvider {
            file: "/a/libblas.so.3".into(),
            symbol: "cblas_dgemm".into(),
            library: Some("/a/libopenblas.so".into()),
        });
        assert_eq!(interpret(raw).implementation, BlasImpl::Openblas);
        // An OpenMP team of 64 on 2 CPUs: the threads the process really runs.
        let t = ProcessThreads {
            before_numpy: Some(1),
            after_import: Some(1),
            after_gemm: Some(64),
        };
        assert_eq!(t.pool_threads(), Some(64));
    }

    #[test]
    fn import_failure_keeps_the_last_line_and_the_traceback_apart() {
        let raw: ProbeJson = serde_json::from_str(
            r#"{"fatal":"numpy_import_failed","python":{"version":"3.11.7","executable":"/e/bin/python"},
            "numpy_error":{"type":"ImportError","message":"libgfortran.so.5: cannot open shared object file",
              "traceback":"Traceback (most recent call last):\n  File \"x.py\", line 1\nImportError: libgfortran.so.5: cannot open shared object file"}}"#,
        )
        .unwrap();
        let f = interpret(raw);
        let e = f.error.as_deref().unwrap();
        assert_eq!(
            e,
            "`import numpy` failed in /e/bin/python: ImportError: libgfortran.so.5: cannot open shared object file"
        );
        assert!(!e.contains("Traceback"));
        assert!(
            f.error_detail
                .as_deref()
                .is_some_and(|t| t.starts_with("Traceback"))
        );
    }

    #[test]
    fn unknown_fields_and_nulls_are_tolerated() {
        let f = parse(
            r#"{"probe_version":7,"new_field":[1,2],"loaded":{"libraries":[{"user_api":"blas",
            "internal_api":"openblas","filepath":"/x/libopenblas.so","version":null,"num_threads":null,
            "extra":{"a":1}}]}}"#,
        );
        assert_eq!(f.libraries.len(), 1);
        assert_eq!(f.libraries[0].num_threads, None);
    }

    #[test]
    fn output_parsing_classifies_failures() {
        let py = Path::new("/p/python");
        let t = Duration::from_secs(3);
        let run = PythonRun {
            stdout: "hello\nnot json\n".into(),
            stderr: "boom\n".into(),
            ..Default::default()
        };
        let e = parse_output::<ProbeJson>(py, t, &run).unwrap_err();
        assert!(matches!(e, ProbeError::InvalidOutput { .. }));
        let msg = e.to_string();
        assert!(msg.contains("\"hello\"") && msg.contains("boom"), "{msg}");

        let run = PythonRun {
            timed_out: true,
            ..Default::default()
        };
        let e = parse_output::<ProbeJson>(py, t, &run).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/p/python timed out after 3 s (stopped; --timeout SECS waits longer)"
        );

        let run = PythonRun {
            stdout: "warning\n{\"numpy\":{\"version\":\"2.0.0\"}}\n".into(),
            ..Default::default()
        };
        let j: ProbeJson = parse_output(py, t, &run).expect("stray line tolerated");
        assert_eq!(j.numpy.and_then(|n| n.version).as_deref(), Some("2.0.0"));
    }

    #[cfg(unix)]
    #[test]
    fn signals_have_names_and_hints() {
        let (name, hint) = signal_name(libc::SIGILL);
        assert!(name.starts_with("SIGILL"));
        assert!(hint.is_some_and(|h| h.contains("newer CPU")));
        assert_eq!(signal_name(libc::SIGSEGV).0, "SIGSEGV (segmentation fault)");
    }

    #[test]
    fn scrubbed_variables() {
        assert!(is_scrubbed("BLASFIX_HEAVY_DIR"));
        assert!(is_scrubbed("PYTHONSTARTUP"));
        assert!(!is_scrubbed("PYTHONPATH"));
        assert!(!is_scrubbed("OPENBLAS_NUM_THREADS"));
    }

    #[test]
    fn head_lines_truncates() {
        assert_eq!(
            head_lines("a\n\nb\nc\n", 2),
            "  a\n  b\n  [... 1 more lines]"
        );
    }
}
