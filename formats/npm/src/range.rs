//! Recognizer for npm's SemVer range syntax (node-semver, strict mode), used to refuse dist-tag
//! names that look like ranges.
//!
//! npm's `dist-tag add` refuses a tag when `semver.validRange(tag)` is not null (protocol
//! reference §2.2); the server repeats the check. This is a recognizer only: it answers "would
//! node-semver accept this as a range", it does not evaluate ranges. Grammar as in node-semver's
//! `internal/re.js`: `||`-separated sets of space-separated comparators, hyphen ranges, `~`,
//! `~>`, `^`, `<`, `>`, `<=`, `>=`, `=` operators, `x`/`X`/`*` wildcards and `v`/`=` prefixes.

/// True when node-semver would parse `s` as a valid range (`semver.validRange(s) !== null`).
pub(crate) fn is_npm_range(s: &str) -> bool {
    s.split("||").all(|part| is_range_part(part.trim()))
}

/// One `||`-separated alternative: a hyphen range or space-separated comparators.
fn is_range_part(part: &str) -> bool {
    let words: Vec<&str> = part.split_whitespace().collect();
    if let [low, "-", high] = words.as_slice() {
        return is_xrange_plain(low) && is_xrange_plain(high);
    }
    let mut tokens = Vec::with_capacity(words.len());
    let mut pending_op: Option<String> = None;
    for word in words {
        // node-semver glues a lone operator to the version after it ("> 1.2" means ">1.2").
        let token = match pending_op.take() {
            Some(op) => op + word,
            None => word.to_owned(),
        };
        if matches!(
            token.as_str(),
            "<" | ">" | "<=" | ">=" | "=" | "~" | "~>" | "^"
        ) {
            pending_op = Some(token);
        } else {
            tokens.push(token);
        }
    }
    pending_op.is_none() && tokens.iter().all(|t| is_comparator(t))
}

/// One comparator: `~x`, `~>x`, `^x`, `[<>]=?x`, `=x` or `x` where x is an x-range, or
/// something that becomes a full comparator once node-semver drops its first `*`.
fn is_comparator(token: &str) -> bool {
    if let Some(rest) = token.strip_prefix("~>").or_else(|| token.strip_prefix('~')) {
        return is_xrange_plain(rest);
    }
    if let Some(rest) = token.strip_prefix('^') {
        return is_xrange_plain(rest);
    }
    if is_xrange_plain(strip_gtlt(token)) {
        return true;
    }
    // replaceStars: removes the first `(<|>)?=?\*`, then the rest must be a plain comparator.
    match token.find('*') {
        Some(star) => {
            let head = token[..star].trim_end_matches('=');
            let head = head.strip_suffix(['<', '>']).unwrap_or(head);
            let rest = format!("{head}{}", &token[star + 1..]);
            rest.is_empty() || is_full_plain(strip_gtlt(&rest))
        }
        None => false,
    }
}

/// Drops a leading `<`, `>`, `<=`, `>=` or `=`.
fn strip_gtlt(s: &str) -> &str {
    let s = s.strip_prefix(['<', '>']).unwrap_or(s);
    s.strip_prefix('=').unwrap_or(s)
}

/// `[v=]* xr ( . xr ( . xr pre? build? )? )?` with xr = `x | X | * | numeric`.
fn is_xrange_plain(s: &str) -> bool {
    let s = s.trim_start_matches(['v', '=']);
    let (core, has_qualifier) = split_qualifier(s);
    let Some(core) = core else { return false };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || (has_qualifier && parts.len() != 3) {
        return false;
    }
    parts
        .iter()
        .all(|p| matches!(*p, "x" | "X" | "*") || is_numeric_id(p))
}

/// `v? N.N.N pre? build?` (node-semver's FULLPLAIN).
fn is_full_plain(s: &str) -> bool {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (Some(core), _) = split_qualifier(s) else {
        return false;
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| is_numeric_id(p))
}

/// Splits off and checks `-prerelease` and `+build`. Returns the main part (None when a
/// qualifier is malformed) and whether any qualifier was present.
fn split_qualifier(s: &str) -> (Option<&str>, bool) {
    let (rest, build) = match s.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (s, None),
    };
    if let Some(build) = build {
        let ok = build
            .split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !ok {
            return (None, true);
        }
    }
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    if let Some(pre) = pre
        && !pre.split('.').all(is_prerelease_id)
    {
        return (None, true);
    }
    (Some(core), build.is_some() || pre.is_some())
}

/// `0 | [1-9][0-9]*`.
fn is_numeric_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// A numeric identifier, or alphanumerics and `-` with at least one non-digit.
fn is_prerelease_id(s: &str) -> bool {
    is_numeric_id(s)
        || (!s.is_empty()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && s.bytes().any(|b| !b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::is_npm_range;

    #[test]
    fn node_semver_ranges_are_recognized() {
        for r in [
            "1",
            "v1",
            "1.x",
            "1.X",
            "1.2.*",
            "*",
            "x",
            "^2",
            "~1.2",
            "~>1.2",
            "1 - 2",
            "||",
            "1.2.3",
            "=1.2.3",
            "vv=1",
            ">=1.2.3 <2",
            "> 1.2",
            "1.2.3-beta.1",
            "1.2.3+b",
            "^1.2.3-rc.0",
            "1 || 2",
            "",
            "1.2.3*",
            ">*",
        ] {
            assert!(is_npm_range(r), "{r:?} should be a range");
        }
    }

    #[test]
    fn tag_like_words_are_not_ranges() {
        for t in [
            "latest",
            "beta",
            "next",
            "canary",
            "1-beta",
            "v1-next",
            "1.2-rc",
            "1.2.3.4",
            "01",
            "1.02.3",
            "x1",
            "~beta",
            "^",
            "rc.1",
            "1.2.3-01",
            "1.2.3+",
            "release-2024",
            "**",
        ] {
            assert!(!is_npm_range(t), "{t:?} should not be a range");
        }
    }
}
