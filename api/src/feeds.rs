//! One source of changes per watched import, shared by every watcher in the
//! process (the events stream, `GET /v1/imports/{id}/events`).
//!
//! The first watcher of an import starts a poller that reads the import from the
//! database every [`POLL`] and publishes it when it changed; the others subscribe
//! to the same channel. So a thousand watchers of one import cost the database
//! what one does: one indexed read every quarter second, and none when nobody
//! watches (the poller ends with its last watcher). Why a poll and not
//! PostgreSQL's LISTEN/NOTIFY or Redis pub/sub: the embedded default has
//! neither, a poll of the import's row (and its chunks' counters) learns of
//! changes made by any worker on any machine, and it bounds the events at four
//! a second whatever the workers do (docs/design.md, "Live progress").

use roster_shared::db::Db;
use roster_shared::model::{ImportId, ImportRecord, ImportStatus};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often a watched import is read: at most four events a second.
pub const POLL: Duration = Duration::from_millis(250);

/// The feeds of the imports watched in this process.
#[derive(Default)]
pub struct Feeds {
    feeds: Mutex<HashMap<ImportId, Arc<watch::Sender<ImportRecord>>>>,
}

impl Feeds {
    /// A receiver of `import`'s changes, starting with `import` as it is now.
    /// The caller has checked that it may see the import.
    pub fn watch(self: &Arc<Self>, db: &Db, import: ImportRecord) -> watch::Receiver<ImportRecord> {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(feed) = feeds.get(&import.id) {
            return feed.subscribe();
        }
        let id = import.id.clone();
        let (tx, rx) = watch::channel(import);
        let tx = Arc::new(tx);
        feeds.insert(id.clone(), tx.clone());
        tokio::spawn(poll(self.clone(), db.clone(), id, tx));
        rx
    }

    /// Removes `id`'s feed if nobody watches it any more; false if someone does.
    fn close_if_unwatched(&self, id: &ImportId, tx: &Arc<watch::Sender<ImportRecord>>) -> bool {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if tx.receiver_count() > 0 {
            return false;
        }
        if feeds.get(id).is_some_and(|feed| Arc::ptr_eq(feed, tx)) {
            feeds.remove(id);
        }
        true
    }

    /// Imports being polled now (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.feeds.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Reads the import until nobody watches it or it has finished.
async fn poll(feeds: Arc<Feeds>, db: Db, id: ImportId, tx: Arc<watch::Sender<ImportRecord>>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if feeds.close_if_unwatched(&id, &tx) {
            return;
        }
        let now = match db.load_import(&id).await {
            Ok(Some(now)) => now,
            // Gone (its organization was deleted): the watchers keep the last state.
            Ok(None) => {
                let _ = feeds.close_if_unwatched(&id, &tx);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, import.id = %id, "could not read a watched import; retrying");
                continue;
            }
        };
        let finished = is_finished(now.status);
        tx.send_if_modified(|seen| {
            let changed = differs(seen, &now);
            if changed {
                *seen = now;
            }
            changed
        });
        if finished {
            // Every watcher has the final state; a new watcher starts a new feed.
            let mut feeds = feeds.feeds.lock().unwrap_or_else(|p| p.into_inner());
            if feeds.get(&id).is_some_and(|feed| Arc::ptr_eq(feed, &tx)) {
                feeds.remove(&id);
            }
            return;
        }
    }
}

/// Whether a watcher would see a difference.
fn differs(a: &ImportRecord, b: &ImportRecord) -> bool {
    a.status != b.status
        || a.counts != b.counts
        || a.total_rows != b.total_rows
        || a.has_result != b.has_result
        || a.started_at != b.started_at
        || a.finished_at != b.finished_at
        || a.error != b.error
}

pub fn is_finished(status: ImportStatus) -> bool {
    matches!(
        status,
        ImportStatus::Completed | ImportStatus::Failed | ImportStatus::Cancelled
    )
}
