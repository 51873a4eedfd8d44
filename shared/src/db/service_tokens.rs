//! Service tokens and the sync default password (API.md v1.1, "Directory
//! synchronization"). A token is shown once and kept as its SHA-256; a revoked
//! token keeps its row and authorizes nothing. Every query is scoped by
//! organization, but for the lookup by token, which is by hash alone.

use super::{Db, DbResult, token_hash};
use crate::model::{AdminId, GroupId, OrgId, ServiceToken};
use crate::time::{now_ms, rfc3339};

/// A new service token: 256 random bits, hex, with a prefix of its own
/// (`rss_`) so that a leaked one is recognizable as a Roster service token.
pub fn new_service_token() -> String {
    format!("rss_{}", &super::new_token()[4..])
}

type TokenRow = (i64, OrgId, String, Option<GroupId>, Option<AdminId>, i64);
/// A [`TokenRow`] and the stored hash it was found by.
type TokenHashRow = (
    i64,
    OrgId,
    String,
    Option<GroupId>,
    Option<AdminId>,
    i64,
    String,
);

fn from_row((id, org_id, name, group_id, created_by, created_at): TokenRow) -> ServiceToken {
    ServiceToken {
        id,
        org_id,
        name,
        group_id,
        created_by,
        created_at: rfc3339(created_at),
    }
}

impl Db {
    /// Creates a service token of `org` (by `created_by`); returns it and the
    /// token itself, which is not kept.
    pub async fn create_service_token(
        &self,
        org: OrgId,
        name: &str,
        group_id: Option<GroupId>,
        created_by: AdminId,
    ) -> DbResult<(ServiceToken, String)> {
        let token = new_service_token();
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO service_tokens (org_id, name, group_id, token_hash, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(org)
        .bind(name)
        .bind(group_id)
        .bind(token_hash(&token))
        .bind(created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            from_row((id, org, name.to_owned(), group_id, Some(created_by), now)),
            token,
        ))
    }

    /// The live service tokens of `org`, oldest first.
    pub async fn list_service_tokens(&self, org: OrgId) -> DbResult<Vec<ServiceToken>> {
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT id, org_id, name, group_id, created_by, created_at FROM service_tokens \
             WHERE org_id = $1 AND revoked_at IS NULL ORDER BY id",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Revokes service token `id` of `org`; false when there is no such live token.
    pub async fn revoke_service_token(&self, org: OrgId, id: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE service_tokens SET revoked_at = $1 \
             WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(org)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The live service token a bearer token is, if it is one.
    pub async fn service_token(&self, token: &str) -> DbResult<Option<ServiceToken>> {
        let hash = token_hash(token);
        let row: Option<TokenHashRow> = sqlx::query_as(
            "SELECT id, org_id, name, group_id, created_by, created_at, token_hash FROM service_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        // Found by hash already; compared again in constant time, as admin tokens are.
        Ok(row
            .filter(|row| {
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    row.6.as_bytes(),
                    hash.as_bytes(),
                ))
            })
            .map(|(id, org, name, group, by, created, _)| {
                from_row((id, org, name, group, by, created))
            }))
    }

    /// Sets (a PHC hash) or clears (`None`) the organization's sync default password.
    pub async fn set_sync_default_password(&self, org: OrgId, hash: Option<&str>) -> DbResult<()> {
        sqlx::query("UPDATE settings SET sync_default_password_hash = $1 WHERE org_id = $2")
            .bind(hash)
            .bind(org)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The PHC hash of the organization's sync default password, if set: what
    /// a technician provisioned without a password of its own gets, verbatim,
    /// with a forced change at first sign-in.
    pub async fn sync_default_password_hash(&self, org: OrgId) -> DbResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT sync_default_password_hash FROM settings WHERE org_id = $1")
                .bind(org)
                .fetch_optional(&self.pool)
                .await?
                .flatten(),
        )
    }
}
