//! The `roster-api` command line: `serve` (the default), `migrate`, `admin create`.

use crate::state::AppState;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use roster_shared::config::Config;
use roster_shared::db::{Db, Role};
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
            let (admin, token) = db.create_admin(org_id, &email, role, &groups).await?;
            eprintln!(
                "created {} administrator {} (id {}) in organization '{org}'",
                role.as_str(),
                admin.email,
                admin.id
            );
            println!("{token}");
            Ok(())
        }
        Command::Serve => serve(config).await,
    }
}

fn prepare(config: &Config) -> anyhow::Result<()> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    prepare(&config)?;
    Db::migrate(&config.database_url)
        .await
        .context("applying migrations")?;
    let listen = config.listen;
    let lanes = 2;
    let runtime = Runtime::connect(config, "api").await?;
    let stop = CancellationToken::new();
    let mut workers = match &runtime.embedded {
        Some(queue) => {
            tracing::info!(data_dir = %runtime.ctx.config.data_dir.display(), "embedded default: SQLite, a folder and in-process workers");
            Some(spawn_embedded_workers(
                &runtime.ctx,
                queue,
                lanes,
                stop.clone(),
            ))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(%listen, "roster-api listening");
    let app = crate::app(AppState {
        ctx: runtime.ctx.clone(),
    });
    let shutdown = {
        let stop = stop.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            stop.cancel();
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    if let Some(workers) = workers.as_mut() {
        // In-flight steps finish or are abandoned; their leases expire and the work
        // is picked up again at the next start.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            while workers.join_next().await.is_some() {}
        })
        .await;
    }
    Ok(())
}

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
