//! `roster-bench`: how close Roster comes to its floors (docs/performance.md).
//!
//! One run, on the same generated rows and the same machine, measures
//! (a) the hash floor: the same argon2id costs over every password on as many
//! threads as the workers hash with, no I/O (none with `--password-hash`);
//! (b) the database floor: PostgreSQL `COPY` of the same rows, already hashed,
//! into `technicians` (and then their outcomes into `import_rows`, the rest of
//! what Roster writes), and with `--on-existing update` an `UPDATE ... FROM` of
//! the rows from a `COPY`-loaded table; (c) Roster end to end: the CSV (or
//! xlsx) uploaded through `roster-api`, processed by `roster-worker` processes,
//! timed until the import is `completed` (result spreadsheet stored).
//! It prints the ratios, each process's peak RSS (`VmHWM`, read just before
//! shutdown) and where the CPU time went.

mod e2e;
mod floors;
mod machine;
mod rows;

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use e2e::{EndToEnd, end_to_end};
use floors::{copy_floor, hash_floor, update_floor};
use machine::{Load, minor_faults, quiet};
use roster_shared::password::{HashScheme, Password};
use roster_tests::{Mode, World};
use rows::{Hashes, Row, generate};
use std::time::Duration;

/// Measures Roster against its hash and database floors (docs/performance.md).
#[derive(Parser, Debug)]
#[command(name = "roster-bench")]
struct Args {
    /// Rows in the generated CSV (every one valid and new).
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// `roster-worker` processes.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Hashing threads per worker (ROSTER_WORKER_CONCURRENCY); default: the cores.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Password hashing (ROSTER_PASSWORD_HASH).
    #[arg(long, default_value = HashScheme::DEFAULT)]
    hash: String,
    /// Rows per chunk (ROSTER_CHUNK_ROWS); default `auto`, sized by the hash cost.
    #[arg(long)]
    chunk_rows: Option<usize>,
    /// Also run end to end with this many workers (a fresh world, same rows) and
    /// report the speedup of `--workers` over it.
    #[arg(long)]
    baseline_workers: Option<usize>,
    /// Extra environment for the Roster processes, KEY=VALUE (repeatable), e.g.
    /// `--env MALLOC_ARENA_MAX=2`; it overrides what the bench sets.
    #[arg(long = "env", value_parser = key_value)]
    envs: Vec<(String, String)>,
    /// During each end-to-end run, `ANALYZE technicians, import_rows` every this many
    /// seconds, as autovacuum does on a server where it is on (the default; it is
    /// off on some test servers, and then the planner never learns the tables grew).
    #[arg(long)]
    analyze_every_secs: Option<u64>,
    /// Runs each measurement this many times (each end-to-end run in a fresh world)
    /// and compares the fastest of each.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Sets the organization's password policy `min_strength` (0-4; 0 turns the
    /// zxcvbn check off) before the upload; default: the organization's default.
    #[arg(long)]
    min_strength: Option<u8>,
    /// The import's `on_existing`: `fail` (the API's default), `skip` or `update`.
    /// Every row is new either way, but only with `fail` does a first import into
    /// a new organization skip the existing-email lookup; `skip` measures the
    /// lookup that an import into an organization with technicians pays.
    #[arg(long, default_value = "fail", value_parser = ["fail", "skip", "update"])]
    on_existing: String,
    /// The uploaded file: `csv` or `xlsx` (one worksheet, every cell a string
    /// but Tech Group ID, a number, as a person would type it).
    #[arg(long, default_value = "csv", value_parser = ["csv", "xlsx"])]
    format: String,
    /// Polls the import's status every this many milliseconds throughout; default:
    /// 100 ms at the phase edges and backing off to 1 s in between (see `poll_after`).
    #[arg(long)]
    poll_every_ms: Option<u64>,
    /// Gives up on an import after this many seconds.
    #[arg(long, default_value_t = 7200)]
    timeout_secs: u64,
    /// Before each measurement, waits up to this many seconds for the machine to be
    /// quiet: on a shared machine, other processes skew every figure.
    #[arg(long, default_value_t = 0)]
    wait_idle_secs: u64,
    /// Every row gives the same password (a bulk file handing out one first
    /// password), so the strength check judges it once.
    #[arg(long)]
    shared_password: bool,
    /// The rows carry a pre-made hash (`--hash`'s scheme, made once) in the
    /// Password Hash column instead of a password: nothing is hashed (issue 20).
    #[arg(long)]
    password_hash: bool,
    /// The organization holds this many technicians before the upload, loaded by
    /// `COPY` and analyzed; their emails are not the file's unless
    /// `--existing-file-emails` or `--on-existing update`.
    #[arg(long, default_value_t = 0)]
    existing: usize,
    /// The `--existing` technicians hold the file's emails (`tech{i}@bench.test`):
    /// the first `--existing` rows match one.
    #[arg(long)]
    existing_file_emails: bool,
    /// Uploads with `dry_run=true`: every row judged, nothing written.
    #[arg(long)]
    dry_run: bool,
}

impl Args {
    /// Whether the existing technicians hold the file's emails.
    fn existing_file_emails(&self) -> bool {
        self.existing_file_emails || self.on_existing == "update"
    }

    /// The rows that match an existing technician (the first ones).
    fn matched(&self) -> usize {
        if self.existing_file_emails() {
            self.existing.min(self.rows)
        } else {
            0
        }
    }

    /// The outcome counts a completed import must report: (count, rows).
    fn expected_counts(&self) -> Vec<(&'static str, u64)> {
        let matched = self.matched() as u64;
        let new = self.rows as u64 - matched;
        let on_match = match self.on_existing.as_str() {
            "skip" => "skipped",
            "update" if self.dry_run => "valid",
            "update" => "updated",
            _ => "failed",
        };
        let on_new = if self.dry_run { "valid" } else { "created" };
        if on_match == on_new {
            vec![(on_new, new + matched)]
        } else {
            vec![(on_new, new), (on_match, matched)]
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Returning early drops the world in flight: its processes stop, its database goes.
    tokio::select! {
        result = run(args) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        _ = term.recv() => bail!("terminated"),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.repeat >= 1, "--repeat must be at least 1");
    let scheme = HashScheme::parse(&args.hash).map_err(anyhow::Error::msg)?;
    let concurrency = args.concurrency.unwrap_or_else(cores).max(1);
    let threads = args.workers.max(1) * concurrency;
    let rows = generate(args.rows, args.shared_password);
    let strength = args
        .min_strength
        .map_or_else(|| "default".to_owned(), |s| s.to_string());
    println!(
        "roster-bench: {} rows, {} worker(s) x {concurrency} hashing thread(s), {scheme}, chunks of {} rows, \
         min_strength {strength}, on_existing {}, {} cores",
        args.rows,
        args.workers,
        args.chunk_rows
            .map_or_else(|| "auto".to_owned(), |r| r.to_string()),
        args.on_existing,
        cores()
    );
    if args.password_hash {
        println!(
            "  every row gives one pre-made {scheme} hash in its Password Hash column, no password"
        );
    } else if args.shared_password {
        println!("  every row gives the same password");
    }
    if args.existing > 0 {
        println!(
            "  the organization holds {} technicians first; {} rows match one",
            args.existing,
            args.matched()
        );
    }
    if args.dry_run {
        println!("  a dry run");
    }
    for (k, v) in &args.envs {
        println!("  with {k}={v}");
    }
    if let Some(secs) = args.analyze_every_secs {
        println!("  with ANALYZE technicians, import_rows every {secs} s during each import");
    }

    let mut hash = Best::default();
    let hashes = if args.password_hash {
        // Made once: what the rows carry is never hashed again, so there is no
        // hash floor to compare with.
        Hashes::One(scheme.hash(&Password::new(rows[0].password.clone())))
    } else {
        let mut hashes = Vec::new();
        for _ in 0..args.repeat {
            quiet(&args).await;
            let load = Load::now();
            let (took, made) = tokio::task::block_in_place(|| hash_floor(&scheme, &rows, threads));
            line(
                "hash floor",
                args.rows,
                took,
                &format!(
                    "{threads} thread(s), no I/O; {:.1} CPU s, {:.0} page faults/row",
                    load.own_used(),
                    (minor_faults(std::process::id()) - load.faults) / args.rows as f64
                ),
            );
            load.report();
            hash.keep(took, load.own_used());
            hashes = made;
        }
        Hashes::Each(hashes)
    };

    // The database floors, in a world of their own with no worker polling meanwhile.
    let world = start_world(&args, 0, concurrency).await;
    let (mut copy_technicians, mut copy_both) = (Best::default(), Best::default());
    let (mut update, mut load_update) = (Best::default(), Best::default());
    for _ in 0..args.repeat {
        quiet(&args).await;
        let copied = copy_floor(&world.database_url, &rows, &hashes).await?;
        let (technicians, both) = (
            copied.technicians.0,
            copied.technicians.0 + copied.outcomes.0,
        );
        line(
            "copy floor",
            args.rows,
            technicians,
            &format!(
                "COPY into technicians; WAL {:.0} bytes/row",
                copied.technicians.1 / args.rows as f64
            ),
        );
        line(
            "copy floor+",
            args.rows,
            both,
            &format!(
                "COPY into technicians, then their outcomes into import_rows; WAL {:.0} bytes/row",
                (copied.technicians.1 + copied.outcomes.1) / args.rows as f64
            ),
        );
        copy_technicians.keep(technicians, 0.0);
        copy_both.keep(both, 0.0);
        if args.on_existing == "update" && args.existing > 0 {
            quiet(&args).await;
            let floor = update_floor(&world.database_url, &rows, &hashes, args.existing).await?;
            line(
                "update floor",
                args.rows,
                floor.update,
                &format!(
                    "UPDATE technicians ... FROM a COPY-loaded table of the rows: {} updated",
                    floor.updated
                ),
            );
            line(
                "update floor+",
                args.rows,
                floor.load + floor.update,
                &format!(
                    "COPY of the rows into that table ({:.3} s), then the UPDATE",
                    floor.load.as_secs_f64()
                ),
            );
            update.keep(floor.update, 0.0);
            load_update.keep(floor.load + floor.update, 0.0);
        }
    }
    drop(world);

    let roster = end_to_end_best(&args, args.workers, concurrency, &rows, &hashes).await?;
    let roster_time = roster.completed.as_secs_f64();
    println!("ratios (best of {}):", args.repeat);
    if !args.password_hash {
        let hash_time = hash.time();
        println!(
            "  roster time / hash floor    {:>7.3}   (issue 7: <= 1.05 with OWASP hashing)",
            roster_time / hash_time
        );
        println!(
            "  roster CPU / hash floor CPU {:>7.3}   (all of Roster's parts, PostgreSQL included)",
            roster.cpu_of_parts() / hash.cpu
        );
    }
    println!(
        "  roster rate / COPY rate     {:>7.3}   (issue 20: pre-hashed >= 0.8 into an empty organization, \
         >= 0.6 into one of 1,000,000; dry run >= 1.0; cheapest hash >= 0.5)",
        copy_technicians.time() / roster_time
    );
    println!(
        "  roster rate / COPY+ rate    {:>7.3}",
        copy_both.time() / roster_time
    );
    if update.took.is_some() {
        println!(
            "  roster rate / UPDATE rate   {:>7.3}   (issue 20: >= 0.5 for on_existing=update)",
            update.time() / roster_time
        );
        println!(
            "  roster rate / COPY+UPDATE   {:>7.3}",
            load_update.time() / roster_time
        );
    }

    if let Some(baseline) = args.baseline_workers {
        let base = end_to_end_best(&args, baseline, concurrency, &rows, &hashes).await?;
        let speedup = base.completed.as_secs_f64() / roster_time;
        println!(
            "  speedup of {} over {baseline} worker(s) {:>7.2}x  (issue 7: >= 1.8x for 2 over 1)",
            args.workers, speedup
        );
        if !args.password_hash {
            // What the machine itself gives: the hash floor on the baseline's threads.
            // Cores that share caches and memory bandwidth (argon2 at OWASP cost is
            // memory-bound) give less than 2x for twice the threads.
            let base_threads = baseline.max(1) * concurrency;
            let mut base_hash = Best::default();
            for _ in 0..args.repeat {
                quiet(&args).await;
                let (took, _) =
                    tokio::task::block_in_place(|| hash_floor(&scheme, &rows, base_threads));
                line(
                    "hash floor",
                    args.rows,
                    took,
                    &format!("{base_threads} thread(s), no I/O: the baseline's"),
                );
                base_hash.keep(took, 0.0);
            }
            let machine = base_hash.time() / hash.time();
            println!(
                "  hash floor, {threads} over {base_threads} thread(s) {:>7.2}x  (the machine's own scaling)",
                machine
            );
            println!(
                "  scaling efficiency           {:>7.3}   (Roster's speedup / the machine's)",
                speedup / machine
            );
        }
    }
    Ok(())
}

/// The fastest of `--repeat` measurements, and the CPU it used.
#[derive(Default)]
struct Best {
    took: Option<Duration>,
    cpu: f64,
}

impl Best {
    fn keep(&mut self, took: Duration, cpu: f64) {
        if self.took.is_none_or(|best| took < best) {
            self.took = Some(took);
            self.cpu = cpu;
        }
    }

    fn time(&self) -> f64 {
        self.took.map_or(f64::NAN, |t| t.as_secs_f64())
    }
}

/// The fastest of `--repeat` end-to-end runs with `workers` workers, each in a fresh world.
async fn end_to_end_best(
    args: &Args,
    workers: usize,
    concurrency: usize,
    rows: &[Row],
    hashes: &Hashes,
) -> anyhow::Result<EndToEnd> {
    let mut best: Option<EndToEnd> = None;
    for _ in 0..args.repeat {
        let world = start_world(args, workers, concurrency).await;
        quiet(args).await;
        let run = end_to_end(&world, args, rows, hashes).await?;
        drop(world);
        run.print(args.rows, workers);
        if best.as_ref().is_none_or(|b| run.completed < b.completed) {
            best = Some(run);
        }
    }
    best.context("no end-to-end run")
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn line(what: &str, rows: usize, took: Duration, how: &str) {
    println!(
        "{what:<12}{:>10.3} s {:>10.0} rows/s   {how}",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64().max(1e-9)
    );
}

/// A cluster world with production timings (the harness shortens them for tests).
async fn start_world(args: &Args, workers: usize, concurrency: usize) -> World {
    let env = [
        ("ROSTER_PASSWORD_HASH", args.hash.clone()),
        (
            "ROSTER_CHUNK_ROWS",
            args.chunk_rows
                .map_or_else(|| "auto".into(), |r| r.to_string()),
        ),
        ("ROSTER_WORKER_CONCURRENCY", concurrency.to_string()),
        ("ROSTER_LEASE_SECS", "20".into()),
        ("ROSTER_RECONCILE_MS", "2000".into()),
        ("ROSTER_REQUEUE_SECS", "60".into()),
    ];
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(args.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .collect();
    World::start(Mode::Cluster, workers, &env).await
}
