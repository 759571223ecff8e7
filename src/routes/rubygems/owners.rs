//! `gem owner NAME` (list), `gem owner NAME --add X` and `--remove X`: the RubyGems owners API,
//! `GET /api/v1/gems/{name}/owners.yaml`, `POST` and `DELETE
//! /api/v1/gems/{name}/owners` with the form field `email` (an e-mail address or a login). Owners
//! may push new versions, yank and manage owners; a gem always keeps at least one owner.

use super::{GemResult, load_gem};
use crate::error::AppError;
use crate::routes::common::ctx::RepoRequest;
use crate::services::auth::Scope;
use crate::services::owners;
use actix_web::{HttpResponse, web};

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// `GET /api/v1/gems/{name}/owners.yaml`.
pub async fn list(r: RepoRequest, path: web::Path<(String, String)>) -> GemResult {
    let ctx = r.ctx();
    ctx.label("owners");
    ctx.allow(Scope::Read).await?;
    let (name, ext) = path.into_inner();
    let desc = load_gem(&ctx, &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("This rubygem could not be found: {name}")))?;
    let owners: Vec<(i64, &str, Option<&str>)> = desc
        .owners
        .iter()
        .map(|o| (o.id, o.login.as_str(), o.email.as_deref()))
        .collect();
    Ok(match ext.as_str() {
        "yaml" => HttpResponse::Ok()
            .content_type("application/x-yaml")
            .body(packgate_rubygems::owners_yaml(&owners)),
        _ => return Err(AppError::NotFound(format!("Not found: owners.{ext}")).into()),
    })
}

/// `POST /api/v1/gems/{name}/owners` (`add = true`) and `DELETE` (`add = false`).
async fn change(r: RepoRequest, payload: web::Payload, name: String, add: bool) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(&ctx).into());
    }
    ctx.label("owners");
    let who = ctx.require(Scope::Publish).await?;
    let body = actix_web::dev::Decompress::from_headers(payload.into_inner(), ctx.req.headers());
    let spooled = ctx.state.spool.body(body, 64 * 1024).await?;
    let mut form = String::from_utf8_lossy(&std::fs::read(spooled.path())?).into_owned();
    if form.is_empty() {
        form = ctx.req.query_string().to_string();
    }
    let wanted_id = crate::routes::common::query::pairs(&form)
        .into_iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AppError::Invalid("The form field `email` names no user.".into()))?;
    let desc = load_gem(&ctx, &name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("This rubygem could not be found: {name}")))?;
    let current = owners::of(&desc);
    owners::require(&who, &current, &name, |gem| {
        AppError::Forbidden(format!(
            "You do not have permission to manage the owners of {gem}."
        ))
    })?;
    let user = owners::find_user(&ctx.state.db, &wanted_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("Owner could not be found: {wanted_id}")))?;
    if !add && !current.iter().any(|(id, _)| *id == user.id) {
        return Err(AppError::NotFound(format!("{} is not an owner of {name}.", user.name)).into());
    }
    owners::change_one(&ctx.state.db, desc.package.id, &current, &user, add).await?;
    Ok(text(if add {
        format!("{} was added as an owner of {name}.", user.name)
    } else {
        format!("{} was removed from the owners of {name}.", user.name)
    }))
}

/// `POST /api/v1/gems/{name}/owners`.
pub async fn add(r: RepoRequest, payload: web::Payload, name: web::Path<String>) -> GemResult {
    change(r, payload, name.into_inner(), true).await
}

/// `DELETE /api/v1/gems/{name}/owners`.
pub async fn remove(r: RepoRequest, payload: web::Payload, name: web::Path<String>) -> GemResult {
    change(r, payload, name.into_inner(), false).await
}
