//! A proxy under test: an upstream packgate (hosted repositories the tests seed over HTTP or with
//! the real clients), a fault proxy in front of it (counts requests per path, injects latency,
//! errors, resets, truncation and swapped bytes), and a packgate whose proxy repository points at
//! the fault proxy.

use super::fault_proxy::FaultProxy;
use super::server::{TestServer, toml_str};

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

    /// The host:port strings no served document may contain (the fault proxy's and the
    /// upstream's).
    pub fn upstream_hosts(&self) -> [String; 2] {
        [
            self.fault.url().trim_start_matches("http://").to_string(),
            self.upstream.base.trim_start_matches("http://").to_string(),
        ]
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
