//! `PUT /{name}` (publish, deprecate), `PUT /{name}/-rev/{rev}` (unpublish by omission, owners),
//! `DELETE /{name}/-rev/{rev}` (whole package) and `DELETE /{tarball}/-rev/{rev}`.
//!
//! The publish body is spooled to a temp file, then split in one streaming pass: the tarball is
//! base64-decoded straight into a second temp file while every digest is computed, so no package
//! file is ever held in memory. Validation happens before the blob is stored; the blob is stored
//! before the one database transaction that records the version.

use super::view::{DIST_TAG, dist_tags};
use super::{Body, Ctx, json, not_found};
use crate::error::AppError;
use crate::services::auth::{self, Principal, Scope};
use crate::services::blobs::{self, Digests, HashingWriter};
use crate::services::publish::{Identity, NewVersion, Refusals, Staged};
use crate::services::{owners, packages};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use packgate_npm::{PutKind, TarballLimits};
use serde_json::json;
use std::io::{BufReader, BufWriter};
use tempfile::NamedTempFile;

/// Largest JSON document (without attachment data) accepted in a publish.
const MAX_DOC: usize = 16 * 1024 * 1024;

struct Split {
    split: packgate_npm::SplitBody,
    tgz: NamedTempFile,
    digests: Digests,
}

/// Spools and splits a PUT body (blocking work off the async threads).
async fn read_body(ctx: &Ctx<'_>, body: Body) -> Result<Split, AppError> {
    let spooled = ctx.state.spool.body(body, ctx.repo.max_upload).await?;
    let tgz = ctx.state.spool.temp_file()?;
    let tgz_file = tgz.reopen()?;
    let limit = ctx.repo.max_upload;
    let (split, digests) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let reader = BufReader::with_capacity(256 * 1024, std::fs::File::open(spooled.path())?);
        let mut writer = HashingWriter::new(BufWriter::with_capacity(256 * 1024, tgz_file), limit);
        let split = packgate_npm::split_publish_body(reader, &mut writer, MAX_DOC).map_err(
            |e| match e {
                packgate_npm::PublishError::Store(io) if io.to_string() == blobs::OVER_LIMIT => {
                    blobs::too_large(limit)
                }
                packgate_npm::PublishError::Store(io) => io.into(),
                other => other.into(),
            },
        )?;
        // Flushed by `finish`; made durable when stored (the blob store syncs it).
        let (digests, _) = writer.finish()?;
        Ok((split, digests))
    })
    .await??;
    Ok(Split {
        split,
        tgz,
        digests,
    })
}

/// `PUT /{name}` and `PUT /{name}/-rev/{rev}`.
pub async fn put_package(
    ctx: &Ctx<'_>,
    name: &str,
    has_rev: bool,
    body: Body,
) -> Result<HttpResponse, AppError> {
    ctx.label("publish");
    // What the PUT asks for is known only from its body: before reading it, the caller must be
    // able to write here at all (publish, or delete for an unpublish); after, the exact scope.
    let who = match ctx.require(Scope::Publish).await {
        Err(AppError::Forbidden(_)) if has_rev => ctx.require(Scope::Delete).await?,
        other => other?,
    };
    let Split {
        split,
        tgz,
        digests,
    } = read_body(ctx, body).await?;
    let kind =
        packgate_npm::classify_put(&split.document, split.attachment_name.is_some(), has_rev);
    let needs = if kind == PutKind::Unpublish {
        Scope::Delete
    } else {
        Scope::Publish
    };
    crate::services::auth::authorize(Some(&who), &ctx.repo.name, false, needs)?;
    let existing = packages::find(&ctx.state.db, &ctx.repo.name, name).await?;
    match kind {
        PutKind::Publish => publish(ctx, name, &who, existing.is_none(), split, tgz, digests).await,
        PutKind::Deprecate => {
            ctx.label("deprecate");
            let pkg = existing.ok_or_else(not_found)?;
            let desc = packages::load_for(&ctx.state.db, pkg).await?;
            require_owner(&who, &desc, "deprecate")?;
            let mut changes = Vec::new();
            for (version, msg) in packgate_npm::deprecations(&split.document) {
                if let Some(v) = desc.versions.iter().find(|v| v.version.version == version) {
                    let msg = msg.filter(|m| !m.is_empty());
                    if v.version.deprecated != msg {
                        changes.push((v.version.id, msg));
                    }
                }
            }
            if !changes.is_empty() {
                packages::set_deprecated(&ctx.state.db, desc.package.id, &changes).await?;
            }
            Ok(json(StatusCode::OK, json!({"ok": true, "id": name})))
        }
        PutKind::Unpublish => {
            ctx.label("unpublish");
            let pkg = existing.ok_or_else(not_found)?;
            let desc = packages::load_for(&ctx.state.db, pkg).await?;
            require_owner(&who, &desc, "unpublish")?;
            let keep = packgate_npm::remaining_versions(&split.document);
            if keep.is_empty() {
                return Err(AppError::Invalid(
                    "an unpublish must leave at least one version; unpublish the package instead"
                        .into(),
                ));
            }
            let removed: Vec<&packages::VersionDescriptor> = desc
                .versions
                .iter()
                .filter(|v| !keep.contains(&v.version.version))
                .collect();
            let removed_versions: Vec<String> =
                removed.iter().map(|v| v.version.version.clone()).collect();
            let ids: Vec<i64> = removed.iter().map(|v| v.version.id).collect();
            let props = retag_after_removal(&desc, &removed_versions);
            packages::remove_versions(&ctx.state.db, desc.package.id, &ids, &props).await?;
            Ok(json(StatusCode::OK, json!({"ok": true, "id": name})))
        }
        PutKind::Maintainers => {
            // `npm owner add/rm` (npm 11) sends the whole new maintainer list, read from the
            // packument's `maintainers` (the owners) with one login added or removed.
            ctx.label("owners");
            let pkg = existing.ok_or_else(not_found)?;
            let desc = packages::load_for(&ctx.state.db, pkg).await?;
            require_owner(&who, &desc, "change the owners of")?;
            let mut wanted = Vec::new();
            for login in packgate_npm::maintainer_names(&split.document)? {
                let user = auth::find_user(&ctx.state.db, &login)
                    .await?
                    .ok_or_else(|| AppError::NotFound(format!("user {login} does not exist")))?;
                wanted.push((user.id, user.name));
            }
            owners::replace(&ctx.state.db, desc.package.id, &owners::of(&desc), &wanted).await?;
            Ok(json(StatusCode::OK, json!({"ok": true, "id": name})))
        }
    }
}

/// Dist-tag property changes once `removed` versions are gone (`packgate_npm::retag_after_removal`).
fn retag_after_removal(
    desc: &packages::PackageDescriptor,
    removed: &[String],
) -> Vec<(String, Option<String>)> {
    let versions: Vec<String> = desc
        .versions
        .iter()
        .map(|v| v.version.version.clone())
        .collect();
    packgate_npm::retag_after_removal(&dist_tags(desc), &versions, removed)
        .into_iter()
        .map(|(tag, v)| (format!("{DIST_TAG}{tag}"), v))
        .collect()
}

async fn publish(
    ctx: &Ctx<'_>,
    name: &str,
    who: &Principal,
    is_new: bool,
    split: packgate_npm::SplitBody,
    tgz: NamedTempFile,
    digests: Digests,
) -> Result<HttpResponse, AppError> {
    let req = packgate_npm::parse_publish(&split, name, is_new)?;
    packgate_npm::verify_attachment(&req, digests.size, &digests.sha1, &digests.sha512)?;
    let path = tgz.path().to_path_buf();
    // Unpacked contents may be larger than the upload limit (compression), but boundedly so.
    let limits = TarballLimits::for_upload(ctx.repo.max_upload);
    let req2 = req.clone();
    let info = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let file = BufReader::new(std::fs::File::open(&path)?);
        let info = packgate_npm::inspect_tarball(file, &limits)?;
        packgate_npm::check_tarball_matches(&info, &req2)?;
        Ok(info)
    })
    .await??;
    let manifest = packgate_npm::stored_manifest(&req, &info, &who.user_name, who.email.as_deref());
    let nv = NewVersion {
        identity: Identity {
            name: name.to_string(),
            normalized_name: name.to_string(),
            version: req.version.clone(),
            normalized_version: packgate_npm::version_identity(&req.version),
        },
        metadata: serde_json::Value::Object(manifest).to_string(),
        files: vec![Staged {
            name: packgate_npm::tarball_filename(&req.name, &req.version),
            path: tgz.path(),
            digests,
        }],
        set_properties: vec![(format!("{DIST_TAG}{}", req.tag), req.version.clone())],
        default_properties: vec![(format!("{DIST_TAG}latest"), req.version.clone())],
    };
    let refuse = Refusals {
        duplicate: &|| {
            AppError::Forbidden(format!(
                "You cannot publish over the previously published versions: {}.",
                req.version
            ))
        },
        name_taken: None,
        not_owner: &|package| not_owner(who, "publish", package),
        missing: &not_found,
    };
    ctx.writer(who).create_version(nv, &refuse).await?;
    Ok(json(
        StatusCode::CREATED,
        json!({"ok": true, "id": name, "rev": format!("1-{}", req.version)}),
    ))
}

/// npm's refusal for a change to a package the caller does not own (npm prints the text);
/// `action` is what was refused ("publish", "unpublish", "deprecate", "change dist-tags of").
pub(super) fn not_owner(who: &Principal, action: &str, package: &str) -> AppError {
    AppError::Forbidden(format!(
        "You do not have permission to {action} \"{package}\": user {} is not an owner of it.",
        who.user_name
    ))
}

/// Refuses unless `who` owns the loaded package (or is an admin).
pub(super) fn require_owner(
    who: &Principal,
    desc: &packages::PackageDescriptor,
    action: &str,
) -> Result<(), AppError> {
    owners::require(who, &owners::of(desc), &desc.package.name, |p| {
        not_owner(who, action, p)
    })
}

/// `DELETE /{name}/-rev/{rev}`: the whole package.
pub async fn delete_package(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("unpublish");
    let who = ctx.require(Scope::Delete).await?;
    let desc = packages::load(&ctx.state.db, &ctx.repo.name, name)
        .await?
        .ok_or_else(not_found)?;
    require_owner(&who, &desc, "unpublish")?;
    packages::remove_package(&ctx.state.db, desc.package.id).await?;
    tracing::info!(repo.name = %ctx.repo.name, package.name = %name, "package unpublished");
    Ok(json(StatusCode::OK, json!({"ok": true})))
}

/// `DELETE /{name}/-/{file}/-rev/{rev}`: the second step of a one-version unpublish. The version
/// is normally gone already (step one); if not, remove it now, so either order works.
pub async fn delete_tarball(
    ctx: &Ctx<'_>,
    name: &str,
    file: &str,
) -> Result<HttpResponse, AppError> {
    ctx.label("unpublish");
    let who = ctx.require(Scope::Delete).await?;
    let desc = packages::load(&ctx.state.db, &ctx.repo.name, name)
        .await?
        .ok_or_else(not_found)?;
    require_owner(&who, &desc, "unpublish")?;
    let hit = desc
        .versions
        .iter()
        .find(|v| v.files.iter().any(|(f, _)| f.name == file));
    let Some(v) = hit else {
        return Ok(json(StatusCode::OK, json!({"ok": true})));
    };
    if desc.versions.len() == 1 {
        packages::remove_package(&ctx.state.db, desc.package.id).await?;
    } else {
        let removed = vec![v.version.version.clone()];
        let props = retag_after_removal(&desc, &removed);
        packages::remove_versions(&ctx.state.db, desc.package.id, &[v.version.id], &props).await?;
    }
    Ok(json(StatusCode::OK, json!({"ok": true})))
}
