//! Package owners, the same rule in every format: the first publisher owns a package; only owners
//! (and admins) change it. Owners are package properties named `owner.<user id>` whose value is the
//! user's login, so they travel with the package's change stamp like every other property.

use super::auth::{Principal, Scope};
use super::packages::PackageDescriptor;
use crate::error::AppError;

/// Property-name prefix of owners (value: the user's login).
pub const PREFIX: &str = "owner.";

/// The property name recording `user_id` as an owner.
pub fn property(user_id: i64) -> String {
    format!("{PREFIX}{user_id}")
}

/// Owner logins of a package by user id, in the order they were added.
pub fn of(desc: &PackageDescriptor) -> Vec<(i64, String)> {
    from_properties(desc.properties_with_prefix(PREFIX))
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
