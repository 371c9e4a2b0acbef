//! What the BLAS delivers, measured: `templates/bench.py` (appended to the probe, so the BLAS
//! listing has one source) run in the environment's Python, its progress events and its
//! results as plain data.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::facts::probe::{self, ProbeError, ProbeJson, RuntimeFacts};

/// probe.py with its `main` disabled, then bench.py.
pub const BENCH_PY: &str = concat!(
    "_BLASFIX_NO_MAIN = True\n",
    include_str!("../../templates/probe.py"),
    "\n",
    include_str!("../../templates/bench.py")
);

/// Median, extremes and quartiles of one measurement.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub q1: f64,
    pub q3: f64,
}

/// One benchmark case as bench.py reports it, plus the share of peak blasfix adds.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct CaseResult {
    /// "dgemm", "sgemm", "cholesky", "solve", "svd" (values only), "eigh" (values only).
    pub name: String,
    pub kind: String,
    pub dtype: String,
    pub n: u64,
    /// Nominal floating-point operations of one call (see templates/bench.py).
    pub flops: f64,
    pub repeats: u32,
    /// Calls per timed sample.
    pub inner: Option<u32>,
    /// Seconds per call.
    pub seconds: Option<Stats>,
    pub gflops: Option<Stats>,
    pub skipped: Option<String>,
    pub error: Option<String>,
    /// Median GFLOP/s as a percentage of the peak for this precision and thread count.
    pub percent_of_peak: Option<f64>,
}

/// What bench.py measured.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct BenchData {
    pub quick: bool,
    pub cases: Vec<CaseResult>,
    pub elapsed_s: f64,
    pub memory_bytes: Option<u64>,
    /// One-minute load average before the first case (Unix), to tell a busy machine.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
}

/// What one benchmark run saw: the BLAS loaded in the process and the measured cases.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub runtime: RuntimeFacts,
    pub data: BenchData,
}

/// bench.py's JSON as facts: what the probe part saw loaded and what the cases measured.
pub fn read(python: &Path, value: &serde_json::Value) -> Result<Measured, ProbeError> {
    let invalid = |detail: String| ProbeError::InvalidOutput {
        path: python.to_path_buf(),
        detail,
        stderr: String::new(),
    };
    let raw: ProbeJson = serde_json::from_value(value.clone())
        .map_err(|e| invalid(format!("unexpected report: {e}")))?;
    probe::check_fatal(python, &raw)?;
    let data: BenchData = match value.get("bench") {
        Some(b) => serde_json::from_value(b.clone())
            .map_err(|e| invalid(format!("unexpected benchmark data: {e}")))?,
        None => {
            return Err(invalid(format!(
                "no benchmark data ({})",
                raw.errors.join("; ")
            )));
        }
    };
    Ok(Measured {
        runtime: probe::interpret(raw),
        data,
    })
}

/// Run bench.py in `python` (`quick`: fewer sizes and rounds); each stderr line goes to
/// `on_line` as it arrives (progress events, see [`parse_event`]).
pub fn run(
    python: &Path,
    quick: bool,
    timeout: Duration,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Measured, ProbeError> {
    let script_args: Vec<String> = if quick {
        vec!["--quick".into()]
    } else {
        vec![]
    };
    let run = probe::run_script(python, BENCH_PY, &script_args, timeout, &[], on_line)?;
    let value: serde_json::Value = probe::parse_output(python, timeout, &run)?;
    read(python, &value)
}

/// A progress event from bench.py's stderr.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Start { cases: u64 },
    Case { name: String, n: u64, i: u64 },
}

/// Parse one stderr line; anything that is not an event is `None`.
pub fn parse_event(line: &str) -> Option<Event> {
    let line = line.trim();
    if !line.starts_with("{") || !line.contains("\"event\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    match v.get("event")?.as_str()? {
        "start" => Some(Event::Start {
            cases: v.get("cases")?.as_u64()?,
        }),
        "case" => Some(Event::Case {
            name: v.get("name")?.as_str()?.to_string(),
            n: v.get("n").and_then(|x| x.as_u64()).unwrap_or(0),
            i: v.get("i")?.as_u64()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_and_missing_bench_are_errors() {
        let v = serde_json::json!({"fatal": "numpy_missing", "python": {"version": "3.11.7"},
            "numpy_error": {"type": "ModuleNotFoundError", "message": "No module named 'numpy'"}});
        let e = read(Path::new("/p"), &v).unwrap_err();
        assert!(matches!(e, ProbeError::NumpyMissing { .. }));
        let v =
            serde_json::json!({"numpy": {"version": "2.0.0"}, "errors": ["bench: MemoryError: x"]});
        let e = read(Path::new("/p"), &v).unwrap_err();
        assert!(e.to_string().contains("MemoryError"), "{e}");
    }

    #[test]
    fn events_parse_and_noise_does_not() {
        assert_eq!(
            parse_event(r#"{"cases": 8, "event": "start"}"#),
            Some(Event::Start { cases: 8 })
        );
        assert_eq!(
            parse_event(r#"{"event": "case", "i": 3, "n": 1024, "name": "sgemm"}"#),
            Some(Event::Case {
                name: "sgemm".into(),
                n: 1024,
                i: 3
            })
        );
        assert_eq!(
            parse_event("OpenBLAS warning: precompiled NUM_THREADS exceeded"),
            None
        );
        assert_eq!(parse_event(r#"{"event": 3}"#), None);
    }
}
