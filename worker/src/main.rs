//! `roster-worker`: takes pipeline steps from the Redis queue (apalis) and runs
//! them, one at a time, each hashing on `ROSTER_WORKER_CONCURRENCY` threads; runs
//! the reconciler; on SIGTERM stops taking work, gives its current chunk back
//! between two batches, and exits 0.

use anyhow::Context as _;
use apalis::layers::WorkerBuilderExt;
use apalis::prelude::*;
use roster_shared::config::Config;
use roster_shared::pipeline::{self, Context};
use roster_shared::queue::Job;
use roster_shared::runtime::Runtime;
use std::time::Duration;

/// The queue handler: a two-line adapter over the pipeline, which settles every
/// failure itself (so apalis never reschedules on its own).
async fn handle(job: Job, ctx: Data<Context>) -> Result<(), BoxDynError> {
    pipeline::run(&ctx, job).await;
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
    let redis = runtime
        .redis
        .context("roster-worker needs ROSTER_REDIS_URL (without it, `roster-api serve` runs the workers itself)")?;
    let ctx = runtime.ctx;
    tracing::info!(worker.id = %ctx.worker_id, concurrency = ctx.config.worker_concurrency, "roster-worker started");

    let reconciler = tokio::spawn(pipeline::run_reconciler(ctx.clone(), ctx.shutdown.clone()));
    let backend = redis
        .storage()
        .poll_with_interval(Duration::from_millis(250));
    let worker = WorkerBuilder::new(ctx.worker_id.clone())
        .backend(backend)
        .concurrency(1)
        .data(ctx.clone())
        .build(handle);

    let shutdown = ctx.shutdown.clone();
    let signal = async move {
        wait_for_signal().await;
        tracing::info!("stopping: no new work; the current chunk is given back at its next batch");
        shutdown.cancel();
        Ok::<(), std::io::Error>(())
    };
    let outcome = tokio::time::timeout(
        Duration::from_secs(3600 * 24 * 365),
        worker.run_until(signal),
    )
    .await;
    if let Ok(Err(e)) = outcome {
        tracing::warn!(error = %e, "worker stopped");
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), reconciler).await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
