//! Refusals of the npm routes: every request a real npm client cannot produce but a broken or
//! hostile one can. Each test checks the status, the JSON `error` body, and that nothing changed
//! (packument `versions`/`dist-tags`, and the number of stored blobs on the filesystem stack).

use super::{assert_no_basic_challenge, deprecate_body, publish, put_package, setup};
use crate::support::http::raw_request;
use crate::support::snapshot::{assert_unchanged, npm_snapshot};
use crate::support::{TestServer, random_bytes, url_encode};
use base64::Engine as _;
use packgate_npm::testing::{
    Package, base64, escape_name, integrity, sha1_hex, tarball, tarball_path,
};
use serde_json::{Value, json};

#[test]
fn publish_without_credentials_is_unauthorized_without_basic_challenge() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("guarded", "1.0.0"));
    let before = npm_snapshot(&server, "npm", "guarded", None);
    let body = Package::new("guarded", "1.1.0").publish_body(&server.registry("npm"), "latest");
    let basic_wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:wrong")
    );
    let attempts: [(&str, Option<String>); 4] = [
        ("no credentials", None),
        (
            "unknown bearer token",
            Some("Bearer not-a-token".to_owned()),
        ),
        ("empty bearer token", Some("Bearer ".to_owned())),
        ("basic with a wrong password", Some(basic_wrong)),
    ];
    for (what, auth) in attempts {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let resp = server.http().send(
            "PUT",
            "/npm/guarded",
            &headers,
            Some(body.to_string().into_bytes()),
        );
        resp.expect_error(401);
        assert_no_basic_challenge(&resp);
        assert_unchanged(&server, &before, what);
    }
    // The other write routes refuse anonymous callers too.
    let http = server.http();
    let writes = [
        http.json(
            "PUT",
            "/npm/-/package/guarded/dist-tags/beta",
            None,
            &json!("1.0.0"),
        ),
        http.delete("/npm/-/package/guarded/dist-tags/latest", None),
        http.json(
            "PUT",
            "/npm/guarded",
            None,
            &deprecate_body(&server, "guarded", "1.0.0", "nope"),
        ),
        http.delete("/npm/guarded/-rev/1-x", None),
        http.delete("/npm/guarded/-/guarded-1.0.0.tgz/-rev/1-x", None),
    ];
    for resp in writes {
        resp.expect_error(401);
        assert_no_basic_challenge(&resp);
    }
    assert_unchanged(&server, &before, "anonymous writes");
}

#[test]
fn publish_with_read_only_token_is_forbidden() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("ro", "1.0.0"));
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    server
        .http()
        .get_auth("/npm/ro", Some(&read_only))
        .expect(200);
    let before = npm_snapshot(&server, "npm", "ro", None);
    let body = Package::new("ro", "1.1.0").publish_body(&server.registry("npm"), "latest");
    put_package(&server, "npm", "ro", Some(&read_only), &body).expect_error(403);
    assert_unchanged(&server, &before, "publish with a read-only token");
    // Also for a package that does not exist yet, and for the other write routes.
    let fresh = Package::new("ro-new", "1.0.0").publish_body(&server.registry("npm"), "latest");
    put_package(&server, "npm", "ro-new", Some(&read_only), &fresh).expect_error(403);
    server.http().get("/npm/ro-new").expect_error(404);
    server
        .http()
        .json(
            "PUT",
            "/npm/-/package/ro/dist-tags/beta",
            Some(&read_only),
            &json!("1.0.0"),
        )
        .expect_error(403);
    server
        .http()
        .delete("/npm/ro/-rev/1-x", Some(&read_only))
        .expect_error(403);
    assert_unchanged(&server, &before, "writes with a read-only token");
}

#[test]
fn publish_with_token_for_another_repo_is_forbidden() {
    let (server, token) = setup();
    let for_npm = server.create_token("alice", &["--scope", "read,publish", "--repo", "npm"]);
    let before = npm_snapshot(&server, "npm-private", "elsewhere", Some(&token));
    let body =
        Package::new("elsewhere", "1.0.0").publish_body(&server.registry("npm-private"), "latest");
    put_package(&server, "npm-private", "elsewhere", Some(&for_npm), &body).expect_error(403);
    assert_unchanged(&server, &before, "publish with a token for `npm`");
    // Reading the other repository with it is refused as well; its own repository works.
    publish(
        &server,
        "npm-private",
        &token,
        &Package::new("private-one", "1.0.0"),
    );
    server
        .http()
        .get_auth("/npm-private/private-one", Some(&for_npm))
        .expect_error(403);
    let body = Package::new("elsewhere", "1.0.0").publish_body(&server.registry("npm"), "latest");
    put_package(&server, "npm", "elsewhere", Some(&for_npm), &body).expect_success();
}

#[test]
fn publish_same_version_twice_is_forbidden() {
    let (server, token) = setup();
    let pkg = Package::new("dup", "1.0.0");
    let body = pkg.publish_body(&server.registry("npm"), "latest");
    put_package(&server, "npm", "dup", Some(&token), &body).expect_success();
    let before = npm_snapshot(&server, "npm", "dup", None);
    // The identical document again, and a different tarball under the same version.
    let changed = Package::new("dup", "1.0.0").file("index.js", "module.exports = 'other';\n");
    for (what, body) in [
        ("identical", body),
        (
            "different content",
            changed.publish_body(&server.registry("npm"), "latest"),
        ),
    ] {
        let error = put_package(&server, "npm", "dup", Some(&token), &body).expect_error(403);
        assert!(
            error.contains("previously published"),
            "{what}: error text {error:?}"
        );
        assert_unchanged(&server, &before, what);
    }
    let served = server.http().get("/npm/dup/-/dup-1.0.0.tgz");
    assert_eq!(
        served.expect(200).body,
        pkg.tarball(),
        "the first tarball is kept"
    );
}

/// A body that replaces the one attachment's bytes with `tgz`, keeping dist and length consistent.
fn with_attachment(mut body: Value, tgz: &[u8]) -> Value {
    let version = body["versions"]
        .as_object()
        .expect("versions")
        .keys()
        .next()
        .expect("one version")
        .clone();
    body["versions"][&version]["dist"]["shasum"] = json!(sha1_hex(tgz));
    body["versions"][&version]["dist"]["integrity"] = json!(integrity(tgz));
    let key = body["_attachments"]
        .as_object()
        .expect("attachments")
        .keys()
        .next()
        .expect("one")
        .clone();
    body["_attachments"][&key]["data"] = json!(base64(tgz));
    body["_attachments"][&key]["length"] = json!(tgz.len());
    body
}

#[test]
fn malformed_publish_bodies_are_bad_requests() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("shape", "1.0.0"));
    let registry = server.registry("npm");
    let good_pkg = Package::new("shape", "1.1.0");
    let good = good_pkg.publish_body(&registry, "latest");
    let other_tgz = Package::new("shape", "9.9.9").tarball();
    let good_len = good_pkg.tarball().len() as u64;
    let att = "shape-1.1.0.tgz";
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        serde_json::to_vec(&b).expect("serialize")
    };
    let inner = |manifest_edit: &dyn Fn(&mut Value)| {
        let mut m = good_pkg.manifest.clone();
        manifest_edit(&mut m);
        let mut entries = vec![(
            "package.json".to_owned(),
            serde_json::to_vec_pretty(&m).expect("json"),
        )];
        entries.extend(good_pkg.files.iter().cloned());
        serde_json::to_vec(&with_attachment(good.clone(), &tarball(&entries))).expect("serialize")
    };
    let two_versions = {
        let second = Package::new("shape", "1.2.0").publish_body(&registry, "latest");
        let mut b = good.clone();
        b["versions"]["1.2.0"] = second["versions"]["1.2.0"].clone();
        b["_attachments"]["shape-1.2.0.tgz"] = second["_attachments"]["shape-1.2.0.tgz"].clone();
        serde_json::to_vec(&b).expect("serialize")
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "truncated JSON",
            br#"{"_id":"shape","name":"shape","versions":{"#.to_vec(),
        ),
        ("JSON that is not an object", b"[1,2,3]".to_vec()),
        ("empty body", Vec::new()),
        (
            "attachment length mismatch",
            edit(&|b| b["_attachments"][att]["length"] = json!(good_len + 1)),
        ),
        (
            "shasum mismatch",
            edit(&|b| b["versions"]["1.1.0"]["dist"]["shasum"] = json!(sha1_hex(&other_tgz))),
        ),
        (
            "integrity mismatch",
            edit(&|b| b["versions"]["1.1.0"]["dist"]["integrity"] = json!(integrity(&other_tgz))),
        ),
        (
            "attachment data is not base64",
            edit(&|b| b["_attachments"][att]["data"] = json!("%%% not base64 %%%")),
        ),
        (
            "attachment is not gzip",
            serde_json::to_vec(&with_attachment(
                good.clone(),
                b"just some plain text, not a gzip stream",
            ))
            .expect("json"),
        ),
        (
            "package.json name in the tarball differs",
            inner(&|m| m["name"] = json!("not-shape")),
        ),
        (
            "package.json version in the tarball differs",
            inner(&|m| m["version"] = json!("1.1.1")),
        ),
        (
            "body name differs from the URL",
            edit(&|b| {
                b["name"] = json!("other-name");
                b["_id"] = json!("other-name");
            }),
        ),
        (
            "version key differs from its `version`",
            edit(&|b| b["versions"]["1.1.0"]["version"] = json!("1.1.5")),
        ),
        ("two versions in one publish", two_versions),
        (
            "attachment but no versions",
            edit(&|b| b["versions"] = json!({})),
        ),
    ];
    let before = npm_snapshot(&server, "npm", "shape", None);
    for (what, body) in cases {
        let resp = server
            .http()
            .raw_json("PUT", "/npm/shape", Some(&token), body);
        let error = resp.expect_error(400);
        assert!(!error.is_empty(), "{what}");
        assert_unchanged(&server, &before, what);
    }
    // The unmodified body is accepted (the cases above fail for the stated reason only).
    put_package(&server, "npm", "shape", Some(&token), &good).expect_success();
}

#[test]
fn forbidden_package_names_are_bad_requests() {
    let (server, token) = setup();
    let long = "a".repeat(215);
    let names = [
        "node_modules",
        "favicon.ico",
        ".hidden",
        "_underscore",
        "has space",
        "UpperCase",
        "tilde~name",
        "excl!mark",
        "paren(s)",
        "star*",
        "quote'",
        long.as_str(),
        "@scope/.dot",
        "@scope/_under",
        "@Scope/name",
    ];
    // Every name is tried; the wrong answers are reported together.
    let mut wrong = Vec::new();
    for name in names {
        let in_url = escape_name(name);
        let pkg = Package::new(name, "1.0.0");
        let body = pkg.publish_body(&server.registry("npm"), "latest");
        let before = npm_snapshot(&server, "npm", name, None);
        let resp = put_package(&server, "npm", &in_url, Some(&token), &body);
        let has_error_text = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(|e| !e.trim().is_empty()))
            .unwrap_or(false);
        if resp.status != 400 || !has_error_text {
            wrong.push(format!("{name:?}: {} {}", resp.status, resp.text()));
        }
        assert_unchanged(
            &server,
            &before,
            &format!("publish of forbidden name {name:?}"),
        );
        assert_ne!(
            server.http().get(&format!("/npm/{in_url}")).status,
            200,
            "{name:?} must not exist"
        );
    }
    assert!(
        wrong.is_empty(),
        "forbidden names must be refused with 400 and a JSON error:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn non_semver_versions_are_bad_requests() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("versioned", "1.0.0"));
    let before = npm_snapshot(&server, "npm", "versioned", None);
    for version in [
        "1.0", "1", "v1.2.0", "1.2.0.0", "01.2.0", "1.2.0-", "latest", "1.2.x", "^1.2.0", " 1.2.0",
    ] {
        let body = Package::new("versioned", version).publish_body(&server.registry("npm"), "beta");
        put_package(&server, "npm", "versioned", Some(&token), &body).expect_error(400);
        assert_unchanged(&server, &before, &format!("publish of version {version:?}"));
    }
}

#[test]
fn dist_tags_that_are_semver_ranges_are_bad_requests() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("tagged", "1.0.0"));
    let before = npm_snapshot(&server, "npm", "tagged", None);
    for tag in ["v1", "1.x", "^2", "~1.0", ">=1.0.0", "1.0.0", "1", "*"] {
        let body = Package::new("tagged", "1.1.0").publish_body(&server.registry("npm"), tag);
        put_package(&server, "npm", "tagged", Some(&token), &body).expect_error(400);
        assert_unchanged(&server, &before, &format!("publish with dist-tag {tag:?}"));
        let path = format!("/npm/-/package/tagged/dist-tags/{}", url_encode(tag));
        server
            .http()
            .json("PUT", &path, Some(&token), &json!("1.0.0"))
            .expect_error(400);
        assert_unchanged(&server, &before, &format!("dist-tag add {tag:?}"));
    }
}

#[test]
fn publish_over_max_upload_is_payload_too_large() {
    let server = TestServer::builder().max_upload("64 KiB").start();
    let token = server.publisher("alice");
    let big = Package::new("hefty", "1.0.0").file("blob.bin", random_bytes(200 * 1024, 7));
    let body =
        serde_json::to_vec(&big.publish_body(&server.registry("npm"), "latest")).expect("json");
    let before = npm_snapshot(&server, "npm", "hefty", None);
    let auth = format!("Bearer {token}");
    let addr = format!("127.0.0.1:{}", server.port);
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let resp = raw_request(&addr, "PUT", "/npm/hefty", &headers, &body, None, || {});
    resp.expect_error(413);
    assert_unchanged(&server, &before, "publish over max_upload");
    // The server is still fine, and a small publish passes.
    publish(&server, "npm", &token, &Package::new("hefty", "1.0.0"));
}

#[test]
fn anonymous_read_of_private_repo_is_unauthorized() {
    let (server, token) = setup();
    let pkg = Package::new("@p/hidden", "1.0.0");
    publish(&server, "npm-private", &token, &pkg);
    let http = server.http();
    let paths = [
        "/npm-private/@p%2fhidden".to_owned(),
        "/npm-private/@p%2fhidden/1.0.0".to_owned(),
        format!("/npm-private{}", tarball_path("@p/hidden", "1.0.0")),
        "/npm-private/-/package/@p%2fhidden/dist-tags".to_owned(),
        "/npm-private/no-such-package".to_owned(),
    ];
    for path in &paths {
        let resp = http.get(path);
        resp.expect_error(401);
        assert_no_basic_challenge(&resp);
        http.get_auth(path, Some("not-a-token")).expect_error(401);
    }
    let doc = http
        .get_auth("/npm-private/@p%2fhidden", Some(&token))
        .expect(200)
        .json();
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["tarball"],
        json!(server.url("/npm-private/@p/hidden/-/hidden-1.0.0.tgz"))
    );
    let tgz = http.get_auth(
        &format!("/npm-private{}", tarball_path("@p/hidden", "1.0.0")),
        Some(&token),
    );
    assert_eq!(tgz.expect(200).body, pkg.tarball());
    // The public repository does not see it.
    http.get("/npm/@p%2fhidden").expect_error(404);
    // Search of the private repository is not public either.
    let search = http.get("/npm-private/-/v1/search?text=hidden");
    search.expect_error(401);
}

/// A gzipped `npm pack`-like tarball with `package/package.json` and one special entry.
fn tarball_with(manifest: &Value, special: &str, kind: tar::EntryType, target: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let json = serde_json::to_vec_pretty(manifest).expect("json");
    let mut h = tar::Header::new_gnu();
    h.set_size(json.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "package/package.json", json.as_slice())
        .expect("append");
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    if !target.is_empty() {
        h.set_link_name(target).expect("link name");
    }
    b.append_data(&mut h, special, std::io::empty())
        .expect("append special");
    packgate_npm::testing::gzip(&b.into_inner().expect("tar"))
}

#[test]
fn tarballs_with_links_devices_or_fifos_are_refused_naming_the_entry() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("linky", "1.0.0"));
    let pkg = Package::new("linky", "1.1.0");
    let good = pkg.publish_body(&server.registry("npm"), "latest");
    let cases = [
        (
            "package/passwd",
            tar::EntryType::Symlink,
            "/etc/passwd",
            "symlink",
        ),
        (
            "package/shadow",
            tar::EntryType::Link,
            "../../../etc/passwd",
            "hard link",
        ),
        ("package/null", tar::EntryType::Char, "", "character device"),
        ("package/pipe", tar::EntryType::Fifo, "", "fifo"),
    ];
    let before = npm_snapshot(&server, "npm", "linky", None);
    for (entry, kind, target, word) in cases {
        let tgz = tarball_with(&pkg.manifest, entry, kind, target);
        let body = serde_json::to_vec(&with_attachment(good.clone(), &tgz)).expect("json");
        let resp = server
            .http()
            .raw_json("PUT", "/npm/linky", Some(&token), body);
        let error = resp.expect_error(400);
        assert!(
            error.contains(entry) && error.contains(word),
            "{word}: the error names the entry and what it is: {error}"
        );
        assert_unchanged(&server, &before, word);
    }
}

#[test]
fn a_write_to_a_path_with_dot_dot_segments_is_an_invalid_package_name() {
    let (server, token) = setup();
    let body = Package::new("a", "1.0.0").publish_body(&server.registry("npm"), "latest");
    let blobs = server.blob_count();
    for path in ["/npm/a/../b", "/npm/../npm/a", "/npm/%2e%2e/a"] {
        let resp = server.http().raw_json(
            "PUT",
            path,
            Some(&token),
            serde_json::to_vec(&body).expect("json"),
        );
        let error = resp.expect_error(400);
        assert!(error.contains("invalid package name"), "{path}: {error}");
    }
    assert_eq!(server.blob_count(), blobs, "nothing stored");
    server.http().get("/npm/a").expect_error(404);
}
