//! A sync run takes and frees license seats as a file row does.

use super::*;
use roster_tests::both_modes;

/// The seats in use, as `GET /v1/licenses` counts them: (standard, mobile).
async fn seats_used(client: &Client) -> (i64, i64) {
    let l = client.get("/v1/licenses").await.json();
    (
        l["standard"]["used"].as_i64().expect("standard used"),
        l["mobile"]["used"].as_i64().expect("mobile used"),
    )
}

/// A sync run takes license seats as a file row does: a created member takes a
/// standard seat and no mobile one, and one past the last seat fails alone with
/// `license_unavailable` (nothing of it written); a member who left frees its
/// mobile seat; re-enabling a technician that holds a mobile license takes a
/// mobile seat again, or fails the same way when none is left.
async fn a_sync_run_respects_the_license_seats(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let set_seats = |standard: i64, mobile: i64| {
        let master = &master;
        async move {
            let a = master
                .patch(
                    "/v1/settings",
                    json!({"licenses": {"standard_seats": standard, "mobile_seats": mobile}}),
                )
                .await;
            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
        }
    };
    // Tess has a standard and the only mobile seat before any sync.
    let tess = master
        .post(
            "/v1/technicians",
            json!({"name": "Tess", "email": "tess@acme.test",
                   "password": roster_tests::strong_password(1), "enabled": true,
                   "standard_license": true, "mobile_license": true, "group_id": support}),
        )
        .await;
    assert_eq!(tess.status, 201, "{}", String::from_utf8_lossy(&tess.body));
    let tess = tess.json()["id"].as_i64().expect("id");
    set_seats(3, 1).await;

    // Three new members for two standard seats left; Tess is linked by email.
    let (run, rows) = run_snapshot(
        &master,
        support,
        json!([
            member("a", "a@acme.test", true),
            member("b", "b@acme.test", true),
            member("c", "c@acme.test", true),
            member("t", "tess@acme.test", true),
        ]),
    )
    .await;
    assert_eq!(
        counts(&run),
        json!({"created": 2, "updated": 1, "unchanged": 0, "disabled": 0, "failed": 1})
    );
    let statuses: Vec<&str> = rows.iter().filter_map(|r| r["status"].as_str()).collect();
    assert_eq!(
        statuses,
        ["created", "created", "failed", "updated"],
        "{rows:?}"
    );
    let errors = &rows[2]["errors"];
    assert_eq!(
        (&errors[0]["field"], &errors[0]["code"]),
        (&json!("Standard License"), &json!("license_unavailable")),
        "{rows:?}"
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("no seat left"),
        "{errors}"
    );
    assert_eq!(errors.as_array().unwrap().len(), 1, "{errors}");
    assert_eq!(technician(&master, "c@acme.test").await, Value::Null);
    let a = technician(&master, "a@acme.test").await;
    assert_eq!(
        (&a["standard_license"], &a["mobile_license"]),
        (&json!(true), &json!(false)),
        "a standard seat, no mobile license: {a}"
    );
    assert_eq!(seats_used(&master).await, (3, 1));

    // Tess leaves the group: disabled, its mobile seat freed, its standard kept
    // (c still finds no standard seat).
    let (run, rows) = run_snapshot(
        &master,
        support,
        json!([
            member("a", "a@acme.test", true),
            member("b", "b@acme.test", true),
            member("c", "c@acme.test", true),
        ]),
    )
    .await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 0, "unchanged": 2, "disabled": 1, "failed": 1})
    );
    assert_eq!(
        rows[2]["errors"][0]["code"], "license_unavailable",
        "{rows:?}"
    );
    let t = technician(&master, "tess@acme.test").await;
    assert_eq!(
        (&t["id"], &t["enabled"], &t["mobile_license"]),
        (&json!(tess), &json!(false), &json!(false)),
        "{t}"
    );
    assert_eq!(seats_used(&master).await, (3, 0));

    // One more standard seat: c is created. Then a holds the mobile seat and is
    // disabled in Roster (keeping its mobile license, holding no seat), b takes
    // the seat, and the directory still says a is enabled: a's re-enable finds
    // no mobile seat and fails alone.
    set_seats(4, 1).await;
    let (run, _) = run_snapshot(
        &master,
        support,
        json!([
            member("a", "a@acme.test", true),
            member("b", "b@acme.test", true),
            member("c", "c@acme.test", true),
        ]),
    )
    .await;
    assert_eq!(
        counts(&run),
        json!({"created": 1, "updated": 0, "unchanged": 2, "disabled": 0, "failed": 0})
    );
    let b = technician(&master, "b@acme.test").await;
    for (who, change) in [
        (&a, json!({"mobile_license": true})),
        (&a, json!({"enabled": false})),
        (&b, json!({"mobile_license": true})),
    ] {
        let r = master
            .patch(&format!("/v1/technicians/{}", who["id"]), change)
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let (run, rows) = run_snapshot(
        &master,
        support,
        json!([
            member("a", "a@acme.test", true),
            member("b", "b@acme.test", true),
            member("c", "c@acme.test", true),
        ]),
    )
    .await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 0, "unchanged": 2, "disabled": 0, "failed": 1})
    );
    assert_eq!(
        (
            &rows[0]["errors"][0]["field"],
            &rows[0]["errors"][0]["code"]
        ),
        (&json!("Mobile License"), &json!("license_unavailable")),
        "{rows:?}"
    );
    assert_eq!(technician(&master, "a@acme.test").await["enabled"], false);
    assert_eq!(seats_used(&master).await, (4, 1));

    // With the seat back (b's mobile license off), a is enabled again with it.
    let r = master
        .patch(
            &format!("/v1/technicians/{}", b["id"]),
            json!({"mobile_license": false}),
        )
        .await;
    assert_eq!(r.status, 200);
    let (run, _) = run_snapshot(
        &master,
        support,
        json!([
            member("a", "a@acme.test", true),
            member("b", "b@acme.test", true),
            member("c", "c@acme.test", true),
        ]),
    )
    .await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 1, "unchanged": 2, "disabled": 0, "failed": 0})
    );
    let a = technician(&master, "a@acme.test").await;
    assert_eq!(
        (&a["enabled"], &a["mobile_license"]),
        (&json!(true), &json!(true)),
        "{a}"
    );
    assert_eq!(seats_used(&master).await, (4, 1));
}

both_modes!(a_sync_run_respects_the_license_seats: embedded_a_sync_run_respects_the_license_seats, cluster_a_sync_run_respects_the_license_seats);
