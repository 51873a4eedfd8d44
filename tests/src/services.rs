//! Starting and stopping the parts of one test's world.
//!
//! One file though over 450 lines: a world is one lifecycle (its database,
//! Redis, S3 server, API and workers started, found and stopped together),
//! and its parts share the process and port bookkeeping written here once.

use crate::client::Client;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// Which deployment a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PostgreSQL + Redis + S3, with separate `roster-worker` processes.
    Cluster,
    /// `roster-api serve` alone: SQLite, a folder, in-process workers.
    Embedded,
}

/// One test's services and processes; everything is stopped and removed on drop.
pub struct World {
    pub mode: Mode,
    pub dir: TempDir,
    pub api_url: String,
    pub database_url: String,
    pub redis_port: Option<u16>,
    pub s3_port: Option<u16>,
    pub queue: String,
    api: Option<Child>,
    /// More `roster-api` instances of a cluster ([`World::start_another_api`]).
    extra_apis: Vec<Child>,
    pub workers: Vec<Child>,
    redis: Option<Child>,
    s3: Option<Child>,
    pg_db: Option<String>,
    extra_env: Vec<(String, String)>,
}

pub const S3_KEY: &str = "rosteraccess";
pub const S3_SECRET: &str = "rostersecret";
pub const S3_BUCKET: &str = "roster";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where cargo put the binaries: beside the running executable (a bin such as
/// `roster-bench`), or beside the test executable's `deps/` folder.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let beside = exe.parent().expect("target dir").join(name);
    if beside.exists() {
        return beside;
    }
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first (scripts/test does)",
        path.display()
    );
    path
}

fn pg_admin_url() -> String {
    std::env::var("ROSTER_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl World {
    /// Starts a world with `workers` worker processes (cluster) and `env` extra variables.
    pub async fn start(mode: Mode, workers: usize, env: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let extra_env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut world = World {
            mode,
            api_url: String::new(),
            database_url: String::new(),
            redis_port: None,
            s3_port: None,
            queue: format!("roster-test-{}", uuid::Uuid::new_v4().simple()),
            api: None,
            extra_apis: Vec::new(),
            workers: Vec::new(),
            redis: None,
            s3: None,
            pg_db: None,
            extra_env,
            dir,
        };
        match mode {
            Mode::Embedded => {
                world.database_url = format!(
                    "sqlite://{}",
                    world.dir.path().join("data/roster.db").display()
                );
            }
            Mode::Cluster => {
                let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
                let admin =
                    roster_shared::db::Db::connect(&format!("{}/postgres", pg_admin_url()), 1)
                        .await
                        .expect("PostgreSQL at ROSTER_TEST_PG (default 127.0.0.1:5432)");
                sqlx_exec(&admin, &format!("CREATE DATABASE {name}")).await;
                admin.pool.close().await;
                world.database_url = format!("{}/{}", pg_admin_url(), name);
                world.pg_db = Some(name);
                world.start_redis(None).await;
                world.start_s3(None).await;
            }
        }
        world.start_api().await;
        for _ in 0..workers {
            world.start_worker();
        }
        world
    }

    /// Environment shared by every Roster process of this world.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "ROSTER_DATA_DIR".into(),
                self.dir.path().join("data").display().to_string(),
            ),
            ("ROSTER_DATABASE_URL".into(), self.database_url.clone()),
            (
                "ROSTER_PASSWORD_HASH".into(),
                "argon2id:m=64,t=1,p=1".into(),
            ),
            ("ROSTER_LEASE_SECS".into(), "3".into()),
            ("ROSTER_RECONCILE_MS".into(), "500".into()),
            ("ROSTER_REQUEUE_SECS".into(), "5".into()),
            ("ROSTER_CHUNK_ROWS".into(), "100".into()),
            ("ROSTER_WORKER_CONCURRENCY".into(), "2".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        if self.mode == Mode::Cluster {
            env.push((
                "ROSTER_REDIS_URL".into(),
                format!("redis://127.0.0.1:{}", self.redis_port.unwrap_or(0)),
            ));
            env.push(("ROSTER_QUEUE".into(), self.queue.clone()));
            env.push(("ROSTER_S3_BUCKET".into(), S3_BUCKET.into()));
            env.push((
                "ROSTER_S3_ENDPOINT".into(),
                format!("http://127.0.0.1:{}", self.s3_port.unwrap_or(0)),
            ));
            env.push(("ROSTER_S3_REGION".into(), "us-east-1".into()));
            env.push(("ROSTER_S3_FORCE_PATH_STYLE".into(), "true".into()));
            env.push(("AWS_ACCESS_KEY_ID".into(), S3_KEY.into()));
            env.push(("AWS_SECRET_ACCESS_KEY".into(), S3_SECRET.into()));
        }
        for (k, v) in &self.extra_env {
            env.retain(|(key, _)| key != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    fn command(&self, binary: &str, log: &str) -> Command {
        let mut cmd = Command::new(bin(binary));
        cmd.env_clear();
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        cmd.envs(self.env());
        let log = std::fs::File::create(self.dir.path().join(log)).expect("log file");
        cmd.stdout(Stdio::null()).stderr(log);
        cmd
    }

    async fn start_api(&mut self) {
        let port = free_port();
        self.api_url = format!("http://127.0.0.1:{port}");
        let mut cmd = self.command("roster-api", "api.log");
        cmd.arg("serve")
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"));
        self.api = Some(cmd.spawn().expect("start roster-api"));
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", self.api_url);
        crate::eventually(
            Duration::from_secs(60),
            "roster-api to answer /healthz",
            || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    client
                        .get(&url)
                        .send()
                        .await
                        .ok()
                        .filter(|r| r.status().is_success())
                }
            },
        )
        .await;
    }

    /// kill -9 the API process (in the embedded default: the workers too) and start
    /// it again on a new port with the same data.
    pub async fn restart_api(&mut self) {
        if let Some(mut api) = self.api.take() {
            let _ = api.kill();
            let _ = api.wait();
        }
        self.start_api().await;
    }

    /// Starts another `roster-api serve` of this world (a second instance of a
    /// cluster, sharing its database, queue and store); returns its base URL.
    pub async fn start_another_api(&mut self) -> String {
        let first = (self.api.take(), self.api_url.clone());
        self.start_api().await;
        let url = std::mem::replace(&mut self.api_url, first.1);
        self.extra_apis
            .extend(std::mem::replace(&mut self.api, first.0));
        url
    }

    /// The process id of `roster-api`, while it runs.
    pub fn api_pid(&self) -> Option<u32> {
        self.api.as_ref().map(Child::id)
    }

    /// The process id of worker `n`, while it runs.
    pub fn worker_pid(&self, n: usize) -> Option<u32> {
        self.workers.get(n).map(Child::id)
    }

    /// The processes that read uploads: the API, and the workers of a cluster.
    pub fn reader_pids(&self) -> Vec<(String, u32)> {
        let mut pids: Vec<(String, u32)> = self
            .api_pid()
            .map(|p| ("roster-api".to_owned(), p))
            .into_iter()
            .collect();
        for n in 0..self.workers.len() {
            pids.extend(
                self.worker_pid(n)
                    .map(|p| (format!("roster-worker-{n}"), p)),
            );
        }
        pids
    }

    /// Starts one more `roster-worker` process; returns its index.
    pub fn start_worker(&mut self) -> usize {
        let n = self.workers.len();
        let child = self
            .command("roster-worker", &format!("worker-{n}.log"))
            .spawn()
            .expect("start roster-worker");
        self.workers.push(child);
        n
    }

    /// kill -9 a worker.
    pub fn kill_worker(&mut self, n: usize) {
        let _ = self.workers[n].kill();
        let _ = self.workers[n].wait();
    }

    /// Starts (or restarts on the same port) this world's own redis-server.
    pub async fn start_redis(&mut self, port: Option<u16>) {
        let port = port.unwrap_or_else(free_port);
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.redis = Some(child);
        self.redis_port = Some(port);
        wait_for_port(port).await;
    }

    pub fn stop_redis(&mut self) {
        if let Some(mut r) = self.redis.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
    }

    /// Starts (or restarts on the same port) this world's own s3s-fs over `dir/s3`.
    pub async fn start_s3(&mut self, port: Option<u16>) {
        let port = port.unwrap_or_else(free_port);
        let root = self.s3_root();
        std::fs::create_dir_all(root.join(S3_BUCKET)).expect("s3 folder");
        let child = Command::new(s3s_fs())
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                S3_KEY,
                "--secret-key",
                S3_SECRET,
            ])
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs (cargo install s3s-fs@0.14.1 --features binary --locked)");
        self.s3 = Some(child);
        self.s3_port = Some(port);
        wait_for_port(port).await;
    }

    pub fn stop_s3(&mut self) {
        if let Some(mut s) = self.s3.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }

    /// The folder behind the S3 server (cluster) or the folder store (embedded).
    pub fn s3_root(&self) -> PathBuf {
        match self.mode {
            Mode::Cluster => self.dir.path().join("s3"),
            Mode::Embedded => self.dir.path().join("data/objects"),
        }
    }

    /// Runs `roster-api admin create ...` and returns a client holding the token.
    pub async fn admin(&self, org: &str, email: &str, role: &str, groups: &[i64]) -> Client {
        self.admin_with_password(org, email, role, groups, None)
            .await
            .unwrap_or_else(|log| panic!("admin create failed: {log}"))
    }

    /// Runs `roster-api admin create ...`, with `--password-stdin` and `password`
    /// on standard input when given; returns a client holding the token, or the
    /// command's standard error when it fails.
    pub async fn admin_with_password(
        &self,
        org: &str,
        email: &str,
        role: &str,
        groups: &[i64],
        password: Option<&str>,
    ) -> Result<Client, String> {
        use std::io::Write as _;
        let mut cmd = self.command("roster-api", "admin.log");
        cmd.args([
            "admin", "create", "--org", org, "--email", email, "--role", role,
        ]);
        for g in groups {
            cmd.args(["--group", &g.to_string()]);
        }
        if password.is_some() {
            cmd.arg("--password-stdin");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("roster-api admin create");
        let mut stdin = child.stdin.take().expect("stdin");
        if let Some(password) = password {
            writeln!(stdin, "{password}").expect("password to stdin");
        }
        drop(stdin);
        let out = child.wait_with_output().expect("roster-api admin create");
        if !out.status.success() {
            return Err(self.log("admin.log"));
        }
        let stdout = String::from_utf8(out.stdout).expect("utf-8 token");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "admin create prints exactly one line: {stdout:?}"
        );
        Ok(Client::new(&self.api_url, lines[0].trim()))
    }

    /// A process's log, for failure messages.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Every byte the database holds: `pg_dump` of the test database, or the SQLite
    /// file with its write-ahead log.
    pub fn database_dump(&self) -> Vec<u8> {
        match &self.pg_db {
            Some(name) => {
                let out = Command::new("pg_dump")
                    .args(["--data-only", &format!("{}/{}", pg_admin_url(), name)])
                    .output()
                    .expect("pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
            None => {
                let base = self.dir.path().join("data/roster.db");
                let mut bytes = std::fs::read(&base).unwrap_or_default();
                bytes.extend(std::fs::read(base.with_extension("db-wal")).unwrap_or_default());
                bytes
            }
        }
    }

    /// Connects to this world's database.
    pub async fn db(&self) -> roster_shared::db::Db {
        roster_shared::db::Db::connect(&self.database_url, 2)
            .await
            .expect("test database")
    }
}

/// Peak resident memory (`VmHWM`) of a process since it started or since
/// [`reset_peak_rss`], in MiB.
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status");
    kb / 1024
}

/// Starts a process's peak resident memory over from its current size
/// (`echo 5 > /proc/PID/clear_refs`), so that one step's peak can be read.
pub fn reset_peak_rss(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("/proc clear_refs");
}

async fn sqlx_exec(db: &roster_shared::db::Db, sql: &str) {
    let sql = sql.to_owned();
    db.execute_raw(sql).await.expect("admin SQL");
}

fn s3s_fs() -> PathBuf {
    if let Ok(p) = std::env::var("S3S_FS") {
        return p.into();
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cargo_bin = Path::new(&home).join(".cargo/bin/s3s-fs");
    if cargo_bin.exists() {
        cargo_bin
    } else {
        "s3s-fs".into()
    }
}

async fn wait_for_port(port: u16) {
    crate::eventually(
        Duration::from_secs(20),
        &format!("port {port} to accept connections"),
        || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        },
    )
    .await;
}

impl Drop for World {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        for mut api in self.api.take().into_iter().chain(self.extra_apis.drain(..)) {
            let _ = api.kill();
            let _ = api.wait();
        }
        self.stop_redis();
        self.stop_s3();
        if let Some(name) = self.pg_db.take() {
            // Best effort: drop this test's database (it is uniquely named, never shared).
            let _ = Command::new("psql")
                .args([
                    &format!("{}/postgres", pg_admin_url()),
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if std::env::var("ROSTER_TEST_KEEP").is_ok() {
            let kept = self.dir.path().to_owned();
            eprintln!("kept test folder {}", kept.display());
            std::mem::forget(std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("temp dir"),
            ));
        }
    }
}
