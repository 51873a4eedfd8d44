//! The database: the directory (organizations, administrators, groups,
//! technicians, settings) and the import state (imports, chunks, row outcomes).
//!
//! One set of queries serves PostgreSQL (cluster) and SQLite (embedded default)
//! through sqlx's `Any` driver: `$N` placeholders, epoch-millisecond times, 0/1
//! flags and UUID text ids work alike on both. Every directory query takes the
//! organization id: tenancy is part of each `WHERE`, not a filter applied later.

mod batches;
mod columns;
mod dialect;
mod directory;
mod imports;
mod metrics;
mod scim;
mod service_tokens;
mod sessions;
mod steps;
mod sync;

pub use batches::{Existing, Lease, TechnicianWrite};
pub use columns::{Field, TECHNICIAN_COLUMNS, technician_column_list};
pub use dialect::{EXISTING_EMAILS_PLANNER_POSTGRES, EXISTING_EMAILS_POSTGRES};
pub use directory::*;
pub use imports::*;
pub use metrics::Metrics;
pub use scim::*;
pub use service_tokens::*;
pub use sessions::*;
pub use steps::*;
pub use sync::*;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection};
use std::str::FromStr;
use std::time::Duration;

/// Connections of the `COPY` pool: a worker commits one chunk's batches at a time.
const COPY_CONNECTIONS: u32 = 2;

/// A stored value that names no known variant: the database holds something
/// this code never writes, so it fails loudly instead of reading as a default.
pub(crate) fn undecodable(column: &str, value: &str) -> DbError {
    DbError::Sqlx(sqlx::Error::Decode(
        format!("{column}: '{value}' is not a value this version knows").into(),
    ))
}

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Sqlite,
}

/// A connection pool and the engine behind it.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub engine: Engine,
    /// On PostgreSQL, a small pool of the native driver for what `Any` cannot
    /// send: `COPY` of a batch's rows (`copy`). Connected on first use, so
    /// processes that write no batch (the API) never open it.
    copy: Option<sqlx::PgPool>,
}

/// A database failure: transient ones (connection lost, pool timeout) are worth a retry.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (use postgres:// or sqlite://)")]
    UnsupportedUrl,
}

impl DbError {
    /// True when trying again later may succeed (the server is away, not the query wrong).
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Sqlx(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                        | sqlx::Error::Protocol(_)
                ) || e.as_database_error().is_some_and(|d| {
                    // 57P01 admin_shutdown (terminated connection), 40001/40P01 serialization or
                    // deadlock, 53300 too many connections, SQLite 5/6 busy/locked.
                    matches!(
                        d.code().as_deref(),
                        Some("57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300" | "5" | "6")
                    )
                })
            }
            _ => false,
        }
    }

    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()))
    }
}

pub type DbResult<T> = Result<T, DbError>;

impl Db {
    /// Connects a pool to `url` (`postgres://...` or `sqlite://...`).
    pub async fn connect(url: &str, max_connections: u32) -> DbResult<Self> {
        install_default_drivers();
        let engine = engine_of(url)?;
        // No idle timeout and no maximum lifetime: either starts sqlx's maintenance
        // task, which in sqlx 0.9.0 can spin a thread at 100% for good once the idle
        // count underflows in a race (sqlx issue 3645, fixed upstream by PR 4289, not
        // in a release this rustc builds); a `roster-api admin create` was seen stuck
        // that way in CI. A broken connection is still discarded and replaced on
        // demand; the pools are small, so keeping idle ones open costs little.
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(None)
            .max_lifetime(None);
        let pool = match engine {
            Engine::Postgres => {
                options
                    .max_connections(max_connections)
                    .connect(url)
                    .await?
            }
            // SQLite has one writer: one connection serializes every transaction and
            // avoids lock upgrades between connections.
            Engine::Sqlite => {
                options
                    .max_connections(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA busy_timeout = 10000")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous = NORMAL")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
        };
        let copy = match engine {
            Engine::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(COPY_CONNECTIONS)
                    .acquire_timeout(Duration::from_secs(10))
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_lazy(url)?,
            ),
            Engine::Sqlite => None,
        };
        Ok(Self { pool, engine, copy })
    }

    /// Closes both pools, waiting for their connections to close: call it before a
    /// process exits, so that its connections end cleanly.
    /// A connection still checked out (a step cut short) is waited for 5 s at most.
    pub async fn close(&self) {
        let closed = async {
            self.pool.close().await;
            if let Some(copy) = &self.copy {
                copy.close().await;
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(5), closed)
            .await
            .is_err()
        {
            tracing::warn!("database connections still in use at exit");
        }
    }

    /// Applies the migrations of `url`'s engine (creating the SQLite file if needed).
    pub async fn migrate(url: &str) -> DbResult<()> {
        match engine_of(url)? {
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                sqlx::migrate!("../migrations/postgres")
                    .run(&mut conn)
                    .await?;
            }
            Engine::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
                sqlx::migrate!("../migrations/sqlite")
                    .run(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Runs one statement built at run time (administration and test set-up only;
    /// never with user input).
    pub async fn execute_raw(&self, sql: String) -> DbResult<u64> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn engine_of(url: &str) -> DbResult<Engine> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else {
        Err(DbError::UnsupportedUrl)
    }
}

/// Builds `($1, $2, ...), ($k, ...)` for a multi-row `VALUES` with `rows` rows of `cols` columns.
pub(crate) fn values_placeholders(rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * cols + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// Builds `$first, $first+1, ...` for an `IN (...)` list of `n` values.
pub(crate) fn list_placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A 0/1 flag column as a bool.
pub(crate) fn flag(v: i64) -> bool {
    v != 0
}

/// Helpers for the query-plan tests of this module's files.
#[cfg(test)]
pub(crate) mod testing {
    use super::Db;

    /// A migrated SQLite database in a temporary folder (kept while the folder lives).
    pub(crate) async fn scratch_sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        Db::migrate(&url).await.expect("migrate");
        let db = Db::connect(&url, 1).await.expect("connect");
        (dir, db)
    }

    /// The `detail` column of SQLite's `EXPLAIN QUERY PLAN` rows.
    pub(crate) fn plan_details(rows: Vec<(i64, i64, i64, String)>) -> Vec<String> {
        rows.into_iter().map(|(_, _, _, detail)| detail).collect()
    }
}
