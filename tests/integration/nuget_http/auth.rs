//! Credentials: every write refused without a valid, sufficient key (status, reason phrase, Basic
//! challenge, nothing changed), and the private repository that requires credentials for reads.

use super::{
    FORBIDDEN, KEY_INVALID, KEY_REQUIRED, PRIVATE, READ_CREDENTIALS, REPO, catalog_entries,
    expect_status, search, setup,
};
use crate::support::nuget_http::{Auth, Feed, Framing, NuResp, basic, expect_basic_challenge};
use crate::support::snapshot::{assert_unchanged, nuget_snapshot};
use packgate_nuget::testing::Nupkg;
use serde_json::json;

#[test]
fn auth_refusals_change_nothing() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    feed.push_ok(
        Auth::ApiKey(&token),
        &Nupkg::new("Pg.Guard", "1.0.0").bytes(),
    );
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    let publish_only = server.create_token("alice", &["--scope", "read,publish"]);
    let for_npm = server.create_token(
        "alice",
        &["--scope", "read,publish,delete", "--repo", "npm"],
    );
    let for_private = server.create_token(
        "alice",
        &["--scope", "read,publish,delete", "--repo", PRIVATE],
    );
    server.add_user("mallory", None);
    let revoked = server.create_token("mallory", &[]);
    let listed = server.cli_ok(&["token", "list", "--user", "mallory"], None);
    let id = listed
        .lines()
        .next()
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("token list: {listed:?}"))
        .to_owned();
    server.cli_ok(&["token", "revoke", &id], None);

    let snupkg = feed.flat_file_path("pg.guard", "1.0.0", "snupkg");
    let before = nuget_snapshot(
        &server,
        REPO,
        &["Pg.Guard", "Pg.Guard.New"],
        &[snupkg],
        Auth::None,
    );
    let unauthenticated: Vec<(&str, Auth, &str)> = vec![
        ("no key", Auth::None, KEY_REQUIRED),
        // What NuGet.exe retries with after a 401 when it has no credentials: `Basic :`.
        (
            "empty Basic credentials",
            Auth::Authorization("Basic Og=="),
            KEY_REQUIRED,
        ),
        (
            "an unknown key",
            Auth::ApiKey("pgt_not-a-real-key"),
            KEY_INVALID,
        ),
        ("a revoked key", Auth::ApiKey(&revoked), KEY_INVALID),
        (
            "Basic with a wrong secret",
            Auth::Basic("alice", "wrong"),
            KEY_INVALID,
        ),
    ];
    let forbidden: Vec<(&str, Auth)> = vec![
        ("a read-only key", Auth::ApiKey(&read_only)),
        (
            "a read-only key as Basic",
            Auth::Basic("reader", &read_only),
        ),
        ("a key for the npm repository", Auth::ApiKey(&for_npm)),
        ("a key for nuget-private", Auth::ApiKey(&for_private)),
    ];
    let check = |what: &str, resp: NuResp, status: u16, reason: &str| {
        resp.expect_refusal(status, reason);
        assert_unchanged(&server, &before, what);
    };
    let symbols = Nupkg::new("Pg.Guard", "1.0.0").symbols().bytes();
    let deprecation = json!({"reasons": ["Legacy"], "message": "x"});
    for (what, key, reason) in &unauthenticated {
        for pkg in [
            Nupkg::new("Pg.Guard", "1.1.0"),
            Nupkg::new("Pg.Guard.New", "1.0.0"),
        ] {
            check(
                &format!("push of {} with {what}", pkg.id),
                feed.push(*key, &pkg.bytes()),
                401,
                reason,
            );
        }
        check(
            &format!("symbols with {what}"),
            feed.push_symbols(*key, &symbols),
            401,
            reason,
        );
        check(
            &format!("delete with {what}"),
            feed.delete(*key, "Pg.Guard", "1.0.0"),
            401,
            reason,
        );
        check(
            &format!("relist with {what}"),
            feed.relist(*key, "Pg.Guard", "1.0.0"),
            401,
            reason,
        );
        check(
            &format!("deprecate with {what}"),
            feed.deprecate(*key, "Pg.Guard", "1.0.0", &deprecation),
            401,
            reason,
        );
        check(
            &format!("undeprecate with {what}"),
            feed.undeprecate(*key, "Pg.Guard", "1.0.0"),
            401,
            reason,
        );
    }
    for (what, key) in &forbidden {
        for pkg in [
            Nupkg::new("Pg.Guard", "1.1.0"),
            Nupkg::new("Pg.Guard.New", "1.0.0"),
        ] {
            check(
                &format!("push of {} with {what}", pkg.id),
                feed.push(*key, &pkg.bytes()),
                403,
                FORBIDDEN,
            );
        }
        check(
            &format!("symbols with {what}"),
            feed.push_symbols(*key, &symbols),
            403,
            FORBIDDEN,
        );
    }
    // Delete, relist and deprecation need the delete scope.
    let no_delete: Vec<(&str, Auth)> = vec![
        ("a read-only key", Auth::ApiKey(&read_only)),
        ("a publish-only key", Auth::ApiKey(&publish_only)),
        ("a key for the npm repository", Auth::ApiKey(&for_npm)),
        ("a key for nuget-private", Auth::ApiKey(&for_private)),
    ];
    for (what, key) in &no_delete {
        check(
            &format!("delete with {what}"),
            feed.delete(*key, "Pg.Guard", "1.0.0"),
            403,
            FORBIDDEN,
        );
        check(
            &format!("relist with {what}"),
            feed.relist(*key, "Pg.Guard", "1.0.0"),
            403,
            FORBIDDEN,
        );
        check(
            &format!("deprecate with {what}"),
            feed.deprecate(*key, "Pg.Guard", "1.0.0", &deprecation),
            403,
            FORBIDDEN,
        );
    }

    // The limited keys work where they are meant to.
    feed.push_ok(
        Auth::ApiKey(&publish_only),
        &Nupkg::new("Pg.Guard", "1.2.0").bytes(),
    );
    Feed::new(&server, PRIVATE).push_ok(
        Auth::ApiKey(&for_private),
        &Nupkg::new("Pg.Guard", "1.0.0").bytes(),
    );
}

#[test]
fn private_repository_requires_credentials_for_reads() {
    let (server, token) = setup();
    let feed = Feed::new(&server, PRIVATE);
    let pkg = Nupkg::new("Pg.Secret", "1.0.0");
    feed.push_ok(Auth::ApiKey(&token), &pkg.bytes());
    feed.push_symbols(
        Auth::ApiKey(&token),
        &Nupkg::new("Pg.Secret", "1.0.0").symbols().bytes(),
    )
    .expect_status(201);
    let for_public = server.create_token("alice", &["--scope", "read", "--repo", REPO]);
    let good = basic("alice", &token);
    let paths = [
        feed.flat_index_path("pg.secret"),
        feed.flat_file_path("pg.secret", "1.0.0", "nupkg"),
        feed.flat_file_path("pg.secret", "1.0.0", "snupkg"),
        feed.nuspec_path("pg.secret", "1.0.0"),
        feed.registration_path("pg.secret"),
        feed.path("registration/pg.secret/1.0.0.json"),
        feed.path("query?q=secret&prerelease=true&semVerLevel=2.0.0"),
        feed.path("autocomplete?q=pg&prerelease=true&semVerLevel=2.0.0"),
        feed.path("autocomplete?id=pg.secret&prerelease=true&semVerLevel=2.0.0"),
    ];
    for path in &paths {
        for method in ["GET", "HEAD"] {
            let anonymous = feed.send(method, path, Auth::None);
            expect_status(&anonymous, 401);
            expect_basic_challenge(&anonymous);
            // What NuGet.exe sends without configured credentials: `Basic :`.
            for bad in [
                Auth::Basic("alice", "wrong-token"),
                Auth::Authorization("Basic Og=="),
                Auth::ApiKey("pgt_not-a-real-key"),
            ] {
                let resp = feed.send(method, path, bad);
                expect_status(&resp, 401);
                expect_basic_challenge(&resp);
            }
            expect_status(&feed.send(method, path, Auth::ApiKey(&for_public)), 403);
            for ok in [Auth::Authorization(&good), Auth::ApiKey(&token)] {
                let resp = feed.send(method, path, ok);
                expect_status(&resp, 200);
            }
        }
        // The reason phrase of the anonymous refusal.
        let raw = feed.raw("GET", path, Auth::None, &[], None, Framing::Sized);
        raw.expect_refusal_any(401, &[READ_CREDENTIALS, KEY_REQUIRED]);
    }
    // The service index stays anonymous.
    for method in ["GET", "HEAD"] {
        expect_status(
            &feed.send(method, &feed.path("index.json"), Auth::None),
            200,
        );
    }
    // Authenticated reads see the package.
    let auth = Auth::Authorization(&good);
    assert_eq!(
        feed.get_json(&feed.flat_index_path("pg.secret"), auth),
        json!({"versions": ["1.0.0"]})
    );
    assert_eq!(
        feed.get(&feed.flat_file_path("pg.secret", "1.0.0", "nupkg"), auth)
            .body,
        pkg.bytes()
    );
    assert_eq!(
        catalog_entries(&feed, "pg.secret", auth)[0]["id"],
        "Pg.Secret"
    );
    // Nothing leaks into the public repository.
    let public = Feed::new(&server, REPO);
    expect_status(
        &public.get(&public.flat_index_path("pg.secret"), Auth::None),
        404,
    );
    let (total, _) = search(&public, "q=secret&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(total, 0);
}
