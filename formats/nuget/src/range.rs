//! Version ranges of dependencies, in NuGet's interval notation.
//!
//! Follows the NuGet protocol reference §3.3: `1.0` means `[1.0, )` (at least 1.0), `[1.0]` is
//! exactly 1.0, `(1.0,)`, `(,1.0]` and `[1.0,2.0)` are intervals; an empty text means any
//! version. Floating ranges (`*`) are not allowed in packages.

use std::fmt;

use crate::version::{NuGetVersion, VersionError};

/// A parsed version range: an optional lower and an optional upper bound, each inclusive or
/// exclusive. Both bounds absent means "any version".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct VersionRange {
    min: Option<NuGetVersion>,
    min_inclusive: bool,
    max: Option<NuGetVersion>,
    max_inclusive: bool,
}

impl VersionRange {
    /// Parses NuGet's interval notation; whitespace around the parts is allowed and an empty
    /// or blank text is "any version". Refuses `*`, `(,)`, a single bound that is not `[x]`,
    /// and ranges with no version in them (`min > max`, or `min == max` not both inclusive).
    pub fn parse(s: &str) -> Result<VersionRange, VersionError> {
        let bad = |reason: String| VersionError::Range {
            input: s.to_owned(),
            reason,
        };
        let bound = |text: &str| {
            NuGetVersion::parse(text).map_err(|e| match e {
                VersionError::Version { reason, .. } | VersionError::Range { reason, .. } => {
                    bad(format!("bound '{text}' is not a version: {reason}"))
                }
            })
        };
        let t = s.trim();
        if t.is_empty() {
            return Ok(VersionRange::default());
        }
        if t.contains('*') {
            return Err(bad("floating versions ('*') are not allowed".into()));
        }
        let open = t.as_bytes()[0];
        if open != b'[' && open != b'(' {
            return Ok(VersionRange {
                min: Some(bound(t)?),
                min_inclusive: true,
                ..VersionRange::default()
            });
        }
        let close = t.as_bytes()[t.len() - 1];
        if t.len() < 2 || (close != b']' && close != b')') {
            return Err(bad("an interval must end with ']' or ')'".into()));
        }
        let inner = &t[1..t.len() - 1];
        let (min_inclusive, max_inclusive) = (open == b'[', close == b']');
        let Some((lo, hi)) = inner.split_once(',') else {
            let exact = inner.trim();
            if !(min_inclusive && max_inclusive) || exact.is_empty() {
                return Err(bad(
                    "a single version in brackets must be exact, as in '[1.0]'".into(),
                ));
            }
            let v = bound(exact)?;
            return Ok(VersionRange {
                min: Some(v.clone()),
                min_inclusive: true,
                max: Some(v),
                max_inclusive: true,
            });
        };
        if hi.contains(',') {
            return Err(bad("an interval has at most one ','".into()));
        }
        let (lo, hi) = (lo.trim(), hi.trim());
        if lo.is_empty() && hi.is_empty() {
            return Err(bad(
                "'(,)' has no bound; leave the version out to allow any version".into(),
            ));
        }
        let min = (!lo.is_empty()).then(|| bound(lo)).transpose()?;
        let max = (!hi.is_empty()).then(|| bound(hi)).transpose()?;
        if let (Some(a), Some(b)) = (&min, &max) {
            if a > b {
                return Err(bad("the lower bound is above the upper bound".into()));
            }
            if a == b && !(min_inclusive && max_inclusive) {
                return Err(bad("the interval contains no version".into()));
            }
        }
        Ok(VersionRange {
            min_inclusive: min_inclusive && min.is_some(),
            max_inclusive: max_inclusive && max.is_some(),
            min,
            max,
        })
    }

    /// NuGet's normalized form with normalized bounds (no metadata): `[1.0.0, )`,
    /// `(1.0.0, )`, `[1.0.0, 2.0.0)`, `(, 1.0.0]`, `[1.0.0]`; "any version" is `""`.
    pub fn normalized(&self) -> String {
        match (&self.min, &self.max) {
            (None, None) => String::new(),
            (Some(a), Some(b)) if a == b && self.min_inclusive && self.max_inclusive => {
                format!("[{}]", a.normalized())
            }
            (min, max) => format!(
                "{}{}, {}{}",
                if self.min_inclusive { '[' } else { '(' },
                min.as_ref()
                    .map(NuGetVersion::normalized)
                    .unwrap_or_default(),
                max.as_ref()
                    .map(NuGetVersion::normalized)
                    .unwrap_or_default(),
                if self.max_inclusive { ']' } else { ')' },
            ),
        }
    }

    /// Whether `v` lies within the range.
    pub fn satisfies(&self, v: &NuGetVersion) -> bool {
        let above = match &self.min {
            Some(m) if self.min_inclusive => v >= m,
            Some(m) => v > m,
            None => true,
        };
        let below = match &self.max {
            Some(m) if self.max_inclusive => v <= m,
            Some(m) => v < m,
            None => true,
        };
        above && below
    }

    /// Whether either bound is a SemVer 2.0.0 version.
    pub fn is_semver2(&self) -> bool {
        [&self.min, &self.max]
            .into_iter()
            .flatten()
            .any(NuGetVersion::is_semver2)
    }

    /// Whether the range allows every version (no bound at all).
    pub fn is_any(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }

    /// The lower bound and whether it is inclusive.
    pub fn min(&self) -> Option<(&NuGetVersion, bool)> {
        self.min.as_ref().map(|v| (v, self.min_inclusive))
    }

    /// The upper bound and whether it is inclusive.
    pub fn max(&self) -> Option<(&NuGetVersion, bool)> {
        self.max.as_ref().map(|v| (v, self.max_inclusive))
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}
