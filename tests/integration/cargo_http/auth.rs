//! Credentials: writes without a token (401), with a read-only token or a token for another
//! repository (403), and the private repository that needs a token to read the index, download
//! and publish; nothing changes.

use super::{
    api, download_path, expect_errors, expect_errors_in, index_lines, logins, owner_logins,
    owners_path, publish, put_crate, setup, unyank, versions, yank,
};
use crate::support::snapshot::{assert_unchanged, index_snapshot};
use packgate_cargo::testing::{Crate, index_url};
use serde_json::json;

#[test]
fn private_repository_needs_a_token_for_index_download_and_publish() {
    let (server, token) = setup();
    let http = server.http();
    let file = publish(
        &server,
        "cargo-private",
        &token,
        &Crate::new("pg-secret", "1.0.0"),
    );
    let index = index_url("cargo-private", "pg-secret");
    let download = download_path("cargo-private", "pg-secret", "1.0.0");
    for path in [&index, &download] {
        http.get(path).expect(401);
        http.get_with(path, &[("authorization", "not-a-token")])
            .expect(401);
    }
    let lines = index_lines(&server, "cargo-private", "pg-secret", Some(&token));
    assert_eq!(versions(&lines), ["1.0.0"]);
    let got = http.get_with(&download, &[("authorization", token.as_str())]);
    assert_eq!(got.expect(200).body, file);

    let before = index_snapshot(&server, "cargo-private", "pg-secret", Some(&token));
    let resp = put_crate(
        &server,
        "cargo-private",
        None,
        Crate::new("pg-secret", "1.1.0").body(),
    );
    expect_errors(&resp, 401);
    assert_unchanged(
        &server,
        &before,
        "anonymous publish to the private repository",
    );
}

#[test]
fn writes_without_a_token_are_unauthorized() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("guarded", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "guarded", None);
    let body = Crate::new("guarded", "1.1.0").body();
    expect_errors(&put_crate(&server, "cargo", None, body.clone()), 401);
    assert_unchanged(&server, &before, "anonymous publish");
    for auth in ["not-a-token", "Bearer not-a-token"] {
        let resp = put_crate(&server, "cargo", Some(auth), body.clone());
        expect_errors_in(&resp, &[401, 403]);
        assert_unchanged(&server, &before, &format!("publish with {auth:?}"));
    }
    expect_errors(&yank(&server, None, "guarded", "1.0.0"), 401);
    expect_errors(&unyank(&server, None, "guarded", "1.0.0"), 401);
    let users = json!({"users": ["alice"]});
    for method in ["PUT", "DELETE"] {
        let resp = api(&server, method, &owners_path("guarded"), None, Some(&users));
        expect_errors(&resp, 401);
    }
    assert_unchanged(&server, &before, "anonymous writes");
    assert_eq!(owner_logins(&server, &token, "guarded"), logins(&["alice"]));
}

#[test]
fn read_only_token_is_forbidden() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("ro", "1.0.0"));
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    // The token itself is valid: it reads the private repository.
    server
        .http()
        .get_with(
            "/cargo-private/index/config.json",
            &[("authorization", read_only.as_str())],
        )
        .expect(200);
    let before = index_snapshot(&server, "cargo", "ro", None);
    let resp = put_crate(
        &server,
        "cargo",
        Some(&read_only),
        Crate::new("ro", "1.1.0").body(),
    );
    expect_errors(&resp, 403);
    assert_unchanged(&server, &before, "read-only publish");
    let fresh_before = index_snapshot(&server, "cargo", "ro-new", None);
    let resp = put_crate(
        &server,
        "cargo",
        Some(&read_only),
        Crate::new("ro-new", "1.0.0").body(),
    );
    expect_errors(&resp, 403);
    assert_unchanged(&server, &fresh_before, "read-only publish of a new crate");
    expect_errors(&yank(&server, Some(&read_only), "ro", "1.0.0"), 403);
    assert_unchanged(&server, &before, "read-only yank");
}

#[test]
fn token_for_another_repository_is_forbidden() {
    let (server, token) = setup();
    let for_npm = server.create_token("alice", &["--scope", "read,publish", "--repo", "npm"]);
    let for_private = server.create_token(
        "alice",
        &["--scope", "read,publish", "--repo", "cargo-private"],
    );
    let before = index_snapshot(&server, "cargo", "elsewhere", None);
    for (what, other) in [("npm", &for_npm), ("cargo-private", &for_private)] {
        let resp = put_crate(
            &server,
            "cargo",
            Some(other),
            Crate::new("elsewhere", "1.0.0").body(),
        );
        expect_errors(&resp, 403);
        assert_unchanged(
            &server,
            &before,
            &format!("publish to `cargo` with a token limited to `{what}`"),
        );
    }
    // The limited token works in its own repository.
    publish(
        &server,
        "cargo-private",
        &for_private,
        &Crate::new("elsewhere", "1.0.0"),
    );
    assert_eq!(
        versions(&index_lines(
            &server,
            "cargo-private",
            "elsewhere",
            Some(&token)
        )),
        ["1.0.0"]
    );
}
