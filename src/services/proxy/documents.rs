//! Cached upstream documents: fresh hits from memory or the database, conditional revalidation,
//! negative entries, stale copies while the upstream fails, offline mode.

use super::Proxy;
use super::upstream::DocAnswer;
use crate::db::Db;
use crate::db::entity::proxy_document as pd;
use crate::error::AppError;
use crate::services::time::now_millis;
use bytes::Bytes;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A cached upstream document, byte for byte as the upstream sent it.
#[derive(Debug)]
pub struct Doc {
    /// The body.
    pub body: Bytes,
    /// Lower-case hex SHA-256 of the body.
    pub digest: String,
    /// When the body was fetched (ms since the epoch).
    pub fetched_at: i64,
    /// When the upstream last confirmed it.
    pub checked_at: i64,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// What a format asks for.
pub struct DocRequest<'a> {
    /// The cache key inside the repository (the format's choice; it includes the variant, such
    /// as full or abbreviated packument).
    pub key: &'a str,
    /// The package it belongs to (for purges), or empty.
    pub package: &'a str,
    /// Where the upstream has it.
    pub url: url::Url,
    /// The `Accept` header to send.
    pub accept: Option<&'a str>,
    /// Upstream statuses that mean "no such thing" (cached for `negative_ttl`).
    pub missing: &'a [u16],
    /// The format's check of a body before it is cached (malformed JSON, bad index lines).
    pub validate: fn(&[u8]) -> Result<(), String>,
    /// The caller looks for something the cached copy does not have (a version published
    /// upstream a minute ago): ask the upstream now unless it was asked within the last second.
    pub revalidate: bool,
    /// Kept in the database (shared by instances, survives restarts and serves offline); `false`
    /// for answers keyed by caller input (search queries), kept only in this instance's memory.
    pub persist: bool,
}

/// How a document was served, for the `X-Packgate-Cache` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    /// From the cache, inside the fresh window.
    Hit,
    /// Fetched now (nothing was cached).
    Miss,
    /// Revalidated with the upstream now (a 304, or a new body).
    Revalidated,
    /// A cached copy past its fresh window, because the upstream failed.
    Stale,
    /// From the cache of an offline proxy.
    Offline,
}

impl CacheState {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheState::Hit => "hit",
            CacheState::Miss => "miss",
            CacheState::Revalidated => "revalidated",
            CacheState::Stale => "stale",
            CacheState::Offline => "offline",
        }
    }
}

/// A document as served.
#[derive(Debug, Clone)]
pub struct Served {
    /// The document.
    pub doc: Arc<Doc>,
    /// How it was served.
    pub state: CacheState,
}

impl Served {
    /// Seconds since the upstream last confirmed the document (the `Age` header of stale and
    /// offline answers).
    pub fn age_secs(&self) -> u64 {
        ((now_millis() - self.doc.checked_at).max(0) / 1000) as u64
    }
}

#[derive(Clone)]
struct MemoEntry {
    doc: Option<Arc<Doc>>,
    checked_at: i64,
}

/// This instance's copy of recently confirmed documents (bounded by bytes), so that a fresh hit
/// costs no database query.
pub struct Memo {
    map: Mutex<(HashMap<String, MemoEntry>, usize)>,
    max_bytes: usize,
}

impl Memo {
    /// A memo holding at most `max_bytes` of bodies.
    pub fn new(max_bytes: usize) -> Self {
        Memo {
            map: Mutex::new((HashMap::new(), 0)),
            max_bytes,
        }
    }

    fn get(&self, key: &str) -> Option<MemoEntry> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .get(key)
            .cloned()
    }

    fn put(&self, key: &str, entry: MemoEntry) {
        let weight = |e: &MemoEntry| key.len() + 64 + e.doc.as_ref().map_or(0, |d| d.body.len());
        let w = weight(&entry);
        // Up to half the memo for one document: the public RubyGems `/versions` is tens of MB and
        // is asked for by every bundler run.
        if w > self.max_bytes / 2 {
            self.remove(key);
            return;
        }
        let mut guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (map, bytes) = &mut *guard;
        if let Some(old) = map.remove(key) {
            *bytes -= weight(&old);
        }
        if *bytes + w > self.max_bytes {
            map.clear();
            *bytes = 0;
        }
        *bytes += w;
        map.insert(key.to_string(), entry);
    }

    fn remove(&self, key: &str) {
        let mut guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let (map, bytes) = &mut *guard;
        if let Some(old) = map.remove(key) {
            *bytes -= key.len() + 64 + old.doc.as_ref().map_or(0, |d| d.body.len());
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut guard = self.map.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.clear();
        guard.1 = 0;
    }
}

fn from_row(row: pd::Model) -> MemoEntry {
    let doc = (row.status == 200).then(|| {
        Arc::new(Doc {
            body: Bytes::from(row.body.unwrap_or_default()),
            digest: row.digest,
            fetched_at: row.fetched_at,
            checked_at: row.checked_at,
            etag: row.upstream_etag,
            last_modified: row.upstream_last_modified,
        })
    });
    MemoEntry {
        doc,
        checked_at: row.checked_at,
    }
}

async fn load(db: &Db, repo: &str, key: &str) -> Result<Option<MemoEntry>, AppError> {
    Ok(pd::Entity::find()
        .filter(pd::Column::Repository.eq(repo))
        .filter(pd::Column::DocKey.eq(key))
        .one(&db.conn)
        .await?
        .map(from_row))
}

async fn save(
    db: &Db,
    repo: &str,
    key: &str,
    package: &str,
    doc: &Doc,
    checked_at: i64,
) -> Result<(), AppError> {
    let am = pd::ActiveModel {
        repository: Set(repo.to_string()),
        doc_key: Set(key.to_string()),
        package: Set(package.to_string()),
        status: Set(200),
        body: Set(Some(doc.body.to_vec())),
        digest: Set(doc.digest.clone()),
        upstream_etag: Set(doc.etag.clone()),
        upstream_last_modified: Set(doc.last_modified.clone()),
        fetched_at: Set(doc.fetched_at),
        checked_at: Set(checked_at),
        ..Default::default()
    };
    let _guard = db.write_lock().await;
    pd::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([pd::Column::Repository, pd::Column::DocKey])
                .update_columns([
                    pd::Column::Package,
                    pd::Column::Status,
                    pd::Column::Body,
                    pd::Column::Digest,
                    pd::Column::UpstreamEtag,
                    pd::Column::UpstreamLastModified,
                    pd::Column::FetchedAt,
                    pd::Column::CheckedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&db.conn)
        .await?;
    Ok(())
}

async fn touch(db: &Db, repo: &str, key: &str, checked_at: i64) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    pd::Entity::update_many()
        .col_expr(
            pd::Column::CheckedAt,
            sea_orm::sea_query::Expr::value(checked_at),
        )
        .filter(pd::Column::Repository.eq(repo))
        .filter(pd::Column::DocKey.eq(key))
        .exec(&db.conn)
        .await?;
    Ok(())
}

fn is_upstream_failure(e: &AppError) -> bool {
    matches!(
        e.kind(),
        AppError::Upstream(_) | AppError::UpstreamTimeout(_) | AppError::UpstreamDown(_)
    )
}

impl Proxy {
    fn fresh(&self, entry: &MemoEntry, now: i64) -> bool {
        let ttl = if entry.doc.is_some() {
            self.settings.metadata_ttl
        } else {
            self.settings.negative_ttl
        };
        now - entry.checked_at < ttl.as_millis() as i64
    }

    /// The document for `req`: `Ok(None)` when the upstream says it does not exist.
    /// A document this instance holds in memory and may serve without asking anyone (inside its
    /// fresh window), if any: for a route that can use either of two documents (npm's tarball
    /// route finds a tarball's digest in the full or the abbreviated packument, whichever the
    /// client fetched).
    pub fn fresh_in_memory(&self, key: &str) -> Option<Arc<Doc>> {
        let entry = self.memo.get(key)?;
        if self.fresh(&entry, now_millis()) {
            entry.doc
        } else {
            None
        }
    }

    pub async fn document(
        self: &Arc<Self>,
        db: &Db,
        req: DocRequest<'_>,
    ) -> Result<Option<Served>, AppError> {
        let now = now_millis();
        let usable = |entry: &MemoEntry| {
            if req.revalidate {
                now - entry.checked_at < super::REVALIDATE_AFTER_MS
            } else {
                self.fresh(entry, now)
            }
        };
        if let Some(entry) = self.memo.get(req.key)
            && usable(&entry)
        {
            super::Stats::bump(&self.stats.hits);
            return Ok(entry.doc.map(|doc| Served {
                doc,
                state: CacheState::Hit,
            }));
        }
        let row = if req.persist {
            load(db, &self.repo, req.key).await?
        } else {
            self.memo.get(req.key)
        };
        if self.settings.offline {
            return match row {
                Some(entry) => {
                    super::Stats::bump(&self.stats.hits);
                    Ok(entry.doc.map(|doc| Served {
                        doc,
                        state: CacheState::Offline,
                    }))
                }
                None => Err(self.offline_error()),
            };
        }
        if let Some(entry) = &row
            && usable(entry)
        {
            self.memo.put(req.key, entry.clone());
            super::Stats::bump(&self.stats.hits);
            return Ok(entry.doc.clone().map(|doc| Served {
                doc,
                state: CacheState::Hit,
            }));
        }
        let stale = row.as_ref().and_then(|e| e.doc.clone());
        let serve_stale = |err: AppError| -> Result<Option<Served>, AppError> {
            match &stale {
                Some(doc)
                    if is_upstream_failure(&err)
                        && now - doc.checked_at <= self.settings.max_stale.as_millis() as i64 =>
                {
                    super::Stats::bump(&self.stats.stale);
                    tracing::warn!(repo.name = %self.repo, upstream = %self.client.label(), key = %req.key, error = %err, "serving a stale copy");
                    Ok(Some(Served {
                        doc: doc.clone(),
                        state: CacheState::Stale,
                    }))
                }
                _ => Err(err),
            }
        };
        if let Err(secs) = self.health.check() {
            return serve_stale(AppError::UpstreamDown(format!(
                "upstream {} of repository {:?} is failing; packgate retries it in {secs} s",
                self.client.label(),
                self.repo
            )));
        }
        let had_copy = stale.is_some();
        super::Stats::bump(if had_copy {
            &self.stats.revalidations
        } else {
            &self.stats.misses
        });
        let this = self.clone();
        let db_owned = db.clone();
        let key = req.key.to_string();
        let package = req.package.to_string();
        let url = req.url.clone();
        let accept = req.accept.map(str::to_string);
        let missing = req.missing.to_vec();
        let validate = req.validate;
        let persist = req.persist;
        let previous = stale.clone();
        let fetched = self
            .docs
            .run(req.key, move || async move {
                let db = persist.then_some(&db_owned);
                this.fetch(
                    db,
                    &key,
                    &package,
                    &url,
                    accept.as_deref(),
                    &missing,
                    validate,
                    previous,
                )
                .await
            })
            .await;
        match fetched {
            Ok(doc) => Ok(doc.map(|doc| Served {
                doc,
                state: if had_copy {
                    CacheState::Revalidated
                } else {
                    CacheState::Miss
                },
            })),
            Err(e) => serve_stale(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn fetch(
        &self,
        db: Option<&Db>,
        key: &str,
        package: &str,
        url: &url::Url,
        accept: Option<&str>,
        missing: &[u16],
        validate: fn(&[u8]) -> Result<(), String>,
        previous: Option<Arc<Doc>>,
    ) -> Result<Option<Arc<Doc>>, AppError> {
        let answer = self
            .client
            .document(
                url,
                accept,
                previous.as_ref().and_then(|d| d.etag.as_deref()),
                previous.as_ref().and_then(|d| d.last_modified.as_deref()),
                missing,
            )
            .await;
        let now = now_millis();
        match answer {
            Ok(DocAnswer::Body {
                body,
                etag,
                last_modified,
            }) => {
                if let Err(why) = validate(&body) {
                    let message = format!(
                        "upstream {} sent a malformed document for {}: {why}",
                        self.client.label(),
                        url.path()
                    );
                    return Err(self.upstream_failed(message, None));
                }
                self.health.success();
                let doc = Arc::new(Doc {
                    digest: hex::encode(sha2::Sha256::digest(&body)),
                    body,
                    fetched_at: now,
                    checked_at: now,
                    etag,
                    last_modified,
                });
                if let Some(db) = db {
                    // Recorded after the answer (memory serves it meanwhile): a lost record only
                    // costs another instance, or this one after a restart, one more fetch.
                    let (db, repo, key, package, doc) = (
                        db.clone(),
                        self.repo.clone(),
                        key.to_string(),
                        package.to_string(),
                        doc.clone(),
                    );
                    self.background.spawn(async move {
                        if let Err(e) = save(&db, &repo, &key, &package, &doc, now).await {
                            tracing::warn!(repo.name = %repo, doc.key = %key, error = %e, "a fetched upstream document could not be recorded");
                        }
                    });
                }
                self.memo.put(
                    key,
                    MemoEntry {
                        doc: Some(doc.clone()),
                        checked_at: now,
                    },
                );
                Ok(Some(doc))
            }
            Ok(DocAnswer::NotModified) => {
                self.health.success();
                let Some(old) = previous else {
                    return Err(self.upstream_failed(
                        format!(
                            "upstream {} answered 304 to an unconditional request for {}",
                            self.client.label(),
                            url.path()
                        ),
                        None,
                    ));
                };
                if let Some(db) = db {
                    let (db, repo, key) = (db.clone(), self.repo.clone(), key.to_string());
                    self.background.spawn(async move {
                        if let Err(e) = touch(&db, &repo, &key, now).await {
                            tracing::warn!(repo.name = %repo, doc.key = %key, error = %e, "a revalidated upstream document could not be recorded");
                        }
                    });
                }
                let doc = Arc::new(Doc {
                    body: old.body.clone(),
                    digest: old.digest.clone(),
                    fetched_at: old.fetched_at,
                    checked_at: now,
                    etag: old.etag.clone(),
                    last_modified: old.last_modified.clone(),
                });
                self.memo.put(
                    key,
                    MemoEntry {
                        doc: Some(doc.clone()),
                        checked_at: now,
                    },
                );
                Ok(Some(doc))
            }
            Ok(DocAnswer::Missing) => {
                self.health.success();
                // The upstream dropped it (or never had it): no stored copy outlives that. The
                // "not found" itself is remembered in memory only, so that requests for made-up
                // names cost an anonymous caller no disk.
                if let Some(db) = db
                    && previous.is_some()
                {
                    purge_key(db, &self.repo, key).await?;
                }
                if self.settings.negative_ttl.is_zero() {
                    self.memo.remove(key);
                } else {
                    self.memo.put(
                        key,
                        MemoEntry {
                            doc: None,
                            checked_at: now,
                        },
                    );
                }
                Ok(None)
            }
            Err(failure) => Err(self.upstream_failed(failure.message.clone(), Some(&failure))),
        }
    }

    /// Counts, logs and remembers an upstream failure; the client-facing error.
    pub(super) fn upstream_failed(
        &self,
        message: String,
        failure: Option<&super::upstream::UpstreamFailure>,
    ) -> AppError {
        self.health
            .failure(&message, failure.and_then(|f| f.retry_after));
        super::Stats::bump(&self.stats.upstream_errors);
        tracing::warn!(repo.name = %self.repo, upstream = %self.client.label(), error = %message, "upstream failed");
        match failure {
            Some(f) => f.to_app_error(),
            None => AppError::Upstream(message),
        }
    }
}

async fn purge_key(db: &Db, repo: &str, key: &str) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    pd::Entity::delete_many()
        .filter(pd::Column::Repository.eq(repo))
        .filter(pd::Column::DocKey.eq(key))
        .exec(&db.conn)
        .await?;
    Ok(())
}
