//! The cooldown (`min_age`): versions published less than `min_age` ago are not served by a proxy
//! repository, and versions without a known publish time follow `min_age_unknown`. The formats
//! find the publish times in their documents; this is the one verdict they all apply.

use crate::config::{MinAgeUnknown, ProxySettings};
use crate::services::time::parse_rfc3339;

/// The cooldown in force for one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooldown {
    /// Now, in ms since the epoch.
    pub now_ms: i64,
    /// Versions published less than this long ago are hidden.
    pub min_age_ms: i64,
    /// Whether a version without a known publish time is kept.
    pub allow_unknown: bool,
}

impl Cooldown {
    /// The cooldown of package `name` at `now_ms`, or `None` when none applies (no `min_age`, or
    /// an exempt name).
    pub fn of(settings: &ProxySettings, name: &str, now_ms: i64) -> Option<Self> {
        settings.cooldown_applies(name).then(|| Self {
            now_ms,
            min_age_ms: settings.min_age.as_millis() as i64,
            allow_unknown: settings.min_age_unknown == MinAgeUnknown::Allow,
        })
    }

    /// Whether a version published at `published` (ms; `None`: unknown) is served.
    pub fn allows(&self, published: Option<i64>) -> bool {
        match published {
            Some(t) => self.now_ms - t >= self.min_age_ms,
            None => self.allow_unknown,
        }
    }

    /// [`Cooldown::allows`] for a publish time as the upstream wrote it (`None`: absent); one that
    /// does not parse ([`parse_rfc3339`]) is unknown.
    pub fn allows_raw(&self, published: Option<&str>) -> bool {
        self.allows(published.and_then(parse_rfc3339))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn cooldown(allow_unknown: bool) -> Cooldown {
        Cooldown {
            now_ms: parse_rfc3339("2024-06-10T00:00:00Z").unwrap(),
            min_age_ms: 3 * DAY,
            allow_unknown,
        }
    }

    #[test]
    fn young_versions_are_hidden_and_old_ones_served() {
        let c = cooldown(true);
        assert!(c.allows(Some(c.now_ms - 3 * DAY)));
        assert!(!c.allows(Some(c.now_ms - 3 * DAY + 1)));
        assert!(c.allows_raw(Some("2024-06-01T00:00:00Z")));
        assert!(!c.allows_raw(Some("2024-06-09 12:00:00 UTC")));
    }

    #[test]
    fn unknown_and_unreadable_publish_times_follow_the_setting() {
        for raw in [None, Some("yesterday")] {
            assert!(cooldown(true).allows_raw(raw), "{raw:?}");
            assert!(!cooldown(false).allows_raw(raw), "{raw:?}");
        }
    }
}
