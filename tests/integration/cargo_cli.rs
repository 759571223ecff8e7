//! The real cargo client against packgate's Cargo repositories (sparse index): publish (with and
//! without verification) of a small set of crates with a renamed, an optional, a target-specific
//! and a dev dependency (from another registry, on a crate this one lacks); build and run of a project depending on them from packgate only; yank
//! and `--undo` with fresh and locked resolution; `cargo owner`; `cargo search`; source
//! replacement of the default registry; an auth-required repository; and the publish refusals a
//! user can hit. Each cargo has its own CARGO_HOME and target dir (see `support::cargo_client`).
//! Request traces: /work/shared/protocols/cargo.md §11.

use crate::support::TestServer;
use crate::support::cargo_client::{Cargo, write_files};
use crate::support::snapshot::{assert_unchanged, index_snapshot};
use crate::support::tool::ToolOut;
use packgate_cargo::testing::{index_url, parse_index};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `Cargo.toml` of a publishable library `name` `version`, followed by `extra` TOML.
fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         description = \"{name} test crate\"\nlicense = \"MIT\"\n\n{extra}"
    )
}

/// Writes a library crate into a new directory.
fn lib_crate(cargo: &Cargo, name: &str, version: &str, lib_rs: &str, extra: &str) -> PathBuf {
    cargo.project(
        name,
        &[
            ("Cargo.toml", manifest(name, version, extra)),
            ("src/lib.rs", lib_rs.to_owned()),
        ],
    )
}

/// A binary project `name` with `[dependencies]` `deps` whose `main` is `main_rs`.
fn app(cargo: &Cargo, name: &str, deps: &str, main_rs: &str) -> PathBuf {
    cargo.project(
        name,
        &[
            (
                "Cargo.toml",
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
                     publish = false\n\n[dependencies]\n{deps}"
                ),
            ),
            ("src/main.rs", main_rs.to_owned()),
        ],
    )
}

/// `cargo publish` that must succeed, print cargo's "Published" line and not time out waiting
/// for the index (which needs the index ETag to change on publish).
fn publish_ok(cargo: &Cargo, dir: &Path, verify: bool, name: &str, version: &str) -> ToolOut {
    let published = format!("Published {name} v{version}");
    cargo
        .publish(dir, verify)
        .ok()
        .mentions_any(&[&published])
        .never_mentions("timed out")
}

/// `pg-base` `version` whose `value()` returns `value`.
fn publish_base(cargo: &Cargo, version: &str, value: u64, verify: bool) {
    let dir = lib_crate(
        cargo,
        "pg-base",
        version,
        &format!("pub fn value() -> u64 {{\n    {value}\n}}\n"),
        "",
    );
    publish_ok(cargo, &dir, verify, "pg-base", version);
}

fn index_lines(server: &TestServer, repo: &str, name: &str, token: Option<&str>) -> Vec<Value> {
    let headers: Vec<(&str, &str)> = token.iter().map(|t| ("authorization", *t)).collect();
    let resp = server.http().get_with(&index_url(repo, name), &headers);
    resp.expect(200);
    parse_index(&resp.text())
}

fn line_of<'a>(lines: &'a [Value], vers: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["vers"] == json!(vers))
        .unwrap_or_else(|| panic!("no index line for {vers}: {lines:?}"))
}

/// One `[[package]]` of a Cargo.lock.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Locked {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

fn lockfile(dir: &Path) -> Vec<Locked> {
    let text = std::fs::read_to_string(dir.join("Cargo.lock")).expect("Cargo.lock written");
    let doc: toml::Value = toml::from_str(&text).expect("Cargo.lock is TOML");
    let field = |p: &toml::Value, k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    doc.get("package")
        .and_then(|p| p.as_array())
        .map(|packages| {
            packages
                .iter()
                .map(|p| Locked {
                    name: field(p, "name").expect("name"),
                    version: field(p, "version").expect("version"),
                    source: field(p, "source"),
                    checksum: field(p, "checksum"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The locked version of `name`.
fn locked_version(dir: &Path, name: &str) -> String {
    lockfile(dir)
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} not in Cargo.lock of {}", dir.display()))
        .version
}

/// Every locked package from a registry must carry the `cksum` of its index line.
fn assert_checksums_match_index(server: &TestServer, dir: &Path, token: Option<&str>) {
    for p in lockfile(dir).into_iter().filter(|p| p.source.is_some()) {
        let lines = index_lines(server, "cargo", &p.name, token);
        assert_eq!(
            p.checksum.as_ref().map(|c| json!(c)),
            Some(line_of(&lines, &p.version)["cksum"].clone()),
            "Cargo.lock checksum of {} {} must be the index cksum",
            p.name,
            p.version
        );
    }
}

/// The logins printed by `cargo owner --list` (`login (Name)` or `login` per line).
fn listed_owners(out: &ToolOut) -> BTreeSet<String> {
    out.stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn publish_crate_set_then_build_and_run_from_packgate() {
    crate::require_cargo!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    // `elsewhere` is a second registry (the `cargo-private` repository) holding `not-here`, a
    // crate the `cargo` repository does not have. cargo resolves dev-dependencies while
    // packaging, even with --no-verify, so the crate has to exist somewhere.
    let elsewhere = format!("sparse+{}/cargo-private/index/", server.base);
    let publisher =
        Cargo::new(&server, "cargo", Some(&token)).with_registry("elsewhere", &elsewhere, &token);
    let private = Cargo::new(&server, "cargo-private", Some(&token));
    let not_here = lib_crate(&private, "not-here", "1.0.0", "", "");
    publish_ok(&private, &not_here, false, "not-here", "1.0.0");

    // Verified publish (cargo builds the packaged crate first), then quicker ones.
    publish_base(&publisher, "0.1.0", 7, true);
    publish_base(&publisher, "0.2.0", 20, false);
    let extra = lib_crate(
        &publisher,
        "pg-extra",
        "0.1.0",
        "pub fn bonus() -> u64 {\n    100\n}\n",
        "",
    );
    publish_ok(&publisher, &extra, false, "pg-extra", "0.1.0");
    let unix = lib_crate(
        &publisher,
        "pg-unix",
        "0.1.0",
        "pub fn factor() -> u64 {\n    3\n}\n",
        "",
    );
    publish_ok(&publisher, &unix, false, "pg-unix", "0.1.0");
    let mid = lib_crate(
        &publisher,
        "pg-mid",
        "0.1.0",
        r#"pub fn compute() -> u64 {
    let v = base_alias::value() * platform_factor();
    #[cfg(feature = "extra")]
    let v = v + pg_extra::bonus();
    v
}

#[cfg(unix)]
fn platform_factor() -> u64 {
    pg_unix::factor()
}

#[cfg(not(unix))]
fn platform_factor() -> u64 {
    1
}
"#,
        r#"[features]
extra = ["dep:pg-extra"]

[dependencies]
base_alias = { package = "pg-base", version = "0.1", registry = "packgate" }
pg-extra = { version = "0.1", registry = "packgate", optional = true }

[target.'cfg(unix)'.dependencies]
pg-unix = { version = "0.1", registry = "packgate" }

[dev-dependencies]
not-here = { version = "1", registry = "elsewhere" }
"#,
    );
    publish_ok(&publisher, &mid, false, "pg-mid", "0.1.0");

    // What real cargo sent ends up in the index line.
    let lines = index_lines(&server, "cargo", "pg-mid", None);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["name"], json!("pg-mid"));
    assert_eq!(line["features"], json!({}));
    assert_eq!(line["features2"], json!({"extra": ["dep:pg-extra"]}));
    assert_eq!(line["v"], json!(2));
    let deps = line["deps"].as_array().expect("deps");
    let dep = |name: &str| -> &Value {
        deps.iter()
            .find(|d| d["name"] == json!(name))
            .unwrap_or_else(|| panic!("no dependency {name:?} in {line}"))
    };
    let alias = dep("base_alias");
    assert_eq!(alias["package"], json!("pg-base"), "{line}");
    assert_eq!(alias["req"], json!("^0.1"));
    assert!(alias["registry"].is_null(), "same registry: {alias}");
    assert!(
        deps.iter().all(|d| d["name"] != json!("pg-base")),
        "renamed dependency listed under its original name: {line}"
    );
    assert_eq!(dep("pg-extra")["optional"], json!(true));
    assert_eq!(dep("pg-unix")["target"], json!("cfg(unix)"));
    assert_eq!(dep("not-here")["kind"], json!("dev"));
    assert_eq!(dep("not-here")["req"], json!("^1"));
    assert_eq!(
        dep("not-here")["registry"],
        json!(elsewhere),
        "a dependency from another registry keeps that registry's index URL"
    );
    server
        .http()
        .get(&index_url("cargo", "not-here"))
        .expect(404);

    // A consumer with an empty CARGO_HOME and no token builds through the chain.
    let consumer = Cargo::new(&server, "cargo", None);
    let project = app(
        &consumer,
        "pg-app",
        "pg-mid = { version = \"0.1\", registry = \"packgate\", features = [\"extra\"] }\n",
        "fn main() {\n    println!(\"{}\", pg_mid::compute());\n}\n",
    );
    consumer.run(&project, &["build"]).ok();
    let run = consumer.run(&project, &["run", "-q"]).ok();
    let expected = if cfg!(unix) { "121" } else { "107" };
    assert_eq!(run.stdout.trim(), expected, "7 * factor + 100");

    let source = format!("sparse+{}/cargo/index/", server.base);
    let registry_packages: BTreeSet<(String, String)> = lockfile(&project)
        .into_iter()
        .filter(|p| p.source.is_some())
        .map(|p| {
            assert_eq!(p.source.as_deref(), Some(source.as_str()), "{p:?}");
            (p.name, p.version)
        })
        .collect();
    let mut want: BTreeSet<(String, String)> = [
        ("pg-base", "0.1.0"),
        ("pg-extra", "0.1.0"),
        ("pg-mid", "0.1.0"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    if cfg!(unix) {
        want.insert(("pg-unix".to_owned(), "0.1.0".to_owned()));
    }
    assert_eq!(registry_packages, want, "locked registry packages");
    assert_checksums_match_index(&server, &project, None);
}

#[test]
fn yank_hides_a_version_from_new_lockfiles_but_not_from_locked_builds() {
    crate::require_cargo!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let publisher = Cargo::new(&server, "cargo", Some(&token));
    publish_base(&publisher, "0.1.0", 7, false);
    publish_base(&publisher, "0.2.0", 20, false);

    let consumer = Cargo::new(&server, "cargo", None);
    let deps = "pg-base = { version = \">=0.1\", registry = \"packgate\" }\n";
    let main_rs = "fn main() {\n    println!(\"{}\", pg_base::value());\n}\n";
    let pinned = app(&consumer, "pinned", deps, main_rs);
    let run = consumer.run(&pinned, &["run", "-q"]).ok();
    assert_eq!(run.stdout.trim(), "20");
    assert_eq!(locked_version(&pinned, "pg-base"), "0.2.0");
    let pinned_lock = std::fs::read_to_string(pinned.join("Cargo.lock")).expect("lock");

    publisher
        .registry_cmd(&["yank", "--version", "0.2.0", "pg-base"])
        .ok();
    let lines = index_lines(&server, "cargo", "pg-base", None);
    assert_eq!(line_of(&lines, "0.2.0")["yanked"], json!(true));
    assert_eq!(line_of(&lines, "0.1.0")["yanked"], json!(false));

    // The same consumer (index cached before the yank) resolves anew: 0.2.0 is not picked.
    let fresh = app(&consumer, "fresh", deps, main_rs);
    consumer.run(&fresh, &["generate-lockfile"]).ok();
    assert_eq!(locked_version(&fresh, "pg-base"), "0.1.0");
    let only_02 = app(
        &consumer,
        "only-02",
        "pg-base = { version = \"0.2\", registry = \"packgate\" }\n",
        main_rs,
    );
    consumer
        .run(&only_02, &["generate-lockfile"])
        .failed()
        .mentions_any(&["yanked", "failed to select"]);

    // A project whose Cargo.lock pins 0.2.0 still builds, from an empty CARGO_HOME.
    let other = Cargo::new(&server, "cargo", None);
    let copy = other.new_dir("pinned-copy");
    write_files(
        &copy,
        &[
            (
                "Cargo.toml",
                std::fs::read_to_string(pinned.join("Cargo.toml")).expect("manifest"),
            ),
            ("Cargo.lock", pinned_lock.clone()),
            ("src/main.rs", main_rs.to_owned()),
        ],
    );
    other.run(&copy, &["build", "--locked"]).ok();
    let run = other.run(&copy, &["run", "--locked", "-q"]).ok();
    assert_eq!(
        run.stdout.trim(),
        "20",
        "the locked, yanked version is used"
    );
    assert_eq!(
        std::fs::read_to_string(copy.join("Cargo.lock")).expect("lock"),
        pinned_lock,
        "--locked leaves the lockfile alone"
    );

    // Undo: new lockfiles pick 0.2.0 again.
    publisher
        .registry_cmd(&["yank", "--undo", "--version", "0.2.0", "pg-base"])
        .ok();
    let lines = index_lines(&server, "cargo", "pg-base", None);
    assert_eq!(line_of(&lines, "0.2.0")["yanked"], json!(false));
    let again = app(&consumer, "again", deps, main_rs);
    consumer.run(&again, &["generate-lockfile"]).ok();
    assert_eq!(locked_version(&again, "pg-base"), "0.2.0");
}

#[test]
fn owner_list_add_and_remove() {
    crate::require_cargo!();
    let server = TestServer::start();
    let alice = Cargo::new(&server, "cargo", Some(&server.publisher("alice")));
    // The second user and their token come from the packgate CLI.
    let bob = Cargo::new(&server, "cargo", Some(&server.publisher("bob")));
    let owned = |cargo: &Cargo, version: &str| {
        lib_crate(cargo, "pg-owned", version, "pub fn owned() {}\n", "")
    };
    publish_ok(&alice, &owned(&alice, "0.1.0"), false, "pg-owned", "0.1.0");
    let list = || alice.registry_cmd(&["owner", "--list", "pg-owned"]).ok();
    assert_eq!(listed_owners(&list()), set(&["alice"]));

    let before = index_snapshot(&server, "cargo", "pg-owned", None);
    bob.publish(&owned(&bob, "0.2.0"), false)
        .failed()
        .mentions_any(&["403", "forbidden", "owner"]);
    assert_unchanged(&server, &before, "non-owner publish");

    alice
        .registry_cmd(&["owner", "--add", "bob", "pg-owned"])
        .ok();
    assert_eq!(listed_owners(&list()), set(&["alice", "bob"]));
    publish_ok(&bob, &owned(&bob, "0.2.0"), false, "pg-owned", "0.2.0");

    alice
        .registry_cmd(&["owner", "--remove", "bob", "pg-owned"])
        .ok();
    assert_eq!(listed_owners(&list()), set(&["alice"]));
    let before = index_snapshot(&server, "cargo", "pg-owned", None);
    bob.publish(&owned(&bob, "0.3.0"), false).failed();
    assert_unchanged(&server, &before, "publish by a removed owner");

    // The last owner stays.
    alice
        .registry_cmd(&["owner", "--remove", "alice", "pg-owned"])
        .failed();
    assert_eq!(listed_owners(&list()), set(&["alice"]));
}

#[test]
fn search_lists_published_crates() {
    crate::require_cargo!();
    let server = TestServer::start();
    let publisher = Cargo::new(&server, "cargo", Some(&server.publisher("alice")));
    publish_base(&publisher, "0.1.0", 7, false);
    publish_base(&publisher, "0.2.0", 20, false);
    let tool = lib_crate(&publisher, "pg-tool", "1.0.0", "", "");
    publish_ok(&publisher, &tool, false, "pg-tool", "1.0.0");
    let other = lib_crate(&publisher, "unrelated", "1.0.0", "", "");
    publish_ok(&publisher, &other, false, "unrelated", "1.0.0");

    // Anonymous search of the public repository.
    let searcher = Cargo::new(&server, "cargo", None);
    let out = searcher.registry_cmd(&["search", "pg"]).ok();
    assert!(
        out.stdout.contains("pg-base = \"0.2.0\""),
        "search shows the highest version: {}",
        out.describe()
    );
    assert!(
        out.stdout.contains("pg-tool = \"1.0.0\""),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout.contains("pg-base test crate"),
        "search shows the description: {}",
        out.describe()
    );
    assert!(!out.stdout.contains("unrelated"), "{}", out.describe());

    let limited = searcher
        .registry_cmd(&["search", "pg", "--limit", "1"])
        .ok();
    let crate_lines = limited
        .stdout
        .lines()
        .filter(|l| l.starts_with("pg-"))
        .count();
    assert_eq!(crate_lines, 1, "--limit 1: {}", limited.describe());
    assert!(
        limited.stdout.contains("and 1 crate"),
        "cargo reports the rest from meta.total: {}",
        limited.describe()
    );
}

#[test]
fn source_replacement_builds_from_packgate_alone() {
    crate::require_cargo!();
    let server = TestServer::start();
    let publisher = Cargo::new(&server, "cargo", Some(&server.publisher("alice")));
    publish_base(&publisher, "0.1.0", 7, false);

    let mirror = format!("sparse+{}/cargo/index/", server.base);
    let consumer = Cargo::new(&server, "cargo", None).with_config(&format!(
        "[source.crates-io]\nreplace-with = \"pgmirror\"\n\n[source.pgmirror]\nregistry = \"{mirror}\"\n"
    ));
    let project = app(
        &consumer,
        "mirrored",
        "pg-base = \"0.1\"\n",
        "fn main() {\n    println!(\"{}\", pg_base::value());\n}\n",
    );
    let run = consumer.run(&project, &["run", "-q"]).ok();
    assert_eq!(run.stdout.trim(), "7");
    assert_eq!(locked_version(&project, "pg-base"), "0.1.0");
    assert_checksums_match_index(&server, &project, None);
}

#[test]
fn auth_required_repository_with_and_without_token() {
    crate::require_cargo!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let publisher = Cargo::new(&server, "cargo-private", Some(&token));
    let secret = lib_crate(
        &publisher,
        "pg-secret",
        "0.1.0",
        "pub fn secret() -> u64 {\n    42\n}\n",
        "",
    );
    publish_ok(&publisher, &secret, true, "pg-secret", "0.1.0");

    let deps = "pg-secret = { version = \"0.1\", registry = \"packgate\" }\n";
    let main_rs = "fn main() {\n    println!(\"{}\", pg_secret::secret());\n}\n";
    let reader_token = server.create_token("alice", &["--scope", "read"]);
    let consumer = Cargo::new(&server, "cargo-private", Some(&reader_token));
    let project = app(&consumer, "private-app", deps, main_rs);
    let run = consumer.run(&project, &["run", "-q"]).ok();
    assert_eq!(run.stdout.trim(), "42");

    let anonymous = Cargo::new(&server, "cargo-private", None);
    let project = app(&anonymous, "anonymous-app", deps, main_rs);
    anonymous
        .run(&project, &["generate-lockfile"])
        .failed()
        .mentions_any(&["401", "token", "login", "unauthorized", "authenticat"]);
    assert!(!project.join("Cargo.lock").exists());
}

#[test]
fn publish_refusals_through_cargo() {
    crate::require_cargo!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let publisher = Cargo::new(&server, "cargo", Some(&token));
    let dup =
        |cargo: &Cargo, version: &str| lib_crate(cargo, "pg-dup", version, "pub fn dup() {}\n", "");
    publish_ok(
        &publisher,
        &dup(&publisher, "0.1.0"),
        false,
        "pg-dup",
        "0.1.0",
    );
    let before = index_snapshot(&server, "cargo", "pg-dup", None);

    // The same version again: cargo's own check ("already exists") or the server's 409.
    publisher
        .publish(&dup(&publisher, "0.1.0"), false)
        .failed()
        .mentions_any(&["already"]);
    assert_unchanged(&server, &before, "duplicate version");
    publisher
        .publish(&dup(&publisher, "0.1.0+meta"), false)
        .failed()
        .mentions_any(&["already"]);
    assert_unchanged(&server, &before, "duplicate version with build metadata");

    // No token at all: cargo asks for `cargo login`.
    let anonymous = Cargo::new(&server, "cargo", None);
    anonymous
        .publish(&dup(&anonymous, "0.2.0"), false)
        .failed()
        .mentions_any(&["token", "login"]);
    assert_unchanged(&server, &before, "publish without token");

    // A token the server does not know, and a read-only one.
    let unknown = Cargo::new(&server, "cargo", Some("not-a-real-token"));
    unknown
        .publish(&dup(&unknown, "0.2.0"), false)
        .failed()
        .mentions_any(&["401", "403", "unauthorized", "forbidden", "token"]);
    assert_unchanged(&server, &before, "unknown token");
    let reader = Cargo::new(
        &server,
        "cargo",
        Some(&server.create_token("alice", &["--scope", "read"])),
    );
    reader
        .publish(&dup(&reader, "0.2.0"), false)
        .failed()
        .mentions_any(&["403", "forbidden"]);
    assert_unchanged(&server, &before, "read-only token");
}
