//! Cargo: publish, yank, unyank and owner changes on `cargo`; the reads of `cargo-private`
//! (config.json, index file, download, owners list, search); a publish and a yank on the proxy
//! `cargo-proxy` (405 for everyone). Tokens go raw in `Authorization`, as cargo sends them.

use super::{Cred, Creds, Got, Verdict, cell_name, check, row};
use crate::support::{Resp, TestServer};
use packgate_cargo::testing::{Crate, index_url};
use serde_json::json;

const REPO: &str = "cargo";
const PRIVATE: &str = "cargo-private";
const PROXY: &str = "cargo-proxy";

/// A request the way cargo sends it: the raw token, JSON accepted.
fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Resp {
    let mut headers = vec![("accept", "application/json")];
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
fn cargo_authorization_matrix_matches_the_policy() {
    cargo_matrix().assert_matches_the_policy();
}

/// Runs every cell of the cargo matrix; the server is gone when it returns.
fn cargo_matrix() -> Verdict {
    // The proxy's upstream never answers: its rows are refusals that must not need it.
    let server = &TestServer::builder()
        .extra_config(&crate::support::proxy::proxy_repository(
            PROXY,
            "cargo",
            "http://127.0.0.1:9/",
            "",
        ))
        .start();
    let creds = &Creds::new(server, REPO, PRIVATE);
    server.add_user("carol", None);
    let token = |c: Cred| creds.token(c, REPO);
    let publish = |repo: &str, token: Option<&str>, name: &str, version: &str| {
        let body = Crate::new(name, version).body();
        let path = format!("/{repo}/api/v1/crates/new");
        send(
            server,
            "PUT",
            &path,
            token,
            Some(("application/octet-stream", body)),
        )
    };
    // The owner's crate a cell changes, one per cell.
    let owned = |row: &str, c: Cred| {
        let name = cell_name(row, c);
        publish(REPO, Some(&creds.owner), &name, "1.0.0").expect(200);
        name
    };
    let api = |name: &str, rest: &str| format!("/{REPO}/api/v1/crates/{name}/{rest}");
    let owners_body = |login: &str| {
        Some((
            "application/json",
            serde_json::to_vec(&json!({"users": [login]})).expect("json"),
        ))
    };

    // The private repository's crate, read by every column.
    let secret = "secret-crate";
    publish(PRIVATE, Some(&creds.owner), secret, "1.0.0").expect(200);
    let private_read = |path: String| {
        move |c: Cred| Got::of(&send(server, "GET", &path, creds.token(c, PRIVATE), None))
    };

    // Columns: anonymous, read-only, publish, delete, other repo, expired, revoked, other user,
    // owner, admin.
    let rows = vec![
        row(
            "PUT /{proxy}/api/v1/crates/new: publish to a proxy",
            [405, 405, 405, 405, 405, 405, 405, 405, 405, 405],
            |c| Got::of(&publish(PROXY, token(c), &cell_name("proxied", c), "1.0.0")),
        ),
        row(
            "DELETE /{proxy}/api/v1/crates/{name}/{version}/yank: yank in a proxy",
            [405, 405, 405, 405, 405, 405, 405, 405, 405, 405],
            |c| {
                let path = format!(
                    "/{PROXY}/api/v1/crates/{}/1.0.0/yank",
                    cell_name("pyank", c)
                );
                Got::of(&send(server, "DELETE", &path, token(c), None))
            },
        ),
        row(
            "PUT /api/v1/crates/new: publish a new crate",
            [401, 403, 200, 403, 403, 401, 401, 200, 200, 200],
            |c| Got::of(&publish(REPO, token(c), &cell_name("fresh", c), "1.0.0")),
        ),
        row(
            "PUT /api/v1/crates/new: publish a new version",
            [401, 403, 200, 403, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("newver", c);
                Got::of(&publish(REPO, token(c), &name, "1.1.0"))
            },
        ),
        row(
            "DELETE /api/v1/crates/{name}/{version}/yank",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("yank", c);
                let path = api(&name, "1.0.0/yank");
                Got::of(&send(server, "DELETE", &path, token(c), None))
            },
        ),
        row(
            "PUT /api/v1/crates/{name}/{version}/unyank",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("unyank", c);
                let yank = api(&name, "1.0.0/yank");
                send(server, "DELETE", &yank, Some(&creds.owner), None).expect(200);
                let path = api(&name, "1.0.0/unyank");
                Got::of(&send(server, "PUT", &path, token(c), None))
            },
        ),
        row(
            "PUT /api/v1/crates/{name}/owners: add bob",
            [401, 403, 200, 403, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("owneradd", c);
                let path = api(&name, "owners");
                Got::of(&send(server, "PUT", &path, token(c), owners_body("bob")))
            },
        ),
        row(
            "DELETE /api/v1/crates/{name}/owners: remove carol",
            [401, 403, 200, 403, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("ownerrm", c);
                let path = api(&name, "owners");
                send(
                    server,
                    "PUT",
                    &path,
                    Some(&creds.owner),
                    owners_body("carol"),
                )
                .expect(200);
                Got::of(&send(
                    server,
                    "DELETE",
                    &path,
                    token(c),
                    owners_body("carol"),
                ))
            },
        ),
        row(
            "GET /index/config.json on cargo-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/index/config.json")),
        ),
        row(
            "GET /index/{path} on cargo-private: index file",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(index_url(PRIVATE, secret)),
        ),
        row(
            "GET /api/v1/crates/{name}/{version}/download on cargo-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/api/v1/crates/{secret}/1.0.0/download")),
        ),
        row(
            "GET /api/v1/crates/{name}/owners on cargo-private: owners list",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/api/v1/crates/{secret}/owners")),
        ),
        row(
            "GET /api/v1/crates?q= on cargo-private: search",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/api/v1/crates?q=secret")),
        ),
    ];
    check("cargo", rows)
}
