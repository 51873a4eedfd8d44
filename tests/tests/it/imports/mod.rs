//! The spine, end to end, on both deployments: upload → queue → workers → result
//! spreadsheet, polled and downloaded as a user would.

use roster_tests::{Client, Mode, World, contains, full_csv, strong_password};
use serde_json::json;
use std::time::Duration;

mod postgres;
mod queue;
mod spine;
mod uploads;

const FINISH: Duration = Duration::from_secs(120);

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
