//! npm: publish (`PUT /{name}`), dist-tags, deprecate, unpublish (`PUT` and `DELETE` with
//! `-rev`), `npm owner`, login, npm's token endpoints and logout on `npm`; the reads of
//! `npm-private`; a publish to the proxy `npm-proxy` (405 for everyone: a proxy takes no writes) and
//! the proxy administration API (`/api/proxies`, admin only); a publish through the group
//! `npm-group` (lands in its `publish_to`, authorized against the group) and the reads and
//! explain of the private group `npm-private-group`.
//! A 401 must not carry `WWW-Authenticate: Basic` (npm would print "Unable to authenticate, need:
//! Basic" instead of the error).

use super::{Cred, Creds, Got, Verdict, cell_name, check, password, row};
use crate::support::{Resp, TestServer};
use packgate_npm::testing::{Package, tarball_path};
use serde_json::{Value, json};

const REPO: &str = "npm";
const PRIVATE: &str = "npm-private";
const PROXY: &str = "npm-proxy";
const GROUP: &str = "npm-group";
const PRIVATE_GROUP: &str = "npm-private-group";

/// The cell's status, and a problem when a 401 carries a Basic challenge.
fn got(resp: &Resp) -> Got {
    let mut got = Got::of(resp);
    let basic = resp
        .header_all("www-authenticate")
        .iter()
        .any(|v| v.trim().to_ascii_lowercase().starts_with("basic"));
    if resp.status == 401 && basic {
        got.problem = Some("a 401 with `WWW-Authenticate: Basic`".into());
    }
    got
}

#[test]
fn npm_authorization_matrix_matches_the_policy() {
    npm_matrix().assert_matches_the_policy();
}

/// Runs every cell of the npm matrix; the server is gone when it returns.
fn npm_matrix() -> Verdict {
    // The proxy's upstream never answers: its rows are refusals that must not need it.
    let server = TestServer::builder()
        .extra_config(&crate::support::proxy::proxy_repository(
            PROXY,
            "npm",
            "http://127.0.0.1:9/",
            "",
        ))
        .extra_config(&format!(
            "\n[[repository]]\nname = \"{GROUP}\"\nformat = \"npm\"\ntype = \"group\"\nmembers = [\"{REPO}\", \"{PROXY}\"]\npublish_to = \"{REPO}\"\n\n[[repository]]\nname = \"{PRIVATE_GROUP}\"\nformat = \"npm\"\ntype = \"group\"\nanonymous_read = false\nmembers = [\"{PRIVATE}\"]\n"
        ))
        .start();
    let creds = &Creds::new(&server, REPO, PRIVATE);
    let http = server.http();
    let token = |c: Cred| creds.token(c, REPO);
    let publish = |repo: &str, token: Option<&str>, name: &str, version: &str| {
        let body = Package::new(name, version).publish_body(&server.registry(repo), "latest");
        http.json("PUT", &format!("/{repo}/{name}"), token, &body)
    };
    // The owner's packages a cell changes, one per cell.
    let owned = |row: &str, c: Cred, versions: &[&str]| {
        let name = cell_name(row, c);
        for v in versions {
            publish(REPO, Some(&creds.owner), &name, v).expect(201);
        }
        name
    };
    let write_doc = |name: &str| -> Value {
        http.get(&format!("/{REPO}/{name}?write=true"))
            .expect(200)
            .json()
    };
    let rev = |doc: &Value| doc["_rev"].as_str().unwrap_or("1-x").to_owned();
    let tokens = format!("/{REPO}/-/npm/v1/tokens");

    // The private repository's package, read by every column.
    let secret = "secret-pkg";
    publish(PRIVATE, Some(&creds.owner), secret, "1.0.0").expect(201);
    let private_read =
        |path: String| move |c: Cred| got(&http.get_auth(&path, creds.token(c, PRIVATE)));

    // Columns: anonymous, read-only, publish, delete, other repo, expired, revoked, other user,
    // owner, admin.
    let admin_api = |method: &str, path: &str, c: Cred| {
        let auth = token(c).map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        got(&http.send(method, path, &headers, None))
    };
    let rows = vec![
        row(
            "PUT /{proxy}/{name}: publish to a proxy",
            [405, 405, 405, 405, 405, 405, 405, 405, 405, 405],
            |c| got(&publish(PROXY, token(c), &cell_name("proxied", c), "1.0.0")),
        ),
        row(
            "GET /api/proxies: proxy states",
            [401, 403, 403, 403, 403, 401, 401, 403, 403, 200],
            |c| admin_api("GET", "/api/proxies", c),
        ),
        row(
            "POST /api/proxies/purge: purge a proxy's cache",
            [401, 403, 403, 403, 403, 401, 401, 403, 403, 200],
            |c| admin_api("POST", &format!("/api/proxies/purge?repo={PROXY}"), c),
        ),
        row(
            "PUT /{name}: publish a new package",
            [401, 403, 201, 403, 403, 401, 401, 201, 201, 201],
            |c| got(&publish(REPO, token(c), &cell_name("fresh", c), "1.0.0")),
        ),
        row(
            "PUT /{name}: publish a new version",
            [401, 403, 201, 403, 403, 401, 401, 403, 201, 201],
            |c| {
                let name = owned("newver", c, &["1.0.0"]);
                got(&publish(REPO, token(c), &name, "1.1.0"))
            },
        ),
        row(
            "PUT /-/package/{name}/dist-tags/{tag}: dist-tag add",
            [401, 403, 201, 403, 403, 401, 401, 403, 201, 201],
            |c| {
                let name = owned("tagadd", c, &["1.0.0"]);
                let path = format!("/{REPO}/-/package/{name}/dist-tags/beta");
                got(&http.json("PUT", &path, token(c), &json!("1.0.0")))
            },
        ),
        row(
            "DELETE /-/package/{name}/dist-tags/{tag}: dist-tag rm",
            [401, 403, 200, 403, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("tagrm", c, &["1.0.0"]);
                let path = format!("/{REPO}/-/package/{name}/dist-tags/beta");
                http.json("PUT", &path, Some(&creds.owner), &json!("1.0.0"))
                    .expect(201);
                got(&http.delete(&path, token(c)))
            },
        ),
        row(
            "PUT /{name}: deprecate",
            [401, 403, 200, 403, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("deprecate", c, &["1.0.0"]);
                let mut doc = write_doc(&name);
                doc["versions"]["1.0.0"]["deprecated"] = json!("use something else");
                got(&http.json("PUT", &format!("/{REPO}/{name}"), token(c), &doc))
            },
        ),
        // The delete column: the policy's 200 (unpublishing needs the delete scope). The server
        // answers 403: `put_package` requires the publish scope before it knows the PUT is an
        // unpublish, so a read,delete token can remove a whole package but not one version.
        row(
            "PUT /{name}/-rev/{rev}: unpublish one version",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("unpubver", c, &["1.0.0", "1.1.0"]);
                let mut doc = write_doc(&name);
                doc["versions"]
                    .as_object_mut()
                    .expect("versions")
                    .remove("1.1.0");
                let path = format!("/{REPO}/{name}/-rev/{}", rev(&doc));
                got(&http.json("PUT", &path, token(c), &doc))
            },
        ),
        row(
            "DELETE /{name}/-/{file}/-rev/{rev}: unpublish a tarball",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("unpubtgz", c, &["1.0.0", "1.1.0"]);
                let doc = write_doc(&name);
                let path = format!("/{REPO}{}/-rev/{}", tarball_path(&name, "1.1.0"), rev(&doc));
                got(&http.delete(&path, token(c)))
            },
        ),
        row(
            "DELETE /{name}/-rev/{rev}: unpublish the package",
            [401, 403, 403, 200, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("unpubpkg", c, &["1.0.0"]);
                let doc = write_doc(&name);
                let path = format!("/{REPO}/{name}/-rev/{}", rev(&doc));
                got(&http.delete(&path, token(c)))
            },
        ),
        row(
            "PUT /{name}/-rev/{rev}: npm owner add",
            [401, 403, 200, 403, 403, 401, 401, 403, 200, 200],
            |c| {
                let name = owned("owneradd", c, &["1.0.0"]);
                let doc = write_doc(&name);
                let body = json!({
                    "_id": name,
                    "_rev": doc["_rev"],
                    "maintainers": [
                        {"name": "alice", "email": "alice@example.test"},
                        {"name": "bob", "email": "bob@example.test"},
                    ],
                });
                let path = format!("/{REPO}/{name}/-rev/{}", rev(&doc));
                got(&http.json("PUT", &path, token(c), &body))
            },
        ),
        // The password in the body signs in; the header is not read, so a stale token in
        // `.npmrc` does not stand in the way of `npm login`.
        row(
            "PUT /-/user/org.couchdb.user:{name}: npm login (own password)",
            [201, 201, 201, 201, 201, 201, 201, 201, 201, 201],
            |c| {
                let user = Creds::user(c);
                let body = json!({
                    "_id": format!("org.couchdb.user:{user}"),
                    "name": user,
                    "password": password(user),
                    "type": "user",
                    "roles": [],
                    "date": "2026-01-01T00:00:00.000Z",
                });
                let path = format!("/{REPO}/-/user/org.couchdb.user:{user}");
                got(&http.json("PUT", &path, token(c), &body))
            },
        ),
        row(
            "GET /-/npm/v1/tokens: npm token list",
            [401, 403, 403, 403, 403, 401, 401, 200, 200, 200],
            |c| got(&http.get_auth(&tokens, token(c))),
        ),
        row(
            "POST /-/npm/v1/tokens: npm token create (own password)",
            [401, 403, 403, 403, 403, 401, 401, 200, 200, 200],
            |c| {
                let body = json!({
                    "password": password(Creds::user(c)),
                    "readonly": true,
                    "cidr_whitelist": [],
                });
                got(&http.json("POST", &tokens, token(c), &body))
            },
        ),
        row(
            "DELETE /-/npm/v1/tokens/token/{key}: revoke an owner's token",
            [401, 403, 403, 403, 403, 401, 401, 404, 204, 404],
            |c| {
                let body = json!({
                    "password": password(super::OWNER),
                    "readonly": true,
                    "cidr_whitelist": [],
                });
                let created = http
                    .json("POST", &tokens, Some(&creds.owner), &body)
                    .expect(200)
                    .json();
                let key = created["key"].as_str().expect("key");
                got(&http.delete(&format!("{tokens}/token/{key}"), token(c)))
            },
        ),
        row(
            "DELETE /-/user/token/{token}: npm logout (the token itself)",
            [401, 200, 200, 200, 200, 401, 401, 200, 200, 200],
            |c| {
                let own = creds.fresh(c, REPO);
                let in_path = match &own {
                    Some(t) => t.clone(),
                    None => creds.fresh(Cred::Owner, REPO).expect("a token"),
                };
                let path = format!("/{REPO}/-/user/token/{in_path}");
                got(&http.delete(&path, own.as_deref()))
            },
        ),
        row(
            "PUT /{group}/{name}: publish through a group (to its publish_to)",
            [401, 403, 201, 403, 403, 401, 401, 201, 201, 201],
            |c| got(&publish(GROUP, token(c), &cell_name("grouped", c), "1.0.0")),
        ),
        row(
            "GET /{name} on npm-private-group: merged packument",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE_GROUP}/{secret}")),
        ),
        row(
            "GET /{name}/-/{file} on npm-private-group: tarball",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE_GROUP}{}", tarball_path(secret, "1.0.0"))),
        ),
        row(
            "GET /-/api/explain/{group}/{name} on npm-private-group",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/-/api/explain/{PRIVATE_GROUP}/{secret}")),
        ),
        row(
            "GET /{name} on npm-private: packument",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/{secret}")),
        ),
        row(
            "GET /{name}/{version} on npm-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/{secret}/1.0.0")),
        ),
        row(
            "GET /{name}/-/{file} on npm-private: tarball",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}{}", tarball_path(secret, "1.0.0"))),
        ),
        row(
            "GET /-/package/{name}/dist-tags on npm-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/-/package/{secret}/dist-tags")),
        ),
        row(
            "GET /-/v1/search on npm-private",
            [401, 200, 200, 200, 403, 401, 401, 200, 200, 200],
            private_read(format!("/{PRIVATE}/-/v1/search?text=secret")),
        ),
    ];
    check("npm", rows)
}
