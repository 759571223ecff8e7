//! RubyGems on a group repository: the compact index merged from the members the group's plan
//! asks for each gem (routing rules by the gem's name, then the claim of a hosted member holding
//! the name, looked up by its squatting key as the packages table stores it), `.gem` files and
//! quick gemspecs from the member whose `info/NAME` line was kept, the legacy specs indexes built
//! from the group's `versions`, and writes handed to the hosted member holding the gem (else
//! `publish_to`). See `docs/formats/rubygems.md`, section "Group repositories".
//!
//! - `info/NAME`: the members' lines in member order, a `VERSION[-PLATFORM]` kept once, every
//!   kept line byte-identical (`packgate_rubygems::group::merge_info`); a body all members agree
//!   on is served as it is. Cached by the members' ETags; regenerated, so always answered whole
//!   (a `Range` gets 200, or 304 on its ETag).
//! - `versions`: one line per gem of the union of the members' `versions`, after the gem's plan,
//!   naming the MD5 of the group's `info/NAME` for it, kept as an append-only log between
//!   compactions so that Bundler's `Range: bytes=N-` gets a 206 it can append (`group_versions.rs`).
//! - `gem push`: the upload is spooled and read first (the gem's name is inside the `.gem`), then
//!   recorded in the hosted member holding the gem, else in `publish_to`.
//! - Members are called in process through the functions behind their own routes, given the
//!   member's context (`common::member_ctx`): documents the group merges are read whole
//!   (`compact::whole`: a member's 206 or 304 would be part of a document, or none), files are
//!   answered to the client's request as it is (its `Range` and conditional headers apply, and a
//!   member's 206, 304 or 416 is passed on).

use super::{GemResult, compact, group_versions, legacy, owners, push};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::etag;
use crate::routes::common::explain::Explained;
use crate::routes::common::group::{self as common, MemberDoc};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::group::{Answer, Outcome, Plan, Verdict};
use crate::state::{GroupCtx, RepoCtx};
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use packgate_rubygems::group::{
    MergedInfo, SpecsKind, merge_info, merge_names, read_versions, specs_tuples,
};
use packgate_rubygems::proxy::{file_candidates, is_plain_name};
use packgate_rubygems::similarity_key;
use std::collections::HashSet;

/// What the group asks a member for.
#[derive(Debug, Clone)]
pub(super) enum Doc {
    /// `versions`.
    Versions,
    /// `info/{name}`.
    Info(String),
    /// `names`.
    Names,
    /// `gems/{file}`.
    Gem(String),
    /// `quick/Marshal.4.8/{file}`.
    QuickSpec(String),
}

/// A member's document or file, from the function behind its own route (hosted or proxy: the
/// function picks): documents whole, files answered to the client's request.
pub(super) async fn member_doc(c: Ctx<'_>, doc: Doc) -> Result<HttpResponse, AppError> {
    Ok(match doc {
        Doc::Versions => compact::whole(&compact::versions_of(&c).await?),
        Doc::Info(name) => compact::whole(&compact::info_of(&c, &name).await?),
        Doc::Names => compact::whole(&compact::names_of(&c).await?),
        Doc::Gem(file) => legacy::gem_file_of(&c, &file).await?,
        Doc::QuickSpec(file) => legacy::quick_spec_of(&c, &file).await?,
    })
}

fn gem_missing(name: &str) -> AppError {
    AppError::NotFound(format!("This gem could not be found: {name}"))
}

fn file_missing(file: &str) -> AppError {
    AppError::NotFound(format!("Not found: {file}"))
}

/// Every member asked (documents of the whole source: `versions`, `names`).
pub(super) fn everyone(group: &GroupCtx) -> Plan {
    Plan {
        verdicts: vec![Verdict::Asked; group.members.len()],
    }
}

/// The plan for gem `name`: rules and `allow_upstream` match the gem's name; the claim is looked
/// up by its squatting key, as hosted members store it (so a hosted `Acme_Tools` also keeps
/// `acme-tools` from the proxies).
async fn plan_for(ctx: &Ctx<'_>, group: &GroupCtx, name: &str) -> Result<Plan, AppError> {
    let claimed = group
        .group
        .claimant(&ctx.state.db, &similarity_key(name))
        .await?;
    Ok(group.group.plan(name, claimed))
}

/// The members' ETags (or digests) of the documents an answer was made of:
/// [`common::fingerprint`].
pub(super) fn fingerprint(found: &[(usize, MemberDoc)]) -> String {
    common::fingerprint(found.iter().map(|(i, d)| (*i, d)))
}

/// The group's `info/NAME` from the bodies of the members supplying it, in member order: the
/// body itself when they all agree byte for byte, else the merge (indexes in the result refer to
/// `bodies`).
pub(super) fn merge(bodies: &[&[u8]]) -> (Bytes, MergedInfo) {
    let merged = merge_info(bodies);
    match bodies.split_first() {
        Some((first, rest)) if rest.iter().all(|b| b == first) => {
            (Bytes::copy_from_slice(first), merged)
        }
        _ => (Bytes::from(merged.body.clone()), merged),
    }
}

/// The group's `info/NAME` of a gem the members of `plan` supply: the document (cached by the
/// members' ETags), the member supplying each kept `VERSION[-PLATFORM]`, and the answers.
struct Merged {
    doc: Rendered,
    suppliers: Vec<(String, usize)>,
    outcome: Outcome<MemberDoc>,
}

impl Merged {
    /// The member whose line of `key` was kept.
    fn supplier(&self, key: &str) -> Option<usize> {
        self.suppliers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, i)| *i)
    }
}

/// Asks the members of `plan` for `info/{name}` and merges their answers; a gateway error when
/// none has it and one failed, else a 404.
async fn merged_info<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    name: &str,
    plan: &Plan,
) -> Result<Merged, AppError> {
    let owned = name.to_string();
    let outcome = common::documents(ctx, group, plan, move |c| {
        member_doc(c, Doc::Info(owned.clone()))
    })
    .await;
    if outcome.found.is_empty() {
        return Err(outcome.nothing(|| gem_missing(name)));
    }
    let bodies: Vec<&[u8]> = outcome.found.iter().map(|(_, d)| d.body.as_ref()).collect();
    let (body, merged) = merge(&bodies);
    let suppliers = merged
        .sources
        .iter()
        .map(|s| (s.key.clone(), outcome.found[s.member].0))
        .collect();
    let key = format!(
        "rubygems-group\0{}\0info\0{name}\0{}",
        ctx.repo.name,
        fingerprint(&outcome.found)
    );
    let doc = common::cached(ctx, key, || Ok(compact::rendered(body.to_vec())))?;
    Ok(Merged {
        doc,
        suppliers,
        outcome,
    })
}

/// `GET /info/{name}` on a group.
pub async fn info(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("info");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let plan = plan_for(ctx, group, name).await?;
    let merged = merged_info(ctx, group, name, &plan).await?;
    let mut res = compact::respond(ctx.req, &merged.doc, false);
    common::mark_partial(&mut res, &group.group, &merged.outcome);
    Ok(res)
}

/// Per hosted member, the gems it holds (squatting keys, as the packages table stores them).
pub(super) async fn claims(
    ctx: &Ctx<'_>,
    group: &GroupCtx,
) -> Result<Vec<Option<HashSet<String>>>, AppError> {
    let mut out = Vec::with_capacity(group.members.len());
    for (i, m) in group.group.settings.members.iter().enumerate() {
        if !group.group.hosted[i] {
            out.push(None);
            continue;
        }
        let all =
            crate::services::packages::search(&ctx.state.db, &m.name, &[], i64::MAX as u64).await?;
        out.push(Some(all.into_iter().map(|p| p.normalized_name).collect()));
    }
    Ok(out)
}

/// The plan for gem `name` with the claims already loaded.
pub(super) fn plan_with(group: &GroupCtx, claims: &[Option<HashSet<String>>], name: &str) -> Plan {
    let key = similarity_key(name);
    let claimed = claims
        .iter()
        .position(|c| c.as_ref().is_some_and(|held| held.contains(&key)));
    group.group.plan(name, claimed)
}

/// `GET /versions` on a group: the append-only log brought up to date with the members, a
/// `Range: bytes=N-` answered 206 only when the client's copy is a prefix of the body
/// (`group_versions.rs`).
pub async fn versions(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("versions");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let (doc, partial) = group_versions::versions_doc(ctx, group).await?;
    // The members' routes label the request too.
    ctx.label("versions");
    let mut res = group_versions::respond(ctx, &doc);
    common::mark_partial(&mut res, &group.group, &partial);
    Ok(res)
}

/// `GET /names` on a group: the sorted union of the names each member may supply (its plan
/// asks it), cached by the members' ETags.
pub async fn names(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("names");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let outcome =
        common::documents(ctx, group, &everyone(group), |c| member_doc(c, Doc::Names)).await;
    if outcome.found.is_empty() {
        return Err(
            outcome.nothing(|| AppError::NotFound("no member of this group serves names".into()))
        );
    }
    let key = format!(
        "rubygems-group\0{}\0names\0{}",
        ctx.repo.name,
        fingerprint(&outcome.found)
    );
    let doc = match ctx.state.cache.get(&key, 0) {
        Some(doc) => doc,
        None => {
            let claims = claims(ctx, group).await?;
            let allowed: Vec<Vec<u8>> = outcome
                .found
                .iter()
                .map(|(i, d)| {
                    let own = merge_names(&[d.body.as_ref()]);
                    let names: Vec<String> = String::from_utf8_lossy(&own)
                        .lines()
                        .skip(1)
                        .filter(|n| plan_with(group, &claims, n).verdicts[*i] == Verdict::Asked)
                        .map(str::to_string)
                        .collect();
                    packgate_rubygems::render_names(&names)
                })
                .collect();
            let bodies: Vec<&[u8]> = allowed.iter().map(Vec::as_slice).collect();
            let doc = compact::rendered(merge_names(&bodies));
            ctx.state.cache.put(key, 0, doc.clone());
            doc
        }
    };
    let mut res = compact::respond(ctx.req, &doc, false);
    common::mark_partial(&mut res, &group.group, &outcome);
    Ok(res)
}

/// `GET /specs.4.8.gz`, `/latest_specs.4.8.gz`, `/prerelease_specs.4.8.gz` on a group: built
/// from the group's `versions` (so the rules and claims apply), cached by its ETag.
pub async fn specs(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    let kind = match file {
        "specs.4.8.gz" => SpecsKind::All,
        "latest_specs.4.8.gz" => SpecsKind::Latest,
        "prerelease_specs.4.8.gz" => SpecsKind::Prerelease,
        other => {
            ctx.label("unknown");
            return Err(file_missing(other));
        }
    };
    ctx.label("specs");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let (versions, partial) = group_versions::versions_doc(ctx, group).await?;
    // The members' functions label the request too.
    ctx.label("specs");
    let key = format!(
        "rubygems-group\0{}\0{file}\0{}",
        ctx.repo.name, versions.etag
    );
    let doc = common::cached(ctx, key, || {
        let gems = read_versions(&versions.body);
        let listed: Vec<(&str, &[String])> = gems
            .iter()
            .map(|g| (g.name.as_str(), g.versions.as_slice()))
            .collect();
        let body = packgate_rubygems::specs_file(&specs_tuples(&listed, kind));
        Ok(Rendered {
            etag: etag::of_bytes(&body),
            digest: String::new(),
            body: Bytes::from(body),
        })
    })?;
    let mut res = if etag::not_modified(ctx.req, &doc.etag) {
        HttpResponse::NotModified()
            .insert_header(("etag", doc.etag))
            .finish()
    } else {
        HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header(("etag", doc.etag))
            .insert_header(("cache-control", "no-cache"))
            .body(doc.body)
    };
    common::mark_partial(&mut res, &group.group, &partial);
    Ok(res)
}

/// `GET /gems/{file}` on a group.
pub async fn gem_file(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("gem");
    ctx.allow(Scope::Read).await?;
    let res = member_file(ctx, file, ".gem", Doc::Gem(file.to_string())).await;
    // The members' functions label the request too (`info` while the version is looked up).
    ctx.label("gem");
    res
}

/// `GET /quick/Marshal.4.8/{file}` on a group.
pub async fn quick_spec(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("quick_spec");
    ctx.allow(Scope::Read).await?;
    let res = member_file(ctx, file, ".gemspec.rz", Doc::QuickSpec(file.to_string())).await;
    ctx.label("quick_spec");
    res
}

/// A `.gem` or quick gemspec: from the member whose `info/NAME` line of that version the group
/// kept. The file stem is read as `NAME-VERSION[-PLATFORM]` at each `-` before a digit; when no
/// reading is listed by any member, the members every reading's plan asks are asked in order
/// (a file a proxy cached before its upstream dropped the version stays downloadable, and a
/// name claimed under any reading never reaches a proxy).
async fn member_file(
    ctx: &Ctx<'_>,
    file: &str,
    suffix: &str,
    doc: Doc,
) -> Result<HttpResponse, AppError> {
    let group = common::of(ctx)?;
    let stem = file
        .strip_suffix(suffix)
        .filter(|s| !s.contains(['/', '\\']))
        .ok_or_else(|| file_missing(file))?;
    let candidates: Vec<(&str, &str)> = file_candidates(stem)
        .into_iter()
        .filter(|(name, _)| is_plain_name(name))
        .collect();
    let call = move |c| member_doc(c, doc.clone());
    let mut plans = Vec::new();
    let mut failure = None;
    for (name, key) in &candidates {
        let plan = plan_for(ctx, group, name).await?;
        match merged_info(ctx, group, name, &plan).await {
            Ok(merged) => {
                if let Some(i) = merged.supplier(key) {
                    return match common::ask(ctx, group, i, call.clone()).await {
                        Answer::Found(res) => Ok(res),
                        Answer::Missing => Err(file_missing(file)),
                        Answer::Failed(e) => Err(e),
                    };
                }
            }
            Err(e) if matches!(e.kind(), AppError::NotFound(_)) => {}
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
        plans.push(plan);
    }
    let Some(first) = plans.first() else {
        return Err(file_missing(file));
    };
    // A member is asked only when every reading of the name allows it.
    let verdicts = (0..first.verdicts.len())
        .map(|i| {
            plans
                .iter()
                .map(|p| &p.verdicts[i])
                .find(|v| **v != Verdict::Asked)
                .cloned()
                .unwrap_or(Verdict::Asked)
        })
        .collect();
    common::first_file(ctx, group, &Plan { verdicts }, call, || {
        failure.unwrap_or_else(|| file_missing(file))
    })
    .await
}

/// The member of `ctx`'s group a write for gem `name` goes to: the hosted member holding it
/// (looked up by its squatting key), else `publish_to`; refused (405) without either.
async fn writer<'a>(ctx: &Ctx<'a>, name: &str) -> Result<&'a RepoCtx, AppError> {
    let group = common::of(ctx)?;
    common::write_member(ctx, group, Some(&similarity_key(name)))
        .await?
        .ok_or_else(|| common::no_publish_to(&group.group))
}

/// `POST /api/v1/gems` (`gem push`) on a group: the caller is authorized to publish through the
/// group, the upload spooled and read, then recorded in the hosted member holding the gem (a new
/// version of a gem another hosted member holds goes there, as npm and NuGet pushes do), else in
/// `publish_to` (405 without it).
pub async fn push_gem(ctx: &Ctx<'_>, payload: web::Payload) -> GemResult {
    ctx.label("push");
    let who = ctx.require(Scope::Publish).await?;
    let upload = push::receive(ctx, payload).await?;
    let member = writer(ctx, &upload.spec.name).await?;
    Ok(push::record(&Ctx::new(ctx.req, ctx.state, member), &who, upload).await?)
}

/// `DELETE /api/v1/gems/yank` (`gem yank`) on a group: to the hosted member holding the gem.
pub async fn yank(ctx: &Ctx<'_>, payload: web::Payload) -> GemResult {
    ctx.label("yank");
    let who = ctx.require(Scope::Delete).await?;
    let form = super::read_form(ctx, payload).await?;
    let (name, _, _) = packgate_rubygems::parse_yank_form(&form)?;
    let member = writer(ctx, &name).await?;
    Ok(push::yank_of(&Ctx::new(ctx.req, ctx.state, member), &who, &form).await?)
}

/// `GET /api/v1/gems/{name}/owners.{ext}` on a group: from the hosted member holding the gem.
pub async fn list_owners(ctx: &Ctx<'_>, name: &str, ext: &str) -> GemResult {
    ctx.label("owners");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let Some(i) = group
        .group
        .claimant(&ctx.state.db, &similarity_key(name))
        .await?
    else {
        return Err(AppError::NotFound(format!("This rubygem could not be found: {name}")).into());
    };
    Ok(owners::list_of(&common::member_ctx(ctx, group, i), name, ext).await?)
}

/// `POST` / `DELETE /api/v1/gems/{name}/owners` on a group: to the hosted member holding the
/// gem (else `publish_to`, which answers that the gem does not exist).
pub async fn change_owners(
    ctx: &Ctx<'_>,
    payload: web::Payload,
    name: &str,
    add: bool,
) -> GemResult {
    ctx.label("owners");
    let who = ctx.require(Scope::Publish).await?;
    let form = super::read_form(ctx, payload).await?;
    let member = writer(ctx, name).await?;
    Ok(owners::change_of(
        &Ctx::new(ctx.req, ctx.state, member),
        &who,
        &form,
        name,
        add,
    )
    .await?)
}

/// What `GET /-/api/explain/{group}/{name}` shows for a RubyGems group: the plan, each member's
/// answer for `info/NAME`, and the member supplying each `VERSION[-PLATFORM]`.
pub async fn explain(ctx: &Ctx<'_>, name: &str) -> Result<Explained, AppError> {
    let group = common::of(ctx)?;
    let plan = plan_for(ctx, group, name).await?;
    let owned = name.to_string();
    let outcome = common::documents(ctx, group, &plan, move |c| {
        member_doc(c, Doc::Info(owned.clone()))
    })
    .await;
    let bodies: Vec<&[u8]> = outcome.found.iter().map(|(_, d)| d.body.as_ref()).collect();
    let versions = if bodies.is_empty() {
        Vec::new()
    } else {
        merge(&bodies)
            .1
            .sources
            .iter()
            .map(|s| (s.key.clone(), outcome.found[s.member].0))
            .collect()
    };
    // Rules match the gem's name (the claim alone is looked up by its squatting key).
    Ok(Explained::from_outcome(
        name.to_string(),
        plan,
        &outcome,
        |d: &MemberDoc| d.cache.clone(),
        versions,
    ))
}
