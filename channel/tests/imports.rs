//! The crate's files import one another in one direction: no cycle among the modules that
//! their `crate::` paths name (`token.rs` is the leaf that flavors and select share).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`flavors::zero`) of each source file, with its text.
fn modules() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            out.insert(parts.join("::"), std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

/// The modules a file's `crate::a::b::c` paths name: the longest prefix that is a module.
/// `use crate::{a, b::c}` groups are split at the top level.
fn deps(name: &str, text: &str, mods: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find(';').unwrap_or(group.len());
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => paths.push(std::mem::take(&mut item)),
                    c if depth == 0 && !c.is_whitespace() => item.push(c),
                    _ => {}
                }
            }
            paths.push(item);
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            paths.push(rest[..end].to_string());
        }
    }
    let mut out = BTreeSet::new();
    for p in paths {
        let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
        for n in (1..=segs.len()).rev() {
            let m = segs[..n].join("::");
            if mods.contains_key(&m) {
                let own = m == name || name.starts_with(&format!("{m}::"));
                if !own && name != "lib" {
                    out.insert(m);
                }
                break;
            }
        }
    }
    out
}

#[test]
#[cfg_attr(miri, ignore = "reads the source tree")]
fn no_module_imports_in_a_circle() {
    let mods = modules();
    assert!(mods.contains_key("token") && mods.contains_key("flavors::zero"));
    let graph: BTreeMap<&str, BTreeSet<String>> = mods
        .iter()
        .map(|(name, text)| (name.as_str(), deps(name, text, &mods)))
        .collect();
    // Depth-first search for a back edge.
    fn visit<'a>(
        m: &'a str,
        graph: &'a BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(i) = path.iter().position(|&p| p == m) {
            panic!("import cycle: {} -> {m}", path[i..].join(" -> "));
        }
        path.push(m);
        for d in &graph[m] {
            visit(d, graph, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
    // The seam that used to close the circle: flavors name `token`, never `select`.
    assert!(graph["flavors::zero"].contains("token"));
    assert!(!graph["flavors::zero"].contains("select"));
}
