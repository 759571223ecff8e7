//! The Cargo registry protocol over crafted HTTP requests: config.json (public and private),
//! index paths and lines, the binary publish framing, downloads and `cksum`, ETag/304, yank and
//! unyank, owners, search, and every refusal (status, `errors[0].detail`, and nothing changed:
//! index file, its ETag, and the number of stored blobs). Protocol: /work/shared/protocols/cargo.md.

use crate::support::cargo_snapshot::{assert_index_unchanged, index_snapshot};
use crate::support::crate_builder::{
    Crate, Dep, assert_index_line, frame, index_path, index_url, parse_index, sha256_hex, tar_gz,
};
use crate::support::http::raw_request;
use crate::support::publish_body::gzip;
use crate::support::{Resp, TestServer, random_bytes};
use serde_json::{Value, json};
use std::collections::BTreeSet;

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

// ------------------------------------------------------------------------------------------------
// The happy paths
// ------------------------------------------------------------------------------------------------

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
fn publish_index_line_download_and_cksum() {
    let (server, token) = setup();
    let http = server.http();
    expect_404(&get_index(&server, "cargo", "pg-story", None));

    let first = Crate::new("pg-story", "0.1.0").rust_version("1.70");
    let blobs = server.blob_count();
    let file = publish(&server, "cargo", &token, &first);
    if let (Some(before), Some(after)) = (blobs, server.blob_count()) {
        // Makes the "blob count unchanged" checks of the refusal tests meaningful.
        assert!(
            after > before,
            "a publish stores the .crate under data_dir/blobs"
        );
    }

    let resp = get_index(&server, "cargo", "pg-story", None);
    resp.expect(200);
    assert_eq!(index_path("pg-story"), "pg/-s/pg-story");
    let text = resp.text();
    let lines = parse_index(&text);
    assert_eq!(lines.len(), 1, "one line per version: {text:?}");
    assert_index_line(
        &lines[0],
        &first.expected_index_line(&file, false),
        "pg-story 0.1.0",
    );
    assert_eq!(lines[0]["cksum"], json!(sha256_hex(&file)));
    for line in text.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "one JSON object per line: {line:?}"
        );
    }

    let download = http.get(&download_path("cargo", "pg-story", "0.1.0"));
    download.expect(200);
    assert_eq!(download.body, file, "download returns the uploaded .crate");
    assert_eq!(sha256_hex(&download.body), sha256_hex(&file));
    for path in [
        download_path("cargo", "pg-story", "9.9.9"),
        download_path("cargo", "no-such-crate", "0.1.0"),
    ] {
        let resp = http.get(&path);
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
    }

    // `Bearer <token>` works too; versions stay in publication order.
    let bearer = format!("Bearer {token}");
    for vers in ["0.2.0", "0.1.1"] {
        let krate = Crate::new("pg-story", vers);
        let resp = put_crate(&server, "cargo", Some(&bearer), krate.body());
        resp.expect(200);
        assert_publish_ok(&resp);
    }
    let lines = index_lines(&server, "cargo", "pg-story", None);
    assert_eq!(versions(&lines), ["0.1.0", "0.2.0", "0.1.1"]);
    assert_index_line(
        &lines[0],
        &first.expected_index_line(&file, false),
        "pg-story 0.1.0 after more publishes",
    );
    let latest = Crate::new("pg-story", "0.1.1");
    let latest_file = http
        .get(&download_path("cargo", "pg-story", "0.1.1"))
        .expect(200)
        .body
        .clone();
    assert_eq!(latest_file, latest.crate_file());
    assert_eq!(lines[2]["cksum"], json!(sha256_hex(&latest_file)));
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
fn dependencies_are_recorded_as_sent() {
    let (server, token) = setup();
    let mut krate = Crate::new("pg-deps", "0.3.0")
        .rust_version("1.70")
        // Renamed, same registry, crate not present here.
        .dep(Dep::new("pg-story", "^0.1").alias("story_alias"))
        // Another registry, with features.
        .dep(
            Dep::new("serde", "^1.0")
                .registry(OTHER_INDEX)
                .features(&["derive"]),
        )
        // Renamed + optional + no default features + target-specific + another registry.
        .dep(
            Dep::new("rand", "^0.8")
                .alias("rand08")
                .optional()
                .no_default_features()
                .target("cfg(unix)")
                .registry(OTHER_INDEX),
        )
        .dep(Dep::new("winapi-ish", "^0.3").target("x86_64-pc-windows-gnu"))
        .dep(Dep::new("not-here", "^1").kind("dev"))
        .dep(Dep::new("cc", "^1.0").kind("build").registry(OTHER_INDEX))
        .feature("default", &["std"])
        .feature("std", &[])
        .feature("rng", &["dep:rand08", "serde?/std"]);
    krate.links = Some("pgdeps".to_owned());
    let file = publish(&server, "cargo", &token, &krate);
    let lines = index_lines(&server, "cargo", "pg-deps", None);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_index_line(line, &krate.expected_index_line(&file, false), "pg-deps");

    let dep = |name: &str| -> Value {
        line["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .find(|d| d["name"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("no dependency named {name:?} in {line}"))
    };
    let renamed = dep("story_alias");
    assert_eq!(renamed["package"], json!("pg-story"));
    assert_eq!(renamed["req"], json!("^0.1"));
    let rand = dep("rand08");
    assert_eq!(rand["package"], json!("rand"));
    assert_eq!(rand["optional"], json!(true));
    assert_eq!(rand["default_features"], json!(false));
    assert_eq!(rand["target"], json!("cfg(unix)"));
    assert_eq!(rand["registry"], json!(OTHER_INDEX));
    assert_eq!(dep("not-here")["kind"], json!("dev"));
    assert_eq!(dep("cc")["kind"], json!("build"));
    for original in ["pg-story", "rand"] {
        assert!(
            line["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .all(|d| d["name"] != json!(original)),
            "a renamed dependency must be listed under its alias, not {original:?}: {line}"
        );
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
    assert_index_unchanged(
        &server,
        "cargo-private",
        "pg-secret",
        Some(&token),
        &before,
        "anonymous publish to the private repository",
    );
}

#[test]
fn search_honours_per_page_and_reports_the_total() {
    let (server, token) = setup();
    for vers in ["0.1.0", "0.3.0", "0.2.0"] {
        publish(
            &server,
            "cargo",
            &token,
            &Crate::new("srch-alpha", vers).description("the alpha crate"),
        );
    }
    for name in ["srch-beta", "srch-gamma", "srch-delta", "other-thing"] {
        publish(&server, "cargo", &token, &Crate::new(name, "1.0.0"));
    }
    let search = |query: &str| -> Value {
        api(
            &server,
            "GET",
            &format!("/cargo/api/v1/crates?{query}"),
            None,
            None,
        )
        .expect(200)
        .json()
    };

    let page = search("q=srch&per_page=2");
    let crates = page["crates"].as_array().expect("`crates` array");
    assert_eq!(crates.len(), 2, "per_page=2: {page}");
    assert_eq!(
        page["meta"]["total"],
        json!(4),
        "total counts all matches: {page}"
    );
    for c in crates {
        assert!(
            c["name"].as_str().is_some_and(|n| n.starts_with("srch-")),
            "{c}"
        );
        assert!(c["max_version"].is_string(), "{c}");
    }

    let all = search("q=srch&per_page=10");
    let crates = all["crates"].as_array().expect("`crates` array");
    let names: BTreeSet<&str> = crates.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["srch-alpha", "srch-beta", "srch-delta", "srch-gamma"]),
        "{all}"
    );
    assert_eq!(all["meta"]["total"], json!(4));
    let alpha = crates
        .iter()
        .find(|c| c["name"] == json!("srch-alpha"))
        .expect("srch-alpha");
    assert_eq!(
        alpha["max_version"],
        json!("0.3.0"),
        "highest, not latest published"
    );
    assert_eq!(alpha["description"], json!("the alpha crate"));

    let none = search("q=nothing-matches-this&per_page=10");
    assert_eq!(none["crates"], json!([]));
    assert_eq!(none["meta"]["total"], json!(0));
}

#[test]
fn owners_list_add_remove_and_publish_rights() {
    let (server, token) = setup();
    let bob = server.publisher("bob");
    publish(&server, "cargo", &token, &Crate::new("pg-own", "0.1.0"));
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));

    // Bob is not an owner: he can neither publish nor make himself one.
    let before = index_snapshot(&server, "cargo", "pg-own", None);
    let resp = put_crate(
        &server,
        "cargo",
        Some(&bob),
        Crate::new("pg-own", "0.2.0").body(),
    );
    expect_errors(&resp, 403);
    assert_index_unchanged(
        &server,
        "cargo",
        "pg-own",
        None,
        &before,
        "non-owner publish",
    );
    let resp = api(
        &server,
        "PUT",
        &owners_path("pg-own"),
        Some(&bob),
        Some(&json!({"users": ["bob"]})),
    );
    expect_errors(&resp, 403);
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));

    // Alice adds bob; then bob can publish.
    let resp = api(
        &server,
        "PUT",
        &owners_path("pg-own"),
        Some(&token),
        Some(&json!({"users": ["bob"]})),
    );
    let body = resp.expect(200).json();
    assert_eq!(body["ok"], json!(true), "{body}");
    assert!(
        body["msg"].is_string(),
        "owner add needs a string `msg`: {body}"
    );
    assert_eq!(
        owner_logins(&server, &token, "pg-own"),
        logins(&["alice", "bob"])
    );
    publish(&server, "cargo", &bob, &Crate::new("pg-own", "0.2.0"));

    // Alice removes bob; bob can no longer publish.
    let resp = api(
        &server,
        "DELETE",
        &owners_path("pg-own"),
        Some(&token),
        Some(&json!({"users": ["bob"]})),
    );
    let body = resp.expect(200).json();
    assert_eq!(body["ok"], json!(true), "{body}");
    assert!(
        body["msg"].is_string(),
        "owner remove needs a string `msg`: {body}"
    );
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));
    let before = index_snapshot(&server, "cargo", "pg-own", None);
    let resp = put_crate(
        &server,
        "cargo",
        Some(&bob),
        Crate::new("pg-own", "0.3.0").body(),
    );
    expect_errors(&resp, 403);
    assert_index_unchanged(
        &server,
        "cargo",
        "pg-own",
        None,
        &before,
        "publish by a removed owner",
    );

    // The last owner cannot be removed.
    let resp = api(
        &server,
        "DELETE",
        &owners_path("pg-own"),
        Some(&token),
        Some(&json!({"users": ["alice"]})),
    );
    expect_errors(&resp, 400);
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));
    assert_eq!(
        versions(&index_lines(&server, "cargo", "pg-own", None)),
        ["0.1.0", "0.2.0"]
    );
}

// ------------------------------------------------------------------------------------------------
// Refusals
// ------------------------------------------------------------------------------------------------

#[test]
fn writes_without_a_token_are_unauthorized() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("guarded", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "guarded", None);
    let body = Crate::new("guarded", "1.1.0").body();
    expect_errors(&put_crate(&server, "cargo", None, body.clone()), 401);
    assert_index_unchanged(
        &server,
        "cargo",
        "guarded",
        None,
        &before,
        "anonymous publish",
    );
    for auth in ["not-a-token", "Bearer not-a-token"] {
        let resp = put_crate(&server, "cargo", Some(auth), body.clone());
        expect_errors_in(&resp, &[401, 403]);
        assert_index_unchanged(
            &server,
            "cargo",
            "guarded",
            None,
            &before,
            &format!("publish with {auth:?}"),
        );
    }
    expect_errors(&yank(&server, None, "guarded", "1.0.0"), 401);
    expect_errors(&unyank(&server, None, "guarded", "1.0.0"), 401);
    let users = json!({"users": ["alice"]});
    for method in ["PUT", "DELETE"] {
        let resp = api(&server, method, &owners_path("guarded"), None, Some(&users));
        expect_errors(&resp, 401);
    }
    assert_index_unchanged(
        &server,
        "cargo",
        "guarded",
        None,
        &before,
        "anonymous writes",
    );
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
    assert_index_unchanged(&server, "cargo", "ro", None, &before, "read-only publish");
    let fresh_before = index_snapshot(&server, "cargo", "ro-new", None);
    let resp = put_crate(
        &server,
        "cargo",
        Some(&read_only),
        Crate::new("ro-new", "1.0.0").body(),
    );
    expect_errors(&resp, 403);
    assert_index_unchanged(
        &server,
        "cargo",
        "ro-new",
        None,
        &fresh_before,
        "read-only publish of a new crate",
    );
    expect_errors(&yank(&server, Some(&read_only), "ro", "1.0.0"), 403);
    assert_index_unchanged(&server, "cargo", "ro", None, &before, "read-only yank");
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
        assert_index_unchanged(
            &server,
            "cargo",
            "elsewhere",
            None,
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

#[test]
fn duplicate_versions_conflict() {
    let (server, token) = setup();
    let original = Crate::new("dup", "1.0.0");
    let file = publish(&server, "cargo", &token, &original);
    let before = index_snapshot(&server, "cargo", "dup", None);
    let cases = [
        ("identical", original.clone()),
        (
            "different content",
            original
                .clone()
                .file("src/lib.rs", "pub const OTHER: u8 = 1;\n"),
        ),
        ("build metadata", Crate::new("dup", "1.0.0+b")),
    ];
    for (what, krate) in cases {
        let resp = put_crate(&server, "cargo", Some(&token), krate.body());
        let detail = expect_errors(&resp, 409);
        assert!(
            detail.contains("already"),
            "{what}: detail should say the version already exists: {detail:?}"
        );
        assert_index_unchanged(&server, "cargo", "dup", None, &before, what);
    }
    let served = server.http().get(&download_path("cargo", "dup", "1.0.0"));
    assert_eq!(served.expect(200).body, file, "the first .crate is kept");
}

#[test]
fn yank_of_a_missing_version_is_not_found() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("here", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "here", None);
    for (name, vers) in [("here", "9.9.9"), ("not-here", "1.0.0")] {
        expect_errors(&yank(&server, Some(&token), name, vers), 404);
        expect_errors(&unyank(&server, Some(&token), name, vers), 404);
    }
    assert_index_unchanged(
        &server,
        "cargo",
        "here",
        None,
        &before,
        "yank of missing versions",
    );
}

#[test]
fn publish_over_max_upload_is_payload_too_large() {
    let server = TestServer::builder().max_upload("64 KiB").start();
    let token = server.publisher("alice");
    let big = Crate::new("hefty", "1.0.0").file("data.bin", random_bytes(200 * 1024, 11));
    let body = big.body();
    assert!(body.len() > 150 * 1024, "incompressible payload");
    let before = index_snapshot(&server, "cargo", "hefty", None);
    let addr = format!("127.0.0.1:{}", server.port);
    let headers = [
        ("content-type", "application/octet-stream"),
        ("accept", "application/json"),
        ("authorization", token.as_str()),
    ];
    let resp = raw_request(
        &addr,
        "PUT",
        "/cargo/api/v1/crates/new",
        &headers,
        &body,
        None,
        || {},
    );
    expect_errors(&resp, 413);
    assert_index_unchanged(
        &server,
        "cargo",
        "hefty",
        None,
        &before,
        "publish over max_upload",
    );
    // The server is still fine, and a small publish passes.
    publish(&server, "cargo", &token, &Crate::new("hefty", "1.0.0"));
}

#[test]
fn malformed_publish_bodies_are_bad_requests() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("pg-bad", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "pg-bad", None);
    let good = Crate::new("pg-bad", "1.1.0");
    let json = serde_json::to_vec(&good.metadata()).expect("serialize");
    let file = good.crate_file();
    let framed = frame(&json, &file);

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    cases.push(("empty body", Vec::new()));
    cases.push(("three bytes", vec![1, 0, 0]));
    let mut too_long_json = framed.clone();
    too_long_json[..4].copy_from_slice(&(framed.len() as u32 + 10).to_le_bytes());
    cases.push(("JSON length beyond the body", too_long_json));
    let mut only_json = (json.len() as u32).to_le_bytes().to_vec();
    only_json.extend_from_slice(&json);
    cases.push(("no crate length", only_json));
    let mut short_crate = framed.clone();
    short_crate.truncate(framed.len() - 10);
    cases.push(("crate shorter than its length", short_crate));
    let mut trailing = framed.clone();
    trailing.extend_from_slice(b"extra bytes");
    cases.push(("trailing bytes", trailing));
    cases.push(("JSON syntax error", frame(b"{\"name\": \"pg-bad\",", &file)));
    let mut no_vers = good.metadata();
    no_vers.as_object_mut().expect("object").remove("vers");
    cases.push((
        "JSON without vers",
        frame(&serde_json::to_vec(&no_vers).expect("json"), &file),
    ));
    let mut bad_deps = good.metadata();
    bad_deps["deps"] = json!("serde");
    cases.push((
        "deps not an array",
        frame(&serde_json::to_vec(&bad_deps).expect("json"), &file),
    ));
    cases.push((".crate not gzip", frame(&json, &random_bytes(4096, 3))));
    cases.push((
        ".crate gzip but not tar",
        frame(&json, &gzip(&random_bytes(4096, 5))),
    ));
    let mut no_toml = good.clone();
    no_toml.omit_cargo_toml = true;
    cases.push((
        ".crate without Cargo.toml",
        frame(&json, &no_toml.crate_file()),
    ));
    let wrong_dir = tar_gz(&[
        (
            "other-1.1.0/Cargo.toml".to_owned(),
            good.cargo_toml().into_bytes(),
        ),
        ("other-1.1.0/src/lib.rs".to_owned(), b"\n".to_vec()),
    ]);
    cases.push((
        ".crate with another top directory",
        frame(&json, &wrong_dir),
    ));
    let mut other_name = good.clone();
    other_name.toml_name = Some("pg-other".to_owned());
    cases.push((
        "Cargo.toml names another crate",
        frame(&json, &other_name.crate_file()),
    ));
    let mut other_vers = good.clone();
    other_vers.toml_vers = Some("1.2.0".to_owned());
    cases.push((
        "Cargo.toml has another version",
        frame(&json, &other_vers.crate_file()),
    ));

    for (what, body) in cases {
        let resp = put_crate(&server, "cargo", Some(&token), body);
        expect_errors(&resp, 400);
        assert_index_unchanged(&server, "cargo", "pg-bad", None, &before, what);
    }
    // The same server accepts the well-formed body.
    let resp = put_crate(&server, "cargo", Some(&token), framed);
    resp.expect(200);
    assert_eq!(
        versions(&index_lines(&server, "cargo", "pg-bad", None)),
        ["1.0.0", "1.1.0"]
    );
}

#[test]
fn forbidden_names_are_bad_requests() {
    let (server, token) = setup();
    let too_long = "a".repeat(65);
    let names = ["", too_long.as_str(), "crâte", "1abc", "std", "nul"];
    for name in names {
        let blobs = server.blob_count();
        let resp = put_crate(
            &server,
            "cargo",
            Some(&token),
            Crate::new(name, "1.0.0").body(),
        );
        expect_errors(&resp, 400);
        assert_eq!(
            server.blob_count(),
            blobs,
            "{name:?}: number of files under data_dir/blobs changed"
        );
        if !name.is_empty() && name.is_ascii() {
            expect_404(&get_index(&server, "cargo", name, None));
        }
    }
    // The limit itself is allowed.
    let longest = format!("b{}", "x".repeat(63));
    publish(&server, "cargo", &token, &Crate::new(&longest, "1.0.0"));
    assert_eq!(
        versions(&index_lines(&server, "cargo", &longest, None)),
        ["1.0.0"]
    );
}

#[test]
fn invalid_versions_are_bad_requests() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("pg-semver", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "pg-semver", None);
    for vers in ["", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "v1.0.0", "latest"] {
        let resp = put_crate(
            &server,
            "cargo",
            Some(&token),
            Crate::new("pg-semver", vers).body(),
        );
        expect_errors(&resp, 400);
        assert_index_unchanged(
            &server,
            "cargo",
            "pg-semver",
            None,
            &before,
            &format!("version {vers:?}"),
        );
    }
    // Pre-release and build metadata are valid SemVer.
    publish(
        &server,
        "cargo",
        &token,
        &Crate::new("pg-semver", "1.1.0-rc.1+build.5"),
    );
    assert_eq!(
        versions(&index_lines(&server, "cargo", "pg-semver", None)),
        ["1.0.0", "1.1.0-rc.1+build.5"]
    );
}

#[test]
fn names_are_unique_ignoring_case_and_separators() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("foo-bar", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "foo-bar", None);
    for spelling in ["Foo_Bar", "foo_bar", "FOO-BAR"] {
        let resp = put_crate(
            &server,
            "cargo",
            Some(&token),
            Crate::new(spelling, "2.0.0").body(),
        );
        expect_errors_in(&resp, &[409, 400]);
        assert_index_unchanged(&server, "cargo", "foo-bar", None, &before, spelling);
        expect_404(&get_index(&server, "cargo", "foo_bar", None));
    }
    publish(&server, "cargo", &token, &Crate::new("foo-bar", "1.1.0"));
    let lines = index_lines(&server, "cargo", "foo-bar", None);
    assert_eq!(versions(&lines), ["1.0.0", "1.1.0"]);
    for line in &lines {
        assert_eq!(
            line["name"],
            json!("foo-bar"),
            "first spelling kept: {line}"
        );
    }
}
