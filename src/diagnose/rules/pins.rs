//! Rules on pins: a BLAS pin (in `conda-meta/pinned` or `pinned_packages`) that asks for
//! another backend than the one that runs, and the journal an interrupted `blasfix apply` left.

use crate::diagnose::finding::{Finding, Severity};
use crate::diagnose::fix::{BlockingPins, env_selector, pin_fix, shell_quote};
use crate::diagnose::in_use::effective;
use crate::facts::Facts;
use crate::facts::pinspec;

/// `pin-contradicts-blas`: a pin selects another backend than the one NumPy runs, so the next
/// install or update switches back to it (or, with libmamba, refuses what does not fit it).
pub fn pin_contradicts_blas(f: &Facts) -> Vec<Finding> {
    let (running, layer) = effective(f);
    if !running.is_concrete() {
        return Vec::new();
    }
    let pins = BlockingPins::of(f, &|l, quoted_ignored| {
        pinspec::contradicts(l, running, quoted_ignored)
    });
    if pins.is_empty() {
        return Vec::new();
    }
    let mut wheres: Vec<String> = Vec::new();
    let mut asks = None;
    for l in &f.prefix.pinned {
        if pins.pinned.contains(&l.text) {
            wheres.push(format!(
                "`{}` in conda-meta/pinned (line {})",
                l.text, l.line
            ));
            asks = asks.or(pinspec::selected(&l.text));
        }
    }
    for p in &f.channels.config.pinned_packages {
        let listed = pins.condarc.iter().any(|(_, s)| *s == p.value)
            || pins.vars.iter().any(|(_, s)| *s == p.value);
        if listed {
            wheres.push(format!(
                "`{}` in pinned_packages ({})",
                p.value,
                p.location()
            ));
            asks = asks.or(pinspec::selected(&p.value));
        }
    }
    let asked = asks
        .map(|b| b.display_name().to_string())
        .unwrap_or_else(|| "another BLAS".into());
    let (fix, raw) = pin_fix(f, running, &pins);
    let back = asks
        .filter(|b| b.is_concrete())
        .map(|b| {
            format!(
                " To go back to what the pin asks for instead: `blasfix apply --backend {}`.",
                b.as_str()
            )
        })
        .unwrap_or_default();
    vec![
        Finding::new(
            "pin-contradicts-blas",
            Severity::Warning,
            format!(
                "A pin asks for {asked}, but NumPy runs {}",
                running.display_name()
            ),
            format!(
                "{} {} {}, while NumPy runs {} (by what is {}). conda applies pins on every install \
                 and update in this environment, so the next one switches the BLAS back (the \
                 libmamba solver refuses any request that does not fit the pin). The fix makes the \
                 pins follow what runs.{back}",
                wheres.join(", "),
                if wheres.len() == 1 { "selects" } else { "select" },
                asked,
                running.display_name(),
                layer.as_str()
            ),
        )
        .fix(fix, raw),
    ]
}

/// `interrupted-switch`: journals (`*.blasfix-backup`) an interrupted `blasfix apply` left
/// beside `conda-meta/pinned` or a `.condarc`.
pub fn interrupted_switch(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let (running, _) = effective(f);
    if let Some(j) = &f.prefix.pinned_journal {
        let pinned = f.environment.prefix.join("conda-meta").join("pinned");
        let held: Vec<&str> = j.lines.iter().map(|l| l.text.as_str()).collect();
        let holds = if held.is_empty() {
            "no pin".to_string()
        } else {
            held.iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let state = if j.same_as_pinned {
            "It holds exactly what conda-meta/pinned holds now (a restore that was not finished)."
                .to_string()
        } else {
            let clash = j
                .lines
                .iter()
                .find(|l| pinspec::contradicts(&l.text, running, true))
                .map(|l| {
                    format!(
                        " Restored as it is, `{}` would ask for another BLAS than the {} that runs; \
                         the fix restores it and then makes the pins follow what runs.",
                        l.text,
                        running.display_name()
                    )
                })
                .unwrap_or_default();
            format!(
                "It holds conda-meta/pinned as it was before that switch began: {holds}.{clash}"
            )
        };
        let fix = running.is_concrete().then(|| {
            format!(
                "blasfix apply --backend {}{}",
                running.as_str(),
                target_args(f)
            )
        });
        out.push(
            Finding::new(
                "interrupted-switch",
                Severity::Warning,
                "A `blasfix apply` was interrupted: conda-meta/pinned.blasfix-backup is left",
                format!(
                    "{} is the journal of a switch that did not end (blasfix was killed, or the \
                     machine lost power). {state} `blasfix apply` offers to restore it before \
                     anything else (and restores it with --yes); it never overwrites or deletes it \
                     silently.",
                    j.path.display()
                ),
            )
            .fix(fix, Some(mv_back(&j.path, &pinned))),
        );
    }
    for j in &f.channels.config.leftover_journals {
        let file = j.with_file_name(
            j.file_name()
                .map(|n| {
                    n.to_string_lossy()
                        .trim_end_matches(".blasfix-backup")
                        .to_string()
                })
                .unwrap_or_default(),
        );
        let fix = running.is_concrete().then(|| {
            format!(
                "blasfix apply --backend {}{} --edit-condarc",
                running.as_str(),
                target_args(f)
            )
        });
        out.push(
            Finding::new(
                "interrupted-switch",
                Severity::Warning,
                format!(
                    "A `blasfix apply --edit-condarc` was interrupted: {} is left",
                    j.display()
                ),
                format!(
                    "It holds {} as it was before that switch took a pinned_packages entry out. \
                     `blasfix apply --edit-condarc` offers to restore it first.",
                    file.display()
                ),
            )
            .fix(fix, Some(mv_back(j, &file))),
        );
    }
    out
}

/// `mv JOURNAL FILE`: the raw restore.
fn mv_back(journal: &std::path::Path, file: &std::path::Path) -> String {
    format!(
        "mv {} {}",
        shell_quote(&journal.to_string_lossy()),
        shell_quote(&file.to_string_lossy())
    )
}

/// ` -p PREFIX` unless the environment is the active one (as the other fixes name it).
fn target_args(f: &Facts) -> String {
    env_selector(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixture::{ids, intel_linux};
    use crate::facts::blas::BlasImpl;
    use crate::facts::condarc::Sourced;
    use crate::facts::prefix::{PinnedJournal, PinnedLine};

    fn line(n: usize, t: &str) -> PinnedLine {
        PinnedLine {
            line: n,
            text: t.into(),
            problem: None,
        }
    }

    /// A shell word that needs quoting (`*`, `[`, `$`) as blasfix quotes it for the shell it
    /// runs in: POSIX single quotes, double quotes (cmd.exe, PowerShell) on Windows.
    fn quoted(s: &str) -> String {
        if cfg!(windows) {
            format!("\"{s}\"")
        } else {
            format!("'{s}'")
        }
    }

    /// The environment's `conda-meta/pinned` as blasfix names it: joined to the prefix (so
    /// with backslashes on Windows).
    fn pinned_file(f: &Facts) -> String {
        f.environment
            .prefix
            .join("conda-meta")
            .join("pinned")
            .display()
            .to_string()
    }

    /// After `conda install "libblas=*=*openblas"` on an env that `apply` had pinned to MKL.
    #[test]
    fn a_pin_for_mkl_while_openblas_runs_is_a_warning_with_a_fix() {
        let mut f = intel_linux();
        f.prefix.pinned = vec![line(1, "python 3.11.*"), line(2, "libblas=*=*mkl")];
        let x = pin_contradicts_blas(&f).pop().expect("finding");
        assert_eq!(x.severity, Severity::Warning);
        assert!(
            x.title.contains("Intel MKL") && x.title.contains("OpenBLAS"),
            "{}",
            x.title
        );
        assert!(x.detail.contains("line 2"), "{}", x.detail);
        assert_eq!(x.fix.as_deref(), Some("blasfix apply --backend openblas"));
        let raw = x.fix_raw.unwrap();
        let pinned = pinned_file(&f);
        assert!(
            raw.starts_with(&format!(
                "sed -i.bak -e {} {pinned}",
                quoted(r"/^[[:space:]]*libblas=\*=\*mkl[[:space:]]*$/d")
            )),
            "{raw}"
        );
        assert!(
            raw.ends_with(&format!(
                "echo {} >> {pinned}",
                quoted("libblas=*=*openblas")
            )),
            "{raw}"
        );
        // Nothing to say when the pin fits, or is a bare name, or quoted (conda ignores it).
        for ok in ["libblas=*=*openblas", "libblas", "\"libblas=*=*mkl\""] {
            f.prefix.pinned = vec![line(1, ok)];
            assert!(pin_contradicts_blas(&f).is_empty(), "{ok}");
        }
    }

    #[test]
    fn a_condarc_pin_names_its_file_and_needs_edit_condarc() {
        let mut f = intel_linux();
        f.channels.config.pinned_packages = vec![Sourced {
            value: "libblas=*=*mkl".into(),
            file: Some("/home/u/.condarc".into()),
            line: Some(4),
            origin: None,
        }];
        let x = pin_contradicts_blas(&f).pop().expect("finding");
        assert!(x.detail.contains("/home/u/.condarc"), "{}", x.detail);
        assert_eq!(
            x.fix.as_deref(),
            Some("blasfix apply --backend openblas --edit-condarc")
        );
        assert_eq!(
            x.fix_raw,
            Some(format!(
                "conda config --file /home/u/.condarc --remove pinned_packages {}",
                quoted("libblas=*=*mkl")
            ))
        );
    }

    /// Every printed fix for a pinned environment handles the pin.
    #[test]
    fn switch_fixes_take_a_blocking_pin_out_first() {
        let mut f = intel_linux();
        f.prefix.pinned = vec![line(1, "libblas=*=*openblas")];
        let x = crate::diagnose::rules::evaluate(&f)
            .into_iter()
            .find(|x| x.id == "openblas-on-intel")
            .expect("finding");
        let raw = x.fix_raw.unwrap();
        assert!(
            raw.starts_with(&format!(
                "sed -i.bak -e {} {}",
                quoted(r"/^[[:space:]]*libblas=\*=\*openblas[[:space:]]*$/d"),
                pinned_file(&f)
            )),
            "{raw}"
        );
        assert!(
            raw.contains(&format!("&& echo {} >> ", quoted("libblas=*=*mkl"))),
            "{raw}"
        );
        assert!(
            raw.ends_with("&& conda install -p /home/u/miniforge3/envs/ml \"libblas=*=*mkl\""),
            "{raw}"
        );
        assert!(!ids(&f).contains(&"pin-contradicts-blas".to_string()));
    }

    #[test]
    fn a_left_journal_is_reported_with_what_restoring_does() {
        let mut f = intel_linux();
        f.blas.implementation = BlasImpl::Mkl;
        f.prefix.pinned = vec![];
        f.prefix.pinned_journal = Some(PinnedJournal {
            path: "/home/u/miniforge3/envs/ml/conda-meta/pinned.blasfix-backup".into(),
            lines: vec![line(1, "libblas=*=*openblas")],
            same_as_pinned: false,
        });
        let x = interrupted_switch(&f).pop().expect("finding");
        assert_eq!(x.id, "interrupted-switch");
        assert!(
            x.detail
                .contains("`libblas=*=*openblas` would ask for another BLAS"),
            "{}",
            x.detail
        );
        assert_eq!(x.fix.as_deref(), Some("blasfix apply --backend mkl"));
        assert_eq!(
            x.fix_raw,
            Some(format!(
                "mv /home/u/miniforge3/envs/ml/conda-meta/pinned.blasfix-backup {}",
                pinned_file(&f)
            ))
        );
    }
}
