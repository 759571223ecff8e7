//! Package owners, the same rule in every format: the first publisher owns a package; only owners
//! (and admins) change it. Owners are package properties named `owner.<user id>` whose value is the
//! user's login, so they travel with the package's change stamp like every other property.

use super::auth::{Principal, Scope};
use super::packages::{self, PackageDescriptor};
use crate::db::Db;
use crate::error::AppError;

/// Property-name prefix of owners (value: the user's login).
pub const PREFIX: &str = "owner.";

/// The property name recording `user_id` as an owner.
pub fn property(user_id: i64) -> String {
    format!("{PREFIX}{user_id}")
}

/// Owner logins of a package by user id, in the order they were added.
pub fn of(desc: &PackageDescriptor) -> Vec<(i64, String)> {
    // Parsed once from the owner properties when the package was loaded.
    desc.owners
        .iter()
        .map(|o| (o.id, o.login.clone()))
        .collect()
}

/// Owners from `(user id, login)` property pairs (prefix already removed).
pub fn from_properties<'a>(props: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(i64, String)> {
    props
        .filter_map(|(id, login)| Some((id.parse().ok()?, login.to_string())))
        .collect()
}

/// Whether `who` may change a package with these owners (an owner, or an admin).
pub fn may_change(who: &Principal, owners: &[(i64, String)]) -> bool {
    who.has(Scope::Admin) || owners.iter().any(|(id, _)| *id == who.user_id)
}

/// Refuses, with the format's wording (`refuse` gets the package name), unless `who` may change a
/// package with these owners.
pub fn require(
    who: &Principal,
    owners: &[(i64, String)],
    package: &str,
    refuse: impl FnOnce(&str) -> AppError,
) -> Result<(), AppError> {
    if may_change(who, owners) {
        Ok(())
    } else {
        Err(refuse(package))
    }
}

/// Makes `wanted` (user id, login) the owners of a package whose owners are `current`, in one
/// transaction. A package always keeps at least one owner.
pub async fn replace(
    db: &Db,
    package_id: i64,
    current: &[(i64, String)],
    wanted: &[(i64, String)],
) -> Result<(), AppError> {
    if wanted.is_empty() {
        return Err(AppError::Invalid(
            "a package must keep at least one owner".into(),
        ));
    }
    let mut changes: Vec<(String, Option<String>)> = current
        .iter()
        .filter(|(id, _)| !wanted.iter().any(|(w, _)| w == id))
        .map(|(id, _)| (property(*id), None))
        .collect();
    changes.extend(
        wanted
            .iter()
            .filter(|(id, _)| !current.iter().any(|(c, _)| c == id))
            .map(|(id, login)| (property(*id), Some(login.clone()))),
    );
    if changes.is_empty() {
        return Ok(());
    }
    packages::set_properties(db, package_id, &changes).await
}

/// Adds (`add`) or removes one owner of a package whose owners are `current`; returns the new
/// owners. Removing the last owner is refused.
pub async fn change_one(
    db: &Db,
    package_id: i64,
    current: &[(i64, String)],
    user: &crate::db::entity::user::Model,
    add: bool,
) -> Result<Vec<(i64, String)>, AppError> {
    let mut wanted: Vec<(i64, String)> = current
        .iter()
        .filter(|(id, _)| *id != user.id)
        .cloned()
        .collect();
    if add {
        wanted.push((user.id, user.name.clone()));
    }
    replace(db, package_id, current, &wanted).await?;
    Ok(wanted)
}

/// A user by login, else by e-mail address (the RubyGems owners API names users either way).
pub async fn find_user(
    db: &Db,
    login_or_email: &str,
) -> Result<Option<crate::db::entity::user::Model>, AppError> {
    use crate::db::entity::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    if let Some(u) = super::auth::find_user(db, login_or_email).await? {
        return Ok(Some(u));
    }
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(login_or_email))
        .one(&db.conn)
        .await?)
}
