//! The one trait a format implements to plug into the server, and the error wrapper that lets each
//! format choose its own error body while sharing the status mapping.

use crate::error::AppError;
use actix_web::{HttpResponse, ResponseError, http::StatusCode, web};
use std::marker::PhantomData;

/// A wire format served under `{base}/{repo}/` for each repository of that format.
pub trait FormatModule: Send + Sync + 'static {
    /// The name used in configuration (`format = "npm"`) and stored in `packages.format`.
    fn id(&self) -> &'static str;
    /// Registers the format's routes inside the repository's scope.
    fn routes(&self, cfg: &mut web::ServiceConfig);
    /// The lookup key of a package name (case folding, separators) in this ecosystem.
    fn normalize_name(&self, name: &str) -> String;
    /// The lookup key of a version (two versions with one key are the same version).
    fn normalize_version(&self, version: &str) -> String;
}

/// How a format renders an error body for a status and a message.
pub trait ErrorFormat: 'static {
    /// The native error response.
    fn render(status: StatusCode, message: &str) -> HttpResponse;
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
        F::render(self.error.status(), &self.error.public_message())
    }
}
