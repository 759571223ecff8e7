//! RubyGems: push, yank and `gem signin` (`api_key`, sent the column's token as every other gem
//! request sends it) on `rubygems`; the reads of `rubygems-private` (compact index, legacy
//! gemspec, download); a push to the proxy `rubygems-proxy` (405 for everyone). Tokens go raw in
//! `Authorization`, as `gem push` sends them.

use super::{Cred, Creds, Got, Verdict, cell_name, check, row};
use crate::support::{Resp, TestServer};
use packgate_rubygems::testing::Gem;

const REPO: &str = "rubygems";
const PRIVATE: &str = "rubygems-private";
const PROXY: &str = "rubygems-proxy";

/// A request the way gem sends it: the raw token.
fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Resp {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(("authorization", t));
    }
    if let Some((content_type, _)) = &body {
        headers.push(("content-type", content_type));
    }
    server
        .http()
        .send(method, path, &headers, body.map(|(_, b)| b))
}

#[test]
fn rubygems_authorization_matrix_matches_the_policy() {
    rubygems_matrix().assert_matches_the_policy();
}

/// Runs every cell of the RubyGems matrix; the server is gone when it returns.
fn rubygems_matrix() -> Verdict {
    // The proxy's upstream never answers: its row is a refusal that must not need it.
    let server = &TestServer::builder()
        .extra_config(&crate::support::proxy::proxy_repository(
            PROXY,
            "rubygems",
            "http://127.0.0.1:9/",
            "",
        ))
        .start();
    let creds = &Creds::new(server, REPO, PRIVATE);
    let token = |c: Cred| creds.token(c, REPO);
    let push = |repo: &str, token: Option<&str>, gem: &Gem| {
        let body = Some(("application/octet-stream", gem.gem_file()));
        send(server, "POST", &format!("/{repo}/api/v1/gems"), token, body)
    };
    // The owner's gem a cell changes, one per cell.
    let owned = |row: &str, c: Cred| {
        let name = cell_name(row, c);
        push(REPO, Some(&creds.owner), &Gem::new(&name, "1.0.0")).expect(200);
        name
    };
    let form = |text: String| Some(("application/x-www-form-urlencoded", text.into_bytes()));

    // The private repository's gem, read by every column.
    let secret = Gem::new("secret_gem", "1.0.0");
    push(PRIVATE, Some(&creds.owner), &secret).expect(200);
    let private_read = |path: String| {
        move |c: Cred| Got::of(&send(server, "GET", &path, creds.token(c, PRIVATE), None))
    };

    // Columns: anonymous, read-only, publish, delete, other repo, expired, revoked, other user,
    // owner, admin.
    let rows = vec![
        row(
            "POST /{proxy}/api/v1/gems: push to a proxy",
            [405, 405, 405, 405, 405, 405, 405, 405, 405, 405],
            |c| {
                Got::of(&push(
                    PROXY,
                    token(c),
                    &Gem::new(&cell_name("proxied", c), "1.0.0"),
                ))
            },
        ),
        row(
            "POST /api/v1/gems: push a new gem",
            [401, 403, 200, 403, 403, 401, 401, 200, 200, 200],
            |c| {
                Got::of(&push(
                    REPO,
                    token(c),
                    &Gem::new(&cell_name("fresh", c), "1.0.0"),
                ))
            },
        ),
        row(
            "POST /api/v1/gems: push a new version",
            [401, 403, 200, 403, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("newver", c);
                Got::of(&push(REPO, token(c), &Gem::new(&name, "1.1.0")))
            },
        ),
        row(
            "DELETE /api/v1/gems/yank",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("yank", c);
                let body = form(format!("gem_name={name}&version=1.0.0"));
                Got::of(&send(
                    server,
                    "DELETE",
                    "/rubygems/api/v1/gems/yank",
                    token(c),
                    body,
                ))
            },
        ),
        row(
            "POST /api/v1/api_key: gem signin with the token",
            [401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
            |c| {
                let body = form("name=authz&index_rubygems=true&push_rubygem=true".into());
                Got::of(&send(
                    server,
                    "POST",
                    "/rubygems/api/v1/api_key",
                    token(c),
                    body,
                ))
            },
        ),
        row(
            "GET /info/{name} on rubygems-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/info/{}", secret.name)),
        ),
        row(
            "GET /versions on rubygems-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/versions")),
        ),
        row(
            "GET /quick/Marshal.4.8/{spec} on rubygems-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!(
                "/{PRIVATE}/quick/Marshal.4.8/{}.gemspec.rz",
                secret.spec_stem()
            )),
        ),
        row(
            "GET /gems/{file} on rubygems-private: gem download",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/gems/{}", secret.file_name())),
        ),
    ];
    check("RubyGems", rows)
}
