//! Package names, versions and dist-tag names.

use packgate_npm::{
    NameError, VersionError, decode_name, validate_dist_tag, validate_new_name, validate_version,
};

#[test]
fn good_new_names_pass() {
    let long = "a".repeat(214);
    let long_scoped = format!("@s/{}", "b".repeat(211));
    for name in [
        "left-pad",
        "a",
        "x.js",
        "lodash_merge",
        "@acme/widget",
        "@a/b",
        "9to5",
        "a-b.c_d",
        long.as_str(),
        long_scoped.as_str(),
    ] {
        assert_eq!(validate_new_name(name), Ok(()), "{name}");
    }
}

#[test]
fn each_name_rule_has_its_own_error() {
    let too_long = "a".repeat(215);
    let too_long_scoped = format!("@s/{}", "b".repeat(212));
    let cases: Vec<(&str, NameError)> = vec![
        ("", NameError::Empty),
        (&too_long, NameError::TooLong(215)),
        (&too_long_scoped, NameError::TooLong(215)),
        (" left-pad", NameError::Spaces),
        ("left-pad ", NameError::Spaces),
        (".hidden", NameError::LeadingDotOrUnderscore),
        ("_private", NameError::LeadingDotOrUnderscore),
        ("@acme/.x", NameError::LeadingDotOrUnderscore),
        ("@acme/_x", NameError::LeadingDotOrUnderscore),
        ("node_modules", NameError::Reserved("node_modules".into())),
        ("favicon.ico", NameError::Reserved("favicon.ico".into())),
        ("@acme", NameError::BadScope),
        ("@/widget", NameError::BadScope),
        ("@acme/", NameError::BadScope),
        ("@acme/a/b", NameError::BadScope),
        ("a/b", NameError::BadScope),
        ("LeftPad", NameError::UpperCase),
        ("@Acme/widget", NameError::UpperCase),
        ("left~pad", NameError::SpecialChar('~')),
        ("it's", NameError::SpecialChar('\'')),
        ("wow!", NameError::SpecialChar('!')),
        ("a(b)", NameError::SpecialChar('(')),
        ("star*", NameError::SpecialChar('*')),
        ("a..b", NameError::DotDot),
        ("a b", NameError::NotUrlSafe("a b".into())),
        ("a:b", NameError::NotUrlSafe("a:b".into())),
        ("café", NameError::NotUrlSafe("café".into())),
        ("@ac me/widget", NameError::NotUrlSafe("ac me".into())),
        ("@acme/wid%get", NameError::NotUrlSafe("wid%get".into())),
        ("@acme/wid@get", NameError::NotUrlSafe("wid@get".into())),
    ];
    for (name, want) in cases {
        assert_eq!(validate_new_name(name), Err(want), "{name:?}");
    }
    let msg = validate_new_name(".x").unwrap_err().to_string();
    assert_eq!(msg, "package name must not start with '.' or '_'");
}

#[test]
fn names_decode_from_raw_url_segments() {
    let cases = [
        ("@scope%2fname", Some("@scope/name")),
        ("@scope%2Fname", Some("@scope/name")),
        ("%40scope%2fname", Some("@scope/name")),
        ("%40scope%2Fname", Some("@scope/name")),
        ("@scope/name", Some("@scope/name")),
        ("left-pad", Some("left-pad")),
        ("Old.Mixed_Case", Some("Old.Mixed_Case")),
        ("-", None),
        ("%2e%2e", None),
        ("@scope%2fa%2fb", None),
        ("name%2fother", None),
        ("", None),
    ];
    for (raw, want) in cases {
        assert_eq!(decode_name(raw).as_deref(), want, "{raw}");
    }
}

#[test]
fn versions_must_be_strict_semver() {
    for v in [
        "1.2.3",
        "0.0.0",
        "1.2.3-beta.1",
        "1.2.3+build.5",
        "1.2.3-rc.1+b",
        "10.20.30-alpha-1",
    ] {
        assert_eq!(validate_version(v).as_deref(), Ok(v), "{v}");
    }
    type Check = fn(&VersionError) -> bool;
    let cases: Vec<(&str, Check)> = vec![
        ("", |e| matches!(e, VersionError::Empty)),
        ("v1.2.3", |e| matches!(e, VersionError::LeadingV(_))),
        ("1.2.3 ", |e| matches!(e, VersionError::Spaces(_))),
        (" 1.2.3", |e| matches!(e, VersionError::Spaces(_))),
        ("1.2", |e| matches!(e, VersionError::NotSemver { .. })),
        ("1.2.3.4", |e| matches!(e, VersionError::NotSemver { .. })),
        ("01.2.3", |e| matches!(e, VersionError::NotSemver { .. })),
        ("1.2.3-01", |e| matches!(e, VersionError::NotSemver { .. })),
        ("1.2.3-", |e| matches!(e, VersionError::NotSemver { .. })),
        ("=1.2.3", |e| matches!(e, VersionError::NotSemver { .. })),
        ("latest", |e| matches!(e, VersionError::NotSemver { .. })),
    ];
    for (v, check) in cases {
        let err = validate_version(v).expect_err(v);
        assert!(check(&err), "{v:?}: {err:?}");
    }
}

#[test]
fn dist_tags_must_be_names_not_ranges() {
    for tag in [
        "latest",
        "beta",
        "next",
        "canary",
        "rc",
        "v1-next",
        "release-2024.06",
        "1-beta",
        "x1",
        "a_b",
    ] {
        assert_eq!(validate_dist_tag(tag), Ok(()), "{tag}");
    }
    let long = "t".repeat(129);
    let cases: Vec<(&str, VersionError)> = vec![
        ("", VersionError::TagEmpty),
        (&long, VersionError::TagTooLong(129)),
        ("1.2.3", VersionError::TagIsRange("1.2.3".into())),
        ("v1", VersionError::TagIsRange("v1".into())),
        ("1", VersionError::TagIsRange("1".into())),
        ("1.x", VersionError::TagIsRange("1.x".into())),
        ("*", VersionError::TagIsRange("*".into())),
        ("x", VersionError::TagIsRange("x".into())),
        ("^2", VersionError::TagIsRange("^2".into())),
        ("~1.2", VersionError::TagIsRange("~1.2".into())),
        ("1 - 2", VersionError::TagIsRange("1 - 2".into())),
        ("||", VersionError::TagIsRange("||".into())),
        (">=1.0.0", VersionError::TagIsRange(">=1.0.0".into())),
        ("beta tag", VersionError::TagNotUrlSafe("beta tag".into())),
        ("a/b", VersionError::TagNotUrlSafe("a/b".into())),
        ("ünï", VersionError::TagNotUrlSafe("ünï".into())),
    ];
    for (tag, want) in cases {
        assert_eq!(validate_dist_tag(tag), Err(want), "{tag:?}");
    }
}
