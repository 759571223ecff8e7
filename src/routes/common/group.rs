//! What every format's group routes share: the group of a request, asking a member (its own
//! handler, in process, with the member's timeout and retries) and reading its answer, and the
//! response headers of a merged answer.

use super::ctx::Ctx;
use crate::error::AppError;
use crate::services::group::{Answer, Group, Outcome, Plan};
use crate::state::{GroupCtx, RepoCtx};
use actix_web::HttpResponse;
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;

/// Largest member document a group reads into memory to merge.
pub const MAX_MEMBER_DOCUMENT: usize = 64 * 1024 * 1024;

/// The header naming the members that failed while a group answered from the others.
pub const PARTIAL_HEADER: &str = "x-packgate-partial";

/// The group of the request's repository.
pub fn of<'a>(ctx: &Ctx<'a>) -> Result<&'a Arc<GroupCtx>, AppError> {
    ctx.repo
        .group
        .as_ref()
        .ok_or_else(|| AppError::internal("group route on a repository that is not a group"))
}

/// The context of member `i` for the same request (reads authorized against the group).
pub fn member_ctx<'a>(ctx: &Ctx<'a>, group: &'a GroupCtx, i: usize) -> Ctx<'a> {
    Ctx::new(ctx.req, ctx.state, &group.members[i])
}

/// A member's document as the group reads it.
#[derive(Debug, Clone)]
pub struct MemberDoc {
    /// The body.
    pub body: Bytes,
    /// The member's ETag for it (part of the merged document's cache key).
    pub etag: Option<String>,
    /// The member's cache state (`X-Packgate-Cache` of a proxy member).
    pub cache: Option<String>,
}

/// What a member's handler returns, judged by the group: found, missing, or failed.
pub trait Reply: Sized {
    /// What the group keeps of a found answer.
    type Found;
    /// `Ok(Some(found))`, `Ok(None)` when the member does not have it, or the member's failure.
    fn judge(self, member: &str) -> Result<Option<Self::Found>, AppError>;
}

impl Reply for HttpResponse {
    type Found = HttpResponse;

    fn judge(self, member: &str) -> Result<Option<HttpResponse>, AppError> {
        match self.status().as_u16() {
            404 => Ok(None),
            // A file's 304 (the client's `If-None-Match`) or 416 (its `Range`) is the member's
            // answer to pass on; a document's is refused when it is read (`read`).
            304 | 416 => Ok(Some(self)),
            _ if self.status().is_success() => Ok(Some(self)),
            status => Err(AppError::Upstream(format!(
                "member {member:?} answered {status}"
            ))),
        }
    }
}

/// A member's document taken straight from its renderer (no response built and read back):
/// `None` when the member does not have it.
impl Reply for Option<MemberDoc> {
    type Found = MemberDoc;

    fn judge(self, _member: &str) -> Result<Option<MemberDoc>, AppError> {
        Ok(self)
    }
}

/// A found answer as a whole document in memory.
pub trait IntoDoc {
    /// The document, or why the group cannot use it.
    fn into_doc(self) -> impl Future<Output = Result<MemberDoc, AppError>>;
}

impl IntoDoc for MemberDoc {
    async fn into_doc(self) -> Result<MemberDoc, AppError> {
        Ok(self)
    }
}

impl IntoDoc for HttpResponse {
    async fn into_doc(self) -> Result<MemberDoc, AppError> {
        let status = self.status();
        if !status.is_success() || status.as_u16() == 206 {
            return Err(AppError::Upstream(format!(
                "a member answered {} where the group needs its whole document",
                status.as_u16()
            )));
        }
        let header = |name: &str| {
            self.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header("etag");
        let cache = header("x-packgate-cache");
        // A body already whole in memory (a rendered document) is taken without a copy.
        let body = match actix_web::body::MessageBody::try_into_bytes(self.into_body()) {
            Ok(body) if body.len() <= MAX_MEMBER_DOCUMENT => body,
            Ok(_) => return Err(too_large()),
            Err(body) => match actix_web::body::to_bytes_limited(body, MAX_MEMBER_DOCUMENT).await {
                Ok(Ok(body)) => body,
                Ok(Err(e)) => {
                    return Err(AppError::internal(format!(
                        "reading a member's document: {e}"
                    )));
                }
                Err(_) => return Err(too_large()),
            },
        };
        Ok(MemberDoc { body, etag, cache })
    }
}

fn too_large() -> AppError {
    AppError::Upstream(format!(
        "a member's document is larger than {MAX_MEMBER_DOCUMENT} bytes"
    ))
}

/// Asks member `i` through `call` (its handler or renderer, given the member's context), with
/// the member's timeout and retries. A 404 (an error or a response) or `None` is
/// [`Answer::Missing`]; a timeout or any other error is [`Answer::Failed`].
pub async fn ask<'a, F, Fut, R>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    i: usize,
    call: F,
) -> Answer<R::Found>
where
    F: Fn(Ctx<'a>) -> Fut,
    Fut: Future<Output = Result<R, AppError>>,
    R: Reply,
{
    let m = &group.group.settings.members[i];
    let mut attempt = 0;
    loop {
        let failure = match tokio::time::timeout(m.timeout, call(member_ctx(ctx, group, i))).await {
            Ok(Ok(reply)) => match reply.judge(&m.name) {
                Ok(Some(found)) => return Answer::Found(found),
                Ok(None) => return Answer::Missing,
                Err(e) => e,
            },
            Ok(Err(e)) if matches!(e.kind(), AppError::NotFound(_)) => return Answer::Missing,
            // A member this caller may not read (a private member of a public group, read
            // anonymously) has nothing for it: not a failure, and nothing revealed.
            Ok(Err(e))
                if matches!(e.kind(), AppError::Unauthorized(_) | AppError::Forbidden(_)) =>
            {
                return Answer::Missing;
            }
            Ok(Err(e)) => e,
            Err(_) => AppError::UpstreamTimeout(format!(
                "member {:?} did not answer within {} s",
                m.name,
                m.timeout.as_secs()
            )),
        };
        if attempt >= m.retries || !retryable(&failure) {
            tracing::warn!(repo.name = %group.group.name, member = %m.name, error = %failure, "group member failed");
            return Answer::Failed(failure);
        }
        attempt += 1;
    }
}

/// Failures worth asking again: the member's upstream, not the request.
fn retryable(e: &AppError) -> bool {
    matches!(
        e.kind(),
        AppError::Upstream(_) | AppError::UpstreamTimeout(_) | AppError::UpstreamDown(_)
    )
}

/// Reads a member's answer into memory (bounded): the document and its validators.
pub async fn read<T: IntoDoc>(answer: Answer<T>) -> Answer<MemberDoc> {
    match answer {
        Answer::Found(found) => match found.into_doc().await {
            Ok(doc) => Answer::Found(doc),
            Err(e) => Answer::Failed(e),
        },
        Answer::Missing => Answer::Missing,
        Answer::Failed(e) => Answer::Failed(e),
    }
}

/// Asks every member the plan allows for a document (concurrently), in precedence order, and
/// takes the answers together.
pub async fn documents<'a, F, Fut, R>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    plan: &Plan,
    call: F,
) -> Outcome<MemberDoc>
where
    F: Fn(Ctx<'a>) -> Fut + Clone,
    Fut: Future<Output = Result<R, AppError>>,
    R: Reply,
    R::Found: IntoDoc,
{
    let asked: Vec<usize> = plan.asked().collect();
    let answers = futures_util::future::join_all(asked.iter().map(|&i| {
        let call = call.clone();
        async move { (i, read(ask(ctx, group, i, call).await).await) }
    }))
    .await;
    group.group.outcome(answers)
}

/// The first member (in plan order) that has a file, its response as it is (streamed); a
/// failing member ends the search with its error (a later member's bytes are not offered in
/// its place).
pub async fn first_file<'a, F, Fut>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    plan: &Plan,
    call: F,
    not_found: impl FnOnce() -> AppError,
) -> Result<HttpResponse, AppError>
where
    F: Fn(Ctx<'a>) -> Fut + Clone,
    Fut: Future<Output = Result<HttpResponse, AppError>>,
{
    for i in plan.asked() {
        match ask(ctx, group, i, call.clone()).await {
            Answer::Found(res) => return Ok(res),
            Answer::Missing => {
                if group.group.settings.members[i].on_not_found == crate::config::OnNotFound::Stop {
                    break;
                }
            }
            Answer::Failed(e) => return Err(e),
        }
    }
    Err(not_found())
}

/// `member=etag` of each document an answer is made of (the body's hash where a member sent no
/// ETag): the part of a merged document's cache key that changes whenever a member's document
/// does, so that a change in a member shows through the group on the next request.
pub fn fingerprint<'d>(docs: impl IntoIterator<Item = (usize, &'d MemberDoc)>) -> String {
    docs.into_iter()
        .map(|(i, d)| match &d.etag {
            Some(tag) => format!("{i}={tag}"),
            None => format!("{i}={}", super::etag::of_bytes(&d.body)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The group's document under `key` (which holds the members' [`fingerprint`]) from the document
/// cache, else made by `render` and kept.
pub fn cached(
    ctx: &Ctx<'_>,
    key: String,
    render: impl FnOnce() -> Result<crate::services::cache::Rendered, AppError>,
) -> Result<crate::services::cache::Rendered, AppError> {
    if let Some(doc) = ctx.state.cache.get(&key, 0) {
        return Ok(doc);
    }
    let doc = render()?;
    ctx.state.cache.put(key, 0, doc.clone());
    Ok(doc)
}

/// Marks a merged answer: `X-Packgate-Partial` naming the members that failed (and a log line).
pub fn mark_partial<T>(res: &mut HttpResponse, group: &Group, outcome: &Outcome<T>) {
    if let Some(names) = outcome.failed_names(group) {
        tracing::warn!(repo.name = %group.name, failed = %names, "group answered without failing members");
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&names) {
            res.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static(PARTIAL_HEADER),
                v,
            );
        }
    }
}

/// The member a write through the group goes to: the first hosted member holding the package
/// (`normalized`), else `publish_to`; `None` when there is neither.
pub async fn write_member<'a>(
    ctx: &Ctx<'a>,
    group: &'a GroupCtx,
    normalized: Option<&str>,
) -> Result<Option<&'a RepoCtx>, AppError> {
    if let Some(name) = normalized
        && let Some(i) = group.group.claimant(&ctx.state.db, name).await?
    {
        return Ok(Some(ctx_member(group, i)));
    }
    Ok(group.group.publish_member().map(|i| ctx_member(group, i)))
}

fn ctx_member(group: &GroupCtx, i: usize) -> &RepoCtx {
    &group.members[i]
}

/// The refusal of a write to a group without `publish_to`, in plain words (each format wraps it
/// in its error body).
pub fn no_publish_to(group: &Group) -> AppError {
    AppError::NotAllowed(format!(
        "repository {:?} is a group without publish_to: publish to one of its hosted members, or set publish_to",
        group.name
    ))
}
