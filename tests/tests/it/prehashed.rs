//! Issue 20: rows that give a password hash another system made (the full
//! layout's `Password Hash` column, `password_hash` in JSON) are stored as
//! given, never hashed again and never passed through the hashing pool, on
//! both deployments; a row that gives a password and a hash, or a bad hash,
//! fails with its reason; a file without the column imports as before.

use roster_shared::password::HashScheme;
use roster_tests::{Client, Mode, World, both_modes, strong_password};
use serde_json::{Value, json};
use std::time::Duration;

const FINISH: Duration = Duration::from_secs(120);

/// Known vectors, one per accepted form: (hash, the password it was made from).
const HASHES: &[(&str, &str)] = &[
    (
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "password",
    ),
    (
        "$pbkdf2-sha256$i=1000,l=32$cm9zdGVyLXNhbHQtMDAwMQ$aPtWOlntkj3vBK8zzos/0xtjwThQhkwN1ISOFvsoCtU",
        "Correct-Horse-Battery-9",
    ),
    (
        "$scrypt$ln=10,r=8,p=1$cm9zdGVyLXNhbHQtMDAwMQ$6eMILT1q5dxsdw52Fy0CUH2yaH2onA/MIHt+3gufrUU",
        "Correct-Horse-Battery-9",
    ),
    (
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
    ),
    (
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
    ),
    (
        "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
    ),
];

const HEADER: &str = "Name,Nickname,Email,Single Sign-On ID,Description,Password,Password Hash,Enabled,Standard License,Mobile License,Tech Group ID\n";

/// One row; the hash quoted, as PHC strings hold commas.
fn csv_row(n: usize, password: &str, hash: &str, group: i64) -> String {
    format!("Tech {n},,tech{n}@acme.test,,,{password},\"{hash}\",Yes,Yes,No,{group}\n")
}

/// The log lines a chunk writes when it is done, from whichever process ran it.
fn hashed_totals(world: &World, mode: Mode) -> Vec<u64> {
    let logs = match mode {
        Mode::Embedded => world.log("api.log"),
        Mode::Cluster => world.log("worker-0.log"),
    };
    without_ansi(&logs)
        .lines()
        .filter(|line| line.contains("chunk written"))
        .filter_map(|line| {
            let (_, rest) = line.split_once("passwords_hashed_total=")?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// `text` without terminal colour codes (`ESC [ ... m`).
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

async fn stored_hash(world: &World, email: &str) -> (String, bool) {
    let db = world.db().await;
    let (hash, must_change) = sqlx::query_as::<_, (String, i64)>(
        "SELECT password_hash, CAST(must_change_password AS BIGINT) \
         FROM technicians WHERE email = $1",
    )
    .bind(email)
    .fetch_one(&db.pool)
    .await
    .expect("the technician");
    (hash, must_change == 1)
}

async fn import(api: &Client, name: &str, bytes: Vec<u8>) -> (String, Value) {
    let a = api.upload(name, bytes, &[]).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().expect("id").to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    (id, done)
}

async fn prehashed_rows_are_stored_as_given_and_never_hashed(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;

    // 1. Only hashes: every form, stored byte for byte, the pool never used.
    let mut csv = String::from(HEADER);
    for (n, (hash, _)) in HASHES.iter().enumerate() {
        csv.push_str(&csv_row(n, "", hash, group));
    }
    let (id, done) = import(&api, "hashes.csv", csv.into_bytes()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["counts"]["created"],
        HASHES.len(),
        "{:?}",
        api.all_rows(&id).await
    );
    for (n, (hash, password)) in HASHES.iter().enumerate() {
        let (stored, must_change) = stored_hash(&world, &format!("tech{n}@acme.test")).await;
        assert_eq!(stored, *hash, "stored as given");
        // must_change_password follows the settings (on by default).
        assert!(must_change);
        if hash.starts_with("$argon2id$") {
            assert!(HashScheme::verify(password, &stored));
        }
    }
    let totals = hashed_totals(&world, mode);
    assert!(!totals.is_empty(), "no chunk log line");
    assert!(
        totals.iter().all(|t| *t == 0),
        "a pre-hashed row reached the hashing pool: {totals:?}"
    );
    // The result shows neither passwords nor hashes; the column stays.
    let (sheet, _) = api.result_sheet(&id).await;
    assert_eq!(sheet[0][6], "Password Hash");
    for row in &sheet[1..] {
        assert_eq!((row[5].as_str(), row[6].as_str()), ("", ""), "{row:?}");
        assert_eq!(row[11], "Success");
    }

    // 2. Mixed: a password (hashed, once), both (conflict), a bad hash, and a
    // hash with the policy off its path (a weak password would fail).
    api.patch("/v1/settings", json!({"force_password_change": false}))
        .await;
    let mut csv = String::from(HEADER);
    csv.push_str(&csv_row(10, &strong_password(10), "", group));
    csv.push_str(&csv_row(11, &strong_password(11), HASHES[3].0, group));
    csv.push_str(&csv_row(
        12,
        "",
        "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        group,
    ));
    csv.push_str(&csv_row(13, "", "$md5$abc", group));
    csv.push_str(&csv_row(14, "", HASHES[1].0, group));
    csv.push_str(&csv_row(15, "password", "", group));
    let (id, done) = import(&api, "mixed.csv", csv.into_bytes()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let rows = api.all_rows(&id).await;
    let codes: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let code = r["errors"][0]["code"].as_str().unwrap_or("").to_owned();
            (r["status"].as_str().unwrap_or("").to_owned(), code)
        })
        .collect();
    let expected = [
        ("created", ""),
        ("failed", "password_conflict"),
        ("failed", "invalid_hash"),
        ("failed", "invalid_hash"),
        ("created", ""),
        ("failed", "weak_password"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(s, c)| ((*s).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(codes, expected, "{rows:?}");
    assert_eq!(rows[2]["errors"][0]["field"], "Password Hash");
    let reason = rows[2]["errors"][0]["message"].as_str().unwrap_or("");
    assert!(reason.contains("cost is 31"), "{reason}");
    let (stored, must_change) = stored_hash(&world, "tech10@acme.test").await;
    assert!(stored.starts_with("$argon2id$") && HashScheme::verify(&strong_password(10), &stored));
    assert!(!must_change, "follows the changed setting");
    let (stored, must_change) = stored_hash(&world, "tech14@acme.test").await;
    assert_eq!((stored.as_str(), must_change), (HASHES[1].0, false));
    // Only the one password went through the pool.
    assert_eq!(hashed_totals(&world, mode).last(), Some(&1));

    // 3. JSON: the `password_hash` key; its result keeps the ten columns.
    let json = json!([{
        "name": "Jo Json", "email": "jo@acme.test", "password_hash": HASHES[4].0,
        "enabled": true, "standard_license": true, "mobile_license": false,
        "tech_group_id": group
    }]);
    let (id, done) = import(&api, "hashes.json", json.to_string().into_bytes()).await;
    assert_eq!(done["counts"]["created"], 1, "{done}");
    assert_eq!(stored_hash(&world, "jo@acme.test").await.0, HASHES[4].0);
    let (sheet, _) = api.result_sheet(&id).await;
    assert_eq!(sheet[0].len(), 11, "ten columns and Result: {:?}", sheet[0]);
    assert_eq!(sheet[1][10], "Success");
    assert!(
        !sheet[1].iter().any(|c| c.contains("$2b$")),
        "{:?}",
        sheet[1]
    );
    assert_eq!(hashed_totals(&world, mode).last(), Some(&1));
}

both_modes!(prehashed_rows_are_stored_as_given_and_never_hashed: embedded_prehashed_rows_are_stored_as_given_and_never_hashed, cluster_prehashed_rows_are_stored_as_given_and_never_hashed);
