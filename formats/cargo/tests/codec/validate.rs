//! `validate_meta`: every check names the offending field.

use packgate_cargo::{PublishError, PublishMeta, validate_meta};

use crate::support::publish_json;

fn meta() -> PublishMeta {
    serde_json::from_str(&publish_json("demo", "0.2.0")).unwrap()
}

#[test]
fn the_metadata_cargo_sends_is_valid() {
    validate_meta(&meta()).unwrap();
    let mut m = meta();
    m.rust_version = None;
    m.deps[0].kind = Some("build".into());
    m.deps[1].kind = Some("dev".into());
    m.deps[1].version_req = "*".into();
    m.features
        .insert("serde_1.0+x".into(), vec!["my_crate_alias?/std".into()]);
    validate_meta(&m).unwrap();
}

#[test]
fn each_bad_field_is_named() {
    type Edit = fn(&mut PublishMeta);
    let cases: Vec<(&str, Edit)> = vec![
        ("name", |m| m.name = "1demo".into()),
        ("name", |m| m.name = "std".into()),
        ("vers", |m| m.vers = "1.0".into()),
        ("rust_version", |m| m.rust_version = Some(">=1.70".into())),
        ("deps[0].name", |m| m.deps[0].name = String::new()),
        ("deps[1].name", |m| m.deps[1].name = "a/b".into()),
        ("deps[1].explicit_name_in_toml", |m| {
            m.deps[1].explicit_name_in_toml = Some("alias!".into())
        }),
        ("deps[0].version_req", |m| {
            m.deps[0].version_req = "one point oh".into()
        }),
        ("deps[0].version_req", |m| {
            m.deps[0].version_req = String::new()
        }),
        ("deps[1].kind", |m| m.deps[1].kind = Some("test".into())),
        ("deps[0].features", |m| {
            m.deps[0].features = vec![String::new()]
        }),
        ("deps[0].features", |m| {
            m.deps[0].features = vec!["a b".into()]
        }),
        ("deps[1].target", |m| m.deps[1].target = Some(String::new())),
        ("deps[1].target", |m| {
            m.deps[1].target = Some("cfg(unix)\n".into())
        }),
        ("deps[0].registry", |m| {
            m.deps[0].registry = Some("sparse+https://x.example.test/ a".into())
        }),
        ("features.", |m| {
            m.features.insert(String::new(), vec![]);
        }),
        ("features.-x", |m| {
            m.features.insert("-x".into(), vec![]);
        }),
        ("features.a b", |m| {
            m.features.insert("a b".into(), vec![]);
        }),
        ("features.std", |m| {
            m.features.insert("std".into(), vec![String::new()]);
        }),
        ("features.std", |m| {
            m.features.insert("std".into(), vec!["dep:x y".into()]);
        }),
    ];
    for (want, edit) in cases {
        let mut m = meta();
        edit(&mut m);
        match validate_meta(&m) {
            Err(PublishError::Field { field, reason }) => {
                assert_eq!(field, want);
                assert!(!reason.is_empty(), "{want}");
            }
            other => panic!("{want}: {other:?}"),
        }
    }
}

#[test]
fn field_errors_read_as_sentences_for_the_cargo_user() {
    let mut m = meta();
    m.deps[0].version_req = "one".into();
    let msg = validate_meta(&m).unwrap_err().to_string();
    assert!(
        msg.starts_with("invalid deps[0].version_req: 'one' is not a version requirement"),
        "{msg}"
    );
    assert!(msg.ends_with("(dependency 'serde')"), "{msg}");

    let mut m = meta();
    m.name = "nul".into();
    let msg = validate_meta(&m).unwrap_err().to_string();
    assert_eq!(msg, "invalid name: crate name 'nul' is reserved");
}
