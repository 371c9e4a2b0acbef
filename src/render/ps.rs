//! Renderers for `ps`: the JSON document (schema in `templates/schema/ps.schema.json`), the
//! human report (a process table per tree at 80 columns, totals, findings, what could not be
//! read) and the frame of `--watch` (the same table cut to the terminal).

use serde_json::{Value, json};

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::workload::{Pool, ProcessView, Tree, Workload, cut};
use crate::facts::cpu::CpuFacts;
use crate::facts::process::LibImpl;
use crate::render::report::finding;
use crate::render::style::Styles;
use crate::render::text::wrap;

/// Version of the `ps --json` document; bumped only for incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The `--json` document.
pub fn json(w: &Workload, found: &[Finding], m: &CpuFacts) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "blasfix_version": env!("CARGO_PKG_VERSION"),
        "machine": {
            "logical_cpus": m.logical_cpus,
            "usable_cpus": m.usable_cpus,
            "physical_cores": m.physical_cores,
            "vendor": m.vendor.trim(),
            "vendor_family": m.vendor_family,
            "brand": m.brand,
        },
        "window_s": (w.window_s * 1000.0).round() / 1000.0,
        "processes": w.processes.iter().map(process_json).collect::<Vec<_>>(),
        "trees": w.trees,
        "totals": w.totals,
        "findings": found.iter().map(|f| json!({
            "id": f.id,
            "severity": f.severity,
            "title": f.title,
            "detail": f.detail,
            "fix": f.fix,
        })).collect::<Vec<_>>(),
        "unreadable": w.unreadable,
        "notes": w.notes,
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn process_json(p: &ProcessView) -> Value {
    json!({
        "pid": p.pid,
        "ppid": p.ppid,
        "cmd": p.cmd,
        "role": p.role,
        "python": p.python,
        "threads": p.threads,
        "running_threads": p.running_threads,
        "busy_threads": p.busy_threads,
        "cpu_percent": p.cpu_percent.map(round1),
        "affinity": p.affinity,
        "usable_cpus": p.usable_cpus,
        "cgroup": p.cgroup.as_ref().map(|c| json!({
            "path": c.path,
            "quota": c.quota,
            "quota_source": c.quota_source,
            "nr_throttled": c.nr_throttled,
            "throttled_in_window": p.throttled_in_window,
        })),
        "env": p.env,
        "libraries": p.libraries,
        "pools": p.pools.iter().map(|x| json!({
            "implementation": x.implementation,
            "path": x.path,
            "threads": x.threads,
            "observed": x.observed,
            "inferred": x.inferred,
            "started": x.started,
            "basis": x.basis,
            "tids": x.tids,
            "busy_threads": x.busy_threads,
        })).collect::<Vec<_>>(),
        "busiest_threads": p.busiest.iter().map(|t| json!({
            "tid": t.tid,
            "name": t.name,
            "state": t.state.to_string(),
            "cpu_percent": round1(t.cpu_percent),
        })).collect::<Vec<_>>(),
        "hidden": p.hidden,
    })
}

/// A short pool label: the largest pool ("OpenBLAS 8"; "~" when inferred, "+" when more).
fn pool_label(p: &ProcessView) -> String {
    let Some(best) = p.pools.iter().max_by_key(|x| (x.threads, x.observed)) else {
        return "-".into();
    };
    let more = if p.pools.len() > 1 { "+" } else { "" };
    format!(
        "{} {}{}{more}",
        short_name(best.implementation),
        if best.observed { "" } else { "~" },
        best.threads
    )
}

fn short_name(i: LibImpl) -> &'static str {
    match i {
        LibImpl::Libgomp => "gomp",
        LibImpl::Libiomp => "iomp",
        LibImpl::Libomp => "omp",
        LibImpl::Vcomp => "vcomp",
        other => other.display_name(),
    }
}

fn cpus_label(p: &ProcessView) -> String {
    p.affinity
        .as_ref()
        .map_or("?".into(), |a| cut(&a.to_list(), 5))
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.0}", v))
}

const HEADER: &str = "  PID        ROLE          THR RUN CPU%  CPUS  POOL         COMMAND";

/// One table row: the PID indented under its parent, then the columns, the command last.
fn row(p: &ProcessView, width: usize) -> String {
    let pid = format!("{}{}", " ".repeat(p.depth.min(3)), p.pid);
    let head = format!(
        "  {pid:<10} {:<12} {:>3} {:>3} {:>4}  {:<5} {:<12} ",
        cut(p.role.label(), 12),
        p.threads,
        p.running_threads,
        pct(p.cpu_percent),
        cpus_label(p),
        cut(&pool_label(p), 12),
    );
    let room = width.saturating_sub(head.chars().count()).max(8);
    format!("{head}{}", cut(&p.cmd, room))
}

fn tree_line(t: &Tree) -> String {
    let s = &t.totals;
    let launcher = t
        .launcher
        .map(|l| format!(" ({} workers)", l.as_str()))
        .unwrap_or_default();
    format!(
        "  tree {}{launcher}: {} processes, {} threads ({} running, {} busy), {} in pools, \
         {} CPUs usable",
        t.root,
        s.processes,
        s.threads,
        s.running_threads,
        s.busy_threads,
        s.pool_threads,
        s.usable_cpus
    )
}

fn machine_line(m: &CpuFacts) -> String {
    let mut s = m.brand.clone().unwrap_or_else(|| "unknown CPU".into());
    s.push_str(&format!(
        " ({}): {} logical",
        m.vendor.trim(),
        m.logical_cpus
    ));
    if let Some(p) = m.physical_cores {
        s.push_str(&format!(", {p} physical"));
    }
    s
}

fn pool_detail(x: &Pool) -> String {
    let busy = x
        .busy_threads
        .map(|b| format!(", {b} busy"))
        .unwrap_or_default();
    format!(
        "{} ({}) {} thread(s){busy} ({})",
        x.implementation.display_name(),
        x.path.rsplit('/').next().unwrap_or(&x.path),
        x.threads,
        x.basis
    )
}

/// The `-v` lines under a process.
fn details(p: &ProcessView, st: &Styles) -> Vec<String> {
    let mut out = Vec::new();
    let mut item = |label: &str, text: String| {
        for (i, l) in wrap(&text, 62).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            out.push(format!("      {}{l}", st.dim(&format!("{label:<10}"))));
        }
    };
    item("command", p.cmd.clone());
    if !p.env.is_empty() {
        let vars: Vec<String> = p.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        item("env", vars.join(" "));
    } else if !p.hidden.iter().any(|h| h == "environment") {
        item("env", "no thread variables set".into());
    }
    for l in &p.libraries {
        let mut s = format!("{} ({})", l.implementation.display_name(), l.kind.as_str());
        if let Some(v) = &l.version {
            s.push_str(&format!(" {v}"));
        }
        if let Some(t) = &l.threading_layer {
            s.push_str(&format!(", {t}"));
        }
        s.push_str(&format!(": {}", l.path));
        item("library", s);
    }
    for x in &p.pools {
        item("pool", pool_detail(x));
    }
    let mut cpus = format!(
        "{} ({} usable)",
        p.affinity.as_ref().map_or("?".into(), |a| a.to_list()),
        p.usable_cpus
    );
    if let Some(c) = &p.cgroup
        && let Some(q) = c.quota
    {
        cpus.push_str(&format!("; cgroup {} quota {q:.2} CPUs", c.path));
        if let Some(t) = p.throttled_in_window {
            cpus.push_str(&format!(", throttled {t} time(s) in the window"));
        }
    }
    item("cpus", cpus);
    let busiest: Vec<String> = p
        .busiest
        .iter()
        .filter(|t| t.cpu_percent > 0.0)
        .map(|t| format!("{} {} {:.0}% {}", t.tid, t.name, t.cpu_percent, t.state))
        .collect();
    if !busiest.is_empty() {
        item("busiest", busiest.join(", "));
    }
    if !p.hidden.is_empty() {
        item(
            "hidden",
            format!("{} (permission denied)", p.hidden.join(", ")),
        );
    }
    out
}

/// The human report.
pub fn human(
    w: &Workload,
    found: &[Finding],
    m: &CpuFacts,
    verbose: bool,
    quiet: bool,
    st: &Styles,
) -> String {
    let mut s = String::new();
    if !quiet {
        s.push_str(&st.bold("Machine"));
        s.push('\n');
        for (label, value) in [
            ("CPU", machine_line(m)),
            ("Window", format!("{:.1} s", w.window_s)),
        ] {
            for (i, l) in wrap(&value, 67).into_iter().enumerate() {
                let label = if i == 0 { label } else { "" };
                s.push_str(&format!("  {label:<11}{l}\n"));
            }
        }
        s.push('\n');
        s.push_str(&st.bold("Processes"));
        s.push('\n');
        if w.processes.is_empty() {
            s.push_str("  none: no Python process and none with a BLAS or OpenMP runtime\n");
        } else {
            s.push_str(&st.dim(HEADER));
            s.push('\n');
            for t in &w.trees {
                for p in w.processes.iter().filter(|p| t.pids.contains(&p.pid)) {
                    s.push_str(&row(p, 80));
                    s.push('\n');
                    if verbose {
                        for l in details(p, st) {
                            s.push_str(&l);
                            s.push('\n');
                        }
                    }
                }
                for l in wrap(&tree_line(t), 76) {
                    s.push_str(&format!("  {}\n", st.dim(&l)));
                }
            }
            for l in wrap(
                "POOL is the largest thread pool: observed from the process's threads, or ~ \
                 inferred from the library's rule. -v shows variables, libraries, every pool and \
                 the busiest threads.",
                76,
            ) {
                s.push_str(&format!("  {}\n", st.dim(&l)));
            }
        }
        s.push('\n');
    }
    s.push_str(&st.bold("Findings"));
    s.push('\n');
    let shown: Vec<&Finding> = found
        .iter()
        .filter(|f| !(quiet && f.severity == Severity::Info))
        .collect();
    if shown.is_empty() {
        s.push_str(&format!("  {} no issues found\n", st.ok("[ok]")));
    }
    for f in shown {
        s.push_str(&finding(f, st));
    }
    if !w.unreadable.is_empty() || !w.notes.is_empty() {
        s.push('\n');
        s.push_str(&st.bold("Not read"));
        s.push('\n');
        for u in &w.unreadable {
            for (i, l) in wrap(&u.reason, 68).into_iter().enumerate() {
                let pid = if i == 0 {
                    u.pid.to_string()
                } else {
                    String::new()
                };
                s.push_str(&format!("  {pid:<8}{l}\n"));
            }
        }
        for n in &w.notes {
            for l in wrap(n, 76) {
                s.push_str(&format!("  {l}\n"));
            }
        }
    }
    s
}

/// One `--watch` frame for a terminal of `width` x `height`: the table (cut to fit), the totals
/// and the findings' titles.
pub fn watch_frame(
    w: &Workload,
    found: &[Finding],
    m: &CpuFacts,
    width: usize,
    height: usize,
    st: &Styles,
) -> String {
    let width = width.clamp(40, 200);
    let mut lines = vec![
        format!(
            "{}  {}",
            st.bold("blasfix ps --watch"),
            cut(
                &format!("{}; window {:.1} s", machine_line(m), w.window_s),
                width.saturating_sub(20)
            )
        ),
        st.dim("q or Ctrl-C to quit").to_string(),
        st.dim(&cut(HEADER, width)),
    ];
    let mut rows = Vec::new();
    for t in &w.trees {
        for p in w.processes.iter().filter(|p| t.pids.contains(&p.pid)) {
            rows.push(row(p, width));
        }
        rows.push(st.dim(&cut(&tree_line(t), width)));
    }
    if w.processes.is_empty() {
        rows.push("  no Python process and none with a BLAS or OpenMP runtime".into());
    }
    let mut tail: Vec<String> = found
        .iter()
        .map(|f| {
            let tag = match f.severity {
                Severity::Error => st.error("[error]"),
                Severity::Warning => st.warn("[warn]"),
                Severity::Info => st.info("[info]"),
            };
            format!("{tag} {}", cut(&f.title, width.saturating_sub(8)))
        })
        .collect();
    if tail.is_empty() {
        tail.push(format!("{} no issues found", st.ok("[ok]")));
    }
    let room = height.saturating_sub(lines.len() + tail.len() + 1).max(1);
    if rows.len() > room {
        let hidden = rows.len() - room + 1;
        rows.truncate(room - 1);
        rows.push(st.dim(&format!("  ... {hidden} more row(s): enlarge the terminal")));
    }
    lines.extend(rows);
    lines.push(String::new());
    lines.extend(tail);
    lines.truncate(height.max(1));
    lines.join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fit_80_columns() {
        let p = ProcessView {
            pid: 4_194_303,
            ppid: 1,
            cmd: "python -m joblib.externals.loky.backend.popen_loky_posix --process-name LokyProcess-12".into(),
            role: crate::diagnose::workload::Role::LokyWorker,
            python: true,
            threads: 130,
            running_threads: 128,
            busy_threads: 128,
            cpu_percent: Some(12800.0),
            affinity: Some(crate::facts::process::CpuSet::from_ids(0..128)),
            usable_cpus: 128,
            cgroup: None,
            throttled_in_window: None,
            env: Default::default(),
            libraries: Vec::new(),
            pools: Vec::new(),
            busiest: Vec::new(),
            pinned: Vec::new(),
            hidden: Vec::new(),
            depth: 3,
        };
        let r = row(&p, 80);
        assert!(r.chars().count() <= 80, "{r} ({})", r.chars().count());
        assert!(HEADER.len() <= 80);
    }
}
