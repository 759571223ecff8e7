//! S3 backend (AWS or any S3-compatible server: custom endpoint and path-style addressing).
//! This is the only file that imports `aws_sdk_s3`.

use super::{BlobKey, BlobStore, ByteRange, ByteStream, StoreError};
use crate::config::StorageConfig;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream as S3Body;
use std::path::Path;
use tokio_util::io::ReaderStream;

/// Blobs in one bucket under an optional key prefix.
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// Builds the client from `[storage]`; credentials are static (from the config or environment).
    pub fn new(cfg: &StorageConfig) -> S3Store {
        let creds = Credentials::new(
            cfg.access_key_id.expose(),
            cfg.secret_access_key.expose(),
            None,
            None,
            "packgate-config",
        );
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .credentials_provider(creds)
            .force_path_style(cfg.force_path_style);
        if !cfg.endpoint.is_empty() {
            builder = builder.endpoint_url(cfg.endpoint.clone());
        }
        S3Store {
            client: Client::from_conf(builder.build()),
            bucket: cfg.bucket.clone(),
            prefix: cfg.prefix.clone(),
        }
    }

    fn key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.prefix, key.path())
    }
}

fn io<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Io(e.to_string())
}

#[async_trait]
impl BlobStore for S3Store {
    async fn put_file(&self, key: &BlobKey, tmp: &Path) -> Result<(), StoreError> {
        if self.stat(key).await?.is_some() {
            return Ok(());
        }
        let body = S3Body::from_path(tmp).await.map_err(io)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .content_type("application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| io(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
        let mut req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key));
        if let Some(r) = range {
            if r.end <= r.start {
                return Ok(Box::pin(futures_util::stream::empty()));
            }
            req = req.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        match req.send().await {
            Ok(out) => Ok(Box::pin(ReaderStream::with_capacity(
                out.body.into_async_read(),
                256 * 1024,
            ))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(io(aws_sdk_s3::error::DisplayErrorContext(e))),
        }
    }

    async fn stat(&self, key: &BlobKey) -> Result<Option<u64>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(io(aws_sdk_s3::error::DisplayErrorContext(e))),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .send()
            .await
            .map_err(|e| io(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn check(&self) -> Result<(), StoreError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| io(aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}
