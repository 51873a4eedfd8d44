//! An import stopped partway on purpose: a cancel keeps the applied rows
//! and reports the rest, and a chunk that keeps killing its worker fails its
//! own rows while the rest completes.

use super::*;

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

// a chunk that keeps killing its worker

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
