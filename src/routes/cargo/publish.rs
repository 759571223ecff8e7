//! `PUT /api/v1/crates/new`: the binary publish framing. The body is spooled to disk and split in
//! one pass; the `.crate` goes through a hashing writer into its own temp file, is checked (gzip,
//! tar, paths under `name-version/`, no links or devices, `Cargo.toml` agreeing with the
//! metadata), stored, and only then recorded. The index line is rendered from the stored metadata
//! and the SHA-256 of the stored bytes, never from anything the client claims.

use super::{CargoResult, OWNER, ok_json, require_owner};
use crate::error::AppError;
use crate::routes::common::ctx::Ctx;
use crate::server::{AppState, RepoCtx};
use crate::services::auth::Scope;
use crate::services::blobs::{self, HashingWriter};
use crate::services::packages::{self, NewVersion, PackageRef};
use actix_web::{HttpRequest, web};
use std::io::{BufReader, BufWriter};

/// Largest metadata JSON accepted in a publish.
const MAX_JSON: u32 = 10 * 1024 * 1024;

fn duplicate(version: &str) -> AppError {
    AppError::Conflict(format!("crate version `{version}` is already uploaded"))
}

/// Publishes a crate version.
pub async fn publish_crate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
) -> CargoResult {
    let ctx = Ctx::new(&req, &state, &repo);
    ctx.label("publish");
    let who = ctx.require(Scope::Publish).await?;
    let body = actix_web::dev::Decompress::from_headers(payload.into_inner(), req.headers());
    let spooled = blobs::spool(body, &state.tmp_dir, repo.max_upload).await?;
    let crate_tmp = blobs::temp_file(&state.tmp_dir)?;
    let crate_file = crate_tmp.reopen()?;
    let limit = repo.max_upload;
    let (meta, digests) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let reader = BufReader::with_capacity(256 * 1024, std::fs::File::open(spooled.path())?);
        let mut writer =
            HashingWriter::new(BufWriter::with_capacity(256 * 1024, crate_file), limit);
        let meta = packgate_cargo::read_publish(reader, &mut writer, MAX_JSON)?;
        let (digests, w) = writer.finish()?;
        w.get_ref().sync_all()?;
        Ok((meta, digests))
    })
    .await??;
    packgate_cargo::validate_meta(&meta)?;
    let canonical = packgate_cargo::canonical_name(&meta.name);
    let identity = packgate_cargo::version_identity(&meta.vers);
    let existing = packages::load(&state.db, &repo.name, &canonical).await?;
    if let Some(desc) = &existing {
        if desc.package.name != meta.name {
            return Err(AppError::Conflict(format!(
                "crate `{}` already exists as `{}` (names are unique ignoring case and `-`/`_`)",
                meta.name, desc.package.name
            ))
            .into());
        }
        require_owner(desc, &who)?;
        if desc
            .versions
            .iter()
            .any(|v| v.version.normalized_version == identity)
        {
            return Err(duplicate(&meta.vers).into());
        }
    }
    let path = crate_tmp.path().to_path_buf();
    let (name, vers) = (meta.name.clone(), meta.vers.clone());
    let limits = packgate_cargo::CrateLimits {
        max_unpacked: packgate_cargo::CrateLimits::default()
            .max_unpacked
            .max(limit.saturating_mul(4)),
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let file = BufReader::new(std::fs::File::open(&path)?);
        Ok(packgate_cargo::inspect_crate(file, &name, &vers, &limits)?)
    })
    .await??;
    blobs::store(state.store.as_ref(), &digests, crate_tmp.path()).await?;
    let owner = (format!("{OWNER}{}", who.user_id), who.user_name.clone());
    let nv = NewVersion {
        version: meta.vers.clone(),
        normalized_version: identity,
        metadata: serde_json::to_string(&meta).map_err(AppError::internal)?,
        file_name: format!("{}-{}.crate", meta.name, meta.vers),
        blob: digests,
        published_by: Some(who.user_id),
        set_properties: vec![],
        extra_files: vec![],
        default_properties: if existing.is_none() {
            vec![owner]
        } else {
            vec![]
        },
    };
    let pref = PackageRef {
        repo: &repo.name,
        format: "cargo",
        name: &meta.name,
        normalized: &canonical,
    };
    match packages::create_version_with_file(&state.db, &pref, nv).await {
        Ok(_) => {}
        Err(AppError::Conflict(_)) => return Err(duplicate(&meta.vers).into()),
        Err(e) => return Err(e.into()),
    }
    if let Some(m) = req.app_data::<web::Data<crate::observe::Metrics>>() {
        m.publish(&repo.name, "cargo");
    }
    tracing::info!(repo.name = %repo.name, package.name = %meta.name, package.version = %meta.vers, user = %who.user_name, "published");
    Ok(ok_json(packgate_cargo::publish_ok(&[])))
}
