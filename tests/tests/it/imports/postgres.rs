//! What PostgreSQL must do for an import, checked on the database itself:
//! the failed rows come from their own index, a batch goes in with COPY, an
//! outcome needs its import, and the email lookup probes the unique index.

use super::*;

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
