//! Package ids: which are valid, why the others are refused, and their lower-case form.

use packgate_nuget::{IdError, lower_id, validate_id};

#[test]
fn ordinary_ids_are_valid() {
    for id in [
        "A",
        "Newtonsoft.Json",
        "Acme.Widget-Core",
        "my_pkg.v2",
        "1x",
        &"a".repeat(100),
    ] {
        assert_eq!(validate_id(id), Ok(()), "{id}");
    }
}

#[test]
fn bad_ids_are_refused_with_a_reason() {
    assert_eq!(validate_id(""), Err(IdError::Empty));
    assert!(matches!(
        validate_id(&"a".repeat(101)),
        Err(IdError::TooLong { len: 101, .. })
    ));
    for id in ["a..b", "-a", "a-", ".a", "a.-b"] {
        assert!(
            matches!(validate_id(id), Err(IdError::Separator { .. })),
            "{id}"
        );
    }
    for id in ["café", "a b", "a/b", "Ωmega", "a+b"] {
        assert!(
            matches!(validate_id(id), Err(IdError::InvalidChar { .. })),
            "{id}"
        );
    }
    let msg = validate_id("a..b").unwrap_err().to_string();
    assert!(msg.contains("'a..b'"), "{msg}");
}

#[test]
fn lower_id_is_ascii_lower_case() {
    assert_eq!(lower_id("Acme.Widget"), "acme.widget");
}
