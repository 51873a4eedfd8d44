//! The end-to-end test harness. Each test gets its own world: a fresh PostgreSQL
//! database on the shared server, its own `redis-server` and `s3s-fs` on free
//! loopback ports (so it can also stop and restart them), and the real
//! `roster-api` / `roster-worker` binaries as child processes. Or, for the
//! embedded default, one `roster-api serve` with nothing but a data folder.
//!
//! Binaries are looked up beside the test executable (`cargo build --bins`
//! first; `scripts/test` does it).

pub mod browser;
pub mod client;
pub mod ldap;
pub mod scim;
pub mod services;
pub mod session;

pub use client::Client;
pub use services::{Mode, World};

use std::time::{Duration, Instant};

/// A scenario that holds on both deployments, as two tests:
/// `both_modes!(scenario: embedded_test, cluster_test);` runs
/// `scenario(Mode::Embedded)` as the test `embedded_test` and
/// `scenario(Mode::Cluster)` as `cluster_test`, so each deployment passes or
/// fails on its own.
#[macro_export]
macro_rules! both_modes {
    ($scenario:ident: $embedded:ident, $cluster:ident) => {
        #[tokio::test]
        async fn $embedded() {
            $scenario($crate::Mode::Embedded).await;
        }

        #[tokio::test]
        async fn $cluster() {
            $scenario($crate::Mode::Cluster).await;
        }
    };
}

/// Polls `check` until it returns `Some`, or panics after `timeout` saying `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A CSV in the full layout from `(name, email, password, group)` rows.
pub fn full_csv(rows: &[(&str, &str, &str, i64)]) -> String {
    let mut out = String::from(
        "Name,Nickname,Email,Single Sign-On ID,Description,Password,Enabled,Standard License,Mobile License,Tech Group ID\n",
    );
    for (name, email, password, group) in rows {
        out.push_str(&format!(
            "{name},,{email},,,{password},Yes,Yes,No,{group}\n"
        ));
    }
    out
}

/// A full-layout CSV of `n` rows that import cleanly: `{prefix}{i}@acme.test`,
/// each with its own strong password, all in `group`.
pub fn good_rows(prefix: &str, n: usize, group: i64) -> String {
    let emails: Vec<String> = (0..n).map(|i| format!("{prefix}{i}@acme.test")).collect();
    let passwords: Vec<String> = (0..n).map(strong_password).collect();
    let rows: Vec<(&str, &str, &str, i64)> = (0..n)
        .map(|i| {
            (
                "Tech Name",
                emails[i].as_str(),
                passwords[i].as_str(),
                group,
            )
        })
        .collect();
    full_csv(&rows)
}

/// Whether `needle` occurs in `haystack` (a database dump, a log, a file).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A password that passes the default policy, different for each `i`.
pub fn strong_password(i: usize) -> String {
    format!("Plum-Orbit-{i}-Cactus!")
}
