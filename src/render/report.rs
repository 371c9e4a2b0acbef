//! Renderers for `doctor`: the JSON document (stable schema, documented in README.md) and the
//! human report (a few lines per section, findings with their reason and fix).

use serde_json::{Value, json};

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::in_use;
use crate::diagnose::recommend::Recommendation;
use crate::facts::Facts;
use crate::facts::blas::BlasImpl;
use crate::facts::mirrors::mask;
use crate::render::style::Styles;
use crate::render::text;

/// Relevant records that are not part of the BLAS stack itself.
const NOT_BLAS_STACK: &[&str] = &["python", "scipy", "threadpoolctl", "numexpr"];

/// Version of the JSON document; bumped only for incompatible changes.
pub const SCHEMA_VERSION: u32 = 2;

/// Render the `--json` document.
pub fn json(f: &Facts, found: &[Finding], rec: &Recommendation) -> Value {
    let m = &f.machine;
    let (effective, layer) = in_use::effective(f);
    let n = &f.blas.numpy;
    let mut evidence = f.blas.evidence.clone();
    if let Some(l) = &f.linkage {
        for c in &l.chains {
            evidence.push(format!("linked: {}", c.render()));
        }
    }
    if let Some(rt) = &f.runtime {
        for l in rt.libraries.iter().filter(|l| l.user_api == "blas") {
            evidence.push(format!(
                "loaded: {} {} ({})",
                l.internal_api,
                l.version.as_deref().unwrap_or("?"),
                l.filepath
            ));
        }
    }
    json!({
        "schema_version": SCHEMA_VERSION,
        "blasfix_version": env!("CARGO_PKG_VERSION"),
        "machine": {
            "arch": m.arch,
            "vendor": m.vendor.trim(),
            "vendor_family": m.vendor_family,
            "brand": m.brand,
            "microarch": m.microarch,
            "subdir": m.subdir,
            "process_subdir": m.process_subdir,
            "rosetta": m.rosetta,
            "hypervisor": m.hypervisor,
            "simd": m.simd,
            "logical_cpus": m.logical_cpus,
            "physical_cores": m.physical_cores,
            "usable_physical_cores": m.usable_physical_cores,
            "usable_cpus": m.usable_cpus,
            "affinity_cpus": m.affinity_cpus,
            "cpu_quota": m.cpu_quota,
            "cpu_quota_source": m.cpu_quota_source,
            "family": m.family,
            "model": m.model,
            "fp64_flops_per_cycle": m.fp64_flops_per_cycle,
            "fp64_basis": m.fp64_basis,
            "fp64_upper_bound": m.fp64_upper_bound,
        },
        "environment": {
            "prefix": f.environment.prefix,
            "kind": f.environment.kind,
            "name": f.environment.name,
            "found_by": f.environment.how,
            "kind_evidence": f.environment.kind_evidence,
            "python": f.prefix.python_version.clone()
                .or_else(|| f.runtime.as_ref().and_then(|r| r.python.clone())),
            "python_executable": f.environment.python,
            "subdir": f.prefix.subdir,
            "records": f.prefix.record_count,
            "numpy": {
                "version": n.version.clone().or_else(|| f.runtime.as_ref().and_then(|r| r.numpy_version.clone())),
                "source": n.source,
                "channel": n.channel.as_deref().map(mask),
                "family": n.family,
                "build": n.build,
                "record": n.record,
                "dist_info": n.dist_info,
                "wheel_tag": n.wheel_tag,
                "installer": n.installer,
            },
            "sys_path": f.prefix.sys_path,
            "numpy_copies": f.prefix.numpy_copies,
            "venv_base": f.prefix.venv_base,
            "system_site_packages": f.prefix.system_site_packages,
            "distro": f.prefix.distro,
        },
        "blas": {
            "implementation": effective,
            "decided_by": layer,
            "declared": f.blas.implementation,
            "linked": f.linkage.as_ref().map(|l| l.implementation),
            "loaded": f.runtime.as_ref().filter(|r| r.error.is_none()).map(|r| r.implementation),
            "family": f.blas.family,
            "evidence": evidence,
            "ambiguity": f.blas.ambiguity,
            "pinned": f.blas.pinned,
            "pinned_packages": f.channels.config.pinned_packages.iter()
                .filter(|p| crate::facts::pinspec::is_blas(&p.value))
                .map(|p| json!({
                    "spec": p.value,
                    "file": p.file,
                    "line": p.line,
                    "origin": p.origin,
                })).collect::<Vec<_>>(),
            "pinned_journal": f.prefix.pinned_journal.as_ref().map(|j| &j.path),
            "mixed_stacks": f.blas.mixed_stacks,
            "pip_shadow": f.blas.pip_shadow,
            "lib_links": f.prefix.blas_links,
            "records": f.prefix.records.iter().filter(|r| !NOT_BLAS_STACK.contains(&r.name.as_str())).map(|r| json!({
                "name": r.name,
                "version": r.version,
                "build": r.build,
                "channel": r.channel.as_deref().or(r.url.as_deref()).map(mask),
                "family": crate::facts::declared::record_family(r),
                "subdir": r.subdir,
            })).collect::<Vec<_>>(),
        },
        "linkage": f.linkage.as_ref().map(|l| json!({
            "implementation": l.implementation,
            "chains": l.chains.iter().map(|c| json!({
                "module": c.module,
                "chain": c.render(),
                "hops": c.hops,
                "implementation": c.implementation,
                "detail": c.detail,
                "evidence": c.evidence,
            })).collect::<Vec<_>>(),
        })),
        "runtime": f.runtime.as_ref().map(|r| json!({
            "implementation": r.implementation,
            "error": r.error,
            "python": r.python,
            "numpy_version": r.numpy_version,
            "numpy_file": r.numpy_file,
            "config_blas": r.config_blas,
            "libraries": r.libraries,
            "elapsed_ms": r.elapsed_ms,
            "library_source": r.library_source,
            "threadpoolctl": r.threadpoolctl,
            "threads": r.threads,
            "pool_threads": r.threads.as_ref().and_then(|t| t.pool_threads()),
            "gemm_ms": r.gemm_ms,
            "numpy_copies": r.numpy_copies,
            "warnings": r.warnings,
            "gemm_provider": r.gemm_provider,
        })),
        "channels": {
            "effective": f.channels.effective.iter().map(|c| json!({
                "name": mask(&c.name),
                "url": mask(&c.url),
                "source_file": c.source_file,
                "line": c.line,
                "via": c.via,
            })).collect::<Vec<_>>(),
            "mirrors": f.channels.mirrors.iter().map(|mi| json!({
                "name": mi.name,
                "url": mask(&mi.url),
                "serves": mi.serves,
                "source_file": mi.source_file,
                "line": mi.line,
            })).chain(f.pip_indexes.iter().filter_map(|p| p.mirror.as_ref().map(|name| json!({
                "name": name,
                "url": mask(&p.url),
                "serves": "pypi",
                "source_file": p.source,
                "line": p.line,
            })))).collect::<Vec<_>>(),
            "conda_forge": mask(&f.channels.conda_forge_url),
            "defaults": f.channels.defaults_urls.iter().map(|u| mask(u)).collect::<Vec<_>>(),
            "conda_forge_allowed": f.channels.conda_forge_allowed,
            "notes": f.channels.notes,
            "channel_priority": f.channels.config.channel_priority.as_ref().map(|p| &p.value),
            "config_files": f.channels.config.files,
            "pip_indexes": f.pip_indexes,
        },
        "threads": {
            "vars": f.threads.vars,
            "openblas_default": f.threads.openblas_default,
            "openblas_openmp_default": f.threads.openblas_openmp_default,
            "mkl_default": f.threads.mkl_default,
            "blis_default": f.threads.blis_default,
            "usable_cpus": f.threads.usable_cpus,
            "invalid": f.threads.invalid,
        },
        "findings": found,
        "recommendation": rec,
        "problems": f.prefix.problems.iter()
            .chain(&f.channels.config.problems)
            .chain(f.linkage.iter().flat_map(|l| &l.problems))
            .chain(&f.problems)
            .collect::<Vec<_>>(),
    })
}

struct Out {
    s: String,
    st: Styles,
}

impl Out {
    fn section(&mut self, title: &str) {
        if !self.s.is_empty() {
            self.s.push('\n');
        }
        self.s.push_str(&self.st.bold(title));
        self.s.push('\n');
    }
    /// `  Label      value`, the value wrapped at 80 columns under itself.
    fn row(&mut self, label: &str, value: impl AsRef<str>) {
        let value = value.as_ref();
        // Styled values carry escape codes that `wrap` would count: only wrap plain text.
        let lines = if value.contains('\x1b') {
            vec![value.to_string()]
        } else {
            text::wrap(value, 67)
        };
        for (i, l) in lines.iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            self.s.push_str(&format!("  {label:<11}{l}\n"));
        }
        if lines.is_empty() {
            self.s.push_str(&format!("  {label}\n"));
        }
    }
    fn line(&mut self, text: impl AsRef<str>) {
        self.s.push_str(text.as_ref());
        self.s.push('\n');
    }
}

fn or_unknown(s: Option<&str>) -> &str {
    s.unwrap_or("unknown")
}

/// Render the human report.
pub fn human(
    f: &Facts,
    found: &[Finding],
    rec: &Recommendation,
    verbose: bool,
    quiet: bool,
) -> String {
    let mut o = Out {
        s: String::new(),
        st: Styles::stdout(),
    };
    if !quiet {
        machine(&mut o, f);
        environment(&mut o, f);
        blas(&mut o, f, verbose);
        channels(&mut o, f, verbose);
        threads(&mut o, f);
    }
    findings_section(&mut o, found, quiet);
    if rec.backend.is_concrete() {
        let cur = in_use::effective(f).0;
        let tag = if cur == rec.backend {
            o.st.ok("already in use")
        } else {
            o.st.warn(&format!("now: {}", cur.display_name()))
        };
        o.section("Recommendation");
        o.line(format!(
            "  {} ({tag})",
            o.st.bold(rec.backend.display_name())
        ));
        for l in text::wrap(&rec.reason, 76) {
            o.line(format!("  {l}"));
        }
    }
    o.s
}

/// "1 CPU", "2 CPUs".
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural_i(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn machine(o: &mut Out, f: &Facts) {
    let m = &f.machine;
    o.section("Machine");
    let mut cpu = m.brand.clone().unwrap_or_else(|| "unknown CPU".into());
    cpu.push_str(&format!(" ({}", m.vendor.trim()));
    if let Some(u) = &m.microarch {
        cpu.push_str(&format!(", {u}"));
    }
    cpu.push(')');
    o.row("CPU", cpu);
    if !m.simd.is_empty() {
        o.row("SIMD", m.simd.join(" "));
    }
    let mut cores = format!("{} logical", m.logical_cpus);
    if let Some(p) = m.physical_cores {
        cores.push_str(&format!(", {p} physical"));
    }
    cores.push_str(&format!("; usable by this process: {}", m.usable_cpus));
    if let Some(q) = m.cpu_quota {
        cores.push_str(&format!(" (cgroup quota {q})"));
    } else if m.affinity_cpus.is_some_and(|a| a < m.logical_cpus) {
        match m
            .usable_physical_cores
            .filter(|u| Some(*u) != m.physical_cores)
        {
            Some(u) => cores.push_str(&format!(
                " (affinity: {} on {})",
                plural(m.affinity_cpus.unwrap_or(m.usable_cpus), "CPU", "CPUs"),
                plural(u, "physical core", "physical cores")
            )),
            None => cores.push_str(" (affinity)"),
        }
    }
    o.row("Cores", cores);
    let mut plat = m.subdir.clone();
    if m.rosetta {
        plat.push_str(&format!(
            " (this process: {} under Rosetta 2)",
            m.process_subdir
        ));
    }
    if let Some(h) = &m.hypervisor {
        plat.push_str(&format!(", {h} guest"));
    }
    o.row("Platform", plat);
}

fn environment(o: &mut Out, f: &Facts) {
    let e = &f.environment;
    o.section("Environment");
    let mut p = format!("{} ({}", e.prefix.display(), e.kind.as_str());
    if let Some(n) = &e.name {
        p.push_str(&format!(" env `{n}`"));
    }
    p.push_str(&format!("; found by {})", e.how));
    o.row("Prefix", p);
    let py = f
        .prefix
        .python_version
        .clone()
        .or_else(|| f.runtime.as_ref().and_then(|r| r.python.clone()));
    let mut pyline = or_unknown(py.as_deref()).to_string();
    if let Some(sd) = &f.prefix.subdir {
        pyline.push_str(&format!(", {sd}"));
    }
    if f.prefix.has_conda_meta {
        let unlisted = f
            .prefix
            .problems
            .iter()
            .any(|p| p.path.as_deref() == Some(f.prefix.prefix.join("conda-meta").as_path()));
        if unlisted && f.prefix.record_count == 0 {
            pyline.push_str(", conda-meta/ could not be listed");
        } else {
            pyline.push_str(&format!(
                ", {}",
                plural(f.prefix.record_count, "conda package", "conda packages")
            ));
        }
    }
    o.row("Python", pyline);
    let n = &f.blas.numpy;
    let numpy = match (n.version.as_deref(), n.source) {
        (None, None) => match f.runtime.as_ref().and_then(|r| r.numpy_version.as_deref()) {
            Some(v) => format!("{v} (seen at run time)"),
            None => "not installed".to_string(),
        },
        (v, Some(crate::facts::declared::NumpySource::Conda)) => format!(
            "{} from {} ({})",
            or_unknown(v),
            n.channel
                .as_deref()
                .map(mask)
                .unwrap_or_else(|| "an unknown channel".into()),
            n.record
                .as_deref()
                .or(n.build.as_deref())
                .unwrap_or("conda record")
        ),
        (v, Some(crate::facts::declared::NumpySource::Pip)) => format!(
            "{} from PyPI ({}{}{})",
            or_unknown(v),
            n.installer.as_deref().unwrap_or("pip"),
            n.wheel_tag
                .as_deref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default(),
            n.dist_info
                .as_deref()
                .map(|d| format!(", {d}"))
                .unwrap_or_default(),
        ),
        (v, Some(crate::facts::declared::NumpySource::Distribution)) => format!(
            "{} from the distribution ({})",
            or_unknown(v),
            n.record
                .as_deref()
                .or(n.dist_info.as_deref())
                .unwrap_or("system package")
        ),
        (v, None) => or_unknown(v).to_string(),
    };
    o.row("NumPy", numpy);
}

fn blas(o: &mut Out, f: &Facts, verbose: bool) {
    o.section("BLAS");
    let b = &f.blas;
    let first = b.evidence.first().cloned().unwrap_or_default();
    let declared = if first.is_empty() {
        b.implementation.display_name().to_string()
    } else {
        format!("{} - {first}", b.implementation.display_name())
    };
    o.row("Declared", declared);
    let rest = if verbose {
        &b.evidence[b.evidence.len().min(1)..]
    } else {
        &[][..]
    };
    for e in rest {
        o.row("", e);
    }
    if let Some(a) = &b.ambiguity {
        o.row("", o.st.warn(a));
    }
    match &f.linkage {
        Some(l) if !l.chains.is_empty() => {
            let c = &l.chains[0];
            o.row(
                "Linked",
                format!("{} - {}", l.implementation.display_name(), c.render()),
            );
            if verbose {
                for c in &l.chains[1..] {
                    o.row("", c.render());
                }
            }
        }
        Some(l) => match l
            .problems
            .iter()
            .find(|p| !p.message.starts_with("no NumPy extension module"))
        {
            Some(p) => o.row(
                "Linked",
                o.st.warn(&format!("unknown: {} (see Findings)", p.message)),
            ),
            None => o.row("Linked", "no NumPy extension module to inspect"),
        },
        None => {}
    }
    match &f.runtime {
        Some(rt) if rt.error.is_none() => {
            let libs: Vec<String> = rt
                .libraries
                .iter()
                .filter(|l| l.user_api == "blas")
                .map(|l| {
                    let mut s = format!(
                        "{} {}",
                        lib_name(&l.internal_api),
                        l.version.as_deref().unwrap_or("")
                    );
                    if let Some(t) = l.num_threads {
                        s.push_str(&format!(", {}", plural_i(t, "thread", "threads")));
                    }
                    if let Some(a) = &l.architecture {
                        s.push_str(&format!(", core {a}"));
                    }
                    if let Some(t) = &l.threading_layer {
                        s.push_str(&format!(", {t}"));
                    }
                    s
                })
                .collect();
            let text = if libs.is_empty() {
                rt.implementation.display_name().to_string()
            } else {
                libs.join("; ")
            };
            o.row("Loaded", text);
            if verbose {
                for l in &rt.libraries {
                    o.row("", format!("{} {}", l.internal_api, l.filepath));
                }
            }
        }
        Some(rt) => {
            o.row(
                "Loaded",
                o.st.warn(&format!(
                    "probe failed: {}",
                    rt.error.as_deref().unwrap_or("?")
                )),
            );
            match (&rt.error_detail, verbose) {
                (Some(tb), true) => {
                    for l in tb.lines() {
                        o.row("", l);
                    }
                }
                (Some(_), false) => o.row("", "(-v shows the traceback)"),
                _ => {}
            }
        }
        None => {}
    }
    let (eff, layer) = in_use::effective(f);
    if eff.is_concrete() && (f.linkage.is_some() || f.runtime.is_some()) {
        o.row(
            "In use",
            format!(
                "{} (by what is {})",
                o.st.bold(eff.display_name()),
                layer.as_str()
            ),
        );
    }
    let mut pins: Vec<String> = b
        .pinned
        .iter()
        .map(|p| format!("{p} (conda-meta/pinned)"))
        .collect();
    pins.extend(
        f.channels
            .config
            .pinned_packages
            .iter()
            .filter(|p| crate::facts::pinspec::is_blas(&p.value))
            .map(|p| {
                format!(
                    "{} (pinned_packages, {})",
                    p.value,
                    match (&p.file, p.line) {
                        (Some(file), line) => source_of(Some(&file.to_string_lossy()), line),
                        _ => p.origin.clone().unwrap_or_default(),
                    }
                )
            }),
    );
    if !pins.is_empty() {
        o.row("Pinned", pins.join("; "));
    }
}

fn lib_name(api: &str) -> &str {
    match api {
        "openblas" => "OpenBLAS",
        "mkl" => "MKL",
        "blis" => "BLIS",
        "flexiblas" => "FlexiBLAS",
        "accelerate" => "Accelerate",
        other => other,
    }
}

fn source_of(file: Option<&str>, line: Option<usize>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{}:{l}", tilde(f)),
        (Some(f), None) => tilde(f),
        _ => "built-in default".to_string(),
    }
}

fn tilde(path: &str) -> String {
    match std::env::var("HOME") {
        Ok(h) if !h.is_empty() && path.starts_with(&h) => format!("~{}", &path[h.len()..]),
        _ => path.to_string(),
    }
}

fn channels(o: &mut Out, f: &Facts, verbose: bool) {
    let c = &f.channels;
    // conda's channel notes are noise for a venv or system Python with no conda configuration.
    let conda_side =
        f.environment.kind.is_conda_like() || f.prefix.has_conda_meta || !c.config.files.is_empty();
    let notes: &[String] = if conda_side { &c.notes } else { &[] };
    if c.effective.is_empty()
        && c.mirrors.is_empty()
        && notes.is_empty()
        && f.pip_indexes.is_empty()
        && !verbose
    {
        return;
    }
    o.section("Channels");
    for (i, ch) in c.effective.iter().enumerate() {
        let label = if i == 0 { "Effective" } else { "" };
        let via = ch
            .via
            .as_deref()
            .map(|v| format!(" (via {v})"))
            .unwrap_or_default();
        o.row(
            label,
            format!(
                "{}. {}{}  {}",
                i + 1,
                mask(&ch.url),
                via,
                o.st.dim(&source_of(ch.source_file.as_deref(), ch.line))
            ),
        );
    }
    for m in &c.mirrors {
        o.row(
            "Mirror",
            format!(
                "{} serves {} ({})",
                m.name,
                m.serves,
                source_of(m.source_file.as_deref(), m.line)
            ),
        );
    }
    for p in &f.pip_indexes {
        let name = p
            .mirror
            .as_deref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        o.row(
            "pip index",
            format!(
                "{}{}  {}",
                mask(&p.url),
                name,
                o.st.dim(&source_of(Some(&p.source), p.line))
            ),
        );
    }
    for n in notes {
        o.row("Note", n);
    }
    if verbose {
        for file in &c.config.files {
            o.row(
                "Config",
                format!("{} {:?}", file.path.display(), file.status),
            );
        }
    }
}

fn threads(o: &mut Out, f: &Facts) {
    let t = &f.threads;
    o.section("Threads");
    if t.vars.is_empty() {
        o.row("Variables", "none set");
    } else {
        let vars: Vec<String> = t.vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        o.row("Variables", vars.join(" "));
    }
    let (eff, _) = in_use::effective(f);
    let openmp_build =
        f.runtime.iter().flat_map(|r| r.blas_libraries()).any(|l| {
            l.internal_api == "openblas" && l.threading_layer.as_deref() == Some("openmp")
        }) || f.linkage.iter().flat_map(|l| &l.chains).any(|c| {
            c.implementation == BlasImpl::Openblas && c.detail.as_deref() == Some("openmp")
        });
    let pool = match eff {
        BlasImpl::Mkl => Some(("MKL", t.mkl_default)),
        BlasImpl::Blis => Some(("BLIS", t.blis_default)),
        BlasImpl::Openblas if openmp_build => {
            Some(("OpenBLAS (OpenMP build)", t.openblas_openmp_default))
        }
        BlasImpl::Openblas => Some(("OpenBLAS", t.openblas_default)),
        _ => None,
    };
    let cpus = plural(t.usable_cpus, "CPU", "CPUs");
    match pool {
        Some((name, n)) => o.row(
            "Pool",
            format!(
                "{name} would start {}; {cpus} usable",
                plural(n, "thread", "threads")
            ),
        ),
        None => o.row(
            "Pool",
            format!(
                "OpenBLAS {} / MKL {} threads by default; {cpus} usable",
                t.openblas_default, t.mkl_default
            ),
        ),
    }
    if let Some(rt) = f.runtime.as_ref().filter(|r| r.error.is_none())
        && let Some(th) = &rt.threads
        && let Some(n) = th.after_gemm.or(th.after_import)
    {
        let when = if th.after_gemm.is_some() {
            "after NumPy's first BLAS call"
        } else {
            "once NumPy is imported"
        };
        o.row(
            "Running",
            format!(
                "{} in the probed Python {when}",
                plural(n as usize, "thread", "threads")
            ),
        );
    }
    // One fresh process is all doctor sees; worker processes each start their own pools.
    o.row(
        "Workers",
        "not judged here: with worker processes (multiprocessing, joblib, DataLoader, \
         SubprocVecEnv) run `blasfix ps` while they run",
    );
}

fn findings_section(o: &mut Out, found: &[Finding], quiet: bool) {
    o.section("Findings");
    let shown: Vec<&Finding> = found
        .iter()
        .filter(|x| !(quiet && x.severity == Severity::Info))
        .collect();
    if shown.is_empty() {
        let hidden = found.len();
        let text = match hidden {
            0 => "no issues found".to_string(),
            1 => "no warnings or errors (-q hides 1 info finding)".to_string(),
            n => format!("no warnings or errors (-q hides {n} info findings)"),
        };
        o.line(format!("  {} {text}", o.st.ok("[ok]")));
        return;
    }
    for x in shown {
        o.s.push_str(&finding(x, &o.st));
    }
}

/// One finding: `[tag] title`, the detail wrapped at 80 columns, then `fix:` (a fix of several
/// lines, alternatives, is aligned under its first line) and `runs:`.
pub fn finding(x: &Finding, st: &Styles) -> String {
    let tag = match x.severity {
        Severity::Error => st.error("[error]"),
        Severity::Warning => st.warn("[warn]"),
        Severity::Info => st.info("[info]"),
    };
    let mut s = format!("  {tag} {}\n", st.bold(&x.title));
    for l in text::wrap(&x.detail, 72) {
        s.push_str(&format!("      {l}\n"));
    }
    if let Some(fix) = &x.fix {
        for (i, l) in fix.lines().enumerate() {
            let label = if i == 0 {
                st.hint("fix:")
            } else {
                "    ".into()
            };
            s.push_str(&format!("      {label} {}\n", st.code(l)));
        }
    }
    // A fix that is its own command is printed once.
    if let Some(raw) = x.fix_raw.as_ref().filter(|r| x.fix.as_ref() != Some(*r)) {
        s.push_str(&format!("      {} {}\n", st.dim("runs:"), st.code(raw)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_contract_keys() {
        let f = Facts::default();
        let v = json(&f, &[], &Recommendation::default());
        for k in [
            "machine",
            "environment",
            "blas",
            "channels",
            "threads",
            "findings",
            "recommendation",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        for k in [
            "vendor",
            "brand",
            "microarch",
            "subdir",
            "simd",
            "logical_cpus",
            "physical_cores",
            "usable_cpus",
        ] {
            assert!(v["machine"].get(k).is_some(), "machine.{k}");
        }
        for k in ["version", "source", "channel"] {
            assert!(v["environment"]["numpy"].get(k).is_some(), "numpy.{k}");
        }
        assert_eq!(v["blas"]["implementation"], "unknown");
        assert!(v["channels"]["effective"].is_array());
        assert!(v["channels"]["mirrors"].is_array());
    }
}
