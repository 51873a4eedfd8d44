//! An organization's settings: password policy, license seats and file limits.

use crate::db::batches::seats_used;
use crate::db::{Db, DbResult, flag};
use crate::model::{LicenseSeats, OrgId, PasswordPolicy, Settings};
use sqlx::Row;

impl Db {
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
}
