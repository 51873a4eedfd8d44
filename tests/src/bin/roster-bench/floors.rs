//! The floors Roster is measured against, on the same rows and machine: the
//! hash floor (the hashing alone, no I/O) and the database floors (`COPY` of the
//! rows' technicians; `UPDATE ... FROM` a `COPY`-loaded table for an update).
//! Also loads an organization's existing technicians, by `COPY`, for
//! `--existing`.

use crate::rows::{Hashes, Row, email};
use anyhow::{Context as _, ensure};
use roster_shared::db::{TechnicianWrite, technician_column_list};
use roster_shared::password::{HashScheme, Password};
use roster_shared::validate::email_key;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Hashes every password on `threads` threads, each taking the next one as it frees up.
pub(crate) fn hash_floor(
    scheme: &HashScheme,
    rows: &[Row],
    threads: usize,
) -> (Duration, Vec<String>) {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let lanes: Vec<Vec<(usize, String)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    // Argon2's working memory, allocated once per thread as the
                    // workers' hashing pool does.
                    let mut memory = roster_shared::password::HashMemory::new();
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(row) = rows.get(i) else {
                            return done;
                        };
                        let password = Password::new(row.password.clone());
                        done.push((i, scheme.hash_in(&password, &mut memory)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("hashing thread"))
            .collect()
    });
    let took = started.elapsed();
    let mut hashes = vec![String::new(); rows.len()];
    for (i, hash) in lanes.into_iter().flatten() {
        hashes[i] = hash;
    }
    (took, hashes)
}

/// (time, WAL bytes) of each `COPY` of the database floor.
pub(crate) struct CopyFloor {
    pub(crate) technicians: (Duration, f64),
    pub(crate) outcomes: (Duration, f64),
}

/// An organization of its own for a floor pass, with a group, an administrator
/// and a finished, purged import (so that no reconciler sends work for it):
/// (organization, group, import).
async fn scratch_org(conn: &mut PgConnection) -> anyhow::Result<(i64, i64, String)> {
    let pass = uuid::Uuid::new_v4().simple().to_string();
    let org: i64 = sqlx::query_scalar(
        "INSERT INTO organizations (name, created_at) VALUES ($1, 0) RETURNING id",
    )
    .bind(format!("floor {pass}"))
    .fetch_one(&mut *conn)
    .await?;
    let group: i64 = sqlx::query_scalar(
        "INSERT INTO technician_groups (org_id, name, created_at) VALUES ($1, 'floor', 0) RETURNING id",
    )
    .bind(org)
    .fetch_one(&mut *conn)
    .await?;
    // An administrator's email is unique across organizations.
    let admin_email = format!("floor-{pass}@bench.test");
    let admin: i64 = sqlx::query_scalar(
        "INSERT INTO admins (org_id, email, email_key, role, token_hash, created_at) \
         VALUES ($1, $2, $2, 'master', $3, 0) RETURNING id",
    )
    .bind(org)
    .bind(&admin_email)
    .bind(&pass)
    .fetch_one(&mut *conn)
    .await?;
    let import = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO imports (id, org_id, admin_id, status, file_name, format, dry_run, on_existing, \
         upload_bytes, files_purged, enqueued_at, created_at) \
         VALUES ($1, $2, $3, 'completed', 'floor.csv', 'csv', 0, 'fail', 0, 1, 0, 0)",
    )
    .bind(&import)
    .bind(org)
    .bind(admin)
    .execute(&mut *conn)
    .await?;
    Ok((org, group, import))
}

/// `COPY` into the technicians' columns as an import writes them.
fn copy_technicians() -> String {
    format!(
        "COPY technicians (org_id, {}, import_id, created_at, updated_at) FROM STDIN",
        technician_column_list()
    )
}

/// Technicians as `COPY`'s text format (tab-separated, `\N` for NULL), as an
/// import writes them, or with no import for those that were there before.
fn technicians_text<'a>(
    org: i64,
    group: i64,
    import: Option<&str>,
    technicians: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> String {
    let import = import.unwrap_or("\\N");
    let mut text = String::new();
    for (name, email, hash) in technicians {
        let write = TechnicianWrite {
            row: 0,
            name: name.to_owned(),
            nickname: None,
            email: email.to_owned(),
            email_key: email_key(email),
            sso_id: None,
            description: None,
            password_hash: hash.to_owned(),
            enabled: true,
            standard_license: true,
            mobile_license: false,
            group_id: roster_shared::model::GroupId::new(group),
            must_change_password: true,
        };
        text.push_str(&format!("{org}\t"));
        write.copy_text(&mut text);
        text.push_str(&format!("{import}\t0\t0\n"));
    }
    text
}

/// `COPY` of the rows, already hashed, into `technicians`, then of their outcomes
/// into `import_rows`, each timed alone, in the world's own database (its own
/// organization). Both tables are emptied afterwards: each pass starts empty.
pub(crate) async fn copy_floor(
    url: &str,
    rows: &[Row],
    hashes: &Hashes,
) -> anyhow::Result<CopyFloor> {
    let mut conn = PgConnection::connect(url).await.context("PostgreSQL")?;
    let (org, group, import) = scratch_org(&mut conn).await?;
    let technicians = technicians_text(
        org,
        group,
        Some(&import),
        rows.iter()
            .enumerate()
            .map(|(i, r)| (r.name.as_str(), r.email.as_str(), hashes.get(i))),
    );
    let mut outcomes = String::new();
    for (i, row) in rows.iter().enumerate() {
        outcomes.push_str(&format!(
            "{import}\t{}\t{}\tcreated\t{}\t[]\n",
            i + 2,
            row.email,
            i + 1
        ));
    }
    let technicians = copy(
        &mut conn,
        &copy_technicians(),
        technicians.as_bytes(),
        rows.len(),
    )
    .await?;
    let outcomes = copy(
        &mut conn,
        "COPY import_rows (import_id, row_no, email, status, technician_id, errors) FROM STDIN",
        outcomes.as_bytes(),
        rows.len(),
    )
    .await?;
    empty(&mut conn).await?;
    conn.close().await?;
    Ok(CopyFloor {
        technicians,
        outcomes,
    })
}

/// The tables the floors and `--existing` fill, emptied (`scim_users` references
/// technicians: truncated with them; it is empty here).
async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("TRUNCATE technicians, import_rows, scim_users")
        .execute(conn)
        .await?;
    Ok(())
}

/// The update floor's two steps, each timed alone.
pub(crate) struct UpdateFloor {
    /// `COPY` of the rows into a table of their own.
    pub(crate) load: Duration,
    /// `UPDATE technicians ... FROM` that table, matched by email.
    pub(crate) update: Duration,
    pub(crate) updated: u64,
}

/// The floor of `on_existing=update`: an organization that holds `existing`
/// technicians with the file's emails (loaded by `COPY`, untimed, then
/// analyzed), the rows `COPY`-loaded into a table of their own (timed), then one
/// `UPDATE ... FROM` that table of every column an import's update writes
/// (timed), matched by the unique index on `(org_id, email_key)` as the
/// import's lookup is. Everything is emptied afterwards.
pub(crate) async fn update_floor(
    url: &str,
    rows: &[Row],
    hashes: &Hashes,
    existing: usize,
) -> anyhow::Result<UpdateFloor> {
    let mut conn = PgConnection::connect(url).await.context("PostgreSQL")?;
    let (org, group, _) = scratch_org(&mut conn).await?;
    load_existing(&mut conn, org, group, existing, true, hashes.get(0)).await?;
    sqlx::query(
        "CREATE TABLE bench_update_rows (name TEXT NOT NULL, email TEXT NOT NULL, \
         email_key TEXT NOT NULL, password_hash TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .await?;
    let mut text = String::new();
    for (i, row) in rows.iter().enumerate() {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            row.name,
            row.email,
            email_key(&row.email),
            hashes.get(i)
        ));
    }
    let (load, _) = copy(
        &mut conn,
        "COPY bench_update_rows FROM STDIN",
        text.as_bytes(),
        rows.len(),
    )
    .await?;
    drop(text);
    sqlx::query("ANALYZE bench_update_rows")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    let updated = sqlx::query(
        "UPDATE technicians t SET name = s.name, nickname = NULL, email = s.email, sso_id = NULL, \
         description = NULL, password_hash = s.password_hash, enabled = 1, standard_license = 1, \
         mobile_license = 0, group_id = $2, must_change_password = 1, updated_at = 1 \
         FROM bench_update_rows s WHERE t.org_id = $1 AND t.email_key = s.email_key",
    )
    .bind(org)
    .bind(group)
    .execute(&mut conn)
    .await?
    .rows_affected();
    let update = started.elapsed();
    sqlx::query("DROP TABLE bench_update_rows")
        .execute(&mut conn)
        .await?;
    empty(&mut conn).await?;
    conn.close().await?;
    Ok(UpdateFloor {
        load,
        update,
        updated,
    })
}

/// Gives organization `org` `n` technicians in `group` by `COPY`, then
/// `ANALYZE technicians` (as autovacuum would after such a load; it is off on
/// some servers): with `file_emails`, those of the generated rows
/// (`tech{i}@bench.test`, each row's match), else emails no row has. Returns
/// how long it took.
pub(crate) async fn load_existing(
    conn: &mut PgConnection,
    org: i64,
    group: i64,
    n: usize,
    file_emails: bool,
    hash: &str,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    if n == 0 {
        return Ok(started.elapsed());
    }
    let people: Vec<(String, String)> = (0..n)
        .map(|i| {
            let email = if file_emails {
                email(i)
            } else {
                format!("before{i}@bench.test")
            };
            (format!("Before {i}"), email)
        })
        .collect();
    let text = technicians_text(
        org,
        group,
        None,
        people.iter().map(|(n, e)| (n.as_str(), e.as_str(), hash)),
    );
    drop(people);
    copy(conn, &copy_technicians(), text.as_bytes(), n).await?;
    sqlx::query("ANALYZE technicians")
        .execute(&mut *conn)
        .await?;
    Ok(started.elapsed())
}

pub(crate) async fn copy(
    conn: &mut PgConnection,
    statement: &str,
    data: &[u8],
    rows: usize,
) -> anyhow::Result<(Duration, f64)> {
    let lsn = wal_position(conn).await?;
    let started = Instant::now();
    let mut copy = conn.copy_in_raw(statement).await?;
    for piece in data.chunks(1 << 20) {
        copy.send(piece).await?;
    }
    let copied = copy.finish().await?;
    let took = started.elapsed();
    ensure!(copied == rows as u64, "COPY wrote {copied} of {rows} rows");
    Ok((took, wal_since(conn, &lsn).await?))
}

/// Refreshes the planner's statistics of the tables an import grows, forever.
pub(crate) async fn analyze_every(mut conn: PgConnection, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = sqlx::query("ANALYZE technicians, import_rows")
            .execute(&mut conn)
            .await
        {
            println!("  (ANALYZE failed: {e})");
            return;
        }
    }
}

/// The server's current write-ahead log position.
pub(crate) async fn wal_position(conn: &mut PgConnection) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(conn)
        .await?)
}

/// Bytes of write-ahead log the server wrote since `lsn` (every database's: the
/// others on a shared server add to it).
pub(crate) async fn wal_since(conn: &mut PgConnection, lsn: &str) -> anyhow::Result<f64> {
    Ok(
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8")
            .bind(lsn)
            .fetch_one(conn)
            .await?,
    )
}
