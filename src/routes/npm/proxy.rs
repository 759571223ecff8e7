//! npm proxy repositories (`type = "proxy"`): packuments, versions, dist-tags, tarballs and search
//! from the upstream registry through the proxy cache (`services::proxy`). Packuments are cached
//! as the upstream sent them, the full and the abbreviated form apart (`Vary: Accept`), and served
//! with tarball URLs pointing here; tarballs are checked against the packument's `integrity`
//! (else `shasum`) before they are stored. Writes are refused: a proxy is read-only.

use super::{Ctx, not_found};
use crate::error::AppError;
use crate::routes::common::proxy::{cache_headers, serve_file, serve_hit};
use crate::routes::common::{self, etag};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::packages;
use crate::services::proxy::{CacheState, Cooldown, DocRequest, Expected, FileRequest, Served};
use crate::services::publish::Identity;
use crate::services::time::now_millis;
use actix_web::HttpResponse;
use packgate_npm::proxy::{find_tarball, publish_times, rewrite_packument};

/// npm 10/11 sends this `Accept` for installs (the abbreviated "corgi" packument first).
const ACCEPT_ABBREVIATED: &str =
    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// Longest search query forwarded (npm's own queries are a few dozen bytes).
const MAX_SEARCH_QUERY: usize = 1024;

/// The 405 for every write to a proxy.
pub fn refuse_write(ctx: &Ctx<'_>) -> AppError {
    common::proxy::read_only(ctx, "publish, tag and unpublish")
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

/// The cache key of an upstream packument.
fn packument_key(name: &str, abbreviated: bool) -> String {
    let kind = if abbreviated { "abbreviated" } else { "full" };
    format!("packument:{kind}:{name}")
}

/// The upstream packument (full or abbreviated) through the cache; `None` when the upstream has
/// no such package.
async fn upstream_packument(
    ctx: &Ctx<'_>,
    name: &str,
    abbreviated: bool,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    let proxy = common::proxy::of(ctx)?;
    let key = packument_key(name, abbreviated);
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

/// A cooldown with the publish times it judges by (the full packument's `time`).
struct Cool {
    cooldown: Cooldown,
    times: std::collections::HashMap<String, String>,
    /// Digest of the full packument the times come from.
    digest: String,
}

impl Cool {
    /// Whether version `v` is served.
    fn keeps(&self, v: &str) -> bool {
        self.cooldown
            .allows_raw(self.times.get(v).map(String::as_str))
    }
}

/// The cooldown for `name`, with the publish times it needs (from the full packument), or `None`
/// when none applies.
async fn cooldown(
    ctx: &Ctx<'_>,
    name: &str,
    full: Option<&Served>,
) -> Result<Option<Cool>, AppError> {
    let proxy = common::proxy::of(ctx)?;
    let Some(cooldown) = Cooldown::of(&proxy.settings, name, now_millis()) else {
        return Ok(None);
    };
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
    Ok(Some(Cool {
        cooldown,
        times: publish_times(&full.doc.body),
        digest: full.doc.digest.clone(),
    }))
}

/// The packument as served: rewritten (and filtered by the cooldown), cached in memory by the
/// upstream body's digest.
pub(super) async fn rendered(
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
        .map(|c| format!("{}\0{}", c.digest, c.cooldown.now_ms / 60_000))
        .unwrap_or_default();
    let key = format!(
        "npm-proxy\0{}\0{name}\0{abbreviated}\0{registry}\0{}\0{cool_key}",
        ctx.repo.name, served.doc.digest
    );
    if let Some(doc) = ctx.state.cache.get(&key, 0) {
        return Ok(Some((doc, served)));
    }
    let keep = cool.as_ref().map(|c| move |v: &str| c.keeps(v));
    let body = rewrite_packument(
        &served.doc.body,
        name,
        &registry,
        keep.as_ref().map(|k| k as &dyn Fn(&str) -> bool),
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

/// `GET /{name}` on a proxy.
pub async fn packument(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("packument");
    ctx.allow(Scope::Read).await?;
    let abbreviated = super::metadata::wants_abbreviated(ctx);
    let Some((doc, served)) = rendered(ctx, name, abbreviated).await? else {
        return Err(not_found());
    };
    let mut res = super::metadata::respond_packument(ctx, doc, abbreviated, served.doc.fetched_at);
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
    let proxy = common::proxy::of(ctx)?;
    if let Some(pkg) = packages::find(&ctx.state.db, &ctx.repo.name, name).await?
        && let Some((_, b)) = packages::find_file(&ctx.state.db, pkg.id, file).await?
    {
        return serve_hit(ctx, proxy, &b.sha256, b.size, "application/octet-stream").await;
    }
    // The packument npm fetched just before (npm 10 asks for the full one on `npm install`,
    // for the abbreviated one on other paths) names the tarball's digest: either is used while
    // it is fresh in memory. Otherwise the abbreviated one, and a version it does not list
    // (published upstream since) makes the proxy ask the upstream once more.
    let mut found = [true, false].into_iter().find_map(|abbreviated| {
        let doc = proxy.fresh_in_memory(&packument_key(name, abbreviated))?;
        find_tarball(&doc.body, file)
    });
    for revalidate in [false, true] {
        if found.is_some() {
            break;
        }
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
    if let Some(c) = cooldown(ctx, name, None).await?
        && !c.keeps(&t.version)
    {
        let what = format!("{name}@{}", t.version);
        return Err(common::proxy::too_young(proxy, &what));
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
    let Some((d, state)) = proxy.file(&ctx.state.sinks(), request).await? else {
        return Err(not_found());
    };
    serve_file(ctx, &d.sha256, d.size, "application/octet-stream", state).await
}

/// `GET /-/v1/search` on a proxy: forwarded to the upstream (answers kept a short while in this
/// instance's memory only, never in the database).
pub async fn search(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let proxy = common::proxy::of(ctx)?;
    let query = common::proxy::forwardable_query(ctx, MAX_SEARCH_QUERY, "search query")?;
    let mut url = proxy.upstream_url("-/v1/search")?;
    url.set_query(Some(query));
    let key = format!("search:{query}");
    let validate = packgate_npm::proxy::validate_packument;
    let Some(served) = common::proxy::forward(ctx, &key, url, validate).await? else {
        return Err(not_found());
    };
    let body = served.doc.body.clone();
    Ok(common::proxy::forwarded("application/json", body, &served))
}
