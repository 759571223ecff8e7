//! `parse_publish`, `verify_attachment`, `classify_put` and the metadata-PUT helpers.

use packgate_npm::{
    NameError, PublishError, PublishRequest, PutKind, SplitBody, VersionError, classify_put,
    deprecations, parse_publish, remaining_versions, split_publish_body, verify_attachment,
};
use serde_json::{Value, json};

use crate::support::{digests, package_tgz, publish_body};

fn good_doc() -> Value {
    json!({
        "_id": "@acme/widget",
        "name": "@acme/widget",
        "dist-tags": { "latest": "1.2.0" },
        "versions": { "1.2.0": {
            "name": "@acme/widget", "version": "1.2.0",
            "dist": { "shasum": "abc", "integrity": "sha512-xyz" }
        } },
        "access": null,
        "_attachments": { "@acme/widget-1.2.0.tgz": { "content_type": "application/octet-stream", "length": 10 } }
    })
}

fn split_of(document: Value) -> SplitBody {
    SplitBody {
        document,
        attachment_name: Some("@acme/widget-1.2.0.tgz".into()),
        decoded_len: 10,
    }
}

#[test]
fn a_good_publish_parses() {
    let req = parse_publish(&split_of(good_doc()), "@acme/widget", true).unwrap();
    assert_eq!(
        (req.name.as_str(), req.version.as_str(), req.tag.as_str()),
        ("@acme/widget", "1.2.0", "latest")
    );
    assert_eq!(req.declared_length, Some(10));
    assert_eq!(req.declared_shasum.as_deref(), Some("abc"));
    assert_eq!(req.declared_integrity.as_deref(), Some("sha512-xyz"));
    assert_eq!(Value::Object(req.manifest), good_doc()["versions"]["1.2.0"]);
}

#[test]
fn publish_mismatches_are_refused() {
    type Edit = fn(&mut Value);
    type Check = fn(&PublishError) -> bool;
    let cases: Vec<(&str, Edit, Check)> = vec![
        (
            "name differs from url",
            |d| d["name"] = json!("@acme/other"),
            |e| matches!(e, PublishError::NameMismatch { .. }),
        ),
        (
            "no name",
            |d| {
                d.as_object_mut().unwrap().remove("name");
            },
            |e| matches!(e, PublishError::InvalidField(_)),
        ),
        (
            "two versions",
            |d| d["versions"]["1.3.0"] = json!({"name": "@acme/widget", "version": "1.3.0"}),
            |e| matches!(e, PublishError::VersionCount(2)),
        ),
        (
            "no versions",
            |d| d["versions"] = json!({}),
            |e| matches!(e, PublishError::VersionCount(0)),
        ),
        (
            "key differs from version",
            |d| d["versions"]["1.2.0"]["version"] = json!("1.2.1"),
            |e| matches!(e, PublishError::VersionKeyMismatch { .. }),
        ),
        (
            "manifest name differs",
            |d| d["versions"]["1.2.0"]["name"] = json!("@acme/other"),
            |e| matches!(e, PublishError::InvalidField(_)),
        ),
        (
            "tag is a range",
            |d| d["dist-tags"] = json!({"^1": "1.2.0"}),
            |e| matches!(e, PublishError::InvalidVersion(VersionError::TagIsRange(_))),
        ),
        (
            "tag is a version-like range",
            |d| d["dist-tags"] = json!({"v1": "1.2.0"}),
            |e| matches!(e, PublishError::InvalidVersion(VersionError::TagIsRange(_))),
        ),
        (
            "two tags",
            |d| d["dist-tags"]["beta"] = json!("1.2.0"),
            |e| matches!(e, PublishError::TagCount(2)),
        ),
        (
            "tag points elsewhere",
            |d| d["dist-tags"]["latest"] = json!("1.1.0"),
            |e| matches!(e, PublishError::TagTarget { .. }),
        ),
        (
            "dist-tags missing",
            |d| {
                d.as_object_mut().unwrap().remove("dist-tags");
            },
            |e| matches!(e, PublishError::InvalidField(_)),
        ),
    ];
    for (what, edit, check) in cases {
        let mut doc = good_doc();
        edit(&mut doc);
        let err = parse_publish(&split_of(doc), "@acme/widget", true).expect_err(what);
        assert!(check(&err), "{what}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn invalid_versions_and_attachment_names_are_refused() {
    let mut doc = good_doc();
    doc["versions"] = json!({"1.2": {"name": "@acme/widget", "version": "1.2"}});
    doc["dist-tags"] = json!({"latest": "1.2"});
    let err = parse_publish(&split_of(doc), "@acme/widget", false).unwrap_err();
    assert!(
        matches!(
            err,
            PublishError::InvalidVersion(VersionError::NotSemver { .. })
        ),
        "{err:?}"
    );

    let mut split = split_of(good_doc());
    split.attachment_name = Some("@acme/widget-1.2.1.tgz".into());
    let err = parse_publish(&split, "@acme/widget", false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "attachment '@acme/widget-1.2.1.tgz' should be named '@acme/widget-1.2.0.tgz'"
    );

    split.attachment_name = None;
    assert!(matches!(
        parse_publish(&split, "@acme/widget", false),
        Err(PublishError::NoAttachment)
    ));
}

#[test]
fn new_name_rules_apply_only_to_new_packages() {
    let mut doc = good_doc();
    doc["name"] = json!("@acme/Widget");
    doc["versions"]["1.2.0"]["name"] = json!("@acme/Widget");
    let mut split = split_of(doc);
    split.attachment_name = Some("@acme/Widget-1.2.0.tgz".into());
    let err = parse_publish(&split, "@acme/Widget", true).unwrap_err();
    assert!(
        matches!(err, PublishError::InvalidName(NameError::UpperCase)),
        "{err:?}"
    );
    assert!(parse_publish(&split, "@acme/Widget", false).is_ok());
}

fn request(length: Option<u64>, shasum: Option<&str>, integrity: Option<&str>) -> PublishRequest {
    PublishRequest {
        name: "x".into(),
        version: "1.0.0".into(),
        tag: "latest".into(),
        manifest: Default::default(),
        declared_length: length,
        declared_shasum: shasum.map(str::to_owned),
        declared_integrity: integrity.map(str::to_owned),
    }
}

#[test]
fn attachment_digests_are_verified() {
    let data = b"tarball bytes";
    let (sha1, sha512, integrity) = digests(data);
    let (other_sha1, _, other_integrity) = digests(b"other");
    let sha1_sri = {
        use base64::Engine;
        let raw: Vec<u8> = (0..20)
            .map(|i| u8::from_str_radix(&sha1[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        format!(
            "sha1-{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    let size = data.len() as u64;
    let ok = |r: PublishRequest| verify_attachment(&r, size, &sha1, &sha512);
    assert!(ok(request(None, None, None)).is_ok());
    assert!(
        ok(request(
            Some(size),
            Some(&sha1.to_uppercase()),
            Some(&integrity)
        ))
        .is_ok()
    );
    assert!(
        ok(request(
            None,
            None,
            Some(&format!("{integrity} {sha1_sri} sha256-whatever"))
        ))
        .is_ok()
    );
    assert!(ok(request(None, None, Some(&format!("{integrity}?opt")))).is_ok());

    let err = ok(request(Some(size + 1), None, None)).unwrap_err();
    assert!(
        matches!(err, PublishError::LengthMismatch { declared, actual } if declared == size + 1 && actual == size)
    );
    let err = ok(request(None, Some(&other_sha1), None)).unwrap_err();
    assert!(
        matches!(err, PublishError::ShasumMismatch { .. }),
        "{err:?}"
    );
    let err = ok(request(None, None, Some(&other_integrity))).unwrap_err();
    assert!(
        matches!(err, PublishError::IntegrityMismatch { .. }),
        "{err:?}"
    );
    let err = ok(request(None, None, Some(&format!("{integrity} sha1-AAAA")))).unwrap_err();
    assert!(matches!(err, PublishError::IntegrityMismatch { entry } if entry == "sha1-AAAA"));
    let err = ok(request(None, None, Some("sha512-***"))).unwrap_err();
    assert!(matches!(err, PublishError::IntegrityMismatch { .. }));
}

#[test]
fn a_real_publish_body_round_trips_through_split_parse_and_verify() {
    let tarball = package_tgz("@acme/widget", "1.2.0");
    let body = publish_body("@acme/widget", "1.2.0", &tarball);
    let mut out = Vec::new();
    let split = split_publish_body(body.as_bytes(), &mut out, 1 << 20).unwrap();
    assert_eq!(
        classify_put(&split.document, split.attachment_name.is_some(), false),
        PutKind::Publish
    );
    let req = parse_publish(&split, "@acme/widget", true).unwrap();
    let (sha1, sha512, _) = digests(&out);
    verify_attachment(&req, split.decoded_len, &sha1, &sha512).unwrap();
}

#[test]
fn put_flavours_are_told_apart() {
    let cases = [
        (
            json!({"versions": {}, "_attachments": {"x.tgz": {}}}),
            false,
            false,
            PutKind::Publish,
        ),
        (
            json!({"versions": {}, "_attachments": {}}),
            true,
            false,
            PutKind::Publish,
        ),
        (
            json!({"versions": {"1.0.0": {}}, "_attachments": {}}),
            false,
            true,
            PutKind::Unpublish,
        ),
        (
            json!({"versions": {"1.0.0": {}}}),
            false,
            false,
            PutKind::Deprecate,
        ),
        (
            json!({"_id": "x", "_rev": "1-a", "maintainers": []}),
            false,
            true,
            PutKind::Maintainers,
        ),
        (
            json!({"_id": "x", "maintainers": []}),
            false,
            false,
            PutKind::Maintainers,
        ),
    ];
    for (doc, att, rev, want) in cases {
        assert_eq!(classify_put(&doc, att, rev), want, "{doc}");
    }
}

#[test]
fn deprecations_and_remaining_versions_are_read_from_the_body() {
    let doc = json!({"versions": {
        "1.0.0": {"deprecated": "use 2.x"},
        "1.1.0": {"deprecated": ""},
        "1.2.0": {},
        "1.3.0": {"deprecated": false}
    }});
    assert_eq!(
        deprecations(&doc),
        [
            ("1.0.0".to_owned(), Some("use 2.x".to_owned())),
            ("1.1.0".to_owned(), None),
            ("1.2.0".to_owned(), None),
            ("1.3.0".to_owned(), None),
        ]
    );
    assert_eq!(
        remaining_versions(&doc),
        ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    );
    assert!(remaining_versions(&json!({})).is_empty());
    assert!(deprecations(&json!({"versions": 3})).is_empty());
}
