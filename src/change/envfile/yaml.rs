//! The environment.yml editor: a minimal line edit inside the top-level `dependencies` block,
//! checked against a full YAML parse before and after.
//!
//! Why lines and not a YAML library: no Rust YAML editor is mature (yaml-edit re-quotes new
//! values and moves end-of-line comments; serializers drop comments). So the file is parsed with
//! `serde_yaml` (yaml_serde) to *understand* it, the dependency items are located as lines and
//! matched one to one against the parsed list, only the lines of the intended change are
//! replaced, and the result is parsed again: the dependency list must equal the original with
//! exactly the intended change, every other top-level key must be equal. Otherwise: refused.
//!
//! Rules for a request (backend T, family F; P = `libblas=*=*T` or `blas=*=T`):
//! - Selector entries (libblas, libcblas, liblapack, liblapacke, blas-devel, blas with a build
//!   naming an implementation) that select another backend get their build rewritten to T,
//!   keeping channel prefix, version and syntax (`libblas=3.9.0=20_linux64_openblas` ->
//!   `libblas=3.9.0=*mkl`): in a full export every BLAS output must move together, and the
//!   version keeps the export's LAPACK generation.
//! - With no selector at all: the first build-less `libblas`/`blas` entry of F (a `--no-builds`
//!   export's `blas=1.0`) gets the build; else P is added (in the place of a removed `nomkl`,
//!   else after the last conda item).
//! - T = MKL: `nomkl` is removed (it forbids MKL). On conda-forge an exact
//!   `_openmp_mutex=...=*_gnu` (exports) is relaxed to its version, because conda-forge's MKL
//!   needs the LLVM OpenMP mutex.
//! - A defaults export whose numpy carries an exact build is refused: defaults builds NumPy once
//!   per BLAS, so that build string pins the old BLAS.
//! - Left alone, with a note: MKL or OpenBLAS runtime packages of the other backend (they stay
//!   installed, unused by NumPy), `mkl` listed with `nomkl`, BLAS-relevant pip packages (a pip
//!   NumPy brings its own OpenBLAS; the pin cannot reach it).
//! - End-of-line comment of a rewritten line: kept, unless it names another backend (it would
//!   now be false); a dropped comment is reported.

use serde_yaml::Value;

use super::edit::{Edited, PinRequest, build_glob_for};
use super::error::EditError;
use super::spec::{self, Selector};
use super::text::{self, Line, Splice};
use crate::facts::blas::{BlasImpl, ChannelFamily};

/// Edit an environment.yml's bytes to pin `req` (pure). `Ok` with `is_noop()` when already pinned.
pub fn edit_environment_yml(bytes: &[u8], req: &PinRequest) -> Result<Edited, EditError> {
    req.check()?;
    let (src, encoding) = text::decode(bytes)?;
    let lines = text::lines(&src);
    check_conflict_markers(&src, &lines)?;
    let doc = parse(&src)?;
    let mut notes = Vec::new();
    let mapping = match &doc {
        Value::Null => serde_yaml::Mapping::new(),
        Value::Mapping(m) => {
            if first_content(&src, &lines).is_some_and(|l| l.starts_with('{')) {
                return Err(EditError::FlowStyle {
                    what: "the top level".into(),
                });
            }
            m.clone()
        }
        _ => return Err(EditError::NotAMapping),
    };
    tag_notes(&src, &lines, &mut notes);
    let deps_val = mapping.get("dependencies");
    let eol = text::dominant_eol(&src);
    let layout = match deps_val {
        None => Layout::Absent,
        Some(Value::Null) => Layout::Null(find_key_line(&src, &lines, true)?),
        Some(Value::Sequence(seq)) => {
            let key = find_key_line(&src, &lines, false)?;
            Layout::List(locate_items(&src, &lines, key, seq)?)
        }
        Some(_) => return Err(EditError::DependenciesNotAList),
    };
    let seq: Vec<Value> = match deps_val {
        Some(Value::Sequence(s)) => s.clone(),
        _ => Vec::new(),
    };
    let plan = plan(&seq, req, &mut notes)?;
    if plan.ops.is_empty() {
        return Ok(Edited {
            before: src.clone(),
            after: src,
            bytes: bytes.to_vec(),
            encoding,
            changes: Vec::new(),
            notes,
        });
    }
    let (splices, changes, expected) = render(&src, &lines, &layout, &seq, &plan, eol)?;
    notes.extend(plan.notes_after);
    let after = text::apply(&src, splices);
    verify(&mapping, deps_val.is_none(), &after, &expected)?;
    let bytes = text::encode(&after, encoding);
    Ok(Edited {
        before: src,
        after,
        bytes,
        encoding,
        changes,
        notes,
    })
}

fn parse(src: &str) -> Result<Value, EditError> {
    serde_yaml::from_str::<Value>(src).map_err(|e| EditError::InvalidYaml {
        message: e.to_string(),
    })
}

fn check_conflict_markers(src: &str, lines: &[Line]) -> Result<(), EditError> {
    for (i, l) in lines.iter().enumerate() {
        let c = &src[l.content.clone()];
        let marker = ["<<<<<<<", "=======", ">>>>>>>", "|||||||"]
            .iter()
            .any(|m| {
                c.strip_prefix(m)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
            });
        if marker {
            return Err(EditError::MergeConflict { line: i + 1 });
        }
    }
    Ok(())
}

/// yaml_serde drops `!!` tags silently; conda's safe loader refuses `!!python/tuple` (old
/// exports): say so, since the edit leaves them alone.
fn tag_notes(src: &str, lines: &[Line], notes: &mut Vec<String>) {
    for l in lines {
        let c = &src[l.content.clone()];
        if c.starts_with([' ', '#', '-']) {
            continue;
        }
        if let Some((key, value)) = c.split_once(": ") {
            let v = value.trim_start();
            if v.starts_with('!') {
                let tag = v.split_whitespace().next().unwrap_or(v);
                notes.push(format!(
                    "`{key}` carries the YAML tag `{tag}`, which conda's safe loader rejects; the edit left it alone (delete the tag to make the file loadable)"
                ));
            }
        }
    }
}

fn first_content<'a>(src: &'a str, lines: &[Line]) -> Option<&'a str> {
    lines
        .iter()
        .map(|l| src[l.content.clone()].trim())
        .find(|c| !c.is_empty() && !c.starts_with('#') && *c != "---")
}

fn indent_of(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

fn is_comment_or_blank(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t.starts_with('#')
}

/// `- ` item line: returns the marker (dash plus the spaces after it).
fn item_marker(content: &str) -> Option<&str> {
    let rest = &content[indent_of(content)..];
    let after = rest.strip_prefix('-')?;
    if after.is_empty() {
        return Some("- ");
    }
    let spaces = after.len() - after.trim_start_matches(' ').len();
    (spaces > 0).then(|| &rest[..1 + spaces])
}

/// The line of the top-level `dependencies:` key. `null_ok`: the value may be missing (null).
fn find_key_line(src: &str, lines: &[Line], null_ok: bool) -> Result<usize, EditError> {
    let unloc = || EditError::Unlocatable {
        what: "the `dependencies:` key".into(),
    };
    let mut found = None;
    for (i, l) in lines.iter().enumerate() {
        let c = &src[l.content.clone()];
        let Some(rest) = c.strip_prefix("dependencies") else {
            continue;
        };
        let Some(after) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') else {
            continue;
        };
        if !(after.is_empty() || after.starts_with([' ', '\t'])) {
            continue; // `dependencies:x` is another key
        }
        if found.is_some() {
            return Err(unloc());
        }
        let value = after.trim();
        if !(value.is_empty() || (after.starts_with([' ', '\t']) && value.starts_with('#'))) {
            return Err(if value.starts_with('[') || value.starts_with('{') {
                EditError::FlowStyle {
                    what: "`dependencies`".into(),
                }
            } else if null_ok {
                unloc()
            } else {
                EditError::Unlocatable {
                    what: format!("`dependencies: {value}`"),
                }
            });
        }
        found = Some(i);
    }
    found.ok_or_else(unloc)
}

/// One top-level dependency item as found in the text.
#[derive(Debug, Clone)]
struct Item {
    line: usize,
    /// Last line holding content of this item (its continuation or sub-list).
    last: usize,
    /// The scalar's span in the line, when the item is a single-line string equal to the parsed one.
    scalar: Option<Scalar>,
}

#[derive(Debug, Clone)]
struct Scalar {
    /// Byte range of the scalar (with its quotes) in the file.
    range: std::ops::Range<usize>,
    quote: Option<char>,
    /// Byte range of the end-of-line comment and the whitespace before it, if any.
    comment: Option<std::ops::Range<usize>>,
}

#[derive(Debug)]
struct Block {
    items: Vec<Item>,
    indent: String,
    marker: String,
}

enum Layout {
    Absent,
    Null(usize),
    List(Block),
}

fn locate_items(src: &str, lines: &[Line], key: usize, seq: &[Value]) -> Result<Block, EditError> {
    let unloc = |what: &str| EditError::Unlocatable { what: what.into() };
    let mut items: Vec<Item> = Vec::new();
    let mut item_indent: Option<usize> = None;
    let mut marker = "- ".to_string();
    for (i, l) in lines.iter().enumerate().skip(key + 1) {
        let c = &src[l.content.clone()];
        if is_comment_or_blank(c) {
            continue;
        }
        let lead = &c[..c.len() - c.trim_start_matches([' ', '\t']).len()];
        if lead.contains('\t') {
            return Err(unloc("the dependency list (tab indentation)"));
        }
        let ind = indent_of(c);
        let m = item_marker(c);
        if ind == 0 && m.is_none() {
            break; // next top-level key or document marker
        }
        match item_indent {
            None => {
                let Some(m) = m else {
                    return Err(unloc("the first dependency item"));
                };
                item_indent = Some(ind);
                marker = m.to_string();
                items.push(Item {
                    line: i,
                    last: i,
                    scalar: None,
                });
            }
            Some(ii) if ind == ii && m.is_some() => items.push(Item {
                line: i,
                last: i,
                scalar: None,
            }),
            Some(ii) if ind > ii => {
                if let Some(it) = items.last_mut() {
                    it.last = i;
                }
            }
            Some(_) => return Err(unloc("the dependency list (uneven indentation)")),
        }
    }
    if items.len() != seq.len() {
        return Err(unloc("the dependency items (text and parse disagree)"));
    }
    for (it, v) in items.iter_mut().zip(seq) {
        if let (Value::String(s), true) = (v, it.last == it.line) {
            it.scalar = scalar_span(src, &lines[it.line], s);
        }
    }
    Ok(Block {
        items,
        indent: " ".repeat(item_indent.unwrap_or(0)),
        marker,
    })
}

/// Where the scalar of a `- value  # comment` line is, if its text parses to `expected`.
fn scalar_span(src: &str, line: &Line, expected: &str) -> Option<Scalar> {
    let c = &src[line.content.clone()];
    let ind = indent_of(c);
    let m = item_marker(c)?;
    let start = ind + m.len();
    let rest = &c[start..];
    let (len, quote) = match rest.chars().next()? {
        '"' => {
            let mut esc = false;
            let end = rest[1..].char_indices().find(|&(_, ch)| {
                let hit = ch == '"' && !esc;
                esc = ch == '\\' && !esc;
                hit
            })?;
            (end.0 + 2, Some('"'))
        }
        '\'' => {
            let b = rest.as_bytes();
            let mut i = 1;
            loop {
                match b.get(i)? {
                    b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => break,
                    _ => i += 1,
                }
            }
            (i + 1, Some('\''))
        }
        _ => {
            let cut = rest
                .find(" #")
                .or_else(|| rest.find("\t#"))
                .unwrap_or(rest.len());
            (rest[..cut].trim_end().len(), None)
        }
    };
    let scalar = &rest[..len];
    let tail = &rest[len..];
    if !(tail.trim().is_empty()
        || tail.trim_start().starts_with('#') && tail.starts_with([' ', '\t']))
    {
        return None;
    }
    let value: String = if quote.is_some() {
        serde_yaml::from_str(scalar).ok()?
    } else {
        scalar.to_string()
    };
    if value != expected {
        return None;
    }
    let abs = line.content.start + start;
    let comment = (!tail.trim().is_empty()).then(|| abs + len..line.content.end);
    Some(Scalar {
        range: abs..abs + len,
        quote,
        comment,
    })
}

/// One intended change, on the parsed list.
#[derive(Debug, Clone)]
enum Op {
    Replace {
        index: usize,
        with: String,
        why: String,
    },
    Remove {
        index: usize,
        why: String,
    },
    /// Add P; in the place of item `replacing` when given.
    Add {
        with: String,
        replacing: Option<usize>,
    },
}

struct Plan {
    ops: Vec<Op>,
    notes_after: Vec<String>,
}

fn plan(seq: &[Value], req: &PinRequest, notes: &mut Vec<String>) -> Result<Plan, EditError> {
    let t = req.backend;
    let entries: Vec<(usize, &str, Selector)> = seq
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_str().map(|s| (i, s, spec::classify(s))))
        .collect();
    let mut ops = Vec::new();
    let wrong: Vec<_> = entries
        .iter()
        .filter_map(|(i, s, sel)| match sel {
            Selector::Selects { name, backend } if *backend != t => {
                Some((*i, *s, name.clone(), *backend))
            }
            _ => None,
        })
        .collect();
    let right = entries
        .iter()
        .any(|(_, _, sel)| matches!(sel, Selector::Selects { backend, .. } if *backend == t));
    let nomkl: Vec<usize> = entries
        .iter()
        .filter(|(_, _, s)| *s == Selector::Nomkl)
        .map(|(i, _, _)| *i)
        .collect();
    let has = |pred: &dyn Fn(&Selector) -> bool| {
        entries
            .iter()
            .filter(|(_, _, s)| pred(s))
            .map(|(_, s, _)| *s)
            .collect::<Vec<_>>()
    };
    let needs_change = !wrong.is_empty() || !right || (t == BlasImpl::Mkl && !nomkl.is_empty());
    if needs_change
        && req.family == ChannelFamily::Defaults
        && let Some(s) = has(&|s| matches!(s, Selector::NumpyExactBuild { .. })).first()
    {
        return Err(EditError::BuildPinnedExport {
            spec: s.to_string(),
        });
    }
    for (i, s, name, _) in &wrong {
        let (with, dropped) = spec::rewrite_build(s, name, &build_glob_for(name, t), t);
        let why = if dropped {
            " (its version constraint could not be kept)".to_string()
        } else {
            String::new()
        };
        ops.push(Op::Replace {
            index: *i,
            with,
            why,
        });
    }
    let mut pin_placed = !wrong.is_empty() || right;
    if !pin_placed {
        if let Some((_, s, _)) = entries
            .iter()
            .find(|(_, _, s)| matches!(s, Selector::Opaque { .. }))
        {
            return Err(EditError::UnrecognizedBuild {
                spec: s.to_string(),
            });
        }
        let unbuilt = entries.iter().find(
            |(_, _, s)| matches!(s, Selector::Unbuilt { name } if name == req.selector_name()),
        );
        if let Some((i, s, _)) = unbuilt {
            let (with, _) = spec::rewrite_build(s, req.selector_name(), &req.build_glob(), t);
            ops.push(Op::Replace {
                index: *i,
                with,
                why: String::new(),
            });
            pin_placed = true;
        }
    }
    if t == BlasImpl::Mkl {
        for (k, i) in nomkl.iter().enumerate() {
            if k == 0 && !pin_placed {
                ops.push(Op::Add {
                    with: req.spec(),
                    replacing: Some(*i),
                });
                pin_placed = true;
            } else {
                ops.push(Op::Remove {
                    index: *i,
                    why: "it forbids MKL".into(),
                });
            }
        }
        if req.family == ChannelFamily::CondaForge && needs_change {
            for (i, s, sel) in &entries {
                if *sel == Selector::GnuOpenmpMutex
                    && let Some(with) = spec::drop_build(s)
                {
                    ops.push(Op::Replace {
                        index: *i,
                        with,
                        why: " (conda-forge's MKL needs the LLVM OpenMP build of `_openmp_mutex`)"
                            .into(),
                    });
                }
            }
        }
    }
    if !pin_placed {
        ops.push(Op::Add {
            with: req.spec(),
            replacing: None,
        });
    }
    ops.sort_by_key(|op| match op {
        Op::Replace { index, .. }
        | Op::Remove { index, .. }
        | Op::Add {
            replacing: Some(index),
            ..
        } => *index,
        Op::Add {
            replacing: None, ..
        } => usize::MAX,
    });
    let mut notes_after = Vec::new();
    if !ops.is_empty() {
        if t != BlasImpl::Mkl {
            let mkl = has(&|s| matches!(s, Selector::MklPackage { .. }));
            if !mkl.is_empty() {
                let fft = mkl
                    .iter()
                    .any(|s| s.starts_with("mkl_fft") || s.starts_with("mkl_random"));
                let extra = if fft && req.family == ChannelFamily::Defaults {
                    "; on Anaconda's defaults mkl_fft and mkl_random need MKL's NumPy: remove them if the solve fails"
                } else {
                    ""
                };
                notes_after.push(format!(
                    "left as they are: {} (MKL stays installed but NumPy will not use it{extra})",
                    quoted_list(&mkl)
                ));
            }
        }
        if t != BlasImpl::Openblas {
            let ob = has(&|s| matches!(s, Selector::OpenblasPackage { .. }));
            if !ob.is_empty() {
                notes_after.push(format!(
                    "left as they are: {} (OpenBLAS stays installed but NumPy will not use it; delete the line if nothing else needs it)",
                    quoted_list(&ob)
                ));
            }
        }
    }
    if t != BlasImpl::Mkl && !nomkl.is_empty() {
        let mkl = has(&|s| matches!(s, Selector::MklPackage { name } if name == "mkl"));
        if !mkl.is_empty() {
            notes.push(
                "`mkl` and `nomkl` are both listed: they contradict each other; remove `mkl`"
                    .into(),
            );
        }
    }
    for (_, s, sel) in &entries {
        if let Selector::Opaque { .. } = sel {
            notes.push(format!(
                "`{s}` has a build string blasfix cannot read; check it by hand"
            ));
        }
    }
    pip_notes(seq, &entries, notes);
    Ok(Plan { ops, notes_after })
}

fn quoted_list(v: &[&str]) -> String {
    v.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pip entries cannot choose conda's BLAS: say so.
fn pip_notes(seq: &[Value], entries: &[(usize, &str, Selector)], notes: &mut Vec<String>) {
    let conda_numpy = entries
        .iter()
        .any(|(_, _, s)| matches!(s, Selector::Numpy | Selector::NumpyExactBuild { .. }));
    for v in seq {
        let Some(pip) = v
            .as_mapping()
            .and_then(|m| m.get("pip"))
            .and_then(Value::as_sequence)
        else {
            continue;
        };
        for p in pip.iter().filter_map(Value::as_str) {
            let name: String = p
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect::<String>()
                .to_ascii_lowercase()
                .replace('_', "-");
            let why = match name.as_str() {
                "numpy" if conda_numpy => {
                    "pip installs a second NumPy (a wheel with its own OpenBLAS) over conda's; the pin cannot reach it: drop it from `pip:`"
                }
                "numpy" => {
                    "NumPy comes from a pip wheel with its own OpenBLAS; the conda pin cannot change that: move numpy from `pip:` to the conda list"
                }
                "scipy" => {
                    "SciPy from pip brings its own OpenBLAS; move it to the conda list to use the pinned BLAS"
                }
                "mkl" | "mkl-service" | "intel-numpy" | "intel-scipy" | "scipy-openblas32"
                | "scipy-openblas64" => {
                    "pip packages cannot choose conda's BLAS; this one is outside the pin"
                }
                _ => continue,
            };
            notes.push(format!("pip entry `{}`: {why}", p.trim()));
        }
    }
}

/// Splices to apply, notes for the user, and the dependency values after the edit.
type Planned = (Vec<Splice>, Vec<String>, Vec<Value>);

/// Turn the plan into splices, change descriptions and the expected dependency list.
fn render(
    src: &str,
    lines: &[Line],
    layout: &Layout,
    seq: &[Value],
    plan: &Plan,
    eol: &str,
) -> Result<Planned, EditError> {
    let mut splices = Vec::new();
    let mut changes = Vec::new();
    let mut expected: Vec<Option<Value>> = seq.iter().cloned().map(Some).collect();
    let mut added: Option<(usize, String)> = None; // (position in expected, value)
    let block = match layout {
        Layout::List(b) => Some(b),
        _ => None,
    };
    let scalar_of = |index: usize| -> Result<(&Item, &Scalar), EditError> {
        let it = block.and_then(|b| b.items.get(index));
        match it.and_then(|it| it.scalar.as_ref().map(|s| (it, s))) {
            Some(x) => Ok(x),
            None => Err(EditError::Unlocatable {
                what: format!(
                    "`{}` as a single line",
                    seq.get(index).and_then(Value::as_str).unwrap_or("?")
                ),
            }),
        }
    };
    let lineno = |index: usize| block.map(|b| b.items[index].line + 1).unwrap_or(0);
    for op in &plan.ops {
        match op {
            Op::Replace { index, with, why } => {
                let (it, sc) = scalar_of(*index)?;
                let old = seq[*index].as_str().unwrap_or_default();
                splices.push(Splice {
                    range: sc.range.clone(),
                    with: quote(with, sc.quote),
                });
                if let Some(cr) = &sc.comment {
                    let comment = &src[cr.clone()];
                    if names_other_backend(comment, with) {
                        splices.push(Splice {
                            range: cr.clone(),
                            with: String::new(),
                        });
                        changes.push(format!(
                            "dropped the comment `{}` of line {}: it named another BLAS",
                            comment.trim(),
                            it.line + 1
                        ));
                    }
                }
                changes.push(format!("line {}: `{old}` -> `{with}`{why}", lineno(*index)));
                expected[*index] = Some(Value::String(with.clone()));
            }
            Op::Remove { index, why } => {
                let (it, _) = scalar_of(*index)?;
                let l = &lines[it.line];
                let range = if l.has_ending() || it.line == 0 {
                    l.full.clone()
                } else {
                    lines[it.line - 1].content.end..l.full.end
                };
                splices.push(Splice {
                    range,
                    with: String::new(),
                });
                changes.push(format!(
                    "line {}: removed `{}`: {why}",
                    it.line + 1,
                    seq[*index].as_str().unwrap_or_default()
                ));
                expected[*index] = None;
            }
            Op::Add {
                with,
                replacing: Some(index),
            } => {
                let (it, sc) = scalar_of(*index)?;
                let l = &lines[it.line];
                splices.push(Splice {
                    range: sc.range.start..l.content.end,
                    with: quote(with, sc.quote),
                });
                changes.push(format!(
                    "line {}: `{}` -> `{with}` (`nomkl` forbids MKL)",
                    it.line + 1,
                    seq[*index].as_str().unwrap_or_default()
                ));
                expected[*index] = Some(Value::String(with.clone()));
            }
            Op::Add {
                with,
                replacing: None,
            } => {
                let (splice, pos, desc) = add_splice(src, lines, layout, seq, with, eol)?;
                splices.push(splice);
                changes.push(desc);
                added = Some((pos, with.clone()));
            }
        }
    }
    let mut out: Vec<Value> = Vec::new();
    for (i, v) in expected.into_iter().enumerate() {
        if let Some((pos, w)) = &added
            && *pos == i
        {
            out.push(Value::String(w.clone()));
        }
        out.extend(v);
    }
    if let Some((pos, w)) = added
        && pos >= seq.len()
    {
        out.push(Value::String(w));
    }
    Ok((splices, changes, out))
}

fn quote(s: &str, q: Option<char>) -> String {
    match q {
        Some(q) => format!("{q}{s}{q}"),
        None => s.to_string(),
    }
}

/// Does an end-of-line comment name a backend other than the one `new_spec` selects?
fn names_other_backend(comment: &str, new_spec: &str) -> bool {
    let c = comment.to_ascii_lowercase();
    let new = new_spec.to_ascii_lowercase();
    ["mkl", "openblas", "blis", "accelerate", "netlib", "nvpl"]
        .iter()
        .any(|b| c.contains(b) && !new.ends_with(b))
}

/// Where the new pin line goes: after the last conda (string) item; before the first item when
/// there is none; under the key when the list is empty; a new key at the end when absent.
fn add_splice(
    src: &str,
    lines: &[Line],
    layout: &Layout,
    seq: &[Value],
    with: &str,
    eol: &str,
) -> Result<(Splice, usize, String), EditError> {
    let insert_after = |li: usize, item_text: String| -> Splice {
        let l = &lines[li];
        if l.has_ending() {
            Splice {
                range: l.full.end..l.full.end,
                with: format!("{item_text}{eol}"),
            }
        } else {
            Splice {
                range: l.content.end..l.content.end,
                with: format!("{eol}{item_text}"),
            }
        }
    };
    match layout {
        Layout::List(b) => {
            let item_text = format!("{}{}{}", b.indent, b.marker, with);
            let last_str = seq.iter().rposition(|v| v.is_string());
            match last_str {
                Some(i) => {
                    let li = b.items[i].last;
                    Ok((
                        insert_after(li, item_text),
                        i + 1,
                        format!("line {}: added `{with}`", li + 2),
                    ))
                }
                None => {
                    let first = b.items.first().ok_or_else(|| EditError::Unlocatable {
                        what: "the dependency list".into(),
                    })?;
                    let l = &lines[first.line];
                    let s = Splice {
                        range: l.full.start..l.full.start,
                        with: format!("{item_text}{eol}"),
                    };
                    Ok((s, 0, format!("line {}: added `{with}`", first.line + 1)))
                }
            }
        }
        Layout::Null(key) => {
            let (indent, marker) = list_style(src, lines);
            let item = format!("{indent}{marker}{with}");
            Ok((
                insert_after(*key, item),
                0,
                format!("line {}: added `{with}` under `dependencies:`", key + 2),
            ))
        }
        Layout::Absent => {
            let (indent, marker) = list_style(src, lines);
            let block = format!("dependencies:{eol}{indent}{marker}{with}");
            let end = src.len();
            let s = match lines.last() {
                None => Splice {
                    range: 0..0,
                    with: format!("{block}{eol}"),
                },
                Some(l) if l.has_ending() => Splice {
                    range: end..end,
                    with: format!("{block}{eol}"),
                },
                Some(_) => Splice {
                    range: end..end,
                    with: format!("{eol}{block}"),
                },
            };
            Ok((s, 0, format!("added a `dependencies:` list with `{with}`")))
        }
    }
}

/// The indentation and dash style of the file's other top-level lists (2 spaces by default).
fn list_style(src: &str, lines: &[Line]) -> (String, String) {
    let mut prev_key = false;
    for l in lines {
        let c = &src[l.content.clone()];
        if is_comment_or_blank(c) {
            continue;
        }
        if prev_key && let Some(m) = item_marker(c) {
            return (" ".repeat(indent_of(c)), m.to_string());
        }
        prev_key = indent_of(c) == 0 && c.trim_end().ends_with(':') && !c.starts_with('-');
    }
    ("  ".into(), "- ".into())
}

/// Re-parse the result: the dependency list must be exactly `expected` and every other
/// top-level key equal to the original.
fn verify(
    before: &serde_yaml::Mapping,
    deps_absent: bool,
    after: &str,
    expected: &[Value],
) -> Result<(), EditError> {
    let fail = |d: String| EditError::VerificationFailed { detail: d };
    let doc = parse(after).map_err(|e| fail(format!("the result does not parse: {e}")))?;
    let Value::Mapping(m) = doc else {
        return Err(fail("the result is not a mapping".into()));
    };
    let want_len = before.len() + usize::from(deps_absent);
    if m.len() != want_len {
        return Err(fail("the set of top-level keys changed".into()));
    }
    for (k, v) in before {
        if k.as_str() == Some("dependencies") {
            continue;
        }
        if m.get(k) != Some(v) {
            return Err(fail(format!("`{}` changed", k.as_str().unwrap_or("?"))));
        }
    }
    match m.get("dependencies") {
        Some(Value::Sequence(s)) if s.as_slice() == expected => Ok(()),
        _ => Err(fail(
            "the dependency list is not the original plus the intended change".into(),
        )),
    }
}

#[cfg(test)]
mod tests;
