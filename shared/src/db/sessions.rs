//! Sign-in: administrators' password hashes, browser sessions and failed
//! sign-ins. A session is kept only as the SHA-256 of its cookie value, and
//! failures are counted here, in the database, so that every API instance
//! agrees on them.

use super::{Db, DbResult, token_hash};
use crate::model::{AdminId, OrgId, SignedIn};
use rand::RngCore;

/// 256 random bits, hex: a session's cookie value or its CSRF token.
fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new session: the cookie value (given to the browser once, never stored)
/// and the CSRF token.
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
}

/// What signing in with an email looks up. No `Debug`: it holds a password hash.
pub struct SignInAccount {
    pub admin_id: AdminId,
    pub org_id: OrgId,
    /// The PHC string; `None` for an administrator with a token only.
    pub password_hash: Option<String>,
}

impl Db {
    /// The administrator that `email_key` names anywhere in the service.
    pub async fn sign_in_account(&self, email_key: &str) -> DbResult<Option<SignInAccount>> {
        let row: Option<(AdminId, OrgId, Option<String>)> =
            sqlx::query_as("SELECT id, org_id, password_hash FROM admins WHERE email_key = $1")
                .bind(email_key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(admin_id, org_id, password_hash)| SignInAccount {
            admin_id,
            org_id,
            password_hash,
        }))
    }

    /// Failed sign-ins for `email_key` at or after `since` (epoch ms): how many,
    /// and the time of the `nth` most recent one (when there are that many).
    pub async fn sign_in_failures(
        &self,
        email_key: &str,
        since: i64,
        nth: i64,
    ) -> DbResult<(i64, Option<i64>)> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sign_in_failures WHERE email_key = $1 AND at >= $2",
        )
        .bind(email_key)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT at FROM sign_in_failures WHERE email_key = $1 AND at >= $2 \
             ORDER BY at DESC LIMIT 1 OFFSET $3",
        )
        .bind(email_key)
        .bind(since)
        .bind((nth - 1).max(0))
        .fetch_optional(&self.pool)
        .await?;
        Ok((count, at))
    }

    /// Records one failed sign-in, and forgets this email's failures older than `forget_before`.
    pub async fn record_sign_in_failure(
        &self,
        email_key: &str,
        at: i64,
        forget_before: i64,
    ) -> DbResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sign_in_failures WHERE email_key = $1 AND at < $2")
            .bind(email_key)
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO sign_in_failures (email_key, at) VALUES ($1, $2)")
            .bind(email_key)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A successful sign-in forgets the email's failures.
    pub async fn clear_sign_in_failures(&self, email_key: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM sign_in_failures WHERE email_key = $1")
            .bind(email_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets (or replaces) an administrator's sign-in password hash.
    pub async fn set_admin_password(&self, admin: AdminId, password_hash: &str) -> DbResult<()> {
        sqlx::query("UPDATE admins SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(admin)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Starts a session for `admin` at `now` that ends at `expires_at` at the
    /// latest; sessions that have ended (idle since before `idle_before`, or
    /// past their end) are deleted on the way.
    pub async fn create_session(
        &self,
        admin: AdminId,
        now: i64,
        expires_at: i64,
        idle_before: i64,
    ) -> DbResult<NewSession> {
        let session = NewSession {
            cookie: secret(),
            csrf_token: secret(),
        };
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
            .bind(now)
            .bind(idle_before)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, admin_id, csrf_token, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(token_hash(&session.cookie))
        .bind(admin)
        .bind(&session.csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(session)
    }

    /// The live session whose cookie value is `cookie` at `now`: not past its
    /// end, and used at or after `idle_before`. Its use is recorded when the
    /// last record is older than `touch_before`, so that a busy console does
    /// not write on every request.
    pub async fn session(
        &self,
        cookie: &str,
        now: i64,
        idle_before: i64,
        touch_before: i64,
    ) -> DbResult<Option<SignedIn>> {
        let hash = token_hash(cookie);
        let Some((admin_id, org_id, csrf_token, last_seen)) =
            sqlx::query_as::<_, (AdminId, OrgId, String, i64)>(
                "SELECT s.admin_id, a.org_id, s.csrf_token, s.last_seen_at \
                 FROM sessions s JOIN admins a ON a.id = s.admin_id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at >= $3",
            )
            .bind(&hash)
            .bind(now)
            .bind(idle_before)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        if last_seen < touch_before {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(&self.pool)
                .await?;
        }
        Ok(self
            .admin(org_id, admin_id)
            .await?
            .map(|admin| SignedIn { admin, csrf_token }))
    }

    /// Ends the session whose cookie value is `cookie` (signing out).
    pub async fn delete_session(&self, cookie: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(token_hash(cookie))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An organization's name.
    pub async fn org_name(&self, org: OrgId) -> DbResult<String> {
        Ok(
            sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
                .bind(org)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
