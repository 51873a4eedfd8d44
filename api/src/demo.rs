//! `roster-api demo`: the newcomer's first command. It starts the same system
//! `serve` starts (embedded default unless the cluster variables are set), then
//! does what a user does with curl: creates an administrator and a group,
//! uploads a file, polls the import and downloads the result spreadsheet.

use crate::server::Server;
use anyhow::{Context as _, bail};
use roster_shared::config::Config;
use roster_shared::model::Role;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

pub async fn run(config: Config, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let data_dir = config.data_dir.clone();
    let embedded = config.embedded_queue();
    let listen = "127.0.0.1:0".parse().expect("valid address");
    let server = Server::start(config, listen).await?;
    let outcome = drive(&server, file, bytes, &data_dir).await;
    if !embedded {
        eprintln!("(cluster mode: the import was processed by your roster-worker processes)");
    }
    server.stop().await?;
    outcome
}

async fn drive(
    server: &Server,
    file: &Path,
    bytes: Vec<u8>,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let db = &server.runtime_ctx.db;
    let org = db.ensure_org("Demo").await?;
    let email = format!(
        "demo-{}@example.com",
        &roster_shared::model::ImportId::new().as_str()[..8]
    );
    let (_, token) = db
        .create_admin(org, &email, Role::Master, &[], None)
        .await?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    println!(
        "Roster is running at {base} (data in {})",
        data_dir.display()
    );

    let group: Value = http
        .post(format!("{base}/v1/groups"))
        .bearer_auth(&token)
        .json(&json!({"name": "Demo technicians"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let group_id = group["id"].as_i64().context("group id")?;

    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("upload.csv")
        .to_owned();
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.clone()),
        )
        .text("group_id", group_id.to_string());
    let answer = http
        .post(format!("{base}/v1/imports"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await?;
    let status = answer.status();
    let import: Value = answer.json().await?;
    if status.as_u16() != 202 {
        bail!("the upload was refused ({status}): {import}");
    }
    let id = import["id"].as_str().context("import id")?.to_owned();
    println!("Uploaded {name}: import {id} is {}", import["status"]);

    let import = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let import: Value = http
            .get(format!("{base}/v1/imports/{id}"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        println!(
            "  {:<9} {}/{} rows",
            import["status"].as_str().unwrap_or("?"),
            import["processed_rows"],
            import["total_rows"]
                .as_i64()
                .map_or("?".into(), |n| n.to_string())
        );
        if matches!(
            import["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            break import;
        }
    };
    if import["status"] == "failed" {
        bail!("the import failed: {}", import["error"]);
    }
    println!(
        "Created {}, failed {}.",
        import["counts"]["created"], import["failed_rows"]
    );

    let failed: Value = http
        .get(format!("{base}/v1/imports/{id}/rows?status=failed"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    for row in failed["items"].as_array().into_iter().flatten() {
        let errors: Vec<String> = row["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}: {}",
                    e["field"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        println!("  row {}: {}", row["row"], errors.join("; "));
    }

    let result = http
        .get(format!("{base}/v1/imports/{id}/result.xlsx"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let out = data_dir.join("demo-result.xlsx");
    std::fs::write(&out, &result).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "Result spreadsheet ({} bytes): {}",
        result.len(),
        out.display()
    );
    println!("Next: `roster-api serve`, then use the API with curl (README.md).");
    Ok(())
}
