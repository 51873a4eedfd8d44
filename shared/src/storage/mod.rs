//! The object store: uploads, chunk files and result spreadsheets. One trait, two
//! adapters: any S3 server (cluster) and a folder (embedded default). Keys come
//! only from [`StorageKey`], built from import ids, never from user input.

mod fs;
mod s3;

pub use fs::FolderStore;
pub use s3::S3Store;

use crate::model::ImportId;
use async_trait::async_trait;
use std::path::Path;
use std::pin::Pin;
use tokio::io::AsyncRead;

/// Where an object lives. Nothing else formats a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageKey {
    /// The uploaded file, as received (holds plaintext passwords until the import finishes).
    Upload { import: ImportId },
    /// One chunk of normalized records (JSON lines; holds plaintext passwords too).
    Chunk { import: ImportId, chunk: i64 },
    /// The result spreadsheet.
    Result { import: ImportId },
}

impl StorageKey {
    /// The object's key (also its relative path in a folder store).
    pub fn path(&self) -> String {
        match self {
            StorageKey::Upload { import } => format!("imports/{import}/upload"),
            StorageKey::Chunk { import, chunk } => {
                format!("imports/{import}/chunks/{chunk:06}.jsonl")
            }
            StorageKey::Result { import } => format!("imports/{import}/result.xlsx"),
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            StorageKey::Upload { .. } => "application/octet-stream",
            StorageKey::Chunk { .. } => "application/x-ndjson",
            StorageKey::Result { .. } => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// A stream of an object's bytes.
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

/// An object store failure. Every one is treated as transient by the pipeline
/// except `NotFound`.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("object store: {0}")]
    Io(String),
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            StorageError::NotFound(e.to_string())
        } else {
            StorageError::Io(e.to_string())
        }
    }
}

/// Object storage as Roster uses it.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Stores the file at `path` under `key`, streaming it.
    async fn put_file(&self, key: &StorageKey, path: &Path) -> Result<(), StorageError>;
    /// Streams the object into a new file at `path`; returns its size.
    async fn get_to_file(&self, key: &StorageKey, path: &Path) -> Result<u64, StorageError>;
    /// Opens the object for streaming: its size and a reader.
    async fn open(&self, key: &StorageKey) -> Result<(u64, ObjectReader), StorageError>;
    /// Deletes the object; deleting what is not there succeeds.
    async fn delete(&self, key: &StorageKey) -> Result<(), StorageError>;
    /// Deletes every object under the import (uploads, chunks), but not its result.
    async fn delete_inputs(&self, import: &ImportId, chunks: i64) -> Result<(), StorageError> {
        self.delete(&StorageKey::Upload {
            import: import.clone(),
        })
        .await?;
        for chunk in 0..chunks {
            self.delete(&StorageKey::Chunk {
                import: import.clone(),
                chunk,
            })
            .await?;
        }
        Ok(())
    }
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<(), StorageError>;
}
