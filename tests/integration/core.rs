//! The `packgate` binary itself: config layering and validation, the CLI (users, tokens, migrate),
//! health/readiness/metrics/request ids, and graceful shutdown.

use crate::support::http::raw_request;
use crate::support::server::free_port;
use crate::support::{TestServer, random_bytes};
use packgate_npm::testing::{Package, escape_name};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Starts a server that must fail; returns its stderr (and stdout) text.
fn start_fails(builder: crate::support::server::Builder, what: &str) -> String {
    match builder.try_start() {
        Ok(server) => panic!(
            "{what}: the server started on {} but should have refused the config",
            server.base
        ),
        Err(e) => {
            assert!(
                e.status.is_some_and(|s| !s.success()),
                "{what}: expected a non-zero exit, got {:?}",
                e.status
            );
            let text = format!("{}\n{}", e.stderr, e.stdout);
            assert!(!text.trim().is_empty(), "{what}: no error message at all");
            text
        }
    }
}

fn publish(server: &TestServer, repo: &str, token: &str, pkg: &Package) -> crate::support::Resp {
    let body = pkg.publish_body(&server.registry(repo), "latest");
    server.http().json(
        "PUT",
        &format!("/{repo}/{}", escape_name(pkg.name())),
        Some(token),
        &body,
    )
}

#[test]
fn conflicting_config_files_are_refused_naming_both_files() {
    let builder = TestServer::builder()
        .local_stack()
        .max_upload("1 MiB")
        .extra_config_file("override.toml", "[server]\nmax_upload = \"2 MiB\"\n");
    let text = start_fails(builder, "max_upload set differently in two files");
    assert!(
        text.contains("packgate.toml") && text.contains("override.toml"),
        "error must name both files:\n{text}"
    );
    assert!(
        text.contains("max_upload"),
        "error should name the key:\n{text}"
    );

    // The same value in both files is not a conflict.
    let server = TestServer::builder()
        .local_stack()
        .max_upload("1 MiB")
        .extra_config_file("same.toml", "[server]\nmax_upload = \"1 MiB\"\n")
        .start();
    server.http().get("/healthz").expect(200);
}

#[test]
fn unknown_config_keys_are_refused_naming_the_key() {
    let cases = [
        (
            "typo.toml",
            "[server]\nmax_uplod = \"1 MiB\"\n",
            "max_uplod",
        ),
        ("table.toml", "[frobnicate]\nenabled = true\n", "frobnicate"),
    ];
    for (file, toml, key) in cases {
        let text = start_fails(
            TestServer::builder()
                .local_stack()
                .extra_config_file(file, toml),
            key,
        );
        assert!(
            text.contains(key),
            "error must name the unknown key {key:?}:\n{text}"
        );
    }
    let repo = "[[repository]]\nname = \"extra\"\nformat = \"npm\"\ntype = \"hosted\"\nanonymus_read = true\n";
    let text = start_fails(
        TestServer::builder().local_stack().extra_config(repo),
        "repository typo",
    );
    assert!(
        text.contains("anonymus_read"),
        "error must name the unknown key:\n{text}"
    );
}

#[test]
fn group_and_proxy_keys_are_checked_at_start_up_naming_the_repository() {
    let cases = [
        ("type = \"group\"\n", "a group needs `members`"),
        (
            "type = \"group\"\nmembers = [\"npm\", \"cargo\"]\n",
            "member \"cargo\" is a cargo repository",
        ),
        (
            "type = \"hosted\"\nmembers = [\"npm\"]\n",
            "`members` is a setting of group repositories",
        ),
        ("type = \"proxy\"\n", "a proxy needs `upstream`"),
        (
            "type = \"proxy\"\nupstream = \"ftp://example.test/\"\n",
            "must be an http or https URL",
        ),
        (
            "type = \"proxy\"\nupstream = \"http://user:pw@example.test/\"\n",
            "upstream_auth",
        ),
        (
            "type = \"proxy\"\nupstream = \"http://127.0.0.1:9/\"\nmetadata_ttl = \"5 fortnights\"\n",
            "metadata_ttl",
        ),
        (
            "type = \"hosted\"\nupstream = \"http://127.0.0.1:9/\"\n",
            "only applies to type = \"proxy\"",
        ),
    ];
    for (keys, expected) in cases {
        let repo = format!("[[repository]]\nname = \"npm-extra\"\nformat = \"npm\"\n{keys}");
        let text = start_fails(
            TestServer::builder().local_stack().extra_config(&repo),
            keys,
        );
        assert!(
            text.contains(expected),
            "{keys:?} must be refused with {expected:?}:\n{text}"
        );
    }
}

#[test]
fn env_overrides_the_config_file_for_max_upload() {
    let pkg = Package::new("sized", "1.0.0").file("blob.bin", random_bytes(200 * 1024, 11));
    // File: 10 MiB; env: 64 KiB → the env value wins.
    let server = TestServer::builder()
        .max_upload("10 MiB")
        .env("PACKGATE__SERVER__MAX_UPLOAD", "64 KiB")
        .start();
    let token = server.publisher("alice");
    let body =
        serde_json::to_vec(&pkg.publish_body(&server.registry("npm"), "latest")).expect("json");
    let auth = format!("Bearer {token}");
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let resp = raw_request(
        &format!("127.0.0.1:{}", server.port),
        "PUT",
        "/npm/sized",
        &headers,
        &body,
        None,
        || {},
    );
    resp.expect_error(413);
    drop(server);

    // Control: the file alone allows it.
    let server = TestServer::builder().max_upload("10 MiB").start();
    let token = server.publisher("alice");
    publish(&server, "npm", &token, &pkg).expect_success();
}

#[test]
fn listen_flag_beats_env_which_beats_the_file() {
    let env_port = free_port();
    let server = TestServer::builder()
        .env("PACKGATE__SERVER__LISTEN", &format!("127.0.0.1:{env_port}"))
        .start();
    assert_eq!(
        server.port, env_port,
        "env must override `listen = 127.0.0.1:0` from the file"
    );
    drop(server);

    let (env_port, flag_port) = (free_port(), free_port());
    let server = TestServer::builder()
        .env("PACKGATE__SERVER__LISTEN", &format!("127.0.0.1:{env_port}"))
        .arg("--listen")
        .arg(&format!("127.0.0.1:{flag_port}"))
        .start();
    assert_eq!(server.port, flag_port, "--listen must override the env var");
}

#[test]
fn data_dir_flag_beats_the_config_file() {
    let other = tempfile::tempdir().expect("temp dir");
    let other_path = other.path().display().to_string();
    let server = TestServer::builder()
        .local_stack()
        .arg("--data-dir")
        .arg(&other_path)
        .start();
    server.cli_ok(&["user", "add", "alice", "--data-dir", &other_path], None);
    let token = server.cli_ok(
        &[
            "token",
            "create",
            "alice",
            "--scope",
            "read,publish",
            "--data-dir",
            &other_path,
        ],
        None,
    );
    publish(&server, "npm", &token, &Package::new("placed", "1.0.0")).expect_success();
    assert_eq!(
        server.blob_count(),
        Some(0),
        "nothing may be stored under the config file's data_dir"
    );
    assert!(
        count_files(&other.path().join("blobs")) > 0,
        "the tarball is stored under --data-dir/blobs"
    );
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn without_any_config_there_is_one_hosted_npm_repository() {
    let server = TestServer::builder()
        .no_config()
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg("{data_dir}")
        .start();
    let data_dir = server.data_dir().display().to_string();
    server.cli_ok(&["user", "add", "alice", "--data-dir", &data_dir], None);
    let token = server.cli_ok(
        &[
            "token",
            "create",
            "alice",
            "--scope",
            "read,publish",
            "--data-dir",
            &data_dir,
        ],
        None,
    );
    server.http().get("/npm/nothing-here").expect_error(404);
    publish(
        &server,
        "npm",
        &token,
        &Package::new("default-repo", "1.0.0"),
    )
    .expect_success();
    server.http().get("/npm/default-repo").expect(200);
    assert_eq!(
        server.http().get("/npm-private/default-repo").status,
        404,
        "no npm-private without config"
    );
}

#[test]
fn base_url_flag_sets_tarball_urls() {
    let server = TestServer::builder()
        .arg("--base-url")
        .arg("http://packages.example.test/")
        .start();
    let token = server.publisher("alice");
    publish(&server, "npm", &token, &Package::new("@b/based", "1.0.0")).expect_success();
    let doc = server.http().get("/npm/@b%2fbased").expect(200).json();
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["tarball"],
        json!("http://packages.example.test/npm/@b/based/-/based-1.0.0.tgz")
    );
}

/// One data line of `packgate token list`: `id, user, <prefix and/or name…>, scopes, repos, expires`
/// (tab-separated; the middle may be one or two columns).
struct TokenLine {
    id: String,
    user: String,
    scopes: String,
    repos: String,
    expires: String,
}

/// Data lines of `packgate token list` (at least six fields; a header line is skipped).
fn token_lines(output: &str) -> Vec<TokenLine> {
    output
        .lines()
        .map(|l| {
            l.split('\t')
                .map(|f| f.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|f| f.len() >= 6 && !f[0].eq_ignore_ascii_case("id"))
        .map(|f| {
            let n = f.len();
            TokenLine {
                id: f[0].clone(),
                user: f[1].clone(),
                scopes: f[n - 3].clone(),
                repos: f[n - 2].clone(),
                expires: f[n - 1].clone(),
            }
        })
        .collect()
}

/// `YYYY-MM-DD` of `days` days from today (UTC).
fn date_in_days(days: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let z = now / 86_400 + days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[test]
fn cli_tokens_are_scoped_listed_and_revoked() {
    let server = TestServer::start();
    let admin = server.publisher("alice");
    server.add_user("carol", Some("carol-password"));
    let token = server.create_token(
        "carol",
        &[
            "--scope",
            "read,publish",
            "--repo",
            "npm",
            "--expires",
            "30d",
        ],
    );

    let listed = server.cli_ok(&["token", "list", "--user", "carol"], None);
    let lines = token_lines(&listed);
    assert_eq!(lines.len(), 1, "one token for carol:\n{listed}");
    let fields = &lines[0];
    assert_eq!(fields.user, "carol", "user column:\n{listed}");
    assert!(
        fields.scopes.contains("read") && fields.scopes.contains("publish"),
        "scopes column:\n{listed}"
    );
    assert!(
        !fields.scopes.contains("delete") && !fields.scopes.contains("admin"),
        "scopes column:\n{listed}"
    );
    let repos: Vec<&str> = fields.repos.split(',').map(str::trim).collect();
    assert_eq!(repos, ["npm"], "repos column:\n{listed}");
    assert!(
        (29..=31).any(|d| fields.expires.contains(&date_in_days(d))),
        "expires column should be ~30 days from now ({}):\n{listed}",
        date_in_days(30)
    );
    assert!(
        !listed.contains(&token),
        "token list must not print the token:\n{listed}"
    );

    let http = server.http();
    assert_eq!(
        http.get_auth("/npm/-/whoami", Some(&token))
            .expect(200)
            .json(),
        json!({"username": "carol"})
    );
    publish(&server, "npm", &token, &Package::new("carols", "1.0.0")).expect_success();
    publish(
        &server,
        "npm-private",
        &token,
        &Package::new("carols", "1.0.0"),
    )
    .expect_error(403);
    let delete_needs_scope = http.delete("/npm/carols/-rev/1-x", Some(&token));
    delete_needs_scope.expect_error(403);
    http.get("/npm/carols").expect(200);

    server.cli_ok(&["token", "revoke", &fields.id], None);
    http.get_auth("/npm/-/whoami", Some(&token))
        .expect_error(401);
    publish(&server, "npm", &token, &Package::new("carols", "1.0.1")).expect_error(401);
    http.get_auth("/npm/-/whoami", Some(&admin)).expect(200);

    // CLI errors: non-zero exit and a message on stderr.
    let failures: [&[&str]; 4] = [
        &["token", "create", "nobody-by-that-name"],
        &["user", "add", "carol"],
        &["token", "revoke", "999999"],
        &["token", "create", "carol", "--scope", "fly"],
    ];
    for args in failures {
        let out = server.cli(args, None);
        assert!(!out.status.success(), "packgate {args:?} should fail");
        assert!(
            !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
            "packgate {args:?}: no message on stderr"
        );
    }
}

#[test]
fn tokens_and_passwords_are_not_stored_in_clear() {
    let server = TestServer::builder().local_stack().start();
    server.add_user("dora", Some("dora-unique-password-4711"));
    let token = server.create_token("dora", &["--scope", "read,publish"]);
    publish(&server, "npm", &token, &Package::new("stored", "1.0.0")).expect_success();
    let mut scanned = 0;
    let mut stack = vec![server.data_dir().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read data dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            scanned += 1;
            for secret in [token.as_str(), "dora-unique-password-4711"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} contains a secret in clear",
                    path.display()
                );
            }
        }
    }
    assert!(
        scanned > 0,
        "nothing under the data dir (where is the SQLite database?)"
    );
}

#[test]
fn health_readiness_metrics_and_request_ids() {
    let server = TestServer::start();
    let http = server.http();
    let mut ids = Vec::new();
    for path in ["/healthz", "/readyz"] {
        let resp = http.get(path);
        resp.expect(200);
        ids.push(
            resp.header("x-request-id")
                .unwrap_or_else(|| panic!("{path}: no x-request-id"))
                .to_owned(),
        );
    }
    let token = server.publisher("alice");
    let published = publish(&server, "npm", &token, &Package::new("counted", "1.0.0"));
    published.expect_success();
    for resp in [
        published,
        http.get("/npm/counted"),
        http.get("/npm/not-there"),
        http.get("/npm-private/counted"),
        http.get("/no-such-route"),
    ] {
        ids.push(
            resp.header("x-request-id")
                .unwrap_or_else(|| panic!("{}: no x-request-id ({})", resp.request, resp.status))
                .to_owned(),
        );
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "request ids must differ per request: {ids:?}"
    );

    // Metrics name private repositories: admins only.
    http.get("/metrics").expect(401);
    http.get_auth("/metrics", Some(&token)).expect(403);
    let metrics = server.metrics();
    metrics.expect(200);
    assert_eq!(
        metrics.header("x-content-type-options"),
        Some("nosniff"),
        "every response carries nosniff"
    );
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "metrics content type"
    );
    let text = metrics.text();
    let request_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("packgate_http_requests_total{"))
        .collect();
    assert!(
        !request_lines.is_empty(),
        "no packgate_http_requests_total samples:\n{text}"
    );
    for label in ["repo=", "format=", "route=", "status="] {
        assert!(
            request_lines.iter().all(|l| l.contains(label)),
            "every sample needs label {label}:\n{text}"
        );
    }
    let has = |status: &str| {
        request_lines.iter().any(|l| {
            l.contains("repo=\"npm\"")
                && l.contains("format=\"npm\"")
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(
        has("200") && has("404"),
        "samples for npm 200 and 404 expected:\n{text}"
    );
    let publishes: f64 = text
        .lines()
        .filter(|l| l.starts_with("packgate_publishes_total"))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    assert!(
        publishes >= 1.0,
        "packgate_publishes_total must count the publish:\n{text}"
    );
}

#[test]
fn migrate_is_idempotent_while_the_server_runs() {
    let server = TestServer::start();
    server.cli_ok(&["migrate"], None);
    server.cli_ok(&["migrate"], None);
    server.http().get("/readyz").expect(200);
    let token = server.publisher("alice");
    publish(
        &server,
        "npm",
        &token,
        &Package::new("after-migrate", "1.0.0"),
    )
    .expect_success();
}

#[test]
fn sigterm_lets_an_in_flight_upload_finish() {
    let mut server = TestServer::start();
    let token = server.publisher("alice");
    let pkg =
        Package::new("slow-upload", "1.0.0").file("blob.bin", random_bytes(6 * 1024 * 1024, 5));
    let body =
        serde_json::to_vec(&pkg.publish_body(&server.registry("npm"), "latest")).expect("json");
    let auth = format!("Bearer {token}");
    let headers = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let addr = format!("127.0.0.1:{}", server.port);
    let resp = raw_request(
        &addr,
        "PUT",
        "/npm/slow-upload",
        &headers,
        &body,
        Some(body.len() / 2),
        || {
            server.terminate();
            std::thread::sleep(Duration::from_millis(500));
        },
    );
    resp.expect_success();
    let status = server.wait_exit(Duration::from_secs(40));
    assert!(
        status.is_some(),
        "the server must exit after SIGTERM once the upload is done\n{}",
        server.stderr_tail(40)
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "graceful shutdown exits 0, got {status:?}\n{}",
        server.stderr_tail(40)
    );
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "nothing listens after shutdown"
    );
}

mod security;
mod startup;
mod uploads;
