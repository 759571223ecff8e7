//! Timestamps: stored as Unix milliseconds, shown as ISO-8601 UTC (`2024-06-01T10:00:00.000Z`).

/// Now, in Unix milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// ISO-8601 UTC with milliseconds, as npm and most registries print it.
pub fn iso8601(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01, the inverse of [`civil_from_days`] (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a publish time as registries write it to Unix milliseconds: RFC 3339
/// (`2024-05-01T12:30:00.123Z`; `T`, `t` or a space between date and time; any number of
/// fraction digits, milliseconds kept; `Z` or a numeric offset `+01:00` / `+0100`) and Ruby's
/// `Time#to_s` (`2024-05-01 12:30:00 UTC`, `2024-05-01 12:30:00 -0500`). `None` when it is not
/// one of these (a time without a zone included).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, rest) = s.trim().split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let da: i64 = d.next()?.parse().ok()?;
    let (clock, offset_ms) = if let Some(c) = rest
        .strip_suffix(['Z', 'z'])
        .or_else(|| rest.strip_suffix(" UTC"))
    {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(at);
        let c = c.strip_suffix(' ').unwrap_or(c);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits = off[1..].replace(':', "");
        if digits.len() != 4 {
            return None;
        }
        let mins = digits[..2].parse::<i64>().ok()? * 60 + digits[2..].parse::<i64>().ok()?;
        (c, sign * mins * 60_000)
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let se: i64 = t.next()?.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: i64 = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, da);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) * 1000 + ms) - offset_ms)
}

/// Parses a duration like `30d`, `12h`, `90m`, `3600s` or `2w` into milliseconds.
pub fn parse_duration_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_match_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_717_236_000_123), "2024-06-01T10:00:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in [
            -800_000, -719_468, -1, 0, 1, 59, 60, 11_016, 19_875, 2_000_000,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                days_from_civil(y, i64::from(m), i64::from(d)),
                days,
                "{y}-{m}-{d}"
            );
        }
    }

    #[test]
    fn timestamps_parse_in_utc_and_with_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339("1970-01-01T01:00:00.1234567+01:00"),
            Some(123)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00.000Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(
            parse_rfc3339("2024-06-01T10:00:00.000Z"),
            Some(1_717_236_000_000)
        );
        assert_eq!(
            parse_rfc3339("1900-01-01T00:00:00+00:00"),
            Some(-2_208_988_800_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn pubtimes_parse_in_utc() {
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn timestamps_in_rfc3339_and_ruby_forms_parse_to_the_same_instant() {
        let t = 1_717_236_000_000;
        assert_eq!(parse_rfc3339("2024-06-01T10:00:00Z"), Some(t));
        assert_eq!(parse_rfc3339("2024-06-01 10:00:00 UTC"), Some(t));
        assert_eq!(parse_rfc3339("2024-06-01T12:00:00+02:00"), Some(t));
        assert_eq!(parse_rfc3339("2024-06-01 05:00:00 -0500"), Some(t));
        assert_eq!(parse_rfc3339("2024-06-01T10:00:00.250Z"), Some(t + 250));
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-06-01T10:00:00",
            "2024-06-01T10:00:00.1x2Z",
            "2024-06-01T10:00:00+1:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_millis("30d"), Some(30 * 86_400_000));
        assert_eq!(parse_duration_millis("90m"), Some(90 * 60_000));
        assert_eq!(parse_duration_millis("7"), None);
        assert_eq!(parse_duration_millis("3y"), None);
    }
}
