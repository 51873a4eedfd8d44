//! What can go wrong before an import has an outcome: all of it exits 3.

use std::path::PathBuf;

/// A usage, sign-in, network or server error; said on standard error, exit 3.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or the stored configuration does not make sense.
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {url}: {reason}")]
    Network { url: String, reason: String },
    /// The server refused: its problem+json `detail` when there is one.
    #[error("{}", server_message(*.status, .code.as_deref(), .detail.as_deref()))]
    Server {
        status: u16,
        code: Option<String>,
        detail: Option<String>,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", .path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CliError {
    pub fn network(url: &str, error: &reqwest::Error) -> Self {
        // reqwest's own message names only the URL; the cause is further down.
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            reason = format!("{reason}: {cause}");
            source = cause.source();
        }
        Self::Network {
            url: url.to_owned(),
            reason,
        }
    }

    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::File {
            path: path.into(),
            source,
        }
    }
}

fn server_message(status: u16, code: Option<&str>, detail: Option<&str>) -> String {
    let mut message = match status {
        401 => "sign-in failed (HTTP 401)".to_owned(),
        _ => format!("the server answered HTTP {status}"),
    };
    if let Some(code) = code {
        message.push_str(&format!(" {code}"));
    }
    if let Some(detail) = detail.filter(|d| !d.is_empty()) {
        message.push_str(&format!(": {detail}"));
    }
    if status == 401 {
        message.push_str(" (run `roster login`, or pass --token / ROSTER_TOKEN)");
    }
    message
}
