//! Gem versions: `Gem::Version` syntax as `gem build` writes it, the prerelease rule, and
//! ordering with `Gem::Version#<=>` semantics.
//!
//! Follows the RubyGems protocol reference §2 ("Versions") and §4 (the specs files are sorted
//! by version). See `docs/formats/rubygems.md`.

use std::cmp::Ordering;

use crate::names::NameError;

/// Longest version string accepted.
const MAX_VERSION_LEN: usize = 64;

/// Gem::Version syntax: segments of digits or letters separated by '.', no '-', 1..=64 chars;
/// prerelease iff any letter.
///
/// The first segment must be all digits (as `Gem::Version`'s pattern requires); later segments
/// may mix letters and digits (`2.0.0.rc1`). `gem build` rewrites `1.0-beta` to
/// `1.0.pre.beta`, so a version with `-` never comes from a real client.
pub fn validate_version(v: &str) -> Result<(), NameError> {
    let bad = |reason| NameError::Version {
        version: v.to_owned(),
        reason,
    };
    if v.is_empty() {
        return Err(bad("must not be empty"));
    }
    if v.len() > MAX_VERSION_LEN {
        return Err(bad("at most 64 characters are allowed"));
    }
    if let Some(c) = v.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '.') {
        return Err(match c {
            '-' => bad("'-' is not allowed (gem build writes '.pre.' instead)"),
            _ => bad("only ASCII letters, digits and '.' are allowed"),
        });
    }
    let mut segments = v.split('.');
    if !segments
        .next()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("must start with a number"));
    }
    if segments.any(str::is_empty) {
        return Err(bad("empty segment between dots"));
    }
    Ok(())
}

/// The identity of a (version, platform) pair as the compact index writes it: `version` for the
/// `ruby` platform, else `version-platform` (`1.0.0-x86_64-linux`).
pub fn version_key(version: &str, platform: &str) -> String {
    if platform.is_empty() || platform == "ruby" {
        version.to_string()
    } else {
        format!("{version}-{platform}")
    }
}

/// A version is a prerelease if it contains any letter (`1.0.0.pre`, `2.0.0.rc1`).
pub fn is_prerelease(v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_alphabetic())
}

/// One segment of a version: a run of digits or a run of letters (`Gem::Version#segments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    /// Digits without leading zeros (`"0"` for zero, compared as a number of any size).
    Number(&'a str),
    /// Letters, compared as bytes.
    Letters(&'a str),
}

impl Ord for Segment<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Segment::Number(a), Segment::Number(b)) => a.len().cmp(&b.len()).then(a.cmp(b)),
            (Segment::Letters(a), Segment::Letters(b)) => a.cmp(b),
            (Segment::Letters(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Letters(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Segment<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The segment a missing one counts as.
const ZERO: Segment<'static> = Segment::Number("0");

/// Version comparison with Gem::Version semantics (numeric segments compare numerically, letter
/// segments make prereleases sort before releases) for sorting.
///
/// Like Ruby, trailing zeros of the release part and of the prerelease part are ignored, so
/// `1.0` and `1.0.0` compare equal (they are still different versions for publishing), and a
/// missing segment counts as 0: `1.0.a` < `1.0` < `1.0.1`.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (canonical_segments(a), canonical_segments(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(ZERO),
            b.get(i).copied().unwrap_or(ZERO),
        );
        match x.cmp(&y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}

/// `Gem::Version#canonical_segments`: the segments, with trailing zeros dropped from the numeric
/// part (before the first letter segment) and from the rest.
fn canonical_segments(v: &str) -> Vec<Segment<'_>> {
    let segments = split_segments(v);
    let first_letters = segments
        .iter()
        .position(|s| matches!(s, Segment::Letters(_)))
        .unwrap_or(segments.len());
    let (release, pre) = segments.split_at(first_letters);
    let mut out = without_trailing_zeros(release).to_vec();
    out.extend_from_slice(without_trailing_zeros(pre));
    out
}

/// The slice up to its last non-zero segment.
fn without_trailing_zeros<'s, 'a>(part: &'s [Segment<'a>]) -> &'s [Segment<'a>] {
    let end = part.iter().rposition(|s| *s != ZERO).map_or(0, |i| i + 1);
    &part[..end]
}

/// Scans runs of ASCII digits or letters, skipping anything else (`Gem::Version#_segments`).
fn split_segments(v: &str) -> Vec<Segment<'_>> {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let digit = bytes[i].is_ascii_digit();
        if !digit && !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len()
            && (if digit {
                bytes[i].is_ascii_digit()
            } else {
                bytes[i].is_ascii_alphabetic()
            })
        {
            i += 1;
        }
        let run = &v[start..i];
        out.push(if digit {
            let trimmed = run.trim_start_matches('0');
            Segment::Number(if trimmed.is_empty() { "0" } else { trimmed })
        } else {
            Segment::Letters(run)
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_letters_from_digits() {
        assert_eq!(
            split_segments("2.0.0.rc10"),
            vec![
                Segment::Number("2"),
                ZERO,
                ZERO,
                Segment::Letters("rc"),
                Segment::Number("10")
            ]
        );
        assert_eq!(
            canonical_segments("1.0.0.a.0"),
            vec![Segment::Number("1"), Segment::Letters("a")]
        );
    }

    #[test]
    fn huge_numbers_compare_without_overflow() {
        let big = "1".repeat(40);
        assert_eq!(compare_versions(&big, "9"), Ordering::Greater);
        assert_eq!(compare_versions("007", "7"), Ordering::Equal);
    }
}
