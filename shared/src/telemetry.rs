//! Logging: structured lines on standard error, JSON when `ROSTER_LOG_FORMAT=json`.
//! Passwords, tokens and whole rows are never logged anywhere in Roster.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber (`RUST_LOG` filters, `info` by default).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("ROSTER_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        let _ = builder.json().flatten_event(true).try_init();
    } else {
        let _ = builder.try_init();
    }
}
