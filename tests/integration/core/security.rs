//! Safe defaults: headers that keep stored content from running in a browser, tokens that do not
//! leak into logs, token management that needs full rights, sign-in tokens that expire.

use crate::support::publish_body::escape_name;
use crate::support::{Package, TestServer};
use serde_json::json;

#[test]
fn package_files_download_as_attachments_in_a_sandbox_and_nothing_is_sniffed() {
    let server = TestServer::start();
    let token = server.publisher("alice");
    let body = Package::new("headers-pkg", "1.0.0")
        .file("index.html", "<script>alert(1)</script>")
        .publish_body(&server.registry("npm"), "latest");
    server
        .http()
        .json("PUT", "/npm/headers-pkg", Some(&token), &body)
        .expect(201);
    let tgz = server
        .http()
        .get("/npm/headers-pkg/-/headers-pkg-1.0.0.tgz");
    tgz.expect(200);
    assert_eq!(tgz.header("content-disposition"), Some("attachment"));
    let csp = tgz.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    for resp in [
        tgz,
        server.http().get("/npm/headers-pkg"),
        server.http().get("/npm/%3Cscript%3E"),
        server.http().get("/no-such-repository/x"),
    ] {
        assert_eq!(
            resp.header("x-content-type-options"),
            Some("nosniff"),
            "{}",
            resp.request
        );
    }
}

#[test]
fn a_logout_token_in_the_path_is_not_written_to_the_log() {
    let server = TestServer::start();
    let token = server.publisher("alice");
    let http = server.http();
    let path = format!("/npm/-/user/token/{}", escape_name(&token));
    http.delete(&path, Some(&token)).expect(200);
    // A failed logout (the token is gone now) must not leave it in the log either.
    let _ = http.delete(&path, Some(&token));
    let log = server.stderr_tail(10_000);
    assert!(
        !log.contains(&token),
        "the token appears in the server log:\n{log}"
    );
    assert!(log.contains("/npm/-/user/token/<redacted>"), "{log}");
}

#[test]
fn token_management_needs_a_token_with_full_rights() {
    let server = TestServer::start();
    let full = server.publisher("alice");
    let read_only = server.create_token("alice", &["--scope", "read"]);
    let for_npm_only = server.create_token("alice", &["--repo", "npm"]);
    let http = server.http();
    let list = "/npm/-/npm/v1/tokens";
    for (what, token) in [
        ("read-only", &read_only),
        ("repository-limited", &for_npm_only),
    ] {
        let msg = http.get_auth(list, Some(token)).expect_error(403);
        assert!(msg.contains("full rights"), "{what}: {msg}");
        let create = http.json(
            "POST",
            list,
            Some(token),
            &json!({"password": "alice-password", "readonly": false, "cidr_whitelist": []}),
        );
        create.expect_error(403);
    }
    let objects = http.get_auth(list, Some(&full)).expect(200).json()["objects"]
        .as_array()
        .expect("objects")
        .clone();
    assert_eq!(objects.len(), 3, "{objects:?}");
    let key = objects[0]["key"].as_str().expect("key").to_owned();
    http.delete(
        &format!("/npm/-/npm/v1/tokens/token/{key}"),
        Some(&read_only),
    )
    .expect_error(403);
    assert_eq!(
        http.get_auth(list, Some(&full)).expect(200).json()["objects"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "nothing was revoked"
    );
}

#[test]
fn sign_in_tokens_expire() {
    let server = TestServer::start();
    server.add_user("dora", Some("dora-password"));
    let http = server.http();
    let body = json!({"_id": "org.couchdb.user:dora", "name": "dora", "password": "dora-password",
        "type": "user", "roles": [], "date": "2026-01-01T00:00:00.000Z"});
    let login = http
        .json("PUT", "/npm/-/user/org.couchdb.user:dora", None, &body)
        .expect(201)
        .json();
    let token = login["token"].as_str().expect("token").to_owned();
    let objects = http
        .get_auth("/npm/-/npm/v1/tokens", Some(&token))
        .expect(200)
        .json()["objects"]
        .clone();
    assert!(
        objects[0]["expires"].is_string(),
        "an npm login token has an expiry: {objects}"
    );
}
