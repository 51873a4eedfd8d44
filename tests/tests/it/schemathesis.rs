//! schemathesis (PyPI, 4.x) against the real API, as three callers: a master,
//! an admin scoped to one group, and another organization's master (issue 15).
//! It generates requests from `/openapi.json`, valid and invalid, and checks
//! every answer: no server error, status codes, content types, headers and
//! bodies as the document describes them, schema-valid requests accepted and
//! invalid ones refused, no answer without authentication. Every check runs
//! on every operation but for the exceptions in `tests/schemathesis.toml`,
//! each with its reason. SCIM's Users (`/scim/v2`) take a service token, not
//! an administrator's: the master's run sends them one of Acme's.
//!
//! On a cluster (PostgreSQL, where a NUL character used to be a 500) and on
//! the embedded default. `scripts/test` installs schemathesis in
//! `~/.cache/roster/venv`; `ROSTER_SCHEMATHESIS` names another binary, and
//! `ROSTER_SCHEMATHESIS_SEED` repeats a run that failed (its seed is in the
//! report).

/// The seed the test command runs with (`ROSTER_SCHEMATHESIS_SEED` overrides
/// it; `random` draws a new one each run).
const DEFAULT_SEED: &str = "222831694518463853021254178988799073357";

use roster_tests::{Client, Mode, World, both_modes, full_csv, strong_password};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Examples per operation and phase: a run of the 35 operations takes about
/// a minute per token on two cores.
const MAX_EXAMPLES: &str = "15";
const FINISH: Duration = Duration::from_secs(90);

/// The schemathesis command: `ROSTER_SCHEMATHESIS`, else the one
/// `scripts/test` installs, else whatever `PATH` finds.
fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("ROSTER_SCHEMATHESIS") {
        return path.into();
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let venv = PathBuf::from(home).join(".cache/roster/venv/bin/schemathesis");
    if venv.exists() {
        venv
    } else {
        "schemathesis".into()
    }
}

/// What the callers can reach: ids of real objects, handed to schemathesis as
/// dictionaries so that some requests name them instead of only made-up ids.
struct Reachable {
    imports: Vec<String>,
    groups: Vec<i64>,
    technicians: Vec<i64>,
    /// A SCIM service token of Acme's Tier 2.
    scim_token: String,
}

/// Uploads `csv` and waits for the import to finish; returns its id.
async fn import(api: &Client, csv: String, group: i64) -> String {
    let group = group.to_string();
    let a = api
        .upload(
            "team.csv",
            csv.into_bytes(),
            &[("group_id", group.as_str())],
        )
        .await;
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let id = a.json()["id"].as_str().expect("import id").to_owned();
    let done = api.wait_finished(&id, FINISH).await;
    assert_eq!(done["status"], "completed", "{done}");
    id
}

/// Two organizations: Acme with groups, technicians, two imports, a master
/// and an admin of one group; Other with its own master and group.
async fn organizations(world: &World) -> (Vec<(&'static str, Client)>, Reachable) {
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let tier1 = master.group("Tier 1", None).await;
    let tier1a = master.group("Tier 1a", Some(tier1)).await;
    let tier2 = master.group("Tier 2", None).await;
    let scoped = world
        .admin("Acme", "scoped@acme.test", "admin", &[tier1])
        .await;
    let other = world
        .admin("Other", "master@other.test", "master", &[])
        .await;
    let elsewhere = other.group("Elsewhere", None).await;

    let rows = |tag: &str, group: i64| {
        let emails: Vec<String> = (0..3).map(|i| format!("{tag}{i}@acme.test")).collect();
        let passwords: Vec<String> = (0..3).map(strong_password).collect();
        let rows: Vec<(&str, &str, &str, i64)> = (0..3)
            .map(|i| ("Tech", emails[i].as_str(), passwords[i].as_str(), group))
            .collect();
        full_csv(&rows)
    };
    let imports = vec![
        import(&master, rows("t1-", tier1), tier1).await,
        import(&scoped, rows("t1a-", tier1a), tier1a).await,
        import(&master, rows("t2-", tier2), tier2).await,
    ];
    let mut technicians = Vec::new();
    for group in [tier1, tier1a, tier2] {
        let page = master
            .get(&format!("/v1/technicians?group_id={group}"))
            .await
            .json();
        for t in page["items"].as_array().expect("technicians") {
            technicians.push(t["id"].as_i64().expect("technician id"));
        }
    }
    // SCIM: a service token for Tier 2, and the default password that a
    // user created without one gets.
    let a = master
        .patch(
            "/v1/settings",
            serde_json::json!({"sync_default_password": strong_password(90)}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let a = master
        .post(
            "/v1/sync/tokens",
            serde_json::json!({"name": "Okta", "group_id": tier2}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    let scim_token = a.json()["token"].as_str().expect("token").to_owned();
    let callers = vec![
        ("master", master),
        ("scoped admin", scoped),
        ("other organization", other),
    ];
    let groups = vec![tier1, tier1a, tier2, elsewhere];
    (
        callers,
        Reachable {
            imports,
            groups,
            technicians,
            scim_token,
        },
    )
}

/// `tests/schemathesis.toml` plus the ids it can reach.
fn config(reach: &Reachable) -> String {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis.toml");
    let mut toml = std::fs::read_to_string(base).expect("tests/schemathesis.toml");
    let quoted: Vec<String> = reach.imports.iter().map(|i| format!("\"{i}\"")).collect();
    let list = |ids: &[i64]| {
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    toml.push_str(&format!(
        r#"
# Written by tests/tests/schemathesis.rs: ids of objects this run created.
[[operations]]
include-path-regex = "^/v1/imports/"
parameters = {{ "path.id" = {{ dictionary = "imports", probability = 0.5 }} }}

[[operations]]
include-path-regex = "^/v1/groups/"
parameters = {{ "path.id" = {{ dictionary = "groups", probability = 0.5 }} }}

[[operations]]
include-path-regex = "^/v1/technicians/"
parameters = {{ "path.id" = {{ dictionary = "technicians", probability = 0.5 }} }}

[dictionaries]
imports = {{ values = [{}] }}
groups = {{ values = [{}] }}
technicians = {{ values = [{}] }}
"#,
        quoted.join(", "),
        list(&reach.groups),
        list(&reach.technicians),
    ));
    toml
}

/// Runs schemathesis with one caller's token; returns its report when it fails.
/// With `scim_token`, SCIM's Users are sent that service token; without, they
/// are left out: they answer any administrator's token with the same 403, which
/// tests/tests/openapi.rs and scim_errors.rs check.
fn run(
    world: &World,
    config: &str,
    who: &str,
    token: &str,
    scim_token: Option<&str>,
) -> Option<String> {
    let started = Instant::now();
    // The token goes in the configuration, not in `-H`: a header given on the
    // command line would override the service token of SCIM's operations.
    // Top-level keys come before the first table.
    let mut toml = format!("headers = {{ Authorization = \"Bearer {token}\" }}\n{config}");
    if let Some(scim) = scim_token {
        toml.push_str(&format!(
            "\n[[operations]]\ninclude-path-regex = \"^/scim/v2/(Users|\\\\.search)\"\n\
             headers = {{ Authorization = \"Bearer {scim}\" }}\n"
        ));
    }
    let path = world
        .dir
        .path()
        .join(format!("schemathesis-{}.toml", who.replace(' ', "-")));
    std::fs::write(&path, toml).expect("write schemathesis.toml");
    let mut cmd = Command::new(schemathesis());
    cmd.arg("--config-file")
        .arg(&path)
        .args(["run", &format!("{}/openapi.json", world.api_url)])
        .args(["--max-examples", MAX_EXAMPLES, "--continue-on-failure"])
        .env("NO_COLOR", "1")
        .current_dir(world.dir.path());
    if scim_token.is_none() {
        cmd.args(["--exclude-path-regex", "^/scim/v2/(Users|\\.search)"]);
    }
    // A fixed seed by default, so that the test command gives the same answer
    // on every run (CI must not turn red on a new draw); `random` explores.
    let seed = std::env::var("ROSTER_SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    if seed != "random" {
        cmd.args(["--seed", &seed]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "{} could not run ({e}): scripts/test installs it (pip install schemathesis)",
            schemathesis().display()
        )
    });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = report
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && l.starts_with('='))
        .unwrap_or_default()
        .to_owned();
    eprintln!(
        "schemathesis as {who}: exit {:?} after {:.0?}: {summary}",
        out.status.code(),
        started.elapsed()
    );
    (!out.status.success()).then(|| format!("==== schemathesis as {who} ====\n{report}"))
}

async fn the_api_keeps_its_description_under_schemathesis(mode: Mode) {
    let world = World::start(mode, usize::from(mode == Mode::Cluster), &[]).await;
    let (callers, reach) = organizations(&world).await;
    let config = config(&reach);
    let mut failures = Vec::new();
    for (who, client) in &callers {
        let scim = (*who == "master").then_some(reach.scim_token.as_str());
        failures.extend(run(&world, &config, who, &client.token, scim));
    }
    // An API that died or is unwell must show its log, not only a refused connection.
    let health = reqwest::get(format!("{}/healthz", world.api_url))
        .await
        .map(|r| r.status());
    assert!(
        matches!(health, Ok(s) if s == 200) && failures.is_empty(),
        "schemathesis found problems ({mode:?}); /healthz after the runs: {health:?}\n{}\n---- api.log (tail) ----\n{}",
        failures.join("\n"),
        tail(&world.log("api.log"), 80)
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

both_modes!(the_api_keeps_its_description_under_schemathesis: the_embedded_default_answers_schemathesis_as_its_openapi_document_says, a_cluster_answers_schemathesis_as_its_openapi_document_says);

/// Its first finding: an admin that sent an `Idempotency-Key` a master had
/// used got the master's import back (200), one it may not read.
#[tokio::test]
async fn an_admin_cannot_read_another_administrators_import_through_an_idempotency_key() {
    let world = World::start(Mode::Embedded, 0, &[]).await;
    let master = world.admin("Acme", "master@acme.test", "master", &[]).await;
    let group = master.group("Tier 1", None).await;
    let scoped = world
        .admin("Acme", "scoped@acme.test", "admin", &[group])
        .await;
    let csv = |email: &str| full_csv(&[("Tech", email, &strong_password(1), group)]).into_bytes();
    let key = [("Idempotency-Key", "nightly-1")];
    let first = master
        .upload_raw("dry_run=true", "text/csv", csv("a@acme.test"), &key)
        .await;
    assert_eq!(first.status, 202);
    let again = scoped
        .upload_raw("dry_run=true", "text/csv", csv("b@acme.test"), &key)
        .await;
    assert_eq!(
        again.status,
        409,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(again.json()["code"], "idempotency_key_used");
    assert!(!String::from_utf8_lossy(&again.body).contains(first.json()["id"].as_str().unwrap()));
    // The master still gets its own import back.
    let repeat = master
        .upload_raw("dry_run=true", "text/csv", csv("a@acme.test"), &key)
        .await;
    assert_eq!(repeat.status, 200);
    assert_eq!(repeat.json()["id"], first.json()["id"]);
}
