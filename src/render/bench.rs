//! What `blasfix bench` prints: the table of cases with median, spread and share of peak, the
//! BLAS that ran them, and the one-line summary `apply --bench` shows.

use std::path::Path;

use crate::diagnose::bench::{BenchReport, numpy_blas};

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
    for l in super::text::wrap(&note, 79) {
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

/// The busy-machine warning, for stderr: a transient condition, not a result, so the report
/// itself reads the same on a busy and a quiet machine (JSON keeps it as `busy`).
pub fn busy_warning(r: &BenchReport) -> Option<String> {
    let b = r.busy.as_ref()?;
    let s = super::style::Styles::stderr();
    let mut out = String::new();
    for (i, l) in super::text::wrap(b, 70).iter().enumerate() {
        let tag = if i == 0 {
            s.warn("warning:")
        } else {
            " ".repeat(8)
        };
        out.push_str(&format!("{tag} {l}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::bench::tests::{build_report, cpu, sample};

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
    fn the_report_reads_the_same_on_a_busy_machine() {
        let quiet = build_report(Path::new("/v/bin/python"), &sample(), &cpu()).expect("report");
        let mut busy = quiet.clone();
        busy.busy = crate::diagnose::bench::busy_note(Some(12.0), 2);
        assert!(busy.busy.is_some());
        assert_eq!(
            render(&busy),
            render(&quiet),
            "the busy note is not in the report"
        );
        assert!(busy_warning(&quiet).is_none());
        let w = busy_warning(&busy).expect("warning");
        assert!(w.starts_with("warning: the machine was busy"), "{w}");
        let words = w.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words.contains("load average 12.0 on 2 CPUs"), "{w}");
        assert!(w.lines().all(|l| l.len() <= 80), "{w}");
    }
}
