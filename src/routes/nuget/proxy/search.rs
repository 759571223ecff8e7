//! Search and autocomplete on a NuGet proxy: forwarded to the upstream's resources with the
//! request's query string, answers kept a short while in this instance's memory only.

use super::upstream::{need, origin, upstream};
use super::{JSON, allow, bad_upstream, links, not_found, v3_url};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::proxy as common_proxy;
use crate::services::auth::Scope;
use crate::services::proxy::Served;
use actix_web::HttpResponse;

/// Longest search or autocomplete query forwarded (NuGet's own are a few dozen bytes).
const MAX_QUERY: usize = 2048;

/// A search or autocomplete answer forwarded to the upstream's `resource` with the request's
/// query string (kept a short while in this instance's memory only, never in the database).
async fn forward(
    ctx: &Ctx<'_>,
    what: &str,
    resource: Option<&str>,
    name: &str,
) -> Result<Served, AppError> {
    let query = common_proxy::forwardable_query(ctx, MAX_QUERY, "query")?;
    let mut url = url::Url::parse(need(ctx, resource, name)?)
        .map_err(|e| bad_upstream(name, e.to_string()))?;
    url.set_query(Some(query).filter(|q| !q.is_empty()));
    let key = format!("{what}:{query}");
    let validate = packgate_nuget::proxy::validate_document;
    common_proxy::forward(ctx, &key, url, validate)
        .await?
        .ok_or_else(|| not_found(what))
}

fn json_answer(body: impl Into<bytes::Bytes>, served: &Served) -> HttpResponse {
    common_proxy::forwarded(JSON, body.into(), served)
}

/// `GET {repo}/v3/query` on a proxy: forwarded; each hit's registration URLs point here.
pub async fn query(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    allow(ctx, Scope::Read).await?;
    let up = upstream(ctx).await?;
    let served = forward(ctx, "search", up.search.as_deref(), "SearchQueryService").await?;
    let proxy = common_proxy::of(ctx)?;
    let (v3, origin) = (v3_url(ctx), origin(proxy));
    let body = packgate_nuget::proxy::rewrite_search(&served.doc.body, &links(&v3, &origin, &up))
        .map_err(|e| bad_upstream("search answer", e))?;
    Ok(json_answer(body, &served))
}

/// `GET {repo}/v3/autocomplete` on a proxy: forwarded (ids and versions only, no URLs).
pub async fn autocomplete(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("autocomplete");
    allow(ctx, Scope::Read).await?;
    let up = upstream(ctx).await?;
    let served = forward(
        ctx,
        "autocomplete",
        up.autocomplete.as_deref(),
        "SearchAutocompleteService",
    )
    .await?;
    let body = packgate_nuget::proxy::decode(&served.doc.body)
        .map_err(|e| bad_upstream("autocomplete answer", e))?
        .into_owned();
    Ok(json_answer(body, &served))
}
