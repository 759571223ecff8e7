//! `gem owner NAME` (list), `gem owner NAME --add X` and `--remove X`: the RubyGems owners API,
//! `GET /api/v1/gems/{name}/owners.yaml`, `POST` and `DELETE
//! /api/v1/gems/{name}/owners` with the form field `email` (an e-mail address or a login). Owners
//! may push new versions, yank and manage owners; a gem always keeps at least one owner.

use super::{GemResult, load_gem};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::services::auth::{Principal, Scope};
use crate::services::owners;
use actix_web::{HttpResponse, web};

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// `GET /api/v1/gems/{name}/owners.yaml`.
pub async fn list(r: RepoRequest, path: web::Path<(String, String)>) -> GemResult {
    let (name, ext) = path.into_inner();
    Ok(list_of(&r.ctx(), &name, &ext).await?)
}

/// The owners of gem `name` in the repository of `ctx`, as `owners.{ext}` (only `yaml`).
pub(super) async fn list_of(
    ctx: &Ctx<'_>,
    name: &str,
    ext: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("owners");
    ctx.allow(Scope::Read).await?;
    let desc = load_gem(ctx, name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("This rubygem could not be found: {name}")))?;
    let owners: Vec<(i64, &str, Option<&str>)> = desc
        .owners
        .iter()
        .map(|o| (o.id, o.login.as_str(), o.email.as_deref()))
        .collect();
    match ext {
        "yaml" => Ok(HttpResponse::Ok()
            .content_type("application/x-yaml")
            .body(packgate_rubygems::owners_yaml(&owners))),
        _ => Err(AppError::NotFound(format!("Not found: owners.{ext}"))),
    }
}

/// `POST /api/v1/gems/{name}/owners` (`add = true`) and `DELETE` (`add = false`).
async fn change(r: RepoRequest, payload: web::Payload, name: String, add: bool) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(&ctx).into());
    }
    ctx.label("owners");
    let who = ctx.require(Scope::Publish).await?;
    let form = super::read_form(&ctx, payload).await?;
    Ok(change_of(&ctx, &who, &form, &name, add).await?)
}

/// Adds (`add`) or removes the owner the form field `email` names to gem `name` in the hosted
/// repository of `ctx`, for `who` (already authorized to publish; the gem's owners are checked
/// here).
pub(super) async fn change_of(
    ctx: &Ctx<'_>,
    who: &Principal,
    form: &[u8],
    name: &str,
    add: bool,
) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(ctx));
    }
    let form = String::from_utf8_lossy(form);
    let wanted_id = crate::routes::common::query::pairs(&form)
        .into_iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| AppError::Invalid("The form field `email` names no user.".into()))?;
    let desc = load_gem(ctx, name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("This rubygem could not be found: {name}")))?;
    let current = owners::of(&desc);
    owners::require(who, &current, name, |gem| {
        AppError::Forbidden(format!(
            "You do not have permission to manage the owners of {gem}."
        ))
    })?;
    let user = owners::find_user(&ctx.state.db, &wanted_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("Owner could not be found: {wanted_id}")))?;
    if !add && !current.iter().any(|(id, _)| *id == user.id) {
        return Err(AppError::NotFound(format!(
            "{} is not an owner of {name}.",
            user.name
        )));
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
