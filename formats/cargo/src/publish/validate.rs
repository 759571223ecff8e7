//! Checks on the publish metadata before anything is stored: name, version, `rust_version`,
//! dependencies and the feature table.
//!
//! Follows the Cargo registry protocol reference §5.2 ("Server checks") and §3.3 (what an index
//! line may contain: a line cargo cannot parse makes the version unusable, §12 pitfall 9).

use semver::VersionReq;

use super::{PublishDep, PublishError, PublishMeta};
use crate::names::{is_plausible_name, validate_name};
use crate::version::{validate_rust_version, validate_version};

/// Dependency kinds cargo sends.
const KINDS: [&str; 3] = ["normal", "dev", "build"];

/// Longest feature name, feature value, target or registry URL accepted.
const MAX_TEXT: usize = 256;

/// Validates name (validate_name), vers (validate_version), rust_version if present, every dep
/// (non-empty name, version_req parses as semver::VersionReq, kind in normal/dev/build,
/// feature names sane), feature names and values (ASCII-ish, non-empty). Errors name the
/// offending field.
///
/// Dependency names (and aliases) must be plausible crate names (1..=64 ASCII letters, digits,
/// `-`, `_`) but are not held to the rules for new names, since they may live in another
/// registry. Feature names follow cargo: a letter, digit or `_` first, then letters, digits,
/// `_`, `-`, `+` or `.`; values may also hold `/`, `:` and `?` (`dep:x`, `x?/y`).
pub fn validate_meta(m: &PublishMeta) -> Result<(), PublishError> {
    validate_name(&m.name).map_err(|e| field("name", e))?;
    validate_version(&m.vers).map_err(|e| field("vers", e))?;
    if let Some(rv) = &m.rust_version {
        validate_rust_version(rv).map_err(|e| field("rust_version", e))?;
    }
    for (i, dep) in m.deps.iter().enumerate() {
        check_dep(dep).map_err(|(name, reason)| PublishError::Field {
            field: format!("deps[{i}].{name}"),
            reason: format!("{reason} (dependency '{}')", dep.name),
        })?;
    }
    for (feature, values) in &m.features {
        check_feature_name(feature).map_err(|r| field(format!("features.{feature}"), r))?;
        for value in values {
            check_feature_value(value).map_err(|r| field(format!("features.{feature}"), r))?;
        }
    }
    Ok(())
}

/// A dependency's problem as (field name, reason).
fn check_dep(d: &PublishDep) -> Result<(), (&'static str, String)> {
    if !is_plausible_name(&d.name) {
        return Err(("name", bad_crate_name(&d.name)));
    }
    if let Some(alias) = &d.explicit_name_in_toml
        && !is_plausible_name(alias)
    {
        return Err(("explicit_name_in_toml", bad_crate_name(alias)));
    }
    if let Err(e) = VersionReq::parse(&d.version_req) {
        let reason = format!("'{}' is not a version requirement: {e}", d.version_req);
        return Err(("version_req", reason));
    }
    if let Some(kind) = &d.kind
        && !KINDS.contains(&kind.as_str())
    {
        let reason = format!("'{kind}' must be one of normal, dev, build");
        return Err(("kind", reason));
    }
    for f in &d.features {
        check_feature_value(f).map_err(|r| ("features", r))?;
    }
    if let Some(target) = &d.target {
        check_text(target, |c| !c.is_control()).map_err(|r| ("target", r))?;
    }
    if let Some(registry) = &d.registry {
        check_text(registry, |c| c.is_ascii_graphic()).map_err(|r| ("registry", r))?;
    }
    Ok(())
}

fn bad_crate_name(name: &str) -> String {
    format!("'{name}' is not a crate name (1 to 64 ASCII letters, digits, '-' or '_')")
}

/// A feature name: non-empty, first a letter, digit or `_`, then also `-`, `+`, `.`.
fn check_feature_name(name: &str) -> Result<(), String> {
    check_text(name, |c| c.is_alphanumeric() || "_-+.".contains(c))?;
    if name.starts_with(['-', '+', '.']) {
        return Err(format!(
            "feature name '{name}' must start with a letter, a digit or '_'"
        ));
    }
    Ok(())
}

/// What a feature enables: a feature, `dep:x`, `x/y` or `x?/y`.
fn check_feature_value(value: &str) -> Result<(), String> {
    check_text(value, |c| c.is_alphanumeric() || "_-+./:?".contains(c))
}

/// Non-empty, at most [`MAX_TEXT`] characters, every character allowed by `ok`.
fn check_text(s: &str, ok: impl Fn(char) -> bool) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if s.chars().count() > MAX_TEXT {
        return Err(format!("must be at most {MAX_TEXT} characters long"));
    }
    match s.chars().find(|&c| !ok(c)) {
        Some(c) => Err(format!("'{s}' must not contain {c:?}")),
        None => Ok(()),
    }
}

fn field(name: impl Into<String>, reason: impl ToString) -> PublishError {
    PublishError::Field {
        field: name.into(),
        reason: reason.to_string(),
    }
}
