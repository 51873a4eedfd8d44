//! Chunks and their batches: claiming a chunk under a lease, and writing one
//! batch of rows. The rule this file keeps: a row's outcome and its effect (the
//! technician created or updated) are written in one transaction that also
//! proves the writer still holds the chunk's lease, so a row takes effect
//! exactly once.

use super::steps::ChunkPlan;
use super::{Db, DbResult, Engine, flag};
use crate::model::{Counts, RowOutcome};
use crate::model::{FieldError, GroupId, ImportId, OrgId, RowStatus, TechnicianId};
use crate::time::now_ms;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Existing technicians among a JSON array of email keys ($2) of organization $1:
/// for each key in turn, one probe of the unique `(org_id, email_key)` index. The
/// lateral subquery (kept a subquery by `OFFSET 0`) is what fixes that order: as a
/// plain join, planned while the table was small, PostgreSQL read the whole
/// organization instead, by a hash join or with the technicians outside.
pub const EXISTING_EMAILS_POSTGRES: &str = "SELECT t.email_key, t.id, t.group_id FROM json_array_elements_text($2::json) AS k(key) \
     CROSS JOIN LATERAL (SELECT email_key, id, group_id FROM technicians WHERE org_id = $1 AND email_key = k.key OFFSET 0) AS t";
/// What `EXISTING_EMAILS_POSTGRES` is planned under: afresh for each batch
/// (sqlx prepares a statement once per connection, and PostgreSQL would then keep
/// one generic plan for good, made while an organization's first import had
/// barely begun), and by index searches only. Measured before this: at 600,000
/// rows the lookup was the statement most often seen running, ahead of the `COPY`
/// itself. Planning a batch's lookup costs a fraction of a millisecond.
pub const EXISTING_EMAILS_PLANNER_POSTGRES: &str = "SET LOCAL plan_cache_mode = force_custom_plan; \
     SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off";
/// The same on SQLite. CROSS JOIN keeps SQLite from reordering: the keys are the
/// outer loop, each a search of the unique index. (With JOIN it scanned the
/// organization's technicians and re-read the JSON for each one: 1.5 s a batch
/// at a few thousand technicians.)
const EXISTING_EMAILS_SQLITE: &str = "SELECT t.email_key, t.id, t.group_id FROM json_each($2) AS k \
     CROSS JOIN technicians t ON t.org_id = $1 AND t.email_key = k.value";

/// Renews a chunk's lease, and so proves it is still the caller's: the first
/// statement of every batch's transaction.
const RENEW_LEASE: &str = "UPDATE import_chunks SET lease_until = $1 \
     WHERE import_id = $2 AND chunk_no = $3 AND lease_owner = $4 AND status = 'running'";

/// An organization's license seats (NULL: unlimited).
const SEATS: &str = "SELECT standard_seats, mobile_seats FROM settings WHERE org_id = $1";

/// Creates technicians from one JSON document ($4), skipping emails the
/// organization has already; returns (id, email_key) of those created.
const INSERT_TECHNICIANS_POSTGRES: &str = "INSERT INTO technicians (org_id, name, nickname, email, email_key, \
     sso_id, description, password_hash, enabled, standard_license, mobile_license, group_id, must_change_password, \
     import_id, created_at, updated_at) \
     SELECT $1, x.name, x.nickname, x.email, x.email_key, x.sso_id, x.description, x.password_hash, \
     x.enabled, x.standard_license, x.mobile_license, x.group_id, x.must_change_password, $2, $3, $3 \
     FROM json_to_recordset($4::json) AS x(name text, nickname text, email text, email_key text, \
     sso_id text, description text, password_hash text, enabled smallint, standard_license smallint, \
     mobile_license smallint, group_id bigint, must_change_password smallint) \
     ON CONFLICT (org_id, email_key) DO NOTHING RETURNING id, email_key";
/// The same on SQLite. `WHERE true` keeps SQLite from reading ON CONFLICT as part of a join.
const INSERT_TECHNICIANS_SQLITE: &str = "INSERT INTO technicians (org_id, name, nickname, email, email_key, \
     sso_id, description, password_hash, enabled, standard_license, mobile_license, group_id, must_change_password, \
     import_id, created_at, updated_at) \
     SELECT $1, value ->> 'name', value ->> 'nickname', value ->> 'email', value ->> 'email_key', \
     value ->> 'sso_id', value ->> 'description', value ->> 'password_hash', value ->> 'enabled', \
     value ->> 'standard_license', value ->> 'mobile_license', value ->> 'group_id', \
     value ->> 'must_change_password', $2, $3, $3 FROM json_each($4) WHERE true \
     ON CONFLICT (org_id, email_key) DO NOTHING RETURNING id, email_key";

/// Updates technicians from one JSON document ($3), each element naming the
/// technician (`id`) and the group the email lookup saw it in (`seen_group`):
/// one moved to another group meanwhile (perhaps out of the importer's reach) is
/// not this import's to change, and stays as it is. Returns the ids updated. One
/// statement a batch, each element a probe of the primary key: a statement per
/// row cost a round trip and an executor start each.
const UPDATE_TECHNICIANS_POSTGRES: &str = "UPDATE technicians AS t SET name = x.name, nickname = x.nickname, \
     email = x.email, sso_id = x.sso_id, description = x.description, password_hash = x.password_hash, \
     enabled = x.enabled, standard_license = x.standard_license, mobile_license = x.mobile_license, \
     group_id = x.group_id, must_change_password = x.must_change_password, updated_at = $2 \
     FROM json_to_recordset($3::json) AS x(id bigint, seen_group bigint, name text, nickname text, \
     email text, sso_id text, description text, password_hash text, enabled smallint, \
     standard_license smallint, mobile_license smallint, group_id bigint, must_change_password smallint) \
     WHERE t.org_id = $1 AND t.id = x.id AND t.group_id = x.seen_group RETURNING t.id";
/// The same on SQLite (`UPDATE ... FROM`, 3.33 on). Every column is named with
/// its table: `json_each` has an `id` column of its own.
const UPDATE_TECHNICIANS_SQLITE: &str = "UPDATE technicians SET name = x.value ->> 'name', \
     nickname = x.value ->> 'nickname', email = x.value ->> 'email', sso_id = x.value ->> 'sso_id', \
     description = x.value ->> 'description', password_hash = x.value ->> 'password_hash', \
     enabled = x.value ->> 'enabled', standard_license = x.value ->> 'standard_license', \
     mobile_license = x.value ->> 'mobile_license', group_id = x.value ->> 'group_id', \
     must_change_password = x.value ->> 'must_change_password', updated_at = $2 \
     FROM json_each($3) AS x WHERE technicians.org_id = $1 AND technicians.id = x.value ->> 'id' \
     AND technicians.group_id = x.value ->> 'seen_group' RETURNING technicians.id";

/// Moves a chunk's progress counters by one batch's outcomes. Never the import's
/// row: updated by every batch of every worker, it was held under lock from that
/// update to each commit, so batches of one import committed one at a time.
/// An import's counters are its own plus its chunks' (`imports::IMPORT_COLUMNS`).
const ADD_COUNTS_TO_CHUNK: &str = "UPDATE import_chunks SET created_rows = created_rows + $1, \
     updated_rows = updated_rows + $2, skipped_rows = skipped_rows + $3, valid_rows = valid_rows + $4, \
     failed_rows = failed_rows + $5, not_processed_rows = not_processed_rows + $6, \
     unchanged_rows = unchanged_rows + $7, disabled_rows = disabled_rows + $8 \
     WHERE import_id = $9 AND chunk_no = $10";
/// Moves an import's own counters: outcomes recorded outside any chunk (finalize's
/// `not_processed` rows).
const ADD_COUNTS_TO_IMPORT: &str = "UPDATE imports SET created_rows = created_rows + $1, \
     updated_rows = updated_rows + $2, skipped_rows = skipped_rows + $3, valid_rows = valid_rows + $4, \
     failed_rows = failed_rows + $5, not_processed_rows = not_processed_rows + $6, \
     unchanged_rows = unchanged_rows + $7, disabled_rows = disabled_rows + $8 \
     WHERE id = $9";

/// The statements a batch's transaction shares between the general path (sqlx's
/// `Any` driver, both engines) and PostgreSQL's `COPY` path (`super::copy`),
/// built once for either driver.
pub(super) mod statements {
    use super::*;
    use sqlx::query::{Query, QueryAs};
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

    pub(in crate::db) fn seats<'q, DB: Database>(
        org: OrgId,
    ) -> QueryAs<'q, DB, (Option<i64>, Option<i64>), DB::Arguments>
    where
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        (Option<i64>, Option<i64>): for<'r> sqlx::FromRow<'r, DB::Row>,
    {
        sqlx::query_as(SEATS).bind(org)
    }

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
        let sql = match engine {
            Engine::Postgres => INSERT_TECHNICIANS_POSTGRES,
            Engine::Sqlite => INSERT_TECHNICIANS_SQLITE,
        };
        let rows: Vec<TechnicianJson<'_>> = creates.iter().map(TechnicianJson::from).collect();
        Ok(sqlx::query_as(sql)
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
            Some(_) => ADD_COUNTS_TO_CHUNK,
            None => ADD_COUNTS_TO_IMPORT,
        };
        let query = sqlx::query(sql)
            .bind(counts.created)
            .bind(counts.updated)
            .bind(counts.skipped)
            .bind(counts.valid)
            .bind(counts.failed)
            .bind(counts.not_processed)
            .bind(counts.unchanged)
            .bind(counts.disabled)
            .bind(import.as_str().to_owned());
        match chunk {
            Some(chunk) => query.bind(chunk),
            None => query,
        }
    }
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
    pub group_id: GroupId,
    pub must_change_password: bool,
}

/// The lease a worker holds on a chunk.
impl TechnicianWrite {
    /// A validated row as a write, and its credential apart: the write gets its
    /// `password_hash` once the password is hashed (never before, never both),
    /// or the row's imported hash as given.
    pub fn from_valid(
        row: i64,
        t: crate::validate::NewTechnician,
        must_change_password: bool,
    ) -> (crate::password::Credential, Self) {
        let write = Self {
            row,
            name: t.name,
            nickname: t.nickname,
            email: t.email,
            email_key: t.email_key,
            sso_id: t.sso_id,
            description: t.description,
            password_hash: String::new(),
            enabled: t.enabled,
            standard_license: t.standard_license,
            mobile_license: t.mobile_license,
            group_id: t.group_id,
            must_change_password,
        };
        (t.credential, write)
    }
}

/// A technician the organization has under an email a row carries: which one,
/// and the group it was in when looked up (scope is judged on that group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Existing {
    pub id: TechnicianId,
    pub group_id: GroupId,
}

impl Existing {
    fn keyed((email_key, id, group_id): (String, TechnicianId, GroupId)) -> (String, Existing) {
        (email_key, Existing { id, group_id })
    }
}

#[derive(Debug, Clone)]
pub struct Lease {
    pub import_id: ImportId,
    pub chunk_no: i64,
    pub owner: String,
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
        let row = sqlx::query(
            "UPDATE import_chunks SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             claimed_at = $5 WHERE import_id = $3 AND chunk_no = $4 \
             AND (status = 'pending' OR (status = 'running' AND lease_until < $5)) \
             RETURNING chunk_no, first_row, last_row, row_count, attempts",
        )
        .bind(&lease.owner)
        .bind(now + lease_ms)
        .bind(lease.import_id.as_str())
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
        .bind(import.as_str())
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Existing technicians of `org` among `email_keys`, with the group each is in.
    ///
    /// The keys travel as one JSON array joined to `technicians` on its unique
    /// `(org_id, email_key)` index: one statement text for every batch size, so it
    /// is prepared once (`email_key IN (...)` also fell back to scanning the whole
    /// organization without fresh statistics). On PostgreSQL it is planned under
    /// `EXISTING_EMAILS_PLANNER_POSTGRES`, which leaves a probe per key as the
    /// only plan; on SQLite the `CROSS JOIN` fixes the order.
    pub async fn existing_emails(
        &self,
        org: OrgId,
        email_keys: &[String],
    ) -> DbResult<Vec<(String, Existing)>> {
        if email_keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = serde_json::to_string(email_keys).map_err(json_error)?;
        match self.engine {
            Engine::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::raw_sql(EXISTING_EMAILS_PLANNER_POSTGRES)
                    .execute(&mut *tx)
                    .await?;
                let found = sqlx::query_as(EXISTING_EMAILS_POSTGRES)
                    .bind(org)
                    .bind(keys)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(found.into_iter().map(Existing::keyed).collect())
            }
            Engine::Sqlite => Ok(sqlx::query_as(EXISTING_EMAILS_SQLITE)
                .bind(org)
                .bind(keys)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(Existing::keyed)
                .collect()),
        }
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
        updates: Vec<(Existing, TechnicianWrite)>,
        outcomes: Vec<RowOutcome>,
    ) -> DbResult<Option<Counts>> {
        let (creates, mut outcomes) = match &self.copy {
            Some(pool) if updates.is_empty() => {
                match self
                    .commit_batch_by_copy(pool, lease, lease_ms, org, creates, outcomes)
                    .await?
                {
                    super::copy::Copied::Done(counts) => return Ok(counts),
                    super::copy::Copied::NotApplicable(creates, outcomes) => (creates, outcomes),
                }
            }
            _ => (creates, outcomes),
        };
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let renewed = statements::renew_lease(lease, lease_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if renewed != 1 {
            return Ok(None);
        }
        let (creates, updates) = self
            .within_seats(&mut tx, org, creates, updates, &mut outcomes)
            .await?;

        if !creates.is_empty() {
            let inserted =
                statements::insert_technicians(self.engine, org, &lease.import_id, now, &creates)?
                    .fetch_all(&mut *tx)
                    .await?;
            record_creations(by_email_key(creates, inserted), &mut outcomes);
        }

        if !updates.is_empty() {
            let updated: HashSet<TechnicianId> =
                update_technicians(self.engine, org, now, &updates)?
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
            for (existing, t) in updates {
                outcomes.push(if updated.contains(&existing.id) {
                    RowOutcome {
                        row: t.row,
                        email: t.email,
                        status: RowStatus::Updated,
                        technician_id: Some(existing.id),
                        errors: Vec::new(),
                    }
                } else {
                    RowOutcome {
                        row: t.row,
                        errors: vec![FieldError::email_taken(&t.email)],
                        email: t.email,
                        status: RowStatus::Failed,
                        technician_id: None,
                    }
                });
            }
        }

        let counts = insert_outcomes(
            &mut tx,
            self.engine,
            &lease.import_id,
            Some(lease.chunk_no),
            &outcomes,
        )
        .await?;
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
        updates: Vec<(Existing, TechnicianWrite)>,
        outcomes: &mut Vec<RowOutcome>,
    ) -> DbResult<(Vec<TechnicianWrite>, Vec<(Existing, TechnicianWrite)>)> {
        let Some((mut standard_left, mut mobile_left)) = seats_left(tx, self.engine, org).await?
        else {
            return Ok((creates, updates));
        };

        // What each updated technician holds now: an update only needs the seats it adds.
        let mut held: std::collections::HashMap<TechnicianId, (bool, bool)> =
            std::collections::HashMap::new();
        for batch in updates.chunks(500) {
            let sql = format!(
                "SELECT id, standard_license, CASE WHEN enabled = 1 THEN mobile_license ELSE 0 END FROM technicians \
                 WHERE org_id = $1 AND id IN ({})",
                super::list_placeholders(2, batch.len())
            );
            let mut q = sqlx::query_as::<_, (TechnicianId, i64, i64)>(AssertSqlSafe(sql)).bind(org);
            for (existing, _) in batch {
                q = q.bind(existing.id);
            }
            for (id, standard, mobile) in q.fetch_all(&mut **tx).await? {
                held.insert(id, (flag(standard), flag(mobile)));
            }
        }

        let mut writes: Vec<(Option<Existing>, TechnicianWrite)> = creates
            .into_iter()
            .map(|t| (None, t))
            .chain(updates.into_iter().map(|(existing, t)| (Some(existing), t)))
            .collect();
        writes.sort_by_key(|(_, t)| t.row);
        let (mut kept_creates, mut kept_updates) = (Vec::new(), Vec::new());
        for (id, t) in writes {
            let (has_standard, has_mobile) = id
                .and_then(|existing| held.get(&existing.id).copied())
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
        let counts = insert_outcomes(&mut tx, self.engine, import, None, outcomes).await?;
        tx.commit().await?;
        Ok(counts)
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

/// Inserts outcomes and adds them to the counters of `chunk`, or of the import when `None`.
pub(super) async fn insert_outcomes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    engine: Engine,
    import: &ImportId,
    chunk: Option<i64>,
    outcomes: &[RowOutcome],
) -> DbResult<Counts> {
    let counts = Counts::of(outcomes);
    if !outcomes.is_empty() {
        // No ON CONFLICT: an outcome that exists already means another worker did
        // this row, and the whole transaction must roll back.
        let sql = match engine {
            Engine::Postgres => {
                "INSERT INTO import_rows (import_id, row_no, email, status, technician_id, errors) \
                 SELECT $1, x.row_no, x.email, x.status, x.technician_id, x.errors::text \
                 FROM json_to_recordset($2::json) AS x(row_no bigint, email text, status text, technician_id bigint, errors json)"
            }
            Engine::Sqlite => {
                "INSERT INTO import_rows (import_id, row_no, email, status, technician_id, errors) \
                 SELECT $1, value ->> 'row_no', value ->> 'email', value ->> 'status', value ->> 'technician_id', \
                 value -> 'errors' FROM json_each($2)"
            }
        };
        let rows: Vec<OutcomeJson<'_>> = outcomes.iter().map(OutcomeJson::from).collect();
        sqlx::query(sql)
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

/// The organization's seats left, (standard, mobile) with `None` for a
/// license without a limit; `None` when neither is limited (the default: no
/// lock is taken then, so batches of concurrent imports and sync runs never
/// wait for each other here). Otherwise the settings row is locked for the
/// rest of the transaction, so that writers racing for the last seats never
/// over-allocate. A disabled technician holds no mobile seat.
pub(super) async fn seats_left(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    engine: Engine,
    org: OrgId,
) -> DbResult<Option<(Option<i64>, Option<i64>)>> {
    let (standard, mobile) = statements::seats(org).fetch_one(&mut **tx).await?;
    if standard.is_none() && mobile.is_none() {
        return Ok(None);
    }
    let lock = match engine {
        Engine::Postgres => " FOR UPDATE",
        // SQLite has one writer: the transaction is serialized already.
        Engine::Sqlite => "",
    };
    let (standard, mobile): (Option<i64>, Option<i64>) =
        sqlx::query_as(AssertSqlSafe(format!("{SEATS}{lock}")))
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
    Ok(Some((
        standard.map(|s| s - used_standard),
        mobile.map(|s| s - used_mobile),
    )))
}

/// A technician as `insert_technicians` sends it: flags as 0/1, as the tables store them.
#[derive(Serialize)]
struct TechnicianJson<'a> {
    name: &'a str,
    nickname: Option<&'a str>,
    email: &'a str,
    email_key: &'a str,
    sso_id: Option<&'a str>,
    description: Option<&'a str>,
    password_hash: &'a str,
    enabled: u8,
    standard_license: u8,
    mobile_license: u8,
    group_id: GroupId,
    must_change_password: u8,
}

impl<'a> From<&'a TechnicianWrite> for TechnicianJson<'a> {
    fn from(t: &'a TechnicianWrite) -> Self {
        Self {
            name: &t.name,
            nickname: t.nickname.as_deref(),
            email: &t.email,
            email_key: &t.email_key,
            sso_id: t.sso_id.as_deref(),
            description: t.description.as_deref(),
            password_hash: &t.password_hash,
            enabled: u8::from(t.enabled),
            standard_license: u8::from(t.standard_license),
            mobile_license: u8::from(t.mobile_license),
            group_id: t.group_id,
            must_change_password: u8::from(t.must_change_password),
        }
    }
}

/// An update as `UPDATE_TECHNICIANS_*` reads it: the technician, the group the
/// lookup saw it in, and what the row writes.
#[derive(Serialize)]
struct UpdateJson<'a> {
    id: TechnicianId,
    seen_group: GroupId,
    #[serde(flatten)]
    write: TechnicianJson<'a>,
}

/// The statement that applies a batch's updates; it returns the ids it updated.
fn update_technicians<'q>(
    engine: Engine,
    org: OrgId,
    now: i64,
    updates: &[(Existing, TechnicianWrite)],
) -> DbResult<sqlx::query::QueryScalar<'q, sqlx::Any, TechnicianId, sqlx::any::AnyArguments>> {
    let sql = match engine {
        Engine::Postgres => UPDATE_TECHNICIANS_POSTGRES,
        Engine::Sqlite => UPDATE_TECHNICIANS_SQLITE,
    };
    let rows: Vec<UpdateJson<'_>> = updates
        .iter()
        .map(|(existing, t)| UpdateJson {
            id: existing.id,
            seen_group: existing.group_id,
            write: TechnicianJson::from(t),
        })
        .collect();
    Ok(sqlx::query_scalar(sql)
        .bind(org)
        .bind(now)
        .bind(serde_json::to_string(&rows).map_err(json_error)?))
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

pub(super) fn json_error(e: serde_json::Error) -> super::DbError {
    super::DbError::Sqlx(sqlx::Error::Encode(Box::new(e)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::{plan_details, scratch_sqlite};

    /// The lookup must stay an index search per key, whatever the table holds:
    /// a plan that scans `technicians` makes every batch slower as it grows.
    #[tokio::test]
    async fn the_sqlite_email_lookup_searches_the_unique_index_per_key() {
        let (_dir, db) = scratch_sqlite().await;
        let details = plan_details(
            sqlx::query_as(AssertSqlSafe(format!(
                "EXPLAIN QUERY PLAN {EXISTING_EMAILS_SQLITE}"
            )))
            .bind(1_i64)
            .bind(r#"["a@x.test","b@x.test"]"#)
            .fetch_all(&db.pool)
            .await
            .expect("explain"),
        );
        assert_eq!(details.len(), 2, "{details:?}");
        assert!(details[0].starts_with("SCAN k"), "{details:?}");
        assert!(
            details[1].starts_with("SEARCH t")
                && details[1].contains("INDEX technicians_org_email"),
            "{details:?}"
        );
    }
}
