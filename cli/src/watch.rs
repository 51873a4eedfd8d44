//! Following an import to its end: the events stream (`text/event-stream`,
//! reconnecting with `Last-Event-ID` when the connection drops), or polling
//! `GET /v1/imports/{id}` every second on a server without the stream (404).

use crate::api::{Api, Import, segment};
use crate::error::CliError;
use futures::StreamExt;
use reqwest::Method;
use reqwest::header::ACCEPT;
use std::time::Duration;

/// Consecutive failed connections after which the server counts as unreachable.
const MAX_RETRIES: u32 = 30;
const PAUSE: Duration = Duration::from_secs(1);

/// Follows import `id` until it has finished; `on_update` sees every state.
pub async fn follow(
    api: &Api,
    id: &str,
    mut on_update: impl FnMut(&Import),
) -> Result<Import, CliError> {
    let path = format!("/v1/imports/{}/events", segment(id));
    let mut last_id: Option<String> = None;
    let mut failures = 0u32;
    let mut connected_once = false;
    loop {
        let mut request = api
            .request(Method::GET, &path)
            .header(ACCEPT, "text/event-stream");
        if let Some(last) = &last_id {
            request = request.header("Last-Event-ID", last);
        }
        let response = match api.send_signed(request).await {
            Ok(response) => response,
            Err(CliError::Server { status: 404, .. }) if !connected_once => {
                return poll(api, id, on_update).await;
            }
            Err(e @ CliError::Network { .. }) => {
                failures += 1;
                if failures > MAX_RETRIES {
                    return Err(e);
                }
                tokio::time::sleep(PAUSE).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        connected_once = true;
        let mut events = Events::default();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { break };
            for event in events.feed(&chunk) {
                if let Some(id) = event.id {
                    last_id = Some(id);
                }
                if event.name != "import" && event.name != "done" {
                    continue;
                }
                let raw = serde_json::from_str(&event.data).map_err(|e| {
                    CliError::Usage(format!(
                        "the events stream sent something that is not an import: {e}"
                    ))
                })?;
                let import = Import::read(raw)?;
                failures = 0;
                on_update(&import);
                if event.name == "done" || import.view.status.finished() {
                    return Ok(import);
                }
            }
        }
        // The stream ended before `done`: a dropped connection. Ask again from the last id.
        failures += 1;
        if failures > MAX_RETRIES {
            return Err(CliError::Network {
                url: api.base.clone(),
                reason: "the events stream keeps dropping".into(),
            });
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// The fallback: the import every second.
async fn poll(api: &Api, id: &str, mut on_update: impl FnMut(&Import)) -> Result<Import, CliError> {
    let mut failures = 0u32;
    loop {
        match api.import(id).await {
            Ok(import) => {
                failures = 0;
                on_update(&import);
                if import.view.status.finished() {
                    return Ok(import);
                }
            }
            Err(e @ CliError::Network { .. }) => {
                failures += 1;
                if failures > MAX_RETRIES {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// One server-sent event.
#[derive(Debug, Default, PartialEq)]
struct Event {
    name: String,
    data: String,
    id: Option<String>,
}

/// The text/event-stream parser: bytes in, whole events out.
#[derive(Default)]
struct Events {
    buffer: Vec<u8>,
    current: Event,
    has_data: bool,
}

impl Events {
    fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                let event = std::mem::take(&mut self.current);
                if std::mem::take(&mut self.has_data) || event.id.is_some() {
                    out.push(Event {
                        name: if event.name.is_empty() {
                            "message".into()
                        } else {
                            event.name
                        },
                        ..event
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // a keep-alive comment
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.current.name = value.to_owned(),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                "id" => self.current.id = Some(value.to_owned()),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_cut_at_blank_lines_whatever_the_chunks() {
        let stream = b": keep-alive\n\nevent: import\nid: 4\ndata: {\"a\":\ndata: 1}\n\r\nevent: done\ndata: {}\n\n";
        let mut parser = Events::default();
        let mut events = Vec::new();
        for chunk in stream.chunks(3) {
            events.extend(parser.feed(chunk));
        }
        assert_eq!(
            events,
            vec![
                Event {
                    name: "import".into(),
                    data: "{\"a\":\n1}".into(),
                    id: Some("4".into())
                },
                Event {
                    name: "done".into(),
                    data: "{}".into(),
                    id: None
                },
            ]
        );
    }
}
