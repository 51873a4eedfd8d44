//! A group follows the directory: `roster-adsync`, holding a service token,
//! provisions every member (past the server's size limit), carries renames,
//! email changes, removals and disabled accounts, changes nothing on a second
//! run of the same directory, and sends into its own group only.

use super::*;
use roster_tests::both_modes;

async fn a_group_follows_the_directory(mode: Mode) {
    let slapd = directory();
    let world = World::start(mode, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let tier2 = master.group("Tier 2", None).await;
    let created = master
        .post(
            "/v1/sync/tokens",
            json!({"name": "AD connector", "group_id": support}),
        )
        .await;
    assert_eq!(created.status, 201);
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let url = slapd.url();

    // First provisioning: every member, though the server gives 50 per plain search.
    let first = adsync(
        &world,
        &url,
        &token,
        support,
        &["--disabled-filter", "(description=disabled)"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let run = import(&master, &import_id(&first)).await;
    assert_eq!(
        (run["kind"].as_str(), run["status"].as_str()),
        (Some("sync"), Some("completed"))
    );
    assert_eq!(
        counts(&run),
        json!({"created": MEMBERS, "updated": 0, "unchanged": 0, "disabled": 0, "failed": 0})
    );
    let u1 = technician(&master, "u1@acme.example").await;
    assert_eq!(
        (
            &u1["name"],
            &u1["group_id"],
            &u1["enabled"],
            &u1["must_change_password"],
            &u1["mobile_license"],
            &u1["standard_license"]
        ),
        (
            &json!("User 1"),
            &json!(support),
            &json!(true),
            &json!(true),
            &json!(false),
            &json!(true)
        )
    );
    assert_eq!(
        technician(&master, "u101@acme.example").await,
        Value::Null,
        "not a member"
    );

    // In Roster: u3 gets a mobile seat, u6 is moved to another group.
    let u3 = technician(&master, "u3@acme.example").await;
    let a = master
        .patch(
            &format!("/v1/technicians/{}", u3["id"]),
            json!({"mobile_license": true}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let u6 = technician(&master, "u6@acme.example").await;
    let a = master
        .patch(
            &format!("/v1/technicians/{}", u6["id"]),
            json!({"group_id": tier2}),
        )
        .await;
    assert_eq!(a.status, 200);

    // In the directory: u1 renamed, u2's email changed, u3 removed from the
    // group, u4 deleted, u5 disabled, u6 renamed (moved in Roster: name kept).
    slapd.modify(&format!(
        "dn: {u1}\nchangetype: modify\nadd: displayName\ndisplayName: Ana Silva\n\n\
         dn: {u2}\nchangetype: modify\nreplace: mail\nmail: bo@acme.example\n\n\
         dn: {GROUP_DN}\nchangetype: modify\ndelete: member\nmember: {u3}\n\n\
         dn: {u4}\nchangetype: delete\n\n\
         dn: {u5}\nchangetype: modify\nadd: description\ndescription: disabled\n\n\
         dn: {u6}\nchangetype: modify\nreplace: cn\ncn: Someone Else\n",
        u1 = user_dn("u1"),
        u2 = user_dn("u2"),
        u3 = user_dn("u3"),
        u4 = user_dn("u4"),
        u5 = user_dn("u5"),
        u6 = user_dn("u6"),
    ));
    let second = adsync(
        &world,
        &url,
        &token,
        support,
        &["--disabled-filter", "(description=disabled)"],
    );
    assert_eq!(second.code, 0, "{}", second.stderr);
    let run = import(&master, &import_id(&second)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 2, "unchanged": 95, "disabled": 3, "failed": 0})
    );
    assert_eq!(
        technician(&master, "u1@acme.example").await["name"],
        "Ana Silva"
    );
    let bo = technician(&master, "bo@acme.example").await;
    assert_eq!(bo["name"], "User 2");
    assert_eq!(technician(&master, "u2@acme.example").await, Value::Null);
    let u3 = technician(&master, "u3@acme.example").await;
    assert_eq!(
        (&u3["enabled"], &u3["mobile_license"]),
        (&json!(false), &json!(false)),
        "disabled, mobile seat freed"
    );
    for email in ["u4@acme.example", "u5@acme.example"] {
        assert_eq!(
            technician(&master, email).await["enabled"],
            false,
            "{email}"
        );
    }
    let u6 = technician(&master, "u6@acme.example").await;
    assert_eq!(
        (&u6["group_id"], &u6["name"]),
        (&json!(tier2), &json!("User 6")),
        "moved: keeps its group and name"
    );
    let rows = master.all_rows(&import_id(&second)).await;
    let disabled: Vec<&str> = rows
        .iter()
        .filter(|r| r["status"] == "disabled")
        .filter_map(|r| r["email"].as_str())
        .collect();
    assert_eq!(disabled.len(), 3, "{disabled:?}");

    // The same directory again: nothing changes.
    let third = adsync(
        &world,
        &url,
        &token,
        support,
        &["--disabled-filter", "(description=disabled)"],
    );
    assert_eq!(third.code, 0, "{}", third.stderr);
    let run = import(&master, &import_id(&third)).await;
    assert_eq!(
        counts(&run),
        json!({"created": 0, "updated": 0, "unchanged": 98, "disabled": 0, "failed": 0})
    );

    // The sync log.
    let sources = master.get("/v1/sync/sources").await.json();
    let source = &sources["items"][0];
    assert_eq!(source["key"], format!("ldap:{GROUP_DN}"));
    assert_eq!(
        (&source["group_id"], &source["members"]),
        (&json!(support), &json!(MEMBERS - 3))
    );
    assert_eq!(source["last_run"]["id"], run["id"]);
    assert_eq!(source["last_error"], Value::Null);
    assert!(
        third.stdout.contains("completed: counts"),
        "roster-adsync read its run's counts through the sync log: {}",
        third.stdout
    );

    // The service token reads the sync log too, but not as an administrator,
    // and sends into its own group only.
    let service = master.with_token(&token);
    assert_eq!(service.get("/v1/sync/sources").await.json(), sources);
    assert_eq!(service.get("/v1/technicians").await.status, 403);
    let elsewhere = service
        .request(
            reqwest::Method::POST,
            &format!("/v1/sync/sources/manual/snapshots?group_id={tier2}"),
            Some(json!([])),
        )
        .await;
    assert_eq!(elsewhere.status, 403);
}

both_modes!(a_group_follows_the_directory: embedded_a_group_follows_the_directory, cluster_a_group_follows_the_directory);
