//! The `roster-api` command line: `serve` (the default), `migrate`, `admin create`.

use crate::state::AppState;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use roster_shared::config::Config;
use roster_shared::db::Db;
use roster_shared::model::Role;
use roster_shared::runtime::{Runtime, spawn_embedded_workers};
use tokio_util::sync::CancellationToken;

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
            prepare(&config)?;
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
            prepare(&config)?;
            Db::migrate(&config.database_url).await?;
            let role = Role::parse(&role).context("--role must be master or admin")?;
            let db = Db::connect(&config.database_url, 2).await?;
            let org_id = db.ensure_org(&org).await?;
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
                    let scheme = config.password_hash.clone();
                    Some(tokio::task::spawn_blocking(move || scheme.hash(&password)).await?)
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
            shutdown_signal().await;
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

fn prepare(config: &Config) -> anyhow::Result<()> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
    }
    Ok(())
}

/// A running API (and, in the embedded default, its workers).
pub struct Server {
    pub addr: std::net::SocketAddr,
    pub runtime_ctx: roster_shared::pipeline::Context,
    stop: CancellationToken,
    http: tokio::task::JoinHandle<()>,
    workers: Option<tokio::task::JoinSet<()>>,
}

impl Server {
    /// Migrates, connects, starts the embedded workers if there is no Redis, and listens.
    pub async fn start(config: Config, listen: std::net::SocketAddr) -> anyhow::Result<Self> {
        prepare(&config)?;
        Db::migrate(&config.database_url)
            .await
            .context("applying migrations")?;
        let runtime = Runtime::connect(config, "api").await?;
        let stop = runtime.ctx.shutdown.clone();
        let workers = runtime.embedded.as_ref().map(|queue| {
            tracing::info!(data_dir = %runtime.ctx.config.data_dir.display(), "embedded default: SQLite, a folder and in-process workers");
            spawn_embedded_workers(&runtime.ctx, queue, EMBEDDED_LANES, stop.clone())
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        tracing::info!(listen = %addr, "roster-api listening");
        let state = AppState::new(runtime.ctx.clone());
        // Made now, so that the first sign-in with an unknown email is not the slow one.
        let warm = state.clone();
        tokio::spawn(async move { warm.dummy_password_hash().await.map(drop) });
        let app = crate::app(state);
        let limits = crate::connections::Limits {
            request_timeout: runtime.ctx.config.request_timeout,
            max_connections: runtime.ctx.config.max_connections,
        };
        let http = tokio::spawn(crate::connections::serve(
            listener,
            app,
            limits,
            stop.clone(),
        ));
        Ok(Self {
            addr,
            runtime_ctx: runtime.ctx,
            stop,
            http,
            workers,
        })
    }

    /// Stops taking requests and work; in-flight steps finish their batch or give
    /// their work back (leases expire otherwise, and the work resumes at the next start).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        tracing::info!("shutting down");
        self.stop.cancel();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            if let Some(workers) = self.workers.as_mut() {
                while workers.join_next().await.is_some() {}
            }
        })
        .await;
        roster_shared::pipeline::finalizers_stopped(
            &self.runtime_ctx,
            std::time::Duration::from_secs(5),
        )
        .await;
        let served = tokio::time::timeout(std::time::Duration::from_secs(10), self.http).await;
        self.runtime_ctx.db.close().await;
        match served {
            Ok(result) => result.context("http server")?,
            Err(_) => tracing::warn!("open connections did not close in time"),
        }
        Ok(())
    }
}

/// Jobs the embedded default runs at once (each hashes on ROSTER_WORKER_CONCURRENCY threads).
const EMBEDDED_LANES: usize = 2;

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
