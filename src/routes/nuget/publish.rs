//! Writes: push (`PUT {repo}/v3/package`), symbol push (`PUT {repo}/v3/symbolpackage`), delete
//! (which unlists), relist, and packgate's deprecation endpoint. A push is spooled to a temp file
//! from the (chunked) multipart body, read and checked completely, and only then stored: the blobs
//! first, then one transaction with the version and its files.

use super::{DUPLICATE, NugetResult, allow, nupkg_name, nuspec_name, snupkg_name, url_version};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::services::auth::{Principal, Scope};
use crate::services::blobs::{self, Digests};
use crate::services::publish::{Identity, NewVersion, Refusals, Staged};
use crate::services::{owners, packages};
use crate::state::{AppState, RepoCtx};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use packgate_nuget::{PackageLimits, ReadPackage};
use tempfile::NamedTempFile;

const NO_FILE: &str = "The request has no package file part";
const SYMBOLS_HERE: &str = "Symbol packages must be pushed to the symbol package endpoint";
const NOT_SYMBOLS: &str = "The symbol package does not declare the SymbolsPackage type";
const NO_VERSION: &str = "The package version does not exist";
const NO_PACKAGE_FOR_SYMBOLS: &str = "The package for this symbol package does not exist";
const NOT_OWNER: &str = "The API key's user is not an owner of this package";

fn message(status: actix_web::http::StatusCode, text: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(packgate_nuget::error_body(&text))
}

/// Streams the first file part of the multipart body into a temp file with its digests.
async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    repo: &RepoCtx,
) -> Result<(NamedTempFile, Digests), AppError> {
    let no_file = |detail: String| AppError::Invalid(detail).with_reason(NO_FILE);
    let mut parts = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
    let mut skipped: u64 = 0;
    loop {
        let field = match tokio::time::timeout(state.spool.idle, parts.next()).await {
            Err(_) => {
                return Err(AppError::Timeout(
                    "the request body made no progress; the upload was cut".into(),
                ));
            }
            Ok(Some(Ok(field))) => field,
            Ok(Some(Err(e))) => {
                return Err(no_file(format!(
                    "the body must be multipart/form-data with the .nupkg as a file part: {e}"
                )));
            }
            Ok(None) => {
                return Err(no_file(
                    "the multipart body has no file part with the .nupkg".into(),
                ));
            }
        };
        let is_file = field
            .content_disposition()
            .is_some_and(|cd| cd.get_filename().is_some() || cd.get_filename_ext().is_some());
        if is_file {
            // A 413 gets its reason phrase from the status (see `Nuget::reason`).
            return state.spool.hashed(field, repo.max_upload).await;
        }
        // Not the file: skip its bytes (counted against the upload limit) and look further.
        let mut field = field;
        while let Some(chunk) = state
            .spool
            .next_chunk(&mut field)
            .await
            .map_err(|e| match e {
                AppError::Invalid(detail) => no_file(detail),
                other => other,
            })?
        {
            skipped += chunk.len() as u64;
            if skipped > repo.max_upload {
                return Err(blobs::too_large(repo.max_upload));
            }
        }
    }
}

/// Reads and checks the whole package (zip structure, every entry's size and CRC, the nuspec).
async fn read(tmp: &NamedTempFile, max_upload: u64) -> Result<ReadPackage, AppError> {
    let path = tmp.path().to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        let limits = PackageLimits::for_upload(max_upload);
        let file = std::fs::File::open(&path)?;
        Ok::<_, std::io::Error>(packgate_nuget::read_package(
            std::io::BufReader::new(file),
            &limits,
        ))
    })
    .await??;
    Ok(read?)
}

/// What both push endpoints start with: the pusher (publish scope), the spooled body and the
/// package read from it.
async fn receive_package(
    ctx: &Ctx<'_>,
    payload: web::Payload,
) -> Result<(Principal, NamedTempFile, Digests, ReadPackage), AppError> {
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(ctx));
    }
    let who = allow(ctx, Scope::Publish).await?.ok_or_else(|| {
        AppError::Unauthorized("push needs an API key".into()).with_reason("An API key is required")
    })?;
    let (tmp, digests) = receive(ctx.req, payload, ctx.state, ctx.repo).await?;
    let pkg = read(&tmp, ctx.repo.max_upload).await?;
    Ok((who, tmp, digests, pkg))
}

/// The identity of a pushed package: the id as spelled (kept from the first push), the lower-case
/// id, the full version and the lower-case normalized version.
fn identity(pkg: &ReadPackage) -> Identity {
    Identity {
        name: pkg.nuspec.id.clone(),
        normalized_name: packgate_nuget::lower_id(&pkg.nuspec.id),
        version: pkg.version.full(),
        normalized_version: pkg.version.lower(),
    }
}

/// The refusal for a caller who does not own the package.
fn not_owner(who: &Principal, id: &str) -> AppError {
    AppError::Forbidden(format!(
        "user {} is not an owner of {id}; an owner or an admin can add owners",
        who.user_name
    ))
    .with_reason(NOT_OWNER)
}

/// `PUT {repo}/v3/package[/]`: a `.nupkg` in a multipart body. 201, or 409 for a version that
/// exists (so `-SkipDuplicate` works). On a group it lands in the hosted member holding the id,
/// else in `publish_to` (the id is known once the body is read).
pub(super) async fn push(ctx: &Ctx<'_>, payload: web::Payload) -> NugetResult {
    ctx.label("push");
    let (who, tmp, digests, pkg) = receive_package(ctx, payload).await?;
    if pkg.nuspec.is_symbols_package() {
        return Err(AppError::Invalid(
            "this is a symbol package (.snupkg); push it to the SymbolPackagePublish resource"
                .into(),
        )
        .with_reason(SYMBOLS_HERE)
        .into());
    }
    let id = identity(&pkg);
    let target = super::group::write_target(ctx, &id.normalized_name).await?;
    let ctx = &Ctx::new(ctx.req, ctx.state, target);
    let nuspec = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
        bytes::Bytes::from(pkg.nuspec_bytes.clone()),
    )]);
    let (nuspec_tmp, nuspec_digests) = ctx.state.spool.hashed(nuspec, u64::MAX).await?;
    let (lid, lver) = (&id.normalized_name, &id.normalized_version);
    let nv = NewVersion {
        identity: id.clone(),
        metadata: serde_json::to_string(&pkg.nuspec).map_err(AppError::internal)?,
        files: vec![
            Staged {
                name: nupkg_name(lid, lver),
                path: tmp.path(),
                digests,
            },
            Staged {
                name: nuspec_name(lid, lver),
                path: nuspec_tmp.path(),
                digests: nuspec_digests,
            },
        ],
        set_properties: vec![],
        default_properties: vec![],
    };
    let refuse = Refusals {
        duplicate: &|| {
            AppError::Conflict(format!(
                "{} {} already exists; versions are immutable (delete unlists)",
                id.name,
                pkg.version.normalized()
            ))
            .with_reason(DUPLICATE)
        },
        name_taken: None,
        not_owner: &|existing| not_owner(&who, existing),
        missing: &|| AppError::NotFound(format!("{} does not exist", id.name)),
    };
    ctx.writer(&who).create_version(nv, &refuse).await?;
    Ok(message(
        actix_web::http::StatusCode::CREATED,
        format!("{} {} was pushed", id.name, id.version),
    ))
}

/// `PUT {repo}/v3/symbolpackage[/]`: a `.snupkg` for a version that exists; a second push replaces
/// the first.
pub(super) async fn push_symbols(ctx: &Ctx<'_>, payload: web::Payload) -> NugetResult {
    ctx.label("push_symbols");
    let (who, tmp, digests, pkg) = receive_package(ctx, payload).await?;
    if !pkg.nuspec.is_symbols_package() {
        return Err(AppError::Invalid(
            "a symbol package's nuspec declares <packageType name=\"SymbolsPackage\"/>".into(),
        )
        .with_reason(NOT_SYMBOLS)
        .into());
    }
    let id = identity(&pkg);
    let target = super::group::write_target(ctx, &id.normalized_name).await?;
    let ctx = &Ctx::new(ctx.req, ctx.state, target);
    let refuse = Refusals {
        duplicate: &|| AppError::internal("a symbol push is never a duplicate"),
        name_taken: None,
        not_owner: &|existing| not_owner(&who, existing),
        missing: &|| {
            AppError::NotFound(format!(
                "{} {} is not in this feed; push the .nupkg before its symbols",
                id.name,
                pkg.version.normalized()
            ))
            .with_reason(NO_PACKAGE_FOR_SYMBOLS)
        },
    };
    let file = Staged {
        name: snupkg_name(&id.normalized_name, &id.normalized_version),
        path: tmp.path(),
        digests,
    };
    ctx.writer(&who).add_file(&id, file, &refuse).await?;
    Ok(message(
        actix_web::http::StatusCode::CREATED,
        format!("symbols of {} {} were pushed", id.name, id.version),
    ))
}

/// The package and version rows named by a `{id}/{version}` URL, any case and spelling.
async fn target(
    ctx: &Ctx<'_>,
    id: &str,
    version: &str,
) -> Result<(packages::Package, packages::Version), AppError> {
    let missing = || {
        AppError::NotFound(format!("{id} {version} is not in this feed")).with_reason(NO_VERSION)
    };
    let v = url_version(version).ok_or_else(missing)?;
    let pkg = packages::find(&ctx.state.db, &ctx.repo.name, &packgate_nuget::lower_id(id))
        .await?
        .ok_or_else(missing)?;
    let row = packages::find_version(&ctx.state.db, pkg.id, &v.lower())
        .await?
        .ok_or_else(missing)?;
    Ok((pkg, row))
}

/// The version a `{id}/{version}` URL names, for a change by its owner: the caller needs the
/// delete scope and must own the package (or be an admin).
async fn owned_target(
    ctx: &Ctx<'_>,
    id: &str,
    version: &str,
) -> Result<(packages::Package, packages::Version), AppError> {
    if ctx.repo.proxy.is_some() {
        return Err(super::proxy::refuse_write(ctx));
    }
    let who = allow(ctx, Scope::Delete).await?.ok_or_else(|| {
        AppError::Unauthorized("an API key is required".into())
            .with_reason("An API key is required")
    })?;
    let (pkg, v) = target(ctx, id, version).await?;
    let owners = packages::owners(&ctx.state.db, pkg.id).await?;
    owners::require(&who, &owners, &pkg.name, |id| not_owner(&who, id))?;
    Ok((pkg, v))
}

/// `DELETE {repo}/v3/package/{id}/{version}`: unlists (hidden from search and from resolution of
/// ranges by clients that read `listed`; still restorable by exact version). 204.
pub(super) async fn unlist(ctx: &Ctx<'_>, id: &str, version: &str) -> NugetResult {
    set_listed(ctx, id, version, false).await
}

/// `POST {repo}/v3/package/{id}/{version}`: lists the version again. 200.
pub(super) async fn relist(ctx: &Ctx<'_>, id: &str, version: &str) -> NugetResult {
    set_listed(ctx, id, version, true).await
}

async fn set_listed(ctx: &Ctx<'_>, id: &str, version: &str, listed: bool) -> NugetResult {
    ctx.label(if listed { "relist" } else { "unlist" });
    let (pkg, v) = owned_target(ctx, id, version).await?;
    if v.listed != listed {
        packages::set_listed(&ctx.state.db, pkg.id, v.id, listed).await?;
    }
    tracing::info!(repo.name = %ctx.repo.name, package.name = %pkg.name, package.version = %v.version, listed, "listing changed");
    Ok(if listed {
        message(
            actix_web::http::StatusCode::OK,
            format!("{} {} is listed", pkg.name, v.version),
        )
    } else {
        HttpResponse::NoContent().finish()
    })
}

/// `PUT {repo}/v3/package/{id}/{version}/deprecation` with a JSON body
/// `{"reasons": ["Legacy"|"CriticalBugs"|"Other", ...], "message"?, "alternatePackage"?: {"id", "range"}}`.
pub(super) async fn deprecate(
    ctx: &Ctx<'_>,
    payload: web::Payload,
    id: &str,
    version: &str,
) -> NugetResult {
    ctx.label("deprecate");
    let (pkg, v) = owned_target(ctx, id, version).await?;
    let bad =
        |detail: String| AppError::Invalid(detail).with_reason("The deprecation is not valid");
    let spooled = ctx
        .state
        .spool
        .body(payload.into_inner(), 64 * 1024)
        .await?;
    let body = std::fs::read(spooled.path())?;
    let dep: packgate_nuget::Deprecation = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "expected {{\"reasons\": [...], \"message\": ..., \"alternatePackage\": {{\"id\", \"range\"}}}}: {e}"
        ))
    })?;
    dep.validate().map_err(bad)?;
    let json = serde_json::to_string(&dep).map_err(AppError::internal)?;
    packages::set_deprecated(&ctx.state.db, pkg.id, &[(v.id, Some(json))]).await?;
    Ok(message(
        actix_web::http::StatusCode::OK,
        format!("{} {} is deprecated", pkg.name, v.version),
    ))
}

/// `DELETE {repo}/v3/package/{id}/{version}/deprecation`: removes the deprecation.
pub(super) async fn undeprecate(ctx: &Ctx<'_>, id: &str, version: &str) -> NugetResult {
    ctx.label("undeprecate");
    let (pkg, v) = owned_target(ctx, id, version).await?;
    packages::set_deprecated(&ctx.state.db, pkg.id, &[(v.id, None)]).await?;
    Ok(message(
        actix_web::http::StatusCode::OK,
        format!("{} {} is no longer deprecated", pkg.name, v.version),
    ))
}
