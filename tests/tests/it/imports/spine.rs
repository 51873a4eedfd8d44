//! Rows with taken emails fail and the rest are created, on both
//! deployments, and no password is left anywhere after an import.

use super::*;
use roster_tests::both_modes;

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

both_modes!(rows_with_taken_emails_fail_and_the_rest_are_created: embedded_rows_with_taken_emails_fail_and_the_rest_are_created, cluster_rows_with_taken_emails_fail_and_the_rest_are_created);

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

both_modes!(an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone: embedded_an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone, cluster_an_email_taken_after_the_plan_of_a_first_import_fails_its_row_alone);

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

both_modes!(no_password_is_left_anywhere_after_an_import: embedded_no_password_is_left_anywhere_after_an_import, cluster_no_password_is_left_anywhere_after_an_import);

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
