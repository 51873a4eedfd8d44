//! Any S3-compatible server as the object store (aws-sdk-s3, path-style endpoint).
//! Checksums are only computed when the API requires them: since aws-sdk-s3 1.69
//! the default checksums break some non-AWS servers (LIBRARIES.md).

use super::{ObjectReader, ObjectStore, StorageError, StorageKey};
use crate::config::S3Config;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// A bucket on an S3 server.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// Builds a client from the configuration (credentials included).
    pub fn new(config: &S3Config) -> Self {
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new(config.region.clone()))
            .credentials_provider(Credentials::new(
                &config.access_key,
                &config.secret_key,
                None,
                None,
                "roster-config",
            ))
            .force_path_style(config.force_path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
        }
    }
}

fn io_error(e: impl std::fmt::Display) -> StorageError {
    StorageError::Io(e.to_string())
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_file(&self, key: &StorageKey, path: &Path) -> Result<(), StorageError> {
        let body = ByteStream::from_path(path).await.map_err(io_error)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.path())
            .content_type(key.content_type())
            .body(body)
            .send()
            .await
            .map_err(|e| io_error(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn get_to_file(&self, key: &StorageKey, path: &Path) -> Result<u64, StorageError> {
        let (_, mut reader) = self.open(key).await?;
        let mut file = tokio::fs::File::create(path).await?;
        let n = tokio::io::copy(&mut reader, &mut file).await?;
        file.flush().await?;
        Ok(n)
    }

    async fn open(&self, key: &StorageKey) -> Result<(u64, ObjectReader), StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.path())
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => StorageError::NotFound(key.path()),
                _ => io_error(aws_sdk_s3::error::DisplayErrorContext(e)),
            })?;
        let size = out.content_length().unwrap_or_default().max(0) as u64;
        Ok((size, Box::pin(out.body.into_async_read())))
    }

    async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.path())
            .send()
            .await
            .map_err(|e| io_error(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| io_error(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}
