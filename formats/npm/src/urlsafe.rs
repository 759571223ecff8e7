//! The character set JavaScript's `encodeURIComponent` leaves alone.
//!
//! npm's name rules (validate-npm-package-name) and dist-tag rules are phrased as
//! "`encodeURIComponent(x) === x`"; this module is that test without a JavaScript engine.
//! See `docs/formats/npm.md` and protocol reference §2.

/// True when `encodeURIComponent(s) == s`: every character is an ASCII letter or digit or one
/// of `-_.!~*'()`.
pub(crate) fn is_uri_component_safe(s: &str) -> bool {
    s.bytes().all(is_unreserved)
}

/// One byte of the `encodeURIComponent` unreserved set.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

#[cfg(test)]
mod tests {
    use super::is_uri_component_safe;

    #[test]
    fn unreserved_set_matches_encode_uri_component() {
        for ok in ["abc", "A-Z_0.9", "!~*'()", ""] {
            assert!(is_uri_component_safe(ok), "{ok}");
        }
        for bad in ["a b", "a/b", "@x", "%20", "é", "a+b", "a:b", "^1"] {
            assert!(!is_uri_component_safe(bad), "{bad}");
        }
    }
}
