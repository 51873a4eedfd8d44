//! The directory: organizations, administrators and their scopes, technician
//! groups, technicians and settings. Every query is scoped by organization.

mod admins;
mod groups;
mod settings;
mod technicians;

pub(super) use technicians::{TECH_COLUMNS, technician_from_row, technician_in};

use super::{Db, DbResult};
use crate::model::OrgId;
use crate::time::now_ms;
use sha2::{Digest, Sha256};

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
}
