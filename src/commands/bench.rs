//! `blasfix bench`: run `templates/bench.py` (appended to the probe, so the BLAS listing has
//! one source) in the environment's Python, show progress from its JSON-lines events, and print
//! median GFLOP/s, spread and share of the CPU's peak per case, with the BLAS and thread count
//! that ran it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli::{BenchArgs, GlobalArgs};
use crate::error::{EXIT_OK, UserError};
use crate::facts::cpu::CpuFacts;
use crate::facts::probe::{self, LoadedLib, ProbeError, ProbeJson, RuntimeFacts};
use crate::facts::snapshot::EnvSnapshot;

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

/// The theoretical peak the percentages are relative to.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Peak {
    pub fp64_gflops: Option<f64>,
    pub fp32_gflops: Option<f64>,
    /// How it was computed, or why it is unknown.
    pub basis: String,
}

/// Everything `blasfix bench` prints.
#[derive(Debug, Clone, Serialize, Default)]
pub struct BenchReport {
    pub runtime: RuntimeFacts,
    /// Threads of the BLAS that ran the cases (None when the BLAS does not say, e.g. Accelerate).
    pub threads: Option<i64>,
    pub peak: Peak,
    pub quick: bool,
    pub elapsed_s: f64,
    /// The machine was already busy when the benchmark started: numbers will not reproduce.
    pub busy: Option<String>,
    pub cases: Vec<CaseResult>,
}

pub fn run(args: &BenchArgs, global: &GlobalArgs) -> anyhow::Result<u8> {
    let env = EnvSnapshot::capture();
    let facts = super::gather(&args.env, &env, None)?;
    let python = python_of(
        facts.environment.python.as_deref(),
        &facts.environment.prefix,
    )
    .ok_or_else(|| {
        UserError::usage(format!(
            "{}: no Python interpreter found in this environment",
            facts.environment.prefix.display()
        ))
        .with_hint("choose an environment that has Python with -n NAME or -p PATH")
    })?;

    let report = measure(
        &python,
        &facts.machine,
        args.quick,
        Duration::from_secs(args.timeout),
        global.quiet,
        global.verbose > 0,
    )?;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    // A transient condition, not a result: on stderr, so that the report is the same on a busy
    // and a quiet machine (JSON keeps it as `busy`).
    if let Some(b) = &report.busy {
        let s = crate::render::style::Styles::stderr();
        for (i, l) in crate::render::report::wrap(b, 70).iter().enumerate() {
            let tag = if i == 0 {
                s.warn("warning:")
            } else {
                " ".repeat(8)
            };
            eprintln!("{tag} {l}");
        }
    }
    Ok(EXIT_OK)
}

/// The environment's interpreter: what `envs` found, else the usual places in the prefix.
/// Run bench.py in `python` with a progress bar and build the report (shared by `bench` and
/// `apply --bench`).
pub fn measure(
    python: &Path,
    machine: &CpuFacts,
    quick: bool,
    timeout: Duration,
    quiet: bool,
    verbose: bool,
) -> anyhow::Result<BenchReport> {
    let bar = progress_bar(quiet);
    let mut on_line = {
        let bar = bar.clone();
        move |line: &str| match parse_event(line) {
            Some(Event::Start { cases }) => {
                bar.set_length(cases);
                bar.set_position(0);
            }
            Some(Event::Case { name, n, i }) => {
                bar.set_position(i);
                bar.set_message(format!("{name} n={n}"));
            }
            None if verbose && !line.trim().is_empty() => bar.println(format!("python: {line}")),
            None => {}
        }
    };
    let script_args: Vec<String> = if quick {
        vec!["--quick".into()]
    } else {
        vec![]
    };
    let secs = timeout.as_secs();
    let run = probe::run_script(python, BENCH_PY, &script_args, timeout, &[], &mut on_line);
    bar.finish_and_clear();
    let run = run.map_err(|e| probe_user_error(e, secs))?;
    let value: serde_json::Value =
        probe::parse_output(python, timeout, &run).map_err(|e| probe_user_error(e, secs))?;
    build_report(python, &value, machine).map_err(|e| probe_user_error(e, secs))
}

/// One line for `apply --bench`: the largest DGEMM's median GFLOP/s.
pub fn summary(r: &BenchReport) -> String {
    r.cases
        .iter()
        .filter(|c| c.name == "dgemm")
        .filter_map(|c| c.gflops.map(|g| (c.n, g.median)))
        .max_by_key(|(n, _)| *n)
        .map(|(n, g)| format!("DGEMM n={n}: {} GFLOP/s", fmt_gflops(g)))
        .unwrap_or_else(|| "no DGEMM result".into())
}

pub fn python_of(located: Option<&Path>, prefix: &Path) -> Option<PathBuf> {
    if let Some(p) = located {
        return Some(p.to_path_buf());
    }
    [
        "bin/python3",
        "bin/python",
        "python.exe",
        "Scripts/python.exe",
    ]
    .iter()
    .map(|rel| prefix.join(rel))
    .find(|p| p.is_file())
}

fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} benchmarking [{bar:30}] {pos}/{len} {msg} ({elapsed})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
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

fn probe_user_error(e: ProbeError, timeout: u64) -> anyhow::Error {
    let hint = match &e {
        ProbeError::NumpyMissing { .. } => Some(
            "install NumPy in this environment, or choose another with -n NAME or -p PATH"
                .to_string(),
        ),
        ProbeError::PythonMissing { .. }
        | ProbeError::NotExecutable { .. }
        | ProbeError::BrokenLink { .. } => {
            Some("choose an environment with a working Python with -n NAME or -p PATH".to_string())
        }
        ProbeError::Timeout { .. } => Some(format!(
            "the benchmark needed more than {timeout} s; try --quick or a larger --timeout"
        )),
        ProbeError::TooOld { .. } => Some("the benchmark needs Python 3.6 or newer".to_string()),
        _ => None,
    };
    let mut err = UserError::usage(format!("benchmark: {e}"));
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.into()
}

/// Turn bench.py's JSON into the report (pure apart from the CPU facts passed in).
pub fn build_report(
    python: &Path,
    value: &serde_json::Value,
    cpu: &CpuFacts,
) -> Result<BenchReport, ProbeError> {
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
    let runtime = probe::interpret(raw);
    let threads = blas_threads(&runtime);
    let cores = threads
        .and_then(|t| usize::try_from(t).ok())
        .unwrap_or(cpu.usable_cpus.max(1));
    let fp64 = peak_gflops(cpu, cores, false);
    let fp32 = peak_gflops(cpu, cores, true);
    let basis = match (fp64, cpu.fp64_flops_per_cycle, cpu.base_mhz) {
        (Some(_), Some(f), Some(mhz)) => format!(
            "{} cores x {:.2} GHz x {f} FP64 FLOP/cycle (FP32: twice that); nominal clock, AVX clocks run lower",
            effective_cores(cpu, cores),
            f64::from(mhz) / 1000.0
        ),
        _ => "unknown: the CPU's clock or FLOPs per cycle is not known".to_string(),
    };
    let cases = data
        .cases
        .into_iter()
        .map(|mut c| {
            let peak = if c.dtype == "float32" { fp32 } else { fp64 };
            c.percent_of_peak = match (c.kind.as_str(), c.gflops, peak) {
                ("gemm", Some(g), Some(p)) if p > 0.0 => Some(100.0 * g.median / p),
                _ => None,
            };
            c
        })
        .collect();
    let busy = busy_note(data.load_before, cpu.usable_cpus);
    Ok(BenchReport {
        busy,
        runtime,
        threads,
        peak: Peak {
            fp64_gflops: fp64,
            fp32_gflops: fp32,
            basis,
        },
        quick: data.quick,
        elapsed_s: data.elapsed_s,
        cases,
    })
}

/// A warning when other work already loaded the CPUs the benchmark needs (the one-minute load
/// average before the first case includes only the probe's own brief start-up).
pub fn busy_note(load_before: Option<f64>, usable_cpus: usize) -> Option<String> {
    let load = load_before?;
    let cpus = usable_cpus.max(1) as f64;
    (load >= 0.5 * cpus).then(|| {
        format!(
            "the machine was busy before the benchmark started (load average {load:.1} on {} CPUs): \
             other work competes with the BLAS threads, so these numbers are low and will not reproduce",
            usable_cpus.max(1)
        )
    })
}

/// The BLAS library NumPy uses (its own copy first), for the thread count and the header line.
fn numpy_blas(rt: &RuntimeFacts) -> Option<&LoadedLib> {
    let is_impl = |l: &&LoadedLib| probe::impl_of(l) == Some(rt.implementation);
    rt.blas_libraries()
        .filter(is_impl)
        .find(|l| l.owner.as_deref() == Some("numpy"))
        .or_else(|| rt.blas_libraries().find(is_impl))
        .or_else(|| rt.blas_libraries().next())
}

fn blas_threads(rt: &RuntimeFacts) -> Option<i64> {
    numpy_blas(rt)
        .and_then(|l| l.num_threads)
        .filter(|n| *n > 0)
}

fn effective_cores(cpu: &CpuFacts, threads: usize) -> usize {
    let cores = cpu
        .physical_cores
        .unwrap_or(cpu.usable_cpus)
        .min(cpu.usable_cpus.max(1));
    threads.clamp(1, cores.max(1))
}

/// Peak GFLOP/s for `threads` threads (at least one); `single` = FP32.
pub fn peak_gflops(cpu: &CpuFacts, threads: usize, single: bool) -> Option<f64> {
    crate::facts::cpu::peak_gflops(cpu, threads.max(1), single)
}

fn fmt_gflops(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The table for a person.
pub fn render(r: &BenchReport) -> String {
    let mut out = String::new();
    let rt = &r.runtime;
    let blas = match numpy_blas(rt) {
        Some(l) => {
            let mut s = rt.implementation.display_name().to_string();
            if let Some(v) = &l.version {
                s.push_str(&format!(" {v}"));
            }
            let file = Path::new(&l.filepath)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            s.push_str(&format!(" ({file}"));
            if let Some(layer) = &l.threading_layer {
                s.push_str(&format!(", {layer}"));
            }
            if let Some(core) = &l.architecture {
                s.push_str(&format!(", core {core}"));
            }
            s.push(')');
            s
        }
        None => rt.implementation.display_name().to_string(),
    };
    let threads = r
        .threads
        .map(|t| format!("{t} thread{}", if t == 1 { "" } else { "s" }))
        .unwrap_or_else(|| "threads not reported".into());
    out.push_str(&format!("BLAS:   {blas}, {threads}\n"));
    out.push_str(&format!(
        "NumPy:  {} on Python {} ({})\n",
        rt.numpy_version.as_deref().unwrap_or("?"),
        rt.python.as_deref().unwrap_or("?"),
        rt.python_executable
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ));
    match r.peak.fp64_gflops {
        Some(p) => out.push_str(&format!(
            "Peak:   {} GFLOP/s FP64 = {}\n",
            fmt_gflops(p),
            r.peak.basis
        )),
        None => out.push_str(&format!("Peak:   {}\n", r.peak.basis)),
    }
    out.push('\n');
    let header = ["case", "size", "GFLOP/s", "spread (min-max)", "% peak"];
    let mut rows: Vec<[String; 5]> = Vec::new();
    for c in &r.cases {
        let name = match c.kind.as_str() {
            "svd" | "eigh" => format!("{} (values)", c.name),
            _ => c.name.clone(),
        };
        let size = format!("{}", c.n);
        let row = match (&c.gflops, &c.skipped, &c.error) {
            (Some(g), _, _) => [
                name,
                size,
                fmt_gflops(g.median),
                format!("{}-{}", fmt_gflops(g.min), fmt_gflops(g.max)),
                c.percent_of_peak
                    .map(|p| format!("{p:.0}%"))
                    .unwrap_or_else(|| "-".into()),
            ],
            (None, Some(why), _) => [name, size, "skipped".into(), why.clone(), String::new()],
            (None, None, Some(e)) => [name, size, "failed".into(), e.clone(), String::new()],
            _ => [name, size, "-".into(), String::new(), String::new()],
        };
        rows.push(row);
    }
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        format!(
            "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        )
        .trim_end()
        .to_string()
            + "\n"
    };
    out.push_str(&line(header));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    let repeats = r.cases.iter().map(|c| c.repeats).max().unwrap_or(0);
    let note = format!(
        "Median of {repeats} rounds over all cases (fresh inputs and a warm-up call in each); spread is the slowest and fastest round. {:.1} s in all{}.",
        r.elapsed_s,
        if r.quick { " (--quick)" } else { "" }
    );
    out.push('\n');
    for l in crate::render::report::wrap(&note, 79) {
        out.push_str(&l);
        out.push('\n');
    }
    if !rt.warnings.is_empty() {
        for w in &rt.warnings {
            out.push_str(&format!("note: {w}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "python": {"version": "3.11.7", "executable": "/v/bin/python"},
            "numpy": {"version": "2.4.6", "file": "/v/lib/python3.11/site-packages/numpy/__init__.py"},
            "loaded": {"method": "dl_iterate_phdr", "source": "blasfix (dl_iterate_phdr)", "libraries": [
                {"user_api": "blas", "internal_api": "openblas", "version": "0.3.31",
                 "filepath": "/v/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so",
                 "num_threads": 2, "threading_layer": "pthreads", "architecture": "Haswell"}]},
            "config": {"format": "meson", "blas": {"name": "scipy-openblas"}},
            "bench": {"quick": true, "elapsed_s": 4.2, "cases": [
                {"name": "dgemm", "kind": "gemm", "dtype": "float64", "n": 1024, "flops": 2.0e9, "repeats": 7,
                 "inner": 1, "seconds": {"median": 0.02, "min": 0.019, "max": 0.021, "q1": 0.0195, "q3": 0.0205},
                 "gflops": {"median": 100.0, "min": 95.0, "max": 105.0, "q1": 98.0, "q3": 102.0}},
                {"name": "sgemm", "kind": "gemm", "dtype": "float32", "n": 1024, "flops": 2.0e9, "repeats": 7,
                 "gflops": {"median": 200.0, "min": 190.0, "max": 210.0, "q1": 198.0, "q3": 202.0}},
                {"name": "svd", "kind": "svd", "dtype": "float64", "n": 512, "repeats": 7,
                 "gflops": {"median": 10.0, "min": 9.0, "max": 11.0, "q1": 9.5, "q3": 10.5}},
                {"name": "dgemm", "kind": "gemm", "dtype": "float64", "n": 4096, "repeats": 7,
                 "skipped": "one call would take about 30 s"}
            ]}
        })
    }

    fn cpu() -> CpuFacts {
        CpuFacts {
            usable_cpus: 4,
            physical_cores: Some(4),
            base_mhz: Some(2500),
            fp64_flops_per_cycle: Some(16),
            ..Default::default()
        }
    }

    #[test]
    fn report_uses_numpy_blas_threads_for_peak() {
        let r = build_report(Path::new("/v/bin/python"), &sample(), &cpu()).expect("report");
        assert_eq!(r.threads, Some(2));
        assert_eq!(r.peak.fp64_gflops, Some(80.0)); // 2 cores x 2.5 GHz x 16
        assert_eq!(r.peak.fp32_gflops, Some(160.0));
        assert_eq!(r.cases[0].percent_of_peak, Some(125.0));
        assert_eq!(r.cases[1].percent_of_peak, Some(125.0));
        assert_eq!(
            r.cases[2].percent_of_peak, None,
            "only GEMM has a meaningful peak share"
        );
        assert_eq!(
            r.runtime.implementation,
            crate::facts::blas::BlasImpl::Openblas
        );
    }

    #[test]
    fn peak_is_unknown_without_clock_or_flops() {
        let r = build_report(
            Path::new("/v/bin/python"),
            &sample(),
            &CpuFacts {
                usable_cpus: 2,
                ..Default::default()
            },
        )
        .expect("report");
        assert_eq!(r.peak.fp64_gflops, None);
        assert!(r.peak.basis.starts_with("unknown"));
        assert!(r.cases.iter().all(|c| c.percent_of_peak.is_none()));
    }

    #[test]
    fn peak_counts_physical_cores_only() {
        let c = CpuFacts {
            usable_cpus: 8,
            physical_cores: Some(4),
            base_mhz: Some(3000),
            fp64_flops_per_cycle: Some(16),
            ..Default::default()
        };
        assert_eq!(peak_gflops(&c, 8, false), Some(192.0));
        assert_eq!(peak_gflops(&c, 1, true), Some(96.0));
        assert_eq!(peak_gflops(&c, 0, false), Some(48.0));
    }

    #[test]
    fn table_shows_cases_spread_and_skips() {
        let r = build_report(Path::new("/v/bin/python"), &sample(), &cpu()).expect("report");
        let t = render(&r);
        assert!(t.contains("BLAS:   OpenBLAS 0.3.31 (libscipy_openblas64_-32a4b2a6.so, pthreads, core Haswell), 2 threads"), "{t}");
        assert!(
            t.contains("Peak:   80.0 GFLOP/s FP64 = 2 cores x 2.50 GHz x 16"),
            "{t}"
        );
        let dgemm = t
            .lines()
            .find(|l| l.starts_with("dgemm") && l.contains("1024"))
            .expect("dgemm row");
        assert!(
            dgemm.contains("100") && dgemm.contains("95.0-105") && dgemm.contains("125%"),
            "{dgemm}"
        );
        assert!(t.contains("svd (values)"), "{t}");
        assert!(
            t.lines()
                .any(|l| l.contains("4096") && l.contains("skipped") && l.contains("30 s")),
            "{t}"
        );
        assert!(t.contains("Median of 7 rounds"), "{t}");
    }

    #[test]
    fn fatal_and_missing_bench_are_errors() {
        let v = serde_json::json!({"fatal": "numpy_missing", "python": {"version": "3.11.7"},
            "numpy_error": {"type": "ModuleNotFoundError", "message": "No module named 'numpy'"}});
        let e = build_report(Path::new("/p"), &v, &cpu()).unwrap_err();
        assert!(matches!(e, ProbeError::NumpyMissing { .. }));
        let v =
            serde_json::json!({"numpy": {"version": "2.0.0"}, "errors": ["bench: MemoryError: x"]});
        let e = build_report(Path::new("/p"), &v, &cpu()).unwrap_err();
        assert!(e.to_string().contains("MemoryError"), "{e}");
    }

    #[test]
    fn busy_machine_is_noted() {
        assert!(busy_note(Some(0.3), 2).is_none());
        assert!(busy_note(None, 2).is_none());
        let n = busy_note(Some(12.25), 2).expect("busy");
        assert!(
            n.contains("load average 12.2 on 2 CPUs") || n.contains("load average 12.3 on 2 CPUs"),
            "{n}"
        );
    }

    #[test]
    fn the_report_reads_the_same_on_a_busy_machine() {
        let quiet = build_report(Path::new("/v/bin/python"), &sample(), &cpu()).expect("report");
        let mut busy = quiet.clone();
        busy.busy = busy_note(Some(12.0), 2);
        assert!(busy.busy.is_some());
        assert_eq!(
            render(&busy),
            render(&quiet),
            "the busy note goes to stderr"
        );
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

    #[test]
    fn python_is_found_in_the_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(python_of(None, dir.path()), None);
        std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
        std::fs::write(dir.path().join("bin/python"), "").expect("write");
        assert_eq!(
            python_of(None, dir.path()),
            Some(dir.path().join("bin/python"))
        );
        assert_eq!(
            python_of(Some(Path::new("/x/python3")), dir.path()),
            Some(PathBuf::from("/x/python3"))
        );
    }
}
