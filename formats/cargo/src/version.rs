//! Crate versions and `rust_version`: strict SemVer validation, duplicate detection across build
//! metadata, and the minimum-Rust-version syntax cargo accepts in index lines.
//!
//! Follows the Cargo registry protocol reference §3.3 (`vers`, `rust_version`), §5.2 step 3 and
//! §12 pitfalls 7 and 9. See `docs/formats/cargo.md`.

use semver::Version;

/// Why a version or `rust_version` is refused. Each message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The version is the empty string.
    #[error("version must not be empty")]
    Empty,
    /// Not SemVer 2.0.
    #[error("version '{version}' is not valid SemVer: {reason}")]
    NotSemver {
        /// The version as sent.
        version: String,
        /// What the SemVer parser objected to.
        reason: String,
    },
    /// Not `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` with plain decimal numbers.
    #[error(
        "rust_version '{0}' must be a Rust version like \"1.70\" or \"1.70.0\" (no operator, no pre-release)"
    )]
    BadRustVersion(String),
}

/// Strict SemVer 2.0 (no leading 'v', no spaces, no leading zeros); returns the canonical
/// string.
pub fn validate_version(v: &str) -> Result<String, VersionError> {
    if v.is_empty() {
        return Err(VersionError::Empty);
    }
    Version::parse(v)
        .map(|parsed| parsed.to_string())
        .map_err(|e| VersionError::NotSemver {
            version: v.to_owned(),
            reason: e.to_string(),
        })
}

/// The version without "+build" (uniqueness key: 1.0.0+a duplicates 1.0.0).
pub fn version_identity(v: &str) -> String {
    v.split_once('+')
        .map_or(v, |(identity, _)| identity)
        .to_owned()
}

/// Valid rust_version: "1.70" or "1.70.0" (digits and dots, 2 or 3 parts, no operator).
///
/// cargo marks an index line whose `rust_version` it cannot parse as invalid and never selects
/// it (§12 pitfall 9), so numbers with leading zeros (`1.070`), which cargo's parser refuses
/// too, are refused here.
pub fn validate_rust_version(v: &str) -> Result<(), VersionError> {
    let parts: Vec<&str> = v.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && (*p == "0" || !p.starts_with('0'))
            && p.parse::<u64>().is_ok()
    };
    if (2..=3).contains(&parts.len()) && parts.iter().all(numeric) {
        Ok(())
    } else {
        Err(VersionError::BadRustVersion(v.to_owned()))
    }
}

/// The version cargo search shows for a crate, from its versions in publication order with their
/// yanked flags: the highest SemVer version that is not yanked; for a crate whose versions are all
/// yanked, the highest one (so that the crate still shows and `meta.total` counts what the pages
/// list). Returns its index and the version as SemVer prints it; `None` without any SemVer version.
pub fn search_version<'a>(
    versions: impl IntoIterator<Item = (&'a str, bool)>,
) -> Option<(usize, String)> {
    let mut best: Option<(usize, semver::Version, bool)> = None;
    for (i, (v, yanked)) in versions.into_iter().enumerate() {
        let Ok(parsed) = semver::Version::parse(v) else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((_, b, b_yanked)) => {
                (*b_yanked && !yanked) || (*b_yanked == yanked && parsed > *b)
            }
        };
        if better {
            best = Some((i, parsed, yanked));
        }
    }
    best.map(|(i, v, _)| (i, v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_strips_build_metadata() {
        assert_eq!(version_identity("1.0.0+a"), "1.0.0");
        assert_eq!(version_identity("1.0.0-rc.1+b.2"), "1.0.0-rc.1");
        assert_eq!(version_identity("1.0.0"), "1.0.0");
    }
}
