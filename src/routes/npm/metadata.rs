//! GET/HEAD of packuments (full and abbreviated, content-negotiated) and of one version's manifest.

use super::view::{Objects, dist_tags, package_view, render_packument};
use super::{Ctx, not_found};
use crate::error::AppError;
use crate::routes::common::{doc, etag};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::packages;
use actix_web::HttpResponse;

/// Renders (or takes from the cache) the packument of a package; `None` when it does not exist.
/// A new rendering reuses the version objects of the last one that did not change (a package
/// that gains a version is not parsed and rendered whole again).
pub(super) async fn packument(
    ctx: &Ctx<'_>,
    name: &str,
    abbreviated: bool,
) -> Result<Option<(Rendered, i64)>, AppError> {
    let Some(pkg) = packages::find(&ctx.state.db, &ctx.repo.name, name).await? else {
        return Ok(None);
    };
    let registry = ctx.repo_url();
    let key = format!(
        "npm\0{}\0{}\0{}\0{abbreviated}\0{registry}",
        ctx.repo.name, pkg.id, name
    );
    let (updated, stamp) = (pkg.updated_at, pkg.change_stamp);
    if let Some(doc) = ctx.state.cache.get(&key, stamp) {
        return Ok(Some((doc, updated)));
    }
    let previous = ctx.state.cache.previous::<Objects>(&key);
    let desc = packages::load_for(&ctx.state.db, pkg).await?;
    if desc.versions.is_empty() {
        return Err(not_found());
    }
    let (body, objects) = render_packument(
        &desc,
        &registry,
        abbreviated,
        previous
            .as_ref()
            .map(|(doc, objects)| (&doc.body, objects.as_ref())),
    );
    let doc = Rendered {
        etag: etag::of_bytes(&body),
        digest: String::new(),
        body: bytes::Bytes::from(body),
    };
    let weight = objects.weight();
    ctx.state.cache.put_with_parts(
        key,
        stamp,
        doc.clone(),
        std::sync::Arc::new(objects),
        weight,
    );
    Ok(Some((doc, updated)))
}

/// `GET /{name}`: the packument; the abbreviated form when Accept asks for it (and not `?write=true`).
pub async fn get_packument(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("packument");
    ctx.allow(Scope::Read).await?;
    let abbreviated = wants_abbreviated(ctx);
    let Some((doc, updated)) = packument(ctx, name, abbreviated).await? else {
        return Err(not_found());
    };
    Ok(respond_packument(ctx, doc, abbreviated, updated))
}

/// Whether the request asks for the abbreviated packument: its `Accept` names npm's install
/// form, and it is not a `?write=true` read (npm reads the full document before it edits one).
pub(super) fn wants_abbreviated(ctx: &Ctx<'_>) -> bool {
    let accept = ctx
        .req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let write = ctx.req.query_string().split('&').any(|p| p == "write=true");
    !write && packgate_npm::wants_abbreviated(accept)
}

/// The packument response (hosted or proxy): its content type, ETag/304, and `Vary: Accept`,
/// since the full and the abbreviated packument share the URL.
pub(super) fn respond_packument(
    ctx: &Ctx<'_>,
    doc: Rendered,
    abbreviated: bool,
    updated_millis: i64,
) -> HttpResponse {
    let content_type = if abbreviated {
        "application/vnd.npm.install-v1+json"
    } else {
        "application/json"
    };
    let mut res = doc::respond(ctx.req, doc, content_type, updated_millis);
    res.headers_mut().insert(
        actix_web::http::header::VARY,
        actix_web::http::header::HeaderValue::from_static("Accept"),
    );
    res
}

/// `GET /{name}/{version-or-tag}`: one version's manifest, as it appears in the full packument.
pub async fn get_version(
    ctx: &Ctx<'_>,
    name: &str,
    wanted: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("version");
    ctx.allow(Scope::Read).await?;
    let Some(desc) = packages::load(&ctx.state.db, &ctx.repo.name, name).await? else {
        return Err(not_found());
    };
    let version = dist_tags(&desc)
        .get(wanted)
        .cloned()
        .unwrap_or_else(|| wanted.to_string());
    let doc: serde_json::Value = serde_json::from_slice(&packgate_npm::render_full(&package_view(
        &desc,
        &ctx.repo_url(),
    )))
    .map_err(AppError::internal)?;
    let Some(v) = doc.get("versions").and_then(|v| v.get(&version)) else {
        return Err(AppError::NotFound(format!(
            "version {wanted:?} of {name} not found"
        )));
    };
    let body = v.to_string();
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("etag", etag::of_bytes(body.as_bytes())))
        .insert_header(("cache-control", "no-cache"))
        .body(body))
}
