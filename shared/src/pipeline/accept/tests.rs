//! Accepting uploads, then running the pipeline over them in process
//! ([`Harness`]): what an import makes of a small file.

use super::ImportOptions;
use crate::model::{ImportStatus, RowStatus};
use crate::pipeline::harness::Harness;

/// A password the default policy takes.
fn strong(i: usize) -> String {
    format!("Plum-Orbit-{i}-Cactus!")
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
    let csv = format!(
        "Name,Email,Password\nAna,ana@acme.test,{}\nBo,bo@acme.test,{}\n",
        strong(1),
        strong(2)
    );
    let accepted = h.accept(csv.as_bytes(), options).await;
    assert_eq!(accepted.status, ImportStatus::Queued);

    assert!(h.run_until_idle().await >= 3, "plan, a chunk and finalize");
    let import = h.ctx.db.load_import(&accepted.id).await.unwrap().unwrap();
    assert_eq!(import.status, ImportStatus::Completed, "{import:?}");
    assert_eq!(import.total_rows, Some(2));
    assert_eq!((import.counts.created, import.counts.failed), (2, 0));
    assert!(import.has_result, "the result spreadsheet is stored");
    let technicians = h
        .ctx
        .db
        .list_technicians(h.master.org_id, None, None, 0, 10)
        .await
        .unwrap();
    let emails: Vec<&str> = technicians.iter().map(|t| t.email.as_str()).collect();
    assert_eq!(emails, ["ana@acme.test", "bo@acme.test"]);
}

#[tokio::test]
async fn a_repeated_email_fails_its_row_and_the_rest_are_created() {
    let h = Harness::new().await;
    let options = into_a_group(&h).await;
    let csv = format!(
        "Name,Email,Password\nAna,ana@acme.test,{}\nBo,bo@acme.test,{}\nAna Again,ANA@acme.test,{}\n",
        strong(1),
        strong(2),
        strong(3)
    );
    let accepted = h.accept(csv.as_bytes(), options).await;
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
    let technicians = h
        .ctx
        .db
        .list_technicians(h.master.org_id, None, None, 0, 10)
        .await
        .unwrap();
    assert_eq!(technicians.len(), 2);
}
