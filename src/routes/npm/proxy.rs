//! npm proxy repositories (`type = "proxy"`): packuments, versions, dist-tags, tarballs and search
//! from the upstream registry through the proxy cache (`services::proxy`). Packuments are cached
//! as the upstream sent them, the full and the abbreviated form apart (`Vary: Accept`), and served
//! with tarball URLs pointing here; tarballs are checked against the packument's `integrity`
//! (else `shasum`) before they are stored. Writes are refused: a proxy is read-only.

use super::{Ctx, not_found};
use crate::error::AppError;
use crate::routes::common::{blob, etag};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::packages;
use crate::services::proxy::{CacheState, DocRequest, Expected, FileRequest, Proxy, Served};
use crate::services::publish::Identity;
use crate::services::time::now_millis;
use actix_web::HttpResponse;
use actix_web::http::header::{HeaderValue, VARY};
use packgate_npm::proxy::{Cooldown, find_tarball, publish_times, rewrite_packument};
use std::sync::Arc;

/// npm 10/11 sends this `Accept` for installs (the abbreviated "corgi" packument first).
const ACCEPT_ABBREVIATED: &str =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// Longest search query forwarded (npm's own queries are a few dozen bytes).
const MAX_SEARCH_QUERY: usize = 1024;

/// The proxy of this repository (the dispatcher calls these handlers for proxies only).
fn proxy<'a>(ctx: &Ctx<'a>) -> Result<&'a Arc<Proxy>, AppError> {
    ctx.repo
        .proxy
        .as_ref()
        .ok_or_else(|| AppError::internal("npm proxy handler on a hosted repository"))
}

/// The 405 for every write to a proxy.
pub fn refuse_write(ctx: &Ctx<'_>) -> AppError {
    ctx.label("proxy_write");
    let upstream = ctx
        .repo
        .proxy
        .as_ref()
        .map(|p| p.settings.upstream.origin().ascii_serialization())
        .unwrap_or_default();
    AppError::NotAllowed(format!(
        "repository {:?} is a read-only proxy of {upstream}: publish, tag and unpublish in a hosted repository",
        ctx.repo.name
    ))
}

/// The upstream path of a package: `@scope%2fname` as npm 10/11 sends it (lower-case `%2f`),
/// other bytes percent-encoded.
fn upstream_path(name: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(name, KEEP)
        .to_string()
        .replace("%2F", "%2f")
}

/// The upstream packument (full or abbreviated) through the cache; `None` when the upstream has
/// no such package.
async fn upstream_packument(
    ctx: &Ctx<'_>,
    name: &str,
    abbreviated: bool,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    let proxy = proxy(ctx)?;
    let key = format!(
        "packument:{}:{name}",
        if abbreviated { "abbreviated" } else { "full" }
    );
    proxy
        .document(
            &ctx.state.db,
            DocRequest {
                key: &key,
                package: name,
                url: proxy.upstream_url(&upstream_path(name))?,
                accept: Some(if abbreviated {
                    ACCEPT_ABBREVIATED
                } else {
                    "application/json"
                }),
                missing: &[404, 410],
                validate: packgate_npm::proxy::validate_packument,
                revalidate,
                persist: true,
            },
        )
        .await
}

/// The cooldown for `name`, with the publish times it needs (from the full packument), or `None`
/// when none applies.
async fn cooldown(
    ctx: &Ctx<'_>,
    name: &str,
    full: Option<&Served>,
) -> Result<Option<(Cooldown, std::collections::HashMap<String, i64>, String)>, AppError> {
    let proxy = proxy(ctx)?;
    if !proxy.settings.cooldown_applies(name) {
        return Ok(None);
    }
    let fetched;
    let full = match full {
        Some(f) => f,
        None => {
            fetched = upstream_packument(ctx, name, false, false).await?;
            match &fetched {
                Some(f) => f,
                None => return Ok(None),
            }
        }
    };
    let c = Cooldown {
        now_ms: now_millis(),
        min_age_ms: proxy.settings.min_age.as_millis() as i64,
        allow_unknown: proxy.settings.min_age_unknown == crate::config::MinAgeUnknown::Allow,
    };
    Ok(Some((
        c,
        publish_times(&full.doc.body),
        full.doc.digest.clone(),
    )))
}

/// The packument as served: rewritten (and filtered by the cooldown), cached in memory by the
/// upstream body's digest.
async fn rendered(
    ctx: &Ctx<'_>,
    name: &str,
    abbreviated: bool,
) -> Result<Option<(Rendered, Served)>, AppError> {
    let Some(served) = upstream_packument(ctx, name, abbreviated, false).await? else {
        return Ok(None);
    };
    let full = (!abbreviated).then_some(&served);
    let cool = cooldown(ctx, name, full).await?;
    let registry = ctx.repo_url();
    // The cooldown's verdicts change as versions age: its renderings last a minute.
    let cool_key = cool
        .as_ref()
        .map(|(c, _, digest)| format!("{digest}\0{}", c.now_ms / 60_000))
        .unwrap_or_default();
    let key = format!(
        "npm-proxy\0{}\0{name}\0{abbreviated}\0{registry}\0{}\0{cool_key}",
        ctx.repo.name, served.doc.digest
    );
    if let Some(doc) = ctx.state.cache.get(&key, 0) {
        return Ok(Some((doc, served)));
    }
    let body = rewrite_packument(
        &served.doc.body,
        name,
        &registry,
        cool.as_ref().map(|(c, times, _)| (c, times)),
    )
    .map_err(|e| AppError::Upstream(format!("the upstream's packument of {name}: {e}")))?;
    let doc = Rendered {
        etag: etag::of_bytes(&body),
        digest: String::new(),
        body: bytes::Bytes::from(body),
    };
    ctx.state.cache.put(key, 0, doc.clone());
    Ok(Some((doc, served)))
}

/// Adds `X-Packgate-Cache` (and `Age` for stale or offline copies).
fn cache_headers(res: &mut HttpResponse, served: &Served) {
    let h = res.headers_mut();
    h.insert(
        actix_web::http::header::HeaderName::from_static("x-packgate-cache"),
        HeaderValue::from_static(served.state.as_str()),
    );
    if matches!(served.state, CacheState::Stale | CacheState::Offline)
        && let Ok(v) = HeaderValue::from_str(&served.age_secs().to_string())
    {
        h.insert(actix_web::http::header::AGE, v);
    }
}

/// `GET /{name}` on a proxy.
pub async fn packument(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("packument");
    ctx.allow(Scope::Read).await?;
    let accept = ctx
        .req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let write = ctx.req.query_string().split('&').any(|p| p == "write=true");
    let abbreviated = !write && packgate_npm::wants_abbreviated(accept);
    let Some((doc, served)) = rendered(ctx, name, abbreviated).await? else {
        return Err(not_found());
    };
    let content_type = if abbreviated {
        "application/vnd.npm.install-v1+json"
    } else {
        "application/json"
    };
    let mut res =
        crate::routes::common::doc::respond(ctx.req, doc, content_type, served.doc.fetched_at);
    res.headers_mut()
        .insert(VARY, HeaderValue::from_static("Accept"));
    cache_headers(&mut res, &served);
    Ok(res)
}

/// `GET /{name}/{version-or-tag}` on a proxy: one manifest of the served full packument.
pub async fn version(ctx: &Ctx<'_>, name: &str, wanted: &str) -> Result<HttpResponse, AppError> {
    ctx.label("version");
    ctx.allow(Scope::Read).await?;
    let Some((doc, served)) = rendered(ctx, name, false).await? else {
        return Err(not_found());
    };
    let parsed: serde_json::Value =
        serde_json::from_slice(&doc.body).map_err(AppError::internal)?;
    let version = parsed
        .get("dist-tags")
        .and_then(|t| t.get(wanted))
        .and_then(|v| v.as_str())
        .unwrap_or(wanted);
    let Some(manifest) = parsed.get("versions").and_then(|v| v.get(version)) else {
        return Err(AppError::NotFound(format!(
            "version {wanted:?} of {name} not found"
        )));
    };
    let body = manifest.to_string();
    let mut res = HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("etag", etag::of_bytes(body.as_bytes())))
        .insert_header(("cache-control", "no-cache"))
        .body(body);
    cache_headers(&mut res, &served);
    Ok(res)
}

/// `GET /-/package/{name}/dist-tags` on a proxy.
pub async fn dist_tags(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("dist_tags");
    ctx.allow(Scope::Read).await?;
    let Some((doc, served)) = rendered(ctx, name, true).await? else {
        return Err(not_found());
    };
    let parsed: serde_json::Value =
        serde_json::from_slice(&doc.body).map_err(AppError::internal)?;
    let tags = parsed
        .get("dist-tags")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let mut res = HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "no-cache"))
        .body(tags.to_string());
    cache_headers(&mut res, &served);
    Ok(res)
}

/// `GET /{name}/-/{file}` on a proxy: from the cache, else fetched, checked against the
/// packument's digest and stored, then served from the store. A file stays downloadable by its
/// exact path after the upstream drops its version (lockfiles keep working).
pub async fn tarball(ctx: &Ctx<'_>, name: &str, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("tarball");
    ctx.allow(Scope::Read).await?;
    let proxy = proxy(ctx)?;
    if let Some(pkg) = packages::find(&ctx.state.db, &ctx.repo.name, name).await?
        && let Some((_, b)) = packages::find_file(&ctx.state.db, pkg.id, file).await?
    {
        proxy
            .stats
            .hits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut res = blob::serve(
            ctx.req,
            ctx.state,
            &b.sha256,
            b.size,
            "application/octet-stream",
        )
        .await?;
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-packgate-cache"),
            HeaderValue::from_static("hit"),
        );
        return Ok(res);
    }
    // The abbreviated packument is what npm fetched just before; a version it does not list
    // (published upstream since) makes the proxy ask the upstream once more.
    let mut found = None;
    for revalidate in [false, true] {
        let Some(served) = upstream_packument(ctx, name, true, revalidate).await? else {
            return Err(not_found());
        };
        found = find_tarball(&served.doc.body, file);
        if found.is_some() || served.state != CacheState::Hit {
            break;
        }
    }
    let Some(t) = found else {
        return Err(AppError::NotFound(format!(
            "{file} is not a tarball of {name} in the upstream registry"
        )));
    };
    if let Some((c, times, _)) = cooldown(ctx, name, None).await?
        && !c.allows(times.get(&t.version).copied())
    {
        return Err(AppError::Forbidden(format!(
            "{name}@{} is younger than this repository's min_age cooldown ({} s); it is served once it is older",
            t.version,
            proxy.settings.min_age.as_secs()
        )));
    }
    let expected = match (t.sha512, t.shasum) {
        (Some(raw), _) => Expected::Sha512(raw),
        (None, Some(sha1)) => Expected::Sha1(sha1),
        (None, None) => {
            return Err(AppError::Upstream(format!(
                "the upstream declares no integrity or shasum for {file}; packgate does not cache unverifiable files"
            )));
        }
    };
    let url = url::Url::parse(&t.url)
        .map_err(|e| AppError::Upstream(format!("the upstream's tarball URL for {file}: {e}")))?;
    let request = FileRequest {
        url,
        expected,
        identity: Identity {
            name: name.to_string(),
            normalized_name: name.to_string(),
            normalized_version: packgate_npm::version_identity(&t.version),
            version: t.version,
        },
        file_name: file.to_string(),
        metadata: t.manifest,
        check: None,
    };
    let Some(d) = proxy.file(&ctx.state.sinks(), request).await? else {
        return Err(not_found());
    };
    let mut res = blob::serve(
        ctx.req,
        ctx.state,
        &d.sha256,
        d.size,
        "application/octet-stream",
    )
    .await?;
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("x-packgate-cache"),
        HeaderValue::from_static("miss"),
    );
    Ok(res)
}

/// `GET /-/v1/search` on a proxy: forwarded to the upstream (answers kept a short while in this
/// instance's memory only, never in the database).
pub async fn search(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let proxy = proxy(ctx)?;
    let query = ctx.req.query_string();
    if query.len() > MAX_SEARCH_QUERY {
        return Err(AppError::Invalid(format!(
            "search query longer than {MAX_SEARCH_QUERY} bytes"
        )));
    }
    let mut url = proxy.upstream_url("-/v1/search")?;
    url.set_query(Some(query));
    let key = format!("search:{query}");
    let Some(served) = proxy
        .document(
            &ctx.state.db,
            DocRequest {
                key: &key,
                package: "",
                url,
                accept: Some("application/json"),
                missing: &[],
                validate: packgate_npm::proxy::validate_packument,
                revalidate: false,
                persist: false,
            },
        )
        .await?
    else {
        return Err(not_found());
    };
    let mut res = HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "no-cache"))
        .body(served.doc.body.clone());
    cache_headers(&mut res, &served);
    Ok(res)
}
