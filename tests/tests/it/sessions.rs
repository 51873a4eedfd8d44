//! People sign in (API.md v1.1): `admin create --password-stdin` and
//! `POST /v1/admins` set a password; `POST /v1/session` answers with a strict,
//! HttpOnly cookie; a change made with the cookie needs the CSRF token; sessions
//! end when idle, after their lifetime, and when signed out, on every API
//! instance; failed sign-ins are throttled per email across instances; a wrong
//! email and a wrong password look and take alike; and no secret reaches a log.

use roster_tests::client::{Answer, text};
use roster_tests::session::{Session, sign_in};
use roster_tests::{Mode, World, both_modes, eventually, strong_password};
use serde_json::json;
use std::time::{Duration, Instant};

fn code(a: &Answer) -> String {
    a.json()["code"].as_str().unwrap_or_default().to_owned()
}

/// Every secret of an admin's sign-in as the database holds it: its password
/// hash and its sessions' hashes.
async fn stored_secrets(world: &World) -> Vec<String> {
    let db = world.db().await;
    let mut secrets: Vec<String> =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE password_hash IS NOT NULL")
            .fetch_all(&db.pool)
            .await
            .expect("password hashes");
    let sessions: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(&db.pool)
        .await
        .expect("session hashes");
    secrets.extend(sessions);
    db.close().await;
    secrets
}

async fn signing_in_and_out(mode: Mode) {
    let world = World::start(mode, usize::from(mode == Mode::Cluster), &[]).await;
    let password = strong_password(1);
    let master = world
        .admin_with_password("Acme", "Ana@acme.test", "master", &[], Some(&password))
        .await
        .expect("admin create --password-stdin");
    let admin_log = world.log("admin.log");
    assert!(!admin_log.contains(&password), "admin.log: {admin_log}");
    // The organization's policy applies to the password, on the command line and over HTTP.
    let weak = world
        .admin_with_password("Acme", "weak@acme.test", "admin", &[], Some("abc"))
        .await
        .err()
        .expect("a weak password is refused");
    assert!(weak.contains("password"), "{weak}");
    assert!(!weak.contains("abc\n"), "{weak}");
    let a = master
        .post(
            "/v1/admins",
            json!({"email": "weak@acme.test", "role": "master", "password": "abc"}),
        )
        .await;
    assert_eq!(
        (a.status, code(&a).as_str()),
        (422, "weak_password"),
        "{}",
        text(&a)
    );
    // An administrator's email is unique across the service, whatever the case.
    let a = master
        .post(
            "/v1/admins",
            json!({"email": "ANA@acme.test", "role": "admin"}),
        )
        .await;
    assert_eq!((a.status, code(&a).as_str()), (409, "email_taken"));
    assert!(
        world
            .admin_with_password("Globex", "ana@ACME.test", "master", &[], None)
            .await
            .is_err(),
        "another organization cannot reuse the email"
    );

    // A wrong password and an unknown email: the same answer.
    let wrong = sign_in(&world.api_url, "ana@acme.test", "Not-The-Password-1").await;
    let unknown = sign_in(&world.api_url, "nobody@acme.test", &password).await;
    assert_eq!(
        (wrong.status, code(&wrong).as_str()),
        (401, "invalid_credentials")
    );
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(unknown.status, 401);
    assert!(wrong.headers.get("set-cookie").is_none());

    // Signed in: a strict, HttpOnly cookie for the whole site, not Secure over http.
    let answer = sign_in(&world.api_url, " ANA@acme.test ", &password).await;
    let session = Session::from_sign_in(&world.api_url, &answer);
    assert!(answer.body.is_empty());
    let attributes: Vec<String> = session
        .set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["httponly", "samesite=strict", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted}: {}",
            session.set_cookie
        );
    }
    assert!(
        !attributes.iter().any(|a| a == "secure"),
        "{}",
        session.set_cookie
    );
    assert_eq!(session.cookie.len(), 64, "256 random bits, hex");

    let me = session.get("/v1/session").await;
    assert_eq!(me.status, 200, "{}", text(&me));
    let me = me.json();
    assert_eq!(me["admin"]["email"], "Ana@acme.test");
    assert_eq!(me["admin"]["role"], "master");
    assert_eq!(me["organization"]["name"], "Acme");
    let csrf = me["csrf_token"].as_str().expect("csrf token").to_owned();
    assert!(csrf.len() >= 32);

    // Reads need only the cookie; changes need the CSRF token too.
    assert_eq!(session.get("/v1/groups").await.status, 200);
    let a = session
        .post("/v1/groups", json!({"name": "No token"}))
        .await;
    assert_eq!((a.status, code(&a).as_str()), (403, "csrf"), "{}", text(&a));
    let a = session
        .with_csrf(Some("0".repeat(64).as_str()))
        .post("/v1/groups", json!({"name": "Wrong token"}))
        .await;
    assert_eq!((a.status, code(&a).as_str()), (403, "csrf"));
    let a = session
        .with_csrf(Some(&csrf))
        .patch("/v1/settings", json!({"max_rows_per_file": 5000}))
        .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    let signed_in = session.signed_in().await;
    let a = signed_in
        .post("/v1/groups", json!({"name": "Tier 1"}))
        .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    let groups = master.get("/v1/groups").await.json();
    let names: Vec<&str> = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names, ["Tier 1"], "the refused changes stored nothing");
    // A bearer token needs no CSRF token.
    let a = master.post("/v1/groups", json!({"name": "Tier 2"})).await;
    assert_eq!(a.status, 201);
    // A bearer token is judged alone, even next to a cookie; GET /v1/session is for cookies.
    assert_eq!(master.get("/v1/session").await.status, 401);

    // Signing out needs the CSRF token, ends the session on the server, clears the cookie.
    let a = session.delete("/v1/session").await;
    assert_eq!((a.status, code(&a).as_str()), (403, "csrf"));
    let a = signed_in.delete("/v1/session").await;
    assert_eq!(a.status, 204, "{}", text(&a));
    let cleared = a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(cleared.starts_with("roster_session=;"), "{cleared}");
    assert!(cleared.contains("max-age=0"), "{cleared}");
    for path in ["/v1/session", "/v1/groups"] {
        let a = session.get(path).await;
        assert_eq!(
            (a.status, code(&a).as_str()),
            (401, "unauthorized"),
            "{path}"
        );
    }

    // No password, session id, CSRF token or stored hash in a log or an answer.
    let again = Session::start(&world.api_url, "ana@acme.test", &password).await;
    let answers = [
        text(&master.get("/v1/admins").await),
        text(&again.get("/v1/session").await),
        text(&wrong),
        text(&unknown),
    ];
    let mut secrets = stored_secrets(&world).await;
    assert!(secrets.len() >= 2, "a password hash and a session");
    secrets.extend([
        password.clone(),
        session.cookie.clone(),
        again.cookie.clone(),
    ]);
    let log = world.log("api.log");
    assert!(log.contains("signed in"), "the api log is read: {log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret in api.log");
        for answer in &answers {
            assert!(
                !answer.contains(secret.as_str()),
                "a secret in an answer: {answer}"
            );
        }
    }
    for csrf in [csrf.as_str(), again.csrf.as_deref().unwrap()] {
        assert!(!log.contains(csrf), "a CSRF token in api.log");
    }
    assert!(!answers[0].contains("argon2"), "{}", answers[0]);
}

both_modes!(signing_in_and_out: embedded_signing_in_and_out, cluster_signing_in_and_out);

#[tokio::test]
async fn the_cookie_is_secure_behind_an_https_public_url() {
    let world = World::start(
        Mode::Embedded,
        0,
        &[("ROSTER_PUBLIC_URL", "https://roster.example.com")],
    )
    .await;
    let password = strong_password(2);
    world
        .admin_with_password("Acme", "ana@acme.test", "master", &[], Some(&password))
        .await
        .expect("admin");
    let session = Session::start(&world.api_url, "ana@acme.test", &password).await;
    assert!(
        session
            .set_cookie
            .split(';')
            .any(|a| a.trim().eq_ignore_ascii_case("secure")),
        "{}",
        session.set_cookie
    );
}

#[tokio::test]
async fn sessions_end_when_idle_and_after_their_lifetime() {
    let world = World::start(
        Mode::Embedded,
        0,
        &[
            ("ROSTER_SESSION_IDLE_SECS", "2"),
            ("ROSTER_SESSION_MAX_SECS", "5"),
        ],
    )
    .await;
    let password = strong_password(3);
    world
        .admin_with_password("Acme", "ana@acme.test", "master", &[], Some(&password))
        .await
        .expect("admin");
    let idle = Session::start(&world.api_url, "ana@acme.test", &password).await;
    let busy = Session::start(&world.api_url, "ana@acme.test", &password).await;
    let started = Instant::now();
    // The busy session is used every 300 ms: it outlives the idle time, but not its lifetime.
    let ended = eventually(
        Duration::from_secs(15),
        "the busy session to reach its lifetime",
        || async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            (busy.get("/v1/groups").await.status == 401).then(|| started.elapsed())
        },
    )
    .await;
    assert!(
        ended >= Duration::from_millis(4500),
        "a session in use lives its whole lifetime: ended after {ended:?}"
    );
    // The idle one, unused since its start, ended long before.
    let a = idle.get("/v1/session").await;
    assert_eq!(a.status, 401);
    // A fresh one, left alone for more than the idle time, ends.
    let fresh = Session::start(&world.api_url, "ana@acme.test", &password).await;
    assert_eq!(fresh.get("/v1/session").await.status, 200);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(fresh.get("/v1/session").await.status, 401, "idle too long");
}

/// A cluster with two API instances: a session made on one works on the other
/// and signing out on one ends it on both; failures counted on both lock the
/// email on both, even with the right password.
#[tokio::test]
async fn cluster_instances_share_sessions_and_failed_sign_ins() {
    let mut world = World::start(Mode::Cluster, 0, &[]).await;
    let other = world.start_another_api().await;
    let password = strong_password(4);
    let master = world
        .admin_with_password("Acme", "ana@acme.test", "master", &[], Some(&password))
        .await
        .expect("admin");
    master
        .post(
            "/v1/admins",
            json!({"email": "bo@acme.test", "role": "master", "password": strong_password(5)}),
        )
        .await;

    let session = Session::start(&world.api_url, "ana@acme.test", &password).await;
    let there = session.at(&other);
    let me = there.get("/v1/session").await;
    assert_eq!(me.status, 200, "{}", text(&me));
    assert_eq!(me.json()["csrf_token"].as_str(), session.csrf.as_deref());
    let a = there
        .post("/v1/groups", json!({"name": "Made there"}))
        .await;
    assert_eq!(a.status, 201, "{}", text(&a));
    assert_eq!(there.delete("/v1/session").await.status, 204);
    assert_eq!(
        session.get("/v1/session").await.status,
        401,
        "ended on both"
    );

    // Ten failures, split over the instances.
    for i in 0..10 {
        let base = if i % 2 == 0 { &world.api_url } else { &other };
        let a = sign_in(base, "ana@acme.test", &format!("Wrong-Guess-{i}")).await;
        assert_eq!(
            (a.status, code(&a).as_str()),
            (401, "invalid_credentials"),
            "try {i}"
        );
    }
    for base in [&world.api_url, &other] {
        let a = sign_in(base, "ANA@acme.test", &password).await;
        assert_eq!(
            (a.status, code(&a).as_str()),
            (429, "rate_limited"),
            "the right password after ten failures: {}",
            text(&a)
        );
        let retry: u64 = a.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After in seconds");
        assert!((1..=900).contains(&retry), "{retry}");
        assert!(a.headers.get("set-cookie").is_none());
    }
    // Another email is not affected, and tokens still work.
    Session::start(&other, "bo@acme.test", &strong_password(5)).await;
    assert_eq!(master.get("/v1/groups").await.status, 200);
}

/// With the service's real hash cost, an unknown email takes about as long as
/// a wrong password (median of several tries each, interleaved).
#[tokio::test]
async fn an_unknown_email_takes_as_long_as_a_wrong_password() {
    let world = World::start(
        Mode::Embedded,
        0,
        &[("ROSTER_PASSWORD_HASH", "argon2id:m=19456,t=2,p=1")],
    )
    .await;
    // Two accounts, nine wrong passwords each (a tenth failure would lock the
    // email), against as many tries with unknown emails: 18 samples a side.
    for (i, email) in ["ana@acme.test", "bo@acme.test"].into_iter().enumerate() {
        world
            .admin_with_password("Acme", email, "master", &[], Some(&strong_password(6 + i)))
            .await
            .expect("admin");
    }
    // Warm up both paths (connections, the dummy hash).
    sign_in(&world.api_url, "warm@acme.test", "x").await;
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..9 {
        for (known, nobody) in [
            ("ana@acme.test", "nobody@acme.test"),
            ("bo@acme.test", "noone@acme.test"),
        ] {
            for (email, times) in [(known, &mut wrong), (nobody, &mut unknown)] {
                let started = Instant::now();
                let a = sign_in(&world.api_url, email, &format!("Wrong-Guess-{i}")).await;
                times.push(started.elapsed());
                assert_eq!(a.status, 401);
            }
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (wrong, unknown) = (median(&mut wrong), median(&mut unknown));
    let (fast, slow) = (wrong.min(unknown), wrong.max(unknown));
    eprintln!("median sign-in: wrong password {wrong:?}, unknown email {unknown:?}");
    assert!(
        slow.as_secs_f64() <= fast.as_secs_f64() * 1.2,
        "wrong password {wrong:?} vs unknown email {unknown:?}"
    );
    assert!(
        fast >= Duration::from_millis(5),
        "both verify a password: {fast:?}"
    );
}
