//! Hostile workbooks among ordinary rows: each fails alone, as a file or
//! row error, and the rest of the system carries on.

use super::*;
use roster_tests::both_modes;

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
    assert_eq!(error_pairs(&rows[0]), pairs(&[("Description", "too_long")]));
    let (sheet, _) = result_checked(&api, &id, &[]).await;
    assert_eq!(sheet[1][4].chars().count(), 32_767, "cut to Excel's limit");
    assert!(
        sheet[1][RESULT].starts_with("Error: Description: "),
        "{}",
        sheet[1][RESULT]
    );
}

both_modes!(hostile_files_fail_alone: embedded_hostile_files_fail_alone, cluster_hostile_files_fail_alone);
