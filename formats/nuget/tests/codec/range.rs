//! Version ranges: every form parses and normalizes, bad ranges are refused, and inclusive and
//! exclusive bounds.

use packgate_nuget::{NuGetVersion, VersionRange};

fn r(s: &str) -> VersionRange {
    VersionRange::parse(s).unwrap()
}

fn v(s: &str) -> NuGetVersion {
    NuGetVersion::parse(s).unwrap()
}

#[test]
fn every_form_parses_and_normalizes() {
    let table = [
        ("1.0", "[1.0.0, )"),
        ("[1.0, )", "[1.0.0, )"),
        ("(1.0,)", "(1.0.0, )"),
        ("(,1.0]", "(, 1.0.0]"),
        ("[,1.0)", "(, 1.0.0)"),
        ("[1.0,2.0)", "[1.0.0, 2.0.0)"),
        (" [ 1.0 , 2.0.0.0 ] ", "[1.0.0, 2.0.0]"),
        ("[1.0]", "[1.0.0]"),
        ("[1.0,1.0]", "[1.0.0]"),
        ("[13.0.1-Beta+meta, )", "[13.0.1-Beta, )"),
        ("", ""),
        ("   ", ""),
    ];
    for (input, normalized) in table {
        assert_eq!(r(input).normalized(), normalized, "{input:?}");
    }
    assert!(r("").is_any() && !r("1.0").is_any());
    assert_eq!(r("[1.0,2.0)").min(), Some((&v("1.0"), true)));
    assert_eq!(r("[1.0,2.0)").max(), Some((&v("2.0"), false)));
    assert!(r("[1.0.0-rc.1, )").is_semver2() && !r("[1.0, 2.0)").is_semver2());
}

#[test]
fn bad_ranges_are_refused() {
    for bad in [
        "*",
        "1.*",
        "[1.0,*)",
        "(,)",
        "[,]",
        "(1.0)",
        "[1.0)",
        "(1.0]",
        "[]",
        "[2.0,1.0]",
        "(1.0,1.0]",
        "[1.0,2.0",
        "1.0,2.0]",
        "[1.0,2.0,3.0]",
        "[a,b]",
        "(",
        "[1.0 2.0]",
    ] {
        let err = VersionRange::parse(bad).unwrap_err();
        assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
    }
}

#[test]
fn satisfies_respects_inclusive_and_exclusive_bounds() {
    let range = r("[1.0,2.0)");
    assert!(range.satisfies(&v("1.0.0")) && range.satisfies(&v("1.9.9")));
    assert!(!range.satisfies(&v("2.0")) && !range.satisfies(&v("0.9")));
    assert!(
        range.satisfies(&v("2.0.0-beta")),
        "prereleases sort below 2.0.0"
    );
    assert!(r("(1.0,)").satisfies(&v("1.0.1")) && !r("(1.0,)").satisfies(&v("1.0")));
    assert!(r("(,1.0]").satisfies(&v("1.0")) && !r("(,1.0]").satisfies(&v("1.0.0.1")));
    assert!(r("[1.0]").satisfies(&v("1.0.0.0")) && !r("[1.0]").satisfies(&v("1.0.1")));
    assert!(r("1.0").satisfies(&v("99.0")) && r("").satisfies(&v("0.0.1-a")));
}
