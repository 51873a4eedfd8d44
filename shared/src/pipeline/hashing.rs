//! Password hashing on the blocking pool, `worker_concurrency` threads at a time,
//! never on the async runtime's threads (they keep leases and queue heartbeats alive).

use super::{Context, StepError};
use crate::password::Password;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long one batch should take to hash: long enough that the per-batch
/// round trips vanish beside it, short enough to renew a chunk's lease often
/// and to show progress.
const BATCH_TARGET: Duration = Duration::from_secs(2);

/// One hash's cost at this process's `ROSTER_PASSWORD_HASH`, measured once.
async fn hash_cost(ctx: &Context) -> Duration {
    static COST: OnceLock<Duration> = OnceLock::new();
    if let Some(cost) = COST.get() {
        return *cost;
    }
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

/// Rows per batch for this process's hash cost and concurrency, when
/// `hashed_share` of the chunk's rows carry a password to hash (the others give
/// a hash, or nothing to hash): a few dozen at OWASP cost, up to 2,000 when
/// hashing is cheap or absent, as in a migration of pre-hashed rows (then the
/// database round trips and commits are what a batch amortizes).
pub(super) async fn batch_rows(ctx: &Context, hashed_share: f64) -> usize {
    let cost = hash_cost(ctx).await;
    batch_rows_for(cost, ctx.config.worker_concurrency, hashed_share)
}

fn batch_rows_for(cost: Duration, concurrency: usize, hashed_share: f64) -> usize {
    let per_row = cost.as_secs_f64() * hashed_share.clamp(0.0, 1.0) / concurrency.max(1) as f64;
    let rows = (BATCH_TARGET.as_secs_f64() / per_row.max(1e-6)) as usize;
    rows.clamp(25, 2000)
}

/// How long one thread should take to hash a chunk before a chunk grows past
/// [`CHUNK_ROWS`]: a chunk's fixed costs (its claim, its object fetched twice,
/// its directory read, its hand-off to finalize) vanish beside that.
const CHUNK_TARGET: Duration = Duration::from_secs(10);
/// Rows per chunk when hashing is dear (OWASP cost: 2,000 rows are 46 s of one
/// thread), and the fewest: small chunks spread an import over many workers.
pub const CHUNK_ROWS: usize = 2000;
/// The most rows per chunk (a chunk's records are in a worker's memory at once).
pub const CHUNK_ROWS_MAX: usize = 10_000;

/// Rows per chunk: `ROSTER_CHUNK_ROWS` when it is set; else [`CHUNK_ROWS`],
/// grown up to [`CHUNK_ROWS_MAX`] while one thread hashes a chunk in under
/// [`CHUNK_TARGET`]. At the cheapest hash a 1,000,000-row import is then 100
/// chunks, not 500 (docs/performance.md has what that changed).
pub(super) async fn chunk_rows(ctx: &Context) -> usize {
    if let Some(rows) = ctx.config.chunk_rows {
        return rows;
    }
    chunk_rows_for(hash_cost(ctx).await)
}

fn chunk_rows_for(cost: Duration) -> usize {
    let cost = cost.as_secs_f64().max(1e-6);
    ((CHUNK_TARGET.as_secs_f64() / cost) as usize).clamp(CHUNK_ROWS, CHUNK_ROWS_MAX)
}

/// A fixed pool of `worker_concurrency` hashing threads for the whole process.
///
/// Dedicated threads, each with its own argon2 working memory allocated once
/// (`HashScheme::hash_in`, in huge pages on Linux): a worker's hashing memory stays `threads × m`
/// (38 MiB for two threads at OWASP cost). Allocating the cost per hash on
/// tokio's blocking pool made the allocator keep 250-300 MB. It also keeps
/// hashing off the threads that renew leases and answer the queue.
pub struct HashPool {
    jobs: std::sync::mpsc::Sender<Arc<Batch>>,
    threads: usize,
    /// Passwords handed to the pool since it started (`roster_passwords_hashed_total`).
    hashed: std::sync::atomic::AtomicU64,
}

/// One batch's passwords, shared by every hashing thread: each takes the next
/// password until none is left, and the thread that hashes the last one answers
/// for the whole batch. So the threads share the work password by password (at
/// OWASP cost a thread never waits more than one hash for another), and the
/// waiting task is woken once per batch, not once per password (at the cheapest
/// hash, a wake-up per password cost about as much as the hash).
struct Batch {
    todo: Mutex<std::iter::Enumerate<std::vec::IntoIter<Password>>>,
    hashes: Mutex<Vec<String>>,
    left: AtomicUsize,
    done: Mutex<Option<tokio::sync::oneshot::Sender<Vec<String>>>>,
}

impl Batch {
    /// Hashes passwords of this batch until none is left.
    fn work(&self, scheme: &crate::password::HashScheme, memory: &mut crate::password::HashMemory) {
        loop {
            let next = lock(&self.todo).next();
            let Some((i, password)) = next else {
                return;
            };
            // The password is dropped as soon as it is hashed.
            let hash = scheme.hash_in(&password, memory);
            drop(password);
            lock(&self.hashes)[i] = hash;
            if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                let hashes = std::mem::take(&mut *lock(&self.hashes));
                if let Some(done) = lock(&self.done).take() {
                    let _ = done.send(hashes);
                }
            }
        }
    }
}

/// A lock whose holder panicked still holds plain data: take it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HashPool {
    /// Starts `threads` hashing threads using `scheme`.
    pub fn new(scheme: crate::password::HashScheme, threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<Arc<Batch>>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let (queue, scheme) = (queue.clone(), scheme.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("roster-hash-{n}"))
                .spawn(move || {
                    // This thread's argon2 working memory, allocated once.
                    let mut memory = crate::password::HashMemory::new();
                    loop {
                        // One thread at a time waits for the next batch; the others wait
                        // for the lock. The pool ends when its sender is dropped.
                        let batch = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match batch {
                            Ok(batch) => batch.work(&scheme, &mut memory),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        Self {
            jobs,
            threads,
            hashed: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many passwords this pool has been given to hash.
    pub fn hashed(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// Hashes every password, in order, on the pool's threads.
    pub async fn hash_all(&self, passwords: Vec<Password>) -> Result<Vec<String>, StepError> {
        let total = passwords.len();
        if total == 0 {
            return Ok(Vec::new());
        }
        self.hashed.fetch_add(total as u64, Ordering::Relaxed);
        let (done, answer) = tokio::sync::oneshot::channel();
        let batch = Arc::new(Batch {
            todo: Mutex::new(passwords.into_iter().enumerate()),
            hashes: Mutex::new(vec![String::new(); total]),
            left: AtomicUsize::new(total),
            done: Mutex::new(Some(done)),
        });
        // Every thread joins in (one that comes late finds nothing left and moves on).
        for _ in 0..self.threads.min(total) {
            self.jobs
                .send(batch.clone())
                .map_err(|_| StepError::Internal("the hashing pool has stopped".into()))?;
        }
        drop(batch);
        // If a thread died mid-batch, the batch is dropped unanswered: an error, not a hang.
        answer
            .await
            .map_err(|_| StepError::Internal("a hashing thread stopped".into()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_are_sized_by_the_rows_that_hash() {
        let owasp = Duration::from_millis(35);
        // Every row hashes: 2 s of two threads' hashing, about 114 rows.
        assert_eq!(super::batch_rows_for(owasp, 2, 1.0), 114);
        // Pre-hashed rows (a migration): nothing to hash, the largest batch.
        assert_eq!(super::batch_rows_for(owasp, 2, 0.0), 2000);
        // Half of them: twice the rows for the same hashing time.
        assert_eq!(super::batch_rows_for(owasp, 2, 0.5), 228);
        // Dear hashing on one thread: never under 25 rows.
        assert_eq!(
            super::batch_rows_for(Duration::from_millis(500), 1, 1.0),
            25
        );
    }

    use super::{CHUNK_ROWS, CHUNK_ROWS_MAX, HashPool, chunk_rows_for};
    use crate::password::{HashScheme, Password};
    use std::time::Duration;

    #[test]
    fn chunks_grow_only_while_a_thread_hashes_one_in_ten_seconds() {
        // OWASP cost: 2,000 rows are already 46 s of one thread.
        assert_eq!(chunk_rows_for(Duration::from_millis(23)), CHUNK_ROWS);
        assert_eq!(chunk_rows_for(Duration::from_millis(2)), 5000);
        // The cheapest hash, and a clock that read zero.
        assert_eq!(chunk_rows_for(Duration::from_micros(21)), CHUNK_ROWS_MAX);
        assert_eq!(chunk_rows_for(Duration::ZERO), CHUNK_ROWS_MAX);
    }

    #[tokio::test]
    async fn every_password_is_hashed_in_order_across_threads() {
        let scheme: HashScheme = "argon2id:m=8,t=1,p=1".parse().expect("scheme");
        let pool = HashPool::new(scheme, 3);
        let passwords: Vec<String> = (0..50).map(|i| format!("Password-{i}-x")).collect();
        let hashes = pool
            .hash_all(passwords.iter().map(|p| Password::new(p.clone())).collect())
            .await
            .expect("hashes");
        assert_eq!(hashes.len(), passwords.len());
        for (password, hash) in passwords.iter().zip(&hashes) {
            assert!(HashScheme::verify(password, hash), "{hash}");
        }
        assert!(pool.hash_all(Vec::new()).await.expect("empty").is_empty());
    }
}
