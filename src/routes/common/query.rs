//! Query-string parsing shared by the formats' search endpoints.

/// `a=1&b=x+y` as decoded (key, value) pairs: `+` is a space, `%XX` escapes are decoded
/// (invalid UTF-8 replaced), empty pairs skipped.
pub fn pairs(qs: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    qs.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairs_decode_plus_and_percent_escapes() {
        assert_eq!(
            super::pairs("q=my+crate&per_page=5&&text=%40acme%2Fw"),
            vec![
                ("q".into(), "my crate".into()),
                ("per_page".into(), "5".into()),
                ("text".into(), "@acme/w".into())
            ]
        );
    }
}
