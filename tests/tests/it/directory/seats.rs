//! License seats: technician patches, imports and concurrent imports never
//! take more seats than the organization has.

use super::*;

#[tokio::test]
async fn embedded_license_seats_hold_on_technician_patches() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    import(
        &api,
        full_csv(&[
            ("La One", "la@acme.test", &strong_password(1), group),
            ("Mo Two", "mo@acme.test", &strong_password(2), group),
            ("Ni Three", "ni@acme.test", &strong_password(3), group),
        ]),
        &[],
    )
    .await;
    let la = format!(
        "/v1/technicians/{}",
        technician_id(&api, "la@acme.test").await
    );
    let mo = format!(
        "/v1/technicians/{}",
        technician_id(&api, "mo@acme.test").await
    );
    let licenses = || async { api.get("/v1/licenses").await.json() };
    assert_eq!(
        licenses().await,
        json!({"standard": {"seats": null, "used": 3}, "mobile": {"seats": null, "used": 0}})
    );

    let a = api
        .patch(
            "/v1/settings",
            json!({"licenses": {"standard_seats": 3, "mobile_seats": 1}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let refused = |a: Answer, what: &str| {
        assert_eq!(a.status, 409, "{what}: {}", text(&a));
        assert_eq!(a.json()["code"], "license_unavailable", "{what}");
    };

    // The one mobile seat.
    assert_eq!(
        api.patch(&la, json!({"mobile_license": true})).await.status,
        200
    );
    assert_eq!(licenses().await["mobile"], json!({"seats": 1, "used": 1}));
    refused(
        api.patch(&mo, json!({"mobile_license": true})).await,
        "second mobile",
    );
    // A disabled technician holds no mobile seat, so disabling frees it...
    assert_eq!(api.patch(&la, json!({"enabled": false})).await.status, 200);
    assert_eq!(licenses().await["mobile"]["used"], 0);
    assert_eq!(
        api.patch(&mo, json!({"mobile_license": true})).await.status,
        200
    );
    // ...and enabling again needs one.
    refused(api.patch(&la, json!({"enabled": true})).await, "re-enable");
    let la_now = api.get(&la).await.json();
    assert_eq!(la_now["enabled"], false, "a refused patch changes nothing");
    // A patch that takes no new seat passes though the seats are all in use.
    assert_eq!(
        api.patch(&mo, json!({"name": "Mo Renamed", "mobile_license": true}))
            .await
            .status,
        200
    );

    // Standard seats: 3 of 3 in use; freeing one lets one back in.
    assert_eq!(licenses().await["standard"], json!({"seats": 3, "used": 3}));
    assert_eq!(
        api.patch(&la, json!({"standard_license": false}))
            .await
            .status,
        200
    );
    let a = api
        .patch("/v1/settings", json!({"licenses": {"standard_seats": 2}}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    refused(
        api.patch(&la, json!({"standard_license": true})).await,
        "standard over the lowered limit",
    );
    // Unlimited again.
    let a = api
        .patch(
            "/v1/settings",
            json!({"licenses": {"standard_seats": null}}),
        )
        .await;
    assert_eq!(a.json()["licenses"]["standard_seats"], Value::Null);
    assert_eq!(a.json()["licenses"]["mobile_seats"], 1);
    assert_eq!(
        api.patch(&la, json!({"standard_license": true}))
            .await
            .status,
        200
    );
    assert_eq!(
        licenses().await,
        json!({"standard": {"seats": null, "used": 3}, "mobile": {"seats": 1, "used": 1}})
    );
}

/// A full-layout CSV from `(email, enabled, standard, mobile)` rows, all in `group`.
fn licensed_csv(rows: &[(&str, bool, bool, bool)], group: i64) -> String {
    let yes = |b: bool| if b { "Yes" } else { "No" };
    let mut out = String::from(
        "Name,Nickname,Email,Single Sign-On ID,Description,Password,Enabled,Standard License,Mobile License,Tech Group ID\n",
    );
    for (i, (email, enabled, standard, mobile)) in rows.iter().enumerate() {
        out.push_str(&format!(
            "Tech {i},,{email},,,{},{},{},{},{group}\n",
            strong_password(100 + i),
            yes(*enabled),
            yes(*standard),
            yes(*mobile)
        ));
    }
    out
}

#[tokio::test]
async fn embedded_imports_stop_at_the_license_seats() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let a = api
        .patch(
            "/v1/settings",
            json!({"licenses": {"standard_seats": 3, "mobile_seats": 2}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let done = import(
        &api,
        licensed_csv(
            &[
                ("s1@acme.test", true, true, true),
                // Disabled: takes a standard seat, no mobile one.
                ("s2@acme.test", false, true, true),
                ("s3@acme.test", true, true, true),
                ("s4@acme.test", true, false, true),
                ("s5@acme.test", true, true, false),
                ("s6@acme.test", true, false, false),
            ],
            group,
        ),
        &[],
    )
    .await;
    let id = done["id"].as_str().unwrap();
    let outcomes: Vec<(String, String, String)> = api
        .all_rows(id)
        .await
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["errors"][0]["field"].as_str().unwrap_or("").to_owned(),
                r["errors"][0]["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("created", "", ""),
        ("created", "", ""),
        ("created", "", ""),
        ("failed", "Mobile License", "license_unavailable"),
        ("failed", "Standard License", "license_unavailable"),
        ("created", "", ""),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(outcomes, expected);
    assert_eq!(
        api.get("/v1/licenses").await.json(),
        json!({"standard": {"seats": 3, "used": 3}, "mobile": {"seats": 2, "used": 2}})
    );
    let (sheet, _) = api.result_sheet(id).await;
    assert!(
        sheet[4][10].starts_with("Error: Mobile License"),
        "{sheet:?}"
    );
}

#[tokio::test]
async fn cluster_concurrent_imports_never_exceed_the_seats() {
    let world = World::start(Mode::Cluster, 2, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let a = api
        .patch("/v1/settings", json!({"licenses": {"standard_seats": 5}}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let file = |prefix: &str| {
        let emails: Vec<String> = (0..4).map(|i| format!("{prefix}{i}@acme.test")).collect();
        let rows: Vec<(&str, bool, bool, bool)> = emails
            .iter()
            .map(|e| (e.as_str(), true, true, false))
            .collect();
        licensed_csv(&rows, group).into_bytes()
    };
    let (a, b) = tokio::join!(
        api.upload("a.csv", file("a"), &[]),
        api.upload("b.csv", file("b"), &[])
    );
    let mut created = 0;
    let mut refused = 0;
    for a in [a, b] {
        assert_eq!(a.status, 202, "{}", text(&a));
        let id = a.json()["id"].as_str().unwrap().to_owned();
        let done = api.wait_finished(&id, FINISH).await;
        assert_eq!(done["status"], "completed", "{done}");
        created += done["counts"]["created"].as_i64().unwrap();
        for row in api.all_rows(&id).await {
            if row["status"] == "failed" {
                assert_eq!(row["errors"][0]["code"], "license_unavailable", "{row}");
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (5, 3));
    assert_eq!(
        api.get("/v1/licenses").await.json()["standard"],
        json!({"seats": 5, "used": 5})
    );
}
