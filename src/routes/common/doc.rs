//! Per-package documents rendered from the database and cached by the package's change stamp
//! (`DocCache`), and their conditional responses (ETag, `If-None-Match` → 304, Last-Modified).

use crate::error::AppError;
use crate::services::cache::Rendered;
use crate::services::packages::{self, PackageDescriptor};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;

/// The rendering of `key` for `pkg`: from the cache when it was rendered at the package's current
/// change stamp, else loaded (versions, files, properties) and rendered by `render`, with a strong
/// ETag of the body.
pub async fn cached<F>(
    state: &AppState,
    key: String,
    pkg: packages::Package,
    render: F,
) -> Result<Rendered, AppError>
where
    F: FnOnce(&PackageDescriptor) -> Result<Vec<u8>, AppError>,
{
    cached_with(state, key, pkg, render, |body| Rendered {
        etag: super::etag::of_bytes(&body),
        digest: String::new(),
        body: Bytes::from(body),
    })
    .await
}

/// [`cached`] with the format's own ETag and digest (`finish` turns the body into the cached
/// rendering, once per change).
pub async fn cached_with<F>(
    state: &AppState,
    key: String,
    pkg: packages::Package,
    render: F,
    finish: fn(Vec<u8>) -> Rendered,
) -> Result<Rendered, AppError>
where
    F: FnOnce(&PackageDescriptor) -> Result<Vec<u8>, AppError>,
{
    let stamp = pkg.change_stamp;
    if let Some(doc) = state.cache.get(&key, stamp) {
        return Ok(doc);
    }
    let desc = packages::load_for(&state.db, pkg).await?;
    let doc = finish(render(&desc)?);
    state.cache.put(key, stamp, doc.clone());
    Ok(doc)
}

/// 304 when the request's `If-None-Match` matches, else 200 with the body, its ETag,
/// `Last-Modified` (from `updated_millis`) and `Cache-Control: no-cache`.
pub fn respond(
    req: &HttpRequest,
    doc: Rendered,
    content_type: &str,
    updated_millis: i64,
) -> HttpResponse {
    if super::etag::not_modified(req, &doc.etag) {
        return HttpResponse::NotModified()
            .insert_header(("etag", doc.etag))
            .insert_header(("cache-control", "no-cache"))
            .finish();
    }
    let last_modified = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(updated_millis.max(0) as u64),
    );
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("etag", doc.etag))
        .insert_header(("last-modified", last_modified))
        .insert_header(("cache-control", "no-cache"))
        .body(doc.body)
}
