//! `PUT /api/v1/crates/new`: the binary publish framing. The body is spooled to disk and split in
//! one pass; the `.crate` goes through a hashing writer into its own temp file, is checked (gzip,
//! tar, paths under `name-version/`, no links or devices, `Cargo.toml` agreeing with the
//! metadata), stored, and only then recorded. The index line is rendered from the stored metadata
//! and the SHA-256 of the stored bytes, never from anything the client claims.

use super::{CargoResult, not_owner, ok_json};
use crate::error::AppError;
use crate::routes::common::ctx::{Ctx, RepoRequest};
use crate::services::auth::Scope;
use crate::services::blobs::HashingWriter;
use crate::services::publish::{Identity, NewVersion, Refusals, Staged};
use actix_web::web;
use std::io::{BufReader, BufWriter};

/// Largest metadata JSON accepted in a publish.
const MAX_JSON: u32 = 10 * 1024 * 1024;

/// Publishes a crate version.
pub async fn publish_crate(r: RepoRequest, payload: web::Payload) -> CargoResult {
    publish_to(&r.ctx(), payload).await
}

/// Publishes a crate version into the context's repository (a group hands its publishes to its
/// `publish_to` member this way).
pub(super) async fn publish_to(ctx: &Ctx<'_>, payload: web::Payload) -> CargoResult {
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
            path: crate_tmp.path(),
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
