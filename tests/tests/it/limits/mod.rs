//! Limits against abuse (API.md, "Limits against abuse"; docs/configuration.md):
//! silent or stalled clients are cut after `ROSTER_REQUEST_TIMEOUT_SECS`, a
//! process serves at most `ROSTER_MAX_CONNECTIONS` connections and keeps
//! answering its health routes, an organization has at most
//! `ROSTER_MAX_ACTIVE_IMPORTS` imports queued or running, and what an upload
//! carries is checked before anything is stored.

use roster_tests::client::{Answer, text};
use roster_tests::{Client, Mode, World, eventually, full_csv, strong_password};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod connections;
mod uploads;

/// Longer than any timeout a test sets: a deadline, never a wait for state.
const DEADLINE: Duration = Duration::from_secs(20);

fn addr(world: &World) -> String {
    world.api_url.trim_start_matches("http://").to_owned()
}

async fn connect(world: &World) -> TcpStream {
    TcpStream::connect(addr(world)).await.expect("connect")
}

/// Reads until the server closes the connection (or `DEADLINE` passes: a panic).
/// Returns what it sent and how long it took.
async fn read_to_close(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open for {DEADLINE:?}; it sent {:?}",
        String::from_utf8_lossy(&seen)
    );
    (
        String::from_utf8_lossy(&seen).into_owned(),
        started.elapsed(),
    )
}

/// Reads one answer's head and body (by its Content-Length), within `DEADLINE`.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within {DEADLINE:?}");
    String::from_utf8_lossy(&seen).into_owned()
}

/// Every file named `upload` under the object store: one per registered import.
fn stored_uploads(world: &World) -> usize {
    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path)
                    } else {
                        usize::from(e.file_name() == "upload")
                    }
                })
                .sum()
        })
    }
    walk(&world.s3_root())
}

/// Files under the embedded API's scratch folder (spooled uploads).
fn spool_files(world: &World) -> usize {
    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { walk(&path) } else { 1 }
                })
                .sum()
        })
    }
    walk(&world.dir.path().join("data/tmp"))
}

/// Sockets the API process holds open (its listener included).
fn api_sockets(world: &World) -> usize {
    let pid = world.api_pid().expect("the API runs");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the API's descriptors")
        .flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

fn imports_of(list: &Answer) -> usize {
    list.json()["items"].as_array().expect("items").len()
}
