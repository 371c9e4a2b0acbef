//! The `sys.path` an environment's Python will have, worked out from files without running it:
//! `PYTHONPATH`, the user site, the site directories of the prefix (conda and venv
//! `lib/pythonX.Y/site-packages`, Debian's `dist-packages`, Fedora's `lib64`, Windows'
//! `Lib/site-packages`), the base Python's ones for a venv with
//! `include-system-site-packages = true`, and the directories `.pth` files add, in Python's
//! order. The first entry holding a `numpy` package is the NumPy `import numpy` loads.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::facts::snapshot::EnvSnapshot;

/// What decides `sys.path` besides the prefix: variables and the user's home.
#[derive(Debug, Clone, Default)]
pub struct PathContext {
    /// `PYTHONPATH` entries, in order.
    pub pythonpath: Vec<PathBuf>,
    /// `PYTHONUSERBASE`, else `~/.local` (None: no home).
    pub user_base: Option<PathBuf>,
    /// `PYTHONNOUSERSITE` is set.
    pub no_user_site: bool,
}

impl PathContext {
    pub fn capture(env: &EnvSnapshot) -> Self {
        let sep = if cfg!(windows) { ';' } else { ':' };
        PathContext {
            pythonpath: env
                .get("PYTHONPATH")
                .map(|v| {
                    v.split(sep)
                        .filter(|p| !p.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
            user_base: env
                .path("PYTHONUSERBASE")
                .or_else(|| env.home.as_ref().map(|h| h.join(".local"))),
            no_user_site: env.get("PYTHONNOUSERSITE").is_some(),
        }
    }
}

/// Where a `sys.path` entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Pythonpath,
    UserSite,
    /// The environment's own site directory.
    SitePackages,
    /// The base Python's, reached through `include-system-site-packages = true`.
    BaseSitePackages,
    /// Added by a `.pth` file (see `SiteDir::pth`).
    Pth,
}

impl Origin {
    /// For people: "PYTHONPATH", "the user site (~/.local/...)", ...
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Pythonpath => "PYTHONPATH",
            Origin::UserSite => "the user site",
            Origin::SitePackages => "the environment's site-packages",
            Origin::BaseSitePackages => {
                "the base Python's site-packages (include-system-site-packages = true)"
            }
            Origin::Pth => "a .pth file",
        }
    }
}

/// One directory on the modelled `sys.path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteDir {
    pub path: PathBuf,
    pub origin: Origin,
    /// The `.pth` file and line that added it (origin `pth`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pth: Option<String>,
}

/// What `pyvenv.cfg` says about the base Python.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenvCfg {
    /// `home`: the base interpreter's directory.
    pub home: Option<PathBuf>,
    pub system_site_packages: bool,
}

pub fn parse_pyvenv_cfg(text: &str) -> VenvCfg {
    let mut cfg = VenvCfg::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim() {
            "home" => cfg.home = Some(PathBuf::from(v.trim())),
            "include-system-site-packages" => {
                cfg.system_site_packages = v.trim().eq_ignore_ascii_case("true")
            }
            _ => {}
        }
    }
    cfg
}

/// The base prefix a venv's `home` names (`/usr/bin` -> `/usr`, `C:\Python312` stays).
pub fn base_prefix(home: &Path) -> PathBuf {
    match home.file_name() {
        Some(n) if n == "bin" => home.parent().unwrap_or(home).to_path_buf(),
        _ => home.to_path_buf(),
    }
}

/// The site directories Python derives from one prefix, in its order; only existing ones.
/// `xy` is "3.11".
pub fn prefix_site_dirs(prefix: &Path, xy: &str) -> Vec<PathBuf> {
    let py = format!("python{xy}");
    let mut out: Vec<PathBuf> = Vec::new();
    let debian = prefix.join("lib/python3/dist-packages").is_dir();
    let usr = prefix == Path::new("/usr");
    if debian {
        // Debian's site.py: pip's dist-packages under /usr/local first, then the packaged ones.
        if usr {
            out.push(PathBuf::from(format!("/usr/local/lib/{py}/dist-packages")));
        }
        out.push(prefix.join("lib/python3/dist-packages"));
        out.push(prefix.join(format!("lib/{py}/dist-packages")));
    } else {
        // Fedora's site.py puts /usr/local before /usr for the system Python.
        if usr {
            out.push(PathBuf::from(format!(
                "/usr/local/lib64/{py}/site-packages"
            )));
            out.push(PathBuf::from(format!("/usr/local/lib/{py}/site-packages")));
        }
        // One component at a time: on Windows a joined "a/b" keeps its slash beside backslashes.
        out.push(prefix.join("lib64").join(&py).join("site-packages"));
        out.push(prefix.join("lib").join(&py).join("site-packages"));
        out.push(
            prefix
                .join("lib")
                .join(format!("{py}t"))
                .join("site-packages"),
        );
        out.push(prefix.join("Lib").join("site-packages"));
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    out.retain(|d| {
        if !d.is_dir() {
            return false;
        }
        let key = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        if seen.contains(&key) {
            return false;
        }
        seen.push(key);
        true
    });
    out
}

/// Directories a site directory's `.pth` files add (sorted by file name, as `site` does;
/// comment and `import` lines skipped; only existing directories).
pub fn pth_dirs(site: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(site) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pth"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let file = site.join(&name);
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
            let t = line.trim();
            if t.is_empty()
                || t.starts_with('#')
                || t.starts_with("import ")
                || t.starts_with("import\t")
            {
                continue;
            }
            let dir = site.join(t);
            if dir.is_dir() {
                out.push((dir, format!("{}:{}", file.display(), i + 1)));
            }
        }
    }
    out
}

/// The modelled `sys.path` (site part): PYTHONPATH, the user site (when Python enables it: not
/// in a plain venv, not with PYTHONNOUSERSITE), the prefix's site directories, the base
/// Python's for a venv that includes them, each followed by what its `.pth` files add.
pub fn model(prefix: &Path, xy: &str, venv: Option<&VenvCfg>, ctx: &PathContext) -> Vec<SiteDir> {
    let mut out: Vec<SiteDir> = ctx
        .pythonpath
        .iter()
        .map(|p| SiteDir {
            path: p.clone(),
            origin: Origin::Pythonpath,
            pth: None,
        })
        .collect();
    let user_enabled = !ctx.no_user_site && venv.is_none_or(|v| v.system_site_packages);
    let mut sites: Vec<(PathBuf, Origin)> = Vec::new();
    if user_enabled && let Some(base) = &ctx.user_base {
        let user = base.join(format!("lib/python{xy}/site-packages"));
        if user.is_dir() {
            sites.push((user, Origin::UserSite));
        }
    }
    sites.extend(
        prefix_site_dirs(prefix, xy)
            .into_iter()
            .map(|d| (d, Origin::SitePackages)),
    );
    if let Some(v) = venv
        && v.system_site_packages
        && let Some(home) = &v.home
    {
        let base = base_prefix(home);
        sites.extend(
            prefix_site_dirs(&base, xy)
                .into_iter()
                .map(|d| (d, Origin::BaseSitePackages)),
        );
    }
    for (dir, origin) in sites {
        let pth = pth_dirs(&dir);
        out.push(SiteDir {
            path: dir,
            origin,
            pth: None,
        });
        for (p, from) in pth {
            out.push(SiteDir {
                path: p,
                origin: Origin::Pth,
                pth: Some(from),
            });
        }
    }
    out
}

/// The entries holding a `numpy` package (`numpy/__init__.py`), in import order.
pub fn numpy_copies(dirs: &[SiteDir]) -> Vec<SiteDir> {
    dirs.iter()
        .filter(|d| d.path.join("numpy").join("__init__.py").is_file())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn numpy_in(dir: &Path) {
        fs::create_dir_all(dir.join("numpy")).unwrap();
        fs::write(dir.join("numpy/__init__.py"), "").unwrap();
    }

    #[test]
    fn pyvenv_cfg_and_base_prefix() {
        let c = parse_pyvenv_cfg(
            "home = /usr/bin\ninclude-system-site-packages = true\nversion = 3.11.2\n",
        );
        assert_eq!(c.home.as_deref(), Some(Path::new("/usr/bin")));
        assert!(c.system_site_packages);
        assert!(!parse_pyvenv_cfg("include-system-site-packages = false").system_site_packages);
        assert_eq!(base_prefix(Path::new("/usr/bin")), PathBuf::from("/usr"));
        assert_eq!(
            base_prefix(Path::new("C:/Python312")),
            PathBuf::from("C:/Python312")
        );
    }

    #[test]
    fn debian_and_fedora_layouts() {
        let t = tempfile::tempdir().unwrap();
        let deb = t.path().join("deb");
        fs::create_dir_all(deb.join("lib/python3/dist-packages")).unwrap();
        fs::create_dir_all(deb.join("lib/python3.11/dist-packages")).unwrap();
        assert_eq!(
            prefix_site_dirs(&deb, "3.11"),
            vec![
                deb.join("lib/python3/dist-packages"),
                deb.join("lib/python3.11/dist-packages")
            ]
        );
        let fed = t.path().join("fed");
        fs::create_dir_all(fed.join("lib64/python3.12/site-packages")).unwrap();
        fs::create_dir_all(fed.join("lib/python3.12/site-packages")).unwrap();
        assert_eq!(
            prefix_site_dirs(&fed, "3.12"),
            vec![
                fed.join("lib64/python3.12/site-packages"),
                fed.join("lib/python3.12/site-packages")
            ]
        );
        // A lib64 symlink to lib is one directory.
        let conda = t.path().join("conda");
        fs::create_dir_all(conda.join("lib/python3.12/site-packages")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("lib", conda.join("lib64")).unwrap();
        assert_eq!(prefix_site_dirs(&conda, "3.12").len(), 1);
    }

    #[test]
    fn order_pythonpath_user_site_venv_base_and_pth() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("base");
        let base_site = base.join("lib/python3.11/site-packages");
        numpy_in(&base_site);
        let venv = t.path().join("venv");
        let venv_site = venv.join("lib/python3.11/site-packages");
        fs::create_dir_all(&venv_site).unwrap();
        let extra = t.path().join("extra");
        numpy_in(&extra);
        fs::write(
            venv_site.join("zz.pth"),
            format!("# comment\nimport os\n{}\nmissing-dir\n", extra.display()),
        )
        .unwrap();
        let home = t.path().join("home");
        let user = home.join(".local/lib/python3.11/site-packages");
        numpy_in(&user);
        let pp = t.path().join("pp");
        numpy_in(&pp);
        let cfg = VenvCfg {
            home: Some(base.join("bin")),
            system_site_packages: true,
        };
        let ctx = PathContext {
            pythonpath: vec![pp.clone()],
            user_base: Some(home.join(".local")),
            no_user_site: false,
        };
        let m = model(&venv, "3.11", Some(&cfg), &ctx);
        let got: Vec<(PathBuf, Origin)> = m.iter().map(|d| (d.path.clone(), d.origin)).collect();
        assert_eq!(
            got,
            vec![
                (pp.clone(), Origin::Pythonpath),
                (user.clone(), Origin::UserSite),
                (venv_site.clone(), Origin::SitePackages),
                (venv_site.join(&extra), Origin::Pth),
                (base_site.clone(), Origin::BaseSitePackages),
            ]
        );
        assert!(m[3].pth.as_deref().is_some_and(|p| p.ends_with("zz.pth:3")));
        let copies = numpy_copies(&m);
        assert_eq!(copies.len(), 4);
        assert_eq!(copies[0].origin, Origin::Pythonpath);
        // A plain venv has no user site and no base site-packages.
        let plain = VenvCfg {
            home: Some(base.join("bin")),
            system_site_packages: false,
        };
        let ctx = PathContext {
            pythonpath: vec![],
            ..ctx
        };
        let m = model(&venv, "3.11", Some(&plain), &ctx);
        assert!(
            m.iter()
                .all(|d| d.origin != Origin::UserSite && d.origin != Origin::BaseSitePackages)
        );
        // PYTHONNOUSERSITE turns the user site off for a system Python.
        let no_user = PathContext {
            no_user_site: true,
            ..ctx.clone()
        };
        assert!(
            model(&base, "3.11", None, &no_user)
                .iter()
                .all(|d| d.origin != Origin::UserSite)
        );
        assert_eq!(model(&base, "3.11", None, &ctx)[0].origin, Origin::UserSite);
    }
}
