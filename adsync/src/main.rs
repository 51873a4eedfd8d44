//! `roster-adsync`: reads a directory group completely (paged searches), sends
//! it to Roster as one snapshot, waits for the run and prints its counts. A
//! directory that cannot be read completely means nothing is sent. Exit
//! status: 0 the run completed; 1 nothing was sent, or the run failed, was
//! cancelled or waits for approval; 2 a usage error.
//!
//! `--every SECONDS` keeps running: a failed attempt is retried with a backoff
//! (5 s doubling up to the interval) and never ends the service.

mod args;
mod directory;
mod entry;
mod roster;
mod tls;

use args::Args;
use clap::Parser;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.ca_file.is_some() && !args.starttls && !is_ldaps(&args.ldap_url) {
        // A CA for a connection without TLS would protect nothing.
        eprintln!("roster-adsync: --ca-file needs an ldaps:// URL or --starttls");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roster-adsync: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let Some(every) = args.every else {
        return match once(&args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("roster-adsync: {e}");
                ExitCode::from(1)
            }
        };
    };
    let interval = Duration::from_secs(every);
    let mut backoff = Duration::from_secs(5).min(interval);
    loop {
        let pause = match once(&args).await {
            Ok(_) => {
                backoff = Duration::from_secs(5).min(interval);
                interval
            }
            Err(e) => {
                // `e` says already whether anything was sent.
                eprintln!("roster-adsync: {e}; trying again in {}s", backoff.as_secs());
                let pause = backoff;
                backoff = (backoff * 2).min(interval);
                pause
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        }
    }
}

/// One synchronization. `Ok(true)`: the run completed; `Ok(false)`: it was sent
/// but did not complete (failed, cancelled, needs approval); `Err`: nothing sent
/// or its outcome unknown.
async fn once(args: &Args) -> Result<bool, String> {
    let unsent = |e: String| format!("{e}; nothing was sent");
    let password = secret(&args.bind_password_file, "--bind-password-file").map_err(unsent)?;
    let token = secret(&args.token_file, "--token-file").map_err(unsent)?;
    let snapshot = directory::read(args, &password)
        .await
        .map_err(|e| unsent(e.to_string()))?;
    let key = format!("{}:{}", snapshot.kind.prefix(), args.group_dn);
    let roster = roster::Roster::new(&args.roster_url, token, Duration::from_secs(args.timeout))
        .map_err(|e| unsent(e.to_string()))?;
    let accepted = roster
        .send(&key, args.group_id, args.dry_run, &snapshot.members)
        .await
        .map_err(|e| match e {
            roster::SendError::Refused { .. } => format!("{e}; the snapshot was refused"),
            roster::SendError::Http(_) => format!("{e}; the snapshot may not have been accepted"),
        })?;
    let id = accepted["id"]
        .as_str()
        .ok_or("roster: the answer has no import id")?
        .to_owned();
    println!(
        "sent {} members of {key} as import {id}",
        snapshot.members.len()
    );
    let import = roster
        .wait(&key, &id)
        .await
        .map_err(|e| format!("{e}; import {id} was sent, its outcome is unknown"))?;
    let status = import["status"].as_str().unwrap_or("unknown");
    println!("import {id} {status}: counts {}", import["counts"]);
    if let Some(error) = import["error"].as_object() {
        println!("error: {}", serde_json::Value::Object(error.clone()));
    }
    Ok(status == "completed")
}

/// A secret from a file: its first line, trimmed.
fn secret(path: &Path, flag: &str) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim().to_owned();
    if line.is_empty() {
        return Err(format!("{flag} {}: empty", path.display()));
    }
    Ok(line)
}

fn is_ldaps(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("ldaps://"))
}
