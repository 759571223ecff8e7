//! The one trait a format implements to plug into the server, and the error wrapper that lets each
//! format choose its own error body while sharing the status mapping.

use crate::error::AppError;
use actix_web::{HttpResponse, ResponseError, http::StatusCode, web};
use serde::Deserialize;
use std::marker::PhantomData;

/// The wire formats this build serves: the one list (configuration deserializes it, the server
/// picks each repository's module by an exhaustive match in `routes::module`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// npm registry (`npm`, `yarn`, `pnpm`).
    Npm,
    /// Cargo sparse registry.
    Cargo,
    /// RubyGems (`gem`, `bundle`).
    Rubygems,
    /// NuGet v3 (`nuget`, `dotnet`).
    Nuget,
}

impl Format {
    /// Every format, in the order the default repositories are declared.
    pub const ALL: [Format; 4] = [Format::Npm, Format::Cargo, Format::Rubygems, Format::Nuget];

    /// The name used in configuration and stored in `packages.format`.
    pub fn id(self) -> &'static str {
        match self {
            Format::Npm => "npm",
            Format::Cargo => "cargo",
            Format::Rubygems => "rubygems",
            Format::Nuget => "nuget",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// A wire format served under `{base}/{repo}/` for each repository of that format.
pub trait FormatModule: Send + Sync + 'static {
    /// The format this module serves.
    fn format(&self) -> Format;
    /// Registers the format's routes inside the repository's scope.
    fn routes(&self, cfg: &mut web::ServiceConfig);
    /// The lookup key of a package name in this ecosystem (case folding, separators), for callers
    /// outside the format's routes (`packgate owner`).
    fn normalize_name(&self, name: &str) -> String;
    /// Whether [`FormatModule::routes`] serve `type = "proxy"` repositories (a repository's
    /// `RepoCtx::proxy` tells the routes which kind they serve).
    fn supports_proxy(&self) -> bool {
        false
    }
    /// What the format's group routes explain, when [`FormatModule::routes`] serve
    /// `type = "group"` repositories (`RepoCtx::group`); `None` when they do not.
    fn group_explainer(&self) -> Option<Explainer> {
        None
    }
}

/// For `GET /-/api/explain/{group}/{name}`: the plan, the members' answers and the supplier of
/// each version of `name` in the group of the context.
pub type Explainer = for<'a> fn(
    &'a crate::routes::common::ctx::Ctx<'a>,
    &'a str,
) -> futures_util::future::LocalBoxFuture<
    'a,
    Result<crate::routes::common::explain::Explained, AppError>,
>;

/// How a format renders an error body for a status and a message.
pub trait ErrorFormat: 'static {
    /// The native error response.
    fn render(status: StatusCode, message: &str) -> HttpResponse;
    /// The reason phrase of an error that was given none (`None`: the status's standard phrase).
    fn reason(_status: StatusCode) -> Option<&'static str> {
        None
    }
}

/// An [`AppError`] rendered in format `F`'s native error shape.
pub struct ApiError<F: ErrorFormat> {
    /// The underlying error.
    pub error: AppError,
    _format: PhantomData<F>,
}

impl<F: ErrorFormat> std::fmt::Debug for ApiError<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<F: ErrorFormat> std::fmt::Display for ApiError<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<F: ErrorFormat, E: Into<AppError>> From<E> for ApiError<F> {
    fn from(e: E) -> Self {
        ApiError {
            error: e.into(),
            _format: PhantomData,
        }
    }
}

impl<F: ErrorFormat> ResponseError for ApiError<F> {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.error.status();
        let mut res = F::render(status, &self.error.public_message());
        if let Some(reason) = self.error.reason().or_else(|| F::reason(status)) {
            res.head_mut().reason = Some(reason);
        }
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = self.error.kind()
        {
            // Every format's 429 says when to come back.
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(*retry_after_secs),
            );
        }
        res
    }
}
