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

mod answers;
mod document;
mod routes;

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
