//! Technicians one at a time: created, changed, listed and read. A write that
//! takes a license seat locks the organization's settings row first, as a
//! batch does, so that no writer over-allocates.

use crate::db::batches::{locked_seats, seats_used};
use crate::db::columns::{Field, TECHNICIAN_COLUMNS, technician_column_list};
use crate::db::{Db, DbResult, TechnicianWrite, dialect, flag, list_placeholders};
use crate::model::{
    GroupId, License, OrgId, Technician, TechnicianChanges, TechnicianCreate, TechnicianId,
    TechnicianUpdate,
};
use crate::time::now_ms;
use sqlx::{AssertSqlSafe, Row};
use std::sync::LazyLock;

impl Db {
    /// Applies `changes` to technician `id` of `org` in one transaction. A change
    /// that takes a seat (a license switched on, or a disabled technician with a
    /// mobile license enabled) needs one free; the organization's settings row is
    /// locked first, as imports do, so concurrent writers never over-allocate.
    pub async fn update_technician(
        &self,
        org: OrgId,
        id: TechnicianId,
        changes: &TechnicianChanges,
    ) -> DbResult<TechnicianUpdate> {
        let mut tx = self.pool.begin().await?;
        let seats = locked_seats(&mut tx, self.engine, org).await?;
        // The row is locked too: an import updating this technician meanwhile
        // (which takes the settings lock only when seats are limited) is not overwritten.
        let Some(row) = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TECH_COLUMNS} FROM technicians WHERE org_id = $1 AND id = $2{}",
            dialect::row_lock(self.engine)
        )))
        .bind(org)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(TechnicianUpdate::Missing);
        };
        let now = technician_from_row(&row)?;
        let enabled = changes.enabled.unwrap_or(now.enabled);
        let standard = changes.standard_license.unwrap_or(now.standard_license);
        let mobile = changes.mobile_license.unwrap_or(now.mobile_license);
        let needs_standard = standard && !now.standard_license;
        // A disabled technician holds no mobile seat (as in Rescue).
        let needs_mobile = enabled && mobile && !(now.enabled && now.mobile_license);
        if let Some((license, seats)) =
            no_seat(&mut tx, org, seats, needs_standard, needs_mobile).await?
        {
            return Ok(TechnicianUpdate::NoSeat { license, seats });
        }
        let email = changes.email.as_deref().unwrap_or(&now.email);
        let email_key = crate::validate::email_key(email);
        if changes.email.is_some() {
            let taken: Option<TechnicianId> = sqlx::query_scalar(
                "SELECT id FROM technicians WHERE org_id = $1 AND email_key = $2 AND id <> $3",
            )
            .bind(org)
            .bind(&email_key)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Ok(TechnicianUpdate::EmailTaken);
            }
        }
        let keep = |change: &Option<Option<String>>, now: &Option<String>| match change {
            Some(value) => value.clone(),
            None => now.clone(),
        };
        let result = sqlx::query(
            "UPDATE technicians SET name = $1, nickname = $2, sso_id = $3, description = $4, enabled = $5, \
             standard_license = $6, mobile_license = $7, group_id = $8, \
             password_hash = COALESCE($9, password_hash), \
             must_change_password = COALESCE($10, must_change_password), updated_at = $11, \
             email = $14, email_key = $15 \
             WHERE org_id = $12 AND id = $13",
        )
        .bind(changes.name.as_deref().unwrap_or(&now.name))
        .bind(keep(&changes.nickname, &now.nickname))
        .bind(keep(&changes.sso_id, &now.sso_id))
        .bind(keep(&changes.description, &now.description))
        .bind(i64::from(enabled))
        .bind(i64::from(standard))
        .bind(i64::from(mobile))
        .bind(changes.group_id.unwrap_or(now.group_id))
        .bind(changes.password_hash.as_deref())
        .bind(changes.must_change_password.map(i64::from))
        .bind(now_ms())
        .bind(org)
        .bind(id)
        .bind(email)
        .bind(&email_key)
        .execute(&mut *tx)
        .await;
        // Two writers racing for one email: the unique index decides.
        match result {
            Err(ref e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                return Ok(TechnicianUpdate::EmailTaken);
            }
            other => other?,
        };
        let updated = technician_in(&mut tx, org, id).await?;
        tx.commit().await?;
        Ok(TechnicianUpdate::Updated(Box::new(updated)))
    }

    /// Creates one technician (API.md, "Adding one technician") in one
    /// transaction: the seats it takes must be free (the settings row locked
    /// first, as imports and updates do), and its email must be new to the
    /// organization; the unique index decides a race between two requests.
    pub async fn create_technician(
        &self,
        org: OrgId,
        t: &TechnicianWrite,
    ) -> DbResult<TechnicianCreate> {
        let mut tx = self.pool.begin().await?;
        let id = match self.insert_technician(&mut tx, org, t).await? {
            Ok(id) => id,
            Err(refused) => return Ok(refused),
        };
        let created = technician_in(&mut tx, org, id).await?;
        tx.commit().await?;
        Ok(TechnicianCreate::Created(Box::new(created)))
    }

    /// The insert of [`Db::create_technician`] inside the caller's transaction
    /// (which may record more with it): the new id, or why it was refused.
    pub(in crate::db) async fn insert_technician(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org: OrgId,
        t: &TechnicianWrite,
    ) -> DbResult<Result<TechnicianId, TechnicianCreate>> {
        let seats = locked_seats(tx, self.engine, org).await?;
        let needs_mobile = t.enabled && t.mobile_license;
        if let Some((license, seats)) =
            no_seat(tx, org, seats, t.standard_license, needs_mobile).await?
        {
            return Ok(Err(TechnicianCreate::NoSeat { license, seats }));
        }
        let now = now_ms();
        let mut insert = sqlx::query_scalar(INSERT_TECHNICIAN.as_str()).bind(org);
        for field in t.fields() {
            insert = match field {
                Field::Text(text) => insert.bind(text),
                Field::Int(n) => insert.bind(n),
            };
        }
        let id: Option<TechnicianId> = insert.bind(now).fetch_optional(&mut **tx).await?;
        Ok(id.ok_or(TechnicianCreate::EmailTaken))
    }

    /// Technicians of `org`, filtered, by id, after the cursor `after`.
    pub async fn list_technicians(
        &self,
        org: OrgId,
        group_ids: Option<&[GroupId]>,
        email: Option<&str>,
        after: i64,
        limit: i64,
    ) -> DbResult<Vec<Technician>> {
        let mut sql =
            format!("SELECT {TECH_COLUMNS} FROM technicians WHERE org_id = $1 AND id > $2");
        let mut next = 3;
        if email.is_some() {
            sql.push_str(&format!(" AND email_key = ${next}"));
            next += 1;
        }
        if let Some(groups) = group_ids {
            if groups.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND group_id IN ({})",
                list_placeholders(next, groups.len())
            ));
            next += groups.len();
        }
        sql.push_str(&format!(" ORDER BY id LIMIT ${next}"));
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(org).bind(after);
        if let Some(email) = email {
            query = query.bind(email.trim().to_lowercase());
        }
        for g in group_ids.unwrap_or_default() {
            query = query.bind(*g);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(technician_from_row).collect()
    }

    pub async fn get_technician(
        &self,
        org: OrgId,
        id: TechnicianId,
    ) -> DbResult<Option<Technician>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TECH_COLUMNS} FROM technicians WHERE org_id = $1 AND id = $2"
        )))
        .bind(org)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(technician_from_row).transpose()
    }
}

/// Creates one technician of organization $1 from [`TECHNICIAN_COLUMNS`] ($2
/// on) at the time after them, unless its email is taken; returns its id.
static INSERT_TECHNICIAN: LazyLock<String> = LazyLock::new(|| {
    let n = TECHNICIAN_COLUMNS.len();
    format!(
        "INSERT INTO technicians (org_id, {}, import_id, created_at, updated_at) \
         VALUES ($1, {}, NULL, ${at}, ${at}) ON CONFLICT (org_id, email_key) DO NOTHING RETURNING id",
        technician_column_list(),
        list_placeholders(2, n),
        at = n + 2,
    )
});

pub(in crate::db) const TECH_COLUMNS: &str = "id, name, nickname, email, sso_id, description, enabled, standard_license, \
     mobile_license, group_id, must_change_password, import_id, created_at, updated_at";

/// Technician `id` of `org` as the transaction sees it (just written).
pub(in crate::db) async fn technician_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: OrgId,
    id: TechnicianId,
) -> DbResult<Technician> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TECH_COLUMNS} FROM technicians WHERE org_id = $1 AND id = $2"
    )))
    .bind(org)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    technician_from_row(&row)
}

/// The license, and its seat count, that a write taking a standard seat
/// (`standard`) and a mobile seat (`mobile`) finds all in use; `None` when it fits.
async fn no_seat(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: OrgId,
    (standard_seats, mobile_seats): (Option<i64>, Option<i64>),
    standard: bool,
    mobile: bool,
) -> DbResult<Option<(License, i64)>> {
    let limited = (standard && standard_seats.is_some()) || (mobile && mobile_seats.is_some());
    if !limited {
        return Ok(None);
    }
    let (used_standard, used_mobile) = seats_used(&mut **tx, org).await?;
    Ok([
        (standard, standard_seats, used_standard, License::Standard),
        (mobile, mobile_seats, used_mobile, License::Mobile),
    ]
    .into_iter()
    .find_map(|(needed, seats, used, license)| {
        seats
            .filter(|seats| needed && used >= *seats)
            .map(|seats| (license, seats))
    }))
}

pub(in crate::db) fn technician_from_row(row: &sqlx::any::AnyRow) -> DbResult<Technician> {
    Ok(Technician {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        nickname: row.try_get("nickname")?,
        email: row.try_get("email")?,
        sso_id: row.try_get("sso_id")?,
        description: row.try_get("description")?,
        enabled: flag(row.try_get("enabled")?),
        standard_license: flag(row.try_get("standard_license")?),
        mobile_license: flag(row.try_get("mobile_license")?),
        group_id: row.try_get("group_id")?,
        must_change_password: flag(row.try_get("must_change_password")?),
        import_id: row.try_get("import_id")?,
        created_at: crate::time::rfc3339(row.try_get("created_at")?),
        updated_at: crate::time::rfc3339(row.try_get("updated_at")?),
    })
}
