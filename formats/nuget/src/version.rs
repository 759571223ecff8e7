//! NuGet versions: `Major[.Minor[.Patch[.Revision]]][-Release][+Metadata]`, their normalized
//! and lower-case forms, and NuGet's ordering and identity.
//!
//! Follows the NuGet protocol reference §3.2. Two versions are the same version when their
//! [`NuGetVersion::lower`] forms are equal: metadata is ignored, release labels are compared
//! case-insensitively, and missing numeric parts are zero (`1.0` is `1.0.0.0`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Largest numeric part: NuGet stores each one in a .NET `int`.
const MAX_PART: u32 = i32::MAX as u32;

/// Why a version or a version range is not acceptable. The message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The text is not a NuGet version.
    #[error("'{input}' is not a valid NuGet version: {reason}")]
    Version {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The text is not a NuGet version range.
    #[error("'{input}' is not a valid NuGet version range: {reason}")]
    Range {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A parsed NuGet version. Equality, hashing and ordering follow NuGet's identity and
/// precedence rules (see the module documentation); the metadata is kept for [`Self::full`].
#[derive(Clone, Debug)]
pub struct NuGetVersion {
    parts: [u32; 4],
    release: Option<String>,
    metadata: Option<String>,
}

impl NuGetVersion {
    /// Parses `Major[.Minor[.Patch[.Revision]]][-Release][+Metadata]`: 1 to 4 numeric parts
    /// (leading zeros allowed, each at most 2147483647), release and metadata identifiers of
    /// ASCII letters, digits and `-`, separated by `.`, none empty. Surrounding whitespace is
    /// refused.
    pub fn parse(s: &str) -> Result<NuGetVersion, VersionError> {
        let bad = |reason: &str| VersionError::Version {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.trim() != s {
            return Err(bad("surrounding whitespace is not allowed"));
        }
        let (rest, metadata) = match s.split_once('+') {
            Some((r, m)) => (r, Some(m)),
            None => (s, None),
        };
        let (numbers, release) = match rest.split_once('-') {
            Some((n, r)) => (n, Some(r)),
            None => (rest, None),
        };
        if numbers.split('.').count() > 4 {
            return Err(bad("it has more than 4 numeric parts"));
        }
        let mut parts = [0u32; 4];
        for (slot, part) in parts.iter_mut().zip(numbers.split('.')) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("each numeric part must be a non-empty run of digits"));
            }
            *slot = part
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_PART)
                .ok_or_else(|| bad("a numeric part is larger than 2147483647"))?;
        }
        if let Some(r) = release {
            check_identifiers(r).map_err(|why| bad(&format!("release label {why}")))?;
        }
        if let Some(m) = metadata {
            check_identifiers(m).map_err(|why| bad(&format!("metadata {why}")))?;
        }
        Ok(NuGetVersion {
            parts,
            release: release.map(str::to_owned),
            metadata: metadata.map(str::to_owned),
        })
    }

    /// `Major.Minor.Patch`, `.Revision` only when it is not zero, then `-Release` as written;
    /// no metadata. `1.00.01.0-Beta+x` gives `1.0.1-Beta`.
    pub fn normalized(&self) -> String {
        let [major, minor, patch, revision] = self.parts;
        let mut out = format!("{major}.{minor}.{patch}");
        if revision > 0 {
            out.push_str(&format!(".{revision}"));
        }
        if let Some(r) = &self.release {
            out.push('-');
            out.push_str(r);
        }
        out
    }

    /// The normalized form in ASCII lower-case: the identity key and the flat-container form.
    pub fn lower(&self) -> String {
        self.normalized().to_ascii_lowercase()
    }

    /// The normalized form followed by `+Metadata` when there is metadata.
    pub fn full(&self) -> String {
        match &self.metadata {
            Some(m) => format!("{}+{m}", self.normalized()),
            None => self.normalized(),
        }
    }

    /// Whether the version has a release label (`1.0.0-beta`).
    pub fn is_prerelease(&self) -> bool {
        self.release.is_some()
    }

    /// Whether the version needs SemVer 2.0.0 support: a dotted release label or metadata.
    pub fn is_semver2(&self) -> bool {
        self.release.as_deref().is_some_and(|r| r.contains('.')) || self.metadata.is_some()
    }

    /// The release label as written, without the `-`.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// The build metadata as written, without the `+`.
    pub fn metadata(&self) -> Option<&str> {
        self.metadata.as_deref()
    }

    /// The four numeric parts: major, minor, patch, revision.
    pub fn parts(&self) -> [u32; 4] {
        self.parts
    }
}

/// Checks dot-separated identifiers of `[0-9A-Za-z-]`; the error completes "release label …".
fn check_identifiers(s: &str) -> Result<(), &'static str> {
    for id in s.split('.') {
        if id.is_empty() {
            return Err("has an empty identifier");
        }
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("may contain only ASCII letters, digits, '-' and '.'");
        }
    }
    Ok(())
}

/// Compares two release identifiers: numeric ones numerically and below alphanumeric ones,
/// alphanumeric ones case-insensitively. Numerically equal identifiers that differ in leading
/// zeros are ordered by their text, so that `Equal` always means "same lower-case text".
fn cmp_identifier(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, true) => {
            let (ta, tb) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            ta.len()
                .cmp(&tb.len())
                .then_with(|| ta.cmp(tb))
                .then_with(|| a.len().cmp(&b.len()))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts
            .cmp(&other.parts)
            .then_with(|| match (&self.release, &other.release) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => {
                    let (mut ia, mut ib) = (a.split('.'), b.split('.'));
                    loop {
                        match (ia.next(), ib.next()) {
                            (None, None) => return Ordering::Equal,
                            (None, Some(_)) => return Ordering::Less,
                            (Some(_), None) => return Ordering::Greater,
                            (Some(x), Some(y)) => match cmp_identifier(x, y) {
                                Ordering::Equal => continue,
                                other => return other,
                            },
                        }
                    }
                }
            })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NuGetVersion {}

impl Hash for NuGetVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
        self.release
            .as_ref()
            .map(|r| r.to_ascii_lowercase())
            .hash(state);
    }
}

impl fmt::Display for NuGetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full())
    }
}

impl std::str::FromStr for NuGetVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NuGetVersion::parse(s)
    }
}
