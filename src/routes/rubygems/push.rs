//! `gem push` (`POST /api/v1/gems`), `gem yank` (`DELETE /api/v1/gems/yank`) and `gem signin`
//! (`POST /api/v1/api_key`). Every success and failure is a plain-text body that `gem` prints.
//! After each change a line is appended to the `versions` log with the MD5 of the gem's new
//! `info/NAME` body, so Bundler's incremental (Range) update sees it.

use super::{GemResult, VERSIONS, info_body, load_gem};
use crate::error::AppError;
use crate::routes::common::auth::{Credential, credential};
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::services::auth::{self, Principal, Scope};
use crate::services::blobs::Digests;
use crate::services::index_log;
use crate::services::logins;
use crate::services::publish::{Identity, NewVersion, Refusals, Staged};
use crate::services::{owners, packages};
use actix_web::{HttpResponse, web};
use md5::{Digest, Md5};
use packgate_rubygems::GemSpec;
use std::io::BufReader;

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// Appends the gem's current state to the `versions` log: `NAME ENTRY INFO_MD5`.
///
/// Reading the gem and appending happen inside one critical section (per gem, across instances):
/// each change appends after its own commit, and whoever appends last has read a state that
/// includes every commit before it, so the last line of a gem always carries the MD5 of the
/// `info/NAME` that is actually served.
async fn log_change(
    ctx: &Ctx<'_>,
    package_id: i64,
    name: &str,
    entry: &str,
) -> Result<(), AppError> {
    // Key space: "rg" in the high bits, the package id below.
    let section = ctx
        .state
        .db
        .critical_section((0x7267_i64 << 40) | package_id)
        .await?;
    let desc = load_gem(ctx, name)
        .await?
        .ok_or_else(|| AppError::internal("gem vanished after a change"))?;
    let md5 = hex::encode(Md5::digest(info_body(&desc)?));
    let line = packgate_rubygems::versions_line(name, &[entry.to_string()], &md5);
    index_log::append(&ctx.state.db, &ctx.repo.name, VERSIONS, line.trim_end()).await?;
    section.end().await?;
    Ok(())
}

/// `POST /api/v1/gems`: the body is the `.gem`.
pub async fn push_gem(r: RepoRequest, payload: web::Payload) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(&ctx).into());
    }
    ctx.label("push");
    let who = ctx.require(Scope::Publish).await?;
    let upload = receive(&ctx, payload).await?;
    Ok(record(&ctx, &who, upload).await?)
}

/// A `.gem` upload spooled to a temp file and read, not yet recorded anywhere: a group reads
/// the gem's name from it to choose the member it goes to.
pub(super) struct Upload {
    tmp: tempfile::NamedTempFile,
    digests: Digests,
    /// The gemspec inside.
    pub spec: GemSpec,
}

/// Spools the body of `gem push` (at most the repository's `max_upload`, decoded), hashing it,
/// and reads the gemspec; a malformed `.gem` is refused here.
pub(super) async fn receive(ctx: &Ctx<'_>, payload: web::Payload) -> Result<Upload, AppError> {
    let body = actix_web::dev::Decompress::from_headers(payload.into_inner(), ctx.req.headers());
    let (tmp, digests) = ctx.state.spool.hashed(body, ctx.repo.max_upload).await?;
    let path = tmp.path().to_path_buf();
    let max = ctx.repo.max_upload;
    let spec = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let limits = packgate_rubygems::GemLimits::for_upload(max);
        Ok(packgate_rubygems::read_gem(
            BufReader::new(std::fs::File::open(&path)?),
            &limits,
        )?)
    })
    .await??;
    Ok(Upload { tmp, digests, spec })
}

/// Records an upload as a new version in the hosted repository of `ctx`, pushed by `who`
/// (already authorized to publish), and appends it to the `versions` log.
pub(super) async fn record(
    ctx: &Ctx<'_>,
    who: &Principal,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(ctx));
    }
    // A group spools with its own limit; the member's applies to what it records.
    if upload.digests.size > ctx.repo.max_upload {
        return Err(crate::services::blobs::too_large(ctx.repo.max_upload));
    }
    let Upload { tmp, digests, spec } = upload;
    let entry = packgate_rubygems::version_key(&spec.version, &spec.platform);
    let full = packgate_rubygems::full_name(&spec.name, &spec.version, &spec.platform);
    let nv = NewVersion {
        identity: Identity {
            name: spec.name.clone(),
            normalized_name: packgate_rubygems::similarity_key(&spec.name),
            version: spec.version.clone(),
            normalized_version: entry.clone(),
        },
        metadata: serde_json::to_string(&spec).map_err(AppError::internal)?,
        files: vec![Staged {
            name: packgate_rubygems::gem_file_name(&spec.name, &spec.version, &spec.platform),
            path: tmp.path(),
            digests,
        }],
        set_properties: vec![],
        default_properties: vec![],
    };
    let refuse = Refusals {
        duplicate: &|| duplicate(&full),
        name_taken: Some(&|existing| {
            AppError::Conflict(format!(
                "{} is too similar to the existing gem {existing} (names may not differ only by case, '-', '_' or '.')",
                spec.name
            ))
        }),
        not_owner: &|gem| not_owner(who, "push to", gem),
        missing: &|| AppError::NotFound(format!("{} does not exist", spec.name)),
    };
    let created = ctx.writer(who).create_version(nv, &refuse).await?;
    log_change(ctx, created.package_id, &spec.name, &entry).await?;
    Ok(text(format!(
        "Successfully registered gem: {} ({})\n",
        spec.name, entry
    )))
}

/// `gem`'s refusal for a change to a gem the caller does not own (gem prints the body).
fn not_owner(who: &Principal, action: &str, gem: &str) -> AppError {
    AppError::Forbidden(format!(
        "You do not have permission to {action} this gem: {} is not an owner of {gem}.",
        who.user_name
    ))
}

fn duplicate(full: &str) -> AppError {
    AppError::Conflict(format!(
        "Repushing of gem versions is not allowed: {full} already exists (yank it instead)."
    ))
}

/// `DELETE /api/v1/gems/yank` with a form body `gem_name=&version=[&platform=]`.
pub async fn yank(r: RepoRequest, payload: web::Payload) -> GemResult {
    let ctx = r.ctx();
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(&ctx).into());
    }
    ctx.label("yank");
    let who = ctx.require(Scope::Delete).await?;
    let form = super::read_form(&ctx, payload).await?;
    Ok(yank_of(&ctx, &who, &form).await?)
}

/// Yanks what the form `gem_name=&version=[&platform=]` names in the hosted repository of
/// `ctx`, for `who` (already authorized to delete; the gem's owners are checked here).
pub(super) async fn yank_of(
    ctx: &Ctx<'_>,
    who: &Principal,
    form: &[u8],
) -> Result<HttpResponse, AppError> {
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(ctx));
    }
    let (name, version, platform) = packgate_rubygems::parse_yank_form(form)?;
    let platform = platform
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "ruby".into());
    let entry = packgate_rubygems::version_key(&version, &platform);
    let missing = || AppError::NotFound(format!("The version {entry} of {name} does not exist."));
    let desc = load_gem(ctx, &name).await?.ok_or_else(missing)?;
    owners::require(who, &owners::of(&desc), &name, |gem| {
        not_owner(who, "yank from", gem)
    })?;
    let v = desc
        .versions
        .iter()
        .find(|v| v.version.normalized_version == entry && !v.version.yanked)
        .ok_or_else(missing)?;
    packages::set_yanked(&ctx.state.db, desc.package.id, v.version.id, true).await?;
    log_change(ctx, desc.package.id, &name, &format!("-{entry}")).await?;
    Ok(text(format!(
        "Successfully deleted gem: {name} ({entry})\n"
    )))
}

/// `POST /api/v1/api_key` with Basic user:password: a new token, as the plain-text body.
pub async fn api_key(r: RepoRequest) -> GemResult {
    let ctx = r.ctx();
    ctx.label("api_key");
    let Some(Credential::Basic(user, password)) = credential(ctx.req)? else {
        return Err(AppError::Unauthorized(
            "Sign in with your packgate user name and password.".into(),
        )
        .into());
    };
    let Some(u) = auth::check_password_from(
        &ctx.state.db,
        crate::routes::common::auth::client_address(ctx.req, ctx.state),
        &user,
        &password,
    )
    .await?
    else {
        return Err(AppError::Unauthorized("Invalid credentials.".into()).into());
    };
    let token = logins::issue(&ctx.state.db, &u, "gem signin", vec![ctx.repo.name.clone()]).await?;
    Ok(text(token))
}
