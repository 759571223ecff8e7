//! RubyGems proxy repositories (`type = "proxy"`): the compact index (`versions`, `info/NAME`,
//! `names`), `.gem` files, quick gemspecs and the legacy `*specs.4.8.gz` indexes from the upstream
//! source through the proxy cache (`services::proxy`). See `docs/formats/rubygems.md`, section
//! "Proxy repositories".
//!
//! - The compact index has no URLs: it is served byte for byte as the upstream sent it, with the
//!   hosted side's headers (ETag = quoted MD5, `Repr-Digest`, 304), and `Range: bytes=N-` answered
//!   206 from the cached bytes (a range past their end gets 200 and the whole body, never a 416).
//! - Bundler compares each gem's MD5 in `versions` with the `info/NAME` it holds, so packgate never
//!   answers `info/NAME` with a copy older than the `versions` it served: a cached copy whose MD5
//!   differs from the one the served `versions` names is revalidated first.
//! - `.gem` files are checked against their `info/NAME` line's `checksum:` before they are stored;
//!   quick gemspecs are pinned on first sight. Both are found through `info/NAME` (one
//!   revalidation when the version is not listed) and stay downloadable once cached.
//! - Cooldown (`min_age`): `info/NAME` lines whose `created_at:` is too young are left out, and
//!   the `versions` line of such a gem is regenerated with the MD5 of the filtered `info/NAME`.
//! - Writes (push, yank, owners) are refused: a proxy is read-only.

use super::compact::Compact;
use crate::error::AppError;
use crate::routes::common;
use crate::routes::common::blob::parse_range;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::etag;
use crate::routes::common::proxy::{cache_headers, serve_file, serve_hit};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::packages;
use crate::services::proxy::{
    CacheState, Cooldown, DocRequest, Expected, FileRequest, Proxy, Served,
};
use crate::services::publish::Identity;
use crate::services::time::now_millis;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use bytes::Bytes;
use packgate_rubygems::proxy as codec;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Most gems whose filtered `info/NAME` this instance remembers for `versions`.
const MAX_FILTERED: usize = 10_000;

/// Upstream statuses that mean "no such document".
const MISSING: &[u16] = &[404, 410];

/// The 405 for every write to a proxy (`gem push`, `gem yank`, `gem owner --add/--remove`).
pub fn refuse_write(ctx: &Ctx<'_>) -> AppError {
    common::proxy::read_only(ctx, "push, yank and manage owners")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The upstream `versions` this instance served last.
struct SeenVersions {
    digest: String,
    body: Bytes,
    /// When it was last served or confirmed (ms).
    seen_at: AtomicI64,
    /// Each gem's `info/NAME` MD5 (its last line), parsed on first use.
    md5s: OnceLock<HashMap<String, String>>,
}

/// An upstream `info/NAME` the cooldown filtered when it was served.
struct FilteredGem {
    body: Bytes,
    md5: String,
}

/// What this instance remembers of one proxy repository between requests (kept in
/// `AppState::values`; the proxy service has no slot for a format's state).
#[derive(Default)]
struct Memory {
    versions: Mutex<Option<Arc<SeenVersions>>>,
    filtered: Mutex<BTreeMap<String, FilteredGem>>,
}

fn memory(ctx: &Ctx<'_>) -> Arc<Memory> {
    let key = format!("rubygems-proxy\0{}", ctx.repo.name);
    if let Some(m) = ctx.state.values.get::<Memory>(&key, "") {
        return m;
    }
    let m = Arc::new(Memory::default());
    ctx.state.values.put(key, String::new(), m.clone());
    m
}

/// Records the upstream `versions` just served.
fn remember_versions(mem: &Memory, served: &Served) -> Arc<SeenVersions> {
    let mut slot = lock(&mem.versions);
    if let Some(seen) = slot.as_ref()
        && seen.digest == served.doc.digest
    {
        seen.seen_at.store(now_millis(), Ordering::Relaxed);
        return seen.clone();
    }
    let seen = Arc::new(SeenVersions {
        digest: served.doc.digest.clone(),
        body: served.doc.body.clone(),
        seen_at: AtomicI64::new(now_millis()),
        md5s: OnceLock::new(),
    });
    *slot = Some(seen.clone());
    seen
}

/// An upstream document through the cache; `None` when the upstream has no such document.
async fn document(
    ctx: &Ctx<'_>,
    key: &str,
    package: &str,
    path: &str,
    validate: fn(&[u8]) -> Result<(), String>,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    let proxy = common::proxy::of(ctx)?;
    proxy
        .document(
            &ctx.state.db,
            DocRequest {
                key,
                package,
                url: proxy.upstream_url(path)?,
                accept: None,
                missing: MISSING,
                validate,
                revalidate,
                persist: true,
            },
        )
        .await
}

async fn upstream_versions(ctx: &Ctx<'_>) -> Result<Option<Served>, AppError> {
    document(
        ctx,
        "versions",
        "",
        "versions",
        codec::validate_versions,
        false,
    )
    .await
}

async fn upstream_info(
    ctx: &Ctx<'_>,
    name: &str,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    document(
        ctx,
        &format!("info:{name}"),
        // What `packgate cache purge REPO NAME` looks for (the format's normalized name).
        &packgate_rubygems::similarity_key(name),
        &format!("info/{name}"),
        codec::validate_info,
        revalidate,
    )
    .await
}

/// The cooldown for gem `name`, with "now" rounded down to the minute so that `versions` and
/// `info/NAME` rendered in the same minute agree on every verdict; `None` when none applies.
fn cooldown(proxy: &Proxy, name: &str) -> Option<Cooldown> {
    Cooldown::of(&proxy.settings, name, now_millis() / 60_000 * 60_000)
}

/// `info/NAME` without the lines cooldown `c` hides (see `codec::filter_info`).
fn filter_info(info: &[u8], c: &Cooldown) -> Option<codec::FilteredInfo> {
    codec::filter_info(info, &|created| c.allows_raw(created))
}

/// A compact-index rendering of `body`: ETag = quoted MD5, `Repr-Digest` = SHA-256.
fn compact(body: Bytes) -> Rendered {
    Rendered {
        etag: packgate_rubygems::etag_md5(&body),
        digest: packgate_rubygems::repr_digest(&body),
        body,
    }
}

/// The upstream body as served, its digests computed once per upstream body.
fn passthrough(ctx: &Ctx<'_>, what: &str, served: &Served) -> Rendered {
    let key = format!(
        "rubygems-proxy\0{}\0{what}\0{}",
        ctx.repo.name, served.doc.digest
    );
    if let Some(doc) = ctx.state.cache.get(&key, 0) {
        return doc;
    }
    let doc = compact(served.doc.body.clone());
    ctx.state.cache.put(key, 0, doc.clone());
    doc
}

/// Answers a compact-index document: 304 on a matching ETag; with `ranges` (the upstream's bytes
/// as they are, so the client's copy of an earlier state is a prefix) a `Range: bytes=N-` inside
/// the body gets 206 of its suffix; everything else the whole body. `ETag` and `Repr-Digest`
/// always describe the whole body.
pub(super) fn respond(
    ctx: &Ctx<'_>,
    doc: &Rendered,
    ranges: bool,
    served: &Served,
) -> HttpResponse {
    let req = ctx.req;
    let mut res = if etag::not_modified(req, &doc.etag) {
        HttpResponse::NotModified()
            .insert_header(("etag", doc.etag.clone()))
            .finish()
    } else {
        let mut b = HttpResponse::build(StatusCode::OK);
        b.content_type("text/plain; charset=utf-8")
            .insert_header(("etag", doc.etag.clone()))
            .insert_header(("repr-digest", doc.digest.clone()))
            .insert_header(("cache-control", "no-cache"));
        let range = req
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| parse_range(h, doc.body.len() as u64));
        match range {
            Some(Ok(r)) if ranges => {
                b.status(StatusCode::PARTIAL_CONTENT)
                    .insert_header(("accept-ranges", "bytes"))
                    .insert_header((
                        "content-range",
                        format!("bytes {}-{}/{}", r.start, r.end - 1, doc.body.len()),
                    ));
                b.body(doc.body.slice(r.start as usize..r.end as usize))
            }
            // A range past the end (the upstream compacted its file, the client's copy is
            // longer) or of a regenerated document: the whole body. Bundler 2.3 replaces its
            // copy on a 200; a 416 for "nothing new" made older Bundlers give up.
            _ => b.body(doc.body.clone()),
        }
    };
    cache_headers(&mut res, served);
    res
}

/// `versions` on a proxy (answered by `compact::answer`, read whole by a group).
pub(super) async fn versions_doc(ctx: &Ctx<'_>) -> Result<Compact, AppError> {
    ctx.label("versions");
    ctx.allow(Scope::Read).await?;
    let Some(served) = upstream_versions(ctx).await? else {
        return Err(AppError::NotFound(
            "the upstream serves no compact index (versions)".into(),
        ));
    };
    let mem = memory(ctx);
    remember_versions(&mem, &served);
    let (doc, ranges) = match filtered_versions(ctx, &mem, &served)? {
        Some(doc) => (doc, false),
        None => (passthrough(ctx, "versions", &served), true),
    };
    Ok(Compact {
        doc,
        ranges,
        served: Some(served),
    })
}

/// The cooldown's rendering of `versions` (`None`: the upstream's bytes are served).
struct VersionsRendering {
    doc: Option<Rendered>,
}

/// `versions` with the lines of the gems whose `info/NAME` the cooldown filtered regenerated
/// (their kept versions and the filtered MD5); `None` when nothing is filtered.
fn filtered_versions(
    ctx: &Ctx<'_>,
    mem: &Memory,
    served: &Served,
) -> Result<Option<Rendered>, AppError> {
    let proxy = common::proxy::of(ctx)?;
    if proxy.settings.min_age.is_zero() {
        return Ok(None);
    }
    let overrides: Vec<codec::VersionsOverride> = {
        let mut filtered = lock(&mem.filtered);
        let mut out = Vec::new();
        filtered.retain(|name, gem| {
            let Some(c) = cooldown(proxy, name) else {
                return false;
            };
            match filter_info(&gem.body, &c) {
                Some(f) => {
                    out.push(f.versions_override(name, &gem.md5));
                    true
                }
                // Old enough by now: the upstream's line is right again.
                None => false,
            }
        });
        out
    };
    if overrides.is_empty() {
        return Ok(None);
    }
    let fingerprint: String = overrides
        .iter()
        .map(|o| format!("{} {} {}\n", o.name, o.upstream_md5, o.md5))
        .collect();
    // One slot per repository (the value cache drops everything when it fills up).
    let key = format!("rubygems-proxy-versions\0{}", ctx.repo.name);
    let stamp = format!(
        "{}\0{}",
        served.doc.digest,
        packgate_rubygems::md5_hex(fingerprint.as_bytes())
    );
    if let Some(r) = ctx.state.values.get::<VersionsRendering>(&key, &stamp) {
        return Ok(r.doc.clone());
    }
    let doc = codec::override_versions(&served.doc.body, &overrides)
        .map(|body| compact(Bytes::from(body)));
    ctx.state
        .values
        .put(key, stamp, Arc::new(VersionsRendering { doc: doc.clone() }));
    Ok(doc)
}

/// The MD5 of `info/NAME` that the `versions` this instance serves names for gem `name` (its
/// last line), from the `versions` last served, or fetched through the cache when that is older
/// than `metadata_ttl`. Best effort: `None` when `versions` cannot be had.
async fn listed_md5(ctx: &Ctx<'_>, mem: &Memory, name: &str) -> Option<String> {
    let ttl = common::proxy::of(ctx)
        .ok()?
        .settings
        .metadata_ttl
        .as_millis() as i64;
    let seen = lock(&mem.versions).clone();
    let seen = match seen {
        Some(s) if now_millis() - s.seen_at.load(Ordering::Relaxed) < ttl => s,
        _ => remember_versions(mem, &upstream_versions(ctx).await.ok()??),
    };
    seen.md5s
        .get_or_init(|| codec::info_md5s(&seen.body))
        .get(name)
        .cloned()
}

fn gem_missing(name: &str) -> AppError {
    AppError::NotFound(format!("This gem could not be found: {name}"))
}

/// `info/{name}` on a proxy (answered by `compact::answer`, read whole by a group).
pub(super) async fn info_doc(ctx: &Ctx<'_>, name: &str) -> Result<Compact, AppError> {
    ctx.label("info");
    ctx.allow(Scope::Read).await?;
    let proxy = common::proxy::of(ctx)?;
    if !codec::is_plain_name(name) {
        return Err(gem_missing(name));
    }
    let Some(mut served) = upstream_info(ctx, name, false).await? else {
        return Err(gem_missing(name));
    };
    let mem = memory(ctx);
    // Bundler fetches info/NAME when the MD5 that versions names differs from its copy's: a
    // cached copy older than the versions served must not be what it gets.
    if served.state == CacheState::Hit
        && let Some(listed) = listed_md5(ctx, &mem, name).await
        && listed != packgate_rubygems::md5_hex(&served.doc.body)
    {
        served = upstream_info(ctx, name, true)
            .await?
            .ok_or_else(|| gem_missing(name))?;
    }
    let filtered = cooldown(proxy, name).and_then(|c| filter_info(&served.doc.body, &c));
    {
        // What `versions` needs to carry this gem's filtered MD5 (see `filtered_versions`).
        let mut remembered = lock(&mem.filtered);
        if filtered.is_some() {
            if remembered.len() >= MAX_FILTERED && !remembered.contains_key(name) {
                remembered.clear();
            }
            remembered.insert(
                name.to_string(),
                FilteredGem {
                    body: served.doc.body.clone(),
                    md5: packgate_rubygems::md5_hex(&served.doc.body),
                },
            );
        } else {
            remembered.remove(name);
        }
    }
    let (doc, ranges) = match filtered {
        Some(f) => (compact(Bytes::from(f.body)), false),
        None => (passthrough(ctx, &format!("info\0{name}"), &served), true),
    };
    Ok(Compact {
        doc,
        ranges,
        served: Some(served),
    })
}

/// `names` on a proxy (answered by `compact::answer`, read whole by a group).
pub(super) async fn names_doc(ctx: &Ctx<'_>) -> Result<Compact, AppError> {
    ctx.label("names");
    ctx.allow(Scope::Read).await?;
    let Some(served) = document(ctx, "names", "", "names", codec::validate_names, false).await?
    else {
        return Err(AppError::NotFound("the upstream serves no names".into()));
    };
    Ok(Compact {
        doc: passthrough(ctx, "names", &served),
        ranges: true,
        served: Some(served),
    })
}

/// `GET /specs.4.8.gz`, `/latest_specs.4.8.gz`, `/prerelease_specs.4.8.gz` on a proxy: the
/// upstream's files as they are (not filtered by a cooldown: they carry no dates).
pub async fn specs(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    if !matches!(
        file,
        "specs.4.8.gz" | "latest_specs.4.8.gz" | "prerelease_specs.4.8.gz"
    ) {
        ctx.label("unknown");
        return Err(AppError::NotFound(format!("Not found: {file}")));
    }
    ctx.label("specs");
    ctx.allow(Scope::Read).await?;
    let Some(served) = document(
        ctx,
        &format!("legacy:{file}"),
        "",
        file,
        codec::validate_specs_gz,
        false,
    )
    .await?
    else {
        return Err(AppError::NotFound(format!("Not found: {file}")));
    };
    let doc = Rendered {
        // The same strong ETag `etag::of_bytes` gives, from the digest already computed.
        etag: format!("\"{}\"", &served.doc.digest[..32]),
        digest: String::new(),
        body: served.doc.body.clone(),
    };
    let mut res = crate::routes::common::doc::respond(
        ctx.req,
        doc,
        "application/octet-stream",
        served.doc.fetched_at,
    );
    cache_headers(&mut res, &served);
    Ok(res)
}

/// A file a proxy serves from its upstream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// `gems/{full name}.gem`, checked against `checksum:`.
    Gem,
    /// `quick/Marshal.4.8/{full name}.gemspec.rz`, pinned on first sight.
    QuickSpec,
}

/// `GET /gems/{file}` on a proxy.
pub async fn gem_file(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("gem");
    ctx.allow(Scope::Read).await?;
    upstream_file(ctx, file, FileKind::Gem).await
}

/// `GET /quick/Marshal.4.8/{file}` on a proxy.
pub async fn quick_spec(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("quick_spec");
    ctx.allow(Scope::Read).await?;
    upstream_file(ctx, file, FileKind::QuickSpec).await
}

fn file_missing(file: &str) -> AppError {
    AppError::NotFound(format!("Not found: {file}"))
}

/// The gem and `info/NAME` line a file stem stands for, asking the upstream once more when the
/// cached `info/NAME` does not list it (a version published upstream since).
async fn resolve(
    ctx: &Ctx<'_>,
    stem: &str,
) -> Result<Option<(String, codec::InfoEntry, Served)>, AppError> {
    for (name, key) in codec::file_candidates(stem) {
        if !codec::is_plain_name(name) {
            continue;
        }
        for revalidate in [false, true] {
            let Some(served) = upstream_info(ctx, name, revalidate).await? else {
                break;
            };
            if let Some(entry) = codec::find_info_line(&served.doc.body, key) {
                return Ok(Some((name.to_string(), entry, served)));
            }
            if served.state != CacheState::Hit {
                break;
            }
        }
    }
    Ok(None)
}

async fn upstream_file(
    ctx: &Ctx<'_>,
    file: &str,
    kind: FileKind,
) -> Result<HttpResponse, AppError> {
    let proxy = common::proxy::of(ctx)?;
    // Cached files stay downloadable by their exact path, also after the upstream dropped them.
    if let Some((_, _, _, b)) =
        packages::find_file_in_repo(&ctx.state.db, &ctx.repo.name, file).await?
    {
        return serve_hit(ctx, proxy, &b.sha256, b.size, "application/octet-stream").await;
    }
    let (suffix, upstream_dir) = match kind {
        FileKind::Gem => (".gem", "gems"),
        FileKind::QuickSpec => (".gemspec.rz", "quick/Marshal.4.8"),
    };
    let stem = file
        .strip_suffix(suffix)
        .filter(|s| !s.contains(['/', '\\']))
        .ok_or_else(|| file_missing(file))?;
    let Some((name, entry, info)) = resolve(ctx, stem).await? else {
        return Err(AppError::NotFound(format!(
            "{file} is not a file of a version the upstream's index lists"
        )));
    };
    if let Some(c) = cooldown(proxy, &name)
        && !c.allows_raw(entry.created_at.as_deref())
    {
        return Err(common::proxy::too_young(
            proxy,
            &format!("{name} {}", entry.key),
        ));
    }
    let expected = match kind {
        FileKind::QuickSpec => Expected::FirstSeen,
        FileKind::Gem => match &entry.sha256 {
            Some(hex) => Expected::Sha256(hex.clone()),
            None => {
                return Err(AppError::Upstream(format!(
                    "the upstream's info/{name} declares no checksum for {}; packgate does not cache unverifiable files",
                    entry.key
                )));
            }
        },
    };
    let metadata = codec::spec_from_info(&name, &info.doc.body, &entry.key)
        .map(|spec| serde_json::to_string(&spec))
        .transpose()
        .map_err(AppError::internal)?
        .unwrap_or_default();
    let version = entry
        .key
        .split('-')
        .next()
        .unwrap_or(&entry.key)
        .to_string();
    let request = FileRequest {
        url: proxy.upstream_url(&format!("{upstream_dir}/{file}"))?,
        expected,
        identity: Identity {
            // The exact name (gem names are case-sensitive; old upstream gems differ only by case).
            normalized_name: name.clone(),
            name,
            version,
            normalized_version: entry.key.clone(),
        },
        file_name: file.to_string(),
        metadata,
        check: None,
    };
    let Some((d, state)) = proxy.file(&ctx.state.sinks(), request).await? else {
        return Err(file_missing(file));
    };
    serve_file(ctx, &d.sha256, d.size, "application/octet-stream", state).await
}
