//! Roster end to end: the rows uploaded through `roster-api`, processed by
//! `roster-worker` processes, timed until the import is `completed`, with what
//! each part of the world used meanwhile.

use crate::floors::{analyze_every, load_existing, wal_position, wal_since};
use crate::machine::{cpu_jiffies, cpu_seconds, minor_faults, peak_rss_mb, thread_cpu};
use crate::rows::{self, Hashes, Row};
use crate::{Args, cores, line};
use anyhow::{Context as _, bail, ensure};
use roster_tests::World;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;
use std::time::{Duration, Instant};

/// How long to wait before the next status poll: 100 ms around the phase
/// edges (until the plan is saved, when the chunks are nearly done, during
/// finalize), so that the phases and the end are timed to 100 ms; in between,
/// a tenth of the time the chunks still need at their rate so far, at most 1 s,
/// as a client that backs off would. Polling every 100 ms throughout cost the
/// API, PostgreSQL and this process a few CPU seconds per 10,000 OWASP rows on
/// two shared cores, taken from the hashing they measure.
pub(crate) fn poll_after(status: &serde_json::Value, since_planned: Option<Duration>) -> Duration {
    const EDGE: Duration = Duration::from_millis(100);
    let (Some(total), Some(done), Some(since)) = (
        status["total_rows"].as_f64(),
        status["processed_rows"].as_f64(),
        since_planned,
    ) else {
        return EDGE;
    };
    if done <= 0.0 || done >= total {
        return EDGE;
    }
    let left = since.as_secs_f64() * (total - done) / done;
    Duration::from_secs_f64(left / 10.0).clamp(EDGE, Duration::from_secs(1))
}

/// What one end-to-end import took, as seen by polling its status (see [`poll_after`]).
pub(crate) struct EndToEnd {
    /// Until the API answered 202 (file stored, import registered, plan enqueued).
    upload: Duration,
    /// Until `total_rows` was known (plan saved).
    planned: Duration,
    /// Until every row had its outcome.
    processed: Duration,
    /// Until `completed`: the result spreadsheet is stored.
    pub(crate) completed: Duration,
    /// Busy share of all cores over the run, whoever used them.
    machine_busy: f64,
    /// (part, CPU seconds over the run), the last one everything else on the machine.
    cpu: Vec<(String, f64)>,
    /// (process, peak RSS in MB read just before shutdown, minor page faults over the run).
    peak_rss: Vec<(String, f64, f64)>,
    /// Bytes of write-ahead log PostgreSQL wrote over the run.
    wal: f64,
    /// (process, [(thread name, CPU seconds)]) of each Roster process's live threads.
    threads: Vec<(String, Vec<(String, f64)>)>,
}

/// Uploads the rows as a CSV or xlsx (as a new organization's master administrator,
/// after giving the organization `--existing` technicians) and times the import
/// until it is completed. `hashes` gives the pre-made hash every row carries with
/// `--password-hash`, and the existing technicians' hash.
pub(crate) async fn end_to_end(
    world: &World,
    args: &Args,
    rows: &[Row],
    hashes: &Hashes,
) -> anyhow::Result<EndToEnd> {
    let api = world
        .admin("Bench", "bench@bench.test", "master", &[])
        .await;
    let group = api.group("Bench", None).await;
    if let Some(strength) = args.min_strength {
        let policy = serde_json::json!({"password_policy": {"min_strength": strength}});
        let answer = api.patch("/v1/settings", policy).await;
        ensure!(
            answer.status == 200,
            "settings: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let mut conn = PgConnection::connect(&world.database_url).await?;
    if args.existing > 0 {
        let org: i64 = sqlx::query_scalar("SELECT org_id FROM technician_groups WHERE id = $1")
            .bind(group)
            .fetch_one(&mut conn)
            .await?;
        let took = load_existing(
            &mut conn,
            org,
            group,
            args.existing,
            args.existing_file_emails(),
            hashes.get(0),
        )
        .await?;
        println!(
            "  existing: {} technicians loaded by COPY and analyzed in {:.1} s ({} the file's emails)",
            args.existing,
            took.as_secs_f64(),
            if args.existing_file_emails() {
                "with"
            } else {
                "without"
            }
        );
    }
    let prehashed = args.password_hash.then(|| hashes.get(0));
    let (file_name, file) = rows::file(&args.format, rows, group, prehashed)?;

    let lsn = wal_position(&mut conn).await?;
    let parts = Parts::of(world);
    let cpu_before = parts.cpu();
    let faults_before: Vec<f64> = parts
        .processes
        .iter()
        .map(|(_, pid)| minor_faults(*pid))
        .collect();
    let busy_before = cpu_jiffies();
    let timeout = Duration::from_secs(args.timeout_secs);
    let analyzer = match args.analyze_every_secs {
        Some(secs) => Some(tokio::spawn(analyze_every(
            PgConnection::connect(&world.database_url).await?,
            Duration::from_secs(secs.max(1)),
        ))),
        None => None,
    };
    let started = Instant::now();
    let answer = api
        .upload(
            file_name,
            file,
            &[
                ("on_existing", args.on_existing.as_str()),
                ("dry_run", if args.dry_run { "true" } else { "false" }),
            ],
        )
        .await;
    ensure!(
        answer.status == 202,
        "upload: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    let upload = started.elapsed();
    let id = answer.json()["id"]
        .as_str()
        .context("import id")?
        .to_owned();
    let (mut planned, mut processed) = (None, None);
    let done = loop {
        let status = api.get(&format!("/v1/imports/{id}")).await.json();
        let now = started.elapsed();
        let total = status["total_rows"].as_i64();
        if planned.is_none() && total.is_some() {
            planned = Some(now);
        }
        if processed.is_none() && total.is_some() && status["processed_rows"].as_i64() >= total {
            processed = Some(now);
        }
        match status["status"].as_str() {
            Some("completed") => break status,
            Some("failed" | "cancelled") => bail!(
                "import ended: {status}\n{}",
                tail(&world.log("worker-0.log"))
            ),
            _ if now > timeout => bail!(
                "import not done after {timeout:?}: {status}\n{}",
                tail(&world.log("worker-0.log"))
            ),
            _ => {
                let wait = match args.poll_every_ms {
                    Some(ms) => Duration::from_millis(ms),
                    None => poll_after(&status, planned.map(|p| now - p)),
                };
                tokio::time::sleep(wait).await
            }
        }
    };
    let completed = started.elapsed();
    if let Some(analyzer) = analyzer {
        analyzer.abort();
    }
    let busy_after = cpu_jiffies();
    let cpu_after = parts.cpu();
    let wal = wal_since(&mut conn, &lsn).await?;
    conn.close().await?;
    for (count, expected) in args.expected_counts() {
        ensure!(
            done["counts"][count].as_u64() == Some(expected),
            "expected {expected} {count}: {done}"
        );
    }

    let machine_busy = match (busy_before, busy_after) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 / (t1 - t0) as f64,
        _ => f64::NAN,
    };
    let mut cpu: Vec<(String, f64)> = cpu_after
        .into_iter()
        .zip(cpu_before)
        .map(|((name, after), (_, before))| (name, after - before))
        .collect();
    // Everything else the machine did meanwhile: this process's polling, and any
    // other load, which skews the figures when it is large.
    let ours: f64 = cpu.iter().map(|(_, s)| s).sum();
    let busy = machine_busy * completed.as_secs_f64() * cores() as f64;
    cpu.push(("other".into(), (busy - ours).max(0.0)));
    let threads = parts
        .processes
        .iter()
        .map(|(name, pid)| (name.clone(), thread_cpu(*pid)))
        .collect();
    let peak_rss = parts
        .processes
        .iter()
        .zip(faults_before)
        .map(|((name, pid), before)| (name.clone(), peak_rss_mb(*pid), minor_faults(*pid) - before))
        .collect();
    Ok(EndToEnd {
        upload,
        planned: planned.unwrap_or(completed),
        processed: processed.unwrap_or(completed),
        completed,
        machine_busy,
        cpu,
        peak_rss,
        wal,
        threads,
    })
}

impl EndToEnd {
    /// CPU seconds of Roster's processes and the services they use (not "other").
    pub(crate) fn cpu_of_parts(&self) -> f64 {
        self.cpu
            .iter()
            .filter(|(name, _)| name != "other")
            .map(|(_, s)| s)
            .sum()
    }

    pub(crate) fn print(&self, rows: usize, workers: usize) {
        line(
            "roster",
            rows,
            self.completed,
            &format!("end to end, {workers} worker(s): upload to result stored"),
        );
        let secs = |d: Duration| d.as_secs_f64();
        let chunks = self.processed.saturating_sub(self.planned);
        println!(
            "  phases: upload {:.2} s | queue + plan {:.2} s | chunks {:.2} s ({:.0} rows/s) | finalize {:.2} s",
            secs(self.upload),
            secs(self.planned.saturating_sub(self.upload)),
            secs(chunks),
            rows as f64 / secs(chunks).max(1e-9),
            secs(self.completed.saturating_sub(self.processed)),
        );
        let wall = secs(self.completed);
        let parts: Vec<String> = self
            .cpu
            .iter()
            .map(|(name, s)| format!("{name} {s:.1} s ({:.0}%)", 100.0 * s / wall))
            .collect();
        println!(
            "  CPU (100% = one core): machine {:.0}% of all cores | {}",
            self.machine_busy * 100.0,
            parts.join(" | ")
        );
        let rss: Vec<String> = self
            .peak_rss
            .iter()
            .map(|(name, mb, faults)| {
                format!(
                    "{name} {mb:.1} MB ({:.0} page faults/row)",
                    faults / rows as f64
                )
            })
            .collect();
        println!("  peak RSS: {}", rss.join(" | "));
        println!("  WAL: {:.0} bytes/row", self.wal / rows as f64);
        for (process, threads) in &self.threads {
            let threads: Vec<String> = threads
                .iter()
                .filter(|(_, s)| *s >= 0.05)
                .map(|(name, s)| format!("{name} {s:.1} s"))
                .collect();
            if threads.is_empty() {
                continue;
            }
            println!(
                "  {process} threads (CPU since start): {}",
                threads.join(" | ")
            );
        }
    }
}

/// The processes of a world, found by pid (Roster's own) or by what their command
/// lines name (this world's database, Redis port and S3 port).
pub(crate) struct Parts {
    pub(crate) processes: Vec<(String, u32)>,
    database: String,
    redis: String,
    s3_port: String,
}

impl Parts {
    pub(crate) fn of(world: &World) -> Self {
        let processes = world
            .api_pid()
            .map(|pid| ("roster-api".to_owned(), pid))
            .into_iter()
            .chain(
                world
                    .workers
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (format!("worker[{i}]"), w.id())),
            )
            .collect();
        Parts {
            processes,
            database: world
                .database_url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            redis: format!("127.0.0.1:{}", world.redis_port.unwrap_or(0)),
            s3_port: world.s3_port.unwrap_or(0).to_string(),
        }
    }

    /// CPU seconds so far of each Roster process, of this database's PostgreSQL
    /// backends, of this world's redis-server and of its s3s-fs.
    pub(crate) fn cpu(&self) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .processes
            .iter()
            .map(|(name, pid)| (name.clone(), cpu_seconds(*pid)))
            .collect();
        let (mut postgres, mut redis, mut s3) = (0.0, 0.0, 0.0);
        for pid in std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        {
            let Ok(cmdline) = std::fs::read_to_string(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let words: Vec<&str> = cmdline
                .split(['\0', ' '])
                .filter(|w| !w.is_empty())
                .collect();
            let has = |word: &str| words.contains(&word);
            match words.first() {
                Some(&"postgres:") if has(&self.database) => postgres += cpu_seconds(pid),
                Some(first) if first.ends_with("redis-server") && has(&self.redis) => {
                    redis += cpu_seconds(pid)
                }
                Some(first)
                    if first.ends_with("s3s-fs")
                        && words.windows(2).any(|w| w == ["--port", &self.s3_port]) =>
                {
                    s3 += cpu_seconds(pid)
                }
                _ => {}
            }
        }
        out.push(("postgres".into(), postgres));
        out.push(("redis".into(), redis));
        out.push(("s3s-fs".into(), s3));
        out
    }
}

pub(crate) fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
