//! The RubyGems protocol over crafted HTTP requests: the compact index (`versions`, `info/NAME`,
//! `names`) with its line formats, checksums, ETag = quoted MD5, `Repr-Digest`, 304 and the
//! append-only Range semantics of `versions`; the legacy specs files and quick specs; downloads;
//! `gem push` / `gem yank` / `api_key` over HTTP with every refusal (status, a non-empty plain-text
//! body, and nothing changed: `versions` and its ETag, `names`, `info/NAME`, blob count); HEAD on
//! every GET route; the private repository. Gems are built in Rust (`support::gem_builder`).
//! Protocol: /work/shared/protocols/rubygems.md.

use crate::support::gem_builder::{
    Gem, GemParts, InfoLine, TarEntry, gunzip, gzip, inflate_zlib, md5_hex, parse_info,
    parse_versions, repr_digest, sha256_hex, tar, versions_state,
};
use crate::support::gem_client::GemEnv;
use crate::support::gem_snapshot::{assert_gems_unchanged, gem_snapshot};
use crate::support::http::raw_request;
use crate::support::publish_body::base64;
use crate::support::{Resp, TestServer, random_bytes};

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

fn quoted_md5(body: &[u8]) -> String {
    format!("\"{}\"", md5_hex(body))
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

// ------------------------------------------------------------------------------------------------
// The happy paths
// ------------------------------------------------------------------------------------------------

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
fn push_compact_index_lines_and_downloads() {
    let (server, token) = setup();
    let gems = [
        Gem::new("pg_story", "0.1.0"),
        Gem::new("pg_story", "0.2.0")
            .dep("pg_dep", &["~> 1.0"])
            .dep("pg_multi", &[">= 0.2", "< 2"])
            .dev_dep("pg_devonly", &[">= 0"])
            .required_ruby(&[">= 2.7"])
            .required_rubygems(&[">= 3.0"]),
        Gem::new("pg_story", "0.2.0")
            .platform(PLATFORM)
            .dep("pg_dep", &["~> 1.0"]),
        Gem::new("pg_story", "0.3.0.pre"),
    ];
    let mut files = Vec::new();
    let blobs = server.blob_count();
    for gem in &gems {
        files.push(push_ok(&server, "rubygems", &token, gem));
    }
    if let (Some(before), Some(after)) = (blobs, server.blob_count()) {
        // Makes the "blob count unchanged" checks of the refusal tests meaningful.
        assert!(
            after > before,
            "a push stores the .gem under data_dir/blobs"
        );
    }

    // info/NAME: `---` then one line per version in publication order; checksum = SHA-256 of the
    // pushed file; development dependencies absent; ruby/rubygems requirements when not `>= 0`.
    let info = info_text(&server, "rubygems", "pg_story");
    let lines = parse_info(&info);
    let want: Vec<InfoLine> = gems
        .iter()
        .zip(&files)
        .map(|(g, f)| g.expected_info(f))
        .collect();
    assert_eq!(lines, want, "info/pg_story: {info:?}");
    assert!(
        !info.contains("pg_devonly"),
        "development dependencies never reach the index: {info:?}"
    );
    assert!(
        info.contains("\n0.1.0 |checksum:"),
        "a version without dependencies is `VERSION |checksum:…`: {info:?}"
    );

    // versions: one appended line per push (`NAME VERSION MD5`), the last MD5 = MD5 of info.
    let versions = versions_text(&server, "rubygems");
    let parsed = parse_versions(&versions);
    let story: Vec<_> = parsed.iter().filter(|l| l.name == "pg_story").collect();
    let pushed: Vec<Vec<String>> = gems.iter().map(|g| vec![g.full_version()]).collect();
    assert_eq!(
        story.iter().map(|l| l.versions.clone()).collect::<Vec<_>>(),
        pushed,
        "one `versions` line per push: {versions:?}"
    );
    let state = versions_state(&parsed);
    assert_eq!(
        state["pg_story"].0,
        ["0.1.0", "0.2.0", "0.2.0-x86_64-linux", "0.3.0.pre"]
    );
    assert_eq!(state["pg_story"].1, md5_hex(info.as_bytes()));
    assert_versions_md5s_match_info(&server, "rubygems");

    // Downloads are the pushed bytes; unknown files are 404.
    for (gem, file) in gems.iter().zip(&files) {
        let resp = get(&server, &format!("/rubygems/gems/{}", gem.file_name()));
        assert_eq!(
            resp.expect(200).body,
            *file,
            "download of {}",
            gem.file_name()
        );
    }
    for path in [
        "/rubygems/gems/pg_story-9.9.9.gem",
        "/rubygems/gems/pg_story-0.1.0-x86_64-linux.gem",
        "/rubygems/gems/pg_nothing-0.1.0.gem",
        "/rubygems/info/pg_nothing",
        "/rubygems/info/PG_STORY",
    ] {
        expect_status(&get(&server, path), 404);
    }

    // names: sorted, one per line.
    for name in ["zz_last", "aa_first", "mm_middle"] {
        push_ok(&server, "rubygems", &token, &Gem::new(name, "1.0.0"));
    }
    let names = get(&server, "/rubygems/names").expect(200).text();
    assert_eq!(names, "---\naa_first\nmm_middle\npg_story\nzz_last\n");
    assert_versions_md5s_match_info(&server, "rubygems");
    // The legacy dependency API stays off.
    expect_status(&get(&server, "/rubygems/api/v1/dependencies"), 404);
}

#[test]
fn push_accepts_raw_bearer_and_basic_keys() {
    let (server, token) = setup();
    let bearer = format!("Bearer {token}");
    let basic_auth = basic("alice", &token);
    for (auth, version) in [
        (token.as_str(), "1.0.0"),
        (bearer.as_str(), "1.1.0"),
        (basic_auth.as_str(), "1.2.0"),
    ] {
        let gem = Gem::new("pg_auth", version);
        let resp = push(&server, "rubygems", Some(auth), gem.gem_file());
        assert_registered(&resp, &gem);
    }
    let lines = parse_info(&info_text(&server, "rubygems", "pg_auth"));
    let versions: Vec<&str> = lines.iter().map(|l| l.version.as_str()).collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0"]);
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
fn yank_removes_the_version_and_appends_a_line() {
    let (server, token) = setup();
    let ruby = Gem::new("pg_yank", "1.0.0");
    let native = Gem::new("pg_yank", "1.0.0").platform(PLATFORM);
    let newer = Gem::new("pg_yank", "1.1.0");
    for g in [&ruby, &native, &newer] {
        push_ok(&server, "rubygems", &token, g);
    }
    let before = versions_text(&server, "rubygems");

    // Without a platform only the `ruby` file goes.
    let resp = yank(&server, "rubygems", Some(&token), "pg_yank", "1.0.0", None);
    resp.expect(200);
    assert_eq!(
        resp.text().trim_end(),
        "Successfully deleted gem: pg_yank (1.0.0)"
    );
    let info = info_text(&server, "rubygems", "pg_yank");
    let versions: Vec<String> = parse_info(&info).into_iter().map(|l| l.version).collect();
    assert_eq!(versions, ["1.0.0-x86_64-linux", "1.1.0"]);
    let after = versions_text(&server, "rubygems");
    assert_eq!(
        after,
        format!("{before}pg_yank -1.0.0 {}\n", md5_hex(info.as_bytes())),
        "a yank appends exactly one line"
    );
    expect_status(&get(&server, "/rubygems/gems/pg_yank-1.0.0.gem"), 404);
    get(&server, "/rubygems/gems/pg_yank-1.0.0-x86_64-linux.gem").expect(200);
    get(&server, "/rubygems/gems/pg_yank-1.1.0.gem").expect(200);

    // With a platform only that file goes.
    let resp = yank(
        &server,
        "rubygems",
        Some(&token),
        "pg_yank",
        "1.0.0",
        Some(PLATFORM),
    );
    resp.expect(200);
    assert!(
        resp.text()
            .starts_with("Successfully deleted gem: pg_yank (1.0.0"),
        "{}",
        resp.text()
    );
    let info = info_text(&server, "rubygems", "pg_yank");
    let versions: Vec<String> = parse_info(&info).into_iter().map(|l| l.version).collect();
    assert_eq!(versions, ["1.1.0"]);
    let state = versions_state(&parse_versions(&versions_text(&server, "rubygems")));
    assert_eq!(
        state["pg_yank"],
        (vec!["1.1.0".to_owned()], md5_hex(info.as_bytes()))
    );
    expect_status(
        &get(&server, "/rubygems/gems/pg_yank-1.0.0-x86_64-linux.gem"),
        404,
    );
    assert_versions_md5s_match_info(&server, "rubygems");

    // Missing versions (never pushed, or already yanked) and gems: 404 text, nothing changed.
    let before = gem_snapshot(&server, "rubygems", &["pg_yank"], None);
    for (name, version, platform) in [
        ("pg_yank", "9.9.9", None),
        ("pg_yank", "1.0.0", None),
        ("pg_yank", "1.1.0", Some(PLATFORM)),
        ("pg_nothing", "1.0.0", None),
    ] {
        let resp = yank(&server, "rubygems", Some(&token), name, version, platform);
        expect_text_error(&resp, &[404]);
        assert_gems_unchanged(
            &server,
            "rubygems",
            None,
            &before,
            &format!("yank of missing {name} {version} {platform:?}"),
        );
    }
}

#[test]
fn yank_refusals_leave_everything_unchanged() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_keep", "1.0.0"));
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    let publish_only = server.create_token("alice", &["--scope", "read,publish"]);
    let for_npm = server.create_token(
        "alice",
        &["--scope", "read,publish,delete", "--repo", "npm"],
    );
    let before = gem_snapshot(&server, "rubygems", &["pg_keep"], None);
    let cases: [(&str, Option<&str>, u16); 5] = [
        ("no key", None, 401),
        ("unknown key", Some("not-a-key"), 401),
        ("read-only key", Some(&read_only), 403),
        ("key without delete scope", Some(&publish_only), 403),
        ("key for the npm repository", Some(&for_npm), 403),
    ];
    for (what, key, status) in cases {
        let resp = yank(&server, "rubygems", key, "pg_keep", "1.0.0", None);
        expect_text_error(&resp, &[status]);
        assert_gems_unchanged(
            &server,
            "rubygems",
            None,
            &before,
            &format!("yank with {what}"),
        );
    }
    get(&server, "/rubygems/gems/pg_keep-1.0.0.gem").expect(200);
}

/// Loads the legacy Marshal documents with Ruby and prints one `name version platform` per tuple;
/// `None` when ruby is not installed.
fn ruby_specs(server: &TestServer, file: &str) -> Option<Vec<String>> {
    if !GemEnv::installed() {
        return None;
    }
    let gems = GemEnv::new(server, "rubygems", None);
    let dir = gems.new_dir("specs");
    let path = dir.join(file);
    let body = get(server, &format!("/rubygems/{file}"))
        .expect(200)
        .body
        .clone();
    std::fs::write(&path, body).expect("write specs");
    let script = "require 'rubygems'; require 'zlib'; \
                  Marshal.load(Zlib.gunzip(File.binread(ARGV[0]))).each { |n, v, p| \
                  puts [n, v.to_s, p].join(' ') }";
    let out = gems
        .run(
            "ruby",
            &dir,
            &["-e", script, &path.display().to_string()],
            None,
        )
        .ok();
    let mut lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    lines.sort();
    Some(lines)
}

fn sorted(lines: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn legacy_specs_files_and_quick_specs() {
    let (server, token) = setup();
    let gems = [
        Gem::new("pg_legacy", "1.0.0"),
        Gem::new("pg_legacy", "1.1.0").dep("pg_dep", &["~> 1.0"]),
        Gem::new("pg_legacy", "1.1.0").platform(PLATFORM),
        Gem::new("pg_legacy", "2.0.0.pre"),
    ];
    for g in &gems {
        push_ok(&server, "rubygems", &token, g);
    }
    for file in ["specs", "latest_specs", "prerelease_specs"] {
        let resp = get(&server, &format!("/rubygems/{file}.4.8.gz"));
        let marshal = gunzip(&resp.expect(200).body);
        assert_eq!(&marshal[..2], [4, 8], "{file}: Marshal 4.8 stream");
        assert_eq!(marshal[2], b'[', "{file}: an Array");
    }
    for g in &gems {
        let resp = get(
            &server,
            &format!("/rubygems/quick/Marshal.4.8/{}.gemspec.rz", g.spec_stem()),
        );
        let marshal = inflate_zlib(&resp.expect(200).body);
        assert_eq!(
            &marshal[..3],
            [4, 8, b'u'],
            "quick spec of {}: `_dump` object",
            g.spec_stem()
        );
        let text = String::from_utf8_lossy(&marshal);
        assert!(
            text.contains("Gem::Specification"),
            "quick spec names Gem::Specification"
        );
        assert!(
            text.contains(&g.name) && text.contains(&g.version),
            "quick spec names the gem"
        );
    }

    let Some(specs) = ruby_specs(&server, "specs.4.8.gz") else {
        println!("NOTE: ruby not installed; Marshal contents not loaded");
        return;
    };
    assert_eq!(
        specs,
        sorted(&[
            "pg_legacy 1.0.0 ruby",
            "pg_legacy 1.1.0 ruby",
            "pg_legacy 1.1.0 x86_64-linux"
        ])
    );
    assert_eq!(
        ruby_specs(&server, "latest_specs.4.8.gz").expect("ruby"),
        sorted(&["pg_legacy 1.1.0 ruby", "pg_legacy 1.1.0 x86_64-linux"])
    );
    assert_eq!(
        ruby_specs(&server, "prerelease_specs.4.8.gz").expect("ruby"),
        sorted(&["pg_legacy 2.0.0.pre ruby"])
    );

    // The quick spec loads as a Gem::Specification with its runtime dependency.
    let env = GemEnv::new(&server, "rubygems", None);
    let dir = env.new_dir("quick");
    let path = dir.join("q.rz");
    let body = get(
        &server,
        "/rubygems/quick/Marshal.4.8/pg_legacy-1.1.0.gemspec.rz",
    )
    .expect(200)
    .body
    .clone();
    std::fs::write(&path, body).expect("write quick spec");
    let script = "require 'rubygems'; require 'zlib'; \
                  s = Marshal.load(Zlib::Inflate.inflate(File.binread(ARGV[0]))); \
                  puts s.class, s.name, s.version, s.platform, \
                  s.runtime_dependencies.map { |d| \"#{d.name} #{d.requirement}\" }.join(';')";
    let out = env
        .run(
            "ruby",
            &dir,
            &["-e", script, &path.display().to_string()],
            None,
        )
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "Gem::Specification",
            "pg_legacy",
            "1.1.0",
            "ruby",
            "pg_dep ~> 1.0"
        ],
        "{}",
        out.describe()
    );

    // A yank removes the version from the specs files.
    yank(
        &server,
        "rubygems",
        Some(&token),
        "pg_legacy",
        "1.0.0",
        None,
    )
    .expect(200);
    assert_eq!(
        ruby_specs(&server, "specs.4.8.gz").expect("ruby"),
        sorted(&["pg_legacy 1.1.0 ruby", "pg_legacy 1.1.0 x86_64-linux"])
    );
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

// ------------------------------------------------------------------------------------------------
// Refusals
// ------------------------------------------------------------------------------------------------

/// A `.gem` whose members are the standard ones plus `extra` outer entries.
fn with_outer_entries(gem: &Gem, extra: Vec<TarEntry>) -> Vec<u8> {
    let parts = gem.parts();
    let mut entries = vec![
        TarEntry::file("metadata.gz", parts.metadata_gz.clone()),
        TarEntry::file("data.tar.gz", parts.data_tar_gz.clone()),
        TarEntry::file(
            "checksums.yaml.gz",
            parts.checksums_yaml_gz.clone().expect("checksums"),
        ),
    ];
    entries.extend(extra);
    tar(&entries)
}

/// A `.gem` of `gem` whose `data.tar.gz` also holds `extra` entries (checksums recomputed).
fn with_data_entries(gem: &Gem, extra: Vec<TarEntry>) -> Vec<u8> {
    let mut entries: Vec<TarEntry> = gem
        .files
        .iter()
        .map(|(p, c)| TarEntry::file(p, c.clone()).mode(0o644))
        .collect();
    entries.extend(extra);
    GemParts {
        metadata_gz: gem.metadata_gz(),
        data_tar_gz: gzip(&tar(&entries)),
        checksums_yaml_gz: None,
    }
    .with_fresh_checksums()
    .assemble()
}

/// A `.gem` of `gem` whose gemspec YAML went through `edit` (checksums recomputed).
fn with_yaml(gem: &Gem, edit: impl Fn(String) -> String) -> Vec<u8> {
    let yaml = edit(gem.spec_yaml());
    GemParts {
        metadata_gz: gzip(yaml.as_bytes()),
        data_tar_gz: gem.data_tar_gz(),
        checksums_yaml_gz: None,
    }
    .with_fresh_checksums()
    .assemble()
}

/// Malformed `.gem` files around `gem` (named pg_bad): every way the server must refuse.
fn malformed_gems(gem: &Gem) -> Vec<(String, Vec<u8>)> {
    let parts = gem.parts();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    let mut case = |what: &str, body: Vec<u8>| cases.push((what.to_owned(), body));

    case("empty body", Vec::new());
    case("random bytes", random_bytes(4096, 7));
    case(
        "a gzipped tar instead of a plain tar",
        gzip(&gem.gem_file()),
    );
    let truncated = gem.gem_file();
    case(
        "truncated archive",
        truncated[..truncated.len() / 3].to_vec(),
    );
    case(
        "no metadata.gz",
        tar(&[
            TarEntry::file("data.tar.gz", parts.data_tar_gz.clone()),
            TarEntry::file(
                "checksums.yaml.gz",
                parts.checksums_yaml_gz.clone().expect("c"),
            ),
        ]),
    );
    case(
        "no data.tar.gz",
        tar(&[TarEntry::file("metadata.gz", parts.metadata_gz.clone())]),
    );
    case(
        "metadata.gz is not gzip",
        GemParts {
            metadata_gz: gem.spec_yaml().into_bytes(),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "metadata.gz is a truncated gzip",
        GemParts {
            metadata_gz: parts.metadata_gz[..parts.metadata_gz.len() / 2].to_vec(),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "data.tar.gz is not gzip",
        GemParts {
            data_tar_gz: random_bytes(512, 3),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "data.tar.gz is a truncated gzip",
        GemParts {
            data_tar_gz: parts.data_tar_gz[..parts.data_tar_gz.len() / 2].to_vec(),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "checksums.yaml.gz does not match data.tar.gz",
        GemParts {
            data_tar_gz: Gem::new("pg_bad", "1.0.0")
                .file("lib/other.rb", "x = 1\n")
                .data_tar_gz(),
            ..parts.clone()
        }
        .assemble(),
    );
    case(
        "checksums.yaml.gz does not match metadata.gz",
        GemParts {
            metadata_gz: Gem::new("pg_bad", "1.0.0")
                .summary("tampered")
                .metadata_gz(),
            ..parts.clone()
        }
        .assemble(),
    );
    let sha512_wrong =
        crate::support::gem_builder::checksums_yaml(&parts.metadata_gz, &parts.data_tar_gz)
            .lines()
            .enumerate()
            .map(|(i, l)| {
                // Line 5 is `  metadata.gz: <sha512>` under `SHA512:`.
                if i == 5 {
                    format!("  metadata.gz: {}", "0".repeat(128))
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
    case(
        "SHA512 in checksums.yaml.gz does not match",
        GemParts {
            checksums_yaml_gz: Some(gzip(sha512_wrong.as_bytes())),
            ..parts.clone()
        }
        .assemble(),
    );
    case(
        "metadata YAML is not a mapping",
        with_yaml(gem, |_| "--- just a string\n".to_owned()),
    );
    case(
        "metadata YAML does not parse",
        with_yaml(gem, |_| "--- {[: :\n  - ]\n".to_owned()),
    );
    case(
        "metadata YAML root tag is a foreign class",
        with_yaml(gem, |y| {
            y.replacen("!ruby/object:Gem::Specification", "!ruby/object:Foo", 1)
        }),
    );
    case(
        "metadata YAML holds a foreign object",
        with_yaml(gem, |y| {
            y.replacen(
                "description:\n",
                "description: !ruby/object:Foo\n  bar: 1\n",
                1,
            )
        }),
    );
    case(
        "metadata YAML holds a foreign hash class",
        with_yaml(gem, |y| {
            y.replacen("metadata: {}\n", "metadata: !ruby/hash:Foo {}\n", 1)
        }),
    );
    case(
        "metadata YAML without a name",
        with_yaml(gem, |y| y.replacen("name: pg_bad\n", "", 1)),
    );
    case(
        "metadata YAML without a version",
        with_yaml(gem, |y| {
            y.replacen(
                "version: !ruby/object:Gem::Version\n  version: 1.0.0\n",
                "",
                1,
            )
        }),
    );
    case(
        "outer entry with a path outside",
        with_outer_entries(gem, vec![TarEntry::file("../evil.txt", "x")]),
    );
    case(
        "outer entry with an absolute path",
        with_outer_entries(gem, vec![TarEntry::file("/tmp/evil.txt", "x")]),
    );
    case(
        "outer symlink",
        with_outer_entries(gem, vec![TarEntry::symlink("evil", "/etc/passwd")]),
    );
    case(
        "data entry with a path outside",
        with_data_entries(gem, vec![TarEntry::file("../../evil.rb", "x = 1\n")]),
    );
    case(
        "data entry with an absolute path",
        with_data_entries(gem, vec![TarEntry::file("/etc/evil.rb", "x = 1\n")]),
    );
    case(
        "data symlink pointing outside",
        with_data_entries(gem, vec![TarEntry::symlink("lib/evil.rb", "/etc/passwd")]),
    );
    case(
        "data hard link pointing outside",
        with_data_entries(
            gem,
            vec![TarEntry::hardlink("lib/hard.rb", "../../etc/passwd")],
        ),
    );
    case(
        "data character device",
        with_data_entries(gem, vec![TarEntry::char_device("lib/dev")]),
    );
    for name in ["", "bad name", "../pg_bad", "pg/bad", "pg_b\u{e9}d"] {
        // One harmless file, so that only the name is wrong.
        let mut bad = Gem::new(name, "1.0.0");
        bad.files = vec![("lib/pg_bad.rb".to_owned(), b"X = 1\n".to_vec())];
        case(&format!("invalid name {name:?}"), bad.gem_file());
    }
    for version in ["not a version", "1..0", "abc", "1.0/evil"] {
        case(
            &format!("invalid version {version:?}"),
            Gem::new("pg_bad", version).gem_file(),
        );
    }

    cases
}

#[test]
fn malformed_gems_are_refused_and_change_nothing() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_bad", "0.9.0"));
    let gem = Gem::new("pg_bad", "1.0.0");
    let before = gem_snapshot(&server, "rubygems", &["pg_bad"], None);
    for (what, body) in malformed_gems(&gem) {
        let resp = push(&server, "rubygems", Some(&token), body);
        assert!(
            [400, 422].contains(&resp.status),
            "{what}: expected 400 or 422, got {}: {}",
            resp.status,
            resp.text()
        );
        expect_text_error(&resp, &[400, 422]);
        assert_gems_unchanged(&server, "rubygems", None, &before, &what);
    }
    // None of that poisoned the name: the well-formed 1.0.0 goes through.
    push_ok(&server, "rubygems", &token, &gem);
}

#[test]
fn duplicates_and_similar_names_conflict() {
    let (server, token) = setup();
    let original = Gem::new("pg_dup", "1.0.0");
    let file = push_ok(&server, "rubygems", &token, &original);
    let before = gem_snapshot(
        &server,
        "rubygems",
        &["pg_dup", "PG_DUP", "pg-dup", "pg.dup"],
        None,
    );
    let cases = [
        ("identical file", original.clone()),
        (
            "same version, other content",
            original.clone().file("lib/pg_dup.rb", "CHANGED = true\n"),
        ),
        ("same name ignoring case", Gem::new("PG_DUP", "2.0.0")),
        ("same name with `-` for `_`", Gem::new("pg-dup", "2.0.0")),
        ("same name with `.` for `_`", Gem::new("pg.dup", "2.0.0")),
        ("case and separators", Gem::new("Pg-Dup", "1.0.0")),
    ];
    for (what, gem) in cases {
        let resp = push(&server, "rubygems", Some(&token), gem.gem_file());
        expect_text_error(&resp, &[409]);
        assert_gems_unchanged(&server, "rubygems", None, &before, what);
    }
    let served = get(&server, "/rubygems/gems/pg_dup-1.0.0.gem");
    assert_eq!(served.expect(200).body, file, "the first file is kept");

    // The same version for another platform is a different file.
    let native = Gem::new("pg_dup", "1.0.0").platform(PLATFORM);
    push_ok(&server, "rubygems", &token, &native);
    let before = gem_snapshot(&server, "rubygems", &["pg_dup"], None);
    let resp = push(&server, "rubygems", Some(&token), native.gem_file());
    expect_text_error(&resp, &[409]);
    assert_gems_unchanged(
        &server,
        "rubygems",
        None,
        &before,
        "duplicate platform file",
    );
}

#[test]
fn push_auth_refusals_change_nothing() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_guard", "1.0.0"));
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    let for_npm = server.create_token("alice", &["--scope", "read,publish", "--repo", "npm"]);
    let for_private = server.create_token(
        "alice",
        &["--scope", "read,publish", "--repo", "rubygems-private"],
    );
    let wrong_basic = basic("alice", "wrong-token");
    let read_only_bearer = format!("Bearer {read_only}");
    let before = gem_snapshot(&server, "rubygems", &["pg_guard", "pg_guard_new"], None);
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("no key", None, 401),
        ("unknown key", Some("not-a-key"), 401),
        ("unknown bearer key", Some("Bearer not-a-key"), 401),
        ("Basic with a wrong secret", Some(&wrong_basic), 401),
        ("read-only key", Some(&read_only), 403),
        ("read-only bearer key", Some(&read_only_bearer), 403),
        ("key for the npm repository", Some(&for_npm), 403),
        ("key for rubygems-private", Some(&for_private), 403),
    ];
    for (what, auth, status) in cases {
        for gem in [
            Gem::new("pg_guard", "1.1.0"),
            Gem::new("pg_guard_new", "1.0.0"),
        ] {
            let resp = push(&server, "rubygems", auth, gem.gem_file());
            let text = expect_text_error(&resp, &[status]);
            assert!(
                !text.starts_with("You have enabled multifactor authentication"),
                "{what}: that text makes gem prompt for an OTP: {text:?}"
            );
            assert_gems_unchanged(
                &server,
                "rubygems",
                None,
                &before,
                &format!("push of {} with {what}", gem.name),
            );
        }
    }
    // The limited key works in its own repository.
    push_ok(
        &server,
        "rubygems-private",
        &for_private,
        &Gem::new("pg_guard", "1.0.0"),
    );
}

#[test]
fn push_over_max_upload_is_payload_too_large() {
    let server = TestServer::builder().max_upload("64 KiB").start();
    let token = server.publisher("alice");
    let big = Gem::new("pg_hefty", "1.0.0").file("lib/blob.bin", random_bytes(200 * 1024, 11));
    let body = big.gem_file();
    assert!(body.len() > 150 * 1024, "incompressible payload");
    let before = gem_snapshot(&server, "rubygems", &["pg_hefty"], None);
    let addr = format!("127.0.0.1:{}", server.port);
    let headers = [
        ("content-type", "application/octet-stream"),
        ("authorization", token.as_str()),
    ];
    let resp = raw_request(
        &addr,
        "POST",
        "/rubygems/api/v1/gems",
        &headers,
        &body,
        None,
        || {},
    );
    expect_text_error(&resp, &[413]);
    assert_gems_unchanged(&server, "rubygems", None, &before, "push over max_upload");
    // The server is still fine, and a small push passes.
    push_ok(&server, "rubygems", &token, &Gem::new("pg_hefty", "1.0.0"));
}

#[test]
fn api_key_endpoint_issues_a_push_key() {
    let (server, _token) = setup();
    let http = server.http();
    let sign_in = |auth: Option<&str>| {
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        http.send(
            "POST",
            "/rubygems/api/v1/api_key",
            &headers,
            Some(b"name=pg-tests&index_rubygems=true&push_rubygem=true".to_vec()),
        )
    };
    let resp = sign_in(Some(&basic("alice", "alice-password")));
    resp.expect(200);
    let key = resp.text().trim().to_owned();
    assert!(
        !key.is_empty() && !key.contains(char::is_whitespace) && !key.starts_with('{'),
        "api_key answers the bare key: {:?}",
        resp.text()
    );
    push_ok(
        &server,
        "rubygems",
        &key,
        &Gem::new("pg_signed_in", "1.0.0"),
    );

    let before = gem_snapshot(&server, "rubygems", &["pg_signed_in"], None);
    for (what, auth) in [
        ("no credentials", None),
        ("wrong password", Some(basic("alice", "wrong-password"))),
        ("unknown user", Some(basic("nobody", "alice-password"))),
    ] {
        let resp = sign_in(auth.as_deref());
        expect_text_error(&resp, &[401]);
        assert_gems_unchanged(&server, "rubygems", None, &before, what);
    }
}

#[test]
fn private_repository_requires_credentials_for_reads() {
    let (server, token) = setup();
    let gem = Gem::new("pg_private", "1.0.0");
    push_ok(&server, "rubygems-private", &token, &gem);
    let good = basic("alice", &token);
    let bad = basic("alice", "wrong-token");
    let http = server.http();
    let paths = [
        "/rubygems-private/".to_owned(),
        "/rubygems-private/versions".to_owned(),
        "/rubygems-private/info/pg_private".to_owned(),
        "/rubygems-private/names".to_owned(),
        "/rubygems-private/specs.4.8.gz".to_owned(),
        "/rubygems-private/latest_specs.4.8.gz".to_owned(),
        "/rubygems-private/prerelease_specs.4.8.gz".to_owned(),
        format!(
            "/rubygems-private/quick/Marshal.4.8/{}.gemspec.rz",
            gem.spec_stem()
        ),
        format!("/rubygems-private/gems/{}", gem.file_name()),
    ];
    for path in &paths {
        for method in ["GET", "HEAD"] {
            let anonymous = http.send(method, path, &[], None);
            expect_status(&anonymous, 401);
            let challenge = anonymous
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("{method} {path}: 401 without WWW-Authenticate"));
            assert!(
                challenge.starts_with("Basic") && challenge.contains("realm=\"packgate\""),
                "{method} {path}: challenge must be Basic realm=\"packgate\": {challenge:?}"
            );
            expect_status(
                &http.send(method, path, &[("authorization", &bad)], None),
                401,
            );
            expect_status(
                &http.send(method, path, &[("authorization", &good)], None),
                200,
            );
        }
    }
    let info = http.get_with(
        "/rubygems-private/info/pg_private",
        &[("authorization", &good)],
    );
    let lines = parse_info(&info.expect(200).text());
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].reqs["checksum"].iter().next().map(String::as_str),
        Some(sha256_hex(&gem.gem_file()).as_str())
    );
    // Nothing of the private repository leaks into the public one.
    expect_status(&get(&server, "/rubygems/info/pg_private"), 404);
    let names = get(&server, "/rubygems/names").expect(200).text();
    assert!(!names.contains("pg_private"), "{names:?}");
}
