//! The router's routes, read from its source (`api/src/routes/*.rs` and
//! `api/src/scim/mod.rs`) at test time, so that a new route without a
//! description fails.

use super::*;

/// A route's method router `any(..)`: under `/scim/v2` only, SCIM's answer
/// (404 in its error form) to a path that names no resource. It is no
/// operation, so it is not documented.
pub(super) const FALLBACK: &str = "any";

/// Every `(path, method)` of `.route("PATH", get(..).post(..)...)` calls in
/// `api/src/routes/*.rs` and `api/src/scim/mod.rs`; `any(..)` reads as
/// [`FALLBACK`].
pub(super) fn router_routes() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/src/routes");
    let mut routes = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("api/src/routes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files.push(concat!(env!("CARGO_MANIFEST_DIR"), "/../api/src/scim/mod.rs").into());
    for file in files {
        let source = std::fs::read_to_string(&file).expect("route source");
        let code = strip_comments(&source);
        for unsupported in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !code.contains(unsupported),
                "{}: `{unsupported}` is not understood by this test's route reader; extend it",
                file.display()
            );
        }
        for (path, method) in routes_in(&code) {
            routes.insert((path, method));
        }
    }
    routes
}

/// The source with `//` and `/* */` comments removed and character literals
/// (such as `'"'`) replaced by `'_'`; string literals are kept.
fn strip_comments(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '"' => {
                let end = string_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            '\'' if chars.get(i + 1) == Some(&'\\') => {
                // An escaped character literal: '\n', '\\', '\'', '\u{..}'.
                let mut end = i + 3;
                while end < chars.len() && chars[end] != '\'' {
                    end += 1;
                }
                out.push_str("'_'");
                i = end + 1;
            }
            '\'' if chars.get(i + 2) == Some(&'\'') => {
                out.push_str("'_'");
                i += 3;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
                out.push(' ');
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The index just past the string literal that opens at `start` (a `"`).
fn string_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The routes of one comment-free source: for each `.route(`, the path literal,
/// then the method-router calls (`get(`, `.post(`, ...) directly in its
/// argument list (not nested inside another call's arguments).
fn routes_in(code: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = code.chars().collect();
    let needle: Vec<char> = ".route(".chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        if chars[i..i + needle.len()] != needle[..] {
            i += 1;
            continue;
        }
        let mut j = i + needle.len();
        while chars[j].is_whitespace() {
            j += 1;
        }
        assert_eq!(
            chars[j],
            '"',
            "a .route( whose path is not a string literal: {}",
            chars[i..(i + 80).min(chars.len())]
                .iter()
                .collect::<String>()
        );
        let end = string_end(&chars, j);
        let path: String = chars[j + 1..end - 1].iter().collect();
        let mut methods = Vec::new();
        // Walk the rest of the call's arguments; depth 1 is the route call's own list.
        let mut depth = 1;
        let mut k = end;
        while k < chars.len() && depth > 0 {
            match chars[k] {
                '"' => {
                    k = string_end(&chars, k);
                    continue;
                }
                '(' => {
                    if depth == 1 {
                        let mut s = k;
                        while s > 0 && is_ident(chars[s - 1]) {
                            s -= 1;
                        }
                        let name: String = chars[s..k].iter().collect();
                        if METHODS.contains(&name.as_str()) || name == FALLBACK {
                            methods.push(name);
                        }
                    }
                    depth += 1;
                }
                ')' => depth -= 1,
                _ => {}
            }
            k += 1;
        }
        assert!(!methods.is_empty(), "route {path}: no method found");
        found.extend(methods.into_iter().map(|m| (path.clone(), m)));
        i = k;
    }
    found
}

#[test]
fn the_route_reader_reads_chained_and_layered_method_routers() {
    let code = strip_comments(
        r#"Router::new()
            // .route("/commented", get(nothing))
            .route("/a", get(list).post(create)) // quote: '"', '\''
            .layer(f(|c| *c != '"' && *c != '\\'))
            .route(
                "/b/{id}",
                post(create_b)
                    .layer(DefaultBodyLimit::disable())
                    .get(get_b),
            )
            .route("/c", axum::routing::patch(change_c).delete(|| async { get_x() }))
            .route("/d/{*rest}", axum::routing::any(not_found))"#,
    );
    let routes: Vec<(String, String)> = routes_in(&code);
    let expected: Vec<(String, String)> = [
        ("/a", "get"),
        ("/a", "post"),
        ("/b/{id}", "post"),
        ("/b/{id}", "get"),
        ("/c", "patch"),
        ("/c", "delete"),
        ("/d/{*rest}", "any"),
    ]
    .iter()
    .map(|(p, m)| (p.to_string(), m.to_string()))
    .collect();
    assert_eq!(routes, expected);
}
