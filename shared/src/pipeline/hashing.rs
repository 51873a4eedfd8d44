//! Password hashing on the blocking pool, `worker_concurrency` threads at a time,
//! never on the async runtime's threads (they keep leases and queue heartbeats alive).

use super::{Context, StepError};
use crate::password::Password;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one batch should take to hash: long enough that the per-batch
/// round trips vanish beside it, short enough to renew a chunk's lease often
/// and to show progress.
const BATCH_TARGET: Duration = Duration::from_secs(2);

/// Rows per batch for this process's hash cost and concurrency: a few hundred at
/// OWASP cost, up to 2,000 when hashing is cheap (then the database round trips
/// are what a batch amortizes).
pub(super) async fn batch_rows(ctx: &Context) -> usize {
    static COST: OnceLock<Duration> = OnceLock::new();
    let cost = match COST.get() {
        Some(cost) => *cost,
        None => {
            let scheme = ctx.config.password_hash.clone();
            let measured = tokio::task::spawn_blocking(move || {
                let probe = Password::new("Probe-Password-For-Timing-1".into());
                let started = Instant::now();
                let _ = scheme.hash(&probe);
                started.elapsed()
            })
            .await
            .unwrap_or(Duration::from_millis(25));
            *COST.get_or_init(|| measured)
        }
    };
    let per_row = cost.as_secs_f64() / ctx.config.worker_concurrency.max(1) as f64;
    let rows = (BATCH_TARGET.as_secs_f64() / per_row.max(1e-6)) as usize;
    rows.clamp(25, 2000)
}

/// Hashes every password, in order, spreading them over `worker_concurrency` threads.
pub(super) async fn hash_all(
    ctx: &Context,
    passwords: Vec<Password>,
) -> Result<Vec<String>, StepError> {
    if passwords.is_empty() {
        return Ok(Vec::new());
    }
    let threads = ctx.config.worker_concurrency.min(passwords.len()).max(1);
    let total = passwords.len();
    let mut lanes: Vec<Vec<(usize, Password)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, p) in passwords.into_iter().enumerate() {
        lanes[i % threads].push((i, p));
    }
    let tasks: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            let scheme = ctx.config.password_hash.clone();
            tokio::task::spawn_blocking(move || {
                lane.into_iter()
                    .map(|(i, p)| (i, scheme.hash(&p)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut hashes = vec![String::new(); total];
    for task in tasks {
        let lane = task
            .await
            .map_err(|e| StepError::Internal(format!("hashing thread: {e}")))?;
        for (i, h) in lane {
            hashes[i] = h;
        }
    }
    Ok(hashes)
}
