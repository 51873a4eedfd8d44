//! One sync batch's writes. The rule this file keeps, as `batches` does for
//! files: a member's effect and its outcome are written in one transaction
//! that first proves the chunk's lease, so each member is applied exactly once;
//! every decision (created, linked, updated, unchanged, disabled) is taken
//! inside that transaction from the technician as it is then.

use super::{SyncMember, SyncTarget};
use crate::db::batches::{Lease, SeatNeed, SeatsLeft, commit_batch, lease_statements, seats_left};
use crate::db::{Db, DbResult, dialect, flag, list_placeholders};
use crate::model::{Counts, FieldError, GroupId, RowOutcome, RowStatus, TechnicianId};
use crate::time::now_ms;
use crate::validate::email_key;
use std::collections::HashMap;

/// A technician row as a decision needs it.
type Current = (
    TechnicianId,
    String,
    String,
    i64,
    GroupId,
    Option<GroupId>,
    Option<i64>,
    i64,
);

/// A created member takes a standard seat.
const NEW_MEMBER: SeatNeed = SeatNeed {
    standard: true,
    mobile: false,
};
/// A re-enabled technician that holds a mobile license takes a mobile seat
/// again (a disabled one holds none).
const REENABLED_MOBILE: SeatNeed = SeatNeed {
    standard: false,
    mobile: true,
};

impl Db {
    /// Applies one batch of members: decisions and writes in one transaction
    /// that renews the chunk's lease first. `None`: the lease was lost, nothing written.
    pub async fn commit_sync_batch(
        &self,
        lease: &Lease,
        lease_ms: i64,
        target: &SyncTarget,
        members: &[SyncMember],
    ) -> DbResult<Option<Counts>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let renewed = lease_statements::renew_lease(lease, lease_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if renewed != 1 {
            return Ok(None);
        }
        if let Some(custom_plans) = dialect::custom_plans(self.engine) {
            // The batch's lookups planned for their values, as the file path's
            // email lookup is (measured without: the 100,000-member re-sync
            // spent its time in PostgreSQL at 100% of a core).
            sqlx::query(custom_plans).execute(&mut *tx).await?;
        }
        // A sync run takes seats as a file import does (`NEW_MEMBER`,
        // `REENABLED_MOBILE`); a member without its seat fails
        // `license_unavailable` and nothing of it is written. A dry run takes no
        // seats, as a file's dry run checks none: its batches write nothing, so
        // none could count what the one before would have taken.
        let mut seats = if target.dry_run {
            SeatsLeft::UNLIMITED
        } else {
            seats_left(&mut tx, self.engine, target.org)
                .await?
                .unwrap_or(SeatsLeft::UNLIMITED)
        };
        let mut linked = linked_of(&mut tx, target, members).await?;
        let mut by_email = by_email_of(&mut tx, target, members, &linked).await?;
        let mut outcomes = Vec::with_capacity(members.len());
        for m in members {
            if !m.errors.is_empty() {
                outcomes.push(outcome(m, RowStatus::Failed, None, m.errors.clone()));
                continue;
            }
            let outcome = match linked.remove(&m.external_id) {
                Some(current) => {
                    update(&mut tx, target, &mut seats, m, current, false, now).await?
                }
                None if !m.in_directory => outcome(m, RowStatus::Skipped, None, vec![]),
                None => match by_email.remove(&email_key(&m.email)) {
                    Some(current) if current.6.is_none() && target.scope.allows(current.4) => {
                        update(&mut tx, target, &mut seats, m, current, true, now).await?
                    }
                    Some(current) => outcome(
                        m,
                        RowStatus::Failed,
                        None,
                        vec![owned_elsewhere(&m.email, current.6, target.source)],
                    ),
                    None => create(&mut tx, lease, target, &mut seats, m, now).await?,
                },
            };
            outcomes.push(outcome);
        }
        Ok(Some(commit_batch(tx, self.engine, lease, &outcomes).await?))
    }
}

/// The technicians the source provisioned for `members`, by external id, read
/// in one statement inside the batch's transaction: a re-sync where nothing
/// changed then reads once a batch, not once a member. Reading them up front
/// decides as reading each in turn would: external ids are unique in a
/// snapshot, so no member's write changes another member's technician.
async fn linked_of(
    tx: &mut Tx<'_>,
    t: &SyncTarget,
    members: &[SyncMember],
) -> DbResult<HashMap<String, Current>> {
    let ids: Vec<&str> = members.iter().map(|m| m.external_id.as_str()).collect();
    keyed(tx, "external_id", t, Some(t.source), &ids).await
}

/// The technicians, by email key, that the batch's new members' emails name,
/// read in one statement (it was one a member: a first provisioning of
/// 100,000 members was 100,000 lookups). Reading them up front decides as
/// reading each in turn would: the plan failed every repeated email of the
/// snapshot (`duplicate_in_file`), so no member's write gives another new
/// member's email to a technician.
async fn by_email_of(
    tx: &mut Tx<'_>,
    t: &SyncTarget,
    members: &[SyncMember],
    linked: &HashMap<String, Current>,
) -> DbResult<HashMap<String, Current>> {
    let keys: Vec<String> = members
        .iter()
        .filter(|m| m.in_directory && m.errors.is_empty() && !linked.contains_key(&m.external_id))
        .map(|m| email_key(&m.email))
        .filter(|k| !k.is_empty())
        .collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    keyed(tx, "email_key", t, None, &keys).await
}

/// The organization's technicians whose `column` is one of `keys` (and, with
/// `source`, that source provisioned), as decisions need them, keyed by it.
async fn keyed(
    tx: &mut Tx<'_>,
    column: &'static str,
    t: &SyncTarget,
    source: Option<i64>,
    keys: &[&str],
) -> DbResult<HashMap<String, Current>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (of_source, first) = match source {
        Some(_) => (" AND sync_source_id = $2", 3),
        None => ("", 2),
    };
    let sql = format!(
        "SELECT {column}, id, name, email, enabled, group_id, sync_group_id, sync_source_id, mobile_license \
         FROM technicians WHERE org_id = $1{of_source} AND {column} IN ({})",
        list_placeholders(first, keys.len())
    );
    type Row = (
        String,
        TechnicianId,
        String,
        String,
        i64,
        GroupId,
        Option<GroupId>,
        Option<i64>,
        i64,
    );
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(t.org);
    if let Some(source) = source {
        q = q.bind(source);
    }
    for k in keys {
        q = q.bind(*k);
    }
    Ok(q.fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(
            |(k, id, name, email, enabled, group, sync_group, source, mobile)| {
                (
                    k,
                    (id, name, email, enabled, group, sync_group, source, mobile),
                )
            },
        )
        .collect())
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

fn outcome(
    m: &SyncMember,
    status: RowStatus,
    id: Option<TechnicianId>,
    errors: Vec<FieldError>,
) -> RowOutcome {
    RowOutcome {
        row: m.row,
        email: m.email.clone(),
        status,
        technician_id: id,
        errors,
    }
}

/// A new member's email belongs to a technician it may not link: one that
/// another member of this source holds, one of another source, or one outside
/// the sender's groups (with a file row's message, which says nothing of it).
fn owned_elsewhere(email: &str, owner_source: Option<i64>, source: i64) -> FieldError {
    let owner = match owner_source {
        Some(s) if s == source => "another member of this directory source",
        Some(_) => "a technician that another directory source provisioned",
        // As a file row's: nothing said of a technician the sender may not see.
        None => return FieldError::email_taken(email),
    };
    FieldError::new(
        "Email",
        "email_taken",
        format!("'{email}' belongs to {owner}"),
    )
}

/// A known member (or, `link`, a technician of no source with its email):
/// name, email and status follow the directory, only the status if it was
/// moved to another group since; one who left is disabled with its mobile seat freed.
async fn update(
    tx: &mut Tx<'_>,
    t: &SyncTarget,
    seats: &mut SeatsLeft,
    m: &SyncMember,
    current: Current,
    link: bool,
    now: i64,
) -> DbResult<RowOutcome> {
    let (id, name, email, enabled, group_id, sync_group_id, _, mobile) = current;
    let enabled = flag(enabled);
    let home = if link { Some(group_id) } else { sync_group_id };
    let moved = home != Some(group_id);
    let want_enabled = m.in_directory && m.enabled;
    let (want_name, want_email) = if moved || !m.in_directory {
        (name.clone(), email.clone())
    } else {
        (m.name.clone(), m.email.clone())
    };
    let same = want_name == name && want_email == email && want_enabled == enabled;
    if same && !link {
        return Ok(RowOutcome {
            row: m.row,
            email: email.clone(),
            status: RowStatus::Unchanged,
            technician_id: Some(id),
            errors: vec![],
        });
    }
    if email_key(&want_email) != email_key(&email) {
        let taken: Option<TechnicianId> = sqlx::query_scalar(
            "SELECT id FROM technicians WHERE org_id = $1 AND email_key = $2 AND id <> $3",
        )
        .bind(t.org)
        .bind(email_key(&want_email))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        if taken.is_some() {
            return Ok(outcome(
                m,
                RowStatus::Failed,
                Some(id),
                vec![FieldError::email_taken(&want_email)],
            ));
        }
    }
    if !enabled
        && want_enabled
        && flag(mobile)
        && let Err(errors) = seats.take(REENABLED_MOBILE)
    {
        return Ok(outcome(m, RowStatus::Failed, Some(id), errors));
    }
    let status = if enabled && !want_enabled {
        RowStatus::Disabled
    } else {
        RowStatus::Updated
    };
    if !t.dry_run {
        // A disabled technician gives its mobile seat back.
        sqlx::query(
            "UPDATE technicians SET name = $1, email = $2, email_key = $3, enabled = $4, \
             mobile_license = CASE WHEN $4 = 0 THEN 0 ELSE mobile_license END, \
             sync_source_id = $5, external_id = $6, sync_group_id = $7, updated_at = $8 WHERE org_id = $9 AND id = $10",
        )
        .bind(&want_name)
        .bind(&want_email)
        .bind(email_key(&want_email))
        .bind(i64::from(want_enabled))
        .bind(t.source)
        .bind(&m.external_id)
        .bind(home)
        .bind(now)
        .bind(t.org)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(RowOutcome {
        row: m.row,
        email: want_email,
        status,
        technician_id: Some(id),
        errors: vec![],
    })
}

/// A member the source never saw: created in the source's group with the
/// default password, a forced change, its directory status, a standard license
/// and no mobile license.
async fn create(
    tx: &mut Tx<'_>,
    lease: &Lease,
    t: &SyncTarget,
    seats: &mut SeatsLeft,
    m: &SyncMember,
    now: i64,
) -> DbResult<RowOutcome> {
    if m.email.trim().is_empty() || !m.email.contains('@') {
        return Ok(outcome(
            m,
            RowStatus::Failed,
            None,
            vec![FieldError::new(
                "Email",
                "invalid_email",
                "the directory entry has no usable email (mail)",
            )],
        ));
    }
    if let Err(errors) = seats.take(NEW_MEMBER) {
        return Ok(outcome(m, RowStatus::Failed, None, errors));
    }
    if t.dry_run {
        return Ok(outcome(m, RowStatus::Created, None, vec![]));
    }
    let id: TechnicianId = sqlx::query_scalar(
        "INSERT INTO technicians (org_id, name, email, email_key, password_hash, enabled, standard_license, \
         mobile_license, group_id, must_change_password, import_id, created_at, updated_at, sync_source_id, \
         external_id, sync_group_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, 0, $7, 1, $8, $9, $9, $10, $11, $7) RETURNING id",
    )
    .bind(t.org)
    .bind(&m.name)
    .bind(&m.email)
    .bind(email_key(&m.email))
    .bind(&t.password_hash)
    .bind(i64::from(m.enabled))
    .bind(t.group_id)
    .bind(lease.import_id.as_str())
    .bind(now)
    .bind(t.source)
    .bind(&m.external_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(outcome(m, RowStatus::Created, Some(id), vec![]))
}
