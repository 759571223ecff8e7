//! Cargo on a group repository (`type = "group"`): packgate's own `config.json` (`dl` and `api`
//! point at the group), index files merged from the members the group's plan asks (routing
//! rules, then the name claim of hosted members) with `packgate_cargo::group`, `.crate`
//! downloads from the member whose index line was kept, `cargo search` across members, publishes
//! to the hosted member holding the crate (else `publish_to`), and yank, unyank and owner
//! commands handed to the hosted member holding the crate; and what
//! `GET /-/api/explain/{group}/{name}` shows for a crate. See `docs/formats/cargo.md`, "Group
//! repositories".
//!
//! The claim and the rules look at the crate's canonical name (ASCII lower-case, `_` as `-`: the
//! key hosted repositories store), so `Foo_Bar` held by a hosted member also keeps `foo-bar` of
//! an upstream out.
//!
//! These routes are registered before the hosted ones, behind a guard that matches group
//! repositories only.

use super::{CargoResult, index, owners, proxy, publish, yank};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::routes::common::etag;
use crate::routes::common::explain::Explained;
use crate::routes::common::group::{self as common, MemberDoc};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::group::{Answer, Outcome, Plan, Verdict};
use crate::state::{GroupCtx, RepoCtx};
use actix_web::guard::{self, GuardContext};
use actix_web::{HttpResponse, web};
use packgate_cargo::group::{MergedIndex, SearchPage, merge_index_files, merge_search};
use std::collections::HashMap;

/// Whether the request is for a group repository.
fn is_group(ctx: &GuardContext<'_>) -> bool {
    ctx.app_data::<web::Data<RepoCtx>>()
        .is_some_and(|repo| repo.group.is_some())
}

/// Registers the group's routes, each guarded to group repositories; call before the hosted
/// routes. `config.json` and `/me` are the hosted handlers: `config.json` names the group's own
/// URLs and read policy.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let grouped = || guard::fn_guard(is_group);
    for method in [web::get, web::head] {
        // The group's config.json (the hosted handler), matched before `/index/{tail}`.
        cfg.route(
            "/index/config.json",
            method().guard(grouped()).to(index::config_json),
        )
        .route("/index/{tail:.+}", method().guard(grouped()).to(index_file))
        .route(
            "/api/v1/crates/{name}/{version}/download",
            method().guard(grouped()).to(download),
        );
    }
    cfg.route(
        "/api/v1/crates/new",
        web::put().guard(grouped()).to(publish),
    )
    .route("/api/v1/crates", web::get().guard(grouped()).to(search))
    .route(
        "/api/v1/crates/{name}/{version}/yank",
        web::delete().guard(grouped()).to(yank),
    )
    .route(
        "/api/v1/crates/{name}/{version}/unyank",
        web::put().guard(grouped()).to(unyank),
    )
    .route(
        "/api/v1/crates/{name}/owners",
        web::get().guard(grouped()).to(list_owners),
    )
    .route(
        "/api/v1/crates/{name}/owners",
        web::put().guard(grouped()).to(add_owners),
    )
    .route(
        "/api/v1/crates/{name}/owners",
        web::delete().guard(grouped()).to(remove_owners),
    );
}

fn not_found() -> AppError {
    AppError::NotFound("not found".into())
}

/// A document as a group reads it from a member: 200 with the body, the member's ETag and (from
/// a proxy) its cache state, never a 304 (the client's `If-None-Match` is for the group's file).
fn member_doc(doc: Rendered) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("etag", doc.etag))
        .body(doc.body)
}

/// A member's index file at `tail` (its own handler: hosted or proxy).
async fn member_index(ctx: Ctx<'_>, tail: String) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        let (doc, served) = proxy::index_doc(&ctx, &tail).await?;
        let mut res = member_doc(doc);
        crate::routes::common::proxy::cache_headers(&mut res, &served);
        Ok(res)
    } else {
        let (doc, _) = index::index_doc(&ctx, &tail).await?;
        Ok(member_doc(doc))
    }
}

/// A member's `.crate` download.
async fn member_download(
    ctx: Ctx<'_>,
    name: String,
    version: String,
) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        proxy::download_of(&ctx, &name, &version).await
    } else {
        index::download_of(&ctx, &name, &version).await
    }
}

/// The plan for a crate: rules and the claim by its canonical name.
async fn plan(ctx: &Ctx<'_>, group: &GroupCtx, name: &str) -> Result<Plan, AppError> {
    let canonical = packgate_cargo::canonical_name(name);
    group.group.plan_for(&ctx.state.db, &canonical).await
}

/// The members' index files at `tail` (for the crate `name`), in precedence order.
async fn member_indexes<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    name: &str,
    tail: &str,
) -> Result<(Outcome<MemberDoc>, Plan), AppError> {
    let plan = plan(ctx, group, name).await?;
    let owned = tail.to_string();
    let outcome =
        common::documents(ctx, group, &plan, move |c| member_index(c, owned.clone())).await;
    Ok((outcome, plan))
}

/// The members' index files merged (`MergedIndex::sources` refer to `outcome.found`).
fn merge(outcome: &Outcome<MemberDoc>) -> MergedIndex {
    let bodies: Vec<&[u8]> = outcome.found.iter().map(|(_, d)| d.body.as_ref()).collect();
    merge_index_files(&bodies)
}

/// The merged index file through the document cache, keyed by the members' ETags (a publish to
/// a member shows on the next request); `None` when no kept line is left.
fn merged_doc(ctx: &Ctx<'_>, tail: &str, outcome: &Outcome<MemberDoc>) -> Option<Rendered> {
    // Index lines hold no URLs: the merged file is the same whatever the base URL.
    let key = format!(
        "cargo-group\0{}\0{tail}\0{}",
        ctx.repo.name,
        common::fingerprint(outcome.found.iter().map(|(i, d)| (*i, d)))
    );
    let doc = common::cached(ctx, key, || {
        let merged = merge(outcome);
        if merged.malformed > 0 || merged.duplicates > 0 {
            tracing::debug!(
                repo.name = %ctx.repo.name,
                index = %tail,
                duplicates = merged.duplicates,
                malformed = merged.malformed,
                "index lines left out of a group's index file"
            );
        }
        Ok(Rendered {
            etag: etag::of_bytes(&merged.body),
            digest: String::new(),
            body: bytes::Bytes::from(merged.body),
        })
    })
    .ok()?;
    (!doc.body.is_empty()).then_some(doc)
}

/// `GET /index/{prefix}/{name}` on a group: the members' lines in member order, a version
/// already listed dropped, every kept line byte-identical; ETag and 304 of its own; 404 only
/// when no member has the crate (a failing member that might have it gives its error).
async fn index_file(r: RepoRequest, tail: web::Path<String>) -> CargoResult {
    let ctx = r.ctx();
    ctx.label("index");
    ctx.allow(Scope::Read).await?;
    let group = common::of(&ctx)?;
    // cargo 1.70+ asks for lower-case paths; other spellings are looked up lower-cased.
    let tail = tail.to_ascii_lowercase();
    let segments: Vec<&str> = tail.split('/').collect();
    let name = packgate_cargo::name_from_index_path(&segments).ok_or_else(not_found)?;
    let (outcome, _) = member_indexes(&ctx, group, &name, &tail).await?;
    let Some(doc) = merged_doc(&ctx, &tail, &outcome) else {
        return Err(outcome.nothing(not_found).into());
    };
    let mut res = if etag::not_modified(ctx.req, &doc.etag) {
        HttpResponse::NotModified()
            .insert_header(("etag", doc.etag))
            .insert_header(("cache-control", "no-cache"))
            .finish()
    } else {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("etag", doc.etag))
            .insert_header(("cache-control", "no-cache"))
            .body(doc.body)
    };
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// `GET /api/v1/crates/{name}/{version}/download` on a group: from the member whose index line
/// for the version the group's index file kept. A version no member's index lists (published
/// upstream since the proxy cached its index) is asked of the members the plan allows, in
/// order, each of which answers as it would alone (a proxy revalidates its index once).
async fn download(r: RepoRequest, path: web::Path<(String, String)>) -> CargoResult {
    let ctx = r.ctx();
    ctx.label("download");
    ctx.allow(Scope::Read).await?;
    let group = common::of(&ctx)?;
    let (name, version) = path.into_inner();
    let missing =
        || AppError::NotFound(format!("crate `{name}` version `{version}` does not exist"));
    let tail = packgate_cargo::proxy::index_name(&name)
        .map(|n| packgate_cargo::index_path(&n))
        .ok_or_else(missing)?;
    let (outcome, plan) = member_indexes(&ctx, group, &name, &tail).await?;
    let call = |c| member_download(c, name.clone(), version.clone());
    if let Some(pos) = merge(&outcome).member_of(&version) {
        let i = outcome.found[pos].0;
        return match common::ask(&ctx, group, i, call).await {
            Answer::Found(res) => Ok(res),
            Answer::Missing => Err(missing().into()),
            Answer::Failed(e) => Err(e.into()),
        };
    }
    // A failing member might list it: its error, never a 404.
    if !outcome.failed.is_empty() {
        return Err(outcome.nothing(missing).into());
    }
    Ok(common::first_file(&ctx, group, &plan, call, missing).await?)
}

/// `GET /api/v1/crates?q=&per_page=` on a group: every member's answer to the same query, a
/// crate listed by several kept once (from the earliest member), a crate a member may not
/// supply (the group's rules, a claim by a hosted member) left out.
async fn search(r: RepoRequest) -> CargoResult {
    let ctx = r.ctx();
    ctx.label("search");
    ctx.allow(Scope::Read).await?;
    let group = common::of(&ctx)?;
    let everyone = Plan {
        verdicts: vec![Verdict::Asked; group.members.len()],
    };
    let outcome = common::documents(&ctx, group, &everyone, |c| async move {
        if c.repo.proxy.is_some() {
            proxy::search_of(&c).await
        } else {
            index::search_of(&c).await
        }
    })
    .await;
    if outcome.found.is_empty() {
        return Err(outcome
            .nothing(|| AppError::Upstream("no member answered the search".into()))
            .into());
    }
    let pages: Vec<(usize, SearchPage)> = outcome
        .found
        .iter()
        .filter_map(|(i, d)| packgate_cargo::group::parse_search(&d.body).map(|p| (*i, p)))
        .collect();
    // Which members may supply each crate listed (rules and claims, as for its index file).
    let mut allowed: HashMap<String, Plan> = HashMap::new();
    for (_, page) in &pages {
        for hit in &page.hits {
            let canonical = packgate_cargo::canonical_name(&hit.name);
            if let std::collections::hash_map::Entry::Vacant(slot) = allowed.entry(canonical) {
                let p = group.group.plan_for(&ctx.state.db, slot.key()).await?;
                slot.insert(p);
            }
        }
    }
    let members: Vec<usize> = pages.iter().map(|(i, _)| *i).collect();
    let keep = |pos: usize, canonical: &str| {
        allowed
            .get(canonical)
            .is_some_and(|p| p.verdicts[members[pos]] == Verdict::Asked)
    };
    let only_pages: Vec<SearchPage> = pages.into_iter().map(|(_, p)| p).collect();
    let merged = merge_search(&only_pages, &keep, per_page(&ctx));
    let mut res = super::ok_json(packgate_cargo::render_search(&merged.hits, merged.total));
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// The page size of a search (`per_page`, 1 to 100, cargo's default 10).
fn per_page(ctx: &Ctx<'_>) -> usize {
    crate::routes::common::query::pairs(ctx.req.query_string())
        .into_iter()
        .find(|(k, _)| k == "per_page")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, 100)
}

/// `PUT /api/v1/crates/new` on a group: read and checked as the group (a token limited to the
/// group may publish through it), then recorded in the hosted member already holding the crate
/// (by its canonical name), else in `publish_to` (405 in cargo's error body with neither).
async fn publish(r: RepoRequest, payload: web::Payload) -> CargoResult {
    let ctx = r.ctx();
    let group = common::of(&ctx)?;
    let staged = publish::receive(&ctx, payload).await?;
    let canonical = packgate_cargo::canonical_name(&staged.meta.name);
    let Some(member) = common::write_member(&ctx, group, Some(&canonical)).await? else {
        return Err(common::no_publish_to(&group.group).into());
    };
    publish::record(&Ctx::new(ctx.req, ctx.state, member), staged).await
}

/// The member a write to crate `name` goes to: the hosted member holding it, else `publish_to`
/// (405 without either).
async fn write_member<'a>(ctx: &Ctx<'a>, name: &str) -> Result<&'a RepoCtx, AppError> {
    let group = common::of(ctx)?;
    let canonical = packgate_cargo::canonical_name(name);
    common::write_member(ctx, group, Some(&canonical))
        .await?
        .ok_or_else(|| common::no_publish_to(&group.group))
}

/// `DELETE /api/v1/crates/{name}/{version}/yank` on a group: in the hosted member holding it.
async fn yank(r: RepoRequest, path: web::Path<(String, String)>) -> CargoResult {
    let ctx = r.ctx();
    let (name, version) = path.into_inner();
    let member = write_member(&ctx, &name).await?;
    yank::set(Ctx::new(ctx.req, ctx.state, member), &name, &version, true).await
}

/// `PUT /api/v1/crates/{name}/{version}/unyank` on a group: in the hosted member holding it.
async fn unyank(r: RepoRequest, path: web::Path<(String, String)>) -> CargoResult {
    let ctx = r.ctx();
    let (name, version) = path.into_inner();
    let member = write_member(&ctx, &name).await?;
    yank::set(Ctx::new(ctx.req, ctx.state, member), &name, &version, false).await
}

/// `GET /api/v1/crates/{name}/owners` on a group: the owners kept by the hosted member holding
/// the crate (a crate of a proxy member has its owners upstream: 404).
async fn list_owners(r: RepoRequest, name: web::Path<String>) -> CargoResult {
    let ctx = r.ctx();
    ctx.label("owners");
    ctx.allow(Scope::Read).await?;
    let group = common::of(&ctx)?;
    let canonical = packgate_cargo::canonical_name(&name);
    let Some(i) = group.group.claimant(&ctx.state.db, &canonical).await? else {
        return Err(AppError::NotFound(format!(
            "crate `{name}` is in no hosted member of group {:?}; a crate from an upstream has its owners there",
            group.group.name
        ))
        .into());
    };
    owners::list_of(common::member_ctx(&ctx, group, i), &name).await
}

/// `PUT /api/v1/crates/{name}/owners` on a group: in the hosted member holding the crate.
async fn add_owners(r: RepoRequest, payload: web::Payload, name: web::Path<String>) -> CargoResult {
    let ctx = r.ctx();
    let member = write_member(&ctx, &name).await?;
    owners::change(Ctx::new(ctx.req, ctx.state, member), payload, &name, true).await
}

/// `DELETE /api/v1/crates/{name}/owners` on a group: in the hosted member holding the crate.
async fn remove_owners(
    r: RepoRequest,
    payload: web::Payload,
    name: web::Path<String>,
) -> CargoResult {
    let ctx = r.ctx();
    let member = write_member(&ctx, &name).await?;
    owners::change(Ctx::new(ctx.req, ctx.state, member), payload, &name, false).await
}

/// What `GET /-/api/explain/{group}/{name}` shows for a cargo group: the plan for the crate's
/// canonical name, each member's answer for its index file, and the member supplying each
/// version of the merged file.
pub async fn explain(ctx: &Ctx<'_>, name: &str) -> Result<Explained, AppError> {
    let group = common::of(ctx)?;
    let tail = packgate_cargo::proxy::index_name(name)
        .map(|n| packgate_cargo::index_path(&n))
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "{name:?} is not a crate name (1 to 64 ASCII letters, digits, `-` or `_`)"
            ))
        })?;
    let (outcome, plan) = member_indexes(ctx, group, name, &tail).await?;
    let versions = merge(&outcome)
        .sources
        .into_iter()
        .map(|s| (s.vers, outcome.found[s.member].0))
        .collect();
    Ok(Explained::from_outcome(
        packgate_cargo::canonical_name(name),
        plan,
        &outcome,
        |d: &MemberDoc| d.cache.clone(),
        versions,
    ))
}
