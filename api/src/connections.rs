//! Accepting and serving connections under the limits against abuse (API.md,
//! "Limits against abuse"): a connection that stays silent while its request
//! headers are due (a new one, or an idle keep-alive one) is closed after
//! `ROSTER_REQUEST_TIMEOUT_SECS`, and at most `ROSTER_MAX_CONNECTIONS` are
//! served at once. Past that, new connections wait in the kernel's backlog
//! rather than cost a descriptor each, and a few [`RESERVE`] places answer only
//! the health routes, so that probes still get through while slow clients hold
//! every other place. (A stalled request body is cut by [`crate::idle_body`].)

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Connections accepted past `ROSTER_MAX_CONNECTIONS` that answer only `/healthz`
/// and `/readyz` (anything else: 503 with `Retry-After`).
pub const RESERVE: usize = 8;
/// How long a reserve connection may take to send its request headers: a probe
/// sends them at once, a client that holds connections open does not.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// The limits one API process serves under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub request_timeout: Duration,
    pub max_connections: usize,
}

/// A place a connection holds while it is open.
struct Place {
    _permit: OwnedSemaphorePermit,
    reserve: bool,
}

/// Serves `app` on `listener` until `stop`, then lets open requests finish.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: CancellationToken) {
    let full = Arc::new(Semaphore::new(limits.max_connections));
    let reserve = Arc::new(Semaphore::new(RESERVE));
    let health = app.clone().layer(axum::middleware::from_fn(health_only));
    let connections = TaskTracker::new();
    loop {
        // A place is taken before accepting: with every place taken, the next
        // connection stays in the kernel's backlog instead of holding a descriptor here.
        let place = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            Ok(p) = full.clone().acquire_owned() => Place { _permit: p, reserve: false },
            Ok(p) = reserve.clone().acquire_owned() => Place { _permit: p, reserve: true },
        };
        let stream = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was
                    // accepted: the listener stays, and the next accept may succeed.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // A reserve place taken while the server was full is traded for a full
        // one if one came free while this connection waited to be accepted.
        let traded = place
            .reserve
            .then(|| full.clone().try_acquire_owned().ok())
            .flatten();
        let place = match traded {
            Some(p) => Place {
                _permit: p,
                reserve: false,
            },
            None => place,
        };
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new());
        let service = if !place.reserve {
            builder.header_read_timeout(limits.request_timeout);
            app.clone()
        } else {
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection limit reached: serving the health routes only"
            );
            builder
                .header_read_timeout(RESERVE_HEADER_TIMEOUT.min(limits.request_timeout))
                .keep_alive(false);
            health.clone()
        };
        let stop = stop.clone();
        connections.spawn(async move {
            let _place = place;
            let connection =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                _ = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = served {
                // Timeouts and clients that went away: worth a line, not an alarm.
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// On a reserve connection: the health routes, and 503 for anything else.
async fn health_only(request: Request, next: Next) -> Response {
    match request.uri().path() {
        "/healthz" | "/readyz" => next.run(request).await,
        _ => crate::error::ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "the server is at its connection limit; try again",
        )
        .into_response(),
    }
}
