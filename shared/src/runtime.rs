//! Wiring: turns a [`Config`] into a pipeline [`Context`] with the right adapters
//! (cluster: PostgreSQL, Redis, S3; embedded default: SQLite, in-process queue, a folder).

use crate::config::Config;
use crate::db::Db;
use crate::pipeline::{self, Context};
use crate::queue::{EmbeddedQueue, Queue, RedisQueue};
use crate::storage::{FolderStore, ObjectStore, S3Store};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A connected process: the pipeline context and the queue it was given.
pub struct Runtime {
    pub ctx: Context,
    pub mode: Mode,
}

/// Which of Roster's two shapes a process runs in, by its queue.
pub enum Mode {
    /// The embedded default: no Redis; `roster-api serve` runs the workers
    /// itself, over this in-process queue.
    Embedded(EmbeddedQueue),
    /// A cluster: `roster-worker` processes consume this Redis queue.
    Cluster(Box<RedisQueue>),
}

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Queue(#[from] crate::queue::QueueError),
    #[error("data dir: {0}")]
    Io(#[from] std::io::Error),
}

impl Runtime {
    /// Connects to everything `config` names. `kind` prefixes the worker identity.
    pub async fn connect(config: Config, kind: &str) -> Result<Self, StartError> {
        let uses_data_dir = config.s3.is_none() || config.database_url.starts_with("sqlite:");
        if uses_data_dir {
            std::fs::create_dir_all(&config.data_dir)?;
        }
        let db = Db::connect(&config.database_url, 10).await?;
        let store: Arc<dyn ObjectStore> = match &config.s3 {
            Some(s3) => Arc::new(S3Store::new(s3)),
            None => Arc::new(FolderStore::new(config.data_dir.join("objects"))),
        };
        let (queue, mode): (Arc<dyn Queue>, _) = match &config.redis_url {
            Some(url) => {
                let q = RedisQueue::connect(url, &config.queue_name).await?;
                (Arc::new(q.clone()), Mode::Cluster(Box::new(q)))
            }
            None => {
                let q = EmbeddedQueue::new();
                (Arc::new(q.clone()), Mode::Embedded(q))
            }
        };
        let scratch = if uses_data_dir {
            config.data_dir.join("tmp")
        } else {
            std::env::temp_dir().join("roster")
        };
        let hasher = Arc::new(pipeline::HashPool::new(
            config.password_hash.clone(),
            config.worker_concurrency,
        ));
        let ctx = Context {
            db,
            store,
            queue,
            config: Arc::new(config),
            worker_id: pipeline::new_worker_id(kind),
            scratch,
            hasher,
            finalizers: Arc::new(tokio::sync::Semaphore::new(pipeline::FINALIZERS)),
            shutdown: CancellationToken::new(),
        };
        Ok(Self { ctx, mode })
    }
}

/// Runs the embedded default's workers inside this process until `stop`: `lanes`
/// jobs at a time, plus the reconciler, which also re-sends whatever was in
/// flight when the process last stopped (the database remembers it).
pub fn spawn_embedded_workers(
    ctx: &Context,
    queue: &EmbeddedQueue,
    lanes: usize,
    stop: CancellationToken,
) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..lanes.max(1) {
        let (ctx, queue, stop) = (ctx.clone(), queue.clone(), stop.clone());
        set.spawn(async move {
            loop {
                let job = tokio::select! {
                    _ = stop.cancelled() => return,
                    job = queue.next() => job,
                };
                match job {
                    Some(job) => pipeline::dispatch(&ctx, job).await,
                    None => return,
                }
            }
        });
    }
    let (ctx, stop) = (ctx.clone(), stop.clone());
    set.spawn(async move {
        // Unfinished work from before a restart is due at once.
        if let Err(e) = ctx.db.requeue_everything().await {
            tracing::warn!(error = %e, "could not re-send unfinished work");
        }
        pipeline::run_reconciler(ctx, stop).await
    });
    set
}

/// Resolves at SIGTERM or Ctrl-C: when a process (API or worker) starts its
/// graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
