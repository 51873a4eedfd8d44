//! Workers that stop and start: SIGTERM lets another worker finish, and
//! every worker has its own id and takes work at once after a restart.

use super::*;

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
