//! The hostile corpus (issue 15): uploads built to exhaust or fool the
//! process that reads them, each sent to the real API. `scripts/hostile-corpus.py`
//! writes them into the test's folder at run time (nothing big is committed):
//! zip bombs by ratio, by a lying size and by entry count, a huge shared-string
//! count, a cell at XFD1048576, a 50 MB CSV line, a million columns, broken
//! and mixed encodings, deeply nested JSON, 32 MiB JSON strings, duplicate
//! keys, formulas in every column, a macro workbook and an encrypted workbook.
//!
//! Each must end as a clear 4xx at upload or a file- or row-level error with
//! a code, within bounded time and memory (peak RSS of the API and of the
//! worker, per case), while `/healthz` keeps answering 200 and another
//! organization's ordinary import, running at the same time, completes
//! untouched. Formulas come back as text in the result spreadsheet.

use roster_tests::client::{read_xlsx, xlsx_parts};
use roster_tests::services::{peak_rss_mib, reset_peak_rss};
use roster_tests::{Client, Mode, World, both_modes, full_csv, strong_password};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest a case may take from upload to its import's end.
const FINISH: Duration = Duration::from_secs(120);
/// Peak resident memory any process may reach on any case. An idle API is
/// about 30 MB; the 50 MB CSV line and 64 MiB JSON strings are the largest inputs.
const PEAK_RSS_MIB: u64 = 200;
/// Rows of the other organization's import that runs alongside.
const NEIGHBOUR_ROWS: usize = 1_500;

/// How a case must end.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Refused at upload with this status and problem `code`.
    Refused(u16, &'static str),
    /// Accepted, then the import fails as a whole with this error code.
    FileFails(&'static str),
    /// Accepted and completed: `created` rows were created and every other
    /// row failed with a row error code.
    Rows { created: u64 },
}

/// The corpus: file, expected ending, and a piece of the message it must give.
const CASES: &[(&str, Expect, &str)] = &[
    (
        "ratio-bomb.xlsx",
        Expect::FileFails("unsafe_file"),
        "expands",
    ),
    (
        "lying-bomb.xlsx",
        Expect::FileFails("unreadable_file"),
        "declared",
    ),
    ("entry-bomb.xlsx", Expect::FileFails("unsafe_file"), "parts"),
    (
        "shared-string-count.xlsx",
        Expect::FileFails("unsafe_file"),
        "shared strings",
    ),
    ("far-cell.xlsx", Expect::Rows { created: 2 }, ""),
    ("million-columns.xlsx", Expect::FileFails("unsafe_file"), ""),
    ("macro.xlsm", Expect::Rows { created: 2 }, ""),
    (
        "encrypted.xlsx",
        Expect::Refused(415, "unsupported_format"),
        "password-protected",
    ),
    (
        "endless-line.csv",
        Expect::FileFails("unreadable_file"),
        "16 MiB",
    ),
    (
        "million-columns.csv",
        Expect::FileFails("bad_header"),
        "column 2",
    ),
    (
        "invalid-utf16.csv",
        Expect::Refused(415, "unsupported_format"),
        "UTF-16",
    ),
    (
        "mixed-encodings.csv",
        Expect::FileFails("unreadable_file"),
        "",
    ),
    (
        "nested.json",
        Expect::FileFails("unreadable_file"),
        "recursion limit",
    ),
    ("nested-cell.json", Expect::FileFails("unreadable_file"), ""),
    (
        "huge-strings.json",
        Expect::FileFails("unreadable_file"),
        "larger than",
    ),
    ("duplicate-keys.json", Expect::Rows { created: 0 }, ""),
    ("formulas.csv", Expect::Rows { created: 1 }, ""),
    ("formulas.xlsx", Expect::Rows { created: 1 }, ""),
];

/// Writes the corpus for `group` into `dir` (or only the `only` files).
fn corpus(dir: &Path, group: i64, only: &[&str]) -> PathBuf {
    let out = dir.join("corpus");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/hostile-corpus.py");
    let status = std::process::Command::new("python3")
        .arg(script)
        .arg(&out)
        .arg(group.to_string())
        .args(only)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 scripts/hostile-corpus.py");
    assert!(status.success(), "the corpus generator failed");
    out
}

/// `/healthz`, asked every 200 ms until stopped: (answers that were not a
/// quick 200, slowest answer).
fn watch_health(
    url: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<String>, Duration)> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let (mut bad, mut slowest) = (Vec::new(), Duration::ZERO);
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            match http.get(format!("{url}/healthz")).send().await {
                Ok(r) if r.status() == 200 => {}
                Ok(r) => bad.push(format!("status {}", r.status())),
                Err(e) => bad.push(e.to_string()),
            }
            slowest = slowest.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (bad, slowest)
    })
}

/// Another organization's ordinary import, started now.
async fn neighbour(world: &World) -> (Client, String) {
    let other = world
        .admin("Other", "master@other.test", "master", &[])
        .await;
    let group = other.group("Support", None).await;
    let emails: Vec<String> = (0..NEIGHBOUR_ROWS)
        .map(|i| format!("n{i}@other.test"))
        .collect();
    let password = strong_password(9);
    let rows: Vec<(&str, &str, &str, i64)> = emails
        .iter()
        .map(|e| ("Neighbour", e.as_str(), password.as_str(), group))
        .collect();
    let a = other
        .upload("team.csv", full_csv(&rows).into_bytes(), &[])
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    (other, id)
}

/// Checks `ok`, else says `what` went wrong.
fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

/// Sends one file and checks how it ends; returns the finished import, if any.
async fn send(
    api: &Client,
    path: &Path,
    expect: Expect,
    says: &str,
) -> Result<Option<Value>, String> {
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    let bytes = std::fs::read(path).expect("corpus file");
    let a = api.upload(name, bytes, &[]).await;
    let body = String::from_utf8_lossy(&a.body).into_owned();
    if let Expect::Refused(status, code) = expect {
        let detail = a.json()["detail"].as_str().unwrap_or_default().to_owned();
        check(
            a.status == status && a.json()["code"] == code && detail.contains(says),
            || {
                format!(
                    "{name}: expected {status} {code} saying {says:?}, got {}: {body}",
                    a.status
                )
            },
        )?;
        return Ok(None);
    }
    check(a.status == 202, || {
        format!("{name}: expected 202, got {}: {body}", a.status)
    })?;
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    match expect {
        Expect::FileFails(code) => {
            let message = done["error"]["message"].as_str().unwrap_or_default();
            check(
                done["status"] == "failed"
                    && done["error"]["code"] == code
                    && message.contains(says),
                || format!("{name}: expected to fail as {code} saying {says:?}: {done}"),
            )?;
        }
        Expect::Rows { created } => {
            check(
                done["status"] == "completed" && done["counts"]["created"] == created,
                || format!("{name}: expected to complete with {created} created: {done}"),
            )?;
            for row in api.all_rows(&id).await {
                let errors = row["errors"].as_array().cloned().unwrap_or_default();
                check(
                    row["status"] != "failed"
                        || (!errors.is_empty() && errors.iter().all(|e| e["code"].is_string())),
                    || format!("{name}: a failed row without error codes: {row}"),
                )?;
            }
        }
        Expect::Refused(..) => unreachable!(),
    }
    Ok(Some(done))
}

/// The result spreadsheet's raw bytes.
async fn result_bytes(api: &Client, done: &Value) -> Vec<u8> {
    let id = done["id"].as_str().expect("id");
    let a = api.get(&format!("/v1/imports/{id}/result.xlsx")).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    a.body
}

/// Formulas come back as the text that was uploaded, never as formulas.
async fn formulas_stay_text(api: &Client, done: &Value) {
    let bytes = result_bytes(api, done).await;
    for (name, xml) in xlsx_parts(&bytes, "xl/worksheets/") {
        assert!(
            !xml.contains("<f>") && !xml.contains("<f "),
            "{name} holds a formula"
        );
    }
    let (sheet, _) = read_xlsx(&bytes);
    let header = &sheet[0];
    let password = header
        .iter()
        .position(|h| h == "Password")
        .expect("Password column");
    let all_formulas = &sheet[1];
    for (c, cell) in all_formulas.iter().enumerate().take(header.len() - 1) {
        if c == password {
            assert_eq!(cell, "", "a result never carries a password");
        } else {
            assert!(cell.starts_with("=HYPERLINK("), "column {c}: {cell:?}");
        }
    }
    for (row, lead) in sheet[2..5].iter().zip(["+cmd", "@SUM", "-1+1"]) {
        assert!(row[0].starts_with(lead), "{row:?}");
    }
    let created = sheet.last().expect("last row");
    assert_eq!(
        created.last().map(String::as_str),
        Some("Success"),
        "{created:?}"
    );
    assert!(created[0].starts_with("=HYPERLINK("), "{created:?}");
}

async fn the_hostile_corpus_is_refused_cleanly(mode: Mode) {
    let world = World::start(mode, usize::from(mode == Mode::Cluster), &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let started = Instant::now();
    let dir = corpus(world.dir.path(), group, &[]);
    eprintln!("{mode:?}: corpus written in {:.1?}", started.elapsed());

    let stop = Arc::new(AtomicBool::new(false));
    let health = watch_health(world.api_url.clone(), stop.clone());
    let (other, neighbour_id) = neighbour(&world).await;

    let mut peaks = Vec::new();
    let mut wrongs = Vec::new();
    for (file, expect, says) in CASES {
        for (_, pid) in world.reader_pids() {
            reset_peak_rss(pid);
        }
        let started = Instant::now();
        let done = match send(&api, &dir.join(file), *expect, says).await {
            Ok(done) => done,
            Err(wrong) => {
                eprintln!("{mode:?}: {wrong}");
                wrongs.push(wrong);
                continue;
            }
        };
        let took = started.elapsed();
        let peak: Vec<(String, u64)> = world
            .reader_pids()
            .into_iter()
            .map(|(who, pid)| (who, peak_rss_mib(pid)))
            .collect();
        let outcome = done
            .as_ref()
            .map(|d| format!("{} {}", d["status"], d["error"]["code"]))
            .unwrap_or_else(|| "refused at upload".into());
        eprintln!("{mode:?}: {file}: {outcome} in {took:.1?}, peak RSS {peak:?} MiB");
        if file.starts_with("formulas") {
            formulas_stay_text(&api, done.as_ref().expect("formulas import")).await;
        }
        if *file == "macro.xlsm" {
            let bytes = result_bytes(&api, done.as_ref().expect("macro import")).await;
            assert!(
                xlsx_parts(&bytes, "xl/vbaProject").is_empty(),
                "the result carries macros"
            );
        }
        peaks.push((*file, peak));
    }

    assert!(
        wrongs.is_empty(),
        "cases that ended otherwise:\n{}",
        wrongs.join("\n")
    );
    let finished = other.wait_finished(&neighbour_id, FINISH).await;
    stop.store(true, Ordering::Relaxed);
    let (bad, slowest) = health.await.expect("health watcher");
    eprintln!(
        "{mode:?}: /healthz slowest answer {slowest:.1?}; neighbour {}",
        finished["counts"]
    );
    assert!(bad.is_empty(), "/healthz was not 200: {bad:?}");
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["counts"]["created"], NEIGHBOUR_ROWS, "{finished}");
    assert_eq!(finished["counts"]["failed"], 0, "{finished}");
    for (file, peak) in peaks {
        for (who, mib) in peak {
            assert!(mib < PEAK_RSS_MIB, "{file}: {who} reached {mib} MiB");
        }
    }
}

both_modes!(the_hostile_corpus_is_refused_cleanly: the_embedded_default_refuses_the_hostile_corpus_cleanly, a_cluster_refuses_the_hostile_corpus_cleanly);

/// A single shared string of 64 MiB, packed small enough to pass the zip
/// ratio guard, is over Excel's cell limit: the file fails as unsafe, and
/// nothing holds it in memory.
async fn a_huge_shared_string_fails_its_import(mode: Mode) {
    let world = World::start(mode, usize::from(mode == Mode::Cluster), &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let dir = corpus(world.dir.path(), group, &["huge-shared-string.xlsx"]);
    let file = dir.join("huge-shared-string.xlsx");
    let outcome = send(
        &api,
        &file,
        Expect::FileFails("unsafe_file"),
        "shared string",
    )
    .await;
    assert!(outcome.is_ok(), "{outcome:?}");
    for (who, pid) in world.reader_pids() {
        let mib = peak_rss_mib(pid);
        eprintln!("{mode:?}: huge-shared-string.xlsx: {who} peak RSS {mib} MiB");
        assert!(mib < PEAK_RSS_MIB, "{who} reached {mib} MiB");
    }
}

both_modes!(a_huge_shared_string_fails_its_import: a_huge_shared_string_fails_its_import_on_the_embedded_default, a_huge_shared_string_fails_its_import_on_a_cluster);

/// Uploads as fast as a script can: past `ROSTER_MAX_ACTIVE_IMPORTS` queued or
/// running imports, 429 `rate_limited` with `Retry-After`, and nothing stored;
/// another organization still starts its imports.
#[tokio::test]
async fn a_flood_of_uploads_is_limited_per_organization() {
    // No worker: every import stays queued.
    let world = World::start(Mode::Cluster, 0, &[("ROSTER_MAX_ACTIVE_IMPORTS", "4")]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[("Tech", "t@acme.test", &strong_password(1), group)]).into_bytes();
    for n in 0..4 {
        let a = api.upload("t.csv", csv.clone(), &[]).await;
        assert_eq!(
            a.status,
            202,
            "upload {n}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    let flood = api.upload("t.csv", csv.clone(), &[]).await;
    assert_eq!(
        flood.status,
        429,
        "{}",
        String::from_utf8_lossy(&flood.body)
    );
    assert_eq!(flood.json()["code"], "rate_limited");
    assert!(flood.headers.contains_key("retry-after"));
    let listed = api.get("/v1/imports").await.json();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );

    let (_, neighbour_id) = neighbour(&world).await;
    assert!(!neighbour_id.is_empty());
}
