//! `DELETE /api/v1/crates/{name}/{version}/yank` and `PUT .../unyank`: flips the `yanked` flag
//! (the only index field that may change after publish). Owners only; needs the `delete` scope.

use super::{CargoResult, load_crate, ok_json, require_owner};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::services::auth::Scope;
use crate::services::packages;
use actix_web::web;

/// Sets the `yanked` flag of `name` `version` in the context's repository (also what a group
/// hands to the hosted member holding the crate).
pub(super) async fn set(ctx: Ctx<'_>, name: &str, version: &str, yanked: bool) -> CargoResult {
    ctx.label(if yanked { "yank" } else { "unyank" });
    let who = ctx.require(Scope::Delete).await?;
    let desc = load_crate(&ctx, name).await?;
    require_owner(&desc, &who)?;
    let v = desc
        .versions
        .iter()
        .find(|v| v.version.version == version)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "crate `{}` has no version `{version}`",
                desc.package.name
            ))
        })?;
    if v.version.yanked != yanked {
        packages::set_yanked(&ctx.state.db, desc.package.id, v.version.id, yanked).await?;
    }
    Ok(ok_json(br#"{"ok":true}"#.to_vec()))
}

/// Yanks a version.
pub async fn yank(r: RepoRequest, path: web::Path<(String, String)>) -> CargoResult {
    let (name, version) = path.into_inner();
    set(r.ctx(), &name, &version, true).await
}

/// Un-yanks a version.
pub async fn unyank(r: RepoRequest, path: web::Path<(String, String)>) -> CargoResult {
    let (name, version) = path.into_inner();
    set(r.ctx(), &name, &version, false).await
}
