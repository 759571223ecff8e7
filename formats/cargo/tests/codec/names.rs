//! Crate names, the canonical form and index paths.

use packgate_cargo::{NameError, canonical_name, index_path, name_from_index_path, validate_name};

#[test]
fn good_names_pass_including_keywords_and_mixed_case() {
    let long = format!("a{}", "b".repeat(63));
    for name in [
        "a",
        "serde",
        "Serde_JSON",
        "my-crate",
        "a1_b-2",
        "fn",
        "match",
        "Self",
        "stdx",
        "testing",
        "com10",
        "lpt0",
        long.as_str(),
    ] {
        assert_eq!(validate_name(name), Ok(()), "{name}");
    }
}

#[test]
fn each_name_rule_has_its_own_error() {
    let too_long = "a".repeat(65);
    let cases: Vec<(&str, NameError)> = vec![
        ("", NameError::Empty),
        (&too_long, NameError::TooLong(65)),
        ("1abc", NameError::FirstChar('1')),
        ("-abc", NameError::FirstChar('-')),
        ("_abc", NameError::FirstChar('_')),
        ("éa", NameError::FirstChar('é')),
        ("a.b", NameError::InvalidChar('.')),
        ("a b", NameError::InvalidChar(' ')),
        ("a/b", NameError::InvalidChar('/')),
        ("caf\u{e9}", NameError::InvalidChar('é')),
        ("std", NameError::Reserved("std".into())),
        ("Core", NameError::Reserved("Core".into())),
        ("alloc", NameError::Reserved("alloc".into())),
        ("proc_macro", NameError::Reserved("proc_macro".into())),
        ("Proc-Macro", NameError::Reserved("Proc-Macro".into())),
        ("test", NameError::Reserved("test".into())),
        ("CON", NameError::Reserved("CON".into())),
        ("prn", NameError::Reserved("prn".into())),
        ("aux", NameError::Reserved("aux".into())),
        ("Nul", NameError::Reserved("Nul".into())),
        ("com1", NameError::Reserved("com1".into())),
        ("COM9", NameError::Reserved("COM9".into())),
        ("lpt1", NameError::Reserved("lpt1".into())),
        ("LPT9", NameError::Reserved("LPT9".into())),
    ];
    for (name, want) in cases {
        assert_eq!(validate_name(name), Err(want), "{name:?}");
    }
}

#[test]
fn name_errors_say_what_is_wrong() {
    let msg = |n: &str| validate_name(n).unwrap_err().to_string();
    assert_eq!(msg(""), "crate name must not be empty");
    assert!(msg(&"a".repeat(70)).contains("at most 64"));
    assert!(msg("9lives").contains("must start with an ASCII letter"));
    assert!(msg("a+b").contains("'+'"));
    assert_eq!(msg("nul"), "crate name 'nul' is reserved");
}

#[test]
fn canonical_name_folds_case_and_underscores() {
    assert_eq!(canonical_name("Foo_Bar"), "foo-bar");
    assert_eq!(canonical_name("foo-bar"), "foo-bar");
    assert_eq!(canonical_name("SERDE_json"), "serde-json");
    assert_eq!(canonical_name("a__b--c"), "a--b--c");
    assert_eq!(canonical_name("Foo_Bar"), canonical_name("foo-BAR"));
}

#[test]
fn index_paths_follow_the_length_rules_in_lower_case() {
    let cases = [
        ("a", "1/a"),
        ("A", "1/a"),
        ("ab", "2/ab"),
        ("Io", "2/io"),
        ("abc", "3/a/abc"),
        ("Syn", "3/s/syn"),
        ("abcd", "ab/cd/abcd"),
        ("serde", "se/rd/serde"),
        ("my-crate", "my/-c/my-crate"),
        ("Serde_JSON", "se/rd/serde_json"),
        ("MyCrate", "my/cr/mycrate"),
    ];
    for (name, path) in cases {
        assert_eq!(index_path(name), path, "{name}");
    }
}

#[test]
fn index_paths_route_back_to_their_name() {
    for name in [
        "a",
        "ab",
        "abc",
        "abcd",
        "serde",
        "my-crate",
        "serde_json",
        "a1-_z",
    ] {
        let path = index_path(name);
        let segments: Vec<&str> = path.split('/').collect();
        assert_eq!(
            name_from_index_path(&segments).as_deref(),
            Some(name),
            "{path}"
        );
    }
    let long = "x".repeat(64);
    let path = index_path(&long);
    let segments: Vec<&str> = path.split('/').collect();
    assert_eq!(name_from_index_path(&segments), Some(long));
}

#[test]
fn wrong_index_paths_route_nowhere() {
    let cases: &[&[&str]] = &[
        &[],
        &["serde"],
        &["1", "ab"],
        &["2", "a"],
        &["2", "abc"],
        &["3", "b", "abc"],
        &["3", "abc"],
        &["3", "a", "abcd"],
        &["se", "rd"],
        &["se", "re", "serde"],
        &["sr", "rd", "serde"],
        &["se", "rd", "x", "serde"],
        &["ab", "cd", "abc"],
        &["Se", "rd", "Serde"],
        &["se", "rd", "Serde"],
        &["1", "A"],
        &["2", ".."],
        &["1", "."],
        &["ab", "cd", "ab.d"],
        &["", "", ""],
        &["1", ""],
        &["ab", "cd", "abcd", ""],
    ];
    for segments in cases {
        assert_eq!(name_from_index_path(segments), None, "{segments:?}");
    }
    let too_long = "x".repeat(65);
    let path = index_path(&too_long);
    let segments: Vec<&str> = path.split('/').collect();
    assert_eq!(name_from_index_path(&segments), None);
}
