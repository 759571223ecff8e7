//! RubyGems on a group repository: the compact index merged from the members the group's plan
//! asks for each gem (routing rules by the gem's name, then the claim of a hosted member holding
//! the name, looked up by its squatting key as the packages table stores it), `.gem` files and
//! quick gemspecs from the member whose `info/NAME` line was kept, the legacy specs indexes built
//! from the group's `versions`, and writes handed to the hosted member holding the gem (else
//! `publish_to`). See `docs/formats/rubygems.md`, section "Group repositories".
//!
//! - `info/NAME`: the members' lines in member order, a `VERSION[-PLATFORM]` kept once, every
//!   kept line byte-identical (`packgate_rubygems::group::merge_info`); a body all members agree
//!   on is served as it is. Cached by the members' ETags.
//! - `versions`: one line per gem of the union of the members' `versions`, after the gem's plan,
//!   naming the MD5 of the group's `info/NAME` for it. A gem only one member supplies takes that
//!   member's versions and MD5 from its `versions` line (its `info/NAME` passes unchanged); only
//!   gems several members supply have their `info/NAME` fetched and merged, and the result is
//!   remembered by the members' MD5s. The document is cached by the members' ETags and always
//!   served whole: Bundler 2.3 sends `Range: bytes=N-` with `If-None-Match`, and a regenerated
//!   file is not append-only, so a range is answered 200 with the whole body (or 304), never 206.
//! - Members are called in process through their own route handlers, with a copy of the client's
//!   request without its range and conditional headers: a member's 206 or 304 would be part of a
//!   document, or none, where the group needs the whole to merge.

use super::{GemResult, compact, legacy, owners, push};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::routes::common::etag;
use crate::routes::common::explain::Explained;
use crate::routes::common::group::{self as common, MemberDoc};
use crate::services::auth::Scope;
use crate::services::cache::Rendered;
use crate::services::group::{Answer, Outcome, Plan, Verdict};
use crate::state::{AppState, GroupCtx, RepoCtx};
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::StreamExt;
use packgate_rubygems::group::{
    MergedInfo, SpecsKind, VersionsGem, group_versions_lines, merge_info, merge_names,
    read_versions, specs_tuples, versions_created_at,
};
use packgate_rubygems::proxy::{file_candidates, is_plain_name};
use packgate_rubygems::similarity_key;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Most gems whose merged `info/NAME` line a group remembers between builds of `versions`.
const MAX_REMEMBERED: usize = 100_000;

/// How many gems' `info/NAME` a build of `versions` fetches at once.
const MERGES_AT_ONCE: usize = 8;

/// The `created_at:` of a group's `versions` when no member's has one.
const NO_CREATED_AT: &str = "1970-01-01T00:00:00Z";

/// Headers a member never sees from the group's client: Bundler 2.3 sends `Range: bytes=N-` and
/// `If-None-Match` for `versions` and `info/NAME`, and a member's 206 or 304 would be part of a
/// document, or none, where the group needs the whole one. The group answers them itself.
const CLIENT_CONDITIONS: [&str; 5] = [
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
];

/// Headers describing a body the group re-supplies itself (decoded, with its own length).
const BODY_FRAMING: [&str; 3] = ["content-length", "content-encoding", "transfer-encoding"];

/// What the group asks a member for.
#[derive(Debug, Clone)]
enum Doc {
    Versions,
    Info(String),
    Names,
    Gem(String),
    QuickSpec(String),
}

/// The client's request as the member of `ctx` gets it when the group calls the member's route
/// in process: the same method, URI, credentials, peer address and server state, the member's
/// repository context, without the client's range and conditional headers; `body` (already
/// read and decoded by the group) replaces the client's body.
///
/// The RubyGems routes take their repository from the request (`RepoRequest`), and an
/// `HttpRequest` can neither be given another repository nor lose headers, so the member's
/// request is built anew with actix's request builder (`actix_web::test::TestRequest`, a plain
/// constructor despite its module's name).
fn member_request(
    ctx: &Ctx<'_>,
    method: Method,
    body: Option<Bytes>,
) -> Result<(HttpRequest, actix_web::dev::Payload), AppError> {
    let req = ctx.req;
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("a group route without the server state"))?;
    // Checked here: the test request builder panics on a URI it cannot parse.
    let uri = req.uri().to_string();
    actix_web::http::Uri::try_from(uri.as_str())
        .map_err(|e| AppError::internal(format!("re-reading the request URI: {e}")))?;
    let mut m = actix_web::test::TestRequest::default()
        .method(method)
        .uri(&uri)
        .app_data(state)
        .app_data(web::Data::new(ctx.repo.clone()));
    if let Some(metrics) = req.app_data::<web::Data<crate::observe::Metrics>>() {
        m = m.app_data(metrics.clone());
    }
    for (name, value) in req.headers() {
        let skip = CLIENT_CONDITIONS.contains(&name.as_str())
            || (body.is_some() && BODY_FRAMING.contains(&name.as_str()));
        if !skip {
            m = m.append_header((name.clone(), value.clone()));
        }
    }
    if let Some(peer) = req.peer_addr() {
        m = m.peer_addr(peer);
    }
    if let Some(body) = body {
        m = m.set_payload(body);
    }
    Ok(m.to_http_parts())
}

/// The member's [`RepoRequest`] for a request made by [`member_request`].
async fn repo_request(req: &HttpRequest) -> Result<RepoRequest, AppError> {
    RepoRequest::extract(req)
        .await
        .map_err(|e| AppError::internal(format!("calling a group member: {e}")))
}

/// A member's document or file, from its own route (hosted or proxy: the routes pick).
async fn member_doc(c: Ctx<'_>, doc: Doc) -> Result<HttpResponse, AppError> {
    let (req, _) = member_request(&c, Method::GET, None)?;
    let r = repo_request(&req).await?;
    let res = match doc {
        Doc::Versions => compact::versions(r).await,
        Doc::Info(name) => compact::info(r, web::Path::from(name)).await,
        Doc::Names => compact::names(r).await,
        Doc::Gem(file) => legacy::gem_file(r, web::Path::from(file)).await,
        Doc::QuickSpec(file) => legacy::quick_spec(r, web::Path::from(file)).await,
    };
    res.map_err(|e| e.error)
}

fn gem_missing(name: &str) -> AppError {
    AppError::NotFound(format!("This gem could not be found: {name}"))
}

fn file_missing(file: &str) -> AppError {
    AppError::NotFound(format!("Not found: {file}"))
}

/// Every member asked (documents of the whole source: `versions`, `names`).
fn everyone(group: &GroupCtx) -> Plan {
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

/// The members' ETags (or digests) of the documents an answer was made of: a cache key part that
/// changes whenever a member's document does.
fn fingerprint(found: &[(usize, MemberDoc)]) -> String {
    found
        .iter()
        .map(|(i, d)| {
            let tag = d.etag.clone().unwrap_or_else(|| etag::of_bytes(&d.body));
            format!("{i}={tag}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The group's `info/NAME` from the bodies of the members supplying it, in member order: the
/// body itself when they all agree byte for byte, else the merge (indexes in the result refer to
/// `bodies`).
fn merge(bodies: &[&[u8]]) -> (Bytes, MergedInfo) {
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
    let doc = match ctx.state.cache.get(&key, 0) {
        Some(doc) => doc,
        None => {
            let doc = compact::rendered(body.to_vec());
            ctx.state.cache.put(key, 0, doc.clone());
            doc
        }
    };
    Ok(Merged {
        doc,
        suppliers,
        outcome,
    })
}

/// A compact-index document, always whole: 304 on a matching `If-None-Match`, else 200 with the
/// body, `ETag` (quoted MD5, Bundler ≤ 2.4 checks it) and `Repr-Digest` (Bundler 2.5+). A
/// `Range` is not honoured (Bundler 2.3 replaces its copy on a 200).
fn respond_whole(req: &HttpRequest, doc: &Rendered) -> HttpResponse {
    if etag::not_modified(req, &doc.etag) {
        return HttpResponse::NotModified()
            .insert_header(("etag", doc.etag.clone()))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("etag", doc.etag.clone()))
        .insert_header(("repr-digest", doc.digest.clone()))
        .insert_header(("cache-control", "no-cache"))
        .body(doc.body.clone())
}

/// `GET /info/{name}` on a group.
pub async fn info(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("info");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let plan = plan_for(ctx, group, name).await?;
    let merged = merged_info(ctx, group, name, &plan).await?;
    let mut res = respond_whole(ctx.req, &merged.doc);
    common::mark_partial(&mut res, &group.group, &merged.outcome);
    Ok(res)
}

/// Per hosted member, the gems it holds (squatting keys, as the packages table stores them).
async fn claims(ctx: &Ctx<'_>, group: &GroupCtx) -> Result<Vec<Option<HashSet<String>>>, AppError> {
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
fn plan_with(group: &GroupCtx, claims: &[Option<HashSet<String>>], name: &str) -> Plan {
    let key = similarity_key(name);
    let claimed = claims
        .iter()
        .position(|c| c.as_ref().is_some_and(|held| held.contains(&key)));
    group.group.plan(name, claimed)
}

/// A gem's merged `info/NAME` line, remembered by the MD5s the members' `versions` name.
struct Remembered {
    sources: String,
    keys: Vec<String>,
    md5: String,
}

/// What a group remembers between builds of its `versions` (kept in `AppState::values`).
#[derive(Default)]
struct Memory {
    merged: Mutex<HashMap<String, Arc<Remembered>>>,
}

fn memory(ctx: &Ctx<'_>) -> Arc<Memory> {
    let key = format!("rubygems-group\0{}", ctx.repo.name);
    if let Some(m) = ctx.state.values.get::<Memory>(&key, "") {
        return m;
    }
    let m = Arc::new(Memory::default());
    ctx.state.values.put(key, String::new(), m.clone());
    m
}

/// The `versions` line of a gem several members supply with different `info/NAME` bodies: its
/// kept keys and the MD5 of the group's `info/NAME`, from memory or by fetching and merging the
/// members' `info/NAME`; and the members that failed.
async fn merged_line<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    mem: &Memory,
    name: &str,
    found: &[(usize, &VersionsGem)],
) -> (Option<Arc<Remembered>>, Vec<(usize, AppError)>) {
    let sources = found
        .iter()
        .map(|(i, g)| format!("{i}={}", g.md5))
        .collect::<Vec<_>>()
        .join(",");
    let remembered = mem
        .merged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned();
    if let Some(r) = remembered
        && r.sources == sources
    {
        return (Some(r), Vec::new());
    }
    let answers = futures_util::future::join_all(found.iter().map(|(i, _)| {
        let owned = name.to_string();
        async move {
            let answer = common::ask(ctx, group, *i, move |c| {
                member_doc(c, Doc::Info(owned.clone()))
            })
            .await;
            (*i, common::read(answer).await)
        }
    }))
    .await;
    let mut bodies: Vec<Bytes> = Vec::new();
    let mut failed = Vec::new();
    let mut as_listed = true;
    for ((i, answer), (_, listed)) in answers.into_iter().zip(found) {
        match answer {
            Answer::Found(d) => {
                as_listed &= packgate_rubygems::md5_hex(&d.body) == listed.md5;
                bodies.push(d.body);
            }
            Answer::Missing => as_listed = false,
            Answer::Failed(e) => failed.push((i, e)),
        }
    }
    if bodies.is_empty() {
        return (None, failed);
    }
    let refs: Vec<&[u8]> = bodies.iter().map(|b| b.as_ref()).collect();
    let (body, merged) = merge(&refs);
    let line = Arc::new(Remembered {
        sources,
        keys: merged.keys(),
        md5: packgate_rubygems::md5_hex(&body),
    });
    if failed.is_empty() && as_listed {
        let mut map = mem.merged.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_REMEMBERED && !map.contains_key(name) {
            map.clear();
        }
        map.insert(name.to_string(), line.clone());
    }
    (Some(line), failed)
}

/// The group's `versions` (cached by the members' ETags) and the members that failed while it
/// was made.
async fn versions_doc<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
) -> Result<(Rendered, Outcome<()>), AppError> {
    let outcome = common::documents(ctx, group, &everyone(group), |c| {
        member_doc(c, Doc::Versions)
    })
    .await;
    if outcome.found.is_empty() {
        return Err(outcome.nothing(|| {
            AppError::NotFound("no member of this group serves a compact index".into())
        }));
    }
    let key = format!(
        "rubygems-group\0{}\0versions\0{}",
        ctx.repo.name,
        fingerprint(&outcome.found)
    );
    let mut partial = Outcome {
        found: Vec::new(),
        failed: Vec::new(),
        stopped: Vec::new(),
    };
    let failed_members: Vec<usize> = outcome.failed.iter().map(|(i, _)| *i).collect();
    partial.failed = outcome.failed;
    if let Some(doc) = ctx.state.cache.get(&key, 0) {
        return Ok((doc, partial));
    }
    let claims = claims(ctx, group).await?;
    let parsed: Vec<(usize, Vec<VersionsGem>)> = outcome
        .found
        .iter()
        .map(|(i, d)| (*i, read_versions(&d.body)))
        .collect();
    let mut by_name: BTreeMap<&str, Vec<(usize, &VersionsGem)>> = BTreeMap::new();
    for (i, gems) in &parsed {
        for g in gems {
            by_name.entry(g.name.as_str()).or_default().push((*i, g));
        }
    }
    let mut lines: Vec<(&str, Vec<String>, String)> = Vec::new();
    let mut to_merge: Vec<(&str, Vec<(usize, &VersionsGem)>)> = Vec::new();
    for (name, listed) in &by_name {
        let plan = plan_with(group, &claims, name);
        let answers = plan
            .asked()
            .map(|i| {
                let answer = match listed
                    .iter()
                    .find(|(m, g)| *m == i && !g.versions.is_empty())
                {
                    Some((_, g)) => Answer::Found(*g),
                    None if failed_members.contains(&i) => {
                        Answer::Failed(AppError::Upstream(String::new()))
                    }
                    None => Answer::Missing,
                };
                (i, answer)
            })
            .collect();
        let supplied = group.group.outcome(answers).found;
        match supplied.as_slice() {
            [] => {}
            [(_, first), rest @ ..] if rest.iter().all(|(_, g)| g.md5 == first.md5) => {
                lines.push((name, first.versions.clone(), first.md5.clone()));
            }
            _ => to_merge.push((name, supplied)),
        }
    }
    let mem = memory(ctx);
    let merges: Vec<_> = futures_util::stream::iter(
        to_merge
            .iter()
            .map(|(name, found)| merged_line(ctx, group, &mem, name, found)),
    )
    .buffered(MERGES_AT_ONCE)
    .collect()
    .await;
    let mut complete = true;
    for ((name, _), (line, failed)) in to_merge.iter().zip(merges) {
        for (i, e) in failed {
            complete = false;
            if !partial.failed.iter().any(|(f, _)| *f == i) {
                partial.failed.push((i, e));
            }
        }
        if let Some(line) = line {
            lines.push((name, line.keys.clone(), line.md5.clone()));
        }
    }
    let gems: Vec<(&str, &[String], &str)> = lines
        .iter()
        .map(|(n, v, m)| (*n, v.as_slice(), m.as_str()))
        .collect();
    let created_at = outcome
        .found
        .first()
        .and_then(|(_, d)| versions_created_at(&d.body))
        .unwrap_or_else(|| NO_CREATED_AT.to_string());
    let body = packgate_rubygems::render_versions(&created_at, &group_versions_lines(&gems));
    let doc = compact::rendered(body);
    if complete {
        ctx.state.cache.put(key, 0, doc.clone());
    }
    Ok((doc, partial))
}

/// `GET /versions` on a group: always whole (see the module documentation).
pub async fn versions(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("versions");
    ctx.allow(Scope::Read).await?;
    let group = common::of(ctx)?;
    let (doc, partial) = versions_doc(ctx, group).await?;
    let mut res = respond_whole(ctx.req, &doc);
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
    let mut res = respond_whole(ctx.req, &doc);
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
    let (versions, partial) = versions_doc(ctx, group).await?;
    let key = format!(
        "rubygems-group\0{}\0{file}\0{}",
        ctx.repo.name, versions.etag
    );
    let doc = match ctx.state.cache.get(&key, 0) {
        Some(doc) => doc,
        None => {
            let gems = read_versions(&versions.body);
            let listed: Vec<(&str, &[String])> = gems
                .iter()
                .map(|g| (g.name.as_str(), g.versions.as_slice()))
                .collect();
            let body = packgate_rubygems::specs_file(&specs_tuples(&listed, kind));
            let doc = Rendered {
                etag: etag::of_bytes(&body),
                digest: String::new(),
                body: Bytes::from(body),
            };
            ctx.state.cache.put(key, 0, doc.clone());
            doc
        }
    };
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
    member_file(ctx, file, ".gem", Doc::Gem(file.to_string())).await
}

/// `GET /quick/Marshal.4.8/{file}` on a group.
pub async fn quick_spec(ctx: &Ctx<'_>, file: &str) -> Result<HttpResponse, AppError> {
    ctx.label("quick_spec");
    ctx.allow(Scope::Read).await?;
    member_file(ctx, file, ".gemspec.rz", Doc::QuickSpec(file.to_string())).await
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

/// The member of `ctx`'s group a write for gem `name` goes to (`None`: `publish_to`): the hosted
/// member holding it, else `publish_to`; refused without either.
async fn writer<'a>(ctx: &Ctx<'a>, name: Option<&str>) -> Result<&'a RepoCtx, AppError> {
    let group = common::of(ctx)?;
    let key = name.map(similarity_key);
    common::write_member(ctx, group, key.as_deref())
        .await?
        .ok_or_else(|| common::no_publish_to(&group.group))
}

/// `POST /api/v1/gems` (`gem push`) on a group: to `publish_to`.
pub async fn push_gem(ctx: &Ctx<'_>, payload: web::Payload) -> GemResult {
    ctx.label("push");
    let member = writer(ctx, None).await?;
    let (req, _) = member_request(
        &Ctx::new(ctx.req, ctx.state, member),
        ctx.req.method().clone(),
        None,
    )?;
    push::push_gem(repo_request(&req).await?, payload).await
}

/// Reads a small form body (yank, owners), decoded; the query string when the body is empty
/// (some clients put the fields there).
async fn small_form(ctx: &Ctx<'_>, payload: web::Payload) -> Result<Bytes, AppError> {
    let body = actix_web::dev::Decompress::from_headers(payload.into_inner(), ctx.req.headers());
    let spooled = ctx.state.spool.body(body, 64 * 1024).await?;
    Ok(Bytes::from(std::fs::read(spooled.path())?))
}

/// Calls a member's write route with the body the group has read.
async fn with_member_body<F, Fut>(
    ctx: &Ctx<'_>,
    member: &RepoCtx,
    body: Bytes,
    route: F,
) -> GemResult
where
    F: FnOnce(RepoRequest, web::Payload) -> Fut,
    Fut: std::future::Future<Output = GemResult>,
{
    let (req, mut payload) = member_request(
        &Ctx::new(ctx.req, ctx.state, member),
        ctx.req.method().clone(),
        Some(body),
    )?;
    let r = repo_request(&req).await?;
    let payload = web::Payload::from_request(&req, &mut payload)
        .await
        .map_err(|e| AppError::internal(format!("re-reading a request body: {e}")))?;
    route(r, payload).await
}

/// `DELETE /api/v1/gems/yank` (`gem yank`) on a group: to the hosted member holding the gem.
pub async fn yank(ctx: &Ctx<'_>, payload: web::Payload) -> GemResult {
    ctx.label("yank");
    let body = small_form(ctx, payload).await?;
    let fields = if body.is_empty() {
        ctx.req.query_string().as_bytes()
    } else {
        body.as_ref()
    };
    let (name, _, _) = packgate_rubygems::parse_yank_form(fields)?;
    let member = writer(ctx, Some(&name)).await?;
    with_member_body(ctx, member, body, push::yank).await
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
    let (req, _) = member_request(
        &Ctx::new(ctx.req, ctx.state, &group.members[i]),
        Method::GET,
        None,
    )?;
    owners::list(
        repo_request(&req).await?,
        web::Path::from((name.to_string(), ext.to_string())),
    )
    .await
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
    let body = small_form(ctx, payload).await?;
    let member = writer(ctx, Some(name)).await?;
    let path = web::Path::from(name.to_string());
    with_member_body(ctx, member, body, move |r, p| async move {
        if add {
            owners::add(r, p, path).await
        } else {
            owners::remove(r, p, path).await
        }
    })
    .await
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
