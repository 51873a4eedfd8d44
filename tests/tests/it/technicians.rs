//! Adding one technician, `POST /v1/technicians` (API.md, "Adding one
//! technician"), and the group type-ahead `GET /v1/groups?q=`: the rules of an
//! import row with the same codes, every problem of a request at once, scope,
//! seats, and the race of two requests for one email.

use roster_tests::client::{error_pairs, text};
use roster_tests::{Mode, World, both_modes, strong_password};
use serde_json::{Value, json};

fn technician(email: &str, group: i64) -> Value {
    json!({
        "name": "Ana Silva", "nickname": "ana", "email": email, "sso_id": "sso-1",
        "description": "tier 1", "password": strong_password(7), "enabled": true,
        "standard_license": true, "mobile_license": false, "group_id": group
    })
}

async fn one_technician_follows_the_rules_of_a_row(mode: Mode) {
    let world = World::start(mode, 0, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let tier1 = master.group("Tier 1", Some(support)).await;
    let other = master.group("Other", None).await;
    let scoped = world
        .admin("Acme", "lead@acme.test", "admin", &[support])
        .await;

    // Created, with the organization's forced password change; no password or hash shown.
    let a = master
        .post("/v1/technicians", technician("ana@acme.test", tier1))
        .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let ana = a.json();
    assert_eq!(
        (&ana["name"], &ana["group_id"], &ana["must_change_password"]),
        (&json!("Ana Silva"), &json!(tier1), &json!(true))
    );
    assert_eq!(ana["import_id"], Value::Null);
    assert!(!text(&a).contains(&strong_password(7)) && !text(&a).contains("argon2"));
    let listed = master
        .get("/v1/technicians?email=ANA@acme.test")
        .await
        .json();
    assert_eq!(listed["items"][0]["id"], ana["id"]);

    // Every problem at once, each as a row outcome names it.
    let bad = json!({"name": "", "email": "not-an-email", "password": "abc",
                     "standard_license": true, "mobile_license": false, "group_id": 0});
    let a = master.post("/v1/technicians", bad).await;
    assert_eq!(a.status, 422, "{}", text(&a));
    assert_eq!(a.json()["code"], "invalid_request");
    let got = error_pairs(&a.json());
    for want in [
        ("Name", "required"),
        ("Email", "invalid_email"),
        ("Password", "weak_password"),
        ("Enabled", "required"),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in {got:?}"
        );
    }
    assert!(
        got.iter().any(|(field, _)| field == "Tech Group ID"),
        "{got:?}"
    );
    assert!(
        !text(&a).contains("\"abc\""),
        "the password is never echoed"
    );
    // Typed: flags are booleans and the group a number, not a file's words.
    let mut words = technician("bo@acme.test", tier1);
    words["enabled"] = json!("Yes");
    words["mobile_license"] = json!(0);
    words["group_id"] = json!(tier1.to_string());
    words["name"] = json!(5);
    let a = master.post("/v1/technicians", words).await;
    assert_eq!(
        error_pairs(&a.json()),
        [
            ("Name".to_owned(), "invalid_value".to_owned()),
            ("Enabled".to_owned(), "invalid_value".to_owned()),
            ("Mobile License".to_owned(), "invalid_value".to_owned()),
            ("Tech Group ID".to_owned(), "invalid_value".to_owned()),
        ]
    );
    assert_eq!(
        master
            .post("/v1/technicians", technician("bo@acme.test", tier1))
            .await
            .status,
        201
    );
    // Unknown fields, and values no cell can hold.
    let mut extra = technician("cy@acme.test", tier1);
    extra["colour"] = json!("red");
    assert_eq!(master.post("/v1/technicians", extra).await.status, 422);
    let mut nested = technician("cy@acme.test", tier1);
    nested["name"] = json!({"first": "Cy"});
    let a = master.post("/v1/technicians", nested).await;
    assert_eq!(
        error_pairs(&a.json()),
        [("Name".to_owned(), "invalid_value".to_owned())]
    );

    // The group: unknown is 422, outside the caller's scope 403.
    let a = master
        .post("/v1/technicians", technician("dee@acme.test", 999_999))
        .await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (422, json!("unknown_group"))
    );
    let a = scoped
        .post("/v1/technicians", technician("dee@acme.test", other))
        .await;
    assert_eq!(a.status, 403, "{}", text(&a));
    let a = scoped
        .post("/v1/technicians", technician("dee@acme.test", tier1))
        .await;
    assert_eq!(
        a.status,
        201,
        "a sub-group of the admin's group: {}",
        text(&a)
    );

    // The email: taken in the organization, whatever its case.
    let a = master
        .post("/v1/technicians", technician("ANA@ACME.test", support))
        .await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (409, json!("email_taken"))
    );
    // Another organization may use it.
    let globex = world.admin("Globex", "m@globex.test", "master", &[]).await;
    let g = globex.group("Globex Support", None).await;
    assert_eq!(
        globex
            .post("/v1/technicians", technician("ana@acme.test", g))
            .await
            .status,
        201
    );

    // Seats: none left for a mobile license.
    let a = master
        .patch("/v1/settings", json!({"licenses": {"mobile_seats": 0}}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let mut mobile = technician("eve@acme.test", tier1);
    mobile["mobile_license"] = json!(true);
    let a = master.post("/v1/technicians", mobile.clone()).await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (409, json!("license_unavailable"))
    );
    // A disabled technician holds no mobile seat.
    mobile["enabled"] = json!(false);
    assert_eq!(master.post("/v1/technicians", mobile).await.status, 201);

    // The race of two requests for one email: one 201, one 409.
    for round in 0..5 {
        let email = format!("race{round}@acme.test");
        let (a, b) = tokio::join!(
            master.post("/v1/technicians", technician(&email, tier1)),
            master.post("/v1/technicians", technician(&email, support))
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "{} / {}", text(&a), text(&b));
    }

    // The type-ahead: names containing the text, with their paths, in scope.
    let found = master.get("/v1/groups?q=TIER").await.json();
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["path"], "Support / Tier 1");
    assert_eq!(items[0]["id"], tier1);
    let all = master.get("/v1/groups").await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        master.get("/v1/groups?q=t&limit=1").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(master.get("/v1/groups?limit=0").await.status, 422);
    let mine = scoped.get("/v1/groups?q=o").await.json();
    let names: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Support"],
        "the scoped admin sees only its groups: {mine}"
    );
}

both_modes!(one_technician_follows_the_rules_of_a_row: embedded_one_technician_follows_the_rules_of_a_row, cluster_one_technician_follows_the_rules_of_a_row);
