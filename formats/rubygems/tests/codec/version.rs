//! Version syntax, the prerelease rule and `Gem::Version` ordering.

use std::cmp::Ordering;

use packgate_rubygems::{
    NameError, compare_versions, is_prerelease, validate_version, version_key,
};

#[test]
fn gem_build_versions_are_accepted() {
    for v in [
        "0",
        "1.0",
        "0.1.0",
        "1.0.0.pre",
        "2.0.0.rc1",
        "1.0.0.pre.beta",
        "1.0.a",
        "2024.06.01",
        "10.0.0.beta.2",
    ] {
        assert_eq!(validate_version(v), Ok(()), "{v}");
    }
}

#[test]
fn malformed_versions_are_refused() {
    for v in [
        "",
        "1.0-beta",
        "v1.0",
        ".1",
        "1..0",
        "1.0.",
        "1.0 ",
        "1,0",
        "1.0+build",
        "a1",
        &"1".repeat(65),
    ] {
        let err = validate_version(v).unwrap_err();
        assert!(matches!(err, NameError::Version { .. }), "{v:?}: {err}");
    }
    let msg = validate_version("1.0-beta").unwrap_err().to_string();
    assert!(msg.contains(".pre."), "{msg}");
}

#[test]
fn a_version_with_a_letter_is_a_prerelease() {
    for v in ["1.0.0.pre", "2.0.0.rc1", "1.0.a", "1.0.0.pre.beta"] {
        assert!(is_prerelease(v), "{v}");
    }
    for v in ["1.0", "0.1.0", "2024.06.01"] {
        assert!(!is_prerelease(v), "{v}");
    }
}

#[test]
fn versions_compare_like_gem_version() {
    use Ordering::*;
    let cases = [
        ("1.0", "1.0", Equal),
        ("1.0", "1.0.0", Equal),
        ("1.0.0.0", "1", Equal),
        ("1.9", "1.10", Less),
        ("1.0.10", "1.0.9", Greater),
        ("1.0.a", "1.0", Less),
        ("1.0.0.pre", "1.0.0", Less),
        ("1.0.0.rc1", "1.0.0.beta", Greater),
        ("1.0.0.beta.2", "1.0.0.beta.10", Less),
        ("1.0.0.rc1", "1.0.0.rc.1", Equal),
        ("1.0.a", "1.0.0.a", Equal),
        ("1.0.1.a", "1.0.1", Less),
        ("1.0.1.a", "1.0.0", Greater),
        ("2", "10", Less),
        ("1.0.a.0", "1.0.a", Equal),
    ];
    for (a, b, want) in cases {
        assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
    }
}

#[test]
fn sorting_gives_release_order() {
    let mut versions = vec![
        "1.10.0",
        "1.2.0",
        "1.2.0.rc1",
        "0.9",
        "1.2.0.beta",
        "2.0.0.pre",
        "1.2",
    ];
    versions.sort_by(|a, b| compare_versions(a, b));
    assert_eq!(
        versions,
        [
            "0.9",
            "1.2.0.beta",
            "1.2.0.rc1",
            "1.2.0",
            "1.2",
            "1.10.0",
            "2.0.0.pre"
        ]
    );
}

#[test]
fn the_ruby_platform_has_no_suffix_in_the_version_key() {
    assert_eq!(version_key("1.0.0", "ruby"), "1.0.0");
    assert_eq!(version_key("1.0.0", ""), "1.0.0");
    assert_eq!(version_key("1.0.0", "x86_64-linux"), "1.0.0-x86_64-linux");
    assert_eq!(version_key("2.0.0.pre", "java"), "2.0.0.pre-java");
}
