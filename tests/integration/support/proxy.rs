//! A proxy under test: an upstream packgate (hosted repositories the tests seed over HTTP or with
//! the real clients), a fault proxy in front of it (counts requests per path, injects latency,
//! errors, resets, truncation and swapped bytes), and a packgate whose proxy repository points at
//! the fault proxy.

use super::Resp;
use super::fault_proxy::{Fault, FaultProxy};
use super::server::{TestServer, toml_str};
use std::time::Duration;

/// The three processes of a proxy test.
pub struct ProxyRig {
    /// The proxy under test (its proxy repository is [`ProxyRig::repo`]).
    pub proxy: TestServer,
    /// Between the two.
    pub fault: FaultProxy,
    /// The upstream registry (default hosted repositories).
    pub upstream: TestServer,
    /// A publisher token on the upstream.
    pub token: String,
    /// The proxy repository's name.
    pub repo: String,
}

impl ProxyRig {
    /// Starts an upstream, a fault proxy and a proxy whose repository `{format}-proxy` caches the
    /// upstream's repository `upstream_repo`; `settings` are more TOML keys of that repository
    /// (`metadata_ttl = "1s"`).
    pub fn start(format: &str, upstream_repo: &str, settings: &str) -> ProxyRig {
        // The upstream believes the fault proxy's Host (kept as sent), so its documents name the
        // fault proxy's origin, as a public registry's name its own.
        let upstream = TestServer::builder()
            .extra_config_file(
                "trust-loopback.toml",
                "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n",
            )
            .start();
        let token = upstream.publisher("upstream-publisher");
        let fault = FaultProxy::start(&upstream.base);
        let repo = format!("{format}-proxy");
        let proxy = TestServer::builder()
            .extra_config(&proxy_repository(
                &repo,
                format,
                &format!("{}/{upstream_repo}/", fault.url()),
                settings,
            ))
            .start();
        ProxyRig {
            proxy,
            fault,
            upstream,
            token,
            repo,
        }
    }

    /// The same deployment restarted with `offline = true` on the proxy repository (the fault
    /// proxy's counts reset): it contacts nobody and serves what the first instance cached.
    pub fn restart_offline(&self) -> TestServer {
        self.settle();
        let config = &self.proxy.stack.config_files[0];
        let text = std::fs::read_to_string(config).expect("config");
        std::fs::write(
            config,
            text.replace("type = \"proxy\"", "type = \"proxy\"\noffline = true"),
        )
        .expect("rewrite config");
        let offline = self.proxy.start_second();
        self.fault.reset_counts();
        offline
    }

    /// Waits until the proxy has recorded what it fetched (see [`settle`]).
    pub fn settle(&self) {
        settle(&self.proxy, &self.repo);
    }

    /// The host:port strings no served document may contain (the fault proxy's and the
    /// upstream's).
    pub fn upstream_hosts(&self) -> [String; 2] {
        [
            self.fault.url().trim_start_matches("http://").to_string(),
            self.upstream.base.trim_start_matches("http://").to_string(),
        ]
    }
}

/// Waits (at most 10 s) until proxy repository `repo` of `server` has recorded what it fetched:
/// documents and files are written to the database after the answer
/// (`packgate_proxy_pending_writes`).
pub fn settle(server: &TestServer, repo: &str) {
    let needle = format!("packgate_proxy_pending_writes{{repo=\"{repo}\"}} ");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = server.metrics().text();
        let pending: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&needle))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {needle} in /metrics:\n{text}"));
        if pending == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the proxy still records {pending} fetch(es) after 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `[[repository]]` table of type proxy.
pub fn proxy_repository(name: &str, format: &str, upstream: &str, settings: &str) -> String {
    format!(
        "\n[[repository]]\nname = {}\nformat = {}\ntype = \"proxy\"\nupstream = {}\n{settings}\n",
        toml_str(name),
        toml_str(format),
        toml_str(upstream)
    )
}

/// `POST /api/proxies/purge?repo=…&package=…` with an admin token on the proxy.
pub fn purge(rig: &ProxyRig, package: &str) {
    purge_with(rig, package, "");
}

/// [`purge`] with more query parameters (`&files=true`).
pub fn purge_with(rig: &ProxyRig, package: &str, extra: &str) {
    // What the proxy fetched is recorded after the answer: purge after it, not before.
    rig.settle();
    let name = format!("purger-{}", super::random_id());
    rig.proxy.cli_ok(&["user", "add", &name, "--admin"], None);
    let token = rig.proxy.create_token(&name, &["--scope", "admin"]);
    let auth = format!("Bearer {token}");
    let resp = rig.proxy.http().send(
        "POST",
        &format!(
            "/api/proxies/purge?repo={}&package={}{extra}",
            rig.repo,
            super::url_encode(package)
        ),
        &[("authorization", auth.as_str())],
        None,
    );
    resp.expect(200);
}

/// The value of `packgate_proxy_events_total{repo=…,event=…}` of the rig's proxy repository in the
/// proxy's `/metrics`.
pub fn proxy_event(rig: &ProxyRig, event: &str) -> u64 {
    let text = rig.proxy.metrics().text();
    let needle = format!(
        "packgate_proxy_events_total{{repo=\"{}\",event=\"{event}\"}} ",
        rig.repo
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {needle} in /metrics:\n{text}"))
}

/// The bodies of `n` requests `request` sent at once from `n` threads, each of which must be a 200.
pub fn concurrent_bodies(n: usize, request: impl Fn() -> Resp + Sync) -> Vec<Vec<u8>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|_| s.spawn(&request)).collect();
        handles
            .into_iter()
            .map(|h| {
                let r = h.join().expect("request thread");
                r.expect(200);
                r.body
            })
            .collect()
    })
}

/// More settings of a proxy repository whose documents go stale quickly: cached for a second, an
/// upstream answer awaited two.
pub const STALE_SETTINGS: &str = "metadata_ttl = \"1s\"\nrequest_timeout = \"2s\"";

/// The ways a stale test breaks the upstream, each with the status a request for something not
/// cached gets (502; 504 when the upstream is too slow for [`STALE_SETTINGS`]).
pub fn upstream_failures() -> [(Fault, u16); 4] {
    [
        (Fault::Status(500), 502),
        (Fault::Truncate(10), 502),
        (Fault::Reset(10), 502),
        (Fault::Delay(Duration::from_secs(4)), 504),
    ]
}

/// Waits until documents cached under [`STALE_SETTINGS`] are due for revalidation.
pub fn outlive_ttl() {
    std::thread::sleep(Duration::from_millis(1200));
}

/// Checks that `stale` is the last good copy `last_good`, served stale (with an `Age`) while the
/// upstream fails with `fault`.
pub fn expect_stale_copy(stale: &Resp, last_good: &Resp, fault: &Fault) {
    stale.expect(200);
    assert_eq!(stale.header("x-packgate-cache"), Some("stale"), "{fault:?}");
    assert!(
        stale.header("age").is_some(),
        "{fault:?}: a stale copy says its Age"
    );
    assert_eq!(stale.body, last_good.body, "{fault:?}: the last good copy");
}

/// An RFC 3339 UTC timestamp to the second (`2024-06-01T10:00:00Z`, as cargo's `pubtime` and the
/// gem registry's `created_at:` are written) of `ms` since the epoch.
pub fn utc_seconds(ms: i64) -> String {
    format!("{}Z", &packgate::services::time::iso8601(ms)[..19])
}

/// Checks a document asked for again after its TTL: `second` has the bytes of `first` and says
/// `revalidated`, and the upstream saw `path` twice, a fetch and then a conditional request with
/// one of the headers `validators` (`if-none-match`, `if-modified-since`).
pub fn expect_one_conditional_revalidation(
    rig: &ProxyRig,
    path: &str,
    (first, second): (&Resp, &Resp),
    validators: &[&str],
) {
    second.expect(200);
    assert_eq!(second.header("x-packgate-cache"), Some("revalidated"));
    assert_eq!(second.body, first.body);
    let seen: Vec<_> = rig
        .fault
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect();
    assert_eq!(seen.len(), 2, "one fetch, then one revalidation");
    assert!(
        validators.iter().any(|v| seen[1].header(v).is_some()),
        "the revalidation is conditional: {:?}",
        seen[1].headers
    );
}

/// Checks that a file the upstream served broken (`fault`) was refused with a gateway error (502,
/// or 504 when the broken answer also took too long), not passed on.
pub fn expect_refused_file(refused: &Resp, fault: &Fault) {
    assert!(
        [502, 504].contains(&refused.status),
        "{fault:?}: {} {}",
        refused.status,
        refused.text()
    );
}
