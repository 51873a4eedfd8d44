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

// ---- 1. kill -9 ---------------------------------------------------------------------

/// The kill -9 scenario (also run in a loop by scripts/soak-kill9.sh): two workers,
/// and three times, spread over the import, the worker in the middle of a chunk is
/// killed and a fresh one started in its place.
#[tokio::test]
async fn kill_9_workers_mid_chunk_loses_and_repeats_no_row() {
    let mut s = scenario(2, 400, &slow_env()).await;
    let mut interrupted = Vec::new();
    let mut processed = 0;
    for kill in 0..3 {
        if kill > 0 {
            // The next kill comes after some more rows were committed.
            let v = wait_processed(&s.api, &s.id, processed + 1).await;
            processed = v["processed_rows"].as_i64().unwrap_or(0);
        }
        let (n, chunk) = wait_mid_chunk(&mut s.world, &s.id).await;
        let pid = s.world.workers[n].id();
        s.world.kill_worker(n);
        s.world.start_worker();
        // Unless it finished in the instant before the kill, the chunk is left
        // running under a dead owner: another worker must claim it again. A
        // commit the worker sent just before it died still lands (PostgreSQL
        // finishes what it received), so look once that has had time to happen,
        // well within the 3-second lease after which the chunk is handed out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if running_chunks(&s.world, &s.id)
            .await
            .iter()
            .any(|(c, owner)| *c == chunk && owner_pid(owner) == Some(pid))
        {
            interrupted.push(chunk);
        }
    }
    let rows = assert_exactly_once(&s, "kill_9", "completed").await;
    assert_unaffected(&s, &rows);
    assert!(!interrupted.is_empty(), "no kill interrupted a chunk");
    let db = s.world.db().await;
    for chunk in interrupted {
        let attempts: i64 = sqlx::query_scalar::<_, i64>(
            "SELECT attempts FROM import_chunks WHERE import_id = $1 AND chunk_no = $2",
        )
        .bind(&s.id)
        .bind(chunk)
        .fetch_one(&db.pool)
        .await
        .expect("chunk attempts");
        assert!(
            attempts >= 2,
            "chunk {chunk} was finished by another worker"
        );
    }
    db.pool.close().await;
}

/// The same on the path that hashes nothing (issue 20): every row gives a hash
/// another system made. Such rows hash nothing, so their batches are the
/// largest (2,000 rows, since `8c1de29`; 25 before, as if each row hashed): a
/// 4,000-row chunk is two commits, and the kill lands while the chunk runs.
/// Every row still takes effect exactly once, and every technician holds the
/// hash as given.
#[tokio::test]
async fn kill_9_of_a_worker_mid_chunk_of_a_prehashed_import_loses_and_repeats_no_row() {
    // bcrypt's test vector for "U*U" (also in tests/tests/prehashed.rs).
    const HASH: &str = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    let env = [
        ("ROSTER_PASSWORD_HASH", SLOW_HASH),
        ("ROSTER_WORKER_CONCURRENCY", "1"),
        ("ROSTER_CHUNK_ROWS", "4000"),
    ];
    let mut s = scenario_of(2, &env, |group| prehashed_csv(20_000, group, HASH)).await;
    let (n, chunk) = wait_mid_chunk(&mut s.world, &s.id).await;
    let pid = s.world.workers[n].id();
    s.world.kill_worker(n);
    s.world.start_worker();
    // As above: a commit sent just before the kill still lands; look after it has.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let interrupted = running_chunks(&s.world, &s.id)
        .await
        .iter()
        .any(|(c, owner)| *c == chunk && owner_pid(owner) == Some(pid));
    let rows = assert_exactly_once(&s, "kill_9_prehashed", "completed").await;
    assert_unaffected(&s, &rows);
    assert!(interrupted, "the kill did not interrupt chunk {chunk}");
    let db = s.world.db().await;
    let attempts: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT attempts FROM import_chunks WHERE import_id = $1 AND chunk_no = $2",
    )
    .bind(&s.id)
    .bind(chunk)
    .fetch_one(&db.pool)
    .await
    .expect("chunk attempts");
    assert!(
        attempts >= 2,
        "chunk {chunk} was finished by another worker"
    );
    let hashes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT password_hash FROM technicians")
        .fetch_all(&db.pool)
        .await
        .expect("stored hashes");
    assert_eq!(hashes, [HASH], "every technician holds the hash as given");
    db.pool.close().await;
}

/// Finalize follows the chunks, holding the import's lease from the plan on: kill
/// -9 the worker running it while chunks are still open, and another worker must
/// take finalize over and write the whole spreadsheet, with every row once.
#[tokio::test]
async fn kill_9_of_the_finalizing_worker_mid_import_loses_and_repeats_no_row() {
    let mut s = scenario(2, 300, &slow_env()).await;
    wait_mid_import(&mut s).await;
    let deadline = Instant::now() + PROGRESS;
    let (n, done, count) = loop {
        let db = s.world.db().await;
        let (owner, done, count) = sqlx::query_as::<_, (Option<String>, i64, Option<i64>)>(
            "SELECT lease_owner, chunks_done, chunk_count FROM imports WHERE id = $1",
        )
        .bind(&s.id)
        .fetch_one(&db.pool)
        .await
        .expect("import lease");
        db.pool.close().await;
        if let Some(n) = owner.and_then(|o| worker_index(&mut s.world, &o)) {
            break (n, done, count.expect("planned"));
        }
        assert!(
            Instant::now() < deadline,
            "no worker held the import's finalize while its chunks ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        done < count,
        "finalize runs beside the chunks ({done} of {count} done)"
    );
    s.world.kill_worker(n);
    s.world.start_worker();
    let rows = assert_exactly_once(&s, "kill_9_finalize", "completed").await;
    assert_unaffected(&s, &rows);
}

// ---- 2. Redis restarted ---------------------------------------------------------------

#[tokio::test]
async fn redis_restart_mid_import_loses_no_row() {
    let mut s = scenario(2, 300, &outage_env()).await;
    wait_mid_import(&mut s).await;
    let port = s.world.redis_port.expect("redis port");
    s.world.stop_redis();
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.world.start_redis(Some(port)).await;
    let rows = assert_exactly_once(&s, "redis_restart", "completed").await;
    assert_unaffected(&s, &rows);
    assert_workers_alive(&mut s.world);
}

// ---- 3. Redis flushed -----------------------------------------------------------------

#[tokio::test]
async fn redis_flushall_mid_import_loses_no_row() {
    let mut s = scenario(2, 300, &outage_env()).await;
    wait_mid_import(&mut s).await;
    let port = s.world.redis_port.expect("redis port");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut conn)
        .await
        .expect("FLUSHALL");
    let rows = assert_exactly_once(&s, "redis_flushall", "completed").await;
    assert_unaffected(&s, &rows);
    assert_workers_alive(&mut s.world);
}

// ---- 4. database connections cut ------------------------------------------------------

#[tokio::test]
async fn terminated_database_connections_mid_import_lose_no_row() {
    let mut s = scenario(2, 300, &slow_env()).await;
    wait_mid_import(&mut s).await;
    let name = database_name(&s.world);
    let admin = roster_shared::db::Db::connect(&format!("{}/postgres", pg_admin_url()), 1)
        .await
        .expect("admin connection");
    for _ in 0..6 {
        // Only this test's own database: every other test keeps its connections.
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .fetch_all(&admin.pool)
        .await
        .expect("pg_terminate_backend");
        assert!(!cut.is_empty(), "the workers were connected to {name}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    admin.pool.close().await;
    let rows = assert_exactly_once(&s, "pg_terminate", "completed").await;
    assert_unaffected(&s, &rows);
    assert_workers_alive(&mut s.world);
}

fn pg_admin_url() -> String {
    std::env::var("ROSTER_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

// ---- 5. S3 away -----------------------------------------------------------------------

#[tokio::test]
async fn s3_outage_mid_import_loses_no_row() {
    let mut s = scenario(2, 300, &outage_env()).await;
    wait_mid_import(&mut s).await;
    let port = s.world.s3_port.expect("s3 port");
    s.world.stop_s3();
    tokio::time::sleep(Duration::from_secs(4)).await;
    s.world.start_s3(Some(port)).await;
    let rows = assert_exactly_once(&s, "s3_outage", "completed").await;
    assert_unaffected(&s, &rows);
    assert_workers_alive(&mut s.world);
}

// ---- 6. graceful shutdown ------------------------------------------------------------

#[tokio::test]
async fn sigterm_mid_import_exits_zero_and_another_worker_finishes() {
    // One 400-row chunk written in batches of 250: SIGTERM lands mid-chunk, and the
    // worker gives the chunk back at its next batch.
    let mut env = slow_env();
    env.retain(|(k, _)| *k != "ROSTER_CHUNK_ROWS");
    env.push(("ROSTER_CHUNK_ROWS", "400"));
    env.push(("ROSTER_PASSWORD_HASH", "argon2id:m=8192,t=1,p=1"));
    let mut s = scenario(1, 400, &env).await;
    let (n, _chunk) = wait_mid_chunk(&mut s.world, &s.id).await;
    s.world.start_worker();
    let pid = s.world.workers[n].id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(sent.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = s.world.workers[n].try_wait().expect("worker status") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the worker did not stop within 15 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        status.success(),
        "SIGTERM exits 0, not {status}\n{}",
        s.world.log(&format!("worker-{n}.log"))
    );
    let rows = assert_exactly_once(&s, "sigterm", "completed").await;
    assert_unaffected(&s, &rows);
    assert!(
        s.world.log("worker-1.log").contains("chunk claimed"),
        "the second worker finished the import"
    );
}

// ---- 7. cancel -----------------------------------------------------------------------

#[tokio::test]
async fn cancel_mid_import_keeps_applied_rows_and_reports_the_rest() {
    let s = scenario(1, 400, &slow_env()).await;
    wait_processed(&s.api, &s.id, 1).await;
    let before = s.api.all_rows(&s.id).await;
    let a = s
        .api
        .post(&format!("/v1/imports/{}/cancel", s.id), json!({}))
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let rows = assert_exactly_once(&s, "cancel", "cancelled").await;
    let t = tally(&rows);
    assert!(t.get("created").copied().unwrap_or(0) > 0, "{t:?}");
    assert!(t.get("not_processed").copied().unwrap_or(0) > 0, "{t:?}");
    // Applied rows stay applied; nothing after the cancel is half done.
    for (row, o) in &rows {
        if s.rows[(*row - 2) as usize].valid {
            assert!(
                o["status"] == "created" || o["status"] == "not_processed",
                "row {row}: {o}"
            );
        }
    }
    // Rows recorded before the cancel keep their outcome (and their technician).
    assert!(!before.is_empty());
    for o in &before {
        let row = o["row"].as_i64().unwrap();
        assert_eq!(rows[&row]["status"], o["status"], "row {row}");
        assert_eq!(rows[&row]["technician_id"], o["technician_id"], "row {row}");
    }
    let again = s
        .api
        .post(&format!("/v1/imports/{}/cancel", s.id), json!({}))
        .await;
    assert_eq!(again.status, 409, "a finished import cannot be cancelled");
}

/// A cancel that comes before any worker planned the import: nothing is imported,
/// the import ends `cancelled` as soon as a worker looks at it, with a result
/// spreadsheet that has no rows, and its upload (which holds the passwords) is
/// deleted.
#[tokio::test]
async fn cancel_before_the_plan_imports_nothing() {
    let mut s = scenario(0, 50, &slow_env()).await;
    let a = s
        .api
        .post(&format!("/v1/imports/{}/cancel", s.id), json!({}))
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    s.world.start_worker();
    let done = s.api.wait_finished(&s.id, FINISH).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(s.api.all_rows(&s.id).await.is_empty());
    let technicians = s.api.get("/v1/technicians").await;
    assert_eq!(technicians.status, 200);
    assert_eq!(
        technicians.json()["items"],
        json!([]),
        "nothing was imported"
    );
    let result = s
        .api
        .get(&format!("/v1/imports/{}/result.xlsx", s.id))
        .await;
    assert_eq!(
        result.status,
        200,
        "{}",
        String::from_utf8_lossy(&result.body)
    );
    let db = s.world.db().await;
    eventually(
        FINISH,
        "the cancelled import's upload to be purged",
        || async {
            let purged: i64 = sqlx::query_scalar("SELECT files_purged FROM imports WHERE id = $1")
                .bind(&s.id)
                .fetch_one(&db.pool)
                .await
                .expect("files_purged");
            (purged == 1).then_some(())
        },
    )
    .await;
    db.pool.close().await;
}

// ---- 8. a chunk that keeps killing its worker ------------------------------------------

#[tokio::test]
async fn a_chunk_that_keeps_killing_its_worker_fails_its_rows_and_the_rest_completes() {
    let mut env = slow_env();
    env.push(("ROSTER_MAX_ATTEMPTS", "2"));
    let mut s = scenario(1, 300, &env).await;
    // The first chunk a worker takes is the poison: kill whoever holds it, twice.
    let (n, poison) = wait_mid_chunk(&mut s.world, &s.id).await;
    s.world.kill_worker(n);
    s.world.start_worker();
    let deadline = Instant::now() + PROGRESS;
    loop {
        let holder = running_chunks(&s.world, &s.id)
            .await
            .into_iter()
            .find(|(c, _)| *c == poison);
        if let Some(n) = holder.and_then(|(_, owner)| worker_index(&mut s.world, &owner)) {
            s.world.kill_worker(n);
            s.world.start_worker();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chunk {poison} was not taken again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = assert_exactly_once(&s, "poison", "completed").await;
    let db = s.world.db().await;
    let (first, last): (i64, i64) = sqlx::query_as(
        "SELECT first_row, last_row FROM import_chunks WHERE import_id = $1 AND chunk_no = $2",
    )
    .bind(&s.id)
    .bind(poison)
    .fetch_one(&db.pool)
    .await
    .expect("the poison chunk");
    db.pool.close().await;
    for (row, o) in &rows {
        if (first..=last).contains(row) {
            assert_eq!(o["status"], "failed", "row {row} of the poison chunk: {o}");
            assert_eq!(o["errors"][0]["code"], "interrupted", "row {row}: {o}");
        } else {
            let want = if s.rows[(*row - 2) as usize].valid {
                "created"
            } else {
                "failed"
            };
            assert_eq!(o["status"], want, "row {row} outside the poison chunk: {o}");
        }
    }
}

// ---- 9. worker identity -----------------------------------------------------------------

/// The worker ids that `log` announces in its "roster-worker started" lines (JSON logs).
fn started_ids(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "roster-worker started")
        .filter_map(|v| v["worker.id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn workers_have_unique_ids_and_a_restarted_worker_takes_work_at_once() {
    let mut world = World::start(Mode::Cluster, 2, &[("ROSTER_LOG_FORMAT", "json")]).await;
    let ids = eventually(PROGRESS, "both workers to start", || {
        let (a, b) = (world.log("worker-0.log"), world.log("worker-1.log"));
        async move {
            let (a, b) = (started_ids(&a), started_ids(&b));
            (a.len() == 1 && b.len() == 1).then(|| (a[0].clone(), b[0].clone()))
        }
    })
    .await;
    assert_ne!(ids.0, ids.1, "two workers started back to back share an id");

    // Kill both and start one at once, well inside the queue's heartbeat window: it
    // must not collide with its dead predecessors, and must take the next import.
    world.kill_worker(0);
    world.kill_worker(1);
    let n = world.start_worker();
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let (csv, rows) = technicians_csv(40, group);
    let started = Instant::now();
    let a = api.upload("restart.csv", csv.into_bytes(), &[]).await;
    assert_eq!(a.status, 202);
    let id = a.json()["id"].as_str().unwrap().to_owned();
    let s = Scenario {
        world,
        api,
        id,
        rows,
    };
    let outcomes = assert_exactly_once(&s, "worker_identity", "completed").await;
    assert_unaffected(&s, &outcomes);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the restarted worker took {:?} to finish a 40-row import",
        started.elapsed()
    );
    let log = s.world.log(&format!("worker-{n}.log"));
    let new_ids = started_ids(&log);
    assert_eq!(new_ids.len(), 1, "{log}");
    assert!(
        new_ids[0] != ids.0 && new_ids[0] != ids.1,
        "the restarted worker reused an id"
    );
    assert!(
        log.contains("chunk claimed"),
        "the new worker did the work: {log}"
    );
}

// ---- 10. a sync run ---------------------------------------------------------------------

/// Members of the directory snapshot in the sync scenario: many chunks of
/// [`SYNC_CHUNK_ROWS`], so kills land in the middle of the run.
const SYNC_MEMBERS: usize = 12_000;
const SYNC_CHUNK_ROWS: &str = "400";
/// Every `SYNC_LINKED_EVERY`th member's email is a technician's that no source
/// owns yet (linked: `updated`); every `SYNC_DISABLED_EVERY`th is disabled in the
/// directory (created disabled, or a linked technician disabled).
const SYNC_LINKED_EVERY: usize = 997;
const SYNC_DISABLED_EVERY: usize = 13;

/// One member of the snapshot, and the outcome its first run must have.
struct SyncMemberRow {
    external_id: String,
    email: String,
    linked: bool,
    enabled: bool,
}

impl SyncMemberRow {
    /// The outcome of this member's first run.
    fn first_outcome(&self) -> &'static str {
        match (self.linked, self.enabled) {
            (false, _) => "created",
            (true, true) => "updated",
            (true, false) => "disabled",
        }
    }
}

fn sync_members() -> (Value, Vec<SyncMemberRow>) {
    let mut body = Vec::with_capacity(SYNC_MEMBERS);
    let mut rows = Vec::with_capacity(SYNC_MEMBERS);
    for i in 0..SYNC_MEMBERS {
        let external_id = format!("guid-{i:05}");
        let email = format!("member{i:05}@acme.test");
        let enabled = i % SYNC_DISABLED_EVERY != 0;
        body.push(
            json!({"external_id": external_id, "name": format!("Member {i}"),
                         "email": email, "enabled": enabled}),
        );
        rows.push(SyncMemberRow {
            external_id,
            email,
            linked: i % SYNC_LINKED_EVERY == SYNC_LINKED_EVERY - 1,
            enabled,
        });
    }
    (Value::Array(body), rows)
}

/// Sends the snapshot as `ad:faults` into `group`; answers the run's id.
async fn send_snapshot(api: &Client, group: i64, snapshot: &Value) -> String {
    let a = api
        .post(
            &format!("/v1/sync/sources/ad%3Afaults/snapshots?group_id={group}"),
            snapshot.clone(),
        )
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["kind"], "sync", "{v}");
    v["id"].as_str().expect("import id").to_owned()
}

/// Finishes a sync run and checks issue 5's invariants for it: every member has
/// exactly one outcome, and it is the one `expect` gives; the technicians of the
/// source are exactly the members, each once, created by this run only where it
/// says `created`; the counters and the result spreadsheet equal the outcomes.
async fn assert_sync_exactly_once(
    world: &World,
    api: &Client,
    id: &str,
    members: &[SyncMemberRow],
    expect: impl Fn(&SyncMemberRow) -> &'static str,
) {
    let n = members.len() as i64;
    let done = api.wait_finished(id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["total_rows"], n, "{done}");
    assert_eq!(done["processed_rows"], n, "{done}");

    let outcomes = api.all_rows(id).await;
    let mut by_row: BTreeMap<i64, Value> = BTreeMap::new();
    let mut duplicated = 0usize;
    for o in &outcomes {
        if by_row
            .insert(o["row"].as_i64().expect("row"), o.clone())
            .is_some()
        {
            duplicated += 1;
        }
    }
    let lost = (1..=n).filter(|r| !by_row.contains_key(r)).count();

    let db = world.db().await;
    let owned: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT external_id, email, import_id FROM technicians WHERE sync_source_id IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await
    .expect("the source's technicians");
    let in_org: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM technicians")
        .fetch_one(&db.pool)
        .await
        .expect("technicians");
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM import_rows WHERE import_id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("outcomes");
    let open_chunks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM import_chunks WHERE import_id = $1 AND status <> 'done'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("chunks");
    let chunks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM import_chunks WHERE import_id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("chunks");
    db.pool.close().await;
    eprintln!(
        "FAULTS test=sync import={id} rows={n} chunks={chunks} lost={lost} duplicated={duplicated} status={}",
        done["status"]
    );
    assert_eq!(lost, 0, "members without an outcome");
    assert_eq!(duplicated, 0, "members with two outcomes");
    assert_eq!(
        outcomes.len() as i64,
        n,
        "the rows endpoint lists each member once"
    );
    assert_eq!(recorded, n, "the database holds one outcome per member");
    assert_eq!(open_chunks, 0, "every chunk is closed");
    assert!(chunks > 1, "the run spans several chunks");

    // The source's technicians are the members, each exactly once.
    assert_eq!(owned.len(), members.len(), "one technician per member");
    assert_eq!(in_org, n, "no technician outside the source");
    let by_external: BTreeMap<&str, (&str, Option<&str>)> = owned
        .iter()
        .map(|(x, e, i)| (x.as_str(), (e.as_str(), i.as_deref())))
        .collect();
    assert_eq!(by_external.len(), members.len(), "external ids are unique");
    for (i, m) in members.iter().enumerate() {
        let row = i as i64 + 1;
        let o = &by_row[&row];
        let want = expect(m);
        assert_eq!(o["status"], want, "member {row} ({}): {o}", m.external_id);
        assert_eq!(o["email"], m.email.as_str(), "member {row}: {o}");
        let (email, import) = by_external
            .get(m.external_id.as_str())
            .unwrap_or_else(|| panic!("member {row} has no technician"));
        assert_eq!(*email, m.email, "member {row}");
        assert!(o["technician_id"].is_i64(), "member {row}: {o}");
        if want == "created" {
            assert_eq!(*import, Some(id), "member {row} was created by this run");
        }
    }

    // The counters equal the outcomes, and add up to the members.
    let mut tally: BTreeMap<String, i64> = BTreeMap::new();
    for o in by_row.values() {
        *tally
            .entry(o["status"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    let mut sum = 0;
    for status in [
        "created",
        "updated",
        "unchanged",
        "disabled",
        "skipped",
        "failed",
        "not_processed",
    ] {
        let counted = done["counts"][status].as_i64().unwrap_or(-1);
        assert_eq!(
            counted,
            tally.get(status).copied().unwrap_or(0),
            "counter {status}: {done}"
        );
        sum += counted;
    }
    assert_eq!(sum, n, "the counters add up to the members: {done}");

    // The result spreadsheet: one line per member, in snapshot order.
    let (sheet, _summary) = api.result_sheet(id).await;
    assert_eq!(sheet.len() as i64, n + 1, "header + one line per member");
    assert_eq!(sheet[0].first().map(String::as_str), Some("External ID"));
    let result_at = sheet[0].len() - 1;
    for (i, line) in sheet[1..].iter().enumerate() {
        assert_eq!(line[0], members[i].external_id, "line {} in order", i + 1);
        let want = match expect(&members[i]) {
            "created" => "Success",
            "updated" => "Updated",
            "disabled" => "Disabled",
            _ => "Unchanged",
        };
        assert_eq!(line[result_at], want, "line {}", i + 1);
    }
}

/// A sync run under the kill -9 scenario: a snapshot of many chunks, the worker in
/// the middle of a chunk killed three times and replaced; every member is applied
/// exactly once (created once, or linked), and the same snapshot afterwards
/// changes nothing.
#[tokio::test]
async fn kill_9_workers_mid_sync_chunk_applies_every_member_once() {
    let env = [
        ("ROSTER_WORKER_CONCURRENCY", "1"),
        ("ROSTER_CHUNK_ROWS", SYNC_CHUNK_ROWS),
    ];
    let mut world = World::start(Mode::Cluster, 2, &env).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Support", None).await;
    let (snapshot, members) = sync_members();
    for (i, m) in members.iter().enumerate().filter(|(_, m)| m.linked) {
        let a = api
            .post(
                "/v1/technicians",
                json!({"name": format!("Before {i}"), "email": m.email, "password": strong_password(i),
                       "enabled": true, "standard_license": true, "mobile_license": false,
                       "group_id": group}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    }
    let id = send_snapshot(&api, group, &snapshot).await;

    let mut interrupted = Vec::new();
    let mut processed = 0;
    for kill in 0..3 {
        if kill > 0 {
            let v = wait_processed(&api, &id, processed + 1).await;
            processed = v["processed_rows"].as_i64().unwrap_or(0);
        }
        let (n, chunk) = wait_mid_chunk(&mut world, &id).await;
        let pid = world.workers[n].id();
        world.kill_worker(n);
        world.start_worker();
        // As in the file scenario: a chunk still held by the dead worker once its
        // last commit has had time to land was interrupted.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if running_chunks(&world, &id)
            .await
            .iter()
            .any(|(c, owner)| *c == chunk && owner_pid(owner) == Some(pid))
        {
            interrupted.push(chunk);
        }
    }
    assert_sync_exactly_once(&world, &api, &id, &members, SyncMemberRow::first_outcome).await;
    eprintln!("FAULTS test=sync import={id} interrupted chunks {interrupted:?}");
    assert!(!interrupted.is_empty(), "no kill interrupted a chunk");
    let db = world.db().await;
    for chunk in &interrupted {
        let attempts: i64 = sqlx::query_scalar(
            "SELECT attempts FROM import_chunks WHERE import_id = $1 AND chunk_no = $2",
        )
        .bind(&id)
        .bind(chunk)
        .fetch_one(&db.pool)
        .await
        .expect("chunk attempts");
        assert!(
            attempts >= 2,
            "chunk {chunk} was finished by another worker"
        );
    }
    db.pool.close().await;

    // The same directory again: every member is unchanged.
    let again = send_snapshot(&api, group, &snapshot).await;
    assert_sync_exactly_once(&world, &api, &again, &members, |_| "unchanged").await;
}
