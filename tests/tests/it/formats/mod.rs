//! Import files end to end, through the HTTP API as a user would: upload, poll,
//! read the per-row outcomes and the directory, download `result.xlsx`.
//!
//! The readers were unit-tested on files written by Python's csv module and
//! openpyxl (tests/fixtures); here every fixture goes the whole way, and small
//! files made inline cover the row rules, the result spreadsheet of each
//! format, the templates, hostile workbooks and format detection. Most tests
//! run on the embedded default (fast); a few on the cluster, where the worker
//! is a separate process.

use roster_tests::client::{Answer, read_xlsx};
use roster_tests::{Client, Mode, World, full_csv, strong_password};
use serde_json::{Value, json};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

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

// ---------------------------------------------------------------- helpers

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

/// `(field, code)` of each error of a row outcome.
fn codes(row: &Value) -> Vec<(String, String)> {
    row["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_owned(),
                        e["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
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

/// Every part of a zip (xlsx) as text.
fn zip_parts(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| {
            let mut part = archive.by_index(i).expect("part");
            let mut text = String::new();
            part.read_to_string(&mut text).expect("a text part");
            let name = part.name().expect("a part name").into_owned();
            (name, text)
        })
        .collect()
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
    for (name, xml) in zip_parts(&a.body) {
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

// ------------------------------------------------------- fixtures: CSV

const ANA: [&str; 10] = [
    "Ana Silva",
    "ana",
    "ana.silva@example.com",
    "ana-sso",
    "Tier 1, EMEA",
    "S3cure!Passw0rd",
    "Yes",
    "Yes",
    "No",
    "42",
];

/// Bob's password in the fixtures, `An0ther$ecret`, is too weak for the
/// default policy (zxcvbn sees "another secret"): his rows fail with that.
const BOB_WEAK: &str = "Error: Password: too weak (strength 1 of 4, needs 2)";

/// The three full-layout CSV fixtures that hold Ana and Bob in group 42.
async fn full_csv_fixture_imports(name: &str) {
    let (_world, api) = world_with_groups(Mode::Embedded, 42).await;
    let (id, done) = import(&api, name, fixture(name), &[]).await;
    assert_eq!(done["status"], "completed", "{name}: {done}");
    assert_eq!(done["format"], "csv");
    assert_eq!(done["total_rows"], 2);
    assert_eq!(done["counts"]["created"], 1, "{done}");
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "created"), (3, "failed")]);
    assert_eq!(codes(&rows[1]), pairs(&[("Password", "weak_password")]));

    let ana = technician(&api, "Ana.Silva@example.com")
        .await
        .expect("Ana");
    assert_eq!(ana["name"], "Ana Silva");
    assert_eq!(ana["nickname"], "ana");
    assert_eq!(ana["email"], "ana.silva@example.com");
    assert_eq!(ana["sso_id"], "ana-sso");
    assert_eq!(ana["description"], "Tier 1, EMEA");
    assert_eq!(
        (
            &ana["enabled"],
            &ana["standard_license"],
            &ana["mobile_license"]
        ),
        (&json!(true), &json!(true), &json!(false))
    );
    assert_eq!(ana["group_id"], 42);
    assert_eq!(ana["import_id"], id.as_str());
    assert_eq!(rows[0]["technician_id"], ana["id"]);
    assert!(technician(&api, "bob@example.com").await.is_none());

    let (sheet, summary) = result_checked(&api, &id, &["S3cure!Passw0rd", "An0ther$ecret"]).await;
    assert_eq!(sheet[0], with_result(&FULL), "{name}");
    let mut expected: Vec<String> = ANA.iter().map(|c| (*c).to_owned()).collect();
    expected[PASSWORD] = String::new();
    expected.push("Success".into());
    assert_eq!(sheet[1], expected, "{name}");
    assert_eq!(
        sheet[2],
        [
            "Bob Stone",
            "",
            "bob@example.com",
            "",
            "",
            "",
            "No",
            "Yes",
            "Yes",
            "42",
            BOB_WEAK
        ]
    );
    assert_eq!(sheet.len(), 3);
    assert_eq!(summary_value(&summary, "Created"), "1");
    assert_eq!(summary_value(&summary, "Failed"), "1");
}

#[tokio::test]
async fn embedded_comma_utf8_csv_fixture_imports() {
    full_csv_fixture_imports("full_comma_utf8.csv").await;
}

#[tokio::test]
async fn embedded_semicolon_bom_csv_fixture_imports() {
    full_csv_fixture_imports("full_semicolon_bom.csv").await;
}

#[tokio::test]
async fn embedded_tab_utf16le_fixture_imports() {
    full_csv_fixture_imports("full_tab_utf16le.txt").await;
}

#[tokio::test]
async fn embedded_cp1252_short_and_bad_header_fixtures() {
    let (_world, api) = world_with_groups(Mode::Embedded, 42).await;

    // Windows-1252: the accents and the euro sign are stored as the letters they are.
    let (id, done) = import(&api, "legacy.csv", fixture("full_cp1252.csv"), &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["counts"]["created"],
        1,
        "{:?}",
        api.all_rows(&id).await
    );
    let jose = technician(&api, "JOSE@example.com").await.expect("José");
    assert_eq!(jose["name"], "José Müller");
    assert_eq!(jose["nickname"], "Zoë");
    assert_eq!(jose["description"], "Prix: 5 €");
    assert_eq!(jose["group_id"], 7);
    let (sheet, _) = result_checked(&api, &id, &["Pa$$w0rd-Ünïcode"]).await;
    assert_eq!(sheet[1][0], "José Müller");
    assert_eq!(sheet[1][4], "Prix: 5 €");

    // The short layout without a global group: refused at upload or failed, with group_required.
    let a = api.upload("short.csv", fixture("short.csv"), &[]).await;
    match a.status {
        422 => assert_eq!(a.json()["code"], "group_required"),
        202 => {
            let (_, done) = accepted(&api, &a).await;
            assert_eq!(done["status"], "failed", "{done}");
            assert_eq!(done["error"]["code"], "group_required");
        }
        other => panic!("short layout without group_id: {other}"),
    }
    assert!(technician(&api, "dana@example.com").await.is_none());

    // With one: Enabled and Standard License default to yes, Mobile License to no.
    let (id, done) = import(
        &api,
        "short.csv",
        fixture("short.csv"),
        &[("group_id", "5")],
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["group_id"], 5);
    assert_eq!(
        done["counts"]["created"],
        2,
        "{:?}",
        api.all_rows(&id).await
    );
    let eve = technician(&api, "eve@example.com").await.expect("Eve");
    assert_eq!(eve["name"], "Eve Moss", "values are trimmed");
    assert_eq!(eve["email"], "eve@example.com");
    assert_eq!(eve["group_id"], 5);
    assert_eq!(
        (
            &eve["enabled"],
            &eve["standard_license"],
            &eve["mobile_license"]
        ),
        (&json!(true), &json!(true), &json!(false))
    );
    let (sheet, _) = result_checked(&api, &id, &["Secret-Pass-99", "Another-Pass-42"]).await;
    assert_eq!(sheet[0], with_result(&["Name", "Email", "Password"]));
    assert_eq!(sheet[2], ["Eve Moss", "eve@example.com", "", "Success"]);

    // A misspelt column fails the whole import, naming the column.
    let (id, done) = import(&api, "bad.csv", fixture("bad_header.csv"), &[]).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "bad_header");
    let message = done["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("column 3") && message.contains("'E-mail'"),
        "{message}"
    );
    assert!(message.contains("'Email'"), "{message}");
    assert!(api.all_rows(&id).await.is_empty());
    assert!(technician(&api, "ana.silva@example.com").await.is_none());
}

#[tokio::test]
async fn embedded_quoted_newline_rows_are_numbered_as_a_spreadsheet_shows_them() {
    let (_world, api) = world_with_groups(Mode::Embedded, 42).await;
    let (id, done) = import(&api, "multi.csv", fixture("quoted_newline.csv"), &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["total_rows"], 3);
    assert_eq!(done["counts"]["created"], 2);
    // Bob on row 2, Ana on row 3 (two lines), a blank line 4 and an empty record 5, Carl on 6.
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "failed"), (3, "created"), (6, "created")]);
    assert_eq!(rows[2]["email"], "carl@example.com");
    let ana = technician(&api, "ana.silva@example.com")
        .await
        .expect("Ana");
    assert_eq!(ana["description"], "first line\nsecond line");
    let (sheet, _) = result_checked(&api, &id, &[]).await;
    assert_eq!(sheet[1][RESULT], BOB_WEAK);
    assert_eq!(sheet[2][4], "first line\nsecond line");
    assert_eq!(sheet[2][RESULT], "Success");
    assert_eq!(sheet[3][0], "Carl Young");
}

// ------------------------------------------------------ fixtures: xlsx

#[tokio::test]
async fn embedded_xlsx_fixtures_import_as_a_person_sees_them() {
    let (_world, api) = world_with_groups(Mode::Embedded, 42).await;
    let (id, done) = import(&api, "people.xlsx", fixture("full.xlsx"), &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["format"], "xlsx");
    assert_eq!(done["total_rows"], 3);
    // Row 3 is wholly empty: skipped, but its number kept.
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "created"), (4, "failed"), (5, "failed")]);
    assert_eq!(
        codes(&rows[2]),
        pairs(&[("Tech Group ID", "invalid_group")]),
        "42.5 is no group id"
    );

    let ana = technician(&api, "ana.silva@example.com")
        .await
        .expect("Ana");
    assert_eq!(ana["sso_id"], "12345678901234", "a long number, as shown");
    assert_eq!(ana["description"], "2024-03-01", "a date, as shown");
    assert_eq!(ana["enabled"], true, "a boolean cell");
    assert_eq!(ana["mobile_license"], false);
    assert_eq!(ana["group_id"], 42, "a number cell");
    assert!(technician(&api, "bob@example.com").await.is_none());

    let (sheet, summary) = result_checked(&api, &id, &["S3cure!Passw0rd", "Pw-12345678!"]).await;
    assert_eq!(sheet[0], with_result(&FULL));
    assert_eq!(sheet.len(), 4);
    assert_eq!(sheet[1][9], "42", "never 42.0");
    assert_eq!(
        (sheet[1][6].as_str(), sheet[1][8].as_str()),
        ("TRUE", "FALSE")
    );
    assert_eq!(sheet[1][3], "12345678901234");
    assert_eq!(sheet[2][4], "0.3", "0.1 + 0.2 as Excel shows it");
    assert_eq!(sheet[2][RESULT], BOB_WEAK);
    assert_eq!(sheet[3][4], "2024-03-01T14:30:00");
    assert_eq!(sheet[3][9], "42.5");
    assert_eq!(
        sheet[3][RESULT],
        "Error: Tech Group ID: '42.5' is not a group id (a positive whole number)"
    );
    assert_eq!(summary_value(&summary, "Failed"), "2");

    // The short layout, its header in other case and with spaces.
    let (id, done) = import(
        &api,
        "short.xlsx",
        fixture("short.xlsx"),
        &[("group_id", "3")],
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], 2);
    assert_eq!(
        technician(&api, "dana@example.com").await.expect("Dana")["group_id"],
        3
    );
    let (sheet, _) = result_checked(&api, &id, &["Secret-Pass-99"]).await;
    assert_eq!(sheet[0], with_result(&["name", "EMAIL", "Password"]));
    assert_eq!(sheet[1], ["Dana Park", "dana@example.com", "", "Success"]);
}

// ------------------------------------------------------ fixtures: JSON

#[tokio::test]
async fn embedded_json_array_with_snake_case_keys_imports() {
    let (_world, api) = world_with_groups(Mode::Embedded, 42).await;
    let (id, done) = import(&api, "people.json", fixture("array_snake.json"), &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["format"], "json");
    expect_statuses(&api.all_rows(&id).await, &[(2, "created"), (3, "failed")]);
    let ana = technician(&api, "ana.silva@example.com")
        .await
        .expect("Ana");
    assert_eq!(
        (&ana["sso_id"], &ana["group_id"]),
        (&json!("ana-sso"), &json!(42))
    );
    // JSON has no header row: the result has the full layout's columns.
    let (sheet, _) = result_checked(&api, &id, &["S3cure!Passw0rd"]).await;
    assert_eq!(sheet[0], with_result(&FULL));
    assert_eq!(sheet[1][2], "ana.silva@example.com");
    assert_eq!(sheet[1][4], "Tier 1, EMEA");
    assert_eq!(sheet[1][RESULT], "Success");
    assert_eq!(sheet[2][RESULT], BOB_WEAK);
}

#[tokio::test]
async fn cluster_json_object_with_column_names_and_an_unknown_key() {
    let (world, api) = world_with_groups(Mode::Cluster, 42).await;
    let (id, done) = import(&api, "people.json", fixture("technicians_object.json"), &[]).await;
    assert_completed(&world, &done);
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "created"), (3, "failed")]);
    // Every problem of the row: the reader's, then the rules'.
    assert_eq!(
        codes(&rows[1]),
        pairs(&[("color", "unknown_field"), ("Password", "weak_password")])
    );
    assert_eq!(rows[1]["email"], "bob@example.com");
    let ana = technician(&api, "ana.silva@example.com")
        .await
        .expect("Ana");
    assert_eq!(ana["nickname"], Value::Null, "JSON null is empty");
    assert_eq!(
        (&ana["enabled"], &ana["mobile_license"]),
        (&json!(true), &json!(false))
    );
    assert!(technician(&api, "bob@example.com").await.is_none());
    let (sheet, _) = result_checked(&api, &id, &["S3cure!Passw0rd", "An0ther$ecret"]).await;
    assert_eq!(sheet[0], with_result(&FULL));
    assert_eq!(sheet[1][6], "Yes", "JSON true shows as Yes");
    assert_eq!(
        sheet[2][RESULT],
        "Error: color: is not a column of the full layout; \
         Password: too weak (strength 1 of 4, needs 2)"
    );
}

/// A NUL character (JSON `\u0000`) can't be stored in a PostgreSQL text column:
/// the row fails with `invalid_character`, its outcome still quotes the email,
/// and the rows around it are created: the NUL never reaches PostgreSQL,
/// which would refuse the whole batch's insert.
#[tokio::test]
async fn cluster_a_nul_character_is_a_row_error_not_a_stuck_chunk() {
    let (world, api) = world_with_groups(Mode::Cluster, 1).await;
    let row = |name: &str, email: &str, n: usize| {
        json!({"name": name, "email": email, "password": strong_password(n),
               "enabled": true, "standard_license": true, "mobile_license": false,
               "tech_group_id": 1})
    };
    let file = json!([
        row("Ana", "ana@nul.test", 1),
        row("Bad\u{0}Name", "bad\u{0}@nul.test", 2),
        row("Bo", "bo@nul.test", 3),
    ]);
    let (id, done) = import(&api, "nul.json", file.to_string().into_bytes(), &[]).await;
    assert_completed(&world, &done);
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "created"), (3, "failed"), (4, "created")]);
    let problems = codes(&rows[1]);
    assert!(
        problems.contains(&("Name".to_owned(), "invalid_character".to_owned())),
        "{problems:?}"
    );
    assert_eq!(rows[1]["email"], "bad\u{FFFD}@nul.test");
    assert!(technician(&api, "bo@nul.test").await.is_some());
}

// ------------------------------------------------ the result spreadsheet

#[tokio::test]
async fn embedded_the_result_spreadsheet_of_every_format() {
    let (_world, api) = world_with_groups(Mode::Embedded, 2).await;
    let secret = "Quasar-Lantern-Ferry-81";

    // CSV: the uploaded columns plus Result; a formula-like value stays text.
    let csv = csv_of(&[
        [
            "=1+1",
            "calc",
            "calc@acme.test",
            "",
            "",
            secret,
            "Yes",
            "Yes",
            "No",
            "2",
        ],
        [
            "Bad Row",
            "",
            "bad@acme.test",
            "",
            "",
            secret,
            "maybe",
            "Yes",
            "No",
            "2",
        ],
    ]);
    let (id, done) = import(&api, "people.csv", csv, &[]).await;
    assert_eq!(done["counts"]["created"], 1, "{done}");
    assert_eq!(
        technician(&api, "calc@acme.test").await.unwrap()["name"],
        "=1+1"
    );
    let (sheet, summary) = result_checked(&api, &id, &[secret]).await;
    assert_eq!(sheet[0], with_result(&FULL));
    assert_eq!(sheet[1][0], "=1+1");
    assert_eq!(sheet[1][PASSWORD], "");
    assert_eq!(sheet[2][PASSWORD], "");
    assert_eq!(sheet[2][RESULT], "Error: Enabled: 'maybe' is not yes or no");
    assert_eq!(summary_value(&summary, "Total rows"), "2");
    assert_eq!(summary_value(&summary, "Created"), "1");
    assert_eq!(summary_value(&summary, "Failed"), "1");
    assert_eq!(summary_value(&summary, "File"), "people.csv");

    // JSON: the full layout's columns, whichever keys the file used.
    let body = json!([
        {"name": "=1+1", "email": "json@acme.test", "password": secret, "enabled": true,
         "standard_license": "yes", "mobile_license": false, "tech_group_id": 2},
    ]);
    let (id, done) = import(&api, "people.json", body.to_string().into_bytes(), &[]).await;
    assert_eq!(done["counts"]["created"], 1, "{done}");
    let (sheet, summary) = result_checked(&api, &id, &[secret]).await;
    assert_eq!(sheet[0], with_result(&FULL));
    assert_eq!(
        sheet[1],
        [
            "=1+1",
            "",
            "json@acme.test",
            "",
            "",
            "",
            "Yes",
            "yes",
            "No",
            "2",
            "Success"
        ]
    );
    assert_eq!(summary_value(&summary, "Created"), "1");

    // xlsx: made here with rust_xlsxwriter; numbers and formula-like text.
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    for (c, name) in (0..).zip(FULL) {
        ws.write_string(0, c, name).unwrap();
    }
    let cells = [
        "=1+1",
        "",
        "xlsx@acme.test",
        "",
        "=HYPERLINK(\"http://x\")",
        secret,
        "Yes",
        "Yes",
        "No",
    ];
    for (c, value) in (0..).zip(cells) {
        ws.write_string(1, c, value).unwrap();
    }
    ws.write_number(1, 9, 2.0).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let (id, done) = import(&api, "people.xlsx", bytes, &[]).await;
    assert_eq!(
        done["counts"]["created"],
        1,
        "{done} {:?}",
        api.all_rows(&id).await
    );
    let (sheet, summary) = result_checked(&api, &id, &[secret]).await;
    assert_eq!(sheet[0], with_result(&FULL));
    assert_eq!(
        sheet[1],
        [
            "=1+1",
            "",
            "xlsx@acme.test",
            "",
            "=HYPERLINK(\"http://x\")",
            "",
            "Yes",
            "Yes",
            "No",
            "2",
            "Success"
        ]
    );
    assert_eq!(summary_value(&summary, "Created"), "1");
    assert_eq!(summary_value(&summary, "Dry run"), "No");
}

/// LibreOffice reads the result spreadsheet: the Result column survives and
/// text that looks like a formula is not evaluated.
#[tokio::test]
async fn embedded_libreoffice_reads_the_result_spreadsheet() {
    let Some(soffice) = find_on_path("soffice") else {
        eprintln!(
            "SKIPPED: soffice (LibreOffice) is not installed; scripts/test installs libreoffice-calc-nogui"
        );
        return;
    };
    let (_world, api) = world_with_groups(Mode::Embedded, 1).await;
    let csv = csv_of(&[
        [
            "=1+1",
            "",
            "calc@acme.test",
            "",
            "",
            &strong_password(1),
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "Weak Pass",
            "",
            "weak@acme.test",
            "",
            "",
            "abc",
            "maybe",
            "Yes",
            "No",
            "1",
        ],
    ]);
    let (id, done) = import(&api, "people.csv", csv, &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let a = api.get(&format!("/v1/imports/{id}/result.xlsx")).await;
    assert_eq!(a.status, 200);

    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("people-result.xlsx");
    std::fs::write(&xlsx, &a.body).unwrap();
    // Its own profile folder, so parallel runs never share LibreOffice's lock.
    let profile = format!(
        "-env:UserInstallation=file://{}",
        dir.path().join("profile").display()
    );
    let run = tokio::process::Command::new(&soffice)
        .arg(profile)
        .args([
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1",
            "--outdir",
        ])
        .arg(dir.path())
        .arg(&xlsx)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("soffice finishes within 90 s")
        .expect("soffice runs");
    let converted = dir.path().join("people-result.csv");
    assert!(
        out.status.success() && converted.exists(),
        "soffice: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&converted)
        .unwrap();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows[0], with_result(&FULL));
    assert_eq!(rows[1][0], "=1+1", "text, not a formula evaluated to 2");
    assert_eq!(rows[1][RESULT], "Success");
    assert_eq!(
        rows[2][RESULT],
        "Error: Password: must be at least 8 characters; Enabled: 'maybe' is not yes or no"
    );
    assert!(rows.iter().skip(1).all(|r| r[PASSWORD].is_empty()));
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

// ------------------------------------------------------------ row rules

#[tokio::test]
async fn embedded_row_rules_report_stable_codes_and_every_problem() {
    let (_world, api) = world_with_groups(Mode::Embedded, 1).await;
    let ok = strong_password(0);
    let long_name = "N".repeat(129);
    let csv = csv_of(&[
        [
            "Ana Valid",
            "",
            "ana@acme.test",
            "",
            "",
            &ok,
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "",
            "",
            "noname@acme.test",
            "",
            "",
            &ok,
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            &long_name,
            "",
            "long@acme.test",
            "",
            "",
            &ok,
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "Bad Email",
            "",
            "not-an-email",
            "",
            "",
            &ok,
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "Many Problems",
            "",
            "many@acme.test",
            "",
            "",
            "abc",
            "maybe",
            "Yes",
            "No",
            "1",
        ],
        [
            "Ana Twin",
            "",
            "ANA@Acme.test",
            "",
            "",
            &ok,
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "Flag Wrong",
            "",
            "flag@acme.test",
            "",
            "",
            &ok,
            "Yes",
            "Yes",
            "perhaps",
            "1",
        ],
        [
            "No Group",
            "",
            "nogroup@acme.test",
            "",
            "",
            &ok,
            "Yes",
            "Yes",
            "No",
            "77",
        ],
    ]);
    let (id, done) = import(&api, "rules.csv", csv, &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], 1);
    assert_eq!(done["failed_rows"], 7);
    let rows = api.all_rows(&id).await;
    let expected: [(&[(&str, &str)], &str); 8] = [
        (&[], "created"),
        (&[("Name", "required")], "failed"),
        (&[("Name", "too_long")], "failed"),
        (&[("Email", "invalid_email")], "failed"),
        (
            &[
                ("Password", "weak_password"),
                ("Enabled", "invalid_boolean"),
            ],
            "failed",
        ),
        (&[("Email", "duplicate_in_file")], "failed"),
        (&[("Mobile License", "invalid_boolean")], "failed"),
        (&[("Tech Group ID", "unknown_group")], "failed"),
    ];
    assert_eq!(rows.len(), expected.len());
    for (n, (row, (errors, status))) in rows.iter().zip(expected).enumerate() {
        assert_eq!(row["row"], n as i64 + 2);
        assert_eq!(row["status"], status, "{row}");
        assert_eq!(codes(row), pairs(errors), "{row}");
    }
    // The later row of a duplicate names the earlier one.
    let twin = rows[5]["errors"][0]["message"].as_str().unwrap();
    assert!(twin.contains("row 2"), "{twin}");
    assert_eq!(
        technician(&api, "ana@acme.test").await.unwrap()["name"],
        "Ana Valid"
    );

    let (sheet, _) = result_checked(&api, &id, &[&ok]).await;
    let results: Vec<&str> = sheet[1..].iter().map(|r| r[RESULT].as_str()).collect();
    assert_eq!(results[0], "Success");
    assert_eq!(results[1], "Error: Name: is required");
    assert_eq!(
        results[2],
        "Error: Name: must be at most 128 characters (has 129)"
    );
    assert_eq!(
        results[3],
        "Error: Email: 'not-an-email' is not a valid email address"
    );
    assert_eq!(
        results[4],
        "Error: Password: must be at least 8 characters; Enabled: 'maybe' is not yes or no"
    );
    assert_eq!(
        results[5],
        "Error: Email: 'ANA@Acme.test' already appears in row 2"
    );
    assert_eq!(
        results[6],
        "Error: Mobile License: 'perhaps' is not yes or no"
    );
    assert!(
        results[7].starts_with("Error: Tech Group ID: "),
        "{}",
        results[7]
    );
}

async fn existing_emails_fail_skip_or_update(mode: Mode) {
    let (world, api) = world_with_groups(mode, 2).await;
    let first = csv_of(&[[
        "Ana One",
        "a1",
        "ana@acme.test",
        "",
        "",
        &strong_password(1),
        "Yes",
        "Yes",
        "No",
        "1",
    ]]);
    let (_, done) = import(&api, "first.csv", first, &[]).await;
    assert_eq!(
        done["counts"]["created"],
        1,
        "{done}\n{}",
        world.log("api.log")
    );
    let before = technician(&api, "ana@acme.test").await.unwrap();

    let again = csv_of(&[
        [
            "Ana Two",
            "a2",
            "ANA@acme.test",
            "sso-2",
            "moved",
            &strong_password(2),
            "No",
            "Yes",
            "Yes",
            "2",
        ],
        [
            "Bo New",
            "",
            "bo@acme.test",
            "",
            "",
            &strong_password(3),
            "Yes",
            "Yes",
            "No",
            "2",
        ],
    ]);
    // fail (the default): email_taken.
    let (id, done) = import(&api, "again.csv", again.clone(), &[]).await;
    assert_eq!(done["on_existing"], "fail");
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "failed"), (3, "created")]);
    assert_eq!(codes(&rows[0]), pairs(&[("Email", "email_taken")]));
    let (sheet, _) = result_checked(&api, &id, &[]).await;
    assert!(
        sheet[1][RESULT].starts_with("Error: Email: "),
        "{:?}",
        sheet[1]
    );

    // skip: Skipped, nothing changes.
    let (id, done) = import(&api, "again.csv", again.clone(), &[("on_existing", "skip")]).await;
    assert_eq!(
        done["counts"]["skipped"], 2,
        "Ana, and Bo created just before: {done}"
    );
    assert_eq!(done["succeeded_rows"], 2);
    let rows = api.all_rows(&id).await;
    assert_eq!(rows[0]["status"], "skipped");
    assert_eq!(rows[0]["technician_id"], before["id"]);
    let (sheet, _) = result_checked(&api, &id, &[]).await;
    assert!(sheet[1][RESULT].starts_with("Skipped: "), "{:?}", sheet[1]);
    assert_eq!(
        technician(&api, "ana@acme.test").await.unwrap()["name"],
        "Ana One"
    );

    // update: Updated, and every field takes the row's value.
    let (id, done) = import(&api, "again.csv", again, &[("on_existing", "update")]).await;
    assert_eq!(done["counts"]["updated"], 2, "{done}");
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "updated"), (3, "updated")]);
    let (sheet, _) = result_checked(&api, &id, &[]).await;
    assert_eq!(sheet[1][RESULT], "Updated");
    let after = technician(&api, "ana@acme.test").await.unwrap();
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["name"], "Ana Two");
    assert_eq!(after["nickname"], "a2");
    assert_eq!(after["sso_id"], "sso-2");
    assert_eq!(after["description"], "moved");
    assert_eq!(after["group_id"], 2);
    assert_eq!(
        (&after["enabled"], &after["mobile_license"]),
        (&json!(false), &json!(true))
    );
    // The row matched by email, case-insensitively: it is the same technician.
    assert_eq!(
        after["email"].as_str().unwrap().to_lowercase(),
        "ana@acme.test"
    );
}

#[tokio::test]
async fn cluster_existing_emails_fail_skip_or_update() {
    existing_emails_fail_skip_or_update(Mode::Cluster).await;
}

#[tokio::test]
async fn embedded_existing_emails_fail_skip_or_update() {
    existing_emails_fail_skip_or_update(Mode::Embedded).await;
}

#[tokio::test]
async fn embedded_the_organizations_settings_apply_to_imports() {
    let (_world, api) = world_with_groups(Mode::Embedded, 1).await;

    // A longer minimum password.
    let a = api
        .patch(
            "/v1/settings",
            json!({"password_policy": {"min_length": 12}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["password_policy"]["min_length"], 12);
    assert_eq!(
        a.json()["password_policy"]["min_strength"],
        2,
        "the rest stays"
    );
    let csv = csv_of(&[
        [
            "Short Pass",
            "",
            "short@acme.test",
            "",
            "",
            "Xq7#pL9!vBz",
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "Long Pass",
            "",
            "long@acme.test",
            "",
            "",
            &strong_password(1),
            "Yes",
            "Yes",
            "No",
            "1",
        ],
    ]);
    let (id, done) = import(&api, "policy.csv", csv, &[]).await;
    assert_eq!(done["counts"]["created"], 1, "{done}");
    let rows = api.all_rows(&id).await;
    assert_eq!(codes(&rows[0]), pairs(&[("Password", "weak_password")]));
    let message = rows[0]["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("12"), "{message}");
    assert!(!message.contains("Xq7#pL9!vBz"));

    // A row limit of 3: four rows fail the file, three pass.
    let a = api
        .patch("/v1/settings", json!({"max_rows_per_file": 3}))
        .await;
    assert_eq!(a.status, 200);
    let rows: Vec<(String, String)> = (0..4)
        .map(|i| (format!("Tech {i}"), format!("tech{i}@acme.test")))
        .collect();
    let password = strong_password(7);
    let four: Vec<(&str, &str, &str, i64)> = rows
        .iter()
        .map(|(n, e)| (n.as_str(), e.as_str(), password.as_str(), 1))
        .collect();
    let (id, done) = import(&api, "four.csv", full_csv(&four).into_bytes(), &[]).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "too_many_rows");
    assert!(api.all_rows(&id).await.is_empty());
    assert!(
        technician(&api, "tech0@acme.test").await.is_none(),
        "nothing was created"
    );
    let (_, done) = import(&api, "three.csv", full_csv(&four[..3]).into_bytes(), &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], 3);
}

#[tokio::test]
async fn embedded_a_global_group_overrides_rows_and_a_dry_run_creates_nothing() {
    let (_world, api) = world_with_groups(Mode::Embedded, 2).await;
    let p = strong_password(4);
    let csv = csv_of(&[
        [
            "In One",
            "",
            "one@acme.test",
            "",
            "",
            &p,
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "In Nowhere",
            "",
            "nowhere@acme.test",
            "",
            "",
            &p,
            "Yes",
            "Yes",
            "No",
            "999",
        ],
        [
            "No Number",
            "",
            "nonumber@acme.test",
            "",
            "",
            &p,
            "Yes",
            "Yes",
            "No",
            "abc",
        ],
    ]);

    // A dry run validates against the directory, creates nothing, and still has a result.
    let (id, done) = import(&api, "groups.csv", csv.clone(), &[("dry_run", "true")]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["dry_run"], true);
    assert_eq!(done["counts"]["valid"], 1, "{done}");
    assert_eq!(done["counts"]["failed"], 2);
    assert_eq!(done["succeeded_rows"], 1);
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "valid"), (3, "failed"), (4, "failed")]);
    assert_eq!(
        codes(&rows[1]),
        pairs(&[("Tech Group ID", "unknown_group")])
    );
    assert_eq!(
        codes(&rows[2]),
        pairs(&[("Tech Group ID", "invalid_group")])
    );
    let (sheet, summary) = result_checked(&api, &id, &[&p]).await;
    assert_eq!(sheet[1][RESULT], "Valid");
    assert_eq!(summary_value(&summary, "Valid"), "1");
    assert_eq!(summary_value(&summary, "Dry run"), "Yes");
    assert!(
        technician(&api, "one@acme.test").await.is_none(),
        "a dry run creates nothing"
    );

    // The global group: every row goes there, the file's Tech Group IDs are ignored.
    let (id, done) = import(&api, "groups.csv", csv, &[("group_id", "2")]).await;
    assert_eq!(
        done["counts"]["created"],
        3,
        "{done} {:?}",
        api.all_rows(&id).await
    );
    for email in ["one@acme.test", "nowhere@acme.test", "nonumber@acme.test"] {
        assert_eq!(
            technician(&api, email).await.unwrap()["group_id"],
            2,
            "{email}"
        );
    }
}

// ------------------------------------------------------------ templates

#[tokio::test]
async fn embedded_every_template_imports_once_its_example_row_is_edited() {
    let (_world, api) = world_with_groups(Mode::Embedded, 2).await;
    let anonymous = api.with_token("");
    let group = 2; // the example row says group 1; ours is group 2

    for (file, content_type) in [
        ("technicians.csv", "text/csv"),
        ("technicians.json", "application/json"),
        ("technicians.xlsx", XLSX_TYPE),
    ] {
        let a = anonymous.get(&format!("/v1/templates/{file}")).await;
        assert_eq!(a.status, 200, "{file}");
        let declared = a.headers["content-type"].to_str().unwrap();
        assert!(declared.starts_with(content_type), "{file}: {declared}");
        assert_eq!(
            a.headers["content-disposition"],
            format!("attachment; filename=\"{file}\"")
        );
        let (stem, ext) = file.rsplit_once('.').unwrap();
        let email = format!("{ext}@acme.test");
        let edited = match ext {
            "csv" => edit_text(
                &a.body,
                &[("ana@example.com", &email), (",1\r\n", ",2\r\n")],
            ),
            "json" => edit_text(
                &a.body,
                &[
                    ("ana@example.com", &email),
                    ("\"tech_group_id\": 1", "\"tech_group_id\": 2"),
                ],
            ),
            _ => edit_xlsx(
                &a.body,
                &[
                    ("<t>ana@example.com</t>", &format!("<t>{email}</t>")),
                    ("<t>1</t>", "<t>2</t>"),
                ],
            ),
        };
        let (id, done) = import(&api, &format!("my-{stem}.{ext}"), edited, &[]).await;
        assert_eq!(done["status"], "completed", "{file}: {done}");
        assert_eq!(done["format"], ext);
        assert_eq!(
            done["counts"]["created"],
            1,
            "{file}: {:?}",
            api.all_rows(&id).await
        );
        let tech = technician(&api, &email).await.expect("created");
        assert_eq!(tech["name"], "Ana Example");
        assert_eq!(tech["group_id"], group);
    }
}

/// Replaces each `(from, to)` exactly once in a text file.
fn edit_text(bytes: &[u8], edits: &[(&str, &str)]) -> Vec<u8> {
    let mut text = String::from_utf8(bytes.to_vec()).expect("a UTF-8 template");
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "{from:?} in {text}");
        text = text.replace(from, to);
    }
    text.into_bytes()
}

/// Replaces each `(from, to)` exactly once across an xlsx's parts, as editing
/// a cell in a spreadsheet program would.
fn edit_xlsx(bytes: &[u8], edits: &[(&str, &str)]) -> Vec<u8> {
    let mut parts = zip_parts(bytes);
    for (from, to) in edits {
        let found: usize = parts.iter().map(|(_, xml)| xml.matches(from).count()).sum();
        assert_eq!(found, 1, "{from:?} in the template");
        for (_, xml) in &mut parts {
            *xml = xml.replace(from, to);
        }
    }
    let parts: Vec<(&str, &[u8])> = parts
        .iter()
        .map(|(name, xml)| (name.as_str(), xml.as_bytes()))
        .collect();
    zip_of(&parts)
}

// ------------------------------------------------------ hostile uploads

const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A minimal workbook: a short-layout header and one row in inline strings, plus `extra` parts.
fn workbook(extra: &[(&str, &[u8])]) -> Vec<u8> {
    let root = format!(
        r#"<Relationships><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
    );
    let book = r#"<workbook><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let rels = format!(
        r#"<Relationships><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
    );
    let cell =
        |at: &str, text: &str| format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#);
    let sheet = format!(
        r#"<worksheet><sheetData><row r="1">{}{}{}</row><row r="2">{}{}{}</row></sheetData></worksheet>"#,
        cell("A1", "Name"),
        cell("B1", "Email"),
        cell("C1", "Password"),
        cell("A2", "Bo Bomb"),
        cell("B2", "bo@acme.test"),
        cell("C2", &strong_password(5)),
    );
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("_rels/.rels", root.as_bytes()),
        ("xl/workbook.xml", book.as_bytes()),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ];
    parts.extend_from_slice(extra);
    zip_of(&parts)
}

async fn hostile_files_fail_alone(mode: Mode) {
    let (mut world, api) = world_with_groups(mode, 1).await;
    let group = [("group_id", "1")];

    // The harmless workbook imports: the hostile ones differ only by their extra part.
    let (_, done) = import(&api, "fine.xlsx", workbook(&[]), &group).await;
    assert_eq!(done["counts"]["created"], 1, "{done}");

    // A zip bomb: 64 MiB of zeros packed into a few dozen KB.
    let zeros = vec![b'0'; 64 << 20];
    let bomb = workbook(&[("xl/worksheets/sheet2.xml", &zeros)]);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let (_, done) = import(&api, "bomb.xlsx", bomb, &group).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "unsafe_file", "{done}");

    // Shared strings that claim two billion entries (calamine would reserve them all).
    let sst = br#"<?xml version="1.0"?><sst xmlns="x" count="1" uniqueCount="2000000000"><si><t>Name</t></si></sst>"#;
    let (_, done) = import(
        &api,
        "sst.xlsx",
        workbook(&[("xl/sharedStrings.xml", sst)]),
        &group,
    )
    .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "unsafe_file", "{done}");
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2000000000"),
        "{done}"
    );

    // Everyone is still there, and still working.
    assert_eq!(api.get("/healthz").await.status, 200);
    let exited: Vec<bool> = world
        .workers
        .iter_mut()
        .map(|w| w.try_wait().expect("worker status").is_some())
        .collect();
    for (n, exited) in exited.into_iter().enumerate() {
        assert!(
            !exited,
            "worker {n} died: {}",
            world.log(&format!("worker-{n}.log"))
        );
    }

    // A CSV cell past Excel's 32,767 characters fails its row only.
    let huge = "d".repeat(40_000);
    let csv = csv_of(&[
        [
            "Cy Huge",
            "",
            "cy@acme.test",
            "",
            &huge,
            &strong_password(6),
            "Yes",
            "Yes",
            "No",
            "1",
        ],
        [
            "Di Fine",
            "",
            "di@acme.test",
            "",
            "",
            &strong_password(7),
            "Yes",
            "Yes",
            "No",
            "1",
        ],
    ]);
    let (id, done) = import(&api, "huge.csv", csv, &[]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let rows = api.all_rows(&id).await;
    expect_statuses(&rows, &[(2, "failed"), (3, "created")]);
    assert_eq!(codes(&rows[0]), pairs(&[("Description", "too_long")]));
    let (sheet, _) = result_checked(&api, &id, &[]).await;
    assert_eq!(sheet[1][4].chars().count(), 32_767, "cut to Excel's limit");
    assert!(
        sheet[1][RESULT].starts_with("Error: Description: "),
        "{}",
        sheet[1][RESULT]
    );
}

#[tokio::test]
async fn cluster_hostile_files_fail_alone() {
    hostile_files_fail_alone(Mode::Cluster).await;
}

#[tokio::test]
async fn embedded_hostile_files_fail_alone() {
    hostile_files_fail_alone(Mode::Embedded).await;
}

// ----------------------------------------------------- format detection

#[tokio::test]
async fn embedded_the_content_decides_the_format() {
    let (_world, api) = world_with_groups(Mode::Embedded, 1).await;
    let refused = |a: &Answer, what: &str| {
        assert_eq!(
            a.status,
            415,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.json()["code"], "unsupported_format", "{what}");
        assert_eq!(a.headers["content-type"], "application/problem+json");
    };
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec();
    let png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    let docx = zip_of(&[("word/document.xml", b"<w:document/>".as_slice())]);

    refused(&api.upload("doc.pdf", pdf.clone(), &[]).await, "a PDF");
    refused(
        &api.upload("people.csv", pdf, &[]).await,
        "a PDF named .csv",
    );
    refused(&api.upload("photo.png", png.clone(), &[]).await, "a PNG");
    refused(
        &api.upload_raw("file_name=people.xlsx", XLSX_TYPE, png, &[])
            .await,
        "a PNG sent as xlsx",
    );
    let a = api.upload("people.xlsx", docx, &[]).await;
    refused(&a, "a zip that is not a workbook");
    assert!(
        a.json()["detail"]
            .as_str()
            .unwrap()
            .contains("xl/workbook.xml")
    );

    // Declared as a PDF or an image: refused even when the bytes look like text (Roster notes).
    let p = strong_password(2);
    let text = full_csv(&[("Ed Text", "ed@acme.test", &p, 1)]).into_bytes();
    refused(
        &api.upload_raw("file_name=people.pdf", "application/pdf", text.clone(), &[])
            .await,
        "text declared as PDF",
    );
    refused(
        &api.upload_raw("", "image/png", text.clone(), &[]).await,
        "text declared as PNG",
    );
    refused(
        &api.upload("scan.pdf", text.clone(), &[]).await,
        "text named .pdf",
    );
    let garbage: Vec<u8> = (0u32..2048)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    refused(
        &api.upload_raw("file_name=x.pdf", "application/pdf", garbage.clone(), &[])
            .await,
        "garbage as PDF",
    );
    refused(
        &api.upload_raw("", "application/octet-stream", garbage, &[])
            .await,
        "garbage",
    );
    assert_eq!(
        api.get("/v1/imports").await.json()["items"],
        json!([]),
        "nothing was registered"
    );

    // Declared as a spreadsheet but holding CSV: read as CSV.
    let a = api
        .upload_raw("file_name=people.xlsx", XLSX_TYPE, text.clone(), &[])
        .await;
    let (_, done) = accepted(&api, &a).await;
    assert_eq!(done["format"], "csv");
    assert_eq!(done["file_name"], "people.xlsx");
    assert_eq!(done["counts"]["created"], 1, "{done}");
    // As Windows browsers label a .csv file.
    let text = full_csv(&[("Fa Text", "fa@acme.test", &p, 1)]).into_bytes();
    let a = api
        .upload_raw(
            "file_name=people.csv",
            "application/vnd.ms-excel",
            text,
            &[],
        )
        .await;
    let (_, done) = accepted(&api, &a).await;
    assert_eq!(
        (&done["format"], &done["counts"]["created"]),
        (&json!("csv"), &json!(1))
    );
    // JSON sent as text/csv is JSON.
    let body = json!([{"name": "Gu Json", "email": "gu@acme.test", "password": p, "enabled": "yes",
                        "standard_license": "yes", "mobile_license": "no", "tech_group_id": 1}]);
    let a = api
        .upload_raw(
            "file_name=people.csv",
            "text/csv",
            body.to_string().into_bytes(),
            &[],
        )
        .await;
    let (_, done) = accepted(&api, &a).await;
    assert_eq!(
        (&done["format"], &done["counts"]["created"]),
        (&json!("json"), &json!(1))
    );
    assert_eq!(api.get("/healthz").await.status, 200);
}
