//! The real npm 11 client against packgate: publish, install, ci, view, dist-tag, deprecate,
//! unpublish, search, login/whoami/ping/token/logout, audit, and the refusals a user can hit.
//! Request traces: /work/shared/protocols/npm.md §13.

use crate::support::snapshot::{assert_unchanged, npm_snapshot};
use crate::support::{Npm, TestServer};
use packgate_npm::testing::{Package, escape_name, integrity, tarball_path};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A package whose `index.js` exports `"<name>@<version>"` followed by `>` and what `dep` exports.
fn chained(name: &str, version: &str, dep: Option<(&str, &str)>) -> Package {
    let id = format!("{name}@{version}");
    match dep {
        None => Package::new(name, version),
        Some((dep_name, range)) => Package::new(name, version)
            .dependency(dep_name, range)
            .file(
                "index.js",
                format!(
                    "module.exports = {} + \">\" + require({});\n",
                    json!(id),
                    json!(dep_name)
                ),
            ),
    }
}

fn packument(
    server: &TestServer,
    repo: &str,
    name: &str,
    token: Option<&str>,
) -> crate::support::Resp {
    server
        .http()
        .get_auth(&format!("/{repo}/{}", escape_name(name)), token)
}

fn version_keys(doc: &Value) -> Vec<String> {
    let mut keys: Vec<String> = doc["versions"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[test]
fn install_resolves_ranges_and_ci_reproduces_the_lockfile() {
    crate::require_npm!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let publisher = Npm::new(&server, "npm", Some(&token));
    // Ascending order: npm 11 refuses (client-side) to tag a lower version `latest` implicitly.
    for v in ["2.0.0", "2.0.1", "2.1.0"] {
        publisher.publish(&chained("@scope/c", v, None), &[]).ok();
    }
    publisher
        .publish(&chained("b", "1.0.0", Some(("@scope/c", "^2.0.0"))), &[])
        .ok();
    publisher
        .publish(&chained("b", "1.1.0", Some(("@scope/c", "~2.0.0"))), &[])
        .ok();
    publisher
        .publish(&chained("b", "2.0.0", Some(("@scope/c", "2.1.0"))), &[])
        .ok();
    publisher
        .publish(&chained("a", "1.0.0", Some(("b", "^1.0.0"))), &[])
        .ok();

    // Anonymous consumer with an empty cache.
    let consumer = Npm::new(&server, "npm", None);
    let app = consumer.new_dir("app");
    consumer.run(&app, &["install", "a"]).ok();
    let expected = "a@1.0.0>b@1.1.0>@scope/c@2.0.1";
    let printed = consumer
        .node(&app, &["-e", "console.log(require('a'))"])
        .ok();
    assert_eq!(printed.stdout.trim(), expected);

    let lock_text =
        std::fs::read_to_string(app.join("package-lock.json")).expect("package-lock.json written");
    let lock: Value = serde_json::from_str(&lock_text).expect("lockfile is JSON");
    let packages = lock["packages"].as_object().expect("lockfile `packages`");
    let mut installed = BTreeMap::new();
    for (path, entry) in packages {
        if path.is_empty() {
            continue;
        }
        let name = path
            .strip_prefix("node_modules/")
            .expect("top-level install path");
        let version = entry["version"].as_str().expect("version in lockfile");
        installed.insert(name.to_owned(), version.to_owned());
        let resolved = entry["resolved"]
            .as_str()
            .unwrap_or_else(|| panic!("no `resolved` for {path}"));
        assert_eq!(
            resolved,
            server.url(&format!("/npm{}", tarball_path(name, version))),
            "resolved URL of {path}"
        );
        let tgz = server.http().get(resolved);
        tgz.expect(200);
        assert_eq!(
            entry["integrity"].as_str(),
            Some(integrity(&tgz.body).as_str()),
            "lockfile integrity of {path} must be the SHA-512 of the served tarball"
        );
    }
    let expected_tree: BTreeMap<String, String> =
        [("a", "1.0.0"), ("b", "1.1.0"), ("@scope/c", "2.0.1")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
    assert_eq!(installed, expected_tree, "installed tree");

    consumer.run(&app, &["audit"]).ok();

    // `npm ci` from the lockfile, in a new HOME with a new empty cache.
    let ci = Npm::new(&server, "npm", None);
    let ci_dir = ci.new_dir("ci");
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(app.join(f), ci_dir.join(f)).expect("copy project file");
    }
    ci.run(&ci_dir, &["ci"]).ok();
    let printed = ci.node(&ci_dir, &["-e", "console.log(require('a'))"]).ok();
    assert_eq!(printed.stdout.trim(), expected);
    let lock_after =
        std::fs::read_to_string(ci_dir.join("package-lock.json")).expect("lockfile after ci");
    assert_eq!(
        serde_json::from_str::<Value>(&lock_after).expect("json"),
        lock,
        "npm ci must not change the lockfile"
    );
}

#[test]
fn publish_with_tag_then_view_and_dist_tag_commands() {
    crate::require_npm!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let npm = Npm::new(&server, "npm", Some(&token));
    let name = "@acme/tagged";
    npm.publish(&Package::new(name, "1.0.0"), &[]).ok();
    npm.publish(&Package::new(name, "2.0.0-beta.1"), &["--tag", "beta"])
        .ok();
    let dir = npm.new_dir("work");

    let view = npm.run(&dir, &["view", name, "--json"]).ok().json();
    assert_eq!(view["name"], json!(name));
    assert_eq!(view["versions"], json!(["1.0.0", "2.0.0-beta.1"]));
    assert_eq!(
        view["dist-tags"],
        json!({"latest": "1.0.0", "beta": "2.0.0-beta.1"})
    );

    let ls = npm.run(&dir, &["dist-tag", "ls", name]).ok();
    let mut lines: Vec<&str> = ls
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    assert_eq!(lines, ["beta: 2.0.0-beta.1", "latest: 1.0.0"]);

    npm.run(
        &dir,
        &["dist-tag", "add", &format!("{name}@1.0.0"), "stable"],
    )
    .ok();
    let tags = server
        .http()
        .get(&format!("/npm/-/package/{}/dist-tags", escape_name(name)));
    assert_eq!(
        tags.expect(200).json(),
        json!({"latest": "1.0.0", "beta": "2.0.0-beta.1", "stable": "1.0.0"})
    );
    let ls = npm.run(&dir, &["dist-tag", "ls", name]).ok();
    assert!(
        ls.stdout.contains("stable: 1.0.0"),
        "dist-tag ls after add: {}",
        ls.stdout
    );

    npm.run(&dir, &["dist-tag", "rm", name, "stable"]).ok();
    let tags = server
        .http()
        .get(&format!("/npm/-/package/{}/dist-tags", escape_name(name)));
    assert_eq!(
        tags.expect(200).json(),
        json!({"latest": "1.0.0", "beta": "2.0.0-beta.1"})
    );

    // Installing the tag resolves to the tagged version.
    let consumer = Npm::new(&server, "npm", None);
    let app = consumer.new_dir("app");
    consumer
        .run(&app, &["install", &format!("{name}@beta")])
        .ok();
    let out = consumer
        .node(
            &app,
            &["-e", &format!("console.log(require({}))", json!(name))],
        )
        .ok();
    assert_eq!(out.stdout.trim(), format!("{name}@2.0.0-beta.1"));
}

#[test]
fn deprecate_and_undeprecate_show_in_npm_view() {
    crate::require_npm!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let npm = Npm::new(&server, "npm", Some(&token));
    let name = "old-thing";
    npm.publish(&Package::new(name, "1.0.0"), &[]).ok();
    npm.publish(&Package::new(name, "1.0.1"), &[]).ok();
    let before = packument(&server, "npm", name, None).expect(200).json();
    let dir = npm.new_dir("work");

    npm.run(&dir, &["deprecate", &format!("{name}@1.0.0"), "use 1.0.1"])
        .ok();
    let shown = npm
        .run(&dir, &["view", &format!("{name}@1.0.0"), "deprecated"])
        .ok();
    assert_eq!(shown.stdout.trim(), "use 1.0.1");
    let shown = npm
        .run(&dir, &["view", &format!("{name}@1.0.1"), "deprecated"])
        .ok();
    assert_eq!(shown.stdout.trim(), "", "1.0.1 must not be deprecated");
    let doc = packument(&server, "npm", name, None).expect(200).json();
    assert_eq!(doc["versions"]["1.0.0"]["deprecated"], json!("use 1.0.1"));
    assert!(
        doc["versions"]["1.0.1"]
            .get("deprecated")
            .is_none_or(|d| d == ""),
        "1.0.1: {}",
        doc["versions"]["1.0.1"]
    );
    for v in ["1.0.0", "1.0.1"] {
        assert_eq!(
            doc["versions"][v]["dist"], before["versions"][v]["dist"],
            "deprecate must not touch dist of {v}"
        );
    }
    assert_eq!(doc["dist-tags"], before["dist-tags"]);

    // Installing the deprecated version warns.
    let consumer = Npm::new(&server, "npm", None);
    let app = consumer.new_dir("app");
    let install = consumer
        .run(&app, &["install", &format!("{name}@1.0.0")])
        .ok();
    assert!(
        install.stderr.contains("deprecated"),
        "npm install should warn: {}",
        install.stderr
    );

    npm.run(&dir, &["deprecate", &format!("{name}@1.0.0"), ""])
        .ok();
    let shown = npm
        .run(&dir, &["view", &format!("{name}@1.0.0"), "deprecated"])
        .ok();
    assert_eq!(
        shown.stdout.trim(),
        "",
        "un-deprecated version still shows a message"
    );
    let doc = packument(&server, "npm", name, None).expect(200).json();
    assert!(
        doc["versions"]["1.0.0"]
            .get("deprecated")
            .is_none_or(|d| d == ""),
        "1.0.0: {}",
        doc["versions"]["1.0.0"]
    );
    assert_eq!(version_keys(&doc), ["1.0.0", "1.0.1"]);
}

#[test]
fn unpublish_one_version_then_the_whole_package() {
    crate::require_npm!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let npm = Npm::new(&server, "npm", Some(&token));
    let name = "gone";
    npm.publish(&Package::new(name, "1.0.0"), &[]).ok();
    npm.publish(&Package::new(name, "1.0.1"), &[]).ok();
    let dir = npm.new_dir("work");
    let tgz = |v: &str| format!("/npm{}", tarball_path(name, v));
    server.http().get(&tgz("1.0.1")).expect(200);

    // npm reports success even when the server 404s somewhere: check the server's state.
    npm.run(&dir, &["unpublish", &format!("{name}@1.0.1")]).ok();
    let doc = packument(&server, "npm", name, None).expect(200).json();
    assert_eq!(version_keys(&doc), ["1.0.0"]);
    assert_eq!(
        doc["dist-tags"]["latest"],
        json!("1.0.0"),
        "latest must move off the unpublished version"
    );
    assert!(
        doc["dist-tags"]
            .as_object()
            .expect("dist-tags")
            .values()
            .all(|v| v == "1.0.0"),
        "no dist-tag may point at the unpublished version: {}",
        doc["dist-tags"]
    );
    server.http().get(&tgz("1.0.1")).expect_error(404);
    server.http().get(&tgz("1.0.0")).expect(200);
    server
        .http()
        .get(&format!("/npm/{name}/1.0.1"))
        .expect_error(404);

    npm.run(&dir, &["unpublish", name, "--force"]).ok();
    packument(&server, "npm", name, None).expect_error(404);
    server.http().get(&tgz("1.0.0")).expect_error(404);
}

#[test]
fn search_lists_published_packages() {
    crate::require_npm!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let npm = Npm::new(&server, "npm", Some(&token));
    let pkg = Package::new("zebra-widget", "1.2.3")
        .set("description", json!("a widget with stripes"))
        .set("keywords", json!(["stripes", "widget"]));
    npm.publish(&pkg, &[]).ok();
    npm.publish(&Package::new("unrelated", "1.0.0"), &[]).ok();
    let dir = npm.new_dir("work");

    let found = npm.run(&dir, &["search", "--json", "zebra"]).ok().json();
    let names: Vec<&str> = found
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["zebra-widget"]);
    assert_eq!(found[0]["version"], json!("1.2.3"));

    let plain = npm.run(&dir, &["search", "zebra"]).ok();
    assert!(
        plain.stdout.contains("zebra-widget"),
        "npm search output: {}",
        plain.stdout
    );
}

#[test]
fn login_whoami_ping_token_commands_and_logout() {
    crate::require_npm!();
    let server = TestServer::start();
    server.add_user("alice", Some("s3cret-pass"));
    let npm = Npm::new(&server, "npm", None);
    let dir = npm.new_dir("work");

    npm.run(&dir, &["ping"]).ok();

    // Wrong password: refused, nothing stored.
    npm.run_interactive(
        &dir,
        &["login"],
        &[("Username:", "alice"), ("Password:", "wrong-pass")],
    )
    .failed();
    assert_eq!(npm.configured_token(), None);

    // Classic login (the server answers 4xx on POST /-/v1/login, npm falls back and prompts).
    npm.run_interactive(
        &dir,
        &["login"],
        &[("Username:", "alice"), ("Password:", "s3cret-pass")],
    )
    .ok();
    let login_token = npm
        .configured_token()
        .expect("npm login stored an _authToken");
    let whoami = npm.run(&dir, &["whoami"]).ok();
    assert_eq!(whoami.stdout.trim(), "alice");

    let keys_before = token_keys(&npm, &dir);
    assert!(
        !keys_before.is_empty(),
        "npm token list shows the login token"
    );

    let created = npm
        .run(
            &dir,
            &["token", "create", "--password", "s3cret-pass", "--json"],
        )
        .ok()
        .json();
    let new_token = created["token"]
        .as_str()
        .expect("token create returns the token")
        .to_owned();
    let me = server.http().get_auth("/npm/-/whoami", Some(&new_token));
    assert_eq!(me.expect(200).json()["username"], json!("alice"));

    let keys_after = token_keys(&npm, &dir);
    let added: Vec<&String> = keys_after
        .iter()
        .filter(|k| !keys_before.contains(k))
        .collect();
    assert_eq!(
        added.len(),
        1,
        "exactly one new token in `npm token list`: {keys_before:?} -> {keys_after:?}"
    );
    let revoked = npm.run(&dir, &["token", "revoke", added[0]]).ok();
    assert!(
        revoked.stdout.contains("Removed 1 token"),
        "npm token revoke: {}",
        revoked.stdout
    );
    server
        .http()
        .get_auth("/npm/-/whoami", Some(&new_token))
        .expect_error(401);
    server
        .http()
        .get_auth("/npm/-/whoami", Some(&login_token))
        .expect(200);

    npm.run(&dir, &["logout"]).ok();
    assert_eq!(
        npm.configured_token(),
        None,
        "npm logout removes the token from .npmrc"
    );
    server
        .http()
        .get_auth("/npm/-/whoami", Some(&login_token))
        .expect_error(401);
    npm.run(&dir, &["whoami"]).failed();
}

/// The `key` of every token `npm token list --json` shows.
fn token_keys(npm: &Npm, dir: &std::path::Path) -> Vec<String> {
    let list = npm.run(dir, &["token", "list", "--json"]).ok().json();
    list.as_array()
        .expect("token list is an array")
        .iter()
        .map(|t| t["key"].as_str().expect("every token has a key").to_owned())
        .collect()
}

#[test]
fn install_from_private_repo_needs_the_token() {
    crate::require_npm!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let npm = Npm::new(&server, "npm-private", Some(&token));
    npm.publish(&Package::new("secret-lib", "1.0.0"), &[]).ok();

    let consumer = Npm::new(&server, "npm-private", Some(&token));
    let app = consumer.new_dir("app");
    consumer.run(&app, &["install", "secret-lib"]).ok();
    let out = consumer
        .node(&app, &["-e", "console.log(require('secret-lib'))"])
        .ok();
    assert_eq!(out.stdout.trim(), "secret-lib@1.0.0");

    let anonymous = Npm::new(&server, "npm-private", None);
    let app = anonymous.new_dir("app");
    anonymous
        .run(&app, &["install", "secret-lib"])
        .failed()
        .mentions_any(&["401", "E401"]);
}

#[test]
fn publish_without_credentials_is_refused() {
    crate::require_npm!();
    let server = TestServer::start();
    let pkg = Package::new("nocreds", "1.0.0");
    let before = npm_snapshot(&server, "npm", pkg.name(), None);

    // No token at all: npm refuses before sending anything.
    let npm = Npm::new(&server, "npm", None);
    npm.publish(&pkg, &[]).failed().mentions_any(&[
        "ENEEDAUTH",
        "logged in",
        "401",
        "authentication",
    ]);
    assert_unchanged(&server, &before, "publish without a token");

    // A token the server does not know: 401 from the server.
    npm.set_token(Some("not-a-real-token"));
    npm.publish(&pkg, &[])
        .failed()
        .mentions_any(&["401", "authentication"]);
    assert_unchanged(&server, &before, "publish with an unknown token");
}

#[test]
fn publish_same_version_twice_is_forbidden() {
    crate::require_npm!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let npm = Npm::new(&server, "npm", Some(&token));
    npm.publish(&Package::new("twice", "1.0.0"), &[]).ok();
    let before = npm_snapshot(&server, "npm", "twice", None);
    let changed = Package::new("twice", "1.0.0").file("index.js", "module.exports = 'changed';\n");

    // npm 11 checks first (client-side) ...
    npm.publish(&changed, &[])
        .failed()
        .mentions_any(&["previously published"]);
    assert_unchanged(&server, &before, "second publish");
    // ... and with --force it asks the server, which must say 403.
    let out = npm.publish(&changed, &["--force"]).failed();
    let out = out.mentions_any(&["403"]);
    out.mentions_any(&["previously published"]);
    assert_unchanged(&server, &before, "second publish with --force");
}

#[test]
fn publish_with_read_only_token_is_forbidden() {
    crate::require_npm!();
    let server = TestServer::start();
    server.add_user("reader", Some("reader-password"));
    let token = server.create_token("reader", &["--scope", "read"]);
    let before = npm_snapshot(&server, "npm", "readonly-pkg", None);
    let npm = Npm::new(&server, "npm", Some(&token));
    npm.publish(&Package::new("readonly-pkg", "1.0.0"), &[])
        .failed()
        .mentions_any(&["403"]);
    assert_unchanged(&server, &before, "publish with a read-only token");
}

#[test]
fn publish_to_private_repo_with_token_for_other_repo_is_forbidden() {
    crate::require_npm!();
    let server = TestServer::start();
    let admin_token = server.publisher("alice");
    let restricted = server.create_token("alice", &["--scope", "read,publish", "--repo", "npm"]);
    let before = npm_snapshot(&server, "npm-private", "wrong-repo", Some(&admin_token));
    let npm = Npm::new(&server, "npm-private", Some(&restricted));
    npm.publish(&Package::new("wrong-repo", "1.0.0"), &[])
        .failed()
        .mentions_any(&["403"]);
    assert_unchanged(&server, &before, "publish with a token for `npm`");

    // The same token publishes to the repository it is for.
    let npm = Npm::new(&server, "npm", Some(&restricted));
    npm.publish(&Package::new("wrong-repo", "1.0.0"), &[]).ok();
}
