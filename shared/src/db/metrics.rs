//! Figures for `/metrics`: imports by status, rows by outcome (every counter
//! of `Counts::NAMES`, the imports' own plus their chunks') and open chunks.

use super::columns::{counter_column, joined};
use super::{Db, DbResult};
use crate::model::Counts;
use sqlx::Row;
use std::sync::LazyLock;

/// Each counter's total over every import: the imports' own counters plus
/// their chunks' (see `imports::IMPORT_COLUMNS`).
static COUNTER_TOTALS: LazyLock<String> = LazyLock::new(|| {
    let sums = joined(
        Counts::NAMES
            .iter()
            .map(|name| format!("COALESCE(SUM({}), 0) AS {name}", counter_column(name))),
    );
    let totals = joined(
        Counts::NAMES
            .iter()
            .map(|name| format!("CAST(SUM({name}) AS BIGINT)")),
    );
    format!(
        "SELECT {totals} FROM (SELECT {sums} FROM imports UNION ALL SELECT {sums} FROM import_chunks) AS counters"
    )
});

/// Figures for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub imports_by_status: Vec<(String, i64)>,
    pub rows_by_outcome: Vec<(String, i64)>,
    pub chunks_open: i64,
}

impl Db {
    /// Imports by status, rows by outcome (the imports' own counters and their chunks') and open chunks.
    pub async fn metrics(&self) -> DbResult<Metrics> {
        let imports_by_status =
            sqlx::query_as("SELECT status, COUNT(*) FROM imports GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await?;
        let row = sqlx::query(COUNTER_TOTALS.as_str())
            .fetch_one(&self.pool)
            .await?;
        let rows_by_outcome = Counts::NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| Ok((name.to_string(), row.try_get::<i64, _>(i)?)))
            .collect::<DbResult<_>>()?;
        let chunks_open =
            sqlx::query_scalar("SELECT COUNT(*) FROM import_chunks WHERE status <> 'done'")
                .fetch_one(&self.pool)
                .await?;
        Ok(Metrics {
            imports_by_status,
            rows_by_outcome,
            chunks_open,
        })
    }
}
