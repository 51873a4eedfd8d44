//! The spine, end to end, on both deployments: upload → queue → workers → result
//! spreadsheet, polled and downloaded as a user would.

use roster_tests::{Client, Mode, World, full_csv, strong_password};
use serde_json::json;
use std::time::Duration;

const FINISH: Duration = Duration::from_secs(120);

async fn rows_with_taken_emails_fail_and_the_rest_are_created(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;

    // A first import takes one email.
    let first = full_csv(&[("Ana First", "ana@acme.test", &strong_password(0), group)]);
    let a = api.upload("first.csv", first.into_bytes(), &[]).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().unwrap().to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], 1);

    // The second import: three new technicians and one with Ana's email in other case.
    let rows = [
        ("Bo Second", "bo@acme.test", strong_password(1), group),
        ("Ana Again", "ANA@acme.test", strong_password(2), group),
        (
            "=HYPERLINK(\"http://x\")",
            "cy@acme.test",
            strong_password(3),
            group,
        ),
        ("Di Fourth", "di@acme.test", strong_password(4), group),
    ];
    let rows: Vec<(&str, &str, &str, i64)> = rows
        .iter()
        .map(|(n, e, p, g)| (*n, *e, p.as_str(), *g))
        .collect();
    let a = api
        .upload("second.csv", full_csv(&rows).into_bytes(), &[])
        .await;
    assert_eq!(a.status, 202);
    let import = a.json();
    assert_eq!(import["status"], "queued");
    assert_eq!(import["format"], "csv");
    assert_eq!(import["file_name"], "second.csv");
    let id = import["id"].as_str().unwrap().to_owned();

    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(
        done["status"],
        "completed",
        "{done}\n{}",
        world.log("api.log")
    );
    assert_eq!(done["total_rows"], 4);
    assert_eq!(done["processed_rows"], 4);
    assert_eq!(done["succeeded_rows"], 3);
    assert_eq!(done["failed_rows"], 1);
    assert_eq!(done["counts"]["created"], 3);
    assert_eq!(done["result_url"], format!("/v1/imports/{id}/result.xlsx"));

    // The service's metrics count the rows of both imports (their chunks' counters).
    let metrics = api.get("/metrics").await;
    let metrics = String::from_utf8_lossy(&metrics.body);
    assert!(
        metrics.contains("roster_rows_total{outcome=\"created\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("roster_rows_total{outcome=\"failed\"} 1"),
        "{metrics}"
    );

    // Per-row outcomes.
    let outcomes = api.all_rows(&id).await;
    assert_eq!(outcomes.len(), 4);
    let taken = &outcomes[1];
    assert_eq!(taken["row"], 3);
    assert_eq!(taken["status"], "failed");
    assert_eq!(taken["errors"][0]["code"], "email_taken");
    let failed_only = api
        .get(&format!("/v1/imports/{id}/rows?status=failed"))
        .await
        .json();
    assert_eq!(failed_only["items"].as_array().unwrap().len(), 1);

    // The result spreadsheet: uploaded rows + Result, passwords blanked, formulas as text.
    let (sheet, summary) = api.result_sheet(&id).await;
    assert_eq!(sheet[0].last().unwrap(), "Result");
    assert_eq!(sheet[0][0], "Name");
    assert_eq!(sheet.len(), 5);
    assert_eq!(sheet[1][10], "Success");
    assert!(sheet[2][10].starts_with("Error: Email:"), "{:?}", sheet[2]);
    assert_eq!(sheet[3][0], "=HYPERLINK(\"http://x\")");
    for row in &sheet[1..] {
        assert_eq!(row[5], "", "password cells are empty");
    }
    assert!(
        summary
            .iter()
            .any(|r| r.iter().any(|c| c.contains("Created"))),
        "{summary:?}"
    );
    let download = api.get(&format!("/v1/imports/{id}/result.xlsx")).await;
    assert_eq!(
        download.headers["content-disposition"],
        "attachment; filename=\"second-result.xlsx\""
    );

    // The directory has them, and never shows a password hash.
    let found = api.get("/v1/technicians?email=BO@acme.test").await.json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["group_id"], group);
    assert_eq!(found["items"][0]["must_change_password"], true);
    assert!(found["items"][0].get("password_hash").is_none());
    let all = api.get("/v1/technicians?limit=2").await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    assert!(all["next"].is_string());

    // Imports are listed newest first.
    let list = api.get("/v1/imports").await.json();
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn cluster_rows_with_taken_emails_fail_and_the_rest_are_created() {
    rows_with_taken_emails_fail_and_the_rest_are_created(Mode::Cluster).await;
}

#[tokio::test]
async fn embedded_rows_with_taken_emails_fail_and_the_rest_are_created() {
    rows_with_taken_emails_fail_and_the_rest_are_created(Mode::Embedded).await;
}

/// A first import into an organization with no technicians skips the per-batch
/// existing-email lookup (the plan records `directory_empty_at_plan`), so an
/// email taken after the plan must still fail its row alone, at the insert; a
/// later import of the same file, planned once the organization has
/// technicians, looks its emails up and fails every row.
async fn an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone(mode: Mode) {
    // OWASP hashing on one thread and 40-row chunks: the last chunk starts seconds
    // after the plan is saved, long after this test takes its email.
    let env = [
        ("ROSTER_PASSWORD_HASH", "argon2id:m=19456,t=2,p=1"),
        ("ROSTER_WORKER_CONCURRENCY", "1"),
        ("ROSTER_CHUNK_ROWS", "40"),
    ];
    let world = World::start(mode, 1, &env).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let emails: Vec<String> = (0..160).map(|i| format!("tech{i}@acme.test")).collect();
    let passwords: Vec<String> = (0..160).map(strong_password).collect();
    let rows: Vec<(&str, &str, &str, i64)> = emails
        .iter()
        .zip(&passwords)
        .map(|(e, p)| ("Tech", e.as_str(), p.as_str(), group))
        .collect();
    let csv = full_csv(&rows);
    let a = api.upload("first.csv", csv.clone().into_bytes(), &[]).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().unwrap().to_owned();

    let db = world.db().await;
    roster_tests::eventually(FINISH, "the plan is saved", || async {
        let import = api.get(&format!("/v1/imports/{id}")).await.json();
        import["total_rows"].as_i64().filter(|n| *n == 160)
    })
    .await;
    another_technician(&db, group, "TECH159@acme.test").await;

    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], 159, "{done}");
    assert_eq!(done["failed_rows"], 1, "{done}");
    let failed = api
        .get(&format!("/v1/imports/{id}/rows?status=failed"))
        .await
        .json();
    let failed = failed["items"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["row"], 161);
    assert_eq!(failed[0]["errors"][0]["code"], "email_taken");
    let empty_at_plan = |id: String| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(directory_empty_at_plan AS BIGINT) FROM imports WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("flag")
        }
    };
    assert_eq!(
        empty_at_plan(id.clone()).await,
        1,
        "planned into an empty organization"
    );

    // The same file again: the organization has technicians now.
    let a = api.upload("again.csv", csv.into_bytes(), &[]).await;
    let again = a.json()["id"].as_str().unwrap().to_owned();
    let done = api.wait_finished(&again, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["failed_rows"], 160, "{done}");
    assert_eq!(done["counts"]["created"], 0, "{done}");
    assert_eq!(empty_at_plan(again).await, 0);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM technicians")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(count, 160);
}

#[tokio::test]
async fn cluster_an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone() {
    an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone(Mode::Cluster).await;
}

#[tokio::test]
async fn embedded_an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone() {
    an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone(Mode::Embedded).await;
}

async fn no_password_is_left_anywhere_after_an_import(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let secret = "Zebra-Quartz-Marmalade-7731";
    let csv = full_csv(&[
        ("Ed Secret", "ed@acme.test", secret, group),
        ("Bad Row", "not-an-email", secret, group),
    ]);
    let a = api.upload("secret.csv", csv.into_bytes(), &[]).await;
    let id = a.json()["id"].as_str().unwrap().to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["counts"]["created"], 1);

    // Not in any object (upload and chunks are deleted; the result has no password).
    let objects = files_under(&world.s3_root());
    assert!(!objects.is_empty(), "the result object exists");
    for path in &objects {
        let bytes = std::fs::read(path).unwrap();
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "{} holds the password",
            path.display()
        );
        let name = path.to_string_lossy();
        assert!(
            !name.contains("upload") && !name.contains("chunks/0"),
            "input object left: {name}"
        );
    }
    // Not in the logs.
    for log in ["api.log", "worker-0.log"] {
        assert!(!world.log(log).contains(secret), "{log} holds the password");
    }
    // Not in the database: only an argon2id hash, and nowhere in a full dump.
    let db = world.db().await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM technicians")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let dump = world.database_dump();
    assert!(dump.len() > 1000, "the dump has content");
    assert!(contains(&dump, b"ed@acme.test"), "the dump has the rows");
    assert!(
        !contains(&dump, secret.as_bytes()),
        "the database holds the password"
    );
    // Not in Redis (cluster): messages carry ids only.
    if let Some(port) = world.redis_port {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!keys.is_empty());
        for key in keys {
            let dump: Option<Vec<u8>> = redis::cmd("DUMP")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(
                !contains(&dump.unwrap_or_default(), secret.as_bytes()),
                "redis key {key} holds the password"
            );
        }
    }
}

#[tokio::test]
async fn cluster_no_password_is_left_anywhere_after_an_import() {
    no_password_is_left_anywhere_after_an_import(Mode::Cluster).await;
}

#[tokio::test]
async fn embedded_no_password_is_left_anywhere_after_an_import() {
    no_password_is_left_anywhere_after_an_import(Mode::Embedded).await;
}

#[tokio::test]
async fn uploads_are_refused_when_too_large_unsupported_or_unauthenticated() {
    let world = World::start(Mode::Embedded, 0, &[("ROSTER_MAX_UPLOAD_BYTES", "2000")]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;

    let big: Vec<u8> = full_csv(&[("A", "a@acme.test", "x", group)])
        .into_bytes()
        .into_iter()
        .cycle()
        .take(50_000)
        .collect();
    let a = api.upload("big.csv", big.clone(), &[]).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.json()["code"], "payload_too_large");
    assert_eq!(a.headers["content-type"], "application/problem+json");
    let a = api
        .upload_raw("file_name=big.csv", "text/csv", big, &[])
        .await;
    assert_eq!(a.status, 413);

    let a = api
        .upload(
            "doc.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec(),
            &[],
        )
        .await;
    assert_eq!(a.status, 415);
    assert_eq!(a.json()["code"], "unsupported_format");

    let a = api
        .upload(
            "t.csv",
            b"Name,Email,Password\n".to_vec(),
            &[("group_id", "999999")],
        )
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.json()["code"], "unknown_group");

    let anonymous = api.with_token("");
    assert_eq!(anonymous.get("/v1/imports").await.status, 401);
    assert_eq!(
        api.with_token("rst_wrong").get("/v1/imports").await.status,
        401
    );
    assert_eq!(
        api.get("/v1/imports/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );
    assert_eq!(api.get("/v1/imports/not-a-uuid").await.status, 404);
    // Malformed parameters are problem+json too, never axum's plain text.
    let a = api.get("/v1/imports?limit=abc").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(a.json()["code"], "invalid_request");
    let a = api.get("/v1/groups/abc").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.json()["code"], "not_found");
    // Nothing was registered by the refused uploads.
    assert_eq!(
        api.get("/v1/imports").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn readiness_follows_the_object_store() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    assert_eq!(api.get("/healthz").await.status, 200);
    let ready = api.get("/readyz").await;
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    world.stop_s3();
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["code"], "unavailable");
    assert_eq!(api.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn raw_body_uploads_with_an_idempotency_key_create_one_import() {
    let world = World::start(Mode::Cluster, 1, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Fa Once", "fa@acme.test", &strong_password(9), group)]).into_bytes();
    let key = [("Idempotency-Key", "retry-123")];
    let (a, b) = tokio::join!(
        api.upload_raw("file_name=once.csv", "text/csv", csv.clone(), &key),
        api.upload_raw("file_name=once.csv", "text/csv", csv.clone(), &key)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 202]);
    assert_eq!(a.json()["id"], b.json()["id"]);
    let id = a.json()["id"].as_str().unwrap().to_owned();
    api.wait_finished(&id, FINISH).await;
    let again = api
        .upload_raw("file_name=once.csv", "text/csv", csv, &key)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(
        api.get("/v1/imports").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.get("/v1/technicians").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = json!(null);
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_lost_upload_fails_the_import_instead_of_retrying_forever() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Gil Lost", "gil@acme.test", &strong_password(5), group)]);
    let a = api.upload("lost.csv", csv.into_bytes(), &[]).await;
    let id = a.json()["id"].as_str().unwrap().to_owned();
    // No worker runs yet: remove the stored upload behind Roster's back.
    let upload = world.s3_root().join(format!("roster/imports/{id}/upload"));
    assert!(upload.exists(), "{} was stored", upload.display());
    std::fs::remove_file(&upload).unwrap();
    world.start_worker();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "internal");
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
}

/// A cluster world where no worker runs, an organization with a group, and one
/// queued import of one row: (world, its administrator, the group, the import's id).
/// Where a test plays a worker's part itself, it starts here.
async fn a_queued_import(file_name: &str) -> (World, Client, i64, String) {
    let world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Ana", "ana@acme.test", &strong_password(0), group)]);
    let a = api.upload(file_name, csv.into_bytes(), &[]).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    (world, api, group, id)
}

/// A technician that someone else creates in `group`'s organization, outside any
/// import: the way an email gets taken in a race. Returns its id.
async fn another_technician(db: &roster_shared::db::Db, group: i64, email: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO technicians (org_id, name, email, email_key, password_hash, enabled, standard_license, \
         mobile_license, group_id, must_change_password, created_at, updated_at) \
         SELECT org_id, 'Other', $2, $3, 'x', 1, 1, 0, id, 0, 0, 0 FROM technician_groups WHERE id = $1 \
         RETURNING id",
    )
    .bind(group)
    .bind(email)
    .bind(email.to_lowercase())
    .fetch_one(&db.pool)
    .await
    .expect("the other technician")
}

/// Plays the planner and then a worker of `id`: records its chunks (pending, sent
/// long ago), each `(first_row, last_row)` in order from chunk 0, and claims chunk 0
/// for "test-worker" with a lease of 60 s.
async fn claimed_chunk_0(
    db: &roster_shared::db::Db,
    id: &str,
    chunks: &[(i64, i64)],
) -> roster_shared::db::Lease {
    for (chunk_no, (first, last)) in (0i64..).zip(chunks) {
        sqlx::query(
            "INSERT INTO import_chunks (import_id, chunk_no, first_row, last_row, row_count, status, enqueued_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', 1)",
        )
        .bind(id)
        .bind(chunk_no)
        .bind(first)
        .bind(last)
        .bind(last - first + 1)
        .execute(&db.pool)
        .await
        .expect("chunk");
    }
    claimed(db, id, 0, "test-worker", 60_000).await
}

/// Claims chunk `chunk_no` of `id` for `owner`, with a lease of `lease_ms`.
async fn claimed(
    db: &roster_shared::db::Db,
    id: &str,
    chunk_no: i64,
    owner: &str,
    lease_ms: i64,
) -> roster_shared::db::Lease {
    let lease = roster_shared::db::Lease {
        import_id: roster_shared::model::ImportId::from_stored(id.to_owned()),
        chunk_no,
        owner: owner.into(),
    };
    db.claim_chunk(&lease, lease_ms)
        .await
        .expect("claim")
        .expect("chunk claimed");
    lease
}

/// Listing the failed rows of a large import on PostgreSQL is a range of the
/// partial index that holds only the rows that did not take effect
/// (`import_rows_problems`), not a walk over every created row; and the route
/// returns exactly those rows.
#[tokio::test]
async fn cluster_the_failed_rows_of_a_large_import_come_from_their_own_index() {
    let (world, api, _group, id) = a_queued_import("large.csv").await;

    // No worker runs: the outcomes of a 100,000-row import, one row in 1,000 failed.
    let db = world.db().await;
    sqlx::query(
        "INSERT INTO import_rows (import_id, row_no, email, status, technician_id, errors) \
         SELECT $1, g, 'x' || g || '@acme.test', CASE WHEN g % 1000 = 0 THEN 'failed' ELSE 'created' END, \
         NULL, '[]' FROM generate_series(2, 100001) AS g",
    )
    .bind(&id)
    .execute(&db.pool)
    .await
    .expect("outcomes");
    let sql = roster_shared::db::list_rows_sql(Some(roster_shared::model::RowStatus::Failed));
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
        .bind(&id)
        .bind(1_i64)
        .bind(100_i64)
        .fetch_all(&db.pool)
        .await
        .expect("explain");
    let plan = plan.join("\n");
    assert!(plan.contains("import_rows_problems"), "{plan}");
    db.pool.close().await;

    let failed = api
        .get(&format!("/v1/imports/{id}/rows?status=failed&limit=500"))
        .await;
    assert_eq!(
        failed.status,
        200,
        "{}",
        String::from_utf8_lossy(&failed.body)
    );
    let rows: Vec<i64> = failed.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| o["row"].as_i64().expect("row"))
        .collect();
    assert_eq!(rows, (1..=100).map(|k| k * 1000).collect::<Vec<i64>>());
}

/// On PostgreSQL a batch of creations goes in with `COPY`: text that is syntax
/// in COPY's format must arrive as written, and an email that someone else took
/// after the batch looked must roll back only the copy: that row fails
/// `email_taken`, the others are created, and the outcomes name their ids.
#[tokio::test]
async fn cluster_a_copied_batch_keeps_its_text_and_loses_a_race_for_one_email_only() {
    use roster_shared::db::TechnicianWrite;
    use roster_shared::model::ImportId;

    let (world, _api, group, id) = a_queued_import("race.csv").await;

    // No worker runs: this test is the worker of a three-row chunk.
    let db = world.db().await;
    let org: roster_shared::model::OrgId =
        sqlx::query_scalar("SELECT org_id FROM imports WHERE id = $1")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .expect("org");
    let lease = claimed_chunk_0(&db, &id, &[(2, 4)]).await;
    let write = |row: i64, name: &str, email: &str| TechnicianWrite {
        row,
        name: name.to_owned(),
        nickname: None,
        email: email.to_owned(),
        email_key: email.to_lowercase(),
        sso_id: Some("sso\\id".to_owned()),
        description: Some(name.to_owned()),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
        enabled: true,
        standard_license: true,
        mobile_license: false,
        group_id: roster_shared::model::GroupId::new(group),
        must_change_password: true,
    };

    let odd = "Tab\there, back\\slash \\N, new\nline, cr\r, quote \" é ✓";
    let counts = db
        .commit_batch(
            &lease,
            60_000,
            org,
            vec![write(2, odd, "odd@acme.test")],
            vec![],
            vec![],
        )
        .await
        .expect("first batch")
        .expect("lease held");
    assert_eq!((counts.created, counts.failed), (1, 0));
    let (name, description, sso): (String, String, String) = sqlx::query_as(
        "SELECT name, description, sso_id FROM technicians WHERE org_id = $1 AND email_key = 'odd@acme.test'",
    )
    .bind(org)
    .fetch_one(&db.pool)
    .await
    .expect("odd technician");
    assert_eq!((name.as_str(), description.as_str()), (odd, odd));
    assert_eq!(sso, "sso\\id");

    // Someone else takes an email between the batch's lookup and its commit.
    let other = another_technician(&db, group, "taken@acme.test").await;
    let counts = db
        .commit_batch(
            &lease,
            60_000,
            org,
            vec![
                write(3, "Bo", "Taken@acme.test"),
                write(4, "Cy", "cy@acme.test"),
            ],
            vec![],
            vec![],
        )
        .await
        .expect("second batch")
        .expect("lease held");
    assert_eq!((counts.created, counts.failed), (1, 1));

    let outcomes: Vec<(i64, String, String, Option<i64>, String)> = sqlx::query_as(
        "SELECT r.row_no, r.email, r.status, r.technician_id, r.errors FROM import_rows r \
         WHERE r.import_id = $1 ORDER BY r.row_no",
    )
    .bind(&id)
    .fetch_all(&db.pool)
    .await
    .expect("outcomes");
    let ids: Vec<(String, i64)> = sqlx::query_as(
        "SELECT email_key, id FROM technicians WHERE org_id = $1 ORDER BY email_key",
    )
    .bind(org)
    .fetch_all(&db.pool)
    .await
    .expect("technicians");
    let id_of = |key: &str| ids.iter().find(|(k, _)| k == key).map(|(_, id)| *id);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(id_of("taken@acme.test"), Some(other));
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(
        (outcomes[0].0, outcomes[0].2.as_str(), outcomes[0].3),
        (2, "created", id_of("odd@acme.test"))
    );
    assert_eq!(
        (
            outcomes[1].0,
            outcomes[1].1.as_str(),
            outcomes[1].2.as_str(),
            outcomes[1].3
        ),
        (3, "Taken@acme.test", "failed", None)
    );
    assert!(outcomes[1].4.contains("email_taken"), "{outcomes:?}");
    assert_eq!(
        (outcomes[2].0, outcomes[2].2.as_str(), outcomes[2].3),
        (4, "created", id_of("cy@acme.test"))
    );
    assert_eq!(outcomes[0].4, "[]");
    // The counters moved with the batch (on its chunk's row; the import reads them there).
    let counts = db
        .load_import(&ImportId::from_stored(id.clone()))
        .await
        .expect("load")
        .expect("import")
        .counts;
    assert_eq!(
        (counts.created, counts.failed, counts.processed()),
        (2, 1, 3)
    );
}

/// On PostgreSQL an outcome's import is checked once per statement by triggers
/// (migration 0005), not by a foreign key per row. They must keep what the key
/// promised: an outcome of a missing import fails (23503), the import is locked
/// against deletion until the writer commits, and deleting it (here through its
/// organization) deletes its outcomes.
#[tokio::test]
async fn cluster_an_outcome_needs_its_import_and_goes_with_it() {
    let (world, _api, _group, id) = a_queued_import("outcomes.csv").await;
    let db = world.db().await;
    let outcome = "INSERT INTO import_rows (import_id, row_no, email, status, technician_id, errors) \
                   VALUES ($1, $2, 'a@acme.test', 'failed', NULL, '[]')";

    let missing = sqlx::query(outcome)
        .bind("no-such-import")
        .bind(2i64)
        .execute(&db.pool)
        .await
        .expect_err("an outcome of no import");
    let code = missing.as_database_error().and_then(|d| d.code());
    assert_eq!(code.as_deref(), Some("23503"), "{missing}");

    // `COPY`, as the workers write outcomes, is checked the same way.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&world.database_url)
        .await
        .expect("PostgreSQL");
    let mut copy = conn
        .copy_in_raw(
            "COPY import_rows (import_id, row_no, email, status, technician_id, errors) FROM STDIN",
        )
        .await
        .expect("copy");
    copy.send(b"no-such-import\t5\ta@acme.test\tfailed\t\\N\t[]\n".as_slice())
        .await
        .expect("copy data");
    let copied = copy
        .finish()
        .await
        .expect_err("a copied outcome of no import");
    let code = copied.as_database_error().and_then(|d| d.code());
    assert_eq!(code.as_deref(), Some("23503"), "{copied}");
    // An import's id cannot change.
    let renamed = sqlx::query("UPDATE imports SET id = 'renamed' WHERE id = $1")
        .bind(&id)
        .execute(&db.pool)
        .await
        .expect_err("an import's id is fixed");
    let code = renamed.as_database_error().and_then(|d| d.code());
    assert_eq!(code.as_deref(), Some("23503"), "{renamed}");

    // A writer holds the import until it commits: a delete waits for it.
    let mut writer = db.pool.begin().await.expect("writer");
    sqlx::query(outcome)
        .bind(&id)
        .bind(2i64)
        .execute(&mut *writer)
        .await
        .expect("an outcome of the import");
    let mut deleter = db.pool.begin().await.expect("deleter");
    sqlx::raw_sql("SET LOCAL lock_timeout = '300ms'")
        .execute(&mut *deleter)
        .await
        .expect("lock timeout");
    let blocked = sqlx::query(
        "DELETE FROM organizations WHERE id = (SELECT org_id FROM imports WHERE id = $1)",
    )
    .bind(&id)
    .execute(&mut *deleter)
    .await
    .expect_err("the import is locked by its writer");
    let code = blocked.as_database_error().and_then(|d| d.code());
    assert_eq!(code.as_deref(), Some("55P03"), "{blocked}");
    deleter.rollback().await.expect("rollback");
    writer.commit().await.expect("commit");

    let outcomes = "SELECT COUNT(*) FROM import_rows WHERE import_id = $1";
    let count: i64 = sqlx::query_scalar(outcomes)
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
    let deleted = sqlx::query(
        "DELETE FROM organizations WHERE id = (SELECT org_id FROM imports WHERE id = $1)",
    )
    .bind(&id)
    .execute(&db.pool)
    .await
    .expect("delete the organization");
    assert_eq!(deleted.rows_affected(), 1);
    let count: i64 = sqlx::query_scalar(outcomes)
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(count, 0, "the outcomes went with their import");
}

/// The existing-email lookup runs once per batch as the import fills the table.
/// It must probe the unique index once per key and never read the whole
/// organization, whatever the statement was first planned with (sqlx prepares it
/// once per connection). The control: the plain join, given the generic plan
/// PostgreSQL keeps for a prepared statement, reads the organization.
#[tokio::test]
async fn cluster_the_email_lookup_probes_the_unique_index_once_per_key() {
    use roster_shared::db::{EXISTING_EMAILS_PLANNER_POSTGRES, EXISTING_EMAILS_POSTGRES};

    let world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let db = world.db().await;
    // An organization's first import, a few batches in.
    sqlx::query(
        "INSERT INTO technicians (org_id, name, email, email_key, password_hash, enabled, standard_license, \
         mobile_license, group_id, must_change_password, created_at, updated_at) \
         SELECT g.org_id, 'T' || n, 't' || n || '@acme.test', 't' || n || '@acme.test', 'x', 1, 1, 0, g.id, 0, 0, 0 \
         FROM technician_groups g, generate_series(1, 3000) AS n WHERE g.id = $1",
    )
    .bind(group)
    .execute(&db.pool)
    .await
    .expect("technicians");
    let org: roster_shared::model::OrgId =
        sqlx::query_scalar("SELECT org_id FROM technician_groups WHERE id = $1")
            .bind(group)
            .fetch_one(&db.pool)
            .await
            .expect("org");
    let mut conn = db.pool.acquire().await.expect("connection");
    let mut plan_with = async |name: &str, settings: &str, statement: &str| -> String {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.expect("begin");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "{settings}; PREPARE {name}(bigint, text) AS {statement}"
        )))
        .execute(&mut *tx)
        .await
        .expect("settings");
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            r#"EXPLAIN EXECUTE {name}({org}, '["t7@acme.test","new@acme.test"]')"#
        )))
        .fetch_all(&mut *tx)
        .await
        .expect("explain");
        tx.rollback().await.expect("rollback");
        plan.join("\n")
    };

    let control = plan_with(
        "control",
        "SET LOCAL plan_cache_mode = force_generic_plan",
        "SELECT t.email_key, t.id FROM json_array_elements_text($2::json) AS k(key) \
         JOIN technicians t ON t.org_id = $1 AND t.email_key = k.key",
    )
    .await;
    assert!(control.contains("Hash Join"), "{control}");

    let plan = plan_with(
        "lookup",
        EXISTING_EMAILS_PLANNER_POSTGRES,
        EXISTING_EMAILS_POSTGRES,
    )
    .await;
    assert!(plan.contains("Nested Loop"), "{plan}");
    assert!(
        plan.contains("Index Scan using technicians_org_email"),
        "{plan}"
    );
    assert!(plan.contains("email_key = k.key"), "{plan}");
    assert!(!plan.contains("Hash") && !plan.contains("Bitmap"), "{plan}");
    // The keys are the outer side: the index is searched per key.
    let keys_at = plan.find("json_array_elements_text").expect("keys");
    let index_at = plan.find("technicians_org_email").expect("index");
    assert!(keys_at < index_at, "{plan}");

    // And the lookup itself finds what exists, and only that.
    let found = db
        .existing_emails(org, &["t7@acme.test".into(), "new@acme.test".into()])
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "t7@acme.test");
    assert_eq!(found[0].1.group_id.get(), group);
}

/// A plan sends its finalize and then its chunks, often all within one
/// millisecond; the Redis queue must hand them out in that order (finalize
/// first, so that it writes result rows beside the chunks; chunk 0 before
/// chunk 1, so that finalize can start). apalis-redis's own ids order one
/// millisecond's messages at random; 300 messages sent back to back span a
/// few milliseconds of about ten messages each.
#[tokio::test]
async fn cluster_the_redis_queue_hands_out_a_process_s_messages_in_the_order_sent() {
    use apalis::layers::WorkerBuilderExt;
    use apalis::prelude::{BackendExt, BoxDynError, Data, WorkerBuilder, WorkerContext};
    use roster_shared::model::ImportId;
    use roster_shared::queue::{Job, Queue, RedisQueue};
    use std::sync::{Arc, Mutex};

    let world = World::start(Mode::Cluster, 0, &[]).await;
    let url = format!("redis://127.0.0.1:{}", world.redis_port.expect("redis"));
    let queue = RedisQueue::connect(&url, "order")
        .await
        .expect("redis queue");
    let import_id = ImportId::from_stored("01-order".into());
    let mut sent = vec![Job::FinalizeImport {
        import_id: import_id.clone(),
    }];
    sent.extend((0..299).map(|chunk_no| Job::ProcessChunk {
        import_id: import_id.clone(),
        chunk_no,
    }));
    for job in &sent {
        queue.enqueue(job.clone()).await.expect("enqueue");
    }

    type Seen = Arc<Mutex<Vec<Job>>>;
    async fn take(job: Job, seen: Data<Seen>, worker: WorkerContext) -> Result<(), BoxDynError> {
        let mut seen = seen.lock().expect("seen");
        seen.push(job);
        if seen.len() == 300 {
            worker.stop()?;
        }
        Ok(())
    }
    let seen: Seen = Arc::default();
    let worker = WorkerBuilder::new("order-reader")
        .backend(
            queue
                .storage()
                .poll_with_interval(Duration::from_millis(20)),
        )
        .concurrency(1)
        .data(seen.clone())
        .build(take);
    tokio::time::timeout(Duration::from_secs(60), worker.run())
        .await
        .expect("300 messages within 60 s")
        .expect("worker");
    assert_eq!(*seen.lock().expect("seen"), sent);
}

/// The reconciler sends a chunk's message again when it may have been lost, not
/// while its import's chunks are being claimed: a large import's chunks wait in the
/// queue far longer than `ROSTER_REQUEUE_SECS`, and each would be sent again every
/// sweep. A chunk known not to be queued (its worker died) is sent at once; once no
/// chunk of the import has been claimed for `ROSTER_REQUEUE_SECS`, every stale one is.
#[tokio::test]
async fn cluster_the_reconciler_leaves_the_queued_chunks_of_a_running_import_alone() {
    use roster_shared::model::ImportId;

    let (world, _api, _group, id) = a_queued_import("queued.csv").await;
    // No worker runs: this test plays the planner and the workers.
    let db = world.db().await;
    sqlx::query("UPDATE imports SET status = 'running', chunk_count = 3 WHERE id = $1")
        .bind(&id)
        .execute(&db.pool)
        .await
        .expect("running");
    claimed_chunk_0(&db, &id, &[(2, 2), (3, 3), (4, 4)]).await;
    // Chunk 2's worker dies at once: its lease expires.
    claimed(&db, &id, 2, "dead-worker", 1).await;
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Chunk 1 was sent long ago, but the import's chunks are being claimed: it is
    // queued behind them. Chunk 2 is in no queue: it is sent at once.
    let due = db.due_work(1_000).await.expect("sweep").chunks;
    assert_eq!(due, vec![(ImportId::from_stored(id.clone()), 2)]);

    // Nothing of the import claimed for longer than requeue_after: chunk 1 may have
    // been lost, and chunk 2's message too.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut due = db.due_work(1_000).await.expect("sweep").chunks;
    due.sort_by_key(|(_, no)| *no);
    let expected = [1, 2]
        .map(|no| (ImportId::from_stored(id.clone()), no))
        .to_vec();
    assert_eq!(due, expected);
    // Stamped as sent: the next sweep waits again.
    assert_eq!(db.due_work(60_000).await.expect("sweep").chunks, vec![]);
}
