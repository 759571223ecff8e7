//! Credentials: pushes refused for missing, unknown, read-only or misdirected keys (nothing
//! changed), the `api_key` endpoint that issues a push key, and the private repository that
//! requires credentials for reads.

use super::{basic, expect_status, expect_text_error, get, push, push_ok, setup};
use crate::support::snapshot::{assert_unchanged, gem_snapshot};
use packgate_rubygems::testing::{Gem, parse_info, sha256_hex};

#[test]
fn push_auth_refusals_change_nothing() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_guard", "1.0.0"));
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    let for_npm = server.create_token("alice", &["--scope", "read,publish", "--repo", "npm"]);
    let for_private = server.create_token(
        "alice",
        &["--scope", "read,publish", "--repo", "rubygems-private"],
    );
    let wrong_basic = basic("alice", "wrong-token");
    let read_only_bearer = format!("Bearer {read_only}");
    let before = gem_snapshot(&server, "rubygems", &["pg_guard", "pg_guard_new"], None);
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("no key", None, 401),
        ("unknown key", Some("not-a-key"), 401),
        ("unknown bearer key", Some("Bearer not-a-key"), 401),
        ("Basic with a wrong secret", Some(&wrong_basic), 401),
        ("read-only key", Some(&read_only), 403),
        ("read-only bearer key", Some(&read_only_bearer), 403),
        ("key for the npm repository", Some(&for_npm), 403),
        ("key for rubygems-private", Some(&for_private), 403),
    ];
    for (what, auth, status) in cases {
        for gem in [
            Gem::new("pg_guard", "1.1.0"),
            Gem::new("pg_guard_new", "1.0.0"),
        ] {
            let resp = push(&server, "rubygems", auth, gem.gem_file());
            let text = expect_text_error(&resp, &[status]);
            assert!(
                !text.starts_with("You have enabled multifactor authentication"),
                "{what}: that text makes gem prompt for an OTP: {text:?}"
            );
            assert_unchanged(
                &server,
                &before,
                &format!("push of {} with {what}", gem.name),
            );
        }
    }
    // The limited key works in its own repository.
    push_ok(
        &server,
        "rubygems-private",
        &for_private,
        &Gem::new("pg_guard", "1.0.0"),
    );
}

#[test]
fn api_key_endpoint_issues_a_push_key() {
    let (server, _token) = setup();
    let http = server.http();
    let sign_in = |auth: Option<&str>| {
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        http.send(
            "POST",
            "/rubygems/api/v1/api_key",
            &headers,
            Some(b"name=pg-tests&index_rubygems=true&push_rubygem=true".to_vec()),
        )
    };
    let resp = sign_in(Some(&basic("alice", "alice-password")));
    resp.expect(200);
    let key = resp.text().trim().to_owned();
    assert!(
        !key.is_empty() && !key.contains(char::is_whitespace) && !key.starts_with('{'),
        "api_key answers the bare key: {:?}",
        resp.text()
    );
    push_ok(
        &server,
        "rubygems",
        &key,
        &Gem::new("pg_signed_in", "1.0.0"),
    );

    let before = gem_snapshot(&server, "rubygems", &["pg_signed_in"], None);
    for (what, auth) in [
        ("no credentials", None),
        ("wrong password", Some(basic("alice", "wrong-password"))),
        ("unknown user", Some(basic("nobody", "alice-password"))),
    ] {
        let resp = sign_in(auth.as_deref());
        expect_text_error(&resp, &[401]);
        assert_unchanged(&server, &before, what);
    }
}

#[test]
fn private_repository_requires_credentials_for_reads() {
    let (server, token) = setup();
    let gem = Gem::new("pg_private", "1.0.0");
    push_ok(&server, "rubygems-private", &token, &gem);
    let good = basic("alice", &token);
    let bad = basic("alice", "wrong-token");
    let http = server.http();
    let paths = [
        "/rubygems-private/".to_owned(),
        "/rubygems-private/versions".to_owned(),
        "/rubygems-private/info/pg_private".to_owned(),
        "/rubygems-private/names".to_owned(),
        "/rubygems-private/specs.4.8.gz".to_owned(),
        "/rubygems-private/latest_specs.4.8.gz".to_owned(),
        "/rubygems-private/prerelease_specs.4.8.gz".to_owned(),
        format!(
            "/rubygems-private/quick/Marshal.4.8/{}.gemspec.rz",
            gem.spec_stem()
        ),
        format!("/rubygems-private/gems/{}", gem.file_name()),
    ];
    for path in &paths {
        for method in ["GET", "HEAD"] {
            let anonymous = http.send(method, path, &[], None);
            expect_status(&anonymous, 401);
            let challenge = anonymous
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("{method} {path}: 401 without WWW-Authenticate"));
            assert!(
                challenge.starts_with("Basic") && challenge.contains("realm=\"packgate\""),
                "{method} {path}: challenge must be Basic realm=\"packgate\": {challenge:?}"
            );
            expect_status(
                &http.send(method, path, &[("authorization", &bad)], None),
                401,
            );
            expect_status(
                &http.send(method, path, &[("authorization", &good)], None),
                200,
            );
        }
    }
    let info = http.get_with(
        "/rubygems-private/info/pg_private",
        &[("authorization", &good)],
    );
    let lines = parse_info(&info.expect(200).text());
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].reqs["checksum"].iter().next().map(String::as_str),
        Some(sha256_hex(&gem.gem_file()).as_str())
    );
    // Nothing of the private repository leaks into the public one.
    expect_status(&get(&server, "/rubygems/info/pg_private"), 404);
    let names = get(&server, "/rubygems/names").expect(200).text();
    assert!(!names.contains("pg_private"), "{names:?}");
}
