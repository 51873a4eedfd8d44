//! Every statement and fragment that differs between PostgreSQL and SQLite,
//! each chosen here by one `match` on the engine. The rule this file keeps:
//! a business method never matches on the engine; it asks this module for
//! the statement (or the fragment, or `None` where an engine needs nothing).
//! Opening the pools (`Db::connect`, `Db::migrate`) is the one other place
//! that looks at the engine.

use super::Engine;
use super::columns::{TECHNICIAN_COLUMNS, technician_column_list};
use std::sync::LazyLock;

/// ` FOR UPDATE` on PostgreSQL, locking the rows a `SELECT` reads until the
/// transaction ends; nothing on SQLite, whose one writer serializes
/// transactions already.
pub(super) fn row_lock(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => " FOR UPDATE",
        Engine::Sqlite => "",
    }
}

/// Plans a transaction's statements for their values on PostgreSQL: sqlx
/// prepares each statement once a connection, and PostgreSQL then keeps one
/// generic plan for good, made while an organization's first import or
/// provisioning had barely begun; that plan scanned the whole organization for
/// each batch afterwards. SQLite plans every statement afresh: `None`.
pub(super) fn custom_plans(engine: Engine) -> Option<&'static str> {
    match engine {
        Engine::Postgres => Some("SET LOCAL plan_cache_mode = force_custom_plan"),
        Engine::Sqlite => None,
    }
}

/// Existing technicians among a JSON array of email keys ($2) of organization $1:
/// for each key in turn, one probe of the unique `(org_id, email_key)` index. The
/// lateral subquery (kept a subquery by `OFFSET 0`) is what fixes that order: as a
/// plain join, planned while the table was small, PostgreSQL read the whole
/// organization instead, by a hash join or with the technicians outside.
pub const EXISTING_EMAILS_POSTGRES: &str = "SELECT t.email_key, t.id, t.group_id FROM json_array_elements_text($2::json) AS k(key) \
     CROSS JOIN LATERAL (SELECT email_key, id, group_id FROM technicians WHERE org_id = $1 AND email_key = k.key OFFSET 0) AS t";
/// What `EXISTING_EMAILS_POSTGRES` is planned under: afresh for each batch
/// (`custom_plans`), and by index searches only. Measured before this: at
/// 600,000 rows the lookup was the statement most often seen running, ahead of
/// the `COPY` itself. Planning a batch's lookup costs a fraction of a millisecond.
pub const EXISTING_EMAILS_PLANNER_POSTGRES: &str = "SET LOCAL plan_cache_mode = force_custom_plan; \
     SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off";
/// The same on SQLite. CROSS JOIN keeps SQLite from reordering: the keys are the
/// outer loop, each a search of the unique index. (With JOIN it scanned the
/// organization's technicians and re-read the JSON for each one: 1.5 s a batch
/// at a few thousand technicians.)
pub(super) const EXISTING_EMAILS_SQLITE: &str = "SELECT t.email_key, t.id, t.group_id FROM json_each($2) AS k \
     CROSS JOIN technicians t ON t.org_id = $1 AND t.email_key = k.value";

/// The email lookup of a batch (`Db::existing_emails`): the planner settings
/// to run first in its transaction, if the engine needs any, and the statement.
pub(super) fn existing_emails(engine: Engine) -> (Option<&'static str>, &'static str) {
    match engine {
        Engine::Postgres => (
            Some(EXISTING_EMAILS_PLANNER_POSTGRES),
            EXISTING_EMAILS_POSTGRES,
        ),
        Engine::Sqlite => (None, EXISTING_EMAILS_SQLITE),
    }
}

/// How each engine reads a field of the JSON document's records.
fn json_field(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Postgres => format!("x.{column}"),
        Engine::Sqlite => format!("x.value ->> '{column}'"),
    }
}

/// The JSON document `$n` as rows `x` of the named columns (PostgreSQL needs
/// their types).
fn json_records(engine: Engine, n: usize, columns: &[(&str, &str)]) -> String {
    match engine {
        Engine::Postgres => {
            let typed: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
            format!("json_to_recordset(${n}::json) AS x({})", typed.join(", "))
        }
        Engine::Sqlite => format!("json_each(${n}) AS x"),
    }
}

fn insert_technicians_sql(engine: Engine) -> String {
    let values: Vec<String> = TECHNICIAN_COLUMNS
        .iter()
        .map(|(c, _)| json_field(engine, c))
        .collect();
    // On SQLite `WHERE true` keeps ON CONFLICT from being read as part of a join.
    format!(
        "INSERT INTO technicians (org_id, {}, import_id, created_at, updated_at) \
         SELECT $1, {}, $2, $3, $3 FROM {} WHERE true \
         ON CONFLICT (org_id, email_key) DO NOTHING RETURNING id, email_key",
        technician_column_list(),
        values.join(", "),
        json_records(engine, 4, &TECHNICIAN_COLUMNS),
    )
}

/// Creates technicians of organization $1 for import $2 at $3 from one JSON
/// document ($4) of [`TECHNICIAN_COLUMNS`], skipping emails the organization
/// has already; returns (id, email_key) of those created.
pub(super) fn insert_technicians(engine: Engine) -> &'static str {
    static POSTGRES: LazyLock<String> = LazyLock::new(|| insert_technicians_sql(Engine::Postgres));
    static SQLITE: LazyLock<String> = LazyLock::new(|| insert_technicians_sql(Engine::Sqlite));
    match engine {
        Engine::Postgres => POSTGRES.as_str(),
        Engine::Sqlite => SQLITE.as_str(),
    }
}

fn update_technicians_sql(engine: Engine) -> String {
    // The email key is what the lookup found the technician by: it stays.
    let sets: Vec<String> = TECHNICIAN_COLUMNS
        .iter()
        .filter(|(c, _)| *c != "email_key")
        .map(|(c, _)| format!("{c} = {}", json_field(engine, c)))
        .collect();
    let mut columns = vec![("id", "bigint"), ("seen_group", "bigint")];
    columns.extend(TECHNICIAN_COLUMNS);
    // Every column is named with its table: SQLite's `json_each` has an `id` of its own.
    format!(
        "UPDATE technicians SET {}, updated_at = $2 FROM {} \
         WHERE technicians.org_id = $1 AND technicians.id = {} \
         AND technicians.group_id = {} RETURNING technicians.id",
        sets.join(", "),
        json_records(engine, 3, &columns),
        json_field(engine, "id"),
        json_field(engine, "seen_group"),
    )
}

/// Updates technicians of organization $1 at $2 from one JSON document ($3),
/// each element naming the technician (`id`) and the group the email lookup saw
/// it in (`seen_group`): one moved to another group meanwhile (perhaps out of
/// the importer's reach) is not this import's to change, and stays as it is.
/// Returns the ids updated. One statement a batch, each element a probe of the
/// primary key: a statement per row cost a round trip and an executor start
/// each. (SQLite has `UPDATE ... FROM` from 3.33 on.)
pub(super) fn update_technicians(engine: Engine) -> &'static str {
    static POSTGRES: LazyLock<String> = LazyLock::new(|| update_technicians_sql(Engine::Postgres));
    static SQLITE: LazyLock<String> = LazyLock::new(|| update_technicians_sql(Engine::Sqlite));
    match engine {
        Engine::Postgres => POSTGRES.as_str(),
        Engine::Sqlite => SQLITE.as_str(),
    }
}

/// Records outcomes of import $1 from one JSON document ($2). No ON CONFLICT:
/// an outcome that exists already means another worker did this row, and the
/// whole transaction must roll back.
pub(super) fn insert_outcomes(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "INSERT INTO import_rows (import_id, row_no, email, status, technician_id, errors) \
             SELECT $1, x.row_no, x.email, x.status, x.technician_id, x.errors::text \
             FROM json_to_recordset($2::json) AS x(row_no bigint, email text, status text, technician_id bigint, errors json)"
        }
        Engine::Sqlite => {
            "INSERT INTO import_rows (import_id, row_no, email, status, technician_id, errors) \
             SELECT $1, value ->> 'row_no', value ->> 'email', value ->> 'status', value ->> 'technician_id', \
             value -> 'errors' FROM json_each($2)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::{plan_details, scratch_sqlite};
    use sqlx::AssertSqlSafe;

    /// The lookup must stay an index search per key, whatever the table holds:
    /// a plan that scans `technicians` makes every batch slower as it grows.
    #[tokio::test]
    async fn the_sqlite_email_lookup_searches_the_unique_index_per_key() {
        let (_dir, db) = scratch_sqlite().await;
        let details = plan_details(
            sqlx::query_as(AssertSqlSafe(format!(
                "EXPLAIN QUERY PLAN {EXISTING_EMAILS_SQLITE}"
            )))
            .bind(1_i64)
            .bind(r#"["a@x.test","b@x.test"]"#)
            .fetch_all(&db.pool)
            .await
            .expect("explain"),
        );
        assert_eq!(details.len(), 2, "{details:?}");
        assert!(details[0].starts_with("SCAN k"), "{details:?}");
        assert!(
            details[1].starts_with("SEARCH t")
                && details[1].contains("INDEX technicians_org_email"),
            "{details:?}"
        );
    }
}
