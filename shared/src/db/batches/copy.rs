//! PostgreSQL's path for a batch of new technicians: `COPY`, the way the
//! database's own floor loads rows (docs/performance.md), instead of
//! `INSERT ... SELECT FROM json_to_recordset(...) ON CONFLICT`. On the same rows
//! that took a third less of the server's CPU for `technicians`, and about as
//! much again for `import_rows`: no JSON to parse, no speculative insertion, and
//! the heap filled a page at a time.
//!
//! It keeps every rule of `commit_batch`: one transaction renews the lease first,
//! then writes the technicians, their outcomes and the import's counters. `COPY`
//! cannot skip a taken email, so the technicians go in under a savepoint: an
//! email another import took since this batch looked (a race; a first import
//! into an empty organization does not look, see `pipeline::chunk`) rolls the
//! savepoint back, and the batch's creations go through the general statement,
//! which turns that row into `email_taken` and creates the others. Ids come
//! from the table's sequence first, so each outcome names its technician without
//! reading the rows back.
//!
//! It serves batches with only creations and unlimited seats (the default);
//! updates and seat counting take the general path.

use super::lease::statements::renew_lease;
use super::seats::statements::seats;
use super::write::{by_email_key, json_error, record_creations, statements, storable};
use super::{Lease, TechnicianWrite};
use crate::db::columns::{Field, technician_column_list};
use crate::db::{Db, DbResult, Engine};
use crate::model::{Counts, RowOutcome};
use crate::model::{FieldError, ImportId, OrgId, TechnicianId};
use crate::time::now_ms;
use sqlx::PgPool;
use sqlx::postgres::PgConnection;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::LazyLock;

/// The technicians' columns, in the order `technicians_text` writes them.
static COPY_TECHNICIANS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "COPY technicians (id, org_id, {}, import_id, created_at, updated_at) FROM STDIN",
        technician_column_list()
    )
});
const COPY_OUTCOMES: &str =
    "COPY import_rows (import_id, row_no, email, status, technician_id, errors) FROM STDIN";
/// `n` ids for new technicians, from the sequence `BIGSERIAL` made. The sequence
/// is looked up once per statement: `pg_get_serial_sequence` in the select list
/// ran once per id, 7% of PostgreSQL's CPU at the cheapest hash.
const NEXT_IDS: &str = "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('technicians', 'id')::regclass AS seq) \
     SELECT nextval(s.seq) FROM s, generate_series(1, $1)";

/// What `commit_batch_by_copy` did.
pub(super) enum Copied {
    /// The batch is written (`Some`), or the lease was lost and nothing was (`None`).
    Done(Option<Counts>),
    /// The batch creates technicians and the organization counts seats: the
    /// batch, untouched, is for the general path.
    NotApplicable(Vec<TechnicianWrite>, Vec<RowOutcome>),
}

impl Db {
    /// Writes a batch of creations and outcomes with `COPY` (the module's comment).
    pub(super) async fn commit_batch_by_copy(
        &self,
        pool: &PgPool,
        lease: &Lease,
        lease_ms: i64,
        org: OrgId,
        creates: Vec<TechnicianWrite>,
        mut outcomes: Vec<RowOutcome>,
    ) -> DbResult<Copied> {
        let now = now_ms();
        let mut tx = pool.begin().await?;
        let renewed = renew_lease(lease, lease_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if renewed != 1 {
            return Ok(Copied::Done(None));
        }
        if !creates.is_empty() {
            let (standard_seats, mobile_seats) = seats(org).fetch_one(&mut *tx).await?;
            if standard_seats.is_some() || mobile_seats.is_some() {
                tx.rollback().await?;
                return Ok(Copied::NotApplicable(creates, outcomes));
            }
            let ids: Vec<i64> = sqlx::query_scalar(NEXT_IDS)
                .bind(creates.len() as i64)
                .fetch_all(&mut *tx)
                .await?;
            let text = technicians_text(org, &lease.import_id, now, &creates, &ids);
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
            match copy_in(&mut savepoint, &COPY_TECHNICIANS, text.as_bytes()).await {
                Ok(()) => {
                    savepoint.commit().await?;
                    let created = ids
                        .into_iter()
                        .map(|id| Some(TechnicianId::new(id)))
                        .zip(creates);
                    record_creations(created, &mut outcomes);
                }
                Err(e)
                    if e.as_database_error()
                        .is_some_and(|d| d.is_unique_violation()) =>
                {
                    savepoint.rollback().await?;
                    tracing::debug!(
                        chunk.no = lease.chunk_no,
                        "an email was taken meanwhile; creating this batch one statement at a time"
                    );
                    let inserted = statements::insert_technicians(
                        Engine::Postgres,
                        org,
                        &lease.import_id,
                        now,
                        &creates,
                    )?
                    .fetch_all(&mut *tx)
                    .await?;
                    let created = by_email_key(creates, inserted);
                    record_creations(created, &mut outcomes);
                }
                Err(e) => return Err(e.into()),
            }
        }

        let counts = Counts::of(&outcomes);
        if !outcomes.is_empty() {
            let text = outcomes_text(&lease.import_id, &outcomes)?;
            copy_in(&mut tx, COPY_OUTCOMES, text.as_bytes()).await?;
            statements::add_counts(&lease.import_id, Some(lease.chunk_no), &counts)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Copied::Done(Some(counts)))
    }
}

/// Sends `data` (COPY text format) through `statement`.
async fn copy_in(conn: &mut PgConnection, statement: &str, data: &[u8]) -> sqlx::Result<()> {
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

/// The batch's technicians as `COPY_TECHNICIANS` reads them.
fn technicians_text(
    org: OrgId,
    import: &ImportId,
    now: i64,
    creates: &[TechnicianWrite],
    ids: &[i64],
) -> String {
    let mut out = String::with_capacity(creates.len() * 256);
    for (t, id) in creates.iter().zip(ids) {
        let _ = write!(out, "{id}\t{org}\t");
        t.copy_text(&mut out);
        field(&mut out, Some(import.as_str()));
        let _ = writeln!(out, "{now}\t{now}");
    }
    out
}

impl TechnicianWrite {
    /// Appends the write's fields as `COPY`'s text format reads them, each with
    /// its tab, in the order of [`crate::db::TECHNICIAN_COLUMNS`].
    pub fn copy_text(&self, out: &mut String) {
        for value in self.fields() {
            match value {
                Field::Text(text) => field(out, text),
                Field::Int(n) => {
                    let _ = write!(out, "{n}\t");
                }
            }
        }
    }
}

/// The batch's outcomes as `COPY_OUTCOMES` reads them.
fn outcomes_text(import: &ImportId, outcomes: &[RowOutcome]) -> DbResult<String> {
    let mut out = String::with_capacity(outcomes.len() * 96);
    for o in outcomes {
        field(&mut out, Some(import.as_str()));
        let _ = write!(out, "{}\t", o.row);
        field(&mut out, Some(&o.email));
        let _ = write!(out, "{}\t", o.status.as_str());
        match o.technician_id {
            Some(id) => {
                let _ = write!(out, "{id}\t");
            }
            None => out.push_str("\\N\t"),
        }
        let errors = errors_json(&o.errors)?;
        out.push_str(&escape(&errors));
        out.push('\n');
    }
    Ok(out)
}

fn errors_json(errors: &[FieldError]) -> DbResult<String> {
    if errors.is_empty() {
        return Ok("[]".to_owned());
    }
    serde_json::to_string(errors).map_err(json_error)
}

/// Appends one field and its tab: `\N` for NULL, else the text escaped.
fn field(out: &mut String, value: Option<&str>) {
    match value {
        Some(text) => out.push_str(&escape(text)),
        None => out.push_str("\\N"),
    }
    out.push('\t');
}

/// Text as COPY's text format carries it: first `storable` (a NUL, which no text
/// column can hold, becomes U+FFFD, as on the general path; validation fails a
/// NUL in any technician field, so only an outcome's email can hold one), then a
/// backslash, tab, newline or carriage return escaped.
fn escape(text: &str) -> Cow<'_, str> {
    let text = storable(text);
    if !text.contains(['\\', '\t', '\n', '\r']) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn copy_text_escapes_what_its_format_reads_as_syntax() {
        assert_eq!(escape("plain é ✓"), "plain é ✓");
        assert_eq!(escape("a\\b\tc\nd\re"), "a\\\\b\\tc\\nd\\re");
        assert_eq!(escape("nul\0here"), "nul\u{FFFD}here");
        assert_eq!(escape("\\N"), "\\\\N");
    }
}
