//! The compact index: `versions` (append-only, Range-capable), `info/NAME`, `names`, and the
//! source-root probe. ETag is the quoted MD5 of the full body (Bundler ≤ 2.4 checks exactly that);
//! `Repr-Digest` carries its SHA-256 (Bundler 2.5+).
//!
//! Each document has a function of a [`Ctx`] returning it before it meets the request
//! ([`versions_of`], [`info_of`], [`names_of`], for hosted and proxy repositories alike): the
//! route answers it to the client ([`answer`]: 304, 206 or 200), a group reads it whole
//! ([`whole`]) to merge it.

use super::{GemResult, VERSIONS, info_body};
use crate::error::AppError;
use crate::routes::common::blob::parse_range;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::routes::common::doc;
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::proxy::Served;
use crate::services::time::iso8601;
use crate::services::{index_log, packages};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;

/// A compact-index document with its ETag (quoted MD5) and `Repr-Digest`, computed once per
/// rendering, never per request.
pub(super) fn rendered(body: Vec<u8>) -> Rendered {
    Rendered {
        etag: packgate_rubygems::etag_md5(&body),
        digest: packgate_rubygems::repr_digest(&body),
        body: Bytes::from(body),
    }
}

/// A compact-index document of a hosted or proxy repository, before it is answered.
pub(super) struct Compact {
    /// The document.
    pub doc: Rendered,
    /// Whether a `Range: bytes=N-` may get a 206: the bytes only ever grow (the hosted
    /// `versions` log, or an upstream's bytes as they are).
    pub ranges: bool,
    /// How a proxy's cache served it (`X-Packgate-Cache`, `Age`); `None` for a hosted repository.
    pub served: Option<Served>,
}

impl Compact {
    fn hosted(doc: Rendered, ranges: bool) -> Self {
        Compact {
            doc,
            ranges,
            served: None,
        }
    }
}

/// Answers a compact-index document: 304 on a matching ETag, otherwise the full body, or with
/// `allow_range` the requested suffix (206) of an append-only document (416 for a range that
/// starts past its end: Bundler 2.3 and 2.5+ ask again without `Range`).
pub(super) fn respond(req: &HttpRequest, doc: &Rendered, allow_range: bool) -> HttpResponse {
    let body = &doc.body;
    if crate::routes::common::etag::not_modified(req, &doc.etag) {
        return HttpResponse::NotModified()
            .insert_header(("etag", doc.etag.clone()))
            .finish();
    }
    let mut res = HttpResponse::build(StatusCode::OK);
    res.content_type("text/plain; charset=utf-8")
        .insert_header(("etag", doc.etag.clone()))
        .insert_header(("repr-digest", doc.digest.clone()))
        .insert_header(("cache-control", "no-cache"));
    if allow_range {
        res.insert_header(("accept-ranges", "bytes"));
        let range = req
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| parse_range(h, body.len() as u64));
        match range {
            Some(Ok(r)) => {
                res.status(StatusCode::PARTIAL_CONTENT).insert_header((
                    "content-range",
                    format!("bytes {}-{}/{}", r.start, r.end - 1, body.len()),
                ));
                return res.body(body.slice(r.start as usize..r.end as usize));
            }
            Some(Err(())) => {
                return HttpResponse::RangeNotSatisfiable()
                    .insert_header(("content-range", format!("bytes */{}", body.len())))
                    .finish();
            }
            None => {}
        }
    }
    res.body(body.clone())
}

/// Answers a document of [`versions_of`], [`info_of`] or [`names_of`] to the client: its
/// conditional and range headers apply (a proxy's own rules for past-the-end ranges included).
pub(super) fn answer(ctx: &Ctx<'_>, c: &Compact) -> HttpResponse {
    match &c.served {
        Some(served) => super::proxy::respond(ctx, &c.doc, c.ranges, served),
        None => respond(ctx.req, &c.doc, c.ranges),
    }
}

/// A document whole, whatever the request asks (no 304, no 206): what a group reads from a
/// member, with the member's ETag and, from a proxy, its cache state.
pub(super) fn whole(c: &Compact) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("etag", c.doc.etag.clone()))
        .insert_header(("repr-digest", c.doc.digest.clone()))
        .body(c.doc.body.clone());
    if let Some(served) = &c.served {
        crate::routes::common::proxy::cache_headers(&mut res, served);
    }
    res
}

/// `HEAD|GET /{repo}/`: RubyGems < 3.6 probes the source root to choose the compact index.
pub async fn root(r: RepoRequest) -> GemResult {
    let ctx = r.ctx();
    ctx.label("root");
    ctx.allow(Scope::Read).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("packgate RubyGems source {}\n", ctx.repo_url())))
}

/// The `versions` document of a hosted repository, rendered from the append-only log when it
/// changed.
pub(super) async fn versions_doc(ctx: &Ctx<'_>) -> Result<Rendered, AppError> {
    let stamp = index_log::stamp(&ctx.state.db, &ctx.repo.name, VERSIONS).await?;
    let key = format!("rubygems\0{}\0versions", ctx.repo.name);
    if let Some(doc) = ctx.state.cache.get(&key, stamp) {
        return Ok(doc);
    }
    let (first, newest, lines) = index_log::load(&ctx.state.db, &ctx.repo.name, VERSIONS).await?;
    // The header never changes once the first line exists, so the document only ever grows.
    let created = iso8601(first.unwrap_or(0));
    let created = format!("{}Z", created.split('.').next().unwrap_or(&created));
    let lines: Vec<String> = lines.into_iter().map(|l| format!("{l}\n")).collect();
    let doc = rendered(packgate_rubygems::render_versions(&created, &lines));
    ctx.state.cache.put(key, newest, doc.clone());
    Ok(doc)
}

/// `versions` of a hosted or proxy repository.
pub(super) async fn versions_of(ctx: &Ctx<'_>) -> Result<Compact, AppError> {
    if ctx.repo.proxy.is_some() {
        return super::proxy::versions_doc(ctx).await;
    }
    ctx.label("versions");
    ctx.allow(Scope::Read).await?;
    Ok(Compact::hosted(versions_doc(ctx).await?, true))
}

/// `GET /versions`.
pub async fn versions(r: RepoRequest) -> GemResult {
    let ctx = r.ctx();
    let c = versions_of(&ctx).await?;
    Ok(answer(&ctx, &c))
}

/// `info/{name}` of a hosted or proxy repository: 404 for unknown gems; `---\n` only for a gem
/// whose versions are all yanked.
pub(super) async fn info_of(ctx: &Ctx<'_>, name: &str) -> Result<Compact, AppError> {
    if ctx.repo.proxy.is_some() {
        return super::proxy::info_doc(ctx, name).await;
    }
    ctx.label("info");
    ctx.allow(Scope::Read).await?;
    let missing = || AppError::NotFound(format!("This gem could not be found: {name}"));
    let key = packgate_rubygems::similarity_key(name);
    let pkg = packages::find(&ctx.state.db, &ctx.repo.name, &key)
        .await?
        .ok_or_else(missing)?;
    if pkg.name != name {
        return Err(missing());
    }
    let cache_key = format!("rubygems\0{}\0info\0{}", ctx.repo.name, pkg.id);
    let doc = doc::cached_with(ctx.state, cache_key, pkg, info_body, rendered).await?;
    Ok(Compact::hosted(doc, false))
}

/// `GET /info/{name}`.
pub async fn info(r: RepoRequest, name: web::Path<String>) -> GemResult {
    let ctx = r.ctx();
    let c = info_of(&ctx, &name).await?;
    Ok(answer(&ctx, &c))
}

/// `names` of a hosted or proxy repository.
pub(super) async fn names_of(ctx: &Ctx<'_>) -> Result<Compact, AppError> {
    if ctx.repo.proxy.is_some() {
        return super::proxy::names_doc(ctx).await;
    }
    ctx.label("names");
    ctx.allow(Scope::Read).await?;
    let mut names: Vec<String> = packages::all_versions(&ctx.state.db, &ctx.repo.name)
        .await?
        .into_iter()
        .filter(|(_, vs)| vs.iter().any(|v| !v.yanked))
        .map(|(p, _)| p.name)
        .collect();
    names.sort();
    Ok(Compact::hosted(
        rendered(packgate_rubygems::render_names(&names)),
        false,
    ))
}

/// `GET /names`.
pub async fn names(r: RepoRequest) -> GemResult {
    let ctx = r.ctx();
    let c = names_of(&ctx).await?;
    Ok(answer(&ctx, &c))
}
