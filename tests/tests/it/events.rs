//! Live progress (API.md, "Live progress"): the events stream of an import,
//! and `rows_per_second` / `eta_seconds` on the resource. Against the real
//! binaries; in a cluster, the stream is served by an API instance that did
//! not take the upload, so it learns of the workers' changes from the database.

use futures::StreamExt;
use roster_tests::{Client, Mode, World, both_modes, strong_password};
use serde_json::Value;
use std::time::Duration;

/// One server-sent event.
#[derive(Debug)]
struct Event {
    name: String,
    id: String,
    data: Value,
}

/// Reads an events stream to its end (or `limit`), with what it said as comments.
async fn read_events(
    base: &str,
    token: &str,
    id: &str,
    last_event_id: Option<&str>,
) -> (u16, Vec<Event>, usize) {
    let mut request = reqwest::Client::new()
        .get(format!("{base}/v1/imports/{id}/events"))
        .bearer_auth(token);
    if let Some(last) = last_event_id {
        request = request.header("Last-Event-ID", last);
    }
    let response = request.send().await.expect("events request");
    let status = response.status().as_u16();
    if status != 200 {
        return (status, Vec::new(), 0);
    }
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "content type"
    );
    let mut body = response.bytes_stream();
    let (mut events, mut comments, mut pending) = (Vec::new(), 0, String::new());
    let read = async {
        while let Some(piece) = body.next().await {
            pending.push_str(&String::from_utf8_lossy(&piece.expect("stream piece")));
            while let Some(end) = pending.find("\n\n") {
                let block: String = pending.drain(..end + 2).collect();
                let (mut name, mut eid, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        eid = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    } else if line.starts_with(':') {
                        comments += 1;
                    }
                }
                if !name.is_empty() {
                    let data = serde_json::from_str(&data).expect("event data is JSON");
                    events.push(Event {
                        name,
                        id: eid,
                        data,
                    });
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .expect("the stream ended within two minutes");
    (status, events, comments)
}

fn csv(rows: usize) -> Vec<u8> {
    let mut csv = String::from("Name,Email,Password\n");
    for i in 0..rows {
        csv.push_str(&format!("Tech {i},t{i}@acme.test,{}\n", strong_password(i)));
    }
    csv.into_bytes()
}

async fn watching_an_import_from_queued_to_done(mode: Mode) {
    // A hash slow enough that the import takes a few seconds.
    let mut world = World::start(
        mode,
        1,
        &[
            ("ROSTER_PASSWORD_HASH", "argon2id:m=8192,t=2,p=1"),
            ("ROSTER_WORKER_CONCURRENCY", "1"),
        ],
    )
    .await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    // In a cluster, watch through another instance than the one that takes the upload.
    let watch_base = match mode {
        Mode::Cluster => world.start_another_api().await,
        Mode::Embedded => api.base.clone(),
    };
    let a = api
        .upload("t.csv", csv(250), &[("group_id", &group.to_string())])
        .await;
    assert_eq!(a.status, 202);
    let id = a.json()["id"].as_str().unwrap().to_owned();

    let (status, events, _) = read_events(&watch_base, &api.token, &id, None).await;
    assert_eq!(status, 200);
    assert!(events.len() >= 3, "a few events along the way: {events:?}");
    let (last, before) = events.split_last().unwrap();
    assert_eq!(last.name, "done");
    assert_eq!(last.data["status"], "completed");
    assert_eq!(last.data["processed_rows"], 250);
    assert_eq!(last.data["eta_seconds"], Value::Null);
    assert!(before.iter().all(|e| e.name == "import"), "{before:?}");
    // Processed rows only grow, and the ids change with them.
    let processed: Vec<i64> = events
        .iter()
        .map(|e| e.data["processed_rows"].as_i64().unwrap())
        .collect();
    assert!(processed.windows(2).all(|w| w[0] <= w[1]), "{processed:?}");
    assert!(
        processed.iter().any(|p| *p > 0 && *p < 250),
        "seen in the middle: {processed:?}"
    );
    let middle = events
        .iter()
        .find(|e| e.data["status"] == "running" && e.data["processed_rows"].as_i64() > Some(0))
        .expect("an event while running");
    assert!(
        middle.data["rows_per_second"].as_f64().unwrap() > 0.0,
        "{:?}",
        middle.data
    );
    assert!(
        middle.data["eta_seconds"].as_i64().is_some(),
        "{:?}",
        middle.data
    );
    // The last event is the resource a poll shows.
    let polled = Client::new(&watch_base, &api.token)
        .get(&format!("/v1/imports/{id}"))
        .await
        .json();
    assert_eq!(polled["counts"], last.data["counts"]);
    assert!(
        polled["rows_per_second"].as_f64().unwrap() > 0.0,
        "{polled}"
    );

    // A finished import answers at once, and so does a reconnect with Last-Event-ID.
    for last_id in [None, Some(middle.id.as_str())] {
        let started = std::time::Instant::now();
        let (status, events, _) = read_events(&watch_base, &api.token, &id, last_id).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["import", "done"], "{last_id:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    // As for the import: no token 401, another organization 404.
    let (status, _, _) = read_events(&watch_base, "", &id, None).await;
    assert_eq!(status, 401);
    let stranger = world.admin("Globex", "m@globex.test", "master", &[]).await;
    let (status, _, _) = read_events(&watch_base, &stranger.token, &id, None).await;
    assert_eq!(status, 404);
    let (status, _, _) = read_events(&watch_base, &api.token, "not-an-id", None).await;
    assert_eq!(status, 404);
}

both_modes!(watching_an_import_from_queued_to_done: embedded_watching_an_import_from_queued_to_done, cluster_watching_an_import_from_queued_to_done);

/// Many watchers of one import share one feed: they all see it to the end.
#[tokio::test]
async fn embedded_many_watchers_share_one_feed() {
    let world = World::start(
        Mode::Embedded,
        0,
        &[("ROSTER_PASSWORD_HASH", "argon2id:m=4096,t=1,p=1")],
    )
    .await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Tier 1", None).await;
    let a = api
        .upload("t.csv", csv(300), &[("group_id", &group.to_string())])
        .await;
    let id = a.json()["id"].as_str().unwrap().to_owned();
    let watchers = (0..50).map(|_| read_events(&api.base, &api.token, &id, None));
    for (status, events, _) in futures::future::join_all(watchers).await {
        assert_eq!(status, 200);
        let last = events.last().expect("events");
        assert_eq!(
            (last.name.as_str(), &last.data["processed_rows"]),
            ("done", &Value::from(300))
        );
    }
}
