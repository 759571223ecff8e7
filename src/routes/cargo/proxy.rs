//! Cargo proxy repositories (`type = "proxy"`): index files, `.crate` downloads and search from
//! an upstream sparse registry through the proxy cache (`services::proxy`). The repository's
//! `upstream` is the upstream's sparse index URL without `sparse+` (where its `config.json` is).
//!
//! Index files hold no URLs: they are cached and served byte for byte as the upstream sent them
//! (with a cooldown, lines whose `pubtime` is too young are left out, the others kept
//! byte-identical). `config.json` is packgate's own (the hosted handler: `dl` and `api` point
//! here, `auth-required` follows this repository's read policy); the upstream's `config.json`
//! is cached only to learn where its `.crate` files and search live. Downloads are checked
//! against the index line's `cksum` before they are stored. Writes are refused: a proxy is
//! read-only. See `docs/formats/cargo.md`, "Proxy repositories".
//!
//! These routes are registered before the hosted ones, behind a guard that matches proxy
//! repositories only; hosted repositories never reach them.

use super::CargoResult;
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::routes::common::proxy::{cache_headers, serve_file, serve_hit};
use crate::routes::common::{self, etag};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::packages;
use crate::services::proxy::{CacheState, Cooldown, DocRequest, Expected, FileRequest, Served};
use crate::services::publish::Identity;
use crate::services::time::{now_millis, parse_rfc3339};
use crate::state::RepoCtx;
use actix_web::guard::{self, GuardContext};
use actix_web::{HttpResponse, web};
use packgate_cargo::proxy::{
    UpstreamConfig, UpstreamLine, download_url, filter_index, find_version, index_name,
    parse_config,
};

/// Longest search query forwarded (cargo's own are a few dozen bytes).
const MAX_SEARCH_QUERY: usize = 1024;

/// Cache key of the upstream's `config.json`.
const CONFIG_KEY: &str = "config.json";

/// Whether the request is for a proxy repository.
fn is_proxy(ctx: &GuardContext<'_>) -> bool {
    ctx.app_data::<web::Data<RepoCtx>>()
        .is_some_and(|repo| repo.proxy.is_some())
}

/// Registers the proxy's routes, each guarded to proxy repositories; call before the hosted
/// routes. `config.json` and `/me` are the hosted handlers: nothing in them is upstream data, and
/// `config.json` already names this repository's URLs and read policy.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let proxied = || guard::fn_guard(is_proxy);
    for method in [web::get, web::head] {
        // packgate's own config.json (the hosted handler), matched before `/index/{tail}`.
        cfg.route(
            "/index/config.json",
            method().guard(proxied()).to(super::index::config_json),
        )
        .route("/index/{tail:.+}", method().guard(proxied()).to(index_file))
        .route(
            "/api/v1/crates/{name}/{version}/download",
            method().guard(proxied()).to(download),
        );
    }
    cfg.route("/api/v1/crates", web::get().guard(proxied()).to(search))
        .route(
            "/api/v1/crates/{name}/owners",
            web::get().guard(proxied()).to(owners),
        )
        // Every write (publish, yank, unyank, owner changes) and any other method: 405.
        .service(
            web::resource("/{tail:.*}")
                .guard(proxied())
                .guard(guard::Not(guard::Any(guard::Get()).or(guard::Head())))
                .to(refuse_write),
        );
}

/// Any write to a proxy: 405 in cargo's error shape.
async fn refuse_write(r: RepoRequest) -> CargoResult {
    let ctx = r.ctx();
    Err(common::proxy::read_only(&ctx, "publish, yank and manage owners").into())
}

/// `GET /api/v1/crates/{name}/owners` on a proxy: owners live upstream.
async fn owners(r: RepoRequest) -> CargoResult {
    let ctx = r.ctx();
    ctx.label("owners");
    ctx.allow(Scope::Read).await?;
    Err(AppError::NotFound(format!(
        "repository {:?} is a proxy of {}: it keeps no crate owners; ask the upstream registry",
        ctx.repo.name,
        common::proxy::upstream_label(&ctx)
    ))
    .into())
}

fn not_found() -> AppError {
    AppError::NotFound("not found".into())
}

/// The upstream index file of `name` (lower-case) through the cache; `None` when the upstream
/// has no such crate (404, and 410 or 451, which cargo 1.70-1.9x also read as "not found").
async fn upstream_index(
    ctx: &Ctx<'_>,
    name: &str,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    let proxy = common::proxy::of(ctx)?;
    let key = format!("index:{name}");
    proxy
        .document(
            &ctx.state.db,
            DocRequest {
                key: &key,
                package: name,
                url: proxy.upstream_url(&packgate_cargo::index_path(name))?,
                accept: Some("text/plain"),
                missing: &[404, 410, 451],
                validate: packgate_cargo::proxy::validate_index_file,
                revalidate,
                persist: true,
            },
        )
        .await
}

/// The upstream's `config.json` through the cache (where its downloads and search live).
async fn upstream_config(ctx: &Ctx<'_>) -> Result<UpstreamConfig, AppError> {
    let proxy = common::proxy::of(ctx)?;
    let served = proxy
        .document(
            &ctx.state.db,
            DocRequest {
                key: CONFIG_KEY,
                package: "",
                url: proxy.upstream_url(CONFIG_KEY)?,
                accept: Some("application/json"),
                missing: &[404, 410],
                validate: packgate_cargo::proxy::validate_config,
                revalidate: false,
                persist: true,
            },
        )
        .await?
        .ok_or_else(|| {
            AppError::Upstream(format!(
                "upstream {} has no config.json: `upstream` must be a sparse index URL (without `sparse+`)",
                common::proxy::upstream_label(ctx)
            ))
        })?;
    parse_config(&served.doc.body).map_err(|e| {
        AppError::Upstream(format!(
            "upstream {}: {e}",
            common::proxy::upstream_label(ctx)
        ))
    })
}

/// The cooldown for crate `name`, or `None` when none applies.
fn cooldown(ctx: &Ctx<'_>, name: &str) -> Result<Option<Cooldown>, AppError> {
    Ok(Cooldown::of(
        &common::proxy::of(ctx)?.settings,
        name,
        now_millis(),
    ))
}

/// The index file as served: the upstream's bytes, or (with a cooldown) without the lines it
/// hides, cached in memory by the upstream body's digest for a minute.
fn rendered(ctx: &Ctx<'_>, name: &str, served: &Served) -> Result<Rendered, AppError> {
    let doc = &served.doc;
    let passthrough = || Rendered {
        body: doc.body.clone(),
        etag: format!("\"{}\"", &doc.digest[..32.min(doc.digest.len())]),
        digest: String::new(),
    };
    let Some(c) = cooldown(ctx, name)? else {
        return Ok(passthrough());
    };
    // The cooldown's verdicts change as versions age: its renderings last a minute.
    let key = format!(
        "cargo-proxy\0{}\0{name}\0{}\0{}",
        ctx.repo.name,
        doc.digest,
        c.now_ms / 60_000
    );
    if let Some(r) = ctx.state.cache.get(&key, 0) {
        return Ok(r);
    }
    let r = match filter_index(&doc.body, &|pubtime| c.allows_raw(pubtime)) {
        std::borrow::Cow::Borrowed(_) => passthrough(),
        std::borrow::Cow::Owned(body) => Rendered {
            etag: etag::of_bytes(&body),
            body: bytes::Bytes::from(body),
            digest: String::new(),
        },
    };
    ctx.state.cache.put(key, 0, r.clone());
    Ok(r)
}

/// `GET /index/{prefix}/{name}` on a proxy: the upstream's index file, byte for byte (minus
/// cooldown-hidden lines), with its own ETag and 304.
async fn index_file(r: RepoRequest, tail: web::Path<String>) -> CargoResult {
    let ctx = r.ctx();
    let (doc, served) = index_doc(&ctx, &tail).await?;
    let mut res = crate::routes::common::doc::respond(
        ctx.req,
        doc,
        "text/plain; charset=utf-8",
        served.doc.fetched_at,
    );
    cache_headers(&mut res, &served);
    Ok(res)
}

/// The index file at `tail` as this proxy serves it, and the cached upstream copy it comes from
/// (also what a group reads from its proxy members).
pub(super) async fn index_doc(ctx: &Ctx<'_>, tail: &str) -> Result<(Rendered, Served), AppError> {
    ctx.label("index");
    ctx.allow(Scope::Read).await?;
    // cargo 1.70+ asks for lower-case paths; other spellings are looked up lower-cased too.
    let lower = tail.to_ascii_lowercase();
    let segments: Vec<&str> = lower.split('/').collect();
    let name = packgate_cargo::name_from_index_path(&segments).ok_or_else(not_found)?;
    let Some(served) = upstream_index(ctx, &name, false).await? else {
        return Err(not_found());
    };
    let doc = rendered(ctx, &name, &served)?;
    Ok((doc, served))
}

/// The line of `name` `version` in the upstream index, asking the upstream once more when the
/// cached file does not list it (published upstream since); `None` when it does not exist.
async fn find_line(
    ctx: &Ctx<'_>,
    index: &str,
    name: &str,
    version: &str,
) -> Result<Option<UpstreamLine>, AppError> {
    for revalidate in [false, true] {
        let served = upstream_index(ctx, index, revalidate).await?;
        if let Some(s) = &served
            && let Some(line) = find_version(&s.doc.body, name, version)
        {
            return Ok(Some(line));
        }
        if served.is_some_and(|s| s.state != CacheState::Hit) {
            break;
        }
    }
    Ok(None)
}

/// `GET /api/v1/crates/{name}/{version}/download` on a proxy: from the cache, else fetched from
/// where the upstream's `dl` says, checked against the index line's `cksum` and stored, then
/// served from the store. A cached `.crate` stays downloadable after the upstream drops its
/// version (lockfiles keep working).
async fn download(r: RepoRequest, path: web::Path<(String, String)>) -> CargoResult {
    let (name, version) = path.into_inner();
    Ok(download_of(&r.ctx(), &name, &version).await?)
}

/// The download of `name` `version` through this proxy (also what a group asks its proxy
/// members).
pub(super) async fn download_of(
    ctx: &Ctx<'_>,
    name: &str,
    version: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("download");
    ctx.allow(Scope::Read).await?;
    let proxy = common::proxy::of(ctx)?;
    let missing =
        || AppError::NotFound(format!("crate `{name}` version `{version}` does not exist"));
    let index = index_name(name).ok_or_else(missing)?;
    let canonical = packgate_cargo::canonical_name(name);
    if let Some(pkg) = packages::find(&ctx.state.db, &ctx.repo.name, &canonical).await?
        && pkg.name.eq_ignore_ascii_case(name)
        && let Some((_, b)) = packages::find_file(
            &ctx.state.db,
            pkg.id,
            &format!("{}-{version}.crate", pkg.name),
        )
        .await?
    {
        return serve_hit(ctx, proxy, &b.sha256, b.size, "application/x-tar").await;
    }
    let line = find_line(ctx, &index, name, version)
        .await?
        .ok_or_else(missing)?;
    let published = line.pubtime.as_deref().and_then(parse_rfc3339);
    if let Some(c) = cooldown(ctx, &index)?
        && !c.allows(published)
    {
        let why = if published.is_some() {
            "was published upstream less than"
        } else {
            "has no publish time upstream, and this repository denies those under"
        };
        return Err(AppError::Forbidden(format!(
            "{}@{} {why} this repository's min_age cooldown ({} s); it is served once it is older",
            line.name,
            line.vers,
            proxy.settings.min_age.as_secs()
        )));
    }
    let config = upstream_config(ctx).await?;
    let raw = download_url(&config.dl, &line.name, &line.vers, &line.cksum);
    let url = url::Url::parse(&raw).map_err(|e| {
        AppError::Upstream(format!(
            "the upstream's download URL {raw:?} for {}@{}: {e}",
            line.name, line.vers
        ))
    })?;
    let file_name = format!("{}-{}.crate", line.name, line.vers);
    let request = FileRequest {
        url,
        expected: Expected::Sha256(line.cksum.clone()),
        identity: Identity {
            normalized_name: packgate_cargo::canonical_name(&line.name),
            normalized_version: packgate_cargo::version_identity(&line.vers),
            name: line.name,
            version: line.vers,
        },
        file_name,
        metadata: line.line,
        check: None,
    };
    // The public crate registry serves `.crate` files from another host than its index: the
    // origin its own config.json names in `dl` is allowed too (the bytes are checked against
    // `cksum` whatever serves them; credentials go to the index's origin only).
    let declared = request.url.origin();
    let Some((d, state)) = proxy
        .file_declared(&ctx.state.sinks(), request, &declared)
        .await?
    else {
        return Err(missing());
    };
    serve_file(ctx, &d.sha256, d.size, "application/x-tar", state).await
}

/// `GET /api/v1/crates?q=&per_page=` on a proxy: forwarded to the upstream's `api` (answers
/// kept a short while in this instance's memory only, never in the database).
async fn search(r: RepoRequest) -> CargoResult {
    Ok(search_of(&r.ctx()).await?)
}

/// The upstream's search answer through this proxy (also what a group asks its proxy members).
pub(super) async fn search_of(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let query = common::proxy::forwardable_query(ctx, MAX_SEARCH_QUERY, "search query")?;
    let config = upstream_config(ctx).await?;
    let api = config.api.ok_or_else(|| {
        AppError::Upstream(format!(
            "upstream {}'s config.json names no `api`: it offers no search",
            common::proxy::upstream_label(ctx)
        ))
    })?;
    let raw = format!("{}/api/v1/crates", api.trim_end_matches('/'));
    let mut url = url::Url::parse(&raw)
        .map_err(|e| AppError::Upstream(format!("the upstream's api URL {raw:?}: {e}")))?;
    // `api` may be on another host than the index (the public crate registry's is): it is the
    // upstream's own config.json that names it; no credentials are sent there.
    url.set_query(Some(query));
    let key = format!("search:{query}");
    let validate = packgate_cargo::proxy::validate_search;
    let served = common::proxy::forward(ctx, &key, url, validate)
        .await?
        .ok_or_else(not_found)?;
    let body = served.doc.body.clone();
    Ok(common::proxy::forwarded("application/json", body, &served))
}
