//! npm versions and dist-tag names: strict SemVer validation, duplicate detection across build
//! metadata, SemVer ordering, and the dist-tag naming rules.
//!
//! Follows npm protocol reference §2.2 ("Versions") and §7 ("dist-tags"). See
//! `docs/formats/npm.md`.

use std::cmp::Ordering;

use semver::Version;

use crate::range::is_npm_range;
use crate::urlsafe::is_uri_component_safe;

/// Longest dist-tag name accepted.
const MAX_TAG_LEN: usize = 128;

/// Why a version or dist-tag name is refused. Each message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The version is the empty string.
    #[error("version must not be empty")]
    Empty,
    /// `v1.2.3`: npm cleans this on the client, the server wants the cleaned form.
    #[error("version '{0}' must not start with 'v'")]
    LeadingV(String),
    /// White space anywhere in the version.
    #[error("version '{0}' must not contain spaces")]
    Spaces(String),
    /// Not SemVer 2.0.
    #[error("version '{version}' is not valid SemVer: {reason}")]
    NotSemver {
        /// The version as sent.
        version: String,
        /// What the SemVer parser objected to.
        reason: String,
    },
    /// The dist-tag is the empty string.
    #[error("dist-tag must not be empty")]
    TagEmpty,
    /// The dist-tag is longer than 128 characters.
    #[error("dist-tag must be at most 128 characters long (got {0})")]
    TagTooLong(usize),
    /// The dist-tag parses as a SemVer range, so `npm install pkg@tag` would be ambiguous.
    #[error("dist-tag '{0}' is a valid SemVer range; use a name such as 'beta' or 'next'")]
    TagIsRange(String),
    /// `encodeURIComponent(tag) != tag`.
    #[error("dist-tag '{0}' must contain only URL-safe characters (letters, digits, -_.!~*'())")]
    TagNotUrlSafe(String),
}

/// Strict SemVer 2.0 (no leading 'v', no spaces). Returns the canonical string.
pub fn validate_version(v: &str) -> Result<String, VersionError> {
    if v.is_empty() {
        return Err(VersionError::Empty);
    }
    if v.contains(char::is_whitespace) {
        return Err(VersionError::Spaces(v.to_owned()));
    }
    if v.starts_with(['v', 'V']) {
        return Err(VersionError::LeadingV(v.to_owned()));
    }
    Version::parse(v)
        .map(|parsed| parsed.to_string())
        .map_err(|e| VersionError::NotSemver {
            version: v.to_owned(),
            reason: e.to_string(),
        })
}

/// The version with "+build" stripped; two versions that agree on this are duplicates.
pub fn version_identity(v: &str) -> String {
    match Version::parse(v) {
        Ok(mut parsed) => {
            parsed.build = semver::BuildMetadata::EMPTY;
            parsed.to_string()
        }
        Err(_) => v.split('+').next().unwrap_or(v).to_owned(),
    }
}

/// Sort versions by SemVer precedence (invalid ones last, by string).
///
/// Versions equal in precedence but with different build metadata are ordered by their build
/// metadata, so the order is total and stable across calls.
#[expect(
    clippy::ptr_arg,
    reason = "signature agreed with the server crate; a Vec is what callers hold"
)]
pub fn sort_versions(v: &mut Vec<String>) {
    v.sort_by(|a, b| cmp_versions(a, b));
}

/// SemVer precedence; invalid versions sort after valid ones, by string.
pub(crate) fn cmp_versions(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Dist-tag changes once the `removed` versions are unpublished, as the public registry makes
/// them: tags that point at a removed version go, and `latest` moves to the highest remaining
/// stable version (or the highest remaining one). `versions` are all the package's versions
/// before the removal. Returns `(tag, Some(new version) | None for removed)`.
pub fn retag_after_removal(
    tags: &std::collections::BTreeMap<String, String>,
    versions: &[String],
    removed: &[String],
) -> Vec<(String, Option<String>)> {
    let mut changes: Vec<(String, Option<String>)> = tags
        .iter()
        .filter(|(_, v)| removed.contains(v))
        .map(|(t, _)| (t.clone(), None))
        .collect();
    let latest_gone = tags.get("latest").is_none_or(|v| removed.contains(v));
    if latest_gone {
        let mut remaining: Vec<String> = versions
            .iter()
            .filter(|v| !removed.contains(v))
            .cloned()
            .collect();
        sort_versions(&mut remaining);
        let stable = remaining
            .iter()
            .rev()
            .find(|v| !v.contains('-'))
            .or(remaining.last());
        if let Some(v) = stable {
            changes.retain(|(t, _)| t != "latest");
            changes.push(("latest".to_string(), Some(v.clone())));
        }
    }
    changes
}

/// Dist-tag rules: non-empty, <= 128 chars, URL-safe (encodeURIComponent(tag)==tag), and NOT a
/// valid semver range (semver::VersionReq::parse plus npm's extra range forms: "v1", "1.x", "*",
/// "^2", "~1.2", "1 - 2", "||"); "latest", "beta", "next" are fine.
pub fn validate_dist_tag(tag: &str) -> Result<(), VersionError> {
    if tag.is_empty() {
        return Err(VersionError::TagEmpty);
    }
    let len = tag.chars().count();
    if len > MAX_TAG_LEN {
        return Err(VersionError::TagTooLong(len));
    }
    if is_npm_range(tag) || semver::VersionReq::parse(tag).is_ok() {
        return Err(VersionError::TagIsRange(tag.to_owned()));
    }
    if !is_uri_component_safe(tag) {
        return Err(VersionError::TagNotUrlSafe(tag.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_strips_build_metadata() {
        assert_eq!(version_identity("1.0.0+a"), "1.0.0");
        assert_eq!(version_identity("1.0.0-rc.1+b.2"), "1.0.0-rc.1");
        assert_eq!(version_identity("1.0.0"), "1.0.0");
        assert_eq!(version_identity("junk+x"), "junk");
    }

    #[test]
    fn sorting_uses_semver_precedence_and_puts_invalid_last() {
        let mut v: Vec<String> = [
            "1.10.0",
            "zzz",
            "1.2.0",
            "1.2.0-beta.2",
            "1.2.0-beta.10",
            "abc",
        ]
        .map(String::from)
        .to_vec();
        sort_versions(&mut v);
        assert_eq!(
            v,
            [
                "1.2.0-beta.2",
                "1.2.0-beta.10",
                "1.2.0",
                "1.10.0",
                "abc",
                "zzz"
            ]
        );
    }
}
