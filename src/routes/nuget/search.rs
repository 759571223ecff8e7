//! Search (`{repo}/v3/query`) and autocomplete (`{repo}/v3/autocomplete`). Only listed versions are
//! found; without `prerelease=true` prereleases are left out, and without `semVerLevel=2.0.0`
//! SemVer 2.0.0 versions are (for clients older than NuGet 4.3).

use super::{Entry, NugetResult, allow, entries, is_semver2, v3_url};
use crate::routes::common::ctx::Ctx;
use crate::server::{AppState, RepoCtx};
use crate::services::auth::Scope;
use crate::services::packages::{self, PackageDescriptor, VersionDescriptor};
use actix_web::{HttpRequest, HttpResponse, web};

/// The most results one request returns (the public feed's cap).
const MAX_TAKE: usize = 1000;

/// Query parameters shared by both endpoints.
struct Params {
    q: String,
    id: Option<String>,
    skip: usize,
    take: usize,
    prerelease: bool,
    semver2: bool,
    package_type: Option<String>,
}

fn params(req: &HttpRequest) -> Params {
    let mut p = Params {
        q: String::new(),
        id: None,
        skip: 0,
        take: 20,
        prerelease: false,
        semver2: false,
        package_type: None,
    };
    for (k, v) in crate::routes::common::query::pairs(req.query_string()) {
        match k.to_ascii_lowercase().as_str() {
            "q" => p.q = v.trim().to_string(),
            "id" => p.id = Some(v.trim().to_string()),
            "skip" => p.skip = v.parse().unwrap_or(0),
            "take" => p.take = v.parse::<usize>().unwrap_or(20).min(MAX_TAKE),
            "prerelease" => p.prerelease = v.eq_ignore_ascii_case("true"),
            "semverlevel" => p.semver2 = v.trim().starts_with('2'),
            "packagetype" | "packagetypefilter" if !v.trim().is_empty() => {
                p.package_type = Some(v.trim().to_string())
            }
            _ => {}
        }
    }
    p
}

/// The listed versions of a package that the request may see, ascending.
fn visible<'a>(es: Vec<Entry<'a>>, p: &Params) -> Vec<Entry<'a>> {
    es.into_iter()
        .filter(|e| e.v.version.listed)
        .filter(|e| p.prerelease || !e.version.is_prerelease())
        .filter(|e| p.semver2 || !is_semver2(e))
        .collect()
}

fn has_type(e: &Entry<'_>, wanted: &str) -> bool {
    if e.nuspec.package_types.is_empty() {
        return wanted.eq_ignore_ascii_case("Dependency");
    }
    e.nuspec
        .package_types
        .iter()
        .any(|t| t.name.eq_ignore_ascii_case(wanted))
}

/// Every package of the repository as a descriptor (versions without files: search needs only the
/// version rows).
async fn all_packages(ctx: &Ctx<'_>) -> Result<Vec<PackageDescriptor>, super::NugetError> {
    let all = packages::all_versions(&ctx.state.db, &ctx.repo.name).await?;
    Ok(all
        .into_iter()
        .map(|(package, versions)| PackageDescriptor {
            package,
            versions: versions
                .into_iter()
                .map(|version| VersionDescriptor {
                    version,
                    files: vec![],
                })
                .collect(),
            properties: vec![],
        })
        .collect())
}

fn json(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header(("cache-control", "no-cache"))
        .body(body)
}

/// `GET {repo}/v3/query?q=&skip=&take=&prerelease=&semVerLevel=&packageType=`.
pub async fn query(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("search");
    allow(&ctx, Scope::Read).await?;
    let p = params(&req);
    let descs = all_packages(&ctx).await?;
    let mut found = Vec::new();
    for desc in &descs {
        let es = visible(entries(desc)?, &p);
        let Some(latest) = es.last() else { continue };
        if !packgate_nuget::matches_query(&latest.nuspec, &desc.package.name, &p.q) {
            continue;
        }
        if let Some(t) = &p.package_type
            && !has_type(latest, t)
        {
            continue;
        }
        found.push((desc, es));
    }
    let total = found.len();
    let page: Vec<_> = found.into_iter().skip(p.skip).take(p.take).collect();
    let hits: Vec<packgate_nuget::SearchHit<'_>> = page
        .iter()
        .map(|(desc, es)| {
            let latest = es.last().expect("non-empty");
            packgate_nuget::SearchHit {
                display_id: &desc.package.name,
                latest: &latest.nuspec,
                latest_version: &latest.version,
                versions: es.iter().map(|e| &e.version).collect(),
                deprecated: latest.deprecation.is_some(),
            }
        })
        .collect();
    Ok(json(packgate_nuget::search_response(
        &v3_url(&ctx),
        total,
        &hits,
    )))
}

/// `GET {repo}/v3/autocomplete?q=…` (ids) or `?id=…` (the versions of one id).
pub async fn autocomplete(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("autocomplete");
    allow(&ctx, Scope::Read).await?;
    let p = params(&req);
    if let Some(id) = &p.id {
        let lower = packgate_nuget::lower_id(id);
        let versions = match packages::load(&state.db, &repo.name, &lower).await? {
            Some(desc) => visible(entries(&desc)?, &p)
                .iter()
                .map(|e| e.version.full())
                .collect(),
            None => vec![],
        };
        return Ok(json(packgate_nuget::autocomplete_versions(&versions)));
    }
    let needle = p.q.to_ascii_lowercase();
    let descs = all_packages(&ctx).await?;
    let mut ids = Vec::new();
    for desc in &descs {
        if !desc.package.normalized_name.contains(&needle) {
            continue;
        }
        let es = visible(entries(desc)?, &p);
        let Some(latest) = es.last() else { continue };
        if let Some(t) = &p.package_type
            && !has_type(latest, t)
        {
            continue;
        }
        ids.push(desc.package.name.as_str());
    }
    let total = ids.len();
    let page: Vec<&str> = ids.into_iter().skip(p.skip).take(p.take).collect();
    Ok(json(packgate_nuget::autocomplete_ids(total, &page)))
}
