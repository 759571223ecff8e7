//! What `gem` still reads besides the compact index: `gems/FILE.gem`, the quick gemspecs
//! (`quick/Marshal.4.8/FULL.gemspec.rz`, zlib Marshal) and the three `*specs.4.8.gz` indexes
//! (gzip Marshal), all in the subset of Marshal that RubyGems' safe loader accepts.

use super::{GemResult, VERSIONS, spec_of};
use crate::error::AppError;
use crate::routes::common::blob;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::{index_log, packages};
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use std::cmp::Ordering;

fn not_found(what: &str) -> AppError {
    AppError::NotFound(format!("Not found: {what}"))
}

/// `GET /gems/{file}.gem`: the exact bytes pushed; yanked gems are gone (404), as upstream.
pub async fn gem_file(r: RepoRequest, file: web::Path<String>) -> GemResult {
    Ok(gem_file_of(&r.ctx(), &file).await?)
}

/// The `.gem` `file` of a hosted or proxy repository, answered to the request as it is (its
/// `Range` and conditional headers apply: a group passes a member's 206, 304 or 416 on).
pub(super) async fn gem_file_of(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        return super::proxy::gem_file(ctx, file).await;
    }
    ctx.label("gem");
    ctx.allow(Scope::Read).await?;
    let (_, v, _, b) = packages::find_file_in_repo(&ctx.state.db, &ctx.repo.name, file)
        .await?
        .ok_or_else(|| not_found(file))?;
    if v.yanked {
        return Err(not_found(file));
    }
    blob::serve(
        ctx.req,
        ctx.state,
        &b.sha256,
        b.size,
        "application/octet-stream",
    )
    .await
}

/// `GET /quick/Marshal.4.8/{full name}.gemspec.rz`.
pub async fn quick_spec(r: RepoRequest, file: web::Path<String>) -> GemResult {
    Ok(quick_spec_of(&r.ctx(), &file).await?)
}

/// The quick gemspec `file` of a hosted or proxy repository.
pub(super) async fn quick_spec_of(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        return super::proxy::quick_spec(ctx, file).await;
    }
    ctx.label("quick_spec");
    ctx.allow(Scope::Read).await?;
    let full = file
        .strip_suffix(".gemspec.rz")
        .ok_or_else(|| not_found(file))?;
    let (_, v, _, _) =
        packages::find_file_in_repo(&ctx.state.db, &ctx.repo.name, &format!("{full}.gem"))
            .await?
            .ok_or_else(|| not_found(file))?;
    if v.yanked {
        return Err(not_found(file));
    }
    let body = packgate_rubygems::quick_spec(&spec_of(&v)?);
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("cache-control", "no-cache"))
        .body(body))
}

/// `GET /specs.4.8.gz`, `/latest_specs.4.8.gz`, `/prerelease_specs.4.8.gz`.
pub async fn specs(r: RepoRequest, file: web::Path<String>) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Ok(super::proxy::specs(&ctx, &file).await?);
    }
    let kind = match file.as_str() {
        "specs.4.8.gz" => Kind::All,
        "latest_specs.4.8.gz" => Kind::Latest,
        "prerelease_specs.4.8.gz" => Kind::Prerelease,
        other => {
            ctx.label("unknown");
            return Err(not_found(other).into());
        }
    };
    ctx.label("specs");
    ctx.allow(Scope::Read).await?;
    // Every push and yank appends to the versions log, so its stamp covers these documents too.
    let stamp = index_log::stamp(&ctx.state.db, &ctx.repo.name, VERSIONS).await?;
    let key = format!("rubygems\0{}\0{}", ctx.repo.name, file.as_str());
    let body = match ctx.state.cache.get(&key, stamp) {
        Some(doc) => doc.body,
        None => {
            let body = Bytes::from(packgate_rubygems::specs_file(&tuples(&ctx, kind).await?));
            ctx.state.cache.put(
                key,
                stamp,
                Rendered {
                    digest: String::new(),
                    etag: String::new(),
                    body: body.clone(),
                },
            );
            body
        }
    };
    let etag = crate::routes::common::etag::of_bytes(&body);
    if crate::routes::common::etag::not_modified(ctx.req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header(("etag", etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("etag", etag))
        .insert_header(("cache-control", "no-cache"))
        .body(body))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    All,
    Latest,
    Prerelease,
}

/// `(name, version, platform)` tuples of non-yanked versions, sorted by name then version.
async fn tuples(ctx: &Ctx<'_>, kind: Kind) -> Result<Vec<(String, String, String)>, AppError> {
    let mut out = Vec::new();
    for (pkg, versions) in packages::all_versions(&ctx.state.db, &ctx.repo.name).await? {
        let mut rows: Vec<(String, String)> = Vec::new();
        for v in versions.iter().filter(|v| !v.yanked) {
            let spec = spec_of(v)?;
            let pre = packgate_rubygems::is_prerelease(&spec.version);
            if (kind == Kind::Prerelease) == pre {
                rows.push((spec.version, spec.platform));
            }
        }
        rows.sort_by(|a, b| {
            packgate_rubygems::compare_versions(&a.0, &b.0).then_with(|| a.1.cmp(&b.1))
        });
        if kind == Kind::Latest {
            // The highest version per platform.
            let mut latest: Vec<(String, String)> = Vec::new();
            for (v, p) in rows {
                match latest.iter_mut().find(|(_, lp)| *lp == p) {
                    Some(slot)
                        if packgate_rubygems::compare_versions(&v, &slot.0)
                            == Ordering::Greater =>
                    {
                        slot.0 = v
                    }
                    Some(_) => {}
                    None => latest.push((v, p)),
                }
            }
            rows = latest;
        }
        out.extend(rows.into_iter().map(|(v, p)| (pkg.name.clone(), v, p)));
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| packgate_rubygems::compare_versions(&a.1, &b.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    Ok(out)
}
