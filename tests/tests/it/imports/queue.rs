//! The Redis queue and the reconciler, played directly on a cluster: messages
//! come out in the order sent, and the queued chunks of a running import are
//! left alone.

use super::*;

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
