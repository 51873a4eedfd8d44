//! The import-wide steps (plan and finalize) and the reconciler's sweep: leases on
//! imports, the plan's chunk rows, finishing and purging, and finding work whose
//! message was lost or whose worker died.

use super::{Db, DbResult, values_placeholders};
use crate::model::{ImportId, ImportStatus, Layout};
use crate::time::now_ms;
use sqlx::{AssertSqlSafe, Row};
use std::sync::LazyLock;

/// A chunk's place in the file.
#[derive(Debug, Clone, Copy)]
pub struct ChunkPlan {
    pub chunk_no: i64,
    pub first_row: i64,
    pub last_row: i64,
    pub row_count: i64,
}

/// An import-wide step.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Plan,
    Finalize,
}

/// A claim on an import-wide step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportClaim {
    /// How many times the import's steps have been claimed, this one included
    /// (less the claims given back after a transient failure).
    pub attempts: i64,
    /// How many counted claims found the one before still held: its process
    /// died holding it (killed, out of memory) or lost it.
    pub interruptions: i64,
}

/// Where a chunk and its import stand, for finalize.
#[derive(Debug, Clone, Copy)]
pub struct ChunkProgress {
    pub done: bool,
    pub cancel_requested: bool,
    /// False once the import failed as a whole (or finished): finalize stops.
    pub import_running: bool,
    /// The caller still holds the import's lease.
    pub ours: bool,
}

/// What the reconciler found due.
#[derive(Debug, Default)]
pub struct DueWork {
    pub plans: Vec<ImportId>,
    pub chunks: Vec<(ImportId, i64)>,
    pub finalizes: Vec<ImportId>,
    pub unpurged: Vec<ImportId>,
}

/// An import still under way: a step may be due. (docs/design.md has the
/// table of which conditions make each step claimable.)
pub(in crate::db) const IMPORT_OPEN: &str = "status IN ('queued', 'running')";
/// Nobody holds the import's lease ($1: now): never taken, given back, or expired.
pub(in crate::db) const IMPORT_LEASE_FREE: &str = "(lease_until IS NULL OR lease_until < $1)";
/// Plan is due: not planned yet, not cancelled, not waiting for a master's approval.
pub(in crate::db) const PLAN_READY: &str =
    "chunk_count IS NULL AND cancel_requested = 0 AND awaiting_approval = 0";
/// Finalize is due once the plan is saved (it follows the chunks), or at once
/// when a cancel was asked for.
pub(in crate::db) const FINALIZE_READY: &str = "(chunk_count IS NOT NULL OR cancel_requested = 1)";

/// Claims import $4 for $2 until $3 ($1: now) when `ready` and the lease is
/// free, counting `attempt` (an SQL expression) into its attempts and, when the
/// lease was still named, its interruptions. The right-hand sides read the row
/// as it was: `lease_owner` is the previous holder's.
fn claim_import_sql(ready: &str, attempt: &str) -> String {
    format!(
        "UPDATE imports SET status = 'running', lease_owner = $2, lease_until = $3, step_attempts = step_attempts + {attempt}, \
         step_interruptions = step_interruptions + CASE WHEN lease_owner IS NOT NULL THEN {attempt} ELSE 0 END, \
         started_at = COALESCE(started_at, $1) WHERE id = $4 AND {IMPORT_OPEN} AND {ready} AND {IMPORT_LEASE_FREE} \
         RETURNING step_attempts, step_interruptions"
    )
}

/// Claims the plan step; every claim counts as an attempt.
static CLAIM_PLAN: LazyLock<String> = LazyLock::new(|| claim_import_sql(PLAN_READY, "1"));
/// Claims the finalize step. A claim counts as an attempt only once the chunks
/// are over: a finalizer killed while it waited for other workers' chunks did
/// not fail, and the attempts are for steps that do.
static CLAIM_FINALIZE: LazyLock<String> = LazyLock::new(|| {
    claim_import_sql(
        FINALIZE_READY,
        "CASE WHEN chunks_done >= chunk_count OR cancel_requested = 1 THEN 1 ELSE 0 END",
    )
});

/// Stamps as sent ($1: now) the imports whose plan or finalize is due and
/// whose message was last sent before $2; the caller tells plan from finalize
/// by `chunk_count` and `cancel_requested`, as `PLAN_READY` and `FINALIZE_READY` do.
static DUE_IMPORTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE imports SET enqueued_at = $1 WHERE {IMPORT_OPEN} AND enqueued_at < $2 AND {IMPORT_LEASE_FREE} \
         AND (({PLAN_READY}) OR {FINALIZE_READY}) RETURNING id, chunk_count, cancel_requested"
    )
});

impl Db {
    /// Claims the import for a plan or finalize step, if it is due (`PLAN_READY`,
    /// `FINALIZE_READY`) and nobody holds a live lease on it.
    /// A claim that finds the lease still named (expired: only a given-back or
    /// finished step clears it) counts an interruption, as an attempt counts.
    pub async fn claim_import(
        &self,
        id: &ImportId,
        owner: &str,
        lease_ms: i64,
        step: Step,
    ) -> DbResult<Option<ImportClaim>> {
        let now = now_ms();
        let sql = match step {
            Step::Plan => CLAIM_PLAN.as_str(),
            Step::Finalize => CLAIM_FINALIZE.as_str(),
        };
        let claimed: Option<(i64, i64)> = sqlx::query_as(sql)
            .bind(now)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(claimed.map(|(attempts, interruptions)| ImportClaim {
            attempts,
            interruptions,
        }))
    }

    /// Extends the caller's lease on the import; false when the lease was lost.
    pub async fn renew_import(&self, id: &ImportId, owner: &str, lease_ms: i64) -> DbResult<bool> {
        let n =
            sqlx::query("UPDATE imports SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
                .bind(now_ms() + lease_ms)
                .bind(id.as_str())
                .bind(owner)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    /// Gives up a claim on the import after a failure: it will be handed out again.
    /// Unless `counted`, the claim is taken back from `step_attempts`: an outage
    /// (`StepError::is_transient`) must not use up the budget meant for defects.
    pub async fn release_import(&self, id: &ImportId, owner: &str, counted: bool) -> DbResult<()> {
        sqlx::query(
            "UPDATE imports SET lease_owner = NULL, lease_until = NULL, enqueued_at = $3, \
             step_attempts = step_attempts - CASE WHEN step_attempts > 0 THEN $4 ELSE 0 END WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.as_str())
        .bind(owner)
        .bind(now_ms())
        .bind(i64::from(!counted))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the plan: layout, header, total rows and the chunks, all at once,
    /// and whether the organization has no technician and no other import
    /// under way at this moment (`directory_empty_at_plan`).
    pub async fn save_plan(
        &self,
        id: &ImportId,
        owner: &str,
        layout: Layout,
        header: &[String],
        total_rows: i64,
        chunks: &[ChunkPlan],
    ) -> DbResult<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let header = serde_json::to_string(header).unwrap_or_else(|_| "[]".into());
        let n = sqlx::query(
            "UPDATE imports SET layout = $1, header = $2, total_rows = $3, chunk_count = $4, \
             lease_owner = NULL, lease_until = NULL, enqueued_at = $5, \
             directory_empty_at_plan = CASE WHEN EXISTS \
             (SELECT 1 FROM technicians t WHERE t.org_id = imports.org_id) OR EXISTS \
             (SELECT 1 FROM imports o WHERE o.org_id = imports.org_id AND o.id <> imports.id \
             AND o.status IN ('queued', 'running')) THEN 0 ELSE 1 END \
             WHERE id = $6 AND lease_owner = $7 AND chunk_count IS NULL",
        )
        .bind(layout.as_str())
        .bind(header)
        .bind(total_rows)
        .bind(chunks.len() as i64)
        .bind(now)
        .bind(id.as_str())
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        for batch in chunks.chunks(1000) {
            let sql = format!(
                "INSERT INTO import_chunks (import_id, chunk_no, first_row, last_row, row_count, status, enqueued_at) VALUES {} \
                 ON CONFLICT DO NOTHING",
                values_placeholders(batch.len(), 7)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for c in batch {
                q = q
                    .bind(id.as_str())
                    .bind(c.chunk_no)
                    .bind(c.first_row)
                    .bind(c.last_row)
                    .bind(c.row_count)
                    .bind("pending")
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Fails the import as a whole (a file-level problem, or an internal one).
    pub async fn fail_import(&self, id: &ImportId, code: &str, message: &str) -> DbResult<()> {
        sqlx::query(
            "UPDATE imports SET status = 'failed', error_code = $1, error_message = $2, finished_at = $3, \
             lease_owner = NULL, lease_until = NULL WHERE id = $4 AND status IN ('queued', 'running')",
        )
        .bind(code)
        .bind(message)
        .bind(now_ms())
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the import finished with its result stored.
    pub async fn finish_import(
        &self,
        id: &ImportId,
        owner: &str,
        status: ImportStatus,
    ) -> DbResult<bool> {
        let n = sqlx::query(
            "UPDATE imports SET status = $1, has_result = 1, finished_at = $2, lease_owner = NULL, lease_until = NULL \
             WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(status.as_str())
        .bind(now_ms())
        .bind(id.as_str())
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn mark_purged(&self, id: &ImportId) -> DbResult<()> {
        sqlx::query("UPDATE imports SET files_purged = 1 WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Chunk plans of an import, in order.
    pub async fn chunks(&self, id: &ImportId) -> DbResult<Vec<ChunkPlan>> {
        let rows = sqlx::query(
            "SELECT chunk_no, first_row, last_row, row_count FROM import_chunks WHERE import_id = $1 ORDER BY chunk_no",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChunkPlan {
                    chunk_no: r.try_get(0)?,
                    first_row: r.try_get(1)?,
                    last_row: r.try_get(2)?,
                    row_count: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// What finalize, holding the import's lease as `owner`, waits on before it
    /// writes chunk `chunk_no`'s result rows.
    pub async fn chunk_progress(
        &self,
        id: &ImportId,
        chunk_no: i64,
        owner: &str,
    ) -> DbResult<ChunkProgress> {
        let (done, cancel, running, ours): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT CASE WHEN c.status = 'done' THEN 1 ELSE 0 END, i.cancel_requested, \
             CASE WHEN i.status = 'running' THEN 1 ELSE 0 END, CASE WHEN i.lease_owner = $3 THEN 1 ELSE 0 END \
             FROM import_chunks c JOIN imports i ON i.id = c.import_id WHERE c.import_id = $1 AND c.chunk_no = $2",
        )
        .bind(id.as_str())
        .bind(chunk_no)
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        Ok(ChunkProgress {
            done: done == 1,
            cancel_requested: cancel == 1,
            import_running: running == 1,
            ours: ours == 1,
        })
    }

    /// Closes every chunk not done yet (a cancelled import): no worker claims them
    /// again, and a worker holding one loses its lease at its next batch.
    pub async fn close_chunks(&self, id: &ImportId) -> DbResult<()> {
        sqlx::query("UPDATE import_chunks SET status = 'done', lease_owner = NULL, lease_until = NULL WHERE import_id = $1 AND status <> 'done'")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Makes all unfinished work due now (the embedded queue forgets its messages
    /// when the process stops; the database does not).
    pub async fn requeue_everything(&self) -> DbResult<()> {
        sqlx::query("UPDATE imports SET enqueued_at = 0 WHERE status IN ('queued', 'running')")
            .execute(&self.pool)
            .await?;
        sqlx::query("UPDATE import_chunks SET enqueued_at = 0 WHERE status <> 'done'")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Work that should be in the queue but may not be: returns (plans, chunks, finalizes)
    /// due now, and stamps them as enqueued so the next sweep waits again.
    pub async fn due_work(&self, requeue_after_ms: i64) -> DbResult<DueWork> {
        let now = now_ms();
        let stale = now - requeue_after_ms;
        let mut tx = self.pool.begin().await?;
        // Chunks whose worker died: hand them out at once.
        sqlx::query(
            "UPDATE import_chunks SET status = 'pending', lease_owner = NULL, lease_until = NULL, enqueued_at = 0 \
             WHERE status = 'running' AND lease_until < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // A stale pending chunk of an import whose chunks workers keep claiming is
        // most likely queued behind them, not lost: a large import's chunks wait in
        // the queue far longer than `requeue_after`, and re-sending each of them every
        // sweep filled the queue with copies. It is sent again once no chunk of its
        // import has been claimed for `requeue_after`. A chunk known not to be in the
        // queue (`enqueued_at = 0`: its lease expired above, or it was given back) is
        // sent at once.
        let chunks: Vec<(String, i64)> = sqlx::query_as(
            "UPDATE import_chunks SET enqueued_at = $1 WHERE status = 'pending' AND enqueued_at < $2 \
             AND import_id IN (SELECT id FROM imports WHERE status = 'running' AND cancel_requested = 0) \
             AND (enqueued_at = 0 OR NOT EXISTS (SELECT 1 FROM import_chunks AS claimed \
             WHERE claimed.import_id = import_chunks.import_id AND claimed.claimed_at >= $2)) \
             RETURNING import_id, chunk_no",
        )
        .bind(now)
        .bind(stale)
        .fetch_all(&mut *tx)
        .await?;
        let imports: Vec<(String, Option<i64>, i64)> = sqlx::query_as(DUE_IMPORTS.as_str())
            .bind(now)
            .bind(stale)
            .fetch_all(&mut *tx)
            .await?;
        let unpurged: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM imports WHERE status IN ('completed', 'failed', 'cancelled') AND files_purged = 0 LIMIT 100",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

        let mut due = DueWork {
            chunks: chunks
                .into_iter()
                .map(|(id, no)| (ImportId::from_stored(id), no))
                .collect(),
            unpurged: unpurged.into_iter().map(ImportId::from_stored).collect(),
            ..DueWork::default()
        };
        for (id, chunk_count, cancel) in imports {
            match chunk_count {
                None if cancel == 0 => due.plans.push(ImportId::from_stored(id)),
                // Planned, or cancelled: finalize is due (it follows the chunks).
                _ => due.finalizes.push(ImportId::from_stored(id)),
            }
        }
        Ok(due)
    }
}
