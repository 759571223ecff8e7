//! The context every format handler works in: the request, the server state and the repository,
//! with authentication and authorization shortcuts.

use crate::error::AppError;
use crate::services::auth::{Principal, Scope, authorize};
use crate::services::publish::Writer;
use crate::state::{AppState, RepoCtx};
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::{FromRequest, web};
use std::future::{Ready, ready};

/// A request inside one repository.
pub struct Ctx<'a> {
    /// The request.
    pub req: &'a HttpRequest,
    /// Server state.
    pub state: &'a AppState,
    /// The repository the request is for.
    pub repo: &'a RepoCtx,
}

impl<'a> Ctx<'a> {
    /// Bundles the three.
    pub fn new(req: &'a HttpRequest, state: &'a AppState, repo: &'a RepoCtx) -> Self {
        Ctx { req, state, repo }
    }

    /// The authenticated caller, if any (present but wrong credentials are a 401).
    pub async fn principal(&self) -> Result<Option<Principal>, AppError> {
        super::auth::principal(self.req, self.state).await
    }

    /// Authenticates and authorizes `action`; returns the principal (None only for anonymous reads).
    pub async fn allow(&self, action: Scope) -> Result<Option<Principal>, AppError> {
        let who = self.principal().await?;
        authorize(
            who.as_ref(),
            self.repo.access_name(),
            self.repo.anonymous_read,
            action,
        )?;
        Ok(who)
    }

    /// Like [`Ctx::allow`] for actions that always need a principal.
    pub async fn require(&self, action: Scope) -> Result<Principal, AppError> {
        let who = self.principal().await?;
        authorize(who.as_ref(), self.repo.access_name(), false, action)?;
        who.ok_or_else(|| AppError::Unauthorized("authentication required".into()))
    }

    /// The write path (`services::publish`) for `who` in this repository.
    pub fn writer<'w>(&'w self, who: &'w Principal) -> Writer<'w> {
        Writer {
            db: &self.state.db,
            store: self.state.store.as_ref(),
            metrics: self
                .req
                .app_data::<actix_web::web::Data<crate::observe::Metrics>>()
                .map(|m| m.get_ref()),
            repo: &self.repo.name,
            format: self.repo.format,
            who,
        }
    }

    /// `{base}/{repo}`: the repository's URL as clients are configured with it.
    pub fn repo_url(&self) -> String {
        format!("{}/{}", self.state.base_url(self.req), self.repo.name)
    }

    /// Labels the request's route for metrics and logs.
    pub fn label(&self, route: &'static str) {
        crate::observe::label(self.req, route);
    }
}

/// The extractor every format handler takes: the request with the server state and its
/// repository (`async fn handler(r: RepoRequest, ...)`, then `let ctx = r.ctx();`).
pub struct RepoRequest {
    req: HttpRequest,
    state: web::Data<AppState>,
    repo: web::Data<RepoCtx>,
}

impl RepoRequest {
    /// The handler context.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx::new(&self.req, &self.state, &self.repo)
    }
}

impl FromRequest for RepoRequest {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let repo = req.app_data::<web::Data<RepoCtx>>().cloned();
        ready(match (state, repo) {
            (Some(state), Some(repo)) => Ok(RepoRequest {
                req: req.clone(),
                state,
                repo,
            }),
            // Only routes mounted inside a repository scope take this extractor.
            _ => Err(actix_web::error::ErrorInternalServerError(
                "route outside a repository scope",
            )),
        })
    }
}

/// Registers `handler` for GET and HEAD on `path` (every read answers HEAD with the same headers).
pub fn get_head<F, Args>(cfg: &mut web::ServiceConfig, path: &str, handler: F)
where
    F: actix_web::Handler<Args> + Clone,
    Args: FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    cfg.route(path, web::get().to(handler.clone()))
        .route(path, web::head().to(handler));
}
