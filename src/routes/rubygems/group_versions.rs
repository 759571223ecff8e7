//! The `versions` file of a RubyGems group repository, kept as an append-only log so that
//! Bundler's incremental update (`Range: bytes=N-` with `If-None-Match`) gets a correct 206. See
//! `docs/formats/rubygems.md`, section "Group repositories".
//!
//! - On a request the group's current state is computed from the members ([`compute_target`]:
//!   the union of the members' `versions` lines after each gem's plan, with the MD5 of the
//!   group's `info/NAME`) and compared with the state the log describes (the last line per gem).
//!   The gems that changed get one line each, appended (`packgate_rubygems::group::
//!   versions_delta`: new versions, yanked ones as `-VERSION` as in a hosted file, the new MD5).
//!   An unchanged group (the members' ETags as at the last reconciliation, the log as then)
//!   computes nothing.
//! - The log is rewritten as a new generation (compacted, with a new `created_at:`) when a gem
//!   disappears entirely (a log cannot drop a gem, and Bundler asks `info/NAME` of every gem it
//!   lists) or when it would grow past twice the size of a fresh rebuild (plus [`SLACK`]).
//!   Clients holding the old generation then get 200 with the whole new body: a 206 is only
//!   given when the client's copy is a prefix of the current body ([`respond`]).
//! - The log is stored with the `index_log` service under the group's repository name, one row
//!   per line of the body (the `created_at:` and `---` header included). Computing and writing
//!   are serialized per group inside an instance; the comparison with the log is repeated
//!   inside a database critical section (PostgreSQL: an advisory lock across instances) right
//!   before appending, so two requests or instances that computed the same change append it
//!   once.
//! - While a member fails, gems it might supply keep the lines the log has for them (nothing is
//!   taken away from them); gems whose plan does not ask it are brought up to date.

use super::compact;
use super::group::{Doc, claims, everyone, fingerprint, member_doc, merge, plan_with};
use crate::error::AppError;
use crate::routes::common::blob::parse_range;
use crate::routes::common::ctx::Ctx;
use crate::routes::common::group::{self as common, MemberDoc};
use crate::services::cache::Rendered;
use crate::services::group::{Answer, Outcome};
use crate::services::index_log;
use crate::services::time::{iso8601, now_millis};
use crate::state::GroupCtx;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::StreamExt;
use packgate_rubygems::group::{VersionsGem, group_versions_lines, read_versions, versions_delta};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The `index_log` document holding a group's `versions`.
const GROUP_VERSIONS: &str = "rubygems.group.versions";

/// Bytes a log may grow beyond twice a fresh rebuild before it is compacted: small files are
/// cheap to fetch whole, so they are not rewritten (and clients' copies not invalidated) for
/// every few changes.
const SLACK: usize = 16 * 1024;

/// Most gems whose merged `info/NAME` line a group remembers between builds of `versions`.
const MAX_REMEMBERED: usize = 100_000;

/// How many gems' `info/NAME` a build of `versions` fetches at once.
const MERGES_AT_ONCE: usize = 8;

/// A gem's merged `info/NAME` line, remembered by the MD5s the members' `versions` name.
struct Remembered {
    sources: String,
    keys: Vec<String>,
    md5: String,
}

/// What a group remembers between requests for its `versions` (kept in `AppState::values`).
#[derive(Default)]
struct Memory {
    /// Merged lines of gems several members supply, by gem name.
    merged: Mutex<HashMap<String, Arc<Remembered>>>,
    /// Held while a request computes the state and brings the log up to date.
    build: tokio::sync::Mutex<()>,
    /// The last state computed without a merge failing, and the log's stamp once the log
    /// described it.
    reconciled: Mutex<Option<(Arc<Target>, i64)>>,
}

impl Memory {
    /// The state last reconciled, when it was computed from members' documents with
    /// `fingerprint`; and whether the log is still at the stamp it had then.
    fn reconciled(&self, fingerprint: &str, stamp: i64) -> (Option<Arc<Target>>, bool) {
        let slot = self.reconciled.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some((t, s)) if t.fingerprint == fingerprint => (Some(t.clone()), *s == stamp),
            _ => (None, false),
        }
    }

    fn remember(&self, target: Arc<Target>, stamp: i64) {
        *self.reconciled.lock().unwrap_or_else(|e| e.into_inner()) = Some((target, stamp));
    }
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

/// The group's `versions` as its members make it now.
struct Target {
    /// The members' `versions` ETags it was computed from, and the members that failed.
    fingerprint: String,
    /// Per gem, sorted by name: `VERSION[-PLATFORM]` list and MD5 of the group's `info/NAME`.
    gems: BTreeMap<String, (Vec<String>, String)>,
    /// Gems whose line is not known for sure: a member that might supply them failed.
    uncertain: HashSet<String>,
    /// Members whose `versions` failed.
    failed: Vec<usize>,
    /// Whether fetching a gem's `info/NAME` to merge it failed (the state may differ on the
    /// next try with the same members' documents).
    merge_failed: bool,
    /// Per hosted member, the gems it holds (for the plans of gems only the log lists).
    claims: Vec<Option<HashSet<String>>>,
}

impl Target {
    /// Whether the same members' documents always give this state (no merge failed): then the
    /// log, once brought to it, needs nothing more until a member's document or the log changes.
    fn repeatable(&self) -> bool {
        !self.merge_failed
    }

    /// Whether a failing member might supply gem `name` (the gem's plan asks it, and no member
    /// with `on_not_found = "stop"` before it ends the search).
    fn unsure(&self, group: &GroupCtx, name: &str) -> bool {
        if self.failed.is_empty() {
            return false;
        }
        let plan = plan_with(group, &self.claims, name);
        let answers: Vec<(usize, Answer<()>)> = plan
            .asked()
            .map(|i| {
                let answer = if self.failed.contains(&i) {
                    Answer::Failed(AppError::Upstream(String::new()))
                } else {
                    Answer::Missing
                };
                (i, answer)
            })
            .collect();
        !group.group.outcome(answers).failed.is_empty()
    }

    /// The state the log is brought to, given the state it describes (`current`): this target,
    /// except that a gem a failing member might supply keeps the log's line when it has one.
    fn effective(
        &self,
        group: &GroupCtx,
        current: &[VersionsGem],
    ) -> Vec<(String, Vec<String>, String)> {
        let logged: HashMap<&str, &VersionsGem> = current
            .iter()
            .filter(|g| !g.versions.is_empty())
            .map(|g| (g.name.as_str(), g))
            .collect();
        let mut out: BTreeMap<&str, (Vec<String>, String)> = BTreeMap::new();
        for (name, (versions, md5)) in &self.gems {
            let kept = logged
                .get(name.as_str())
                .filter(|_| self.uncertain.contains(name));
            out.insert(
                name,
                match kept {
                    Some(g) => (g.versions.clone(), g.md5.clone()),
                    None => (versions.clone(), md5.clone()),
                },
            );
        }
        for (name, g) in &logged {
            if !self.gems.contains_key(*name) && self.unsure(group, name) {
                out.insert(name, (g.versions.clone(), g.md5.clone()));
            }
        }
        out.into_iter()
            .map(|(n, (v, m))| (n.to_string(), v, m))
            .collect()
    }
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

/// The group's state from the members' `versions` (`found`; `failed`: the members whose
/// `versions` failed): per gem, the members its plan lets supply it; a gem one member supplies
/// (or several with the same `info/NAME` MD5) takes that member's line, the others are merged
/// (`merged_line`). Members failing while gems are merged are added to `partial`.
async fn compute_target<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    mem: &Memory,
    found: &[(usize, MemberDoc)],
    failed: Vec<usize>,
    fingerprint: String,
    partial: &mut Outcome<()>,
) -> Result<Target, AppError> {
    let claims = claims(ctx, group).await?;
    let parsed: Vec<(usize, Vec<VersionsGem>)> = found
        .iter()
        .map(|(i, d)| (*i, read_versions(&d.body)))
        .collect();
    let mut by_name: BTreeMap<&str, Vec<(usize, &VersionsGem)>> = BTreeMap::new();
    for (i, gems) in &parsed {
        for g in gems {
            by_name.entry(g.name.as_str()).or_default().push((*i, g));
        }
    }
    let mut gems: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    let mut uncertain: HashSet<String> = HashSet::new();
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
                    None if failed.contains(&i) => {
                        Answer::Failed(AppError::Upstream(String::new()))
                    }
                    None => Answer::Missing,
                };
                (i, answer)
            })
            .collect();
        let outcome = group.group.outcome(answers);
        if !outcome.failed.is_empty() {
            uncertain.insert(name.to_string());
        }
        match outcome.found.as_slice() {
            [] => {}
            [(_, first), rest @ ..] if rest.iter().all(|(_, g)| g.md5 == first.md5) => {
                gems.insert(
                    name.to_string(),
                    (first.versions.clone(), first.md5.clone()),
                );
            }
            _ => to_merge.push((name, outcome.found)),
        }
    }
    let merges: Vec<_> = futures_util::stream::iter(
        to_merge
            .iter()
            .map(|(name, found)| merged_line(ctx, group, mem, name, found)),
    )
    .buffered(MERGES_AT_ONCE)
    .collect()
    .await;
    let mut merge_failed = false;
    for ((name, _), (line, failures)) in to_merge.iter().zip(merges) {
        for (i, e) in failures {
            merge_failed = true;
            uncertain.insert(name.to_string());
            if !partial.failed.iter().any(|(f, _)| *f == i) {
                partial.failed.push((i, e));
            }
        }
        if let Some(line) = line {
            gems.insert(name.to_string(), (line.keys.clone(), line.md5.clone()));
        }
    }
    Ok(Target {
        fingerprint,
        gems,
        uncertain,
        failed,
        merge_failed,
        claims,
    })
}

/// The critical-section key of a group's log: "rggv" in the high bits (apart from the keys of
/// the hosted `versions` log), an FNV-1a hash of the group's name below.
fn section_key(repo: &str) -> i64 {
    let hash = repo.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (0x7267_6776_i64 << 32) | i64::from(hash)
}

/// The body of the log's lines.
fn body_of(lines: &[String]) -> Vec<u8> {
    let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
    }
    body
}

/// A `created_at:` for a new generation, different from the old one's (`old`: the log's lines)
/// so that its body differs from every copy of the old generation even when nothing else does.
fn created_at(old: &[String]) -> String {
    let previous = old.first().and_then(|l| l.strip_prefix("created_at: "));
    let mut at = now_millis();
    loop {
        let text = iso8601(at);
        if previous != Some(text.as_str()) {
            return text;
        }
        at += 1;
    }
}

/// Brings the log to the state `target` makes (see [`Target::effective`]): appends a line per
/// changed gem, or writes a new generation when there is none yet, a gem disappeared, or the
/// log would grow past twice a fresh rebuild plus [`SLACK`]. The log is read again and compared
/// inside the group's critical section, so a change another request or instance already
/// appended is not appended twice.
async fn reconcile(ctx: &Ctx<'_>, group: &GroupCtx, target: &Target) -> Result<(), AppError> {
    let db = &ctx.state.db;
    let repo = &ctx.repo.name;
    let section = db.critical_section(section_key(repo)).await?;
    let (_, _, old) = index_log::load(db, repo, GROUP_VERSIONS).await?;
    let body = body_of(&old);
    let current = read_versions(&body);
    let effective = target.effective(group, &current);
    let wanted: Vec<(&str, &[String], &str)> = effective
        .iter()
        .map(|(n, v, m)| (n.as_str(), v.as_slice(), m.as_str()))
        .collect();
    let delta = versions_delta(&current, &wanted);
    let fresh = group_versions_lines(&wanted);
    let header = "created_at: 0000-00-00T00:00:00.000Z\n---\n".len();
    let fresh_len = header + fresh.iter().map(String::len).sum::<usize>();
    let grown = body.len() + delta.lines.iter().map(String::len).sum::<usize>();
    let trim = |l: &String| l.trim_end_matches('\n').to_string();
    if old.is_empty()
        || !delta.vanished.is_empty()
        || (!delta.lines.is_empty() && grown > 2 * fresh_len + SLACK)
    {
        tracing::info!(
            repo.name = %repo,
            gems = fresh.len(),
            vanished = delta.vanished.len(),
            "new generation of the group's versions log"
        );
        let mut lines = vec![format!("created_at: {}", created_at(&old)), "---".into()];
        lines.extend(fresh.iter().map(trim));
        index_log::replace(db, repo, GROUP_VERSIONS, &lines).await?;
    } else if !delta.lines.is_empty() {
        let lines: Vec<String> = delta.lines.iter().map(trim).collect();
        index_log::append_all(db, repo, GROUP_VERSIONS, &lines).await?;
    }
    section.end().await?;
    Ok(())
}

/// The log's body at `stamp` (cached by it).
async fn log_doc(ctx: &Ctx<'_>, stamp: i64) -> Result<Rendered, AppError> {
    let key = format!("rubygems-group\0{}\0versions", ctx.repo.name);
    if let Some(doc) = ctx.state.cache.get(&key, stamp) {
        return Ok(doc);
    }
    let (_, newest, lines) = index_log::load(&ctx.state.db, &ctx.repo.name, GROUP_VERSIONS).await?;
    let doc = compact::rendered(body_of(&lines));
    ctx.state.cache.put(key, newest, doc.clone());
    Ok(doc)
}

/// The group's `versions` (the log, brought up to date with the members) and the members that
/// failed while it was made.
pub(super) async fn versions_doc<'a>(
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
    let failed: Vec<usize> = outcome.failed.iter().map(|(i, _)| *i).collect();
    let mut partial = Outcome {
        found: Vec::new(),
        failed: outcome.failed,
        stopped: Vec::new(),
    };
    let found = outcome.found;
    // Which members failed is part of the input: their gems keep the log's lines meanwhile.
    let fp = format!("{}|failed={failed:?}", fingerprint(&found));
    let db = &ctx.state.db;
    let repo = &ctx.repo.name;
    let mem = memory(ctx);
    let stamp = index_log::stamp(db, repo, GROUP_VERSIONS).await?;
    if let (_, true) = mem.reconciled(&fp, stamp) {
        return Ok((log_doc(ctx, stamp).await?, partial));
    }
    let _building = mem.build.lock().await;
    // Another request may have brought the log up to date while this one waited.
    let stamp = index_log::stamp(db, repo, GROUP_VERSIONS).await?;
    let target = match mem.reconciled(&fp, stamp) {
        (_, true) => return Ok((log_doc(ctx, stamp).await?, partial)),
        // The same members' documents, but the log changed (another instance wrote it).
        (Some(known), false) => known,
        (None, false) => {
            Arc::new(compute_target(ctx, group, &mem, &found, failed, fp, &mut partial).await?)
        }
    };
    reconcile(ctx, group, &target).await?;
    let stamp = index_log::stamp(db, repo, GROUP_VERSIONS).await?;
    if target.repeatable() {
        mem.remember(target, stamp);
    }
    Ok((log_doc(ctx, stamp).await?, partial))
}

/// The MD5 of every line-ending prefix of the log's body (cached by its ETag).
fn prefixes(ctx: &Ctx<'_>, doc: &Rendered) -> Arc<Vec<(usize, [u8; 16])>> {
    let key = format!("rubygems-group-prefixes\0{}", ctx.repo.name);
    if let Some(p) = ctx
        .state
        .values
        .get::<Vec<(usize, [u8; 16])>>(&key, &doc.etag)
    {
        return p;
    }
    let p = Arc::new(packgate_rubygems::line_prefix_md5s(&doc.body));
    ctx.state.values.put(key, doc.etag.clone(), p.clone());
    p
}

/// Whether the client's copy is a prefix of `doc`, as far as its request tells: a `Range:
/// bytes=N-` with `If-None-Match` naming the MD5 of the first `N + 1` bytes (Bundler 2.3 and
/// 2.5+ ask for `bytes=<size of copy - 1>-` with their copy's ETag, which is its MD5) or of the
/// first `N` bytes. A request without `If-None-Match` vouches for its range itself.
fn continues_a_copy(ctx: &Ctx<'_>, doc: &Rendered) -> bool {
    let header = |name: &str| {
        ctx.req
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(Some(Ok(range))) = header("range").map(|h| parse_range(&h, doc.body.len() as u64))
    else {
        // No range, or one `compact::respond` ignores or refuses (416) by itself.
        return true;
    };
    let Some(tags) = header("if-none-match") else {
        return true;
    };
    let prefixes = prefixes(ctx, doc);
    let start = range.start as usize;
    tags.split(',').any(|tag| {
        [start + 1, start]
            .iter()
            .any(|len| packgate_rubygems::prefix_has_md5(&prefixes, *len, tag))
    })
}

/// Answers the group's `versions` as a hosted repository answers its own (304 on its ETag, 206
/// of a satisfiable `Range: bytes=N-`, 416 for a range starting past the end), except that a
/// client whose copy is not a prefix of the current body (an older generation of the log, or
/// a copy from elsewhere) gets 200 with the whole body instead of a 206 that would corrupt it.
pub(super) fn respond(ctx: &Ctx<'_>, doc: &Rendered) -> HttpResponse {
    compact::respond(ctx.req, doc, continues_a_copy(ctx, doc))
}
