//! The result spreadsheet of every format: the uploaded columns and a
//! `Result` column, a summary sheet, no formula and no password, readable by
//! LibreOffice.

use super::*;

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
