//! `GET /v1/imports/{id}/events`: an import's changes as server-sent events
//! (API.md, "Live progress"). At once one `import` event with the resource as
//! it is, then one on each change (at most four a second: [`crate::feeds`]),
//! and `done` with the final resource, after which the stream ends. A comment
//! every 15 s keeps proxies from closing a quiet stream. Each event's `id` is
//! the import's progress (`STATUS.PROCESSED`); a client reconnecting with
//! `Last-Event-ID` gets the current state at once, as any new watcher does.

use super::imports::{ImportOut, find};
use crate::auth::Caller;
use crate::error::{ApiResult, Path};
use crate::feeds::is_finished;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use roster_shared::model::ImportRecord;
use std::convert::Infallible;
use std::time::Duration;

/// How often a quiet stream says it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/imports/{id}/events", get(import_events))
}

async fn import_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let import = find(&state, &caller, &id).await?;
    let rx = state.feeds.watch(&state.ctx.db, import);
    let stream = futures::stream::unfold(Some((rx, true)), move |step| {
        let state = state.clone();
        async move {
            let (mut rx, first) = step?;
            if !first && rx.changed().await.is_err() {
                return None; // the feed ended without a final state (the import is gone)
            }
            let now: ImportRecord = rx.borrow_and_update().clone();
            let events = event(&state, "import", &now);
            if is_finished(now.status) {
                let done = event(&state, "done", &now);
                return Some((futures::stream::iter(vec![events, done]), None));
            }
            Some((futures::stream::iter(vec![events]), Some((rx, false))))
        }
    })
    .flatten();
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

fn event(state: &AppState, name: &str, import: &ImportRecord) -> Result<Event, Infallible> {
    let out = ImportOut::from(import).with_progress(state.rates.observe(import));
    let data = serde_json::to_string(&out).unwrap_or_else(|_| "{}".into());
    Ok(Event::default()
        .event(name)
        .id(format!(
            "{}.{}",
            import.status.as_str(),
            import.counts.processed()
        ))
        .data(data))
}
