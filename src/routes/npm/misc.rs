//! `npm ping`, `npm search`, the audit endpoints (answered "no advisories" so installs never fail
//! or hang on them) and the signing-keys endpoint.

use super::{Body, Ctx, json};
use crate::error::AppError;
use crate::services::auth::Scope;
use crate::services::packages;
use crate::services::time::{iso8601, now_millis};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::json;

/// `GET /-/ping`.
pub async fn ping(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("ping");
    Ok(json(StatusCode::OK, json!({})))
}

/// `GET /-/npm/v1/keys`: no registry signatures.
pub async fn keys(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("keys");
    Ok(json(StatusCode::OK, json!({"keys": []})))
}

async fn drain(ctx: &Ctx<'_>, body: Body) -> Result<serde_json::Value, AppError> {
    let spooled = ctx.state.spool.body(body, ctx.repo.max_upload).await?;
    let text = std::fs::read(spooled.path())?;
    serde_json::from_slice(&text)
        .map_err(|e| AppError::Invalid(format!("the audit request is not valid JSON: {e}")))
}

/// `POST /-/npm/v1/security/advisories/bulk` (gzip body): no advisories.
pub async fn audit_bulk(ctx: &Ctx<'_>, body: Body) -> Result<HttpResponse, AppError> {
    ctx.label("audit");
    drain(ctx, body).await?;
    Ok(json(StatusCode::OK, json!({})))
}

/// `POST /-/npm/v1/security/audits/quick` (npm 10's fallback): an empty report.
pub async fn audit_quick(ctx: &Ctx<'_>, body: Body) -> Result<HttpResponse, AppError> {
    ctx.label("audit");
    drain(ctx, body).await?;
    Ok(json(
        StatusCode::OK,
        json!({"actions": [], "advisories": {}, "muted": [], "metadata": {"vulnerabilities": {"info": 0, "low": 0, "moderate": 0, "high": 0, "critical": 0}, "dependencies": 0, "devDependencies": 0, "optionalDependencies": 0, "totalDependencies": 0}}),
    ))
}

/// `GET /-/v1/search?text=&size=&from=`: packages whose name contains a term, filtered by
/// `keywords:` and `scope:` qualifiers, newest version shown.
pub async fn search(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let mut text = String::new();
    let mut size: u64 = 20;
    let mut from: u64 = 0;
    for (k, v) in crate::routes::common::query::pairs(ctx.req.query_string()) {
        match k.as_str() {
            "text" => text = v,
            "size" => size = v.parse().unwrap_or(20).clamp(1, 250),
            "from" => from = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let q = packgate_npm::parse_search_text(&text);
    let candidates = packages::search(&ctx.state.db, &ctx.repo.name, &q.terms, 10_000).await?;
    let registry = ctx.repo_url();
    let mut hits = Vec::new();
    for pkg in candidates {
        if let Some(scope) = &q.scope
            && !pkg.name.starts_with(&format!("@{scope}/"))
        {
            continue;
        }
        let desc = packages::load_for(&ctx.state.db, pkg).await?;
        let tags = super::view::dist_tags(&desc);
        let Some(latest) = tags.get("latest") else {
            continue;
        };
        let Some(v) = desc.versions.iter().find(|v| &v.version.version == latest) else {
            continue;
        };
        let manifest: serde_json::Value = v.version.metadata().unwrap_or_default();
        let keywords = packgate_npm::manifest_keywords(&manifest);
        if !packgate_npm::has_keywords(&keywords, &q.keywords) {
            continue;
        }
        hits.push(packgate_npm::SearchHit {
            name: desc.package.name.clone(),
            version: latest.clone(),
            description: manifest
                .get("description")
                .and_then(|d| d.as_str())
                .map(str::to_string),
            keywords,
            date: iso8601(v.version.created_at),
            link: format!("{registry}/{}", desc.package.name),
            publisher: manifest
                .get("_npmUser")
                .and_then(|u| u.get("name"))
                .and_then(|n| n.as_str())
                .map(str::to_string),
        });
    }
    let total = hits.len() as u64;
    let page: Vec<_> = hits
        .into_iter()
        .skip(from as usize)
        .take(size as usize)
        .collect();
    let body = packgate_npm::render_search(&page, total, &iso8601(now_millis()));
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
