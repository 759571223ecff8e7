//! Content-addressed blob storage behind one trait, with a filesystem and an S3 backend.
//!
//! Keys are SHA-256 content addresses laid out as `sha256/ab/cd/<hex>`. Hashing happens above this
//! trait, in `services::blobs`; a backend only moves bytes.

pub(crate) mod fs;
mod s3;

pub use fs::FsStore;
pub use s3::S3Store;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use std::path::Path;
use std::pin::Pin;

/// A blob's address: the lower-case hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// Wraps a hex SHA-256; `None` unless it is 64 lower-case hex digits.
    pub fn new(sha256_hex: &str) -> Option<BlobKey> {
        let ok = sha256_hex.len() == 64
            && sha256_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| BlobKey(sha256_hex.to_string()))
    }

    /// The hex digest.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The storage path, relative to the store root: `sha256/ab/cd/<hex>`.
    pub fn path(&self) -> String {
        format!("sha256/{}/{}/{}", &self.0[0..2], &self.0[2..4], self.0)
    }
}

/// A stream of a blob's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// What can go wrong in a backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The blob is not there.
    #[error("blob not found")]
    NotFound,
    /// The disk (or quota) is full.
    #[error("storage is full: {0}")]
    Full(String),
    /// Any I/O or remote failure.
    #[error("storage error: {0}")]
    Io(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound,
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                StoreError::Full(e.to_string())
            }
            _ => StoreError::Io(e.to_string()),
        }
    }
}

/// A byte range, inclusive start, exclusive end.
pub type ByteRange = std::ops::Range<u64>;

/// The one interface every blob backend implements.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the file at `tmp` under `key`; a no-op when the blob exists. Durable on return.
    async fn put_file(&self, key: &BlobKey, tmp: &Path) -> Result<(), StoreError>;
    /// Streams the blob (or a range of it).
    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<ByteStream, StoreError>;
    /// The blob's size if it exists.
    async fn stat(&self, key: &BlobKey) -> Result<Option<u64>, StoreError>;
    /// Removes the blob; missing is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), StoreError>;
    /// Whether the backend is reachable and usable (`/readyz`).
    async fn check(&self) -> Result<(), StoreError>;
}

/// Builds the configured backend.
pub async fn from_config(
    cfg: &crate::config::Config,
) -> anyhow::Result<std::sync::Arc<dyn BlobStore>> {
    Ok(match cfg.storage.kind {
        crate::config::StorageKind::S3 => std::sync::Arc::new(S3Store::new(&cfg.storage)),
        crate::config::StorageKind::Filesystem => {
            let root = if cfg.storage.path.as_os_str().is_empty() {
                cfg.server.data_dir.join("blobs")
            } else {
                cfg.storage.path.clone()
            };
            std::sync::Arc::new(FsStore::new(root)?)
        }
    })
}
