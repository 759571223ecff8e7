//! Entry-path rules: splitting and checking with slashes, with backslashes too, flat names, and
//! absolute paths.

use packgate_archive::{PathRule, components, is_absolute};

#[test]
fn slash_paths_are_split_and_checked() {
    let slash = |p| components(p, PathRule::Slash);
    assert_eq!(
        slash("package/lib/a.js"),
        Some(vec!["package", "lib", "a.js"])
    );
    assert_eq!(slash("./package//a.js"), Some(vec!["package", "a.js"]));
    assert_eq!(slash("package/"), Some(vec!["package"]));
    assert_eq!(
        slash("demo-1.0.0/src/lib.rs"),
        Some(vec!["demo-1.0.0", "src", "lib.rs"])
    );
    assert_eq!(
        slash("./demo-1.0.0//a.rs"),
        Some(vec!["demo-1.0.0", "a.rs"])
    );
    assert_eq!(slash("lib\\a.js"), Some(vec!["lib\\a.js"]));
    assert_eq!(slash(""), Some(vec![]));
    for bad in [
        "/etc/passwd",
        "package/../x",
        "demo/../x",
        "..",
        "package/a\\..\\b",
        "demo/a\\..\\b",
        "C:/x",
        "\\x",
    ] {
        assert_eq!(slash(bad), None, "{bad}");
    }
}

#[test]
fn backslash_paths_are_split_and_checked() {
    let both = |p| components(p, PathRule::SlashOrBackslash);
    assert_eq!(both("lib/a.rb"), Some(vec!["lib", "a.rb"]));
    assert_eq!(both("./lib//a.rb"), Some(vec!["lib", "a.rb"]));
    assert_eq!(both("lib\\a.rb"), Some(vec!["lib", "a.rb"]));
    for bad in [
        "/etc/passwd",
        "lib/../../x",
        "..",
        "a\\..\\b",
        "C:/x",
        "\\x",
        "",
    ] {
        assert_eq!(both(bad), None, "{bad}");
    }
}

#[test]
fn flat_names_are_single_plain_components() {
    let flat = |p| components(p, PathRule::Flat);
    assert_eq!(flat("metadata.gz"), Some(vec!["metadata.gz"]));
    assert_eq!(flat("metadata.gz.sig"), Some(vec!["metadata.gz.sig"]));
    for bad in ["", ".", "..", "x/metadata.gz", "/x", "a\\b", "a\0b"] {
        assert_eq!(flat(bad), None, "{bad:?}");
    }
}

#[test]
fn absolute_paths_are_recognized() {
    for abs in ["/x", "\\x", "C:", "c:\\x", "z:/"] {
        assert!(is_absolute(abs), "{abs}");
    }
    for rel in ["", "x", "./x", "1:/x", "x/C:"] {
        assert!(!is_absolute(rel), "{rel}");
    }
}
