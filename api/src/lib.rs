//! Roster's HTTP API: thin handlers that parse at the edge, call `roster_shared`,
//! and map the answer. `app()` builds the whole router.

pub mod auth;
pub mod cli;
pub mod connections;
mod console;
mod demo;
pub mod error;
pub mod feeds;
pub mod paging;
pub mod progress;
pub mod routes;
pub mod scim;
pub mod server;
pub mod state;
pub mod strict;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use state::AppState;
use std::time::Duration;
use tracing::Instrument;

/// The whole API.
pub fn app(state: AppState) -> Router {
    let idle = state.ctx.config.request_timeout;
    Router::new()
        .merge(routes::ops::router())
        .merge(routes::imports::router())
        .merge(routes::events::router())
        .merge(routes::groups::router())
        .merge(routes::technicians::router())
        .merge(routes::admins::router())
        .merge(routes::sessions::router())
        .merge(routes::sync_tokens::router())
        .merge(scim::router())
        .merge(routes::sync::router())
        .merge(console::router())
        .fallback(|| async { error::ApiError::not_found() })
        .layer(axum::middleware::from_fn(retry_after))
        .layer(axum::middleware::map_request(
            move |r: Request| async move { idle_body(r, idle) },
        ))
        .layer(axum::middleware::from_fn(request_span))
        .with_state(state)
}

/// A 429 or 503 always carries `Retry-After` (API.md, "Limits against abuse"),
/// whoever wrote the answer.
async fn retry_after(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let busy = matches!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    );
    if busy && !response.headers().contains_key(header::RETRY_AFTER) {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(error::RETRY_AFTER_SECS),
        );
    }
    response
}

/// A request body that sends nothing for `idle` ends with an error, so that a
/// stalled upload cannot hold its connection and spool file (its handler fails
/// and drops them). A slow body that keeps moving is never cut.
fn idle_body(request: Request, idle: Duration) -> Request {
    if request.body().is_end_stream() {
        return request;
    }
    request.map(|body| {
        let pieces = body.into_data_stream();
        Body::from_stream(futures::stream::unfold(
            Some(pieces),
            move |pieces| async move {
                let mut pieces = pieces?;
                match tokio::time::timeout(idle, pieces.next()).await {
                    Ok(Some(piece)) => Some((piece.map_err(axum::BoxError::from), Some(pieces))),
                    Ok(None) => None,
                    Err(_) => Some((
                        Err(format!("nothing was received for {} s", idle.as_secs()).into()),
                        None,
                    )),
                }
            },
        ))
    })
}

/// One span per request, with an id that the error log lines carry too.
async fn request_span(request: Request, next: Next) -> Response {
    let id = uuid_like();
    let span = tracing::info_span!("request", request.id = %id, method = %request.method(), path = %request.uri().path());
    async move {
        let started = std::time::Instant::now();
        let response = next.run(request).await;
        tracing::info!(
            status = response.status().as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    }
    .instrument(span)
    .await
}

fn uuid_like() -> String {
    roster_shared::model::ImportId::new().as_str().to_owned()
}
