//! Password hashing on the blocking pool, `worker_concurrency` threads at a time,
//! never on the async runtime's threads (they keep leases and queue heartbeats alive).

use super::{Context, StepError};
use crate::password::Password;

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
