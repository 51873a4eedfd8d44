//! Issue 5: imports survive crashes, and every row takes effect exactly once.
//!
//! Each test starts real `roster-worker` processes against its own PostgreSQL
//! database, Redis and S3 server, injects one kind of fault in the middle of an
//! import (kill -9, Redis restarted or flushed, database connections cut, S3
//! away, SIGTERM, cancel, a chunk that keeps killing its worker), and then checks
//! the same invariants from every side: the import finishes; every row of the
//! file has exactly one outcome; the technicians in the database are exactly the
//! rows reported as created; the result spreadsheet has one line per row whose
//! Result cell matches that row's outcome; and the counters equal the outcomes.
//!
//! `scripts/soak-kill9.sh` repeats the kill -9 scenario and sums the
//! `FAULTS lost=.. duplicated=..` lines these tests print.

use roster_tests::{Client, Mode, World, eventually, strong_password};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

mod cancel;
mod kill9;
mod outages;
mod sync;
mod workers;

/// A hashing cost that makes a 50-row chunk take a second or more (about 30 ms a
/// hash here, more when the tests share the cores): a fault lands mid-chunk.
const SLOW_HASH: &str = "argon2id:m=19456,t=3,p=1";
const FINISH: Duration = Duration::from_secs(120);
const PROGRESS: Duration = Duration::from_secs(60);

/// Every `INVALID_EVERY`th row has a malformed email, so each import mixes
/// created and failed rows.
const INVALID_EVERY: usize = 23;

/// One row of a generated file.
#[derive(Debug, Clone)]
struct FileRow {
    email: String,
    valid: bool,
}

/// A full-layout CSV of `n` technicians in `group`; returns the file and its rows.
fn technicians_csv(n: usize, group: i64) -> (String, Vec<FileRow>) {
    technicians_file(n, group, None)
}

/// The same rows with the Password Hash column: each valid row gives `hash` (made
/// by another system) and no password, so nothing is hashed (issue 20).
fn prehashed_csv(n: usize, group: i64, hash: &str) -> (String, Vec<FileRow>) {
    technicians_file(n, group, Some(hash))
}

fn technicians_file(n: usize, group: i64, hash: Option<&str>) -> (String, Vec<FileRow>) {
    let mut csv = String::from(match hash {
        None => {
            "Name,Nickname,Email,Single Sign-On ID,Description,Password,Enabled,Standard License,Mobile License,Tech Group ID\n"
        }
        Some(_) => {
            "Name,Nickname,Email,Single Sign-On ID,Description,Password,Password Hash,Enabled,Standard License,Mobile License,Tech Group ID\n"
        }
    });
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let valid = i % INVALID_EVERY != INVALID_EVERY - 1;
        let email = if valid {
            format!("tech{i:05}@acme.test")
        } else {
            format!("not-an-email-{i:05}")
        };
        let credential = match hash {
            // Quoted: a PHC string's parameters are separated by commas.
            Some(hash) => format!(",\"{hash}\""),
            None => strong_password(i),
        };
        csv.push_str(&format!(
            "Tech {i},,{email},,,{credential},Yes,Yes,No,{group}\n"
        ));
        rows.push(FileRow { email, valid });
    }
    (csv, rows)
}

/// A started world with an administrator, a group and one uploaded import.
struct Scenario {
    world: World,
    api: Client,
    id: String,
    rows: Vec<FileRow>,
}

/// Starts a cluster with `workers` workers and `env`, and uploads `n` rows.
async fn scenario(workers: usize, n: usize, env: &[(&str, &str)]) -> Scenario {
    scenario_of(workers, env, |group| technicians_csv(n, group)).await
}

/// Starts a cluster with `workers` workers and `env`, and uploads the file `make`
/// writes for the new group.
async fn scenario_of(
    workers: usize,
    env: &[(&str, &str)],
    make: impl FnOnce(i64) -> (String, Vec<FileRow>),
) -> Scenario {
    let world = World::start(Mode::Cluster, workers, env).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let (csv, rows) = make(group);
    let a = api.upload("faults.csv", csv.into_bytes(), &[]).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    Scenario {
        world,
        api,
        id,
        rows,
    }
}

/// A slow import whose chunks may be claimed only once: an outage must cost no
/// attempt (nothing was interrupted), or the rows it touched end `interrupted`.
fn outage_env() -> Vec<(&'static str, &'static str)> {
    let mut env = slow_env();
    env.push(("ROSTER_MAX_ATTEMPTS", "1"));
    env
}

/// The environment of a slow import: 50-row chunks, one hash at a time.
fn slow_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ROSTER_PASSWORD_HASH", SLOW_HASH),
        ("ROSTER_WORKER_CONCURRENCY", "1"),
        ("ROSTER_CHUNK_ROWS", "50"),
    ]
}

/// Waits until the import has recorded at least `rows` outcomes (so it is planned
/// and in the middle of its chunks).
async fn wait_processed(api: &Client, id: &str, rows: i64) -> Value {
    eventually(
        PROGRESS,
        &format!("import {id} to record {rows} rows"),
        || async {
            let a = api.get(&format!("/v1/imports/{id}")).await;
            if a.status != 200 {
                return None; // the API's own connection may be the one a fault cut
            }
            let v = a.json();
            (v["processed_rows"].as_i64().unwrap_or(0) >= rows).then_some(v)
        },
    )
    .await
}

/// The chunks of the import being processed now: (chunk_no, lease owner).
async fn running_chunks(world: &World, id: &str) -> Vec<(i64, String)> {
    let db = world.db().await;
    let rows = sqlx::query_as::<_, (i64, String)>(
        "SELECT chunk_no, lease_owner FROM import_chunks WHERE import_id = $1 AND status = 'running' \
         AND lease_owner IS NOT NULL ORDER BY chunk_no",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .expect("running chunks");
    db.pool.close().await;
    rows
}

/// The process id inside a worker identity (`worker-{host}-{pid}-{nonce}`).
fn owner_pid(owner: &str) -> Option<u32> {
    owner.rsplit('-').nth(1)?.parse().ok()
}

/// The index of the live worker process holding a lease, if it is one of ours.
fn worker_index(world: &mut World, owner: &str) -> Option<usize> {
    let pid = owner_pid(owner)?;
    world
        .workers
        .iter_mut()
        .position(|w| w.id() == pid && matches!(w.try_wait(), Ok(None)))
}

/// Waits until one of this world's live workers is in the middle of a chunk of the
/// import that has not yet been processed; returns (worker index, chunk_no).
async fn wait_mid_chunk(world: &mut World, id: &str) -> (usize, i64) {
    let deadline = Instant::now() + PROGRESS;
    loop {
        for (chunk, owner) in running_chunks(world, id).await {
            if let Some(n) = worker_index(world, &owner) {
                return (n, chunk);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no worker took a chunk of {id} within {PROGRESS:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Finishes the import and checks every invariant of issue 5. Returns the rows
/// endpoint's outcomes by row number.
async fn assert_exactly_once(s: &Scenario, test: &str, status: &str) -> BTreeMap<i64, Value> {
    let (world, api, id) = (&s.world, &s.api, s.id.as_str());
    let n = s.rows.len() as i64;
    let done = api.wait_finished(id, FINISH).await;
    let logs = || {
        let mut all = String::new();
        for i in 0..world.workers.len() {
            let name = format!("worker-{i}.log");
            let log = world.log(&name);
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            all.push_str(&format!("--- {name} (last lines)\n"));
            for line in tail.into_iter().rev() {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    };
    assert_eq!(done["status"], status, "{done}\n{}", logs());
    assert_eq!(done["total_rows"], n, "{done}");

    // Every row of the file has exactly one outcome.
    let outcomes = api.all_rows(id).await;
    let mut by_row: BTreeMap<i64, Value> = BTreeMap::new();
    let mut duplicated = 0usize;
    for o in &outcomes {
        let row = o["row"].as_i64().expect("row number");
        if by_row.insert(row, o.clone()).is_some() {
            duplicated += 1;
        }
    }
    let expected_rows: BTreeSet<i64> = (2..n + 2).collect();
    let lost = expected_rows
        .iter()
        .filter(|r| !by_row.contains_key(r))
        .count();
    let strays: Vec<i64> = by_row
        .keys()
        .filter(|r| !expected_rows.contains(r))
        .copied()
        .collect();

    // The technicians are exactly the created rows: by count and by email.
    let db = world.db().await;
    let emails: Vec<String> =
        sqlx::query_scalar("SELECT email FROM technicians WHERE import_id = $1")
            .bind(id)
            .fetch_all(&db.pool)
            .await
            .expect("technicians of the import");
    let in_org: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM technicians")
        .fetch_one(&db.pool)
        .await
        .expect("technicians");
    let open_chunks: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM import_chunks WHERE import_id = $1 AND status <> 'done'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("chunks");
    let recorded: i64 =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM import_rows WHERE import_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("outcomes");
    db.pool.close().await;
    let technicians: BTreeSet<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    let created: BTreeSet<String> = by_row
        .values()
        .filter(|o| o["status"] == "created")
        .map(|o| o["email"].as_str().unwrap_or("").to_lowercase())
        .collect();
    duplicated += emails.len() - technicians.len();
    duplicated += emails.len().saturating_sub(created.len());
    eprintln!(
        "FAULTS test={test} import={id} rows={n} lost={lost} duplicated={duplicated} status={}",
        done["status"]
    );
    assert_eq!(lost, 0, "rows without an outcome\n{}", logs());
    assert_eq!(duplicated, 0, "rows that took effect twice");
    assert!(
        strays.is_empty(),
        "outcomes of rows not in the file: {strays:?}"
    );
    assert_eq!(
        outcomes.len() as i64,
        n,
        "the rows endpoint lists each row once"
    );
    assert_eq!(recorded, n, "the database holds one outcome per row");
    assert_eq!(open_chunks, 0, "every chunk is closed");
    assert_eq!(
        emails.len(),
        created.len(),
        "one technician per created row"
    );
    assert_eq!(technicians, created, "the technicians are the created rows");
    assert_eq!(
        in_org,
        emails.len() as i64,
        "no technician outside the import"
    );

    // Each outcome belongs to its row of the file.
    for (row, o) in &by_row {
        let file_row = &s.rows[(*row - 2) as usize];
        match o["status"].as_str() {
            Some("created") => {
                assert!(file_row.valid, "row {row} was created but is invalid: {o}");
                assert_eq!(o["email"], file_row.email.as_str(), "row {row}");
                assert!(o["technician_id"].is_i64(), "row {row}: {o}");
            }
            Some("failed") => {
                let code = o["errors"][0]["code"].as_str().unwrap_or("");
                assert!(
                    !file_row.valid || code == "interrupted",
                    "valid row {row} failed: {o}"
                );
            }
            Some("not_processed") => {}
            other => panic!("row {row}: unexpected status {other:?}: {o}"),
        }
    }

    // The counters equal the recorded outcomes.
    let mut tally: BTreeMap<String, i64> = BTreeMap::new();
    for o in by_row.values() {
        *tally
            .entry(o["status"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    for status in [
        "created",
        "updated",
        "skipped",
        "valid",
        "failed",
        "not_processed",
    ] {
        assert_eq!(
            done["counts"][status].as_i64().unwrap_or(-1),
            tally.get(status).copied().unwrap_or(0),
            "counter {status}: {done}"
        );
    }
    assert_eq!(done["processed_rows"], n, "{done}");
    assert_eq!(
        done["failed_rows"].as_i64(),
        Some(tally.get("failed").copied().unwrap_or(0))
    );

    // The result spreadsheet: one line per row, in file order, Result matching.
    let (sheet, _summary) = api.result_sheet(id).await;
    assert_eq!(sheet.len() as i64, n + 1, "header + one line per row");
    assert_eq!(sheet[0].last().map(String::as_str), Some("Result"));
    let result_at = sheet[0].len() - 1;
    for (i, line) in sheet[1..].iter().enumerate() {
        let row = i as i64 + 2;
        let o = &by_row[&row];
        assert_eq!(
            line[2], s.rows[i].email,
            "line of row {row} is in file order"
        );
        let cell = line.get(result_at).map(String::as_str).unwrap_or("");
        let ok = match o["status"].as_str().unwrap_or("") {
            "created" => cell == "Success",
            "failed" => cell.starts_with("Error"),
            "not_processed" => cell == "Not processed",
            _ => false,
        };
        assert!(ok, "row {row}: Result '{cell}' for outcome {o}");
    }
    by_row
}

/// Counts outcomes by status.
fn tally(rows: &BTreeMap<i64, Value>) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for o in rows.values() {
        *t.entry(o["status"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    t
}

/// All valid rows were created and all invalid ones failed: the fault changed nothing.
fn assert_unaffected(s: &Scenario, rows: &BTreeMap<i64, Value>) {
    for (row, o) in rows {
        let want = if s.rows[(*row - 2) as usize].valid {
            "created"
        } else {
            "failed"
        };
        assert_eq!(o["status"], want, "row {row}: {o}");
    }
}

/// Waits until the import is under way (rows committed, a chunk in the hands of a
/// live worker): the moment to inject a fault.
async fn wait_mid_import(s: &mut Scenario) {
    wait_processed(&s.api, &s.id, 1).await;
    wait_mid_chunk(&mut s.world, &s.id).await;
}

/// Every worker process is still running: an outage is no reason to exit.
fn assert_workers_alive(world: &mut World) {
    let statuses: Vec<_> = world
        .workers
        .iter_mut()
        .map(|w| w.try_wait().expect("worker status"))
        .collect();
    for (n, status) in statuses.into_iter().enumerate() {
        assert!(
            status.is_none(),
            "worker {n} exited ({status:?}) during the outage\n{}",
            world.log(&format!("worker-{n}.log"))
        );
    }
}

/// The name of this world's PostgreSQL database.
fn database_name(world: &World) -> String {
    world
        .database_url
        .rsplit('/')
        .next()
        .expect("database name")
        .to_owned()
}
