//! The management API under `{base}/api/` (JSON, every format). For now: package owners, the
//! API behind `packgate owner` for formats whose client has no owner command (NuGet) and for
//! scripts. `GET /api/owners?repo=R&package=P` lists; `PUT` adds and `DELETE` removes the user in
//! `&user=U`. Reads need read access to the repository; changes need an owner of the package or
//! an admin (a token with the publish scope for that repository).
//!
//! Proxy caches (admin scope): `GET /api/proxies` shows each proxy's upstream state and counters;
//! `POST /api/proxies/purge?repo=R[&package=P][&files=true]` forgets cached metadata (all, or one
//! package's) and, with `files=true`, the cached files too (as `packgate cache purge --files`).

use crate::error::AppError;
use crate::format::{ApiError, ErrorFormat};
use crate::routes::common::auth::principal;
use crate::services::auth::{Scope, authorize};
use crate::services::{owners, packages};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

/// The management API's error body: `{"error": "..."}`.
pub struct Api;

impl ErrorFormat for Api {
    fn render(status: StatusCode, message: &str) -> HttpResponse {
        HttpResponse::build(status).json(json!({ "error": message }))
    }
}

type ApiResult = Result<HttpResponse, ApiError<Api>>;

/// Registers the routes inside the `/api` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/owners", web::get().to(list))
        .route("/owners", web::put().to(add))
        .route("/owners", web::delete().to(remove))
        .route("/proxies", web::get().to(proxies))
        .route("/proxies/purge", web::post().to(purge));
}

/// The caller, who must hold the admin scope.
async fn admin(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    match principal(req, state).await? {
        Some(p) if p.has(Scope::Admin) => Ok(()),
        Some(_) => Err(AppError::Forbidden(
            "this needs a token with the admin scope".into(),
        )),
        None => Err(AppError::Unauthorized(
            "authentication required: this needs a token with the admin scope".into(),
        )),
    }
}

async fn proxies(req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    crate::observe::label(&req, "api_proxies");
    admin(&req, &state).await?;
    let list: Vec<serde_json::Value> = state
        .proxies
        .iter()
        .map(|p| {
            let events: serde_json::Map<String, serde_json::Value> = p
                .stats
                .events()
                .iter()
                .map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect();
            json!({
                "repo": p.repo,
                "format": p.format.id(),
                "upstream": p.settings.upstream.as_str(),
                "offline": p.settings.offline,
                "health": p.health(),
                "events": events,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "proxies": list })))
}

async fn purge(req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    crate::observe::label(&req, "api_proxies_purge");
    admin(&req, &state).await?;
    let q = crate::routes::common::query::pairs(req.query_string());
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let repo = get("repo").ok_or_else(|| AppError::Invalid("the query needs repo=".into()))?;
    let proxy = state
        .proxies
        .iter()
        .find(|p| p.repo == repo)
        .ok_or_else(|| AppError::NotFound(format!("no proxy repository {repo:?}")))?;
    let package = get("package").map(|p| crate::routes::module(proxy.format).normalize_name(&p));
    let removed = proxy.purge(&state.db, package.as_deref()).await?;
    let files = get("files").is_some_and(|v| v == "true");
    let forgotten = if files {
        crate::services::proxy::purge_files(&state.db, &repo, package.as_deref()).await?
    } else {
        0
    };
    tracing::info!(repo.name = %repo, package = ?package, documents = removed, packages_with_files = forgotten, "proxy cache purged");
    Ok(HttpResponse::Ok().json(json!({
        "repo": repo,
        "package": package,
        "purged_documents": removed,
        "purged_file_packages": forgotten,
    })))
}

struct Target {
    repo: String,
    package: packages::Package,
    user: Option<String>,
}

/// The repository and package named by the query, after checking `action` on the repository.
async fn target(
    req: &HttpRequest,
    state: &AppState,
    action: Scope,
) -> Result<(Target, Option<crate::services::auth::Principal>), AppError> {
    let q = crate::routes::common::query::pairs(req.query_string());
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let repo_name = get("repo").ok_or_else(|| AppError::Invalid("the query needs repo=".into()))?;
    let name =
        get("package").ok_or_else(|| AppError::Invalid("the query needs package=".into()))?;
    let repo = state
        .config
        .repository
        .iter()
        .find(|r| r.name == repo_name)
        .ok_or_else(|| AppError::NotFound(format!("no repository {repo_name:?}")))?;
    let who = principal(req, state).await?;
    authorize(who.as_ref(), &repo.name, repo.anonymous_read, action)?;
    let normalized = crate::routes::module(repo.format).normalize_name(&name);
    let package = packages::find(&state.db, &repo.name, &normalized)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no package {name:?} in {repo_name:?}")))?;
    Ok((
        Target {
            repo: repo.name.clone(),
            package,
            user: get("user"),
        },
        who,
    ))
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    crate::observe::label(&req, "api_owners");
    let (t, _) = target(&req, &state, Scope::Read).await?;
    let current = packages::owners(&state.db, t.package.id).await?;
    let logins: Vec<&str> = current.iter().map(|(_, l)| l.as_str()).collect();
    Ok(HttpResponse::Ok()
        .json(json!({"repo": t.repo, "package": t.package.name, "owners": logins})))
}

async fn change(req: HttpRequest, state: web::Data<AppState>, add: bool) -> ApiResult {
    crate::observe::label(&req, "api_owners");
    let (t, who) = target(&req, &state, Scope::Publish).await?;
    let who = who.ok_or_else(|| AppError::Unauthorized("authentication required".into()))?;
    let login = t
        .user
        .ok_or_else(|| AppError::Invalid("the query needs user=".into()))?;
    let current = packages::owners(&state.db, t.package.id).await?;
    owners::require(&who, &current, &t.package.name, |p| {
        AppError::Forbidden(format!(
            "user {} is not an owner of {p}; an owner or an admin can change its owners",
            who.user_name
        ))
    })?;
    let user = owners::find_user(&state.db, &login)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user {login:?}")))?;
    let now = owners::change_one(&state.db, t.package.id, &current, &user, add).await?;
    let logins: Vec<&str> = now.iter().map(|(_, l)| l.as_str()).collect();
    Ok(HttpResponse::Ok()
        .json(json!({"repo": t.repo, "package": t.package.name, "owners": logins})))
}

async fn add(req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    change(req, state, true).await
}

async fn remove(req: HttpRequest, state: web::Data<AppState>) -> ApiResult {
    change(req, state, false).await
}
