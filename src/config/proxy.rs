//! The keys of a `type = "proxy"` repository, resolved into [`ProxySettings`] with their defaults.

use super::{ByteSize, RepoKind, RepositoryConfig, Secret, Span};
use serde::Deserialize;
use std::time::Duration;

/// `repository.upstream_auth`: credentials sent with every request to the upstream's origin (and
/// never to another origin, redirects included).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum UpstreamAuth {
    /// `Authorization: Basic`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// `Authorization: Bearer`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// Any one header (`X-NuGet-ApiKey`, a gateway's key header).
    Header {
        /// Header name.
        name: String,
        /// Header value.
        value: Secret,
    },
}

/// `repository.min_age_unknown`: what the cooldown does with a version whose publish time the
/// upstream does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MinAgeUnknown {
    /// Serve it (the cargo and bundler clients' own cooldowns do the same).
    #[default]
    Allow,
    /// Hide it.
    Deny,
}

/// A proxy repository's settings with defaults applied (see `config/packgate.toml`).
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// The upstream registry's URL, ending in `/`.
    pub upstream: url::Url,
    /// Fresh window of mutable documents.
    pub metadata_ttl: Duration,
    /// How long an upstream 404/410 is remembered (zero: never).
    pub negative_ttl: Duration,
    /// Oldest cached document served when the upstream fails.
    pub max_stale: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Answer timeout (and idle timeout between file body chunks).
    pub request_timeout: Duration,
    /// Never contact the upstream.
    pub offline: bool,
    /// Cooldown: versions younger than this are hidden (zero: off).
    pub min_age: Duration,
    /// Names that skip the cooldown.
    pub min_age_exempt: Vec<String>,
    /// Cooldown for versions of unknown age.
    pub min_age_unknown: MinAgeUnknown,
    /// Largest accepted upstream document.
    pub max_document_size: u64,
    /// Upstream credentials.
    pub auth: Option<UpstreamAuth>,
}

impl ProxySettings {
    /// Whether the cooldown applies to `name` (on, and no exempt glob matches).
    pub fn cooldown_applies(&self, name: &str) -> bool {
        !self.min_age.is_zero() && !self.min_age_exempt.iter().any(|g| glob_match(g, name))
    }
}

/// `*` matches any run of characters (also `/` and `@`); everything else matches itself,
/// ASCII case-insensitively.
pub fn glob_match(glob: &str, name: &str) -> bool {
    let glob = glob.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == name;
    }
    let mut rest = name.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

impl RepositoryConfig {
    /// The proxy settings of a `type = "proxy"` repository; an error naming the key when one is
    /// missing or invalid.
    pub fn proxy_settings(&self) -> anyhow::Result<ProxySettings> {
        let name = &self.name;
        let Some(raw) = self.upstream.as_deref().filter(|u| !u.trim().is_empty()) else {
            anyhow::bail!(
                "repository {name:?}: a proxy needs `upstream`, the URL of the registry it caches"
            );
        };
        let mut upstream = url::Url::parse(raw.trim()).map_err(|e| {
            anyhow::anyhow!("repository {name:?}: upstream {raw:?} is not a URL: {e}")
        })?;
        if !matches!(upstream.scheme(), "http" | "https") || upstream.host_str().is_none() {
            anyhow::bail!("repository {name:?}: upstream {raw:?} must be an http or https URL");
        }
        if upstream.query().is_some() || upstream.fragment().is_some() {
            anyhow::bail!("repository {name:?}: upstream {raw:?} may not have a query or fragment");
        }
        if !upstream.username().is_empty() || upstream.password().is_some() {
            anyhow::bail!(
                "repository {name:?}: put upstream credentials in [repository.upstream_auth], not in the URL"
            );
        }
        if !upstream.path().ends_with('/') {
            let path = format!("{}/", upstream.path());
            upstream.set_path(&path);
        }
        let span = |v: Option<Span>, default: u64| v.map_or(Duration::from_secs(default), |s| s.0);
        let settings = ProxySettings {
            upstream,
            metadata_ttl: span(self.metadata_ttl, 300),
            negative_ttl: span(self.negative_ttl, 120),
            max_stale: span(self.max_stale, 7 * 86_400),
            connect_timeout: span(self.connect_timeout, 5),
            request_timeout: span(self.request_timeout, 30),
            offline: self.offline.unwrap_or(false),
            min_age: span(self.min_age, 0),
            min_age_exempt: self.min_age_exempt.clone().unwrap_or_default(),
            min_age_unknown: self.min_age_unknown.unwrap_or_default(),
            max_document_size: self
                .max_document_size
                .unwrap_or(ByteSize(64 * 1024 * 1024))
                .0,
            auth: self.upstream_auth.clone(),
        };
        if settings.connect_timeout.is_zero() || settings.request_timeout.is_zero() {
            anyhow::bail!(
                "repository {name:?}: connect_timeout and request_timeout must be above 0"
            );
        }
        if let Some(UpstreamAuth::Header { name: header, .. }) = &settings.auth
            && (header.is_empty()
                || !header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            anyhow::bail!(
                "repository {name:?}: upstream_auth.name {header:?} is not a header name"
            );
        }
        Ok(settings)
    }

    /// A hosted repository may not carry proxy keys (a typo'd `type` would otherwise go unseen).
    pub(super) fn refuse_proxy_keys(&self) -> anyhow::Result<()> {
        let set = [
            ("upstream", self.upstream.is_some()),
            ("metadata_ttl", self.metadata_ttl.is_some()),
            ("negative_ttl", self.negative_ttl.is_some()),
            ("max_stale", self.max_stale.is_some()),
            ("connect_timeout", self.connect_timeout.is_some()),
            ("request_timeout", self.request_timeout.is_some()),
            ("offline", self.offline.is_some()),
            ("min_age", self.min_age.is_some()),
            ("min_age_exempt", self.min_age_exempt.is_some()),
            ("min_age_unknown", self.min_age_unknown.is_some()),
            ("max_document_size", self.max_document_size.is_some()),
            ("upstream_auth", self.upstream_auth.is_some()),
        ];
        if let Some((key, _)) = set.iter().find(|(_, present)| *present) {
            anyhow::bail!(
                "repository {:?}: `{key}` only applies to type = \"proxy\" (this repository is \"{}\")",
                self.name,
                RepoKind::Hosted
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_whole_names_with_star_wildcards() {
        assert!(glob_match("@corp/*", "@corp/widget"));
        assert!(!glob_match("@corp/*", "@other/widget"));
        assert!(glob_match("left-pad", "Left-Pad"));
        assert!(!glob_match("left-pad", "left-pad2"));
        assert!(glob_match("*-sys", "openssl-sys"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("*", "anything"));
    }
}
