//! A directory sync run under the kill -9 scenario: every member of a
//! snapshot of many chunks is applied exactly once.

use super::*;

/// Members of the directory snapshot in the sync scenario: many chunks of
/// [`SYNC_CHUNK_ROWS`], so kills land in the middle of the run.
const SYNC_MEMBERS: usize = 12_000;
const SYNC_CHUNK_ROWS: &str = "400";
/// Every `SYNC_LINKED_EVERY`th member's email is a technician's that no source
/// owns yet (linked: `updated`); every `SYNC_DISABLED_EVERY`th is disabled in the
/// directory (created disabled, or a linked technician disabled).
const SYNC_LINKED_EVERY: usize = 997;
const SYNC_DISABLED_EVERY: usize = 13;

/// One member of the snapshot, and the outcome its first run must have.
struct SyncMemberRow {
    external_id: String,
    email: String,
    linked: bool,
    enabled: bool,
}

impl SyncMemberRow {
    /// The outcome of this member's first run.
    fn first_outcome(&self) -> &'static str {
        match (self.linked, self.enabled) {
            (false, _) => "created",
            (true, true) => "updated",
            (true, false) => "disabled",
        }
    }
}

fn sync_members() -> (Value, Vec<SyncMemberRow>) {
    let mut body = Vec::with_capacity(SYNC_MEMBERS);
    let mut rows = Vec::with_capacity(SYNC_MEMBERS);
    for i in 0..SYNC_MEMBERS {
        let external_id = format!("guid-{i:05}");
        let email = format!("member{i:05}@acme.test");
        let enabled = i % SYNC_DISABLED_EVERY != 0;
        body.push(
            json!({"external_id": external_id, "name": format!("Member {i}"),
                         "email": email, "enabled": enabled}),
        );
        rows.push(SyncMemberRow {
            external_id,
            email,
            linked: i % SYNC_LINKED_EVERY == SYNC_LINKED_EVERY - 1,
            enabled,
        });
    }
    (Value::Array(body), rows)
}

/// Sends the snapshot as `ad:faults` into `group`; answers the run's id.
async fn send_snapshot(api: &Client, group: i64, snapshot: &Value) -> String {
    let a = api
        .post(
            &format!("/v1/sync/sources/ad%3Afaults/snapshots?group_id={group}"),
            snapshot.clone(),
        )
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["kind"], "sync", "{v}");
    v["id"].as_str().expect("import id").to_owned()
}

/// Finishes a sync run and checks issue 5's invariants for it: every member has
/// exactly one outcome, and it is the one `expect` gives; the technicians of the
/// source are exactly the members, each once, created by this run only where it
/// says `created`; the counters and the result spreadsheet equal the outcomes.
async fn assert_sync_exactly_once(
    world: &World,
    api: &Client,
    id: &str,
    members: &[SyncMemberRow],
    expect: impl Fn(&SyncMemberRow) -> &'static str,
) {
    let n = members.len() as i64;
    let done = api.wait_finished(id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["total_rows"], n, "{done}");
    assert_eq!(done["processed_rows"], n, "{done}");

    let outcomes = api.all_rows(id).await;
    let mut by_row: BTreeMap<i64, Value> = BTreeMap::new();
    let mut duplicated = 0usize;
    for o in &outcomes {
        if by_row
            .insert(o["row"].as_i64().expect("row"), o.clone())
            .is_some()
        {
            duplicated += 1;
        }
    }
    let lost = (1..=n).filter(|r| !by_row.contains_key(r)).count();

    let db = world.db().await;
    let owned: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT external_id, email, import_id FROM technicians WHERE sync_source_id IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await
    .expect("the source's technicians");
    let in_org: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM technicians")
        .fetch_one(&db.pool)
        .await
        .expect("technicians");
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM import_rows WHERE import_id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("outcomes");
    let open_chunks: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM import_chunks WHERE import_id = $1 AND status <> 'done'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("chunks");
    let chunks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM import_chunks WHERE import_id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("chunks");
    db.pool.close().await;
    eprintln!(
        "FAULTS test=sync import={id} rows={n} chunks={chunks} lost={lost} duplicated={duplicated} status={}",
        done["status"]
    );
    assert_eq!(lost, 0, "members without an outcome");
    assert_eq!(duplicated, 0, "members with two outcomes");
    assert_eq!(
        outcomes.len() as i64,
        n,
        "the rows endpoint lists each member once"
    );
    assert_eq!(recorded, n, "the database holds one outcome per member");
    assert_eq!(open_chunks, 0, "every chunk is closed");
    assert!(chunks > 1, "the run spans several chunks");

    // The source's technicians are the members, each exactly once.
    assert_eq!(owned.len(), members.len(), "one technician per member");
    assert_eq!(in_org, n, "no technician outside the source");
    let by_external: BTreeMap<&str, (&str, Option<&str>)> = owned
        .iter()
        .map(|(x, e, i)| (x.as_str(), (e.as_str(), i.as_deref())))
        .collect();
    assert_eq!(by_external.len(), members.len(), "external ids are unique");
    for (i, m) in members.iter().enumerate() {
        let row = i as i64 + 1;
        let o = &by_row[&row];
        let want = expect(m);
        assert_eq!(o["status"], want, "member {row} ({}): {o}", m.external_id);
        assert_eq!(o["email"], m.email.as_str(), "member {row}: {o}");
        let (email, import) = by_external
            .get(m.external_id.as_str())
            .unwrap_or_else(|| panic!("member {row} has no technician"));
        assert_eq!(*email, m.email, "member {row}");
        assert!(o["technician_id"].is_i64(), "member {row}: {o}");
        if want == "created" {
            assert_eq!(*import, Some(id), "member {row} was created by this run");
        }
    }

    // The counters equal the outcomes, and add up to the members.
    let mut tally: BTreeMap<String, i64> = BTreeMap::new();
    for o in by_row.values() {
        *tally
            .entry(o["status"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    let mut sum = 0;
    for status in [
        "created",
        "updated",
        "unchanged",
        "disabled",
        "skipped",
        "failed",
        "not_processed",
    ] {
        let counted = done["counts"][status].as_i64().unwrap_or(-1);
        assert_eq!(
            counted,
            tally.get(status).copied().unwrap_or(0),
            "counter {status}: {done}"
        );
        sum += counted;
    }
    assert_eq!(sum, n, "the counters add up to the members: {done}");

    // The result spreadsheet: one line per member, in snapshot order.
    let (sheet, _summary) = api.result_sheet(id).await;
    assert_eq!(sheet.len() as i64, n + 1, "header + one line per member");
    assert_eq!(sheet[0].first().map(String::as_str), Some("External ID"));
    let result_at = sheet[0].len() - 1;
    for (i, line) in sheet[1..].iter().enumerate() {
        assert_eq!(line[0], members[i].external_id, "line {} in order", i + 1);
        let want = match expect(&members[i]) {
            "created" => "Success",
            "updated" => "Updated",
            "disabled" => "Disabled",
            _ => "Unchanged",
        };
        assert_eq!(line[result_at], want, "line {}", i + 1);
    }
}

/// A sync run under the kill -9 scenario: a snapshot of many chunks, the worker in
/// the middle of a chunk killed three times and replaced; every member is applied
/// exactly once (created once, or linked), and the same snapshot afterwards
/// changes nothing.
#[tokio::test]
async fn kill_9_workers_mid_sync_chunk_applies_every_member_once() {
    let env = [
        ("ROSTER_WORKER_CONCURRENCY", "1"),
        ("ROSTER_CHUNK_ROWS", SYNC_CHUNK_ROWS),
    ];
    let mut world = World::start(Mode::Cluster, 2, &env).await;
    let api = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = api.group("Support", None).await;
    let (snapshot, members) = sync_members();
    for (i, m) in members.iter().enumerate().filter(|(_, m)| m.linked) {
        let a = api
            .post(
                "/v1/technicians",
                json!({"name": format!("Before {i}"), "email": m.email, "password": strong_password(i),
                       "enabled": true, "standard_license": true, "mobile_license": false,
                       "group_id": group}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    }
    let id = send_snapshot(&api, group, &snapshot).await;

    let mut interrupted = Vec::new();
    let mut processed = 0;
    for kill in 0..3 {
        if kill > 0 {
            let v = wait_processed(&api, &id, processed + 1).await;
            processed = v["processed_rows"].as_i64().unwrap_or(0);
        }
        let (n, chunk) = wait_mid_chunk(&mut world, &id).await;
        let pid = world.workers[n].id();
        world.kill_worker(n);
        world.start_worker();
        // As in the file scenario: a chunk still held by the dead worker once its
        // last commit has had time to land was interrupted.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if running_chunks(&world, &id)
            .await
            .iter()
            .any(|(c, owner)| *c == chunk && owner_pid(owner) == Some(pid))
        {
            interrupted.push(chunk);
        }
    }
    assert_sync_exactly_once(&world, &api, &id, &members, SyncMemberRow::first_outcome).await;
    eprintln!("FAULTS test=sync import={id} interrupted chunks {interrupted:?}");
    assert!(!interrupted.is_empty(), "no kill interrupted a chunk");
    let db = world.db().await;
    for chunk in &interrupted {
        let attempts: i64 = sqlx::query_scalar(
            "SELECT attempts FROM import_chunks WHERE import_id = $1 AND chunk_no = $2",
        )
        .bind(&id)
        .bind(chunk)
        .fetch_one(&db.pool)
        .await
        .expect("chunk attempts");
        assert!(
            attempts >= 2,
            "chunk {chunk} was finished by another worker"
        );
    }
    db.pool.close().await;

    // The same directory again: every member is unchanged.
    let again = send_snapshot(&api, group, &snapshot).await;
    assert_sync_exactly_once(&world, &api, &again, &members, |_| "unchanged").await;
}
