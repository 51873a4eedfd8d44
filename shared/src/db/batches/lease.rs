//! A chunk's lease: claimed by one worker at a time, renewed by every batch
//! (which so proves it is still the holder's), given back after a failure and
//! cleared when the chunk is done. docs/design.md has the table of which
//! states make a chunk claimable.

use super::Lease;
use crate::db::steps::ChunkPlan;
use crate::db::{Db, DbResult};
use crate::time::now_ms;
use sqlx::{AssertSqlSafe, Row};
use std::sync::LazyLock;

/// A chunk any worker may claim ($1: now): pending, or running under a lease
/// that expired (its worker died or stalled).
pub(in crate::db) const CHUNK_CLAIMABLE: &str =
    "(status = 'pending' OR (status = 'running' AND lease_until < $1))";

/// Claims chunk ($4, $5) for $2 until $3, if `CHUNK_CLAIMABLE`.
static CLAIM_CHUNK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE import_chunks SET status = 'running', lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
         claimed_at = $1 WHERE import_id = $4 AND chunk_no = $5 AND {CHUNK_CLAIMABLE} \
         RETURNING chunk_no, first_row, last_row, row_count, attempts"
    )
});

/// Renews a chunk's lease, and so proves it is still the caller's: the first
/// statement of every batch's transaction.
const RENEW_LEASE: &str = "UPDATE import_chunks SET lease_until = $1 \
     WHERE import_id = $2 AND chunk_no = $3 AND lease_owner = $4 AND status = 'running'";

/// The lease statements a batch's transaction shares between sqlx's `Any`
/// driver and PostgreSQL's own (the `COPY` path), built once for either.
pub(in crate::db) mod statements {
    use super::*;
    use sqlx::query::Query;
    use sqlx::{Database, Encode, Type};

    pub(in crate::db) fn renew_lease<'q, DB: Database>(
        lease: &Lease,
        lease_ms: i64,
    ) -> Query<'q, DB, DB::Arguments>
    where
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        String: for<'t> Encode<'t, DB> + Type<DB>,
    {
        sqlx::query(RENEW_LEASE)
            .bind(now_ms() + lease_ms)
            .bind(lease.import_id.as_str().to_owned())
            .bind(lease.chunk_no)
            .bind(lease.owner.clone())
    }
}

impl Db {
    /// Claims a chunk that is pending or whose lease has expired. Returns its plan and
    /// how many times it has been claimed (this claim included).
    pub async fn claim_chunk(
        &self,
        lease: &Lease,
        lease_ms: i64,
    ) -> DbResult<Option<(ChunkPlan, i64)>> {
        let now = now_ms();
        let row = sqlx::query(AssertSqlSafe(CLAIM_CHUNK.as_str()))
            .bind(now)
            .bind(&lease.owner)
            .bind(now + lease_ms)
            .bind(lease.import_id.as_str())
            .bind(lease.chunk_no)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                ChunkPlan {
                    chunk_no: r.try_get(0)?,
                    first_row: r.try_get(1)?,
                    last_row: r.try_get(2)?,
                    row_count: r.try_get(3)?,
                },
                r.try_get(4)?,
            ))
        })
        .transpose()
    }

    /// Gives a chunk back after a transient failure or at shutdown. The claim is not
    /// counted: the chunk was not interrupted, and `attempts` (which fails a chunk's
    /// rows once it exceeds `max_attempts`) is for chunks that kill their workers.
    /// The chunk is due at once, so the next reconciler sweep of any worker re-sends it
    /// (at shutdown nobody else would before `requeue_after`).
    pub async fn release_chunk(&self, lease: &Lease) -> DbResult<()> {
        self.give_back_chunk(lease, false).await
    }

    /// Gives a chunk back after a failure that may recur (a defect, not an outage):
    /// the claim stays counted, so a chunk that keeps failing ends after `max_attempts`.
    pub async fn release_chunk_counted(&self, lease: &Lease) -> DbResult<()> {
        self.give_back_chunk(lease, true).await
    }

    async fn give_back_chunk(&self, lease: &Lease, counted: bool) -> DbResult<()> {
        sqlx::query(
            "UPDATE import_chunks SET status = 'pending', lease_owner = NULL, lease_until = NULL, enqueued_at = 0, \
             attempts = attempts - $1 WHERE import_id = $2 AND chunk_no = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(i64::from(!counted))
        .bind(lease.import_id.as_str())
        .bind(lease.chunk_no)
        .bind(&lease.owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Extends the caller's lease on a chunk while it works on it (the lease keeper of
    /// `pipeline::chunk`); false when the lease was lost.
    pub async fn renew_chunk(&self, lease: &Lease, lease_ms: i64) -> DbResult<bool> {
        let n = statements::renew_lease(lease, lease_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// The rows of `first..=last` that already have an outcome: a chunk claimed
    /// again skips them.
    pub async fn recorded_rows(
        &self,
        import: &crate::model::ImportId,
        first: i64,
        last: i64,
    ) -> DbResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT row_no FROM import_rows WHERE import_id = $1 AND row_no BETWEEN $2 AND $3 ORDER BY row_no",
        )
        .bind(import.as_str())
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks a chunk done and counts it; returns true when it was the import's last one.
    pub async fn finish_chunk(&self, lease: &Lease) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE import_chunks SET status = 'done', lease_owner = NULL, lease_until = NULL \
             WHERE import_id = $1 AND chunk_no = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(lease.import_id.as_str())
        .bind(lease.chunk_no)
        .bind(&lease.owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        let (done, count): (i64, Option<i64>) = sqlx::query_as(
            // Stamped as sent only by the last chunk, which sends finalize: a finalizer that
            // died while it followed the chunks is then due for the reconciler meanwhile.
            "UPDATE imports SET chunks_done = chunks_done + 1, \
             enqueued_at = CASE WHEN chunks_done + 1 >= chunk_count THEN $2 ELSE enqueued_at END \
             WHERE id = $1 RETURNING chunks_done, chunk_count",
        )
        .bind(lease.import_id.as_str())
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(done) >= count)
    }
}
