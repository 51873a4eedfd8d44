//! A batch on either engine, through sqlx's `Any` driver: the email lookup
//! that decides creation or update, the seats the writes take, then the writes
//! and the outcomes in the one transaction that renews the chunk's lease.
//! A batch of creations alone on PostgreSQL goes by `COPY` (`super::copy`)
//! unless its organization counts seats.

use super::copy::Copied;
use super::lease::statements::renew_lease;
use super::seats::{SeatNeed, fit, seats_left};
use super::write::{
    by_email_key, commit_batch, insert_outcomes, json_error, record_creations, statements,
};
use super::{Existing, Lease, TechnicianWrite};
use crate::db::columns::TechnicianJson;
use crate::db::{Db, DbResult, dialect, flag, list_placeholders};
use crate::model::{
    Counts, FieldError, GroupId, ImportId, OrgId, RowOutcome, RowStatus, TechnicianId,
};
use crate::time::now_ms;
use sqlx::AssertSqlSafe;
use std::collections::{HashMap, HashSet};

impl Db {
    /// Existing technicians of `org` among `email_keys`, with the group each is in.
    ///
    /// The keys travel as one JSON array joined to `technicians` on its unique
    /// `(org_id, email_key)` index: one statement text for every batch size, so it
    /// is prepared once (`email_key IN (...)` also fell back to scanning the whole
    /// organization without fresh statistics). `dialect::existing_emails` gives
    /// the statement and, on PostgreSQL, the planner settings that leave a probe
    /// per key as the only plan.
    pub async fn existing_emails(
        &self,
        org: OrgId,
        email_keys: &[String],
    ) -> DbResult<Vec<(String, Existing)>> {
        if email_keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = serde_json::to_string(email_keys).map_err(json_error)?;
        let (planner, lookup) = dialect::existing_emails(self.engine);
        let mut tx = self.pool.begin().await?;
        if let Some(planner) = planner {
            sqlx::raw_sql(planner).execute(&mut *tx).await?;
        }
        let found: Vec<(String, TechnicianId, GroupId)> = sqlx::query_as(lookup)
            .bind(org)
            .bind(keys)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(found.into_iter().map(Existing::keyed).collect())
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
                    Copied::Done(counts) => return Ok(counts),
                    Copied::NotApplicable(creates, outcomes) => (creates, outcomes),
                }
            }
            _ => (creates, outcomes),
        };
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let renewed = renew_lease(lease, lease_ms)
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
            let updated: HashSet<TechnicianId> = self
                .update_technicians(org, now, &updates)?
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

        Ok(Some(commit_batch(tx, self.engine, lease, &outcomes).await?))
    }

    /// Keeps, in row order, only the writes that fit the organization's license
    /// seats (`seats::fit`); the others become `license_unavailable` failures.
    /// Runs inside the batch's transaction with the organization's settings row
    /// locked, so concurrent imports racing for the last seats never over-allocate.
    async fn within_seats(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org: OrgId,
        creates: Vec<TechnicianWrite>,
        updates: Vec<(Existing, TechnicianWrite)>,
        outcomes: &mut Vec<RowOutcome>,
    ) -> DbResult<(Vec<TechnicianWrite>, Vec<(Existing, TechnicianWrite)>)> {
        let Some(left) = seats_left(tx, self.engine, org).await? else {
            return Ok((creates, updates));
        };

        // What each updated technician holds now: an update only needs the seats it adds.
        let mut held: HashMap<TechnicianId, (bool, bool)> = HashMap::new();
        for batch in updates.chunks(500) {
            let sql = format!(
                "SELECT id, standard_license, CASE WHEN enabled = 1 THEN mobile_license ELSE 0 END FROM technicians \
                 WHERE org_id = $1 AND id IN ({})",
                list_placeholders(2, batch.len())
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
        let needs: Vec<SeatNeed> = writes
            .iter()
            .map(|(existing, t)| {
                let (has_standard, has_mobile) = existing
                    .and_then(|existing| held.get(&existing.id).copied())
                    .unwrap_or((false, false));
                SeatNeed {
                    standard: t.standard_license && !has_standard,
                    mobile: t.enabled && t.mobile_license && !has_mobile,
                }
            })
            .collect();
        let (mut kept_creates, mut kept_updates) = (Vec::new(), Vec::new());
        for ((existing, t), fitted) in writes.into_iter().zip(fit(left, needs)) {
            match (fitted, existing) {
                (Err(errors), _) => outcomes.push(RowOutcome {
                    row: t.row,
                    email: t.email,
                    status: RowStatus::Failed,
                    technician_id: None,
                    errors,
                }),
                (Ok(()), Some(existing)) => kept_updates.push((existing, t)),
                (Ok(()), None) => kept_creates.push(t),
            }
        }
        Ok((kept_creates, kept_updates))
    }

    /// The statement that applies a batch's updates; it returns the ids it updated.
    fn update_technicians<'q>(
        &self,
        org: OrgId,
        now: i64,
        updates: &[(Existing, TechnicianWrite)],
    ) -> DbResult<sqlx::query::QueryScalar<'q, sqlx::Any, TechnicianId, sqlx::any::AnyArguments>>
    {
        let extras: Vec<[(&'static str, i64); 2]> = updates
            .iter()
            .map(|(existing, _)| {
                [
                    ("id", existing.id.get()),
                    ("seen_group", existing.group_id.get()),
                ]
            })
            .collect();
        let rows: Vec<TechnicianJson<'_>> = updates
            .iter()
            .zip(&extras)
            .map(|((_, write), extra)| TechnicianJson { extra, write })
            .collect();
        Ok(sqlx::query_scalar(dialect::update_technicians(self.engine))
            .bind(org)
            .bind(now)
            .bind(serde_json::to_string(&rows).map_err(json_error)?))
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
}
