//! Import state: imports, their chunks (with leases) and row outcomes.
//!
//! The rule this file keeps: a row's outcome and its effect (the technician
//! created or updated) are written in one transaction that also proves the
//! writer still holds the chunk's lease, so a row takes effect exactly once.

use super::{Db, DbError, DbResult, flag, values_placeholders};
use crate::model::{
    FieldError, Format, ImportId, ImportStatus, Layout, OnExisting, OrgId, RowStatus,
};
use crate::time::now_ms;
use sqlx::{AssertSqlSafe, Row};

/// An import as stored.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: ImportId,
    pub org_id: OrgId,
    pub admin_id: i64,
    pub status: ImportStatus,
    pub file_name: String,
    pub format: Format,
    pub layout: Option<Layout>,
    pub header: Option<Vec<String>>,
    pub group_id: Option<i64>,
    pub dry_run: bool,
    pub on_existing: OnExisting,
    pub upload_bytes: i64,
    pub total_rows: Option<i64>,
    pub counts: Counts,
    pub chunk_count: Option<i64>,
    pub chunks_done: i64,
    pub error: Option<(String, String)>,
    pub has_result: bool,
    pub files_purged: bool,
    pub cancel_requested: bool,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Row counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub valid: i64,
    pub failed: i64,
    pub not_processed: i64,
}

impl Counts {
    pub fn add(&mut self, status: RowStatus) {
        match status {
            RowStatus::Created => self.created += 1,
            RowStatus::Updated => self.updated += 1,
            RowStatus::Skipped => self.skipped += 1,
            RowStatus::Valid => self.valid += 1,
            RowStatus::Failed => self.failed += 1,
            RowStatus::NotProcessed => self.not_processed += 1,
        }
    }

    pub fn processed(&self) -> i64 {
        self.created + self.updated + self.skipped + self.valid + self.failed + self.not_processed
    }
}

/// What a new import is registered with.
#[derive(Debug, Clone)]
pub struct NewImport {
    pub id: ImportId,
    pub org_id: OrgId,
    pub admin_id: i64,
    pub file_name: String,
    pub format: Format,
    pub group_id: Option<i64>,
    pub dry_run: bool,
    pub on_existing: OnExisting,
    pub upload_bytes: i64,
    pub idempotency_key: Option<String>,
}

/// One recorded row outcome.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    pub row: i64,
    pub email: String,
    pub status: RowStatus,
    pub technician_id: Option<i64>,
    pub errors: Vec<FieldError>,
}

/// A chunk's place in the file.
#[derive(Debug, Clone, Copy)]
pub struct ChunkPlan {
    pub chunk_no: i64,
    pub first_row: i64,
    pub last_row: i64,
    pub row_count: i64,
}

/// A technician row ready to be written (password already hashed).
#[derive(Debug, Clone)]
pub struct TechnicianWrite {
    pub row: i64,
    pub name: String,
    pub nickname: Option<String>,
    pub email: String,
    pub email_key: String,
    pub sso_id: Option<String>,
    pub description: Option<String>,
    pub password_hash: String,
    pub enabled: bool,
    pub standard_license: bool,
    pub mobile_license: bool,
    pub group_id: i64,
    pub must_change_password: bool,
}

/// The lease a worker holds on a chunk.
#[derive(Debug, Clone)]
pub struct Lease {
    pub import_id: ImportId,
    pub chunk_no: i64,
    pub owner: String,
}

const IMPORT_COLUMNS: &str = "id, org_id, admin_id, status, file_name, format, layout, header, group_id, dry_run, \
     on_existing, upload_bytes, total_rows, created_rows, updated_rows, skipped_rows, valid_rows, failed_rows, \
     not_processed_rows, chunk_count, chunks_done, error_code, error_message, has_result, files_purged, \
     cancel_requested, created_at, started_at, finished_at";

fn import_from_row(row: &sqlx::any::AnyRow) -> DbResult<ImportRecord> {
    let status: String = row.try_get("status")?;
    let format: String = row.try_get("format")?;
    let layout: Option<String> = row.try_get("layout")?;
    let header: Option<String> = row.try_get("header")?;
    let on_existing: String = row.try_get("on_existing")?;
    let code: Option<String> = row.try_get("error_code")?;
    let message: Option<String> = row.try_get("error_message")?;
    let decode = |what: &str| DbError::Sqlx(sqlx::Error::Decode(format!("bad {what}").into()));
    Ok(ImportRecord {
        id: ImportId(row.try_get("id")?),
        org_id: row.try_get("org_id")?,
        admin_id: row.try_get("admin_id")?,
        status: ImportStatus::parse(&status).ok_or_else(|| decode("status"))?,
        file_name: row.try_get("file_name")?,
        format: Format::parse(&format).ok_or_else(|| decode("format"))?,
        layout: layout.as_deref().and_then(Layout::parse),
        header: header.and_then(|h| serde_json::from_str(&h).ok()),
        group_id: row.try_get("group_id")?,
        dry_run: flag(row.try_get("dry_run")?),
        on_existing: OnExisting::parse(&on_existing).unwrap_or_default(),
        upload_bytes: row.try_get("upload_bytes")?,
        total_rows: row.try_get("total_rows")?,
        counts: Counts {
            created: row.try_get("created_rows")?,
            updated: row.try_get("updated_rows")?,
            skipped: row.try_get("skipped_rows")?,
            valid: row.try_get("valid_rows")?,
            failed: row.try_get("failed_rows")?,
            not_processed: row.try_get("not_processed_rows")?,
        },
        chunk_count: row.try_get("chunk_count")?,
        chunks_done: row.try_get("chunks_done")?,
        error: code.map(|c| (c, message.unwrap_or_default())),
        has_result: flag(row.try_get("has_result")?),
        files_purged: flag(row.try_get("files_purged")?),
        cancel_requested: flag(row.try_get("cancel_requested")?),
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// How long an idempotency key names its first import.
const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;

impl Db {
    /// Registers a queued import. With an idempotency key that names an import of
    /// the last 24 hours, returns that import instead and `false`.
    pub async fn create_import(&self, new: &NewImport) -> DbResult<(ImportRecord, bool)> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if let Some(key) = &new.idempotency_key {
            // An expired key no longer names anything: free it for reuse.
            sqlx::query(
                "UPDATE imports SET idempotency_key = NULL WHERE org_id = $1 AND idempotency_key = $2 AND created_at < $3",
            )
            .bind(new.org_id)
            .bind(key)
            .bind(now - IDEMPOTENCY_WINDOW_MS)
            .execute(&mut *tx)
            .await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO imports (id, org_id, admin_id, status, file_name, format, group_id, dry_run, on_existing, \
             upload_bytes, idempotency_key, enqueued_at, created_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
        )
        .bind(&new.id.0)
        .bind(new.org_id)
        .bind(new.admin_id)
        .bind(&new.file_name)
        .bind(new.format.as_str())
        .bind(new.group_id)
        .bind(i64::from(new.dry_run))
        .bind(new.on_existing.as_str())
        .bind(new.upload_bytes)
        .bind(new.idempotency_key.as_deref())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let row = if inserted {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"
            )))
            .bind(&new.id.0)
            .fetch_one(&mut *tx)
            .await?
        } else {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {IMPORT_COLUMNS} FROM imports WHERE org_id = $1 AND idempotency_key = $2"
            )))
            .bind(new.org_id)
            .bind(new.idempotency_key.as_deref())
            .fetch_one(&mut *tx)
            .await?
        };
        tx.commit().await?;
        Ok((import_from_row(&row)?, inserted))
    }

    /// One import of `org`; with `admin` set, only if that administrator started it.
    pub async fn get_import(
        &self,
        org: OrgId,
        id: &ImportId,
        admin: Option<i64>,
    ) -> DbResult<Option<ImportRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMPORT_COLUMNS} FROM imports WHERE org_id = $1 AND id = $2 AND ($3 IS NULL OR admin_id = $3)"
        )))
        .bind(org)
        .bind(&id.0)
        .bind(admin)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(import_from_row).transpose()
    }

    /// An import by id alone: for workers, whose messages carry only ids.
    pub async fn load_import(&self, id: &ImportId) -> DbResult<Option<ImportRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"
        )))
        .bind(&id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(import_from_row).transpose()
    }

    /// Imports of `org`, newest first (ids are time-ordered UUIDv7), before the cursor.
    pub async fn list_imports(
        &self,
        org: OrgId,
        admin: Option<i64>,
        before: Option<&str>,
        limit: i64,
    ) -> DbResult<Vec<ImportRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {IMPORT_COLUMNS} FROM imports WHERE org_id = $1 AND ($2 IS NULL OR admin_id = $2) \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        )))
        .bind(org)
        .bind(admin)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(import_from_row).collect()
    }

    /// Row outcomes of an import after row `after`, optionally of one status.
    pub async fn list_rows(
        &self,
        import: &ImportId,
        status: Option<RowStatus>,
        after: i64,
        limit: i64,
    ) -> DbResult<Vec<RowOutcome>> {
        let rows = sqlx::query(
            "SELECT row_no, email, status, technician_id, errors FROM import_rows \
             WHERE import_id = $1 AND row_no > $2 AND ($3 IS NULL OR status = $3) ORDER BY row_no LIMIT $4",
        )
        .bind(&import.0)
        .bind(after)
        .bind(status.map(RowStatus::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outcome_from_row).collect()
    }

    /// Outcomes of rows `first..=last`, in row order (for the result spreadsheet).
    pub async fn rows_between(
        &self,
        import: &ImportId,
        first: i64,
        last: i64,
    ) -> DbResult<Vec<RowOutcome>> {
        let rows = sqlx::query(
            "SELECT row_no, email, status, technician_id, errors FROM import_rows \
             WHERE import_id = $1 AND row_no BETWEEN $2 AND $3 ORDER BY row_no",
        )
        .bind(&import.0)
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outcome_from_row).collect()
    }

    /// Asks a running import to stop before its next batch.
    pub async fn request_cancel(&self, org: OrgId, id: &ImportId) -> DbResult<()> {
        sqlx::query(
            "UPDATE imports SET cancel_requested = 1, enqueued_at = 0 WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')",
        )
        .bind(org)
        .bind(&id.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- the import-wide steps (plan, finalize) -------------------------------------

    /// Claims the import for a plan or finalize step, if nobody holds a live lease on it.
    /// `ready` is an extra SQL condition naming which step is due.
    /// Returns how many times the import's steps have been claimed, this one included.
    pub async fn claim_import(
        &self,
        id: &ImportId,
        owner: &str,
        lease_ms: i64,
        step: Step,
    ) -> DbResult<Option<i64>> {
        let now = now_ms();
        let ready = match step {
            Step::Plan => {
                "status IN ('queued', 'running') AND chunk_count IS NULL AND cancel_requested = 0"
            }
            Step::Finalize => {
                "status IN ('queued', 'running') AND (chunks_done >= chunk_count OR cancel_requested = 1)"
            }
        };
        let sql = format!(
            "UPDATE imports SET status = 'running', lease_owner = $1, lease_until = $2, step_attempts = step_attempts + 1, \
             started_at = COALESCE(started_at, $3) WHERE id = $4 AND {ready} AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING step_attempts"
        );
        Ok(sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Extends the caller's lease on the import; false when the lease was lost.
    pub async fn renew_import(&self, id: &ImportId, owner: &str, lease_ms: i64) -> DbResult<bool> {
        let n =
            sqlx::query("UPDATE imports SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
                .bind(now_ms() + lease_ms)
                .bind(&id.0)
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
             step_attempts = step_attempts - $4 WHERE id = $1 AND lease_owner = $2",
        )
        .bind(&id.0)
        .bind(owner)
        .bind(now_ms())
        .bind(i64::from(!counted))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the plan: layout, header, total rows and the chunks, all at once.
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
             lease_owner = NULL, lease_until = NULL, enqueued_at = $5 \
             WHERE id = $6 AND lease_owner = $7 AND chunk_count IS NULL",
        )
        .bind(layout.as_str())
        .bind(header)
        .bind(total_rows)
        .bind(chunks.len() as i64)
        .bind(now)
        .bind(&id.0)
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
                    .bind(&id.0)
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
        .bind(&id.0)
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
        .bind(&id.0)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn mark_purged(&self, id: &ImportId) -> DbResult<()> {
        sqlx::query("UPDATE imports SET files_purged = 1 WHERE id = $1")
            .bind(&id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Chunk plans of an import, in order.
    pub async fn chunks(&self, id: &ImportId) -> DbResult<Vec<ChunkPlan>> {
        let rows = sqlx::query(
            "SELECT chunk_no, first_row, last_row, row_count FROM import_chunks WHERE import_id = $1 ORDER BY chunk_no",
        )
        .bind(&id.0)
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

    // ---- chunks ---------------------------------------------------------------------

    /// Claims a chunk that is pending or whose lease has expired. Returns its plan and
    /// how many times it has been claimed (this claim included).
    pub async fn claim_chunk(
        &self,
        lease: &Lease,
        lease_ms: i64,
    ) -> DbResult<Option<(ChunkPlan, i64)>> {
        let now = now_ms();
        let row = sqlx::query(
            "UPDATE import_chunks SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE import_id = $3 AND chunk_no = $4 \
             AND (status = 'pending' OR (status = 'running' AND lease_until < $5)) \
             RETURNING chunk_no, first_row, last_row, row_count, attempts",
        )
        .bind(&lease.owner)
        .bind(now + lease_ms)
        .bind(&lease.import_id.0)
        .bind(lease.chunk_no)
        .bind(now)
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
        .bind(&lease.import_id.0)
        .bind(lease.chunk_no)
        .bind(&lease.owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Extends the caller's lease on a chunk while it works on it (the lease keeper of
    /// `pipeline::chunk`); false when the lease was lost.
    pub async fn renew_chunk(&self, lease: &Lease, lease_ms: i64) -> DbResult<bool> {
        let n = sqlx::query(
            "UPDATE import_chunks SET lease_until = $1 \
             WHERE import_id = $2 AND chunk_no = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(now_ms() + lease_ms)
        .bind(&lease.import_id.0)
        .bind(lease.chunk_no)
        .bind(&lease.owner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The rows of `first..=last` that already have an outcome.
    pub async fn recorded_rows(
        &self,
        import: &ImportId,
        first: i64,
        last: i64,
    ) -> DbResult<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT row_no FROM import_rows WHERE import_id = $1 AND row_no BETWEEN $2 AND $3 ORDER BY row_no",
        )
        .bind(&import.0)
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?)
    }

    /// True when a cancel was asked for.
    pub async fn cancel_requested(&self, import: &ImportId) -> DbResult<bool> {
        let v: i64 = sqlx::query_scalar("SELECT cancel_requested FROM imports WHERE id = $1")
            .bind(&import.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(flag(v))
    }

    /// Existing technicians of `org` among `email_keys`: (email_key, id).
    pub async fn existing_emails(
        &self,
        org: OrgId,
        email_keys: &[String],
    ) -> DbResult<Vec<(String, i64)>> {
        if email_keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT email_key, id FROM technicians WHERE org_id = $1 AND email_key IN ({})",
            super::list_placeholders(2, email_keys.len())
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql)).bind(org);
        for key in email_keys {
            q = q.bind(key);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Writes one batch of a chunk in one transaction: renews the lease (and proves it
    /// is still ours), creates and updates technicians, records every row's outcome and
    /// moves the import's counters. Creations that lose a race for their email (another
    /// import took it meanwhile) become `email_taken` failures. Returns `None` when the
    /// lease was lost: nothing was written, and the new holder will do these rows.
    pub async fn commit_batch(
        &self,
        lease: &Lease,
        lease_ms: i64,
        org: OrgId,
        creates: Vec<TechnicianWrite>,
        updates: Vec<(i64, TechnicianWrite)>,
        mut outcomes: Vec<RowOutcome>,
    ) -> DbResult<Option<Counts>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let renewed = sqlx::query(
            "UPDATE import_chunks SET lease_until = $1 WHERE import_id = $2 AND chunk_no = $3 AND lease_owner = $4 AND status = 'running'",
        )
        .bind(now + lease_ms)
        .bind(&lease.import_id.0)
        .bind(lease.chunk_no)
        .bind(&lease.owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if renewed != 1 {
            return Ok(None);
        }
        let (creates, updates) = self
            .within_seats(&mut tx, org, creates, updates, &mut outcomes)
            .await?;

        for batch in creates.chunks(500) {
            let sql = format!(
                "INSERT INTO technicians (org_id, name, nickname, email, email_key, sso_id, description, password_hash, \
                 enabled, standard_license, mobile_license, group_id, must_change_password, import_id, created_at, updated_at) \
                 VALUES {} ON CONFLICT (org_id, email_key) DO NOTHING RETURNING id, email_key",
                values_placeholders(batch.len(), 16)
            );
            let mut q = sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql));
            for t in batch {
                q = q
                    .bind(org)
                    .bind(&t.name)
                    .bind(t.nickname.as_deref())
                    .bind(&t.email)
                    .bind(&t.email_key)
                    .bind(t.sso_id.as_deref())
                    .bind(t.description.as_deref())
                    .bind(&t.password_hash)
                    .bind(i64::from(t.enabled))
                    .bind(i64::from(t.standard_license))
                    .bind(i64::from(t.mobile_license))
                    .bind(t.group_id)
                    .bind(i64::from(t.must_change_password))
                    .bind(&lease.import_id.0)
                    .bind(now)
                    .bind(now);
            }
            let created: std::collections::HashMap<String, i64> = q
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(id, key)| (key, id))
                .collect();
            for t in batch {
                let outcome = match created.get(&t.email_key) {
                    Some(id) => RowOutcome {
                        row: t.row,
                        email: t.email.clone(),
                        status: RowStatus::Created,
                        technician_id: Some(*id),
                        errors: Vec::new(),
                    },
                    None => RowOutcome {
                        row: t.row,
                        email: t.email.clone(),
                        status: RowStatus::Failed,
                        technician_id: None,
                        errors: vec![FieldError::new(
                            "Email",
                            "email_taken",
                            format!("'{}' already belongs to a technician", t.email),
                        )],
                    },
                };
                outcomes.push(outcome);
            }
        }

        for (id, t) in &updates {
            sqlx::query(
                "UPDATE technicians SET name = $1, nickname = $2, email = $3, sso_id = $4, description = $5, \
                 password_hash = $6, enabled = $7, standard_license = $8, mobile_license = $9, group_id = $10, \
                 must_change_password = $11, updated_at = $12 WHERE org_id = $13 AND id = $14",
            )
            .bind(&t.name)
            .bind(t.nickname.as_deref())
            .bind(&t.email)
            .bind(t.sso_id.as_deref())
            .bind(t.description.as_deref())
            .bind(&t.password_hash)
            .bind(i64::from(t.enabled))
            .bind(i64::from(t.standard_license))
            .bind(i64::from(t.mobile_license))
            .bind(t.group_id)
            .bind(i64::from(t.must_change_password))
            .bind(now)
            .bind(org)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            outcomes.push(RowOutcome {
                row: t.row,
                email: t.email.clone(),
                status: RowStatus::Updated,
                technician_id: Some(*id),
                errors: Vec::new(),
            });
        }

        let counts = insert_outcomes(&mut tx, &lease.import_id, &outcomes).await?;
        tx.commit().await?;
        Ok(Some(counts))
    }

    /// Keeps, in row order, only the writes that fit the organization's license
    /// seats; the others become `license_unavailable` failures. Runs inside the
    /// batch's transaction with the organization's settings row locked, so
    /// concurrent imports racing for the last seats never over-allocate.
    async fn within_seats(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org: OrgId,
        creates: Vec<TechnicianWrite>,
        updates: Vec<(i64, TechnicianWrite)>,
        outcomes: &mut Vec<RowOutcome>,
    ) -> DbResult<(Vec<TechnicianWrite>, Vec<(i64, TechnicianWrite)>)> {
        let lock = match self.engine {
            super::Engine::Postgres => " FOR UPDATE",
            // SQLite has one writer: the transaction is serialized already.
            super::Engine::Sqlite => "",
        };
        // Unlimited seats (the default) need no lock: batches of concurrent imports
        // then never wait for each other here.
        let seats = "SELECT standard_seats, mobile_seats FROM settings WHERE org_id = $1";
        let (standard_seats, mobile_seats): (Option<i64>, Option<i64>) =
            sqlx::query_as(seats).bind(org).fetch_one(&mut **tx).await?;
        if standard_seats.is_none() && mobile_seats.is_none() {
            return Ok((creates, updates));
        }
        let (standard_seats, mobile_seats): (Option<i64>, Option<i64>) =
            sqlx::query_as(AssertSqlSafe(format!("{seats}{lock}")))
                .bind(org)
                .fetch_one(&mut **tx)
                .await?;
        let (used_standard, used_mobile): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(standard_license), 0), COALESCE(SUM(CASE WHEN enabled = 1 THEN mobile_license ELSE 0 END), 0) \
             FROM technicians WHERE org_id = $1",
        )
        .bind(org)
        .fetch_one(&mut **tx)
        .await?;
        let mut standard_left = standard_seats.map(|s| s - used_standard);
        let mut mobile_left = mobile_seats.map(|s| s - used_mobile);

        // What each updated technician holds now: an update only needs the seats it adds.
        let mut held: std::collections::HashMap<i64, (bool, bool)> =
            std::collections::HashMap::new();
        for batch in updates.chunks(500) {
            let sql = format!(
                "SELECT id, standard_license, CASE WHEN enabled = 1 THEN mobile_license ELSE 0 END FROM technicians \
                 WHERE org_id = $1 AND id IN ({})",
                super::list_placeholders(2, batch.len())
            );
            let mut q = sqlx::query_as::<_, (i64, i64, i64)>(AssertSqlSafe(sql)).bind(org);
            for (id, _) in batch {
                q = q.bind(*id);
            }
            for (id, standard, mobile) in q.fetch_all(&mut **tx).await? {
                held.insert(id, (flag(standard), flag(mobile)));
            }
        }

        let mut writes: Vec<(Option<i64>, TechnicianWrite)> = creates
            .into_iter()
            .map(|t| (None, t))
            .chain(updates.into_iter().map(|(id, t)| (Some(id), t)))
            .collect();
        writes.sort_by_key(|(_, t)| t.row);
        let (mut kept_creates, mut kept_updates) = (Vec::new(), Vec::new());
        for (id, t) in writes {
            let (has_standard, has_mobile) = id
                .and_then(|id| held.get(&id).copied())
                .unwrap_or((false, false));
            let needs_standard = t.standard_license && !has_standard;
            let needs_mobile = t.enabled && t.mobile_license && !has_mobile;
            let mut missing = Vec::new();
            if needs_standard && standard_left.is_some_and(|left| left < 1) {
                missing.push(("Standard License", standard_left.unwrap_or(0).max(0)));
            }
            if needs_mobile && mobile_left.is_some_and(|left| left < 1) {
                missing.push(("Mobile License", mobile_left.unwrap_or(0).max(0)));
            }
            if !missing.is_empty() {
                outcomes.push(RowOutcome {
                    row: t.row,
                    email: t.email.clone(),
                    status: RowStatus::Failed,
                    technician_id: None,
                    errors: missing
                        .into_iter()
                        .map(|(field, left)| {
                            FieldError::new(
                                field,
                                "license_unavailable",
                                format!("no seat left ({left} of this license left)"),
                            )
                        })
                        .collect(),
                });
                continue;
            }
            if needs_standard {
                standard_left = standard_left.map(|l| l - 1);
            }
            if needs_mobile {
                mobile_left = mobile_left.map(|l| l - 1);
            }
            match id {
                Some(id) => kept_updates.push((id, t)),
                None => kept_creates.push(t),
            }
        }
        Ok((kept_creates, kept_updates))
    }

    /// Records outcomes outside a chunk lease (the finalize step's `not_processed` rows).
    pub async fn record_outcomes(
        &self,
        import: &ImportId,
        outcomes: &[RowOutcome],
    ) -> DbResult<Counts> {
        let mut tx = self.pool.begin().await?;
        let counts = insert_outcomes(&mut tx, import, outcomes).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Closes every chunk not done yet (a cancelled import): no worker claims them
    /// again, and a worker holding one loses its lease at its next batch.
    pub async fn close_chunks(&self, id: &ImportId) -> DbResult<()> {
        sqlx::query("UPDATE import_chunks SET status = 'done', lease_owner = NULL, lease_until = NULL WHERE import_id = $1 AND status <> 'done'")
            .bind(&id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a chunk done and counts it; returns true when it was the import's last one.
    pub async fn finish_chunk(&self, lease: &Lease) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE import_chunks SET status = 'done', lease_owner = NULL, lease_until = NULL \
             WHERE import_id = $1 AND chunk_no = $2 AND lease_owner = $3 AND status = 'running'",
        )
        .bind(&lease.import_id.0)
        .bind(lease.chunk_no)
        .bind(&lease.owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        let (done, count): (i64, Option<i64>) = sqlx::query_as(
            "UPDATE imports SET chunks_done = chunks_done + 1, enqueued_at = $2 WHERE id = $1 RETURNING chunks_done, chunk_count",
        )
        .bind(&lease.import_id.0)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(done) >= count)
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

    // ---- the reconciler's queries ------------------------------------------------------

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
        let chunks: Vec<(String, i64)> = sqlx::query_as(
            "UPDATE import_chunks SET enqueued_at = $1 WHERE status = 'pending' AND enqueued_at < $2 \
             AND import_id IN (SELECT id FROM imports WHERE status = 'running' AND cancel_requested = 0) \
             RETURNING import_id, chunk_no",
        )
        .bind(now)
        .bind(stale)
        .fetch_all(&mut *tx)
        .await?;
        let imports: Vec<(String, Option<i64>, i64, i64)> = sqlx::query_as(
            "UPDATE imports SET enqueued_at = $1 WHERE status IN ('queued', 'running') AND enqueued_at < $2 \
             AND (lease_until IS NULL OR lease_until < $1) RETURNING id, chunk_count, chunks_done, cancel_requested",
        )
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
                .map(|(id, no)| (ImportId(id), no))
                .collect(),
            unpurged: unpurged.into_iter().map(ImportId).collect(),
            ..DueWork::default()
        };
        for (id, chunk_count, done, cancel) in imports {
            match chunk_count {
                None if cancel == 0 => due.plans.push(ImportId(id)),
                Some(count) if done >= count => due.finalizes.push(ImportId(id)),
                _ if cancel != 0 => due.finalizes.push(ImportId(id)),
                _ => {}
            }
        }
        Ok(due)
    }
}

/// Figures for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub imports_by_status: Vec<(String, i64)>,
    pub rows_by_outcome: Vec<(String, i64)>,
    pub chunks_open: i64,
}

impl Db {
    /// Imports by status, rows by outcome (from the imports' counters) and open chunks.
    pub async fn metrics(&self) -> DbResult<Metrics> {
        let imports_by_status =
            sqlx::query_as("SELECT status, COUNT(*) FROM imports GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await?;
        let row = sqlx::query(
            "SELECT COALESCE(SUM(created_rows), 0), COALESCE(SUM(updated_rows), 0), COALESCE(SUM(skipped_rows), 0), \
             COALESCE(SUM(valid_rows), 0), COALESCE(SUM(failed_rows), 0), COALESCE(SUM(not_processed_rows), 0) FROM imports",
        )
        .fetch_one(&self.pool)
        .await?;
        let mut rows_by_outcome = Vec::new();
        for (i, name) in [
            "created",
            "updated",
            "skipped",
            "valid",
            "failed",
            "not_processed",
        ]
        .iter()
        .enumerate()
        {
            rows_by_outcome.push((name.to_string(), row.try_get::<i64, _>(i)?));
        }
        let chunks_open =
            sqlx::query_scalar("SELECT COUNT(*) FROM import_chunks WHERE status <> 'done'")
                .fetch_one(&self.pool)
                .await?;
        Ok(Metrics {
            imports_by_status,
            rows_by_outcome,
            chunks_open,
        })
    }
}

/// What the reconciler found due.
#[derive(Debug, Default)]
pub struct DueWork {
    pub plans: Vec<ImportId>,
    pub chunks: Vec<(ImportId, i64)>,
    pub finalizes: Vec<ImportId>,
    pub unpurged: Vec<ImportId>,
}

/// An import-wide step.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Plan,
    Finalize,
}

async fn insert_outcomes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    import: &ImportId,
    outcomes: &[RowOutcome],
) -> DbResult<Counts> {
    let mut counts = Counts::default();
    for batch in outcomes.chunks(1000) {
        // No ON CONFLICT: an outcome that exists already means another worker did
        // this row, and the whole transaction must roll back.
        let sql = format!(
            "INSERT INTO import_rows (import_id, row_no, email, status, technician_id, errors) VALUES {}",
            values_placeholders(batch.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for o in batch {
            counts.add(o.status);
            q = q
                .bind(&import.0)
                .bind(o.row)
                .bind(&o.email)
                .bind(o.status.as_str())
                .bind(o.technician_id)
                .bind(serde_json::to_string(&o.errors).unwrap_or_else(|_| "[]".into()));
        }
        q.execute(&mut **tx).await?;
    }
    if counts.processed() > 0 {
        sqlx::query(
            "UPDATE imports SET processed_rows = processed_rows + $1, created_rows = created_rows + $2, \
             updated_rows = updated_rows + $3, skipped_rows = skipped_rows + $4, valid_rows = valid_rows + $5, \
             failed_rows = failed_rows + $6, not_processed_rows = not_processed_rows + $7 WHERE id = $8",
        )
        .bind(counts.processed())
        .bind(counts.created)
        .bind(counts.updated)
        .bind(counts.skipped)
        .bind(counts.valid)
        .bind(counts.failed)
        .bind(counts.not_processed)
        .bind(&import.0)
        .execute(&mut **tx)
        .await?;
    }
    Ok(counts)
}

fn outcome_from_row(row: &sqlx::any::AnyRow) -> DbResult<RowOutcome> {
    let status: String = row.try_get("status")?;
    let errors: String = row.try_get("errors")?;
    Ok(RowOutcome {
        row: row.try_get("row_no")?,
        email: row.try_get("email")?,
        status: RowStatus::parse(&status).unwrap_or(RowStatus::Failed),
        technician_id: row.try_get("technician_id")?,
        errors: serde_json::from_str(&errors).unwrap_or_default(),
    })
}
