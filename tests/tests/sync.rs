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
