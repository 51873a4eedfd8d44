//! The services around the workers fail mid-import (Redis restarted or
//! flushed, database connections cut, S3 away): no row is lost.

use super::*;

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

// Redis flushed

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

// database connections cut

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

// S3 away

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
