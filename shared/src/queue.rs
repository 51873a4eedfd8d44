//! The queue: it only delivers. A message names a step of an import by ids; the
//! database says whether that step is still to do, so a lost or repeated
//! message neither loses nor repeats work (the reconciler re-sends lost ones).
//!
//! Two adapters: Redis through apalis (cluster) and an in-process channel
//! (embedded default, where the database's state survives a restart and the
//! reconciler re-sends whatever was in flight).

use crate::model::ImportId;
use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use apalis_redis::{ConnectionManager, RedisStorage};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};

/// A step of an import pipeline, as a queue message (ids only: never file bytes or passwords).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Job {
    /// Read the upload, check the header, split it into chunks.
    PlanImport { import_id: ImportId },
    /// Validate, hash and write one chunk's rows.
    ProcessChunk { import_id: ImportId, chunk_no: i64 },
    /// Write the result spreadsheet and finish the import.
    FinalizeImport { import_id: ImportId },
}

impl Job {
    pub fn import_id(&self) -> &ImportId {
        match self {
            Job::PlanImport { import_id }
            | Job::ProcessChunk { import_id, .. }
            | Job::FinalizeImport { import_id } => import_id,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("queue: {0}")]
pub struct QueueError(pub String);

/// Sending work to workers.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    async fn enqueue(&self, job: Job) -> Result<(), QueueError>;
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), QueueError>;
}

/// The Redis queue (apalis-redis).
#[derive(Clone)]
pub struct RedisQueue {
    storage: RedisStorage<Job>,
    conn: ConnectionManager,
}

impl RedisQueue {
    /// Connects with timeouts of seconds, not redis-rs's 500 ms default, which can
    /// make the worker pool die under load (apalis-redis issue 76).
    pub async fn connect(url: &str, queue_name: &str) -> Result<Self, QueueError> {
        let client = redis::Client::open(url).map_err(|e| QueueError(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(6);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| QueueError(e.to_string()))?;
        let apalis_config = apalis_redis::Config::default()
            .queue(queue_name)
            // A dead worker's in-flight tasks come back after 3 missed 5-second
            // heartbeats; the database lease is what actually hands work out again.
            .heartbeat_interval(Duration::from_secs(5))
            .missed_heartbeats(3)
            .batch_size(1);
        let storage = RedisStorage::new(conn.clone()).with_config(apalis_config);
        Ok(Self { storage, conn })
    }

    /// The apalis backend, for building workers.
    pub fn storage(&self) -> RedisStorage<Job> {
        self.storage.clone()
    }
}

/// The id of this process's next message, greater than every earlier one.
///
/// apalis-redis files each new message under the second it was sent and hands
/// out one second's messages in the order of their ids. Its own ids are ULIDs
/// whose random part orders those of one millisecond at random: a plan that
/// sends its finalize and its chunks within a millisecond would see them
/// handed out shuffled (finalize late, so the result is written after the
/// chunks instead of beside them; chunk 0 last, so finalize cannot start).
/// One monotonic generator per process keeps its messages in the order sent;
/// between processes, the millisecond still orders them.
fn next_task_id() -> ulid::Ulid {
    static IDS: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let mut ids = IDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Overflow (the random part at its maximum within one millisecond) is all but
    // impossible; a plain ULID is then as good.
    ids.generate().unwrap_or_else(|_| ulid::Ulid::generate())
}

#[async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, job: Job) -> Result<(), QueueError> {
        let task = TaskBuilder::new(job)
            .task_id(TaskId::from_ulid(next_task_id()))
            .build();
        let mut storage = self.storage.clone();
        storage
            .push_task(task)
            .await
            .map_err(|e| QueueError(e.to_string()))
    }

    async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| QueueError(e.to_string()))
    }
}

/// The in-process queue of the embedded default.
#[derive(Clone)]
pub struct EmbeddedQueue {
    tx: mpsc::UnboundedSender<Job>,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
}

impl EmbeddedQueue {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// The next job, for one of the in-process workers; `None` when the queue is closed.
    pub async fn next(&self) -> Option<Job> {
        self.rx.lock().await.recv().await
    }

    /// The next job if one is waiting now, for tests that run the steps themselves.
    #[cfg(test)]
    pub(crate) async fn try_next(&self) -> Option<Job> {
        self.rx.lock().await.try_recv().ok()
    }
}

impl Default for EmbeddedQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn enqueue(&self, job: Job) -> Result<(), QueueError> {
        self.tx.send(job).map_err(|_| QueueError("closed".into()))
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(())
    }
}
