//! GET/HEAD of tarballs at `{reg}/{name}/-/{basename}-{version}.tgz` (the public registry's layout,
//! so lockfiles written elsewhere work after npm rewrites their host).

use super::{Ctx, not_found};
use crate::error::AppError;
use crate::routes::common::blob;
use crate::services::auth::Scope;
use crate::services::packages;
use actix_web::HttpResponse;

/// Streams a tarball from the store.
pub async fn get_tarball(ctx: &Ctx<'_>, name: &str, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("tarball");
    ctx.allow(Scope::Read).await?;
    let Some(pkg) = packages::find(&ctx.state.db, &ctx.repo.name, name).await? else {
        return Err(not_found());
    };
    let Some((_, b)) = packages::find_file(&ctx.state.db, pkg.id, file).await? else {
        return Err(not_found());
    };
    blob::serve(
        ctx.req,
        ctx.state,
        &b.sha256,
        b.size,
        "application/octet-stream",
    )
    .await
}
