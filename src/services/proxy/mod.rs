//! Proxy repositories: a pull-through cache of one upstream registry, format-blind.
//!
//! A format's routes ask for two things: a mutable **document** (a packument, an index file, a
//! registration page) by cache key and upstream URL, and an immutable **file** (a tarball, a
//! `.crate`) by upstream URL with the digest the upstream's metadata declares. This module owns
//! everything between: the freshness window (`metadata_ttl`), conditional revalidation with the
//! upstream's validators, negative caching of 404/410, serving stale copies when the upstream
//! fails (up to `max_stale`), one upstream request for many concurrent callers (single flight),
//! the back-off after repeated failures, offline mode, and digest-checked file caching through
//! the one write path. Documents are kept byte for byte as the upstream sent them (table
//! `proxy_documents`); formats rewrite or filter them when serving.

mod cooldown;
mod documents;
mod files;
mod flight;
mod health;
mod upstream;

pub use cooldown::Cooldown;
pub use documents::{CacheState, DocRequest, Served};
pub use files::{Expected, FileCheck, FileRequest, Sinks};
pub use health::HealthState;

use crate::config::ProxySettings;
use crate::format::Format;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long a cooldown-free document lookup waits before the upstream is asked again for a
/// version or file the cached document does not list (so that a burst of requests for a missing
/// version costs one upstream request a second at most).
pub const REVALIDATE_AFTER_MS: i64 = 1_000;

/// Counters of one proxy repository, rendered in `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Documents or files served from the cache without asking the upstream.
    pub hits: AtomicU64,
    /// Documents or files fetched because nothing was cached.
    pub misses: AtomicU64,
    /// Cached documents served because the upstream failed.
    pub stale: AtomicU64,
    /// Conditional requests sent for an expired document.
    pub revalidations: AtomicU64,
    /// Upstream failures (refused, timeout, 5xx, reset, malformed, too large).
    pub upstream_errors: AtomicU64,
    /// Files whose bytes did not match the upstream's declared digest (nothing was stored).
    pub digest_mismatches: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (event name, count) pairs, for `/metrics`.
    pub fn events(&self) -> [(&'static str, u64); 6] {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("hit", n(&self.hits)),
            ("miss", n(&self.misses)),
            ("stale", n(&self.stale)),
            ("revalidation", n(&self.revalidations)),
            ("upstream_error", n(&self.upstream_errors)),
            ("digest_mismatch", n(&self.digest_mismatches)),
        ]
    }
}

/// Work a proxy does after answering (recording verified files and fetched documents), on the
/// runtime that built the proxy (the server's main runtime outlives the request workers), counted
/// so that shutdown can wait for it.
#[derive(Default)]
struct Background {
    runtime: Option<tokio::runtime::Handle>,
    running: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Background {
    fn on_current_runtime() -> Background {
        Background {
            runtime: tokio::runtime::Handle::try_current().ok(),
            ..Background::default()
        }
    }

    fn spawn(
        self: &std::sync::Arc<Self>,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.running.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        let task = async move {
            work.await;
            if this.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                this.idle.notify_waiters();
            }
        };
        match &self.runtime {
            Some(rt) => drop(rt.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }

    async fn settle(&self, within: std::time::Duration) {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.running.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(within, wait).await;
    }
}

/// One proxy repository's upstream, cache state and counters.
pub struct Proxy {
    /// Repository name.
    pub repo: String,
    /// Repository format.
    pub format: Format,
    /// The repository's proxy settings.
    pub settings: ProxySettings,
    /// Largest file fetched (the repository's upload limit).
    pub max_file_size: u64,
    /// Counters.
    pub stats: Stats,
    client: upstream::Client,
    health: health::Health,
    docs: flight::Flights<Option<std::sync::Arc<documents::Doc>>>,
    files: flight::Flights<crate::services::blobs::Digests>,
    storing: files::Storing,
    background: std::sync::Arc<Background>,
    memo: documents::Memo,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("repo", &self.repo)
            .field("upstream", &self.settings.upstream.as_str())
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy for `repo`, with its upstream client built from the settings.
    pub fn new(
        repo: &str,
        format: Format,
        settings: ProxySettings,
        max_file_size: u64,
        memo_bytes: usize,
    ) -> anyhow::Result<Proxy> {
        Ok(Proxy {
            repo: repo.to_string(),
            format,
            client: upstream::Client::new(&settings)?,
            settings,
            max_file_size,
            stats: Stats::default(),
            health: health::Health::default(),
            docs: flight::Flights::default(),
            files: flight::Flights::default(),
            storing: files::Storing::default(),
            background: std::sync::Arc::new(Background::on_current_runtime()),
            memo: documents::Memo::new(memo_bytes),
        })
    }

    /// The upstream URL of `path` (relative to the configured upstream URL, which ends in `/`).
    pub fn upstream_url(&self, path: &str) -> Result<url::Url, crate::error::AppError> {
        self.settings
            .upstream
            .join(path.trim_start_matches('/'))
            .map_err(|e| {
                crate::error::AppError::Invalid(format!("bad upstream path {path:?}: {e}"))
            })
    }

    /// Whether `url` is on the upstream's origin (scheme, host and port): the only URLs a proxy
    /// fetches, so that a document naming another host cannot make packgate fetch from it (or
    /// send it the upstream's credentials).
    pub fn on_origin(&self, url: &url::Url) -> bool {
        url.origin() == self.settings.upstream.origin()
    }

    /// The upstream's state: healthy, or backing off until when and why.
    pub fn health(&self) -> HealthState {
        self.health.state()
    }

    /// Forgets cached documents (all of the repository's, or one package's) in the database and in
    /// this instance's memory. Cached files stay (lockfiles keep working; blobs are shared).
    pub async fn purge(
        &self,
        db: &crate::db::Db,
        package: Option<&str>,
    ) -> Result<u64, crate::error::AppError> {
        self.memo.clear();
        purge(db, &self.repo, package).await
    }

    /// Fetched documents and files still being recorded after their answer.
    pub fn pending_writes(&self) -> usize {
        self.background.running.load(Ordering::SeqCst)
    }

    /// Waits (at most `within`) until the work done after answering (files and documents being
    /// recorded) has finished: the server calls it on shutdown.
    pub async fn settle(&self, within: std::time::Duration) {
        self.background.settle(within).await;
    }

    /// The error for "the upstream has no such thing", worded for logs and clients.
    fn offline_error(&self) -> crate::error::AppError {
        crate::error::AppError::UpstreamDown(format!(
            "repository {:?} is an offline proxy: this is not in its cache and the upstream is not contacted",
            self.repo
        ))
    }
}

/// Deletes cached documents of a proxy repository (all, or one package's) from the database.
pub async fn purge(
    db: &crate::db::Db,
    repo: &str,
    package: Option<&str>,
) -> Result<u64, crate::error::AppError> {
    use crate::db::entity::proxy_document as pd;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut q = pd::Entity::delete_many().filter(pd::Column::Repository.eq(repo));
    if let Some(p) = package {
        q = q.filter(pd::Column::Package.eq(p));
    }
    Ok(q.exec(&db.conn).await?.rows_affected)
}

/// Forgets a proxy repository's cached files (all packages, or one): their versions and file rows
/// go, so the next download fetches and verifies them again; blobs stay while anything else
/// references them. Returns how many packages were forgotten.
pub async fn purge_files(
    db: &crate::db::Db,
    repo: &str,
    package: Option<&str>,
) -> Result<u64, crate::error::AppError> {
    let ids = crate::services::packages::package_ids(db, repo, package).await?;
    for id in &ids {
        crate::services::packages::forget_cached_package(db, *id).await?;
    }
    Ok(ids.len() as u64)
}
