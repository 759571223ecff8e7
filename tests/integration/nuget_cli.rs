//! The real NuGet client (NuGet.exe 5.8 on mono) against packgate's NuGet feeds: `nuget pack`
//! and `nuget push` of a dependency chain with mixed-case ids (Pg.Cli.App → Pg.Cli.Base in
//! net472 / netstandard2.0 groups), a SemVer 2.0.0 prerelease with build metadata and 4-part
//! versions; `nuget install` into empty directories (dependencies resolved, installed `.nupkg`
//! bytes equal to the pushed ones), also from a 130-version package whose registration is paged;
//! `nuget search`; `nuget delete` (unlist) and relist; duplicate pushes with and without
//! `-SkipDuplicate`; refused pushes whose reason phrase reaches the user; symbol packages pushed
//! beside their package; the private repository with credentials in NuGet.Config. Each client has
//! its own HOME, caches and NuGet.Config (see `support::nuget_client`). Request traces:
//! /work/shared/protocols/nuget.md §12 (what NuGet.exe 5.8 really requests is asserted below from
//! the server's request log).

use crate::support::TestServer;
use crate::support::nuget_client::{
    NuGet, SOURCE_KEY, dirs_starting_with, installed_nupkg, served_requests,
};
use crate::support::nuget_http::{Auth, Feed};
use crate::support::snapshot::{assert_unchanged, nuget_snapshot};
use packgate_nuget::testing::{NUSPEC_NS, Nupkg, nuspec_with_metadata, zip_of};
use std::path::{Path, PathBuf};

const REPO: &str = "nuget";
const PRIVATE: &str = "nuget-private";

/// Writes `pkg` as `{id}.{version}.nupkg` (or `.snupkg`) into `dir` (a new one when `None`).
fn write_pkg(nuget: &NuGet, pkg: &Nupkg, dir: Option<&PathBuf>) -> PathBuf {
    let dir = dir.cloned().unwrap_or_else(|| nuget.new_dir("pkgs"));
    let path = dir.join(pkg.file_name());
    std::fs::write(&path, pkg.bytes()).expect("write package");
    path
}

/// `nuget push FILE -ApiKey KEY` that must succeed with NuGet's success line.
fn push_ok(nuget: &NuGet, file: &Path, key: &str) {
    nuget
        .push(file, Some(key), &[])
        .ok()
        .mentions_any(&["Your package was pushed"]);
}

/// The downloaded `.nupkg` of `lower_id`/`lower_version` from the feed.
fn served(feed: &Feed, lower_id: &str, lower_version: &str, key: Auth<'_>) -> Vec<u8> {
    let resp = feed.get(&feed.flat_file_path(lower_id, lower_version, "nupkg"), key);
    resp.expect(200);
    resp.body
}

/// Requests logged since `from` (an index into `served_requests`).
fn requests_since(server: &TestServer, from: usize) -> Vec<(String, String, u16)> {
    served_requests(server).into_iter().skip(from).collect()
}

#[test]
fn nuget_exe_sees_only_the_test_source() {
    crate::require_nuget!();
    let server = TestServer::start();
    let nuget = NuGet::new(&server, REPO, None);
    let out = nuget.run_with_config(&["sources", "list"]).ok();
    assert!(
        out.stdout.contains(&nuget.source) && out.stdout.contains(SOURCE_KEY),
        "the test source is registered: {}",
        out.describe()
    );
    let out = out.never_mentions("nuget.org");
    let enabled =
        out.stdout.matches("[Enabled]").count() + out.stdout.matches("[Disabled]").count();
    assert_eq!(enabled, 1, "exactly one source: {}", out.describe());
    // Commands without -ConfigFile (search) read the work directory's config: same view.
    let out = nuget
        .run(&["sources", "list"])
        .ok()
        .never_mentions("nuget.org");
    assert!(out.stdout.contains(&nuget.source), "{}", out.describe());
    // Every local folder NuGet.exe uses is inside this client's temp dir.
    let out = nuget.run_with_config(&["locals", "all", "-list"]).ok();
    let root = nuget.work.parent().expect("root").display().to_string();
    let mut folders = 0;
    for line in out.stdout.lines() {
        if let Some((_, path)) = line.split_once(": ") {
            folders += 1;
            assert!(
                path.trim().starts_with(&root),
                "{line:?} should be under {root}: {}",
                out.describe()
            );
        }
    }
    assert!(folders >= 3, "locals all -list: {}", out.describe());
}

#[test]
fn push_chain_then_install_resolves_dependencies() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let feed = Feed::new(&server, REPO);
    let nuget = NuGet::new(&server, REPO, None);

    // Pg.Cli.Base comes from `nuget pack` (the real client's own archive layout).
    let base_nuspec = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"{NUSPEC_NS}\">\n  <metadata>\n    \
         <id>Pg.Cli.Base</id>\n    <version>1.0.0</version>\n    <authors>packgate tests</authors>\n    \
         <description>The base of the chain.</description>\n    <dependencies>\n      \
         <group targetFramework=\"net472\" />\n      <group targetFramework=\"netstandard2.0\" />\n    \
         </dependencies>\n  </metadata>\n  <files>\n    <file src=\"lib/net472/Pg.Cli.Base.dll\" \
         target=\"lib/net472\" />\n    <file src=\"lib/netstandard2.0/Pg.Cli.Base.dll\" \
         target=\"lib/netstandard2.0\" />\n  </files>\n</package>\n"
    );
    let base_file = nuget.pack(
        "Pg.Cli.Base",
        &base_nuspec,
        &[
            ("lib/net472/Pg.Cli.Base.dll", b"MZ base net472"),
            (
                "lib/netstandard2.0/Pg.Cli.Base.dll",
                b"MZ base netstandard2.0",
            ),
        ],
    );
    let app = Nupkg::new("Pg.Cli.App", "1.0.0")
        .dep_group(Some("net472"), &[("Pg.Cli.Base", "[1.0.0, )")])
        .dep_group(Some("netstandard2.0"), &[("Pg.Cli.Base", "1.0.0")])
        .file("lib/net472/Pg.Cli.App.dll", b"MZ app net472".to_vec());
    let app_file = write_pkg(&nuget, &app, None);
    push_ok(&nuget, &base_file, &token);
    push_ok(&nuget, &app_file, &token);
    let base_bytes = std::fs::read(&base_file).expect("packed file");
    assert_eq!(
        served(&feed, "pg.cli.base", "1.0.0", Auth::None),
        base_bytes
    );
    assert_eq!(
        served(&feed, "pg.cli.app", "1.0.0", Auth::None),
        app.bytes()
    );
    let pushes: Vec<_> = served_requests(&server)
        .into_iter()
        .filter(|(m, p, _)| m == "PUT" && p.starts_with("/nuget/v3/package"))
        .collect();
    assert!(
        pushes
            .iter()
            .all(|(_, p, s)| p == "/nuget/v3/package/" && *s == 201),
        "NuGet.exe PUTs to the publish @id plus a slash: {pushes:?}"
    );

    for (id, framework) in [("Pg.Cli.App", "net472"), ("pg.cli.app", "netstandard2.0")] {
        let mark = served_requests(&server).len();
        let (out, dir) = nuget.install(id, &["-Framework", framework]);
        out.ok();
        assert_eq!(
            dirs_starting_with(&dir, "Pg.Cli."),
            ["Pg.Cli.App.1.0.0", "Pg.Cli.Base.1.0.0"],
            "install {id} for {framework} resolves the dependency"
        );
        assert_eq!(installed_nupkg(&dir, "Pg.Cli.App.1.0.0"), app.bytes());
        assert_eq!(installed_nupkg(&dir, "Pg.Cli.Base.1.0.0"), base_bytes);
        let trace = requests_since(&server, mark);
        for want in [
            "/nuget/v3/registration/pg.cli.app/index.json",
            "/nuget/v3/registration/pg.cli.base/index.json",
            "/nuget/v3/flatcontainer/pg.cli.app/1.0.0/pg.cli.app.1.0.0.nupkg",
            "/nuget/v3/flatcontainer/pg.cli.base/1.0.0/pg.cli.base.1.0.0.nupkg",
        ] {
            assert!(
                trace
                    .iter()
                    .any(|(m, p, s)| m == "GET" && p == want && *s == 200),
                "install {id} should GET {want}; the server saw {trace:?}"
            );
        }
    }
}

#[test]
fn prerelease_with_metadata_and_four_part_versions_install() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let feed = Feed::new(&server, REPO);
    let nuget = NuGet::new(&server, REPO, None);
    let pre = Nupkg::new("Pg.Cli.Pre", "3.0.0-rc.1+build.7");
    let four = Nupkg::new("Pg.Cli.Four", "1.2.3.4");
    let four_zero = Nupkg::new("Pg.Cli.Four", "2.0.0.0");
    for p in [&pre, &four, &four_zero] {
        push_ok(&nuget, &write_pkg(&nuget, p, None), &token);
    }
    assert_eq!(
        served(&feed, "pg.cli.pre", "3.0.0-rc.1", Auth::None),
        pre.bytes()
    );
    assert_eq!(
        served(&feed, "pg.cli.four", "2.0.0", Auth::None),
        four_zero.bytes()
    );

    let (out, dir) = nuget.install("Pg.Cli.Pre", &["-Version", "3.0.0-rc.1", "-Prerelease"]);
    out.ok();
    let folders = dirs_starting_with(&dir, "Pg.Cli.Pre.");
    assert_eq!(folders.len(), 1, "{folders:?}");
    assert!(
        folders[0].starts_with("Pg.Cli.Pre.3.0.0-rc.1"),
        "{folders:?}"
    );
    assert_eq!(installed_nupkg(&dir, &folders[0]), pre.bytes());
    let (out, dir) = nuget.install("Pg.Cli.Pre", &["-Prerelease"]);
    out.ok();
    assert_eq!(dirs_starting_with(&dir, "Pg.Cli.Pre.").len(), 1);
    let (out, dir) = nuget.install("Pg.Cli.Pre", &[]);
    out.failed();
    assert!(
        dirs_starting_with(&dir, "Pg.Cli.Pre.").is_empty(),
        "without -Prerelease there is nothing to install"
    );

    let (out, dir) = nuget.install("Pg.Cli.Four", &["-Version", "1.2.3.4"]);
    out.ok();
    assert_eq!(
        dirs_starting_with(&dir, "Pg.Cli.Four."),
        ["Pg.Cli.Four.1.2.3.4"]
    );
    assert_eq!(installed_nupkg(&dir, "Pg.Cli.Four.1.2.3.4"), four.bytes());
    // NuGet.exe names the folder after the nuspec's version as written (2.0.0.0).
    for extra in [
        &[][..],
        &["-Version", "2.0.0.0"][..],
        &["-Version", "2.0"][..],
    ] {
        let (out, dir) = nuget.install("Pg.Cli.Four", extra);
        out.ok();
        let folders = dirs_starting_with(&dir, "Pg.Cli.Four.");
        assert!(
            folders.len() == 1 && folders[0].starts_with("Pg.Cli.Four.2.0.0"),
            "install Pg.Cli.Four {extra:?}: {folders:?}"
        );
        assert_eq!(installed_nupkg(&dir, &folders[0]), four_zero.bytes());
    }
}

#[test]
fn install_from_a_paged_registration() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let feed = Feed::new(&server, REPO);
    // 130 versions over HTTP (fast); the client then reads the paged registration.
    let mut pkgs = Vec::new();
    for i in 1..=130 {
        let p = Nupkg::new("Pg.Cli.Big", &format!("1.0.{i}"));
        feed.push_ok(Auth::ApiKey(&token), &p.bytes());
        pkgs.push(p);
    }
    let nuget = NuGet::new(&server, REPO, None);
    let mark = served_requests(&server).len();
    let (out, dir) = nuget.install("Pg.Cli.Big", &[]);
    out.ok();
    assert_eq!(
        dirs_starting_with(&dir, "Pg.Cli.Big."),
        ["Pg.Cli.Big.1.0.130"]
    );
    assert_eq!(
        installed_nupkg(&dir, "Pg.Cli.Big.1.0.130"),
        pkgs[129].bytes()
    );
    let trace = requests_since(&server, mark);
    assert!(
        trace.iter().any(|(m, p, s)| m == "GET"
            && p.starts_with("/nuget/v3/registration/pg.cli.big/page/")
            && *s == 200),
        "the client must fetch registration pages (not inlined at 130 versions): {trace:?}"
    );
    let (out, dir) = nuget.install("Pg.Cli.Big", &["-Version", "1.0.3"]);
    out.ok();
    assert_eq!(
        dirs_starting_with(&dir, "Pg.Cli.Big."),
        ["Pg.Cli.Big.1.0.3"]
    );
    assert_eq!(installed_nupkg(&dir, "Pg.Cli.Big.1.0.3"), pkgs[2].bytes());
}

#[test]
fn search_lists_pushed_packages() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let nuget = NuGet::new(&server, REPO, None);
    for p in [
        Nupkg::new("Pg.Cli.Alpha", "1.0.0").description("Alpha of the search test."),
        Nupkg::new("Pg.Cli.Alpha", "1.1.0").description("Alpha of the search test, again."),
        Nupkg::new("Pg.Cli.Beta", "2.0.0"),
        Nupkg::new("Pg.Cli.Gamma", "0.1.0-preview.1"),
        Nupkg::new("Unrelated.Thing", "1.0.0"),
    ] {
        push_ok(&nuget, &write_pkg(&nuget, &p, None), &token);
    }
    let mark = served_requests(&server).len();
    let out = nuget
        .search("pg.cli", &[])
        .ok()
        .mentions_exactly("Pg.Cli.Alpha | 1.1.0")
        .mentions_exactly("Pg.Cli.Beta | 2.0.0")
        .never_mentions("Pg.Cli.Gamma")
        .never_mentions("Unrelated.Thing");
    let trace = requests_since(&server, mark);
    assert!(
        trace
            .iter()
            .any(|(m, p, s)| m == "GET" && p == "/nuget/v3/query" && *s == 200),
        "nuget search uses the SearchQueryService: {trace:?}\n{}",
        out.describe()
    );
    nuget
        .search("pg.cli", &["-PreRelease"])
        .ok()
        .mentions_exactly("Pg.Cli.Gamma | 0.1.0-preview.1")
        .mentions_exactly("Pg.Cli.Alpha | 1.1.0");
    nuget
        .search("search test", &[])
        .ok()
        .mentions_exactly("Pg.Cli.Alpha |")
        .never_mentions("Pg.Cli.Beta");
}

#[test]
fn delete_unlists_and_relist_lists_again() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let feed = Feed::new(&server, REPO);
    let nuget = NuGet::new(&server, REPO, None);
    let gone = Nupkg::new("Pg.Cli.Gone", "1.0.0");
    push_ok(&nuget, &write_pkg(&nuget, &gone, None), &token);
    nuget
        .search("pg.cli.gone", &[])
        .ok()
        .mentions_exactly("Pg.Cli.Gone | 1.0.0");

    let mark = served_requests(&server).len();
    nuget
        .delete("Pg.Cli.Gone", "1.0.0", Some(&token))
        .ok()
        .mentions_any(&["was deleted successfully"]);
    let trace = requests_since(&server, mark);
    assert!(
        trace.iter().any(|(m, p, s)| m == "DELETE"
            && p == "/nuget/v3/package/Pg.Cli.Gone/1.0.0"
            && *s == 204),
        "nuget delete sends DELETE {{publish}}/{{id}}/{{version}} as typed: {trace:?}"
    );
    nuget
        .search("pg.cli.gone", &[])
        .ok()
        .never_mentions("Pg.Cli.Gone |");
    // A pinned install of the unlisted version still works.
    let (out, dir) = nuget.install("Pg.Cli.Gone", &["-Version", "1.0.0"]);
    out.ok();
    assert_eq!(installed_nupkg(&dir, "Pg.Cli.Gone.1.0.0"), gone.bytes());

    // Deleting what does not exist fails with the reason phrase.
    nuget
        .delete("Pg.Cli.Gone", "9.9.9", Some(&token))
        .failed()
        .mentions_exactly("The package version does not exist");

    // Relist (no NuGet command exists: packgate's POST) brings it back.
    feed.relist(Auth::ApiKey(&token), "Pg.Cli.Gone", "1.0.0")
        .expect_status(200);
    nuget
        .search("pg.cli.gone", &[])
        .ok()
        .mentions_exactly("Pg.Cli.Gone | 1.0.0");
}

#[test]
fn duplicate_push_fails_with_409_unless_skip_duplicate() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let nuget = NuGet::new(&server, REPO, None);
    let file = write_pkg(&nuget, &Nupkg::new("Pg.Cli.Dup", "1.0.0"), None);
    push_ok(&nuget, &file, &token);
    // Another spelling of the same identity.
    let other = write_pkg(&nuget, &Nupkg::new("pg.cli.dup", "1.0.0.0"), None);
    for f in [&file, &other] {
        nuget
            .push(f, Some(&token), &[])
            .failed()
            .mentions_any(&["409"])
            .mentions_exactly("A package with this id and version already exists");
        nuget
            .push(f, Some(&token), &["-SkipDuplicate"])
            .ok()
            .mentions_any(&["already exists"]);
    }
}

#[test]
fn refused_pushes_show_the_reason_phrase() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    let nuget = NuGet::new(&server, REPO, None);
    let dir = nuget.new_dir("bad");
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let good = Nupkg::new("Pg.Cli.Bad", "1.0.0");
    let dtd = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE package [ <!ENTITY a \"aaaa\"> ]>\n<package \
         xmlns=\"{NUSPEC_NS}\">\n  <metadata>\n    <id>Pg.Cli.Bad</id>\n    \
         <version>1.0.0</version>\n    <authors>&a;</authors>\n    <description>d</description>\n  \
         </metadata>\n</package>\n"
    );
    let cases: Vec<(PathBuf, Option<&str>, &str)> = vec![
        (
            write(
                "Pg.Cli.Bad.1.0.0.nupkg",
                good.clone().nuspec_override(&dtd).bytes(),
            ),
            Some(token.as_str()),
            "The .nuspec file contains a DTD or entity; these are not allowed",
        ),
        (
            write(
                "Pg.Cli.Bad.1.0.1.nupkg",
                zip_of(&[
                    ("Pg.Cli.Bad.nuspec", good.nuspec().as_bytes()),
                    ("Second.nuspec", good.nuspec().as_bytes()),
                ]),
            ),
            Some(token.as_str()),
            "The package contains more than one .nuspec file",
        ),
        (
            write(
                "Pg.Cli.Bad.1.0.2.nupkg",
                Nupkg::new("Pg.Cli.Bad", "1.0.2")
                    .nuspec_override(&nuspec_with_metadata(
                        "    <id>Pg.Cli.Bad</id>\n    <version>1.0.0-be ta</version>\n    \
                         <authors>t</authors>\n    <description>d</description>",
                    ))
                    .bytes(),
            ),
            Some(token.as_str()),
            "The package version is not a valid NuGet version",
        ),
        (
            write(
                "Pg.Cli.Bad.1.0.3.nupkg",
                Nupkg::new("Pg.Cli.Bad", "1.0.3").bytes(),
            ),
            None,
            "An API key is required",
        ),
        (
            write(
                "Pg.Cli.Bad.1.0.4.nupkg",
                Nupkg::new("Pg.Cli.Bad", "1.0.4").bytes(),
            ),
            Some("pgt_not-a-real-key"),
            "The API key is invalid, revoked or expired",
        ),
        (
            write(
                "Pg.Cli.Bad.1.0.5.nupkg",
                Nupkg::new("Pg.Cli.Bad", "1.0.5").bytes(),
            ),
            Some(read_only.as_str()),
            "The API key does not allow this operation",
        ),
    ];
    let before = nuget_snapshot(&server, REPO, &["Pg.Cli.Bad"], &[], Auth::None);
    for (file, key, reason) in &cases {
        nuget
            .push(file, *key, &["-NoSymbols"])
            .failed()
            .mentions_exactly(reason);
        assert_unchanged(&server, &before, &format!("nuget push {}", file.display()));
    }
}

#[test]
fn symbols_are_pushed_beside_the_package() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let feed = Feed::new(&server, REPO);
    let nuget = NuGet::new(&server, REPO, None);
    let dir = nuget.new_dir("with-symbols");
    let pkg = Nupkg::new("Pg.Cli.Sym", "1.0.0");
    let symbols = Nupkg::new("Pg.Cli.Sym", "1.0.0").symbols();
    let file = write_pkg(&nuget, &pkg, Some(&dir));
    write_pkg(&nuget, &symbols, Some(&dir));
    let mark = served_requests(&server).len();
    nuget
        .push(&file, Some(&token), &[])
        .ok()
        .mentions_any(&["symbolpackage"]);
    let trace = requests_since(&server, mark);
    assert!(
        trace
            .iter()
            .any(|(m, p, s)| m == "PUT" && p == "/nuget/v3/symbolpackage/" && *s == 201),
        "NuGet.exe 5.8 pushes the .snupkg beside the .nupkg to SymbolPackagePublish: {trace:?}"
    );
    let snupkg = feed.get(
        &feed.flat_file_path("pg.cli.sym", "1.0.0", "snupkg"),
        Auth::None,
    );
    snupkg.expect(200);
    assert_eq!(snupkg.body, symbols.bytes());

    // An explicit push of a .snupkg replaces it.
    let replacement = Nupkg::new("Pg.Cli.Sym", "1.0.0")
        .symbols()
        .file("lib/netstandard2.0/extra.pdb", b"BSJB another".to_vec());
    let other_dir = nuget.new_dir("snupkg-only");
    let snupkg_file = write_pkg(&nuget, &replacement, Some(&other_dir));
    nuget.push(&snupkg_file, Some(&token), &[]).ok();
    let snupkg = feed.get(
        &feed.flat_file_path("pg.cli.sym", "1.0.0", "snupkg"),
        Auth::None,
    );
    assert_eq!(
        snupkg.body,
        replacement.bytes(),
        "the explicit push replaced it"
    );
    assert_eq!(
        served(&feed, "pg.cli.sym", "1.0.0", Auth::None),
        pkg.bytes()
    );
}

#[test]
fn private_repository_with_credentials_in_nuget_config() {
    crate::require_nuget!();
    let server = TestServer::start();
    let token = server.publisher("alice");
    let feed = Feed::new(&server, PRIVATE);
    let with_credentials = NuGet::new(&server, PRIVATE, Some(("alice", &token)));
    let anonymous = NuGet::new(&server, PRIVATE, None);
    let secret = Nupkg::new("Pg.Cli.Secret", "1.0.0").description("A private package.");
    // The push needs only the API key: the service index is anonymous.
    push_ok(&anonymous, &write_pkg(&anonymous, &secret, None), &token);
    assert_eq!(
        served(
            &feed,
            "pg.cli.secret",
            "1.0.0",
            Auth::Basic("alice", &token)
        ),
        secret.bytes()
    );

    let (out, dir) = with_credentials.install("Pg.Cli.Secret", &[]);
    out.ok();
    assert_eq!(installed_nupkg(&dir, "Pg.Cli.Secret.1.0.0"), secret.bytes());
    with_credentials
        .search("secret", &[])
        .ok()
        .mentions_exactly("Pg.Cli.Secret | 1.0.0");

    let (out, dir) = anonymous.install("Pg.Cli.Secret", &[]);
    out.failed().mentions_any(&["401"]);
    assert!(dirs_starting_with(&dir, "Pg.Cli.").is_empty());
    let wrong = NuGet::new(&server, PRIVATE, Some(("alice", "pgt_wrong-token")));
    let (out, _) = wrong.install("Pg.Cli.Secret", &[]);
    out.failed().mentions_any(&["401"]);
}
