//! Roster's side: sends a complete snapshot to
//! `POST /v1/sync/sources/{key}/snapshots` and waits for its run to settle.
//! The token goes only in the Authorization header and is never printed.

use crate::entry::Member;
use serde_json::Value;
use std::time::Duration;

/// An import status after which nothing more happens without a person.
const SETTLED: [&str; 4] = ["completed", "failed", "cancelled", "needs_approval"];

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("roster: {0}")]
    Http(String),
    #[error("roster: {status}: {detail}")]
    Refused { status: u16, detail: String },
}

pub struct Roster {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Roster {
    pub fn new(base: &str, token: String, timeout: Duration) -> Result<Self, SendError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout.max(Duration::from_secs(10)))
            .build()
            .map_err(|e| SendError::Http(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// Sends the members; answers the import resource (202).
    pub async fn send(
        &self,
        key: &str,
        group_id: i64,
        dry_run: bool,
        members: &[Member],
    ) -> Result<Value, SendError> {
        let key: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let mut url = format!(
            "{}/v1/sync/sources/{key}/snapshots?group_id={group_id}",
            self.base
        );
        if dry_run {
            url.push_str("&dry_run=true");
        }
        let body = serde_json::to_vec(members).map_err(|e| SendError::Http(e.to_string()))?;
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Http(e.without_url().to_string()))?;
        answer(response).await
    }

    /// Polls the sync log (`GET /v1/sync/sources`, a route a service token
    /// may read) until run `id` of source `key` settles; answers the run. A
    /// source runs one snapshot at a time, so its last run is this one until
    /// it settles; a later run in its place means this one settled unseen.
    pub async fn wait(&self, key: &str, id: &str) -> Result<Value, SendError> {
        let url = format!("{}/v1/sync/sources", self.base);
        let mut pause = Duration::from_millis(200);
        loop {
            let response = self
                .http
                .get(&url)
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| SendError::Http(e.without_url().to_string()))?;
            let log = answer(response).await?;
            let run = last_run(&log, key)
                .ok_or_else(|| SendError::Http(format!("the sync log has no source '{key}'")))?;
            if run["id"].as_str() != Some(id) {
                return Err(SendError::Http(format!(
                    "run {id} was followed by run {} before it was seen settled",
                    run["id"]
                )));
            }
            if run["status"].as_str().is_some_and(|s| SETTLED.contains(&s)) {
                return Ok(run.clone());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

/// The last run of source `key` in a sync log.
fn last_run<'a>(log: &'a Value, key: &str) -> Option<&'a Value> {
    log["items"]
        .as_array()?
        .iter()
        .find(|source| source["key"].as_str() == Some(key))
        .map(|source| &source["last_run"])
        .filter(|run| run.is_object())
}

async fn answer(response: reqwest::Response) -> Result<Value, SendError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| SendError::Http(e.without_url().to_string()))?;
    if !status.is_success() {
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v["detail"]
                    .as_str()
                    .or(v["title"].as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(SendError::Refused {
            status: status.as_u16(),
            detail,
        });
    }
    serde_json::from_str(&text).map_err(|e| SendError::Http(format!("unreadable answer: {e}")))
}
