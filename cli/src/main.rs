//! `roster`: the command-line client of Roster's HTTP API (API.md, "The
//! command-line client"). Exit status: 0 every row succeeded, 1 the import
//! completed with failed rows, 2 the import failed or was cancelled, 3 a usage,
//! sign-in or network error (said on standard error). The token is never printed.

mod api;
mod args;
mod commands;
mod config;
mod error;
mod progress;
mod watch;

use api::{Api, Token};
use args::{Cli, Command};
use clap::Parser;
use clap::error::ErrorKind;
use commands::Finish;
use error::CliError;
use std::process::ExitCode;

/// Usage, sign-in and network errors.
const ERROR_EXIT: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                // clap's own exit status is 2, which here means "the import failed".
                _ => ExitCode::from(ERROR_EXIT),
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roster: cannot start: {e}");
            return ExitCode::from(ERROR_EXIT);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(finish) => ExitCode::from(finish.code()),
        Err(e) => {
            eprintln!("roster: {e}");
            ExitCode::from(ERROR_EXIT)
        }
    }
}

async fn run(cli: Cli) -> Result<Finish, CliError> {
    let stored = config::load()?;
    let url = cli
        .url
        .clone()
        .or_else(|| stored.as_ref().map(|s| s.url.clone()))
        .unwrap_or_else(|| config::DEFAULT_URL.to_owned());
    if let Command::Login = cli.command {
        return commands::login(&url, cli.token).await;
    }
    // A stored token goes only to the server it was stored for.
    let same_server = |s: &config::Stored| s.url.trim_end_matches('/') == url.trim_end_matches('/');
    let token = cli
        .token
        .filter(|t| !t.is_empty())
        .or_else(|| stored.filter(same_server).map(|s| s.token))
        .map(Token);
    let api = Api::new(&url, token)?;
    let json = cli.json;
    match cli.command {
        Command::Login => unreachable!("handled above"),
        Command::Import(args) => commands::import::run(&api, args, json).await,
        Command::Imports { limit } => commands::imports(&api, limit, json).await,
        Command::Status { id } => commands::status(&api, &id, json).await,
        Command::Rows { id, failed } => commands::rows(&api, &id, failed, json).await,
        Command::Result { id, output } => commands::result(&api, &id, output).await,
        Command::Cancel { id } => commands::cancel(&api, &id, json).await,
        Command::Templates { format, output } => commands::templates(&api, format, output).await,
    }
}
