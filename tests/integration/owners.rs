//! Package ownership through the one write path, in every format: the first publisher owns a
//! package; another user's publish of a new version is refused in the client's own words and
//! stores nothing; an admin may publish to any package; a new package belongs to its publisher.

use crate::support::gem_client::GemEnv;
use crate::support::nuget_http::{Auth, Feed};
use crate::support::{Npm, Resp, TestServer};
use packgate_cargo::testing::{Crate, frame};
use packgate_npm::testing::{Package, escape_name};
use packgate_nuget::testing::Nupkg;
use packgate_rubygems::testing::Gem;
use serde_json::json;

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
fn npm_owner_ls_add_and_rm_change_who_may_publish() {
    crate::require_npm!();
    let u = users();
    let alice = Npm::new(&u.server, "npm", Some(&u.alice));
    let bob = Npm::new(&u.server, "npm", Some(&u.bob));
    alice
        .publish(&Package::new("shared-pkg", "1.0.0"), &[])
        .ok();
    let dir = alice.new_dir("owner");
    let ls = alice.run(&dir, &["owner", "ls", "shared-pkg"]).ok();
    assert!(ls.stdout.contains("alice"), "{}", ls.describe());
    assert!(!ls.stdout.contains("bob"), "{}", ls.describe());
    // Bob may not publish, and may not make himself an owner.
    bob.publish(&Package::new("shared-pkg", "1.1.0"), &[])
        .failed()
        .mentions_any(&["You do not have permission to publish", "403"]);
    bob.run(&dir, &["owner", "add", "bob", "shared-pkg"])
        .failed()
        .mentions_any(&["You do not have permission", "403"]);
    // Alice adds him; now he may.
    alice.run(&dir, &["owner", "add", "bob", "shared-pkg"]).ok();
    let ls = alice.run(&dir, &["owner", "ls", "shared-pkg"]).ok();
    assert!(
        ls.stdout.contains("alice") && ls.stdout.contains("bob <bob@example.test>"),
        "{}",
        ls.describe()
    );
    bob.publish(&Package::new("shared-pkg", "1.1.0"), &[]).ok();
    // Bob removes Alice; the last owner cannot be removed.
    bob.run(&dir, &["owner", "rm", "alice", "shared-pkg"]).ok();
    alice
        .publish(&Package::new("shared-pkg", "1.2.0"), &[])
        .failed();
    // npm 11 refuses this itself ("Cannot remove all owners of a package"); the server would too.
    bob.run(&dir, &["owner", "rm", "bob", "shared-pkg"])
        .failed()
        .mentions_any(&["Cannot remove all owners", "at least one owner"]);
    let packument = u
        .server
        .http()
        .get("/npm/shared-pkg?write=true")
        .expect(200)
        .json();
    let nobody =
        serde_json::json!({"_id": "shared-pkg", "_rev": packument["_rev"], "maintainers": []});
    let msg = u
        .server
        .http()
        .json("PUT", "/npm/shared-pkg/-rev/9-x", Some(&u.bob), &nobody)
        .expect_error(400);
    assert!(msg.contains("at least one owner"), "{msg}");
    assert_eq!(
        versions_of(&u.server, "/npm/shared-pkg"),
        ["1.0.0", "1.1.0"]
    );
}

#[test]
fn packgate_owner_lists_adds_and_removes_owners_in_every_format() {
    let u = users();
    npm_publish(&u.server, &u.alice, "cli-owned", "1.0.0").expect(201);
    put_crate(&u.server, &u.alice, &Crate::new("cli_owned", "1.0.0")).expect(200);
    let list = |repo: &str, name: &str| u.server.cli_ok(&["owner", "list", repo, name], None);
    assert_eq!(list("npm", "cli-owned"), "alice");
    // Any spelling the format treats as the same name.
    assert_eq!(list("cargo", "CLI-Owned"), "alice");
    u.server
        .cli_ok(&["owner", "add", "npm", "cli-owned", "bob"], None);
    assert_eq!(list("npm", "cli-owned"), "alice\nbob");
    npm_publish(&u.server, &u.bob, "cli-owned", "1.1.0").expect(201);
    u.server
        .cli_ok(&["owner", "remove", "npm", "cli-owned", "alice"], None);
    assert_eq!(list("npm", "cli-owned"), "bob");
    npm_publish(&u.server, &u.alice, "cli-owned", "1.2.0").expect_error(403);
    let last = u
        .server
        .cli(&["owner", "remove", "npm", "cli-owned", "bob"], None);
    assert!(!last.status.success(), "the last owner cannot be removed");
    let missing = u.server.cli(&["owner", "list", "npm", "no-such"], None);
    assert!(!missing.status.success());
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

fn npm_versions_and_tags(server: &TestServer, name: &str) -> (Vec<String>, serde_json::Value) {
    let doc = server
        .http()
        .get(&format!("/npm/{name}"))
        .expect(200)
        .json();
    let mut versions: Vec<String> = doc["versions"]
        .as_object()
        .expect("versions")
        .keys()
        .cloned()
        .collect();
    versions.sort();
    let deprecated = doc["versions"]["1.0.0"]["deprecated"].clone();
    (
        versions,
        json!({"tags": doc["dist-tags"], "deprecated": deprecated}),
    )
}

/// The packument for a write (`?write=true`) with `edit` applied, as npm sends it back.
fn npm_doc(
    server: &TestServer,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> serde_json::Value {
    let mut doc = server
        .http()
        .get(&format!("/npm/{name}?write=true"))
        .expect(200)
        .json();
    edit(&mut doc);
    doc
}

#[test]
fn npm_tags_deprecation_and_unpublish_of_another_users_package_are_forbidden() {
    let u = users();
    let http = u.server.http();
    npm_publish(&u.server, &u.alice, "guarded-pkg", "1.0.0").expect(201);
    npm_publish(&u.server, &u.alice, "guarded-pkg", "1.1.0").expect(201);
    let tags = "/npm/-/package/guarded-pkg/dist-tags";
    http.json(
        "PUT",
        &format!("{tags}/beta"),
        Some(&u.alice),
        &json!("1.0.0"),
    )
    .expect(201);
    let before = npm_versions_and_tags(&u.server, "guarded-pkg");
    let deprecated = npm_doc(&u.server, "guarded-pkg", |d| {
        d["versions"]["1.0.0"]["deprecated"] = json!("taken over")
    });
    let unpublish_one = npm_doc(&u.server, "guarded-pkg", |d| {
        d["versions"]
            .as_object_mut()
            .expect("versions")
            .remove("1.1.0");
    });
    let attempts: Vec<(&str, Resp)> = vec![
        (
            "dist-tag add",
            http.json(
                "PUT",
                &format!("{tags}/next"),
                Some(&u.bob),
                &json!("1.1.0"),
            ),
        ),
        (
            "dist-tag rm",
            http.delete(&format!("{tags}/beta"), Some(&u.bob)),
        ),
        (
            "deprecate",
            http.json("PUT", "/npm/guarded-pkg", Some(&u.bob), &deprecated),
        ),
        (
            "unpublish a version",
            http.json(
                "PUT",
                "/npm/guarded-pkg/-rev/3-x",
                Some(&u.bob),
                &unpublish_one,
            ),
        ),
        (
            "unpublish the tarball",
            http.delete(
                "/npm/guarded-pkg/-/guarded-pkg-1.1.0.tgz/-rev/3-x",
                Some(&u.bob),
            ),
        ),
        (
            "unpublish the package",
            http.delete("/npm/guarded-pkg/-rev/3-x", Some(&u.bob)),
        ),
    ];
    for (what, resp) in attempts {
        let msg = resp.expect_error(403);
        assert!(
            msg.contains("You do not have permission") && msg.contains("guarded-pkg"),
            "{what}: {msg}"
        );
        assert_eq!(
            npm_versions_and_tags(&u.server, "guarded-pkg"),
            before,
            "{what} changed the package"
        );
    }
    // The owner may.
    http.json("PUT", "/npm/guarded-pkg", Some(&u.alice), &deprecated)
        .expect(200);
    http.json(
        "PUT",
        "/npm/guarded-pkg/-rev/3-x",
        Some(&u.alice),
        &unpublish_one,
    )
    .expect(200);
    assert_eq!(npm_versions_and_tags(&u.server, "guarded-pkg").0, ["1.0.0"]);
}

#[test]
fn an_unpublished_npm_version_is_never_published_again() {
    let u = users();
    let http = u.server.http();
    npm_publish(&u.server, &u.alice, "tomb", "1.0.0").expect(201);
    npm_publish(&u.server, &u.alice, "tomb", "1.1.0").expect(201);
    let keep_one = npm_doc(&u.server, "tomb", |d| {
        d["versions"]
            .as_object_mut()
            .expect("versions")
            .remove("1.1.0");
    });
    http.json("PUT", "/npm/tomb/-rev/3-x", Some(&u.alice), &keep_one)
        .expect(200);
    // Other bytes under the unpublished name@version.
    let body = Package::new("tomb", "1.1.0")
        .file("other.js", "module.exports = 'not the same bytes';")
        .publish_body(&u.server.registry("npm"), "latest");
    let msg = http
        .json("PUT", "/npm/tomb", Some(&u.alice), &body)
        .expect_error(403);
    assert!(msg.contains("cannot publish over"), "{msg}");
    // The whole package goes; its versions stay taken, new ones may be published.
    http.delete("/npm/tomb/-rev/4-x", Some(&u.alice))
        .expect(200);
    http.get("/npm/tomb").expect_error(404);
    npm_publish(&u.server, &u.bob, "tomb", "1.0.0").expect_error(403);
    npm_publish(&u.server, &u.bob, "tomb", "1.2.0").expect(201);
    assert_eq!(versions_of(&u.server, "/npm/tomb"), ["1.2.0"]);
    http.get("/npm/tomb/-/tomb-1.0.0.tgz").expect_error(404);
}

#[test]
fn gem_yank_of_another_users_gem_is_forbidden() {
    let u = users();
    push_gem(&u.server, &u.alice, &Gem::new("yank_guard", "1.0.0")).expect(200);
    let yank = |token: &str| {
        u.server.http().send(
            "DELETE",
            "/rubygems/api/v1/gems/yank",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", token),
            ],
            Some(b"gem_name=yank_guard&version=1.0.0".to_vec()),
        )
    };
    let refused = yank(&u.bob);
    refused.expect(403);
    assert!(
        refused.text().contains("You do not have permission"),
        "{}",
        refused.text()
    );
    assert!(
        u.server
            .http()
            .get("/rubygems/info/yank_guard")
            .text()
            .contains("1.0.0 "),
        "still listed"
    );
    yank(&u.alice).expect(200);
}

#[test]
fn nuget_unlist_relist_and_deprecation_of_another_users_package_are_forbidden() {
    let u = users();
    let feed = Feed::new(&u.server, "nuget");
    feed.push(
        Auth::ApiKey(&u.alice),
        &Nupkg::new("Listed.Pkg", "1.0.0").bytes(),
    )
    .expect_status(201);
    let leaf = "/nuget/v3/package/Listed.Pkg/1.0.0";
    for method in ["DELETE", "POST"] {
        let resp = feed.send(method, leaf, Auth::ApiKey(&u.bob));
        assert_eq!(resp.status, 403, "{method}: {}", resp.text());
    }
    let deprecation = u.server.http().send(
        "PUT",
        &format!("{leaf}/deprecation"),
        &[
            ("x-nuget-apikey", u.bob.as_str()),
            ("content-type", "application/json"),
        ],
        Some(br#"{"reasons": ["Legacy"]}"#.to_vec()),
    );
    assert_eq!(deprecation.status, 403, "{}", deprecation.text());
    let search = feed.get_json("/nuget/v3/query?q=Listed.Pkg", Auth::None);
    assert_eq!(search["totalHits"], json!(1), "still listed: {search}");
    let resp = feed.send("DELETE", leaf, Auth::ApiKey(&u.alice));
    assert_eq!(resp.status, 204, "the owner unlists: {}", resp.text());
}

#[test]
fn gem_owner_lists_adds_and_removes_owners() {
    crate::require_gem!();
    let u = users();
    push_gem(&u.server, &u.alice, &Gem::new("team_gem", "1.0.0")).expect(200);
    let alice = GemEnv::new(&u.server, "rubygems", Some(&u.alice));
    let bob = GemEnv::new(&u.server, "rubygems", Some(&u.bob));
    let owner = |gems: &GemEnv, args: &[&str]| {
        let mut all = vec!["owner", "team_gem"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--host", &gems.host]);
        gems.gem(&all)
    };
    let ls = owner(&alice, &[]).ok();
    assert!(
        ls.stdout.contains("alice@example.test"),
        "{}",
        ls.describe()
    );
    // Bob cannot make himself an owner.
    let _ = owner(&bob, &["--add", "bob@example.test"]);
    push_gem(&u.server, &u.bob, &Gem::new("team_gem", "1.1.0")).expect(403);
    // Alice adds him (by login), then removes him (by e-mail).
    owner(&alice, &["--add", "bob"]).ok();
    let ls = owner(&alice, &[]).ok();
    assert!(ls.stdout.contains("bob@example.test"), "{}", ls.describe());
    push_gem(&u.server, &u.bob, &Gem::new("team_gem", "1.1.0")).expect(200);
    owner(&alice, &["--remove", "bob@example.test"]).ok();
    push_gem(&u.server, &u.bob, &Gem::new("team_gem", "1.2.0")).expect(403);
    let yaml = u
        .server
        .http()
        .get("/rubygems/api/v1/gems/team_gem/owners.yaml")
        .expect(200)
        .text();
    assert_eq!(
        yaml,
        format!(
            "---\n- email: \"alice@example.test\"\n  handle: \"alice\"\n  id: {}\n",
            yaml.rsplit("id: ").next().unwrap_or("").trim()
        )
    );
}

#[test]
fn the_owners_api_manages_nuget_owners_which_have_no_client_command() {
    let u = users();
    let feed = Feed::new(&u.server, "nuget");
    feed.push(
        Auth::ApiKey(&u.alice),
        &Nupkg::new("Api.Owned", "1.0.0").bytes(),
    )
    .expect_status(201);
    let http = u.server.http();
    let url = |user: &str| format!("/api/owners?repo=nuget&package=api.owned&user={user}");
    let list = http
        .get("/api/owners?repo=nuget&package=API.OWNED")
        .expect(200)
        .json();
    assert_eq!(list["owners"], json!(["alice"]), "{list}");
    http.send("PUT", &url("bob"), &[], None).expect(401);
    let auth = |t: &str| format!("Bearer {t}");
    http.send(
        "PUT",
        &url("bob"),
        &[("authorization", &auth(&u.bob))],
        None,
    )
    .expect(403);
    let added = http
        .send(
            "PUT",
            &url("bob"),
            &[("authorization", &auth(&u.alice))],
            None,
        )
        .expect(200)
        .json();
    assert_eq!(added["owners"], json!(["alice", "bob"]));
    feed.push(
        Auth::ApiKey(&u.bob),
        &Nupkg::new("Api.Owned", "1.1.0").bytes(),
    )
    .expect_status(201);
    http.send(
        "DELETE",
        &url("alice"),
        &[("authorization", &auth(&u.root))],
        None,
    )
    .expect(200);
    feed.push(
        Auth::ApiKey(&u.alice),
        &Nupkg::new("Api.Owned", "1.2.0").bytes(),
    )
    .expect_refusal(403, "The API key's user is not an owner of this package");
    http.send(
        "DELETE",
        &url("bob"),
        &[("authorization", &auth(&u.bob))],
        None,
    )
    .expect(400);
}
