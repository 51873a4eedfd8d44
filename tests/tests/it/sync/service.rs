//! `roster-adsync --every` as a service: it outlives a directory that is
//! stopped and restarted.

use super::*;

/// The sync runs of the organization so far, oldest first.
async fn sync_runs(client: &Client) -> Vec<Value> {
    let mut runs: Vec<Value> = client.get("/v1/imports").await.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i["kind"] == "sync")
        .collect();
    runs.sort_by_key(|i| i["created_at"].as_str().unwrap_or("").to_owned());
    runs
}

/// Waits until at least `n` sync runs exist and all have finished; answers them.
async fn settled_runs(client: &Client, n: usize) -> Vec<Value> {
    roster_tests::eventually(
        Duration::from_secs(60),
        &format!("{n} finished sync runs"),
        || async {
            let runs = sync_runs(client).await;
            (runs.len() >= n
                && runs
                    .iter()
                    .all(|r| matches!(r["status"].as_str(), Some("completed" | "failed"))))
            .then_some(runs)
        },
    )
    .await
}

/// `--every` is a service: the directory stopped sends nothing (and nobody is
/// disabled) while the service keeps trying; once the directory is back, the
/// next sync carries its changes.
#[tokio::test]
async fn every_survives_the_directory_stopped_and_restarted() {
    let mut slapd = directory();
    let world = World::start(Mode::Embedded, 1, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let support = master.group("Support", None).await;
    let dir = world.dir.path();
    std::fs::write(dir.join("bind-password"), format!("{READER_PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("token"), format!("{}\n", master.token)).unwrap();
    let log = dir.join("adsync.log");
    let mut service = std::process::Command::new(bin("roster-adsync"))
        .args(["--ldap-url", &slapd.url(), "--bind-dn", READER_DN])
        .args(["--group-dn", GROUP_DN, "--roster-url", &world.api_url])
        .arg("--bind-password-file")
        .arg(dir.join("bind-password"))
        .arg("--token-file")
        .arg(dir.join("token"))
        .args(["--group-id", &support.to_string()])
        .args(["--page-size", "20", "--timeout", "10", "--every", "2"])
        .stdout(std::fs::File::create(dir.join("adsync.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("roster-adsync --every");
    struct Stop<'a>(&'a mut std::process::Child);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let service = Stop(&mut service);

    // It provisions, then keeps syncing: a second run changes nothing.
    let runs = settled_runs(&master, 2).await;
    assert_eq!(runs[0]["counts"]["created"], MEMBERS, "{}", runs[0]);
    assert_eq!(runs[1]["counts"]["unchanged"], MEMBERS, "{}", runs[1]);

    // The directory goes away: a read it was in the middle of fails whole, and
    // no run starts while it is away.
    slapd.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = settled_runs(&master, 2).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let during = sync_runs(&master).await;
    assert_eq!(
        during.len(),
        before.len(),
        "nothing was sent while the directory was away: {during:?}"
    );
    for run in &during {
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(run["counts"]["disabled"], 0, "{run}");
    }
    assert!(
        service.0.try_wait().expect("status").is_none(),
        "the service keeps running"
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("nothing was sent; trying again"),
        "{stderr}"
    );
    assert_eq!(
        technician(&master, "u50@acme.example").await["enabled"],
        true
    );

    // Back, with a change: the service syncs it without being restarted.
    slapd.resume();
    slapd.modify(&format!(
        "dn: {}\nchangetype: modify\nadd: displayName\ndisplayName: Ana Silva\n",
        user_dn("u1")
    ));
    roster_tests::eventually(
        Duration::from_secs(60),
        "a run after the directory came back to rename u1",
        || async {
            let runs = sync_runs(&master).await;
            runs.iter()
                .skip(during.len())
                .any(|r| r["status"] == "completed" && r["counts"]["updated"] == 1)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        technician(&master, "u1@acme.example").await["name"],
        "Ana Silva"
    );
    for run in sync_runs(&master).await {
        assert_eq!(run["counts"]["disabled"], 0, "nobody left: {run}");
        assert_eq!(run["counts"]["failed"], 0, "{run}");
    }
}
