//! The npm registry protocol over crafted HTTP requests: the publish story, name encodings, the
//! abbreviated packument, ETag/304, HEAD, audit, ping/whoami/login/token endpoints, dist-tags,
//! metadata PUTs and search. The refusals (status, JSON `error`, nothing changed) are in
//! `npm_http/refusals.rs`. Protocol: /work/shared/protocols/npm.md.

use crate::support::snapshot::{assert_unchanged, npm_snapshot};
use crate::support::{Resp, TestServer, url_encode};
use base64::Engine as _;
use packgate_npm::testing::{Package, escape_name, gzip, integrity, sha1_hex};
use serde_json::{Value, json};

mod refusals;

const CORGI: &str = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// A server plus the token of user `alice` (scopes read, publish, delete).
fn setup() -> (TestServer, String) {
    let server = TestServer::start();
    let token = server.publisher("alice");
    (server, token)
}

/// `PUT /{repo}/{escaped name}` with a publish document.
fn put_package(
    server: &TestServer,
    repo: &str,
    name_in_url: &str,
    token: Option<&str>,
    body: &Value,
) -> Resp {
    server
        .http()
        .json("PUT", &format!("/{repo}/{name_in_url}"), token, body)
}

/// Publishes `pkg` (tag `latest`) to `repo` and requires success.
fn publish(server: &TestServer, repo: &str, token: &str, pkg: &Package) {
    let body = pkg.publish_body(&server.registry(repo), "latest");
    put_package(server, repo, &escape_name(pkg.name()), Some(token), &body).expect_success();
}

fn assert_no_basic_challenge(resp: &Resp) {
    for value in resp.header_all("www-authenticate") {
        assert!(
            !value.trim().to_ascii_lowercase().starts_with("basic"),
            "{}: 401 must not carry `WWW-Authenticate: Basic` (npm prints \"Unable to authenticate, need: Basic\"): {value}",
            resp.request
        );
    }
}

fn assert_request_id(resp: &Resp) {
    assert!(
        resp.header("x-request-id").is_some_and(|v| !v.is_empty()),
        "{}: no x-request-id header (status {})",
        resp.request,
        resp.status
    );
}

#[test]
fn publish_story_over_http() {
    let (server, token) = setup();
    let http = server.http();
    let missing = http.get("/npm/story");
    missing.expect_error(404);
    assert_request_id(&missing);

    let pkg = Package::new("story", "1.0.0").dependency("left-pad", "^1.3.0");
    let tgz = pkg.tarball();
    let resp = put_package(
        &server,
        "npm",
        "story",
        Some(&token),
        &pkg.publish_body(&server.registry("npm"), "latest"),
    );
    resp.expect_success();
    assert_request_id(&resp);

    let got = http.get_with("/npm/story", &[("accept", "application/json")]);
    got.expect(200);
    assert!(got.header("etag").is_some(), "packument has an ETag");
    assert_request_id(&got);
    let doc = got.json();
    assert_eq!(doc["name"], json!("story"));
    assert_eq!(doc["_id"], json!("story"));
    assert!(
        doc["_rev"].as_str().is_some_and(|r| !r.is_empty()),
        "packument has a `_rev`: {doc}"
    );
    assert_eq!(doc["dist-tags"], json!({"latest": "1.0.0"}));
    let v = &doc["versions"]["1.0.0"];
    assert_eq!(v["name"], json!("story"));
    assert_eq!(v["version"], json!("1.0.0"));
    assert_eq!(v["_id"], json!("story@1.0.0"));
    assert_eq!(v["dependencies"], json!({"left-pad": "^1.3.0"}));
    assert_eq!(
        v["dist"]["tarball"],
        json!(server.url("/npm/story/-/story-1.0.0.tgz"))
    );
    assert_eq!(v["dist"]["shasum"], json!(sha1_hex(&tgz)));
    assert_eq!(v["dist"]["integrity"], json!(integrity(&tgz)));
    for key in ["created", "modified", "1.0.0"] {
        assert!(
            doc["time"][key].is_string(),
            "time.{key} missing: {}",
            doc["time"]
        );
    }

    let download = http.get("/npm/story/-/story-1.0.0.tgz");
    download.expect(200);
    assert_eq!(
        download.body, tgz,
        "tarball bytes are exactly what was published"
    );
    assert_eq!(
        download.header("content-type"),
        Some("application/octet-stream")
    );
    assert_request_id(&download);

    for spec in ["1.0.0", "latest"] {
        let manifest = http.get(&format!("/npm/story/{spec}"));
        let manifest = manifest.expect(200).json();
        assert_eq!(manifest["version"], json!("1.0.0"), "GET /npm/story/{spec}");
        assert_eq!(manifest["dist"]["shasum"], json!(sha1_hex(&tgz)));
    }
    for path in [
        "/npm/story/9.9.9",
        "/npm/story/no-such-tag",
        "/npm/no-such-package",
        "/npm/story/-/story-9.9.9.tgz",
    ] {
        let resp = http.get(path);
        resp.expect_error(404);
        assert_request_id(&resp);
    }

    // A second version moves `latest` and keeps the first.
    publish(&server, "npm", &token, &Package::new("story", "1.1.0"));
    let doc = http.get("/npm/story").expect(200).json();
    assert_eq!(doc["dist-tags"], json!({"latest": "1.1.0"}));
    assert_eq!(doc["versions"].as_object().map(|m| m.len()), Some(2));
    assert!(doc["time"]["1.1.0"].is_string());
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["shasum"],
        json!(sha1_hex(&tgz))
    );
}

#[test]
fn scoped_package_is_served_under_all_three_name_encodings() {
    let (server, token) = setup();
    let http = server.http();
    let registry = server.registry("npm");
    // Publish through each encoding of the name.
    for (version, in_url) in [("1.0.0", "@s%2fn"), ("1.0.1", "@s%2Fn"), ("1.0.2", "@s/n")] {
        let body = Package::new("@s/n", version).publish_body(&registry, "latest");
        put_package(&server, "npm", in_url, Some(&token), &body).expect_success();
    }
    let tgz = Package::new("@s/n", "1.0.0").tarball();
    let mut docs = Vec::new();
    for in_url in ["@s%2fn", "@s%2Fn", "@s/n"] {
        let doc = http.get(&format!("/npm/{in_url}")).expect(200).json();
        assert_eq!(doc["name"], json!("@s/n"), "GET /npm/{in_url}");
        docs.push((doc["versions"].clone(), doc["dist-tags"].clone()));
        let tags = http.get(&format!("/npm/-/package/{in_url}/dist-tags"));
        assert_eq!(
            tags.expect(200).json(),
            json!({"latest": "1.0.2"}),
            "dist-tags via {in_url}"
        );
        let manifest = http.get(&format!("/npm/{in_url}/1.0.0")).expect(200).json();
        assert_eq!(manifest["name"], json!("@s/n"));
    }
    assert!(
        docs.windows(2).all(|w| w[0] == w[1]),
        "the three encodings must serve the same packument"
    );
    let (versions, _) = &docs[0];
    assert_eq!(versions.as_object().map(|m| m.len()), Some(3));
    assert_eq!(
        versions["1.0.0"]["dist"]["tarball"],
        json!(server.url("/npm/@s/n/-/n-1.0.0.tgz"))
    );
    let download = http.get("/npm/@s/n/-/n-1.0.0.tgz");
    assert_eq!(download.expect(200).body, tgz);
}

#[test]
fn abbreviated_packument_has_only_install_fields() {
    let (server, token) = setup();
    let http = server.http();
    let with_script = Package::new("scripted", "1.0.0")
        .script("postinstall", "node -e 0")
        .script("test", "node -e 0")
        .dependency("left-pad", "^1.3.0")
        .set("engines", json!({"node": ">=18"}))
        .set("readme", json!("# scripted"))
        .set("keywords", json!(["k"]));
    publish(&server, "npm", &token, &with_script);
    publish(
        &server,
        "npm",
        &token,
        &Package::new("scripted", "1.1.0").script("test", "node -e 0"),
    );

    let corgi = http.get_with("/npm/scripted", &[("accept", CORGI)]);
    corgi.expect(200);
    let doc = corgi.json();
    let top: Vec<&String> = doc.as_object().expect("object").keys().collect();
    for key in &top {
        assert!(
            ["name", "modified", "dist-tags", "versions"].contains(&key.as_str()),
            "abbreviated document has top-level field {key:?}: {top:?}"
        );
    }
    assert_eq!(doc["name"], json!("scripted"));
    assert_eq!(doc["dist-tags"], json!({"latest": "1.1.0"}));
    const ALLOWED: &[&str] = &[
        "name",
        "version",
        "deprecated",
        "dependencies",
        "optionalDependencies",
        "devDependencies",
        "bundleDependencies",
        "peerDependencies",
        "peerDependenciesMeta",
        "acceptDependencies",
        "bin",
        "directories",
        "dist",
        "engines",
        "_hasShrinkwrap",
        "hasInstallScript",
        "funding",
        "cpu",
        "os",
        "libc",
    ];
    for (version, v) in doc["versions"].as_object().expect("versions") {
        for key in v.as_object().expect("version object").keys() {
            assert!(
                ALLOWED.contains(&key.as_str()),
                "abbreviated version {version} has field {key:?}: {v}"
            );
        }
        for key in ["name", "version", "dist"] {
            assert!(
                v.get(key).is_some(),
                "abbreviated version {version} lacks {key}"
            );
        }
        assert!(
            v["dist"]["tarball"].is_string()
                && v["dist"]["integrity"].is_string()
                && v["dist"]["shasum"].is_string()
        );
    }
    let v1 = &doc["versions"]["1.0.0"];
    assert_eq!(
        v1["hasInstallScript"],
        json!(true),
        "postinstall ⇒ hasInstallScript: {v1}"
    );
    assert_eq!(v1["dependencies"], json!({"left-pad": "^1.3.0"}));
    assert_eq!(v1["engines"], json!({"node": ">=18"}));
    let v2 = &doc["versions"]["1.1.0"];
    assert!(
        v2.get("hasInstallScript").is_none_or(|h| h == false),
        "only a `test` script: {v2}"
    );

    // The full document keeps everything, and is a different representation (ETag, Vary).
    let full = http.get_with("/npm/scripted", &[("accept", "application/json")]);
    full.expect(200);
    let full_doc = full.json();
    assert_eq!(
        full_doc["versions"]["1.0.0"]["scripts"]["postinstall"],
        json!("node -e 0")
    );
    assert!(full_doc["_rev"].is_string());
    if let (Some(a), Some(b)) = (corgi.header("etag"), full.header("etag")) {
        assert_ne!(
            a, b,
            "abbreviated and full documents must not share an ETag"
        );
    }
    let vary = corgi.header_all("vary").join(",").to_ascii_lowercase();
    assert!(
        vary.split(',')
            .any(|v| v.trim() == "accept" || v.trim() == "*"),
        "abbreviated packument needs `Vary: Accept`, got {vary:?}"
    );
}

#[test]
fn packument_etag_answers_if_none_match_with_304() {
    let (server, token) = setup();
    let http = server.http();
    publish(&server, "npm", &token, &Package::new("etagged", "1.0.0"));
    for accept in ["application/json", CORGI] {
        let first = http.get_with("/npm/etagged", &[("accept", accept)]);
        let etag = first
            .expect(200)
            .header("etag")
            .unwrap_or_else(|| panic!("no ETag for Accept {accept}"))
            .to_owned();
        let again = http.get_with(
            "/npm/etagged",
            &[("accept", accept), ("if-none-match", &etag)],
        );
        again.expect(304);
        assert!(again.body.is_empty(), "304 has no body");
        let other = http.get_with(
            "/npm/etagged",
            &[("accept", accept), ("if-none-match", "\"something-else\"")],
        );
        other.expect(200);
    }
    let etag = http
        .get("/npm/etagged")
        .header("etag")
        .expect("etag")
        .to_owned();
    publish(&server, "npm", &token, &Package::new("etagged", "1.0.1"));
    let after = http.get_with(
        "/npm/etagged",
        &[("accept", "application/json"), ("if-none-match", &etag)],
    );
    after.expect(200);
    assert_ne!(
        after.header("etag"),
        Some(etag.as_str()),
        "a publish must change the ETag"
    );
    assert!(after.json()["versions"]["1.0.1"].is_object());
}

#[test]
fn head_is_answered_like_get_on_every_get_route() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("headed", "1.0.0"));
    publish(&server, "npm", &token, &Package::new("@s/headed", "1.0.0"));
    let auth = format!("Bearer {token}");
    // (path, body is stable between two requests)
    let routes = [
        ("/npm/headed", true),
        ("/npm/@s%2fheaded", true),
        ("/npm/@s/headed", true),
        ("/npm/headed/1.0.0", true),
        ("/npm/headed/latest", true),
        ("/npm/headed/-/headed-1.0.0.tgz", true),
        ("/npm/@s/headed/-/headed-1.0.0.tgz", true),
        ("/npm/-/package/headed/dist-tags", true),
        ("/npm/-/v1/search?text=headed&size=20", false),
        ("/npm/-/ping", true),
        ("/npm/-/whoami", true),
        ("/npm/-/npm/v1/keys", true),
        ("/npm/-/npm/v1/tokens", false),
        ("/npm/-/user/org.couchdb.user:alice", false),
        ("/npm/no-such-package", true),
        ("/npm/headed/-/headed-9.9.9.tgz", true),
        ("/healthz", true),
        ("/readyz", true),
        ("/metrics", false),
    ];
    let mut wrong = Vec::new();
    for (path, stable) in routes {
        for accept in ["application/json", CORGI] {
            let headers = [("authorization", auth.as_str()), ("accept", accept)];
            let get = server.http().get_with(path, &headers);
            let head = server.http().head_with(path, &headers);
            let mut problems = Vec::new();
            if head.status != get.status {
                problems.push(format!("status {} (GET: {})", head.status, get.status));
            }
            if !head.body.is_empty() {
                problems.push(format!("{} body bytes", head.body.len()));
            }
            if head.header("content-type") != get.header("content-type") {
                problems.push(format!(
                    "content-type {:?} (GET: {:?})",
                    head.header("content-type"),
                    get.header("content-type")
                ));
            }
            if head.header("x-request-id").is_none() {
                problems.push("no x-request-id".to_owned());
            }
            if stable && head.header("etag") != get.header("etag") {
                problems.push(format!(
                    "ETag {:?} (GET: {:?})",
                    head.header("etag"),
                    get.header("etag")
                ));
            }
            if let Some(len) = head.header("content-length").filter(|_| stable)
                && len != get.body.len().to_string()
            {
                problems.push(format!(
                    "content-length {len} (GET body: {})",
                    get.body.len()
                ));
            }
            if !problems.is_empty() {
                wrong.push(format!(
                    "HEAD {path} (Accept {accept}): {}",
                    problems.join("; ")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "HEAD must answer like GET without a body:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn gzip_encoded_bulk_advisories_request_returns_empty_object() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("audited", "1.0.0"));
    let body = gzip(br#"{"audited":["1.0.0"],"@acme/widget":["1.1.0"]}"#);
    let resp = server.http().send(
        "POST",
        "/npm/-/npm/v1/security/advisories/bulk",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        Some(body),
    );
    assert_eq!(resp.expect(200).json(), json!({}));
    // Uncompressed, and with a token, too.
    let resp = server.http().raw_json(
        "POST",
        "/npm/-/npm/v1/security/advisories/bulk",
        Some(&token),
        br#"{"audited":["1.0.0"]}"#.to_vec(),
    );
    assert_eq!(resp.expect(200).json(), json!({}));

    // npm 10's fallback (quick audit) answers with an empty report.
    let tree = json!({"name": "app", "version": "1.0.0", "requires": {"audited": "^1.0.0"},
        "dependencies": {"audited": {"version": "1.0.0"}}});
    let resp = server.http().send(
        "POST",
        "/npm/-/npm/v1/security/audits/quick",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        Some(gzip(tree.to_string().as_bytes())),
    );
    let report = resp.expect(200).json();
    assert!(
        report["advisories"]
            .as_object()
            .is_some_and(|a| a.is_empty()),
        "quick audit: {report}"
    );
    assert!(
        report["metadata"]["vulnerabilities"].is_object(),
        "quick audit: {report}"
    );
}

#[test]
fn ping_keys_whoami_and_user_document() {
    let (server, token) = setup();
    let http = server.http();
    assert!(http.get("/npm/-/ping").expect(200).json().is_object());
    assert_eq!(
        http.get("/npm/-/npm/v1/keys").expect(200).json(),
        json!({"keys": []})
    );
    assert_eq!(
        http.get_auth("/npm/-/whoami", Some(&token))
            .expect(200)
            .json(),
        json!({"username": "alice"})
    );
    let anonymous = http.get("/npm/-/whoami");
    anonymous.expect_error(401);
    assert_no_basic_challenge(&anonymous);
    let bad = http.get_auth("/npm/-/whoami", Some("not-a-token"));
    bad.expect_error(401);
    assert_no_basic_challenge(&bad);

    for secret in [token.as_str(), "alice-password"] {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("alice:{secret}"))
        );
        let resp = http.get_with("/npm/-/whoami", &[("authorization", &basic)]);
        assert_eq!(
            resp.expect(200).json()["username"],
            json!("alice"),
            "Basic alice:<token or password>"
        );
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:wrong")
    );
    http.get_with("/npm/-/whoami", &[("authorization", &basic)])
        .expect_error(401);

    let user = http.get_auth("/npm/-/user/org.couchdb.user:alice", Some(&token));
    assert_eq!(user.expect(200).json()["name"], json!("alice"));
}

#[test]
fn classic_login_and_logout_endpoints() {
    let server = TestServer::start();
    server.add_user("bob", Some("bob-password"));
    let http = server.http();
    let web = http.json("POST", "/npm/-/v1/login", None, &json!({}));
    assert!(
        (400..500).contains(&web.status),
        "POST /-/v1/login must answer 4xx so npm falls back: {}",
        web.status
    );

    let login = |user: &str, password: &str| {
        let body = json!({"_id": format!("org.couchdb.user:{user}"), "name": user, "password": password,
            "type": "user", "roles": [], "date": "2024-06-01T00:00:00.000Z"});
        http.json(
            "PUT",
            &format!("/npm/-/user/org.couchdb.user:{}", url_encode(user)),
            None,
            &body,
        )
    };
    let ok = login("bob", "bob-password");
    let doc = ok.expect(201).json();
    assert_eq!(doc["ok"], json!(true));
    let token = doc["token"]
        .as_str()
        .expect("login returns a token")
        .to_owned();
    assert_eq!(
        http.get_auth("/npm/-/whoami", Some(&token))
            .expect(200)
            .json(),
        json!({"username": "bob"})
    );

    let wrong = login("bob", "not-the-password");
    wrong.expect_error(401);
    assert_no_basic_challenge(&wrong);
    let unknown = login("nobody", "whatever");
    assert!(
        unknown.status == 401 || unknown.status == 403,
        "unknown user: {}",
        unknown.status
    );
    unknown.expect_error(unknown.status);

    let logout = http.delete(&format!("/npm/-/user/token/{token}"), Some(&token));
    logout.expect_success();
    http.get_auth("/npm/-/whoami", Some(&token))
        .expect_error(401);
}

#[test]
fn token_endpoints_list_create_and_revoke() {
    let (server, token) = setup();
    let http = server.http();
    let list = http
        .get_auth("/npm/-/npm/v1/tokens", Some(&token))
        .expect(200)
        .json();
    assert!(list["urls"].is_object(), "token page needs `urls`: {list}");
    let objects = list["objects"].as_array().expect("objects");
    assert!(!objects.is_empty());
    for t in objects {
        assert!(
            t["key"].as_str().is_some_and(|k| !k.is_empty()),
            "token without key: {t}"
        );
        assert!(
            t["token"].is_string(),
            "token without (redacted) token: {t}"
        );
        assert_ne!(
            t["token"],
            json!(token),
            "token list must not show the whole token"
        );
    }

    let refused = http.json(
        "POST",
        "/npm/-/npm/v1/tokens",
        Some(&token),
        &json!({"password": "wrong", "readonly": false, "cidr_whitelist": []}),
    );
    assert!(
        refused.status == 401 || refused.status == 403,
        "token create with a wrong password: {}",
        refused.status
    );
    refused.expect_error(refused.status);

    let created = http.json("POST", "/npm/-/npm/v1/tokens", Some(&token),
        &json!({"password": "alice-password", "readonly": false, "cidr_whitelist": [], "name": "ci"}));
    let created = created.expect_success().json();
    let new_token = created["token"]
        .as_str()
        .expect("new token in clear")
        .to_owned();
    let key = created["key"].as_str().expect("new token key").to_owned();
    http.get_auth("/npm/-/whoami", Some(&new_token)).expect(200);
    let list = http
        .get_auth("/npm/-/npm/v1/tokens", Some(&token))
        .expect(200)
        .json();
    assert!(
        list["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .any(|t| t["key"] == json!(key)),
        "new key listed"
    );

    http.delete(&format!("/npm/-/npm/v1/tokens/token/{key}"), Some(&token))
        .expect_success();
    http.get_auth("/npm/-/whoami", Some(&new_token))
        .expect_error(401);
    http.get_auth("/npm/-/whoami", Some(&token)).expect(200);
}

/// The packument (as fetched with `?write=true`) with `versions[version].deprecated = message`,
/// i.e. what `npm deprecate` sends.
fn deprecate_body(server: &TestServer, name: &str, version: &str, message: &str) -> Value {
    let mut doc = server
        .http()
        .get(&format!("/npm/{}?write=true", escape_name(name)))
        .expect(200)
        .json();
    doc["versions"][version]["deprecated"] = json!(message);
    doc
}

#[test]
fn dist_tag_endpoints_add_and_remove_tags() {
    let (server, token) = setup();
    let http = server.http();
    publish(&server, "npm", &token, &Package::new("@t/tags", "1.0.0"));
    publish(&server, "npm", &token, &Package::new("@t/tags", "1.1.0"));
    let tags_url = "/npm/-/package/@t%2ftags/dist-tags";
    assert_eq!(
        http.get(tags_url).expect(200).json(),
        json!({"latest": "1.1.0"})
    );
    http.json(
        "PUT",
        &format!("{tags_url}/stable"),
        Some(&token),
        &json!("1.0.0"),
    )
    .expect_success();
    assert_eq!(
        http.get(tags_url).expect(200).json(),
        json!({"latest": "1.1.0", "stable": "1.0.0"})
    );
    let doc = http.get("/npm/@t%2ftags").expect(200).json();
    assert_eq!(
        doc["dist-tags"],
        json!({"latest": "1.1.0", "stable": "1.0.0"})
    );

    let before = npm_snapshot(&server, "npm", "@t/tags", None);
    let missing = http.json(
        "PUT",
        &format!("{tags_url}/next"),
        Some(&token),
        &json!("7.7.7"),
    );
    assert!(
        missing.status == 404 || missing.status == 400,
        "tag to a missing version: {}",
        missing.status
    );
    missing.expect_error(missing.status);
    http.delete(&format!("{tags_url}/latest"), Some(&token))
        .expect_error(400);
    http.get("/npm/-/package/no-such-package/dist-tags")
        .expect_error(404);
    assert_unchanged(&server, &before, "refused dist-tag changes");

    http.delete(&format!("{tags_url}/stable"), Some(&token))
        .expect_success();
    assert_eq!(
        http.get(tags_url).expect(200).json(),
        json!({"latest": "1.1.0"})
    );
    // Moving `latest` back is allowed.
    http.json(
        "PUT",
        &format!("{tags_url}/latest"),
        Some(&token),
        &json!("1.0.0"),
    )
    .expect_success();
    assert_eq!(
        http.get(tags_url).expect(200).json(),
        json!({"latest": "1.0.0"})
    );
}

#[test]
fn metadata_put_without_attachments_changes_only_deprecated() {
    let (server, token) = setup();
    publish(&server, "npm", &token, &Package::new("meta", "1.0.0"));
    let before = server.http().get("/npm/meta").expect(200).json();
    let mut body = deprecate_body(&server, "meta", "1.0.0", "stop using this");
    // Things a deprecate-style PUT must not be able to change:
    body["versions"]["1.0.0"]["dist"]["shasum"] = json!("0000000000000000000000000000000000000000");
    body["versions"]["1.0.0"]["dependencies"] = json!({"evil": "*"});
    body["versions"]["9.9.9"] = body["versions"]["1.0.0"].clone();
    body["versions"]["9.9.9"]["version"] = json!("9.9.9");
    body["dist-tags"]["latest"] = json!("9.9.9");
    server
        .http()
        .json("PUT", "/npm/meta", Some(&token), &body)
        .expect_success();
    let after = server.http().get("/npm/meta").expect(200).json();
    assert_eq!(
        after["versions"]["1.0.0"]["deprecated"],
        json!("stop using this")
    );
    let keys: Vec<&String> = after["versions"]
        .as_object()
        .expect("versions")
        .keys()
        .collect();
    assert_eq!(keys, ["1.0.0"], "a metadata PUT must not add versions");
    assert_eq!(after["dist-tags"], before["dist-tags"]);
    assert_eq!(
        after["versions"]["1.0.0"]["dist"],
        before["versions"]["1.0.0"]["dist"]
    );
    assert!(
        after["versions"]["1.0.0"].get("dependencies").is_none(),
        "dependencies must not change"
    );
    server.http().get("/npm/meta/-/meta-1.0.0.tgz").expect(200);
}

#[test]
fn search_returns_npm_shaped_results() {
    let (server, token) = setup();
    publish(
        &server,
        "npm",
        &token,
        &Package::new("@acme/finder", "1.0.0").set("keywords", json!(["needle"])),
    );
    publish(
        &server,
        "npm",
        &token,
        &Package::new("@acme/finder", "1.1.0").set("keywords", json!(["needle"])),
    );
    publish(&server, "npm", &token, &Package::new("other", "1.0.0"));
    let result = server.http().get(
        "/npm/-/v1/search?text=finder&size=20&from=0&quality=0.65&popularity=0.98&maintenance=0.5",
    );
    let result = result.expect(200).json();
    let objects = result["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 1, "{result}");
    let p = &objects[0]["package"];
    assert_eq!(p["name"], json!("@acme/finder"));
    assert_eq!(p["version"], json!("1.1.0"));
    assert!(
        p["maintainers"].is_array(),
        "package.maintainers must be an array: {p}"
    );
    assert!(result["total"].as_u64().is_some_and(|t| t >= 1));
    assert!(objects[0]["score"]["final"].is_number());
    let none = server
        .http()
        .get("/npm/-/v1/search?text=zzz-nothing-matches")
        .expect(200)
        .json();
    assert_eq!(none["objects"], json!([]));
}

#[test]
fn a_packument_rendered_after_a_change_is_byte_for_byte_a_fresh_rendering() {
    // The packument a server renders again after a publish or a deprecation reuses the objects
    // of versions that did not change; a second instance (no cache) renders it whole.
    let (server, token) = setup();
    let http = server.http();
    let pkg = |v: &str| {
        Package::new("relay", v)
            .dependency("left-pad", "^1.3.0")
            .set("readme", json!(format!("# relay {v}")))
            .set("description", json!(format!("relay {v}")))
    };
    for v in ["1.0.0", "1.1.0", "2.0.0-rc.1"] {
        publish(&server, "npm", &token, &pkg(v));
    }
    let accepts = [CORGI, "application/json"];
    for accept in accepts {
        http.get_with("/npm/relay", &[("accept", accept)])
            .expect(200);
    }
    publish(&server, "npm", &token, &pkg("1.2.0"));
    let body = deprecate_body(&server, "relay", "1.0.0", "use 1.2");
    http.json("PUT", "/npm/relay", Some(&token), &body)
        .expect_success();
    let second = server.start_second();
    for accept in accepts {
        let again = http.get_with("/npm/relay", &[("accept", accept)]);
        again.expect(200);
        let fresh = second.http().get_with("/npm/relay", &[("accept", accept)]);
        fresh.expect(200);
        let fresh_text = fresh
            .text()
            .replace(&second.registry("npm"), &server.registry("npm"));
        assert_eq!(again.text(), fresh_text, "Accept: {accept}");
        let doc = again.json();
        assert_eq!(doc["versions"]["1.0.0"]["deprecated"], json!("use 1.2"));
        assert!(doc["versions"].get("1.2.0").is_some());
    }
}
