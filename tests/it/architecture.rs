//! The layering of ARCHITECTURE.md, checked on the source tree: no module imports from a layer
//! above its own, no import cycle between files, no clap type in the core, and no I/O in the
//! rules. Imports are read from the text (`crate::` / `super::` / `self::` paths and paths
//! through a module's own children); test modules at the end of a file are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the bottom; a module may import its own layer and those below.
const LAYERS: &[(&str, u8)] = &[
    ("testing", 0),
    ("facts", 1),
    ("diagnose", 2),
    ("change", 3),
    ("render", 4),
    ("commands", 5),
    ("cli", 5),
    ("error", 5),
    ("", 6), // lib.rs
];

/// The core: may not know about clap.
const CORE: &[&str] = &["facts", "diagnose", "change", "render"];

/// Pure rules: no file system, processes, environment or terminal.
const PURE: &[&str] = &["diagnose"];
const IO: &[&str] = &[
    "std::fs",
    "std::process",
    "std::env::",
    "duct::",
    "std::io::stdin",
    "println!",
    "eprintln!",
];

struct Module {
    file: PathBuf,
    /// The code without the trailing test module.
    code: String,
    children: BTreeSet<String>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module path (`facts::cpu`, `` for lib.rs) of every file under src/ but main.rs.
fn modules() -> BTreeMap<String, Module> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("src/main.rs") {
                continue;
            }
            let rel = path.strip_prefix(src()).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            let code = without_tests(&text);
            let children = code
                .lines()
                .filter_map(|l| {
                    let l = l.trim_start();
                    let l = l.strip_prefix("pub ").unwrap_or(l);
                    let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                    l.strip_prefix("mod ")?
                        .strip_suffix(';')
                        .map(|m| m.trim().to_string())
                })
                .collect();
            out.insert(
                parts.join("::"),
                Module {
                    file: rel.to_path_buf(),
                    code,
                    children,
                },
            );
        }
    }
    out
}

/// The text before a `#[cfg(test)] mod tests {` (or `pub(crate) mod tests {`, shared with other
/// modules' tests) that runs to the end of the file.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let is_mod = |n: &str| {
            let n = n.trim_start();
            let n = n.strip_prefix("pub(crate) ").unwrap_or(n);
            n.starts_with("mod ") && n.trim_end().ends_with('{')
        };
        if line.trim() == "#[cfg(test)]" && lines.peek().is_some_and(|n| is_mod(n)) {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every path `code` names: whole `use` statements (groups expanded) and `a::b` paths elsewhere;
/// comment lines are skipped.
fn paths(code: &str) -> Vec<String> {
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = String::new();
    let mut text = code.as_str();
    while let Some(at) = find_use(text) {
        rest.push_str(&text[..at]);
        let stmt_end = text[at..].find(';').map_or(text.len(), |e| at + e);
        let stmt = &text[at..stmt_end];
        let body = &stmt[stmt.find("use ").map_or(0, |u| u + 4)..];
        out.extend(expand(body));
        text = &text[stmt_end..];
    }
    rest.push_str(text);
    let mut token = String::new();
    for c in rest.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            token.push(c);
            continue;
        }
        if token.contains("::")
            && token.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && !token.ends_with(':')
        {
            out.push(std::mem::take(&mut token));
        }
        token.clear();
    }
    out
}

/// The byte offset of the next `use` statement (at the start of a line, maybe `pub`).
fn find_use(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        for p in ["use ", "pub use ", "pub(crate) use ", "pub(super) use "] {
            if trimmed.starts_with(p) {
                return Some(offset + lead);
            }
        }
        offset += line.len();
    }
    None
}

/// Every module `m` imports, each resolved to the longest known module path.
fn imports(name: &str, m: &Module, known: &BTreeMap<String, Module>) -> BTreeSet<String> {
    let own: Vec<&str> = if name.is_empty() {
        vec![]
    } else {
        name.split("::").collect()
    };
    // `super` is the parent of a file's own module (mod.rs and lib.rs are their folder's module).
    let mut found = BTreeSet::new();
    for path in paths(&m.code) {
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let Some(first) = segs.first() else { continue };
        let base: Vec<&str> = match *first {
            "crate" => segs[1..].to_vec(),
            "self" => own.iter().chain(&segs[1..]).copied().collect(),
            "super" => {
                let ups = segs.iter().take_while(|s| **s == "super").count();
                own[..own.len().saturating_sub(ups)]
                    .iter()
                    .chain(&segs[ups..])
                    .copied()
                    .collect()
            }
            child if m.children.contains(child) => own.iter().chain(&segs).copied().collect(),
            _ => continue,
        };
        if let Some(target) = (0..=base.len())
            .rev()
            .map(|n| base[..n].join("::"))
            .find(|cand| known.contains_key(cand))
            && target != name
        {
            found.insert(target);
        }
    }
    found
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e` (good enough for use groups).
fn expand(path: &str) -> Vec<String> {
    let path: String = path.split_whitespace().collect();
    match path.find('{') {
        None => vec![path.trim_end_matches(['}', ',']).to_string()],
        Some(open) => {
            let head = &path[..open];
            let mut depth = 0;
            let mut close = path.len();
            for (i, c) in path.char_indices().skip(open) {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let inner = &path[open + 1..close.min(path.len())];
            let mut items = Vec::new();
            let (mut depth, mut last) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[last..i]);
                        last = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[last..]);
            items
                .into_iter()
                .filter(|s| !s.is_empty())
                .flat_map(|item| {
                    let item = if item == "self" { "" } else { item };
                    expand(&format!("{head}{item}"))
                })
                .collect()
        }
    }
}

fn layer(module: &str) -> u8 {
    let top = module.split("::").next().unwrap_or("");
    LAYERS
        .iter()
        .find(|(name, _)| *name == top)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| {
            panic!("module `{module}` is in no layer: add its folder to LAYERS and ARCHITECTURE.md")
        })
}

fn graph() -> (BTreeMap<String, Module>, BTreeMap<String, BTreeSet<String>>) {
    let mods = modules();
    let edges = mods
        .iter()
        .map(|(name, m)| (name.clone(), imports(name, m, &mods)))
        .collect();
    (mods, edges)
}

#[test]
fn no_module_imports_from_a_layer_above() {
    let (mods, edges) = graph();
    assert!(
        mods.len() > 40,
        "the source tree was not found: {}",
        mods.len()
    );
    let mut wrong = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            // A folder's mod.rs declares its children; a child importing its own folder's
            // aggregate is caught by the cycle check instead.
            if layer(to) > layer(from) {
                wrong.push(format!(
                    "{} (layer {}) imports {} (layer {})",
                    mods[from].file.display(),
                    layer(from),
                    mods[to].file.display(),
                    layer(to)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_import_cycles_between_files() {
    let (mods, edges) = graph();
    // Tarjan's strongly connected components.
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        cycles: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                s.cycles.push(scc);
            }
        }
    }
    let mut s = State {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        cycles: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    let cycles: Vec<String> = s
        .cycles
        .iter()
        .map(|c| {
            c.iter()
                .map(|m| mods[*m].file.display().to_string())
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_core_knows_no_clap_and_the_rules_do_no_io() {
    let mods = modules();
    let mut wrong = Vec::new();
    for (name, m) in &mods {
        let top = name.split("::").next().unwrap_or("");
        if CORE.contains(&top) && m.code.contains("clap::") {
            wrong.push(format!("{} uses clap", m.file.display()));
        }
        if PURE.contains(&top) {
            for io in IO {
                if m.code.contains(io) {
                    wrong.push(format!("{} does I/O ({io})", m.file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The checker itself: a planted cycle and a planted upward import are found.
#[test]
fn the_checker_sees_planted_faults() {
    let mut known = BTreeMap::new();
    let module = |file: &str, code: &str, children: &[&str]| Module {
        file: PathBuf::from(file),
        code: code.to_string(),
        children: children.iter().map(|c| c.to_string()).collect(),
    };
    known.insert(
        "facts".into(),
        module(
            "facts/mod.rs",
            "pub mod cpu;\nuse self::cpu::X;\nfn f() -> cpu::Y {}",
            &["cpu"],
        ),
    );
    known.insert(
        "facts::cpu".into(),
        module(
            "facts/cpu.rs",
            "use crate::{diagnose::rules::{self, evaluate}, facts::Facts};",
            &[],
        ),
    );
    known.insert(
        "diagnose".into(),
        module("diagnose/mod.rs", "pub mod rules;", &["rules"]),
    );
    known.insert(
        "diagnose::rules".into(),
        module(
            "diagnose/rules/mod.rs",
            "use super::super::facts::cpu::X;",
            &[],
        ),
    );
    let imp = |n: &str| imports(n, &known[n], &known);
    assert_eq!(imp("facts"), BTreeSet::from(["facts::cpu".to_string()]));
    assert_eq!(
        imp("facts::cpu"),
        BTreeSet::from(["diagnose::rules".to_string(), "facts".to_string()])
    );
    assert_eq!(
        imp("diagnose::rules"),
        BTreeSet::from(["facts::cpu".to_string()])
    );
    assert!(layer("diagnose::rules") > layer("facts::cpu"));
}
