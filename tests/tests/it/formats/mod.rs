//! Import files end to end, through the HTTP API as a user would: upload, poll,
//! read the per-row outcomes and the directory, download `result.xlsx`.
//!
//! The readers were unit-tested on files written by Python's csv module and
//! openpyxl (tests/fixtures); here every fixture goes the whole way, and small
//! files made inline cover the row rules, the result spreadsheet of each
//! format, the templates, hostile workbooks and format detection. Most tests
//! run on the embedded default (fast); a few on the cluster, where the worker
//! is a separate process.

use roster_tests::client::{Answer, error_pairs, read_xlsx, xlsx_parts};
use roster_tests::{Client, Mode, World, full_csv, strong_password};
use serde_json::{Value, json};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod detection;
mod fixtures;
mod hostile;
mod result;
mod rows;
mod templates;

const FINISH: Duration = Duration::from_secs(90);

const FULL: [&str; 10] = [
    "Name",
    "Nickname",
    "Email",
    "Single Sign-On ID",
    "Description",
    "Password",
    "Enabled",
    "Standard License",
    "Mobile License",
    "Tech Group ID",
];
const PASSWORD: usize = 5;
const RESULT: usize = 10;
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A world with a master administrator and groups 1..=`groups` (the fixtures'
/// Tech Group IDs are 7 and 42, so they must exist by those numbers).
async fn world_with_groups(mode: Mode, groups: i64) -> (World, Client) {
    let workers = usize::from(mode == Mode::Cluster);
    let world = World::start(mode, workers, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    for n in 1..=groups {
        let id = api.group(&format!("Group {n}"), None).await;
        assert_eq!(id, n, "group ids start at 1 in a fresh database");
    }
    (world, api)
}

/// Uploads a file (multipart) and waits for the import to finish.
async fn import(
    api: &Client,
    file_name: &str,
    bytes: Vec<u8>,
    fields: &[(&str, &str)],
) -> (String, Value) {
    let a = api.upload(file_name, bytes, fields).await;
    accepted(api, &a).await
}

/// The import an accepted upload started, once finished: its id and JSON.
async fn accepted(api: &Client, a: &Answer) -> (String, Value) {
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    (id, done)
}

/// Asserts the import completed, showing the worker's log when it did not.
fn assert_completed(world: &World, done: &Value) {
    assert_eq!(
        done["status"],
        "completed",
        "{done}\n{}",
        world.log("worker-0.log")
    );
}

/// The technician with this email (exact, case-insensitive), if any.
async fn technician(api: &Client, email: &str) -> Option<Value> {
    let a = api.get(&format!("/v1/technicians?email={email}")).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let items = a.json()["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() <= 1, "{items:?}");
    items.into_iter().next()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

/// `(row, status)` of every outcome.
fn statuses(rows: &[Value]) -> Vec<(i64, String)> {
    rows.iter()
        .map(|r| {
            (
                r["row"].as_i64().expect("row"),
                r["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn expect_statuses(rows: &[Value], expected: &[(i64, &str)]) {
    let expected: Vec<(i64, String)> = expected
        .iter()
        .map(|(r, s)| (*r, (*s).to_owned()))
        .collect();
    assert_eq!(statuses(rows), expected, "{rows:#?}");
}

/// The header row expected in a result: the uploaded columns, then `Result`.
fn with_result(columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .copied()
        .chain(["Result"])
        .map(str::to_owned)
        .collect()
}

/// A full-layout CSV from rows of ten cells (no cell may hold a comma or quote).
fn csv_of(rows: &[[&str; 10]]) -> Vec<u8> {
    let mut out = FULL.join(",");
    out.push_str("\r\n");
    for row in rows {
        assert!(row.iter().all(|c| !c.contains([',', '"'])), "{row:?}");
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The `Summary` sheet's value for `label`.
fn summary_value(summary: &[Vec<String>], label: &str) -> String {
    summary
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(label))
        .and_then(|r| r.get(1).cloned())
        .unwrap_or_else(|| panic!("no '{label}' in the summary: {summary:?}"))
}

fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in parts {
        zip.start_file(*name, options).expect("zip part");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

/// Downloads a finished import's result: its raw bytes, checked for what must
/// never be there (a formula, a password), and its two sheets.
async fn result_checked(
    api: &Client,
    id: &str,
    passwords: &[&str],
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let a = api.get(&format!("/v1/imports/{id}/result.xlsx")).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.headers["content-type"], XLSX_TYPE);
    for (name, xml) in xlsx_parts(&a.body, "") {
        assert!(
            !xml.contains("<f>") && !xml.contains("<f "),
            "{name} holds a formula"
        );
        for p in passwords {
            assert!(!xml.contains(p), "{name} holds a password");
        }
    }
    read_xlsx(&a.body)
}
