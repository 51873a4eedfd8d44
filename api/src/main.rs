//! `roster-api`: see `roster_api::cli`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    roster_shared::telemetry::init();
    match roster_api::cli::run(roster_api::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster-api: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
