//! The embedded default on its own: work survives a restart of the process.

use roster_tests::{Mode, World, good_rows};
use std::time::Duration;

#[tokio::test]
async fn an_import_interrupted_by_a_restart_finishes_after_it() {
    // Costly enough hashing that the import is still running when the process dies.
    let mut world = World::start(
        Mode::Embedded,
        0,
        &[
            ("ROSTER_PASSWORD_HASH", "argon2id:m=4096,t=2,p=1"),
            ("ROSTER_WORKER_CONCURRENCY", "1"),
        ],
    )
    .await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let a = api
        .upload("big.csv", good_rows("t", 400, group).into_bytes(), &[])
        .await;
    assert_eq!(a.status, 202);
    let id = a.json()["id"].as_str().unwrap().to_owned();

    // Wait until some rows are done but not all, then kill -9 the process.
    roster_tests::eventually(Duration::from_secs(60), "some rows processed", || async {
        let v = api.get(&format!("/v1/imports/{id}")).await.json();
        (v["processed_rows"].as_i64().unwrap_or(0) > 0).then_some(())
    })
    .await;
    let before = api.get(&format!("/v1/imports/{id}")).await.json();
    assert_eq!(before["status"], "running", "{before}");
    world.restart_api().await;

    let api = api.with_token(&api.token);
    let api = roster_tests::Client::new(&world.api_url, &api.token);
    let done = api.wait_finished(&id, Duration::from_secs(180)).await;
    assert_eq!(
        done["status"],
        "completed",
        "{done}\n{}",
        world.log("api.log")
    );
    assert_eq!(done["counts"]["created"], 400);
    let outcomes = api.all_rows(&id).await;
    assert_eq!(outcomes.len(), 400);
    let mut rows: Vec<i64> = outcomes
        .iter()
        .map(|o| o["row"].as_i64().unwrap())
        .collect();
    rows.dedup();
    assert_eq!(
        rows,
        (2..402).collect::<Vec<i64>>(),
        "every row once, in order"
    );
    let db = world.db().await;
    let technicians: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM technicians")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(technicians, 400);
    let (sheet, _) = api.result_sheet(&id).await;
    assert_eq!(sheet.len(), 401);
    assert!(sheet[1..].iter().all(|r| r[10] == "Success"));
}
