//! Administrators: created with a token (stored as its hash), found by token,
//! listed, and the groups each may act on.

use super::{new_token, token_hash};
use crate::db::{Db, DbResult, undecodable};
use crate::model::{Admin, AdminId, GroupId, OrgId, Role, Scope};
use crate::time::now_ms;
use sqlx::Row;
use std::collections::{HashMap, HashSet};

impl Db {
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
}
