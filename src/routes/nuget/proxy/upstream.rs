//! The upstream side of a NuGet proxy: the upstream's service index and the resources it lists
//! (on its origin only), its flat lists, registrations, external pages and leaves through the
//! proxy cache, the registration item of one version, and the cooldown's publish times.

use super::bad_upstream;
use crate::error::AppError;
use crate::routes::common;
use crate::routes::common::ctx::Ctx;
use crate::services::proxy::{CacheState, Cooldown, DocRequest, Proxy, Served};
use crate::services::time::now_millis;
use packgate_nuget::proxy::{RegItem, UpstreamResources};
use std::sync::Arc;

/// The upstream's service index: `upstream` itself when it names a `.json` document, else
/// `{upstream}v3/index.json` (where the public gallery and packgate serve theirs).
pub(super) fn service_index_url(proxy: &Proxy) -> Result<url::Url, AppError> {
    let up = &proxy.settings.upstream;
    if up.path().ends_with(".json/") {
        let mut url = up.clone();
        let path = up.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        return Ok(url);
    }
    proxy.upstream_url("v3/index.json")
}

/// The upstream's origin (`scheme://host:port`), the only one a proxy fetches from.
pub(super) fn origin(proxy: &Proxy) -> String {
    proxy.settings.upstream.origin().ascii_serialization()
}

/// The upstream's resources, from its service index through the cache (parsed once per body).
pub(super) async fn upstream(ctx: &Ctx<'_>) -> Result<Arc<UpstreamResources>, AppError> {
    let proxy = common::proxy::of(ctx)?;
    let url = service_index_url(proxy)?;
    let served = proxy
        .document(
            &ctx.state.db,
            DocRequest {
                key: "index.json",
                package: "",
                url: url.clone(),
                accept: Some("application/json"),
                missing: &[],
                validate: packgate_nuget::proxy::validate_service_index,
                revalidate: false,
                persist: true,
            },
        )
        .await?
        .ok_or_else(|| AppError::Upstream(format!("the upstream has no service index at {url}")))?;
    let key = format!("nuget-proxy-resources\0{}", ctx.repo.name);
    if let Some(r) = ctx.state.values.get(&key, &served.doc.digest) {
        return Ok(r);
    }
    let found = packgate_nuget::proxy::upstream_resources(&served.doc.body, &origin(proxy))
        .map_err(|e| bad_upstream("service index", e))?;
    let found = Arc::new(found);
    ctx.state
        .values
        .put(key, served.doc.digest.clone(), found.clone());
    Ok(found)
}

/// A resource the upstream must list on its origin.
pub(super) fn need<'a>(
    ctx: &Ctx<'_>,
    resource: Option<&'a str>,
    name: &str,
) -> Result<&'a str, AppError> {
    resource.ok_or_else(|| {
        let origin = ctx.repo.proxy.as_deref().map(origin).unwrap_or_default();
        AppError::Upstream(format!(
            "the upstream's service index lists no {name} on its origin {origin} (packgate uses no other origin)"
        ))
    })
}

/// `base` (a resource URL ending in `/`) followed by `path`.
pub(super) fn join(base: &str, path: &str) -> Result<url::Url, AppError> {
    url::Url::parse(&format!("{base}{path}"))
        .map_err(|e| bad_upstream("resource URL", format!("{base}{path}: {e}")))
}

/// An upstream document of package `lid` through the cache; `None` when the upstream has none.
pub(super) async fn fetch(
    ctx: &Ctx<'_>,
    key: &str,
    lid: &str,
    url: url::Url,
    validate: fn(&[u8]) -> Result<(), String>,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    let proxy = common::proxy::of(ctx)?;
    if !proxy.on_origin(&url) {
        return Err(AppError::Upstream(format!(
            "the upstream's registration points at another origin ({}); packgate only fetches from {}",
            url.origin().ascii_serialization(),
            origin(proxy)
        )));
    }
    proxy
        .document(
            &ctx.state.db,
            DocRequest {
                key,
                package: lid,
                url,
                accept: Some("application/json"),
                missing: &[404, 410],
                validate,
                revalidate,
                persist: true,
            },
        )
        .await
}

/// The upstream's flat-container version list of `lid` (cache key `flat:{lid}`).
pub(super) async fn flat_doc(
    ctx: &Ctx<'_>,
    up: &UpstreamResources,
    lid: &str,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    let flat = need(ctx, up.flat.as_deref(), "PackageBaseAddress/3.0.0")?;
    let url = join(flat, &format!("{lid}/index.json"))?;
    let validate = packgate_nuget::proxy::validate_flat;
    fetch(ctx, &format!("flat:{lid}"), lid, url, validate, revalidate).await
}

/// The upstream's registration index of `lid` (cache key `registration:{lid}`).
pub(super) async fn registration_doc(
    ctx: &Ctx<'_>,
    up: &UpstreamResources,
    lid: &str,
    revalidate: bool,
) -> Result<Option<Served>, AppError> {
    let reg = need(ctx, up.registration.as_deref(), "RegistrationsBaseUrl")?;
    let url = join(reg, &format!("{lid}/index.json"))?;
    let validate = packgate_nuget::proxy::validate_document;
    fetch(
        ctx,
        &format!("registration:{lid}"),
        lid,
        url,
        validate,
        revalidate,
    )
    .await
}

/// The upstream's external registration page at `url` (cache key by its bounds).
pub(super) async fn page_doc(
    ctx: &Ctx<'_>,
    lid: &str,
    page: &packgate_nuget::proxy::RegPage,
    url: &str,
) -> Result<Option<Served>, AppError> {
    let url = url::Url::parse(url).map_err(|e| bad_upstream("page URL", e.to_string()))?;
    let key = format!("registration-page:{lid}:{}:{}", page.lower, page.upper);
    let validate = packgate_nuget::proxy::validate_document;
    fetch(ctx, &key, lid, url, validate, false).await
}

/// The registration's item for one version (from the index, or the external page whose bounds
/// hold it); a version the cached index does not have makes one revalidation.
pub(super) async fn find_item(
    ctx: &Ctx<'_>,
    up: &UpstreamResources,
    lid: &str,
    lver: &str,
) -> Result<Option<RegItem>, AppError> {
    if up.registration.is_none() {
        return Ok(None);
    }
    let wanted = packgate_nuget::NuGetVersion::parse(lver).ok();
    let within = |p: &packgate_nuget::proxy::RegPage| {
        let bound = |b: &str| packgate_nuget::NuGetVersion::parse(b).ok();
        match (&wanted, bound(&p.lower), bound(&p.upper)) {
            (Some(v), Some(lo), Some(hi)) => lo <= *v && *v <= hi,
            _ => true,
        }
    };
    for revalidate in [false, true] {
        let Some(index) = registration_doc(ctx, up, lid, revalidate).await? else {
            return Ok(None);
        };
        let pages = packgate_nuget::proxy::registration_pages(&index.doc.body)
            .map_err(|e| bad_upstream("registration", e))?;
        for page in pages.iter().filter(|p| within(p)) {
            let items = match &page.url {
                None => page.items.clone(),
                Some(url) => match page_doc(ctx, lid, page, url).await? {
                    Some(p) => packgate_nuget::proxy::page_items(&p.doc.body)
                        .map_err(|e| bad_upstream("registration page", e))?,
                    None => Vec::new(),
                },
            };
            if let Some(item) = items.into_iter().find(|i| i.version == lver) {
                return Ok(Some(item));
            }
        }
        if index.state != CacheState::Hit {
            break;
        }
    }
    Ok(None)
}

/// The cooldown for package `lid`, when one applies.
pub(super) fn cooldown(ctx: &Ctx<'_>, lid: &str) -> Result<Option<Cooldown>, AppError> {
    Ok(Cooldown::of(
        &common::proxy::of(ctx)?.settings,
        lid,
        now_millis(),
    ))
}

/// The versions of `all` and of `items` cooldown `c` hides.
pub(super) fn hidden<'a>(
    c: &Cooldown,
    all: impl IntoIterator<Item = &'a str>,
    items: &'a [RegItem],
) -> std::collections::HashSet<String> {
    packgate_nuget::proxy::hidden_versions(all, items, &|published| c.allows_raw(published))
}

/// Every registration item of `lid` (inlined and on external pages).
pub(super) async fn all_items(
    ctx: &Ctx<'_>,
    up: &UpstreamResources,
    lid: &str,
) -> Result<Vec<RegItem>, AppError> {
    if up.registration.is_none() {
        return Ok(Vec::new());
    }
    let Some(index) = registration_doc(ctx, up, lid, false).await? else {
        return Ok(Vec::new());
    };
    let pages = packgate_nuget::proxy::registration_pages(&index.doc.body)
        .map_err(|e| bad_upstream("registration", e))?;
    let mut items = Vec::new();
    for page in &pages {
        match &page.url {
            None => items.extend(page.items.iter().cloned()),
            Some(url) => {
                if let Some(p) = page_doc(ctx, lid, page, url).await? {
                    items.extend(
                        packgate_nuget::proxy::page_items(&p.doc.body)
                            .map_err(|e| bad_upstream("registration page", e))?,
                    );
                }
            }
        }
    }
    Ok(items)
}
