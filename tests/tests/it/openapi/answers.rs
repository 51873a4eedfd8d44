//! Real answers against the document: every route's answers, and SCIM's,
//! conform to what `/openapi.json` says of them.

use super::*;

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
