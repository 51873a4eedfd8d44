//! The same rules on PostgreSQL with separate workers: roles, tokens and
//! seat races.

use super::*;

#[tokio::test]
async fn cluster_roles_tokens_and_seat_races_hold_on_postgres() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups { sub, other, .. } = groups;

    // With no worker running the import stays queued: it can be cancelled, by its starter.
    let a = cast
        .inside
        .upload(
            "queued.csv",
            full_csv(&[("Qu Queued", "qu@acme.test", &strong_password(1), sub)]).into_bytes(),
            &[],
        )
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    let queued = a.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/imports/{queued}");
    cast.expect(
        Method::GET,
        &format!("{path}/result.xlsx"),
        None,
        [409, 409, 404, 404, 401],
    )
    .await;
    for client in [&cast.outside, &cast.stranger, &cast.anonymous] {
        let a = client.post(&format!("{path}/cancel"), json!({})).await;
        assert!([401, 404].contains(&a.status), "{}", text(&a));
    }
    let a = cast.inside.post(&format!("{path}/cancel"), json!({})).await;
    assert_eq!(a.status, 202, "{}", text(&a));
    world.start_worker();
    let done = cast.inside.wait_finished(&queued, FINISH).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(
        cast.master
            .get("/v1/technicians?email=qu@acme.test")
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Six technicians, then two mobile seats raced for by six concurrent patches.
    let rows: Vec<(String, String)> = (0..6)
        .map(|i| (format!("Racer {i}"), format!("racer{i}@acme.test")))
        .collect();
    let passwords: Vec<String> = (0..6).map(|i| strong_password(20 + i)).collect();
    let csv_rows: Vec<(&str, &str, &str, i64)> = rows
        .iter()
        .zip(&passwords)
        .map(|((n, e), p)| (n.as_str(), e.as_str(), p.as_str(), sub))
        .collect();
    import(&cast.inside, full_csv(&csv_rows), &[]).await;
    let a = cast
        .master
        .patch("/v1/settings", json!({"licenses": {"mobile_seats": 2}}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let mut ids = Vec::new();
    for (_, email) in &rows {
        ids.push(technician_id(&cast.master, email).await);
    }
    let racers = ids.iter().map(|id| {
        let client = cast.inside.clone();
        let id = *id;
        tokio::spawn(async move {
            client
                .patch(
                    &format!("/v1/technicians/{id}"),
                    json!({"mobile_license": true}),
                )
                .await
        })
    });
    let mut statuses = Vec::new();
    for racer in racers.collect::<Vec<_>>() {
        let a = racer.await.unwrap();
        if a.status == 409 {
            assert_eq!(a.json()["code"], "license_unavailable");
        }
        statuses.push(a.status);
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 409, 409, 409, 409]);
    assert_eq!(
        cast.master.get("/v1/licenses").await.json()["mobile"],
        json!({"seats": 2, "used": 2})
    );

    // The technician and group routes on PostgreSQL, briefly.
    let tech = format!("/v1/technicians/{}", ids[0]);
    cast.expect(Method::GET, &tech, None, [200, 200, 403, 404, 401])
        .await;
    // The master's move puts "Other" under "Sub": into the in-scope admin's groups
    // (so its same request passes), while "Sub" stays outside the other admin's.
    cast.expect(
        Method::PATCH,
        &format!("/v1/groups/{other}"),
        Some(json!({"parent_id": sub})),
        [200, 200, 403, 404, 401],
    )
    .await;
    let a = cast
        .master
        .patch(&format!("/v1/groups/{sub}"), json!({"parent_id": other}))
        .await;
    assert_eq!(a.status, 422, "a cycle: {}", text(&a));

    // Tokens: 256 random bits, shown once, stored only as SHA-256.
    let a = cast
        .master
        .post(
            "/v1/admins",
            json!({"email": "Later@acme.test", "role": "admin", "group_ids": [other]}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let later = a.json();
    let token = later["token"].as_str().unwrap().to_owned();
    assert_eq!(later["role"], "admin");
    assert_eq!(later["group_ids"], json!([other]));
    let duplicate = cast
        .master
        .post(
            "/v1/admins",
            json!({"email": "later@ACME.test", "role": "master"}),
        )
        .await;
    assert_eq!(duplicate.status, 409, "{}", text(&duplicate));
    assert_eq!(duplicate.json()["code"], "email_taken");
    let later = cast.master.with_token(&token);
    assert_eq!(later.get(&format!("/v1/groups/{other}")).await.status, 200);
    assert_eq!(later.get(&tech).await.status, 403);
    let tokens = [
        token.as_str(),
        cast.master.token.as_str(),
        cast.inside.token.as_str(),
        cast.outside.token.as_str(),
        cast.stranger.token.as_str(),
    ];
    for t in tokens {
        let hex = t.strip_prefix("rst_").expect("the rst_ prefix");
        assert_eq!(hex.len(), 64, "{t}");
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{t}");
    }
    let mut distinct = tokens.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), tokens.len());
    let dump = world.database_dump();
    assert!(contains(&dump, b"later@acme.test") || contains(&dump, b"Later@acme.test"));
    for t in tokens {
        assert!(!contains(&dump, t.as_bytes()), "the database holds a token");
        let hash = roster_shared::db::token_hash(t);
        assert!(contains(&dump, hash.as_bytes()), "its hash is stored");
    }
    let listed = text(&cast.master.get("/v1/admins").await);
    for t in tokens {
        assert!(!listed.contains(t), "GET /v1/admins shows a token");
    }
    for log in ["api.log", "worker-0.log", "admin.log"] {
        let log_text = world.log(log);
        for t in tokens {
            assert!(!log_text.contains(t), "{log} holds a token");
        }
    }
}
