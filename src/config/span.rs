//! Human-readable durations in configuration (`"5m"`, `"30s"`, `"7d"`, `"0"`, `300`).

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// A duration, written in TOML as whole seconds or a string with a unit (`s`, `m`, `h`, `d`;
/// `ms` for sub-second values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span(pub Duration);

impl Span {
    /// Parses `"0"`, `"45"`, `"45s"`, `"5m"`, `"2h"`, `"7d"`, `"1h30m"`, `"250ms"`.
    pub fn parse(s: &str) -> Result<Span, String> {
        let text = s.trim();
        if text.is_empty() {
            return Err("empty duration".into());
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let split = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (num, tail) = rest.split_at(split);
            let n: u64 = num
                .parse()
                .map_err(|_| format!("invalid duration {text:?} (try \"30s\", \"5m\", \"7d\")"))?;
            let unit_len = tail
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(tail.len());
            let (unit, next) = tail.split_at(unit_len);
            let part = match unit.trim() {
                "" | "s" => Duration::from_secs(n),
                "ms" => Duration::from_millis(n),
                "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
                "h" => Duration::from_secs(n.saturating_mul(3600)),
                "d" => Duration::from_secs(n.saturating_mul(86_400)),
                other => {
                    return Err(format!(
                        "unknown duration unit {other:?} in {text:?} (use ms, s, m, h or d)"
                    ));
                }
            };
            total = total.saturating_add(part);
            rest = next;
        }
        Ok(Span(total))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Span(Duration::from_secs(n))),
            Raw::S(s) => Span::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Span;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_and_without_units() {
        let p = |s: &str| Span::parse(s).map(|d| d.0);
        assert_eq!(p("0"), Ok(Duration::ZERO));
        assert_eq!(p("45"), Ok(Duration::from_secs(45)));
        assert_eq!(p("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(p("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(p("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(p("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(p("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(p("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "m", "5 weeks", "5y", "-1s"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
