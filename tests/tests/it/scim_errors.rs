//! SCIM bad input (API.md v1.1, "SCIM 2.0"): malformed filters, unknown
//! attributes, wrong values, oversized bodies, tokens of another group or
//! organization, an administrator's token: SCIM errors, never a 500, and
//! nothing changed.

use roster_tests::scim::{okta_user, provisioned, scim};
use roster_tests::{Client, Mode, World, both_modes};
use serde_json::{Value, json};

async fn bad_input_is_a_scim_error_and_changes_nothing(mode: Mode) {
    let world = World::start(mode, 0, &[]).await;
    let (master, _group, idp) = provisioned(&world, "acme").await;
    let ana = scim(
        &idp.post("/scim/v2/Users", okta_user("ana@acme.test", "Ana", None))
            .await,
        201,
    );
    let ana_path = format!("/scim/v2/Users/{}", ana["id"].as_str().unwrap());
    let before = (
        master.get("/v1/technicians").await.json(),
        scim(&idp.get("/scim/v2/Users").await, 200),
    );

    // Malformed or unsupported filters.
    for filter in [
        "userName",
        "userName%20co%20%22a%22",
        "title%20eq%20%22x%22",
        "userName%20eq%20%22a",
        "(userName%20eq%20%22a%22",
    ] {
        let a = idp.get(&format!("/scim/v2/Users?filter={filter}")).await;
        assert_eq!(scim(&a, 400)["scimType"], "invalidFilter", "{filter}");
    }
    // Unknown attributes, wrong types, invalid values, weak passwords, bad patches.
    let mut unknown = okta_user("new@acme.test", "New", None);
    unknown["shoeSize"] = json!(44);
    let cases = [
        (
            reqwest::Method::POST,
            "/scim/v2/Users".to_owned(),
            unknown,
            "invalidSyntax",
        ),
        (
            reqwest::Method::POST,
            "/scim/v2/Users".to_owned(),
            okta_user("not-an-email", "X", None),
            "invalidValue",
        ),
        (
            reqwest::Method::POST,
            "/scim/v2/Users".to_owned(),
            okta_user("w@acme.test", "W", Some("abc".into())),
            "invalidValue",
        ),
        (
            reqwest::Method::POST,
            "/scim/v2/Users".to_owned(),
            json!({"userName": 7}),
            "invalidValue",
        ),
        (
            reqwest::Method::POST,
            "/scim/v2/Users".to_owned(),
            json!([1]),
            "invalidSyntax",
        ),
        (
            reqwest::Method::PUT,
            ana_path.clone(),
            json!({"userName": "ana@acme.test", "active": "maybe"}),
            "invalidValue",
        ),
        (
            reqwest::Method::PATCH,
            ana_path.clone(),
            json!({"Operations": [{"op": "replace", "path": "shoeSize", "value": 1}]}),
            "invalidPath",
        ),
        (
            reqwest::Method::PATCH,
            ana_path.clone(),
            json!({"Operations": [{"op": "jump"}]}),
            "invalidSyntax",
        ),
        (
            reqwest::Method::PATCH,
            ana_path.clone(),
            json!({"Operations": [{"op": "remove"}]}),
            "noTarget",
        ),
        (
            reqwest::Method::PATCH,
            ana_path.clone(),
            json!({"Operations": [{"op": "replace", "path": "name.givenName", "value": "x".repeat(300)}]}),
            "invalidValue",
        ),
    ];
    for (method, path, body, kind) in cases {
        let a = idp.request(method.clone(), &path, Some(body.clone())).await;
        assert_eq!(scim(&a, 400)["scimType"], kind, "{method} {body}");
    }
    // Not JSON, and a body over the limit.
    let raw = |body: Vec<u8>| {
        idp.http
            .post(format!("{}/scim/v2/Users", idp.base))
            .bearer_auth(&idp.token)
            .header("content-type", "application/scim+json")
            .body(body)
            .send()
    };
    let a = Client::answer(raw(b"{\"userName\":".to_vec()).await.unwrap()).await;
    assert_eq!(scim(&a, 400)["scimType"], "invalidSyntax");
    let mut big = okta_user("big@acme.test", "Big", None);
    big["displayName"] = json!("x".repeat(200_000));
    let a = Client::answer(raw(big.to_string().into_bytes()).await.unwrap()).await;
    scim(&a, 413);

    // Other callers: another group's token, another organization's, an
    // administrator's, none, a token without a group, a revoked one.
    let other_group = master.group("Other", None).await;
    let token = |group: Value| {
        let master = master.clone();
        async move {
            let a = master
                .post("/v1/sync/tokens", json!({"name": "t", "group_id": group}))
                .await;
            a.json()
        }
    };
    let other = token(json!(other_group)).await;
    let other = master.with_token(other["token"].as_str().unwrap());
    scim(&other.get(&ana_path).await, 404);
    scim(
        &other
            .request(reqwest::Method::DELETE, &ana_path, None)
            .await,
        404,
    );
    assert_eq!(
        scim(&other.get("/scim/v2/Users").await, 200)["totalResults"],
        0
    );
    let (_, _, elsewhere) = provisioned(&world, "globex").await;
    scim(&elsewhere.get(&ana_path).await, 404);
    scim(
        &elsewhere
            .patch(
                &ana_path,
                json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await,
        404,
    );
    scim(&master.get("/scim/v2/Users").await, 403);
    scim(&master.with_token("").get("/scim/v2/Users").await, 401);
    let groupless = token(Value::Null).await;
    scim(
        &master
            .with_token(groupless["token"].as_str().unwrap())
            .get("/scim/v2/Users")
            .await,
        403,
    );
    let revoked = token(json!(other_group)).await;
    let path = format!("/v1/sync/tokens/{}", revoked["id"]);
    assert_eq!(
        master
            .request(reqwest::Method::DELETE, &path, None)
            .await
            .status,
        204
    );
    scim(
        &master
            .with_token(revoked["token"].as_str().unwrap())
            .get("/scim/v2/Users")
            .await,
        401,
    );
    scim(&idp.get("/scim/v2/Groups").await, 404);

    let after = (
        master.get("/v1/technicians").await.json(),
        scim(&idp.get("/scim/v2/Users").await, 200),
    );
    assert_eq!(before, after, "nothing changed");
}

both_modes!(bad_input_is_a_scim_error_and_changes_nothing: embedded_bad_input_is_a_scim_error_and_changes_nothing, cluster_bad_input_is_a_scim_error_and_changes_nothing);
