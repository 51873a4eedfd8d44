//! The fixtures in tests/fixtures (written by Python's csv module and
//! openpyxl) imported the whole way: CSV in its encodings and separators, xlsx
//! and JSON.

use super::*;

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
    assert_eq!(
        error_pairs(&rows[1]),
        pairs(&[("Password", "weak_password")])
    );

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
        error_pairs(&rows[2]),
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
        error_pairs(&rows[1]),
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
    let problems = error_pairs(&rows[1]);
    assert!(
        problems.contains(&("Name".to_owned(), "invalid_character".to_owned())),
        "{problems:?}"
    );
    assert_eq!(rows[1]["email"], "bad\u{FFFD}@nul.test");
    assert!(technician(&api, "bo@nul.test").await.is_some());
}
