//! `npm dist-tag ls|add|rm`: `GET|PUT|DELETE /-/package/{name}/dist-tags[/{tag}]`.

use super::publish::require_owner;
use super::view::{DIST_TAG, dist_tags};
use super::{Body, Ctx, json, not_found};
use crate::error::AppError;
use crate::services::auth::Scope;
use crate::services::packages;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::json;

/// The tags of a package as a JSON object.
pub async fn list(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("dist_tags");
    ctx.allow(Scope::Read).await?;
    let desc = packages::load(&ctx.state.db, &ctx.repo.name, name)
        .await?
        .ok_or_else(not_found)?;
    Ok(json(
        StatusCode::OK,
        serde_json::to_value(dist_tags(&desc)).map_err(AppError::internal)?,
    ))
}

/// Points a tag at an existing version; the body is a JSON string (`"1.2.0"`).
pub async fn set(
    ctx: &Ctx<'_>,
    name: &str,
    tag: &str,
    body: Body,
) -> Result<HttpResponse, AppError> {
    ctx.label("dist_tags");
    let who = ctx.require(Scope::Publish).await?;
    packgate_npm::validate_dist_tag(tag)?;
    let spooled = ctx.state.spool.body(body, 64 * 1024).await?;
    let text = std::fs::read_to_string(spooled.path())?;
    let version: String = serde_json::from_str(text.trim()).map_err(|_| {
        AppError::Invalid(
            "the request body must be a JSON string naming a version, like \"1.2.0\"".into(),
        )
    })?;
    let desc = packages::load(&ctx.state.db, &ctx.repo.name, name)
        .await?
        .ok_or_else(not_found)?;
    require_owner(&who, &desc, "change dist-tags of")?;
    if !desc.versions.iter().any(|v| v.version.version == version) {
        return Err(AppError::NotFound(format!(
            "version {version} of {name} does not exist"
        )));
    }
    packages::set_property(
        &ctx.state.db,
        desc.package.id,
        &format!("{DIST_TAG}{tag}"),
        Some(&version),
    )
    .await?;
    Ok(json(StatusCode::CREATED, json!({"ok": true})))
}

/// Removes a tag (never `latest`).
pub async fn remove(ctx: &Ctx<'_>, name: &str, tag: &str) -> Result<HttpResponse, AppError> {
    ctx.label("dist_tags");
    let who = ctx.require(Scope::Publish).await?;
    if tag == "latest" {
        return Err(AppError::Invalid(
            "the latest tag cannot be removed; point it at another version instead".into(),
        ));
    }
    let desc = packages::load(&ctx.state.db, &ctx.repo.name, name)
        .await?
        .ok_or_else(not_found)?;
    require_owner(&who, &desc, "change dist-tags of")?;
    if !dist_tags(&desc).contains_key(tag) {
        return Err(AppError::NotFound(format!(
            "{name} has no dist-tag {tag:?}"
        )));
    }
    packages::set_property(
        &ctx.state.db,
        desc.package.id,
        &format!("{DIST_TAG}{tag}"),
        None,
    )
    .await?;
    Ok(json(StatusCode::OK, json!({"ok": true})))
}
