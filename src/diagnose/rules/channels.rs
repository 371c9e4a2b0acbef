//! Rules on where packages came from: a mirror that made conda-forge the source of NumPy.

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::platform::env_subdir;
use crate::facts::Facts;
use crate::facts::blas::{self, ChannelFamily};

/// `mirror-conda-forge`: NumPy came from conda-forge through a mirror, which explains its BLAS.
pub fn mirror_conda_forge(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let subdir = env_subdir(f);
    if let Some(m) = mirror_of_numpy(f) {
        out.push(Finding::new(
            "mirror-conda-forge",
            Severity::Info,
            format!("NumPy comes from conda-forge through the {} mirror", m),
            format!(
                "The channel {} is a mirror of conda-forge, whose default BLAS on {} is {}. That is why this \
                 environment got {} rather than what Anaconda's defaults channel would give ({}).",
                f.blas.numpy.channel.as_deref().unwrap_or("?"),
                subdir,
                blas::available(ChannelFamily::CondaForge, &subdir).first().map(|b| b.display_name()).unwrap_or("OpenBLAS"),
                f.blas.implementation.display_name(),
                blas::available(ChannelFamily::Defaults, &subdir).first().map(|b| b.display_name()).unwrap_or("OpenBLAS"),
            ),
        ));
    }
    out
}

/// The mirror NumPy's conda-forge record came from, if any.
fn mirror_of_numpy(f: &Facts) -> Option<&'static str> {
    let ch = f.blas.numpy.channel.as_deref()?;
    if crate::facts::mirrors::channel_family(ch) != ChannelFamily::CondaForge {
        return None;
    }
    crate::facts::mirrors::mirror_name(ch)
}

#[cfg(test)]
mod tests {
    use crate::diagnose::fixture::{ids, intel_linux};
    use crate::diagnose::rules::evaluate;

    #[test]
    fn mirror_of_conda_forge_explains_openblas() {
        let mut f = intel_linux();
        assert!(
            !ids(&f).contains(&"mirror-conda-forge".to_string()),
            "official conda-forge is no mirror"
        );
        f.blas.numpy.channel =
            Some("https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge/linux-64".into());
        let x = evaluate(&f)
            .into_iter()
            .find(|x| x.id == "mirror-conda-forge")
            .expect("finding");
        assert!(x.title.contains("TUNA"), "{}", x.title);
        assert!(
            x.detail.contains("Intel MKL"),
            "what defaults would give: {}",
            x.detail
        );
        f.blas.numpy.channel =
            Some("https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main/linux-64".into());
        assert!(
            !ids(&f).contains(&"mirror-conda-forge".to_string()),
            "a defaults mirror is not conda-forge"
        );
    }
}
