//! The state handlers work with: the server-wide [`AppState`] and the per-repository [`RepoCtx`].
//! Routes and the server both import this module; it imports neither.

use crate::config::Config;
use crate::db::Db;
use crate::services::cache::{DocCache, ValueCache};
use crate::store::BlobStore;
use actix_web::HttpRequest;
use std::sync::Arc;

/// Shared state of a running server.
pub struct AppState {
    /// The effective configuration.
    pub config: Config,
    /// The database.
    pub db: Db,
    /// The blob store.
    pub store: Arc<dyn BlobStore>,
    /// Rendered documents.
    pub cache: DocCache,
    /// Parsed values (search catalogs).
    pub values: ValueCache,
    /// Where and how uploads are spooled.
    pub spool: crate::services::blobs::Spool,
    /// The proxy repositories' upstreams and caches.
    pub proxies: Vec<Arc<crate::services::proxy::Proxy>>,
    /// Every repository's context (for routes outside the repositories' scopes: explain).
    pub repositories: Vec<RepoCtx>,
}

impl AppState {
    /// What a proxy's file fetches write with.
    pub fn sinks(&self) -> crate::services::proxy::Sinks {
        crate::services::proxy::Sinks {
            db: self.db.clone(),
            store: self.store.clone(),
            spool: self.spool.clone(),
        }
    }

    /// The public base URL for absolute links (tarball URLs, cargo's `dl`/`api`, NuGet's service
    /// index): `server.base_url` when set; else, for a request that came through a proxy listed in
    /// `server.trusted_proxies`, what its `Forwarded`/`X-Forwarded-*` headers say; else the local
    /// address the client connected to. A client's own `Host` or forwarded headers never choose
    /// the links other clients get, nor the keys of cached documents.
    pub fn base_url(&self, req: &HttpRequest) -> String {
        let server = &self.config.server;
        let configured = server.base_url.trim_end_matches('/');
        if !configured.is_empty() {
            return configured.to_string();
        }
        let via_proxy = req
            .peer_addr()
            .is_some_and(|peer| server.trusted_proxies.iter().any(|n| n.contains(peer.ip())));
        if via_proxy {
            let info = req.connection_info();
            return format!("{}://{}", info.scheme(), info.host());
        }
        local_base_url(req.app_config().local_addr())
    }
}

/// `http://{addr}` for the socket a request came in on, formatted once per worker thread and
/// listener (every document with URLs asks for it, a group several times per request).
fn local_base_url(addr: std::net::SocketAddr) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(std::net::SocketAddr, String)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((a, url)) if *a == addr => url.clone(),
            _ => {
                let url = format!("http://{addr}");
                *last = Some((addr, url.clone()));
                url
            }
        }
    })
}

/// Per-repository context, available to handlers as `web::Data<RepoCtx>`.
#[derive(Debug, Clone)]
pub struct RepoCtx {
    /// Repository name (first path segment).
    pub name: String,
    /// The repository's format.
    pub format: crate::format::Format,
    /// Whether reads need no credentials.
    pub anonymous_read: bool,
    /// Upload limit in bytes.
    pub max_upload: u64,
    /// The upstream and cache of a proxy repository (`None`: hosted).
    pub proxy: Option<Arc<crate::services::proxy::Proxy>>,
    /// The members and rules of a group repository.
    pub group: Option<Arc<GroupCtx>>,
    /// On a member's context used inside a group: the group whose access rules apply (a reader
    /// of the group reads its members through it).
    pub via_group: Option<String>,
}

impl RepoCtx {
    /// The repository whose access rules apply to this context.
    pub fn access_name(&self) -> &str {
        self.via_group.as_deref().unwrap_or(&self.name)
    }
}

/// A group repository: its rules and its members' contexts (in precedence order), each set to
/// be read through the group.
#[derive(Debug)]
pub struct GroupCtx {
    /// Rules, claims and precedence.
    pub group: crate::services::group::Group,
    /// The members' contexts, in the order of `group.settings.members`.
    pub members: Vec<RepoCtx>,
}
