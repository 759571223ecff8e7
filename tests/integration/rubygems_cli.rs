//! The real RubyGems and Bundler clients against packgate's RubyGems repositories: `gem build` +
//! `gem push` of a dependency chain (pg_a → pg_b ~> 1.0 → pg_c >= 0.2, < 2), a prerelease and a
//! platform gem; `gem install` from packgate only (with `--pre` for the prerelease) and `require`
//! of the installed code; `bundle install`, then a new version and `bundle update` over an
//! incremental (Range, 206) `versions` fetch; `gem yank` and fresh resolution without the yanked
//! version; `gem search` / `gem list --remote`; the private repository with credentials; and the
//! push refusals a user can hit. Each client has its own HOME, GEM_HOME and Bundler dirs (see
//! `support::gem_client`). Request traces: /work/shared/protocols/rubygems.md §9.

use crate::support::TestServer;
use crate::support::gem_client::{GemEnv, GemProject, served_versions_206};
use crate::support::snapshot::{assert_unchanged, gem_snapshot};
use crate::support::tool::ToolOut;
use packgate_rubygems::testing::{md5_hex, parse_info, parse_versions, sha256_hex, versions_state};
use std::path::{Path, PathBuf};

const PLATFORM: &str = "x86_64-linux";

fn lib_c(value: u32) -> String {
    format!("module PgC\n  def self.value\n    {value}\n  end\nend\n")
}

fn pg_c(version: &str, value: u32) -> GemProject {
    GemProject::new("pg_c", version, &lib_c(value))
}

fn pg_b(version: &str, factor: u32) -> GemProject {
    GemProject::new(
        "pg_b",
        version,
        &format!(
            "require \"pg_c\"\n\nmodule PgB\n  def self.value\n    PgC.value * {factor}\n  end\nend\n"
        ),
    )
    .dep("pg_c", &[">= 0.2", "< 2"])
}

fn pg_a() -> GemProject {
    GemProject::new(
        "pg_a",
        "1.0.0",
        "require \"pg_b\"\n\nmodule PgA\n  def self.value\n    PgB.value + 1\n  end\nend\n",
    )
    .dep("pg_b", &["~> 1.0"])
}

fn pg_native() -> GemProject {
    GemProject::new(
        "pg_native",
        "1.0.0",
        "module PgNative\n  def self.value\n    \"native\"\n  end\nend\n",
    )
    .platform(PLATFORM)
}

/// `gem build` + `gem push`, requiring gem's success line; returns the built file.
fn build_and_push(gems: &GemEnv, project: &GemProject) -> PathBuf {
    let file = gems.build(project);
    let version = match &project.platform {
        Some(p) => format!("{}-{p}", project.version),
        None => project.version.clone(),
    };
    let registered = format!(
        "Successfully registered gem: {} ({}",
        project.name, project.version
    );
    let out = gems.push(&file).ok().mentions_any(&[&registered]);
    assert!(
        !out.all().contains("redirected"),
        "push of {} {version} was redirected: {}",
        project.name,
        out.describe()
    );
    file
}

/// Pushes pg_c 1.0.0 (value 3), pg_b 1.0.0 (×10), pg_a 1.0.0 (+1), so `PgA.value` is 31.
fn push_chain(gems: &GemEnv) -> Vec<PathBuf> {
    vec![
        build_and_push(gems, &pg_c("1.0.0", 3)),
        build_and_push(gems, &pg_b("1.0.0", 10)),
        build_and_push(gems, &pg_a()),
    ]
}

/// `ruby -e 'require LIB; puts EXPR'` with this environment's GEM_HOME; returns stdout trimmed.
fn ruby_value(gems: &GemEnv, lib: &str, expr: &str) -> String {
    let script = format!("require {lib:?}; puts {expr}");
    gems.ruby(&["-e", &script]).ok().stdout.trim().to_owned()
}

/// `gem list --local` as (name, versions text), e.g. ("pg_b", "1.0.0").
fn local_gems(gems: &GemEnv) -> Vec<(String, String)> {
    let out = gems.gem(&["list", "--local", "pg_"]).ok();
    parse_gem_list(&out.stdout)
}

/// Lines `name (v1, v2 platform)` → (name, `v1, v2 platform`).
fn parse_gem_list(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(" (")?;
            Some((name.to_owned(), rest.strip_suffix(')')?.to_owned()))
        })
        .collect()
}

fn listed(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

/// `name (version)` lines of a Gemfile.lock's `specs:` section.
fn locked(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("Gemfile.lock")).expect("Gemfile.lock written");
    text.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("      "))
        .map(|l| l.trim().to_owned())
        .collect()
}

fn bundle_ok(gems: &GemEnv, dir: &Path, args: &[&str]) -> ToolOut {
    gems.bundle(dir, args)
        .ok()
        .never_mentions("Fetching source index")
        .never_mentions("does not match the checksum")
}

#[test]
fn gem_push_chain_then_install_and_require() {
    crate::require_gem!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let publisher = GemEnv::new(&server, "rubygems", Some(&token));
    let files = push_chain(&publisher);
    build_and_push(&publisher, &pg_b("2.0.0.pre", 1000));
    let native_file = build_and_push(&publisher, &pg_native());

    // The index carries the SHA-256 of exactly the files gem built.
    for (name, file) in ["pg_c", "pg_b", "pg_a"].iter().zip(&files) {
        let info = server
            .http()
            .get(&format!("/rubygems/info/{name}"))
            .expect(200)
            .text();
        let line = &parse_info(&info)[0];
        assert_eq!(line.version, "1.0.0");
        let bytes = std::fs::read(file).expect("read built gem");
        assert_eq!(
            line.reqs["checksum"].iter().next(),
            Some(&sha256_hex(&bytes)),
            "info/{name} checksum"
        );
    }
    let info = server
        .http()
        .get("/rubygems/info/pg_native")
        .expect(200)
        .text();
    assert_eq!(parse_info(&info)[0].version, "1.0.0-x86_64-linux");
    let native_bytes = std::fs::read(&native_file).expect("read native gem");
    assert_eq!(
        server
            .http()
            .get("/rubygems/gems/pg_native-1.0.0-x86_64-linux.gem")
            .expect(200)
            .body,
        native_bytes
    );

    // A fresh GEM_HOME installs the chain from packgate; the prerelease is not picked.
    let user = GemEnv::new(&server, "rubygems", None);
    user.install(&["pg_a"]).ok();
    let installed = local_gems(&user);
    assert_eq!(
        listed(&installed, "pg_a").as_deref(),
        Some("1.0.0"),
        "{installed:?}"
    );
    assert_eq!(
        listed(&installed, "pg_b").as_deref(),
        Some("1.0.0"),
        "{installed:?}"
    );
    assert_eq!(
        listed(&installed, "pg_c").as_deref(),
        Some("1.0.0"),
        "{installed:?}"
    );
    assert_eq!(ruby_value(&user, "pg_a", "PgA.value"), "31");
    // `gem install pg_b` alone stays on the release; `--pre` takes the prerelease.
    user.install(&["pg_b"]).ok();
    assert_eq!(listed(&local_gems(&user), "pg_b").as_deref(), Some("1.0.0"));
    let pre = GemEnv::new(&server, "rubygems", None);
    pre.install(&["pg_b", "--pre"]).ok();
    assert_eq!(
        listed(&local_gems(&pre), "pg_b").as_deref(),
        Some("2.0.0.pre")
    );
    assert_eq!(ruby_value(&pre, "pg_b", "PgB.value"), "3000");

    // The platform gem installs where the platform matches (checked first).
    let local = user.ruby(&["-e", "print Gem::Platform.local"]).ok().stdout;
    if local.trim() == PLATFORM {
        user.install(&["pg_native"]).ok();
        assert_eq!(
            listed(&local_gems(&user), "pg_native").as_deref(),
            Some("1.0.0 x86_64-linux")
        );
        assert_eq!(ruby_value(&user, "pg_native", "PgNative.value"), "native");
    } else {
        println!("NOTE: local platform is {local:?}; pg_native install not checked");
    }
}

#[test]
fn bundle_install_update_over_range_then_yank() {
    crate::require_bundler!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let gems = GemEnv::new(&server, "rubygems", Some(&token));
    push_chain(&gems);

    let app = gems.bundle_project("app", "gem \"pg_a\"\n");
    let out = bundle_ok(&gems, &app, &["install"]);
    assert!(
        out.all().contains("Fetching gem metadata"),
        "bundler should use the compact index: {}",
        out.describe()
    );
    let lock = locked(&app);
    for want in ["pg_a (1.0.0)", "pg_b (1.0.0)", "pg_c (1.0.0)"] {
        assert!(
            lock.contains(&want.to_owned()),
            "{want} not locked: {lock:?}"
        );
    }
    let lock_text = std::fs::read_to_string(app.join("Gemfile.lock")).expect("lock");
    assert!(
        lock_text.contains(&format!("remote: {}", gems.source)),
        "the lock names packgate as the remote: {lock_text}"
    );
    let run = ["exec", "ruby", "-e", "require \"pg_a\"; puts PgA.value"];
    assert_eq!(bundle_ok(&gems, &app, &run).stdout.trim(), "31");

    // A new pg_c; bundle update fetches versions incrementally (Range → 206) and picks it.
    build_and_push(&gems, &pg_c("1.1.0", 4));
    bundle_ok(&gems, &app, &["update", "pg_c"]);
    assert!(
        locked(&app).contains(&"pg_c (1.1.0)".to_owned()),
        "bundle update pg_c: {:?}",
        locked(&app)
    );
    assert_eq!(bundle_ok(&gems, &app, &run).stdout.trim(), "41");
    assert!(
        served_versions_206(&server, "rubygems"),
        "bundler's ranged `versions` request should have been answered 206\n{}",
        server.stderr_tail(40)
    );

    // Yank pg_c 1.1.0 with gem; the index drops it.
    let yanked = gems
        .gem(&["yank", "pg_c", "-v", "1.1.0", "--host", &gems.host])
        .ok();
    assert!(
        yanked
            .all()
            .contains("Successfully deleted gem: pg_c (1.1.0)"),
        "{}",
        yanked.describe()
    );
    let info = server.http().get("/rubygems/info/pg_c").expect(200).text();
    let versions: Vec<String> = parse_info(&info).into_iter().map(|l| l.version).collect();
    assert_eq!(versions, ["1.0.0"]);
    let state = versions_state(&parse_versions(
        &server.http().get("/rubygems/versions").expect(200).text(),
    ));
    assert_eq!(
        state["pg_c"],
        (vec!["1.0.0".to_owned()], md5_hex(info.as_bytes()))
    );

    // The same Bundler cache (incremental fetch of the yank line), but nothing installed (an
    // installed gem stays a candidate for Bundler even when yanked): update goes back to 1.0.0 ...
    gems.remove_bundle_path();
    bundle_ok(&gems, &app, &["update", "pg_c"]);
    assert!(
        locked(&app).contains(&"pg_c (1.0.0)".to_owned()),
        "after the yank: {:?}",
        locked(&app)
    );
    assert_eq!(bundle_ok(&gems, &app, &run).stdout.trim(), "31");
    // ... and asking for the yanked version fails, with that cache and with a fresh one.
    for env in [&gems, &GemEnv::new(&server, "rubygems", None)] {
        let pinned = env.bundle_project("pinned", "gem \"pg_c\", \"1.1.0\"\n");
        env.bundle(&pinned, &["install"])
            .failed()
            .mentions_any(&["Could not find gem 'pg_c (= 1.1.0)'", "could not find gem"])
            .never_mentions("Fetching source index");
    }
    let fresh = GemEnv::new(&server, "rubygems", None);
    fresh
        .install(&["pg_c", "-v", "1.1.0"])
        .failed()
        .mentions_any(&[
            "Could not find a valid gem 'pg_c' (= 1.1.0)",
            "could not find",
        ]);
    fresh.install(&["pg_c", "-v", "1.0.0"]).ok();
}

#[test]
fn gem_search_and_list_remote() {
    crate::require_gem!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let gems = GemEnv::new(&server, "rubygems", Some(&token));
    push_chain(&gems);
    build_and_push(&gems, &pg_b("2.0.0.pre", 1000));
    let src = gems.source.clone();
    let remote = ["--remote", "--clear-sources", "--source", src.as_str()];

    let mut search = vec!["search", "pg_"];
    search.extend_from_slice(&remote);
    let found = parse_gem_list(&gems.gem(&search).ok().stdout);
    let mut list = vec!["list"];
    list.extend_from_slice(&remote);
    let all = parse_gem_list(&gems.gem(&list).ok().stdout);
    for result in [&found, &all] {
        for name in ["pg_a", "pg_b", "pg_c"] {
            assert_eq!(listed(result, name).as_deref(), Some("1.0.0"), "{result:?}");
        }
    }

    let mut pre = vec!["search", "pg_b", "--prerelease"];
    pre.extend_from_slice(&remote);
    let prereleases = parse_gem_list(&gems.gem(&pre).ok().stdout);
    assert!(
        listed(&prereleases, "pg_b").is_some_and(|v| v.contains("2.0.0.pre")),
        "gem search --prerelease shows pg_b 2.0.0.pre: {prereleases:?}"
    );

    let mut none = vec!["search", "pg_nothing"];
    none.extend_from_slice(&remote);
    let nothing = parse_gem_list(&gems.gem(&none).ok().stdout);
    assert!(nothing.is_empty(), "{nothing:?}");
}

#[test]
fn gem_push_refusals_are_printed_and_change_nothing() {
    crate::require_gem!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let gems = GemEnv::new(&server, "rubygems", Some(&token));
    let file = build_and_push(&gems, &pg_c("1.0.0", 3));
    let bytes = std::fs::read(&file).expect("read gem");
    let path = file.display().to_string();
    let before = gem_snapshot(&server, "rubygems", &["pg_c"], None);

    // The server's refusal text for a raw request, to compare with what gem prints.
    let text_of = |auth: Option<&str>| {
        let mut headers = vec![("content-type", "application/octet-stream")];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        let resp = server.http().send(
            "POST",
            "/rubygems/api/v1/gems",
            &headers,
            Some(bytes.clone()),
        );
        (resp.status, resp.text().trim().to_owned())
    };

    // Duplicate: gem prints the 409 text and fails.
    let out = gems.push(&file).failed();
    let (status, text) = text_of(Some(&token));
    assert_eq!(status, 409, "{text}");
    assert!(!text.is_empty());
    assert!(
        out.all().contains(&text),
        "gem should print {text:?}: {}",
        out.describe()
    );
    assert_unchanged(&server, &before, "duplicate gem push");

    // An unknown key: 401 text printed.
    let mut bogus = GemEnv::new(&server, "rubygems", Some("not-a-key"));
    let out = bogus.gem(&["push", &path, "--host", &bogus.host]).failed();
    let (status, text) = text_of(Some("not-a-key"));
    assert_eq!(status, 401, "{text}");
    assert!(
        out.all().contains(&text),
        "gem should print {text:?}: {}",
        out.describe()
    );
    assert_unchanged(&server, &before, "push with an unknown key");

    // A read-only key: 403.
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    bogus.set_api_key(Some(&read_only));
    let other = bogus.build(&pg_c("1.2.0", 5));
    let out = bogus.push(&other).failed();
    assert!(
        !out.all().contains("Successfully registered"),
        "{}",
        out.describe()
    );
    assert_unchanged(&server, &before, "push with a read-only key");

    // No key at all (no GEM_HOST_API_KEY, no credentials file, stdin closed): gem signs in
    // with empty credentials at api/v1/api_key, is refused and pushes nothing.
    bogus.set_api_key(None);
    bogus
        .push(&other)
        .failed()
        .never_mentions("Successfully registered");
    assert_unchanged(&server, &before, "push without a key");
}

#[test]
fn private_repository_with_credentials() {
    crate::require_bundler!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let publisher = GemEnv::new(&server, "rubygems-private", Some(&token));
    build_and_push(
        &publisher,
        &GemProject::new(
            "pg_secret",
            "1.0.0",
            "module PgSecret\n  def self.value\n    42\n  end\nend\n",
        ),
    );

    // gem install: anonymous fails; credentials in the source URL work.
    let anonymous = GemEnv::new(&server, "rubygems-private", None);
    anonymous.install(&["pg_secret"]).failed();
    let with_creds = format!(
        "http://alice:{token}@127.0.0.1:{}/rubygems-private",
        server.port
    );
    let user = GemEnv::with_source(&with_creds, None);
    user.install(&["pg_secret"]).ok();
    assert_eq!(ruby_value(&user, "pg_secret", "PgSecret.value"), "42");

    // bundle: anonymous fails with Bundler's authentication message; configured credentials work.
    let bundler = GemEnv::new(&server, "rubygems-private", None);
    let app = bundler.bundle_project("private-app", "gem \"pg_secret\"\n");
    bundler
        .bundle(&app, &["install"])
        .failed()
        .mentions_any(&["Authentication is required", "Bad username or password"]);
    let credentials = format!("alice:{token}");
    bundler
        .bundle(
            &app,
            &["config", "set", "--global", &bundler.source, &credentials],
        )
        .ok();
    bundle_ok(&bundler, &app, &["install"]);
    let run = [
        "exec",
        "ruby",
        "-e",
        "require \"pg_secret\"; puts PgSecret.value",
    ];
    assert_eq!(bundle_ok(&bundler, &app, &run).stdout.trim(), "42");
}
