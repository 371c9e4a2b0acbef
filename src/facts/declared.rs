//! The BLAS an environment declares: conda-forge's `libblas` build-string scheme (every era),
//! Anaconda `defaults`' `blas` mutex, `nomkl`, `mkl`, and pip wheels' bundled OpenBLAS or
//! Accelerate; with the evidence, and "ambiguous" when records and files disagree and the files
//! cannot decide. Also which backends exist for a channel family and subdir.

use serde::Serialize;

use crate::facts::blas::{BlasImpl, ChannelFamily, impl_from_build_suffix, impl_from_lib_name};
use crate::facts::prefix::{DistInfo, PrefixFacts, Record};

/// Where NumPy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NumpySource {
    Conda,
    Pip,
}

/// NumPy as the environment declares it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NumpyFacts {
    pub version: Option<String>,
    pub source: Option<NumpySource>,
    /// The channel URL of its conda record (token-masked), or the pip index when known.
    pub channel: Option<String>,
    pub family: Option<ChannelFamily>,
    pub build: Option<String>,
    /// The conda record file name, when NumPy is a conda package.
    pub record: Option<String>,
    /// The pip dist-info folder, its wheel tag and installer, when NumPy came from a wheel.
    pub dist_info: Option<String>,
    pub wheel_tag: Option<String>,
    pub installer: Option<String>,
}

/// The BLAS the environment's metadata and files declare for NumPy.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DeclaredBlas {
    pub implementation: BlasImpl,
    /// The channel family whose scheme chose it.
    pub family: Option<ChannelFamily>,
    /// One line per fact that led to the verdict ("libblas 3.9.0 20_linux64_openblas [conda-forge]").
    pub evidence: Vec<String>,
    /// Why the verdict is "ambiguous", or a disagreement the files settled.
    pub ambiguity: Option<String>,
    pub numpy: NumpyFacts,
    /// BLAS lines of conda-meta/pinned.
    pub pinned: Vec<String>,
    /// conda-forge and defaults BLAS packages side by side (e.g. defaults `blas 1.0 openblas`
    /// beside conda-forge `libblas`).
    pub mixed_stacks: Vec<String>,
    /// A pip NumPy beside a conda one, and which one Python imports.
    pub pip_shadow: Option<String>,
}

/// The channel family of a record: `mirrors::channel_family` of its `channel` (or `url` for
/// installer-made records).
pub fn record_family(r: &Record) -> Option<ChannelFamily> {
    let src = r.channel.as_deref().or(r.url.as_deref())?;
    Some(crate::facts::mirrors::channel_family(src))
}

fn family_label(r: &Record) -> String {
    let fam = match record_family(r) {
        Some(ChannelFamily::CondaForge) => "conda-forge".to_string(),
        Some(ChannelFamily::Defaults) => "defaults".to_string(),
        Some(ChannelFamily::Pip) => "pypi".to_string(),
        Some(ChannelFamily::Other) => {
            let src = r.channel.as_deref().or(r.url.as_deref()).unwrap_or("");
            let masked = crate::facts::mirrors::mask(src);
            let trimmed = masked.trim_end_matches('/');
            match &r.subdir {
                Some(s) => trimmed
                    .strip_suffix(&format!("/{s}"))
                    .unwrap_or(trimmed)
                    .to_string(),
                None => trimmed.to_string(),
            }
        }
        None => "no channel recorded".to_string(),
    };
    match &r.subdir {
        Some(s) => format!("{fam}, {s}"),
        None => fam,
    }
}

fn describe(r: &Record) -> String {
    format!("{} {} {} [{}]", r.name, r.version, r.build, family_label(r))
}

fn dep_name(spec: &str) -> &str {
    let spec = spec.trim();
    let spec = spec.rsplit("::").next().unwrap_or(spec);
    let end = spec
        .find([' ', '=', '<', '>', '!', '~', '['])
        .unwrap_or(spec.len());
    &spec[..end]
}

/// `blas 1.0 mkl`, `blas * openblas`, `blas=1.0=mkl`, `blas[build=mkl]`: the mutex build.
fn mutex_impl(spec: &str) -> Option<BlasImpl> {
    if dep_name(spec) != "blas" {
        return None;
    }
    let build = spec
        .rsplit([' ', '=', '*'])
        .find(|s| !s.is_empty() && *s != "]")?;
    let build = build.trim_end_matches(']');
    match build {
        "mkl" => Some(BlasImpl::Mkl),
        "openblas" => Some(BlasImpl::Openblas),
        "blis" => Some(BlasImpl::Blis),
        "accelerate" => Some(BlasImpl::Accelerate),
        "netlib" => Some(BlasImpl::Netlib),
        _ => None,
    }
}

fn same_version(a: &str, b: &str) -> bool {
    let strip = |v: &str| v.trim().split('+').next().unwrap_or("").to_string();
    strip(a) == strip(b)
}

const PIN_NAMES: &[&str] = &[
    "blas",
    "blas-devel",
    "libblas",
    "libcblas",
    "liblapack",
    "liblapacke",
    "mkl",
    "mkl-devel",
    "mkl-service",
    "nomkl",
    "openblas",
    "libopenblas",
    "openblas-devel",
    "blis",
    "libnvpl-blas0",
];

/// Which NumPy Python imports, as decided from the prefix.
enum Source<'a> {
    Conda,
    Pip(&'a DistInfo),
    /// numpy/ without a conda record or a foreign dist-info.
    Bare,
    Ambiguous(String),
    Absent,
}

/// Decide the declared BLAS of a prefix (pure).
pub fn declared(p: &PrefixFacts) -> DeclaredBlas {
    let mut out = DeclaredBlas {
        pinned: p
            .pinned
            .iter()
            .filter(|l| PIN_NAMES.contains(&dep_name(l.text.trim_matches(['"', '\'']))))
            .map(|l| l.text.clone())
            .collect(),
        ..Default::default()
    };
    let numpy_rec = p.record("numpy");
    let base_rec = p.record("numpy-base");
    let files_rec = base_rec.or(numpy_rec);
    let site = p.site.as_ref();
    let conda_version = files_rec.map(|r| r.version.as_str());
    let foreign: Vec<&DistInfo> = site
        .map(|s| {
            s.dists
                .iter()
                .filter(|d| d.name == "numpy")
                .filter(|d| match d.installer.as_deref() {
                    Some(i) => !i.eq_ignore_ascii_case("conda"),
                    None => !conda_version.is_some_and(|cv| same_version(cv, &d.version)),
                })
                .collect()
        })
        .unwrap_or_default();
    let in_files = site.and_then(|s| s.numpy_version_in_files.as_deref());
    let vfile = site
        .and_then(|s| s.numpy_version_file.as_deref())
        .unwrap_or("numpy/version.py");

    let source = match (files_rec, foreign.is_empty()) {
        (Some(rec), false) => pip_over_conda(
            rec,
            &foreign,
            in_files,
            vfile,
            site.and_then(|s| s.numpy_files_owner.as_deref()),
            &mut out,
        ),
        (Some(rec), true) => {
            if let Some(v) = in_files
                && !same_version(v, &rec.version)
            {
                Source::Ambiguous(format!(
                    "{vfile} says {v} but the conda record {} {} {} says {}, and no pip dist-info claims {v}",
                    rec.name, rec.version, rec.build, rec.version
                ))
            } else {
                Source::Conda
            }
        }
        (None, false) => Source::Pip(pick_dist(&foreign, in_files)),
        (None, true) => {
            if site.is_some_and(|s| s.numpy_dir) {
                Source::Bare
            } else {
                Source::Absent
            }
        }
    };

    match source {
        Source::Conda => {
            conda_scheme(p, numpy_rec, base_rec, &mut out);
            if let Some(rec) = numpy_rec.or(base_rec) {
                out.numpy = NumpyFacts {
                    version: Some(rec.version.clone()),
                    source: Some(NumpySource::Conda),
                    channel: rec
                        .channel
                        .as_deref()
                        .or(rec.url.as_deref())
                        .map(crate::facts::mirrors::mask),
                    family: record_family(rec),
                    build: Some(rec.build.clone()),
                    record: rec
                        .file
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned()),
                    ..Default::default()
                };
            }
        }
        Source::Pip(dist) => {
            wheel_scheme(p, Some(dist), &mut out);
            out.numpy = NumpyFacts {
                version: Some(dist.version.clone()),
                source: Some(NumpySource::Pip),
                family: Some(ChannelFamily::Pip),
                dist_info: Some(dist.dir.clone()),
                wheel_tag: dist.wheel_tags.first().cloned(),
                installer: dist.installer.clone(),
                ..Default::default()
            };
            if let Some(lb) = p.record("libblas") {
                out.evidence
                    .push(format!("{} is not used by pip's NumPy", describe(lb)));
            }
        }
        Source::Bare => {
            out.evidence.push(format!(
                "numpy/ in site-packages has no conda record and no dist-info{}",
                in_files
                    .map(|v| format!(" ({vfile} says {v})"))
                    .unwrap_or_default()
            ));
            out.numpy.version = in_files.map(str::to_string);
            wheel_scheme(p, None, &mut out);
        }
        Source::Ambiguous(reason) => {
            out.implementation = BlasImpl::Ambiguous;
            out.ambiguity = Some(reason);
            if let Some(rec) = numpy_rec.or(base_rec) {
                out.numpy.record = rec
                    .file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned());
                out.numpy.version = Some(rec.version.clone());
            }
        }
        Source::Absent => {
            out.implementation = BlasImpl::None;
            out.evidence.push(if p.has_conda_meta {
                "no NumPy: no numpy record in conda-meta and no numpy in site-packages".to_string()
            } else {
                "no NumPy in site-packages".to_string()
            });
            if let Some(lb) = p.record("libblas") {
                out.evidence
                    .push(format!("{} (no NumPy uses it)", describe(lb)));
            }
        }
    }
    out
}

fn pick_dist<'a>(foreign: &[&'a DistInfo], in_files: Option<&str>) -> &'a DistInfo {
    in_files
        .and_then(|v| foreign.iter().find(|d| same_version(&d.version, v)))
        .copied()
        .unwrap_or(foreign[0])
}

/// A pip NumPy dist-info beside a conda NumPy: NumPy's own files decide (hash owner, then the
/// version they carry); otherwise the verdict is ambiguous.
fn pip_over_conda<'a>(
    rec: &Record,
    foreign: &[&'a DistInfo],
    in_files: Option<&str>,
    vfile: &str,
    owner: Option<&str>,
    out: &mut DeclaredBlas,
) -> Source<'a> {
    let dists = foreign
        .iter()
        .map(|d| {
            d.dir
                .trim_end_matches(".dist-info")
                .trim_end_matches(".egg-info")
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ");
    let conda = format!("conda record {} {}", rec.name, rec.version);
    let pip_match = in_files.and_then(|v| foreign.iter().find(|d| same_version(&d.version, v)));
    let conda_match = in_files.is_some_and(|v| same_version(&rec.version, v));
    let conda_wins = |out: &mut DeclaredBlas, why: String| {
        out.evidence.push(why);
        out.pip_shadow = Some(format!(
            "pip dist-info {dists} beside the {conda}: NumPy's files are conda's, Python imports conda's NumPy; the dist-info is stale"
        ));
        Source::Conda
    };
    match owner {
        Some("conda") => {
            return conda_wins(
                out,
                format!(
                    "{vfile} matches the sha256 in {} ({} is stale)",
                    rec.file.display(),
                    dists
                ),
            );
        }
        Some("pip") => {
            let d = pick_dist(foreign, in_files);
            out.evidence.push(format!(
                "{vfile} matches the RECORD of {} ({conda} is shadowed)",
                d.dir
            ));
            out.pip_shadow = Some(format!(
                "pip NumPy {} ({}) was installed over the {conda}: Python imports pip's NumPy",
                d.version, d.dir
            ));
            return Source::Pip(d);
        }
        _ => {}
    }
    let Some(v) = in_files else {
        return Source::Ambiguous(format!(
            "{conda} and pip dist-info {dists} both claim NumPy, and NumPy's version file could not be read"
        ));
    };
    match (conda_match, pip_match) {
        (true, None) => conda_wins(
            out,
            format!("{vfile} says {v} = {conda} (pip dist-info {dists} is stale)"),
        ),
        (false, Some(d)) => {
            out.evidence.push(format!(
                "{vfile} says {v} = pip dist-info {} ({conda} is shadowed)",
                d.dir
            ));
            out.pip_shadow = Some(format!(
                "pip NumPy {} ({}) was installed over the {conda}: Python imports pip's NumPy",
                d.version, d.dir
            ));
            Source::Pip(d)
        }
        (true, Some(d)) => Source::Ambiguous(format!(
            "{vfile} says {v}, which both the {conda} and pip dist-info {} claim, and no file hash decides",
            d.dir
        )),
        (false, None) => Source::Ambiguous(format!(
            "{vfile} says {v}, which neither the {conda} nor pip dist-info {dists} claims"
        )),
    }
}

/// The conda schemes: conda-forge's `libblas` build suffix, or the `blas` mutex, numpy's
/// dependencies, `nomkl` and `mkl` records (Anaconda defaults, old conda-forge).
fn conda_scheme(
    p: &PrefixFacts,
    numpy: Option<&Record>,
    base: Option<&Record>,
    out: &mut DeclaredBlas,
) {
    let head = numpy.or(base);
    let numpy_family = head.and_then(record_family);
    let uses_libblas = numpy.is_some_and(|r| {
        r.depends
            .iter()
            .any(|d| matches!(dep_name(d), "libblas" | "libcblas" | "liblapack"))
            || r.constrains.iter().any(|c| dep_name(c) == "numpy-base")
    }) || (base.is_none() && numpy_family == Some(ChannelFamily::CondaForge));
    let cf = libblas_verdict(p);
    let mutex = mutex_verdict(p, numpy, base);

    if uses_libblas {
        if let Some((imp, lines)) = cf {
            out.implementation = imp;
            out.family = Some(ChannelFamily::CondaForge);
            out.evidence.extend(lines);
            if let Some(b) = p.record("blas").filter(|b| b.version.starts_with("1.")) {
                out.mixed_stacks.push(format!(
                    "{} (the defaults blas mutex) beside conda-forge libblas: {} NumPy calls libblas, so libblas decides",
                    describe(b),
                    family_name(numpy_family)
                ));
            }
        } else if let Some((imp, lines)) = mutex {
            out.implementation = imp;
            out.family = numpy_family;
            out.evidence.extend(lines);
        } else {
            out.evidence.push(format!(
                "{} uses libblas but no libblas record names an implementation",
                describe_opt(head)
            ));
        }
    } else if let Some((imp, lines)) = mutex {
        out.implementation = imp;
        out.family = Some(match numpy_family {
            Some(ChannelFamily::CondaForge) => ChannelFamily::CondaForge,
            Some(ChannelFamily::Other) | None => ChannelFamily::Defaults,
            Some(f) => f,
        });
        out.evidence.extend(lines);
        if let Some(lb) = p.record("libblas") {
            out.mixed_stacks.push(format!(
                "{} beside {}: that NumPy links its BLAS directly, libblas does not change it",
                describe(lb),
                describe_opt(base.or(numpy))
            ));
        }
    } else if let Some((imp, lines)) = cf {
        out.implementation = imp;
        out.family = Some(ChannelFamily::CondaForge);
        out.evidence.extend(lines);
    } else {
        out.evidence.push(format!(
            "{}: no BLAS record or dependency names an implementation",
            describe_opt(head)
        ));
    }
    if !out.implementation.is_concrete() {
        if let Some((imp, line)) = symlink_verdict(p) {
            out.implementation = imp;
            out.evidence.push(line);
        }
    } else if let Some((imp, line)) = symlink_verdict(p) {
        if imp == out.implementation {
            out.evidence.push(line);
        } else {
            let note = format!("{line}, not {}", out.implementation.display_name());
            out.evidence.push(note.clone());
            out.ambiguity.get_or_insert(note);
        }
    }
}

fn family_name(f: Option<ChannelFamily>) -> &'static str {
    match f {
        Some(ChannelFamily::CondaForge) => "conda-forge",
        Some(ChannelFamily::Defaults) => "defaults",
        _ => "this",
    }
}

fn describe_opt(r: Option<&Record>) -> String {
    r.map(describe).unwrap_or_else(|| "numpy".into())
}

/// conda-forge: libblas's build suffix, with libcblas/liblapack agreeing (or the legacy
/// `blas 2.x <impl>` metapackage).
fn libblas_verdict(p: &PrefixFacts) -> Option<(BlasImpl, Vec<String>)> {
    let mut lines = Vec::new();
    let mut verdict: Option<BlasImpl> = None;
    for name in ["libblas", "libcblas", "liblapack"] {
        let Some(r) = p.record(name) else { continue };
        let Some(imp) = impl_from_build_suffix(&r.build) else {
            continue;
        };
        match verdict {
            None => {
                verdict = Some(imp);
                lines.push(describe(r));
            }
            Some(v) if v == imp => {}
            Some(v) => lines.push(format!(
                "{} disagrees with libblas ({})",
                describe(r),
                v.as_str()
            )),
        }
    }
    if verdict.is_none()
        && let Some(b) = p.record("blas").filter(|b| !b.version.starts_with("1."))
        && let Some(imp) = impl_from_build_suffix(&b.build)
    {
        verdict = Some(imp);
        lines.push(describe(b));
    }
    verdict.map(|v| (v, lines))
}

/// The `blas` mutex and what numpy/numpy-base depend on; `nomkl`, `mkl` records.
fn mutex_verdict(
    p: &PrefixFacts,
    numpy: Option<&Record>,
    base: Option<&Record>,
) -> Option<(BlasImpl, Vec<String>)> {
    for r in [base, numpy].into_iter().flatten() {
        if let Some((dep, imp)) = r.depends.iter().find_map(|d| mutex_impl(d).map(|i| (d, i))) {
            let mut lines = vec![format!(
                "{} {} {} depends on {}",
                r.name, r.version, r.build, dep
            )];
            if let Some(b) = p.record("blas") {
                lines.push(describe(b));
            }
            return Some((imp, lines));
        }
    }
    if let Some(b) = p.record("blas").filter(|b| b.version.starts_with("1."))
        && let Some(imp) = impl_from_build_suffix(&b.build)
    {
        return Some((imp, vec![describe(b)]));
    }
    for r in [base, numpy].into_iter().flatten() {
        for d in &r.depends {
            let imp = match dep_name(d) {
                "mkl" | "mkl-rt" => BlasImpl::Mkl,
                "libopenblas" | "openblas" => BlasImpl::Openblas,
                "blis" => BlasImpl::Blis,
                _ => continue,
            };
            return Some((
                imp,
                vec![format!(
                    "{} {} {} depends on {}",
                    r.name, r.version, r.build, d
                )],
            ));
        }
    }
    if let Some(n) = p.record("nomkl") {
        return Some((
            BlasImpl::Openblas,
            vec![format!("{} (opts out of MKL)", describe(n))],
        ));
    }
    if let Some(m) = p.record("mkl") {
        return Some((BlasImpl::Mkl, vec![describe(m)]));
    }
    None
}

/// What `lib/libblas.so.3` (or `.dylib`, `Library/bin/libblas.dll`) points to.
fn symlink_verdict(p: &PrefixFacts) -> Option<(BlasImpl, String)> {
    const ORDER: &[&str] = &[
        "lib/libblas.so.3",
        "lib/libblas.3.dylib",
        "lib/libblas.dylib",
        "lib/libblas.so",
    ];
    ORDER.iter().find_map(|n| {
        let l = p.blas_links.iter().find(|l| l.name == *n)?;
        let t = l.target.as_deref()?;
        impl_from_lib_name(t).map(|imp| (imp, format!("{} -> {}", l.name, t)))
    })
}

fn macos_major(tag: &str) -> Option<u32> {
    let rest = tag.split("macosx_").nth(1)?;
    rest.split('_').next()?.parse().ok()
}

/// pip wheels: a bundled OpenBLAS, or Accelerate for NumPy ≥ 2 macOS 14+ wheels.
fn wheel_scheme(p: &PrefixFacts, dist: Option<&DistInfo>, out: &mut DeclaredBlas) {
    out.family = Some(ChannelFamily::Pip);
    let libs = p
        .site
        .as_ref()
        .map(|s| s.numpy_bundled_libs.as_slice())
        .unwrap_or(&[]);
    if let Some(lib) = libs
        .iter()
        .find(|l| l.to_ascii_lowercase().contains("openblas"))
    {
        out.implementation = BlasImpl::Openblas;
        out.evidence.push(format!("{lib} bundled with pip's NumPy"));
        return;
    }
    let Some(dist) = dist else {
        out.evidence
            .push("no BLAS library bundled with NumPy".into());
        return;
    };
    let major: Option<u32> = dist.version.split('.').next().and_then(|m| m.parse().ok());
    if let Some(tag) = dist
        .wheel_tags
        .iter()
        .find(|t| macos_major(t).is_some_and(|m| m >= 14))
        && major.is_some_and(|m| m >= 2)
    {
        out.implementation = BlasImpl::Accelerate;
        out.evidence.push(format!(
            "{} wheel {tag} bundles no OpenBLAS: NumPy ≥ 2 wheels for macOS 14+ use Accelerate",
            dist.dir
        ));
        return;
    }
    out.evidence.push(format!(
        "{} ({}) bundles no BLAS library that could be recognised",
        dist.dir,
        dist.wheel_tags
            .first()
            .map(String::as_str)
            .unwrap_or("no wheel tag")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::prefix::{LibLink, PinnedLine, SitePackages};
    use std::path::PathBuf;

    const CF: &str = "https://conda.anaconda.org/conda-forge";
    const MAIN: &str = "https://repo.anaconda.com/pkgs/main";

    fn rec(
        name: &str,
        version: &str,
        build: &str,
        channel: &str,
        subdir: &str,
        depends: &[&str],
    ) -> Record {
        Record {
            name: name.into(),
            version: version.into(),
            build: build.into(),
            channel: Some(format!("{channel}/{subdir}")),
            url: Some(format!("{channel}/{subdir}/{name}-{version}-{build}.conda")),
            subdir: Some(subdir.into()),
            depends: depends.iter().map(|s| s.to_string()).collect(),
            file: PathBuf::from(format!("conda-meta/{name}-{version}-{build}.json")),
            ..Default::default()
        }
    }

    fn facts(records: Vec<Record>) -> PrefixFacts {
        let mut records = records;
        records.sort_by(|a, b| a.name.cmp(&b.name));
        PrefixFacts {
            has_conda_meta: true,
            record_count: records.len(),
            records,
            ..Default::default()
        }
    }

    fn dist(version: &str, installer: Option<&str>, tag: &str) -> DistInfo {
        DistInfo {
            dir: format!("numpy-{version}.dist-info"),
            name: "numpy".into(),
            version: version.into(),
            installer: installer.map(str::to_string),
            wheel_tags: vec![tag.into()],
        }
    }

    fn site(dists: Vec<DistInfo>, in_files: Option<&str>, libs: &[&str]) -> SitePackages {
        SitePackages {
            path: PathBuf::from("/p/lib/python3.11/site-packages"),
            dists,
            numpy_dir: in_files.is_some(),
            numpy_version_in_files: in_files.map(str::to_string),
            numpy_version_file: in_files.map(|_| "numpy/version.py".to_string()),
            numpy_bundled_libs: libs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn cf_stack(imp_build: &str, subdir: &str) -> Vec<Record> {
        vec![
            rec(
                "numpy",
                "1.26.4",
                "py311h64a7726_0",
                CF,
                subdir,
                &[
                    "libblas >=3.9.0,<4.0a0",
                    "libcblas >=3.9.0,<4.0a0",
                    "liblapack >=3.9.0,<4.0a0",
                ],
            ),
            rec("libblas", "3.9.0", imp_build, CF, subdir, &[]),
            rec("libcblas", "3.9.0", imp_build, CF, subdir, &[]),
            rec("liblapack", "3.9.0", imp_build, CF, subdir, &[]),
        ]
    }

    #[test]
    fn conda_forge_build_strings_of_every_era() {
        for &(b, imp) in crate::facts::blas::BUILD_STRINGS_OF_EVERY_ERA {
            let d = declared(&facts(cf_stack(b, "linux-64")));
            assert_eq!(d.implementation, imp, "{b}: {d:?}");
            assert_eq!(d.family, Some(ChannelFamily::CondaForge));
        }
    }

    #[test]
    fn conda_forge_evidence_line() {
        let d = declared(&facts(cf_stack("20_linux64_openblas", "linux-64")));
        assert_eq!(
            d.evidence[0],
            "libblas 3.9.0 20_linux64_openblas [conda-forge, linux-64]"
        );
        assert_eq!(d.numpy.source, Some(NumpySource::Conda));
        assert_eq!(d.numpy.family, Some(ChannelFamily::CondaForge));
        assert_eq!(
            d.numpy.record.as_deref(),
            Some("numpy-1.26.4-py311h64a7726_0.json")
        );
        assert!(d.ambiguity.is_none() && d.mixed_stacks.is_empty());
    }

    #[test]
    fn conda_forge_disagreeing_lapack_is_noted() {
        let mut r = cf_stack("20_linux64_mkl", "linux-64");
        r[3].build = "20_linux64_openblas".into();
        let d = declared(&facts(r));
        assert_eq!(d.implementation, BlasImpl::Mkl);
        assert!(
            d.evidence
                .iter()
                .any(|e| e.contains("liblapack") && e.contains("disagrees")),
            "{:?}",
            d.evidence
        );
    }

    fn defaults_stack(imp: &str, subdir: &str) -> Vec<Record> {
        let blas_dep = format!("blas 1.0 {imp}");
        let lib_dep = if imp == "mkl" {
            "mkl >=2021.3.0,<2022.0a0"
        } else {
            "libopenblas >=0.3.21,<1.0a0"
        };
        vec![
            rec(
                "numpy",
                "1.21.2",
                "py39h20f2e39_0",
                MAIN,
                subdir,
                &[&blas_dep, lib_dep, "numpy-base 1.21.2 py39h79a1101_0"],
            ),
            rec(
                "numpy-base",
                "1.21.2",
                "py39h79a1101_0",
                MAIN,
                subdir,
                &[&blas_dep, lib_dep],
            ),
            rec("blas", "1.0", imp, MAIN, subdir, &[]),
        ]
    }

    #[test]
    fn defaults_mkl_and_openblas() {
        let d = declared(&facts(defaults_stack("mkl", "linux-64")));
        assert_eq!(d.implementation, BlasImpl::Mkl);
        assert_eq!(d.family, Some(ChannelFamily::Defaults));
        assert_eq!(
            d.evidence[0],
            "numpy-base 1.21.2 py39h79a1101_0 depends on blas 1.0 mkl"
        );
        let d = declared(&facts(defaults_stack("openblas", "osx-arm64")));
        assert_eq!(d.implementation, BlasImpl::Openblas);
        assert_eq!(d.numpy.build.as_deref(), Some("py39h20f2e39_0"));
    }

    #[test]
    fn defaults_nomkl_without_mutex_dependency() {
        let d = declared(&facts(vec![
            rec("numpy", "1.11.3", "py36_0", MAIN, "osx-64", &["numpy-base"]),
            rec(
                "numpy-base",
                "1.11.3",
                "py36_0",
                MAIN,
                "osx-64",
                &["python 3.6*"],
            ),
            rec("nomkl", "3.0", "0", MAIN, "osx-64", &["blas * openblas"]),
        ]));
        assert_eq!(d.implementation, BlasImpl::Openblas);
        assert!(d.evidence[0].starts_with("nomkl 3.0 0"), "{:?}", d.evidence);
    }

    #[test]
    fn installer_made_records_use_the_url() {
        let mut r = defaults_stack("mkl", "win-64");
        for x in &mut r {
            x.channel = None;
        }
        let d = declared(&facts(r));
        assert_eq!(d.implementation, BlasImpl::Mkl);
        assert_eq!(d.numpy.family, Some(ChannelFamily::Defaults));
        assert!(
            d.numpy
                .channel
                .as_deref()
                .is_some_and(|c| c.starts_with(MAIN))
        );
    }

    #[test]
    fn conda_forge_numpy_beside_defaults_blas_mutex() {
        let mut r = cf_stack("18_osx64_openblas", "osx-64");
        r.push(rec("blas", "1.0", "openblas", MAIN, "osx-64", &[]));
        let d = declared(&facts(r));
        assert_eq!(d.implementation, BlasImpl::Openblas);
        assert_eq!(d.family, Some(ChannelFamily::CondaForge));
        assert_eq!(
            d.evidence[0],
            "libblas 3.9.0 18_osx64_openblas [conda-forge, osx-64]"
        );
        assert_eq!(d.mixed_stacks.len(), 1, "{:?}", d.mixed_stacks);
        // Even when the mutex says mkl, conda-forge's libblas decides.
        let mut r = cf_stack("20_linux64_openblas", "linux-64");
        r.push(rec("blas", "1.0", "mkl", MAIN, "linux-64", &[]));
        assert_eq!(declared(&facts(r)).implementation, BlasImpl::Openblas);
    }

    #[test]
    fn pip_numpy_alone() {
        let mut f = facts(vec![]);
        f.site = Some(site(
            vec![dist("2.0.2", Some("pip"), "cp39-cp39-manylinux2014_x86_64")],
            Some("2.0.2"),
            &[
                "numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0",
                "numpy.libs/libscipy_openblas64_-99b71e71.so",
            ],
        ));
        let d = declared(&f);
        assert_eq!(d.implementation, BlasImpl::Openblas);
        assert_eq!(d.family, Some(ChannelFamily::Pip));
        assert_eq!(d.numpy.source, Some(NumpySource::Pip));
        assert_eq!(
            d.numpy.wheel_tag.as_deref(),
            Some("cp39-cp39-manylinux2014_x86_64")
        );
        assert!(d.evidence[0].contains("libscipy_openblas64_"));

        f.site = Some(site(
            vec![dist("2.4.0", Some("pip"), "cp312-cp312-macosx_14_0_arm64")],
            Some("2.4.0"),
            &[],
        ));
        assert_eq!(declared(&f).implementation, BlasImpl::Accelerate);
        f.site = Some(site(
            vec![dist("1.26.4", Some("pip"), "cp312-cp312-macosx_14_0_arm64")],
            Some("1.26.4"),
            &[],
        ));
        assert_eq!(declared(&f).implementation, BlasImpl::Unknown);
    }

    fn defaults_np2_with_pip(in_files: &str, owner: Option<&str>) -> PrefixFacts {
        let mut f = facts(vec![
            rec(
                "numpy",
                "2.2.2",
                "py311he598dae_0",
                MAIN,
                "osx-arm64",
                &["blas 1.0 openblas", "numpy-base 2.2.2 py311hfbfe69c_0"],
            ),
            rec(
                "numpy-base",
                "2.2.2",
                "py311hfbfe69c_0",
                MAIN,
                "osx-arm64",
                &["blas 1.0 openblas", "libopenblas >=0.3.21,<1.0a0"],
            ),
            rec("blas", "1.0", "openblas", MAIN, "osx-arm64", &[]),
        ]);
        let mut s = site(
            vec![
                dist("2.2.2", Some("conda"), "cp311-cp311-macosx_11_0_arm64"),
                dist("2.2.3", Some("pip"), "cp311-cp311-macosx_14_0_arm64"),
            ],
            Some(in_files),
            &[],
        );
        s.numpy_files_owner = owner.map(str::to_string);
        f.site = Some(s);
        f
    }

    #[test]
    fn stale_pip_dist_info_over_conda_numpy_decided_by_version_file() {
        let d = declared(&defaults_np2_with_pip("2.2.2", None));
        assert_eq!(d.implementation, BlasImpl::Openblas);
        assert_eq!(d.numpy.source, Some(NumpySource::Conda));
        assert_eq!(
            d.evidence[0],
            "numpy/version.py says 2.2.2 = conda record numpy-base 2.2.2 (pip dist-info numpy-2.2.3 is stale)"
        );
        assert!(d.pip_shadow.as_deref().is_some_and(|s| s.contains("stale")));
    }

    #[test]
    fn live_pip_numpy_over_conda_numpy() {
        let d = declared(&defaults_np2_with_pip("2.2.3", None));
        assert_eq!(d.implementation, BlasImpl::Accelerate);
        assert_eq!(d.numpy.source, Some(NumpySource::Pip));
        assert!(
            d.pip_shadow
                .as_deref()
                .is_some_and(|s| s.contains("Python imports pip's NumPy"))
        );
        // The hash owner wins over the versions.
        let d = declared(&defaults_np2_with_pip("2.2.3", Some("conda")));
        assert_eq!(d.numpy.source, Some(NumpySource::Conda));
        assert_eq!(d.implementation, BlasImpl::Openblas);
    }

    #[test]
    fn undecidable_pip_over_conda_is_ambiguous() {
        let mut f = defaults_np2_with_pip("2.2.2", None);
        if let Some(s) = f.site.as_mut() {
            s.dists[1] = dist("2.2.2", Some("pip"), "cp311-cp311-macosx_14_0_arm64");
        }
        let d = declared(&f);
        assert_eq!(d.implementation, BlasImpl::Ambiguous);
        assert!(
            d.ambiguity.as_deref().is_some_and(|a| a.contains("both")),
            "{:?}",
            d.ambiguity
        );
        // No readable version file either.
        let mut f = defaults_np2_with_pip("2.2.2", None);
        if let Some(s) = f.site.as_mut() {
            s.numpy_version_in_files = None;
        }
        assert_eq!(declared(&f).implementation, BlasImpl::Ambiguous);
    }

    #[test]
    fn stale_bundled_libs_do_not_override_conda() {
        let mut f = facts(defaults_stack("mkl", "linux-64"));
        f.site = Some(site(
            vec![dist("1.21.2", Some("conda"), "cp39-cp39-linux_x86_64")],
            Some("1.21.2"),
            &["numpy.libs/libopenblasp-r0-ae94cfde.3.9.dev.so"],
        ));
        assert_eq!(declared(&f).implementation, BlasImpl::Mkl);
    }

    #[test]
    fn no_numpy_is_none() {
        let mut r = cf_stack("19_linux64_openblas", "linux-64");
        r.remove(0);
        let d = declared(&facts(r));
        assert_eq!(d.implementation, BlasImpl::None);
        assert_eq!(
            declared(&PrefixFacts::default()).implementation,
            BlasImpl::None
        );
    }

    #[test]
    fn symlink_agreeing_and_disagreeing() {
        let mut f = facts(cf_stack("20_linux64_mkl", "linux-64"));
        f.blas_links = vec![LibLink {
            name: "lib/libblas.so.3".into(),
            target: Some("libmkl_rt.so.2".into()),
        }];
        let d = declared(&f);
        assert!(
            d.evidence
                .iter()
                .any(|e| e == "lib/libblas.so.3 -> libmkl_rt.so.2")
        );
        assert!(d.ambiguity.is_none());
        f.blas_links[0].target = Some("libopenblasp-r0.3.21.so".into());
        assert!(declared(&f).ambiguity.is_some());
    }

    #[test]
    fn pinned_blas_lines() {
        let mut f = facts(cf_stack("20_linux64_mkl", "linux-64"));
        f.pinned = [
            "libblas=*=*mkl",
            "python 3.11.*",
            "\"blas=*=mkl\"",
            "conda-forge::liblapack * *mkl",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| PinnedLine {
            line: i + 1,
            text: t.to_string(),
            problem: None,
        })
        .collect();
        assert_eq!(
            declared(&f).pinned,
            vec![
                "libblas=*=*mkl",
                "\"blas=*=mkl\"",
                "conda-forge::liblapack * *mkl"
            ]
        );
    }
}
