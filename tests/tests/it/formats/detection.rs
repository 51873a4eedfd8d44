//! Format detection: the content of an upload decides its format, not its
//! name or its declared type.

use super::*;

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
