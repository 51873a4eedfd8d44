//! Imports and the caller's scope: an admin's import reads, updates and
//! skips only technicians in its own groups.

use super::*;
use roster_tests::both_modes;

#[tokio::test]
async fn embedded_imports_obey_the_callers_groups() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups {
        root,
        sub,
        other,
        globex,
    } = groups;

    // A global group outside the admin's scope is refused at upload; another
    // organization's group does not exist.
    let csv = || full_csv(&[("Cy", "cy@acme.test", &strong_password(3), root)]).into_bytes();
    let a = cast
        .inside
        .upload("t.csv", csv(), &[("group_id", &other.to_string())])
        .await;
    assert_eq!(a.status, 403, "{}", text(&a));
    assert_eq!(a.json()["code"], "forbidden");
    let a = cast
        .inside
        .upload("t.csv", csv(), &[("group_id", &globex.to_string())])
        .await;
    assert_eq!(a.status, 422, "{}", text(&a));
    assert_eq!(a.json()["code"], "unknown_group");
    let a = cast
        .stranger
        .upload("t.csv", csv(), &[("group_id", &root.to_string())])
        .await;
    assert_eq!(a.json()["code"], "unknown_group");
    // Nothing was registered by the refusals.
    assert!(ids(&cast.master.get("/v1/imports").await.json()).is_empty());

    // Per-row groups: inside the scope (the group and its sub-group) are created,
    // outside it fail with group_not_permitted, unknown ones with unknown_group.
    let done = import(
        &cast.inside,
        full_csv(&[
            ("Di Root", "di@acme.test", &strong_password(4), root),
            ("Ed Sub", "ed@acme.test", &strong_password(5), sub),
            ("Fa Other", "fa@acme.test", &strong_password(6), other),
            ("Gu Nowhere", "gu@acme.test", &strong_password(7), 999_999),
            ("Ha Globex", "ha@acme.test", &strong_password(8), globex),
        ]),
        &[],
    )
    .await;
    assert_eq!(done["counts"]["created"], 2, "{done}");
    assert_eq!(done["counts"]["failed"], 3, "{done}");
    let id = done["id"].as_str().unwrap();
    let rows = cast.inside.all_rows(id).await;
    let codes: Vec<(i64, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().unwrap(),
                r["status"].as_str().unwrap(),
                r["errors"][0]["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (2, "created", ""),
            (3, "created", ""),
            (4, "failed", "group_not_permitted"),
            (5, "failed", "unknown_group"),
            (6, "failed", "unknown_group"),
        ]
    );
    assert_eq!(rows[2]["errors"][0]["field"], "Tech Group ID");
    let (sheet, _) = cast.inside.result_sheet(id).await;
    assert!(
        sheet[3][10].starts_with("Error: Tech Group ID"),
        "{sheet:?}"
    );

    // The same file by the master: every Acme group is permitted.
    let done = import(
        &cast.master,
        full_csv(&[("Fa Other", "fa@acme.test", &strong_password(6), other)]),
        &[],
    )
    .await;
    assert_eq!(done["counts"]["created"], 1, "{done}");

    // A global group inside the scope takes every row, whatever the file says.
    let done = import(
        &cast.inside,
        full_csv(&[("Ji Global", "ji@acme.test", &strong_password(9), other)]),
        &[("group_id", &sub.to_string())],
    )
    .await;
    assert_eq!(done["counts"]["created"], 1, "{done}");
    let ji = technician_id(&cast.master, "ji@acme.test").await;
    let ji = cast.inside.get(&format!("/v1/technicians/{ji}")).await;
    assert_eq!(ji.json()["group_id"], sub);

    // Listing: the admin sees its own two imports, the master all three.
    let inside_imports = cast.inside.get("/v1/imports").await.json();
    assert_eq!(inside_imports["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        cast.master.get("/v1/imports").await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(ids(&cast.outside.get("/v1/imports").await.json()).is_empty());
    assert!(ids(&cast.stranger.get("/v1/imports").await.json()).is_empty());
}

/// Short-layout CSV rows (Name, Email, Password).
fn short_csv(rows: &[(&str, &str, &str)]) -> String {
    let mut csv = String::from("Name,Email,Password\n");
    for (name, email, password) in rows {
        csv.push_str(&format!("{name},{email},{password}\n"));
    }
    csv
}

/// An admin's import may update, skip or confirm only the technicians it may
/// see: one in another group of the organization is, to it, an email taken,
/// whatever `on_existing` and `dry_run` say, and the row does not say where
/// that technician lives. Nothing about the technician changes.
async fn imports_touch_only_technicians_in_the_callers_scope(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let (cast, groups) = cast(&world).await;
    let done = import(
        &cast.master,
        full_csv(&[
            (
                "Fa Other",
                "fa@acme.test",
                &strong_password(1),
                groups.other,
            ),
            ("Di Root", "di@acme.test", &strong_password(2), groups.root),
        ]),
        &[],
    )
    .await;
    assert_eq!(done["counts"]["created"], 2, "{done}");
    let fa = technician_id(&cast.master, "fa@acme.test").await;
    let before = cast
        .master
        .get(&format!("/v1/technicians/{fa}"))
        .await
        .json();

    let file = short_csv(&[
        ("Taken Over", "FA@acme.test", &strong_password(3)),
        ("Di Renamed", "di@acme.test", &strong_password(4)),
    ]);
    let root = groups.root.to_string();
    for fields in [
        vec![("on_existing", "update")],
        vec![("on_existing", "skip")],
        vec![("on_existing", "fail")],
        vec![("on_existing", "update"), ("dry_run", "true")],
        vec![("on_existing", "fail"), ("dry_run", "true")],
    ] {
        let mut fields = fields;
        fields.push(("group_id", &root));
        let done = import(&cast.inside, file.clone(), &fields).await;
        let id = done["id"].as_str().unwrap();
        let rows = cast.inside.all_rows(id).await;
        assert_eq!(rows[0]["status"], "failed", "{fields:?}: {rows:?}");
        assert_eq!(rows[0]["technician_id"], Value::Null, "{fields:?}");
        assert_eq!(rows[0]["errors"][0]["field"], "Email", "{fields:?}");
        assert_eq!(rows[0]["errors"][0]["code"], "email_taken", "{fields:?}");
        let message = rows[0]["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("Other") && !message.contains(&groups.other.to_string()),
            "{fields:?}: the message names where the technician lives: {message}"
        );
        // The technician in scope is another matter: the mode applies to it.
        let want = match (fields[0].1, fields.len() == 3) {
            ("fail", _) => "failed",
            (_, true) => "valid",
            ("update", false) => "updated",
            _ => "skipped",
        };
        assert_eq!(rows[1]["status"], want, "{fields:?}: {rows:?}");
        let (sheet, _) = cast.inside.result_sheet(id).await;
        assert!(sheet[1][3].starts_with("Error: Email: "), "{sheet:?}");
    }
    let after = cast
        .master
        .get(&format!("/v1/technicians/{fa}"))
        .await
        .json();
    assert_eq!(after, before, "the technician outside the scope changed");
    let di = technician_id(&cast.master, "di@acme.test").await;
    let di = cast
        .master
        .get(&format!("/v1/technicians/{di}"))
        .await
        .json();
    assert_eq!(di["name"], "Di Renamed");
}

both_modes!(imports_touch_only_technicians_in_the_callers_scope: embedded_imports_touch_only_technicians_in_the_callers_scope, cluster_imports_touch_only_technicians_in_the_callers_scope);
