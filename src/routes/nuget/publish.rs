//! Writes: push (`PUT {repo}/v3/package`), symbol push (`PUT {repo}/v3/symbolpackage`), delete
//! (which unlists), relist, and packgate's deprecation endpoint. A push is spooled to a temp file
//! from the (chunked) multipart body, read and checked completely, and only then stored: the blobs
//! first, then one transaction with the version and its files.

use super::{
    DUPLICATE, NugetError, NugetResult, allow, nupkg_name, nuspec_name, snupkg_name, url_version,
};
use crate::db::entity::{package, version};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::server::{AppState, RepoCtx};
use crate::services::auth::{Principal, Scope};
use crate::services::blobs::{self, Digests};
use crate::services::packages::{self, NewVersion, PackageRef};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use packgate_nuget::{PackageLimits, ReadPackage};
use tempfile::NamedTempFile;

const NO_FILE: &str = "The request has no package file part";
const SYMBOLS_HERE: &str = "Symbol packages must be pushed to the symbol package endpoint";
const NOT_SYMBOLS: &str = "The symbol package does not declare the SymbolsPackage type";
const NO_VERSION: &str = "The package version does not exist";
const NO_PACKAGE_FOR_SYMBOLS: &str = "The package for this symbol package does not exist";

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
) -> Result<(NamedTempFile, Digests), NugetError> {
    let no_file = |detail: String| NugetError::new(NO_FILE, AppError::Invalid(detail));
    let mut parts = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
    let mut skipped: u64 = 0;
    loop {
        let field = match parts.next().await {
            Some(Ok(field)) => field,
            Some(Err(e)) => {
                return Err(no_file(format!(
                    "the body must be multipart/form-data with the .nupkg as a file part: {e}"
                )));
            }
            None => {
                return Err(no_file(
                    "the multipart body has no file part with the .nupkg".into(),
                ));
            }
        };
        let is_file = field
            .content_disposition()
            .is_some_and(|cd| cd.get_filename().is_some() || cd.get_filename_ext().is_some());
        if is_file {
            // A 413 gets its reason phrase from the status (see `NugetError::reason`).
            return Ok(blobs::spool_hashed(field, &state.tmp_dir, repo.max_upload).await?);
        }
        // Not the file: skip its bytes (counted against the upload limit) and look further.
        let mut field = field;
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| no_file(format!("could not read the multipart body: {e}")))?;
            skipped += chunk.len() as u64;
            if skipped > repo.max_upload {
                return Err(blobs::too_large(repo.max_upload).into());
            }
        }
    }
}

/// Reads and checks the whole package (zip structure, every entry's size and CRC, the nuspec).
async fn read(tmp: &NamedTempFile, max_upload: u64) -> Result<ReadPackage, NugetError> {
    let path = tmp.path().to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        let defaults = PackageLimits::default();
        let limits = PackageLimits {
            max_unpacked: defaults.max_unpacked.max(max_upload.saturating_mul(8)),
            ..defaults
        };
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
) -> Result<(Principal, NamedTempFile, Digests, ReadPackage), NugetError> {
    let who = allow(ctx, Scope::Publish).await?.ok_or_else(|| {
        NugetError::new(
            "An API key is required",
            AppError::Unauthorized("push needs an API key".into()),
        )
    })?;
    let (tmp, digests) = receive(ctx.req, payload, ctx.state, ctx.repo).await?;
    let pkg = read(&tmp, ctx.repo.max_upload).await?;
    Ok((who, tmp, digests, pkg))
}

/// `PUT {repo}/v3/package[/]`: a `.nupkg` in a multipart body. 201, or 409 for a version that
/// exists (so `-SkipDuplicate` works).
pub async fn push(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("push");
    let (who, tmp, digests, pkg) = receive_package(&ctx, payload).await?;
    if pkg.nuspec.is_symbols_package() {
        return Err(NugetError::new(
            SYMBOLS_HERE,
            AppError::Invalid(
                "this is a symbol package (.snupkg); push it to the SymbolPackagePublish resource"
                    .into(),
            ),
        ));
    }
    let id = pkg.nuspec.id.clone();
    let lid = packgate_nuget::lower_id(&id);
    let lver = pkg.version.lower();
    let duplicate = || {
        NugetError::new(
            DUPLICATE,
            AppError::Conflict(format!(
                "{id} {} already exists; versions are immutable (delete unlists)",
                pkg.version.normalized()
            )),
        )
    };
    if let Some(existing) = packages::find(&state.db, &repo.name, &lid).await?
        && packages::find_version(&state.db, existing.id, &lver)
            .await?
            .is_some()
    {
        return Err(duplicate());
    }
    blobs::store(state.store.as_ref(), &digests, tmp.path()).await?;
    let nuspec = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
        bytes::Bytes::from(pkg.nuspec_bytes.clone()),
    )]);
    let (nuspec_tmp, nuspec_digests) =
        blobs::spool_hashed(nuspec, &state.tmp_dir, u64::MAX).await?;
    blobs::store(state.store.as_ref(), &nuspec_digests, nuspec_tmp.path()).await?;
    let nv = NewVersion {
        version: pkg.version.full(),
        normalized_version: lver.clone(),
        metadata: serde_json::to_string(&pkg.nuspec).map_err(AppError::internal)?,
        file_name: nupkg_name(&lid, &lver),
        blob: digests,
        published_by: Some(who.user_id),
        set_properties: vec![],
        extra_files: vec![(nuspec_name(&lid, &lver), nuspec_digests)],
        default_properties: vec![],
    };
    let pref = PackageRef {
        repo: &repo.name,
        format: "nuget",
        name: &id,
        normalized: &lid,
    };
    match packages::create_version_with_file(&state.db, &pref, nv).await {
        Ok(_) => {}
        Err(AppError::Conflict(_)) => return Err(duplicate()),
        Err(e) => return Err(e.into()),
    }
    if let Some(m) = req.app_data::<web::Data<crate::observe::Metrics>>() {
        m.publish(&repo.name, "nuget");
    }
    tracing::info!(repo.name = %repo.name, package.name = %id, package.version = %pkg.version.full(), user = %who.user_name, "published");
    Ok(message(
        actix_web::http::StatusCode::CREATED,
        format!("{id} {} was pushed", pkg.version.full()),
    ))
}

/// `PUT {repo}/v3/symbolpackage[/]`: a `.snupkg` for a version that exists; a second push replaces
/// the first.
pub async fn push_symbols(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("push_symbols");
    let (who, tmp, digests, pkg) = receive_package(&ctx, payload).await?;
    if !pkg.nuspec.is_symbols_package() {
        return Err(NugetError::new(
            NOT_SYMBOLS,
            AppError::Invalid(
                "a symbol package's nuspec declares <packageType name=\"SymbolsPackage\"/>".into(),
            ),
        ));
    }
    let id = &pkg.nuspec.id;
    let lid = packgate_nuget::lower_id(id);
    let lver = pkg.version.lower();
    let missing = || {
        NugetError::new(
            NO_PACKAGE_FOR_SYMBOLS,
            AppError::NotFound(format!(
                "{id} {} is not in this feed; push the .nupkg before its symbols",
                pkg.version.normalized()
            )),
        )
    };
    let (package, version) = rows(&ctx, &lid, &lver, missing).await?;
    blobs::store(state.store.as_ref(), &digests, tmp.path()).await?;
    packages::put_file(
        &state.db,
        package.id,
        version.id,
        &snupkg_name(&lid, &lver),
        &digests,
    )
    .await
    .map_err(|e| match e {
        AppError::NotFound(_) => missing(),
        other => other.into(),
    })?;
    tracing::info!(repo.name = %repo.name, package.name = %package.name, package.version = %version.version, user = %who.user_name, "symbols published");
    Ok(message(
        actix_web::http::StatusCode::CREATED,
        format!(
            "symbols of {} {} were pushed",
            package.name, version.version
        ),
    ))
}

/// The package and version rows named by a `{id}/{version}` URL, any case and spelling.
async fn target(
    ctx: &Ctx<'_>,
    id: &str,
    version: &str,
) -> Result<(package::Model, version::Model), NugetError> {
    let missing = || {
        NugetError::new(
            NO_VERSION,
            AppError::NotFound(format!("{id} {version} is not in this feed")),
        )
    };
    let v = url_version(version).ok_or_else(missing)?;
    rows(ctx, &packgate_nuget::lower_id(id), &v.lower(), missing).await
}

/// The package and version rows of a lower-case id and version; `missing()` when either is absent.
async fn rows(
    ctx: &Ctx<'_>,
    lower_id: &str,
    lower_version: &str,
    missing: impl Fn() -> NugetError,
) -> Result<(package::Model, version::Model), NugetError> {
    let pkg = packages::find(&ctx.state.db, &ctx.repo.name, lower_id)
        .await?
        .ok_or_else(&missing)?;
    let row = packages::find_version(&ctx.state.db, pkg.id, lower_version)
        .await?
        .ok_or_else(&missing)?;
    Ok((pkg, row))
}

/// `DELETE {repo}/v3/package/{id}/{version}`: unlists (hidden from search and from resolution of
/// ranges by clients that read `listed`; still restorable by exact version). 204.
pub async fn unlist(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    path: web::Path<(String, String)>,
) -> NugetResult {
    set_listed(Ctx::new(&req, &state, &repo), &path, false).await
}

/// `POST {repo}/v3/package/{id}/{version}`: lists the version again. 200.
pub async fn relist(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    path: web::Path<(String, String)>,
) -> NugetResult {
    set_listed(Ctx::new(&req, &state, &repo), &path, true).await
}

async fn set_listed(ctx: Ctx<'_>, path: &(String, String), listed: bool) -> NugetResult {
    ctx.label(if listed { "relist" } else { "unlist" });
    allow(&ctx, Scope::Delete).await?;
    let (pkg, v) = target(&ctx, &path.0, &path.1).await?;
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
pub async fn deprecate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    path: web::Path<(String, String)>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("deprecate");
    allow(&ctx, Scope::Delete).await?;
    let (pkg, v) = target(&ctx, &path.0, &path.1).await?;
    let bad =
        |detail: String| NugetError::new("The deprecation is not valid", AppError::Invalid(detail));
    let spooled = blobs::spool(payload.into_inner(), &state.tmp_dir, 64 * 1024).await?;
    let body = std::fs::read(spooled.path())?;
    let dep: packgate_nuget::Deprecation = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "expected {{\"reasons\": [...], \"message\": ..., \"alternatePackage\": {{\"id\", \"range\"}}}}: {e}"
        ))
    })?;
    dep.validate().map_err(bad)?;
    let json = serde_json::to_string(&dep).map_err(AppError::internal)?;
    packages::set_deprecated(&state.db, pkg.id, &[(v.id, Some(json))]).await?;
    Ok(message(
        actix_web::http::StatusCode::OK,
        format!("{} {} is deprecated", pkg.name, v.version),
    ))
}

/// `DELETE {repo}/v3/package/{id}/{version}/deprecation`: removes the deprecation.
pub async fn undeprecate(
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
    path: web::Path<(String, String)>,
) -> NugetResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("undeprecate");
    allow(&ctx, Scope::Delete).await?;
    let (pkg, v) = target(&ctx, &path.0, &path.1).await?;
    packages::set_deprecated(&state.db, pkg.id, &[(v.id, None)]).await?;
    Ok(message(
        actix_web::http::StatusCode::OK,
        format!("{} {} is no longer deprecated", pkg.name, v.version),
    ))
}
