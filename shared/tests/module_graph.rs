//! The modules of `shared/src` form no import circle: each top-level module's `crate::<module>`
//! references (test modules aside) are read from the source, and a cycle fails with its path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its test module (tests may use anything) and its comments.
fn without_tests(code: &str) -> String {
    let code = code.find("#[cfg(test)]\nmod tests").map_or(code, |i| &code[..i]);
    code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The modules a piece of code names as `crate::<module>`.
fn references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = code[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    // `use crate::{a, b::c}` groups.
    for (i, _) in code.match_indices("crate::{") {
        let rest = &code[i + 8..];
        let group = &rest[..rest.find("};").unwrap_or(rest.len())];
        for part in group.split(',') {
            let name: String = part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Top-level module → the top-level modules it uses.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component").as_os_str().to_string_lossy().to_string();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "fakes" || module == "unit" {
            continue;
        }
        let code = std::fs::read_to_string(&file).expect("readable source");
        let uses = references(&without_tests(&code));
        graph.entry(module.clone()).or_default().extend(uses.into_iter().filter(|m| *m != module));
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_of_the_crate_form_no_import_circle() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() > 10, "the source was read: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import circle among shared/src modules: {}", cycle.join(" → "));
    }
}

#[test]
fn a_circle_is_found_and_named() {
    let edges = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")];
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges {
        graph.entry(from.into()).or_default().insert(to.into());
    }
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    graph.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn grouped_and_nested_crate_paths_count_as_uses() {
    let code = "use crate::{config::Config, domain::*};\nfn f() { crate::tokens::x(); my_crate::nope(); }\n/// see [`crate::dynamo`]\n#[cfg(test)]\nmod tests { use crate::fakes; }";
    let found = references(&without_tests(code));
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["config", "domain", "tokens"]);
}

#[test]
fn the_domain_uses_nothing_outside_itself() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert_eq!(graph.get("domain").cloned().unwrap_or_default(), BTreeSet::new(), "the domain must stay pure");
}

#[test]
fn only_the_configuration_and_the_wiring_read_the_environment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    sources(&root.join("../functions"), &mut files);
    let readers: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("src/config.rs") && !f.ends_with("src/wiring.rs"))
        .filter(|f| without_tests(&std::fs::read_to_string(f).expect("readable source")).contains("env::var"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(readers.is_empty(), "read the environment outside config.rs and wiring.rs: {readers:?}");
}
