//! `explain`: the facts told as prose, from templates in `templates/explain/` with placeholders
//! filled from the facts. Templates use `{{name}}` for values and `[[if name]] ... [[end]]` for
//! paragraphs that only apply when `name` has a value.

use std::collections::BTreeMap;

use crate::diagnose::fix;
use crate::diagnose::in_use;
use crate::diagnose::platform;
use crate::diagnose::recommend::Recommendation;
use crate::facts::Facts;
use crate::facts::blas;
use crate::facts::blas::{BlasImpl, ChannelFamily};
use crate::facts::cpu::VendorFamily;
use crate::facts::declared::NumpySource;
use crate::facts::mirrors::mask;

const CPU: &str = include_str!("../../templates/explain/cpu.md");
const BLAS: &str = include_str!("../../templates/explain/blas.md");
const CHANNELS: &str = include_str!("../../templates/explain/channels.md");
const MIRRORS: &str = include_str!("../../templates/explain/mirrors.md");
const THREADS: &str = include_str!("../../templates/explain/threads.md");

/// What to explain (all topics, or one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    All,
    Cpu,
    Blas,
    Channels,
    Mirrors,
    Threads,
}

type Vars = BTreeMap<&'static str, String>;

/// Fill a template: `{{key}}` becomes the value, `[[if key]]...[[end]]` blocks are kept only when
/// the key has a non-empty value. Unknown keys render as "unknown".
pub fn fill(template: &str, vars: &Vars) -> String {
    let mut out = String::new();
    let mut keep = true;
    for line in template.lines() {
        let t = line.trim();
        if let Some(key) = t.strip_prefix("[[if ").and_then(|r| r.strip_suffix("]]")) {
            keep = vars.get(key.trim()).is_some_and(|v| !v.is_empty());
            continue;
        }
        if t == "[[end]]" {
            keep = true;
            continue;
        }
        if keep {
            out.push_str(&substitute(line, vars));
            out.push('\n');
        }
    }
    reflow(&collapse_blank_lines(&out), 79)
}

/// Collapse runs of blank lines left by skipped blocks.
fn collapse_blank_lines(out: &str) -> String {
    let mut collapsed = String::new();
    let mut blank = 0;
    for line in out.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        collapsed.push_str(line);
        collapsed.push('\n');
    }
    collapsed
}

/// Re-wrap prose paragraphs and list items at `width` columns (values filled into templates
/// make lines of any length); headings and indented code blocks stay as they are.
fn reflow(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let mut bullet = "";
    let flush = |para: &mut Vec<&str>, bullet: &str, out: &mut String| {
        if para.is_empty() {
            return;
        }
        let joined = para.join(" ");
        let indent = " ".repeat(bullet.len());
        for (i, l) in crate::render::text::wrap(&joined, width - bullet.len())
            .iter()
            .enumerate()
        {
            out.push_str(if i == 0 { bullet } else { &indent });
            out.push_str(l);
            out.push('\n');
        }
        para.clear();
    };
    for line in text.lines() {
        let item = list_marker(line);
        let verbatim = line.trim().is_empty() || line.starts_with('#') || line.starts_with("    ");
        if verbatim || item.is_some() {
            flush(&mut para, bullet, &mut out);
            bullet = "";
        }
        if verbatim {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if let Some(marker) = item {
            bullet = &line[..marker];
            para.push(&line[marker..]);
        } else {
            para.push(line.trim());
        }
    }
    flush(&mut para, bullet, &mut out);
    out
}

/// The length of a list marker (`- ` or `12. `) starting the line.
fn list_marker(line: &str) -> Option<usize> {
    if line.starts_with("- ") {
        return Some(2);
    }
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    (digits > 0 && line[digits..].starts_with(". ")).then_some(digits + 2)
}

fn substitute(line: &str, vars: &Vars) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = after[..end].trim();
                out.push_str(
                    vars.get(key)
                        .map(String::as_str)
                        .filter(|v| !v.is_empty())
                        .unwrap_or("unknown"),
                );
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Render the explanation for a topic.
pub fn render(f: &Facts, rec: &Recommendation, topic: Topic) -> String {
    let vars = vars(f, rec);
    let parts: Vec<&str> = match topic {
        Topic::All => vec![BLAS, MIRRORS, CHANNELS, CPU, THREADS],
        Topic::Cpu => vec![CPU],
        Topic::Blas => vec![BLAS],
        Topic::Channels => vec![CHANNELS],
        Topic::Mirrors => vec![MIRRORS],
        Topic::Threads => vec![THREADS],
    };
    parts
        .iter()
        .map(|t| fill(t, &vars))
        .collect::<Vec<_>>()
        .join("\n")
}

fn family_label(f: ChannelFamily) -> &'static str {
    match f {
        ChannelFamily::CondaForge => "conda-forge",
        ChannelFamily::Defaults => "Anaconda's defaults channel",
        ChannelFamily::Pip => "PyPI",
        ChannelFamily::Other => "another channel",
    }
}

fn default_name(family: ChannelFamily, subdir: &str) -> String {
    blas::available(family, subdir)
        .first()
        .map(|b| b.display_name().to_string())
        .unwrap_or_else(|| "no BLAS build".into())
}

fn src(file: Option<&str>, line: Option<usize>) -> String {
    match (file, line) {
        (Some(f), Some(l)) => format!("{f}, line {l}"),
        (Some(f), None) => f.to_string(),
        _ => "conda's built-in default".to_string(),
    }
}

fn vars(f: &Facts, rec: &Recommendation) -> Vars {
    let mut v = Vars::new();
    let m = &f.machine;
    let subdir = platform::env_subdir(f);
    let family = platform::env_family(f);
    let (eff, layer) = in_use::effective(f);

    // cpu
    v.insert(
        "cpu",
        format!(
            "{} ({})",
            m.brand.clone().unwrap_or_else(|| "an unknown CPU".into()),
            m.vendor.trim()
        ),
    );
    v.insert("microarch", m.microarch.clone().unwrap_or_default());
    v.insert(
        "simd",
        if m.simd.is_empty() {
            "none detected".into()
        } else {
            m.simd.join(", ")
        },
    );
    if m.has("avx2") || m.has("avx512f") || m.has("neon") {
        v.insert("wide_simd", "yes".into());
    }
    v.insert("logical", m.logical_cpus.to_string());
    v.insert(
        "physical",
        m.physical_cores
            .map(|p| format!(" on {p} physical cores"))
            .unwrap_or_default(),
    );
    v.insert("usable", m.usable_cpus.to_string());
    v.insert(
        "limit",
        if m.cpu_quota.is_some() {
            " because of a CPU quota".into()
        } else if m.affinity_cpus.is_some_and(|a| a < m.logical_cpus) {
            " because of its CPU affinity".into()
        } else {
            String::new()
        },
    );
    if let Some(q) = m.cpu_quota {
        v.insert("quota", q.to_string());
        v.insert(
            "quota_source",
            m.cpu_quota_source
                .clone()
                .unwrap_or_else(|| "the cgroup".into()),
        );
    }
    if m.rosetta || (m.subdir == "osx-arm64" && subdir == "osx-64") {
        v.insert("rosetta", "yes".into());
    }
    v.insert(
        "vendor_advice",
        match m.vendor_family {
            VendorFamily::Intel => "on Intel CPUs Intel's MKL is usually the fastest BLAS on Linux and Windows.".into(),
            VendorFamily::Amd | VendorFamily::Hygon => "MKL checks for Intel CPUs and may run slower generic code on this one; OpenBLAS (or BLIS) is the safe choice.".into(),
            VendorFamily::Apple => "Apple's Accelerate uses the matrix units of Apple silicon and is usually the fastest choice.".into(),
            _ => "OpenBLAS detects this CPU at run time and is the usual choice; MKL only exists for x86_64.".into(),
        },
    );

    // blas
    v.insert("prefix", f.environment.prefix.display().to_string());
    let n = &f.blas.numpy;
    v.insert(
        "numpy_version",
        n.version
            .clone()
            .or_else(|| f.runtime.as_ref().and_then(|r| r.numpy_version.clone()))
            .unwrap_or_else(|| "(not installed)".into()),
    );
    v.insert(
        "numpy_origin",
        match n.source {
            Some(NumpySource::Conda) => format!(
                "was installed by conda from {} ({})",
                n.channel
                    .as_deref()
                    .map(mask)
                    .unwrap_or_else(|| "an unknown channel".into()),
                family_label(n.family.unwrap_or(ChannelFamily::Other))
            ),
            Some(NumpySource::Pip) => format!(
                "was installed by {} from a PyPI wheel{}",
                n.installer.clone().unwrap_or_else(|| "pip".into()),
                n.wheel_tag
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default()
            ),
            None => "is not installed".into(),
        },
    );
    v.insert("blas", eff.display_name().into());
    v.insert(
        "layer_text",
        match layer {
            in_use::Layer::Loaded => "a real `import numpy` showed".into(),
            in_use::Layer::Linked => "NumPy's compiled modules link it".into(),
            in_use::Layer::Declared => {
                "the package records declare (run without --no-runtime to check what really loads)"
                    .into()
            }
        },
    );
    let mut ev: Vec<String> = f.blas.evidence.iter().map(|e| format!("- {e}")).collect();
    if let Some(l) = &f.linkage {
        ev.extend(l.chains.iter().map(|c| format!("- linked: {}", c.render())));
    }
    if let Some(rt) = &f.runtime {
        ev.extend(
            rt.libraries
                .iter()
                .filter(|l| l.user_api == "blas")
                .map(|l| format!("- loaded: {}", l.filepath)),
        );
    }
    v.insert("evidence", ev.join("\n"));
    let cf_default = default_name(ChannelFamily::CondaForge, &subdir);
    let def_default = default_name(ChannelFamily::Defaults, &subdir);
    v.insert("cf_default", cf_default.clone());
    v.insert("defaults_default", def_default.clone());
    v.insert("subdir", subdir.clone());
    v.insert(
        "family_text",
        match family {
            ChannelFamily::CondaForge => format!(
                "conda-forge's NumPy uses whatever the `libblas` package points to; on {subdir} conda-forge installs \
                 {cf_default} unless you ask for another (`libblas=*=*mkl`). Anaconda's defaults channel would have \
                 given {def_default} here."
            ),
            ChannelFamily::Defaults => format!(
                "Anaconda's defaults channel builds NumPy per BLAS and selects it with the `blas` package; on {subdir} \
                 it installs {def_default} by default. conda-forge would have given {cf_default}."
            ),
            ChannelFamily::Pip => "NumPy wheels from PyPI bundle their own OpenBLAS (Accelerate on macOS 14+ arm64 for NumPy 2) and ignore any BLAS conda installs.".into(),
            ChannelFamily::Other => String::new(),
        },
    );
    v.insert("ambiguity", f.blas.ambiguity.clone().unwrap_or_default());
    v.insert("pip_text", f.blas.pip_shadow.clone().unwrap_or_default());
    v.insert("recommended", rec.backend.display_name().into());
    v.insert("reason", rec.reason.clone());
    let (fix, raw) = fix::switch_fix(f, rec.backend);
    if rec.backend.is_concrete()
        && rec.backend != eff
        && raw.is_some()
        && blas::available(family, &subdir).contains(&rec.backend)
    {
        v.insert("switch", "yes".into());
        v.insert("fix", fix.unwrap_or_default());
        v.insert("fix_raw", raw.unwrap_or_default());
        v.insert(
            "pin",
            match family {
                ChannelFamily::Defaults => format!("blas=*={}", rec.backend.as_str()),
                _ => format!("libblas=*=*{}", rec.backend.as_str()),
            },
        );
        v.insert(
            "cost",
            match rec.backend {
                BlasImpl::Mkl => {
                    "MKL and Intel OpenMP, roughly 200-700 MB depending on version".into()
                }
                _ => "a few megabytes".into(),
            },
        );
    } else if rec.backend == eff && eff.is_concrete() {
        v.insert(
            "no_switch",
            format!("NumPy already runs on {}.", eff.display_name()),
        );
    } else if family == ChannelFamily::Pip && rec.backend != eff {
        v.insert("no_switch", "this NumPy is a PyPI wheel; conda's BLAS packages cannot reach it. Install NumPy with conda (`blasfix apply --replace-pip-numpy`) to choose its BLAS.".into());
    }

    // channels
    let files: Vec<String> = f
        .channels
        .config
        .files
        .iter()
        .map(|c| format!("- {} ({:?})", c.path.display(), c.status))
        .collect();
    v.insert(
        "files",
        if files.is_empty() {
            "- (no .condarc file found)".into()
        } else {
            files.join("\n")
        },
    );
    let chans: Vec<String> = f
        .channels
        .effective
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{}. `{}` = {}{} (set in {})",
                i + 1,
                mask(&c.name),
                mask(&c.url),
                c.via
                    .as_deref()
                    .map(|v| format!(", from `{v}`"))
                    .unwrap_or_default(),
                src(c.source_file.as_deref(), c.line)
            )
        })
        .collect();
    if chans.is_empty() {
        v.insert("empty", "yes".into());
    }
    v.insert("channels", chans.join("\n"));
    v.insert("conda_forge_url", mask(&f.channels.conda_forge_url));
    v.insert(
        "defaults_urls",
        f.channels
            .defaults_urls
            .iter()
            .map(|u| mask(u))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if let Some(ch) = &n.channel {
        v.insert("numpy_channel", mask(ch));
        v.insert(
            "numpy_family",
            family_label(n.family.unwrap_or(ChannelFamily::Other)).into(),
        );
    }
    v.insert(
        "priority",
        f.channels
            .config
            .channel_priority
            .as_ref()
            .map(|p| p.value.clone())
            .unwrap_or_default(),
    );

    // mirrors
    let mirrors: Vec<String> = f
        .channels
        .mirrors
        .iter()
        .map(|mi| {
            format!(
                "- {} serves {} at {} (set in {})",
                mi.name,
                mi.serves,
                mask(&mi.url),
                src(mi.source_file.as_deref(), mi.line)
            )
        })
        .collect();
    let pip: Vec<String> = f
        .pip_indexes
        .iter()
        .map(|p| {
            format!(
                "- {}{} (set in {})",
                mask(&p.url),
                p.mirror
                    .as_deref()
                    .map(|m| format!(", the {m} mirror"))
                    .unwrap_or_default(),
                src(Some(&p.source), p.line)
            )
        })
        .collect();
    if mirrors.is_empty() && pip.is_empty() {
        v.insert("none", "yes".into());
    }
    v.insert("mirrors", mirrors.join("\n"));
    v.insert("pip", pip.join("\n"));
    if let Some(ch) = n.channel.as_deref()
        && crate::facts::mirrors::channel_family(ch) == ChannelFamily::CondaForge
        && let Some(name) = crate::facts::mirrors::mirror_name(ch)
    {
        v.insert("numpy_mirror", name.into());
    }

    // threads
    let t = &f.threads;
    v.insert(
        "vars",
        if t.vars.is_empty() {
            "none of them".into()
        } else {
            t.vars
                .iter()
                .map(|(k, x)| format!("`{k}={x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    v.insert("openblas", t.openblas_default.to_string());
    v.insert("mkl", t.mkl_default.to_string());
    let pool = match eff {
        BlasImpl::Mkl => t.mkl_default,
        BlasImpl::Blis => t.blis_default,
        _ => t.openblas_default,
    };
    v.insert("pool", pool.to_string());
    if pool > m.usable_cpus.max(1) {
        v.insert(
            "over",
            format!(
                "That is more threads ({pool}) than CPUs this process may use ({}): the extra threads wait and spin. \
                 Set `OMP_NUM_THREADS={}` (and the BLAS-specific variable) before starting Python.",
                m.usable_cpus, m.usable_cpus
            ),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_substitutes_and_drops_blocks() {
        let mut v = Vars::new();
        v.insert("a", "x".into());
        let out = fill(
            "one {{a}}\n[[if b]]\nhidden {{b}}\n[[end]]\n\n\n[[if a]]\nshown\n[[end]]\n{{missing}}",
            &v,
        );
        assert_eq!(out, "one x\n\nshown unknown\n");
    }

    #[test]
    fn reflows_prose_and_lists_but_not_code() {
        let long = "word ".repeat(30);
        let out = reflow(
            &format!("{long}\n- {long}\n\n    code {long}\n# Title {long}\n"),
            40,
        );
        for l in out
            .lines()
            .filter(|l| !l.starts_with("    ") && !l.starts_with('#'))
        {
            assert!(l.len() <= 40, "{l:?}");
        }
        assert!(
            out.contains("\n  word"),
            "hanging indent for list items: {out}"
        );
        assert!(out.contains(&format!("    code {long}")));
    }

    #[test]
    fn every_topic_renders_without_placeholders_left() {
        let f = Facts::default();
        for t in [
            Topic::All,
            Topic::Cpu,
            Topic::Blas,
            Topic::Channels,
            Topic::Mirrors,
            Topic::Threads,
        ] {
            let s = render(&f, &Recommendation::default(), t);
            assert!(!s.contains("{{") && !s.contains("[[if"), "{t:?}: {s}");
        }
    }
}
