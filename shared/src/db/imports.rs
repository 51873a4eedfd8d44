//! Imports as users see them: registering (with idempotency keys), reading and
//! listing them, their row outcomes, and cancel requests. Every read a user can
//! make is scoped by organization (and, for admins, by who started it).

use super::columns::{counter_column, joined};
use super::{Db, DbResult, flag, undecodable};
use crate::model::{
    AdminId, Counts, Format, ImportId, ImportKind, ImportRecord, ImportStatus, Layout, NewImport,
    OnExisting, OrgId, RowOutcome, RowStatus,
};
use crate::time::now_ms;
use sqlx::{AssertSqlSafe, Row};
use std::sync::LazyLock;

/// An import's columns, for `SELECT {IMPORT_COLUMNS} FROM imports ...`. Each
/// counter (`Counts::NAMES`) is the import's own (outcomes recorded outside a
/// chunk) plus the sum of its chunks', where every batch adds its outcomes
/// (`batches::write::ADD_COUNTS_TO_CHUNK`).
static IMPORT_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let counters = joined(Counts::NAMES.iter().map(|name| {
        let column = counter_column(name);
        format!(
            "{column} + (SELECT CAST(COALESCE(SUM(c.{column}), 0) AS BIGINT) FROM import_chunks c \
             WHERE c.import_id = imports.id) AS {column}"
        )
    }));
    format!(
        "id, kind, sync_source_id, approved, awaiting_approval, org_id, admin_id, status, file_name, format, \
         layout, header, group_id, dry_run, on_existing, upload_bytes, total_rows, {counters}, \
         chunk_count, chunks_done, error_code, error_message, has_result, files_purged, \
         cancel_requested, directory_empty_at_plan, created_at, started_at, finished_at"
    )
});

fn import_from_row(row: &sqlx::any::AnyRow) -> DbResult<ImportRecord> {
    let status: String = row.try_get("status")?;
    let format: String = row.try_get("format")?;
    let layout: Option<String> = row.try_get("layout")?;
    let header: Option<String> = row.try_get("header")?;
    let on_existing: String = row.try_get("on_existing")?;
    let code: Option<String> = row.try_get("error_code")?;
    let message: Option<String> = row.try_get("error_message")?;
    let kind: String = row.try_get("kind")?;
    let mut counters = [0; 8];
    for (value, name) in counters.iter_mut().zip(Counts::NAMES) {
        *value = row.try_get(counter_column(name).as_str())?;
    }
    let mut status = ImportStatus::parse(&status).ok_or_else(|| undecodable("status", &status))?;
    if status == ImportStatus::Queued && flag(row.try_get("awaiting_approval")?) {
        status = ImportStatus::NeedsApproval;
    }
    Ok(ImportRecord {
        id: row.try_get("id")?,
        kind: ImportKind::parse(&kind).ok_or_else(|| undecodable("kind", &kind))?,
        sync_source_id: row.try_get("sync_source_id")?,
        approved: flag(row.try_get("approved")?),
        org_id: row.try_get("org_id")?,
        admin_id: row.try_get("admin_id")?,
        status,
        file_name: row.try_get("file_name")?,
        format: Format::parse(&format).ok_or_else(|| undecodable("format", &format))?,
        layout: layout
            .map(|l| Layout::parse(&l).ok_or_else(|| undecodable("layout", &l)))
            .transpose()?,
        header: header
            .map(|h| serde_json::from_str(&h).map_err(|_| undecodable("header", &h)))
            .transpose()?,
        group_id: row.try_get("group_id")?,
        dry_run: flag(row.try_get("dry_run")?),
        on_existing: OnExisting::parse(&on_existing)
            .ok_or_else(|| undecodable("on_existing", &on_existing))?,
        upload_bytes: row.try_get("upload_bytes")?,
        total_rows: row.try_get("total_rows")?,
        counts: Counts::from_values(counters),
        chunk_count: row.try_get("chunk_count")?,
        chunks_done: row.try_get("chunks_done")?,
        error: code.map(|c| (c, message.unwrap_or_default())),
        has_result: flag(row.try_get("has_result")?),
        files_purged: flag(row.try_get("files_purged")?),
        cancel_requested: flag(row.try_get("cancel_requested")?),
        directory_empty_at_plan: flag(row.try_get("directory_empty_at_plan")?),
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// How long an idempotency key names its first import.
const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// How long an upload's place among its organization's active imports lasts if
/// its API process dies before freeing it. Long enough for a big upload on a
/// slow link: a live process frees or converts the place itself.
const UPLOAD_SLOT_LIFETIME_MS: i64 = 3600 * 1000;

/// The answer to an upload that asks for a place among its organization's
/// active imports (`ROSTER_MAX_ACTIVE_IMPORTS`).
#[derive(Debug)]
pub enum Admission {
    /// A place, held under this id until [`Db::create_import`] turns it into the
    /// import or [`Db::free_upload_slot`] gives it back.
    Admitted(String),
    /// The idempotency key names an import of the last 24 hours: that one, and no new import.
    Existing(Box<ImportRecord>),
    /// `limit` imports are queued, running or being uploaded already.
    Full,
}

impl Db {
    /// Takes a place for a new upload of `org`, unless `limit` imports are queued,
    /// running or being uploaded already. Counted in the database, under a lock
    /// on the organization, so that concurrent uploads on any API instance never
    /// get more than `limit` places between them.
    pub async fn admit_upload(
        &self,
        org: OrgId,
        idempotency_key: Option<&str>,
        limit: i64,
    ) -> DbResult<Admission> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // One admission per organization at a time on both engines: this no-op
        // update locks the organization's row until commit in PostgreSQL, and
        // takes SQLite's one write lock, so the count below cannot go stale.
        sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
            .bind(org)
            .execute(&mut *tx)
            .await?;
        if let Some(key) = idempotency_key {
            let existing = sqlx::query(AssertSqlSafe(format!(
                "SELECT {columns} FROM imports WHERE org_id = $1 AND idempotency_key = $2 AND created_at >= $3", columns = IMPORT_COLUMNS.as_str()
            )))
            .bind(org)
            .bind(key)
            .bind(now - IDEMPOTENCY_WINDOW_MS)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                tx.commit().await?;
                return Ok(Admission::Existing(Box::new(import_from_row(&row)?)));
            }
        }
        sqlx::query("DELETE FROM upload_slots WHERE org_id = $1 AND expires_at < $2")
            .bind(org)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let active: i64 = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM imports WHERE org_id = $1 AND status IN ('queued', 'running')) \
             + (SELECT COUNT(*) FROM upload_slots WHERE org_id = $1) AS active",
        )
        .bind(org)
        .fetch_one(&mut *tx)
        .await?
        .try_get("active")?;
        if active >= limit {
            tx.commit().await?;
            return Ok(Admission::Full);
        }
        let slot = ImportId::new().as_str().to_owned();
        sqlx::query("INSERT INTO upload_slots (id, org_id, expires_at) VALUES ($1, $2, $3)")
            .bind(&slot)
            .bind(org)
            .bind(now + UPLOAD_SLOT_LIFETIME_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Admission::Admitted(slot))
    }

    /// Gives back an upload's place (the upload was refused or went away).
    pub async fn free_upload_slot(&self, slot: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM upload_slots WHERE id = $1")
            .bind(slot)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Registers a queued import, in the place `slot` that [`Db::admit_upload`]
    /// gave its upload (freed in the same transaction). With an idempotency key
    /// that names an import of the last 24 hours, returns that import instead and `false`.
    pub async fn create_import(
        &self,
        new: &NewImport,
        slot: Option<&str>,
    ) -> DbResult<(ImportRecord, bool)> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if let Some(slot) = slot {
            sqlx::query("DELETE FROM upload_slots WHERE id = $1")
                .bind(slot)
                .execute(&mut *tx)
                .await?;
        }
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
             upload_bytes, idempotency_key, enqueued_at, created_at, kind, sync_source_id) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13) \
             ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING",
        )
        .bind(new.id.as_str())
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
        .bind(new.kind.as_str())
        .bind(new.sync_source_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let row = if inserted {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {columns} FROM imports WHERE id = $1",
                columns = IMPORT_COLUMNS.as_str()
            )))
            .bind(new.id.as_str())
            .fetch_one(&mut *tx)
            .await?
        } else {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {columns} FROM imports WHERE org_id = $1 AND idempotency_key = $2",
                columns = IMPORT_COLUMNS.as_str()
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
        admin: Option<AdminId>,
    ) -> DbResult<Option<ImportRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {columns} FROM imports WHERE org_id = $1 AND id = $2 AND ($3 IS NULL OR admin_id = $3)", columns = IMPORT_COLUMNS.as_str()
        )))
        .bind(org)
        .bind(id.as_str())
        .bind(admin)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(import_from_row).transpose()
    }

    /// An import by id alone: for workers, whose messages carry only ids.
    pub async fn load_import(&self, id: &ImportId) -> DbResult<Option<ImportRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {columns} FROM imports WHERE id = $1",
            columns = IMPORT_COLUMNS.as_str()
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(import_from_row).transpose()
    }

    /// Imports of `org`, newest first (ids are time-ordered UUIDv7), before the cursor.
    pub async fn list_imports(
        &self,
        org: OrgId,
        admin: Option<AdminId>,
        before: Option<&str>,
        limit: i64,
    ) -> DbResult<Vec<ImportRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {columns} FROM imports WHERE org_id = $1 AND ($2 IS NULL OR admin_id = $2) \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
            columns = IMPORT_COLUMNS.as_str()
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
        // The status goes into the statement text (one of a fixed set of words), so
        // that both engines see that `import_rows_problems`, which holds only the
        // failed, not processed and skipped rows, serves it: a page of the few failed
        // rows of a large import is an index range, not a scan of every row. The
        // other statuses are most rows of their import: the primary key serves them.
        let rows = sqlx::query(AssertSqlSafe(list_rows_sql(status)))
            .bind(import.as_str())
            .bind(after)
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
        .bind(import.as_str())
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
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// True when a cancel was asked for.
    pub async fn cancel_requested(&self, import: &ImportId) -> DbResult<bool> {
        let v: i64 = sqlx::query_scalar("SELECT cancel_requested FROM imports WHERE id = $1")
            .bind(import.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(flag(v))
    }
}

/// The row listing's statement: the import ($1), after row $2, at most $3 rows.
/// Public for the tests that check which index serves it.
pub fn list_rows_sql(status: Option<RowStatus>) -> String {
    let filter = match status {
        Some(status) => format!("AND status = '{}'", status.as_str()),
        None => String::new(),
    };
    format!(
        "SELECT row_no, email, status, technician_id, errors FROM import_rows \
         WHERE import_id = $1 AND row_no > $2 {filter} ORDER BY row_no LIMIT $3"
    )
}

fn outcome_from_row(row: &sqlx::any::AnyRow) -> DbResult<RowOutcome> {
    let status: String = row.try_get("status")?;
    let errors: String = row.try_get("errors")?;
    Ok(RowOutcome {
        row: row.try_get("row_no")?,
        email: row.try_get("email")?,
        status: RowStatus::parse(&status).ok_or_else(|| undecodable("status", &status))?,
        technician_id: row.try_get("technician_id")?,
        errors: serde_json::from_str(&errors).map_err(|_| undecodable("errors", &errors))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::{plan_details, scratch_sqlite};

    /// On SQLite (no statistics: the embedded default never analyzes), every
    /// listing is a search of an index in row order, never a scan or a sort.
    /// PostgreSQL's choice of `import_rows_problems` is checked in
    /// tests/tests/it/imports/postgres.rs.
    #[tokio::test]
    async fn the_sqlite_row_listing_searches_an_index_in_row_order() {
        let (_dir, db) = scratch_sqlite().await;
        let statuses = [
            None,
            Some(RowStatus::Created),
            Some(RowStatus::Failed),
            Some(RowStatus::NotProcessed),
            Some(RowStatus::Skipped),
        ];
        for status in statuses {
            let details = plan_details(
                sqlx::query_as(AssertSqlSafe(format!(
                    "EXPLAIN QUERY PLAN {}",
                    list_rows_sql(status)
                )))
                .bind("an-import")
                .bind(1_i64)
                .bind(100_i64)
                .fetch_all(&db.pool)
                .await
                .expect("explain"),
            );
            assert_eq!(details.len(), 1, "{status:?}: {details:?}");
            assert!(
                details[0].starts_with("SEARCH import_rows USING INDEX"),
                "{status:?}: {details:?}"
            );
        }
    }
}
