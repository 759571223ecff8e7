//! Reads: `config.json`, index files (rendered from the database, ETag/304), downloads, search,
//! and the `/me` page `cargo login` points at.

use super::{CargoResult, ok_json};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::routes::common::{blob, doc, etag};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::packages::{self, PackageDescriptor};
use actix_web::{HttpRequest, HttpResponse, web};

/// `GET /index/config.json`. A private repository answers anonymous requests with 401 (the only
/// status on which cargo retries with its token) and says `auth-required` to authenticated ones.
pub async fn config_json(r: RepoRequest) -> CargoResult {
    let ctx = r.ctx();
    ctx.label("config");
    let who = ctx.principal().await?;
    if !ctx.repo.anonymous_read && who.is_none() {
        let login_url = format!("{}/me", ctx.repo_url());
        return Ok(HttpResponse::Unauthorized()
            .insert_header((
                "www-authenticate",
                format!("Cargo login_url=\"{login_url}\""),
            ))
            .content_type("application/json")
            .body(packgate_cargo::error_body(
                "this registry requires a token: run `cargo login --registry <name>`",
            )));
    }
    ctx.allow(Scope::Read).await?;
    let body = packgate_cargo::config_json(&ctx.repo_url(), !ctx.repo.anonymous_read);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("etag", etag::of_bytes(&body)))
        .body(body))
}

/// Renders the index file of a crate (cached by change stamp).
fn render(desc: &PackageDescriptor) -> Result<Vec<u8>, AppError> {
    let mut entries = Vec::with_capacity(desc.versions.len());
    for v in &desc.versions {
        let Some((_, b)) = v.files.first() else {
            continue;
        };
        let meta: packgate_cargo::PublishMeta = v.version.metadata()?;
        entries.push(packgate_cargo::index_entry(
            &meta,
            &b.sha256,
            v.version.yanked,
        ));
    }
    Ok(packgate_cargo::render_index(&entries))
}

/// `GET /index/{prefix}/{name}`: one JSON line per version; 404 for unknown crates and for the
/// `-`/`_` variants of a known one (cargo asks for those only to suggest names).
pub async fn index_file(r: RepoRequest, tail: web::Path<String>) -> CargoResult {
    let ctx = r.ctx();
    let (doc, updated) = index_doc(&ctx, &tail).await?;
    Ok(doc::respond(
        ctx.req,
        doc,
        "text/plain; charset=utf-8",
        updated,
    ))
}

/// The index file at `tail` (`{prefix}/{name}`) as this repository renders it, and when the
/// crate last changed (also what a group reads from its hosted members).
pub(super) async fn index_doc(ctx: &Ctx<'_>, tail: &str) -> Result<(Rendered, i64), AppError> {
    ctx.label("index");
    ctx.allow(Scope::Read).await?;
    let segments: Vec<&str> = tail.split('/').collect();
    let not_found = || AppError::NotFound("not found".into());
    let name = packgate_cargo::name_from_index_path(&segments).ok_or_else(not_found)?;
    let canonical = packgate_cargo::canonical_name(&name);
    let pkg = packages::find(&ctx.state.db, &ctx.repo.name, &canonical)
        .await?
        .ok_or_else(not_found)?;
    if pkg.name.to_ascii_lowercase() != name {
        return Err(not_found());
    }
    let key = format!("cargo\0{}\0{}", ctx.repo.name, pkg.id);
    let updated = pkg.updated_at;
    let doc = doc::cached(ctx.state, key, pkg, |desc| {
        let body = render(desc)?;
        if body.is_empty() {
            return Err(not_found());
        }
        Ok(body)
    })
    .await?;
    Ok((doc, updated))
}

/// `GET /api/v1/crates/{name}/{version}/download`: the `.crate` (yanked versions stay downloadable).
pub async fn download(r: RepoRequest, path: web::Path<(String, String)>) -> CargoResult {
    let (name, version) = path.into_inner();
    Ok(download_of(&r.ctx(), &name, &version).await?)
}

/// The download of `name` `version` (also what a group asks its hosted members).
pub(super) async fn download_of(
    ctx: &Ctx<'_>,
    name: &str,
    version: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("download");
    ctx.allow(Scope::Read).await?;
    let canonical = packgate_cargo::canonical_name(name);
    let missing =
        || AppError::NotFound(format!("crate `{name}` version `{version}` does not exist"));
    let pkg = packages::find(&ctx.state.db, &ctx.repo.name, &canonical)
        .await?
        .ok_or_else(missing)?;
    let file_name = format!("{}-{version}.crate", pkg.name);
    let (_, b) = packages::find_file(&ctx.state.db, pkg.id, &file_name)
        .await?
        .ok_or_else(missing)?;
    blob::serve(ctx.req, ctx.state, &b.sha256, b.size, "application/x-tar").await
}

/// `GET /api/v1/crates?q=&per_page=&page=`: crates whose canonical name contains the query.
pub async fn search(r: RepoRequest) -> CargoResult {
    Ok(search_of(&r.ctx()).await?)
}

/// The search answer of this repository (also what a group asks its hosted members).
pub(super) async fn search_of(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let mut q = String::new();
    let mut per_page: u64 = 10;
    let mut page: u64 = 1;
    for (k, v) in crate::routes::common::query::pairs(ctx.req.query_string()) {
        match k.as_str() {
            "q" => q = v,
            "per_page" => per_page = v.parse().unwrap_or(10).clamp(1, 100),
            "page" => page = v.parse().unwrap_or(1).max(1),
            _ => {}
        }
    }
    let terms: Vec<String> = q
        .split_whitespace()
        .map(packgate_cargo::canonical_name)
        .collect();
    let found = packages::search(&ctx.state.db, &ctx.repo.name, &terms, 100_000).await?;
    let total = found.len() as u64;
    let mut hits = Vec::new();
    for pkg in found
        .into_iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
    {
        let desc = packages::load_for(&ctx.state.db, pkg).await?;
        let pick = packgate_cargo::search_version(
            desc.versions
                .iter()
                .map(|v| (v.version.version.as_str(), v.version.yanked)),
        );
        let Some((i, max)) = pick else { continue };
        let description = desc.versions[i]
            .version
            .metadata::<packgate_cargo::PublishMeta>()
            .ok()
            .and_then(|m| m.description);
        hits.push(packgate_cargo::SearchHit {
            name: desc.package.name.clone(),
            max_version: max,
            description,
        });
    }
    Ok(ok_json(packgate_cargo::render_search(&hits, total)))
}

/// `GET /me`: where `cargo login` sends people for a token.
pub async fn me(req: HttpRequest) -> HttpResponse {
    crate::observe::label(&req, "me");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            "<!doctype html><title>packgate tokens</title><h1>Getting a token</h1>\
         <p>Ask an administrator to run <code>packgate token create YOUR-USER --repo REPO</code> \
         and paste the token into <code>cargo login --registry NAME</code>.</p>\n",
        )
}
