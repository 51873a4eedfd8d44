//! Workbooks that would exhaust the process that reads them, and steps that
//! kill their process, end to end (issue 15): a cell of 64 MiB packed into a
//! small upload fails its import as `unsafe_file` while the processes stay
//! small, on the embedded default and on a cluster (where the API process runs
//! no pipeline step); a plan whose process died twice fails at its next claim
//! instead of running a third time, while one that died once runs again.

use roster_shared::db::Step;
use roster_tests::services::peak_rss_mib;
use roster_tests::{Client, Mode, World, both_modes, eventually, full_csv, strong_password};
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

const FINISH: Duration = Duration::from_secs(90);
/// Peak resident memory a process may reach while refusing the files below.
/// Before the bound, the API of the embedded default reached 209 MB on the
/// 64 MiB cell (issue 15).
const PEAK_RSS_MB: u64 = 150;
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// A small deterministic generator (xorshift).
fn noise(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Writes `len` bytes of letters in runs of random lengths, a megabyte at a
/// time: text that packs about 30 times, under the ratio guard, as the
/// reported files did.
fn letters(out: &mut dyn Write, len: usize) {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut block = Vec::with_capacity(1 << 20);
    let mut left = len;
    while left > 0 {
        block.clear();
        while block.len() < (1 << 20).min(left) {
            let run = (noise(&mut seed) % 100 + 50) as usize;
            let letter = b'a' + (noise(&mut seed) % 26) as u8;
            block.extend(std::iter::repeat_n(letter, run.min(left - block.len())));
        }
        out.write_all(&block).unwrap();
        left -= block.len();
    }
}

/// A short-layout workbook with one row whose Name cell (`A2`, inline) or
/// shared string holds `huge` bytes of text, streamed into the zip.
fn huge_cell_workbook(huge: usize, shared: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let small = [
        (
            "_rels/.rels",
            format!(
                r#"<Relationships><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/workbook.xml",
            r#"<workbook><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#
                .to_owned(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<Relationships><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
            ),
        ),
    ];
    for (name, xml) in &small {
        zip.start_file(*name, options).unwrap();
        zip.write_all(xml.as_bytes()).unwrap();
    }
    let cell =
        |at: &str, text: &str| format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#);
    zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
    write!(
        zip,
        r#"<worksheet><sheetData><row r="1">{}{}{}</row><row r="2">"#,
        cell("A1", "Name"),
        cell("B1", "Email"),
        cell("C1", "Password")
    )
    .unwrap();
    if shared {
        zip.write_all(br#"<c r="A2" t="s"><v>0</v></c>"#).unwrap();
    } else {
        zip.write_all(br#"<c r="A2" t="inlineStr"><is><t>"#)
            .unwrap();
        letters(&mut zip, huge);
        zip.write_all(b"</t></is></c>").unwrap();
    }
    write!(
        zip,
        "{}{}</row></sheetData></worksheet>",
        cell("B2", "huge@acme.test"),
        cell("C2", &strong_password(1))
    )
    .unwrap();
    if shared {
        zip.start_file("xl/sharedStrings.xml", options).unwrap();
        zip.write_all(br#"<sst count="1" uniqueCount="1"><si><t>"#)
            .unwrap();
        letters(&mut zip, huge);
        zip.write_all(b"</t></si></sst>").unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn world(mode: Mode) -> (World, Client, String) {
    let workers = usize::from(mode == Mode::Cluster);
    let world = World::start(mode, workers, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await.to_string();
    (world, api, group)
}

async fn import(api: &Client, name: &str, bytes: Vec<u8>, group: &str) -> Value {
    let a = api.upload(name, bytes, &[("group_id", group)]).await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    api.wait_finished(&id, FINISH).await
}

async fn huge_cells_fail_their_import_and_the_processes_stay_small(mode: Mode) {
    let (world, api, group) = world(mode).await;
    for (name, shared, says) in [
        (
            "inline.xlsx",
            false,
            "cell A2 holds more than 32,767 characters",
        ),
        ("shared.xlsx", true, "shared string 1"),
    ] {
        let book = huge_cell_workbook(64 << 20, shared);
        assert!(book.len() < 4 << 20, "{name}: {} bytes", book.len());
        let done = import(&api, name, book, &group).await;
        assert_eq!(done["status"], "failed", "{name}: {done}");
        assert_eq!(done["error"]["code"], "unsafe_file", "{name}: {done}");
        let message = done["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{name}: {message}");
    }
    // A workbook with an ordinary cell still imports.
    let done = import(&api, "fine.xlsx", huge_cell_workbook(40, false), &group).await;
    assert_eq!(done["counts"]["created"], 1, "{done}");

    let api_peak = peak_rss_mib(world.api_pid().expect("api running"));
    eprintln!("{mode:?}: roster-api peak RSS {api_peak} MB");
    assert!(api_peak < PEAK_RSS_MB, "roster-api reached {api_peak} MB");
    if mode == Mode::Cluster {
        let worker_peak = peak_rss_mib(world.workers[0].id());
        eprintln!("{mode:?}: roster-worker peak RSS {worker_peak} MB");
        assert!(
            worker_peak < PEAK_RSS_MB,
            "roster-worker reached {worker_peak} MB"
        );
        // The worker read the files; the API process of a cluster node runs no step.
        assert!(world.log("worker-0.log").contains("file rejected"));
        let api_log = world.log("api.log");
        for step_line in ["file rejected", "planned", "chunk claimed"] {
            assert!(
                !api_log.contains(step_line),
                "the API ran a step: {api_log}"
            );
        }
    }
}

both_modes!(huge_cells_fail_their_import_and_the_processes_stay_small: huge_cells_fail_their_import_and_the_embedded_api_stays_small, huge_cells_fail_their_import_and_the_cluster_stays_small);

// ------------------------------------------------ a plan that kills its process

/// A cluster with no worker yet, and an uploaded import whose plan waits in
/// the queue (the API process runs no step).
async fn waiting_plan() -> (World, Client, String) {
    let world = World::start(Mode::Cluster, 0, &[]).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let csv = full_csv(&[
        ("Ana", "ana@acme.test", &strong_password(1), group),
        ("Bo", "bo@acme.test", &strong_password(2), group),
    ]);
    let a = api.upload("two.csv", csv.into_bytes(), &[]).await;
    assert_eq!(a.status, 202);
    let id = a.json()["id"].as_str().unwrap().to_owned();
    (world, api, id)
}

/// Claims the plan as a worker that then dies holding it: its lease (1 ms) is
/// left to expire, never given back.
async fn die_holding_the_plan(world: &World, id: &str, worker: &str) {
    let db = world.db().await;
    let id = roster_shared::model::ImportId::from_stored(id.to_owned());
    eventually(Duration::from_secs(10), "the plan to be claimable", || {
        let (db, id) = (db.clone(), id.clone());
        async move {
            db.claim_import(&id, worker, 1, Step::Plan)
                .await
                .expect("claim")
        }
    })
    .await;
    db.pool.close().await;
}

#[tokio::test]
async fn a_plan_whose_process_died_twice_fails_at_the_next_claim() {
    let (mut world, api, id) = waiting_plan().await;
    die_holding_the_plan(&world, &id, "dead-worker-1").await;
    die_holding_the_plan(&world, &id, "dead-worker-2").await;
    world.start_worker();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "internal", "{done}");
    let message = done["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("stopped twice"), "{message}");
    // The step was not run a third time: the file was never read.
    assert_eq!(done["total_rows"], Value::Null, "{done}");
    let log = world.log("worker-0.log");
    assert!(!log.contains("planned"), "{log}");
    let db = world.db().await;
    let (attempts, interruptions): (i64, i64) =
        sqlx::query_as("SELECT step_attempts, step_interruptions FROM imports WHERE id = $1")
            .bind(&id)
            .fetch_one(&db.pool)
            .await
            .expect("import row");
    db.pool.close().await;
    assert_eq!((attempts, interruptions), (3, 2));
}

#[tokio::test]
async fn a_plan_whose_process_died_once_runs_again() {
    let (mut world, api, id) = waiting_plan().await;
    die_holding_the_plan(&world, &id, "dead-worker-1").await;
    world.start_worker();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], 2, "{done}");
}
