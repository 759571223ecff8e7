//! Reads: the service index, the flat container (version lists, `.nupkg`, `.nuspec`, `.snupkg`)
//! and registrations (index, pages, leaves). Per-package documents are rendered from the database
//! and cached by the package's change stamp.

use super::{
    Entry, NugetResult, allow, entries, nupkg_name, nuspec_name, proxy, snupkg_name, url_version,
    v3_url,
};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::{blob, doc, etag};
use crate::services::auth::Scope;
use crate::services::packages;
use crate::services::packages::PackageDescriptor;
use crate::services::time::iso8601;
use actix_web::HttpResponse;
use packgate_nuget::{NuGetVersion, RegEntry};

const JSON: &str = "application/json; charset=utf-8";

fn not_found(what: &str) -> AppError {
    AppError::NotFound(format!("{what} does not exist in this feed")).with_reason("Not found")
}

/// `GET {repo}/v3/index.json`: anonymous even on private repositories, because `nuget push -k KEY`
/// reads it without credentials.
pub(super) async fn service_index(ctx: &Ctx<'_>) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return proxy::finish(proxy::service_index(ctx).await);
    }
    ctx.label("service_index");
    Ok(service_index_response(
        ctx,
        packgate_nuget::service_index(&v3_url(ctx)),
    ))
}

/// A service index (hosted or proxy) with its ETag; 304 on `If-None-Match`.
pub(super) fn service_index_response(ctx: &Ctx<'_>, body: Vec<u8>) -> HttpResponse {
    let tag = etag::of_bytes(&body);
    if etag::not_modified(ctx.req, &tag) {
        return HttpResponse::NotModified()
            .insert_header(("etag", tag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(JSON)
        .insert_header(("etag", tag))
        .insert_header(("cache-control", "no-cache"))
        .body(body)
}

/// The package row for an id in any case.
async fn find(ctx: &Ctx<'_>, id: &str) -> Result<packages::Package, AppError> {
    let lower = packgate_nuget::lower_id(id);
    packages::find(&ctx.state.db, &ctx.repo.name, &lower)
        .await?
        .ok_or_else(|| not_found(&format!("package {id}")))
}

/// A per-package JSON document: the package by id (any case), its rendering cached under
/// `variant` by change stamp, and the conditional response.
async fn package_doc<F>(ctx: &Ctx<'_>, id: &str, variant: &str, render: F) -> NugetResult
where
    F: FnOnce(&PackageDescriptor) -> Result<Vec<u8>, AppError>,
{
    let pkg = find(ctx, id).await?;
    let key = format!("nuget\0{}\0{}\0{variant}", ctx.repo.name, pkg.id);
    let updated = pkg.updated_at;
    let doc = doc::cached(ctx.state, key, pkg, render).await?;
    Ok(doc::respond(ctx.req, doc, JSON, updated))
}

/// `GET {flat}/{id}/index.json`: every version, listed or not, lower-case and normalized.
pub(super) async fn flat_versions(ctx: &Ctx<'_>, id: &str) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return proxy::finish(proxy::flat_versions(ctx, id).await);
    }
    ctx.label("flat_versions");
    allow(ctx, Scope::Read).await?;
    package_doc(ctx, id, "flat", |desc| {
        let list: Vec<String> = entries(desc)?.iter().map(|e| e.version.lower()).collect();
        Ok(packgate_nuget::flat_versions(&list))
    })
    .await
}

/// `GET {flat}/{id}/{version}/{file}`: `{id}.{version}.nupkg`, `{id}.nuspec` or
/// `{id}.{version}.snupkg`, with the id and version in any case and any equivalent version spelling.
pub(super) async fn flat_file(ctx: &Ctx<'_>, id: &str, version: &str, file: &str) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return proxy::finish(proxy::flat_file(ctx, id, version, file).await);
    }
    ctx.label("download");
    allow(ctx, Scope::Read).await?;
    let missing = || not_found(file);
    let lid = packgate_nuget::lower_id(id);
    // The version as sent (`1.0.0.0` in `…/1.0.0.0/x.1.0.0.0.nupkg`) or as normalized.
    let raw = format!("{lid}.{}", version.to_ascii_lowercase());
    let lver = url_version(version).ok_or_else(missing)?.lower();
    let file = file.to_ascii_lowercase();
    let (stored, content_type) = if file == format!("{lid}.nuspec") {
        (nuspec_name(&lid, &lver), "application/xml")
    } else if file == format!("{lid}.{lver}.nupkg") || file == format!("{raw}.nupkg") {
        (nupkg_name(&lid, &lver), "application/octet-stream")
    } else if file == format!("{lid}.{lver}.snupkg") || file == format!("{raw}.snupkg") {
        (snupkg_name(&lid, &lver), "application/octet-stream")
    } else {
        return Err(missing().into());
    };
    let pkg = find(ctx, id).await?;
    let (_, b) = packages::find_file(&ctx.state.db, pkg.id, &stored)
        .await?
        .ok_or_else(missing)?;
    Ok(blob::serve(ctx.req, ctx.state, &b.sha256, b.size, content_type).await?)
}

/// A registration document (index, page or leaf) of the versions that `keep` selects, rendered by
/// `render` from the lower-case id and their entries; 404 when none is selected.
async fn registration_doc<K, R>(
    ctx: &Ctx<'_>,
    id: &str,
    variant: &str,
    keep: K,
    render: R,
) -> NugetResult
where
    K: Fn(&NuGetVersion) -> bool,
    R: FnOnce(&str, &[RegEntry<'_>]) -> Vec<u8>,
{
    package_doc(ctx, id, variant, |desc| {
        let es: Vec<Entry<'_>> = entries(desc)?
            .into_iter()
            .filter(|e| keep(&e.version))
            .collect();
        if es.is_empty() {
            return Err(AppError::NotFound("no such version in this feed".into()));
        }
        let published: Vec<String> = es.iter().map(|e| iso8601(e.v.version.created_at)).collect();
        let regs = reg_entries(&es, &desc.package.name, &published);
        Ok(render(&desc.package.normalized_name, &regs))
    })
    .await
}

/// The registration entries of a package's versions.
fn reg_entries<'a>(
    es: &'a [Entry<'a>],
    display_id: &'a str,
    published: &'a [String],
) -> Vec<RegEntry<'a>> {
    es.iter()
        .zip(published)
        .map(|(e, p)| RegEntry {
            display_id,
            nuspec: &e.nuspec,
            version: &e.version,
            listed: e.v.version.listed,
            published: p,
            deprecation: e.deprecation.as_ref(),
            package_size: e
                .v
                .files
                .iter()
                .find(|(f, _)| f.name.ends_with(".nupkg"))
                .map(|(_, b)| b.size),
        })
        .collect()
}

/// `GET {reg}/{id}/index.json`: pages inlined below 128 versions, linked above.
pub(super) async fn registration_index(ctx: &Ctx<'_>, id: &str) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return proxy::finish(proxy::registration_index(ctx, id).await);
    }
    ctx.label("registration");
    allow(ctx, Scope::Read).await?;
    let v3 = v3_url(ctx);
    registration_doc(
        ctx,
        id,
        &format!("reg\0{v3}"),
        |_| true,
        |lid, regs| packgate_nuget::registration_index(&v3, lid, regs),
    )
    .await
}

/// `GET {reg}/{id}/page/{lower}/{upper}.json`: the versions within the bounds, whatever the current
/// page layout is (a page URL stays valid when later pushes move page bounds).
pub(super) async fn registration_page(
    ctx: &Ctx<'_>,
    id: &str,
    lower: &str,
    upper: &str,
) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return proxy::finish(proxy::registration_page(ctx, id, lower, upper).await);
    }
    ctx.label("registration_page");
    allow(ctx, Scope::Read).await?;
    let missing = || not_found("registration page");
    let upper = upper.strip_suffix(".json").ok_or_else(missing)?;
    let (lo, hi) = match (url_version(lower), url_version(upper)) {
        (Some(lo), Some(hi)) if lo <= hi => (lo, hi),
        _ => return Err(missing().into()),
    };
    let v3 = v3_url(ctx);
    let (lower, upper) = (lo.lower(), hi.lower());
    let variant = format!("page\0{lower}\0{upper}\0{v3}");
    let keep = |v: &NuGetVersion| *v >= lo && *v <= hi;
    registration_doc(ctx, id, &variant, keep, |lid, regs| {
        packgate_nuget::registration_page(&v3, lid, &lower, &upper, regs)
    })
    .await
}

/// `GET {reg}/{id}/{version}.json`: one version's leaf.
pub(super) async fn registration_leaf(ctx: &Ctx<'_>, id: &str, leaf: &str) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return proxy::finish(proxy::registration_leaf(ctx, id, leaf).await);
    }
    ctx.label("registration_leaf");
    allow(ctx, Scope::Read).await?;
    let missing = || not_found(&format!("version {leaf} of {id}"));
    let version = leaf
        .strip_suffix(".json")
        .and_then(url_version)
        .ok_or_else(missing)?;
    let v3 = v3_url(ctx);
    let variant = format!("leaf\0{}\0{v3}", version.lower());
    registration_doc(
        ctx,
        id,
        &variant,
        |v| *v == version,
        |lid, regs| packgate_nuget::registration_leaf(&v3, lid, &regs[0]),
    )
    .await
}
