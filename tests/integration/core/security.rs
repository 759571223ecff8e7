//! Safe defaults: headers that keep stored content from running in a browser, tokens that do not
//! leak into logs, token management that needs full rights, sign-in tokens that expire.

use crate::support::TestServer;
use packgate_npm::testing::{Package, escape_name};
use serde_json::json;

#[test]
fn package_files_download_as_attachments_in_a_sandbox_and_nothing_is_sniffed() {
    let server = TestServer::start();
    let token = server.publisher("alice");
    let body = Package::new("headers-pkg", "1.0.0")
        .file("index.html", "<script>alert(1)</script>")
        .publish_body(&server.registry("npm"), "latest");
    server
        .http()
        .json("PUT", "/npm/headers-pkg", Some(&token), &body)
        .expect(201);
    let tgz = server
        .http()
        .get("/npm/headers-pkg/-/headers-pkg-1.0.0.tgz");
    tgz.expect(200);
    assert_eq!(tgz.header("content-disposition"), Some("attachment"));
    let csp = tgz.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    for resp in [
        tgz,
        server.http().get("/npm/headers-pkg"),
        server.http().get("/npm/%3Cscript%3E"),
        server.http().get("/no-such-repository/x"),
    ] {
        assert_eq!(
            resp.header("x-content-type-options"),
            Some("nosniff"),
            "{}",
            resp.request
        );
    }
}

#[test]
fn a_logout_token_in_the_path_is_not_written_to_the_log() {
    let server = TestServer::start();
    let token = server.publisher("alice");
    let http = server.http();
    let path = format!("/npm/-/user/token/{}", escape_name(&token));
    http.delete(&path, Some(&token)).expect(200);
    // A failed logout (the token is gone now) must not leave it in the log either.
    let _ = http.delete(&path, Some(&token));
    let log = server.stderr_tail(10_000);
    assert!(
        !log.contains(&token),
        "the token appears in the server log:\n{log}"
    );
    assert!(log.contains("/npm/-/user/token/<redacted>"), "{log}");
}

#[test]
fn token_management_needs_a_token_with_full_rights() {
    let server = TestServer::start();
    let full = server.publisher("alice");
    let read_only = server.create_token("alice", &["--scope", "read"]);
    let for_npm_only = server.create_token("alice", &["--repo", "npm"]);
    let http = server.http();
    let list = "/npm/-/npm/v1/tokens";
    for (what, token) in [
        ("read-only", &read_only),
        ("repository-limited", &for_npm_only),
    ] {
        let msg = http.get_auth(list, Some(token)).expect_error(403);
        assert!(msg.contains("full rights"), "{what}: {msg}");
        let create = http.json(
            "POST",
            list,
            Some(token),
            &json!({"password": "alice-password", "readonly": false, "cidr_whitelist": []}),
        );
        create.expect_error(403);
    }
    let objects = http.get_auth(list, Some(&full)).expect(200).json()["objects"]
        .as_array()
        .expect("objects")
        .clone();
    assert_eq!(objects.len(), 3, "{objects:?}");
    let key = objects[0]["key"].as_str().expect("key").to_owned();
    http.delete(
        &format!("/npm/-/npm/v1/tokens/token/{key}"),
        Some(&read_only),
    )
    .expect_error(403);
    assert_eq!(
        http.get_auth(list, Some(&full)).expect(200).json()["objects"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "nothing was revoked"
    );
}

#[test]
fn sign_in_tokens_expire() {
    let server = TestServer::start();
    server.add_user("dora", Some("dora-password"));
    let http = server.http();
    let body = json!({"_id": "org.couchdb.user:dora", "name": "dora", "password": "dora-password",
        "type": "user", "roles": [], "date": "2026-01-01T00:00:00.000Z"});
    let login = http
        .json("PUT", "/npm/-/user/org.couchdb.user:dora", None, &body)
        .expect(201)
        .json();
    let token = login["token"].as_str().expect("token").to_owned();
    let objects = http
        .get_auth("/npm/-/npm/v1/tokens", Some(&token))
        .expect(200)
        .json()["objects"]
        .clone();
    assert!(
        objects[0]["expires"].is_string(),
        "an npm login token has an expiry: {objects}"
    );
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_clients_host_or_forwarded_headers_never_choose_the_links() {
    let server = TestServer::start();
    let token = server.publisher("alice");
    let body = Package::new("linked", "1.0.0").publish_body(&server.registry("npm"), "latest");
    server
        .http()
        .json("PUT", "/npm/linked", Some(&token), &body)
        .expect(201);
    let own = format!(
        "http://127.0.0.1:{}/npm/linked/-/linked-1.0.0.tgz",
        server.port
    );
    for headers in [
        vec![("host", "evil.example")],
        vec![
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ],
        vec![("forwarded", "host=evil.example;proto=https")],
    ] {
        let doc = server
            .http()
            .get_with("/npm/linked", &headers)
            .expect(200)
            .json();
        assert_eq!(
            doc["versions"]["1.0.0"]["dist"]["tarball"],
            json!(own),
            "{headers:?}"
        );
    }
    let before = vm_hwm_kib(server.pid());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let health = {
        let stop = stop.clone();
        let url = server.url("/healthz");
        std::thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                statuses.push(
                    ureq::get(&url)
                        .call()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0),
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            statuses
        })
    };
    for i in 0..1000 {
        let host = format!("h{i}-{}.example", "x".repeat(200));
        let headers = [("host", host.as_str()), ("x-forwarded-host", host.as_str())];
        server.http().get_with("/npm/linked", &headers).expect(200);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let health = health.join().expect("health thread");
    assert!(
        !health.is_empty() && health.iter().all(|s| *s == 200),
        "/healthz during the Host flood: {health:?}"
    );
    let after = vm_hwm_kib(server.pid());
    assert!(
        after < before + 50 * 1024,
        "1,000 Host values grew the peak RSS from {before} KiB to {after} KiB"
    );
    server.http().get("/healthz").expect(200);
}

#[test]
fn forwarded_headers_from_a_trusted_proxy_set_the_links() {
    let server = TestServer::builder()
        .extra_config_file(
            "proxy.toml",
            "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n",
        )
        .start();
    let token = server.publisher("alice");
    let body = Package::new("proxied", "1.0.0").publish_body(&server.registry("npm"), "latest");
    server
        .http()
        .json("PUT", "/npm/proxied", Some(&token), &body)
        .expect(201);
    let doc = server
        .http()
        .get_with(
            "/npm/proxied",
            &[
                ("x-forwarded-host", "registry.example"),
                ("x-forwarded-proto", "https"),
            ],
        )
        .expect(200)
        .json();
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["tarball"],
        json!("https://registry.example/npm/proxied/-/proxied-1.0.0.tgz")
    );
}
