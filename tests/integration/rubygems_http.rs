//! The RubyGems protocol over crafted HTTP requests: the compact index (`versions`, `info/NAME`,
//! `names`) with its line formats, checksums, ETag = quoted MD5, `Repr-Digest`, 304 and the
//! append-only Range semantics of `versions`; the legacy specs files and quick specs; downloads;
//! `gem push` / `gem yank` / `api_key` over HTTP with every refusal (status, a non-empty plain-text
//! body, and nothing changed: `versions` and its ETag, `names`, `info/NAME`, blob count); HEAD on
//! every GET route; the private repository. Gems are built in Rust (`packgate_rubygems::testing`).
//! Protocol: /work/shared/protocols/rubygems.md.
//!
//! The tests live in one submodule per operation: `compact_index` (plus HEAD on every GET route),
//! `push`, `yank`, `legacy` (specs files and quick specs), `auth` (refused credentials, the
//! `api_key` endpoint, the private repository) and `refusals` (malformed gems, sizes). This file
//! holds what they share: the setup, the push/yank requests and the document helpers.

use crate::support::{Resp, TestServer};
use packgate_npm::testing::base64;
use packgate_rubygems::testing::{Gem, md5_hex, parse_versions, versions_state};

mod auth;
mod compact_index;
mod legacy;
mod push;
mod refusals;
mod yank;

const PLATFORM: &str = "x86_64-linux";

/// A server plus the token of user `alice` (password `alice-password`; scopes read, publish,
/// delete).
fn setup() -> (TestServer, String) {
    let server = TestServer::start();
    let token = server.publisher("alice");
    (server, token)
}

/// `Basic base64(user:secret)`.
fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{secret}").as_bytes()))
}

/// `POST /{repo}/api/v1/gems` the way `gem push` sends it; `auth` is the whole header value.
fn push(server: &TestServer, repo: &str, auth: Option<&str>, body: Vec<u8>) -> Resp {
    let mut headers = vec![("content-type", "application/octet-stream")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    server.http().send(
        "POST",
        &format!("/{repo}/api/v1/gems"),
        &headers,
        Some(body),
    )
}

/// Pushes `gem` with the raw key and requires `gem`'s success text; returns the `.gem` bytes.
fn push_ok(server: &TestServer, repo: &str, key: &str, gem: &Gem) -> Vec<u8> {
    let file = gem.gem_file();
    let resp = push(server, repo, Some(key), file.clone());
    assert_registered(&resp, gem);
    file
}

fn assert_registered(resp: &Resp, gem: &Gem) {
    resp.expect(200);
    let text = resp.text();
    let want = format!("Successfully registered gem: {} ({}", gem.name, gem.version);
    assert!(
        text.starts_with(&want) && text.trim_end().ends_with(')'),
        "{}: push answer should be `{want})`: {text:?}",
        resp.request
    );
}

/// `DELETE /{repo}/api/v1/gems/yank` with a form body, as `gem yank` sends it.
fn yank(
    server: &TestServer,
    repo: &str,
    auth: Option<&str>,
    name: &str,
    version: &str,
    platform: Option<&str>,
) -> Resp {
    let mut form = format!("gem_name={name}&version={version}");
    if let Some(p) = platform {
        form.push_str(&format!("&platform={p}"));
    }
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    server.http().send(
        "DELETE",
        &format!("/{repo}/api/v1/gems/yank"),
        &headers,
        Some(form.into_bytes()),
    )
}

/// Asserts a refusal as `gem` shows it: one of `statuses` and a non-empty plain-text body
/// (not JSON, not HTML). Returns the text.
fn expect_text_error(resp: &Resp, statuses: &[u16]) -> String {
    assert!(
        statuses.contains(&resp.status),
        "{}: expected status {statuses:?}, got {}; body: {}",
        resp.request,
        resp.status,
        resp.text()
    );
    let text = resp.text();
    let trimmed = text.trim();
    assert!(
        !trimmed.is_empty(),
        "{}: refusal {} without a text body",
        resp.request,
        resp.status
    );
    assert!(
        !trimmed.starts_with('{') && !trimmed.starts_with('<'),
        "{}: refusal body must be plain text (gem prints it verbatim): {text:?}",
        resp.request
    );
    if let Some(ct) = resp.header("content-type") {
        assert!(
            ct.starts_with("text/"),
            "{}: refusal content-type should be text: {ct:?}",
            resp.request
        );
    }
    text
}

fn get(server: &TestServer, path: &str) -> Resp {
    server.http().get(path)
}

fn info_text(server: &TestServer, repo: &str, name: &str) -> String {
    get(server, &format!("/{repo}/info/{name}"))
        .expect(200)
        .text()
}

fn versions_text(server: &TestServer, repo: &str) -> String {
    get(server, &format!("/{repo}/versions")).expect(200).text()
}

fn expect_status(resp: &Resp, status: u16) {
    assert_eq!(
        resp.status,
        status,
        "{}: expected {status}, got {}: {}",
        resp.request,
        resp.status,
        resp.text()
    );
}

/// Every (name → live versions, md5) of `versions`, asserting the MD5s equal the MD5 of the
/// `info/NAME` bodies served now.
fn assert_versions_md5s_match_info(server: &TestServer, repo: &str) {
    let body = versions_text(server, repo);
    for (name, (live, md5)) in versions_state(&parse_versions(&body)) {
        if live.is_empty() {
            continue;
        }
        let info = info_text(server, repo, &name);
        assert_eq!(
            md5,
            md5_hex(info.as_bytes()),
            "the last `versions` line of {name} must carry the MD5 of info/{name} as served\n\
             versions: {body:?}\ninfo: {info:?}"
        );
    }
}
