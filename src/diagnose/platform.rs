//! The environment's platform and channel family as the rules see them: its subdir, whose BLAS
//! scheme applies, what that scheme offers there, and how to name the CPU in a sentence.

use crate::facts::Facts;
use crate::facts::blas::{self, BlasImpl, ChannelFamily};
use crate::facts::declared::NumpySource;

/// The environment's subdir (from its records), else the one this process runs as.
pub fn env_subdir(f: &Facts) -> String {
    f.prefix
        .subdir
        .clone()
        .filter(|s| !s.is_empty() && s != "noarch")
        .unwrap_or_else(|| f.machine.process_subdir.clone())
}

/// The channel family whose BLAS scheme applies: NumPy's, else the declared BLAS's, else the
/// first effective channel's (what a fresh `conda install numpy` would use).
pub fn env_family(f: &Facts) -> ChannelFamily {
    if let Some(fam) = f.blas.numpy.family.filter(|x| *x != ChannelFamily::Other) {
        return fam;
    }
    if f.blas.numpy.source == Some(NumpySource::Pip) {
        return ChannelFamily::Pip;
    }
    if let Some(fam) = f.blas.family.filter(|x| *x != ChannelFamily::Other) {
        return fam;
    }
    if f.environment.kind.is_conda_like() || f.prefix.has_conda_meta {
        for ch in &f.channels.effective {
            let fam = crate::facts::mirrors::channel_family(&ch.url);
            if fam != ChannelFamily::Other {
                return fam;
            }
        }
        return ChannelFamily::Other;
    }
    ChannelFamily::Pip
}

/// Whether `imp` is published for this environment's family and subdir.
pub fn exists_here(f: &Facts, imp: BlasImpl) -> bool {
    blas::available(env_family(f), &env_subdir(f)).contains(&imp)
}

pub fn is_x86(f: &Facts) -> bool {
    matches!(f.machine.arch.as_str(), "x86_64" | "x86")
        || env_subdir(f).ends_with("-64") && !env_subdir(f).contains("arm")
}

pub fn cpu_label(f: &Facts) -> String {
    let m = &f.machine;
    let brand = m.brand.clone().unwrap_or_else(|| m.vendor.clone());
    match &m.microarch {
        Some(u) => format!("{brand} ({u})"),
        None => brand,
    }
}

/// How the family is named in a sentence.
pub fn family_name(f: ChannelFamily) -> &'static str {
    match f {
        ChannelFamily::CondaForge => "conda-forge",
        ChannelFamily::Defaults => "Anaconda's defaults channel",
        ChannelFamily::Pip => "PyPI",
        ChannelFamily::Other => "this channel",
    }
}
