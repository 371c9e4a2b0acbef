//! Integration tests: corpus_condarc. Every real `.condarc` of `../shared/corpus/condarc` is
//! loaded as the only config file; where `conda-forge` and `defaults` resolve is checked against
//! the hand-checked INDEX.md (with one documented deviation, file 05), every effective channel's
//! file and line are checked to really hold it, and the mirrors are recognised. Then bad input
//! through the real search path: each case gives a Problem naming the path, the rest still loads.

use std::path::{Path, PathBuf};

use blasfix::facts::condarc::{self, ChannelFacts, CondaConfig, FileStatus};
use blasfix::facts::snapshot::EnvSnapshot;

const TUNA: &str = "https://mirrors.tuna.tsinghua.edu.cn/anaconda";
const USTC: &str = "https://mirrors.ustc.edu.cn/anaconda";
const ZJU: &str = "https://mirrors.zju.edu.cn/anaconda";
const NJU: &str = "https://mirror.nju.edu.cn/anaconda";
const SJTU: &str = "https://mirror.sjtu.edu.cn/anaconda";
const ANACONDA_ORG_CF: &str = "https://conda.anaconda.org/conda-forge";
const REPO: &str = "https://repo.anaconda.com/pkgs";

/// The expected resolution of one corpus file.
struct Expect {
    file: &'static str,
    conda_forge: String,
    /// `defaults` on linux-64 (win-64 adds msys2 when it comes from the built-in list).
    defaults: Vec<String>,
    builtin_defaults: bool,
    /// Mirror names that must be recognised.
    mirrors: &'static [&'static str],
}

fn s(v: &str) -> String {
    v.to_string()
}

fn mirror_set(base: &str, parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| format!("{base}/pkgs/{p}")).collect()
}

fn expectations() -> Vec<Expect> {
    let builtin = || vec![format!("{REPO}/main"), format!("{REPO}/r")];
    let e = |file, cf: String, defaults: Vec<String>, builtin_defaults, mirrors| Expect {
        file,
        conda_forge: cf,
        defaults,
        builtin_defaults,
        mirrors,
    };
    vec![
        e(
            "01-zju-default-custom.condarc",
            format!("{ZJU}/cloud/conda-forge"),
            mirror_set(ZJU, &["main", "r", "msys2"]),
            false,
            &["ZJU"],
        ),
        e(
            "03-tuna-commented-channels-ssl-off.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            mirror_set(TUNA, &["main", "r", "msys2"]),
            false,
            &["Tsinghua TUNA"],
        ),
        // INDEX.md reads the bare names through custom_channels (TUNA/pkgs/main...). conda's
        // `Channel.make_simple_channel` puts bare default_channels names under channel_alias
        // instead; mamba does what INDEX.md says. blasfix reports conda's answer and notes
        // mamba's (checked below).
        e(
            "05-tuna-shortname-default-channels.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            vec![
                s("https://conda.anaconda.org/main"),
                s("https://conda.anaconda.org/r"),
                s("https://conda.anaconda.org/msys2"),
            ],
            false,
            &["Tsinghua TUNA"],
        ),
        e(
            "07-crlf-many-channels-dup-bioconda.condarc",
            s(ANACONDA_ORG_CF),
            builtin(),
            true,
            &[],
        ),
        e(
            "09-airgap-final-top-markers.condarc",
            s(ANACONDA_ORG_CF),
            vec![s("http://localhost:8000/quansight-small-test")],
            false,
            &[],
        ),
        e(
            "11-tuna-channel-alias-full.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            mirror_set(TUNA, &["main", "free", "r", "pro", "msys2"]),
            false,
            &["Tsinghua TUNA"],
        ),
        e(
            "13-unindented-list-no-final-newline.condarc",
            s(ANACONDA_ORG_CF),
            builtin(),
            true,
            &[],
        ),
        e(
            "15-crlf-tuna-alias-without-anaconda-backslash-dirs.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            mirror_set(TUNA, &["main", "r", "msys2"]),
            false,
            &["Tsinghua TUNA"],
        ),
        e(
            "17-condarc-d-yml-docstart-empty-defaults.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            vec![],
            false,
            &["Tsinghua TUNA"],
        ),
        e(
            "19-ustc-defaults-tuna-pytorch-mix.condarc",
            format!("{USTC}/cloud/conda-forge"),
            mirror_set(USTC, &["main", "r", "msys2"]),
            false,
            &["USTC", "Tsinghua TUNA"],
        ),
        e(
            "21-tuna-cernet-nvidia-extra.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            mirror_set(TUNA, &["main", "r", "msys2"]),
            false,
            &["Tsinghua TUNA", "CERNET (MirrorZ)"],
        ),
        e(
            "23-tuna-url-channels-plus-repo-anaconda.condarc",
            s(ANACONDA_ORG_CF),
            builtin(),
            true,
            &["Tsinghua TUNA"],
        ),
        e(
            "25-tuna-custom-only-conda-forge-intel.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            builtin(),
            true,
            &["Tsinghua TUNA"],
        ),
        e(
            "27-tuna-alias-many-custom-trailing-blanks.condarc",
            format!("{TUNA}/cloud/conda-forge"),
            mirror_set(TUNA, &["main", "free", "r", "pro", "msys2", "mro"]),
            false,
            &["Tsinghua TUNA"],
        ),
        e(
            "29-ustc-tuna-urls-chinese-comments.condarc",
            s(ANACONDA_ORG_CF),
            builtin(),
            true,
            &["USTC", "Tsinghua TUNA"],
        ),
        e(
            "31-private-default-channels-anaconda.condarc",
            s(ANACONDA_ORG_CF),
            vec![
                s("https://conda.anaconda.org/prometeia"),
                s("https://conda.anaconda.org/anaconda"),
            ],
            false,
            &[],
        ),
        e(
            "33-nju-default-custom.condarc",
            format!("{NJU}/cloud/conda-forge"),
            mirror_set(NJU, &["main", "r", "msys2"]),
            false,
            &["NJU"],
        ),
        e(
            "35-sjtu-forge-first-commented-tuna.condarc",
            format!("{SJTU}/cloud/conda-forge"),
            vec![format!("{SJTU}/pkgs/main")],
            false,
            &["SJTUG"],
        ),
        e(
            "37-proxy-no-scheme-crlf-ssl-false.condarc",
            s(ANACONDA_ORG_CF),
            builtin(),
            true,
            &[],
        ),
        e(
            "39-conda-forge-nodefaults-modeline.condarc",
            s(ANACONDA_ORG_CF),
            builtin(),
            true,
            &[],
        ),
    ]
}

fn load_one(path: &Path) -> CondaConfig {
    condarc::load_paths(&[path.to_path_buf()], &EnvSnapshot::default())
}

/// The 1-based line `line` of `file`, CR stripped.
fn line_of(file: &str, line: usize) -> String {
    let bytes = std::fs::read(file).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    text.split('\n')
        .nth(line - 1)
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_string()
}

/// Every effective channel written in a file names a line of that file that holds it.
fn check_sources(f: &ChannelFacts, what: &str) {
    for e in &f.effective {
        let Some(file) = e.source_file.as_deref().filter(|s| s.contains('/')) else {
            assert_eq!(
                e.via.as_deref(),
                Some("defaults"),
                "{what}: {e:?} has no source file"
            );
            continue;
        };
        let line = e
            .line
            .unwrap_or_else(|| panic!("{what}: {e:?} has no line"));
        let text = line_of(file, line);
        assert!(
            text.contains(e.name.trim()),
            "{what}: line {line} `{text}` does not hold `{}`",
            e.name
        );
    }
}

#[test]
fn every_corpus_condarc_resolves_as_index_says() {
    let Some(dir) = crate::support::corpus("condarc") else {
        return;
    };
    let exp = expectations();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "condarc"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        exp.len(),
        "corpus and expectations differ in size"
    );
    for ex in &exp {
        let path = dir.join(ex.file);
        let cfg = load_one(&path);
        assert_eq!(cfg.files.len(), 1);
        assert_eq!(cfg.files[0].status, FileStatus::Loaded, "{}", ex.file);
        assert!(cfg.problems.is_empty(), "{}: {:?}", ex.file, cfg.problems);
        assert!(
            cfg.unknown_keys.is_empty(),
            "{}: {:?}",
            ex.file,
            cfg.unknown_keys
        );

        let linux = condarc::channel_facts(&cfg, "linux-64");
        assert_eq!(
            linux.conda_forge_url, ex.conda_forge,
            "{} conda-forge",
            ex.file
        );
        assert_eq!(
            linux.defaults_urls, ex.defaults,
            "{} defaults (linux-64)",
            ex.file
        );
        let win = condarc::channel_facts(&cfg, "win-64");
        let mut win_defaults = ex.defaults.clone();
        if ex.builtin_defaults {
            win_defaults.push(format!("{REPO}/msys2"));
        }
        assert_eq!(
            win.defaults_urls, win_defaults,
            "{} defaults (win-64)",
            ex.file
        );
        assert_eq!(win.conda_forge_url, ex.conda_forge);

        check_sources(&linux, ex.file);
        check_sources(&win, ex.file);
        for name in ex.mirrors {
            assert!(
                linux.mirrors.iter().any(|m| m.name == *name),
                "{}: mirror {name} not recognised: {:?}",
                ex.file,
                linux.mirrors
            );
        }
        if ex.mirrors.is_empty() {
            assert!(
                linux.mirrors.is_empty(),
                "{}: unexpected mirrors {:?}",
                ex.file,
                linux.mirrors
            );
        }
        for m in &linux.mirrors {
            if let (Some(file), Some(line)) = (&m.source_file, m.line) {
                let host = m.url.split('/').nth(2).unwrap_or("");
                assert!(
                    line_of(file, line).contains(host),
                    "{}: mirror {m:?} not on its line",
                    ex.file
                );
            }
        }
    }
}

#[test]
fn corpus_special_cases() {
    let Some(dir) = crate::support::corpus("condarc") else {
        return;
    };
    let facts = |f: &str, sub: &str| condarc::channel_facts(&load_one(&dir.join(f)), sub);

    // 05: mamba's reading (INDEX.md's) is reported as a note.
    let f = facts("05-tuna-shortname-default-channels.condarc", "linux-64");
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains(&format!("{TUNA}/pkgs/main")) && n.contains("mamba")),
        "{:?}",
        f.notes
    );

    // 07: CRLF, bioconda listed twice is kept once, `r` and `anaconda` are anaconda.org names.
    let f = facts("07-crlf-many-channels-dup-bioconda.condarc", "linux-64");
    let names: Vec<&str> = f.effective.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "bioconda").count(), 1);
    assert!(
        f.effective
            .iter()
            .any(|e| e.url == "https://conda.anaconda.org/r")
    );
    assert!(
        f.effective
            .iter()
            .any(|e| e.url == "https://conda.anaconda.org/anaconda")
    );
    assert_eq!(
        f.config.channel_priority.as_ref().map(|c| c.value.as_str()),
        Some("strict")
    );
    assert_eq!(
        f.config.channel_priority.as_ref().and_then(|c| c.line),
        Some(12)
    );

    // 09: conda-forge is not available (allowlist holds only the local channel).
    let f = facts("09-airgap-final-top-markers.condarc", "linux-64");
    assert!(!f.conda_forge_allowed);
    assert_eq!(f.effective.len(), 1);
    assert_eq!(f.config.allowlist_channels.len(), 1);
    assert!(f.notes.iter().any(|n| n.contains("not available")));
    assert!(f.notes.iter().any(|n| n.contains("allow_other_channels")));

    // 17: empty default_channels: defaults expands to nothing; conda-forge via a trailing slash.
    let f = facts("17-condarc-d-yml-docstart-empty-defaults.condarc", "win-64");
    assert!(f.config.default_channels_configured && f.defaults_urls.is_empty());
    assert_eq!(f.effective.len(), 1);

    // 23: the same channel with and without a subdir is one effective entry.
    let f = facts(
        "23-tuna-url-channels-plus-repo-anaconda.condarc",
        "linux-64",
    );
    assert_eq!(
        f.effective
            .iter()
            .filter(|e| e.url == format!("{TUNA}/cloud/pytorch"))
            .count(),
        1
    );
    assert_eq!(f.effective[0].line, Some(2));

    // 29: explicit conda-forge URLs come before the name; no defaults expansion before line 22.
    let f = facts("29-ustc-tuna-urls-chinese-comments.condarc", "linux-64");
    let cf: Vec<&str> = f
        .effective
        .iter()
        .filter(|e| e.url.ends_with("/conda-forge"))
        .map(|e| e.url.as_str())
        .collect();
    assert_eq!(
        cf,
        [
            format!("{USTC}/cloud/conda-forge"),
            format!("{TUNA}/cloud/conda-forge"),
            s(ANACONDA_ORG_CF)
        ]
    );

    // 37: no channels at all is stated explicitly.
    let f = facts("37-proxy-no-scheme-crlf-ssl-false.condarc", "linux-64");
    assert!(f.effective.is_empty() && !f.config.channels_configured);
    assert!(f.notes.iter().any(|n| n.contains("25.9")));

    // 39: `nodefaults` excludes defaults from the effective list and is explained.
    let f = facts("39-conda-forge-nodefaults-modeline.condarc", "linux-64");
    assert_eq!(f.effective.len(), 1);
    assert!(f.effective.iter().all(|e| e.via.is_none()));
    assert!(f.notes.iter().any(|n| n.contains("nodefaults")));
}

// ---------------------------------------------------------------------------------------------
// Bad input through the real search path

struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    prefix: PathBuf,
}

fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let prefix = dir.path().join("env");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&prefix).unwrap();
    Home {
        _dir: dir,
        home,
        prefix,
    }
}

fn env_for(h: &Home, vars: &[(&str, &str)]) -> EnvSnapshot {
    EnvSnapshot::from_pairs(vars.iter().copied()).with_home(&h.home)
}

fn ours<'c>(cfg: &'c CondaConfig, h: &Home) -> Vec<&'c condarc::ConfigFile> {
    cfg.files
        .iter()
        .filter(|f| f.path.starts_with(h.home.parent().unwrap()))
        .collect()
}

fn channel_names(cfg: &CondaConfig) -> Vec<&str> {
    cfg.channels.iter().map(|c| c.value.as_str()).collect()
}

#[test]
fn bad_files_are_problems_and_the_rest_loads() {
    let h = home();
    // ~/.condarc is a directory holding one yml; ~/.conda/.condarc is not UTF-8;
    // ~/.config/conda/condarc has an unclosed flow list; the env's .condarc is fine.
    std::fs::create_dir_all(h.home.join(".condarc")).unwrap();
    std::fs::write(h.home.join(".condarc/inner.yml"), "channels: [inner]\n").unwrap();
    std::fs::create_dir_all(h.home.join(".conda")).unwrap();
    std::fs::write(h.home.join(".conda/.condarc"), b"channels:\n  - caf\xe9\n").unwrap();
    std::fs::create_dir_all(h.home.join(".config/conda")).unwrap();
    std::fs::write(
        h.home.join(".config/conda/condarc"),
        "channels: [conda-forge, defaults\nssl_verify: true\n",
    )
    .unwrap();
    std::fs::write(
        h.prefix.join(".condarc"),
        "channels:\r\n  - conda-forge\r\n  - bioconda",
    )
    .unwrap();
    let cfg = condarc::load(&env_for(&h, &[]), Some(&h.prefix));
    let files = ours(&cfg, &h);
    let status = |p: &Path| files.iter().find(|f| f.path == p).map(|f| f.status.clone());
    assert!(
        matches!(status(&h.home.join(".config/conda/condarc")), Some(FileStatus::Invalid(m)) if m.contains("line"))
    );
    assert!(
        matches!(status(&h.home.join(".conda/.condarc")), Some(FileStatus::Unreadable(m)) if m.contains("UTF-8"))
    );
    assert!(
        matches!(status(&h.home.join(".condarc")), Some(FileStatus::Unreadable(m)) if m.contains("directory"))
    );
    assert_eq!(
        status(&h.home.join(".condarc/inner.yml")),
        Some(FileStatus::Loaded)
    );
    assert_eq!(status(&h.prefix.join(".condarc")), Some(FileStatus::Loaded));
    for bad in [".config/conda/condarc", ".conda/.condarc", ".condarc"] {
        let p = h.home.join(bad);
        assert!(
            cfg.problems
                .iter()
                .any(|pr| pr.path.as_deref() == Some(p.as_path())),
            "no problem for {bad}: {:?}",
            cfg.problems
        );
    }
    // The env's file (later) comes first, then ~/.condarc/inner.yml.
    assert!(
        channel_names(&cfg).starts_with(&["conda-forge", "bioconda", "inner"]),
        "{:?}",
        cfg.channels
    );
    assert_eq!(cfg.channels[1].line, Some(3));
}

#[test]
fn tab_indentation_is_invalid() {
    let h = home();
    std::fs::write(h.home.join(".condarc"), "channels:\n\t- conda-forge\n").unwrap();
    let cfg = condarc::load(&env_for(&h, &[]), None);
    assert!(matches!(&ours(&cfg, &h)[0].status, FileStatus::Invalid(_)));
    assert!(
        cfg.problems
            .iter()
            .any(|p| p.path.as_deref() == Some(h.home.join(".condarc").as_path()))
    );
}

#[test]
fn condarc_d_with_document_marker_and_sorting() {
    let h = home();
    let d = h.home.join(".config/conda/condarc.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("b.yaml"), "---\nchannels:\n  - second\n").unwrap();
    std::fs::write(d.join("a.yml"), "---\nchannels:\n  - first\ncustom_channels:\n  first: https://mirrors.bfsu.edu.cn/anaconda/cloud/\n").unwrap();
    std::fs::write(d.join("notes.txt"), "channels: [ignored]\n").unwrap();
    // A real condarc.d file when the corpus is present (nothing below depends on it; the
    // corpus tests proper record their skip).
    let real = blasfix::testing::skip::shared_root()
        .join("corpus/condarc/17-condarc-d-yml-docstart-empty-defaults.condarc");
    if real.is_file() {
        std::fs::copy(real, d.join("c.yml")).unwrap();
    }
    let cfg = condarc::load(&env_for(&h, &[]), None);
    let names: Vec<String> = ours(&cfg, &h)
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.starts_with(&["a.yml".to_string(), "b.yaml".to_string()]),
        "{names:?}"
    );
    assert!(!names.contains(&"notes.txt".to_string()));
    assert!(
        cfg.problems
            .iter()
            .any(|p| p.path.as_deref() == Some(d.join("notes.txt").as_path()))
    );
    let ch = channel_names(&cfg);
    assert!(
        ch.iter().position(|c| *c == "second") < ch.iter().position(|c| *c == "first"),
        "{ch:?}"
    );
    let f = condarc::channel_facts(&cfg, "linux-64");
    assert!(
        f.effective
            .iter()
            .any(|e| e.url == "https://mirrors.bfsu.edu.cn/anaconda/cloud/first")
    );
    assert!(
        f.mirrors
            .iter()
            .any(|m| m.name == "BFSU" && m.line == Some(5))
    );
}

#[test]
fn final_in_a_system_file_stops_user_file_and_variable() {
    let h = home();
    let root = h.home.parent().unwrap().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join(".condarc"),
        "channel_alias: https://private.example  #!final\nchannels:  #!final\n  - company\n",
    )
    .unwrap();
    std::fs::write(h.home.join(".condarc"), "channel_alias: https://mirrors.tuna.tsinghua.edu.cn/anaconda\nchannels:\n  - conda-forge\n").unwrap();
    let env = env_for(
        &h,
        &[
            ("CONDA_ROOT", root.to_str().unwrap()),
            ("CONDA_CHANNELS", "envch"),
            ("CONDA_CHANNEL_ALIAS", "https://env"),
        ],
    );
    let cfg = condarc::load(&env, None);
    assert_eq!(cfg.channel_alias.value, "https://private.example");
    assert_eq!(cfg.channel_alias.line, Some(1));
    assert!(channel_names(&cfg).starts_with(&["company"]));
    assert!(
        !channel_names(&cfg).contains(&"conda-forge") && !channel_names(&cfg).contains(&"envch")
    );
    let f = condarc::channel_facts(&cfg, "linux-64");
    assert_eq!(f.conda_forge_url, "https://private.example/conda-forge");
}

#[test]
fn merge_order_across_two_files_and_a_variable() {
    let h = home();
    std::fs::create_dir_all(h.home.join(".conda")).unwrap();
    std::fs::write(
        h.home.join(".conda/condarc"),
        "channels:\n  - defaults\nchannel_priority: flexible\n",
    )
    .unwrap();
    std::fs::write(
        h.prefix.join("condarc"),
        "channels:\n  - conda-forge\n  - defaults\nchannel_priority: strict\n",
    )
    .unwrap();
    let env = env_for(
        &h,
        &[
            ("CONDA_CHANNELS", "pytorch, nvidia"),
            ("CONDA_CHANNEL_PRIORITY", "disabled"),
        ],
    );
    let cfg = condarc::load(&env, Some(&h.prefix));
    assert!(
        channel_names(&cfg).starts_with(&["pytorch", "nvidia", "conda-forge", "defaults"]),
        "{:?}",
        cfg.channels
    );
    assert_eq!(cfg.channels[0].origin.as_deref(), Some("CONDA_CHANNELS"));
    assert_eq!(
        cfg.channels[3].file.as_deref(),
        Some(h.prefix.join("condarc").as_path())
    );
    assert_eq!(
        cfg.channel_priority.as_ref().map(|c| c.value.as_str()),
        Some("disabled")
    );
    let no_env = condarc::load(&env_for(&h, &[]), Some(&h.prefix));
    assert_eq!(
        no_env.channel_priority.as_ref().and_then(|c| c.line),
        Some(4)
    );
}

#[test]
fn misspelled_key_names_file_and_suggestion() {
    let h = home();
    std::fs::write(
        h.home.join(".condarc"),
        "chanels:\n  - conda-forge\nshow_channel_urls: true\n",
    )
    .unwrap();
    let cfg = condarc::load(&env_for(&h, &[]), None);
    let p = cfg
        .problems
        .iter()
        .find(|p| p.path.as_deref() == Some(h.home.join(".condarc").as_path()))
        .expect("a problem");
    assert!(
        p.message.contains("chanels") && p.message.contains("did you mean `channels`"),
        "{p}"
    );
    assert!(
        cfg.unknown_keys
            .iter()
            .any(|u| u.value == "chanels -> channels" && u.line == Some(1))
    );
}

#[test]
fn condarc_variable_with_a_name_conda_ignores() {
    let h = home();
    let f = h.home.join("team.condarc");
    std::fs::write(&f, "channels: [x]\n").unwrap();
    let cfg = condarc::load(&env_for(&h, &[("CONDARC", f.to_str().unwrap())]), None);
    assert!(ours(&cfg, &h).is_empty());
    assert!(
        cfg.problems
            .iter()
            .any(|p| p.path.as_deref() == Some(f.as_path()) && p.message.contains("ignores"))
    );
    let y = h.home.join("team.yml");
    std::fs::write(&y, "channels: [x]\n").unwrap();
    let cfg = condarc::load(&env_for(&h, &[("CONDARC", y.to_str().unwrap())]), None);
    assert!(channel_names(&cfg).starts_with(&["x"]));
}

#[test]
fn mambarc_is_listed_not_merged() {
    let h = home();
    std::fs::write(h.home.join(".mambarc"), "channels: [from-mamba]\n").unwrap();
    let cfg = condarc::load(&env_for(&h, &[]), None);
    assert!(cfg.mamba_only_files.contains(&h.home.join(".mambarc")));
    assert!(!channel_names(&cfg).contains(&"from-mamba"));
}
