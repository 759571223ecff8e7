//! Package ownership through the real clients: Alice publishes first and owns the package; Bob's
//! changes to it (a new version, tags, deprecation, unpublish, yank, delete) fail with the
//! server's refusal in the client's own output, and change nothing. One server per test; the
//! HTTP-level checks are in `owners.rs` and `authz/`.

use crate::support::cargo_client::Cargo;
use crate::support::gem_client::{GemEnv, GemProject};
use crate::support::nuget_client::NuGet;
use crate::support::nuget_http::{Auth, Feed};
use crate::support::snapshot::{
    assert_unchanged, gem_snapshot, index_snapshot, npm_snapshot, nuget_snapshot,
};
use crate::support::tool::ToolOut;
use crate::support::{Npm, TestServer};
use packgate_cargo::testing::{index_url, parse_index};
use packgate_npm::testing::Package;
use packgate_nuget::testing::Nupkg;
use packgate_rubygems::testing::parse_info;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Panics unless `out` failed and mentions `needle` (case-insensitive); prints the first output
/// line that does (and the exit status), so `--nocapture` shows what the client said.
fn refused(out: ToolOut, needle: &str) -> ToolOut {
    let out = out.failed().mentions_any(&[needle]);
    print_refusal(&out, needle);
    out
}

fn print_refusal(out: &ToolOut, needle: &str) {
    let lower = needle.to_lowercase();
    let all = out.all();
    let line = all
        .lines()
        .find(|l| l.to_lowercase().contains(&lower))
        .unwrap_or_default();
    let status = out
        .status
        .map_or_else(|| "a timeout".to_owned(), |s| s.to_string());
    println!(
        "`{}` ended with {status} and printed: {}",
        out.cmd,
        line.trim()
    );
}

/// `versions` and `dist-tags` of `npm view NAME --json` (asking the server, not npm's cache).
fn npm_view(npm: &Npm, dir: &Path, name: &str) -> (Value, Value) {
    let view = npm
        .run(dir, &["view", name, "--json", "--prefer-online"])
        .ok()
        .json();
    (view["versions"].clone(), view["dist-tags"].clone())
}

#[test]
fn npm_publish_tag_deprecate_and_unpublish_by_a_non_owner_fail_and_change_nothing() {
    crate::require_npm!();
    let server = TestServer::start();
    let alice = Npm::new(&server, "npm", Some(&server.publisher("alice")));
    let bob = Npm::new(&server, "npm", Some(&server.publisher("bob")));
    let name = "guarded-pkg";
    alice.publish(&Package::new(name, "1.0.0"), &[]).ok();
    let dir = bob.new_dir("work");
    let view_before = npm_view(&bob, &dir, name);
    assert_eq!(view_before, (json!(["1.0.0"]), json!({"latest": "1.0.0"})));
    let before = npm_snapshot(&server, "npm", name, None);
    let denied = "You do not have permission";

    refused(bob.publish(&Package::new(name, "1.1.0"), &[]), denied);
    assert_unchanged(&server, &before, "bob's npm publish");
    let at_1 = format!("{name}@1.0.0");
    let attempts: [(&str, Vec<&str>); 3] = [
        ("npm dist-tag add", vec!["dist-tag", "add", &at_1, "beta"]),
        ("npm deprecate", vec!["deprecate", &at_1, "taken over"]),
        ("npm unpublish", vec!["unpublish", &at_1, "--force"]),
    ];
    for (what, args) in attempts {
        refused(bob.run(&dir, &args), denied);
        assert_unchanged(&server, &before, &format!("bob's {what}"));
    }

    assert_eq!(npm_view(&alice, &dir, name), view_before);
    let deprecated = alice
        .run(&dir, &["view", &at_1, "deprecated", "--prefer-online"])
        .ok();
    assert_eq!(deprecated.stdout.trim(), "", "1.0.0 must not be deprecated");
}

/// `Cargo.toml` + `src/lib.rs` of library `name` `version` in a new directory.
fn lib_crate(cargo: &Cargo, name: &str, version: &str) -> PathBuf {
    cargo.project(
        name,
        &[
            (
                "Cargo.toml",
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
                     description = \"{name} test crate\"\nlicense = \"MIT\"\n"
                ),
            ),
            ("src/lib.rs", "pub fn guarded() {}\n".to_owned()),
        ],
    )
}

#[test]
fn cargo_publish_and_yank_by_a_non_owner_fail_and_change_nothing() {
    crate::require_cargo!();
    let server = TestServer::start();
    let alice = Cargo::new(&server, "cargo", Some(&server.publisher("alice")));
    let bob = Cargo::new(&server, "cargo", Some(&server.publisher("bob")));
    let name = "pg-guarded";
    alice
        .publish(&lib_crate(&alice, name, "1.0.0"), false)
        .ok()
        .mentions_any(&["Published pg-guarded v1.0.0"]);
    let before = index_snapshot(&server, "cargo", name, None);
    let denied = "not an owner";

    refused(bob.publish(&lib_crate(&bob, name, "1.1.0"), false), denied);
    assert_unchanged(&server, &before, "bob's cargo publish");
    refused(
        bob.registry_cmd(&["yank", "--version", "1.0.0", name]),
        denied,
    );
    assert_unchanged(&server, &before, "bob's cargo yank");

    let index = server.http().get(&index_url("cargo", name));
    index.expect(200);
    let lines = parse_index(&index.text());
    let listed: Vec<(&Value, &Value)> = lines.iter().map(|l| (&l["vers"], &l["yanked"])).collect();
    assert_eq!(
        listed,
        [(&json!("1.0.0"), &json!(false))],
        "only alice's version, not yanked"
    );
}

#[test]
fn gem_push_and_yank_by_a_non_owner_fail_and_change_nothing() {
    crate::require_gem!();
    let server = TestServer::start();
    let alice = GemEnv::new(&server, "rubygems", Some(&server.publisher("alice")));
    let bob = GemEnv::new(&server, "rubygems", Some(&server.publisher("bob")));
    let name = "pg_guarded";
    let lib = "module PgGuarded\nend\n";
    alice
        .push(&alice.build(&GemProject::new(name, "1.0.0", lib)))
        .ok()
        .mentions_any(&["Successfully registered gem: pg_guarded (1.0.0)"]);
    let info_path = format!("/rubygems/info/{name}");
    let info_before = server.http().get(&info_path).expect(200).text();
    let before = gem_snapshot(&server, "rubygems", &[name], None);
    let denied = "You do not have permission";

    refused(
        bob.push(&bob.build(&GemProject::new(name, "1.1.0", lib))),
        denied,
    );
    assert_unchanged(&server, &before, "bob's gem push");
    // RubyGems 3.3's `gem yank` prints the server's answer and exits 0 whatever the status, so
    // only its words and the index tell the refusal.
    let yank = bob
        .gem(&["yank", name, "-v", "1.0.0", "--host", &bob.host])
        .mentions_any(&[denied])
        .never_mentions("Successfully deleted");
    print_refusal(&yank, denied);
    assert_unchanged(&server, &before, "bob's gem yank");

    let info_after = server.http().get(&info_path).expect(200).text();
    assert_eq!(info_after, info_before, "info/{name} changed");
    let versions: Vec<String> = parse_info(&info_after)
        .into_iter()
        .map(|l| l.version)
        .collect();
    assert_eq!(versions, ["1.0.0"]);
}

/// Writes `pkg` as `{id}.{version}.nupkg` into a new directory.
fn write_nupkg(nuget: &NuGet, pkg: &Nupkg) -> PathBuf {
    let path = nuget.new_dir("pkgs").join(pkg.file_name());
    std::fs::write(&path, pkg.bytes()).expect("write package");
    path
}

#[test]
fn nuget_push_and_delete_by_a_non_owner_fail_and_change_nothing() {
    crate::require_nuget!();
    let server = TestServer::start();
    let alice = server.publisher("alice");
    let bob = server.publisher("bob");
    let nuget = NuGet::new(&server, "nuget", None);
    let id = "Pg.Guarded";
    nuget
        .push(
            &write_nupkg(&nuget, &Nupkg::new(id, "1.0.0")),
            Some(&alice),
            &[],
        )
        .ok()
        .mentions_any(&["Your package was pushed"]);
    let before = nuget_snapshot(&server, "nuget", &[id], &[], Auth::None);
    let reason = "The API key's user is not an owner of this package";

    let push = nuget.push(
        &write_nupkg(&nuget, &Nupkg::new(id, "1.1.0")),
        Some(&bob),
        &[],
    );
    refused(push, reason).mentions_any(&["403"]);
    assert_unchanged(&server, &before, "bob's nuget push");
    refused(nuget.delete(id, "1.0.0", Some(&bob)), reason).mentions_any(&["403"]);
    assert_unchanged(&server, &before, "bob's nuget delete");

    let feed = Feed::new(&server, "nuget");
    let index = feed.get_json(&feed.flat_index_path("pg.guarded"), Auth::None);
    assert_eq!(index["versions"], json!(["1.0.0"]));
}
