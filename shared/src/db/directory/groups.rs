//! Technician groups: a tree per organization that a move never turns into a cycle.

use crate::db::{Db, DbResult, dialect};
use crate::model::{Group, GroupId, GroupUpdate, OrgId};
use crate::time::now_ms;
use sqlx::AssertSqlSafe;
use std::collections::{HashMap, HashSet};

impl Db {
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
            dialect::row_lock(self.engine)
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
