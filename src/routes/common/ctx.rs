//! The context every format handler works in: the request, the server state and the repository,
//! with authentication and authorization shortcuts.

use crate::error::AppError;
use crate::services::auth::{Principal, Scope, authorize};
use crate::services::publish::Writer;
use crate::state::{AppState, RepoCtx};
use actix_web::HttpRequest;

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
            &self.repo.name,
            self.repo.anonymous_read,
            action,
        )?;
        Ok(who)
    }

    /// Like [`Ctx::allow`] for actions that always need a principal.
    pub async fn require(&self, action: Scope) -> Result<Principal, AppError> {
        let who = self.principal().await?;
        authorize(who.as_ref(), &self.repo.name, false, action)?;
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
