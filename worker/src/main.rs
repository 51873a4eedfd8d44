//! `roster-worker`: takes pipeline steps from the Redis queue (apalis) and runs
//! them, one at a time, each hashing on `ROSTER_WORKER_CONCURRENCY` threads (a
//! finalize, which follows the chunks as they finish, runs beside them); runs
//! the reconciler; on SIGTERM stops taking work, gives its current chunk back
//! between two batches, and exits 0.

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::*;
use roster_shared::config::Config;
use roster_shared::pipeline::{self, Context};
use roster_shared::queue::Job;
use roster_shared::runtime::{Mode, Runtime};
use std::time::Duration;

/// One step at a time in this process (see [`handle`]).
static ONE_STEP: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The queue handler: an adapter over the pipeline, which settles every failure
/// itself (so apalis never reschedules on its own). The step runs in a task of its
/// own: when Redis goes away apalis drops its worker, and the step would be cut off
/// mid-chunk (its work lost, an attempt used up). It finishes instead, and the
/// rebuilt worker's first step waits for it here.
async fn handle(job: Job, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let ctx: Context = (*ctx).clone();
    if let Job::FinalizeImport { .. } = job {
        // Finalize follows the chunks beside this consumer's steps (`pipeline::dispatch`).
        pipeline::spawn_finalize(&ctx, job);
        return Ok(());
    }
    let permit = ONE_STEP.acquire().await?;
    tokio::spawn(async move {
        pipeline::run(&ctx, job).await;
        drop(permit);
    })
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    roster_shared::telemetry::init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster-worker: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let runtime = Runtime::connect(config, "worker").await?;
    let Mode::Cluster(redis) = runtime.mode else {
        anyhow::bail!(
            "roster-worker needs ROSTER_REDIS_URL (without it, `roster-api serve` runs the workers itself)"
        );
    };
    let ctx = runtime.ctx;
    tracing::info!(worker.id = %ctx.worker_id, concurrency = ctx.config.worker_concurrency, "roster-worker started");

    let reconciler = tokio::spawn(pipeline::run_reconciler(ctx.clone(), ctx.shutdown.clone()));
    let shutdown = ctx.shutdown.clone();
    tokio::spawn(async move {
        roster_shared::runtime::shutdown_signal().await;
        tracing::info!("stopping: no new work; the current chunk is given back at its next batch");
        shutdown.cancel();
    });

    // apalis stops its worker for good when a poll fails (Redis restarted, or a
    // connection cut): build a new one and go on, or this process would stop taking
    // work, finish its reconciler's wait and exit 0 as if asked to. Each run gets its
    // own name: a stopped worker's registration may still look alive to Redis.
    for run in 0u64.. {
        let name = match run {
            0 => ctx.worker_id.clone(),
            n => format!("{}-r{n}", ctx.worker_id),
        };
        let backend = redis
            .storage()
            .poll_with_interval(Duration::from_millis(250));
        let worker = WorkerBuilder::new(name)
            .backend(backend)
            .concurrency(1)
            .data(ctx.clone())
            .build(handle);
        let stop = ctx.shutdown.clone();
        let outcome = worker
            .run_until(async move {
                stop.cancelled().await;
                Ok::<(), std::io::Error>(())
            })
            .await;
        if ctx.shutdown.is_cancelled() {
            break;
        }
        match outcome {
            Err(e) => tracing::warn!(error = %e, "queue worker stopped; starting it again in 1 s"),
            Ok(()) => tracing::warn!("queue worker ended; starting it again in 1 s"),
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    // A step left running by a torn-down queue worker gives its chunk back at its next batch.
    let _ = tokio::time::timeout(Duration::from_secs(10), ONE_STEP.acquire()).await;
    pipeline::finalizers_stopped(&ctx, Duration::from_secs(5)).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), reconciler).await;
    ctx.db.close().await;
    Ok(())
}
