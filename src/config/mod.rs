//! The typed configuration tree (see `config/packgate.toml` for every key and its default).
//!
//! Layers, lowest first: built-in defaults, the `--config` files, `PACKGATE__SECTION__KEY`
//! environment variables, then command-line flags. The merge lives in [`load`].

mod group;
mod load;
mod proxy;
mod size;
mod span;

pub use group::{GroupSettings, MemberSettings, MemberSpec, OnNotFound, RouteRule, Rule, any_glob};
pub use load::{FlagOverrides, load};
pub use proxy::{MinAgeUnknown, ProxySettings, UpstreamAuth};
pub use size::ByteSize;
pub use span::Span;

pub use crate::format::Format;
use serde::Deserialize;
use std::path::PathBuf;

/// The whole configuration, validated once at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`
    #[serde(default)]
    pub server: ServerConfig,
    /// `[database]`
    #[serde(default)]
    pub database: DatabaseConfig,
    /// `[storage]`
    #[serde(default)]
    pub storage: StorageConfig,
    /// `[[repository]]` entries; when none is declared, one hosted repository per format.
    #[serde(default)]
    pub repository: Vec<RepositoryConfig>,
}

/// `[server]`: the listener and process-wide limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind, `host:port`; port 0 picks a free port.
    pub listen: String,
    /// Public base URL used in absolute links; empty means "from the request's Host header".
    pub base_url: String,
    /// Where SQLite, blobs and temp files live by default.
    pub data_dir: PathBuf,
    /// Largest accepted request body.
    pub max_upload: ByteSize,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout: u64,
    /// Seconds an upload's body may make no progress before it is cut (408).
    pub body_timeout: u64,
    /// Who may read `/metrics`: `admin` (a token with the admin scope) or `public`.
    pub metrics_access: MetricsAccess,
    /// Reverse proxies (addresses or CIDR ranges) whose `Forwarded` / `X-Forwarded-*` headers are
    /// believed when `base_url` is empty.
    pub trusted_proxies: Vec<IpNet>,
    /// Most bytes of rendered documents kept in memory.
    pub doc_cache_size: ByteSize,
    /// Log lines on stderr: `text` or `json`.
    pub log_format: LogFormat,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            base_url: String::new(),
            data_dir: PathBuf::from("./data"),
            max_upload: ByteSize(100 * 1024 * 1024),
            shutdown_timeout: 30,
            body_timeout: 30,
            metrics_access: MetricsAccess::Admin,
            trusted_proxies: Vec::new(),
            doc_cache_size: ByteSize(256 * 1024 * 1024),
            log_format: LogFormat::Text,
            workers: 0,
        }
    }
}

/// `[database]`: where the metadata lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://...` or `postgres://...`; empty means SQLite at `{data_dir}/packgate.sqlite`.
    pub url: Secret,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: Secret::default(),
            max_connections: 16,
        }
    }
}

/// `[storage]`: where blobs live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `filesystem` or `s3`.
    #[serde(rename = "type")]
    pub kind: StorageKind,
    /// Filesystem: blob directory; empty means `{data_dir}/blobs`.
    pub path: PathBuf,
    /// S3: bucket name.
    pub bucket: String,
    /// S3: region.
    pub region: String,
    /// S3: endpoint URL of an S3-compatible server; empty for AWS.
    pub endpoint: String,
    /// S3: access key id.
    pub access_key_id: Secret,
    /// S3: secret access key.
    pub secret_access_key: Secret,
    /// S3: path-style addressing (most S3-compatible servers need it).
    pub force_path_style: bool,
    /// S3: key prefix inside the bucket.
    pub prefix: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StorageKind::Filesystem,
            path: PathBuf::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            endpoint: String::new(),
            access_key_id: Secret::default(),
            secret_access_key: Secret::default(),
            force_path_style: false,
            prefix: String::new(),
        }
    }
}

/// One `[[repository]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// First path segment of the repository's URLs.
    pub name: String,
    /// The wire format (`npm`, `cargo`, `rubygems`, `nuget`).
    pub format: Format,
    /// `hosted`, `proxy` or `group`.
    #[serde(rename = "type", default)]
    pub kind: RepoKind,
    /// Whether reads need no credentials.
    #[serde(default = "default_true")]
    pub anonymous_read: bool,
    /// Per-repository upload limit; defaults to `server.max_upload`.
    #[serde(default)]
    pub max_upload: Option<ByteSize>,
    /// Proxy: the upstream registry's URL (required for a proxy; no default).
    #[serde(default)]
    pub upstream: Option<String>,
    /// Proxy: how long a fetched mutable document is served without asking the upstream.
    #[serde(default)]
    pub metadata_ttl: Option<Span>,
    /// Proxy: how long an upstream 404/410 is remembered (0: never).
    #[serde(default)]
    pub negative_ttl: Option<Span>,
    /// Proxy: how old a cached document may be when served because the upstream fails.
    #[serde(default)]
    pub max_stale: Option<Span>,
    /// Proxy: TCP + TLS connect timeout towards the upstream.
    #[serde(default)]
    pub connect_timeout: Option<Span>,
    /// Proxy: longest wait for an upstream answer (and, for files, between two body chunks).
    #[serde(default)]
    pub request_timeout: Option<Span>,
    /// Proxy: never contact the upstream; serve only what is cached.
    #[serde(default)]
    pub offline: Option<bool>,
    /// Proxy: hide upstream versions younger than this (a cooldown; 0: off).
    #[serde(default)]
    pub min_age: Option<Span>,
    /// Proxy: package-name globs (`*` wildcard) that skip the cooldown.
    #[serde(default)]
    pub min_age_exempt: Option<Vec<String>>,
    /// Proxy: whether versions without a known publish time pass the cooldown (`allow`) or not.
    #[serde(default)]
    pub min_age_unknown: Option<MinAgeUnknown>,
    /// Proxy: largest upstream document (packument, index file, registration page) accepted.
    #[serde(default)]
    pub max_document_size: Option<ByteSize>,
    /// Proxy: credentials sent to the upstream's origin only.
    #[serde(default)]
    pub upstream_auth: Option<UpstreamAuth>,
    /// Group: member repositories in precedence order.
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    /// Group: the hosted member that publishes to the group go to.
    #[serde(default)]
    pub publish_to: Option<String>,
    /// Group: routing rules by package name (`[[repository.route]]`), first match wins.
    #[serde(default)]
    pub route: Vec<RouteRule>,
    /// Group: names (globs) proxy members may supply even when a hosted member holds the name.
    #[serde(default)]
    pub allow_upstream: Vec<String>,
}

/// `server.log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// An address or a CIDR range (`10.0.0.5`, `10.0.0.0/8`, `fd00::/8`) in `server.trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl TryFrom<String> for IpNet {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an IP address or CIDR range (like 10.0.0.0/8)");
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.as_str(), None),
        };
        let addr: std::net::IpAddr = ip.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// Whether `ip` is inside this range (IPv4-mapped IPv6 peers match IPv4 ranges).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (
                u128::from(u32::from(a)) << 96,
                u128::from(u32::from(b)) << 96,
                32,
            ),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
            _ => return false,
        };
        let prefix = u32::from(self.prefix.min(bits));
        if prefix == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - prefix);
        a & mask == b & mask
    }
}

/// `server.metrics_access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Only a credential with the admin scope.
    Admin,
    /// Anyone who can reach the listener.
    Public,
}

/// `storage.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Blobs under a directory.
    Filesystem,
    /// Blobs in an S3 bucket (or an S3-compatible server).
    S3,
}

impl std::fmt::Display for StorageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StorageKind::Filesystem => "filesystem",
            StorageKind::S3 => "s3",
        })
    }
}

impl std::fmt::Display for RepoKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RepoKind::Hosted => "hosted",
            RepoKind::Proxy => "proxy",
            RepoKind::Group => "group",
        })
    }
}

/// `repository.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    /// Packages are published to it.
    #[default]
    Hosted,
    /// A pull-through cache of an upstream registry.
    Proxy,
    /// Several repositories seen as one URL.
    Group,
}
fn default_true() -> bool {
    true
}

/// A string that never shows in `Debug` output or logs.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"<redacted>\"")
        }
    }
}

/// Names that the server's own surfaces use and repositories may not take.
pub const RESERVED_NAMES: &[&str] = &["api", "metrics", "healthz", "readyz", "static", "ui", "-"];

impl Config {
    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        if self.database.url.expose().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.server.data_dir.join("packgate.sqlite").display()
            )
        } else {
            self.database.url.expose().to_string()
        }
    }

    /// Checks what serde cannot: repository names and kinds, storage settings.
    pub fn validate(&mut self) -> anyhow::Result<()> {
        if self.repository.is_empty() {
            for format in Format::ALL {
                self.repository.push(RepositoryConfig {
                    name: format.id().into(),
                    format,
                    kind: RepoKind::Hosted,
                    anonymous_read: true,
                    max_upload: None,
                    upstream: None,
                    metadata_ttl: None,
                    negative_ttl: None,
                    max_stale: None,
                    connect_timeout: None,
                    request_timeout: None,
                    offline: None,
                    min_age: None,
                    min_age_exempt: None,
                    min_age_unknown: None,
                    max_document_size: None,
                    upstream_auth: None,
                    members: vec![],
                    publish_to: None,
                    route: vec![],
                    allow_upstream: vec![],
                });
            }
        }
        let mut seen = std::collections::HashSet::new();
        for r in &self.repository {
            let valid = !r.name.is_empty()
                && r.name.len() <= 64
                && r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
                && !r.name.starts_with(['.', '-', '_']);
            if !valid {
                anyhow::bail!(
                    "repository name {:?} is invalid: use 1-64 ASCII letters, digits, '-', '_' or '.'",
                    r.name
                );
            }
            if RESERVED_NAMES.contains(&r.name.as_str()) {
                anyhow::bail!(
                    "repository name {:?} is reserved for packgate's own URLs",
                    r.name
                );
            }
            if !seen.insert(r.name.clone()) {
                anyhow::bail!("repository {:?} is declared twice", r.name);
            }
            match r.kind {
                RepoKind::Proxy => {
                    r.proxy_settings()?;
                    r.refuse_group_keys()?;
                }
                RepoKind::Hosted => {
                    r.refuse_proxy_keys()?;
                    r.refuse_group_keys()?;
                }
                RepoKind::Group => {
                    r.refuse_proxy_keys()?;
                    r.group_settings(&self.repository)?;
                }
            }
        }
        if self.storage.kind == StorageKind::S3 && self.storage.bucket.is_empty() {
            anyhow::bail!(
                "storage.bucket (PACKGATE__STORAGE__BUCKET) is required when storage.type = \"s3\""
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::IpNet;

    #[test]
    fn trusted_proxy_ranges_match_addresses_inside_them() {
        let net = |s: &str| IpNet::try_from(s.to_string()).unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(net("10.0.0.0/8").contains(ip("10.1.2.3")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(net("fd00::/8").contains(ip("fd12::1")));
        assert!(!net("fd00::/8").contains(ip("10.0.0.1")));
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(IpNet::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
