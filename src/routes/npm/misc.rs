//! `npm ping`, `npm search`, the audit endpoints (answered "no advisories" so installs never fail
//! or hang on them) and the signing-keys endpoint.
//!
//! Both costly endpoints are bounded for anonymous callers: audits need read access and take at
//! most 4 MiB of (decompressed) JSON, validated without being built in memory; search takes at
//! most 16 terms and is answered from a per-repository catalog (one entry per package, rebuilt
//! when the repository changes), so a request costs a filter over memory and renders one page.

use super::{Body, Ctx, json};
use crate::error::AppError;
use crate::services::auth::Scope;
use crate::services::packages;
use crate::services::time::{iso8601, now_millis};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// `GET /-/ping`.
pub async fn ping(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("ping");
    Ok(json(StatusCode::OK, json!({})))
}

/// `GET /-/npm/v1/keys`: no registry signatures.
pub async fn keys(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("keys");
    Ok(json(StatusCode::OK, json!({"keys": []})))
}

/// The most an audit request body may hold after decompression. npm's bulk request lists each
/// installed package with its versions: a few hundred KiB for large trees.
const MAX_AUDIT_BODY: u64 = 4 * 1024 * 1024;

/// Audit bodies read at the same time. actix gunzips each network read of a body (up to about
/// 128 KiB) in one piece, so one gzip bomb briefly holds up to ~130 MiB before the size limit
/// sees it; reading few bodies at once bounds that memory however many requests arrive.
static AUDIT_READS: Semaphore = Semaphore::const_new(2);

/// How long an audit request waits for a turn to be read (408 after).
const AUDIT_WAIT: Duration = Duration::from_secs(10);

/// How long reading one audit body may take in all (408 after), so that a trickled body cannot
/// keep a turn.
const AUDIT_READ_TIME: Duration = Duration::from_secs(30);

/// Reads an audit request body (gunzipped on the way, as its `Content-Encoding` says) into a
/// spool file, cut at [`MAX_AUDIT_BODY`] (413: a gzip bomb stops there), and checks that it is
/// JSON without building the document: the body only has to be valid, since no advisories are
/// ever reported.
async fn drain(ctx: &Ctx<'_>, body: Body) -> Result<(), AppError> {
    let limit = MAX_AUDIT_BODY.min(ctx.repo.max_upload);
    let turn = tokio::time::timeout(AUDIT_WAIT, AUDIT_READS.acquire())
        .await
        .map_err(|_| {
            AppError::Timeout(
                "the server is busy reading other audit requests; try again later".into(),
            )
        })?
        .map_err(|_| AppError::internal("the audit semaphore is closed"))?;
    let spooled = tokio::time::timeout(AUDIT_READ_TIME, ctx.state.spool.body(body, limit))
        .await
        .map_err(|_| {
            AppError::Timeout(format!(
                "the audit request body took longer than {} s to arrive",
                AUDIT_READ_TIME.as_secs()
            ))
        })?
        .map_err(|e| match e {
            AppError::TooLarge(_) => AppError::TooLarge(format!(
                "the audit request is larger than {limit} bytes after decompression"
            )),
            e => e,
        })?;
    drop(turn);
    let file = spooled.reopen()?;
    tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::with_capacity(64 * 1024, file);
        serde_json::from_reader::<_, serde::de::IgnoredAny>(reader).map(drop)
    })
    .await?
    .map_err(|e| AppError::Invalid(format!("the audit request is not valid JSON: {e}")))
}

/// `POST /-/npm/v1/security/advisories/bulk` (gzip body): no advisories.
pub async fn audit_bulk(ctx: &Ctx<'_>, body: Body) -> Result<HttpResponse, AppError> {
    ctx.label("audit");
    ctx.allow(Scope::Read).await?;
    drain(ctx, body).await?;
    Ok(json(StatusCode::OK, json!({})))
}

/// `POST /-/npm/v1/security/audits/quick` (npm 10's fallback): an empty report.
pub async fn audit_quick(ctx: &Ctx<'_>, body: Body) -> Result<HttpResponse, AppError> {
    ctx.label("audit");
    ctx.allow(Scope::Read).await?;
    drain(ctx, body).await?;
    Ok(json(
        StatusCode::OK,
        json!({"actions": [], "advisories": {}, "muted": [], "metadata": {"vulnerabilities": {"info": 0, "low": 0, "moderate": 0, "high": 0, "critical": 0}, "dependencies": 0, "devDependencies": 0, "optionalDependencies": 0, "totalDependencies": 0}}),
    ))
}

/// One package as search shows it: its `latest` version's name, description, keywords, date
/// and publisher.
struct Entry {
    name: String,
    lower_name: String,
    version: String,
    description: Option<String>,
    /// As stored (rendered as given; `null` as `[]`).
    keywords: serde_json::Value,
    lower_keywords: Vec<String>,
    date: String,
    publisher: Option<String>,
}

/// Every package of a repository that has a `latest` version, by name.
struct Catalog {
    entries: Vec<Entry>,
}

/// The fields of a stored version manifest that search shows (the rest, readme included, is
/// skipped while parsing).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Shown {
    description: serde_json::Value,
    keywords: Option<serde_json::Value>,
    #[serde(rename = "_npmUser")]
    npm_user: serde_json::Value,
}

/// The repository's search catalog: cached while the repository is unchanged
/// (`packages::repo_stamp`), else rebuilt from the packages' `latest` versions, parsed on the
/// blocking pool.
async fn catalog(ctx: &Ctx<'_>) -> Result<Arc<Catalog>, AppError> {
    let state = ctx.state;
    let key = format!("npm-search\0{}", ctx.repo.name);
    // The stamp is read before the rows: a change racing with the load makes the next request
    // rebuild, never keeps stale data.
    let stamp = packages::repo_stamp(&state.db, &ctx.repo.name).await?;
    if let Some(c) = state.values.get::<Catalog>(&key, &stamp) {
        return Ok(c);
    }
    let latest = format!("{}latest", super::view::DIST_TAG);
    let rows = packages::tagged_versions(&state.db, &ctx.repo.name, &latest).await?;
    let built = tokio::task::spawn_blocking(move || {
        let entries = rows
            .into_iter()
            .filter_map(|(package, version)| {
                let v = version?;
                let shown: Shown = v.metadata().unwrap_or_default();
                let keywords = shown.keywords.unwrap_or_else(|| json!([]));
                Some(Entry {
                    lower_name: package.name.to_lowercase(),
                    name: package.name,
                    version: v.version,
                    description: shown.description.as_str().map(str::to_string),
                    lower_keywords: packgate_npm::lower_keywords(&keywords),
                    keywords,
                    date: iso8601(v.created_at),
                    publisher: shown
                        .npm_user
                        .get("name")
                        .and_then(|n| n.as_str())
                        .map(str::to_string),
                })
            })
            .collect();
        Catalog { entries }
    })
    .await?;
    let built = Arc::new(built);
    state.values.put(key, stamp, built.clone());
    Ok(built)
}

/// `GET /-/v1/search?text=&size=&from=`: packages whose name contains a term, filtered by
/// `keywords:` and `scope:` qualifiers, `latest` version shown. At most
/// [`packgate_npm::MAX_SEARCH_TERMS`] terms (400 beyond). Answered from the repository's
/// catalog: the filter runs over memory and only the page `[from, from + size)` is rendered.
pub async fn search(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let mut text = String::new();
    let mut size: u64 = 20;
    let mut from: u64 = 0;
    for (k, v) in crate::routes::common::query::pairs(ctx.req.query_string()) {
        match k.as_str() {
            "text" => text = v,
            "size" => size = v.parse().unwrap_or(20).clamp(1, 250),
            "from" => from = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let q = packgate_npm::parse_search_text(&text);
    q.check().map_err(|e| AppError::Invalid(e.to_string()))?;
    let cat = catalog(ctx).await?;
    let registry = ctx.repo_url();
    let now = iso8601(now_millis());
    let body = tokio::task::spawn_blocking(move || {
        let found: Vec<&Entry> = cat
            .entries
            .iter()
            .filter(|e| q.matches(&e.lower_name, &e.lower_keywords))
            .collect();
        let page: Vec<packgate_npm::SearchHit> = found
            [packgate_npm::search_page(found.len(), from, size)]
        .iter()
        .map(|e| packgate_npm::SearchHit {
            name: e.name.clone(),
            version: e.version.clone(),
            description: e.description.clone(),
            keywords: e.keywords.clone(),
            date: e.date.clone(),
            link: format!("{registry}/{}", e.name),
            publisher: e.publisher.clone(),
        })
        .collect();
        packgate_npm::render_search(&page, found.len() as u64, &now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
