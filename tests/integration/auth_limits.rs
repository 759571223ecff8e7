//! Password checks cost an Argon2 run (~19 MiB, ~30 ms of CPU) wherever `Basic user:password` is
//! accepted, so they are guarded: a bounded number run at once, failures are limited per user
//! name (10 a minute) and per client address (30 a minute) with a 429 and `Retry-After`, the
//! outcome of a check is remembered briefly, and an unknown user costs what a wrong password
//! costs.
//!
//! Argon2 runs are counted through the server's debug log line `argon2 password check`, never
//! through timing.

use crate::support::nuget_http::{Auth, Feed, Framing, NuResp, basic};
use crate::support::{Resp, TestServer, url_encode};
use serde_json::json;
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The log filter that makes the server log each Argon2 run.
const DEBUG_AUTH: &str = "info,packgate::services::auth=debug";
/// The reason phrase NuGet clients show for a 429.
const NUGET_TOO_MANY: &str = "Too many failed sign-in attempts";

/// A server that logs every Argon2 run.
fn counting_server() -> TestServer {
    TestServer::builder()
        .env("PACKGATE_LOG", DEBUG_AUTH)
        .start()
}

/// How many Argon2 runs the server has logged so far.
fn argon2_runs(server: &TestServer) -> usize {
    server
        .stderr_tail(usize::MAX)
        .lines()
        .filter(|l| l.contains("argon2 password check"))
        .count()
}

/// The server's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("read /proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/<pid>/status:\n{status}"))
}

/// `GET /npm-private/-/whoami` with `Basic user:password`.
fn whoami(server: &TestServer, user: &str, password: &str) -> Resp {
    server.http().get_with(
        "/npm-private/-/whoami",
        &[("authorization", &basic(user, password))],
    )
}

/// `npm login`: `PUT /npm/-/user/org.couchdb.user:{user}` with the password in the body.
fn npm_login(server: &TestServer, user: &str, password: &str) -> Resp {
    let body = json!({"_id": format!("org.couchdb.user:{user}"), "name": user,
        "password": password, "type": "user", "roles": [], "date": "2024-06-01T00:00:00.000Z"});
    server.http().json(
        "PUT",
        &format!("/npm/-/user/org.couchdb.user:{}", url_encode(user)),
        None,
        &body,
    )
}

/// `gem signin`: `POST /rubygems/api/v1/api_key` with `Basic user:password`.
fn gem_signin(server: &TestServer, user: &str, password: &str) -> Resp {
    server.http().send(
        "POST",
        "/rubygems/api/v1/api_key",
        &[("authorization", &basic(user, password))],
        None,
    )
}

/// A NuGet search of the private feed with `Basic user:password` (NuGet.Config credentials).
fn nuget_read(server: &TestServer, user: &str, password: &str) -> NuResp {
    Feed::new(server, "nuget-private").raw(
        "GET",
        "/nuget-private/v3/query?q=x",
        Auth::Basic(user, password),
        &[],
        None,
        Framing::Sized,
    )
}

/// Asserts a 429 that says when to come back: `Retry-After` in whole seconds, within the window.
fn expect_retry_after(resp: &Resp, what: &str) {
    assert_eq!(
        resp.status,
        429,
        "{what}: expected 429, got {}; body: {}",
        resp.status,
        resp.text()
    );
    let secs: u64 = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"))
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Retry-After is not whole seconds: {e}"));
    assert!(
        (1..=60).contains(&secs),
        "{what}: Retry-After {secs} is outside the 60 s window"
    );
}

/// Sends `n` requests at once (each from its own thread, released together) and returns their
/// answers in order.
fn all_at_once<T: Send>(n: usize, request: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let start = Barrier::new(n);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (start, request) = (&start, &request);
                s.spawn(move || {
                    start.wait();
                    request(i)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("client thread"))
            .collect()
    })
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[test]
fn a_burst_of_wrong_passwords_keeps_memory_bounded_and_health_answering() {
    let server = counting_server();
    server.add_user("alice", Some("alice-password"));
    let before = peak_rss_kib(&server);
    const CLIENTS: usize = 64;
    let finished = AtomicUsize::new(0);
    let (statuses, health_during_burst) = std::thread::scope(|s| {
        let burst = s.spawn(|| {
            all_at_once(CLIENTS, |i| {
                // Half for a real user, half for unknown ones: both cost an Argon2 run.
                let user = if i % 2 == 0 {
                    "alice".to_owned()
                } else {
                    format!("nobody-{i}")
                };
                let status = whoami(&server, &user, &format!("wrong-password-{i}")).status;
                finished.fetch_add(1, Ordering::SeqCst);
                status
            })
        });
        let mut health_during_burst = 0;
        while finished.load(Ordering::SeqCst) < CLIENTS {
            server.http().get("/healthz").expect(200);
            if finished.load(Ordering::SeqCst) < CLIENTS {
                health_during_burst += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (burst.join().expect("burst"), health_during_burst)
    });

    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        CLIENTS,
        "every wrong password is a 401 or, past the limits, a 429: {statuses:?}"
    );
    // At most 10 failures (or checks in flight) per user and 30 per address.
    assert!(
        count(&statuses, 401) <= 30,
        "64 wrong passwords from one address: {statuses:?}"
    );
    assert!(
        health_during_burst > 0,
        "/healthz was never asked while the burst was in progress"
    );
    let runs = argon2_runs(&server);
    assert!(
        (1..=30).contains(&runs),
        "{runs} Argon2 runs for {CLIENTS} wrong passwords from one address\n{}",
        server.stderr_tail(20)
    );
    let peak = peak_rss_kib(&server);
    eprintln!(
        "peak RSS: {} MiB before the burst, {} MiB after {CLIENTS} clients ({runs} Argon2 runs)",
        before / 1024,
        peak / 1024
    );
    // 64 Argon2 runs at once would hold 64 x 19 MiB = 1216 MiB.
    assert!(
        peak < 300 * 1024,
        "peak RSS {} MiB: Argon2 memory is not bounded",
        peak / 1024
    );
    server.http().get("/healthz").expect(200);
}

/// 40 wrong passwords at once for distinct unknown users (one failure each, so only the address
/// limit applies), with `X-Forwarded-For: forwarded(i)`.
fn forty_distinct_failures(
    server: &TestServer,
    forwarded: impl Fn(usize) -> String + Sync,
) -> Vec<Resp> {
    all_at_once(40, |i| {
        server.http().get_with(
            "/npm-private/-/whoami",
            &[
                (
                    "authorization",
                    &basic(&format!("guess-{i}"), "wrong-password"),
                ),
                ("x-forwarded-for", &forwarded(i)),
            ],
        )
    })
}

/// Asserts that 30 of `answers` are 401s and the rest 429s from the address limit.
fn expect_thirty_checked_and_the_rest_refused(answers: &[Resp], what: &str) {
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(
        (count(&statuses, 401), count(&statuses, 429)),
        (30, answers.len() - 30),
        "{what}: {statuses:?}"
    );
    for refused in answers.iter().filter(|r| r.status == 429) {
        expect_retry_after(refused, what);
        assert!(
            refused.text().contains("from this address"),
            "{what}: {}",
            refused.text()
        );
    }
}

#[test]
fn thirty_failures_from_one_address_refuse_it_whatever_forwarded_address_it_claims() {
    let server = TestServer::start();
    // Without `server.trusted_proxies`, X-Forwarded-For is the client's own claim: ignored.
    let answers = forty_distinct_failures(&server, |i| format!("198.51.100.{i}"));
    expect_thirty_checked_and_the_rest_refused(&answers, "40 failures from 127.0.0.1");
}

#[test]
fn behind_a_trusted_proxy_failures_count_per_forwarded_client() {
    let server = TestServer::builder()
        .extra_config_file(
            "proxy.toml",
            "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n",
        )
        .start();
    server.add_user("grace", Some("grace-password"));
    // The proxy appends the client's address; whatever the client put before it is ignored.
    let answers = forty_distinct_failures(&server, |i| format!("192.0.2.{i}, 203.0.113.7"));
    expect_thirty_checked_and_the_rest_refused(&answers, "40 failures from 203.0.113.7");
    // Other clients behind the same proxy still sign in.
    let other = server.http().get_with(
        "/npm-private/-/whoami",
        &[
            ("authorization", &basic("grace", "grace-password")),
            ("x-forwarded-for", "203.0.113.8"),
        ],
    );
    assert_eq!(other.expect(200).json(), json!({"username": "grace"}));
}

#[test]
fn ten_failed_logins_refuse_the_user_with_retry_after_even_with_the_right_password() {
    let server = TestServer::start();
    server.add_user("bob", Some("bob-password"));
    server.add_user("carol", Some("carol-password"));
    let bob_token = server.create_token("bob", &[]);
    let failed = all_at_once(10, |i| {
        npm_login(&server, "bob", &format!("wrong-{i}")).status
    });
    assert_eq!(failed, vec![401; 10]);

    let login = npm_login(&server, "bob", "bob-password");
    expect_retry_after(&login, "npm login with the right password");
    assert!(
        login
            .expect_error(429)
            .contains("too many failed sign-in attempts"),
        "npm prints the error text: {}",
        login.text()
    );
    // Every route and format that takes a password refuses it for now.
    expect_retry_after(
        &whoami(&server, "bob", "bob-password"),
        "npm Basic bob:password",
    );
    let gem = gem_signin(&server, "bob", "bob-password");
    expect_retry_after(&gem, "gem signin");
    assert!(
        gem.text().contains("too many failed sign-in attempts"),
        "gem prints the body: {}",
        gem.text()
    );
    let cargo = server.http().get_with(
        "/cargo-private/index/config.json",
        &[("authorization", &basic("bob", "bob-password"))],
    );
    expect_retry_after(&cargo, "cargo Basic bob:password");
    let nuget = nuget_read(&server, "bob", "bob-password");
    expect_retry_after(&nuget, "NuGet Basic bob:password");
    nuget.expect_refusal(429, NUGET_TOO_MANY);

    // Tokens are not passwords: they still work.
    assert_eq!(
        server
            .http()
            .get_auth("/npm-private/-/whoami", Some(&bob_token))
            .expect(200)
            .json(),
        json!({"username": "bob"})
    );
    // Another user still signs in, with npm and with Basic.
    assert_eq!(npm_login(&server, "carol", "carol-password").status, 201);
    assert_eq!(
        whoami(&server, "carol", "carol-password")
            .expect(200)
            .json(),
        json!({"username": "carol"})
    );
}

#[test]
fn a_verified_basic_password_is_remembered_so_repeated_requests_run_argon2_once() {
    let server = counting_server();
    server.add_user("dave", Some("dave-password"));
    for _ in 0..21 {
        assert_eq!(
            whoami(&server, "dave", "dave-password").expect(200).json(),
            json!({"username": "dave"})
        );
    }
    assert_eq!(
        argon2_runs(&server),
        1,
        "21 requests with the same password should run Argon2 once\n{}",
        server.stderr_tail(30)
    );
    // Only that exact credential is remembered: another password is checked, and refused.
    whoami(&server, "dave", "not-dave-password").expect_error(401);
    assert_eq!(argon2_runs(&server), 2);
    // Repeating the same wrong password (a stale client config) is refused from memory too.
    for _ in 0..20 {
        whoami(&server, "dave", "not-dave-password").expect_error(401);
    }
    assert_eq!(argon2_runs(&server), 2);
    // It counted as one failure, not 21: the user is not locked out.
    whoami(&server, "dave", "dave-password").expect(200);
    assert_eq!(npm_login(&server, "dave", "dave-password").status, 201);
    assert_eq!(argon2_runs(&server), 2);
}

#[test]
fn an_unknown_user_and_a_wrong_password_get_the_same_401_after_the_same_argon2_work() {
    let server = counting_server();
    server.add_user("erin", Some("erin-password"));
    server.add_user("tokens-only", None);
    let answers = |user: &str| {
        let runs = argon2_runs(&server);
        let basic = whoami(&server, user, "wrong-password");
        let npm = npm_login(&server, user, "wrong-password");
        let gem = gem_signin(&server, user, "wrong-password");
        let nuget = nuget_read(&server, user, "wrong-password");
        let answer = (
            basic.expect_error(401),
            npm.expect_error(401),
            gem.expect(401).text(),
            nuget.reason.clone(),
            nuget.expect_refusal(401, &nuget.reason),
        );
        (answer, argon2_runs(&server) - runs)
    };
    let (wrong_password, wrong_password_runs) = answers("erin");
    // One Argon2 run, then the same credential is refused from memory on every route.
    assert_eq!(wrong_password_runs, 1, "{}", server.stderr_tail(20));
    for user in ["nobody-by-that-name", "tokens-only"] {
        let (answer, runs) = answers(user);
        assert_eq!(
            answer, wrong_password,
            "{user}: an unknown user (or one without a password) must look like a wrong password"
        );
        assert_eq!(
            runs, wrong_password_runs,
            "{user}: checked against a dummy hash, like a wrong password"
        );
    }
}
