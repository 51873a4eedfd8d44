//! kill -9 of workers mid-chunk, mid-chunk of a prehashed import, and while
//! finalizing: no row is lost or repeated.

use super::*;

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
