//! What a sync must not do: act on a partial read, remove a mass of members
//! without a master's approval, or link a technician outside the sender's scope.

use super::*;
use roster_tests::both_modes;

/// Forwards one connection to `target`, cutting it after `limit` bytes from the server.
async fn cutting_proxy(target: u16, limit: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                continue; // the directory is stopped: the client sees its connection closed
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
            tokio::spawn(async move {
                let mut sent = 0;
                let mut buf = vec![0u8; 1024];
                while sent < limit {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n.min(limit - sent),
                    };
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    sent += n;
                }
                // Dropping both halves ends the connection mid-search.
            });
        }
    });
    port
}

/// A directory that stops in the middle of a read, or is away: nothing is
/// sent, nobody is disabled. A removal of more than a third of a source's
/// members waits for a master's approval, and one source runs one snapshot at a time.
async fn partial_reads_and_mass_removals_change_nothing(mode: Mode) {
    let mut slapd = directory();
    let world = World::start(mode, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let token = master.token.clone();
    let first = adsync(&world, &slapd.url(), &token, support, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let imports_before = master.get("/v1/imports").await.json()["items"]
        .as_array()
        .unwrap()
        .len();

    // Cut after the group entry, during the paged search of its members.
    let proxy = cutting_proxy(slapd.port, 8_000).await;
    let cut = adsync(
        &world,
        &format!("ldap://127.0.0.1:{proxy}"),
        &token,
        support,
        &[],
    );
    assert_eq!(cut.code, 1);
    assert!(cut.stderr.contains("nothing was sent"), "{}", cut.stderr);
    slapd.stop();
    let away = adsync(&world, &slapd.url(), &token, support, &[]);
    assert_eq!(away.code, 1);
    assert!(away.stderr.contains("nothing was sent"), "{}", away.stderr);
    let imports_after = master.get("/v1/imports").await.json()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(imports_before, imports_after, "no snapshot reached Roster");
    assert_eq!(
        technician(&master, "u50@acme.example").await["enabled"],
        true
    );

    // 40 of 100 members leave: held before anything changes.
    slapd.resume();
    let mut ldif = format!("dn: {GROUP_DN}\nchangetype: modify\ndelete: member\n");
    for i in 61..=MEMBERS {
        ldif.push_str(&format!("member: {}\n", user_dn(&format!("u{i}"))));
    }
    slapd.modify(&ldif);
    let held = adsync(&world, &slapd.url(), &token, support, &[]);
    assert_eq!(held.code, 1, "a run waiting for approval is not a success");
    let id = import_id(&held);
    let run = import(&master, &id).await;
    assert_eq!(run["status"], "needs_approval");
    assert_eq!(run["error"]["code"], "needs_approval");
    assert!(
        run["error"]["message"].as_str().unwrap().contains("40"),
        "{run}"
    );
    assert_eq!(
        technician(&master, "u80@acme.example").await["enabled"],
        true,
        "nobody disabled yet"
    );
    // A second snapshot of the source meanwhile is refused.
    let again = adsync(&world, &slapd.url(), &token, support, &[]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("409"), "{}", again.stderr);

    let approved = master
        .post(&format!("/v1/imports/{id}/approve"), json!({}))
        .await;
    assert_eq!(
        approved.status,
        202,
        "{}",
        String::from_utf8_lossy(&approved.body)
    );
    let done = master.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(
        counts(&done),
        json!({"created": 0, "updated": 0, "unchanged": 60, "disabled": 40, "failed": 0})
    );
    assert_eq!(
        technician(&master, "u80@acme.example").await["enabled"],
        false
    );
    let again = master
        .post(&format!("/v1/imports/{id}/approve"), json!({}))
        .await;
    assert_eq!(again.status, 409);
}

both_modes!(partial_reads_and_mass_removals_change_nothing: embedded_partial_reads_and_mass_removals_change_nothing, cluster_partial_reads_and_mass_removals_change_nothing);

/// A snapshot sent by a scoped administrator never links, by its email, a
/// technician outside that administrator's groups: the member fails as a
/// taken email (naming no group) and the technician is untouched.
async fn a_snapshot_links_no_technician_outside_the_senders_scope(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let mine = master.group("Mine", None).await;
    let other = master.group("Other", None).await;
    let scoped = world
        .admin("Acme", "scoped@acme.test", "admin", &[mine])
        .await;
    let created = master
        .post(
            "/v1/technicians",
            json!({"name": "Oscar Other", "email": "oscar@acme.test",
                   "password": roster_tests::strong_password(1), "enabled": true,
                   "standard_license": true, "mobile_license": false, "group_id": other}),
        )
        .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let sent = scoped
        .post(
            &format!("/v1/sync/sources/ad%3Ascope-test/snapshots?group_id={mine}"),
            json!([{"external_id": "x1", "name": "Renamed", "email": "oscar@acme.test", "enabled": false}]),
        )
        .await;
    assert_eq!(sent.status, 202, "{}", String::from_utf8_lossy(&sent.body));
    let id = sent.json()["id"].as_str().expect("id").to_owned();
    let done = scoped.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let rows = scoped.all_rows(&id).await;
    assert_eq!(rows[0]["status"], "failed", "{rows:?}");
    assert_eq!(rows[0]["errors"][0]["code"], "email_taken", "{rows:?}");
    assert!(!rows[0].to_string().contains("Other"), "{rows:?}");
    let oscar = technician(&master, "oscar@acme.test").await;
    assert_eq!(oscar["name"], "Oscar Other", "{oscar}");
    assert_eq!(oscar["group_id"], other, "{oscar}");
    assert_eq!(oscar["enabled"], true, "{oscar}");
}

both_modes!(a_snapshot_links_no_technician_outside_the_senders_scope: embedded_a_snapshot_links_no_technician_outside_the_senders_scope, cluster_a_snapshot_links_no_technician_outside_the_senders_scope);
