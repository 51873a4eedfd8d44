//! Changing a technician: a patch round trip keeps the password hash
//! inside.

use super::*;

#[tokio::test]
async fn embedded_a_technician_patch_round_trip_keeps_the_hash_inside() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups {
        root,
        sub,
        other,
        globex,
    } = groups;
    import(
        &cast.master,
        full_csv(&[("Ka Patch", "ka@acme.test", &strong_password(10), root)]),
        &[],
    )
    .await;
    let id = technician_id(&cast.master, "ka@acme.test").await;
    let path = format!("/v1/technicians/{id}");
    let db = world.db().await;
    let stored_hash = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM technicians WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let first_hash = stored_hash().await;
    let mut answers: Vec<Answer> = Vec::new();

    // The in-scope admin moves it to the sub-group and changes every field.
    let a = cast
        .inside
        .patch(
            &path,
            json!({"group_id": sub, "name": "Ka Renamed", "nickname": "Kay", "sso_id": "sso-ka",
                   "description": "Tier 2", "enabled": false, "standard_license": false,
                   "mobile_license": true}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let t = a.json();
    assert_eq!(t["group_id"], sub);
    assert_eq!(t["name"], "Ka Renamed");
    assert_eq!(t["nickname"], "Kay");
    assert_eq!(t["sso_id"], "sso-ka");
    assert_eq!(t["description"], "Tier 2");
    assert_eq!(t["enabled"], false);
    assert_eq!(t["standard_license"], false);
    assert_eq!(t["mobile_license"], true);
    assert_eq!(t["email"], "ka@acme.test");
    assert_eq!(t["must_change_password"], true);
    answers.push(a);
    // What it answered is what a GET shows; null and "" clear the optional texts.
    let a = cast
        .master
        .patch(&path, json!({"nickname": null, "sso_id": ""}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["nickname"], Value::Null);
    assert_eq!(a.json()["sso_id"], Value::Null);
    assert_eq!(a.json()["description"], "Tier 2");
    let got = cast.master.get(&path).await;
    assert_eq!(got.json(), a.json());
    answers.push(got);

    // Moves stay inside the caller's scope and the organization.
    for (body, status, code) in [
        (json!({"group_id": other}), 403, "forbidden"),
        (json!({"group_id": globex}), 422, "unknown_group"),
        (json!({"group_id": 999_999}), 422, "unknown_group"),
        (json!({"name": ""}), 422, "invalid_request"),
        (json!({"name": "x".repeat(129)}), 422, "invalid_request"),
        (json!({"email": "new@acme.test"}), 422, "invalid_request"),
        (json!({"enabled": "maybe"}), 422, "invalid_request"),
    ] {
        let a = cast.inside.patch(&path, body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", text(&a));
        assert_eq!(a.json()["code"], code, "{body}");
        assert_eq!(a.headers["content-type"], "application/problem+json");
    }
    let a = cast.master.patch(&path, json!({"group_id": other})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    // Now outside the in-scope admin's groups.
    assert_eq!(cast.inside.get(&path).await.status, 403);
    assert_eq!(
        cast.inside
            .patch(&path, json!({"group_id": root}))
            .await
            .status,
        403
    );
    let a = cast.outside.patch(&path, json!({"enabled": true})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["enabled"], true);
    answers.push(a);

    // A weak password is refused and changes nothing.
    for weak in ["abc", "password1", "ka@acme.test"] {
        let a = cast.master.patch(&path, json!({"password": weak})).await;
        assert_eq!(a.status, 422, "{weak}: {}", text(&a));
        assert_eq!(a.json()["code"], "weak_password");
        assert!(!text(&a).contains(weak), "the answer quotes the password");
    }
    assert_eq!(stored_hash().await, first_hash);

    // A new password: hashed with the configured scheme; must_change_password
    // follows the organization's setting at that moment.
    let a = cast
        .master
        .patch("/v1/settings", json!({"force_password_change": false}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let new_password = "Violet-Harbor-Kettle-5512";
    let a = cast
        .outside
        .patch(&path, json!({"password": new_password}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["must_change_password"], false);
    answers.push(a);
    let second_hash = stored_hash().await;
    assert_ne!(second_hash, first_hash);
    assert!(
        second_hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{second_hash}"
    );
    assert!(HashScheme::verify(new_password, &second_hash));
    assert!(!HashScheme::verify(&strong_password(10), &second_hash));

    cast.master
        .patch("/v1/settings", json!({"force_password_change": true}))
        .await;
    let a = cast
        .master
        .patch(&path, json!({"password": "Maple-Comet-Lantern-8830"}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["must_change_password"], true);
    answers.push(a);
    let third_hash = stored_hash().await;
    assert!(HashScheme::verify("Maple-Comet-Lantern-8830", &third_hash));

    // No answer ever carried a hash or a password; the database holds neither password.
    answers.push(cast.master.get("/v1/technicians").await);
    answers.push(cast.master.get(&path).await);
    for a in &answers {
        let body = text(a);
        for secret in [
            first_hash.as_str(),
            second_hash.as_str(),
            third_hash.as_str(),
            "$argon2id$",
            "password_hash",
            new_password,
        ] {
            assert!(!body.contains(secret), "an answer holds {secret}: {body}");
        }
    }
    let dump = world.database_dump();
    for secret in [new_password, "Maple-Comet-Lantern-8830"] {
        assert!(
            !contains(&dump, secret.as_bytes()),
            "the database holds a password"
        );
    }
    for log in ["api.log", "admin.log"] {
        assert!(!world.log(log).contains(new_password), "{log}");
    }
}
