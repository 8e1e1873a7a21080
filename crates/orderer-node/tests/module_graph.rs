//! The node's top-level modules depend on each other without a circle: each one can
//! be read (and changed) knowing only those below it.
//!
//! A module's dependencies are the `crate::` paths its files name in code (comments
//! are not read), test modules included. `src/a.rs` and everything under `src/a/`
//! form module `a`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name to (dependency to the first place that names it).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn the_node_has_no_module_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(
        graph.contains_key("registry") && graph["registry"].contains_key("support"),
        "the scan found no dependency of registry on support: the scan is broken"
    );
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "module circles in orderer-node (each edge with the first place that makes it):\n{}",
        circles.join("\n")
    );
}

#[test]
fn a_circle_is_found_and_named() {
    let dir = std::env::temp_dir().join(format!("module-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(
        dir.join("lib.rs"),
        "pub mod a; pub mod b; pub mod c; pub mod d;\npub use a::{run, Thing as Other};",
    )
    .unwrap();
    // d names a only through the root's re-export, and b only inside a string
    // after a "//" that is not a comment.
    std::fs::write(
        dir.join("d.rs"),
        "fn f() { crate::run(); let u = \"http://x\"; crate::b::g(); }",
    )
    .unwrap();
    std::fs::write(
        dir.join("a.rs"),
        "// crate::c in a comment is not a dependency\nuse crate::b::Thing;",
    )
    .unwrap();
    std::fs::write(dir.join("b/mod.rs"), "mod inner;").unwrap();
    std::fs::write(
        dir.join("b/inner.rs"),
        "use crate::{\n    c::{X, Y},\n    a,\n};\nfn f() { super::inner::g(); }",
    )
    .unwrap();
    std::fs::write(dir.join("c.rs"), "fn f() { crate::b::h(); }").unwrap();
    let graph = module_graph(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        graph["b"].keys().collect::<Vec<_>>(),
        ["a", "c"],
        "b/inner.rs names a and c; super:: stays inside b"
    );
    assert!(
        graph["a"].keys().eq(["b"]),
        "a's comment is not a dependency"
    );
    assert_eq!(
        graph["d"].keys().collect::<Vec<_>>(),
        ["a", "b"],
        "a through the re-export, b after a string's //"
    );
    // a, b and c form one component: one circle is named for it.
    assert_eq!(
        circles(&graph),
        ["a -> b (a.rs:2) -> a (b/inner.rs:1)"],
        "{graph:?}"
    );
}

fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |file: &Path| -> Option<String> {
        let rel = file.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        (name != "lib" && name != "main").then(|| name.to_owned())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let reexports = root_reexports(src);
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        // `super::` in src/a.rs or src/a/mod.rs is the crate root.
        let rel = file.strip_prefix(src).expect("a file under src");
        let super_is_root = rel.components().count() == 1 || rel.ends_with("mod.rs");
        for (line, name) in named_modules(&strip_comments(&text), super_is_root) {
            let target = reexports.get(&name).cloned().unwrap_or(name);
            if target != module && modules.contains(&target) {
                graph
                    .entry(module.clone())
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| format!("{}:{line}", rel.display()));
            }
        }
    }
    graph
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("a readable source directory")
        .map(|e| e.expect("a readable directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without `//` comments (doc comments included), lines kept. A `//` after
/// an odd number of quotes on its line is inside a string (`"http://..."`) and kept.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut from = 0;
            while let Some(i) = line[from..].find("//") {
                let at = from + i;
                let quotes = line[..at].matches('"').count() - line[..at].matches("\\\"").count();
                if quotes % 2 == 0 {
                    return &line[..at];
                }
                from = at + 2;
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the crate root re-exports (`pub use node::{run, start};`): name to module.
fn root_reexports(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for root in ["lib.rs", "main.rs"] {
        let Ok(text) = std::fs::read_to_string(src.join(root)) else {
            continue;
        };
        for statement in strip_comments(&text).split(';') {
            let Some(path) = statement.trim().strip_prefix("pub use ") else {
                continue;
            };
            let Some((module, names)) = path.split_once("::") else {
                continue;
            };
            let names = names.trim_start_matches('{').trim_end_matches('}');
            for name in names.split(',') {
                let name = name.trim().rsplit(' ').next().unwrap_or_default();
                if !name.is_empty() {
                    out.insert(name.to_owned(), module.trim().to_owned());
                }
            }
        }
    }
    out
}

/// The top-level modules a file names, with the line of each: `crate::a`, each
/// item of `crate::{a, b::c}`, and `super::a` where `super` is the crate root.
fn named_modules(code: &str, super_is_root: bool) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let prefixes: &[&str] = if super_is_root {
        &["crate::", "super::"]
    } else {
        &["crate::"]
    };
    for prefix in prefixes {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let start = from + i;
            from = start + prefix.len();
            // `foo_crate::x` or `a::crate::` is not this crate's path.
            if code[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let line = code[..start].matches('\n').count() + 1;
            let rest = &code[from..];
            if let Some(group) = rest.strip_prefix('{') {
                for item in top_level_items(group) {
                    out.push((line, item));
                }
            } else {
                out.push((line, ident(rest)));
            }
        }
    }
    out.retain(|(_, m)| !m.is_empty() && m != "self");
    out
}

/// The first identifier of each comma-separated item of a `{...}` group (the text
/// after the opening brace), up to its closing brace.
fn top_level_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start_of_item = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => start_of_item = true,
            c if start_of_item && !c.is_whitespace() => {
                items.push(ident(&group[i..]));
                start_of_item = false;
            }
            _ => {}
        }
    }
    items
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// One circle per strongly connected component of more than one module, written as
/// `a -> b (src/a.rs:3) -> ... -> a`.
fn circles(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in graph.keys() {
        if done.contains(start.as_str()) {
            continue;
        }
        if let Some(path) = path_back(graph, start) {
            // The rest of the component: what start reaches and what reaches start.
            let reached = reachable(graph, start);
            done.extend(
                reached
                    .iter()
                    .copied()
                    .filter(|m| reachable(graph, m).contains(start.as_str())),
            );
            let mut text = start.clone();
            let mut from = start.as_str();
            for to in &path {
                text.push_str(&format!(" -> {to} ({})", graph[from][to]));
                from = to;
            }
            out.push(text);
        }
        done.insert(start);
    }
    out
}

/// Every module `from` depends on, directly or not.
fn reachable<'g>(graph: &'g Graph, from: &str) -> BTreeSet<&'g str> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = graph[from].keys().map(String::as_str).collect();
    while let Some(m) = stack.pop() {
        if seen.insert(m) {
            stack.extend(graph[m].keys().map(String::as_str));
        }
    }
    seen
}

/// The shortest path of dependencies from `start` back to it, if there is one.
fn path_back(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        for next in graph[at].keys() {
            if next == start {
                let mut path = vec![start.to_owned()];
                let mut cur = at;
                while cur != start {
                    path.push(cur.to_owned());
                    cur = previous[cur];
                }
                path.reverse();
                return Some(path);
            }
            if !previous.contains_key(next.as_str()) {
                previous.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
}
