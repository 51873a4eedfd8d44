//! What a request may carry is checked at the edge, alike on both engines
//! (docs/api.md, "Requests"): a NUL in any text (PostgreSQL refuses it, and it
//! used to surface as a 500 there), JSON arrays standing for objects, `null`
//! for what cannot be cleared, keys named twice, and paging outside the one
//! rule every list keeps. Each is a 4xx problem document, and nothing changes.

use reqwest::Method;
use roster_tests::client::{Answer, text};
use roster_tests::{Client, Mode, World, both_modes, strong_password};
use serde_json::{Value, json};
use std::time::Duration;

/// A refusal: `status`, as problem+json with code `invalid_request`.
fn refused(a: &Answer, status: u16, what: &str) {
    assert_eq!(a.status, status, "{what}: {}", text(a));
    assert_eq!(
        a.headers["content-type"], "application/problem+json",
        "{what}"
    );
    assert_eq!(a.json()["code"], "invalid_request", "{what}");
}

/// Sends `body` as it is (not re-encoded by serde), as JSON.
async fn send_raw(api: &Client, method: Method, path: &str, body: &str) -> Answer {
    let response = api
        .http
        .request(method, format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    Client::answer(response).await
}

/// An organization with a group, one finished import and a technician.
async fn organization(world: &World) -> (Client, i64, String, i64) {
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = format!(
        "Name,Email,Password\nAna,ana@acme.test,{}\nBo,bo@acme.test,{}\n",
        strong_password(1),
        strong_password(2)
    );
    let a = api
        .upload(
            "t.csv",
            csv.into_bytes(),
            &[("group_id", &group.to_string())],
        )
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    let import = a.json()["id"].as_str().unwrap().to_owned();
    let done = api.wait_finished(&import, Duration::from_secs(120)).await;
    assert_eq!(done["counts"]["created"], 2, "{done}");
    let tech = api.get("/v1/technicians?email=ana@acme.test").await.json()["items"][0]["id"]
        .as_i64()
        .expect("technician");
    (api, group, import, tech)
}

async fn the_edge_refuses_what_the_contract_refuses(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let (api, group, import, tech) = organization(&world).await;
    let settings_before = api.get("/v1/settings").await.json();
    let groups_before = api.get("/v1/groups").await.json();
    let tech_before = api.get(&format!("/v1/technicians/{tech}")).await.json();

    // A NUL in a query, a path or a body.
    for path in [
        "/v1/imports?after=y3%00".to_owned(),
        "/v1/technicians?email=a%00@b.c".to_owned(),
        format!("/v1/imports/{import}/rows?status=fail%00ed"),
    ] {
        refused(&api.get(&path).await, 400, &path);
    }
    let nul = json!({"name": "a\u{0}b"});
    refused(
        &api.post("/v1/groups", nul.clone()).await,
        422,
        "group name",
    );
    refused(
        &api.patch(&format!("/v1/groups/{group}"), nul).await,
        422,
        "group rename",
    );
    let admin = json!({"email": "x\u{0}@acme.test", "role": "master"});
    refused(&api.post("/v1/admins", admin).await, 422, "admin email");
    let patch = json!({"description": "a\u{0}"});
    refused(
        &api.patch(&format!("/v1/technicians/{tech}"), patch).await,
        422,
        "description",
    );

    // Arrays in place of objects.
    let a = send_raw(&api, Method::PATCH, "/v1/settings", r#"{"licenses":[5,7]}"#).await;
    refused(&a, 422, "settings as an array");
    let a = send_raw(&api, Method::POST, "/v1/groups", r#"["Arr",1]"#).await;
    refused(&a, 422, "group as an array");
    // null where a value cannot be cleared.
    for body in [
        r#"{"password": null}"#,
        r#"{"name": null}"#,
        r#"{"enabled": null}"#,
        r#"{"group_id": null}"#,
    ] {
        let a = send_raw(
            &api,
            Method::PATCH,
            &format!("/v1/technicians/{tech}"),
            body,
        )
        .await;
        refused(&a, 422, body);
    }
    let a = send_raw(
        &api,
        Method::PATCH,
        "/v1/settings",
        r#"{"force_password_change": null}"#,
    )
    .await;
    refused(&a, 422, "settings null");
    // A key named twice.
    let a = send_raw(
        &api,
        Method::POST,
        "/v1/groups",
        r#"{"name": "One", "name": "Two"}"#,
    )
    .await;
    refused(&a, 422, "duplicate key");
    let a = send_raw(
        &api,
        Method::PATCH,
        "/v1/settings",
        r#"{"licenses": {"mobile_seats": 1, "mobile_seats": 9}}"#,
    )
    .await;
    refused(&a, 422, "nested duplicate key");
    // Not JSON at all, or not declared as JSON.
    let a = send_raw(&api, Method::POST, "/v1/groups", r#"{"name": "#).await;
    refused(&a, 400, "cut JSON");
    let a = api
        .http
        .post(format!("{}/v1/groups", api.base))
        .bearer_auth(&api.token)
        .body(r#"{"name": "Plain"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(a.status().as_u16(), 415);

    // Nothing changed.
    assert_eq!(api.get("/v1/settings").await.json(), settings_before);
    assert_eq!(api.get("/v1/groups").await.json(), groups_before);
    assert_eq!(
        api.get(&format!("/v1/technicians/{tech}")).await.json(),
        tech_before
    );

    // Paging: one rule for every list.
    let lists = [
        "/v1/imports".to_owned(),
        "/v1/technicians".to_owned(),
        format!("/v1/imports/{import}/rows"),
    ];
    for list in &lists {
        for query in [
            "limit=0",
            "limit=-1",
            "limit=1001",
            "limit=x",
            "after=",
            "after=y3",
            "after=-5",
        ] {
            let path = format!("{list}?{query}");
            let a = api.get(&path).await;
            assert!(
                matches!(a.status, 400 | 422),
                "{path}: {} {}",
                a.status,
                text(&a)
            );
            refused(&a, a.status, &path);
        }
        // Whole pages of one follow each other to the end, each item once.
        let mut seen: Vec<Value> = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let path = match &next {
                None => format!("{list}?limit=1"),
                Some(after) => format!("{list}?limit=1&after={after}"),
            };
            let page = api.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", text(&page));
            let page = page.json();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 1, "{path}: {page}");
            seen.extend(items.iter().cloned());
            match page["next"].as_str() {
                Some(after) => next = Some(after.to_owned()),
                None => break,
            }
        }
        let whole = api.get(list).await.json();
        assert_eq!(
            &seen,
            whole["items"].as_array().unwrap(),
            "{list}: paging by one"
        );
    }
}

both_modes!(the_edge_refuses_what_the_contract_refuses: embedded_the_edge_refuses_what_the_contract_refuses, cluster_the_edge_refuses_what_the_contract_refuses);
