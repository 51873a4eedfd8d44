//! The directory, roles and tenancy, end to end: every route tried by a master,
//! an admin whose groups hold the object, an admin whose groups do not, another
//! organization's master and no token at all; then the rules one by one
//! (technician changes, license seats, group moves, settings, imports and
//! scopes, tokens) as a user of the API sees them.

use reqwest::Method;
use roster_shared::password::HashScheme;
use roster_tests::client::Answer;
use roster_tests::{Client, Mode, World, full_csv, strong_password};
use serde_json::{Value, json};
use std::time::Duration;

const FINISH: Duration = Duration::from_secs(120);

/// The five callers every route is tried with, in this order.
struct Cast {
    /// Master of Acme.
    master: Client,
    /// Acme admin of group "Root" (and so of its sub-group "Sub").
    inside: Client,
    /// Acme admin of group "Other" only.
    outside: Client,
    /// Master of another organization, Globex.
    stranger: Client,
    /// No token.
    anonymous: Client,
}

/// Acme's groups and Globex's one.
struct Groups {
    root: i64,
    sub: i64,
    other: i64,
    globex: i64,
}

async fn cast(world: &World) -> (Cast, Groups) {
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let root = master.group("Root", None).await;
    let sub = master.group("Sub", Some(root)).await;
    let other = master.group("Other", None).await;
    let inside = world
        .admin("Acme", "inside@acme.test", "admin", &[root])
        .await;
    let outside = world
        .admin("Acme", "outside@acme.test", "admin", &[other])
        .await;
    let stranger = world
        .admin("Globex", "master@globex.test", "master", &[])
        .await;
    let globex = stranger.group("Globex Tier 1", None).await;
    let anonymous = master.with_token("");
    (
        Cast {
            master,
            inside,
            outside,
            stranger,
            anonymous,
        },
        Groups {
            root,
            sub,
            other,
            globex,
        },
    )
}

impl Cast {
    fn all(&self) -> [(&'static str, &Client); 5] {
        [
            ("master", &self.master),
            ("in-scope admin", &self.inside),
            ("out-of-scope admin", &self.outside),
            ("other organization's master", &self.stranger),
            ("no token", &self.anonymous),
        ]
    }

    /// Sends the same request as each caller in turn and checks each status;
    /// every refusal is problem+json with the matching code.
    async fn expect(&self, method: Method, path: &str, body: Option<Value>, want: [u16; 5]) {
        for ((who, client), want) in self.all().into_iter().zip(want) {
            let a = client.request(method.clone(), path, body.clone()).await;
            assert_eq!(
                a.status,
                want,
                "{method} {path} as {who}: {}",
                String::from_utf8_lossy(&a.body)
            );
            if want >= 400 {
                assert_eq!(
                    a.headers["content-type"], "application/problem+json",
                    "{method} {path} as {who}"
                );
                let code = match want {
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "not_found",
                    _ => continue,
                };
                assert_eq!(a.json()["code"], code, "{method} {path} as {who}");
            }
        }
    }
}

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

/// Uploads a CSV and waits for the import to finish; returns its final JSON.
async fn import(api: &Client, csv: String, fields: &[(&str, &str)]) -> Value {
    let a = api
        .upload("technicians.csv", csv.into_bytes(), fields)
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    done
}

/// The id of the technician with `email`, as the master sees it.
async fn technician_id(api: &Client, email: &str) -> i64 {
    let found = api.get(&format!("/v1/technicians?email={email}")).await;
    assert_eq!(found.status, 200, "{}", text(&found));
    found.json()["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no technician {email}"))
}

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

#[tokio::test]
async fn embedded_a_technician_patch_round_trip_keeps_the_hash_inside() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups {
        root,
        sub,
        other,
        globex,
    } = groups;
    import(
        &cast.master,
        full_csv(&[("Ka Patch", "ka@acme.test", &strong_password(10), root)]),
        &[],
    )
    .await;
    let id = technician_id(&cast.master, "ka@acme.test").await;
    let path = format!("/v1/technicians/{id}");
    let db = world.db().await;
    let stored_hash = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM technicians WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let first_hash = stored_hash().await;
    let mut answers: Vec<Answer> = Vec::new();

    // The in-scope admin moves it to the sub-group and changes every field.
    let a = cast
        .inside
        .patch(
            &path,
            json!({"group_id": sub, "name": "Ka Renamed", "nickname": "Kay", "sso_id": "sso-ka",
                   "description": "Tier 2", "enabled": false, "standard_license": false,
                   "mobile_license": true}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let t = a.json();
    assert_eq!(t["group_id"], sub);
    assert_eq!(t["name"], "Ka Renamed");
    assert_eq!(t["nickname"], "Kay");
    assert_eq!(t["sso_id"], "sso-ka");
    assert_eq!(t["description"], "Tier 2");
    assert_eq!(t["enabled"], false);
    assert_eq!(t["standard_license"], false);
    assert_eq!(t["mobile_license"], true);
    assert_eq!(t["email"], "ka@acme.test");
    assert_eq!(t["must_change_password"], true);
    answers.push(a);
    // What it answered is what a GET shows; null and "" clear the optional texts.
    let a = cast
        .master
        .patch(&path, json!({"nickname": null, "sso_id": ""}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["nickname"], Value::Null);
    assert_eq!(a.json()["sso_id"], Value::Null);
    assert_eq!(a.json()["description"], "Tier 2");
    let got = cast.master.get(&path).await;
    assert_eq!(got.json(), a.json());
    answers.push(got);

    // Moves stay inside the caller's scope and the organization.
    for (body, status, code) in [
        (json!({"group_id": other}), 403, "forbidden"),
        (json!({"group_id": globex}), 422, "unknown_group"),
        (json!({"group_id": 999_999}), 422, "unknown_group"),
        (json!({"name": ""}), 422, "invalid_request"),
        (json!({"name": "x".repeat(129)}), 422, "invalid_request"),
        (json!({"email": "new@acme.test"}), 422, "invalid_request"),
        (json!({"enabled": "maybe"}), 422, "invalid_request"),
    ] {
        let a = cast.inside.patch(&path, body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", text(&a));
        assert_eq!(a.json()["code"], code, "{body}");
        assert_eq!(a.headers["content-type"], "application/problem+json");
    }
    let a = cast.master.patch(&path, json!({"group_id": other})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    // Now outside the in-scope admin's groups.
    assert_eq!(cast.inside.get(&path).await.status, 403);
    assert_eq!(
        cast.inside
            .patch(&path, json!({"group_id": root}))
            .await
            .status,
        403
    );
    let a = cast.outside.patch(&path, json!({"enabled": true})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["enabled"], true);
    answers.push(a);

    // A weak password is refused and changes nothing.
    for weak in ["abc", "password1", "ka@acme.test"] {
        let a = cast.master.patch(&path, json!({"password": weak})).await;
        assert_eq!(a.status, 422, "{weak}: {}", text(&a));
        assert_eq!(a.json()["code"], "weak_password");
        assert!(!text(&a).contains(weak), "the answer quotes the password");
    }
    assert_eq!(stored_hash().await, first_hash);

    // A new password: hashed with the configured scheme; must_change_password
    // follows the organization's setting at that moment.
    let a = cast
        .master
        .patch("/v1/settings", json!({"force_password_change": false}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let new_password = "Violet-Harbor-Kettle-5512";
    let a = cast
        .outside
        .patch(&path, json!({"password": new_password}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["must_change_password"], false);
    answers.push(a);
    let second_hash = stored_hash().await;
    assert_ne!(second_hash, first_hash);
    assert!(
        second_hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{second_hash}"
    );
    assert!(HashScheme::verify(new_password, &second_hash));
    assert!(!HashScheme::verify(&strong_password(10), &second_hash));

    cast.master
        .patch("/v1/settings", json!({"force_password_change": true}))
        .await;
    let a = cast
        .master
        .patch(&path, json!({"password": "Maple-Comet-Lantern-8830"}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(a.json()["must_change_password"], true);
    answers.push(a);
    let third_hash = stored_hash().await;
    assert!(HashScheme::verify("Maple-Comet-Lantern-8830", &third_hash));

    // No answer ever carried a hash or a password; the database holds neither password.
    answers.push(cast.master.get("/v1/technicians").await);
    answers.push(cast.master.get(&path).await);
    for a in &answers {
        let body = text(a);
        for secret in [
            first_hash.as_str(),
            second_hash.as_str(),
            third_hash.as_str(),
            "$argon2id$",
            "password_hash",
            new_password,
        ] {
            assert!(!body.contains(secret), "an answer holds {secret}: {body}");
        }
    }
    let dump = world.database_dump();
    for secret in [new_password, "Maple-Comet-Lantern-8830"] {
        assert!(
            !contains(&dump, secret.as_bytes()),
            "the database holds a password"
        );
    }
    for log in ["api.log", "admin.log"] {
        assert!(!world.log(log).contains(new_password), "{log}");
    }
}

#[tokio::test]
async fn embedded_license_seats_hold_on_technician_patches() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    import(
        &api,
        full_csv(&[
            ("La One", "la@acme.test", &strong_password(1), group),
            ("Mo Two", "mo@acme.test", &strong_password(2), group),
            ("Ni Three", "ni@acme.test", &strong_password(3), group),
        ]),
        &[],
    )
    .await;
    let la = format!(
        "/v1/technicians/{}",
        technician_id(&api, "la@acme.test").await
    );
    let mo = format!(
        "/v1/technicians/{}",
        technician_id(&api, "mo@acme.test").await
    );
    let licenses = || async { api.get("/v1/licenses").await.json() };
    assert_eq!(
        licenses().await,
        json!({"standard": {"seats": null, "used": 3}, "mobile": {"seats": null, "used": 0}})
    );

    let a = api
        .patch(
            "/v1/settings",
            json!({"licenses": {"standard_seats": 3, "mobile_seats": 1}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let refused = |a: Answer, what: &str| {
        assert_eq!(a.status, 409, "{what}: {}", text(&a));
        assert_eq!(a.json()["code"], "license_unavailable", "{what}");
    };

    // The one mobile seat.
    assert_eq!(
        api.patch(&la, json!({"mobile_license": true})).await.status,
        200
    );
    assert_eq!(licenses().await["mobile"], json!({"seats": 1, "used": 1}));
    refused(
        api.patch(&mo, json!({"mobile_license": true})).await,
        "second mobile",
    );
    // A disabled technician holds no mobile seat, so disabling frees it...
    assert_eq!(api.patch(&la, json!({"enabled": false})).await.status, 200);
    assert_eq!(licenses().await["mobile"]["used"], 0);
    assert_eq!(
        api.patch(&mo, json!({"mobile_license": true})).await.status,
        200
    );
    // ...and enabling again needs one.
    refused(api.patch(&la, json!({"enabled": true})).await, "re-enable");
    let la_now = api.get(&la).await.json();
    assert_eq!(la_now["enabled"], false, "a refused patch changes nothing");
    // A patch that takes no new seat passes though the seats are all in use.
    assert_eq!(
        api.patch(&mo, json!({"name": "Mo Renamed", "mobile_license": true}))
            .await
            .status,
        200
    );

    // Standard seats: 3 of 3 in use; freeing one lets one back in.
    assert_eq!(licenses().await["standard"], json!({"seats": 3, "used": 3}));
    assert_eq!(
        api.patch(&la, json!({"standard_license": false}))
            .await
            .status,
        200
    );
    let a = api
        .patch("/v1/settings", json!({"licenses": {"standard_seats": 2}}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    refused(
        api.patch(&la, json!({"standard_license": true})).await,
        "standard over the lowered limit",
    );
    // Unlimited again.
    let a = api
        .patch(
            "/v1/settings",
            json!({"licenses": {"standard_seats": null}}),
        )
        .await;
    assert_eq!(a.json()["licenses"]["standard_seats"], Value::Null);
    assert_eq!(a.json()["licenses"]["mobile_seats"], 1);
    assert_eq!(
        api.patch(&la, json!({"standard_license": true}))
            .await
            .status,
        200
    );
    assert_eq!(
        licenses().await,
        json!({"standard": {"seats": null, "used": 3}, "mobile": {"seats": 1, "used": 1}})
    );
}

#[tokio::test]
async fn embedded_groups_move_without_cycles_and_within_scope() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups {
        root, sub, other, ..
    } = groups;
    let deep = cast.inside.group("Deep", Some(sub)).await;
    let patch = |client: &Client, id: i64, body: Value| {
        let client = client.clone();
        async move { client.patch(&format!("/v1/groups/{id}"), body).await }
    };

    // No group moves under itself or its own sub-groups.
    for (id, parent) in [(root, root), (root, sub), (root, deep), (sub, deep)] {
        let a = patch(&cast.master, id, json!({"parent_id": parent})).await;
        assert_eq!(a.status, 422, "{id} under {parent}: {}", text(&a));
        assert_eq!(a.json()["code"], "invalid_request");
    }
    let a = patch(&cast.master, root, json!({"parent_id": 999_999})).await;
    assert_eq!(a.status, 422, "{}", text(&a));
    // Nothing moved.
    assert_eq!(
        cast.master.get(&format!("/v1/groups/{root}")).await.json()["parent_id"],
        Value::Null
    );

    // The admin moves inside its scope, never out of it nor to the top.
    let a = patch(&cast.inside, deep, json!({"parent_id": root})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        a.json(),
        json!({"id": deep, "name": "Deep", "parent_id": root})
    );
    for (body, status) in [
        (json!({"parent_id": other}), 403),
        (json!({"parent_id": null}), 403),
        (json!({"name": " "}), 422),
        (json!({"colour": "red"}), 422),
    ] {
        let a = patch(&cast.inside, deep, body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", text(&a));
        assert_eq!(a.headers["content-type"], "application/problem+json");
    }
    assert_eq!(
        patch(&cast.outside, other, json!({"parent_id": sub}))
            .await
            .status,
        403
    );
    // Sub-groups inside the scope, but no top-level groups.
    let a = cast
        .inside
        .post("/v1/groups", json!({"name": "Top", "parent_id": null}))
        .await;
    assert_eq!(a.status, 403, "{}", text(&a));
    let a = cast
        .inside
        .post(
            "/v1/groups",
            json!({"name": "Elsewhere", "parent_id": other}),
        )
        .await;
    assert_eq!(a.status, 403, "{}", text(&a));

    // The master moves a group to the top; it leaves the admin's scope with its sub-groups.
    let a = patch(
        &cast.master,
        sub,
        json!({"parent_id": null, "name": "Free"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        a.json(),
        json!({"id": sub, "name": "Free", "parent_id": null})
    );
    assert_eq!(
        cast.inside.get(&format!("/v1/groups/{sub}")).await.status,
        403
    );
    let visible = ids(&cast.inside.get("/v1/groups").await.json());
    assert_eq!(visible, [root, deep]);
    // And moves it back under another group.
    let a = patch(&cast.master, sub, json!({"parent_id": other})).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert_eq!(
        cast.outside.get(&format!("/v1/groups/{sub}")).await.status,
        200
    );
}

#[tokio::test]
async fn embedded_settings_change_and_a_stricter_policy_fails_weak_rows() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    assert_eq!(
        api.get("/v1/settings").await.json(),
        json!({"password_policy": {"min_length": 8, "min_strength": 2},
               "force_password_change": true,
               "licenses": {"standard_seats": null, "mobile_seats": null},
               "max_rows_per_file": 1_000_000,
               "sync_default_password_set": false})
    );
    // Out-of-range and unknown settings are refused and change nothing.
    for body in [
        json!({"password_policy": {"min_length": 0}}),
        json!({"password_policy": {"min_strength": 5}}),
        json!({"max_rows_per_file": 0}),
        json!({"licenses": {"mobile_seats": -1}}),
        json!({"password_policy": {"min_lenght": 12}}),
        json!({"force_password_change": "yes"}),
        json!(7),
    ] {
        let a = api.patch("/v1/settings", body.clone()).await;
        assert_eq!(a.status, 422, "{body}: {}", text(&a));
        assert_eq!(a.json()["code"], "invalid_request", "{body}");
    }
    let a = api
        .patch(
            "/v1/settings",
            json!({"password_policy": {"min_length": 24}, "max_rows_per_file": 500}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let settings = api.get("/v1/settings").await.json();
    assert_eq!(settings, a.json());
    assert_eq!(
        settings["password_policy"],
        json!({"min_length": 24, "min_strength": 2})
    );
    assert_eq!(settings["max_rows_per_file"], 500);

    // strong_password() has 20 characters: strong, but now too short.
    let long = "Plum-Orbit-Cactus-Harbor-77";
    let done = import(
        &api,
        full_csv(&[
            ("Oz Short", "oz@acme.test", &strong_password(1), group),
            ("Pi Long", "pi@acme.test", long, group),
        ]),
        &[],
    )
    .await;
    assert_eq!(done["counts"]["created"], 1, "{done}");
    assert_eq!(done["counts"]["failed"], 1, "{done}");
    let rows = api.all_rows(done["id"].as_str().unwrap()).await;
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["errors"][0]["field"], "Password");
    assert_eq!(rows[0]["errors"][0]["code"], "weak_password");
    assert!(
        rows[0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("24"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[1]["status"], "created");
    // The technician API applies the same policy.
    let pi = technician_id(&api, "pi@acme.test").await;
    let a = api
        .patch(
            &format!("/v1/technicians/{pi}"),
            json!({"password": strong_password(2)}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", text(&a));
    assert_eq!(a.json()["code"], "weak_password");
}

#[tokio::test]
async fn cluster_roles_tokens_and_seat_races_hold_on_postgres() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let (cast, groups) = cast(&world).await;
    let Groups { sub, other, .. } = groups;

    // With no worker running the import stays queued: it can be cancelled, by its starter.
    let a = cast
        .inside
        .upload(
            "queued.csv",
            full_csv(&[("Qu Queued", "qu@acme.test", &strong_password(1), sub)]).into_bytes(),
            &[],
        )
        .await;
    assert_eq!(a.status, 202, "{}", text(&a));
    let queued = a.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/imports/{queued}");
    cast.expect(
        Method::GET,
        &format!("{path}/result.xlsx"),
        None,
        [409, 409, 404, 404, 401],
    )
    .await;
    for client in [&cast.outside, &cast.stranger, &cast.anonymous] {
        let a = client.post(&format!("{path}/cancel"), json!({})).await;
        assert!([401, 404].contains(&a.status), "{}", text(&a));
    }
    let a = cast.inside.post(&format!("{path}/cancel"), json!({})).await;
    assert_eq!(a.status, 202, "{}", text(&a));
    world.start_worker();
    let done = cast.inside.wait_finished(&queued, FINISH).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(
        cast.master
            .get("/v1/technicians?email=qu@acme.test")
            .await
            .json()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Six technicians, then two mobile seats raced for by six concurrent patches.
    let rows: Vec<(String, String)> = (0..6)
        .map(|i| (format!("Racer {i}"), format!("racer{i}@acme.test")))
        .collect();
    let passwords: Vec<String> = (0..6).map(|i| strong_password(20 + i)).collect();
    let csv_rows: Vec<(&str, &str, &str, i64)> = rows
        .iter()
        .zip(&passwords)
        .map(|((n, e), p)| (n.as_str(), e.as_str(), p.as_str(), sub))
        .collect();
    import(&cast.inside, full_csv(&csv_rows), &[]).await;
    let a = cast
        .master
        .patch("/v1/settings", json!({"licenses": {"mobile_seats": 2}}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let mut ids = Vec::new();
    for (_, email) in &rows {
        ids.push(technician_id(&cast.master, email).await);
    }
    let racers = ids.iter().map(|id| {
        let client = cast.inside.clone();
        let id = *id;
        tokio::spawn(async move {
            client
                .patch(
                    &format!("/v1/technicians/{id}"),
                    json!({"mobile_license": true}),
                )
                .await
        })
    });
    let mut statuses = Vec::new();
    for racer in racers.collect::<Vec<_>>() {
        let a = racer.await.unwrap();
        if a.status == 409 {
            assert_eq!(a.json()["code"], "license_unavailable");
        }
        statuses.push(a.status);
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 409, 409, 409, 409]);
    assert_eq!(
        cast.master.get("/v1/licenses").await.json()["mobile"],
        json!({"seats": 2, "used": 2})
    );

    // The technician and group routes on PostgreSQL, briefly.
    let tech = format!("/v1/technicians/{}", ids[0]);
    cast.expect(Method::GET, &tech, None, [200, 200, 403, 404, 401])
        .await;
    // The master's move puts "Other" under "Sub": into the in-scope admin's groups
    // (so its same request passes), while "Sub" stays outside the other admin's.
    cast.expect(
        Method::PATCH,
        &format!("/v1/groups/{other}"),
        Some(json!({"parent_id": sub})),
        [200, 200, 403, 404, 401],
    )
    .await;
    let a = cast
        .master
        .patch(&format!("/v1/groups/{sub}"), json!({"parent_id": other}))
        .await;
    assert_eq!(a.status, 422, "a cycle: {}", text(&a));

    // Tokens: 256 random bits, shown once, stored only as SHA-256.
    let a = cast
        .master
        .post(
            "/v1/admins",
            json!({"email": "Later@acme.test", "role": "admin", "group_ids": [other]}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let later = a.json();
    let token = later["token"].as_str().unwrap().to_owned();
    assert_eq!(later["role"], "admin");
    assert_eq!(later["group_ids"], json!([other]));
    let duplicate = cast
        .master
        .post(
            "/v1/admins",
            json!({"email": "later@ACME.test", "role": "master"}),
        )
        .await;
    assert_eq!(duplicate.status, 409, "{}", text(&duplicate));
    assert_eq!(duplicate.json()["code"], "email_taken");
    let later = cast.master.with_token(&token);
    assert_eq!(later.get(&format!("/v1/groups/{other}")).await.status, 200);
    assert_eq!(later.get(&tech).await.status, 403);
    let tokens = [
        token.as_str(),
        cast.master.token.as_str(),
        cast.inside.token.as_str(),
        cast.outside.token.as_str(),
        cast.stranger.token.as_str(),
    ];
    for t in tokens {
        let hex = t.strip_prefix("rst_").expect("the rst_ prefix");
        assert_eq!(hex.len(), 64, "{t}");
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{t}");
    }
    let mut distinct = tokens.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), tokens.len());
    let dump = world.database_dump();
    assert!(contains(&dump, b"later@acme.test") || contains(&dump, b"Later@acme.test"));
    for t in tokens {
        assert!(!contains(&dump, t.as_bytes()), "the database holds a token");
        let hash = roster_shared::db::token_hash(t);
        assert!(contains(&dump, hash.as_bytes()), "its hash is stored");
    }
    let listed = text(&cast.master.get("/v1/admins").await);
    for t in tokens {
        assert!(!listed.contains(t), "GET /v1/admins shows a token");
    }
    for log in ["api.log", "worker-0.log", "admin.log"] {
        let log_text = world.log(log);
        for t in tokens {
            assert!(!log_text.contains(t), "{log} holds a token");
        }
    }
}

/// A full-layout CSV from `(email, enabled, standard, mobile)` rows, all in `group`.
fn licensed_csv(rows: &[(&str, bool, bool, bool)], group: i64) -> String {
    let yes = |b: bool| if b { "Yes" } else { "No" };
    let mut out = String::from(
        "Name,Nickname,Email,Single Sign-On ID,Description,Password,Enabled,Standard License,Mobile License,Tech Group ID\n",
    );
    for (i, (email, enabled, standard, mobile)) in rows.iter().enumerate() {
        out.push_str(&format!(
            "Tech {i},,{email},,,{},{},{},{},{group}\n",
            strong_password(100 + i),
            yes(*enabled),
            yes(*standard),
            yes(*mobile)
        ));
    }
    out
}

#[tokio::test]
async fn embedded_imports_stop_at_the_license_seats() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let a = api
        .patch(
            "/v1/settings",
            json!({"licenses": {"standard_seats": 3, "mobile_seats": 2}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let done = import(
        &api,
        licensed_csv(
            &[
                ("s1@acme.test", true, true, true),
                // Disabled: takes a standard seat, no mobile one.
                ("s2@acme.test", false, true, true),
                ("s3@acme.test", true, true, true),
                ("s4@acme.test", true, false, true),
                ("s5@acme.test", true, true, false),
                ("s6@acme.test", true, false, false),
            ],
            group,
        ),
        &[],
    )
    .await;
    let id = done["id"].as_str().unwrap();
    let outcomes: Vec<(String, String, String)> = api
        .all_rows(id)
        .await
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["errors"][0]["field"].as_str().unwrap_or("").to_owned(),
                r["errors"][0]["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("created", "", ""),
        ("created", "", ""),
        ("created", "", ""),
        ("failed", "Mobile License", "license_unavailable"),
        ("failed", "Standard License", "license_unavailable"),
        ("created", "", ""),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(outcomes, expected);
    assert_eq!(
        api.get("/v1/licenses").await.json(),
        json!({"standard": {"seats": 3, "used": 3}, "mobile": {"seats": 2, "used": 2}})
    );
    let (sheet, _) = api.result_sheet(id).await;
    assert!(
        sheet[4][10].starts_with("Error: Mobile License"),
        "{sheet:?}"
    );
}

#[tokio::test]
async fn cluster_concurrent_imports_never_exceed_the_seats() {
    let world = World::start(Mode::Cluster, 2, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let a = api
        .patch("/v1/settings", json!({"licenses": {"standard_seats": 5}}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let file = |prefix: &str| {
        let emails: Vec<String> = (0..4).map(|i| format!("{prefix}{i}@acme.test")).collect();
        let rows: Vec<(&str, bool, bool, bool)> = emails
            .iter()
            .map(|e| (e.as_str(), true, true, false))
            .collect();
        licensed_csv(&rows, group).into_bytes()
    };
    let (a, b) = tokio::join!(
        api.upload("a.csv", file("a"), &[]),
        api.upload("b.csv", file("b"), &[])
    );
    let mut created = 0;
    let mut refused = 0;
    for a in [a, b] {
        assert_eq!(a.status, 202, "{}", text(&a));
        let id = a.json()["id"].as_str().unwrap().to_owned();
        let done = api.wait_finished(&id, FINISH).await;
        assert_eq!(done["status"], "completed", "{done}");
        created += done["counts"]["created"].as_i64().unwrap();
        for row in api.all_rows(&id).await {
            if row["status"] == "failed" {
                assert_eq!(row["errors"][0]["code"], "license_unavailable", "{row}");
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (5, 3));
    assert_eq!(
        api.get("/v1/licenses").await.json()["standard"],
        json!({"seats": 5, "used": 5})
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
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

#[tokio::test]
async fn embedded_imports_touch_only_technicians_in_the_callers_scope() {
    imports_touch_only_technicians_in_the_callers_scope(Mode::Embedded).await;
}

#[tokio::test]
async fn cluster_imports_touch_only_technicians_in_the_callers_scope() {
    imports_touch_only_technicians_in_the_callers_scope(Mode::Cluster).await;
}
