//! The import pipeline: plan → chunks → finalize (DESIGN.md), as plain async
//! functions over an explicit [`Context`], plus the reconciler that re-sends work
//! whose message was lost or whose worker died. Queue adapters only call [`run`];
//! the API calls [`accept`] to make an upload an import.

pub mod accept;
mod chunk;
mod finalize;
#[cfg(test)]
mod harness;
mod hashing;
mod memo;
mod plan;
mod reconcile;
mod sync;

pub use hashing::HashPool;
use memo::strength_memo;
pub use reconcile::{reconcile_once, run_reconciler};
pub use sync::{MAX_DISABLES, SYNC_COLUMNS};

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::model::ImportId;
use crate::queue::{Job, Queue, QueueError};
use crate::storage::{ObjectStore, StorageError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Everything a pipeline step needs.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub store: Arc<dyn ObjectStore>,
    pub queue: Arc<dyn Queue>,
    pub config: Arc<Config>,
    /// This process's unique identity, the owner name of its leases.
    pub worker_id: String,
    /// Where steps keep their temporary files.
    pub scratch: PathBuf,
    /// The process's password-hashing threads.
    pub hasher: Arc<HashPool>,
    /// Finalize steps running in this process (see [`dispatch`]).
    pub finalizers: Arc<tokio::sync::Semaphore>,
    /// Cancelled when the process is stopping: long steps give their work back
    /// between batches instead of being cut off.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl Context {
    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis() as i64
    }

    fn scratch_dir(&self) -> Result<tempfile::TempDir, StepError> {
        std::fs::create_dir_all(&self.scratch).map_err(|e| StepError::Internal(e.to_string()))?;
        tempfile::tempdir_in(&self.scratch).map_err(|e| StepError::Internal(e.to_string()))
    }
}

/// A unique identity for this process: restarting never collides with a ghost of itself.
pub fn new_worker_id(kind: &str) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{kind}-{host}-{}-{}", std::process::id(), &nonce[..8])
}

/// A step that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("{0}")]
    Internal(String),
}

impl StepError {
    /// Worth trying again (a server away), as opposed to a defect that will recur.
    pub fn is_transient(&self) -> bool {
        match self {
            StepError::Db(e) => e.is_transient(),
            StepError::Storage(StorageError::Io(_)) | StepError::Queue(_) => true,
            StepError::Storage(StorageError::NotFound(_)) | StepError::Internal(_) => false,
        }
    }
}

/// How many imports one process finalizes at once. A finalize mostly waits for
/// chunks, holding one chunk of records and the spreadsheet writer's buffers.
pub const FINALIZERS: usize = 8;

/// Sends the steps of an import whose plan was just saved: its finalize first
/// (it writes each chunk's result rows as the chunk finishes; the queue hands
/// messages out in order, and behind the chunks it would start only when they
/// were all taken), then each chunk.
async fn enqueue_planned(
    ctx: &Context,
    id: &ImportId,
    chunks: &[crate::db::ChunkPlan],
) -> Result<(), QueueError> {
    ctx.queue
        .enqueue(Job::FinalizeImport {
            import_id: id.clone(),
        })
        .await?;
    for c in chunks {
        ctx.queue
            .enqueue(Job::ProcessChunk {
                import_id: id.clone(),
                chunk_no: c.chunk_no,
            })
            .await?;
    }
    Ok(())
}

/// Takes one job from a queue. Plan and chunk steps run to their end here, one at a
/// time per queue consumer. A finalize follows its import's chunks for as long as
/// they run, so it must not hold the consumer (with one consumer, the chunks it
/// waits for would never be taken): it runs on a task of its own, up to
/// [`FINALIZERS`] at once, and this returns at once. If the process dies, its
/// lease expires and the reconciler sends it again.
pub async fn dispatch(ctx: &Context, job: Job) {
    match job {
        Job::FinalizeImport { .. } => spawn_finalize(ctx, job),
        job => run(ctx, job).await,
    }
}

/// Runs a finalize job on a task of its own, once one of this process's
/// [`FINALIZERS`] places is free (see [`dispatch`]).
pub fn spawn_finalize(ctx: &Context, job: Job) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let Ok(_running) = ctx.finalizers.clone().acquire_owned().await else {
            return;
        };
        if !ctx.shutdown.is_cancelled() {
            run(&ctx, job).await;
        }
    });
}

/// Waits until this process's finalize steps have stopped (at shutdown they give
/// their lease back at their next look at the chunks), or until `limit`.
pub async fn finalizers_stopped(ctx: &Context, limit: Duration) {
    let _ = tokio::time::timeout(limit, ctx.finalizers.acquire_many(FINALIZERS as u32)).await;
}

/// Runs one job to its end. Failures are handled here, once: the step's lease is
/// given back after a backoff and the job sent again, so a transient outage never
/// loses work. Returns only after the job is settled; never fails the queue's task.
pub async fn run(ctx: &Context, job: Job) {
    let span = tracing::info_span!("job", import.id = %job.import_id(), step = step_name(&job));
    async {
        let started = std::time::Instant::now();
        let result = match &job {
            Job::PlanImport { import_id } => plan::plan(ctx, import_id).await,
            Job::ProcessChunk { import_id, chunk_no } => chunk::process(ctx, import_id, *chunk_no).await,
            Job::FinalizeImport { import_id } => finalize::finalize(ctx, import_id).await,
        };
        match result {
            Ok(()) => tracing::debug!(duration_ms = started.elapsed().as_millis() as u64, "step done"),
            Err(StepError::Storage(StorageError::NotFound(key))) => {
                // The upload or one of its chunks is gone from the object store: no
                // retry can bring it back, so the import fails now instead of looping.
                tracing::error!(object = %key, "an input object is missing; failing the import");
                let id = job.import_id();
                // Failed first, then the chunks closed: a finalize following the
                // chunks sees the import over before it sees closed chunks.
                let failed = async {
                    ctx.db
                        .fail_import(id, "internal", "part of the uploaded file is missing from the object store; upload it again")
                        .await?;
                    ctx.db.close_chunks(id).await
                };
                if let Err(e) = failed.await {
                    tracing::warn!(error = %e, "could not fail the import yet");
                    give_back(ctx, &job, true).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, transient = e.is_transient(), "step failed; handing it back");
                give_back(ctx, &job, e.is_transient()).await;
            }
        }
    }
    .instrument(span)
    .await
}

fn step_name(job: &Job) -> &'static str {
    match job {
        Job::PlanImport { .. } => "plan",
        Job::ProcessChunk { .. } => "chunk",
        Job::FinalizeImport { .. } => "finalize",
    }
}

/// After a failure: wait a little, release the lease and send the job again. If the
/// database is away this fails too, and the lease simply expires: the reconciler
/// then hands the work out again. A transient failure (a server away) does not count
/// as an attempt: only defects and interruptions use up `max_attempts`.
async fn give_back(ctx: &Context, job: &Job, transient: bool) {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let released = match job {
        Job::ProcessChunk {
            import_id,
            chunk_no,
        } => {
            let lease = crate::db::Lease {
                import_id: import_id.clone(),
                chunk_no: *chunk_no,
                owner: ctx.worker_id.clone(),
            };
            if transient {
                ctx.db.release_chunk(&lease).await
            } else {
                ctx.db.release_chunk_counted(&lease).await
            }
        }
        Job::PlanImport { import_id } | Job::FinalizeImport { import_id } => {
            ctx.db
                .release_import(import_id, &ctx.worker_id, !transient)
                .await
        }
    };
    match released {
        Ok(()) => {
            if let Err(e) = ctx.queue.enqueue(job.clone()).await {
                tracing::warn!(error = %e, "could not re-send job; the reconciler will");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not release lease; it will expire"),
    }
}

/// Keeps a lease alive while its holder works: renews it every third of the lease
/// until dropped. Without it a chunk's lease was renewed only when a batch
/// committed, so a batch that took longer than the lease to hash (a busy machine, a
/// high hash cost) lost its chunk to another worker, which lost it in turn: the
/// chunk went round until `max_attempts` failed its rows as `interrupted`. Finalize
/// holds the import's lease the same way while it follows the chunks. A dead
/// worker renews nothing, so its work is still handed out again after one lease.
pub(crate) struct LeaseKeeper(tokio::task::JoinHandle<()>);

impl LeaseKeeper {
    /// A chunk's lease; a lost one is found out by the next commit.
    pub(crate) fn chunk(ctx: &Context, lease: &crate::db::Lease) -> Self {
        let (db, lease, lease_ms) = (ctx.db.clone(), lease.clone(), ctx.lease_ms());
        Self::every_third_of(lease_ms, "chunk", move || {
            let (db, lease) = (db.clone(), lease.clone());
            async move { db.renew_chunk(&lease, lease_ms).await }
        })
    }

    /// An import's lease (plan or finalize); a lost one is found out by the step's
    /// next look at the import.
    pub(crate) fn import(ctx: &Context, id: &ImportId) -> Self {
        let (db, id, owner, lease_ms) = (
            ctx.db.clone(),
            id.clone(),
            ctx.worker_id.clone(),
            ctx.lease_ms(),
        );
        Self::every_third_of(lease_ms, "import", move || {
            let (db, id, owner) = (db.clone(), id.clone(), owner.clone());
            async move { db.renew_import(&id, &owner, lease_ms).await }
        })
    }

    fn every_third_of<F, Fut>(lease_ms: i64, what: &'static str, renew: F) -> Self
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = crate::db::DbResult<bool>> + Send,
    {
        let every = Duration::from_millis((lease_ms / 3).max(100) as u64);
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is immediate: the claim just set the lease
            loop {
                tick.tick().await;
                match renew().await {
                    Ok(true) => {}
                    Ok(false) => return, // lost (or finished)
                    Err(e) => tracing::warn!(error = %e, lease = what, "could not renew the lease"),
                }
            }
        }))
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Interruptions of an import-wide step tolerated: one (an operator's kill -9,
/// a machine lost) runs the step again; at the second the import fails.
pub const MAX_INTERRUPTIONS: i64 = 1;

/// Fails an import whose plan or finalize step took its process down twice,
/// before the step runs a third time. Attempts alone allow `max_attempts + 2`
/// runs, and a step that kills its process (a file calamine could not hold,
/// out of memory) took the embedded API down for every organization at each
/// restart until they ran out. Transient failures give their claim back and
/// do not count; only a claim left held by a process that died does.
async fn interrupted_too_often(
    ctx: &Context,
    id: &ImportId,
    claim: crate::db::ImportClaim,
    step: &str,
) -> Result<bool, StepError> {
    if claim.interruptions <= MAX_INTERRUPTIONS {
        return Ok(false);
    }
    tracing::error!(
        interruptions = claim.interruptions,
        step,
        "the step stopped its process twice; failing the import"
    );
    ctx.db
        .fail_import(
            id,
            "internal",
            &format!(
                "the server stopped twice while running this import's {step} step, so it was \
                 not tried again; if the file is unusual (a very large spreadsheet, for \
                 example), change it and upload it again, else see the server logs"
            ),
        )
        .await?;
    Ok(true)
}

/// Fails an import whose plan or finalize step keeps failing.
async fn too_many_attempts(ctx: &Context, id: &ImportId, attempts: i64) -> Result<bool, StepError> {
    if attempts <= ctx.config.max_attempts + 2 {
        return Ok(false);
    }
    tracing::error!(attempts, "import step failed too often; failing the import");
    ctx.db
        .fail_import(
            id,
            "internal",
            "the import could not be processed; see the server logs",
        )
        .await?;
    Ok(true)
}
