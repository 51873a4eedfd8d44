//! The row rules as an import reports them: stable codes, every problem of
//! a row at once, existing emails (fail, skip or update), the organization's
//! settings, a global group and a dry run.

use super::*;
use roster_tests::both_modes;

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
        assert_eq!(error_pairs(row), pairs(errors), "{row}");
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
    assert_eq!(error_pairs(&rows[0]), pairs(&[("Email", "email_taken")]));
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

both_modes!(existing_emails_fail_skip_or_update: embedded_existing_emails_fail_skip_or_update, cluster_existing_emails_fail_skip_or_update);

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
    assert_eq!(
        error_pairs(&rows[0]),
        pairs(&[("Password", "weak_password")])
    );
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
        error_pairs(&rows[1]),
        pairs(&[("Tech Group ID", "unknown_group")])
    );
    assert_eq!(
        error_pairs(&rows[2]),
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
