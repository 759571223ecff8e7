//! Builds the actix application and runs it: one scope per configured repository, mounted with its
//! format module, plus `/healthz`, `/readyz` and `/metrics`.

use crate::config::Config;
use crate::db::Db;
use crate::observe::{Metrics, RepoFormats};
use crate::routes::common::ctx::get_head;
use crate::services::cache::{DocCache, ValueCache};
use crate::state::{AppState, RepoCtx};
use crate::store::BlobStore;
use actix_web::{App, HttpResponse, HttpServer, middleware, web};
use std::net::TcpListener;
use std::sync::Arc;

/// Connects the database (migrating it) and the store.
pub async fn open(config: &Config) -> anyhow::Result<(Db, Arc<dyn BlobStore>)> {
    let db = Db::open(&config.database_url(), config.database.max_connections).await?;
    let store = crate::store::from_config(config).await?;
    Ok((db, store))
}

/// Runs the server on an already bound listener until SIGINT/SIGTERM; in-flight requests get
/// `server.shutdown_timeout` seconds to finish. `on_ready` runs once the database is migrated and
/// the listener accepts requests.
pub async fn run(
    listener: TcpListener,
    config: Config,
    on_ready: impl FnOnce(),
) -> anyhow::Result<()> {
    let (db, store) = open(&config).await?;
    // Other instances sharing PostgreSQL: hear their changes (nothing on SQLite).
    db.listen_for_changes(&config.database_url())?;
    let tmp_dir = config.server.data_dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir)?;
    remove_stale_uploads(&tmp_dir);
    let doc_cache_bytes = usize::try_from(config.server.doc_cache_size.0).unwrap_or(usize::MAX);
    let mut repos: Vec<RepoCtx> = Vec::new();
    let mut proxies = Vec::new();
    for r in &config.repository {
        let max_upload = r.max_upload.unwrap_or(config.server.max_upload).0;
        let proxy = match r.kind {
            crate::config::RepoKind::Proxy => {
                if !crate::routes::module(r.format).supports_proxy() {
                    anyhow::bail!(
                        "repository {:?}: {} proxy repositories are not supported yet",
                        r.name,
                        r.format.id()
                    );
                }
                let p = Arc::new(crate::services::proxy::Proxy::new(
                    &r.name,
                    r.format,
                    r.proxy_settings()?,
                    max_upload,
                    doc_cache_bytes / 4,
                )?);
                proxies.push(p.clone());
                Some(p)
            }
            _ => None,
        };
        repos.push(RepoCtx {
            name: r.name.clone(),
            format: r.format,
            anonymous_read: r.anonymous_read,
            max_upload,
            proxy,
            group: None,
            via_group: None,
        });
    }
    // Groups last: their members' contexts are the hosted and proxy ones above.
    for (i, r) in config.repository.iter().enumerate() {
        if r.kind != crate::config::RepoKind::Group {
            continue;
        }
        if crate::routes::module(r.format).group_explainer().is_none() {
            anyhow::bail!(
                "repository {:?}: {} group repositories are not supported yet",
                r.name,
                r.format.id()
            );
        }
        let settings = r.group_settings(&config.repository)?;
        let mut members = Vec::new();
        let mut hosted = Vec::new();
        for m in &settings.members {
            let Some(base) = repos.iter().find(|x| x.name == m.name) else {
                anyhow::bail!("repository {:?}: member {:?} is missing", r.name, m.name);
            };
            hosted.push(base.proxy.is_none());
            members.push(RepoCtx {
                // Anonymous reads through the group only where the member allows them too.
                anonymous_read: r.anonymous_read && base.anonymous_read,
                via_group: Some(r.name.clone()),
                ..base.clone()
            });
        }
        repos[i].group = Some(Arc::new(crate::state::GroupCtx {
            group: crate::services::group::Group {
                name: r.name.clone(),
                settings,
                hosted,
            },
            members,
        }));
    }
    let formats = web::Data::new(RepoFormats(
        repos
            .iter()
            .map(|r| (r.name.clone(), r.format.id()))
            .collect(),
    ));
    let metrics = web::Data::new(Metrics::default());
    let workers = config.server.workers;
    let shutdown_timeout = config.server.shutdown_timeout;
    let body_timeout = config.server.body_timeout.max(1);
    let state = web::Data::new(AppState {
        config,
        db,
        store,
        cache: DocCache::new(4096, doc_cache_bytes),
        values: ValueCache::new(256),
        spool: crate::services::blobs::Spool {
            dir: tmp_dir,
            idle: std::time::Duration::from_secs(body_timeout),
        },
        proxies,
        repositories: repos.clone(),
    });
    let after = state.clone();
    let mut server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .app_data(formats.clone())
            .wrap(middleware::from_fn(crate::observe::middleware))
            .service(web::scope("/api").configure(crate::routes::api::routes))
            .route(
                "/-/api/explain/{group}/{name:.*}",
                web::get().to(crate::routes::common::explain::explain),
            )
            .configure(|c| {
                get_head(c, "/healthz", healthz);
                get_head(c, "/readyz", readyz);
                get_head(c, "/metrics", metrics_text);
            });
        for repo in &repos {
            let module = crate::routes::module(repo.format);
            let scope =
                web::scope(&format!("/{}", repo.name)).app_data(web::Data::new(repo.clone()));
            app = app.service(scope.configure(|c| module.routes(c)));
        }
        app
    })
    // Responses streamed from a file go out as headers, then body chunks: with Nagle's algorithm
    // on, each small download waited for the client's delayed ACK (~40 ms on Linux).
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)?;
    if workers > 0 {
        server = server.workers(workers);
    }
    let running = server.run();
    on_ready();
    running.await?;
    // Files verified during the last requests may still be on their way into the store.
    for p in &after.proxies {
        p.settle(std::time::Duration::from_secs(shutdown_timeout))
            .await;
    }
    Ok(())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when the database and the store answer. The body names what is down, never how (the
/// details are logged).
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db_ok = state.db.ping().await;
    let store = state.store.check().await;
    if db_ok && store.is_ok() {
        // Proxies serve their caches while an upstream fails: its state is detail, not readiness.
        let mut body = String::from("ready\n");
        for p in &state.proxies {
            let h = p.health();
            body.push_str(&format!("proxy {}: upstream {}", p.repo, h.state));
            if let Some(secs) = h.retry_in_secs {
                body.push_str(&format!(" (retry in {secs} s)"));
            }
            body.push('\n');
        }
        HttpResponse::Ok().content_type("text/plain").body(body)
    } else {
        let mut msg = String::new();
        if !db_ok {
            tracing::error!("readiness: the database does not answer");
            msg.push_str("database unreachable\n");
        }
        if let Err(e) = store {
            tracing::error!(error = %e, "readiness: the blob store is not usable");
            msg.push_str("store unusable\n");
        }
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(msg)
    }
}

/// Prometheus metrics. They name every repository (private ones too) and count its traffic, so
/// by default only an admin may read them (`server.metrics_access = "public"` opens them, for a
/// scraper on a private network).
async fn metrics_text(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, actix_web::Error> {
    if state.config.server.metrics_access == crate::config::MetricsAccess::Admin {
        let who = crate::routes::common::auth::principal(&req, &state).await;
        match who {
            Ok(Some(p)) if p.has(crate::services::auth::Scope::Admin) => {}
            Ok(Some(_)) => {
                return Ok(HttpResponse::Forbidden()
                    .content_type("text/plain")
                    .body("metrics need a token with the admin scope\n"));
            }
            Ok(None) | Err(_) => {
                return Ok(HttpResponse::Unauthorized()
                    .insert_header(("www-authenticate", "Bearer realm=\"packgate\""))
                    .content_type("text/plain")
                    .body("metrics need a token with the admin scope\n"));
            }
        }
    }
    let mut text = metrics.render();
    if !state.proxies.is_empty() {
        use std::fmt::Write;
        text.push_str("# HELP packgate_proxy_events_total Proxy cache events by repository: hit, miss, stale, revalidation, upstream_error, digest_mismatch.\n");
        text.push_str("# TYPE packgate_proxy_events_total counter\n");
        for p in &state.proxies {
            for (event, n) in p.stats.events() {
                let _ = writeln!(
                    text,
                    "packgate_proxy_events_total{{repo=\"{}\",event=\"{event}\"}} {n}",
                    p.repo
                );
            }
        }
        text.push_str("# HELP packgate_proxy_upstream_backing_off 1 while a proxy skips its failing upstream.\n");
        text.push_str("# TYPE packgate_proxy_upstream_backing_off gauge\n");
        for p in &state.proxies {
            let off = u8::from(p.health().retry_in_secs.is_some());
            let _ = writeln!(
                text,
                "packgate_proxy_upstream_backing_off{{repo=\"{}\"}} {off}",
                p.repo
            );
        }
        text.push_str("# HELP packgate_proxy_pending_writes Fetched documents and files a proxy is still recording.\n");
        text.push_str("# TYPE packgate_proxy_pending_writes gauge\n");
        for p in &state.proxies {
            let _ = writeln!(
                text,
                "packgate_proxy_pending_writes{{repo=\"{}\"}} {}",
                p.repo,
                p.pending_writes()
            );
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text))
}

/// Deletes upload spool files left by a crash (older than an hour: never one in use by a
/// concurrently running upload, which would be far younger).
fn remove_stale_uploads(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let hour = std::time::Duration::from_secs(3600);
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > hour);
        if old && e.file_name().to_string_lossy().starts_with("upload-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
