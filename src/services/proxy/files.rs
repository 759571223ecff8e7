//! Cached upstream files: fetched once (single flight) into a temp file while every digest is
//! computed, compared with the digest the upstream's metadata declares, and only then stored
//! through the write path. A mismatch stores nothing and is logged and counted.
//!
//! Verified bytes go out at once: while the store and the database record them (an S3 upload
//! and a PostgreSQL transaction in production), clients are served from the verified temp file,
//! and a request for the same file finds it there instead of fetching it again.

use super::{CacheState, Proxy};
use crate::db::Db;
use crate::error::AppError;
use crate::services::blobs::{Digests, HashingWriter, Spool};
use crate::services::publish::{self, Identity, Staged};
use crate::store::BlobStore;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

/// Files verified and being stored, by flight key: served from their temp file meanwhile.
#[derive(Default)]
pub(super) struct Storing {
    files: Mutex<HashMap<String, (Digests, Arc<NamedTempFile>)>>,
}

impl Storing {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Digests, Arc<NamedTempFile>)>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn digests(&self, key: &str) -> Option<Digests> {
        self.lock().get(key).map(|(d, _)| d.clone())
    }

    fn begin(&self, key: &str, digests: &Digests, file: &Arc<NamedTempFile>) {
        self.lock()
            .insert(key.to_string(), (digests.clone(), file.clone()));
    }

    fn end(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The digest the upstream's metadata declares for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Raw SHA-512 (npm `integrity`).
    Sha512(Vec<u8>),
    /// Lower-case hex SHA-256 (cargo `cksum`, RubyGems `checksum:`).
    Sha256(String),
    /// Lower-case hex SHA-1 (npm `shasum`, for old packages without `integrity`).
    Sha1(String),
    /// Nothing is declared (NuGet's flat container, RubyGems' `.gemspec.rz`): the first bytes
    /// fetched are kept and pinned, since a cached file is never replaced.
    FirstSeen,
}

impl Expected {
    fn matches(&self, d: &Digests) -> bool {
        match self {
            Expected::Sha512(raw) => &d.sha512 == raw,
            Expected::Sha256(hex) => d.sha256.eq_ignore_ascii_case(hex),
            Expected::Sha1(hex) => d.sha1.eq_ignore_ascii_case(hex),
            Expected::FirstSeen => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Expected::Sha512(raw) => format!("sha512 {}", hex::encode(raw)),
            Expected::Sha256(h) => format!("sha256 {h}"),
            Expected::Sha1(h) => format!("sha1 {h}"),
            Expected::FirstSeen => "none declared".into(),
        }
    }
}

/// A format's own check of a fetched file before it is stored (a NuGet `.nupkg` must be a
/// readable package of the id and version asked for), run off the async workers.
pub type FileCheck = Box<dyn Fn(&std::path::Path) -> Result<(), String> + Send + Sync>;

/// A file to fetch.
pub struct FileRequest {
    /// Where the upstream has it (must be on the upstream's origin).
    pub url: url::Url,
    /// The digest it must have.
    pub expected: Expected,
    /// The version it belongs to.
    pub identity: Identity,
    /// The file's name in the version.
    pub file_name: String,
    /// Metadata recorded with a version the cache creates (JSON text).
    pub metadata: String,
    /// The format's check of the bytes before they are stored (`None`: the digest is the check).
    pub check: Option<FileCheck>,
}

/// What a file fetch needs from the server.
#[derive(Clone)]
pub struct Sinks {
    /// The database.
    pub db: Db,
    /// The blob store.
    pub store: Arc<dyn BlobStore>,
    /// Temp files.
    pub spool: Spool,
}

impl Proxy {
    /// Fetches, verifies and caches a file; the digests of what is now stored (or being stored)
    /// and whether it was fetched now ([`CacheState::Miss`]) or found being stored
    /// ([`CacheState::Hit`]). `Ok(None)` when the upstream says it does not exist.
    pub async fn file(
        self: &Arc<Self>,
        sinks: &Sinks,
        req: FileRequest,
    ) -> Result<Option<(Digests, CacheState)>, AppError> {
        self.file_within(sinks, req, None).await
    }

    /// [`Proxy::file`] for a URL on the origin the upstream's own configuration names for its
    /// files (cargo's `config.json` `dl`: the public crate registry serves `.crate` files from
    /// another host than its index). Credentials still go to the upstream's origin only.
    pub async fn file_declared(
        self: &Arc<Self>,
        sinks: &Sinks,
        req: FileRequest,
        declared: &url::Origin,
    ) -> Result<Option<(Digests, CacheState)>, AppError> {
        self.file_within(sinks, req, Some(declared)).await
    }

    async fn file_within(
        self: &Arc<Self>,
        sinks: &Sinks,
        req: FileRequest,
        declared: Option<&url::Origin>,
    ) -> Result<Option<(Digests, CacheState)>, AppError> {
        let key = format!(
            "{}\0{}\0{}",
            req.identity.normalized_name, req.identity.normalized_version, req.file_name
        );
        if let Some(d) = self.storing.digests(&key) {
            super::Stats::bump(&self.stats.hits);
            return Ok(Some((d, CacheState::Hit)));
        }
        if self.settings.offline {
            return Err(self.offline_error());
        }
        if !self.on_origin(&req.url) && declared != Some(&req.url.origin()) {
            return Err(AppError::Upstream(format!(
                "the upstream's metadata points {} at another origin ({}); packgate only fetches from {}",
                req.file_name,
                req.url.origin().ascii_serialization(),
                self.client.label()
            )));
        }
        if let Err(secs) = self.health.check() {
            return Err(AppError::UpstreamDown(format!(
                "upstream {} of repository {:?} is failing; packgate retries it in {secs} s",
                self.client.label(),
                self.repo
            )));
        }
        super::Stats::bump(&self.stats.misses);
        let this = self.clone();
        let sinks = sinks.clone();
        let flight_key = key.clone();
        let found = self
            .files
            .run(&key, move || async move {
                this.fetch_file(&sinks, req, flight_key).await
            })
            .await;
        match found {
            Ok(d) => Ok(Some((d, CacheState::Miss))),
            Err(e) if matches!(e.kind(), AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn fetch_file(
        self: &Arc<Self>,
        sinks: &Sinks,
        mut req: FileRequest,
        key: String,
    ) -> Result<Digests, AppError> {
        let url = &req.url;
        // Without a declared digest nothing vouches for bytes from another host: redirects to
        // another origin are followed only when the digest will be checked.
        let cross_origin = req.expected != Expected::FirstSeen;
        let res = match self.client.file(url, cross_origin).await {
            Ok(Some(res)) => res,
            Ok(None) => {
                self.health.success();
                return Err(AppError::NotFound(format!(
                    "the upstream has no {}",
                    req.file_name
                )));
            }
            Err(f) => return Err(self.upstream_failed(f.message.clone(), Some(&f))),
        };
        if res.content_length().is_some_and(|n| n > self.max_file_size) {
            return Err(self.too_large(&req.file_name));
        }
        let tmp = sinks.spool.temp_file()?;
        let mut out = tokio::io::BufWriter::with_capacity(
            256 * 1024,
            tokio::fs::File::from_std(tmp.reopen()?),
        );
        let mut hasher = HashingWriter::new(std::io::sink(), self.max_file_size);
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let f = self.client.body_failure(url, &e);
                    return Err(self.upstream_failed(f.message.clone(), Some(&f)));
                }
            };
            if hasher.write_all(&chunk).is_err() {
                return Err(self.too_large(&req.file_name));
            }
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        drop(out);
        let (digests, _) = hasher.finish()?;
        self.health.success();
        if !req.expected.matches(&digests) {
            super::Stats::bump(&self.stats.digest_mismatches);
            tracing::error!(
                repo.name = %self.repo,
                upstream = %self.client.label(),
                file.name = %req.file_name,
                expected = %req.expected.describe(),
                got.sha256 = %digests.sha256,
                "upstream file does not match its declared digest; nothing was stored"
            );
            return Err(AppError::Upstream(format!(
                "the upstream's {} does not match the digest its metadata declares ({}); nothing was stored",
                req.file_name,
                req.expected.describe()
            )));
        }
        if let Some(check) = req.check.take() {
            let path = tmp.path().to_path_buf();
            let verdict = tokio::task::spawn_blocking(move || check(&path))
                .await
                .map_err(AppError::internal)?;
            if let Err(why) = verdict {
                super::Stats::bump(&self.stats.digest_mismatches);
                tracing::error!(
                    repo.name = %self.repo,
                    upstream = %self.client.label(),
                    file.name = %req.file_name,
                    error = %why,
                    "upstream file failed the format's check; nothing was stored"
                );
                return Err(AppError::Upstream(format!(
                    "the upstream's {} is not what it should be ({why}); nothing was stored",
                    req.file_name
                )));
            }
        }
        let tmp = Arc::new(tmp);
        self.storing.begin(&key, &digests, &tmp);
        let this = self.clone();
        let sinks = sinks.clone();
        let stored = digests.clone();
        let store = async move {
            let done = publish::cache_file(
                &sinks.db,
                sinks.store.as_ref(),
                &this.repo,
                this.format,
                &req.identity,
                &req.metadata,
                Staged {
                    name: req.file_name.clone(),
                    path: tmp.path(),
                    digests: stored,
                },
            )
            .await;
            if let Err(e) = done {
                // The client got the verified bytes; the next request fetches them again.
                tracing::error!(
                    repo.name = %this.repo,
                    file.name = %req.file_name,
                    error = %e,
                    "a verified upstream file could not be cached"
                );
            }
            this.storing.end(&key);
        };
        self.background.spawn(store);
        Ok(digests)
    }

    /// The verified temp file of a file being stored, by SHA-256 (served while it is stored).
    pub fn storing_file(&self, sha256: &str) -> Option<Arc<NamedTempFile>> {
        self.storing
            .lock()
            .values()
            .find(|(d, _)| d.sha256 == sha256)
            .map(|(_, f)| f.clone())
    }

    fn too_large(&self, file: &str) -> AppError {
        AppError::Upstream(format!(
            "the upstream's {file} is larger than this repository's limit of {} bytes",
            self.max_file_size
        ))
    }
}
