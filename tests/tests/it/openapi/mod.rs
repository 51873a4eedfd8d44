//! `GET /openapi.json` describes the API as it is: every route of the router
//! (read from `api/src/routes/*.rs` and `api/src/scim/mod.rs` at test time, so
//! a new route without a description fails here), the bearer scheme on every
//! `/v1` route but the templates, the service token on SCIM's Users, and bodies
//! that match what the server really answers.

use roster_tests::client::Answer;
use roster_tests::{Mode, World, full_csv, strong_password};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// The document as served, checked to be the file in the repository (the
/// binary embeds it at build time).
async fn served_document(world: &World) -> Value {
    let answer = reqwest::get(format!("{}/openapi.json", world.api_url))
        .await
        .expect("GET /openapi.json");
    assert_eq!(answer.status(), 200);
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = serde_json::from_slice(&answer.bytes().await.expect("body"))
        .expect("/openapi.json is JSON");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json"))
            .expect("docs/openapi.json is JSON");
    assert!(
        doc == on_disk,
        "the served document is not docs/openapi.json: rebuild the binaries (cargo build --bins)"
    );
    doc
}

// ---------------------------------------------------------------------------
// The router's routes, read from its source.

/// A route's method router `any(..)`: under `/scim/v2` only, SCIM's answer
/// (404 in its error form) to a path that names no resource. It is no
/// operation, so it is not documented.
const FALLBACK: &str = "any";

/// Every `(path, method)` of `.route("PATH", get(..).post(..)...)` calls in
/// `api/src/routes/*.rs` and `api/src/scim/mod.rs`; `any(..)` reads as
/// [`FALLBACK`].
fn router_routes() -> BTreeSet<(String, String)> {
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

// ---------------------------------------------------------------------------
// The document's structure.

/// Follows `$ref`s (local JSON pointers) until a value that is not one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(pointer) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = pointer
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("not a local $ref: {pointer}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("$ref to nothing: #{pointer}"));
    }
    panic!("a $ref cycle");
}

fn every_ref<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| every_ref(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| every_ref(v, out)),
        _ => {}
    }
}

/// Every `/v1` route needs a token (or the session cookie), but the templates
/// and `/v1/session`, which signs in with a password and then uses the cookie alone.
fn needs_token(path: &str) -> bool {
    path.starts_with("/v1/") && !path.starts_with("/v1/templates/") && path != "/v1/session"
}

/// SCIM's Users and searches need a service token (API.md v1.1, "SCIM 2.0");
/// its discovery (ServiceProviderConfig, ResourceTypes, Schemas) needs none,
/// as RFC 7644 allows.
fn needs_service_token(path: &str) -> bool {
    path.starts_with("/scim/v2/Users") || path == "/scim/v2/.search"
}

#[tokio::test]
async fn embedded_openapi_documents_every_route() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let doc = served_document(&world).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");

    // Every route of the router is documented, and nothing else is; SCIM's
    // fallbacks are not operations.
    let mut routes = router_routes();
    let fallbacks: Vec<_> = routes
        .iter()
        .filter(|(_, m)| m == FALLBACK)
        .cloned()
        .collect();
    for (path, _) in &fallbacks {
        assert!(
            path.starts_with("/scim/v2"),
            "any() on {path}: only SCIM's fallbacks may take every method"
        );
        assert!(
            paths.get(path).is_none(),
            "{path} is a fallback, not an operation"
        );
    }
    routes.retain(|(_, m)| m != FALLBACK);
    assert!(
        routes.iter().any(|(p, _)| p == "/scim/v2/Users"),
        "SCIM's routes were not read: {routes:?}"
    );
    assert!(routes.len() >= 20, "too few routes read: {routes:?}");
    for (path, method) in &routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{} {path} is routed but not in docs/openapi.json",
            method.to_uppercase()
        );
    }
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((path.clone(), method.to_owned()));
            }
        }
    }
    let phantom: Vec<_> = documented.difference(&routes).collect();
    assert!(phantom.is_empty(), "documented but not routed: {phantom:?}");

    // Every $ref leads somewhere.
    let mut refs = Vec::new();
    every_ref(&doc, &mut refs);
    for r in refs {
        resolve(&doc, &json!({ "$ref": r }));
    }

    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    let global = doc.get("security").cloned().unwrap_or(json!([]));
    for (path, method) in &routes {
        let item = &paths[path];
        let operation = &item[method];
        let where_ = format!("{} {path}", method.to_uppercase());
        let security = operation.get("security").unwrap_or(&global);
        let bearer = security
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearerAuth").is_some()));
        assert_eq!(bearer, needs_token(path), "{where_}: security {security}");
        let cookie = security
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("cookieAuth").is_some()));
        let signs_in = path == "/v1/session" && method == "post";
        assert_eq!(
            cookie,
            (needs_token(path) || path == "/v1/session") && !signs_in,
            "{where_}: the session cookie works wherever a token does: security {security}"
        );
        let service = security
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("serviceToken").is_some()));
        assert_eq!(
            service,
            needs_service_token(path),
            "{where_}: security {security}"
        );
        let responses = operation["responses"].as_object().expect("responses");
        if needs_token(path) || needs_service_token(path) {
            assert!(responses.contains_key("401"), "{where_}: no 401");
        }
        // SCIM answers only in its own media type, errors included.
        if path.starts_with("/scim/") {
            for (status, response) in responses {
                let media: Vec<&String> = resolve(&doc, response)
                    .get("content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|c| c.keys())
                    .collect();
                assert!(
                    media.iter().all(|m| *m == "application/scim+json"),
                    "{where_} {status}: {media:?}"
                );
            }
        }
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{where_}: no success answer"
        );
        // Each `{name}` of the path is a required path parameter.
        let params: Vec<&Value> = item
            .get("parameters")
            .into_iter()
            .chain(operation.get("parameters"))
            .flat_map(|p| p.as_array().expect("parameters").iter())
            .map(|p| resolve(&doc, p))
            .collect();
        for name in path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            assert!(
                params
                    .iter()
                    .any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true),
                "{where_}: path parameter {name} is not described"
            );
        }
    }
    for name in [
        "Import",
        "ImportList",
        "RowOutcome",
        "RowList",
        "FieldError",
        "Group",
        "Technician",
        "TechnicianPatch",
        "Admin",
        "Settings",
        "Licenses",
        "Problem",
        "ScimUser",
        "ScimUserList",
        "ScimError",
    ] {
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "no schema {name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Real answers against the document.

/// Checks `value` against an OpenAPI 3.0 schema, strictly: an object may hold
/// only the properties its schema names (so an undocumented field fails).
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if value.is_null() {
        if schema["nullable"] != true {
            errors.push(format!("{at}: null, but not nullable"));
        }
        return;
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = branches
            .iter()
            .filter(|b| {
                let mut e = Vec::new();
                check(doc, b, value, at, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!("{at}: matches {matching} oneOf branches"));
        }
        return;
    }
    // allOf: the union of the parts' properties and required names.
    let mut parts = vec![schema];
    let mut k = 0;
    while k < parts.len() {
        if let Some(all) = parts[k].get("allOf").and_then(Value::as_array) {
            parts.extend(all.iter().map(|s| resolve(doc, s)));
        }
        k += 1;
    }
    let ty = parts
        .iter()
        .find_map(|p| p.get("type").and_then(Value::as_str));
    let type_ok = match ty {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => panic!("{at}: unknown type {other}"),
    };
    if !type_ok {
        errors.push(format!("{at}: {value} is not {}", ty.unwrap_or("?")));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            let properties: Vec<&serde_json::Map<String, Value>> = parts
                .iter()
                .filter_map(|p| p.get("properties").and_then(Value::as_object))
                .collect();
            for part in &parts {
                for name in part["required"].as_array().into_iter().flatten() {
                    let name = name.as_str().expect("required name");
                    if !map.contains_key(name) {
                        errors.push(format!("{at}: required {name} is missing"));
                    }
                }
            }
            if properties.is_empty() {
                return;
            }
            for (key, v) in map {
                match properties.iter().find_map(|p| p.get(key)) {
                    Some(s) => check(doc, s, v, &format!("{at}.{key}"), errors),
                    None => errors.push(format!("{at}: {key} is not documented")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (n, v) in items.iter().enumerate() {
                    check(doc, s, v, &format!("{at}[{n}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// Checks a real answer to `METHOD template_path` against the document: its
/// status is documented (or `default`), its documented headers are there, its
/// content type is one the answer lists, and a JSON body fits the schema.
fn conforms(doc: &Value, method: &str, template: &str, answer: &Answer) -> Value {
    let at = format!("{} {template} -> {}", method.to_uppercase(), answer.status);
    let operation = &doc["paths"][template][method];
    assert!(operation.is_object(), "{at}: not documented");
    let responses = &operation["responses"];
    let response = responses
        .get(answer.status.to_string())
        .or_else(|| responses.get("default"))
        .unwrap_or_else(|| panic!("{at}: status not documented"));
    let response = resolve(doc, response);
    for (name, _) in response
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        assert!(
            answer.headers.contains_key(name.as_str()),
            "{at}: no {name}"
        );
    }
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = |t: &str| t.split(';').next().unwrap_or_default().trim().to_owned();
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        assert!(answer.body.is_empty(), "{at}: a body nobody documented");
        return Value::Null;
    };
    let media = content
        .get(content_type)
        .or_else(|| {
            content
                .iter()
                .find(|(k, _)| essence(k) == essence(content_type))
                .map(|(_, v)| v)
        })
        .unwrap_or_else(|| panic!("{at}: content type {content_type} not documented"));
    if !essence(content_type).ends_with("json") {
        return Value::Null;
    }
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|e| panic!("{at}: {e}"));
    let mut errors = Vec::new();
    check(doc, &media["schema"], &body, "body", &mut errors);
    assert!(errors.is_empty(), "{at}: {errors:#?}\n{body:#}");
    body
}

async fn bare_get(world: &World, path: &str) -> Answer {
    roster_tests::Client::new(&world.api_url, "")
        .get(path)
        .await
}

#[tokio::test]
async fn embedded_answers_match_the_openapi_description() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let doc = served_document(&world).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;

    for path in ["/healthz", "/readyz", "/metrics"] {
        conforms(&doc, "get", path, &bare_get(&world, path).await);
    }
    for file in ["technicians.csv", "technicians.json", "technicians.xlsx"] {
        let answer = bare_get(&world, &format!("/v1/templates/{file}")).await;
        assert_eq!(answer.status, 200);
        conforms(&doc, "get", "/v1/templates/{file}", &answer);
    }
    let answer = bare_get(&world, "/v1/templates/nothing.txt").await;
    assert_eq!(answer.status, 404);
    conforms(&doc, "get", "/v1/templates/{file}", &answer);
    let answer = bare_get(&world, "/v1/imports").await;
    assert_eq!(answer.status, 401);
    conforms(&doc, "get", "/v1/imports", &answer);

    // Groups.
    let answer = api
        .post("/v1/groups", json!({"name": "Tier 1", "parent_id": null}))
        .await;
    let top = conforms(&doc, "post", "/v1/groups", &answer)["id"]
        .as_i64()
        .expect("group id");
    let answer = api
        .post("/v1/groups", json!({"name": "Tier 2", "parent_id": top}))
        .await;
    assert_eq!(answer.status, 201);
    let sub = conforms(&doc, "post", "/v1/groups", &answer)["id"]
        .as_i64()
        .expect("group id");
    conforms(&doc, "get", "/v1/groups", &api.get("/v1/groups").await);
    conforms(
        &doc,
        "get",
        "/v1/groups/{id}",
        &api.get(&format!("/v1/groups/{sub}")).await,
    );
    let answer = api
        .patch(&format!("/v1/groups/{sub}"), json!({"name": "Tier Two"}))
        .await;
    assert_eq!(answer.status, 200);
    conforms(&doc, "patch", "/v1/groups/{id}", &answer);
    let answer = api.get("/v1/groups/999999").await;
    assert_eq!(answer.status, 404);
    conforms(&doc, "get", "/v1/groups/{id}", &answer);

    // An import that creates one technician and fails one row.
    let csv = full_csv(&[
        ("Ana First", "ana@acme.test", &strong_password(0), sub),
        ("Bo Weak", "bo@acme.test", "abc", sub),
    ]);
    let answer = api.upload("first.csv", csv.into_bytes(), &[]).await;
    assert_eq!(
        answer.status,
        202,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let id = conforms(&doc, "post", "/v1/imports", &answer)["id"]
        .as_str()
        .expect("import id")
        .to_owned();
    let done = api.wait_finished(&id, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "completed", "{done}");
    conforms(
        &doc,
        "get",
        "/v1/imports/{id}",
        &api.get(&format!("/v1/imports/{id}")).await,
    );
    let rows = conforms(
        &doc,
        "get",
        "/v1/imports/{id}/rows",
        &api.get(&format!("/v1/imports/{id}/rows?limit=1")).await,
    );
    assert!(rows["next"].is_string(), "{rows}");
    let failed = conforms(
        &doc,
        "get",
        "/v1/imports/{id}/rows",
        &api.get(&format!("/v1/imports/{id}/rows?status=failed"))
            .await,
    );
    assert_eq!(failed["items"][0]["errors"][0]["field"], "Password");
    let answer = api.get(&format!("/v1/imports/{id}/result.xlsx")).await;
    assert_eq!(answer.status, 200);
    conforms(&doc, "get", "/v1/imports/{id}/result.xlsx", &answer);
    let answer = api
        .post(&format!("/v1/imports/{id}/cancel"), json!({}))
        .await;
    assert_eq!(answer.status, 409);
    conforms(&doc, "post", "/v1/imports/{id}/cancel", &answer);

    // A raw upload that fails as a whole (bad header), with an idempotency key.
    let query = format!("file_name=bad.csv&group_id={sub}&dry_run=true&on_existing=skip");
    let bad_header = b"Name,E-mail,Password\nAna,ana@acme.test,x\n";
    let raw = || {
        api.upload_raw(
            &query,
            "text/csv",
            bad_header.to_vec(),
            &[("Idempotency-Key", "key-1")],
        )
    };
    let answer = raw().await;
    assert_eq!(
        answer.status,
        202,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let bad = conforms(&doc, "post", "/v1/imports", &answer)["id"]
        .as_str()
        .expect("import id")
        .to_owned();
    let answer = raw().await;
    assert_eq!(answer.status, 200);
    conforms(&doc, "post", "/v1/imports", &answer);
    let done = api.wait_finished(&bad, Duration::from_secs(120)).await;
    assert_eq!(done["error"]["code"], "bad_header", "{done}");
    conforms(
        &doc,
        "get",
        "/v1/imports/{id}",
        &api.get(&format!("/v1/imports/{bad}")).await,
    );
    conforms(&doc, "get", "/v1/imports", &api.get("/v1/imports").await);
    let answer = api
        .upload_raw(
            "",
            "application/pdf",
            b"%PDF-1.7\n\0\0\0binary".to_vec(),
            &[],
        )
        .await;
    assert_eq!(answer.status, 415);
    conforms(&doc, "post", "/v1/imports", &answer);

    // Technicians.
    let list = conforms(
        &doc,
        "get",
        "/v1/technicians",
        &api.get(&format!("/v1/technicians?group_id={sub}")).await,
    );
    let tech = list["items"][0]["id"].as_i64().expect("a technician");
    conforms(
        &doc,
        "get",
        "/v1/technicians/{id}",
        &api.get(&format!("/v1/technicians/{tech}")).await,
    );
    let answer = api
        .patch(
            &format!("/v1/technicians/{tech}"),
            json!({"nickname": null, "mobile_license": true, "description": "on call"}),
        )
        .await;
    assert_eq!(answer.status, 200);
    conforms(&doc, "patch", "/v1/technicians/{id}", &answer);
    let answer = api
        .patch(
            &format!("/v1/technicians/{tech}"),
            json!({"password": "abc"}),
        )
        .await;
    assert_eq!(answer.status, 422);
    conforms(&doc, "patch", "/v1/technicians/{id}", &answer);

    // Administration.
    let answer = api
        .post(
            "/v1/admins",
            json!({"email": "helper@acme.test", "role": "admin", "group_ids": [sub]}),
        )
        .await;
    assert_eq!(answer.status, 201);
    let token = conforms(&doc, "post", "/v1/admins", &answer)["token"]
        .as_str()
        .expect("token")
        .to_owned();
    conforms(&doc, "get", "/v1/admins", &api.get("/v1/admins").await);
    let answer = api.with_token(&token).get("/v1/admins").await;
    assert_eq!(answer.status, 403);
    conforms(&doc, "get", "/v1/admins", &answer);
    conforms(&doc, "get", "/v1/settings", &api.get("/v1/settings").await);
    let answer = api
        .patch("/v1/settings", json!({"licenses": {"mobile_seats": 25}}))
        .await;
    assert_eq!(answer.status, 200);
    conforms(&doc, "patch", "/v1/settings", &answer);
    conforms(&doc, "get", "/v1/licenses", &api.get("/v1/licenses").await);

    // Signing in.
    let password = strong_password(77);
    let answer = api
        .post(
            "/v1/admins",
            json!({"email": "person@acme.test", "role": "master", "password": password}),
        )
        .await;
    assert_eq!(answer.status, 201);
    let answer = api
        .post(
            "/v1/admins",
            json!({"email": "PERSON@acme.test", "role": "master"}),
        )
        .await;
    assert_eq!(answer.status, 409);
    conforms(&doc, "post", "/v1/admins", &answer);
    let anonymous = api.with_token("");
    let answer = anonymous
        .post(
            "/v1/session",
            json!({"email": "person@acme.test", "password": "wrong"}),
        )
        .await;
    assert_eq!(answer.status, 401);
    conforms(&doc, "post", "/v1/session", &answer);
    let answer = anonymous
        .post(
            "/v1/session",
            json!({"email": "person@acme.test", "password": password}),
        )
        .await;
    assert_eq!(answer.status, 204);
    conforms(&doc, "post", "/v1/session", &answer);
    let person = roster_tests::session::Session::from_sign_in(&world.api_url, &answer);
    let answer = person.get("/v1/session").await;
    assert_eq!(answer.status, 200);
    conforms(&doc, "get", "/v1/session", &answer);
    let answer = person.without_csrf().delete("/v1/session").await;
    assert_eq!(answer.status, 403);
    conforms(&doc, "delete", "/v1/session", &answer);
    let answer = person.signed_in().await.delete("/v1/session").await;
    assert_eq!(answer.status, 204);
    conforms(&doc, "delete", "/v1/session", &answer);
    let answer = person.get("/v1/session").await;
    assert_eq!(answer.status, 401);
    conforms(&doc, "get", "/v1/session", &answer);

    scim_answers(&doc, &world, &api, sub).await;
}

/// SCIM's answers, errors included, against the document.
async fn scim_answers(doc: &Value, world: &World, api: &roster_tests::Client, group: i64) {
    let user_schema = "urn:ietf:params:scim:schemas:core:2.0:User";
    for (path, template) in [
        (
            "/scim/v2/ServiceProviderConfig".to_owned(),
            "/scim/v2/ServiceProviderConfig",
        ),
        (
            "/scim/v2/ResourceTypes".to_owned(),
            "/scim/v2/ResourceTypes",
        ),
        (
            "/scim/v2/ResourceTypes/User".to_owned(),
            "/scim/v2/ResourceTypes/{id}",
        ),
        ("/scim/v2/Schemas".to_owned(), "/scim/v2/Schemas"),
        (
            format!("/scim/v2/Schemas/{user_schema}"),
            "/scim/v2/Schemas/{id}",
        ),
    ] {
        let answer = bare_get(world, &path).await;
        assert_eq!(answer.status, 200, "{path}");
        conforms(doc, "get", template, &answer);
    }
    let answer = bare_get(world, "/scim/v2/ResourceTypes/Group").await;
    assert_eq!(answer.status, 404);
    conforms(doc, "get", "/scim/v2/ResourceTypes/{id}", &answer);

    let answer = bare_get(world, "/scim/v2/Users").await;
    assert_eq!(answer.status, 401);
    conforms(doc, "get", "/scim/v2/Users", &answer);
    let answer = api.get("/scim/v2/Users").await;
    assert_eq!(
        answer.status, 403,
        "an administrator's token is no service token"
    );
    conforms(doc, "get", "/scim/v2/Users", &answer);
    let answer = api
        .post(
            "/v1/sync/tokens",
            json!({"name": "Okta", "group_id": group}),
        )
        .await;
    assert_eq!(answer.status, 201);
    let idp = api.with_token(answer.json()["token"].as_str().expect("token"));

    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "scim@acme.test", "externalId": "00u1",
        "name": {"givenName": "Sam", "familyName": "Cim"}, "displayName": "Sam Cim",
        "emails": [{"value": "scim@acme.test", "type": "work", "primary": true}],
        "active": true, "password": strong_password(88),
    });
    let answer = idp.post("/scim/v2/Users", user.clone()).await;
    assert_eq!(answer.status, 201);
    let id = conforms(doc, "post", "/scim/v2/Users", &answer)["id"]
        .as_str()
        .expect("scim id")
        .to_owned();
    let answer = idp.post("/scim/v2/Users", user.clone()).await;
    assert_eq!(answer.status, 409);
    assert_eq!(
        conforms(doc, "post", "/scim/v2/Users", &answer)["scimType"],
        "uniqueness"
    );
    let found = conforms(
        doc,
        "get",
        "/scim/v2/Users",
        &idp.get("/scim/v2/Users?filter=userName%20eq%20%22SCIM%40acme.test%22")
            .await,
    );
    assert_eq!(found["totalResults"], 1, "{found}");
    let answer = idp.get("/scim/v2/Users?filter=userName%20sw").await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        conforms(doc, "get", "/scim/v2/Users", &answer)["scimType"],
        "invalidFilter"
    );
    let answer = idp
        .post(
            "/scim/v2/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": "externalId eq \"00u1\"", "attributes": ["userName"]}),
        )
        .await;
    assert_eq!(answer.status, 200);
    let found = conforms(doc, "post", "/scim/v2/Users/.search", &answer);
    assert_eq!(
        found["Resources"][0]["userName"], "scim@acme.test",
        "{found}"
    );

    let at = format!("/scim/v2/Users/{id}");
    conforms(doc, "get", "/scim/v2/Users/{id}", &idp.get(&at).await);
    let mut renamed = user.clone();
    renamed["displayName"] = json!("Sam Renamed");
    renamed["name"] = json!({"formatted": "Sam Renamed"});
    let answer = idp.request(reqwest::Method::PUT, &at, Some(renamed)).await;
    assert_eq!(answer.status, 200);
    conforms(doc, "put", "/scim/v2/Users/{id}", &answer);
    let answer = idp
        .patch(
            &at,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        conforms(doc, "patch", "/scim/v2/Users/{id}", &answer)["active"],
        false
    );
    let answer = idp
        .patch(
            &at,
            json!({"Operations": [{"op": "jump", "path": "active"}]}),
        )
        .await;
    assert_eq!(answer.status, 400);
    conforms(doc, "patch", "/scim/v2/Users/{id}", &answer);
    let answer = idp.request(reqwest::Method::DELETE, &at, None).await;
    assert_eq!(answer.status, 204);
    conforms(doc, "delete", "/scim/v2/Users/{id}", &answer);
    let answer = idp.get(&at).await;
    assert_eq!(answer.status, 404);
    conforms(doc, "get", "/scim/v2/Users/{id}", &answer);
}

#[test]
fn the_checker_finds_undocumented_missing_and_mistyped_fields() {
    let doc = json!({"components": {"schemas": {
        "Thing": {"type": "object", "required": ["id", "note"], "properties": {
            "id": {"type": "integer"},
            "note": {"type": "string", "nullable": true},
            "kind": {"type": "string", "enum": ["a", "b"]}}},
        "Named": {"allOf": [{"$ref": "#/components/schemas/Thing"},
                            {"type": "object", "required": ["name"]}]}}}});
    let thing = json!({"$ref": "#/components/schemas/Thing"});
    let named = json!({"$ref": "#/components/schemas/Named"});
    let errors = |schema: &Value, value: Value| {
        let mut e = Vec::new();
        check(&doc, schema, &value, "body", &mut e);
        e
    };
    assert!(errors(&thing, json!({"id": 1, "note": null, "kind": "a"})).is_empty());
    assert_eq!(
        errors(&thing, json!({"id": 1, "note": "x", "extra": 2})).len(),
        1
    );
    assert_eq!(errors(&thing, json!({"id": 1})).len(), 1);
    assert_eq!(errors(&thing, json!({"id": "1", "note": "x"})).len(), 1);
    assert_eq!(
        errors(&thing, json!({"id": 1, "note": "x", "kind": "c"})).len(),
        1
    );
    assert_eq!(errors(&thing, json!({"id": null, "note": "x"})).len(), 1);
    assert_eq!(errors(&named, json!({"id": 1, "note": "x"})).len(), 1);
}
