//! The reconciler: the database is the truth, so a periodic sweep re-sends any
//! work whose message was lost (Redis restarted or flushed) or whose worker died
//! (its lease expired), and purges inputs of finished imports. Sending twice is
//! harmless: a step that is not due acknowledges and does nothing.

use super::{Context, StepError};
use crate::queue::Job;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One sweep. Returns how many jobs were sent.
pub async fn reconcile_once(ctx: &Context) -> Result<usize, StepError> {
    let requeue_ms = ctx.config.requeue_after.as_millis() as i64;
    let due = ctx.db.due_work(requeue_ms).await?;
    let mut sent = 0;
    for import_id in due.plans {
        ctx.queue.enqueue(Job::PlanImport { import_id }).await?;
        sent += 1;
    }
    for (import_id, chunk_no) in due.chunks {
        ctx.queue
            .enqueue(Job::ProcessChunk {
                import_id,
                chunk_no,
            })
            .await?;
        sent += 1;
    }
    for import_id in due.finalizes {
        ctx.queue.enqueue(Job::FinalizeImport { import_id }).await?;
        sent += 1;
    }
    for id in due.unpurged {
        let chunks = ctx
            .db
            .load_import(&id)
            .await?
            .and_then(|i| i.chunk_count)
            .unwrap_or(0);
        super::finalize::purge(ctx, &id, chunks).await;
    }
    if sent > 0 {
        tracing::info!(jobs = sent, "reconciler re-sent work");
    }
    Ok(sent)
}

/// Sweeps every `reconcile_every` until `stop` is cancelled.
pub async fn run_reconciler(ctx: Context, stop: CancellationToken) {
    let mut tick =
        tokio::time::interval(ctx.config.reconcile_every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = reconcile_once(&ctx).await {
                    tracing::warn!(error = %e, "reconciler sweep failed; trying again");
                }
            }
        }
    }
}
