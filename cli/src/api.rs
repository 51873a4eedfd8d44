//! Roster's HTTP API as the client uses it: one place turns transport failures
//! and problem+json answers into [`CliError`], and one type reads the import
//! resource.

use crate::error::CliError;
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// An API token: never printed, not even by `{:?}`.
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// A server and, for the routes that need one, a token.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    token: Option<Token>,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: Option<Token>) -> Result<Self, CliError> {
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(CliError::Usage(format!(
                "--url {base}: expected http://HOST:PORT"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // The events stream carries a comment every 15 s: a longer silence is a dead connection.
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| CliError::network(&base, &e))?;
        Ok(Self { base, token, http })
    }

    /// A request to `path` (which starts with `/`), with the token when there is one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(&token.0),
            None => request,
        }
    }

    /// Sends a request: a transport failure is a network error, a non-2xx answer
    /// a server error carrying the problem document's `code` and `detail`.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, CliError> {
        let response = request
            .send()
            .await
            .map_err(|e| CliError::network(&self.base, &e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(problem(response).await)
    }

    /// Like [`Api::send`] but a token is required first.
    pub async fn send_signed(&self, request: RequestBuilder) -> Result<Response, CliError> {
        if self.token.is_none() {
            return Err(CliError::Usage(
                "no token: run `roster login`, or pass --token or ROSTER_TOKEN".into(),
            ));
        }
        self.send(request).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let response = self.send_signed(self.request(Method::GET, path)).await?;
        self.json(response).await
    }

    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        let response = self.send_signed(self.request(Method::POST, path)).await?;
        self.json(response).await
    }

    pub async fn json<T: DeserializeOwned>(&self, response: Response) -> Result<T, CliError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CliError::network(&self.base, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::Usage(format!(
                "{} answered something that is not the expected JSON ({e}): is it a Roster server?",
                self.base
            ))
        })
    }

    /// The import resource, raw (as `--json` prints it) and read.
    pub async fn import(&self, id: &str) -> Result<Import, CliError> {
        let raw: Value = self
            .get_json(&format!("/v1/imports/{}", segment(id)))
            .await?;
        Import::read(raw)
    }
}

/// Reads a refusal: `application/problem+json` when the server says why.
pub async fn problem(response: Response) -> CliError {
    let status = response.status().as_u16();
    let body: Option<Value> = response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let text = |key: &str| {
        body.as_ref()
            .and_then(|b| b.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    CliError::Server {
        status,
        code: text("code"),
        detail: text("detail").or_else(|| text("title")),
    }
}

/// An id as one path segment: nothing in it can reach another route.
pub fn segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// Where an import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    NeedsApproval,
    #[serde(other)]
    Unknown,
}

impl Status {
    pub fn finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// The counts of an import's row outcomes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub valid: i64,
    pub unchanged: i64,
    pub disabled: i64,
    pub failed: i64,
    pub not_processed: i64,
}

/// A file-level failure.
#[derive(Debug, Clone, Deserialize)]
pub struct ImportFailure {
    pub code: String,
    pub message: String,
}

/// The parts of the import resource the client acts on.
#[derive(Debug, Clone, Deserialize)]
pub struct ImportView {
    pub id: String,
    pub status: Status,
    #[serde(default)]
    pub file_name: String,
    pub total_rows: Option<i64>,
    #[serde(default)]
    pub processed_rows: i64,
    #[serde(default)]
    pub failed_rows: i64,
    #[serde(default)]
    pub counts: Counts,
    pub error: Option<ImportFailure>,
    pub result_url: Option<String>,
    #[serde(default)]
    pub rows_per_second: Option<f64>,
    #[serde(default)]
    pub eta_seconds: Option<i64>,
    #[serde(default)]
    pub created_at: String,
}

/// The import resource: as the server sent it, and read.
#[derive(Debug, Clone)]
pub struct Import {
    pub raw: Value,
    pub view: ImportView,
}

impl Import {
    pub fn read(raw: Value) -> Result<Self, CliError> {
        let view = serde_json::from_value(raw.clone()).map_err(|e| {
            CliError::Usage(format!(
                "the server sent an import this client cannot read: {e}"
            ))
        })?;
        Ok(Self { raw, view })
    }
}

/// A row's outcome, from `/v1/imports/{id}/rows`.
#[derive(Debug, Deserialize)]
pub struct RowOut {
    pub row: i64,
    #[serde(default)]
    pub email: Option<String>,
    pub status: String,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Deserialize)]
pub struct FieldError {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: String,
}

impl RowOut {
    /// `Password: too weak; Email: ...`
    pub fn errors_text(&self) -> String {
        self.errors
            .iter()
            .map(|e| match &e.field {
                Some(field) if !field.is_empty() => format!("{field}: {}", e.message),
                _ => e.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A page of a list.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}
