//! NuGet on a group repository: every document is built from the members the group's plan asks
//! for the package (routing rules, then the name claim of hosted members, by lower-case id),
//! each member read through its own handler (hosted or proxy) with its own context:
//!
//! - the flat-container version list: the sorted union of the members' lists (lower-case,
//!   normalized), the earliest member winning a version;
//! - `.nupkg`, `.nuspec` and `.snupkg` files: from the member supplying the version in that list;
//! - registrations: the members' leaf items (their external pages read through their page
//!   routes), every member URL pointed at the group, one item per version (earliest member),
//!   rendered as an index with every page inlined; leaves from the earliest member that has one;
//! - search and autocomplete: every member asked, hits merged by id (earliest member), a proxy
//!   member's hit for an id a hosted member holds left out.
//!
//! Merged documents are cached by the members' ETags, so a push to a member shows on the next
//! request. Writes go to the hosted member holding the package, else `publish_to` (see
//! [`write_target`]).

use super::{NugetResult, allow, feed, proxy, search, url_version, v3_url};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::etag;
use crate::routes::common::group::{self as common, MemberDoc};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::group::{Answer, Outcome, Plan, Verdict};
use crate::state::{GroupCtx, RepoCtx};
use actix_web::HttpResponse;
use packgate_nuget::group as codec;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;

const JSON: &str = "application/json; charset=utf-8";

/// The reason phrase of a write to a group that has nowhere to put it (NuGet.exe 5.8 and
/// `dotnet nuget push` print only the status line of a failed push).
const NO_PUBLISH_TO: &str = "This group has no repository to push to";

fn not_found(what: &str) -> AppError {
    AppError::NotFound(format!("{what} is in no member of this group")).with_reason("Not found")
}

/// A member's answer that cannot be merged.
fn bad_member(group: &GroupCtx, i: usize, what: &str, why: String) -> AppError {
    AppError::Upstream(format!(
        "the {what} of group member {:?}: {why}",
        group.group.member_name(i)
    ))
}

/// A NuGet handler's result as the group's member calls take it.
fn plain(res: NugetResult) -> Result<HttpResponse, AppError> {
    res.map_err(|e| e.error)
}

async fn member_flat(ctx: Ctx<'_>, lid: String) -> Result<HttpResponse, AppError> {
    plain(feed::flat_versions(&ctx, &lid).await)
}

async fn member_file(
    ctx: Ctx<'_>,
    lid: String,
    version: String,
    file: String,
) -> Result<HttpResponse, AppError> {
    plain(feed::flat_file(&ctx, &lid, &version, &file).await)
}

async fn member_index(ctx: Ctx<'_>, lid: String) -> Result<HttpResponse, AppError> {
    plain(feed::registration_index(&ctx, &lid).await)
}

async fn member_page(
    ctx: Ctx<'_>,
    lid: String,
    lower: String,
    upper: String,
) -> Result<HttpResponse, AppError> {
    plain(feed::registration_page(&ctx, &lid, &lower, &upper).await)
}

async fn member_leaf(ctx: Ctx<'_>, lid: String, leaf: String) -> Result<HttpResponse, AppError> {
    plain(feed::registration_leaf(&ctx, &lid, &leaf).await)
}

async fn member_query(ctx: Ctx<'_>) -> Result<HttpResponse, AppError> {
    plain(search::query(&ctx).await)
}

async fn member_autocomplete(ctx: Ctx<'_>) -> Result<HttpResponse, AppError> {
    plain(search::autocomplete(&ctx).await)
}

/// Member `i`'s `…/v3` URL (what its documents are rebased from).
fn member_v3(ctx: &Ctx<'_>, group: &GroupCtx, i: usize) -> String {
    v3_url(&common::member_ctx(ctx, group, i))
}

/// The ETag of a group document: of its bytes, salted so that it never equals a member's. The
/// group asks its members with the client's request, `If-None-Match` included; a member holding
/// the same bytes (a one-member flat list) would answer 304 and leave nothing to merge.
fn group_etag(body: &[u8]) -> String {
    let d = Sha256::new()
        .chain_update(b"packgate nuget group\0")
        .chain_update(body)
        .finalize();
    format!("\"g{}\"", hex::encode(&d[..16]))
}

/// The group's rendering under `key` from the document cache, else `render`ed (with the group's
/// ETag) and kept.
fn cached(
    ctx: &Ctx<'_>,
    key: String,
    render: impl FnOnce() -> Result<Vec<u8>, AppError>,
) -> Result<Rendered, AppError> {
    common::cached(ctx, key, || {
        let body = render()?;
        Ok(Rendered {
            etag: group_etag(&body),
            digest: String::new(),
            body: bytes::Bytes::from(body),
        })
    })
}

/// The cache key of a merged document: the group, what it is, the package, the group's URL and
/// the members' validators.
fn key(ctx: &Ctx<'_>, what: &str, lid: &str, members: &str) -> String {
    format!(
        "nuget-group\0{}\0{what}\0{lid}\0{}\0{members}",
        ctx.repo.name,
        v3_url(ctx)
    )
}

/// A group document: 304 on a matching `If-None-Match`, else the body.
fn respond(ctx: &Ctx<'_>, doc: Rendered) -> HttpResponse {
    if etag::not_modified(ctx.req, &doc.etag) {
        return HttpResponse::NotModified()
            .insert_header(("etag", doc.etag))
            .insert_header(("cache-control", "no-cache"))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(JSON)
        .insert_header(("etag", doc.etag))
        .insert_header(("cache-control", "no-cache"))
        .body(doc.body)
}

/// The members' flat-container lists of `lid`, as the plan (also returned) allows.
async fn flat_lists<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    lid: &str,
) -> Result<(Outcome<MemberDoc>, Plan), AppError> {
    let plan = group.group.plan_for(&ctx.state.db, lid).await?;
    let owned = lid.to_string();
    let outcome =
        common::documents(ctx, group, &plan, move |c| member_flat(c, owned.clone())).await;
    Ok((outcome, plan))
}

/// The found lists merged (indexes in the result refer to `outcome.found`).
fn merge_flat(
    group: &GroupCtx,
    outcome: &Outcome<MemberDoc>,
) -> Result<codec::MergedFlat, AppError> {
    let bodies: Vec<&[u8]> = outcome.found.iter().map(|(_, d)| d.body.as_ref()).collect();
    codec::merge_flat_index(&bodies).map_err(|e| match e {
        codec::GroupError::Malformed { member, reason } => {
            let i = outcome.found.get(member).map_or(0, |(i, _)| *i);
            bad_member(group, i, "version list", reason)
        }
        other => AppError::internal(other),
    })
}

/// `GET {flat}/{id}/index.json` on a group: the members' lists merged.
pub async fn flat_versions(ctx: &Ctx<'_>, id: &str) -> NugetResult {
    ctx.label("flat_versions");
    allow(ctx, Scope::Read).await?;
    let group = common::of(ctx)?;
    let lid = packgate_nuget::lower_id(id);
    let (outcome, _) = flat_lists(ctx, group, &lid).await?;
    if outcome.found.is_empty() {
        return proxy::finish(Err(outcome.nothing(|| not_found(&format!("package {id}")))));
    }
    let members = common::fingerprint(outcome.found.iter().map(|(i, d)| (*i, d)));
    let doc = cached(ctx, key(ctx, "flat", &lid, &members), || {
        merge_flat(group, &outcome).map(|m| m.body)
    })?;
    let mut res = respond(ctx, doc);
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// `GET {flat}/{id}/{version}/{file}` on a group: from the member whose version the merged list
/// kept. A member before it that failed might hold the version itself: its failure is the answer.
pub async fn flat_file(ctx: &Ctx<'_>, id: &str, version: &str, file: &str) -> NugetResult {
    ctx.label("download");
    allow(ctx, Scope::Read).await?;
    let group = common::of(ctx)?;
    let lid = packgate_nuget::lower_id(id);
    let (outcome, _) = flat_lists(ctx, group, &lid).await?;
    let supplier = if outcome.found.is_empty() {
        None
    } else {
        let merged = merge_flat(group, &outcome)?;
        merged
            .member_of(version)
            .and_then(|k| outcome.found.get(k))
            .map(|(i, _)| *i)
    };
    let first_failed = outcome.failed.iter().map(|(i, _)| *i).min();
    let Some(i) = supplier.filter(|i| first_failed.is_none_or(|f| f > *i)) else {
        return proxy::finish(Err(outcome.nothing(|| not_found(file))));
    };
    let (v, f) = (version.to_string(), file.to_string());
    let res = match common::ask(ctx, group, i, move |c| {
        member_file(c, lid.clone(), v.clone(), f.clone())
    })
    .await
    {
        Answer::Found(res) => Ok(res),
        Answer::Missing => Err(not_found(file)),
        Answer::Failed(e) => Err(e),
    };
    ctx.label("download");
    proxy::finish(res)
}

/// One member's registration leaf items: its index's inlined items and those of the pages it
/// links to (read through its page route), every URL under the member pointed at the group.
/// Also the validators of the pages read.
async fn member_items<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    i: usize,
    lid: &str,
    index: &MemberDoc,
) -> Result<(Vec<Value>, String), AppError> {
    let read = codec::read_registration_index(&index.body)
        .map_err(|e| bad_member(group, i, "registration index", e))?;
    let mut items = read.items;
    let mut pages = Vec::new();
    for (lower, upper) in read.external {
        let (l, lo, up) = (lid.to_string(), lower.clone(), format!("{upper}.json"));
        let call = move |c| member_page(c, l.clone(), lo.clone(), up.clone());
        match common::read(common::ask(ctx, group, i, call).await).await {
            Answer::Found(page) => {
                items.extend(
                    codec::read_registration_page(&page.body)
                        .map_err(|e| bad_member(group, i, "registration page", e))?,
                );
                pages.push((i, page));
            }
            Answer::Missing => {
                return Err(bad_member(
                    group,
                    i,
                    "registration index",
                    format!("it links the page {lower}..{upper}, which is missing"),
                ));
            }
            Answer::Failed(e) => return Err(e),
        }
    }
    let (from, to) = (member_v3(ctx, group, i), v3_url(ctx));
    for item in &mut items {
        codec::rebase_urls(item, &from, &to);
    }
    Ok((
        items,
        common::fingerprint(pages.iter().map(|(i, d)| (*i, d))),
    ))
}

/// The registration items of `lid` merged from the members the plan asks, with the members'
/// answers (a member whose pages fail counts as failed) and their validators.
async fn merged_items<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    lid: &str,
) -> Result<(codec::MergedItems, Outcome<MemberDoc>, String), AppError> {
    let plan = group.group.plan_for(&ctx.state.db, lid).await?;
    let owned = lid.to_string();
    let mut outcome =
        common::documents(ctx, group, &plan, move |c| member_index(c, owned.clone())).await;
    let mut per_member = Vec::new();
    let mut validators = vec![common::fingerprint(
        outcome.found.iter().map(|(i, d)| (*i, d)),
    )];
    let mut found = Vec::new();
    for (i, doc) in std::mem::take(&mut outcome.found) {
        match member_items(ctx, group, i, lid, &doc).await {
            Ok((items, pages)) => {
                per_member.push(items);
                validators.push(pages);
                found.push((i, doc));
            }
            Err(e) => {
                tracing::warn!(repo.name = %group.group.name, member = %group.group.member_name(i), error = %e, "group member failed");
                outcome.failed.push((i, e));
            }
        }
    }
    outcome.found = found;
    outcome.failed.sort_by_key(|(i, _)| *i);
    if outcome.found.is_empty() {
        return Err(outcome.nothing(|| not_found(&format!("package {lid}"))));
    }
    let merged = codec::merge_registration_items(per_member);
    Ok((merged, outcome, validators.join(";")))
}

/// `GET {reg}/{id}/index.json` on a group: the members' items merged, every page inlined.
pub async fn registration_index(ctx: &Ctx<'_>, id: &str) -> NugetResult {
    ctx.label("registration");
    allow(ctx, Scope::Read).await?;
    let group = common::of(ctx)?;
    let lid = packgate_nuget::lower_id(id);
    let (merged, outcome, members) = match merged_items(ctx, group, &lid).await {
        Ok(m) => m,
        Err(e) => return proxy::finish(Err(e)),
    };
    ctx.label("registration");
    let v3 = v3_url(ctx);
    let doc = cached(ctx, key(ctx, "registration", &lid, &members), || {
        Ok(codec::registration_index_of_items(&v3, &lid, &merged.items))
    })?;
    let mut res = respond(ctx, doc);
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// `GET {reg}/{id}/page/{lower}/{upper}.json` on a group: the merged items within the bounds (the
/// group's index inlines its pages; this serves a page URL built by hand or kept from elsewhere).
pub async fn registration_page(ctx: &Ctx<'_>, id: &str, lower: &str, upper: &str) -> NugetResult {
    ctx.label("registration_page");
    allow(ctx, Scope::Read).await?;
    let group = common::of(ctx)?;
    let missing = || not_found("registration page");
    let upper = upper.strip_suffix(".json").ok_or_else(missing)?;
    let (lo, hi) = match (url_version(lower), url_version(upper)) {
        (Some(lo), Some(hi)) if lo <= hi => (lo, hi),
        _ => return Err(missing().into()),
    };
    let lid = packgate_nuget::lower_id(id);
    let (merged, outcome, _) = match merged_items(ctx, group, &lid).await {
        Ok(m) => m,
        Err(e) => return proxy::finish(Err(e)),
    };
    ctx.label("registration_page");
    let items = merged.within(&lo, &hi);
    if items.is_empty() {
        return Err(missing().into());
    }
    let body =
        codec::registration_page_of_items(&v3_url(ctx), &lid, &lo.lower(), &hi.lower(), &items);
    let mut res = respond(
        ctx,
        Rendered {
            etag: group_etag(&body),
            digest: String::new(),
            body: bytes::Bytes::from(body),
        },
    );
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// `GET {reg}/{id}/{version}.json` on a group: the leaf of the earliest member that has one (the
/// member whose item the merged index keeps), its URLs pointed at the group. A member before it
/// that fails ends the search with its failure.
pub async fn registration_leaf(ctx: &Ctx<'_>, id: &str, leaf: &str) -> NugetResult {
    ctx.label("registration_leaf");
    allow(ctx, Scope::Read).await?;
    let group = common::of(ctx)?;
    let lid = packgate_nuget::lower_id(id);
    let plan = group.group.plan_for(&ctx.state.db, &lid).await?;
    for i in plan.asked() {
        let (l, f) = (lid.clone(), leaf.to_string());
        let call = move |c| member_leaf(c, l.clone(), f.clone());
        match common::read(common::ask(ctx, group, i, call).await).await {
            Answer::Found(doc) => {
                ctx.label("registration_leaf");
                let body =
                    codec::rebase_document(&doc.body, &member_v3(ctx, group, i), &v3_url(ctx))
                        .map_err(|e| bad_member(group, i, "registration leaf", e))?;
                return Ok(respond(
                    ctx,
                    Rendered {
                        etag: group_etag(&body),
                        digest: String::new(),
                        body: bytes::Bytes::from(body),
                    },
                ));
            }
            Answer::Missing => {
                if group.group.settings.members[i].on_not_found == crate::config::OnNotFound::Stop {
                    break;
                }
            }
            Answer::Failed(e) => return proxy::finish(Err(e)),
        }
    }
    Err(not_found(&format!("version {leaf} of {id}")).into())
}

/// Whether member `i` may supply `lid` (rules and hosted claims), the plans looked up once per id.
async fn plans_of<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    members: &[(usize, codec::MemberHits)],
) -> Result<HashMap<String, Plan>, AppError> {
    let mut plans = HashMap::new();
    for (_, hits) in members {
        for id in hits.data.iter().filter_map(codec::hit_id) {
            if let Entry::Vacant(slot) = plans.entry(id) {
                let plan = group.group.plan_for(&ctx.state.db, slot.key()).await?;
                slot.insert(plan);
            }
        }
    }
    Ok(plans)
}

/// Every member's search or autocomplete answer (`call`: the member's handler, given the
/// client's query string), read and pointed at the group; the error of a failing member when
/// none answered.
async fn every_member<'a, F, Fut>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    plan: &Plan,
    call: F,
) -> Result<(Vec<(usize, codec::MemberHits)>, Outcome<MemberDoc>), AppError>
where
    F: Fn(Ctx<'a>) -> Fut + Clone,
    Fut: Future<Output = Result<HttpResponse, AppError>>,
{
    let outcome = common::documents(ctx, group, plan, call).await;
    if outcome.found.is_empty() && !outcome.failed.is_empty() {
        return Err(outcome.nothing(|| not_found("the search")));
    }
    let to = v3_url(ctx);
    let mut members = Vec::new();
    for (i, d) in &outcome.found {
        let mut hits =
            codec::read_hits(&d.body).map_err(|e| bad_member(group, *i, "search answer", e))?;
        let from = member_v3(ctx, group, *i);
        for hit in &mut hits.data {
            codec::rebase_urls(hit, &from, &to);
        }
        members.push((*i, hits));
    }
    Ok((members, outcome))
}

/// A merged search or autocomplete answer, marked partial when a member failed.
fn answer(group: &GroupCtx, body: Vec<u8>, outcome: &Outcome<MemberDoc>) -> HttpResponse {
    let mut res = HttpResponse::Ok()
        .content_type(JSON)
        .insert_header(("cache-control", "no-cache"))
        .body(body);
    common::mark_partial(&mut res, &group.group, outcome);
    res
}

/// Hits of every member merged by id: the earliest member's hit kept, and a member's hit for an
/// id the group's plan does not ask that member for (a proxy's hit for an id a hosted member
/// holds, a rule's `only`/`exclude`) left out.
async fn merged_hits<'a, F, Fut>(ctx: &Ctx<'a>, call: F) -> Result<HttpResponse, AppError>
where
    F: Fn(Ctx<'a>) -> Fut + Clone,
    Fut: Future<Output = Result<HttpResponse, AppError>>,
{
    let group = common::of(ctx)?;
    let everyone = Plan {
        verdicts: vec![Verdict::Asked; group.members.len()],
    };
    let (members, outcome) = every_member(ctx, group, &everyone, call).await?;
    let plans = plans_of(ctx, group, &members).await?;
    let keep = |i: usize, id: &str| {
        plans
            .get(id)
            .and_then(|p| p.verdicts.get(i))
            .is_some_and(|v| *v == Verdict::Asked)
    };
    let body = codec::merge_hits(&members, &keep);
    Ok(answer(group, body, &outcome))
}

/// `GET {repo}/v3/query` on a group: every member searched with the client's query string.
pub async fn query(ctx: &Ctx<'_>) -> NugetResult {
    ctx.label("search");
    allow(ctx, Scope::Read).await?;
    let res = merged_hits(ctx, member_query).await;
    ctx.label("search");
    proxy::finish(res)
}

/// `GET {repo}/v3/autocomplete` on a group: `?q=` merges the members' ids like a search;
/// `?id=` merges the versions of one id from the members the group's plan asks for it.
pub async fn autocomplete(ctx: &Ctx<'_>) -> NugetResult {
    ctx.label("autocomplete");
    allow(ctx, Scope::Read).await?;
    let id = crate::routes::common::query::pairs(ctx.req.query_string())
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("id"))
        .map(|(_, v)| v.trim().to_string());
    let res = match id {
        None => merged_hits(ctx, member_autocomplete).await,
        Some(id) => versions_of(ctx, &packgate_nuget::lower_id(&id)).await,
    };
    ctx.label("autocomplete");
    proxy::finish(res)
}

/// `?id=` of autocomplete: the versions of `lid` in the members the plan asks, as one list.
async fn versions_of(ctx: &Ctx<'_>, lid: &str) -> Result<HttpResponse, AppError> {
    let group = common::of(ctx)?;
    let plan = group.group.plan_for(&ctx.state.db, lid).await?;
    let (members, outcome) = every_member(ctx, group, &plan, member_autocomplete).await?;
    let hits: Vec<codec::MemberHits> = members.into_iter().map(|(_, h)| h).collect();
    // A hosted feed lists no versions for an id it lacks (not a 404): no versions at all while
    // a member failed might be that member's to give.
    if hits.iter().all(|h| h.data.is_empty()) && !outcome.failed.is_empty() {
        return Err(outcome.nothing(|| not_found(&format!("package {lid}"))));
    }
    let body = codec::merge_versions(&hits);
    Ok(answer(group, body, &outcome))
}

/// The repository a write to package `lid` goes to: the request's own; on a group, the hosted
/// member holding the package, else `publish_to`. A 405 in NuGet's words for a group with
/// neither.
pub async fn write_target<'a>(ctx: &Ctx<'a>, lid: &str) -> Result<&'a RepoCtx, AppError> {
    let Some(group) = ctx.repo.group.as_deref() else {
        return Ok(ctx.repo);
    };
    match common::write_member(ctx, group, Some(lid)).await? {
        Some(member) => Ok(member),
        None => Err(common::no_publish_to(&group.group).with_reason(NO_PUBLISH_TO)),
    }
}

/// What `GET /-/api/explain/{group}/{id}` shows for a NuGet group: the plan for the lower-case
/// id, each member's answer for its flat-container version list, and the member supplying each
/// version of the merged list (which is also where its `.nupkg` is downloaded from).
pub async fn explain(
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<crate::routes::common::explain::Explained, AppError> {
    let group = common::of(ctx)?;
    let lid = packgate_nuget::lower_id(id);
    let (outcome, plan) = flat_lists(ctx, group, &lid).await?;
    let mut versions = Vec::new();
    if !outcome.found.is_empty()
        && let Ok(merged) = merge_flat(group, &outcome)
    {
        versions = merged
            .sources
            .iter()
            .filter_map(|s| {
                outcome
                    .found
                    .get(s.member)
                    .map(|(i, _)| (s.version.clone(), *i))
            })
            .collect();
    }
    Ok(crate::routes::common::explain::Explained::from_outcome(
        lid,
        plan,
        &outcome,
        |d: &MemberDoc| d.cache.clone(),
        versions,
    ))
}
