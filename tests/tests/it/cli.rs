//! The `roster` command-line client, run as a user runs it, against the real
//! `roster-api` on both deployments: its exit statuses (0 all rows good, 1 some
//! rows failed, 2 the import failed or was cancelled, 3 usage, sign-in or
//! network errors), what it prints with and without a terminal, `--json`,
//! `--result`, `--group NAME` and `roster login`.

use roster_tests::client::read_xlsx;
use roster_tests::services::{bin, free_port};
use roster_tests::{Client, Mode, World, both_modes, full_csv, good_rows, strong_password};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FINISH: Duration = Duration::from_secs(120);

/// Runs `roster ARGS` against `url` with a configuration folder of its own
/// (`config`), and `stdin` on standard input; nothing from the caller's
/// environment (ROSTER_TOKEN, a stored login) leaks in.
async fn roster_in(url: &str, config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = tokio::process::Command::new(bin("roster"))
        .args(args)
        .env("ROSTER_URL", url)
        .env("XDG_CONFIG_HOME", config)
        .env("HOME", config)
        .env_remove("ROSTER_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start roster");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    tokio::time::timeout(FINISH, child.wait_with_output())
        .await
        .expect("roster finished in time")
        .expect("roster ran")
}

/// `roster --token TOKEN ARGS` against the world's API.
async fn roster(world: &World, api: &Client, args: &[&str]) -> Output {
    let mut all = vec!["--token", api.token.as_str()];
    all.extend_from_slice(args);
    roster_in(&world.api_url, &world.dir.path().join("home"), &all, "").await
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("an exit status, not a signal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Without a terminal there are no bars: no escape sequences, no carriage returns.
fn assert_plain(out: &Output) {
    let err = stderr(out);
    assert!(
        !err.contains('\x1b') && !err.contains('\r'),
        "control characters on stderr without a terminal: {err:?}"
    );
}

fn write(world: &World, name: &str, body: &str) -> String {
    let path = world.dir.path().join(name);
    std::fs::write(&path, body).expect("write the import file");
    path.display().to_string()
}

async fn good_rows_exit_0_and_the_json_is_the_import(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    // --group by name (any case) wins over the file's Tech Group IDs.
    let file = write(&world, "good.csv", &good_rows("good", 30, group + 1000));
    let result = world.dir.path().join("out.xlsx");
    let out = roster(
        &world,
        &api,
        &[
            "import",
            &file,
            "--group",
            "TIER 1",
            "--wait",
            "--json",
            "--result",
            result.to_str().unwrap(),
            "--on-existing",
            "skip",
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert_plain(&out);
    // --json: stdout is exactly the final import resource.
    let printed: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let id = printed["id"].as_str().expect("an import id");
    let fetched = api.get(&format!("/v1/imports/{id}")).await.json();
    assert_eq!(printed, fetched);
    assert_eq!(printed["status"], "completed");
    assert_eq!(printed["counts"]["created"], 30);
    // One line per tenth of the rows, the last at 100%.
    let err = stderr(&out);
    assert!(err.contains("30 rows of 30 processed (100%)"), "{err}");
    assert!(err.lines().count() <= 12, "a line per tenth only: {err}");
    // --result: a spreadsheet that opens, one Success per row.
    let (sheet, summary) = read_xlsx(&std::fs::read(&result).expect("--result wrote a file"));
    assert_eq!(sheet[0].last().map(String::as_str), Some("Result"));
    assert_eq!(sheet.len(), 31);
    assert!(sheet[1..].iter().all(|r| r.last().unwrap() == "Success"));
    assert!(!summary.is_empty());
    // --wait followed the events stream.
    let log = world.log("api.log");
    assert!(log.contains(&format!("/v1/imports/{id}/events")), "{log}");
}

both_modes!(good_rows_exit_0_and_the_json_is_the_import: embedded_good_rows_exit_0_and_the_json_is_the_import, cluster_good_rows_exit_0_and_the_json_is_the_import);

async fn bad_rows_exit_1_and_the_first_20_are_named(mode: Mode) {
    let world = World::start(mode, 1, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let emails: Vec<String> = (0..27).map(|i| format!("t{i}@acme.test")).collect();
    let good = strong_password(1);
    // Rows 2 and 3 are good; rows 4 to 28 have a weak password.
    let rows: Vec<(&str, &str, &str, i64)> = (0..27)
        .map(|i| {
            (
                "Tech",
                emails[i].as_str(),
                if i < 2 { good.as_str() } else { "abc" },
                group,
            )
        })
        .collect();
    let file = write(&world, "bad.csv", &full_csv(&rows));
    let gid = group.to_string();
    let out = roster(&world, &api, &["import", &file, "--group", &gid, "--wait"]).await;
    assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
    assert_plain(&out);
    let text = stdout(&out);
    assert!(text.contains("created 2,"), "{text}");
    assert!(text.contains("failed 25,"), "{text}");
    assert!(text.contains("row 4: Password: "), "{text}");
    assert!(text.contains("row 23: Password: "), "{text}");
    assert!(!text.contains("row 24:"), "only the first 20: {text}");
    assert!(text.contains("and 5 more"), "{text}");
    assert!(!text.contains("abc"), "a password was printed: {text}");

    // The other commands on the same import.
    let list = roster(&world, &api, &["imports"]).await;
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let id = stdout(&list)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        api.get(&format!("/v1/imports/{id}")).await.json()["failed_rows"],
        25
    );
    let failed = roster(&world, &api, &["rows", &id, "--failed"]).await;
    assert_eq!(code(&failed), 0, "{}", stderr(&failed));
    assert_eq!(stdout(&failed).lines().count(), 25, "{}", stdout(&failed));
    let all = roster(&world, &api, &["rows", &id]).await;
    assert_eq!(stdout(&all).lines().count(), 27);
    assert!(
        stdout(&all).contains("row 2: t0@acme.test created"),
        "{}",
        stdout(&all)
    );
    let status = roster(&world, &api, &["status", &id]).await;
    assert_eq!(code(&status), 1, "status exits as the import ended");
    let saved = world.dir.path().join("again.xlsx");
    let result = roster(
        &world,
        &api,
        &["result", &id, "-o", saved.to_str().unwrap()],
    )
    .await;
    assert_eq!(code(&result), 0, "{}", stderr(&result));
    let (sheet, _) = read_xlsx(&std::fs::read(&saved).expect("result saved"));
    assert_eq!(sheet[1].last().unwrap(), "Success");
    assert!(
        sheet[3].last().unwrap().starts_with("Error: Password"),
        "{:?}",
        sheet[3]
    );
}

both_modes!(bad_rows_exit_1_and_the_first_20_are_named: embedded_bad_rows_exit_1_and_the_first_20_are_named, cluster_bad_rows_exit_1_and_the_first_20_are_named);

async fn a_bad_header_or_a_cancel_exits_2(mode: Mode) {
    // Costly hashing, one row at a time: the long import is still running when cancelled.
    let env = [
        ("ROSTER_PASSWORD_HASH", "argon2id:m=4096,t=2,p=1"),
        ("ROSTER_WORKER_CONCURRENCY", "1"),
    ];
    let world = World::start(mode, 1, &env).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let file = write(
        &world,
        "header.csv",
        "Name,E-mail,Password\nAna,ana@acme.test,x\n",
    );
    let gid = group.to_string();
    let out = roster(&world, &api, &["import", &file, "--group", &gid, "--wait"]).await;
    assert_eq!(code(&out), 2, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("bad_header"), "{}", stdout(&out));
    assert!(stdout(&out).contains("E-mail"), "{}", stdout(&out));

    let file = write(&world, "long.csv", &good_rows("long", 2000, group));
    let (url, home) = (world.api_url.clone(), world.dir.path().join("home"));
    let token = api.token.clone();
    let waiting = tokio::spawn(async move {
        let args = ["--token", &token, "import", &file, "--wait", "--json"];
        roster_in(&url, &home, &args, "").await
    });
    let id = roster_tests::eventually(FINISH, "rows processed", || async {
        let page = api.get("/v1/imports?limit=1").await.json();
        let import = page["items"]
            .get(0)
            .filter(|i| i["file_name"] == "long.csv")?;
        let processed = import["processed_rows"].as_i64().unwrap_or(0);
        (processed > 0).then(|| import["id"].as_str().unwrap().to_owned())
    })
    .await;
    let cancel = roster(&world, &api, &["cancel", &id]).await;
    assert_eq!(code(&cancel), 0, "{}", stderr(&cancel));
    let out = waiting.await.expect("the waiting roster");
    assert_eq!(code(&out), 2, "{}\n{}", stdout(&out), stderr(&out));
    assert_plain(&out);
    let printed: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(printed["status"], "cancelled");
}

both_modes!(a_bad_header_or_a_cancel_exits_2: embedded_a_bad_header_or_a_cancel_exits_2, cluster_a_bad_header_or_a_cancel_exits_2);

#[tokio::test]
async fn usage_sign_in_and_network_errors_exit_3() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let top = api.group("Tier 2", None).await;
    api.group("tier 2", Some(top)).await;
    api.group("Tier 3", None).await;
    let file = write(&world, "one.csv", &good_rows("one", 1, top));
    let home = world.dir.path().join("home");

    let wrong = "not-a-token-at-all";
    let out = roster(&world, &api.with_token(wrong), &["import", &file, "--wait"]).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(wrong), "the token was printed");

    let out = roster_in(&world.api_url, &home, &["imports"], "").await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("roster login"), "{}", stderr(&out));

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let args = ["--token", &api.token, "--url", &nowhere, "import", &file];
    let out = roster_in(&world.api_url, &home, &args, "").await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&api.token), "the token was printed");

    for usage in [
        &["import"][..],
        &["import", &file, "--on-existing", "maybe"],
        &["frobnicate"],
        &["import", &file, "--result"],
    ] {
        let out = roster(&world, &api, usage).await;
        assert_eq!(code(&out), 3, "{usage:?}: {}", stderr(&out));
    }
    let out = roster(&world, &api, &["import", "/no/such/file.csv"]).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));

    // --group NAME: exact and case-insensitive, else exit 3 before any upload.
    let out = roster(&world, &api, &["import", &file, "--group", "tier 2"]).await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("2 groups"), "{}", stderr(&out));
    let out = roster(&world, &api, &["import", &file, "--group", "Tier"]).await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("no group"), "{}", stderr(&out));
    let imports = api.get("/v1/imports").await.json();
    assert_eq!(imports["items"].as_array().unwrap().len(), 0, "{imports}");
    let out = roster(
        &world,
        &api,
        &["import", &file, "--group", "TIER 3", "--json"],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let started: Value = serde_json::from_slice(&out.stdout).expect("the import as JSON");
    let tier3 = api.get("/v1/groups").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Tier 3")
        .unwrap()["id"]
        .clone();
    assert_eq!(started["group_id"], tier3);

    // Templates need no token.
    let out = roster_in(
        &world.api_url,
        &home,
        &["templates", "--format", "json"],
        "",
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let _: Value = serde_json::from_slice(&out.stdout).expect("the JSON template");
}

#[tokio::test]
async fn login_stores_a_private_file_that_later_commands_use() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let home = world.dir.path().join("home");
    let config = home.join("roster");

    let out = roster_in(&world.api_url, &home, &["login"], "wrong-token\n").await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        !config.join("config.json").exists(),
        "a refused token is not stored"
    );

    // The token on standard input, as a script gives it: never echoed.
    let out = roster_in(
        &world.api_url,
        &home,
        &["login"],
        &format!("{}\n", api.token),
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stdout(&out).contains(&api.token) && !stderr(&out).contains(&api.token));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&config.join("config.json")), 0o600);
    assert_eq!(mode(&config), 0o700);

    let group = api.group("Tier 1", None).await.to_string();
    let file = write(&world, "one.csv", &good_rows("one", 1, 0));
    let args = ["import", &file, "--group", &group, "--wait"];
    let out = roster_in(&world.api_url, &home, &args, "").await;
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let out = roster_in(&world.api_url, &home, &["imports"], "").await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("completed"), "{}", stdout(&out));

    // The stored token goes only to the server it was stored for.
    let other = format!("http://127.0.0.1:{}", free_port());
    let out = roster_in(&other, &home, &["imports"], "").await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("no token"), "{}", stderr(&out));
}

#[tokio::test]
async fn on_a_terminal_the_bars_are_drawn() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let file = write(&world, "tty.csv", &good_rows("tty", 200, group));
    // script(1) from util-linux gives roster a pseudo-terminal.
    let command = format!(
        "{} --token {} import {file} --wait",
        bin("roster").display(),
        api.token
    );
    let out = tokio::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("ROSTER_URL", &world.api_url)
        .env("XDG_CONFIG_HOME", world.dir.path())
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output();
    let out = tokio::time::timeout(FINISH, out)
        .await
        .expect("in time")
        .expect("script ran");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{screen}");
    assert!(screen.contains("uploading tty.csv ["), "{screen}");
    assert!(screen.contains("] 200/200 rows"), "{screen}");
    assert!(screen.contains("rows/s"), "{screen}");
    assert!(screen.contains('\r') || screen.contains('\x1b'), "{screen}");
    assert!(screen.contains("created 200,"), "{screen}");
    // Each finished bar ends its line: the summary starts on its own.
    assert!(screen.contains("\nimport "), "{screen:?}");
}

/// What the proxy in front of the API does to the events stream.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Cut the first stream after its first `import` event.
    CutFirstStream,
    /// Answer 404 to it, as a server without the route does.
    NoEventsRoute,
}

/// A loopback proxy to `upstream` with `fault`; its flag tells, for a cut,
/// whether a later request carried `Last-Event-ID`, for a 404 that it was sent.
async fn proxy(upstream: String, fault: Fault) -> (String, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (cut, flag) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let seen = flag.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let (cut, flag) = (cut.clone(), flag.clone());
            tokio::spawn(async move {
                let (mut up, mut down) = ([0u8; 16384], [0u8; 16384]);
                let mut events = false;
                loop {
                    tokio::select! {
                        n = client.read(&mut up) => {
                            let Ok(n @ 1..) = n else { return };
                            let text = String::from_utf8_lossy(&up[..n]).to_lowercase();
                            events |= text.contains("/events");
                            if fault == Fault::NoEventsRoute && text.contains("/events") {
                                flag.store(true, Ordering::SeqCst);
                                let body = r#"{"status":404,"code":"not_found","detail":"no such route"}"#;
                                let answer = format!("HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                                if client.write_all(answer.as_bytes()).await.is_err() { return }
                                continue;
                            }
                            if cut.load(Ordering::SeqCst) && text.contains("last-event-id:") {
                                flag.store(true, Ordering::SeqCst);
                            }
                            if server.write_all(&up[..n]).await.is_err() { return }
                        }
                        n = server.read(&mut down) => {
                            let Ok(n @ 1..) = n else { return };
                            if client.write_all(&down[..n]).await.is_err() { return }
                            let text = String::from_utf8_lossy(&down[..n]);
                            if fault == Fault::CutFirstStream && events
                                && text.contains("event: import") && !text.contains("event: done")
                                && !cut.swap(true, Ordering::SeqCst)
                            {
                                return; // drops both sockets mid-stream
                            }
                        }
                    }
                }
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn without_the_events_route_the_client_polls() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let file = write(&world, "poll.csv", &good_rows("poll", 50, group));
    let upstream = world.api_url.trim_start_matches("http://").to_owned();
    let (url, refused) = proxy(upstream, Fault::NoEventsRoute).await;
    let home = world.dir.path().join("home");
    let args = ["--token", &api.token, "import", &file, "--wait", "--json"];
    let out = roster_in(&url, &home, &args, "").await;
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        refused.load(Ordering::SeqCst),
        "the events route was not asked"
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(printed["counts"]["created"], 50);
    assert!(
        stderr(&out).contains("50 rows of 50 processed (100%)"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_dropped_events_stream_is_resumed_with_last_event_id() {
    let env = [
        ("ROSTER_PASSWORD_HASH", "argon2id:m=4096,t=2,p=1"),
        ("ROSTER_WORKER_CONCURRENCY", "1"),
    ];
    let world = World::start(Mode::Embedded, 0, &env).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let file = write(&world, "cut.csv", &good_rows("cut", 300, group));
    let upstream = world.api_url.trim_start_matches("http://").to_owned();
    let (url, resumed) = proxy(upstream, Fault::CutFirstStream).await;
    let home = world.dir.path().join("home");
    let args = ["--token", &api.token, "import", &file, "--wait"];
    let out = roster_in(&url, &home, &args, "").await;
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("created 300,"), "{}", stdout(&out));
    assert!(
        resumed.load(Ordering::SeqCst),
        "no reconnection with Last-Event-ID"
    );
}
