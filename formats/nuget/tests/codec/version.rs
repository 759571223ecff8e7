//! NuGet versions: normalization, SemVer ordering with the revision, identity, accessors and
//! malformed versions.

use packgate_nuget::NuGetVersion;

fn v(s: &str) -> NuGetVersion {
    NuGetVersion::parse(s).unwrap()
}

#[test]
fn normalization_table_of_the_reference() {
    let table = [
        ("1.0", "1.0.0", "1.0.0", "1.0.0"),
        ("1.00.01", "1.0.1", "1.0.1", "1.0.1"),
        ("1.0.0.0", "1.0.0", "1.0.0", "1.0.0"),
        ("1.0.0.5", "1.0.0.5", "1.0.0.5", "1.0.0.5"),
        (
            "2.1.0-Beta.2+sha.abc",
            "2.1.0-Beta.2",
            "2.1.0-beta.2",
            "2.1.0-Beta.2+sha.abc",
        ),
        ("3", "3.0.0", "3.0.0", "3.0.0"),
        ("1.0-rc-1+b-2", "1.0.0-rc-1", "1.0.0-rc-1", "1.0.0-rc-1+b-2"),
    ];
    for (input, normalized, lower, full) in table {
        let x = v(input);
        assert_eq!(x.normalized(), normalized, "{input}");
        assert_eq!(x.lower(), lower, "{input}");
        assert_eq!(x.full(), full, "{input}");
        assert_eq!(x.to_string(), full, "{input}");
    }
}

#[test]
fn ordering_follows_semver_with_revision() {
    let order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.0.1",
        "1.0.1",
    ];
    for pair in order.windows(2) {
        assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
    }
    // Labels compare case-insensitively, not by byte ('B' < 'a' in ASCII).
    assert!(v("1.0.0-a") < v("1.0.0-B"));
}

#[test]
fn identity_ignores_zeros_case_and_metadata() {
    use std::collections::HashSet;
    let same = [
        ("1.0", "1.0.0.0"),
        ("1.0.0-beta", "1.0.0-BETA"),
        ("1.0.0+a", "1.0.0+b"),
    ];
    for (a, b) in same {
        assert_eq!(v(a), v(b), "{a} == {b}");
        assert_eq!(v(a).lower(), v(b).lower());
        let set: HashSet<_> = [v(a), v(b)].into_iter().collect();
        assert_eq!(set.len(), 1);
    }
    // Numerically equal identifiers with leading zeros are distinct versions (distinct keys).
    assert_ne!(v("1.0.0-01"), v("1.0.0-1"));
    assert!(v("1.0.0-1") < v("1.0.0-01") && v("1.0.0-01") < v("1.0.0-2"));
}

#[test]
fn accessors_and_semver2() {
    let x = v("1.0.0-rc.1+git.5");
    assert!(x.is_prerelease() && x.is_semver2());
    assert_eq!((x.release(), x.metadata()), (Some("rc.1"), Some("git.5")));
    assert!(!v("1.0.0-rc1").is_semver2());
    assert!(v("1.0.0+m").is_semver2() && !v("1.0.0+m").is_prerelease());
    assert_eq!(v("1.2.3.4").parts(), [1, 2, 3, 4]);
    assert_eq!(v("2147483647").parts()[0], 2_147_483_647);
}

#[test]
fn malformed_versions_are_refused() {
    for bad in [
        "",
        "1.",
        "a.b",
        "1.2.3.4.5",
        "1.0-",
        "1.0+",
        "1.0.0-be$ta",
        " 1.0",
        "1.0 ",
        "99999999999",
        "2147483648",
        "1..0",
        "+1.0",
        "1.0.0-a..b",
        "1.0.0+a+b",
        "-1.0",
        "v1.0",
    ] {
        let err = NuGetVersion::parse(bad).unwrap_err();
        assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
    }
}
