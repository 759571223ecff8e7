//! `read_publish`: the framing of `PUT /api/v1/crates/new` and the metadata document.

use std::io::{self, Read, Seek, Write};

use packgate_cargo::{PublishError, PublishMeta, read_publish};
use sha2::{Digest, Sha256};

use crate::support::{Trickle, crate_file, frame, publish_json};

const MAX_JSON: u32 = 1024 * 1024;

fn body() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let json = publish_json("demo", "0.2.0").into_bytes();
    let krate = crate_file("demo", "0.2.0");
    (frame(&json, &krate), json, krate)
}

fn read(body: &[u8], max_json: u32) -> (Result<PublishMeta, PublishError>, Vec<u8>) {
    let mut out = Vec::new();
    let res = read_publish(Trickle::new(body), &mut out, max_json);
    (res, out)
}

#[test]
fn a_framed_body_yields_the_metadata_and_streams_the_crate() {
    let (body, _, krate) = body();
    let mut file = tempfile::tempfile().unwrap();
    let meta = read_publish(Trickle::new(&body), &mut file, MAX_JSON).unwrap();

    let mut stored = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut stored).unwrap();
    assert_eq!(stored, krate);
    assert_eq!(
        hex::encode(Sha256::digest(&stored)),
        hex::encode(Sha256::digest(&krate))
    );

    assert_eq!(meta.name, "demo");
    assert_eq!(meta.vers, "0.2.0");
    assert_eq!(meta.rust_version.as_deref(), Some("1.70"));
    assert_eq!(meta.description.as_deref(), Some("A demo crate"));
    assert_eq!(meta.readme_file.as_deref(), Some("README.md"));
    assert_eq!(meta.authors, ["Alice <alice@example.test>"]);
    assert_eq!(meta.keywords, ["demo"]);
    assert!(meta.categories.is_empty());
    assert_eq!(
        (meta.homepage, meta.links, meta.license_file),
        (None, None, None)
    );
    assert_eq!(meta.features["alias"], ["dep:my_crate_alias"]);
    assert_eq!(meta.deps.len(), 2);
    let serde = &meta.deps[0];
    assert_eq!(
        serde.registry.as_deref(),
        Some("sparse+https://index.example.test/")
    );
    assert_eq!(serde.features, ["derive"]);
    assert!(serde.default_features && !serde.optional);
    let renamed = &meta.deps[1];
    assert_eq!(renamed.name, "my-crate");
    assert_eq!(
        renamed.explicit_name_in_toml.as_deref(),
        Some("my_crate_alias")
    );
    assert_eq!(renamed.registry, None);
    assert_eq!(renamed.target.as_deref(), Some("cfg(unix)"));
    assert!(renamed.optional && !renamed.default_features);
}

#[test]
fn a_minimal_document_gets_defaults_and_nulls_count_as_absent() {
    let json = br#"{"name":"demo","vers":"1.0.0","deps":[{"name":"a","version_req":"^1",
        "features":null,"optional":null,"default_features":null}],"features":null,
        "authors":null,"keywords":null,"categories":null,"badges":null}"#;
    let (res, out) = read(&frame(json, b"CRATE"), MAX_JSON);
    let meta = res.unwrap();
    assert_eq!(out, b"CRATE");
    assert!(meta.features.is_empty() && meta.authors.is_empty() && meta.keywords.is_empty());
    let dep = &meta.deps[0];
    assert!(dep.features.is_empty() && !dep.optional && dep.default_features);
    assert_eq!((dep.kind.as_deref(), dep.target.as_deref()), (None, None));

    let (res, _) = read(&frame(br#"{"name":"demo","vers":"1.0.0"}"#, b""), MAX_JSON);
    assert!(res.unwrap().deps.is_empty());
}

#[test]
fn a_body_cut_anywhere_is_truncated_at_the_right_part() {
    let (body, json, _) = body();
    let j = json.len();
    for cut in 0..body.len() {
        let (res, _) = read(&body[..cut], MAX_JSON);
        let Err(PublishError::Truncated {
            part,
            expected,
            got,
        }) = res
        else {
            panic!("cut at {cut}: {res:?}");
        };
        let want = match cut {
            c if c < 4 => "the JSON length",
            c if c < 4 + j => "the JSON metadata",
            c if c < 8 + j => "the .crate length",
            _ => "the .crate file",
        };
        assert_eq!(part, want, "cut at {cut}");
        assert!(got < expected, "cut at {cut}");
    }
}

#[test]
fn truncation_messages_name_the_part_and_the_sizes() {
    let mut body = Vec::from(10u32.to_le_bytes());
    body.extend_from_slice(b"{}");
    let (res, _) = read(&body, MAX_JSON);
    assert_eq!(
        res.unwrap_err().to_string(),
        "publish body is truncated: the JSON metadata needs 10 bytes but only 2 were sent"
    );
}

#[test]
fn json_above_the_limit_is_refused_before_anything_is_copied() {
    let (body, json, _) = body();
    let max = json.len() as u32 - 1;
    let (res, out) = read(&body, max);
    match res {
        Err(PublishError::JsonTooLarge { len, max: m }) => {
            assert_eq!((len as usize, m), (json.len(), max));
        }
        other => panic!("{other:?}"),
    }
    assert!(out.is_empty());
    let (res, _) = read(&body, json.len() as u32);
    assert!(res.is_ok());
    let mut huge = Vec::from(u32::MAX.to_le_bytes());
    huge.extend_from_slice(b"{");
    let (res, _) = read(&huge, MAX_JSON);
    assert!(
        matches!(res, Err(PublishError::JsonTooLarge { .. })),
        "{res:?}"
    );
}

#[test]
fn bytes_after_the_crate_are_refused() {
    let (mut body, _, _) = body();
    body.push(0);
    let (res, _) = read(&body, MAX_JSON);
    assert!(matches!(res, Err(PublishError::TrailingBytes)), "{res:?}");
}

#[test]
fn json_that_is_not_the_publish_document_is_refused() {
    let not_json: [&[u8]; 4] = [b"{", b"not json", b"", br#"{"name":"a","vers":"1.0.0"} x"#];
    for json in not_json {
        let (res, out) = read(&frame(json, b"CRATE"), MAX_JSON);
        assert!(matches!(res, Err(PublishError::InvalidJson(_))), "{res:?}");
        assert!(out.is_empty());
    }
    let wrong_shape: [&[u8]; 7] = [
        b"[]",
        b"null",
        br#"{"vers":"1.0.0"}"#,
        br#"{"name":"demo"}"#,
        br#"{"name":1,"vers":"1.0.0"}"#,
        br#"{"name":"demo","vers":"1.0.0","deps":[{"name":"a"}]}"#,
        br#"{"name":"demo","vers":"1.0.0","features":{"a":"b"}}"#,
    ];
    for json in wrong_shape {
        let (res, out) = read(&frame(json, b"CRATE"), MAX_JSON);
        match res {
            Err(e @ PublishError::NotSchema(_)) => {
                assert!(e.to_string().starts_with("publish metadata does not match"));
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(json)),
        }
        assert!(out.is_empty());
    }
}

/// A writer that always fails, like a full disk.
struct FullDisk;

impl Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_failures_are_io_errors() {
    let (body, _, _) = body();
    let res = read_publish(&body[..], FullDisk, MAX_JSON);
    assert!(matches!(res, Err(PublishError::Io(_))), "{res:?}");
}
