//! Roster's HTTP API: thin handlers that parse at the edge, call `roster_shared`,
//! and map the answer. `app()` builds the whole router (tests drive it too).

pub mod auth;
pub mod cli;
mod console;
mod demo;
pub mod error;
pub mod feeds;
pub mod paging;
pub mod progress;
pub mod routes;
pub mod state;
pub mod strict;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use state::AppState;
use tracing::Instrument;

/// The whole API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(routes::ops::router())
        .merge(routes::imports::router())
        .merge(routes::events::router())
        .merge(routes::groups::router())
        .merge(routes::technicians::router())
        .merge(routes::admins::router())
        .merge(routes::sessions::router())
        .merge(console::router())
        .fallback(|| async { error::ApiError::not_found() })
        .layer(axum::middleware::from_fn(request_span))
        .with_state(state)
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
    roster_shared::model::ImportId::new().0
}
