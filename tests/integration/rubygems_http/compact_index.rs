//! The compact index: an empty repository, ETag = quoted MD5, `Repr-Digest` and 304, the
//! append-only Range semantics of `versions`, `info/NAME` and `names` ignoring Range, and HEAD on
//! every GET route.

use super::{expect_status, get, info_text, push_ok, setup, versions_text, yank};
use crate::support::TestServer;
use packgate_rubygems::testing::{Gem, gunzip, md5_hex, parse_versions, repr_digest};

fn quoted_md5(body: &[u8]) -> String {
    format!("\"{}\"", md5_hex(body))
}

#[test]
fn empty_repository_probe_and_documents() {
    let server = TestServer::start();
    let http = server.http();
    for method in ["HEAD", "GET"] {
        let resp = http.send(method, "/rubygems/", &[], None);
        expect_status(&resp, 200);
    }
    let versions = versions_text(&server, "rubygems");
    assert!(
        parse_versions(&versions).is_empty(),
        "an empty repository lists no gems: {versions:?}"
    );
    let names = get(&server, "/rubygems/names");
    assert_eq!(names.expect(200).text(), "---\n");
    for path in [
        "/rubygems/info/pg_nothing",
        "/rubygems/gems/pg_nothing-1.0.0.gem",
        "/rubygems/quick/Marshal.4.8/pg_nothing-1.0.0.gemspec.rz",
        "/rubygems/api/v1/dependencies",
        "/rubygems/api/v1/dependencies?gems=pg_nothing",
    ] {
        expect_status(&get(&server, path), 404);
    }
    for file in ["specs", "latest_specs", "prerelease_specs"] {
        let resp = get(&server, &format!("/rubygems/{file}.4.8.gz"));
        let marshal = gunzip(&resp.expect(200).body);
        assert_eq!(
            marshal,
            [4, 8, b'[', 0],
            "{file}.4.8.gz of an empty repository is gzip(Marshal [])"
        );
    }
}

#[test]
fn compact_index_etag_repr_digest_and_304() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_etag", "1.0.0"));
    push_ok(
        &server,
        "rubygems",
        &token,
        &Gem::new("pg_etag", "1.1.0").dep("pg_other", &["~> 2.0"]),
    );
    let http = server.http();
    for path in [
        "/rubygems/versions",
        "/rubygems/info/pg_etag",
        "/rubygems/names",
    ] {
        let full = http.get(path);
        full.expect(200);
        let etag = full
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: no ETag"))
            .to_owned();
        assert_eq!(
            etag,
            quoted_md5(&full.body),
            "{path}: ETag = quoted MD5 of the body"
        );
        assert_eq!(
            full.header("repr-digest"),
            Some(repr_digest(&full.body).as_str()),
            "{path}: Repr-Digest = sha-256 of the body"
        );
        if let Some(ct) = full.header("content-type") {
            assert!(ct.starts_with("text/plain"), "{path}: content-type {ct:?}");
        }

        let weak = format!("W/{etag}");
        for inm in [etag.as_str(), weak.as_str()] {
            let resp = http.get_with(path, &[("if-none-match", inm)]);
            expect_status(&resp, 304);
            assert!(resp.body.is_empty(), "{path}: 304 with a body");
            assert_eq!(resp.header("etag"), Some(etag.as_str()), "{path}: 304 ETag");
        }
        let stale = http.get_with(
            path,
            &[("if-none-match", "\"0123456789abcdef0123456789abcdef\"")],
        );
        assert_eq!(
            stale.expect(200).body,
            full.body,
            "{path}: stale If-None-Match"
        );

        let head = http.head_with(path, &[]);
        expect_status(&head, 200);
        assert!(head.body.is_empty(), "{path}: HEAD with a body");
        assert_eq!(
            head.header("etag"),
            Some(etag.as_str()),
            "{path}: HEAD ETag"
        );
        expect_status(&http.head_with(path, &[("if-none-match", &etag)]), 304);
    }

    // A push changes the ETags of versions and info/NAME; the old ones no longer match.
    let old_versions = http.get("/rubygems/versions");
    let old_info = http.get("/rubygems/info/pg_etag");
    push_ok(&server, "rubygems", &token, &Gem::new("pg_etag", "1.2.0"));
    for (path, old) in [
        ("/rubygems/versions", old_versions),
        ("/rubygems/info/pg_etag", old_info),
    ] {
        let old_etag = old.header("etag").expect("etag").to_owned();
        let resp = http.get_with(path, &[("if-none-match", &old_etag)]);
        resp.expect(200);
        assert_ne!(resp.body, old.body, "{path} changed after a push");
        assert_eq!(resp.header("etag"), Some(quoted_md5(&resp.body).as_str()));
    }
}

#[test]
fn versions_range_requests_follow_append_only_semantics() {
    let (server, token) = setup();
    let http = server.http();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_range", "1.0.0"));
    let old = http.get("/rubygems/versions");
    old.expect(200);
    let old_etag = old.header("etag").expect("etag").to_owned();
    let old_len = old.body.len();

    // Bundler's request with an unchanged file: If-None-Match + Range → 304.
    let range = format!("bytes={}-", old_len - 1);
    let unchanged = http.get_with(
        "/rubygems/versions",
        &[("if-none-match", &old_etag), ("range", &range)],
    );
    expect_status(&unchanged, 304);

    push_ok(
        &server,
        "rubygems",
        &token,
        &Gem::new("pg_range", "1.1.0").dep("pg_else", &[">= 1"]),
    );
    let new_full = http.get("/rubygems/versions");
    new_full.expect(200);
    assert!(
        new_full.body.starts_with(&old.body),
        "versions is append-only: the old body must be a prefix of the new one\nold: {:?}\nnew: {:?}",
        old.text(),
        new_full.text()
    );
    let new_len = new_full.body.len();

    // Bundler's request after a change: stale If-None-Match + Range from its last byte.
    let partial = http.get_with(
        "/rubygems/versions",
        &[("if-none-match", &old_etag), ("range", &range)],
    );
    expect_status(&partial, 206);
    assert_eq!(
        partial.header("content-range"),
        Some(format!("bytes {}-{}/{new_len}", old_len - 1, new_len - 1).as_str()),
        "Content-Range of the 206"
    );
    let mut joined = old.body[..old_len - 1].to_vec();
    joined.extend_from_slice(&partial.body);
    assert_eq!(
        joined, new_full.body,
        "old prefix + 206 body = the new full body"
    );
    assert_eq!(
        partial.header("etag"),
        Some(quoted_md5(&joined).as_str()),
        "a 206 carries the ETag of the FULL body"
    );
    assert_eq!(
        partial.header("repr-digest"),
        Some(repr_digest(&joined).as_str()),
        "a 206 carries the Repr-Digest of the FULL body"
    );
    assert!(
        partial
            .header("content-encoding")
            .is_none_or(|e| e == "identity"),
        "a 206 is never compressed"
    );

    // Without If-None-Match, from byte 0 and from the last byte.
    let from_zero = http.get_with("/rubygems/versions", &[("range", "bytes=0-")]);
    expect_status(&from_zero, 206);
    assert_eq!(from_zero.body, new_full.body, "bytes=0- is the whole body");
    let last = format!("bytes={}-", new_len - 1);
    let tail = http.get_with("/rubygems/versions", &[("range", &last)]);
    expect_status(&tail, 206);
    assert_eq!(
        tail.body, b"\n",
        "the last byte of versions is its final newline"
    );

    // At or past the end: 416.
    for start in [new_len, new_len + 100] {
        let r = format!("bytes={start}-");
        let resp = http.get_with("/rubygems/versions", &[("range", &r)]);
        expect_status(&resp, 416);
    }

    // A yank appends too: `NAME -VERSION MD5` with the MD5 of the new info.
    let before_yank = new_full.body.clone();
    yank(&server, "rubygems", Some(&token), "pg_range", "1.0.0", None).expect(200);
    let after_yank = http.get("/rubygems/versions");
    after_yank.expect(200);
    assert!(
        after_yank.body.starts_with(&before_yank),
        "a yank appends to versions: {:?}",
        after_yank.text()
    );
    let appended = String::from_utf8_lossy(&after_yank.body[before_yank.len()..]).into_owned();
    let info = info_text(&server, "rubygems", "pg_range");
    assert_eq!(
        appended,
        format!("pg_range -1.0.0 {}\n", md5_hex(info.as_bytes())),
        "the yank line"
    );
    let r = format!("bytes={}-", before_yank.len() - 1);
    let partial = http.get_with("/rubygems/versions", &[("range", &r)]);
    expect_status(&partial, 206);
    let mut joined = before_yank[..before_yank.len() - 1].to_vec();
    joined.extend_from_slice(&partial.body);
    assert_eq!(joined, after_yank.body);
    assert_eq!(partial.header("etag"), Some(quoted_md5(&joined).as_str()));
}

#[test]
fn info_and_names_ignore_range() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_whole", "1.0.0"));
    for path in ["/rubygems/info/pg_whole", "/rubygems/names"] {
        let full = get(&server, path);
        full.expect(200);
        let resp = server.http().get_with(path, &[("range", "bytes=3-")]);
        expect_status(&resp, 200);
        assert_eq!(resp.body, full.body, "{path} is served whole");
    }
}

#[test]
fn head_answers_on_every_get_route() {
    let (server, token) = setup();
    let gem = Gem::new("pg_head", "1.0.0");
    push_ok(&server, "rubygems", &token, &gem);
    let http = server.http();
    for path in [
        "/rubygems/".to_owned(),
        "/rubygems/versions".to_owned(),
        "/rubygems/info/pg_head".to_owned(),
        "/rubygems/names".to_owned(),
        "/rubygems/specs.4.8.gz".to_owned(),
        "/rubygems/latest_specs.4.8.gz".to_owned(),
        "/rubygems/prerelease_specs.4.8.gz".to_owned(),
        format!("/rubygems/quick/Marshal.4.8/{}.gemspec.rz", gem.spec_stem()),
        format!("/rubygems/gems/{}", gem.file_name()),
    ] {
        let full = http.get(&path);
        full.expect(200);
        let head = http.head_with(&path, &[]);
        expect_status(&head, 200);
        assert!(head.body.is_empty(), "HEAD {path} carries a body");
        if let Some(len) = head.header("content-length") {
            assert_eq!(
                len,
                full.body.len().to_string(),
                "HEAD {path}: Content-Length of the GET body"
            );
        }
    }
    expect_status(&http.head_with("/rubygems/info/pg_nothing", &[]), 404);
    expect_status(
        &http.head_with("/rubygems/gems/pg_nothing-1.0.0.gem", &[]),
        404,
    );
}
