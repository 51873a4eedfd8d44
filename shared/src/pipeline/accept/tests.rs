//! Accepting uploads, then running the pipeline over them in process
//! ([`Harness`]): what an import makes of a small file.

use super::ImportOptions;
use crate::model::{ImportStatus, RowStatus};
use crate::pipeline::harness::Harness;

/// A short-layout CSV of `(name, email)` rows, each with a password the
/// default policy takes.
fn csv(rows: &[(&str, &str)]) -> Vec<u8> {
    let mut csv = String::from("Name,Email,Password\n");
    for (i, (name, email)) in rows.iter().enumerate() {
        csv.push_str(&format!("{name},{email},Plum-Orbit-{i}-Cactus!\n"));
    }
    csv.into_bytes()
}

/// The emails of the organization's technicians, in the order created.
async fn technician_emails(h: &Harness) -> Vec<String> {
    let technicians = h
        .ctx
        .db
        .list_technicians(h.master.org_id, None, None, 0, 10)
        .await
        .unwrap();
    technicians.into_iter().map(|t| t.email).collect()
}

/// Options placing the rows in a new group of the harness's organization.
async fn into_a_group(h: &Harness) -> ImportOptions {
    let group = h
        .ctx
        .db
        .create_group(h.master.org_id, "Tier 1", None)
        .await
        .expect("group");
    ImportOptions {
        group_id: Some(group.id.to_string()),
        ..ImportOptions::default()
    }
}

#[tokio::test]
async fn an_accepted_csv_becomes_its_technicians() {
    let h = Harness::new().await;
    let options = into_a_group(&h).await;
    let file = csv(&[("Ana", "ana@acme.test"), ("Bo", "bo@acme.test")]);
    let accepted = h.accept(&file, options).await;
    assert_eq!(accepted.status, ImportStatus::Queued);

    assert!(h.run_until_idle().await >= 3, "plan, a chunk and finalize");
    let import = h.ctx.db.load_import(&accepted.id).await.unwrap().unwrap();
    assert_eq!(import.status, ImportStatus::Completed, "{import:?}");
    assert_eq!(import.total_rows, Some(2));
    assert_eq!((import.counts.created, import.counts.failed), (2, 0));
    assert!(import.has_result, "the result spreadsheet is stored");
    assert_eq!(
        technician_emails(&h).await,
        ["ana@acme.test", "bo@acme.test"]
    );
}

#[tokio::test]
async fn a_repeated_email_fails_its_row_and_the_rest_are_created() {
    let h = Harness::new().await;
    let options = into_a_group(&h).await;
    let file = csv(&[
        ("Ana", "ana@acme.test"),
        ("Bo", "bo@acme.test"),
        ("Ana Again", "ANA@acme.test"),
    ]);
    let accepted = h.accept(&file, options).await;
    h.run_until_idle().await;

    let import = h.ctx.db.load_import(&accepted.id).await.unwrap().unwrap();
    assert_eq!(import.status, ImportStatus::Completed, "{import:?}");
    assert_eq!((import.counts.created, import.counts.failed), (2, 1));
    let failed = h
        .ctx
        .db
        .list_rows(&import.id, Some(RowStatus::Failed), 0, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].email, "ANA@acme.test");
    assert_eq!(failed[0].technician_id, None);
    assert_eq!(failed[0].errors[0].code, "duplicate_in_file");
    assert_eq!(
        technician_emails(&h).await,
        ["ana@acme.test", "bo@acme.test"]
    );
}
