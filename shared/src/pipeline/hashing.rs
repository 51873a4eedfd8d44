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

/// A fixed pool of `worker_concurrency` hashing threads for the whole process.
///
/// Dedicated threads, each with its own argon2 working memory allocated once
/// (`HashScheme::hash_in`): a worker's hashing memory stays `threads × m`
/// (38 MiB for two threads at OWASP cost). Allocating the cost per hash on
/// tokio's blocking pool made the allocator keep 250-300 MB. It also keeps
/// hashing off the threads that renew leases and answer the queue.
pub struct HashPool {
    jobs: std::sync::mpsc::Sender<HashJob>,
    threads: usize,
}

/// A run of passwords for one thread, answered all at once: one hand-off per run,
/// not per password (at the cheapest hash, a wake-up per password cost as much as
/// the hash).
type HashJob = (Vec<Password>, tokio::sync::oneshot::Sender<Vec<String>>);

/// Runs per thread that a batch is cut into, so that a thread slowed down by the
/// rest of the machine leaves little for the others to wait for.
const RUNS_PER_THREAD: usize = 4;

impl HashPool {
    /// Starts `threads` hashing threads using `scheme`.
    pub fn new(scheme: crate::password::HashScheme, threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for n in 0..threads {
            let (queue, scheme) = (queue.clone(), scheme.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("roster-hash-{n}"))
                .spawn(move || {
                    // This thread's argon2 working memory, allocated once.
                    let mut memory = Vec::new();
                    loop {
                        // One thread at a time waits for the next job; the others wait
                        // for the lock. The pool ends when its sender is dropped.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok((passwords, reply)) => {
                                // Each password is dropped as soon as it is hashed.
                                let hashes = passwords
                                    .into_iter()
                                    .map(|password| scheme.hash_in(&password, &mut memory))
                                    .collect();
                                let _ = reply.send(hashes);
                            }
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        Self { jobs, threads }
    }

    /// Hashes every password, in order, on the pool's threads.
    pub async fn hash_all(&self, passwords: Vec<Password>) -> Result<Vec<String>, StepError> {
        let total = passwords.len();
        let run = total.div_ceil(self.threads * RUNS_PER_THREAD).max(1);
        let replies: Vec<_> = super::chunk::split_owned(passwords, run)
            .into_iter()
            .map(|passwords| {
                let (reply, answer) = tokio::sync::oneshot::channel();
                self.jobs
                    .send((passwords, reply))
                    .map(|()| answer)
                    .map_err(|_| StepError::Internal("the hashing pool has stopped".into()))
            })
            .collect::<Result<_, _>>()?;
        let mut hashes = Vec::with_capacity(total);
        for answer in replies {
            hashes.extend(
                answer
                    .await
                    .map_err(|_| StepError::Internal("a hashing thread stopped".into()))?,
            );
        }
        Ok(hashes)
    }
}
