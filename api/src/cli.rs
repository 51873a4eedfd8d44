//! The `roster-api` command line: `serve` (the default), `migrate`, `admin create`.

use crate::server::Server;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use roster_shared::config::Config;
use roster_shared::db::Db;
use roster_shared::model::{GroupId, Role};

#[derive(Debug, Parser)]
#[command(
    name = "roster-api",
    version,
    about = "Roster: bulk technician imports as a service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Listen for HTTP requests (the default). Without ROSTER_REDIS_URL, also runs the workers.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Start the system, import an example file through the HTTP API, save its result spreadsheet.
    Demo {
        /// The file to import (CSV, JSON or xlsx).
        #[arg(default_value = "examples/technicians.csv")]
        file: std::path::PathBuf,
    },
    /// Manage administrators.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator (and its organization if needed); prints its token, only.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "master")]
        role: String,
        /// A group the administrator may act on (role admin); repeatable.
        #[arg(long = "group")]
        groups: Vec<i64>,
        /// Also set the sign-in password, read from standard input (one line;
        /// the organization's password policy applies).
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            crate::server::prepare(&config)?;
            Db::migrate(&config.database_url).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    org,
                    email,
                    role,
                    groups,
                    password_stdin,
                },
        } => {
            let email = roster_shared::validate::check_email(&email)
                .map_err(|e| anyhow::anyhow!("--email: {}", e.message))?
                .to_owned();
            crate::server::prepare(&config)?;
            Db::migrate(&config.database_url).await?;
            let role = Role::parse(&role).context("--role must be master or admin")?;
            let db = Db::connect(&config.database_url, 2).await?;
            let org_id = db.ensure_org(&org).await?;
            let groups: Vec<GroupId> = groups.into_iter().map(GroupId::new).collect();
            for g in &groups {
                db.get_group(org_id, *g)
                    .await?
                    .with_context(|| format!("group {g} does not exist in {org}"))?;
            }
            let password_hash = match password_stdin {
                false => None,
                true => {
                    let password = read_password_stdin()?;
                    let policy = db.settings(org_id).await?.password_policy;
                    crate::routes::admins::check_admin_password(&password, &policy, &email)
                        .map_err(|e| anyhow::anyhow!("the password is refused: {}", e.detail))?;
                    Some(config.password_hash.hash_blocking(password).await?)
                }
            };
            let (admin, token) = db
                .create_admin(org_id, &email, role, &groups, password_hash.as_deref())
                .await?;
            db.close().await;
            eprintln!(
                "created {} administrator {} (id {}) in organization '{org}'",
                role.as_str(),
                admin.email,
                admin.id
            );
            println!("{token}");
            Ok(())
        }
        Command::Serve => {
            let listen = config.listen;
            let server = Server::start(config, listen).await?;
            roster_shared::runtime::shutdown_signal().await;
            server.stop().await
        }
        Command::Demo { file } => crate::demo::run(config, &file).await,
    }
}

/// The first line of standard input, without its line ending.
fn read_password_stdin() -> anyhow::Result<roster_shared::password::Password> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(roster_shared::password::Password::new(password))
}
