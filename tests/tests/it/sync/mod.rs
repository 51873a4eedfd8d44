//! Directory synchronization end to end (API.md v1.1, "Directory
//! synchronization"): a real OpenLDAP (`tests/src/ldap.rs`, a size limit of 50
//! and a group of 100 members, so only paged searches see it whole), the real
//! `roster-adsync` binary, and the real Roster. `roster-adsync` holds a
//! service token (`POST /v1/sync/tokens`) in the first scenario, as the
//! contract has it, and an administrator's token elsewhere (sending a snapshot
//! by hand).

use roster_tests::client::{Client, technician};
use roster_tests::ldap::{self, GROUP_DN, READER_DN, READER_PASSWORD, SIZE_LIMIT, Slapd, user_dn};
use roster_tests::services::bin;
use roster_tests::{Mode, World};
use serde_json::{Value, json};
use std::time::Duration;

mod dry_run;
mod follows;
mod safety;
mod seats;
mod service;
mod tls;

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
