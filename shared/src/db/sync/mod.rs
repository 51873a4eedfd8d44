//! Directory synchronization's state: sources, the technicians each source
//! provisioned (`technicians.sync_source_id`, `external_id`), the approval a
//! run may wait for, and (`batch`) one sync batch's writes.

mod batch;

use crate::db::{Db, DbResult, flag};
use crate::model::{FieldError, GroupId, ImportId, OrgId, Scope, TechnicianId};
use crate::time::now_ms;

/// A source, as `GET /v1/sync/sources` shows it.
#[derive(Debug, Clone)]
pub struct SyncSource {
    pub id: i64,
    pub key: String,
    pub group_id: GroupId,
    pub members: i64,
    pub last_import: Option<ImportId>,
}

/// A technician a source provisioned, as the plan sees it.
#[derive(Debug, Clone)]
pub struct Linked {
    pub id: TechnicianId,
    pub external_id: String,
    pub name: String,
    pub email: String,
    pub enabled: bool,
}

/// One member of a snapshot (or one who left: `in_directory` false).
#[derive(Debug, Clone)]
pub struct SyncMember {
    pub row: i64,
    pub external_id: String,
    pub name: String,
    pub email: String,
    pub enabled: bool,
    pub in_directory: bool,
    /// Problems the plan found (an email an earlier member of the snapshot
    /// has): the member fails with them and nothing of it is written.
    pub errors: Vec<FieldError>,
}

/// What a sync batch applies with.
#[derive(Debug, Clone)]
pub struct SyncTarget {
    pub org: OrgId,
    pub source: i64,
    pub group_id: GroupId,
    /// The hash new technicians get (the default password's).
    pub password_hash: String,
    pub dry_run: bool,
    /// The groups of the administrator who sent the snapshot: a technician
    /// outside them is never linked by its email (it fails as a taken email,
    /// naming no group), as a file import's row would.
    pub scope: Scope,
}

impl Db {
    /// The source named `key` of `org`, created on first use; its group follows the latest snapshot.
    pub async fn sync_source(&self, org: OrgId, key: &str, group_id: GroupId) -> DbResult<i64> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sync_sources (org_id, source_key, group_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, source_key) DO UPDATE SET group_id = $3",
        )
        .bind(org)
        .bind(key)
        .bind(group_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM sync_sources WHERE org_id = $1 AND source_key = $2")
                .bind(org)
                .bind(key)
                .fetch_one(&self.pool)
                .await?;
        Ok(id)
    }

    /// The technicians `source` provisioned.
    pub async fn sync_links(&self, org: OrgId, source: i64) -> DbResult<Vec<Linked>> {
        let rows: Vec<(TechnicianId, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, external_id, name, email, enabled FROM technicians WHERE org_id = $1 AND sync_source_id = $2",
        )
        .bind(org)
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, external_id, name, email, enabled)| Linked {
                id,
                external_id,
                name,
                email,
                enabled: flag(enabled),
            })
            .collect())
    }

    /// Every source of `org` with its member count (enabled technicians it owns) and its latest run.
    pub async fn list_sync_sources(&self, org: OrgId) -> DbResult<Vec<SyncSource>> {
        let rows: Vec<(i64, String, GroupId, i64, Option<String>)> = sqlx::query_as(
            "SELECT s.id, s.source_key, s.group_id, \
             (SELECT COUNT(*) FROM technicians t WHERE t.org_id = s.org_id AND t.sync_source_id = s.id AND t.enabled = 1), \
             (SELECT i.id FROM imports i WHERE i.sync_source_id = s.id ORDER BY i.created_at DESC, i.id DESC LIMIT 1) \
             FROM sync_sources s WHERE s.org_id = $1 ORDER BY s.id",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, key, group_id, members, last)| SyncSource {
                id,
                key,
                group_id,
                members,
                last_import: last.map(ImportId::from_stored),
            })
            .collect())
    }

    /// Stops a planned sync run before anything changed: back to `queued`,
    /// awaiting a master's approval, its lease given back.
    pub async fn hold_for_approval(
        &self,
        id: &ImportId,
        owner: &str,
        reason: &str,
    ) -> DbResult<bool> {
        let n = sqlx::query(
            "UPDATE imports SET status = 'queued', awaiting_approval = 1, lease_owner = NULL, lease_until = NULL, \
             error_code = 'needs_approval', error_message = $3 \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        )
        .bind(id.as_str())
        .bind(owner)
        .bind(reason)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A master's approval: the run plans again, past the safety valves. False if
    /// the import is not waiting for one.
    pub async fn approve_import(&self, org: OrgId, id: &ImportId) -> DbResult<bool> {
        let n = sqlx::query(
            "UPDATE imports SET awaiting_approval = 0, approved = 1, enqueued_at = $3, error_code = NULL, error_message = NULL \
             WHERE org_id = $1 AND id = $2 AND status = 'queued' AND awaiting_approval = 1 AND cancel_requested = 0",
        )
        .bind(org)
        .bind(id.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
