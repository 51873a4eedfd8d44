//! Group moves (no cycles, within the caller's scope) and the
//! organization's settings (a stricter password policy fails weak rows).

use super::*;

#[tokio::test]
async fn embedded_groups_move_without_cycles_and_within_scope() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups {
        root, sub, other, ..
    } = groups;
    let deep = cast.inside.group("Deep", Some(sub)).await;
    let patch = |client: &Client, id: i64, body: Value| {
        let client = client.clone();
        async move { client.patch(&format!("/v1/groups/{id}"), body).await }
    };

    // No group moves under itself or its own sub-groups.
    for (id, parent) in [(root, root), (root, sub), (root, deep), (sub, deep)] {
        let a = patch(&cast.master, id, json!({"parent_id": parent})).await;
        assert_eq!(a.status, 422, "{id} under {parent}: {}", text(&a));
        assert_eq!(a.json()["code"], "invalid_request");
    }
    let a = patch(&cast.master, root, json!({"parent_id": 999_999})).await;
    assert_eq!(a.status, 422, "{}", text(&a));
    // Nothing moved.
    assert_eq!(
        cast.master.get(&format!("/v1/groups/{root}")).await.json()["parent_id"],
        Value::Null
    );

    // The admin moves inside its scope, never out of it nor to the top.
    let a = patch(&cast.inside, deep, json!({"parent_id": root})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        a.json(),
        json!({"id": deep, "name": "Deep", "parent_id": root})
    );
    for (body, status) in [
        (json!({"parent_id": other}), 403),
        (json!({"parent_id": null}), 403),
        (json!({"name": " "}), 422),
        (json!({"colour": "red"}), 422),
    ] {
        let a = patch(&cast.inside, deep, body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", text(&a));
        assert_eq!(a.headers["content-type"], "application/problem+json");
    }
    assert_eq!(
        patch(&cast.outside, other, json!({"parent_id": sub}))
            .await
            .status,
        403
    );
    // Sub-groups inside the scope, but no top-level groups.
    let a = cast
        .inside
        .post("/v1/groups", json!({"name": "Top", "parent_id": null}))
        .await;
    assert_eq!(a.status, 403, "{}", text(&a));
    let a = cast
        .inside
        .post(
            "/v1/groups",
            json!({"name": "Elsewhere", "parent_id": other}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", text(&a));

    // The master moves a group to the top; it leaves the admin's scope with its sub-groups.
    let a = patch(
        &cast.master,
        sub,
        json!({"parent_id": null, "name": "Free"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        a.json(),
        json!({"id": sub, "name": "Free", "parent_id": null})
    );
    assert_eq!(
        cast.inside.get(&format!("/v1/groups/{sub}")).await.status,
        403
    );
    let visible = ids(&cast.inside.get("/v1/groups").await.json());
    assert_eq!(visible, [root, deep]);
    // And moves it back under another group.
    let a = patch(&cast.master, sub, json!({"parent_id": other})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        cast.outside.get(&format!("/v1/groups/{sub}")).await.status,
        200
    );
}

#[tokio::test]
async fn embedded_settings_change_and_a_stricter_policy_fails_weak_rows() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    assert_eq!(
        api.get("/v1/settings").await.json(),
        json!({"password_policy": {"min_length": 8, "min_strength": 2},
               "force_password_change": true,
               "licenses": {"standard_seats": null, "mobile_seats": null},
               "max_rows_per_file": 1_000_000,
               "sync_default_password_set": false})
    );
    // Out-of-range and unknown settings are refused and change nothing.
    for body in [
        json!({"password_policy": {"min_length": 0}}),
        json!({"password_policy": {"min_strength": 5}}),
        json!({"max_rows_per_file": 0}),
        json!({"licenses": {"mobile_seats": -1}}),
        json!({"password_policy": {"min_lenght": 12}}),
        json!({"force_password_change": "yes"}),
        json!(7),
    ] {
        let a = api.patch("/v1/settings", body.clone()).await;
        assert_eq!(a.status, 422, "{body}: {}", text(&a));
        assert_eq!(a.json()["code"], "invalid_request", "{body}");
    }
    let a = api
        .patch(
            "/v1/settings",
            json!({"password_policy": {"min_length": 24}, "max_rows_per_file": 500}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let settings = api.get("/v1/settings").await.json();
    assert_eq!(settings, a.json());
    assert_eq!(
        settings["password_policy"],
        json!({"min_length": 24, "min_strength": 2})
    );
    assert_eq!(settings["max_rows_per_file"], 500);

    // strong_password() has 20 characters: strong, but now too short.
    let long = "Plum-Orbit-Cactus-Harbor-77";
    let done = import(
        &api,
        full_csv(&[
            ("Oz Short", "oz@acme.test", &strong_password(1), group),
            ("Pi Long", "pi@acme.test", long, group),
        ]),
        &[],
    )
    .await;
    assert_eq!(done["counts"]["created"], 1, "{done}");
    assert_eq!(done["counts"]["failed"], 1, "{done}");
    let rows = api.all_rows(done["id"].as_str().unwrap()).await;
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["errors"][0]["field"], "Password");
    assert_eq!(rows[0]["errors"][0]["code"], "weak_password");
    assert!(
        rows[0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("24"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[1]["status"], "created");
    // The technician API applies the same policy.
    let pi = technician_id(&api, "pi@acme.test").await;
    let a = api
        .patch(
            &format!("/v1/technicians/{pi}"),
            json!({"password": strong_password(2)}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", text(&a));
    assert_eq!(a.json()["code"], "weak_password");
}
