//! The read types services hand to routes: packages, versions, files and blobs as the shared model
//! has them, with typed access (sizes as `u64`, metadata deserialized on request), so no route
//! names a database row.

use super::blobs::Digests;
use crate::db::entity::{blob, file, package, version};
use crate::error::AppError;
use serde::de::DeserializeOwned;

/// A package in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Id.
    pub id: i64,
    /// Repository name.
    pub repository: String,
    /// Format id.
    pub format: String,
    /// The name as first published.
    pub name: String,
    /// The format's lookup key of the name.
    pub normalized_name: String,
    /// Creation time (ms since the epoch).
    pub created_at: i64,
    /// Last change (ms since the epoch).
    pub updated_at: i64,
    /// Bumped by every change; keys rendered caches.
    pub change_stamp: i64,
}

/// A version of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Id.
    pub id: i64,
    /// Its package.
    pub package_id: i64,
    /// The version as published.
    pub version: String,
    /// The format's lookup key of the version.
    pub normalized_version: String,
    /// The format's metadata as stored (JSON text); see [`Version::metadata`].
    pub metadata: String,
    /// Deprecation message (format-specific text or JSON), if deprecated.
    pub deprecated: Option<String>,
    /// Yanked (cargo, RubyGems).
    pub yanked: bool,
    /// Listed (NuGet).
    pub listed: bool,
    /// The publishing user.
    pub published_by: Option<i64>,
    /// Publication time (ms since the epoch).
    pub created_at: i64,
}

impl Version {
    /// The stored metadata as the format's type (a stored document that does not parse is a bug:
    /// 500).
    pub fn metadata<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        serde_json::from_str(&self.metadata).map_err(|e| {
            AppError::Internal(format!(
                "stored metadata of version {} does not parse: {e}",
                self.version
            ))
        })
    }
}

/// A file of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Id.
    pub id: i64,
    /// Its version.
    pub version_id: i64,
    /// File name (`widget-1.0.0.tgz`).
    pub name: String,
    /// Its blob.
    pub blob_sha256: String,
    /// Creation time (ms since the epoch).
    pub created_at: i64,
}

/// Stored bytes and their digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Lower-case hex SHA-256 (the content address).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-1.
    pub sha1: String,
    /// Lower-case hex SHA-512.
    pub sha512: String,
    /// Lower-case hex MD5.
    pub md5: String,
}

impl Blob {
    /// The digests clients verify, as computed at upload.
    pub fn digests(&self) -> Digests {
        Digests {
            sha256: self.sha256.clone(),
            sha512: hex::decode(&self.sha512).unwrap_or_default(),
            sha1: self.sha1.clone(),
            md5: self.md5.clone(),
            size: self.size,
        }
    }
}

impl From<package::Model> for Package {
    fn from(m: package::Model) -> Self {
        Package {
            id: m.id,
            repository: m.repository,
            format: m.format,
            name: m.name,
            normalized_name: m.normalized_name,
            created_at: m.created_at,
            updated_at: m.updated_at,
            change_stamp: m.change_stamp,
        }
    }
}

impl From<version::Model> for Version {
    fn from(m: version::Model) -> Self {
        Version {
            id: m.id,
            package_id: m.package_id,
            version: m.version,
            normalized_version: m.normalized_version,
            metadata: m.metadata,
            deprecated: m.deprecated,
            yanked: m.yanked,
            listed: m.listed,
            published_by: m.published_by,
            created_at: m.created_at,
        }
    }
}

impl From<file::Model> for File {
    fn from(m: file::Model) -> Self {
        File {
            id: m.id,
            version_id: m.version_id,
            name: m.name,
            blob_sha256: m.blob_sha256,
            created_at: m.created_at,
        }
    }
}

impl From<blob::Model> for Blob {
    fn from(m: blob::Model) -> Self {
        Blob {
            sha256: m.sha256,
            size: m.size.max(0) as u64,
            sha1: m.sha1,
            sha512: m.sha512,
            md5: m.md5,
        }
    }
}
