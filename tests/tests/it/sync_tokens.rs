//! Service tokens and the sync default password (API.md v1.1, "Directory
//! synchronization"): masters create, list and revoke them; a token is shown
//! once and stored hashed; a service token calls no route but the sync and
//! SCIM ones (403); the default password is write-only and policy-checked.

use roster_tests::client::text;
use roster_tests::{Mode, World, both_modes, strong_password};
use serde_json::{Value, json};

async fn service_tokens_are_shown_once_and_call_only_sync_routes(mode: Mode) {
    let world = World::start(mode, 0, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let scoped = world
        .admin("Acme", "lead@acme.test", "admin", &[support])
        .await;
    let other = world.admin("Other", "boss@other.test", "master", &[]).await;

    // Created by a master: the token only in this answer.
    let a = master
        .post(
            "/v1/sync/tokens",
            json!({"name": "Okta", "group_id": support}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let created = a.json();
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("rss_") && token.len() > 60, "{token}");
    assert_eq!(
        (&created["name"], &created["group_id"]),
        (&json!("Okta"), &json!(support))
    );
    assert!(created["created_at"].is_string() && created["id"].is_i64());
    let listed = master.get("/v1/sync/tokens").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["items"][0]["id"], created["id"]);
    assert!(
        !text(&listed).contains(&token),
        "a list never shows a token"
    );
    let dump = world.database_dump();
    assert!(
        !String::from_utf8_lossy(&dump).contains(&token[4..]),
        "the database keeps only the token's hash"
    );

    // Bad requests and other callers.
    for (body, status) in [
        (json!({"name": ""}), 422),
        (json!({"name": "x", "group_id": 999_999}), 422),
        (json!({"name": "x", "scope": "all"}), 422),
    ] {
        let a = master.post("/v1/sync/tokens", body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", text(&a));
    }
    assert_eq!(
        scoped
            .post("/v1/sync/tokens", json!({"name": "x"}))
            .await
            .status,
        403
    );
    assert_eq!(scoped.get("/v1/sync/tokens").await.status, 403);
    assert_eq!(
        other.get("/v1/sync/tokens").await.json()["items"],
        json!([])
    );

    // A service token is no administrator: every other route answers 403.
    let service = master.with_token(&token);
    for path in [
        "/v1/technicians",
        "/v1/settings",
        "/v1/imports",
        "/v1/session",
        "/v1/sync/tokens",
    ] {
        let a = service.get(path).await;
        assert_eq!(a.status, 403, "{path}: {}", text(&a));
        assert_eq!(a.json()["code"], "forbidden");
    }
    let a = service.post("/v1/groups", json!({"name": "Mine"})).await;
    assert_eq!(a.status, 403, "{}", text(&a));

    // Revoked: the token is refused from then on, and a second revoke finds nothing.
    let path = format!("/v1/sync/tokens/{}", created["id"]);
    assert_eq!(
        other
            .request(reqwest::Method::DELETE, &path, None)
            .await
            .status,
        404
    );
    assert_eq!(
        scoped
            .request(reqwest::Method::DELETE, &path, None)
            .await
            .status,
        403
    );
    let a = master.request(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(a.status, 204, "{}", text(&a));
    assert_eq!(service.get("/v1/technicians").await.status, 401);
    assert_eq!(
        master.get("/v1/sync/tokens").await.json()["items"],
        json!([])
    );
    assert_eq!(
        master
            .request(reqwest::Method::DELETE, &path, None)
            .await
            .status,
        404
    );
    assert_eq!(
        master
            .request(reqwest::Method::DELETE, "/v1/sync/tokens/x", None)
            .await
            .status,
        404
    );
}

async fn the_default_password_is_write_only_and_follows_the_policy(mode: Mode) {
    let world = World::start(mode, 0, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let settings = master.get("/v1/settings").await.json();
    assert_eq!(settings["sync_default_password_set"], json!(false));

    let a = master
        .patch("/v1/settings", json!({"sync_default_password": "abc"}))
        .await;
    assert_eq!(a.status, 422, "{}", text(&a));
    assert_eq!(a.json()["code"], "weak_password");
    assert!(text(&a).contains("sync_default_password"), "{}", text(&a));
    assert_eq!(
        master.get("/v1/settings").await.json()["sync_default_password_set"],
        json!(false),
        "a refused password changes nothing"
    );
    let a = master
        .patch("/v1/settings", json!({"sync_default_password": 7}))
        .await;
    assert_eq!(a.status, 422, "{}", text(&a));

    let password = strong_password(41);
    let a = master
        .patch(
            "/v1/settings",
            json!({"sync_default_password": password, "force_password_change": false}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let body = a.json();
    assert_eq!(body["sync_default_password_set"], json!(true));
    assert_eq!(body["force_password_change"], json!(false));
    assert!(!text(&a).contains(&password) && body.get("sync_default_password").is_none());
    assert!(!String::from_utf8_lossy(&world.database_dump()).contains(&password));
    let db = world.db().await;
    let org = db.ensure_org("Acme").await.unwrap();
    let hash = db.sync_default_password_hash(org).await.unwrap().unwrap();
    assert!(hash.starts_with('$'), "a PHC hash: {}", &hash[..10]);

    // Sending back what GET shows changes nothing; null clears it.
    let mut back: Value = master.get("/v1/settings").await.json();
    back["sync_default_password_set"] = json!(false);
    let a = master.patch("/v1/settings", back).await;
    assert_eq!(
        a.json()["sync_default_password_set"],
        json!(true),
        "{}",
        text(&a)
    );
    let a = master
        .patch("/v1/settings", json!({"sync_default_password": null}))
        .await;
    assert_eq!(
        a.json()["sync_default_password_set"],
        json!(false),
        "{}",
        text(&a)
    );
    db.close().await;
}

both_modes!(service_tokens_are_shown_once_and_call_only_sync_routes: embedded_service_tokens_are_shown_once_and_call_only_sync_routes, cluster_service_tokens_are_shown_once_and_call_only_sync_routes);

both_modes!(the_default_password_is_write_only_and_follows_the_policy: embedded_the_default_password_is_write_only_and_follows_the_policy, cluster_the_default_password_is_write_only_and_follows_the_policy);
