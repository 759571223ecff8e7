//! What the proxy routes of every format share: the repository's proxy, the 405 for writes (each
//! format renders it in its own error body), and the `X-Packgate-Cache` (and `Age`) headers of
//! what a proxy serves.

use super::blob;
use super::ctx::Ctx;
use crate::error::AppError;
use crate::services::proxy::{CacheState, DocRequest, Proxy, Served};
use actix_web::HttpResponse;
use actix_web::http::header::{AGE, HeaderName, HeaderValue};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The proxy of this repository (the dispatchers call proxy handlers for proxies only).
pub fn of<'a>(ctx: &Ctx<'a>) -> Result<&'a Arc<Proxy>, AppError> {
    ctx.repo.proxy.as_ref().ok_or_else(|| {
        AppError::internal(format!(
            "{} proxy handler on a hosted repository",
            ctx.repo.format
        ))
    })
}

/// The upstream's origin (`https://registry.example`), as messages name it; empty for a hosted
/// repository.
pub fn upstream_label(ctx: &Ctx<'_>) -> String {
    ctx.repo
        .proxy
        .as_ref()
        .map(|p| p.settings.upstream.origin().ascii_serialization())
        .unwrap_or_default()
}

/// The 405 for every write to a proxy, labelled `proxy_write`: "repository "R" is a read-only proxy
/// of {upstream}: {writes} in a hosted repository" (`writes`: what the format's clients do, e.g.
/// "publish, tag and unpublish").
pub fn read_only(ctx: &Ctx<'_>, writes: &str) -> AppError {
    ctx.label("proxy_write");
    AppError::NotAllowed(format!(
        "repository {:?} is a read-only proxy of {}: {writes} in a hosted repository",
        ctx.repo.name,
        upstream_label(ctx)
    ))
}

/// The 403 for a version `what` (`name@1.0.0`) the cooldown hides.
pub fn too_young(proxy: &Proxy, what: &str) -> AppError {
    AppError::Forbidden(format!(
        "{what} is younger than this repository's min_age cooldown ({} s); it is served once it is older",
        proxy.settings.min_age.as_secs()
    ))
}

/// Adds `X-Packgate-Cache: {state}`, and `Age` for a stale or offline copy.
pub fn cache_headers(res: &mut HttpResponse, served: &Served) {
    mark(res, served.state);
    if matches!(served.state, CacheState::Stale | CacheState::Offline) {
        res.headers_mut()
            .insert(AGE, HeaderValue::from(served.age_secs()));
    }
}

/// Adds `X-Packgate-Cache: {state}`.
fn mark(res: &mut HttpResponse, state: CacheState) {
    res.headers_mut().insert(
        HeaderName::from_static("x-packgate-cache"),
        HeaderValue::from_static(state.as_str()),
    );
}

/// A file of the proxy cache (`sha256`, `size`) from the blob store, marked with `state`
/// (`Hit`: already cached, `Miss`: fetched for this request).
pub async fn serve_file(
    ctx: &Ctx<'_>,
    sha256: &str,
    size: u64,
    content_type: &str,
    state: CacheState,
) -> Result<HttpResponse, AppError> {
    // A file fetched just now may still be on its way into the store: served from its verified
    // temp file (held open by the stream, so its removal later does not cut the response).
    let local = of(ctx).ok().and_then(|p| p.storing_file(sha256));
    let mut res = blob::serve_from(
        ctx.req,
        ctx.state,
        sha256,
        size,
        content_type,
        local.as_ref().map(|f| f.path()),
    )
    .await?;
    mark(&mut res, state);
    Ok(res)
}

/// A file the cache already holds: counted as a hit of `proxy` and served (see [`serve_file`]).
pub async fn serve_hit(
    ctx: &Ctx<'_>,
    proxy: &Proxy,
    sha256: &str,
    size: u64,
    content_type: &str,
) -> Result<HttpResponse, AppError> {
    proxy.stats.hits.fetch_add(1, Ordering::Relaxed);
    serve_file(ctx, sha256, size, content_type, CacheState::Hit).await
}

/// The request's query string for forwarding (search, autocomplete), refused past `max` bytes
/// ("{what} longer than {max} bytes").
pub fn forwardable_query<'r>(ctx: &Ctx<'r>, max: usize, what: &str) -> Result<&'r str, AppError> {
    let query = ctx.req.query_string();
    if query.len() > max {
        return Err(AppError::Invalid(format!("{what} longer than {max} bytes")));
    }
    Ok(query)
}

/// A search-like answer of the upstream at `url` (query included), cached under `key` a short
/// while in this instance's memory only, never in the database; `None` when the upstream has none.
pub async fn forward(
    ctx: &Ctx<'_>,
    key: &str,
    url: url::Url,
    validate: fn(&[u8]) -> Result<(), String>,
) -> Result<Option<Served>, AppError> {
    of(ctx)?
        .document(
            &ctx.state.db,
            DocRequest {
                key,
                package: "",
                url,
                accept: Some("application/json"),
                missing: &[],
                validate,
                revalidate: false,
                persist: false,
            },
        )
        .await
}

/// A forwarded answer: `body` as `content_type`, not to be cached by clients, with the cache
/// headers of `served`.
pub fn forwarded(content_type: &str, body: bytes::Bytes, served: &Served) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "no-cache"))
        .body(body);
    cache_headers(&mut res, served);
    res
}
