//! Unit tests of the proxy codec: index files as the public registry writes them.

use super::*;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// Lines as the public registry writes them: unknown fields, `features2`, `v`, `pubtime`.
fn index() -> String {
    format!(
        concat!(
            "{{\"name\":\"Widget\",\"vers\":\"1.0.0\",\"deps\":[],\"cksum\":\"{a}\",\"features\":{{}},\"yanked\":true,\"rust_version\":\"1.70\",\"pubtime\":\"2020-01-01T00:00:00Z\"}}\n",
            "{{\"name\":\"Widget\",\"vers\":\"2.0.0\",\"deps\":[],\"cksum\":\"{b}\",\"features\":{{}},\"features2\":{{\"x\":[\"dep:y\"]}},\"v\":2,\"yanked\":false,\"pubtime\":\"2024-06-02T00:00:00Z\",\"future\":{{\"k\":1}}}}\n",
            "{{\"name\":\"Widget\",\"vers\":\"3.0.0-rc.1\",\"deps\":[],\"cksum\":\"{a}\",\"features\":{{}},\"yanked\":false}}\n"
        ),
        a = A,
        b = B
    )
}

/// A cooldown's verdict for the fixtures' `pubtime`s (all in one RFC 3339 form, so they compare
/// as text): published before `cutoff`, or unknown and `allow_unknown`.
fn cooldown(cutoff: &'static str, allow_unknown: bool) -> impl Fn(Option<&str>) -> bool {
    move |pubtime| pubtime.map_or(allow_unknown, |t| t < cutoff)
}

#[test]
fn index_files_with_unknown_fields_are_valid() {
    assert_eq!(validate_index_file(index().as_bytes()), Ok(()));
    assert_eq!(validate_index_file(b""), Ok(()));
    assert_eq!(validate_index_file(b"\n"), Ok(()));
}

#[test]
fn malformed_lines_make_an_index_file_invalid() {
    let bad = [
        "not json\n".to_string(),
        format!("{{\"name\":\"w\",\"vers\":\"1.0.0\",\"cksum\":\"{A}\"}}\n{{\"name\":\"w\"}}\n"),
        "{\"name\":\"w\",\"vers\":\"1.0.0\",\"cksum\":\"abc\"}\n".to_string(),
        format!(
            "{{\"name\":\"w\",\"vers\":\"1.0.0\",\"cksum\":\"{A}\"}}\n{{\"name\":\"other\",\"vers\":\"1.0.0\",\"cksum\":\"{A}\"}}\n"
        ),
    ];
    for body in bad {
        assert!(validate_index_file(body.as_bytes()).is_err(), "{body}");
    }
    assert!(validate_index_file(&[0xff, 0xfe]).is_err());
}

#[test]
fn a_version_is_found_with_its_checksum_and_publish_time() {
    let body = index();
    let line = find_version(body.as_bytes(), "widget", "2.0.0").unwrap();
    assert_eq!(line.name, "Widget");
    assert_eq!(line.cksum, B);
    assert_eq!(line.pubtime.as_deref(), Some("2024-06-02T00:00:00Z"));
    assert!(!line.yanked);
    assert!(line.line.contains("\"future\""));
    assert!(!line.line.ends_with('\n'));
    assert!(
        find_version(body.as_bytes(), "Widget", "1.0.0")
            .unwrap()
            .yanked
    );
    assert_eq!(find_version(body.as_bytes(), "widget", "9.9.9"), None);
    assert_eq!(find_version(body.as_bytes(), "gadget", "1.0.0"), None);
}

#[test]
fn a_cooldown_drops_young_lines_and_keeps_the_others_byte_identical() {
    let body = index();
    let kept = filter_index(body.as_bytes(), &cooldown("2024-05-31T00:00:00Z", true));
    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    assert_eq!(&*kept, format!("{}{}", lines[0], lines[2]).as_bytes());
    let denied = filter_index(body.as_bytes(), &cooldown("2024-05-31T00:00:00Z", false));
    assert_eq!(&*denied, lines[0].as_bytes());
}

#[test]
fn without_hidden_lines_the_upstream_bytes_are_served_as_they_came() {
    let body = index();
    let later = filter_index(body.as_bytes(), &cooldown("2029-12-29T00:00:00Z", true));
    assert!(matches!(later, Cow::Borrowed(_)));
    assert_eq!(&*later, body.as_bytes());
}

#[test]
fn dl_templates_expand_like_cargo() {
    let c = "c0ffee";
    assert_eq!(
        download_url("https://dl.example/api/v1/crates", "Serde_X", "1.0.0", c),
        "https://dl.example/api/v1/crates/Serde_X/1.0.0/download"
    );
    assert_eq!(
        download_url("https://dl.example/crates/", "a", "0.1.0", c),
        "https://dl.example/crates/a/0.1.0/download"
    );
    assert_eq!(
        download_url(
            "https://dl.example/{prefix}/{lowerprefix}/{crate}/{crate}-{version}.crate?h={sha256-checksum}",
            "MyCr",
            "1.2.3",
            c
        ),
        "https://dl.example/My/Cr/my/cr/MyCr/MyCr-1.2.3.crate?h=c0ffee"
    );
    assert_eq!(
        download_url("https://dl.example/{prefix}/{crate}", "abc", "1.0.0", c),
        "https://dl.example/3/a/abc"
    );
    assert_eq!(dep_prefix("a"), "1");
    assert_eq!(dep_prefix("ab"), "2");
}

#[test]
fn config_json_needs_a_dl() {
    let c =
        parse_config(br#"{"dl":"https://x/d","api":"https://x","auth-required":false}"#).unwrap();
    assert_eq!(c.dl, "https://x/d");
    assert_eq!(c.api.as_deref(), Some("https://x"));
    assert_eq!(parse_config(br#"{"dl":"https://x/d"}"#).unwrap().api, None);
    assert!(validate_config(br#"{"api":"https://x"}"#).is_err());
    assert!(validate_config(br#"{"dl":" "}"#).is_err());
    assert!(validate_config(b"[]").is_err());
}

#[test]
fn index_names_are_lower_cased_and_must_be_plausible() {
    assert_eq!(index_name("Serde_JSON").as_deref(), Some("serde_json"));
    assert_eq!(index_name("../etc"), None);
    assert_eq!(index_name(""), None);
}

#[test]
fn unreadable_publish_times_count_as_unknown() {
    let line =
        format!("{{\"name\":\"w\",\"vers\":\"1.0.0\",\"cksum\":\"{A}\",\"pubtime\":\"soon\"}}\n");
    // The raw text reaches the verdict (where it does not parse, so it is unknown); a line that
    // is not JSON has no publish time at all.
    let seen = std::cell::RefCell::new(Vec::new());
    let keep = |t: Option<&str>| {
        seen.borrow_mut().push(t.map(str::to_owned));
        false
    };
    assert!(filter_index(line.as_bytes(), &keep).is_empty());
    assert!(filter_index(b"not json\n", &keep).is_empty());
    seen.borrow_mut().dedup();
    assert_eq!(*seen.borrow(), [Some("soon".to_string()), None]);
    let line = find_version(line.as_bytes(), "w", "1.0.0").expect("line");
    assert_eq!(line.pubtime.as_deref(), Some("soon"));
}
