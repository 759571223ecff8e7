//! NuGet: push, symbol push, delete (unlist), relist and deprecation (`PUT` and `DELETE`) on
//! `nuget`; the reads of `nuget-private` (flat container, registration, search); a push to the
//! proxy `nuget-proxy` (405 for everyone). Tokens go in `X-NuGet-ApiKey`, as `nuget push -ApiKey`
//! sends them.

use super::{Cred, Creds, Got, Verdict, cell_name, check, row};
use crate::support::TestServer;
use crate::support::nuget_http::{Auth, Feed};
use packgate_nuget::testing::Nupkg;
use serde_json::json;

const REPO: &str = "nuget";
const PRIVATE: &str = "nuget-private";
const PROXY: &str = "nuget-proxy";

/// How a token travels: `X-NuGet-ApiKey`, or nothing.
fn key(token: Option<&str>) -> Auth<'_> {
    token.map_or(Auth::None, Auth::ApiKey)
}

#[test]
fn nuget_authorization_matrix_matches_the_policy() {
    nuget_matrix().assert_matches_the_policy();
}

/// Runs every cell of the NuGet matrix; the server is gone when it returns.
fn nuget_matrix() -> Verdict {
    // The proxy's upstream never answers: its row is a refusal that must not need it.
    let server = &TestServer::builder()
        .extra_config(&crate::support::proxy::proxy_repository(
            PROXY,
            "nuget",
            "http://127.0.0.1:9/",
            "",
        ))
        .start();
    let creds = &Creds::new(server, REPO, PRIVATE);
    let feed = &Feed::new(server, REPO);
    let proxy_feed = &Feed::new(server, PROXY);
    let private = &Feed::new(server, PRIVATE);
    let token = |c: Cred| key(creds.token(c, REPO));
    let owner = Auth::ApiKey(&creds.owner);
    // The owner's package a cell changes, one per cell.
    let owned = |row: &str, c: Cred| {
        let id = cell_name(row, c);
        feed.push_ok(owner, &Nupkg::new(&id, "1.0.0").bytes());
        id
    };
    let deprecation = json!({"reasons": ["Legacy"], "message": "use something else"});

    // The private repository's package (with symbols), read by every column.
    let secret = "secret.pkg";
    private.push_ok(owner, &Nupkg::new("Secret.Pkg", "1.0.0").bytes());
    private
        .push_symbols(owner, &Nupkg::new("Secret.Pkg", "1.0.0").symbols().bytes())
        .expect_status(201);
    let private_read =
        |path: String| move |c: Cred| Got::of(&private.get(&path, key(creds.token(c, PRIVATE))));

    // Columns: anonymous, read-only, publish, delete, other repo, expired, revoked, other user,
    // owner, admin.
    let rows = vec![
        row(
            "PUT /{proxy}/v3/package: push to a proxy",
            [405, 405, 405, 405, 405, 405, 405, 405, 405, 405],
            |c| {
                let pkg = Nupkg::new(&cell_name("proxied", c), "1.0.0");
                Got::of(&proxy_feed.push(token(c), &pkg.bytes()))
            },
        ),
        row(
            "PUT /v3/package: push a new package",
            [401, 403, 201, 403, 403, 401, 401, 201, 201, 201],
            |c| {
                let pkg = Nupkg::new(&cell_name("fresh", c), "1.0.0");
                Got::of(&feed.push(token(c), &pkg.bytes()))
            },
        ),
        row(
            "PUT /v3/package: push a new version",
            [401, 403, 201, 403, 403, 401, 401, 403, 201, 201],
            |c| {
                let id = owned("newver", c);
                Got::of(&feed.push(token(c), &Nupkg::new(&id, "1.1.0").bytes()))
            },
        ),
        row(
            "PUT /v3/symbolpackage: push symbols",
            [401, 403, 201, 403, 403, 401, 401, 403, 201, 201],
            |c| {
                let id = owned("symbols", c);
                let snupkg = Nupkg::new(&id, "1.0.0").symbols().bytes();
                Got::of(&feed.push_symbols(token(c), &snupkg))
            },
        ),
        row(
            "DELETE /v3/package/{id}/{version}: unlist",
            [401, 403, 403, 204, 403, 401, 401, 403, 204, 204],
            |c| {
                let id = owned("unlist", c);
                Got::of(&feed.delete(token(c), &id, "1.0.0"))
            },
        ),
        row(
            "POST /v3/package/{id}/{version}: relist",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let id = owned("relist", c);
                feed.delete(owner, &id, "1.0.0").expect_status(204);
                Got::of(&feed.relist(token(c), &id, "1.0.0"))
            },
        ),
        row(
            "PUT /v3/package/{id}/{version}/deprecation",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let id = owned("deprecate", c);
                Got::of(&feed.deprecate(token(c), &id, "1.0.0", &deprecation))
            },
        ),
        row(
            "DELETE /v3/package/{id}/{version}/deprecation",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let id = owned("undeprecate", c);
                feed.deprecate(owner, &id, "1.0.0", &deprecation)
                    .expect_status(200);
                Got::of(&feed.undeprecate(token(c), &id, "1.0.0"))
            },
        ),
        row(
            "GET /v3/flatcontainer/{id}/index.json on nuget-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(private.flat_index_path(secret)),
        ),
        row(
            "GET /v3/flatcontainer/.../{id}.{version}.nupkg on nuget-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(private.flat_file_path(secret, "1.0.0", "nupkg")),
        ),
        row(
            "GET /v3/flatcontainer/.../{id}.{version}.snupkg on nuget-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(private.flat_file_path(secret, "1.0.0", "snupkg")),
        ),
        row(
            "GET /v3/registration/{id}/index.json on nuget-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(private.registration_path(secret)),
        ),
        row(
            "GET /v3/registration/{id}/{version}.json on nuget-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(private.path(&format!("registration/{secret}/1.0.0.json"))),
        ),
        row(
            "GET /v3/query on nuget-private: search",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(private.path("query?q=secret&prerelease=true&semVerLevel=2.0.0")),
        ),
    ];
    check("NuGet", rows)
}
