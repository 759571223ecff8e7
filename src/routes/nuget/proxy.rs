//! NuGet proxy repositories (`type = "proxy"`): the proxy's own service index, flat-container
//! version lists (passed through byte for byte), `.nupkg` and `.nuspec` files (the first bytes
//! seen are cached and pinned), registration indexes, external pages and leaves (every upstream
//! URL pointed here), search and autocomplete, all read from the upstream feed through the proxy
//! cache (`services::proxy`). The upstream's resources come from its service index (only those on
//! its origin are used). Writes are refused: a proxy is read-only. See `docs/formats/nuget.md`,
//! "Proxy repositories".

mod search;
mod upstream;

pub use search::{autocomplete, query};

use super::{allow, nupkg_name, nuspec_name, url_version, v3_url};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::proxy::{cache_headers, serve_file, serve_hit};
use crate::routes::common::{self, doc, etag};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::packages;
use crate::services::proxy::{CacheState, Expected, FileRequest, Served};
use crate::services::publish::Identity;
use actix_web::HttpResponse;
use packgate_nuget::proxy::{
    Links, RegDoc, RegItem, UpstreamResources, flat_versions_of, lower_version,
};
use std::collections::HashSet;
use upstream::{
    all_items, cooldown, fetch, find_item, flat_doc, hidden, join, need, origin, page_doc,
    registration_doc, upstream,
};

const JSON: &str = "application/json; charset=utf-8";

/// The 405 for every write to a proxy (push, symbols, delete, relist, deprecation).
pub fn refuse_write(ctx: &Ctx<'_>) -> AppError {
    common::proxy::read_only(ctx, "push, delete and relist")
        .with_reason("This feed is a read-only proxy")
}

/// Gives an error a reason phrase saying what happened (NuGet prints only the status line).
pub fn reasoned(e: AppError) -> AppError {
    if e.reason().is_some() {
        return e;
    }
    let reason = match e.kind() {
        AppError::NotFound(_) => "Not found",
        AppError::Forbidden(_) => "The package version is younger than this feed's minimum age",
        AppError::Upstream(_) => "The upstream feed failed",
        AppError::UpstreamTimeout(_) => "The upstream feed did not answer in time",
        AppError::UpstreamDown(m) if m.contains("offline proxy") => {
            "This offline feed has not cached it"
        }
        AppError::UpstreamDown(_) => "The upstream feed is unavailable",
        _ => return e,
    };
    e.with_reason(reason)
}

fn not_found(what: &str) -> AppError {
    AppError::NotFound(format!("{what} is not in the upstream feed"))
}

fn bad_upstream(what: &str, why: String) -> AppError {
    AppError::Upstream(format!("the upstream's {what}: {why}"))
}

/// The lower-case id from a URL segment; 404 for a segment that is no NuGet id (so that nothing
/// but an id reaches an upstream path).
fn checked_id(id: &str) -> Result<String, AppError> {
    packgate_nuget::validate_id(id).map_err(|_| not_found(&format!("package {id:?}")))?;
    Ok(packgate_nuget::lower_id(id))
}

/// A rendering of an upstream body, kept in memory by the body's digest, the versions hidden
/// and the proxy's URL.
fn rendered(
    ctx: &Ctx<'_>,
    what: &str,
    served: &Served,
    hidden: &HashSet<String>,
    render: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Rendered, AppError> {
    let mut hidden_key: Vec<&str> = hidden.iter().map(String::as_str).collect();
    hidden_key.sort_unstable();
    let key = format!(
        "nuget-proxy\0{}\0{what}\0{}\0{}\0{}",
        ctx.repo.name,
        served.doc.digest,
        ctx.repo_url(),
        hidden_key.join(",")
    );
    if let Some(doc) = ctx.state.cache.get(&key, 0) {
        return Ok(doc);
    }
    let body = render().map_err(|e| bad_upstream(what, e))?;
    let doc = Rendered {
        etag: etag::of_bytes(&body),
        digest: String::new(),
        body: bytes::Bytes::from(body),
    };
    ctx.state.cache.put(key, 0, doc.clone());
    Ok(doc)
}

fn links<'a>(v3: &'a str, origin: &'a str, up: &'a UpstreamResources) -> Links<'a> {
    Links {
        v3,
        origin,
        upstream: up,
    }
}

fn respond(ctx: &Ctx<'_>, doc: Rendered, served: &Served) -> HttpResponse {
    let mut res = doc::respond(ctx.req, doc, JSON, served.doc.fetched_at);
    cache_headers(&mut res, served);
    res
}

/// `GET {repo}/v3/index.json` on a proxy: packgate's read resources, built here (the upstream is
/// not contacted), anonymous like a hosted feed's.
pub async fn service_index(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("service_index");
    Ok(super::feed::service_index_response(
        ctx,
        packgate_nuget::proxy::proxy_service_index(&v3_url(ctx)),
    ))
}

/// `GET {flat}/{id}/index.json` on a proxy: the upstream's list byte for byte, or without the
/// versions a cooldown hides.
pub async fn flat_versions(ctx: &Ctx<'_>, id: &str) -> Result<HttpResponse, AppError> {
    ctx.label("flat_versions");
    allow(ctx, Scope::Read).await?;
    let lid = checked_id(id)?;
    let up = upstream(ctx).await?;
    let Some(served) = flat_doc(ctx, &up, &lid, false).await? else {
        return Err(not_found(&format!("package {id}")));
    };
    let hidden = match cooldown(ctx, &lid)? {
        None => HashSet::new(),
        Some(c) => {
            let listed =
                flat_versions_of(&served.doc.body).map_err(|e| bad_upstream("version list", e))?;
            let lower: Vec<String> = listed.iter().map(|v| lower_version(v)).collect();
            let items = all_items(ctx, &up, &lid).await?;
            hidden(&c, lower.iter().map(String::as_str), &items)
        }
    };
    let gzip = served.doc.body.starts_with(&[0x1f, 0x8b]);
    let doc = if hidden.is_empty() && !gzip {
        // The stored digest is the SHA-256 of these bytes: the same ETag as `etag::of_bytes`.
        let etag = match served.doc.digest.get(..32) {
            Some(hex) => format!("\"{hex}\""),
            None => etag::of_bytes(&served.doc.body),
        };
        Rendered {
            etag,
            digest: String::new(),
            body: served.doc.body.clone(),
        }
    } else {
        rendered(ctx, &format!("flat:{lid}"), &served, &hidden, || {
            packgate_nuget::proxy::filter_flat(&served.doc.body, &|v| hidden.contains(v))
        })?
    };
    Ok(respond(ctx, doc, &served))
}

/// `GET {flat}/{id}/{version}/{file}` on a proxy (`{id}.{version}.nupkg` or `{id}.nuspec`): from
/// the cache, else fetched from the upstream's flat container and stored as first seen (a cached
/// file is never replaced, so later different upstream bytes are never served). A file stays
/// downloadable by its exact path after the upstream drops its version.
pub async fn flat_file(
    ctx: &Ctx<'_>,
    id: &str,
    version: &str,
    file: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("download");
    allow(ctx, Scope::Read).await?;
    let lid = checked_id(id)?;
    let missing = || not_found(file);
    let lver = url_version(version).ok_or_else(missing)?.lower();
    let raw = format!("{lid}.{}", version.to_ascii_lowercase());
    let file = file.to_ascii_lowercase();
    let (stored, upstream_file, content_type) = if file == format!("{lid}.nuspec") {
        (nuspec_name(&lid, &lver), file.clone(), "application/xml")
    } else if file == format!("{lid}.{lver}.nupkg") || file == format!("{raw}.nupkg") {
        let name = nupkg_name(&lid, &lver);
        (name.clone(), name, "application/octet-stream")
    } else {
        return Err(missing());
    };
    let proxy = common::proxy::of(ctx)?;
    if let Some(pkg) = packages::find(&ctx.state.db, &ctx.repo.name, &lid).await?
        && let Some((_, b)) = packages::find_file(&ctx.state.db, pkg.id, &stored).await?
    {
        return serve_hit(ctx, proxy, &b.sha256, b.size, content_type).await;
    }
    let up = upstream(ctx).await?;
    // The version list is what the client read just before; a version it does not have
    // (published upstream since) makes the proxy ask the upstream once more.
    let mut listed = false;
    for revalidate in [false, true] {
        let Some(served) = flat_doc(ctx, &up, &lid, revalidate).await? else {
            return Err(not_found(&format!("package {id}")));
        };
        listed = flat_versions_of(&served.doc.body)
            .map_err(|e| bad_upstream("version list", e))?
            .iter()
            .any(|v| lower_version(v) == lver);
        if listed || served.state != CacheState::Hit {
            break;
        }
    }
    if !listed {
        return Err(not_found(&format!("version {lver} of {lid}")));
    }
    if let Some(c) = cooldown(ctx, &lid)? {
        let item = find_item(ctx, &up, &lid, &lver).await?;
        if !c.allows_raw(item.as_ref().and_then(|i| i.published.as_deref())) {
            return Err(AppError::Forbidden(format!(
                "{lid} {lver} is younger than this repository's min_age cooldown ({} s), or its publish time is unknown; it is served once it is older",
                proxy.settings.min_age.as_secs()
            )));
        }
    }
    let flat = need(ctx, up.flat.as_deref(), "PackageBaseAddress/3.0.0")?;
    let metadata = serde_json::to_string(&packgate_nuget::Nuspec {
        id: lid.clone(),
        version: lver.clone(),
        ..Default::default()
    })
    .map_err(AppError::internal)?;
    let request = FileRequest {
        url: join(flat, &format!("{lid}/{lver}/{upstream_file}"))?,
        expected: Expected::FirstSeen,
        identity: Identity {
            name: lid.clone(),
            normalized_name: lid.clone(),
            version: lver.clone(),
            normalized_version: lver.clone(),
        },
        check: stored
            .ends_with(".nupkg")
            .then(|| nupkg_check(lid.clone(), lver.clone(), proxy.max_file_size)),
        file_name: stored,
        metadata,
    };
    let Some((d, state)) = proxy.file(&ctx.state.sinks(), request).await? else {
        return Err(missing());
    };
    serve_file(ctx, &d.sha256, d.size, content_type, state).await
}

/// `GET {reg}/{id}/index.json` on a proxy: the upstream's index with its URLs pointed here and
/// the inlined versions a cooldown hides left out.
pub async fn registration_index(ctx: &Ctx<'_>, id: &str) -> Result<HttpResponse, AppError> {
    ctx.label("registration");
    allow(ctx, Scope::Read).await?;
    let lid = checked_id(id)?;
    let up = upstream(ctx).await?;
    let Some(served) = registration_doc(ctx, &up, &lid, false).await? else {
        return Err(not_found(&format!("package {id}")));
    };
    let hidden = match cooldown(ctx, &lid)? {
        None => HashSet::new(),
        Some(c) => {
            let pages = packgate_nuget::proxy::registration_pages(&served.doc.body)
                .map_err(|e| bad_upstream("registration", e))?;
            let items: Vec<RegItem> = pages.into_iter().flat_map(|p| p.items).collect();
            hidden(&c, [], &items)
        }
    };
    let proxy = common::proxy::of(ctx)?;
    let (v3, origin) = (v3_url(ctx), origin(proxy));
    let doc = rendered(
        ctx,
        &format!("registration:{lid}"),
        &served,
        &hidden,
        || {
            let links = links(&v3, &origin, &up);
            packgate_nuget::proxy::rewrite_registration(
                &served.doc.body,
                &lid,
                RegDoc::Index,
                &hidden,
                &links,
            )
        },
    )?;
    Ok(respond(ctx, doc, &served))
}

/// `GET {reg}/{id}/page/{lower}/{upper}.json` on a proxy: the upstream's external page with those
/// bounds (one revalidation of the index when the cached one has no such page).
pub async fn registration_page(
    ctx: &Ctx<'_>,
    id: &str,
    lower: &str,
    upper: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("registration_page");
    allow(ctx, Scope::Read).await?;
    let lid = checked_id(id)?;
    let missing = || not_found("registration page");
    let upper = upper.strip_suffix(".json").ok_or_else(missing)?;
    let (lower, upper) = match (url_version(lower), url_version(upper)) {
        (Some(lo), Some(hi)) => (lo.lower(), hi.lower()),
        _ => return Err(missing()),
    };
    let up = upstream(ctx).await?;
    let mut found = None;
    for revalidate in [false, true] {
        let Some(index) = registration_doc(ctx, &up, &lid, revalidate).await? else {
            return Err(missing());
        };
        found = packgate_nuget::proxy::registration_pages(&index.doc.body)
            .map_err(|e| bad_upstream("registration", e))?
            .into_iter()
            .find(|p| p.lower == lower && p.upper == upper && p.url.is_some());
        if found.is_some() || index.state != CacheState::Hit {
            break;
        }
    }
    let Some(page) = found else {
        return Err(missing());
    };
    let url = page.url.clone().unwrap_or_default();
    let Some(served) = page_doc(ctx, &lid, &page, &url).await? else {
        return Err(missing());
    };
    let hidden = match cooldown(ctx, &lid)? {
        None => HashSet::new(),
        Some(c) => {
            let items = packgate_nuget::proxy::page_items(&served.doc.body)
                .map_err(|e| bad_upstream("registration page", e))?;
            hidden(&c, [], &items)
        }
    };
    let proxy = common::proxy::of(ctx)?;
    let (v3, origin) = (v3_url(ctx), origin(proxy));
    let what = format!("registration-page:{lid}:{lower}:{upper}");
    let doc = rendered(ctx, &what, &served, &hidden, || {
        let links = links(&v3, &origin, &up);
        packgate_nuget::proxy::rewrite_registration(
            &served.doc.body,
            &lid,
            RegDoc::Page,
            &hidden,
            &links,
        )
    })?;
    Ok(respond(ctx, doc, &served))
}

/// `GET {reg}/{id}/{version}.json` on a proxy: the upstream's leaf of that version, its URLs
/// pointed here; 404 for a version a cooldown hides.
pub async fn registration_leaf(
    ctx: &Ctx<'_>,
    id: &str,
    leaf: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("registration_leaf");
    allow(ctx, Scope::Read).await?;
    let lid = checked_id(id)?;
    let missing = || not_found(&format!("version {leaf} of {id}"));
    let lver = leaf
        .strip_suffix(".json")
        .and_then(url_version)
        .ok_or_else(missing)?
        .lower();
    let up = upstream(ctx).await?;
    let Some(item) = find_item(ctx, &up, &lid, &lver).await? else {
        return Err(missing());
    };
    if let Some(c) = cooldown(ctx, &lid)?
        && !c.allows_raw(item.published.as_deref())
    {
        return Err(missing());
    }
    let Some(url) = item.leaf_url.as_deref() else {
        return Err(missing());
    };
    let url = url::Url::parse(url).map_err(|e| bad_upstream("leaf URL", e.to_string()))?;
    let key = format!("registration-leaf:{lid}:{lver}");
    let validate = packgate_nuget::proxy::validate_document;
    let Some(served) = fetch(ctx, &key, &lid, url, validate, false).await? else {
        return Err(missing());
    };
    let proxy = common::proxy::of(ctx)?;
    let (v3, origin) = (v3_url(ctx), origin(proxy));
    let doc = rendered(ctx, &key, &served, &HashSet::new(), || {
        let links = links(&v3, &origin, &up);
        packgate_nuget::proxy::rewrite_registration(
            &served.doc.body,
            &lid,
            RegDoc::Leaf(&lver),
            &HashSet::new(),
            &links,
        )
    })?;
    Ok(respond(ctx, doc, &served))
}

/// A proxy handler's result as a NuGet answer (errors with their reason phrase).
pub fn finish(res: Result<HttpResponse, AppError>) -> super::NugetResult {
    res.map_err(|e| reasoned(e).into())
}

/// NuGet declares no digest for a `.nupkg`, so the first bytes fetched are pinned: before they
/// are, they must be a readable package (zip structure, entry sizes and CRCs, one nuspec) of the
/// id and version asked for, so that a corrupted or swapped first download is not kept.
fn nupkg_check(lid: String, lver: String, max_size: u64) -> crate::services::proxy::FileCheck {
    Box::new(move |path: &std::path::Path| {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let limits = packgate_nuget::PackageLimits::for_upload(max_size);
        let pkg = packgate_nuget::read_package(std::io::BufReader::new(file), &limits)
            .map_err(|e| e.to_string())?;
        let (id, version) = (
            packgate_nuget::lower_id(&pkg.nuspec.id),
            pkg.version.lower(),
        );
        if id != lid || version != lver {
            return Err(format!("it is {id} {version}, not {lid} {lver}"));
        }
        Ok(())
    })
}
