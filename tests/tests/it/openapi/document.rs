//! The document's structure: every route of the router is described, every
//! `$ref` resolves, and each route names the token it needs.

use super::*;

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
    let mut routes = routes::router_routes();
    let fallbacks: Vec<_> = routes
        .iter()
        .filter(|(_, m)| m == routes::FALLBACK)
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
    routes.retain(|(_, m)| m != routes::FALLBACK);
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
