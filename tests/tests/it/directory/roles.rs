//! Every route, tried by each of the five callers of the cast: what each
//! role may do and what it may not even see.

use super::*;

#[tokio::test]
async fn embedded_every_route_answers_each_role_as_the_rules_say() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups {
        root,
        sub,
        other,
        globex,
    } = groups;
    let (ok, created) = (200, 201);

    // An import started by the in-scope admin, into its sub-group.
    let done = import(
        &cast.inside,
        full_csv(&[("Ana Inside", "ana@acme.test", &strong_password(1), sub)]),
        &[],
    )
    .await;
    let import_id = done["id"].as_str().unwrap().to_owned();
    let tech = technician_id(&cast.master, "ana@acme.test").await;

    // Imports: the starter and the master read it; everyone else finds nothing.
    let seen = [ok, ok, 404, 404, 401];
    let path = format!("/v1/imports/{import_id}");
    cast.expect(Method::GET, &path, None, seen).await;
    cast.expect(Method::GET, &format!("{path}/rows"), None, seen)
        .await;
    cast.expect(Method::GET, &format!("{path}/result.xlsx"), None, seen)
        .await;
    // Finished already: those who may cancel it are told so; the others find nothing.
    cast.expect(
        Method::POST,
        &format!("{path}/cancel"),
        Some(json!({})),
        [409, 409, 404, 404, 401],
    )
    .await;
    // An import the master started is not the in-scope admin's either.
    let master_import = import(
        &cast.master,
        full_csv(&[("Bo Master", "bo@acme.test", &strong_password(2), other)]),
        &[],
    )
    .await;
    let master_path = format!("/v1/imports/{}", master_import["id"].as_str().unwrap());
    cast.expect(Method::GET, &master_path, None, [ok, 404, 404, 404, 401])
        .await;
    let listed = |a: Answer| a.json()["items"].as_array().unwrap().len();
    assert_eq!(listed(cast.master.get("/v1/imports").await), 2);
    assert_eq!(listed(cast.inside.get("/v1/imports").await), 1);
    assert_eq!(listed(cast.outside.get("/v1/imports").await), 0);
    assert_eq!(listed(cast.stranger.get("/v1/imports").await), 0);
    cast.expect(Method::GET, "/v1/imports", None, [ok, ok, ok, ok, 401])
        .await;

    // Groups: one, a rename, a sub-group under it, a top-level group.
    let path = format!("/v1/groups/{sub}");
    cast.expect(Method::GET, &path, None, [ok, ok, 403, 404, 401])
        .await;
    cast.expect(
        Method::PATCH,
        &path,
        Some(json!({"name": "Sub renamed"})),
        [ok, ok, 403, 404, 401],
    )
    .await;
    // Another organization's parent does not exist for you: the body is invalid.
    cast.expect(
        Method::POST,
        "/v1/groups",
        Some(json!({"name": "Deeper", "parent_id": sub})),
        [created, created, 403, 422, 401],
    )
    .await;
    cast.expect(
        Method::POST,
        "/v1/groups",
        Some(json!({"name": "Top"})),
        [created, 403, 403, created, 401],
    )
    .await;
    let inside_groups = ids(&cast.inside.get("/v1/groups").await.json());
    assert!(inside_groups.contains(&root) && inside_groups.contains(&sub));
    assert!(!inside_groups.contains(&other), "{inside_groups:?}");
    assert_eq!(ids(&cast.outside.get("/v1/groups").await.json()), [other]);
    let globex_groups = ids(&cast.stranger.get("/v1/groups").await.json());
    assert!(globex_groups.contains(&globex) && !globex_groups.contains(&root));
    cast.expect(
        Method::GET,
        "/v1/groups/999999",
        None,
        [404, 404, 404, 404, 401],
    )
    .await;

    // Technicians: one, and a change to it.
    let path = format!("/v1/technicians/{tech}");
    cast.expect(Method::GET, &path, None, [ok, ok, 403, 404, 401])
        .await;
    cast.expect(
        Method::PATCH,
        &path,
        Some(json!({"description": "Night shift"})),
        [ok, ok, 403, 404, 401],
    )
    .await;
    cast.expect(
        Method::GET,
        "/v1/technicians/999999",
        None,
        [404, 404, 404, 404, 401],
    )
    .await;
    let emails = |list: Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        emails(cast.inside.get("/v1/technicians").await.json()),
        ["ana@acme.test"]
    );
    assert_eq!(
        emails(cast.outside.get("/v1/technicians").await.json()),
        ["bo@acme.test"]
    );
    assert!(emails(cast.stranger.get("/v1/technicians").await.json()).is_empty());
    assert_eq!(
        cast.outside
            .get(&format!("/v1/technicians?group_id={sub}"))
            .await
            .status,
        403
    );

    // Settings: everyone reads their own; only masters change them.
    cast.expect(Method::GET, "/v1/settings", None, [ok, ok, ok, ok, 401])
        .await;
    cast.expect(
        Method::PATCH,
        "/v1/settings",
        Some(json!({"max_rows_per_file": 5000})),
        [ok, 403, 403, ok, 401],
    )
    .await;
    cast.expect(Method::GET, "/v1/licenses", None, [ok, ok, ok, ok, 401])
        .await;

    // Administrators: masters only. Globex's master names an Acme group: no such group.
    cast.expect(
        Method::POST,
        "/v1/admins",
        Some(json!({"email": "new@acme.test", "role": "admin", "group_ids": [sub]})),
        [created, 403, 403, 422, 401],
    )
    .await;
    cast.expect(Method::GET, "/v1/admins", None, [ok, 403, 403, ok, 401])
        .await;
    let admins = cast.master.get("/v1/admins").await.json();
    let emails: Vec<&str> = admins["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "master@acme.test",
            "inside@acme.test",
            "outside@acme.test",
            "new@acme.test"
        ]
    );
    assert_eq!(admins["items"][1]["group_ids"], json!([root]));
    assert!(admins["items"][0].get("token").is_none(), "{admins}");
    let globex_admins = cast.stranger.get("/v1/admins").await.json();
    assert_eq!(globex_admins["items"].as_array().unwrap().len(), 1);

    // A token that was never issued is no token at all.
    let forged = cast.master.with_token(&format!("rst_{}", "0".repeat(64)));
    assert_eq!(forged.get("/v1/groups").await.status, 401);
}
