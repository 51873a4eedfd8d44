//! A folder as the object store (the embedded default). Writes go to a temporary
//! file first and are renamed into place, so a reader never sees half an object.

use super::{ObjectReader, ObjectStore, StorageError, StorageKey};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// Objects as files under one root folder.
#[derive(Debug, Clone)]
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn file(&self, key: &StorageKey) -> PathBuf {
        self.root.join(key.path())
    }
}

#[async_trait]
impl ObjectStore for FolderStore {
    async fn put_file(&self, key: &StorageKey, path: &Path) -> Result<(), StorageError> {
        let target = self.file(key);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let partial = target.with_extension("partial");
        tokio::fs::copy(path, &partial).await?;
        tokio::fs::rename(&partial, &target).await?;
        Ok(())
    }

    async fn get_to_file(&self, key: &StorageKey, path: &Path) -> Result<u64, StorageError> {
        Ok(tokio::fs::copy(self.file(key), path).await?)
    }

    async fn open(&self, key: &StorageKey) -> Result<(u64, ObjectReader), StorageError> {
        let file = tokio::fs::File::open(self.file(key)).await?;
        let size = file.metadata().await?.len();
        Ok((size, Box::pin(file)))
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.file(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn ping(&self) -> Result<(), StorageError> {
        tokio::fs::create_dir_all(&self.root).await?;
        Ok(())
    }
}
