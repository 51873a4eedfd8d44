//! A dry run of a snapshot: the outcome each member would have, row by
//! row, and nothing written.

use super::*;
use roster_tests::both_modes;

/// A dry run answers, row by row, the outcome each member would have, and
/// writes nothing: created, updated, unchanged, disabled (a member who left)
/// and failed (a new member without an email, and a new member with the email
/// of an earlier one, which a dry run cannot learn from a write).
async fn a_dry_run_reports_would_be_outcomes_per_row(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    // Ten members, so that two leaving stays under the safety valves.
    let others: Vec<Value> = (1..=6)
        .map(|i| member(&format!("x{i}"), &format!("x{i}@acme.test"), true))
        .collect();
    let mut known = vec![
        member("a", "a@acme.test", true),
        member("b", "b@acme.test", true),
        member("c", "c@acme.test", true),
        member("d", "d@acme.test", true),
    ];
    known.extend(others.iter().cloned());
    let (first, _) = run_snapshot(&master, support, Value::Array(known)).await;
    assert_eq!(first["counts"]["created"], 10, "{first}");
    let mut changed = vec![
        member("a", "a@acme.test", true),
        json!({"external_id": "b", "name": "Bea Renamed", "email": "b@acme.test", "enabled": true}),
        member("c", "c@acme.test", false),
        member("e", "e@acme.test", true),
        json!({"external_id": "f", "name": "No Mail", "email": "", "enabled": true}),
        member("g", "E@acme.test", true),
    ];
    changed.extend(others);
    let changed = Value::Array(changed);
    let before = master.get("/v1/technicians").await.json()["items"].clone();

    let sent = master
        .post(
            &format!("/v1/sync/sources/ad%3Aseats/snapshots?group_id={support}&dry_run=true"),
            changed.clone(),
        )
        .await;
    assert_eq!(sent.status, 202, "{}", String::from_utf8_lossy(&sent.body));
    let sent = sent.json();
    assert_eq!(sent["dry_run"], true, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    let done = master.wait_finished(&id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        counts(&done),
        json!({"created": 1, "updated": 1, "unchanged": 7, "disabled": 2, "failed": 2})
    );
    let rows = master.all_rows(&id).await;
    let got: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().unwrap(),
                r["email"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "a@acme.test", "unchanged"),
            (2, "b@acme.test", "updated"),
            (3, "c@acme.test", "disabled"),
            (4, "e@acme.test", "created"),
            (5, "", "failed"),
            (6, "E@acme.test", "failed"),
            (7, "x1@acme.test", "unchanged"),
            (8, "x2@acme.test", "unchanged"),
            (9, "x3@acme.test", "unchanged"),
            (10, "x4@acme.test", "unchanged"),
            (11, "x5@acme.test", "unchanged"),
            (12, "x6@acme.test", "unchanged"),
            (13, "d@acme.test", "disabled"),
        ],
        "{rows:?}"
    );
    assert_eq!(rows[4]["errors"][0]["code"], "invalid_email", "{rows:?}");
    assert_eq!(
        rows[5]["errors"][0]["code"], "duplicate_in_file",
        "{rows:?}"
    );
    assert_eq!(
        rows[5]["errors"][0]["message"],
        "'E@acme.test' is also the email of member 4 of the snapshot",
        "{rows:?}"
    );
    let (sheet, _) = master.result_sheet(&id).await;
    let results: Vec<&str> = sheet[1..]
        .iter()
        .map(|l| l.last().map(String::as_str).unwrap_or(""))
        .collect();
    assert_eq!(
        results[..4],
        ["Unchanged", "Updated", "Disabled", "Success"],
        "{sheet:?}"
    );
    assert_eq!(results[12], "Disabled", "{sheet:?}");

    // Nothing was written.
    let after = master.get("/v1/technicians").await.json()["items"].clone();
    assert_eq!(before, after, "a dry run changes no technician");
    assert_eq!(technician(&master, "e@acme.test").await, Value::Null);
    // The real run afterwards does what the dry run said.
    let (real, _) = run_snapshot(&master, support, changed).await;
    assert_eq!(counts(&real), counts(&done));
    assert_eq!(technician(&master, "e@acme.test").await["name"], "Member e");
}

both_modes!(a_dry_run_reports_would_be_outcomes_per_row: embedded_a_dry_run_reports_would_be_outcomes_per_row, cluster_a_dry_run_reports_would_be_outcomes_per_row);
