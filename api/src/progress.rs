//! Live progress: rows per second over the last [`WINDOW`] of work, and the
//! time left at that rate (API.md, "Live progress").
//!
//! Each API process keeps, per import it is asked about, a few samples of the
//! processed-row count (from the database, the truth) with the instant it read
//! them: every `GET` of the import and every poll of the events feed adds one.
//! The rate is the slope over the samples of the last 30 s, so a batch landing
//! at once (rows arrive in batches of hundreds) moves it little; with less than
//! [`MIN_SPAN`] of samples, it is the average since the import started. A
//! finished import shows its average and no time left. Nothing is written
//! anywhere: any instance of a cluster computes the same figures from what it
//! reads, and a process that has never seen an import starts from its start time.

use roster_shared::model::{ImportId, ImportRecord, ImportStatus};
use roster_shared::time::now_ms;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far back the rate looks.
pub const WINDOW: Duration = Duration::from_secs(30);
/// The shortest span of samples the window's slope is trusted over.
const MIN_SPAN: Duration = Duration::from_secs(5);
/// Imports not asked about for this long are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// At most this many imports are tracked; past it, the least recently seen go.
const MAX_TRACKED: usize = 10_000;

/// The samples of every import this process is following.
#[derive(Default)]
pub struct Rates {
    tracks: Mutex<HashMap<ImportId, Track>>,
}

struct Track {
    samples: VecDeque<(Instant, i64)>,
    seen: Instant,
}

/// An import's live figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    pub rows_per_second: Option<f64>,
    pub eta_seconds: Option<i64>,
}

impl Rates {
    /// Records what `import` says now and returns its figures.
    pub fn observe(&self, import: &ImportRecord) -> Progress {
        self.observe_at(import, Instant::now(), now_ms())
    }

    fn observe_at(&self, import: &ImportRecord, now: Instant, now_ms: i64) -> Progress {
        let processed = import.counts.processed();
        if is_finished(import.status) {
            self.forget(&import.id);
            let rate = match (import.started_at, import.finished_at) {
                (Some(start), Some(end)) if processed > 0 && end > start => {
                    Some(processed as f64 * 1000.0 / (end - start) as f64)
                }
                _ => None,
            };
            return Progress {
                rows_per_second: rate.map(round),
                eta_seconds: None,
            };
        }
        if processed == 0 {
            return Progress::default();
        }
        let window_rate = self.sample(&import.id, now, processed);
        let since_start = import
            .started_at
            .filter(|start| now_ms > *start)
            .map(|start| processed as f64 * 1000.0 / (now_ms - start) as f64);
        let rate = window_rate.or(since_start).filter(|r| *r > 0.0);
        let eta = match (rate, import.total_rows) {
            (Some(rate), Some(total)) => {
                Some(((total - processed).max(0) as f64 / rate).ceil() as i64)
            }
            _ => None,
        };
        Progress {
            rows_per_second: rate.map(round),
            eta_seconds: eta,
        }
    }

    /// Adds a sample; the slope over the window when it spans enough time.
    fn sample(&self, id: &ImportId, now: Instant, processed: i64) -> Option<f64> {
        let mut tracks = self.tracks.lock().unwrap_or_else(|p| p.into_inner());
        if !tracks.contains_key(id) && tracks.len() >= MAX_TRACKED {
            prune(&mut tracks, now);
        }
        let track = tracks.entry(id.clone()).or_insert_with(|| Track {
            samples: VecDeque::new(),
            seen: now,
        });
        track.seen = now;
        // One sample a second is plenty; a changed count is always kept.
        let last = track.samples.back().copied();
        if last.is_none_or(|(at, count)| {
            count != processed || now.duration_since(at) >= Duration::from_secs(1)
        }) {
            track.samples.push_back((now, processed));
        }
        // Keep one sample at or before the window's start, so the slope spans it.
        while track.samples.len() > 2
            && track
                .samples
                .get(1)
                .is_some_and(|(at, _)| now.duration_since(*at) >= WINDOW)
        {
            track.samples.pop_front();
        }
        let (first_at, first) = *track.samples.front()?;
        let (last_at, last) = *track.samples.back()?;
        let span = last_at.duration_since(first_at);
        (span >= MIN_SPAN && last >= first).then(|| (last - first) as f64 / span.as_secs_f64())
    }

    fn forget(&self, id: &ImportId) {
        let mut tracks = self.tracks.lock().unwrap_or_else(|p| p.into_inner());
        tracks.remove(id);
    }
}

/// Drops what was not seen lately, and then the least recently seen, to make room.
fn prune(tracks: &mut HashMap<ImportId, Track>, now: Instant) {
    tracks.retain(|_, t| now.duration_since(t.seen) < FORGET_AFTER);
    while tracks.len() >= MAX_TRACKED {
        let Some(oldest) = tracks
            .iter()
            .min_by_key(|(_, t)| t.seen)
            .map(|(id, _)| id.clone())
        else {
            break;
        };
        tracks.remove(&oldest);
    }
}

fn is_finished(status: ImportStatus) -> bool {
    matches!(
        status,
        ImportStatus::Completed | ImportStatus::Failed | ImportStatus::Cancelled
    )
}

/// Rates to a tenth of a row per second: steadier to read.
fn round(rate: f64) -> f64 {
    (rate * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::{Progress, Rates};
    use roster_shared::model::{Counts, Format, ImportId, ImportRecord, ImportStatus, OnExisting};
    use std::time::{Duration, Instant};

    fn import(id: &ImportId, processed: i64, total: Option<i64>, started: i64) -> ImportRecord {
        ImportRecord {
            kind: roster_shared::model::ImportKind::File,
            sync_source_id: None,
            approved: false,
            id: id.clone(),
            org_id: roster_shared::model::OrgId::new(1),
            admin_id: roster_shared::model::AdminId::new(1),
            status: ImportStatus::Running,
            file_name: "t.csv".into(),
            format: Format::Csv,
            layout: None,
            header: None,
            group_id: None,
            dry_run: false,
            on_existing: OnExisting::Fail,
            upload_bytes: 0,
            total_rows: total,
            counts: Counts {
                created: processed,
                ..Counts::default()
            },
            chunk_count: None,
            chunks_done: 0,
            error: None,
            has_result: false,
            files_purged: false,
            cancel_requested: false,
            directory_empty_at_plan: false,
            created_at: 0,
            started_at: Some(started),
            finished_at: None,
        }
    }

    #[test]
    fn nothing_is_known_before_the_first_rows() {
        let rates = Rates::default();
        let id = ImportId::new();
        let p = rates.observe_at(&import(&id, 0, Some(100), 0), Instant::now(), 10_000);
        assert_eq!(p, Progress::default());
    }

    #[test]
    fn the_rate_is_the_slope_of_the_last_thirty_seconds() {
        let rates = Rates::default();
        let id = ImportId::new();
        let t0 = Instant::now();
        // 100 rows a second for a minute, landing in batches of 500 every 5 s,
        // after a slow start of 10 rows a second for 60 s.
        let mut processed = 0;
        let mut last = Progress::default();
        for second in 0..120_i64 {
            processed += if second < 60 { 10 } else { 0 };
            if second >= 60 && second % 5 == 0 {
                processed += 500;
            }
            let at = t0 + Duration::from_secs(second as u64);
            last = rates.observe_at(&import(&id, processed, Some(20_000), 0), at, second * 1000);
            if second >= 100 {
                let rate = last.rows_per_second.expect("a rate");
                assert!((80.0..=120.0).contains(&rate), "second {second}: {rate}");
            }
        }
        let eta = last.eta_seconds.expect("an eta");
        let left = 20_000 - processed;
        assert!(
            (eta - left / 100).abs() <= left / 100 / 5,
            "{eta} for {left} rows"
        );
    }

    #[test]
    fn a_short_history_falls_back_to_the_average_since_the_start() {
        let rates = Rates::default();
        let id = ImportId::new();
        let p = rates.observe_at(&import(&id, 500, Some(1000), 0), Instant::now(), 10_000);
        assert_eq!(p.rows_per_second, Some(50.0));
        assert_eq!(p.eta_seconds, Some(10));
    }

    #[test]
    fn a_finished_import_shows_its_average_and_no_time_left() {
        let rates = Rates::default();
        let id = ImportId::new();
        let mut record = import(&id, 300, Some(300), 1_000);
        record.status = ImportStatus::Completed;
        record.finished_at = Some(4_000);
        let p = rates.observe_at(&record, Instant::now(), 5_000);
        assert_eq!(
            p,
            Progress {
                rows_per_second: Some(100.0),
                eta_seconds: None
            }
        );
    }
}
