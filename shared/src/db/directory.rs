//! The directory: organizations, administrators and their scopes, technician
//! groups, technicians and settings. Every query is scoped by organization.

use super::{Db, DbResult, TechnicianWrite, flag, list_placeholders, undecodable};
use crate::model::{
    Admin, AdminId, Group, GroupId, GroupUpdate, License, LicenseSeats, OrgId, PasswordPolicy,
    Role, Scope, Settings, Technician, TechnicianChanges, TechnicianCreate, TechnicianId,
    TechnicianUpdate,
};
use crate::time::now_ms;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};
use std::collections::{HashMap, HashSet};

/// SHA-256 of a bearer token, hex: what the database keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: 256 bits, hex, with a recognizable prefix.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("rst_{}", hex::encode(bytes))
}

impl Db {
    /// The organization named `name`, created (with default settings) if absent.
    pub async fn ensure_org(&self, name: &str) -> DbResult<OrgId> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO organizations (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let id: OrgId = sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO settings (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates an administrator, with a sign-in password's PHC hash if given;
    /// returns it and its token (shown once, stored as a hash). An email that
    /// an administrator of any organization has is a unique violation.
    pub async fn create_admin(
        &self,
        org: OrgId,
        email: &str,
        role: Role,
        group_ids: &[GroupId],
        password_hash: Option<&str>,
    ) -> DbResult<(Admin, String)> {
        let token = new_token();
        let mut tx = self.pool.begin().await?;
        let id: AdminId = sqlx::query_scalar(
            "INSERT INTO admins (org_id, email, email_key, role, token_hash, created_at, password_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(org)
        .bind(email)
        .bind(email.trim().to_lowercase())
        .bind(role.as_str())
        .bind(token_hash(&token))
        .bind(now_ms())
        .bind(password_hash)
        .fetch_one(&mut *tx)
        .await?;
        for group in group_ids {
            sqlx::query("INSERT INTO admin_groups (admin_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(group)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let admin = Admin {
            id,
            org_id: org,
            email: email.to_owned(),
            role,
            group_ids: group_ids.to_vec(),
        };
        Ok((admin, token))
    }

    /// The administrator a bearer token belongs to.
    pub async fn admin_by_token(&self, token: &str) -> DbResult<Option<Admin>> {
        let hash = token_hash(token);
        let Some((id, org, stored)) = sqlx::query_as::<_, (AdminId, OrgId, String)>(
            "SELECT id, org_id, token_hash FROM admins WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        // The lookup is by hash already; compare again in constant time so that no
        // code path ever compares secrets with an early exit.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            stored.as_bytes(),
            hash.as_bytes(),
        )) {
            return Ok(None);
        }
        self.admin(org, id).await
    }

    /// An administrator of `org` by id.
    pub async fn admin(&self, org: OrgId, id: AdminId) -> DbResult<Option<Admin>> {
        let Some(row) =
            sqlx::query("SELECT id, org_id, email, role FROM admins WHERE org_id = $1 AND id = $2")
                .bind(org)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let group_ids = sqlx::query_scalar(
            "SELECT group_id FROM admin_groups WHERE admin_id = $1 ORDER BY group_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let role: String = row.try_get("role")?;
        Ok(Some(Admin {
            id,
            org_id: row.try_get("org_id")?,
            email: row.try_get("email")?,
            role: Role::parse(&role).ok_or_else(|| undecodable("role", &role))?,
            group_ids,
        }))
    }

    /// Every administrator of `org`, by id (tokens are not even readable: only their hashes are stored).
    pub async fn list_admins(&self, org: OrgId) -> DbResult<Vec<Admin>> {
        let rows: Vec<(AdminId, String, String)> =
            sqlx::query_as("SELECT id, email, role FROM admins WHERE org_id = $1 ORDER BY id")
                .bind(org)
                .fetch_all(&self.pool)
                .await?;
        let memberships: Vec<(AdminId, GroupId)> = sqlx::query_as(
            "SELECT ag.admin_id, ag.group_id FROM admin_groups ag JOIN admins a ON a.id = ag.admin_id \
             WHERE a.org_id = $1 ORDER BY ag.group_id",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        let mut groups: HashMap<AdminId, Vec<GroupId>> = HashMap::new();
        for (admin, group) in memberships {
            groups.entry(admin).or_default().push(group);
        }
        rows.into_iter()
            .map(|(id, email, role)| {
                Ok(Admin {
                    id,
                    org_id: org,
                    email,
                    role: Role::parse(&role).ok_or_else(|| undecodable("role", &role))?,
                    group_ids: groups.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The groups `admin` may act on: all for a master, else its groups and their descendants.
    pub async fn scope(&self, admin: &Admin) -> DbResult<Scope> {
        if admin.role == Role::Master {
            return Ok(Scope::All);
        }
        let groups = self.list_groups(admin.org_id).await?;
        let mut children: HashMap<GroupId, Vec<GroupId>> = HashMap::new();
        for g in &groups {
            if let Some(parent) = g.parent_id {
                children.entry(parent).or_default().push(g.id);
            }
        }
        let mut scope: HashSet<GroupId> = HashSet::new();
        let mut stack: Vec<GroupId> = admin.group_ids.clone();
        while let Some(id) = stack.pop() {
            if scope.insert(id) {
                stack.extend(children.get(&id).into_iter().flatten());
            }
        }
        Ok(Scope::Groups(scope))
    }

    pub async fn create_group(
        &self,
        org: OrgId,
        name: &str,
        parent: Option<GroupId>,
    ) -> DbResult<Group> {
        let id: GroupId = sqlx::query_scalar(
            "INSERT INTO technician_groups (org_id, name, parent_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(org)
        .bind(name)
        .bind(parent)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(Group {
            id,
            name: name.to_owned(),
            parent_id: parent,
        })
    }

    pub async fn list_groups(&self, org: OrgId) -> DbResult<Vec<Group>> {
        Ok(sqlx::query_as(
            "SELECT id, name, parent_id FROM technician_groups WHERE org_id = $1 ORDER BY id",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn get_group(&self, org: OrgId, id: GroupId) -> DbResult<Option<Group>> {
        Ok(sqlx::query_as(
            "SELECT id, name, parent_id FROM technician_groups WHERE org_id = $1 AND id = $2",
        )
        .bind(org)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Renames and/or moves a group (`parent: Some(None)` moves it to the top).
    /// The check that the new parent is neither the group nor one of its
    /// sub-groups runs in the same transaction as the move, with the
    /// organization's row locked on PostgreSQL, so two concurrent moves cannot
    /// build a cycle between them.
    pub async fn update_group(
        &self,
        org: OrgId,
        id: GroupId,
        name: Option<&str>,
        parent: Option<Option<GroupId>>,
    ) -> DbResult<GroupUpdate> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "SELECT id FROM organizations WHERE id = $1{}",
            self.row_lock()
        )))
        .bind(org)
        .fetch_optional(&mut *tx)
        .await?;
        let groups: Vec<Group> = sqlx::query_as(
            "SELECT id, name, parent_id FROM technician_groups WHERE org_id = $1 ORDER BY id",
        )
        .bind(org)
        .fetch_all(&mut *tx)
        .await?;
        let parents: HashMap<GroupId, Option<GroupId>> =
            groups.iter().map(|g| (g.id, g.parent_id)).collect();
        if !parents.contains_key(&id) {
            return Ok(GroupUpdate::Missing);
        }
        if let Some(Some(new_parent)) = parent {
            if !parents.contains_key(&new_parent) {
                return Ok(GroupUpdate::Missing);
            }
            // Walk up from the new parent; meeting the group means a cycle.
            let mut seen = HashSet::new();
            let mut at = Some(new_parent);
            while let Some(g) = at {
                if g == id || !seen.insert(g) {
                    return Ok(GroupUpdate::Cycle);
                }
                at = parents.get(&g).copied().flatten();
            }
        }
        if let Some(name) = name {
            sqlx::query("UPDATE technician_groups SET name = $1 WHERE org_id = $2 AND id = $3")
                .bind(name)
                .bind(org)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(parent) = parent {
            sqlx::query(
                "UPDATE technician_groups SET parent_id = $1 WHERE org_id = $2 AND id = $3",
            )
            .bind(parent)
            .bind(org)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let group: Group = sqlx::query_as(
            "SELECT id, name, parent_id FROM technician_groups WHERE org_id = $1 AND id = $2",
        )
        .bind(org)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(GroupUpdate::Updated(group))
    }

    /// ` FOR UPDATE` on PostgreSQL; nothing on SQLite, whose single writer
    /// serializes transactions already.
    /// The organization's seats (standard, mobile; `None` unlimited), with its
    /// settings row locked for the transaction: every writer that takes seats
    /// (imports, updates, single creations) locks it first, so none over-allocates.
    async fn lock_seats(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org: OrgId,
    ) -> DbResult<(Option<i64>, Option<i64>)> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT standard_seats, mobile_seats FROM settings WHERE org_id = $1{}",
            self.row_lock()
        )))
        .bind(org)
        .fetch_one(&mut **tx)
        .await?)
    }

    fn row_lock(&self) -> &'static str {
        match self.engine {
            super::Engine::Postgres => " FOR UPDATE",
            super::Engine::Sqlite => "",
        }
    }

    pub async fn settings(&self, org: OrgId) -> DbResult<Settings> {
        let row = sqlx::query(
            "SELECT min_password_length, min_password_strength, force_password_change, \
             standard_seats, mobile_seats, max_rows_per_file, \
             CAST(CASE WHEN sync_default_password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) \
             FROM settings WHERE org_id = $1",
        )
        .bind(org)
        .fetch_one(&self.pool)
        .await?;
        Ok(Settings {
            password_policy: PasswordPolicy {
                min_length: row.try_get(0)?,
                min_strength: row.try_get(1)?,
            },
            force_password_change: flag(row.try_get(2)?),
            licenses: LicenseSeats {
                standard_seats: row.try_get(3)?,
                mobile_seats: row.try_get(4)?,
            },
            max_rows_per_file: row.try_get(5)?,
            sync_default_password_set: flag(row.try_get(6)?),
        })
    }

    pub async fn save_settings(&self, org: OrgId, s: &Settings) -> DbResult<()> {
        sqlx::query(
            "UPDATE settings SET min_password_length = $1, min_password_strength = $2, \
             force_password_change = $3, standard_seats = $4, mobile_seats = $5, max_rows_per_file = $6 \
             WHERE org_id = $7",
        )
        .bind(s.password_policy.min_length)
        .bind(s.password_policy.min_strength)
        .bind(i64::from(s.force_password_change))
        .bind(s.licenses.standard_seats)
        .bind(s.licenses.mobile_seats)
        .bind(s.max_rows_per_file)
        .bind(org)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Seats in use: (standard, mobile). A disabled technician holds no mobile seat, as in Rescue.
    pub async fn licenses_used(&self, org: OrgId) -> DbResult<(i64, i64)> {
        seats_used(&self.pool, org).await
    }

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
        let seats = self.lock_seats(&mut tx, org).await?;
        // The row is locked too: an import updating this technician meanwhile
        // (which takes the settings lock only when seats are limited) is not overwritten.
        let Some(row) = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TECH_COLUMNS} FROM technicians WHERE org_id = $1 AND id = $2{}",
            self.row_lock()
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
            let taken: Option<i64> = sqlx::query_scalar(
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
    pub(super) async fn insert_technician(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org: OrgId,
        t: &TechnicianWrite,
    ) -> DbResult<Result<TechnicianId, TechnicianCreate>> {
        let seats = self.lock_seats(tx, org).await?;
        let needs_mobile = t.enabled && t.mobile_license;
        if let Some((license, seats)) =
            no_seat(tx, org, seats, t.standard_license, needs_mobile).await?
        {
            return Ok(Err(TechnicianCreate::NoSeat { license, seats }));
        }
        let now = now_ms();
        let id: Option<TechnicianId> = sqlx::query_scalar(
            "INSERT INTO technicians (org_id, name, nickname, email, email_key, sso_id, description, \
             password_hash, enabled, standard_license, mobile_license, group_id, must_change_password, \
             import_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $14) \
             ON CONFLICT (org_id, email_key) DO NOTHING RETURNING id",
        )
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
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
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

    /// Every group id of the organization (for per-row "group exists" checks).
    pub async fn group_ids(&self, org: OrgId) -> DbResult<HashSet<GroupId>> {
        let ids: Vec<GroupId> =
            sqlx::query_scalar("SELECT id FROM technician_groups WHERE org_id = $1")
                .bind(org)
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().collect())
    }
}

/// Seats in use, (standard, mobile), read through `executor` (the pool or a transaction).
async fn seats_used<'e, E>(executor: E, org: OrgId) -> DbResult<(i64, i64)>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(
        "SELECT COALESCE(SUM(standard_license), 0), COALESCE(SUM(CASE WHEN enabled = 1 THEN mobile_license ELSE 0 END), 0) \
         FROM technicians WHERE org_id = $1",
    )
    .bind(org)
    .fetch_one(executor)
    .await?)
}

pub(super) const TECH_COLUMNS: &str = "id, name, nickname, email, sso_id, description, enabled, standard_license, \
     mobile_license, group_id, must_change_password, import_id, created_at, updated_at";

/// Technician `id` of `org` as the transaction sees it (just written).
pub(super) async fn technician_in(
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

pub(super) fn technician_from_row(row: &sqlx::any::AnyRow) -> DbResult<Technician> {
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
