//! `GET|PUT|DELETE /api/v1/crates/{name}/owners`: list, add and remove owners. Owners may publish
//! new versions, yank, and manage owners; a crate always keeps at least one owner.

use super::{CargoResult, load_crate, ok_json, require_owner};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::services::auth::{self, Scope};
use crate::services::{owners, packages};
use actix_web::web;

/// Lists owners.
pub async fn list(r: RepoRequest, name: web::Path<String>) -> CargoResult {
    list_of(r.ctx(), &name).await
}

/// The owners of `name` in the context's repository (also what a group asks the hosted member
/// holding the crate).
pub(super) async fn list_of(ctx: Ctx<'_>, name: &str) -> CargoResult {
    ctx.label("owners");
    ctx.allow(Scope::Read).await?;
    let desc = load_crate(&ctx, name).await?;
    let owners: Vec<(u32, String)> = owners::of(&desc)
        .into_iter()
        .map(|(id, login)| (id.max(0) as u32, login))
        .collect();
    Ok(ok_json(packgate_cargo::render_owners(&owners)))
}

/// Adds (`add`) or removes the owners the body names, in the context's repository (also what a
/// group hands to the hosted member holding the crate).
pub(super) async fn change(
    ctx: Ctx<'_>,
    payload: web::Payload,
    name: &str,
    add: bool,
) -> CargoResult {
    ctx.label("owners");
    let who = ctx.require(Scope::Publish).await?;
    let desc = load_crate(&ctx, name).await?;
    require_owner(&desc, &who)?;
    let body = actix_web::dev::Decompress::from_headers(payload.into_inner(), ctx.req.headers());
    let spooled = ctx.state.spool.body(body, 64 * 1024).await?;
    let logins = packgate_cargo::parse_owner_request(&std::fs::read(spooled.path())?)?;
    let mut users = Vec::new();
    for login in &logins {
        let u = auth::find_user(&ctx.state.db, login)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("user `{login}` does not exist")))?;
        users.push(u);
    }
    let current = owners::of(&desc);
    if !add
        && current
            .iter()
            .all(|(id, _)| users.iter().any(|u| u.id == *id))
    {
        return Err(AppError::Invalid(format!(
            "crate `{}` must keep at least one owner",
            desc.package.name
        ))
        .into());
    }
    for u in &users {
        let value = add.then_some(u.name.as_str());
        packages::set_property(
            &ctx.state.db,
            desc.package.id,
            &owners::property(u.id),
            value,
        )
        .await?;
    }
    let verb = if add {
        "added as owners of"
    } else {
        "removed from the owners of"
    };
    let msg = format!("{} {verb} crate `{}`", logins.join(", "), desc.package.name);
    Ok(ok_json(
        serde_json::json!({"ok": true, "msg": msg})
            .to_string()
            .into_bytes(),
    ))
}

/// Adds owners.
pub async fn add(r: RepoRequest, payload: web::Payload, name: web::Path<String>) -> CargoResult {
    change(r.ctx(), payload, &name, true).await
}

/// Removes owners.
pub async fn remove(r: RepoRequest, payload: web::Payload, name: web::Path<String>) -> CargoResult {
    change(r.ctx(), payload, &name, false).await
}
