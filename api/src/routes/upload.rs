//! Receiving an upload: the body is streamed to a spool file with a running byte
//! count (over the limit is refused with 413 while it streams, never held in
//! memory), and its format is told from its first bytes.

use crate::error::ApiError;
use axum::http::StatusCode;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use roster_shared::ingest::{self, SNIFF_BYTES};
use roster_shared::model::Format;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// An upload spooled to a local file.
pub struct Spooled {
    pub path: PathBuf,
    pub bytes: u64,
    pub format: Format,
}

/// Streams `body` into a new file in `dir`, refusing it past `limit` bytes.
pub async fn spool<S, E>(mut body: S, dir: &Path, limit: u64) -> Result<Spooled, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let path = dir.join("upload");
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    let mut prefix: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
    let mut bytes: u64 = 0;
    let mut format = None;
    while let Some(piece) = body.next().await {
        let piece =
            piece.map_err(|e| ApiError::invalid(format!("the upload was interrupted: {e}")))?;
        bytes += piece.len() as u64;
        if bytes > limit {
            return Err(too_large(limit));
        }
        if format.is_none() {
            let need = SNIFF_BYTES - prefix.len();
            prefix.extend_from_slice(&piece[..need.min(piece.len())]);
            if prefix.len() == SNIFF_BYTES {
                format = Some(sniff(&prefix)?);
            }
        }
        file.write_all(&piece).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    let format = match format {
        Some(f) => f,
        None if prefix.is_empty() => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_file",
                "the upload is empty",
            ));
        }
        None => sniff(&prefix)?,
    };
    if format == Format::Xlsx {
        let check = path.clone();
        tokio::task::spawn_blocking(move || ingest::check_xlsx(&check))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| unsupported(&e.to_string()))?;
    }
    Ok(Spooled {
        path,
        bytes,
        format,
    })
}

fn sniff(prefix: &[u8]) -> Result<Format, ApiError> {
    ingest::sniff(prefix).map_err(|e| unsupported(&e.to_string()))
}

fn unsupported(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_format",
        format!("{detail}; upload CSV, JSON or xlsx"),
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the upload is larger than the limit of {limit} bytes"),
    )
}
