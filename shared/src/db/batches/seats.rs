//! An organization's license seats: how many it has (its settings row, locked
//! for the transaction when writers must not race for the last ones), how many
//! are in use, and the pure fitting of a batch's writes into what is left.
//! A disabled technician holds no mobile seat.

use crate::db::{DbResult, Engine, dialect};
use crate::model::{FieldError, OrgId};

/// An organization's license seats (NULL: unlimited).
const SEATS: &str = "SELECT standard_seats, mobile_seats FROM settings WHERE org_id = $1";

/// Seats in use, (standard, mobile).
const SEATS_USED: &str = "SELECT COALESCE(SUM(standard_license), 0), \
     COALESCE(SUM(CASE WHEN enabled = 1 THEN mobile_license ELSE 0 END), 0) \
     FROM technicians WHERE org_id = $1";

pub(in crate::db) mod statements {
    use super::*;
    use sqlx::query::QueryAs;
    use sqlx::{Database, Encode, Type};

    /// The organization's seats, unlocked, for either driver.
    pub(in crate::db) fn seats<'q, DB: Database>(
        org: OrgId,
    ) -> QueryAs<'q, DB, (Option<i64>, Option<i64>), DB::Arguments>
    where
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        (Option<i64>, Option<i64>): for<'r> sqlx::FromRow<'r, DB::Row>,
    {
        sqlx::query_as(SEATS).bind(org)
    }
}

/// The organization's seats (standard, mobile; `None` unlimited), with its
/// settings row locked for the transaction: every writer that takes seats
/// locks it first, so none over-allocates.
pub(in crate::db) async fn locked_seats(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    engine: Engine,
    org: OrgId,
) -> DbResult<(Option<i64>, Option<i64>)> {
    let sql = format!("{SEATS}{}", dialect::row_lock(engine));
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org)
        .fetch_one(&mut **tx)
        .await?)
}

/// Seats in use, (standard, mobile), read through `executor` (the pool or a transaction).
pub(in crate::db) async fn seats_used<'e, E>(executor: E, org: OrgId) -> DbResult<(i64, i64)>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_as(SEATS_USED)
        .bind(org)
        .fetch_one(executor)
        .await?)
}

/// The organization's seats left; `None` when no license is limited (the
/// default: no lock is taken then, so batches of concurrent imports and sync
/// runs never wait for each other here). Otherwise the settings row is locked
/// for the rest of the transaction, so that writers racing for the last seats
/// never over-allocate.
pub(in crate::db) async fn seats_left(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    engine: Engine,
    org: OrgId,
) -> DbResult<Option<SeatsLeft>> {
    let (standard, mobile) = statements::seats(org).fetch_one(&mut **tx).await?;
    if standard.is_none() && mobile.is_none() {
        return Ok(None);
    }
    let (standard, mobile) = locked_seats(tx, engine, org).await?;
    let (used_standard, used_mobile) = seats_used(&mut **tx, org).await?;
    Ok(Some(SeatsLeft {
        standard: standard.map(|s| s - used_standard),
        mobile: mobile.map(|s| s - used_mobile),
    }))
}

/// Seats left of each license (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::db) struct SeatsLeft {
    pub standard: Option<i64>,
    pub mobile: Option<i64>,
}

/// The seats one write would take: a license it switches on (a disabled
/// technician's mobile license takes none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(in crate::db) struct SeatNeed {
    pub standard: bool,
    pub mobile: bool,
}

impl SeatsLeft {
    pub const UNLIMITED: Self = Self {
        standard: None,
        mobile: None,
    };

    /// Takes the seats `need` names, all or none: the failure names each license
    /// with no seat left.
    pub fn take(&mut self, need: SeatNeed) -> Result<(), Vec<FieldError>> {
        let short = |needed: bool, left: Option<i64>, field: &str| {
            let left = left.filter(|left| needed && *left < 1)?;
            Some(FieldError::new(
                field,
                "license_unavailable",
                format!("no seat left ({} of this license left)", left.max(0)),
            ))
        };
        let missing: Vec<FieldError> = [
            short(need.standard, self.standard, "Standard License"),
            short(need.mobile, self.mobile, "Mobile License"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        if need.standard {
            self.standard = self.standard.map(|n| n - 1);
        }
        if need.mobile {
            self.mobile = self.mobile.map(|n| n - 1);
        }
        Ok(())
    }
}

/// Fits writes, in order, into the seats left: each that fits takes its seats;
/// each that does not fails with the licenses it lacks and takes none.
pub(in crate::db) fn fit(
    mut left: SeatsLeft,
    needs: impl IntoIterator<Item = SeatNeed>,
) -> Vec<Result<(), Vec<FieldError>>> {
    needs.into_iter().map(|need| left.take(need)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: SeatNeed = SeatNeed {
        standard: true,
        mobile: false,
    };
    const BOTH: SeatNeed = SeatNeed {
        standard: true,
        mobile: true,
    };
    const NONE: SeatNeed = SeatNeed {
        standard: false,
        mobile: false,
    };

    fn codes(results: &[Result<(), Vec<FieldError>>]) -> Vec<Vec<String>> {
        results
            .iter()
            .map(|r| match r {
                Ok(()) => Vec::new(),
                Err(errors) => errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn unlimited_seats_fit_every_write() {
        assert!(
            fit(SeatsLeft::UNLIMITED, [BOTH; 5])
                .iter()
                .all(Result::is_ok)
        );
    }

    #[test]
    fn writes_take_the_seats_in_order_until_none_is_left() {
        let left = SeatsLeft {
            standard: Some(2),
            mobile: None,
        };
        let results = fit(left, [STANDARD, NONE, STANDARD, STANDARD]);
        assert_eq!(
            codes(&results),
            vec![
                vec![],
                vec![],
                vec![],
                vec!["Standard License: no seat left (0 of this license left)".to_owned()],
            ]
        );
    }

    #[test]
    fn a_write_short_of_one_license_takes_neither() {
        let left = SeatsLeft {
            standard: Some(1),
            mobile: Some(0),
        };
        let results = fit(left, [BOTH, STANDARD]);
        assert_eq!(
            codes(&results),
            vec![
                vec!["Mobile License: no seat left (0 of this license left)".to_owned()],
                vec![],
            ]
        );
    }

    #[test]
    fn an_over_allocated_organization_reports_no_seat_left_not_a_negative_count() {
        let left = SeatsLeft {
            standard: Some(-3),
            mobile: Some(-1),
        };
        assert_eq!(
            codes(&fit(left, [BOTH])),
            vec![vec![
                "Standard License: no seat left (0 of this license left)".to_owned(),
                "Mobile License: no seat left (0 of this license left)".to_owned(),
            ]]
        );
    }
}
