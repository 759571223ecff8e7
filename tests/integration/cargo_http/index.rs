//! Reading the index: config.json of the public and private repositories, index paths by name
//! length and lower case, and ETag revalidation (304) with the ETag changing on publish, yank and
//! unyank.

use super::{download_path, expect_404, publish, setup, unyank, versions, yank};
use crate::support::Resp;
use packgate_cargo::testing::{Crate, index_path, index_url, parse_index};
use serde_json::json;

#[test]
fn config_json_for_public_and_private_repositories() {
    let (server, token) = setup();
    let http = server.http();

    let public = http.get("/cargo/index/config.json");
    let doc = public.expect(200).json();
    assert_eq!(doc["dl"], json!(server.url("/cargo/api/v1/crates")));
    assert_eq!(doc["api"], json!(server.url("/cargo")));
    assert!(
        doc.get("auth-required").is_none_or(|v| v == &json!(false)),
        "public repository must not require auth: {doc}"
    );

    // Private: anonymous → 401 with a Cargo challenge (cargo only retries with its token on 401).
    let anonymous = http.get("/cargo-private/index/config.json");
    anonymous.expect(401);
    let challenge = anonymous
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("401 on private config.json without WWW-Authenticate"));
    assert!(
        challenge.starts_with("Cargo"),
        "challenge scheme must be Cargo: {challenge:?}"
    );
    let login_url = format!("login_url=\"{}\"", server.url("/cargo-private/me"));
    assert!(
        challenge.contains(&login_url),
        "challenge must carry {login_url}: {challenge:?}"
    );
    let bad = http.get_with(
        "/cargo-private/index/config.json",
        &[("authorization", "not-a-token")],
    );
    bad.expect(401);

    let bearer = format!("Bearer {token}");
    for auth in [token.as_str(), bearer.as_str()] {
        let resp = http.get_with(
            "/cargo-private/index/config.json",
            &[("authorization", auth)],
        );
        let doc = resp.expect(200).json();
        assert_eq!(doc["dl"], json!(server.url("/cargo-private/api/v1/crates")));
        assert_eq!(doc["api"], json!(server.url("/cargo-private")));
        assert_eq!(
            doc["auth-required"],
            json!(true),
            "private config.json must say auth-required: {doc}"
        );
    }
}

#[test]
fn index_paths_follow_name_length_and_lower_case() {
    let (server, token) = setup();
    let cases = [
        ("a", "1/a"),
        ("X", "1/x"),
        ("ab", "2/ab"),
        ("abc", "3/a/abc"),
        ("Abcd", "ab/cd/abcd"),
        ("abcde", "ab/cd/abcde"),
        ("Mixed_Case", "mi/xe/mixed_case"),
    ];
    for (name, path) in cases {
        assert_eq!(index_path(name), path);
        publish(&server, "cargo", &token, &Crate::new(name, "1.0.0"));
    }
    for (name, path) in cases {
        let resp = server.http().get(&format!("/cargo/index/{path}"));
        resp.expect(200);
        let lines = parse_index(&resp.text());
        assert_eq!(lines.len(), 1, "{path}: {}", resp.text());
        assert_eq!(
            lines[0]["name"],
            json!(name),
            "{path}: the line keeps the original spelling"
        );
        assert_eq!(lines[0]["vers"], json!("1.0.0"));
    }
    // Missing crates are 404 (never 400), and the `-`/`_` variant of a crate is not aliased.
    for path in [
        "1/q",
        "2/qq",
        "3/q/qqq",
        "qq/qq/qqqq",
        "mi/xe/mixed-case",
        "ab/cd/abcdef",
    ] {
        expect_404(&server.http().get(&format!("/cargo/index/{path}")));
    }
}

#[test]
fn etag_revalidation_and_changes_on_publish_and_yank() {
    let (server, token) = setup();
    let http = server.http();
    let path = index_url("cargo", "pg-tag");
    let v1 = publish(&server, "cargo", &token, &Crate::new("pg-tag", "1.0.0"));

    let etag_of = |resp: &Resp| -> String {
        resp.header("etag")
            .unwrap_or_else(|| panic!("{}: index file without ETag", resp.request))
            .to_owned()
    };
    let conditional = |etag: &str| http.get_with(&path, &[("if-none-match", etag)]);

    let first = http.get(&path);
    let e1 = etag_of(first.expect(200));
    let not_modified = conditional(&e1);
    not_modified.expect(304);
    assert!(not_modified.body.is_empty(), "304 has no body");

    // Publish: the ETag changes and the old one no longer matches.
    publish(&server, "cargo", &token, &Crate::new("pg-tag", "1.1.0"));
    let after_publish = conditional(&e1);
    after_publish.expect(200);
    let e2 = etag_of(&after_publish);
    assert_ne!(e1, e2, "ETag must change on publish");
    let published_lines = parse_index(&after_publish.text());
    assert_eq!(versions(&published_lines), ["1.0.0", "1.1.0"]);
    conditional(&e2).expect(304);

    // Yank: `{"ok":true}`, the line says yanked, the ETag changes, the .crate stays downloadable.
    let resp = yank(&server, Some(&token), "pg-tag", "1.0.0");
    assert_eq!(resp.expect(200).json()["ok"], json!(true), "yank body");
    let after_yank = conditional(&e2);
    after_yank.expect(200);
    let e3 = etag_of(&after_yank);
    assert_ne!(e2, e3, "ETag must change on yank");
    let yanked_lines = parse_index(&after_yank.text());
    assert_eq!(yanked_lines.len(), 2);
    let mut expected = published_lines[0].clone();
    expected["yanked"] = json!(true);
    assert_eq!(
        yanked_lines[0], expected,
        "yank changes only `yanked` of that line"
    );
    assert_eq!(yanked_lines[1], published_lines[1], "other line untouched");
    let download = http.get(&download_path("cargo", "pg-tag", "1.0.0"));
    assert_eq!(
        download.expect(200).body,
        v1,
        "a yanked version stays downloadable"
    );
    conditional(&e3).expect(304);

    // Unyank: back to the published lines, with an ETag different from the yanked one.
    let resp = unyank(&server, Some(&token), "pg-tag", "1.0.0");
    assert_eq!(resp.expect(200).json()["ok"], json!(true), "unyank body");
    let after_unyank = conditional(&e3);
    after_unyank.expect(200);
    assert_ne!(etag_of(&after_unyank), e3, "ETag must change on unyank");
    assert_eq!(parse_index(&after_unyank.text()), published_lines);
}
