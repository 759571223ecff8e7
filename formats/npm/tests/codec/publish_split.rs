//! `split_publish_body`: the streaming split of publish bodies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use packgate_npm::{PublishError, split_publish_body};
use serde_json::Value;

use crate::support::{Trickle, package_tgz, publish_body, publish_body_with_data};

const MAX_DOC: usize = 64 * 1024;

fn split(body: &str) -> Result<(packgate_npm::SplitBody, Vec<u8>), PublishError> {
    let mut tgz = Vec::new();
    let s = split_publish_body(Trickle::new(body.as_bytes()), &mut tgz, MAX_DOC)?;
    Ok((s, tgz))
}

/// The body parsed with serde_json, minus every attachment `data`.
fn expected_document(body: &str) -> Value {
    let mut doc: Value = serde_json::from_str(body).unwrap();
    for att in doc["_attachments"].as_object_mut().unwrap().values_mut() {
        att.as_object_mut().unwrap().remove("data");
    }
    doc
}

#[test]
fn npm11_publish_body_splits_when_read_a_few_bytes_at_a_time() {
    let tarball = package_tgz("@acme/widget", "1.2.0");
    let body = publish_body("@acme/widget", "1.2.0", &tarball);
    let (s, tgz) = split(&body).unwrap();
    assert_eq!(tgz, tarball);
    assert_eq!(s.decoded_len, tarball.len() as u64);
    assert_eq!(s.attachment_name.as_deref(), Some("@acme/widget-1.2.0.tgz"));
    assert_eq!(s.document, expected_document(&body));
    let description = s.document["description"].as_str().unwrap();
    assert_eq!(description, "Ünïcödé \"widget\" — a\\b/c\né😀");
    let sig = &s.document["_attachments"]["@acme/widget-1.2.0.sigstore"];
    assert_eq!(sig["length"], 42);
    assert!(sig.get("data").is_none());
}

#[test]
fn large_attachment_does_not_count_against_the_document_limit() {
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let body = publish_body("left-pad", "1.3.0", &big);
    let mut out = Vec::new();
    let s = split_publish_body(body.as_bytes(), &mut out, 4096).unwrap();
    assert_eq!(out, big);
    assert_eq!(s.decoded_len, 300_000);
}

#[test]
fn escaped_slashes_in_base64_are_decoded() {
    let data = [0xffu8, 0xff, 0xff, 0xfb, 0xef, 0xbe];
    let text = STANDARD.encode(data).replace('/', "\\/");
    assert!(text.contains("\\/"));
    let body = publish_body_with_data("x", "1.0.0", &data, &text);
    let (_, tgz) = split(&body).unwrap();
    assert_eq!(tgz, data);
}

#[test]
fn metadata_put_without_attachments_is_copied_whole() {
    let body =
        r#" { "_id" : "x", "_rev" : "3-abc", "versions" : { "1.0.0" : { "deprecated" : "" } } } "#;
    let (s, tgz) = split(body).unwrap();
    assert!(tgz.is_empty());
    assert_eq!(s.attachment_name, None);
    assert_eq!(s.document, serde_json::from_str::<Value>(body).unwrap());
}

#[test]
fn malformed_json_is_refused() {
    let cases = [
        "",
        "{",
        "{\"a\":}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{\"a\":tru}",
        "{\"a\":01}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"x",
        "{\"a\":1}}",
        "{\"a\":1} x",
        "{'a':1}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":-}",
        "{\"a\":1.}",
        "{\"a\":1e}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":[1 2]}",
        "{\"a\":[1,]}",
        "{a:1}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":nul}",
        "{\"a\":+1}",
        "{\"_attachments\":{\"x.tgz\":{\"data\":\"QUFB",
        "{\"a\":\"\u{1}\"}",
    ];
    for body in cases {
        let body = body.replace("\\t", "\t");
        match split(&body) {
            Err(PublishError::Json(msg)) => assert!(!msg.is_empty()),
            other => panic!("{body:?}: expected a JSON error, got {other:?}"),
        }
    }
    let mut invalid_utf8 = b"{\"a\":\"".to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
    let res = split_publish_body(&invalid_utf8[..], Vec::new(), MAX_DOC);
    assert!(matches!(res, Err(PublishError::Json(_))), "{res:?}");
}

#[test]
fn bodies_that_are_not_objects_are_refused() {
    for body in ["[]", "\"x\"", "1", "null", " true "] {
        assert!(
            matches!(split(body), Err(PublishError::NotAnObject)),
            "{body}"
        );
    }
}

#[test]
fn bad_base64_is_refused() {
    for data in [
        "not base64!",
        "QQ=",
        "QUFB QUFB",
        "QQ==QUFB",
        "QR==",
        "QUFB\\n",
        "QUJD\\u00e9",
    ] {
        let body = publish_body_with_data("x", "1.0.0", b"ABC", data);
        assert!(
            matches!(split(&body), Err(PublishError::BadBase64(_))),
            "{data}"
        );
    }
}

#[test]
fn a_second_tgz_attachment_is_refused() {
    let body = r#"{"name":"x","_attachments":{"x-1.0.0.tgz":{"data":"QUFB"},"x-2.0.0.tgz":{"data":"QUFB"}}}"#;
    match split(body) {
        Err(PublishError::SecondTarball { first, second }) => {
            assert_eq!(
                (first.as_str(), second.as_str()),
                ("x-1.0.0.tgz", "x-2.0.0.tgz")
            );
        }
        other => panic!("{other:?}"),
    }
    let again = r#"{"_attachments":{"x-1.0.0.tgz":{"data":"QUFB"}},"_attachments":{"x-1.0.0.tgz":{"data":""}}}"#;
    assert!(matches!(
        split(again),
        Err(PublishError::SecondTarball { .. })
    ));
}

#[test]
fn tgz_attachment_without_string_data_is_refused() {
    let missing = r#"{"_attachments":{"x-1.0.0.tgz":{"length":3}}}"#;
    assert!(
        matches!(split(missing), Err(PublishError::AttachmentDataMissing(k)) if k == "x-1.0.0.tgz")
    );
    let not_object = r#"{"_attachments":{"x-1.0.0.tgz":"QUFB"}}"#;
    assert!(matches!(
        split(not_object),
        Err(PublishError::AttachmentDataMissing(_))
    ));
    let number = r#"{"_attachments":{"x-1.0.0.tgz":{"data":12}}}"#;
    assert!(matches!(
        split(number),
        Err(PublishError::AttachmentDataNotString(_))
    ));
    let twice = r#"{"_attachments":{"x-1.0.0.tgz":{"data":"QUFB","data":"QUFB"}}}"#;
    assert!(matches!(
        split(twice),
        Err(PublishError::AttachmentDataNotString(_))
    ));
}

#[test]
fn other_attachment_data_of_any_shape_is_dropped() {
    let body = r#"{"_attachments":{"x.sigstore":{"data":{"deep":[1,{"data":"k"}]},"length":1},"x-1.0.0.tgz":{"content_type":"a","data":"QUFB"}}}"#;
    let (s, tgz) = split(body).unwrap();
    assert_eq!(tgz, b"AAA");
    assert_eq!(
        s.document,
        serde_json::json!({"_attachments":{"x.sigstore":{"length":1},"x-1.0.0.tgz":{"content_type":"a"}}})
    );
}

#[test]
fn nesting_deeper_than_64_is_refused() {
    let nest = |levels: usize| {
        format!(
            "{{\"a\":{}{}}}",
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    };
    assert!(split(&nest(64)).is_ok());
    assert!(matches!(split(&nest(65)), Err(PublishError::TooDeep)));
    let in_dropped = format!(
        r#"{{"_attachments":{{"x.sigstore":{{"data":{}{}}}}}}}"#,
        "[".repeat(70),
        "]".repeat(70)
    );
    assert!(matches!(split(&in_dropped), Err(PublishError::TooDeep)));
}

#[test]
fn oversized_documents_are_refused() {
    let body = format!(r#"{{"name":"x","readme":"{}"}}"#, "r".repeat(5000));
    let res = split_publish_body(body.as_bytes(), Vec::new(), 4096);
    assert!(
        matches!(res, Err(PublishError::DocumentTooLarge(4096))),
        "{res:?}"
    );
    let long_key = format!(r#"{{"{}":1}}"#, "k".repeat(5000));
    let res = split_publish_body(long_key.as_bytes(), Vec::new(), 4096);
    assert!(
        matches!(res, Err(PublishError::DocumentTooLarge(4096))),
        "{res:?}"
    );
}

#[test]
fn read_errors_are_reported_as_such() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("connection reset"))
        }
    }
    assert!(matches!(
        split_publish_body(Failing, Vec::new(), 10),
        Err(PublishError::Read(_))
    ));
}
