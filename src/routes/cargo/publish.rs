//! `PUT /api/v1/crates/new`: the binary publish framing, in two steps. [`receive`] authorizes the
//! caller, spools the body to disk and splits it in one pass (the `.crate` goes through a hashing
//! writer into its own temp file), then checks the metadata and the `.crate` (gzip, tar, paths
//! under `name-version/`, no links or devices, `Cargo.toml` agreeing with the metadata).
//! [`record`] stores the checked `.crate` in a repository and only then records the version. The
//! index line is rendered from the stored metadata and the SHA-256 of the stored bytes, never from
//! anything the client claims.
//!
//! A hosted repository runs both steps itself. A group runs [`receive`] as the group (the crate's
//! name is only known once the body is read), picks the member and hands the result to
//! [`record`] with that member's context.

use super::{CargoResult, not_owner, ok_json};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::services::auth::{Principal, Scope};
use crate::services::blobs::{Digests, HashingWriter, too_large};
use crate::services::publish::{Identity, NewVersion, Refusals, Staged};
use actix_web::web;
use packgate_cargo::PublishMeta;
use std::io::{BufReader, BufWriter};
use tempfile::NamedTempFile;

/// Largest metadata JSON accepted in a publish.
const MAX_JSON: u32 = 10 * 1024 * 1024;

/// A publish read and checked, not yet recorded anywhere: the publisher, the metadata and the
/// `.crate` in a temp file (removed on drop) with its digests.
pub(super) struct StagedCrate {
    /// The caller, authorized to publish.
    who: Principal,
    /// The publish metadata (validated).
    pub(super) meta: PublishMeta,
    /// The `.crate`, checked.
    file: NamedTempFile,
    /// Digests of the `.crate`.
    digests: Digests,
}

/// Publishes a crate version.
pub async fn publish_crate(r: RepoRequest, payload: web::Payload) -> CargoResult {
    let ctx = r.ctx();
    let staged = receive(&ctx, payload).await?;
    record(&ctx, staged).await
}

/// Reads a publish in the context's repository (a group's, for a publish through it): the caller
/// must hold the publish scope there; the body is spooled, split and checked. Nothing is stored.
pub(super) async fn receive(ctx: &Ctx<'_>, payload: web::Payload) -> Result<StagedCrate, AppError> {
    ctx.label("publish");
    let who = ctx.require(Scope::Publish).await?;
    let body = actix_web::dev::Decompress::from_headers(payload.into_inner(), ctx.req.headers());
    let spooled = ctx.state.spool.body(body, ctx.repo.max_upload).await?;
    let crate_tmp = ctx.state.spool.temp_file()?;
    let crate_file = crate_tmp.reopen()?;
    let limit = ctx.repo.max_upload;
    let (meta, digests) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let reader = BufReader::with_capacity(256 * 1024, std::fs::File::open(spooled.path())?);
        let mut writer =
            HashingWriter::new(BufWriter::with_capacity(256 * 1024, crate_file), limit);
        let meta = packgate_cargo::read_publish(reader, &mut writer, MAX_JSON)?;
        // Flushed by `finish`; made durable when stored (the blob store syncs it).
        let (digests, _) = writer.finish()?;
        Ok((meta, digests))
    })
    .await??;
    packgate_cargo::validate_meta(&meta)?;
    let path = crate_tmp.path().to_path_buf();
    let (name, vers) = (meta.name.clone(), meta.vers.clone());
    let limits = packgate_cargo::CrateLimits::for_upload(limit);
    tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let file = BufReader::new(std::fs::File::open(&path)?);
        Ok(packgate_cargo::inspect_crate(file, &name, &vers, &limits)?)
    })
    .await??;
    Ok(StagedCrate {
        who,
        meta,
        file: crate_tmp,
        digests,
    })
}

/// Records a received publish in the context's repository (a group's member, for a publish
/// through the group): the `.crate` no larger than this repository's upload limit, the name and
/// version free, the caller an owner of an existing crate. On any refusal nothing is written and
/// the temp file goes with `staged`.
pub(super) async fn record(ctx: &Ctx<'_>, staged: StagedCrate) -> CargoResult {
    let StagedCrate {
        who,
        meta,
        file,
        digests,
    } = staged;
    if digests.size > ctx.repo.max_upload {
        return Err(too_large(ctx.repo.max_upload).into());
    }
    let identity = Identity {
        name: meta.name.clone(),
        normalized_name: packgate_cargo::canonical_name(&meta.name),
        version: meta.vers.clone(),
        normalized_version: packgate_cargo::version_identity(&meta.vers),
    };
    let nv = NewVersion {
        identity,
        metadata: serde_json::to_string(&meta).map_err(AppError::internal)?,
        files: vec![Staged {
            name: format!("{}-{}.crate", meta.name, meta.vers),
            path: file.path(),
            digests,
        }],
        set_properties: vec![],
        default_properties: vec![],
    };
    let refuse = Refusals {
        duplicate: &|| {
            AppError::Conflict(format!("crate version `{}` is already uploaded", meta.vers))
        },
        name_taken: Some(&|existing| {
            AppError::Conflict(format!(
                "crate `{}` already exists as `{existing}` (names are unique ignoring case and `-`/`_`)",
                meta.name
            ))
        }),
        not_owner: &|crate_name| not_owner(&who, crate_name),
        missing: &|| AppError::NotFound(format!("crate `{}` does not exist", meta.name)),
    };
    ctx.writer(&who).create_version(nv, &refuse).await?;
    Ok(ok_json(packgate_cargo::publish_ok(&[])))
}
