//! Configuration from the environment (API.md, "Processes and configuration").
//! Every knob has a default, so that no variables at all give the embedded default.

use crate::password::HashScheme;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a Roster process reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ROSTER_LISTEN`: the address the API binds.
    pub listen: SocketAddr,
    /// `ROSTER_DATA_DIR`: the embedded default's folder (SQLite file, objects, spooled uploads).
    pub data_dir: PathBuf,
    /// `ROSTER_DATABASE_URL`: `postgres://...` or `sqlite://...`.
    pub database_url: String,
    /// `ROSTER_REDIS_URL`: the job queue; `None` means the embedded in-process queue.
    pub redis_url: Option<String>,
    /// `ROSTER_QUEUE`: the queue's name (and Redis key prefix); lets test runs share one Redis.
    pub queue_name: String,
    /// `ROSTER_S3_*`: the object store; `None` means a folder in the data dir.
    pub s3: Option<S3Config>,
    /// `ROSTER_PASSWORD_HASH`: scheme and cost of password hashing.
    pub password_hash: HashScheme,
    /// `ROSTER_WORKER_CONCURRENCY`: passwords hashed in parallel by one worker process.
    pub worker_concurrency: usize,
    /// `ROSTER_MAX_UPLOAD_BYTES`: the largest accepted upload.
    pub max_upload_bytes: u64,
    /// `ROSTER_CHUNK_ROWS`: rows per chunk (the unit of work a worker claims);
    /// `None` (unset or `auto`): sized by the hash cost (`pipeline::hashing::chunk_rows`).
    pub chunk_rows: Option<usize>,
    /// `ROSTER_LEASE_SECS`: how long a claimed chunk stays with its worker without a renewal.
    pub lease: Duration,
    /// `ROSTER_RECONCILE_MS`: how often the reconciler looks for lost or expired work.
    pub reconcile_every: Duration,
    /// `ROSTER_REQUEUE_SECS`: how long queued work may wait before its message is sent again.
    pub requeue_after: Duration,
    /// `ROSTER_MAX_ATTEMPTS`: interruptions after which a chunk's remaining rows are failed.
    pub max_attempts: i64,
    /// `ROSTER_PUBLIC_URL`: where people reach the console; when it is https,
    /// the session cookie is `Secure`.
    pub public_url: Option<String>,
    /// `ROSTER_SESSION_IDLE_SECS`: a session unused this long has ended (default 12 h).
    pub session_idle: Duration,
    /// `ROSTER_SESSION_MAX_SECS`: a session ends this long after sign-in, used or not (default 7 days).
    pub session_max: Duration,
    /// `ROSTER_MAX_ACTIVE_IMPORTS`: queued or running imports (and uploads under
    /// way) per organization; one more is refused with 429 before its body is read.
    pub max_active_imports: i64,
    /// `ROSTER_REQUEST_TIMEOUT_SECS`: how long a connection may stay silent while the
    /// API waits for request headers (a new or idle keep-alive connection included)
    /// or for the next piece of a request body.
    pub request_timeout: Duration,
    /// `ROSTER_MAX_CONNECTIONS`: open connections one API process serves at once;
    /// past it, new ones wait in the kernel's backlog (a few reserved ones answer
    /// only the health routes).
    pub max_connections: usize,
}

/// Object storage settings for any S3-compatible server.
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub force_path_style: bool,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key: String,
    /// `AWS_SECRET_ACCESS_KEY` (never printed).
    pub secret_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("force_path_style", &self.force_path_style)
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// A variable that is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Config {
    /// Reads the process environment (after a `.env` file, if there is one).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Builds the configuration from any variable lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir =
            PathBuf::from(get("ROSTER_DATA_DIR").unwrap_or_else(|| "./roster-data".into()));
        let database_url = get("ROSTER_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("roster.db").display()));
        let s3 = get("ROSTER_S3_BUCKET").map(|bucket| S3Config {
            bucket,
            endpoint: get("ROSTER_S3_ENDPOINT"),
            region: get("ROSTER_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            force_path_style: get("ROSTER_S3_FORCE_PATH_STYLE")
                .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
                .unwrap_or(true),
            access_key: get("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            secret_key: get("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        });
        let password_hash = match get("ROSTER_PASSWORD_HASH") {
            Some(text) => text.parse().map_err(|message| ConfigError {
                name: "ROSTER_PASSWORD_HASH",
                message,
            })?,
            None => HashScheme::default_owasp(),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            listen: parse(
                &get,
                "ROSTER_LISTEN",
                "127.0.0.1:8080".parse().expect("valid"),
            )?,
            data_dir,
            database_url,
            redis_url: get("ROSTER_REDIS_URL"),
            queue_name: get("ROSTER_QUEUE").unwrap_or_else(|| "roster".into()),
            s3,
            password_hash,
            worker_concurrency: parse(&get, "ROSTER_WORKER_CONCURRENCY", cores)?.max(1),
            max_upload_bytes: parse(&get, "ROSTER_MAX_UPLOAD_BYTES", 256 * 1024 * 1024)?,
            chunk_rows: match get("ROSTER_CHUNK_ROWS") {
                Some(text) if !text.trim().eq_ignore_ascii_case("auto") => {
                    Some(parse(&get, "ROSTER_CHUNK_ROWS", 0usize)?.max(1))
                }
                _ => None,
            },
            lease: Duration::from_secs(parse(&get, "ROSTER_LEASE_SECS", 20)?),
            reconcile_every: Duration::from_millis(parse(&get, "ROSTER_RECONCILE_MS", 2000)?),
            requeue_after: Duration::from_secs(parse(&get, "ROSTER_REQUEUE_SECS", 60)?),
            max_attempts: parse(&get, "ROSTER_MAX_ATTEMPTS", 5)?,
            public_url: get("ROSTER_PUBLIC_URL"),
            session_idle: Duration::from_secs(parse(&get, "ROSTER_SESSION_IDLE_SECS", 12 * 3600)?),
            session_max: Duration::from_secs(parse(
                &get,
                "ROSTER_SESSION_MAX_SECS",
                7 * 24 * 3600,
            )?),
            max_active_imports: parse(&get, "ROSTER_MAX_ACTIVE_IMPORTS", 4i64)?.max(1),
            request_timeout: Duration::from_secs(
                parse(&get, "ROSTER_REQUEST_TIMEOUT_SECS", 30u64)?.max(1),
            ),
            max_connections: parse(&get, "ROSTER_MAX_CONNECTIONS", 1024usize)?.max(1),
        })
    }

    /// True when the session cookie must be `Secure`: the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// True when no Redis is configured: the API process runs the workers itself.
    pub fn embedded_queue(&self) -> bool {
        self.redis_url.is_none()
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|e: T::Err| ConfigError {
            name,
            message: format!("'{text}' is not valid: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    fn chunk_rows(value: Option<&str>) -> Result<Option<usize>, String> {
        Config::from_lookup(|name| match name {
            "ROSTER_CHUNK_ROWS" => value.map(str::to_owned),
            _ => None,
        })
        .map(|c| c.chunk_rows)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn chunk_rows_are_sized_by_the_hash_cost_unless_set() {
        assert_eq!(chunk_rows(None), Ok(None));
        assert_eq!(chunk_rows(Some("auto")), Ok(None));
        assert_eq!(chunk_rows(Some("AUTO")), Ok(None));
        assert_eq!(chunk_rows(Some(" 500 ")), Ok(Some(500)));
        assert_eq!(chunk_rows(Some("0")), Ok(Some(1)));
        let error = chunk_rows(Some("many")).expect_err("not a number");
        assert!(error.contains("ROSTER_CHUNK_ROWS"), "{error}");
    }
}
