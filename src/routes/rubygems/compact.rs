//! The compact index: `versions` (append-only, Range-capable), `info/NAME`, `names`, and the
//! source-root probe. ETag is the quoted MD5 of the full body (Bundler ≤ 2.4 checks exactly that);
//! `Repr-Digest` carries its SHA-256 (Bundler 2.5+).

use super::{GemResult, VERSIONS, info_body};
use crate::error::AppError;
use crate::routes::common::blob::parse_range;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::routes::common::doc;
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
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

/// Answers a compact-index document: 304 on a matching ETag, otherwise the full body, or with
/// `allow_range` the requested suffix (206) of an append-only document.
fn respond(req: &HttpRequest, doc: &Rendered, allow_range: bool) -> HttpResponse {
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

/// `HEAD|GET /{repo}/`: RubyGems < 3.6 probes the source root to choose the compact index.
pub async fn root(r: RepoRequest) -> GemResult {
    let ctx = r.ctx();
    ctx.label("root");
    ctx.allow(Scope::Read).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("packgate RubyGems source {}\n", ctx.repo_url())))
}

/// The `versions` document, rendered from the append-only log when it changed.
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

/// `GET /versions`.
pub async fn versions(r: RepoRequest) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Ok(super::proxy::versions(&ctx).await?);
    }
    ctx.label("versions");
    ctx.allow(Scope::Read).await?;
    let doc = versions_doc(&ctx).await?;
    Ok(respond(ctx.req, &doc, true))
}

/// `GET /info/{name}`: 404 for unknown gems; `---\n` only for a gem whose versions are all yanked.
pub async fn info(r: RepoRequest, name: web::Path<String>) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Ok(super::proxy::info(&ctx, &name).await?);
    }
    ctx.label("info");
    ctx.allow(Scope::Read).await?;
    let missing = || AppError::NotFound(format!("This gem could not be found: {name}"));
    let key = packgate_rubygems::similarity_key(&name);
    let pkg = packages::find(&ctx.state.db, &ctx.repo.name, &key)
        .await?
        .ok_or_else(missing)?;
    if pkg.name != *name {
        return Err(missing().into());
    }
    let cache_key = format!("rubygems\0{}\0info\0{}", ctx.repo.name, pkg.id);
    let doc = doc::cached_with(ctx.state, cache_key, pkg, info_body, rendered).await?;
    Ok(respond(ctx.req, &doc, false))
}

/// `GET /names`.
pub async fn names(r: RepoRequest) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Ok(super::proxy::names(&ctx).await?);
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
    Ok(respond(
        ctx.req,
        &rendered(packgate_rubygems::render_names(&names)),
        false,
    ))
}
