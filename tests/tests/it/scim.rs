//! SCIM 2.0 at `/scim/v2` (API.md v1.1, "SCIM 2.0 for Okta and Microsoft
//! Entra ID"), against the real roster-api: the request sequences Okta's and
//! Microsoft's provisioning guides show, bad input answered in SCIM's error
//! form without a change (scim_errors.rs), and scim2-tester run against the server.

use roster_tests::{Mode, World, both_modes, strong_password};
use serde_json::json;

use roster_tests::client::{technician, text};
use roster_tests::scim::{PATCH, USER, okta_user, provisioned, scim};

async fn okta_and_entra_sequences_provision_technicians(mode: Mode) {
    let world = World::start(mode, 0, &[]).await;
    let (master, group, idp) = provisioned(&world, "acme").await;

    // "Test connection": a random user is looked up; the answer is an empty list.
    let a = idp
        .get("/scim/v2/Users?filter=userName%20eq%20%22e7f1c0d2-rnd%40example.com%22&startIndex=1&count=1")
        .await;
    let list = scim(&a, 200);
    assert_eq!(
        (list["totalResults"].clone(), list["Resources"].clone()),
        (json!(0), json!([]))
    );

    // Okta: look up, then create with a password.
    let a = idp
        .post(
            "/scim/v2/Users",
            okta_user("ana@acme.test", "Ana", Some(strong_password(1))),
        )
        .await;
    let ana = scim(&a, 201);
    let ana_id = ana["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            &ana["userName"],
            &ana["displayName"],
            &ana["name"]["formatted"],
            &ana["active"],
            &ana["externalId"]
        ),
        (
            &json!("ana@acme.test"),
            &json!("Ana Silva"),
            &json!("Ana Silva"),
            &json!(true),
            &json!("00uAna")
        )
    );
    assert!(
        !text(&a).contains(&strong_password(1)),
        "the password is never shown"
    );
    let t = technician(&master, "ana@acme.test").await;
    assert_eq!(
        (&t["group_id"], &t["enabled"], &t["standard_license"]),
        (&json!(group), &json!(true), &json!(true))
    );

    // Lookups by each filter Okta and Entra send (userName case-insensitive).
    for filter in [
        "userName%20eq%20%22ANA%40acme.test%22",
        "externalId%20eq%20%2200uAna%22",
        "emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22ana%40acme.test%22",
    ] {
        let list = scim(
            &idp.get(&format!("/scim/v2/Users?filter={filter}")).await,
            200,
        );
        assert_eq!(list["totalResults"], json!(1), "{filter}: {list}");
        assert_eq!(list["Resources"][0]["id"], json!(ana_id));
    }

    // The duplicate create: 409 uniqueness, nothing created.
    let a = idp
        .post("/scim/v2/Users", okta_user("Ana@Acme.test", "Ana", None))
        .await;
    assert_eq!(scim(&a, 409)["scimType"], "uniqueness");

    // Okta's PUT update.
    let mut put = okta_user("ana@acme.test", "Anna", None);
    put["id"] = json!(ana_id);
    put["nickName"] = json!("anna");
    let updated = scim(
        &idp.request(
            reqwest::Method::PUT,
            &format!("/scim/v2/Users/{ana_id}"),
            Some(put.clone()),
        )
        .await,
        200,
    );
    assert_eq!(
        (&updated["displayName"], &updated["nickName"]),
        (&json!("Anna Silva"), &json!("anna"))
    );
    assert_eq!(
        technician(&master, "ana@acme.test").await["name"],
        "Anna Silva"
    );

    // Deactivate (Okta: PATCH replace active false) frees the mobile seat; PUT reactivates.
    let tid = technician(&master, "ana@acme.test").await["id"].clone();
    let a = master
        .patch(
            &format!("/v1/technicians/{tid}"),
            json!({"mobile_license": true}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(master.get("/v1/licenses").await.json()["mobile"]["used"], 1);
    let okta_off =
        json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let off = scim(
        &idp.patch(&format!("/scim/v2/Users/{ana_id}"), okta_off)
            .await,
        200,
    );
    assert_eq!(off["active"], false);
    assert_eq!(technician(&master, "ana@acme.test").await["enabled"], false);
    assert_eq!(master.get("/v1/licenses").await.json()["mobile"]["used"], 0);
    put["active"] = json!(true);
    let on = scim(
        &idp.request(
            reqwest::Method::PUT,
            &format!("/scim/v2/Users/{ana_id}"),
            Some(put),
        )
        .await,
        200,
    );
    assert_eq!(on["active"], true);
    assert_eq!(master.get("/v1/licenses").await.json()["mobile"]["used"], 1);

    // Entra: create without a password (the default one, changed at first
    // sign-in), then its PATCH forms: capitalized ops, "False"/"True", dotted keys.
    let entra = json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "5f3c-entra", "userName": "bo@acme.test", "active": true,
        "displayName": "Bo Ek", "emails": [{"primary": true, "type": "work", "value": "bo@acme.test"}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "Bo Ek", "familyName": "Ek", "givenName": "Bo"},
        "roles": [], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "IT"}
    });
    let bo = scim(&idp.post("/scim/v2/Users", entra).await, 201);
    let bo_id = bo["id"].as_str().unwrap().to_owned();
    assert_eq!(
        technician(&master, "bo@acme.test").await["must_change_password"],
        true
    );
    let entra_off = json!({"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    assert_eq!(
        scim(
            &idp.patch(&format!("/scim/v2/Users/{bo_id}"), entra_off)
                .await,
            200
        )["active"],
        false
    );
    let entra_on = json!({"schemas": [PATCH], "Operations": [
        {"op": "Replace", "value": {"active": "True", "name.familyName": "Ekström", "displayName": "Bo Ekström"}},
        {"op": "Add", "path": "title", "value": "Lead"},
        {"op": "Remove", "path": "nickName", "value": "bo"}
    ]});
    let on = scim(
        &idp.patch(&format!("/scim/v2/Users/{bo_id}"), entra_on)
            .await,
        200,
    );
    assert_eq!(
        (&on["active"], &on["displayName"], &on["name"]["familyName"]),
        (&json!(true), &json!("Bo Ekström"), &json!("Ekström"))
    );

    // Paging in provisioning order: startIndex/count/totalResults.
    scim(
        &idp.post("/scim/v2/Users", okta_user("cy@acme.test", "Cy", None))
            .await,
        201,
    );
    let page = scim(&idp.get("/scim/v2/Users?startIndex=2&count=1").await, 200);
    assert_eq!(
        (
            &page["totalResults"],
            &page["startIndex"],
            &page["itemsPerPage"]
        ),
        (&json!(3), &json!(2), &json!(1))
    );
    assert_eq!(page["Resources"][0]["id"], json!(bo_id));

    // A search by POST, with the list's parameters in the body.
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName eq \"cy@acme.test\"", "attributes": ["userName"]});
    for path in ["/scim/v2/Users/.search", "/scim/v2/.search"] {
        let found = scim(&idp.post(path, search.clone()).await, 200);
        assert_eq!(found["totalResults"], 1, "{path}: {found}");
        assert_eq!(found["Resources"][0]["userName"], "cy@acme.test");
        assert!(
            found["Resources"][0].get("displayName").is_none(),
            "{found}"
        );
    }

    // DELETE disables and unlinks; the technician stays.
    scim(
        &idp.request(
            reqwest::Method::DELETE,
            &format!("/scim/v2/Users/{bo_id}"),
            None,
        )
        .await,
        204,
    );
    scim(&idp.get(&format!("/scim/v2/Users/{bo_id}")).await, 404);
    let t = technician(&master, "bo@acme.test").await;
    assert_eq!(
        (t["enabled"].clone(), t["name"].clone()),
        (json!(false), json!("Bo Ekström"))
    );
    assert_eq!(
        scim(&idp.get("/scim/v2/Users").await, 200)["totalResults"],
        2
    );
}

/// scim2-tester (PyPI `scim2-cli`, installed by scripts/test in
/// ~/.cache/roster/scim-venv; `ROSTER_SCIM_PYTHON` names another Python with
/// it) through scripts/scim-check.py, which lists the checks switched off and why.
#[tokio::test]
async fn embedded_scim2_tester_finds_no_error() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let (_, _, idp) = provisioned(&world, "acme").await;
    let python = std::env::var("ROSTER_SCIM_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/roster/scim-venv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/scim-check.py");
    let out = std::process::Command::new(&python)
        .args([script, &format!("{}/scim/v2", idp.base), &idp.token])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (scripts/test installs scim2-cli)"));
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scim2-tester found errors:\n{report}");
    assert!(
        report.lines().filter(|l| l.starts_with("SUCCESS")).count() >= 20,
        "{report}"
    );
}

both_modes!(okta_and_entra_sequences_provision_technicians: embedded_okta_and_entra_sequences_provision_technicians, cluster_okta_and_entra_sequences_provision_technicians);
