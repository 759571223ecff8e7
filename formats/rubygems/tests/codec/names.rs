//! Names, platforms, file names and the squatting key.

use packgate_rubygems::{
    NameError, full_name, gem_file_name, similarity_key, validate_name, validate_platform,
    version_with_platform,
};

#[test]
fn ordinary_gem_names_are_accepted() {
    for name in [
        "rack",
        "Rack",
        "rack-test",
        "rack_test",
        "net.http",
        "a",
        "3scale_client",
        "ruby-3.0-compat",
        "_private",
        &"a".repeat(100),
    ] {
        assert_eq!(validate_name(name), Ok(()), "{name}");
    }
}

#[test]
fn bad_gem_names_are_refused_with_a_reason() {
    let cases: [(&str, NameError); 9] = [
        ("", NameError::Empty),
        (&"a".repeat(101), NameError::TooLong(101)),
        ("rack test", NameError::InvalidChar(' ')),
        ("rack/test", NameError::InvalidChar('/')),
        ("räck", NameError::InvalidChar('ä')),
        (".", NameError::FirstChar('.')),
        ("..", NameError::FirstChar('.')),
        ("-rack", NameError::FirstChar('-')),
        ("123", NameError::NoLetter("123".into())),
    ];
    for (name, err) in cases {
        assert_eq!(validate_name(name), Err(err), "{name:?}");
    }
    assert_eq!(validate_name(".rack"), Err(NameError::FirstChar('.')));
    assert_eq!(
        validate_name("1-2_3"),
        Err(NameError::NoLetter("1-2_3".into()))
    );
}

#[test]
fn name_errors_read_as_sentences() {
    let msg = validate_name("rack test").unwrap_err().to_string();
    assert!(msg.contains("' '"), "{msg}");
    let msg = validate_name("123").unwrap_err().to_string();
    assert_eq!(msg, "gem name '123' must contain at least one letter");
}

#[test]
fn similar_names_share_a_squatting_key() {
    for name in [
        "rack-test",
        "rack_test",
        "Rack.Test",
        "RACKTEST",
        "rack--test",
    ] {
        assert_eq!(similarity_key(name), "racktest", "{name}");
    }
    assert_ne!(similarity_key("rack-tests"), similarity_key("rack-test"));
}

#[test]
fn platforms_are_checked_and_ruby_is_the_default() {
    assert_eq!(validate_platform("").unwrap(), "ruby");
    assert_eq!(validate_platform("ruby").unwrap(), "ruby");
    for p in [
        "x86_64-linux",
        "x86_64-linux-musl",
        "arm64-darwin",
        "universal-darwin-22",
        "x64-mingw-ucrt",
        "java",
        "i386-mingw32",
    ] {
        assert_eq!(validate_platform(p).as_deref(), Ok(p), "{p}");
    }
    for p in [
        "X86_64-linux",
        "x86_64--linux",
        "-linux",
        "x86_64-linux-",
        "x86 64-linux",
        "x86_64/linux",
        "..-linux",
        &"a".repeat(65),
    ] {
        let err = validate_platform(p).unwrap_err();
        assert!(matches!(err, NameError::Platform { .. }), "{p}: {err}");
    }
}

#[test]
fn file_names_leave_out_the_ruby_platform() {
    assert_eq!(gem_file_name("demo", "0.1.0", "ruby"), "demo-0.1.0.gem");
    assert_eq!(gem_file_name("demo", "0.1.0", ""), "demo-0.1.0.gem");
    assert_eq!(
        gem_file_name("nokogiri", "1.16.0", "x86_64-linux"),
        "nokogiri-1.16.0-x86_64-linux.gem"
    );
    assert_eq!(full_name("demo", "1.0.0.pre", "ruby"), "demo-1.0.0.pre");
    assert_eq!(full_name("demo", "1.0", "java"), "demo-1.0-java");
    assert_eq!(
        version_with_platform("1.0", "arm64-darwin"),
        "1.0-arm64-darwin"
    );
    assert_eq!(version_with_platform("1.0", "ruby"), "1.0");
}
