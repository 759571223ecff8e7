//! Versions, build-metadata duplicates and `rust_version`.

use packgate_cargo::{VersionError, validate_rust_version, validate_version, version_identity};

#[test]
fn strict_semver_versions_pass_and_come_back_canonical() {
    for v in [
        "0.0.0",
        "1.2.3",
        "1.0.0-alpha.1",
        "1.0.0-rc.1+build.5",
        "1.0.0+20260822",
        "10.20.30",
    ] {
        assert_eq!(validate_version(v).as_deref(), Ok(v), "{v}");
    }
}

#[test]
fn non_semver_versions_are_refused() {
    assert_eq!(validate_version(""), Err(VersionError::Empty));
    for v in [
        "1", "1.0", "v1.0.0", "1.0.0 ", " 1.0.0", "01.0.0", "1.0.0-01", "1.0.0-", "1.0.0+",
        "1.0.x", "^1.0.0", "1.0.0.0", "latest",
    ] {
        match validate_version(v) {
            Err(VersionError::NotSemver { version, reason }) => {
                assert_eq!(version, v);
                assert!(!reason.is_empty());
            }
            other => panic!("{v}: {other:?}"),
        }
    }
    let msg = validate_version("v1.0.0").unwrap_err().to_string();
    assert!(
        msg.starts_with("version 'v1.0.0' is not valid SemVer"),
        "{msg}"
    );
}

#[test]
fn build_metadata_does_not_make_a_new_version() {
    assert_eq!(version_identity("1.0.0+a"), version_identity("1.0.0"));
    assert_eq!(version_identity("1.0.0+a"), version_identity("1.0.0+b"));
    assert_eq!(version_identity("2.0.0-rc.1+x.y"), "2.0.0-rc.1");
    assert_ne!(version_identity("1.0.0-a"), version_identity("1.0.0"));
}

#[test]
fn rust_version_is_two_or_three_plain_numbers() {
    for v in ["1.70", "1.70.0", "1.0", "0.9.1", "1.95.10"] {
        assert_eq!(validate_rust_version(v), Ok(()), "{v}");
    }
    for v in [
        "",
        "1",
        "1.70.0.0",
        "^1.70",
        ">=1.70",
        "=1.70",
        "1.70-beta",
        "1.70.0+x",
        "1.x",
        "1..0",
        "1.70.",
        ".1.70",
        "v1.70",
        " 1.70",
        "1.070",
        "01.70",
        "1.99999999999999999999",
        "stable",
    ] {
        assert_eq!(
            validate_rust_version(v),
            Err(VersionError::BadRustVersion(v.to_owned())),
            "{v}"
        );
    }
}

#[test]
fn search_shows_the_highest_unyanked_version_else_the_highest() {
    use packgate_cargo::search_version;
    let pick = |v: &[(&str, bool)]| search_version(v.iter().copied());
    assert_eq!(
        pick(&[("1.0.0", false), ("2.0.0", true), ("1.5.0", false)]),
        Some((2, "1.5.0".into()))
    );
    assert_eq!(
        pick(&[("1.0.0", true), ("3.0.0-beta.1", true), ("2.0.0", true)]),
        Some((1, "3.0.0-beta.1".into()))
    );
    assert_eq!(
        pick(&[("0.9.0", false), ("1.0.0+build.5", false)]),
        Some((1, "1.0.0+build.5".into()))
    );
    assert_eq!(pick(&[("not semver", false)]), None);
    assert_eq!(pick(&[]), None);
}
