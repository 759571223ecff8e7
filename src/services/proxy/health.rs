//! The upstream's health: after [`FAILURES_TO_BACK_OFF`] failures in a row the upstream is not
//! asked again (for documents and files alike) for a back-off period that starts at
//! [`FIRST_BACK_OFF`] and doubles up to [`MAX_BACK_OFF`]; a 429 backs off for its `Retry-After`.
//! One success closes it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that start a back-off.
pub const FAILURES_TO_BACK_OFF: u32 = 5;
/// The first back-off period.
pub const FIRST_BACK_OFF: Duration = Duration::from_secs(30);
/// The longest back-off period.
pub const MAX_BACK_OFF: Duration = Duration::from_secs(600);
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct State {
    failures: u32,
    until: Option<Instant>,
    next: Option<Duration>,
    last_error: Option<String>,
}

/// Failure bookkeeping of one upstream.
#[derive(Default)]
pub struct Health {
    state: Mutex<State>,
}

/// The upstream's state as the admin API and `/readyz` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HealthState {
    /// `healthy` or `backing_off`.
    pub state: &'static str,
    /// Failures in a row.
    pub failures: u32,
    /// Seconds until the upstream is asked again (while backing off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_secs: Option<u64>,
    /// The last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(seconds left)` while backing off.
    pub fn check(&self) -> Result<(), u64> {
        let s = self.lock();
        match s.until {
            Some(until) if until > Instant::now() => Err((until - Instant::now()).as_secs().max(1)),
            _ => Ok(()),
        }
    }

    /// The upstream answered (any status it meant, 404 included).
    pub fn success(&self) {
        let mut s = self.lock();
        *s = State::default();
    }

    /// The upstream failed; `retry_after` when it said how long to wait (429).
    pub fn failure(&self, error: &str, retry_after: Option<Duration>) {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        s.last_error = Some(error.to_string());
        if let Some(wait) = retry_after {
            s.until = Some(Instant::now() + wait.min(MAX_RETRY_AFTER));
            return;
        }
        if s.failures >= FAILURES_TO_BACK_OFF {
            let period = s.next.unwrap_or(FIRST_BACK_OFF);
            s.until = Some(Instant::now() + period);
            s.next = Some((period * 2).min(MAX_BACK_OFF));
        }
    }

    /// A snapshot for the admin API.
    pub fn state(&self) -> HealthState {
        let s = self.lock();
        let retry_in = s
            .until
            .filter(|u| *u > Instant::now())
            .map(|u| (u - Instant::now()).as_secs().max(1));
        HealthState {
            state: if retry_in.is_some() {
                "backing_off"
            } else {
                "healthy"
            },
            failures: s.failures,
            retry_in_secs: retry_in,
            last_error: s.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_in_a_row_back_off_and_a_success_closes_it() {
        let h = Health::default();
        for _ in 0..FAILURES_TO_BACK_OFF - 1 {
            h.failure("refused", None);
            assert!(h.check().is_ok());
        }
        h.failure("refused", None);
        assert!(h.check().is_err());
        assert_eq!(h.state().state, "backing_off");
        h.success();
        assert!(h.check().is_ok());
        assert_eq!(h.state().failures, 0);
    }

    #[test]
    fn a_retry_after_backs_off_at_once() {
        let h = Health::default();
        h.failure("429", Some(Duration::from_secs(120)));
        let left = h.check().unwrap_err();
        assert!((110..=120).contains(&left), "{left}");
    }
}
