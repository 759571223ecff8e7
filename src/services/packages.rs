//! Packages, versions, files and properties: the write entry points (named by intent) and the
//! read-side descriptors. Uniqueness is enforced by the database; a violation is a Conflict.

use super::blobs::Digests;
pub use super::model::{Blob, File, Package, Version};
use super::time::now_millis;
use crate::db::Db;
use crate::db::entity::{blob, file, package, property, tombstone, version};
use crate::error::AppError;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use std::collections::HashMap;

/// Identifies a package inside a repository.
#[derive(Debug, Clone)]
pub struct PackageRef<'a> {
    /// Repository name.
    pub repo: &'a str,
    /// Format id (`npm`).
    pub format: &'a str,
    /// The name as given.
    pub name: &'a str,
    /// The format's lookup key for the name.
    pub normalized: &'a str,
}

/// Everything needed to record one new version with its files (see `services::publish`).
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The version as published.
    pub version: String,
    /// The format's lookup key for the version (duplicates share it).
    pub normalized_version: String,
    /// The format's metadata (JSON text).
    pub metadata: String,
    /// The files (name and blob, already in the store); the package file first.
    pub files: Vec<(String, Digests)>,
    /// Publishing user.
    pub published_by: Option<i64>,
    /// Package-level properties to set (replacing same-named ones).
    pub set_properties: Vec<(String, String)>,
    /// Package-level properties to set only if absent.
    pub default_properties: Vec<(String, String)>,
    /// The owner property (name, value) recorded when this version creates the package.
    pub owner: (String, String),
}

/// An existing package as a write sees it: its spelling and its owners.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Package id.
    pub id: i64,
    /// The stored spelling of the name.
    pub name: String,
    /// Owners (user id, login).
    pub owners: Vec<(i64, String)>,
    /// The package's change stamp when this was read.
    pub stamp: i64,
}

/// Whether a version with this identity was published and then removed (it may never be
/// published again).
pub async fn tombstoned<C: ConnectionTrait>(
    c: &C,
    repo: &str,
    normalized_name: &str,
    normalized_version: &str,
) -> Result<bool, AppError> {
    Ok(tombstone::Entity::find()
        .filter(tombstone::Column::Repository.eq(repo))
        .filter(tombstone::Column::NormalizedName.eq(normalized_name))
        .filter(tombstone::Column::NormalizedVersion.eq(normalized_version))
        .one(c)
        .await?
        .is_some())
}

/// Records tombstones for versions about to be removed (inside the removing transaction).
async fn bury<C: ConnectionTrait>(
    c: &C,
    package_id: i64,
    version_ids: Option<&[i64]>,
) -> Result<(), AppError> {
    let Some(pkg) = package::Entity::find_by_id(package_id).one(c).await? else {
        return Ok(());
    };
    let mut q = version::Entity::find().filter(version::Column::PackageId.eq(package_id));
    if let Some(ids) = version_ids {
        q = q.filter(version::Column::Id.is_in(ids.to_vec()));
    }
    let now = now_millis();
    for v in q.all(c).await? {
        let row = tombstone::ActiveModel {
            repository: Set(pkg.repository.clone()),
            normalized_name: Set(pkg.normalized_name.clone()),
            normalized_version: Set(v.normalized_version),
            version: Set(v.version),
            removed_at: Set(now),
            ..Default::default()
        };
        match tombstone::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    tombstone::Column::Repository,
                    tombstone::Column::NormalizedName,
                    tombstone::Column::NormalizedVersion,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(c)
            .await
        {
            Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Owners of a package (user id, login).
pub async fn owners(db: &Db, package_id: i64) -> Result<Vec<(i64, String)>, AppError> {
    Ok(claim_in(&db.conn, package_id, String::new(), 0)
        .await?
        .owners)
}

/// The package's claim (spelling and owners), if the package exists. On SQLite the owners are
/// remembered per change stamp (every owner change bumps it).
pub async fn claim(db: &Db, repo: &str, normalized: &str) -> Result<Option<Claim>, AppError> {
    let Some(pkg) = find(db, repo, normalized).await? else {
        return Ok(None);
    };
    if let Some(owners) = db.cached_owners(pkg.id, pkg.change_stamp) {
        return Ok(Some(Claim {
            id: pkg.id,
            name: pkg.name,
            owners,
            stamp: pkg.change_stamp,
        }));
    }
    let generation = db.row_generation();
    let claim = claim_in(&db.conn, pkg.id, pkg.name, pkg.change_stamp).await?;
    db.remember_owners(generation, claim.id, claim.stamp, &claim.owners);
    Ok(Some(claim))
}

/// Whether a version identity is taken: the package (when it exists) has the version, or the
/// version was published and removed (a tombstone). One round trip.
pub async fn identity_taken(
    db: &Db,
    repo: &str,
    package_id: Option<i64>,
    normalized_name: &str,
    normalized_version: &str,
) -> Result<bool, AppError> {
    use sea_orm::sea_query::{Alias, Query};
    let buried = Query::select()
        .expr(Expr::val(1))
        .from(tombstone::Entity)
        .and_where(tombstone::Column::Repository.eq(repo))
        .and_where(tombstone::Column::NormalizedName.eq(normalized_name))
        .and_where(tombstone::Column::NormalizedVersion.eq(normalized_version))
        .to_owned();
    let mut taken = Expr::exists(buried);
    if let Some(id) = package_id {
        let present = Query::select()
            .expr(Expr::val(1))
            .from(version::Entity)
            .and_where(version::Column::PackageId.eq(id))
            .and_where(version::Column::NormalizedVersion.eq(normalized_version))
            .to_owned();
        taken = taken.or(Expr::exists(present));
    }
    let query = Query::select()
        .expr_as(taken, Alias::new("taken"))
        .to_owned();
    let row = db.conn.query_one(&query).await?;
    Ok(match row {
        Some(r) => r
            .try_get::<bool>("", "taken")
            .or_else(|_| r.try_get::<i32>("", "taken").map(|n| n != 0))?,
        None => false,
    })
}

async fn claim_in<C: ConnectionTrait>(
    c: &C,
    id: i64,
    name: String,
    stamp: i64,
) -> Result<Claim, AppError> {
    let props = property::Entity::find()
        .filter(property::Column::PackageId.eq(id))
        .filter(property::Column::VersionId.is_null())
        .filter(property::Column::Name.starts_with(super::owners::PREFIX))
        .order_by_asc(property::Column::Id)
        .all(c)
        .await?;
    let owners = super::owners::from_properties(props.iter().filter_map(|p| {
        p.name
            .strip_prefix(super::owners::PREFIX)
            .map(|id| (id, p.value.as_str()))
    }));
    Ok(Claim {
        id,
        name,
        owners,
        stamp,
    })
}

/// A version with its files (and their blobs).
#[derive(Debug, Clone)]
pub struct VersionDescriptor {
    /// The version.
    pub version: Version,
    /// Its files.
    pub files: Vec<(File, Blob)>,
}

/// A package with everything a metadata document needs.
#[derive(Debug, Clone)]
pub struct PackageDescriptor {
    /// The package.
    pub package: Package,
    /// Versions, in insertion order.
    pub versions: Vec<VersionDescriptor>,
    /// Package-level properties (name, value).
    pub properties: Vec<(String, String)>,
    /// Owners with their e-mail addresses (for documents that show them, like npm's
    /// `maintainers`).
    pub owners: Vec<Owner>,
}

/// An owner of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub id: i64,
    /// Login.
    pub login: String,
    /// E-mail address, when the user has one.
    pub email: Option<String>,
}

impl PackageDescriptor {
    /// Package-level properties whose name starts with `prefix`, prefix removed.
    pub fn properties_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.properties
            .iter()
            .filter_map(move |(name, value)| name.strip_prefix(prefix).map(|n| (n, value.as_str())))
    }
}

/// The package row, if the package exists.
pub async fn find(db: &Db, repo: &str, normalized: &str) -> Result<Option<Package>, AppError> {
    if let Some(row) = db.cached_package(repo, normalized) {
        return Ok(Some(row.into()));
    }
    if db.known_absent(repo, normalized) {
        return Ok(None);
    }
    let generation = db.row_generation();
    let row = package::Entity::find()
        .filter(package::Column::Repository.eq(repo))
        .filter(package::Column::NormalizedName.eq(normalized))
        .one(&db.conn)
        .await?;
    match &row {
        Some(r) => db.remember_package(generation, r),
        None => db.remember_absent(generation, repo, normalized),
    }
    Ok(row.map(Into::into))
}

/// The version row of a package by normalized version.
pub async fn find_version(
    db: &Db,
    package_id: i64,
    normalized_version: &str,
) -> Result<Option<Version>, AppError> {
    Ok(version::Entity::find()
        .filter(version::Column::PackageId.eq(package_id))
        .filter(version::Column::NormalizedVersion.eq(normalized_version))
        .one(&db.conn)
        .await?
        .map(Into::into))
}

/// Loads a package with its versions, files, blobs and properties (three queries).
pub async fn load(
    db: &Db,
    repo: &str,
    normalized: &str,
) -> Result<Option<PackageDescriptor>, AppError> {
    let Some(pkg) = find(db, repo, normalized).await? else {
        return Ok(None);
    };
    load_for(db, pkg).await.map(Some)
}

/// [`load`] for an already fetched package.
pub async fn load_for(db: &Db, pkg: Package) -> Result<PackageDescriptor, AppError> {
    let versions = version::Entity::find()
        .filter(version::Column::PackageId.eq(pkg.id))
        .order_by_asc(version::Column::Id)
        .all(&db.conn)
        .await?;
    // The package's files and blobs by subquery on the package id: a package of 1,000 versions
    // does not bind 1,000 ids and 1,000 digests (PostgreSQL planned those lists on every load).
    let of_package = sea_orm::sea_query::Query::select()
        .column(version::Column::Id)
        .from(version::Entity)
        .and_where(Expr::col(version::Column::PackageId).eq(pkg.id))
        .to_owned();
    let (files, blobs) = if versions.is_empty() {
        (vec![], HashMap::new())
    } else {
        let files = file::Entity::find()
            .filter(file::Column::VersionId.in_subquery(of_package.clone()))
            .order_by_asc(file::Column::Id)
            .all(&db.conn)
            .await?;
        let digests = sea_orm::sea_query::Query::select()
            .column(file::Column::BlobSha256)
            .from(file::Entity)
            .and_where(Expr::col(file::Column::VersionId).in_subquery(of_package))
            .to_owned();
        let blobs: HashMap<String, blob::Model> = blob::Entity::find()
            .filter(blob::Column::Sha256.in_subquery(digests))
            .all(&db.conn)
            .await?
            .into_iter()
            .map(|b| (b.sha256.clone(), b))
            .collect();
        (files, blobs)
    };
    let mut by_version: HashMap<i64, Vec<(File, Blob)>> = HashMap::new();
    for f in files {
        let b = blobs
            .get(&f.blob_sha256)
            .cloned()
            .ok_or_else(|| AppError::internal("file without blob row"))?;
        by_version
            .entry(f.version_id)
            .or_default()
            .push((f.into(), b.into()));
    }
    let properties: Vec<(String, String)> = property::Entity::find()
        .filter(property::Column::PackageId.eq(pkg.id))
        .filter(property::Column::VersionId.is_null())
        .order_by_asc(property::Column::Id)
        .all(&db.conn)
        .await?
        .into_iter()
        .map(|p| (p.name, p.value))
        .collect();
    let versions = versions
        .into_iter()
        .map(|v| VersionDescriptor {
            files: by_version.remove(&v.id).unwrap_or_default(),
            version: v.into(),
        })
        .collect();
    let owner_ids = super::owners::from_properties(properties.iter().filter_map(|(n, v)| {
        n.strip_prefix(super::owners::PREFIX)
            .map(|id| (id, v.as_str()))
    }));
    let owners = if owner_ids.is_empty() {
        vec![]
    } else {
        let users: HashMap<i64, Option<String>> = crate::db::entity::user::Entity::find()
            .filter(crate::db::entity::user::Column::Id.is_in(owner_ids.iter().map(|(id, _)| *id)))
            .all(&db.conn)
            .await?
            .into_iter()
            .map(|u| (u.id, u.email))
            .collect();
        owner_ids
            .into_iter()
            .map(|(id, login)| Owner {
                email: users.get(&id).cloned().flatten(),
                id,
                login,
            })
            .collect()
    };
    Ok(PackageDescriptor {
        package: pkg,
        versions,
        properties,
        owners,
    })
}

/// A file of a package by its name, with its blob.
pub async fn find_file(
    db: &Db,
    package_id: i64,
    file_name: &str,
) -> Result<Option<(File, Blob)>, AppError> {
    if let Some((f, b)) = db.cached_file(package_id, file_name) {
        return Ok(Some((f.into(), b.into())));
    }
    let generation = db.row_generation();
    let ids: Vec<i64> = version::Entity::find()
        .select_only()
        .column(version::Column::Id)
        .filter(version::Column::PackageId.eq(package_id))
        .into_tuple()
        .all(&db.conn)
        .await?;
    if ids.is_empty() {
        return Ok(None);
    }
    let Some(f) = file::Entity::find()
        .filter(file::Column::VersionId.is_in(ids))
        .filter(file::Column::Name.eq(file_name))
        .one(&db.conn)
        .await?
    else {
        return Ok(None);
    };
    let b = blob::Entity::find_by_id(f.blob_sha256.clone())
        .one(&db.conn)
        .await?
        .ok_or_else(|| AppError::internal("file without blob row"))?;
    let hit = (f, b);
    db.remember_file(generation, package_id, &hit);
    Ok(Some((hit.0.into(), hit.1.into())))
}

/// The package row inside a write transaction, inserting it if missing; `true` when this
/// transaction created it. Two instances may create the same package at once: the loser's insert
/// does nothing (on PostgreSQL it waits for the winner's commit) and it reads the winner's row.
async fn ensure_package_in<C: ConnectionTrait>(
    c: &C,
    p: &PackageRef<'_>,
) -> Result<(package::Model, bool), AppError> {
    let existing = package::Entity::find()
        .filter(package::Column::Repository.eq(p.repo))
        .filter(package::Column::NormalizedName.eq(p.normalized))
        .one(c)
        .await?;
    if let Some(row) = existing {
        return Ok((row, false));
    }
    let now = now_millis();
    let am = package::ActiveModel {
        repository: Set(p.repo.to_string()),
        format: Set(p.format.to_string()),
        name: Set(p.name.to_string()),
        normalized_name: Set(p.normalized.to_string()),
        created_at: Set(now),
        updated_at: Set(now),
        change_stamp: Set(0),
        ..Default::default()
    };
    let res = package::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([package::Column::Repository, package::Column::NormalizedName])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(c)
        .await;
    let created = match res {
        Ok(n) => n > 0,
        Err(sea_orm::DbErr::RecordNotInserted) => false,
        Err(e) => return Err(e.into()),
    };
    let row = package::Entity::find()
        .filter(package::Column::Repository.eq(p.repo))
        .filter(package::Column::NormalizedName.eq(p.normalized))
        .one(c)
        .await?
        .ok_or_else(|| AppError::internal("package vanished after insert"))?;
    Ok((row, created))
}

async fn bump<C: ConnectionTrait>(c: &C, package_id: i64) -> Result<(), AppError> {
    bump_at(c, package_id, now_millis()).await
}

/// Adds one to the package's change stamp and sets its `updated_at` to `now`.
async fn bump_at<C: ConnectionTrait>(c: &C, package_id: i64, now: i64) -> Result<(), AppError> {
    package::Entity::update_many()
        .col_expr(
            package::Column::ChangeStamp,
            Expr::col(package::Column::ChangeStamp).add(1),
        )
        .col_expr(package::Column::UpdatedAt, Expr::value(now))
        .filter(package::Column::Id.eq(package_id))
        .exec(c)
        .await?;
    Ok(())
}

async fn set_property_in<C: ConnectionTrait>(
    c: &C,
    package_id: i64,
    name: &str,
    value: Option<&str>,
) -> Result<(), AppError> {
    property::Entity::delete_many()
        .filter(property::Column::PackageId.eq(package_id))
        .filter(property::Column::VersionId.is_null())
        .filter(property::Column::Name.eq(name))
        .exec(c)
        .await?;
    if let Some(value) = value {
        property::ActiveModel {
            package_id: Set(package_id),
            version_id: Set(None),
            name: Set(name.to_string()),
            value: Set(value.to_string()),
            ..Default::default()
        }
        .insert(c)
        .await?;
    }
    Ok(())
}

/// Sets a package-level property in one statement when it exists (an update), two when not.
async fn replace_property_in<C: ConnectionTrait>(
    c: &C,
    package_id: i64,
    name: &str,
    value: &str,
) -> Result<(), AppError> {
    let updated = property::Entity::update_many()
        .col_expr(property::Column::Value, Expr::value(value))
        .filter(property::Column::PackageId.eq(package_id))
        .filter(property::Column::VersionId.is_null())
        .filter(property::Column::Name.eq(name))
        .exec(c)
        .await?;
    match updated.rows_affected {
        0 => set_property_in(c, package_id, name, Some(value)).await,
        1 => Ok(()),
        // More than one row of a name: leave exactly one.
        _ => set_property_in(c, package_id, name, Some(value)).await,
    }
}

/// Sets a package-level property only if it is absent, in one statement.
async fn default_property_in<C: ConnectionTrait>(
    c: &C,
    package_id: i64,
    name: &str,
    value: &str,
) -> Result<(), AppError> {
    use sea_orm::sea_query::Query;
    let present = Query::select()
        .expr(Expr::val(1))
        .from(property::Entity)
        .and_where(property::Column::PackageId.eq(package_id))
        .and_where(property::Column::VersionId.is_null())
        .and_where(property::Column::Name.eq(name))
        .to_owned();
    let insert = Query::insert()
        .into_table(property::Entity)
        .columns([
            property::Column::PackageId,
            property::Column::Name,
            property::Column::Value,
        ])
        .select_from(
            Query::select()
                .exprs([Expr::val(package_id), Expr::val(name), Expr::val(value)])
                .and_where(Expr::exists(present).not())
                .to_owned(),
        )
        .map_err(AppError::internal)?
        .to_owned();
    c.execute(&insert).await?;
    Ok(())
}

/// Records a new version with its files in one transaction: the package row (created with its
/// owner if missing), the version, files, blob rows and properties. The blobs must already be in
/// the store. A package that existed before the transaction must pass `check` (spelling and
/// ownership, read inside the transaction). Fails with Conflict when the version (by normalized
/// version) exists. A crash at any point leaves either all of it or nothing.
pub async fn create_version_with_files(
    db: &Db,
    p: &PackageRef<'_>,
    nv: NewVersion,
    check: &dyn Fn(&Claim) -> Result<(), AppError>,
    seen: Option<&Claim>,
) -> Result<super::publish::Created, AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    let (pkg, created) = ensure_package_in(&txn, p).await?;
    // Every change to a package bumps its stamp: when the row is the one the caller already
    // checked (same id, same stamp), its owners and removed versions are as they were then.
    let unchanged = !created && seen.is_some_and(|c| c.id == pkg.id && c.stamp == pkg.change_stamp);
    // The owners as this transaction leaves them (remembered for the next write on SQLite).
    let owners = if created {
        set_property_in(&txn, pkg.id, &nv.owner.0, Some(&nv.owner.1)).await?;
        nv.published_by
            .map(|id| vec![(id, nv.owner.1.clone())])
            .unwrap_or_default()
    } else if let (true, Some(seen)) = (unchanged, seen) {
        seen.owners.clone()
    } else {
        let claim = claim_in(&txn, pkg.id, pkg.name.clone(), pkg.change_stamp).await?;
        check(&claim)?;
        claim.owners
    };
    if !unchanged && tombstoned(&txn, p.repo, p.normalized, &nv.normalized_version).await? {
        return Err(AppError::Conflict(format!(
            "version {} was published and removed; it cannot be published again",
            nv.version
        )));
    }
    let now = now_millis();
    let inserted = version::ActiveModel {
        package_id: Set(pkg.id),
        version: Set(nv.version.clone()),
        normalized_version: Set(nv.normalized_version.clone()),
        metadata: Set(nv.metadata),
        deprecated: Set(None),
        yanked: Set(false),
        listed: Set(true),
        published_by: Set(nv.published_by),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let ver = match inserted {
        Ok(v) => v,
        Err(e) => {
            let err: AppError = e.into();
            return Err(match err {
                AppError::Conflict(_) => {
                    AppError::Conflict(format!("version {} already exists", nv.version))
                }
                other => other,
            });
        }
    };
    for (name, digests) in &nv.files {
        insert_file(&txn, ver.id, name, digests, now).await?;
    }
    for (name, value) in &nv.set_properties {
        replace_property_in(&txn, pkg.id, name, value).await?;
    }
    for (name, value) in &nv.default_properties {
        default_property_in(&txn, pkg.id, name, value).await?;
    }
    bump_at(&txn, pkg.id, now).await?;
    txn.commit().await?;
    db.changed().await;
    // On SQLite this process is the only writer of package data and held the write lock: the row
    // and owners just written are known, so the next write to the package reads neither.
    let generation = db.row_generation();
    let row = package::Model {
        change_stamp: pkg.change_stamp + 1,
        updated_at: now,
        ..pkg.clone()
    };
    db.remember_package(generation, &row);
    db.remember_owners(generation, row.id, row.change_stamp, &owners);
    Ok(super::publish::Created {
        package_id: pkg.id,
        version_id: ver.id,
    })
}

/// Records a blob row (if new) and a file row of a version.
async fn insert_file<C: ConnectionTrait>(
    c: &C,
    version_id: i64,
    name: &str,
    d: &Digests,
    now: i64,
) -> Result<(), AppError> {
    let b = blob::ActiveModel {
        sha256: Set(d.sha256.clone()),
        size: Set(d.size as i64),
        sha1: Set(d.sha1.clone()),
        sha512: Set(hex::encode(&d.sha512)),
        md5: Set(d.md5.clone()),
        created_at: Set(now),
    };
    match blob::Entity::insert(b)
        .on_conflict(
            OnConflict::column(blob::Column::Sha256)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(c)
        .await
    {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
        Err(e) => return Err(e.into()),
    }
    file::Entity::insert(file::ActiveModel {
        version_id: Set(version_id),
        name: Set(name.to_string()),
        blob_sha256: Set(d.sha256.clone()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Records a file a proxy fetched from its upstream: the package and version are created when
/// missing (with no owner and no publisher), and the file is added unless the version already has
/// a file of that name (a cached file is never replaced). The blob must already be in the store.
/// Several instances may record the same file at once: the loser of a race finds the winner's rows.
pub async fn record_cached_file(
    db: &Db,
    p: &PackageRef<'_>,
    version: &str,
    normalized_version: &str,
    metadata: &str,
    name: &str,
    d: &Digests,
) -> Result<(), AppError> {
    let once = || record_cached_file_once(db, p, version, normalized_version, metadata, name, d);
    match once().await {
        Err(AppError::Conflict(_)) => once().await,
        other => other,
    }
}

async fn record_cached_file_once(
    db: &Db,
    p: &PackageRef<'_>,
    version: &str,
    normalized_version: &str,
    metadata: &str,
    name: &str,
    d: &Digests,
) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    let (pkg, _) = ensure_package_in(&txn, p).await?;
    let now = now_millis();
    let existing = version::Entity::find()
        .filter(version::Column::PackageId.eq(pkg.id))
        .filter(version::Column::NormalizedVersion.eq(normalized_version))
        .one(&txn)
        .await?;
    let ver = match existing {
        Some(v) => v,
        None => {
            version::ActiveModel {
                package_id: Set(pkg.id),
                version: Set(version.to_string()),
                normalized_version: Set(normalized_version.to_string()),
                metadata: Set(metadata.to_string()),
                deprecated: Set(None),
                yanked: Set(false),
                listed: Set(true),
                published_by: Set(None),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    let has_file = file::Entity::find()
        .filter(file::Column::VersionId.eq(ver.id))
        .filter(file::Column::Name.eq(name))
        .one(&txn)
        .await?
        .is_some();
    if !has_file {
        insert_file(&txn, ver.id, name, d, now).await?;
        bump(&txn, pkg.id).await?;
    }
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Adds a file to an existing version, replacing a file of the same name (the blob must already be
/// in the store). Fails with NotFound when the version is gone.
pub async fn put_file(
    db: &Db,
    package_id: i64,
    version_id: i64,
    name: &str,
    d: &Digests,
) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    let exists = version::Entity::find_by_id(version_id)
        .filter(version::Column::PackageId.eq(package_id))
        .one(&txn)
        .await?
        .is_some();
    if !exists {
        return Err(AppError::NotFound("the version no longer exists".into()));
    }
    file::Entity::delete_many()
        .filter(file::Column::VersionId.eq(version_id))
        .filter(file::Column::Name.eq(name))
        .exec(&txn)
        .await?;
    insert_file(&txn, version_id, name, d, now_millis()).await?;
    bump(&txn, package_id).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Marks a version listed or unlisted (hidden from search, still downloadable).
pub async fn set_listed(
    db: &Db,
    package_id: i64,
    version_id: i64,
    listed: bool,
) -> Result<(), AppError> {
    set_version_flag(db, package_id, version_id, version::Column::Listed, listed).await
}

/// Sets a boolean column of one version and bumps the package's change stamp.
async fn set_version_flag(
    db: &Db,
    package_id: i64,
    version_id: i64,
    column: version::Column,
    value: bool,
) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    version::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .filter(version::Column::Id.eq(version_id))
        .filter(version::Column::PackageId.eq(package_id))
        .exec(&txn)
        .await?;
    bump(&txn, package_id).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Sets (or with `None` removes) a package-level property.
pub async fn set_property(
    db: &Db,
    package_id: i64,
    name: &str,
    value: Option<&str>,
) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    set_property_in(&txn, package_id, name, value).await?;
    bump(&txn, package_id).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Sets (`Some`) or removes (`None`) several package-level properties in one transaction.
pub async fn set_properties(
    db: &Db,
    package_id: i64,
    changes: &[(String, Option<String>)],
) -> Result<(), AppError> {
    remove_versions(db, package_id, &[], changes).await
}

/// Sets or clears the deprecation message of versions (by version id).
pub async fn set_deprecated(
    db: &Db,
    package_id: i64,
    changes: &[(i64, Option<String>)],
) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    for (id, msg) in changes {
        version::Entity::update_many()
            .col_expr(version::Column::Deprecated, Expr::value(msg.clone()))
            .filter(version::Column::Id.eq(*id))
            .filter(version::Column::PackageId.eq(package_id))
            .exec(&txn)
            .await?;
    }
    bump(&txn, package_id).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Removes versions (their files go with them; each leaves a tombstone so that its identity is
/// never published again), then applies package-level property changes, in one transaction. Blobs
/// stay in the store until garbage collection finds them unreferenced.
pub async fn remove_versions(
    db: &Db,
    package_id: i64,
    version_ids: &[i64],
    properties: &[(String, Option<String>)],
) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    if !version_ids.is_empty() {
        bury(&txn, package_id, Some(version_ids)).await?;
        file::Entity::delete_many()
            .filter(file::Column::VersionId.is_in(version_ids.to_vec()))
            .exec(&txn)
            .await?;
        property::Entity::delete_many()
            .filter(property::Column::VersionId.is_in(version_ids.to_vec()))
            .exec(&txn)
            .await?;
        version::Entity::delete_many()
            .filter(version::Column::Id.is_in(version_ids.to_vec()))
            .exec(&txn)
            .await?;
    }
    for (name, value) in properties {
        set_property_in(&txn, package_id, name, value.as_deref()).await?;
    }
    bump(&txn, package_id).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Removes a package with all its versions (each leaves a tombstone), files and properties.
pub async fn remove_package(db: &Db, package_id: i64) -> Result<(), AppError> {
    remove_package_rows(db, package_id, true).await
}

/// Forgets a proxy's cached package (its versions and files; blobs stay for whatever else
/// references them). No tombstone: the upstream still decides what the name stands for.
pub async fn forget_cached_package(db: &Db, package_id: i64) -> Result<(), AppError> {
    remove_package_rows(db, package_id, false).await
}

/// The ids of a repository's packages, all or one (by normalized name).
pub async fn package_ids(
    db: &Db,
    repo: &str,
    normalized: Option<&str>,
) -> Result<Vec<i64>, AppError> {
    let mut q = package::Entity::find()
        .select_only()
        .column(package::Column::Id)
        .filter(package::Column::Repository.eq(repo));
    if let Some(n) = normalized {
        q = q.filter(package::Column::NormalizedName.eq(n));
    }
    Ok(q.into_tuple().all(&db.conn).await?)
}

async fn remove_package_rows(db: &Db, package_id: i64, tombstones: bool) -> Result<(), AppError> {
    let _guard = db.write_lock().await;
    let txn = db.conn.begin().await?;
    if tombstones {
        bury(&txn, package_id, None).await?;
    }
    let ids: Vec<i64> = version::Entity::find()
        .select_only()
        .column(version::Column::Id)
        .filter(version::Column::PackageId.eq(package_id))
        .into_tuple()
        .all(&txn)
        .await?;
    if !ids.is_empty() {
        file::Entity::delete_many()
            .filter(file::Column::VersionId.is_in(ids.clone()))
            .exec(&txn)
            .await?;
    }
    property::Entity::delete_many()
        .filter(property::Column::PackageId.eq(package_id))
        .exec(&txn)
        .await?;
    version::Entity::delete_many()
        .filter(version::Column::PackageId.eq(package_id))
        .exec(&txn)
        .await?;
    package::Entity::delete_by_id(package_id).exec(&txn).await?;
    txn.commit().await?;
    db.changed().await;
    Ok(())
}

/// Packages of a repository whose name contains any of `terms` literally (all packages when
/// `terms` is empty), by name, at most `limit`. `%`, `_` and `\` in a term are matched as
/// themselves, not as LIKE wildcards. Terms are matched in batches of 100, so that no statement
/// grows deeper than the database allows (SQLite refuses expressions nested 1000 deep).
pub async fn search(
    db: &Db,
    repo: &str,
    terms: &[String],
    limit: u64,
) -> Result<Vec<Package>, AppError> {
    use sea_orm::sea_query::LikeExpr;
    const BATCH: usize = 100;
    let query = || {
        package::Entity::find()
            .filter(package::Column::Repository.eq(repo))
            .order_by_asc(package::Column::Name)
            .limit(limit)
    };
    if terms.is_empty() {
        let rows = query().all(&db.conn).await?;
        return Ok(rows.into_iter().map(Into::into).collect());
    }
    let mut unique: Vec<&str> = terms.iter().map(String::as_str).collect();
    unique.sort_unstable();
    unique.dedup();
    let mut rows = Vec::new();
    for batch in unique.chunks(BATCH) {
        let mut cond = sea_orm::Condition::any();
        for t in batch {
            let mut pattern = String::with_capacity(t.len() + 8);
            pattern.push('%');
            for c in t.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            cond =
                cond.add(package::Column::NormalizedName.like(LikeExpr::new(pattern).escape('\\')));
        }
        rows.extend(query().filter(cond).all(&db.conn).await?);
    }
    if unique.len() > BATCH {
        // Merge the batches: by name, each package once, the first `limit`.
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        rows.dedup_by_key(|r| r.id);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Every package of a repository (by name) with the version that its package-level property
/// `property` names, matched against the version as published; `None` when the package has no
/// such property or the version it names is gone. For repository-wide views that show one
/// version per package, such as npm's search catalog (`npm.dist-tag.latest`): only those
/// versions' rows (with their metadata) are read, one query for the packages and two per 100
/// packages.
pub async fn tagged_versions(
    db: &Db,
    repo: &str,
    property: &str,
) -> Result<Vec<(Package, Option<Version>)>, AppError> {
    let pkgs = package::Entity::find()
        .filter(package::Column::Repository.eq(repo))
        .order_by_asc(package::Column::Name)
        .all(&db.conn)
        .await?;
    let mut out = Vec::with_capacity(pkgs.len());
    for chunk in pkgs.chunks(100) {
        let ids: Vec<i64> = chunk.iter().map(|p| p.id).collect();
        // Ascending ids: a property set twice counts with its newest row.
        let tags: HashMap<i64, String> = property::Entity::find()
            .filter(property::Column::PackageId.is_in(ids))
            .filter(property::Column::VersionId.is_null())
            .filter(property::Column::Name.eq(property))
            .order_by_asc(property::Column::Id)
            .all(&db.conn)
            .await?
            .into_iter()
            .map(|p| (p.package_id, p.value))
            .collect();
        let mut found: HashMap<i64, Version> = HashMap::new();
        if !tags.is_empty() {
            let mut cond = sea_orm::Condition::any();
            for (id, v) in &tags {
                cond = cond.add(
                    sea_orm::Condition::all()
                        .add(version::Column::PackageId.eq(*id))
                        .add(version::Column::Version.eq(v.as_str())),
                );
            }
            for v in version::Entity::find()
                .filter(cond)
                .order_by_asc(version::Column::Id)
                .all(&db.conn)
                .await?
            {
                found.insert(v.package_id, v.into());
            }
        }
        for p in chunk {
            let v = found.remove(&p.id);
            out.push((p.clone().into(), v));
        }
    }
    Ok(out)
}

/// Marks a version yanked (or not).
pub async fn set_yanked(
    db: &Db,
    package_id: i64,
    version_id: i64,
    yanked: bool,
) -> Result<(), AppError> {
    set_version_flag(db, package_id, version_id, version::Column::Yanked, yanked).await
}

/// A value that changes whenever any package of the repository changes (a version, a file, a
/// listing, a property, a new or removed package), for caches of repository-wide views.
///
/// SQLite mode (one instance): the in-process write generation, no query. PostgreSQL: one
/// aggregate over the repository's package rows (count, sum of change stamps, newest id), which
/// every change moves because each change bumps a package's stamp.
pub async fn repo_stamp(db: &Db, repo: &str) -> Result<String, AppError> {
    if db.backend() == sea_orm::DbBackend::Sqlite {
        return Ok(format!("g{}", db.row_generation()));
    }
    let (count, sum, newest): (i64, i64, i64) = package::Entity::find()
        .select_only()
        .column_as(Expr::col(package::Column::Id).count(), "n")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(change_stamp), 0) AS BIGINT)"),
            "s",
        )
        .column_as(Expr::cust("COALESCE(MAX(id), 0)"), "m")
        .filter(package::Column::Repository.eq(repo))
        .into_tuple()
        .one(&db.conn)
        .await?
        .unwrap_or((0, 0, 0));
    Ok(format!("{count}.{sum}.{newest}"))
}

/// Every package of a repository with all its versions (two queries), for repository-wide
/// documents such as RubyGems' legacy spec indexes.
pub async fn all_versions(db: &Db, repo: &str) -> Result<Vec<(Package, Vec<Version>)>, AppError> {
    let pkgs = package::Entity::find()
        .filter(package::Column::Repository.eq(repo))
        .order_by_asc(package::Column::Name)
        .all(&db.conn)
        .await?;
    let ids: Vec<i64> = pkgs.iter().map(|p| p.id).collect();
    let mut by_pkg: HashMap<i64, Vec<Version>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let versions = version::Entity::find()
            .filter(version::Column::PackageId.is_in(chunk.to_vec()))
            .order_by_asc(version::Column::Id)
            .all(&db.conn)
            .await?;
        for v in versions {
            by_pkg.entry(v.package_id).or_default().push(v.into());
        }
    }
    Ok(pkgs
        .into_iter()
        .map(|p| {
            let v = by_pkg.remove(&p.id).unwrap_or_default();
            (p.into(), v)
        })
        .collect())
}

/// A file anywhere in a repository by its (unique) file name, with its version and blob.
pub async fn find_file_in_repo(
    db: &Db,
    repo: &str,
    file_name: &str,
) -> Result<Option<(Package, Version, File, Blob)>, AppError> {
    let files = file::Entity::find()
        .filter(file::Column::Name.eq(file_name))
        .all(&db.conn)
        .await?;
    for f in files {
        let Some(v) = version::Entity::find_by_id(f.version_id)
            .one(&db.conn)
            .await?
        else {
            continue;
        };
        let Some(p) = package::Entity::find_by_id(v.package_id)
            .one(&db.conn)
            .await?
        else {
            continue;
        };
        if p.repository != repo {
            continue;
        }
        let b = blob::Entity::find_by_id(f.blob_sha256.clone())
            .one(&db.conn)
            .await?
            .ok_or_else(|| AppError::internal("file without blob row"))?;
        return Ok(Some((p.into(), v.into(), f.into(), b.into())));
    }
    Ok(None)
}
