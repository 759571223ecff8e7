//! The one write path of every format. A route parses the upload with its codec into an
//! [`Identity`] and staged files, then calls [`Writer::create_version`] (a new version with its
//! files) or [`Writer::add_file`] (one more file of an existing version: NuGet symbols, later PyPI
//! wheels), or a proxy calls [`cache_file`] for a file it fetched from its upstream. The writer checks the name and the caller's ownership, refuses a
//! duplicate before any work, stores the blobs (durable before anything refers to them), records
//! package, version, files, owner and properties in one transaction (which checks ownership and
//! the duplicate again, so concurrent publishers on several instances cannot race past them),
//! counts the metric and writes the one log line. The format only words the refusals.

use super::auth::Principal;
use super::blobs::{self, Digests};
use super::owners;
use super::packages::{self, NewVersion as Row, PackageRef};
use crate::db::Db;
use crate::error::AppError;
use crate::format::Format;
use crate::observe::Metrics;
use crate::store::BlobStore;
use std::path::Path;

/// A package version as the codec identified it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The name as published (kept as the package's spelling when the package is new).
    pub name: String,
    /// The format's lookup key of the name.
    pub normalized_name: String,
    /// The version as published.
    pub version: String,
    /// The format's lookup key of the version (two versions with one key are the same version).
    pub normalized_version: String,
}

/// A file spooled to a temp file, with its digests, waiting to be stored.
#[derive(Debug)]
pub struct Staged<'a> {
    /// The file's name in the version (`widget-1.0.0.tgz`).
    pub name: String,
    /// The temp file (kept alive by the caller until the write returns).
    pub path: &'a Path,
    /// Digests computed while spooling.
    pub digests: Digests,
}

/// A new version: identity, format metadata, files (the package file first) and properties.
#[derive(Debug)]
pub struct NewVersion<'a> {
    /// Name and version.
    pub identity: Identity,
    /// The format's metadata (JSON text).
    pub metadata: String,
    /// The version's files; at least one.
    pub files: Vec<Staged<'a>>,
    /// Package-level properties to set (replacing same-named ones).
    pub set_properties: Vec<(String, String)>,
    /// Package-level properties to set only if absent.
    pub default_properties: Vec<(String, String)>,
}

/// How a format words each refusal of the write path, in its client's terms.
pub struct Refusals<'a> {
    /// The version exists (or existed).
    pub duplicate: &'a dyn Fn() -> AppError,
    /// Another spelling of the name is taken (given the stored spelling). `None`: spellings that
    /// normalize alike are the same package (NuGet ids).
    pub name_taken: Option<&'a dyn Fn(&str) -> AppError>,
    /// The caller does not own the package (given the stored name).
    pub not_owner: &'a dyn Fn(&str) -> AppError,
    /// [`Writer::add_file`]: the package or version does not exist.
    pub missing: &'a dyn Fn() -> AppError,
}

/// What a successful [`Writer::create_version`] recorded.
#[derive(Debug, Clone)]
pub struct Created {
    /// The package's id.
    pub package_id: i64,
    /// The new version's id.
    pub version_id: i64,
}

/// The write path for one caller in one repository.
pub struct Writer<'a> {
    /// The database.
    pub db: &'a Db,
    /// The blob store.
    pub store: &'a dyn BlobStore,
    /// Where publishes are counted.
    pub metrics: Option<&'a Metrics>,
    /// Repository name.
    pub repo: &'a str,
    /// Repository format (stored with a new package).
    pub format: Format,
    /// The authenticated publisher.
    pub who: &'a Principal,
}

impl Writer<'_> {
    /// The check every write to an existing package passes, before the upload is stored and again
    /// inside the recording transaction: the same spelling (where the format asks), and ownership.
    fn claim<'r>(
        &'r self,
        identity: &'r Identity,
        refuse: &'r Refusals<'_>,
        check_spelling: bool,
    ) -> impl Fn(&packages::Claim) -> Result<(), AppError> + 'r {
        move |existing| {
            if check_spelling
                && let Some(name_taken) = refuse.name_taken
                && existing.name != identity.name
            {
                return Err(name_taken(&existing.name));
            }
            if owners::may_change(self.who, &existing.owners) {
                Ok(())
            } else {
                Err((refuse.not_owner)(&existing.name))
            }
        }
    }

    /// Records a new version with its files. Refuses, in this order: another spelling of the name,
    /// a package the caller does not own, a version that exists or existed (removed versions leave
    /// a tombstone). A new package is owned by the caller.
    pub async fn create_version(
        &self,
        nv: NewVersion<'_>,
        refuse: &Refusals<'_>,
    ) -> Result<Created, AppError> {
        let id = &nv.identity;
        let claim = self.claim(id, refuse, true);
        let seen = packages::claim(self.db, self.repo, &id.normalized_name).await?;
        if let Some(existing) = &seen {
            claim(existing)?;
        }
        // A version that exists, or existed: a removed version's identity stays taken (a
        // tombstone), even after its package is gone.
        if packages::identity_taken(
            self.db,
            self.repo,
            seen.as_ref().map(|c| c.id),
            &id.normalized_name,
            &id.normalized_version,
        )
        .await?
        {
            return Err((refuse.duplicate)());
        }
        for f in &nv.files {
            blobs::store(self.store, &f.digests, f.path).await?;
        }
        let pref = PackageRef {
            repo: self.repo,
            format: self.format.id(),
            name: &id.name,
            normalized: &id.normalized_name,
        };
        let row = Row {
            version: id.version.clone(),
            normalized_version: id.normalized_version.clone(),
            metadata: nv.metadata,
            files: nv
                .files
                .iter()
                .map(|f| (f.name.clone(), f.digests.clone()))
                .collect(),
            published_by: Some(self.who.user_id),
            set_properties: nv.set_properties,
            default_properties: nv.default_properties,
            owner: (
                owners::property(self.who.user_id),
                self.who.user_name.clone(),
            ),
        };
        let created =
            packages::create_version_with_files(self.db, &pref, row, &claim, seen.as_ref())
                .await
                .map_err(|e| match e {
                    AppError::Conflict(_) => (refuse.duplicate)(),
                    other => other,
                })?;
        if let Some(m) = self.metrics {
            m.publish(self.repo, self.format.id());
        }
        tracing::info!(repo.name = %self.repo, package.name = %id.name, package.version = %id.version, user = %self.who.user_name, "published");
        Ok(created)
    }

    /// Adds a file to an existing version (replacing a file of the same name). Refuses a missing
    /// package or version and a package the caller does not own.
    pub async fn add_file(
        &self,
        identity: &Identity,
        file: Staged<'_>,
        refuse: &Refusals<'_>,
    ) -> Result<(), AppError> {
        let existing = packages::claim(self.db, self.repo, &identity.normalized_name)
            .await?
            .ok_or_else(refuse.missing)?;
        self.claim(identity, refuse, false)(&existing)?;
        let version = packages::find_version(self.db, existing.id, &identity.normalized_version)
            .await?
            .ok_or_else(refuse.missing)?;
        blobs::store(self.store, &file.digests, file.path).await?;
        packages::put_file(self.db, existing.id, version.id, &file.name, &file.digests)
            .await
            .map_err(|e| match e {
                AppError::NotFound(_) => (refuse.missing)(),
                other => other,
            })?;
        tracing::info!(repo.name = %self.repo, package.name = %existing.name, package.version = %version.version, file.name = %file.name, user = %self.who.user_name, "file added");
        Ok(())
    }
}

/// The proxy's intent: records a file fetched (and verified) from the upstream as a file of
/// `identity`'s version, creating the package and version when missing. Nobody owns a cached
/// package; a file already cached under that name is kept (a cached file is never replaced).
pub async fn cache_file(
    db: &Db,
    store: &dyn BlobStore,
    repo: &str,
    format: Format,
    identity: &Identity,
    metadata: &str,
    file: Staged<'_>,
) -> Result<(), AppError> {
    blobs::store(store, &file.digests, file.path).await?;
    let pref = PackageRef {
        repo,
        format: format.id(),
        name: &identity.name,
        normalized: &identity.normalized_name,
    };
    packages::record_cached_file(
        db,
        &pref,
        &identity.version,
        &identity.normalized_version,
        metadata,
        &file.name,
        &file.digests,
    )
    .await?;
    tracing::info!(repo.name = %repo, package.name = %identity.name, package.version = %identity.version, file.name = %file.name, "cached from upstream");
    Ok(())
}
