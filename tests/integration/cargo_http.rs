//! The Cargo registry protocol over crafted HTTP requests: config.json (public and private),
//! index paths and lines, the binary publish framing, downloads and `cksum`, ETag/304, yank and
//! unyank, owners, search, and every refusal (status, `errors[0].detail`, and nothing changed:
//! index file, its ETag, and the number of stored blobs). Protocol: /work/shared/protocols/cargo.md.
//!
//! The tests live in one submodule per operation: `index` (config.json, index paths, ETag/304),
//! `publish`, `search`, `owners`, `auth` (missing, read-only and misdirected tokens; the private
//! repository) and `refusals` (malformed bodies, names and versions; sizes; missing versions).
//! This file holds what they share: the setup and the request and index helpers.

use crate::support::{Resp, TestServer};
use packgate_cargo::testing::{Crate, frame, index_url, parse_index};
use serde_json::Value;
use std::collections::BTreeSet;

mod auth;
mod index;
mod owners;
mod publish;
mod refusals;
mod search;

/// A made-up index URL of "another registry" for dependencies that do not live here.
const OTHER_INDEX: &str = "sparse+https://index.example.test/";

/// A server plus the token of user `alice` (scopes read, publish, delete).
fn setup() -> (TestServer, String) {
    let server = TestServer::start();
    let token = server.publisher("alice");
    (server, token)
}

/// `PUT /{repo}/api/v1/crates/new` the way cargo sends it; `auth` is the whole header value.
fn put_crate(server: &TestServer, repo: &str, auth: Option<&str>, body: Vec<u8>) -> Resp {
    let mut headers = vec![
        ("content-type", "application/octet-stream"),
        ("accept", "application/json"),
    ];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    server.http().send(
        "PUT",
        &format!("/{repo}/api/v1/crates/new"),
        &headers,
        Some(body),
    )
}

/// Publishes `krate` to `repo` with the raw token and requires cargo's success shape; returns
/// the `.crate` bytes that were uploaded.
fn publish(server: &TestServer, repo: &str, token: &str, krate: &Crate) -> Vec<u8> {
    let file = krate.crate_file();
    let body = frame(
        &serde_json::to_vec(&krate.metadata()).expect("serialize"),
        &file,
    );
    let resp = put_crate(server, repo, Some(token), body);
    resp.expect(200);
    assert_publish_ok(&resp);
    file
}

fn assert_publish_ok(resp: &Resp) {
    let body = resp.json();
    assert!(
        body["warnings"].is_object(),
        "{}: publish response must be {{\"warnings\":{{…}}}}: {body}",
        resp.request
    );
    assert!(
        body.get("errors").is_none(),
        "{}: successful publish carries `errors`: {body}",
        resp.request
    );
}

/// A request to the web API with the raw token (as cargo sends it).
fn api(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Resp {
    let mut headers = vec![("accept", "application/json")];
    if let Some(t) = token {
        headers.push(("authorization", t));
    }
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    server.http().send(
        method,
        path,
        &headers,
        body.map(|b| serde_json::to_vec(b).expect("serialize")),
    )
}

fn yank(server: &TestServer, token: Option<&str>, name: &str, vers: &str) -> Resp {
    api(
        server,
        "DELETE",
        &format!("/cargo/api/v1/crates/{name}/{vers}/yank"),
        token,
        None,
    )
}

fn unyank(server: &TestServer, token: Option<&str>, name: &str, vers: &str) -> Resp {
    api(
        server,
        "PUT",
        &format!("/cargo/api/v1/crates/{name}/{vers}/unyank"),
        token,
        None,
    )
}

fn owners_path(name: &str) -> String {
    format!("/cargo/api/v1/crates/{name}/owners")
}

/// Asserts a cargo API error: the status, and `{"errors":[{"detail":"<non-empty>"}]}`.
/// Returns the detail.
fn expect_errors(resp: &Resp, status: u16) -> String {
    expect_errors_in(resp, &[status])
}

/// Like [`expect_errors`] with any of `statuses`.
fn expect_errors_in(resp: &Resp, statuses: &[u16]) -> String {
    assert!(
        statuses.contains(&resp.status),
        "{}: expected status {statuses:?}, got {}; body: {}",
        resp.request,
        resp.status,
        resp.text()
    );
    let body = resp.json();
    let detail = body["errors"][0]["detail"].as_str().unwrap_or_else(|| {
        panic!(
            "{}: error body is not {{\"errors\":[{{\"detail\":…}}]}}: {body}",
            resp.request
        )
    });
    assert!(
        !detail.trim().is_empty(),
        "{}: empty `errors[0].detail` in {body}",
        resp.request
    );
    detail.to_owned()
}

/// GET the index file of `name` in `repo` (raw token when given).
fn get_index(server: &TestServer, repo: &str, name: &str, token: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = token.iter().map(|t| ("authorization", *t)).collect();
    server.http().get_with(&index_url(repo, name), &headers)
}

fn index_lines(server: &TestServer, repo: &str, name: &str, token: Option<&str>) -> Vec<Value> {
    let resp = get_index(server, repo, name, token);
    resp.expect(200);
    parse_index(&resp.text())
}

fn versions(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["vers"].as_str().expect("vers").to_owned())
        .collect()
}

fn download_path(repo: &str, name: &str, vers: &str) -> String {
    format!("/{repo}/api/v1/crates/{name}/{vers}/download")
}

fn owner_logins(server: &TestServer, token: &str, name: &str) -> BTreeSet<String> {
    let resp = api(server, "GET", &owners_path(name), Some(token), None);
    let body = resp.expect(200).json();
    let users = body["users"]
        .as_array()
        .unwrap_or_else(|| panic!("owners response has no `users` array: {body}"));
    users
        .iter()
        .map(|u| {
            assert!(
                u["id"].is_u64(),
                "owner `id` must be an unsigned number: {u}"
            );
            u["login"]
                .as_str()
                .unwrap_or_else(|| panic!("owner without `login`: {u}"))
                .to_owned()
        })
        .collect()
}

fn logins(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn expect_404(resp: &Resp) {
    assert_eq!(
        resp.status,
        404,
        "{}: expected 404, got {}: {}",
        resp.request,
        resp.status,
        resp.text()
    );
}
