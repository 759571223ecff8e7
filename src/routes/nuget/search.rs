//! Search (`{repo}/v3/query`) and autocomplete (`{repo}/v3/autocomplete`). Only listed versions are
//! found; without `prerelease=true` prereleases are left out, and without `semVerLevel=2.0.0`
//! SemVer 2.0.0 versions are (for clients older than NuGet 4.3).
//!
//! Both read a per-repository catalog (every package with its parsed versions and nuspecs), built
//! off the async threads and kept until the repository changes (`packages::repo_stamp`), so a
//! search costs a filter over memory, not a parse of every stored nuspec.

use super::{NugetResult, allow, is_semver2, v3_url};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::services::auth::Scope;
use crate::services::packages::{self, PackageDescriptor, VersionDescriptor};
use actix_web::{HttpRequest, HttpResponse};
use packgate_nuget::{NuGetVersion, Nuspec};
use std::sync::Arc;

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

/// One version in the catalog.
struct Version {
    version: NuGetVersion,
    listed: bool,
    semver2: bool,
    deprecated: bool,
    nuspec: Nuspec,
}

/// One package in the catalog: its ids and versions, ascending.
struct Package {
    display_id: String,
    lower_id: String,
    versions: Vec<Version>,
}

/// Every package of a repository, parsed.
struct Catalog {
    packages: Vec<Package>,
}

impl Package {
    /// The listed versions the request may see, ascending.
    fn visible(&self, p: &Params) -> Vec<&Version> {
        self.versions
            .iter()
            .filter(|v| v.listed)
            .filter(|v| p.prerelease || !v.version.is_prerelease())
            .filter(|v| p.semver2 || !v.semver2)
            .collect()
    }
}

fn has_type(v: &Version, wanted: &str) -> bool {
    if v.nuspec.package_types.is_empty() {
        return wanted.eq_ignore_ascii_case("Dependency");
    }
    v.nuspec
        .package_types
        .iter()
        .any(|t| t.name.eq_ignore_ascii_case(wanted))
}

/// The repository's catalog: cached while the repository is unchanged, else rebuilt from two
/// queries and parsed on the blocking pool.
async fn catalog(ctx: &Ctx<'_>) -> Result<Arc<Catalog>, AppError> {
    let state = ctx.state;
    let key = format!("nuget-catalog\0{}", ctx.repo.name);
    // The stamp is read before the rows: a change racing with the load makes the next request
    // rebuild, never keeps stale data.
    let stamp = packages::repo_stamp(&state.db, &ctx.repo.name).await?;
    if let Some(c) = state.values.get::<Catalog>(&key, &stamp) {
        return Ok(c);
    }
    let rows = packages::all_versions(&state.db, &ctx.repo.name).await?;
    let built = tokio::task::spawn_blocking(move || -> Result<Catalog, AppError> {
        let mut out = Vec::with_capacity(rows.len());
        for (package, versions) in rows {
            let desc = PackageDescriptor {
                package,
                versions: versions
                    .into_iter()
                    .map(|version| VersionDescriptor {
                        version,
                        files: vec![],
                    })
                    .collect(),
                properties: vec![],
                owners: vec![],
            };
            let mut parsed = Vec::with_capacity(desc.versions.len());
            for e in super::entries(&desc)? {
                parsed.push(Version {
                    semver2: is_semver2(&e),
                    listed: e.v.version.listed,
                    deprecated: e.deprecation.is_some(),
                    version: e.version,
                    nuspec: e.nuspec,
                });
            }
            out.push(Package {
                display_id: desc.package.name.clone(),
                lower_id: desc.package.normalized_name.clone(),
                versions: parsed,
            });
        }
        Ok(Catalog { packages: out })
    })
    .await??;
    let built = Arc::new(built);
    state.values.put(key, stamp, built.clone());
    Ok(built)
}

fn json(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header(("cache-control", "no-cache"))
        .body(body)
}

/// `GET {repo}/v3/query?q=&skip=&take=&prerelease=&semVerLevel=&packageType=`.
pub(super) async fn query(ctx: &Ctx<'_>) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return super::proxy::finish(super::proxy::query(ctx).await);
    }
    ctx.label("search");
    allow(ctx, Scope::Read).await?;
    let p = params(ctx.req);
    let cat = catalog(ctx).await?;
    let v3 = v3_url(ctx);
    let body = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        for pkg in &cat.packages {
            let vs = pkg.visible(&p);
            let Some(&latest) = vs.last() else { continue };
            if !packgate_nuget::matches_query(&latest.nuspec, &pkg.display_id, &p.q) {
                continue;
            }
            if let Some(t) = &p.package_type
                && !has_type(latest, t)
            {
                continue;
            }
            found.push((pkg, latest, vs));
        }
        let total = found.len();
        let hits: Vec<packgate_nuget::SearchHit<'_>> = found
            .iter()
            .skip(p.skip)
            .take(p.take)
            .map(|(pkg, latest, vs)| packgate_nuget::SearchHit {
                display_id: &pkg.display_id,
                latest: &latest.nuspec,
                latest_version: &latest.version,
                versions: vs.iter().map(|v| &v.version).collect(),
                deprecated: latest.deprecated,
            })
            .collect();
        packgate_nuget::search_response(&v3, total, &hits)
    })
    .await?;
    Ok(json(body))
}

/// `GET {repo}/v3/autocomplete?q=…` (ids) or `?id=…` (the versions of one id).
pub(super) async fn autocomplete(ctx: &Ctx<'_>) -> NugetResult {
    if ctx.repo.proxy.is_some() {
        return super::proxy::finish(super::proxy::autocomplete(ctx).await);
    }
    ctx.label("autocomplete");
    allow(ctx, Scope::Read).await?;
    let p = params(ctx.req);
    let cat = catalog(ctx).await?;
    let body = tokio::task::spawn_blocking(move || {
        if let Some(id) = &p.id {
            let lower = packgate_nuget::lower_id(id);
            let versions: Vec<String> = cat
                .packages
                .iter()
                .find(|pkg| pkg.lower_id == lower)
                .map(|pkg| pkg.visible(&p).iter().map(|v| v.version.full()).collect())
                .unwrap_or_default();
            return packgate_nuget::autocomplete_versions(&versions);
        }
        let needle = p.q.to_ascii_lowercase();
        let ids: Vec<&str> = cat
            .packages
            .iter()
            .filter(|pkg| pkg.lower_id.contains(&needle))
            .filter(|pkg| {
                let vs = pkg.visible(&p);
                vs.last().is_some_and(|latest| {
                    p.package_type.as_ref().is_none_or(|t| has_type(latest, t))
                })
            })
            .map(|pkg| pkg.display_id.as_str())
            .collect();
        let page: Vec<&str> = ids.iter().copied().skip(p.skip).take(p.take).collect();
        packgate_nuget::autocomplete_ids(ids.len(), &page)
    })
    .await?;
    Ok(json(body))
}
