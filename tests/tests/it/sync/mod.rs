//! Directory synchronization end to end (API.md v1.1, "Directory
//! synchronization"): a real OpenLDAP (`tests/src/ldap.rs`, a size limit of 50
//! and a group of 100 members, so only paged searches see it whole), the real
//! `roster-adsync` binary, and the real Roster. `roster-adsync` holds a
//! service token (`POST /v1/sync/tokens`) in the first scenario, as the
//! contract has it, and an administrator's token elsewhere (sending a snapshot
//! by hand).

use roster_tests::client::Client;
use roster_tests::ldap::{self, GROUP_DN, READER_DN, READER_PASSWORD, SIZE_LIMIT, Slapd, user_dn};
use roster_tests::services::bin;
use roster_tests::{Mode, World};
use serde_json::{Value, json};
use std::time::Duration;

/// Members of the group at the start: twice the size limit.
const MEMBERS: usize = 100;
const _: () = assert!(
    MEMBERS > SIZE_LIMIT,
    "the group must be larger than the size limit"
);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `roster-adsync --once` against `url` (pages of 20 entries).
fn adsync(world: &World, url: &str, token: &str, group: i64, extra: &[&str]) -> Run {
    let dir = world.dir.path();
    std::fs::write(dir.join("bind-password"), format!("{READER_PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("token"), format!("{token}\n")).unwrap();
    let out = std::process::Command::new(bin("roster-adsync"))
        .args([
            "--ldap-url",
            url,
            "--bind-dn",
            READER_DN,
            "--group-dn",
            GROUP_DN,
        ])
        .arg("--bind-password-file")
        .arg(dir.join("bind-password"))
        .arg("--token-file")
        .arg(dir.join("token"))
        .args([
            "--roster-url",
            &world.api_url,
            "--group-id",
            &group.to_string(),
        ])
        .args(["--page-size", "20", "--timeout", "20", "--once"])
        .args(extra)
        .output()
        .expect("roster-adsync");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    println!(
        "roster-adsync exit {}:\n{}{}",
        run.code, run.stdout, run.stderr
    );
    run
}

/// The import a run printed (`... as import ID`).
fn import_id(run: &Run) -> String {
    run.stdout
        .split("as import ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no import id in {}", run.stdout))
        .to_owned()
}

async fn technician(client: &Client, email: &str) -> Value {
    let a = client.get(&format!("/v1/technicians?email={email}")).await;
    assert_eq!(a.status, 200);
    a.json()["items"][0].clone()
}

async fn import(client: &Client, id: &str) -> Value {
    client.get(&format!("/v1/imports/{id}")).await.json()
}

fn counts(import: &Value) -> Value {
    let c = &import["counts"];
    json!({"created": c["created"], "updated": c["updated"], "unchanged": c["unchanged"],
           "disabled": c["disabled"], "failed": c["failed"]})
}

fn directory() -> Slapd {
    Slapd::start(&ldap::base_ldif(MEMBERS + 20, 1..=MEMBERS))
}

async fn a_group_follows_the_directory(mode: Mode) {
    let slapd = directory();
    let world = World::start(mode, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let tier2 = master.group("Tier 2", None).await;
    let created = master
        .post(
            "/v1/sync/tokens",
            json!({"name": "AD connector", "group_id": support}),
        )
        .await;
    assert_eq!(created.status, 201);
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let url = slapd.url();

    // First provisioning: every member, though the server gives 50 per plain search.
    let first = adsync(
        &world,
        &url,
        &token,
        support,
        &["--disabled-filter", "(description=disabled)"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let run = import(&master, &import_id(&first)).await;
    assert_eq!(
        (run["kind"].as_str(), run["status"].as_str()),
        (Some("sync"), Some("completed"))
    );
    assert_eq!(
        counts(&run),
        json!({"created": MEMBERS, "updated": 0, "unchanged": 0, "disabled": 0, "failed": 0})
    );
    let u1 = technician(&master, "u1@acme.example").await;
    assert_eq!(
        (
            &u1["name"],
            &u1["group_id"],
            &u1["enabled"],
            &u1["must_change_password"],
            &u1["mobile_license"],
            &u1["standard_license"]
        ),
        (
            &json!("User 1"),
            &json!(support),
            &json!(true),
            &json!(true),
            &json!(false),
            &json!(true)
        )
    );
    assert_eq!(
        technician(&master, "u101@acme.example").await,
        Value::Null,
        "not a member"
    );

    // In Roster: u3 gets a mobile seat, u6 is moved to another group.
    let u3 = technician(&master, "u3@acme.example").await;
    let a = master
        .patch(
            &format!("/v1/technicians/{}", u3["id"]),
            json!({"mobile_license": true}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let u6 = technician(&master, "u6@acme.example").await;
    let a = master
        .patch(
            &format!("/v1/technicians/{}", u6["id"]),
            json!({"group_id": tier2}),
        )
        .await;
    assert_eq!(a.status, 200);

    // In the directory: u1 renamed, u2's email changed, u3 removed from the
    // group, u4 deleted, u5 disabled, u6 renamed (moved in Roster: name kept).
    slapd.modify(&format!(
        "dn: {u1}\nchangetype: modify\nadd: displayName\ndisplayName: Ana Silva\n\n\
         dn: {u2}\nchangetype: modify\nreplace: mail\nmail: bo@acme.example\n\n\
         dn: {GROUP_DN}\nchangetype: modify\ndelete: member\nmember: {u3}\n\n\
         dn: {u4}\nchangetype: delete\n\n\
         dn: {u5}\nchangetype: modify\nadd: description\ndescription: disabled\n\n\
         dn: {u6}\nchangetype: modify\nreplace: cn\ncn: Someone Else\n",
        u1 = user_dn("u1"),
        u2 = user_dn("u2"),
        u3 = user_dn("u3"),
        u4 = user_dn("u4"),
        u5 = user_dn("u5"),
        u6 = user_dn("u6"),
    ));
    let second = adsync(
        &world,
        &url,
        &token,
        support,
        &["--disabled-filter", "(description=disabled)"],
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    let run = import(&master, &import_id(&second)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 2, "unchanged": 95, "disabled": 3, "failed": 0})
    );
    assert_eq!(
        technician(&master, "u1@acme.example").await["name"],
        "Ana Silva"
    );
    let bo = technician(&master, "bo@acme.example").await;
    assert_eq!(bo["name"], "User 2");
    assert_eq!(technician(&master, "u2@acme.example").await, Value::Null);
    let u3 = technician(&master, "u3@acme.example").await;
    assert_eq!(
        (&u3["enabled"], &u3["mobile_license"]),
        (&json!(false), &json!(false)),
        "disabled, mobile seat freed"
    );
    for email in ["u4@acme.example", "u5@acme.example"] {
        assert_eq!(
            technician(&master, email).await["enabled"],
            false,
            "{email}"
        );
    }
    let u6 = technician(&master, "u6@acme.example").await;
    assert_eq!(
        (&u6["group_id"], &u6["name"]),
        (&json!(tier2), &json!("User 6")),
        "moved: keeps its group and name"
    );
    let rows = master.all_rows(&import_id(&second)).await;
    let disabled: Vec<&str> = rows
        .iter()
        .filter(|r| r["status"] == "disabled")
        .filter_map(|r| r["email"].as_str())
        .collect();
    assert_eq!(disabled.len(), 3, "{disabled:?}");

    // The same directory again: nothing changes.
    let third = adsync(
        &world,
        &url,
        &token,
        support,
        &["--disabled-filter", "(description=disabled)"],
    );
    assert_eq!(third.code, 0, "{}", third.stderr);
    let run = import(&master, &import_id(&third)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 0, "unchanged": 98, "disabled": 0, "failed": 0})
    );

    // The sync log.
    let sources = master.get("/v1/sync/sources").await.json();
    let source = &sources["items"][0];
    assert_eq!(source["key"], format!("ldap:{GROUP_DN}"));
    assert_eq!(
        (&source["group_id"], &source["members"]),
        (&json!(support), &json!(MEMBERS - 3))
    );
    assert_eq!(source["last_run"]["id"], run["id"]);
    assert_eq!(source["last_error"], Value::Null);
    assert!(
        third.stdout.contains("completed: counts"),
        "roster-adsync read its run's counts through the sync log: {}",
        third.stdout
    );

    // The service token reads the sync log too, but not as an administrator,
    // and sends into its own group only.
    let service = master.with_token(&token);
    assert_eq!(service.get("/v1/sync/sources").await.json(), sources);
    assert_eq!(service.get("/v1/technicians").await.status, 403);
    let elsewhere = service
        .request(
            reqwest::Method::POST,
            &format!("/v1/sync/sources/manual/snapshots?group_id={tier2}"),
            Some(json!([])),
        )
        .await;
    assert_eq!(elsewhere.status, 403);
}

#[tokio::test]
async fn embedded_a_group_follows_the_directory() {
    a_group_follows_the_directory(Mode::Embedded).await;
}

#[tokio::test]
async fn cluster_a_group_follows_the_directory() {
    a_group_follows_the_directory(Mode::Cluster).await;
}

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

#[tokio::test]
async fn embedded_partial_reads_and_mass_removals_change_nothing() {
    partial_reads_and_mass_removals_change_nothing(Mode::Embedded).await;
}

#[tokio::test]
async fn cluster_partial_reads_and_mass_removals_change_nothing() {
    partial_reads_and_mass_removals_change_nothing(Mode::Cluster).await;
}

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

#[tokio::test]
async fn embedded_a_snapshot_links_no_technician_outside_the_senders_scope() {
    a_snapshot_links_no_technician_outside_the_senders_scope(Mode::Embedded).await;
}

#[tokio::test]
async fn cluster_a_snapshot_links_no_technician_outside_the_senders_scope() {
    a_snapshot_links_no_technician_outside_the_senders_scope(Mode::Cluster).await;
}

/// Sends `members` as the snapshot of source `ad:seats` and waits for the run.
async fn run_snapshot(client: &Client, group: i64, members: Value) -> (Value, Vec<Value>) {
    let sent = client
        .post(
            &format!("/v1/sync/sources/ad%3Aseats/snapshots?group_id={group}"),
            members,
        )
        .await;
    assert_eq!(sent.status, 202, "{}", String::from_utf8_lossy(&sent.body));
    let id = sent.json()["id"].as_str().expect("id").to_owned();
    let done = client.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let rows = client.all_rows(&id).await;
    (done, rows)
}

fn member(id: &str, email: &str, enabled: bool) -> Value {
    json!({"external_id": id, "name": format!("Member {id}"), "email": email, "enabled": enabled})
}

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

#[tokio::test]
async fn embedded_a_sync_run_respects_the_license_seats() {
    a_sync_run_respects_the_license_seats(Mode::Embedded).await;
}

#[tokio::test]
async fn cluster_a_sync_run_respects_the_license_seats() {
    a_sync_run_respects_the_license_seats(Mode::Cluster).await;
}

/// The sync runs of the organization so far, oldest first.
async fn sync_runs(client: &Client) -> Vec<Value> {
    let mut runs: Vec<Value> = client.get("/v1/imports").await.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i["kind"] == "sync")
        .collect();
    runs.sort_by_key(|i| i["created_at"].as_str().unwrap_or("").to_owned());
    runs
}

/// Waits until at least `n` sync runs exist and all have finished; answers them.
async fn settled_runs(client: &Client, n: usize) -> Vec<Value> {
    roster_tests::eventually(
        Duration::from_secs(60),
        &format!("{n} finished sync runs"),
        || async {
            let runs = sync_runs(client).await;
            (runs.len() >= n
                && runs
                    .iter()
                    .all(|r| matches!(r["status"].as_str(), Some("completed" | "failed"))))
            .then_some(runs)
        },
    )
    .await
}

/// `--every` is a service: the directory stopped sends nothing (and nobody is
/// disabled) while the service keeps trying; once the directory is back, the
/// next sync carries its changes.
#[tokio::test]
async fn every_survives_the_directory_stopped_and_restarted() {
    let mut slapd = directory();
    let world = World::start(Mode::Embedded, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let dir = world.dir.path();
    std::fs::write(dir.join("bind-password"), format!("{READER_PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("token"), format!("{}\n", master.token)).unwrap();
    let log = dir.join("adsync.log");
    let mut service = std::process::Command::new(bin("roster-adsync"))
        .args(["--ldap-url", &slapd.url(), "--bind-dn", READER_DN])
        .args(["--group-dn", GROUP_DN, "--roster-url", &world.api_url])
        .arg("--bind-password-file")
        .arg(dir.join("bind-password"))
        .arg("--token-file")
        .arg(dir.join("token"))
        .args(["--group-id", &support.to_string()])
        .args(["--page-size", "20", "--timeout", "10", "--every", "2"])
        .stdout(std::fs::File::create(dir.join("adsync.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("roster-adsync --every");
    struct Stop<'a>(&'a mut std::process::Child);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let service = Stop(&mut service);

    // It provisions, then keeps syncing: a second run changes nothing.
    let runs = settled_runs(&master, 2).await;
    assert_eq!(runs[0]["counts"]["created"], MEMBERS, "{}", runs[0]);
    assert_eq!(runs[1]["counts"]["unchanged"], MEMBERS, "{}", runs[1]);

    // The directory goes away: a read it was in the middle of fails whole, and
    // no run starts while it is away.
    slapd.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = settled_runs(&master, 2).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let during = sync_runs(&master).await;
    assert_eq!(
        during.len(),
        before.len(),
        "nothing was sent while the directory was away: {during:?}"
    );
    for run in &during {
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(run["counts"]["disabled"], 0, "{run}");
    }
    assert!(
        service.0.try_wait().expect("status").is_none(),
        "the service keeps running"
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("nothing was sent; trying again"),
        "{stderr}"
    );
    assert_eq!(
        technician(&master, "u50@acme.example").await["enabled"],
        true
    );

    // Back, with a change: the service syncs it without being restarted.
    slapd.resume();
    slapd.modify(&format!(
        "dn: {}\nchangetype: modify\nadd: displayName\ndisplayName: Ana Silva\n",
        user_dn("u1")
    ));
    roster_tests::eventually(
        Duration::from_secs(60),
        "a run after the directory came back to rename u1",
        || async {
            let runs = sync_runs(&master).await;
            runs.iter()
                .skip(during.len())
                .any(|r| r["status"] == "completed" && r["counts"]["updated"] == 1)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        technician(&master, "u1@acme.example").await["name"],
        "Ana Silva"
    );
    for run in sync_runs(&master).await {
        assert_eq!(run["counts"]["disabled"], 0, "nobody left: {run}");
        assert_eq!(run["counts"]["failed"], 0, "{run}");
    }
}

/// A dry run answers, row by row, the outcome each member would have, and
/// writes nothing: created, updated, unchanged, disabled (a member who left)
/// and failed (a new member without an email, and a new member with the email
/// of an earlier one, which a dry run cannot learn from a write).
async fn a_dry_run_reports_would_be_outcomes_per_row(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    // Ten members, so that two leaving stays under the safety valves.
    let others: Vec<Value> = (1..=6)
        .map(|i| member(&format!("x{i}"), &format!("x{i}@acme.test"), true))
        .collect();
    let mut known = vec![
        member("a", "a@acme.test", true),
        member("b", "b@acme.test", true),
        member("c", "c@acme.test", true),
        member("d", "d@acme.test", true),
    ];
    known.extend(others.iter().cloned());
    let (first, _) = run_snapshot(&master, support, Value::Array(known)).await;
    assert_eq!(first["counts"]["created"], 10, "{first}");
    let mut changed = vec![
        member("a", "a@acme.test", true),
        json!({"external_id": "b", "name": "Bea Renamed", "email": "b@acme.test", "enabled": true}),
        member("c", "c@acme.test", false),
        member("e", "e@acme.test", true),
        json!({"external_id": "f", "name": "No Mail", "email": "", "enabled": true}),
        member("g", "E@acme.test", true),
    ];
    changed.extend(others);
    let changed = Value::Array(changed);
    let before = master.get("/v1/technicians").await.json()["items"].clone();

    let sent = master
        .post(
            &format!("/v1/sync/sources/ad%3Aseats/snapshots?group_id={support}&dry_run=true"),
            changed.clone(),
        )
        .await;
    assert_eq!(sent.status, 202, "{}", String::from_utf8_lossy(&sent.body));
    let sent = sent.json();
    assert_eq!(sent["dry_run"], true, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    let done = master.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        counts(&done),
        json!({"created": 1, "updated": 1, "unchanged": 7, "disabled": 2, "failed": 2})
    );
    let rows = master.all_rows(&id).await;
    let got: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().unwrap(),
                r["email"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "a@acme.test", "unchanged"),
            (2, "b@acme.test", "updated"),
            (3, "c@acme.test", "disabled"),
            (4, "e@acme.test", "created"),
            (5, "", "failed"),
            (6, "E@acme.test", "failed"),
            (7, "x1@acme.test", "unchanged"),
            (8, "x2@acme.test", "unchanged"),
            (9, "x3@acme.test", "unchanged"),
            (10, "x4@acme.test", "unchanged"),
            (11, "x5@acme.test", "unchanged"),
            (12, "x6@acme.test", "unchanged"),
            (13, "d@acme.test", "disabled"),
        ],
        "{rows:?}"
    );
    assert_eq!(rows[4]["errors"][0]["code"], "invalid_email", "{rows:?}");
    assert_eq!(
        rows[5]["errors"][0]["code"], "duplicate_in_file",
        "{rows:?}"
    );
    assert_eq!(
        rows[5]["errors"][0]["message"],
        "'E@acme.test' is also the email of member 4 of the snapshot",
        "{rows:?}"
    );
    let (sheet, _) = master.result_sheet(&id).await;
    let results: Vec<&str> = sheet[1..]
        .iter()
        .map(|l| l.last().map(String::as_str).unwrap_or(""))
        .collect();
    assert_eq!(
        results[..4],
        ["Unchanged", "Updated", "Disabled", "Success"],
        "{sheet:?}"
    );
    assert_eq!(results[12], "Disabled", "{sheet:?}");

    // Nothing was written.
    let after = master.get("/v1/technicians").await.json()["items"].clone();
    assert_eq!(before, after, "a dry run changes no technician");
    assert_eq!(technician(&master, "e@acme.test").await, Value::Null);
    // The real run afterwards does what the dry run said.
    let (real, _) = run_snapshot(&master, support, changed).await;
    assert_eq!(counts(&real), counts(&done));
    assert_eq!(technician(&master, "e@acme.test").await["name"], "Member e");
}

#[tokio::test]
async fn embedded_a_dry_run_reports_would_be_outcomes_per_row() {
    a_dry_run_reports_would_be_outcomes_per_row(Mode::Embedded).await;
}

#[tokio::test]
async fn cluster_a_dry_run_reports_would_be_outcomes_per_row() {
    a_dry_run_reports_would_be_outcomes_per_row(Mode::Cluster).await;
}

/// A directory whose certificate a private CA signed (as Active Directory's
/// almost always is): read over LDAPS and over StartTLS once `--ca-file`
/// names that CA; without it (the system's roots) or with another CA the
/// handshake fails, before the bind, and nothing is sent.
#[tokio::test]
async fn embedded_tls_a_private_ca_is_trusted_through_ca_file_only() {
    let slapd = Slapd::start_tls(&ldap::base_ldif(12, 1..=10));
    let world = World::start(Mode::Embedded, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let token = master.token.clone();
    let ca = slapd.tls.as_ref().expect("TLS").ca.display().to_string();
    let (ldaps, ldap) = (slapd.ldaps_url(), slapd.url());

    let first = adsync(&world, &ldaps, &token, support, &["--ca-file", &ca]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let run = import(&master, &import_id(&first)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 10, "updated": 0, "unchanged": 0, "disabled": 0, "failed": 0})
    );
    let again = adsync(
        &world,
        &ldap,
        &token,
        support,
        &["--starttls", "--ca-file", &ca],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let run = import(&master, &import_id(&again)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 0, "unchanged": 10, "disabled": 0, "failed": 0})
    );

    let sources = master.get("/v1/sync/sources").await.json();
    assert_eq!(sources["items"][0]["last_run"]["id"], run["id"]);
    let other = ldap::throwaway_ca(world.dir.path(), "other-ca");
    let other = other.display().to_string();
    for (url, extra) in [
        (&ldaps, vec![]),
        (&ldap, vec!["--starttls"]),
        (&ldaps, vec!["--ca-file", &other]),
        (&ldap, vec!["--starttls", "--ca-file", &other]),
    ] {
        let refused = adsync(&world, url, &token, support, &extra);
        assert_eq!(refused.code, 1, "{url} {extra:?}: {}", refused.stdout);
        assert!(
            refused
                .stderr
                .contains("TLS: the directory's certificate does not verify against")
                && refused.stderr.contains("UnknownIssuer")
                && refused.stderr.ends_with("; nothing was sent\n"),
            "{url} {extra:?}: {}",
            refused.stderr
        );
        let trusted = if extra.contains(&"--ca-file") {
            format!("--ca-file {other}")
        } else {
            "the system's roots".to_owned()
        };
        assert!(refused.stderr.contains(&trusted), "{}", refused.stderr);
    }
    // A CA file that cannot be used, or one without TLS to check: nothing tried.
    let missing = world.dir.path().join("absent.pem").display().to_string();
    let unusable = adsync(&world, &ldaps, &token, support, &["--ca-file", &missing]);
    assert_eq!(unusable.code, 1);
    assert!(
        unusable.stderr.contains(&format!("--ca-file {missing}: "))
            && unusable.stderr.contains("nothing was sent"),
        "{}",
        unusable.stderr
    );
    let plain = adsync(&world, &ldap, &token, support, &["--ca-file", &ca]);
    assert_eq!(plain.code, 2);
    assert!(
        plain
            .stderr
            .contains("--ca-file needs an ldaps:// URL or --starttls"),
        "{}",
        plain.stderr
    );
    assert_eq!(
        master.get("/v1/sync/sources").await.json(),
        sources,
        "no run was sent"
    );
}
