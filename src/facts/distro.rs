//! A distribution's own evidence about its NumPy and BLAS, where it is cheap to read: dpkg's
//! status file and file lists (which package owns NumPy and each BLAS library), and the
//! Debian/Ubuntu alternatives that choose the BLAS and LAPACK every program links through
//! `libblas.so.3` (`/etc/alternatives/libblas.so.3-<triplet>`, with the mode and the candidates
//! from `/var/lib/dpkg/alternatives/`). RPM's database is not read (it is SQLite); on Fedora the
//! evidence is FlexiBLAS's configuration, read by `linkage::flexiblas_backend`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// An installed package as the package manager records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
}

/// One alternative (`libblas.so.3-x86_64-linux-gnu`) and what it points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Alternative {
    pub name: String,
    /// The target of `/etc/alternatives/<name>` (None: the link is missing).
    pub target: Option<PathBuf>,
    /// "auto" or "manual", from `/var/lib/dpkg/alternatives/<name>`.
    pub mode: Option<String>,
    /// Every candidate with its priority, highest first.
    pub candidates: Vec<(PathBuf, i64)>,
    /// The package whose files include the target.
    pub owner: Option<Package>,
}

/// What the distribution says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DistroFacts {
    /// "debian" (dpkg) when a dpkg database exists.
    pub manager: Option<String>,
    /// The multiarch triplet of the alternatives (`x86_64-linux-gnu`).
    pub triplet: Option<String>,
    /// The package that installed NumPy's files (`python3-numpy 1:1.24.2-1+deb12u1`).
    pub numpy_package: Option<Package>,
    /// `libblas.so.3`, `liblapack.so.3`, `libopenblas.so.0`, `libblis.so.4` alternatives found.
    pub alternatives: Vec<Alternative>,
    /// Installed BLAS/LAPACK packages (libopenblas0-*, libblis4-*, libatlas3-base, libblas3,
    /// liblapack3, libmkl-rt, libflexiblas*, ...).
    pub blas_packages: Vec<Package>,
}

impl DistroFacts {
    pub fn alternative(&self, stem: &str) -> Option<&Alternative> {
        self.alternatives
            .iter()
            .find(|a| a.name.split('-').next() == Some(stem))
    }
}

/// The Debian multiarch triplet of this machine.
pub fn host_triplet() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("x86_64-linux-gnu"),
        "aarch64" => Some("aarch64-linux-gnu"),
        "powerpc64" => Some("powerpc64le-linux-gnu"),
        "s390x" => Some("s390x-linux-gnu"),
        "x86" => Some("i386-linux-gnu"),
        _ => None,
    }
}

/// Packages whose status is kept: NumPy and BLAS/LAPACK libraries.
fn interesting(name: &str) -> bool {
    name == "python3-numpy"
        || name == "python3-scipy"
        || [
            "libopenblas",
            "libblis",
            "libatlas",
            "libblas",
            "liblapack",
            "libmkl",
            "intel-mkl",
            "libflexiblas",
            "libarmpl",
            "libnvpl",
        ]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Installed packages of interest from dpkg's status file (stanzas whose `Status` ends in
/// `installed`), name -> version.
pub fn parse_dpkg_status(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stanza in text.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut installed = false;
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                if !interesting(v.trim()) {
                    break;
                }
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            }
        }
        if let (Some(n), Some(v), true) = (name, version, installed) {
            out.insert(n.to_string(), v.to_string());
        }
    }
    out
}

/// `/var/lib/dpkg/alternatives/<name>`: mode, then the link and slaves, then per candidate its
/// path, priority and slave targets.
pub fn parse_alternative_state(text: &str) -> (Option<String>, Vec<(PathBuf, i64)>) {
    let mut lines = text.lines();
    let mode = lines.next().map(|m| m.trim().to_string());
    let _link = lines.next();
    // Slave pairs (name, link) until an empty line.
    let mut slaves = 0usize;
    loop {
        match lines.next() {
            Some("") | None => break,
            Some(_) => {
                let _ = lines.next();
                slaves += 1;
            }
        }
    }
    let mut candidates = Vec::new();
    while let Some(path) = lines.next() {
        if path.is_empty() {
            break;
        }
        let Some(prio) = lines.next().and_then(|p| p.trim().parse::<i64>().ok()) else {
            break;
        };
        for _ in 0..slaves {
            let _ = lines.next();
        }
        candidates.push((PathBuf::from(path), prio));
    }
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    (mode, candidates)
}

/// Read what dpkg and the alternatives say about `numpy_dir` (a `.../numpy` package directory)
/// and the BLAS alternatives. None when there is no dpkg database (not Debian-like).
pub fn read(root: &Path, numpy_dir: Option<&Path>) -> Option<DistroFacts> {
    let status = std::fs::read(root.join("var/lib/dpkg/status")).ok()?;
    let installed = parse_dpkg_status(&String::from_utf8_lossy(&status));
    let triplet = host_triplet();
    let info = root.join("var/lib/dpkg/info");
    let list_of = |pkg: &str| -> Option<String> {
        let arch = triplet.and_then(|t| t.split('-').next()).map(|a| match a {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "i386" => "i386",
            other => other,
        });
        let mut names = vec![format!("{pkg}.list")];
        if let Some(a) = arch {
            names.insert(0, format!("{pkg}:{a}.list"));
        }
        names
            .iter()
            .find_map(|n| std::fs::read(info.join(n)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    let owns = |pkg: &str, path: &Path| -> bool {
        let p = path.to_string_lossy();
        list_of(pkg).is_some_and(|l| l.lines().any(|line| line == p))
    };
    let mut facts = DistroFacts {
        manager: Some("dpkg".into()),
        triplet: triplet.map(str::to_string),
        ..Default::default()
    };
    if let Some(dir) = numpy_dir {
        // dpkg lists paths as installed (/usr/lib/python3/dist-packages/numpy).
        let pkg = ["python3-numpy"]
            .into_iter()
            .find(|p| installed.contains_key(*p) && owns(p, dir));
        facts.numpy_package = pkg.map(|p| Package {
            name: p.to_string(),
            version: installed[p].clone(),
        });
    }
    facts.blas_packages = installed
        .iter()
        .filter(|(n, _)| !n.starts_with("python3-"))
        .map(|(n, v)| Package {
            name: n.clone(),
            version: v.clone(),
        })
        .collect();
    if let Some(t) = triplet {
        for stem in [
            "libblas.so.3",
            "liblapack.so.3",
            "libopenblas.so.0",
            "libblis.so.4",
        ] {
            let name = format!("{stem}-{t}");
            let link = root.join("etc/alternatives").join(&name);
            let target = std::fs::read_link(&link).ok();
            let state = std::fs::read_to_string(root.join("var/lib/dpkg/alternatives").join(&name));
            if target.is_none() && state.is_err() {
                continue;
            }
            let (mode, candidates) = state
                .map(|s| parse_alternative_state(&s))
                .unwrap_or((None, Vec::new()));
            let owner = target.as_ref().and_then(|t| {
                facts
                    .blas_packages
                    .iter()
                    .find(|p| owns(&p.name, t))
                    .cloned()
            });
            facts.alternatives.push(Alternative {
                name,
                target,
                mode,
                candidates,
                owner,
            });
        }
    }
    Some(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_keeps_installed_blas_and_numpy() {
        let text = "Package: python3-numpy\nStatus: install ok installed\nVersion: 1:1.24.2-1+deb12u1\n\n\
                    Package: zlib1g\nStatus: install ok installed\nVersion: 1\n\n\
                    Package: libatlas3-base\nStatus: deinstall ok config-files\nVersion: 3.10.3-13\n\n\
                    Package: libopenblas0-pthread\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.3.21+ds-4\n";
        let m = parse_dpkg_status(text);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m["python3-numpy"], "1:1.24.2-1+deb12u1");
        assert_eq!(m["libopenblas0-pthread"], "0.3.21+ds-4");
    }

    #[test]
    fn alternative_state_file() {
        // The real layout of /var/lib/dpkg/alternatives/libblas.so.3-x86_64-linux-gnu.
        let text = "manual\n/usr/lib/x86_64-linux-gnu/libblas.so.3\n\n\
                    /usr/lib/x86_64-linux-gnu/atlas/libblas.so.3\n35\n\
                    /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3\n100\n\n";
        let (mode, c) = parse_alternative_state(text);
        assert_eq!(mode.as_deref(), Some("manual"));
        assert_eq!(
            c,
            vec![
                (
                    PathBuf::from("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"),
                    100
                ),
                (
                    PathBuf::from("/usr/lib/x86_64-linux-gnu/atlas/libblas.so.3"),
                    35
                ),
            ]
        );
        // With slaves (one here): each candidate carries one slave target line.
        let text = "auto\n/usr/bin/x\nx.1.gz\n/usr/share/man/man1/x.1.gz\n\n/usr/bin/a\n10\n/a.1.gz\n/usr/bin/b\n20\n\n\n";
        let (_, c) = parse_alternative_state(text);
        assert_eq!(c.iter().map(|x| x.1).collect::<Vec<_>>(), vec![20, 10]);
    }

    #[test]
    fn fake_root_reads_owner_and_alternatives() {
        let Some(t) = host_triplet() else { return };
        let r = tempfile::tempdir().unwrap();
        let root = r.path();
        let w = |p: &str, text: &str| {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w(
            "var/lib/dpkg/status",
            "Package: python3-numpy\nStatus: install ok installed\nVersion: 1:1.26.4-1\n\n\
             Package: libblas3\nStatus: install ok installed\nVersion: 3.11.0-2\n",
        );
        let arch = if t.starts_with("x86_64") {
            "amd64"
        } else {
            "arm64"
        };
        w(
            &format!("var/lib/dpkg/info/python3-numpy:{arch}.list"),
            "/usr/lib/python3/dist-packages/numpy\n/usr/lib/python3/dist-packages/numpy/__init__.py\n",
        );
        let target = format!("/usr/lib/{t}/blas/libblas.so.3");
        w(
            &format!("var/lib/dpkg/info/libblas3:{arch}.list"),
            &format!("{target}\n"),
        );
        w(
            &format!("var/lib/dpkg/alternatives/libblas.so.3-{t}"),
            &format!("manual\n/usr/lib/{t}/libblas.so.3\n\n{target}\n10\n\n"),
        );
        std::fs::create_dir_all(root.join("etc/alternatives")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            &target,
            root.join(format!("etc/alternatives/libblas.so.3-{t}")),
        )
        .unwrap();
        let f = read(
            root,
            Some(Path::new("/usr/lib/python3/dist-packages/numpy")),
        )
        .unwrap();
        assert_eq!(
            f.numpy_package,
            Some(Package {
                name: "python3-numpy".into(),
                version: "1:1.26.4-1".into()
            })
        );
        let a = f.alternative("libblas.so.3").expect("libblas alternative");
        assert_eq!(a.mode.as_deref(), Some("manual"));
        #[cfg(unix)]
        {
            assert_eq!(a.target.as_deref(), Some(Path::new(&target)));
            assert_eq!(a.owner.as_ref().map(|p| p.name.as_str()), Some("libblas3"));
        }
        assert!(read(&root.join("nothing"), None).is_none());
    }
}
