//! A running API process, started the same way by `serve` and `demo`:
//! migrations, the runtime (and, in the embedded default, its in-process
//! workers), and the HTTP server with its connection limits.

use crate::state::AppState;
use anyhow::Context as _;
use roster_shared::config::Config;
use roster_shared::db::Db;
use roster_shared::runtime::{Mode, Runtime, spawn_embedded_workers};
use tokio_util::sync::CancellationToken;

/// Creates the embedded default's data folder before the SQLite file is opened in it.
pub(crate) fn prepare(config: &Config) -> anyhow::Result<()> {
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
        let workers = match &runtime.mode {
            Mode::Embedded(queue) => {
                tracing::info!(data_dir = %runtime.ctx.config.data_dir.display(), "embedded default: SQLite, a folder and in-process workers");
                Some(spawn_embedded_workers(
                    &runtime.ctx,
                    queue,
                    EMBEDDED_LANES,
                    stop.clone(),
                ))
            }
            Mode::Cluster(_) => None,
        };
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
