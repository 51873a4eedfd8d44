//! An in-process harness for tests of the pipeline's steps: the embedded
//! runtime over a SQLite file, a folder store and the in-process queue, all in
//! a temporary folder, and [`Harness::run_until_idle`], which runs the queued
//! steps on the test's own task until none is left. Nothing is a stand-in:
//! the steps are the ones `roster-api serve` runs, over the same adapters.
//! Built for tests only.

use super::accept::{self, Accepted, Admitted, ImportOptions, Spooled};
use super::{Context, run};
use crate::config::Config;
use crate::db::Db;
use crate::model::{Admin, ImportRecord, Role};
use crate::queue::{EmbeddedQueue, Job};
use crate::runtime::{Mode, Runtime};
use std::time::{Duration, Instant};

/// How long [`Harness::run_until_idle`] runs before it calls the pipeline stuck.
const IDLE_DEADLINE: Duration = Duration::from_secs(120);

/// An embedded runtime in a temporary folder, with an organization and its master.
pub(crate) struct Harness {
    pub ctx: Context,
    queue: EmbeddedQueue,
    /// The master administrator of organization "Acme".
    pub master: Admin,
    dir: tempfile::TempDir,
}

impl Harness {
    /// A migrated database, an empty store and queue, and the cheapest
    /// password hash (tests hash many passwords; the scheme is not what they test).
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().display().to_string();
        let config = Config::from_lookup(|name| match name {
            "ROSTER_DATA_DIR" => Some(data_dir.clone()),
            "ROSTER_PASSWORD_HASH" => Some("argon2id:m=64,t=1,p=1".into()),
            "ROSTER_WORKER_CONCURRENCY" => Some("1".into()),
            _ => None,
        })
        .expect("config");
        Db::migrate(&config.database_url).await.expect("migrate");
        let runtime = Runtime::connect(config, "harness").await.expect("runtime");
        let Mode::Embedded(queue) = runtime.mode else {
            unreachable!("no Redis URL: the embedded queue");
        };
        let ctx = runtime.ctx;
        let org = ctx.db.ensure_org("Acme").await.expect("organization");
        let (master, _token) = ctx
            .db
            .create_admin(org, "master@acme.test", Role::Master, &[], None)
            .await
            .expect("master");
        Self {
            ctx,
            queue,
            master,
            dir,
        }
    }

    /// `bytes` as the API would have spooled them, under a new name.
    pub(crate) fn spooled(&self, bytes: &[u8]) -> Spooled {
        let path = self
            .dir
            .path()
            .join(format!("upload-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, bytes).expect("spool");
        let prefix = &bytes[..bytes.len().min(crate::ingest::SNIFF_BYTES)];
        Spooled {
            path,
            bytes: bytes.len() as u64,
            format: crate::ingest::sniff(prefix).expect("a format"),
        }
    }

    /// Makes `bytes` a new import of the master's through [`accept::admit`]
    /// and [`accept::accept`], as `POST /v1/imports` does.
    pub(crate) async fn accept(&self, bytes: &[u8], options: ImportOptions) -> ImportRecord {
        let ctx = &self.ctx;
        let admitted = accept::admit(&ctx.db, &self.master, None, ctx.config.max_active_imports)
            .await
            .expect("a place");
        let Admitted::Place(slot) = admitted else {
            panic!("no key, so no repeat");
        };
        let upload = self.spooled(bytes);
        let accepted = accept::accept(
            &ctx.db,
            ctx.store.as_ref(),
            ctx.queue.as_ref(),
            &self.master,
            slot,
            options,
            &upload,
        )
        .await
        .expect("accepted");
        match accepted {
            Accepted::New(import) => import,
            Accepted::Repeated(import) => panic!("a new import, not {}", import.id),
        }
    }

    /// Runs every queued step, and those they queue, until no work is due;
    /// returns how many ran. Plan and chunk steps run in the order queued; a
    /// finalize (which a worker runs beside the chunks it follows) runs once
    /// the queue is otherwise empty, so on this one task it never waits for a
    /// chunk that nobody runs.
    pub(crate) async fn run_until_idle(&self) -> usize {
        let started = Instant::now();
        let mut steps = 0;
        let mut finalizes: Vec<Job> = Vec::new();
        loop {
            assert!(
                started.elapsed() < IDLE_DEADLINE,
                "the pipeline was still busy after {IDLE_DEADLINE:?} ({steps} steps)"
            );
            let job = match self.queue.try_next().await {
                Some(job @ Job::FinalizeImport { .. }) => {
                    finalizes.push(job);
                    continue;
                }
                Some(job) => job,
                None if finalizes.is_empty() => return steps,
                None => finalizes.remove(0),
            };
            run(&self.ctx, job).await;
            steps += 1;
        }
    }
}
