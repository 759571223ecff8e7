//! Reads: the service index, the flat container (version lists, `.nupkg`, `.nuspec`, `.snupkg`)
//! and registrations (index, pages, leaves). Per-package documents are rendered from the database
//! and cached by the package's change stamp.

use super::{
    Entry, NugetError, NugetResult, allow, entries, nupkg_name, nuspec_name, snupkg_name,
    url_version, v3_url,
};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::{blob, doc, etag};
use crate::server::{AppState, RepoCtx};
use crate::services::auth::Scope;
use crate::services::packages;
use crate::services::time::iso8601;
use actix_web::{HttpRequest, HttpResponse, web};
use packgate_nuget::RegEntry;

const JSON: &str = "application/json; charset=utf-8";

fn not_found(what: &str) -> NugetError {
    NugetError::new(
        "Not found",
        AppError::NotFound(format!("{what} does not exist in this feed")),
    )
}

/// `GET {repo}/v3/index.json`: anonymous even on private repositories, because `nuget push -k KEY`
/// reads it without credentials.
pub async fn service_index(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("service_index");
    let body = packgate_nuget::service_index(&v3_url(&ctx));
    let tag = etag::of_bytes(&body);
    if etag::not_modified(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header(("etag", tag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type(JSON)
        .insert_header(("etag", tag))
        .insert_header(("cache-control", "no-cache"))
        .body(body))
}

/// The package row for an id in any case.
async fn find(ctx: &Ctx<'_>, id: &str) -> Result<crate::db::entity::package::Model, NugetError> {
    let lower = packgate_nuget::lower_id(id);
    packages::find(&ctx.state.db, &ctx.repo.name, &lower)
        .await?
        .ok_or_else(|| not_found(&format!("package {id}")))
}

/// `GET {flat}/{id}/index.json`: every version, listed or not, lower-case and normalized.
pub async fn flat_versions(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    id: web::Path<String>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("flat_versions");
    allow(&ctx, Scope::Read).await?;
    let pkg = find(&ctx, &id).await?;
    let key = format!("nuget-flat\0{}\0{}", repo.name, pkg.id);
    let updated = pkg.updated_at;
    let doc = doc::cached(&state, key, pkg, |desc| {
        let list: Vec<String> = entries(desc)?.iter().map(|e| e.version.lower()).collect();
        Ok(packgate_nuget::flat_versions(&list))
    })
    .await?;
    Ok(doc::respond(&req, doc, JSON, updated))
}

/// `GET {flat}/{id}/{version}/{file}`: `{id}.{version}.nupkg`, `{id}.nuspec` or
/// `{id}.{version}.snupkg`, with the id and version in any case and any equivalent version spelling.
pub async fn flat_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    path: web::Path<(String, String, String)>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("download");
    allow(&ctx, Scope::Read).await?;
    let (id, version, file) = path.into_inner();
    let missing = || not_found(&file);
    let raw = format!(
        "{}.{}",
        packgate_nuget::lower_id(&id),
        version.to_ascii_lowercase()
    );
    let version = url_version(&version).ok_or_else(missing)?;
    let lid = packgate_nuget::lower_id(&id);
    let lver = version.lower();
    let file = file.to_ascii_lowercase();
    let (stored, content_type) = if file == format!("{lid}.nuspec") {
        (nuspec_name(&lid, &lver), "application/xml")
    } else if file == format!("{lid}.{lver}.nupkg") || file == format!("{raw}.nupkg") {
        (nupkg_name(&lid, &lver), "application/octet-stream")
    } else if file == format!("{lid}.{lver}.snupkg") || file == format!("{raw}.snupkg") {
        (snupkg_name(&lid, &lver), "application/octet-stream")
    } else {
        return Err(missing());
    };
    let pkg = find(&ctx, &id).await?;
    let (_, b) = packages::find_file(&state.db, pkg.id, &stored)
        .await?
        .ok_or_else(missing)?;
    Ok(blob::serve(&req, &state, &b.sha256, b.size.max(0) as u64, content_type).await?)
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
                .map(|(_, b)| b.size.max(0) as u64),
        })
        .collect()
}

fn published(es: &[Entry<'_>]) -> Vec<String> {
    es.iter().map(|e| iso8601(e.v.version.created_at)).collect()
}

/// `GET {reg}/{id}/index.json`: pages inlined below 128 versions, linked above.
pub async fn registration_index(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    id: web::Path<String>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("registration");
    allow(&ctx, Scope::Read).await?;
    let pkg = find(&ctx, &id).await?;
    let v3 = v3_url(&ctx);
    let key = format!("nuget-reg\0{}\0{}\0{v3}", repo.name, pkg.id);
    let updated = pkg.updated_at;
    let doc = doc::cached(&state, key, pkg, |desc| {
        let es = entries(desc)?;
        if es.is_empty() {
            return Err(AppError::NotFound("package has no versions".into()));
        }
        let times = published(&es);
        let lid = desc.package.normalized_name.as_str();
        let regs = reg_entries(&es, &desc.package.name, &times);
        Ok(packgate_nuget::registration_index(&v3, lid, &regs))
    })
    .await?;
    Ok(doc::respond(&req, doc, JSON, updated))
}

/// `GET {reg}/{id}/page/{lower}/{upper}.json`: the versions within the bounds, whatever the current
/// page layout is (a page URL stays valid when later pushes move page bounds).
pub async fn registration_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    path: web::Path<(String, String, String)>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("registration_page");
    allow(&ctx, Scope::Read).await?;
    let (id, lower, upper) = path.into_inner();
    let missing = || not_found("registration page");
    let upper = upper.strip_suffix(".json").ok_or_else(missing)?;
    let (lo, hi) = match (url_version(&lower), url_version(upper)) {
        (Some(lo), Some(hi)) if lo <= hi => (lo, hi),
        _ => return Err(missing()),
    };
    let pkg = find(&ctx, &id).await?;
    let v3 = v3_url(&ctx);
    let (lower, upper) = (lo.lower(), hi.lower());
    let key = format!(
        "nuget-page\0{}\0{}\0{lower}\0{upper}\0{v3}",
        repo.name, pkg.id
    );
    let updated = pkg.updated_at;
    let doc = doc::cached(&state, key, pkg, |desc| {
        let es: Vec<Entry<'_>> = entries(desc)?
            .into_iter()
            .filter(|e| e.version >= lo && e.version <= hi)
            .collect();
        if es.is_empty() {
            return Err(AppError::NotFound(
                "no versions within the page bounds".into(),
            ));
        }
        let times = published(&es);
        let regs = reg_entries(&es, &desc.package.name, &times);
        let lid = desc.package.normalized_name.as_str();
        Ok(packgate_nuget::registration_page(
            &v3, lid, &lower, &upper, &regs,
        ))
    })
    .await?;
    Ok(doc::respond(&req, doc, JSON, updated))
}

/// `GET {reg}/{id}/{version}.json`: one version's leaf.
pub async fn registration_leaf(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    path: web::Path<(String, String)>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("registration_leaf");
    allow(&ctx, Scope::Read).await?;
    let (id, leaf) = path.into_inner();
    let missing = || not_found(&format!("version {leaf} of {id}"));
    let version = leaf
        .strip_suffix(".json")
        .and_then(url_version)
        .ok_or_else(missing)?;
    let pkg = find(&ctx, &id).await?;
    let v3 = v3_url(&ctx);
    let key = format!(
        "nuget-leaf\0{}\0{}\0{}\0{v3}",
        repo.name,
        pkg.id,
        version.lower()
    );
    let updated = pkg.updated_at;
    let doc = doc::cached(&state, key, pkg, |desc| {
        let es: Vec<Entry<'_>> = entries(desc)?
            .into_iter()
            .filter(|e| e.version == version)
            .collect();
        if es.is_empty() {
            return Err(AppError::NotFound("no such version".into()));
        }
        let times = published(&es);
        let regs = reg_entries(&es, &desc.package.name, &times);
        let lid = desc.package.normalized_name.as_str();
        Ok(packgate_nuget::registration_leaf(&v3, lid, &regs[0]))
    })
    .await?;
    Ok(doc::respond(&req, doc, JSON, updated))
}
