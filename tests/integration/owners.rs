//! Package ownership through the one write path, in every format: the first publisher owns a
//! package; another user's publish of a new version is refused in the client's own words and
//! stores nothing; an admin may publish to any package; a new package belongs to its publisher.

use crate::support::crate_builder::{Crate, frame};
use crate::support::gem_builder::Gem;
use crate::support::nuget_http::{Auth, Feed};
use crate::support::nupkg_builder::Nupkg;
use crate::support::publish_body::escape_name;
use crate::support::{Package, Resp, TestServer};

/// Alice (owner), Bob (an ordinary publisher) and Root (an admin), each with a token.
struct Users {
    server: TestServer,
    alice: String,
    bob: String,
    root: String,
}

fn users() -> Users {
    let server = TestServer::start();
    let alice = server.publisher("alice");
    let bob = server.publisher("bob");
    server.cli_ok(&["user", "add", "root", "--admin"], None);
    let root = server.create_token("root", &[]);
    Users {
        server,
        alice,
        bob,
        root,
    }
}

fn npm_publish(server: &TestServer, token: &str, name: &str, version: &str) -> Resp {
    let body = Package::new(name, version).publish_body(&server.registry("npm"), "latest");
    server.http().json(
        "PUT",
        &format!("/npm/{}", escape_name(name)),
        Some(token),
        &body,
    )
}

fn versions_of(server: &TestServer, path: &str) -> Vec<String> {
    let doc = server.http().get(path).expect(200).json();
    let mut v: Vec<String> = doc["versions"]
        .as_object()
        .expect("versions object")
        .keys()
        .cloned()
        .collect();
    v.sort();
    v
}

#[test]
fn npm_publish_to_another_users_package_is_forbidden_and_admins_may_publish() {
    let u = users();
    npm_publish(&u.server, &u.alice, "owned-pkg", "1.0.0").expect(201);
    let refused = npm_publish(&u.server, &u.bob, "owned-pkg", "1.1.0");
    let msg = refused.expect_error(403);
    assert!(
        msg.contains("You do not have permission to publish \"owned-pkg\"") && msg.contains("bob"),
        "npm prints this error: {msg}"
    );
    assert_eq!(versions_of(&u.server, "/npm/owned-pkg"), ["1.0.0"]);
    npm_publish(&u.server, &u.root, "owned-pkg", "1.2.0").expect(201);
    npm_publish(&u.server, &u.alice, "owned-pkg", "1.3.0").expect(201);
    // Bob's own new package is his.
    npm_publish(&u.server, &u.bob, "bobs-pkg", "1.0.0").expect(201);
    npm_publish(&u.server, &u.alice, "bobs-pkg", "1.1.0").expect_error(403);
    assert_eq!(
        versions_of(&u.server, "/npm/owned-pkg"),
        ["1.0.0", "1.2.0", "1.3.0"]
    );
}

#[test]
fn npm_owner_changes_are_refused_with_a_message_instead_of_a_silent_success() {
    let u = users();
    npm_publish(&u.server, &u.alice, "maint-pkg", "1.0.0").expect(201);
    let packument = u.server.http().get("/npm/maint-pkg").expect(200).json();
    let body = serde_json::json!({
        "_id": "maint-pkg",
        "_rev": packument["_rev"].clone(),
        "maintainers": [{"name": "alice", "email": "alice@example.test"},
                        {"name": "bob", "email": "bob@example.test"}],
    });
    let resp = u
        .server
        .http()
        .json("PUT", "/npm/maint-pkg/-rev/1-x", Some(&u.alice), &body);
    let msg = resp.expect_error(400);
    assert!(msg.contains("npm owner"), "{msg}");
    npm_publish(&u.server, &u.bob, "maint-pkg", "1.1.0").expect_error(403);
}

fn put_crate(server: &TestServer, token: &str, krate: &Crate) -> Resp {
    let body = frame(
        &serde_json::to_vec(&krate.metadata()).expect("json"),
        &krate.crate_file(),
    );
    server.http().send(
        "PUT",
        "/cargo/api/v1/crates/new",
        &[
            ("content-type", "application/octet-stream"),
            ("authorization", token),
        ],
        Some(body),
    )
}

#[test]
fn cargo_publish_to_another_users_crate_is_forbidden_and_admins_may_publish() {
    let u = users();
    put_crate(&u.server, &u.alice, &Crate::new("owned-crate", "1.0.0")).expect(200);
    let refused = put_crate(&u.server, &u.bob, &Crate::new("owned-crate", "1.1.0"));
    refused.expect(403);
    let detail = refused.json()["errors"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("not an owner of crate `owned-crate`"),
        "{detail}"
    );
    put_crate(&u.server, &u.root, &Crate::new("owned-crate", "1.2.0")).expect(200);
    let index = u.server.http().get("/cargo/index/ow/ne/owned-crate").text();
    let versions: Vec<String> = index
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("index line")["vers"].to_string()
        })
        .collect();
    assert_eq!(versions, ["\"1.0.0\"", "\"1.2.0\""]);
}

fn push_gem(server: &TestServer, token: &str, gem: &Gem) -> Resp {
    server.http().send(
        "POST",
        "/rubygems/api/v1/gems",
        &[
            ("content-type", "application/octet-stream"),
            ("authorization", token),
        ],
        Some(gem.gem_file()),
    )
}

#[test]
fn gem_push_to_another_users_gem_is_forbidden_and_admins_may_push() {
    let u = users();
    push_gem(&u.server, &u.alice, &Gem::new("owned_gem", "1.0.0")).expect(200);
    let refused = push_gem(&u.server, &u.bob, &Gem::new("owned_gem", "1.1.0"));
    refused.expect(403);
    let text = refused.text();
    assert!(
        text.contains("You do not have permission to push to this gem"),
        "gem prints the body: {text}"
    );
    push_gem(&u.server, &u.root, &Gem::new("owned_gem", "1.2.0")).expect(200);
    let info = u.server.http().get("/rubygems/info/owned_gem").text();
    let versions: Vec<&str> = info
        .lines()
        .skip(1)
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.2.0"]);
}

#[test]
fn nuget_push_and_symbols_to_another_users_package_are_forbidden_and_admins_may_push() {
    let u = users();
    let feed = Feed::new(&u.server, "nuget");
    feed.push(
        Auth::ApiKey(&u.alice),
        &Nupkg::new("Owned.Pkg", "1.0.0").bytes(),
    )
    .expect_status(201);
    let refused = feed.push(
        Auth::ApiKey(&u.bob),
        &Nupkg::new("owned.pkg", "1.1.0").bytes(),
    );
    refused.expect_refusal(403, "The API key's user is not an owner of this package");
    let symbols = Nupkg::new("Owned.Pkg", "1.0.0").symbols().bytes();
    let refused = feed.push_symbols(Auth::ApiKey(&u.bob), &symbols);
    refused.expect_refusal(403, "The API key's user is not an owner of this package");
    feed.push(
        Auth::ApiKey(&u.root),
        &Nupkg::new("Owned.Pkg", "1.2.0").bytes(),
    )
    .expect_status(201);
    let index = feed.get_json(&feed.flat_index_path("owned.pkg"), Auth::None);
    assert_eq!(index["versions"], serde_json::json!(["1.0.0", "1.2.0"]));
    let snupkg = feed.flat_file_path("owned.pkg", "1.0.0", "snupkg");
    feed.get(&snupkg, Auth::None).expect(404);
}
