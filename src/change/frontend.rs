//! The user's own conda, mamba or micromamba: finding it like a shell would, running it as an
//! argv list (never through a shell) with progress and a timeout, as a supervised process tree
//! (see [`super::supervise`]) that a signal to blasfix stops as a whole, and reading its
//! `--dry-run --json` transaction preview.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::facts::envs::EnvKind;
use crate::facts::snapshot::EnvSnapshot;

use super::signals::{self, Signal};
use super::supervise::{self, GRACE, Tree};

/// Which tool performs the install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrontendKind {
    Conda,
    Mamba,
    Micromamba,
}

impl FrontendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FrontendKind::Conda => "conda",
            FrontendKind::Mamba => "mamba",
            FrontendKind::Micromamba => "micromamba",
        }
    }
}

/// The frontend found, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frontend {
    pub kind: FrontendKind,
    pub exe: PathBuf,
    /// For people: "$CONDA_EXE", "conda on PATH".
    pub how: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrontendError {
    #[error("{kind} not found (looked at {looked})")]
    NotFound { kind: String, looked: String },
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Find the frontend (pure but for `exists` and `which`, injected so tests need no tools):
/// `--frontend` if given, else the tool that manages the environment, then `$CONDA_EXE`,
/// `$MAMBA_EXE`, then PATH. `conda` is often a shell function, so `$CONDA_EXE` wins over PATH.
pub fn resolve(
    requested: Option<FrontendKind>,
    env_kind: EnvKind,
    env: &EnvSnapshot,
    exists: &dyn Fn(&Path) -> bool,
    which: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<Frontend, FrontendError> {
    let from_env = |kind: FrontendKind| -> Option<Frontend> {
        let (var, ok): (&str, fn(&str) -> bool) = match kind {
            FrontendKind::Conda => ("CONDA_EXE", |_| true),
            FrontendKind::Mamba => ("MAMBA_EXE", |s| s == "mamba"),
            FrontendKind::Micromamba => ("MAMBA_EXE", |s| s != "mamba"),
        };
        let p = env.path(var)?;
        (ok(&file_stem(&p)) && exists(&p)).then(|| Frontend {
            kind,
            exe: p,
            how: format!("${var}"),
        })
    };
    let on_path = |kind: FrontendKind| {
        which(kind.as_str()).map(|exe| Frontend {
            kind,
            exe,
            how: format!("{} on PATH", kind.as_str()),
        })
    };
    let find = |kind: FrontendKind| from_env(kind).or_else(|| on_path(kind));
    if let Some(kind) = requested {
        return find(kind).ok_or_else(|| FrontendError::NotFound {
            kind: kind.as_str().into(),
            looked: match kind {
                FrontendKind::Conda => "$CONDA_EXE and PATH",
                _ => "$MAMBA_EXE and PATH",
            }
            .into(),
        });
    }
    let preferred = match env_kind {
        EnvKind::Micromamba => Some(FrontendKind::Micromamba),
        EnvKind::Mamba => Some(FrontendKind::Mamba),
        EnvKind::Conda => Some(FrontendKind::Conda),
        _ => None,
    };
    if let Some(f) = preferred.and_then(find) {
        return Ok(f);
    }
    use FrontendKind::*;
    [Conda, Mamba, Micromamba]
        .into_iter()
        .find_map(from_env)
        .or_else(|| [Conda, Mamba, Micromamba].into_iter().find_map(on_path))
        .ok_or_else(|| FrontendError::NotFound {
            kind: "conda, mamba or micromamba".into(),
            looked: "$CONDA_EXE, $MAMBA_EXE and PATH".into(),
        })
}

/// The real file system and PATH, for [`resolve`].
pub fn resolve_here(
    requested: Option<FrontendKind>,
    env_kind: EnvKind,
    env: &EnvSnapshot,
) -> Result<Frontend, FrontendError> {
    resolve(requested, env_kind, env, &|p| p.is_file(), &|name| {
        which::which(name).ok()
    })
}

/// A command line for people, quoted like a POSIX shell would need (display only: commands
/// are run as argv lists).
pub fn display_command(exe: &Path, args: &[OsString]) -> String {
    std::iter::once(exe.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// One package in a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pkg {
    pub name: String,
    pub version: String,
    pub build: String,
    pub channel: Option<String>,
}

impl std::fmt::Display for Pkg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.name, self.version, self.build)
    }
}

/// A package replaced by another build or version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub from: Pkg,
    pub to: Pkg,
}

/// What the frontend says it would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Preview {
    pub added: Vec<Pkg>,
    pub removed: Vec<Pkg>,
    pub changed: Vec<Change>,
    /// The frontend's own "nothing to do" message.
    pub nothing_to_do: Option<String>,
}

impl Preview {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
    /// Lines for people: `~ libblas 3.9.0 20_linux64_openblas -> 3.9.0 20_linux64_mkl`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.changed {
            out.push(format!(
                "~ {} {} {} -> {} {}",
                c.from.name, c.from.version, c.from.build, c.to.version, c.to.build
            ));
        }
        out.extend(self.added.iter().map(|p| format!("+ {p}")));
        out.extend(self.removed.iter().map(|p| format!("- {p}")));
        if out.is_empty() {
            out.push(
                self.nothing_to_do
                    .clone()
                    .unwrap_or_else(|| "nothing to change".into()),
            );
        }
        out
    }
}

/// The `--json` answer of a frontend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JsonAnswer {
    Transaction(Preview),
    Error {
        name: Option<String>,
        message: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the frontend's --json output is not JSON: {0}")]
pub struct NotJson(pub String);

/// The JSON object in a frontend's stdout (the whole text, else the last line-started object).
fn json_object(text: &str) -> Result<Value, NotJson> {
    if let Ok(v) = serde_json::from_str::<Value>(text.trim()) {
        return Ok(v);
    }
    let starts: Vec<usize> = text
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain(std::iter::once(0))
        .filter(|&i| text[i..].starts_with('{'))
        .collect();
    let mut starts = starts;
    starts.sort_unstable();
    for &i in starts.iter() {
        let mut de = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(v)) = de.next() {
            return Ok(v);
        }
    }
    let head: String = text.trim().chars().take(200).collect();
    Err(NotJson(if head.is_empty() {
        "empty output".into()
    } else {
        head
    }))
}

fn pkg(v: &Value) -> Option<Pkg> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut name = s("name");
    let mut version = s("version");
    let mut build = s("build_string").or_else(|| s("build"));
    if let (None, Some(dist)) = (&name, s("dist_name")) {
        // name-version-build
        let mut parts = dist.rsplitn(3, '-');
        build = build.or(parts.next().map(str::to_string));
        version = version.or(parts.next().map(str::to_string));
        name = parts.next().map(str::to_string);
    }
    if let Some(v) = v.as_str() {
        // very old conda: "channel::name-version-build"
        let dist = v.rsplit("::").next().unwrap_or(v);
        let mut parts = dist.rsplitn(3, '-');
        build = parts.next().map(str::to_string);
        version = parts.next().map(str::to_string);
        name = parts.next().map(str::to_string);
    }
    Some(Pkg {
        name: name?,
        version: version.unwrap_or_default(),
        build: build.unwrap_or_default(),
        channel: s("channel"),
    })
}

/// Parse `install --dry-run --json` output of conda (8-field `dist_fields_dump` entries,
/// `message` when nothing to do, `exception_name`/`message` on errors) or micromamba (full
/// package objects, `build_string` or `build`) (pure).
pub fn parse_preview(stdout: &str) -> Result<JsonAnswer, NotJson> {
    let v = json_object(stdout)?;
    let success = v.get("success").and_then(Value::as_bool);
    let message = v.get("message").and_then(Value::as_str).map(str::to_string);
    if v.get("exception_name").is_some() || v.get("error").is_some() || success == Some(false) {
        return Ok(JsonAnswer::Error {
            name: v
                .get("exception_name")
                .and_then(Value::as_str)
                .map(str::to_string),
            message: message
                .or_else(|| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "the frontend reported a failure without a message".into()),
        });
    }
    let list = |key: &str| -> Vec<Pkg> {
        v.get("actions")
            .and_then(|a| a.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(pkg).collect())
            .unwrap_or_default()
    };
    let link = list("LINK");
    let unlink = list("UNLINK");
    let mut preview = Preview::default();
    for to in &link {
        match unlink.iter().find(|u| u.name == to.name) {
            Some(from) => preview.changed.push(Change {
                from: from.clone(),
                to: to.clone(),
            }),
            None => preview.added.push(to.clone()),
        }
    }
    preview.removed = unlink
        .into_iter()
        .filter(|u| !link.iter().any(|l| l.name == u.name))
        .collect();
    preview.changed.sort_by(|a, b| a.to.name.cmp(&b.to.name));
    preview.added.sort_by(|a, b| a.name.cmp(&b.name));
    preview.removed.sort_by(|a, b| a.name.cmp(&b.name));
    if preview.is_empty() {
        preview.nothing_to_do =
            Some(message.unwrap_or_else(|| "All requested packages already installed.".into()));
    }
    Ok(JsonAnswer::Transaction(preview))
}

/// The stage a frontend output line announces ("Solving environment", "Downloading and
/// Extracting Packages", micromamba's "Transaction", "Linking ..."), for the spinner.
pub fn stage_of(line: &str) -> Option<String> {
    let l = line
        .trim()
        .trim_start_matches(|c: char| !c.is_alphanumeric());
    const STAGES: &[&str] = &[
        "Channels:",
        "Collecting package metadata",
        "Solving environment",
        "Preparing transaction",
        "Verifying transaction",
        "Executing transaction",
        "Downloading and Extracting Packages",
        "Transaction starting",
        "Transaction finished",
        "Transaction",
        "Linking",
        "Unlinking",
        "Changing",
        "Downloading",
        "Extracting",
        "Looking for",
        "Updating specs",
        "Pinned packages",
    ];
    STAGES.iter().find(|s| l.starts_with(**s)).map(|_| {
        let end = l.find(": done").or_else(|| l.find(':')).unwrap_or(l.len());
        l[..end].trim().chars().take(60).collect()
    })
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    Exited,
    TimedOut,
    Interrupted,
}

/// The result of running a frontend (or the environment's Python).
#[derive(Debug, Clone, Serialize)]
pub struct RunOutput {
    pub ending: Ending,
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed_ms: u64,
    /// The signal blasfix caught that stopped the run (`Ending::Interrupted`).
    #[serde(skip)]
    pub signal: Option<Signal>,
    /// Processes of the tree still running after its leader ended, which blasfix stopped.
    pub leftovers: usize,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.ending == Ending::Exited && self.code == Some(0)
    }
    /// The last lines of output, for an error message.
    pub fn tail(&self, n: usize) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// How to show a run.
#[derive(Debug, Clone, Default)]
pub struct Show {
    /// The spinner's label ("Previewing", "Installing").
    pub label: String,
    /// Draw a spinner (indicatif hides it anyway when stderr is not a terminal).
    pub progress: bool,
    /// Echo every output line on stderr (`-v`).
    pub echo: bool,
}

#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

/// The signal a frontend gets when blasfix is asked to stop: SIGINT stays SIGINT (conda and
/// micromamba roll back on it); the others become SIGTERM, which conda also handles (it does
/// not handle SIGHUP).
#[cfg(unix)]
fn forwarded(sig: Signal) -> i32 {
    if sig.0 == libc::SIGINT {
        libc::SIGINT
    } else {
        libc::SIGTERM
    }
}

/// Run `exe args` (argv list, stdin closed; `exe` is a path: a bare name is taken relative to
/// the current directory, as duct does for paths) in its own session, streaming its lines to a
/// spinner. At `timeout`, or when blasfix catches a signal (see [`signals`]), the whole tree
/// gets SIGTERM (SIGINT for Ctrl-C), then SIGKILL after [`GRACE`] or at a second signal; the
/// run returns only when nothing of the tree is left, whatever its leader left running.
pub fn run(
    exe: &Path,
    args: &[OsString],
    timeout: Duration,
    show: &Show,
) -> std::io::Result<RunOutput> {
    run_with_grace(exe, args, timeout, show, GRACE)
}

/// [`run`] with another grace period between the first signal and SIGKILL.
pub fn run_with_grace(
    exe: &Path,
    args: &[OsString],
    timeout: Duration,
    show: &Show,
    grace: Duration,
) -> std::io::Result<RunOutput> {
    let start = Instant::now();
    let (out_r, out_w) = std::io::pipe()?;
    let (err_r, err_w) = std::io::pipe()?;
    let marker = supervise::new_marker();
    let hook_marker = marker.clone();
    let expr = duct::cmd(exe, args)
        .stdin_null()
        .stdout_file(out_w)
        .stderr_file(err_w)
        .unchecked()
        .before_spawn(move |cmd| {
            supervise::isolate(cmd, &hook_marker);
            Ok(())
        });
    let handle = expr.start()?;
    drop(expr); // the expression holds the pipes' write ends
    let tree = Tree::new(handle.pids().first().copied().unwrap_or(0), marker);
    let (tx, rx) = mpsc::channel::<(Stream, String)>();
    for (reader, stream) in [
        (Box::new(out_r) as Box<dyn Read + Send>, Stream::Out),
        (Box::new(err_r), Stream::Err),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            let mut buf = Vec::new();
            while r
                .read_until(b'\n', &mut buf)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                let line = String::from_utf8_lossy(&buf).into_owned();
                buf.clear();
                if tx.send((stream, line)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let pb = if show.progress {
        let pb =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb.set_prefix(show.label.clone());
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let mut take = |stream: Stream, line: String, pb: &indicatif::ProgressBar| {
        for piece in line.split('\r').filter(|p| !p.trim().is_empty()) {
            if let Some(stage) = stage_of(piece) {
                pb.set_message(stage);
            }
        }
        if show.echo {
            pb.suspend(|| {
                echo_line(&line);
            });
        }
        match stream {
            Stream::Out => stdout.push_str(&line),
            Stream::Err => stderr.push_str(&line),
        }
    };
    let mut ending = Ending::Exited;
    let mut signal = None;
    // When the tree was told to stop, and how many signals had arrived then.
    let mut stopping: Option<(Instant, usize)> = None;
    let mut killed = false;
    let code = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok((s, l)) => take(s, l, &pb),
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Some(out) = handle.try_wait()? {
            break out.status.code();
        }
        match stopping {
            None => {
                if let Some(sig) = signals::caught() {
                    ending = Ending::Interrupted;
                    signal = Some(sig);
                    #[cfg(unix)]
                    tree.signal(forwarded(sig));
                    stopping = Some((Instant::now(), signals::count()));
                } else if start.elapsed() >= timeout {
                    ending = Ending::TimedOut;
                    #[cfg(unix)]
                    tree.signal(libc::SIGTERM);
                    #[cfg(not(unix))]
                    let _ = handle.kill();
                    stopping = Some((Instant::now(), signals::count()));
                }
            }
            Some((since, seen)) if !killed => {
                if since.elapsed() >= grace || signals::count() > seen {
                    #[cfg(unix)]
                    tree.signal(libc::SIGKILL);
                    let _ = handle.kill();
                    killed = true;
                }
            }
            Some(_) => {}
        }
    };
    // The leader is gone: stop whatever it left running before anything is put back.
    let seen = signals::count();
    let leftover_grace = if stopping.is_some() {
        Duration::ZERO
    } else {
        grace
    };
    let leftovers = tree.stop_leftovers(leftover_grace, &|| signals::count() > seen);
    // Drain what is left; a stray holding the pipe must not keep us waiting.
    let drain_until = Instant::now() + Duration::from_millis(500);
    while let Ok((s, l)) = rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
        take(s, l, &pb);
    }
    pb.finish_and_clear();
    Ok(RunOutput {
        ending,
        code,
        stdout,
        stderr,
        elapsed_ms: start.elapsed().as_millis() as u64,
        signal,
        leftovers,
    })
}

/// Echo one line of frontend output on stderr (`-v`), never failing.
fn echo_line(line: &str) {
    use std::io::Write;
    let line = if line.ends_with('\n') {
        format!("  | {line}")
    } else {
        format!("  | {line}\n")
    };
    let _ = std::io::stderr().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real conda output from `../shared/reference/samples`, or a recorded skip.
    fn sample(name: &str) -> Option<String> {
        let p = crate::testing::skip::shared(&format!("reference/samples/{name}"))?;
        Some(std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    }

    #[test]
    fn conda_switch_sample() {
        let Some(s) = sample("conda-26.7-install-dry-run-switch-to-openblas.json") else {
            return;
        };
        let JsonAnswer::Transaction(p) = parse_preview(&s).unwrap() else {
            panic!("not a transaction")
        };
        assert!(p.added.is_empty() && p.removed.is_empty());
        let names: Vec<&str> = p.changed.iter().map(|c| c.to.name.as_str()).collect();
        assert_eq!(names, ["libblas", "libcblas", "liblapack"]);
        assert_eq!(p.changed[0].from.build, "20_linux64_mkl");
        assert_eq!(p.changed[0].to.build, "20_linux64_openblas");
        assert_eq!(
            p.lines()[0],
            "~ libblas 3.9.0 20_linux64_mkl -> 3.9.0 20_linux64_openblas"
        );
    }

    #[test]
    fn conda_nothing_to_do_sample() {
        let Some(s) = sample("conda-26.7-install-dry-run-nothing-to-do.json") else {
            return;
        };
        let JsonAnswer::Transaction(p) = parse_preview(&s).unwrap() else {
            panic!()
        };
        assert!(p.is_empty());
        assert_eq!(
            p.nothing_to_do.as_deref(),
            Some("All requested packages already installed.")
        );
    }

    #[test]
    fn conda_unavailable_sample() {
        let Some(s) = sample("conda-26.7-install-dry-run-unavailable.json") else {
            return;
        };
        let JsonAnswer::Error { name, message } = parse_preview(&s).unwrap() else {
            panic!()
        };
        assert_eq!(name.as_deref(), Some("PackagesNotFoundInChannelsError"));
        assert!(message.contains("libblas[build=*blis]"));
    }

    #[test]
    fn micromamba_shape() {
        let s = r#"{
          "actions": {
            "FETCH": [{"build":"20_linux64_mkl","build_number":20,"build_string":"20_linux64_mkl","channel":"conda-forge","name":"libblas","version":"3.9.0","depends":["mkl >=2023"],"url":"https://x/libblas.conda"}],
            "LINK": [
              {"build":"20_linux64_mkl","build_string":"20_linux64_mkl","channel":"conda-forge","name":"libblas","version":"3.9.0","subdir":"linux-64"},
              {"build":"h0_0","channel":"conda-forge","name":"mkl","version":"2023.2.0","subdir":"linux-64"}
            ],
            "UNLINK": [
              {"build":"20_linux64_openblas","build_string":"20_linux64_openblas","name":"libblas","version":"3.9.0"},
              {"build":"pthreads_h0_0","name":"libopenblas","version":"0.3.21"}
            ],
            "PREFIX": "/envs/my env"
          },
          "dry_run": true,
          "prefix": "/envs/my env",
          "success": true
        }"#;
        let JsonAnswer::Transaction(p) = parse_preview(s).unwrap() else {
            panic!()
        };
        assert_eq!(p.changed.len(), 1);
        assert_eq!(p.changed[0].to.build, "20_linux64_mkl");
        assert_eq!(p.added[0].name, "mkl");
        assert_eq!(p.added[0].build, "h0_0");
        assert_eq!(p.removed[0].name, "libopenblas");
    }

    #[test]
    fn json_after_log_lines_and_garbage() {
        let s = "warning: something\n{\"success\": true, \"message\": \"All requested packages already installed.\"}\n";
        assert!(matches!(parse_preview(s), Ok(JsonAnswer::Transaction(p)) if p.is_empty()));
        assert!(parse_preview("Solving environment: failed").is_err());
        assert!(parse_preview("").is_err());
        let e = parse_preview(r#"{"success": false, "error": "boom"}"#).unwrap();
        assert_eq!(
            e,
            JsonAnswer::Error {
                name: None,
                message: "boom".into()
            }
        );
    }

    #[test]
    fn dist_name_only_entries() {
        let s = r#"{"success":true,"actions":{"LINK":[{"dist_name":"mkl-2026.2.0-h0_0"}],"UNLINK":["conda-forge::nomkl-3.0-0"]}}"#;
        let JsonAnswer::Transaction(p) = parse_preview(s).unwrap() else {
            panic!()
        };
        assert_eq!(
            p.added[0],
            Pkg {
                name: "mkl".into(),
                version: "2026.2.0".into(),
                build: "h0_0".into(),
                channel: None
            }
        );
        assert_eq!(p.removed[0].name, "nomkl");
    }

    #[test]
    fn stages() {
        assert_eq!(
            stage_of("Solving environment: done").as_deref(),
            Some("Solving environment")
        );
        assert_eq!(
            stage_of("Collecting package metadata (repodata.json): done").as_deref(),
            Some("Collecting package metadata (repodata.json)")
        );
        assert_eq!(
            stage_of("Downloading and Extracting Packages:").as_deref(),
            Some("Downloading and Extracting Packages")
        );
        assert_eq!(
            stage_of("Transaction starting").as_deref(),
            Some("Transaction starting")
        );
        assert_eq!(stage_of("  + libblas 3.9.0"), None);
    }

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn resolve_order() {
        let yes = |_: &Path| true;
        let path_all = |n: &str| Some(PathBuf::from(format!("/usr/bin/{n}")));
        let path_none = |_: &str| None;
        // --frontend conda: $CONDA_EXE beats PATH (conda is often a shell function).
        let e = env(&[("CONDA_EXE", "/opt/mf/bin/conda")]);
        let f = resolve(
            Some(FrontendKind::Conda),
            EnvKind::System,
            &e,
            &yes,
            &path_all,
        )
        .unwrap();
        assert_eq!(
            (f.exe, f.how.as_str()),
            (PathBuf::from("/opt/mf/bin/conda"), "$CONDA_EXE")
        );
        // env kind micromamba: $MAMBA_EXE named micromamba.
        let e = env(&[
            ("CONDA_EXE", "/opt/mf/bin/conda"),
            ("MAMBA_EXE", "/home/u/.local/bin/micromamba"),
        ]);
        let f = resolve(None, EnvKind::Micromamba, &e, &yes, &path_none).unwrap();
        assert_eq!(f.kind, FrontendKind::Micromamba);
        // mamba wanted but MAMBA_EXE is micromamba: PATH.
        let f = resolve(None, EnvKind::Mamba, &e, &yes, &path_all).unwrap();
        assert_eq!(
            (f.kind, f.exe),
            (FrontendKind::Mamba, PathBuf::from("/usr/bin/mamba"))
        );
        // unknown kind: CONDA_EXE first.
        let f = resolve(None, EnvKind::System, &e, &yes, &path_none).unwrap();
        assert_eq!(f.kind, FrontendKind::Conda);
        // a stale CONDA_EXE is skipped.
        let no = |_: &Path| false;
        let f = resolve(
            Some(FrontendKind::Conda),
            EnvKind::Conda,
            &e,
            &no,
            &path_all,
        )
        .unwrap();
        assert_eq!(f.how, "conda on PATH");
        let err = resolve(
            Some(FrontendKind::Micromamba),
            EnvKind::Conda,
            &env(&[]),
            &yes,
            &path_none,
        )
        .unwrap_err();
        assert!(err.to_string().contains("micromamba not found"));
        assert!(resolve(None, EnvKind::Conda, &env(&[]), &yes, &path_none).is_err());
    }

    #[test]
    fn display_quotes_for_a_shell() {
        let args: Vec<OsString> = ["install", "-p", "/tmp/my env $x;&", "-y", "libblas=*=*mkl"]
            .map(OsString::from)
            .to_vec();
        assert_eq!(
            display_command(Path::new("/opt/conda"), &args),
            "/opt/conda install -p '/tmp/my env $x;&' -y 'libblas=*=*mkl'"
        );
    }
}

#[cfg(all(test, unix))]
mod run_tests {
    use super::*;

    fn py(code: &str) -> (PathBuf, Vec<OsString>) {
        (
            which::which("python3").expect("python3 on PATH"),
            vec!["-c".into(), code.into()],
        )
    }

    #[test]
    fn captures_streams_and_code() {
        let (exe, args) = py(
            "import sys; print('Solving environment: done'); print('oops', file=sys.stderr); sys.exit(4)",
        );
        let out = run(&exe, &args, Duration::from_secs(60), &Show::default()).unwrap();
        assert_eq!((out.ending, out.code), (Ending::Exited, Some(4)));
        assert!(out.stdout.contains("Solving"));
        assert_eq!(out.tail(1), "oops");
    }

    #[test]
    fn kills_at_timeout() {
        let (exe, args) = py("import time; time.sleep(600)");
        let out = run(&exe, &args, Duration::from_millis(300), &Show::default()).unwrap();
        assert_eq!(out.ending, Ending::TimedOut);
        assert!(!out.success());
    }

    /// Running processes whose command line holds `token` (zombies excluded).
    fn running_with(token: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rfind(')')
                .is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'));
            if cmd.contains(token) && !zombie {
                out.push(cmd);
            }
        }
        out
    }

    /// A `conda` wrapper script that forks grandchildren (one of them leaves the process group
    /// with setsid when `setsid` exists, one ignores SIGTERM when asked) and then waits.
    fn wrapper(dir: &Path, token: &str, ignore_term: bool, exit_early: bool) -> PathBuf {
        let py = which::which("python3").unwrap();
        let sleeper = format!(
            "'{}' -c 'import time; time.sleep(600)' {token}",
            py.display()
        );
        let stubborn = format!(
            "'{}' -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)' {token}",
            py.display()
        );
        let mut body = format!("#!/bin/sh\n{sleeper} &\n{sleeper} &\n");
        if which::which("setsid").is_ok() {
            body.push_str(&format!("setsid {sleeper} &\n"));
        }
        if ignore_term {
            body.push_str(&format!("{stubborn} &\n"));
        }
        body.push_str("echo 'Executing transaction: ...working...'\n");
        body.push_str(if exit_early { "exit 0\n" } else { "wait\n" });
        let p = dir.join("conda");
        std::fs::write(&p, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn token() -> String {
        format!(
            "blasfix-test-{}-{}",
            std::process::id(),
            supervise::new_marker()
        )
    }

    #[test]
    fn timeout_stops_the_whole_tree_of_a_wrapper() {
        let dir = tempfile::tempdir().unwrap();
        let t = token();
        let exe = wrapper(dir.path(), &t, false, false);
        let show = Show::default();
        // Once the wrapper printed its line, its grandchildren exist; the timeout then stops
        // them all, including the one that left the group.
        let out = run_with_grace(&exe, &[], Duration::from_secs(2), &show, GRACE).unwrap();
        assert_eq!(out.ending, Ending::TimedOut);
        assert!(out.stdout.contains("Executing transaction"));
        assert_eq!(running_with(&t), Vec::<String>::new());
    }

    #[test]
    fn a_grandchild_ignoring_sigterm_gets_sigkill_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let t = token();
        let exe = wrapper(dir.path(), &t, true, false);
        let out = run_with_grace(
            &exe,
            &[],
            Duration::from_secs(2),
            &Show::default(),
            Duration::from_millis(500),
        )
        .unwrap();
        assert_eq!(out.ending, Ending::TimedOut);
        assert_eq!(running_with(&t), Vec::<String>::new());
    }

    #[test]
    fn what_a_finished_frontend_left_running_is_stopped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let t = token();
        let exe = wrapper(dir.path(), &t, true, true);
        let out = run_with_grace(
            &exe,
            &[],
            Duration::from_secs(600),
            &Show::default(),
            Duration::from_millis(500),
        )
        .unwrap();
        assert_eq!((out.ending, out.code), (Ending::Exited, Some(0)));
        assert!(out.leftovers >= 3, "{}", out.leftovers);
        assert_eq!(running_with(&t), Vec::<String>::new());
    }
}
