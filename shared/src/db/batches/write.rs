//! What every batch writer shares, whichever way it sends its rows: the
//! technicians' insert that skips taken emails, the outcomes a batch records
//! and the counters they move. `statements` builds each for either driver
//! (sqlx's `Any`, or PostgreSQL's own on the `COPY` path).

use super::TechnicianWrite;
use crate::db::columns::{TechnicianJson, add_counters};
use crate::db::{DbError, DbResult, Engine, dialect};
use crate::model::{Counts, FieldError, ImportId, OrgId, RowOutcome, RowStatus, TechnicianId};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// Moves a chunk's progress counters by one batch's outcomes (the counters from
/// $1, in the order of `Counts::NAMES`; then the import and the chunk). Never
/// the import's row: updated by every batch of every worker, it was held under
/// lock from that update to each commit, so batches of one import committed one
/// at a time. An import's counters are its own plus its chunks' (`imports::IMPORT_COLUMNS`).
static ADD_COUNTS_TO_CHUNK: LazyLock<String> = LazyLock::new(|| {
    let n = Counts::NAMES.len();
    format!(
        "UPDATE import_chunks SET {} WHERE import_id = ${} AND chunk_no = ${}",
        add_counters(1),
        n + 1,
        n + 2
    )
});
/// Moves an import's own counters: outcomes recorded outside any chunk (finalize's
/// `not_processed` rows).
static ADD_COUNTS_TO_IMPORT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE imports SET {} WHERE id = ${}",
        add_counters(1),
        Counts::NAMES.len() + 1
    )
});

/// The statements a batch's transaction shares between the general path (sqlx's
/// `Any` driver, both engines) and PostgreSQL's `COPY` path, built once for either driver.
pub(in crate::db) mod statements {
    use super::*;
    use sqlx::query::{Query, QueryAs};
    use sqlx::{Database, Encode, Type};

    /// `dialect::insert_technicians` with the batch's creations.
    pub(in crate::db) fn insert_technicians<'q, DB: Database>(
        engine: Engine,
        org: OrgId,
        import: &ImportId,
        now: i64,
        creates: &[TechnicianWrite],
    ) -> DbResult<QueryAs<'q, DB, (i64, String), DB::Arguments>>
    where
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        String: for<'t> Encode<'t, DB> + Type<DB>,
        (i64, String): for<'r> sqlx::FromRow<'r, DB::Row>,
    {
        let rows: Vec<TechnicianJson<'_>> = creates
            .iter()
            .map(|write| TechnicianJson { extra: &[], write })
            .collect();
        Ok(sqlx::query_as(dialect::insert_technicians(engine))
            .bind(org)
            .bind(import.as_str().to_owned())
            .bind(now)
            .bind(serde_json::to_string(&rows).map_err(json_error)?))
    }

    /// Adds `counts` to chunk `chunk` of `import`, or to the import itself when `None`.
    pub(in crate::db) fn add_counts<'q, DB: Database>(
        import: &ImportId,
        chunk: Option<i64>,
        counts: &Counts,
    ) -> Query<'q, DB, DB::Arguments>
    where
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        String: for<'t> Encode<'t, DB> + Type<DB>,
    {
        let sql = match chunk {
            Some(_) => ADD_COUNTS_TO_CHUNK.as_str(),
            None => ADD_COUNTS_TO_IMPORT.as_str(),
        };
        let mut query = sqlx::query(sql);
        for n in counts.values() {
            query = query.bind(n);
        }
        let query = query.bind(import.as_str().to_owned());
        match chunk {
            Some(chunk) => query.bind(chunk),
            None => query,
        }
    }
}

/// Ends a chunk's batch: its outcomes recorded and counted on the leased
/// chunk, and the transaction committed with them.
pub(in crate::db) async fn commit_batch(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    engine: Engine,
    lease: &super::Lease,
    outcomes: &[RowOutcome],
) -> DbResult<Counts> {
    let counts = insert_outcomes(
        &mut tx,
        engine,
        &lease.import_id,
        Some(lease.chunk_no),
        outcomes,
    )
    .await?;
    tx.commit().await?;
    Ok(counts)
}

/// Inserts outcomes and adds them to the counters of `chunk`, or of the import when `None`.
pub(in crate::db) async fn insert_outcomes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    engine: Engine,
    import: &ImportId,
    chunk: Option<i64>,
    outcomes: &[RowOutcome],
) -> DbResult<Counts> {
    let counts = Counts::of(outcomes);
    if !outcomes.is_empty() {
        let rows: Vec<OutcomeJson<'_>> = outcomes.iter().map(OutcomeJson::from).collect();
        sqlx::query(dialect::insert_outcomes(engine))
            .bind(import.as_str())
            .bind(serde_json::to_string(&rows).map_err(json_error)?)
            .execute(&mut **tx)
            .await?;
        statements::add_counts(import, chunk, &counts)
            .execute(&mut **tx)
            .await?;
    }
    Ok(counts)
}

/// A row outcome as `insert_outcomes` sends it.
#[derive(Serialize)]
struct OutcomeJson<'a> {
    row_no: i64,
    email: Cow<'a, str>,
    status: &'static str,
    technician_id: Option<TechnicianId>,
    errors: &'a [FieldError],
}

impl<'a> From<&'a RowOutcome> for OutcomeJson<'a> {
    fn from(o: &'a RowOutcome) -> Self {
        Self {
            row_no: o.row,
            email: storable(&o.email),
            status: o.status.as_str(),
            technician_id: o.technician_id,
            errors: &o.errors,
        }
    }
}

/// The outcomes of a batch's creations, each with the id it was created under:
/// `created`, or `email_taken` for a row the insert skipped (`None`: another
/// import took the email since the batch looked, or since the plan when the
/// batch did not look).
pub(super) fn record_creations(
    created: impl IntoIterator<Item = (Option<TechnicianId>, TechnicianWrite)>,
    outcomes: &mut Vec<RowOutcome>,
) {
    for (id, t) in created {
        outcomes.push(match id {
            Some(id) => RowOutcome {
                row: t.row,
                email: t.email,
                status: RowStatus::Created,
                technician_id: Some(id),
                errors: Vec::new(),
            },
            None => RowOutcome {
                row: t.row,
                errors: vec![FieldError::email_taken(&t.email)],
                email: t.email,
                status: RowStatus::Failed,
                technician_id: None,
            },
        });
    }
}

/// Pairs each creation with the id `insert_technicians` returned for its email
/// key (`None` when the insert skipped it).
pub(super) fn by_email_key(
    creates: Vec<TechnicianWrite>,
    inserted: Vec<(i64, String)>,
) -> impl Iterator<Item = (Option<TechnicianId>, TechnicianWrite)> {
    let ids: HashMap<String, TechnicianId> = inserted
        .into_iter()
        .map(|(id, key)| (key, TechnicianId::new(id)))
        .collect();
    creates
        .into_iter()
        .map(move |t| (ids.get(&t.email_key).copied(), t))
}

pub(in crate::db) fn json_error(e: serde_json::Error) -> DbError {
    DbError::Sqlx(sqlx::Error::Encode(Box::new(e)))
}

/// Text as PostgreSQL can store it: a NUL character (which no text column can
/// hold) becomes U+FFFD. Outcomes quote what the file said, even when it is broken.
pub(super) fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}
