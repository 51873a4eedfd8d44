//! The templates `GET /v1/templates/{file}` serves: each imports once
//! its example row is edited.

use super::*;

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
    let mut parts = xlsx_parts(bytes, "");
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
