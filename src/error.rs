//! The one application error, its status mapping, and the conversions from lower layers.
//!
//! The status is shared by every format; the body is chosen by the format (see `format::ApiError`).

use actix_web::http::StatusCode;
use sea_orm::{DbErr, SqlErr};

/// Implements `From<codec error> for AppError` as [`AppError::Invalid`] (400) for the listed
/// codec error types, so a bad upload is never a 500.
#[macro_export]
macro_rules! invalid_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for $crate::error::AppError {
            fn from(e: $t) -> Self {
                $crate::error::AppError::Invalid(e.to_string())
            }
        }
    )*};
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input (400).
    #[error("{0}")]
    Invalid(String),
    /// Missing or bad credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (404).
    #[error("{0}")]
    NotFound(String),
    /// The operation does not apply to this repository (405): publishing to a proxy.
    #[error("{0}")]
    NotAllowed(String),
    /// Already exists / state conflict (409; npm maps duplicates to 403 itself).
    #[error("{0}")]
    Conflict(String),
    /// The request body stalled (408).
    #[error("{0}")]
    Timeout(String),
    /// Body over the size limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// Too many failed attempts (429); answered with `Retry-After: retry_after_secs`.
    #[error("{message}")]
    TooManyRequests {
        /// What the client may see.
        message: String,
        /// Seconds until the client may try again (at least 1).
        retry_after_secs: u64,
    },
    /// An upstream failed (502).
    #[error("{0}")]
    Upstream(String),
    /// An upstream did not answer in time (504).
    #[error("{0}")]
    UpstreamTimeout(String),
    /// A proxy cannot reach its upstream now: offline, or backing off after failures (503, with
    /// a message the client sees).
    #[error("{0}")]
    UpstreamDown(String),
    /// Database or store unreachable (503).
    #[error("{0}")]
    Unavailable(String),
    /// The disk or quota holding uploads or blobs is full (507); the detail is logged, not sent.
    #[error("{0}")]
    StorageFull(String),
    /// A bug or an unexpected failure (500); the message is logged, never sent.
    #[error("{0}")]
    Internal(String),
    /// Another error with a fixed HTTP reason phrase for clients that print only the status line
    /// (NuGet). Status and message are the inner error's.
    #[error("{1}")]
    WithReason(&'static str, Box<AppError>),
}

impl AppError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::NotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
            AppError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            AppError::UpstreamDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::WithReason(_, inner) => inner.status(),
        }
    }

    /// This error with a fixed reason phrase (replacing one it had).
    pub fn with_reason(self, reason: &'static str) -> AppError {
        match self {
            AppError::WithReason(_, inner) => AppError::WithReason(reason, inner),
            other => AppError::WithReason(reason, Box::new(other)),
        }
    }

    /// The fixed reason phrase, if one was given.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            AppError::WithReason(reason, _) => Some(reason),
            _ => None,
        }
    }

    /// The error without its reason phrase (to match on its kind).
    pub fn kind(&self) -> &AppError {
        match self {
            AppError::WithReason(_, inner) => inner.kind(),
            other => other,
        }
    }

    /// The text a client may see. Internal errors are logged here, once, with the request id, and
    /// replaced by a generic text carrying that id.
    pub fn public_message(&self) -> String {
        match self {
            AppError::WithReason(_, inner) => inner.public_message(),
            AppError::StorageFull(msg) => {
                let id = crate::observe::current_request_id().unwrap_or_default();
                tracing::error!(request.id = %id, error = %msg, "storage is full");
                format!(
                    "the server's storage is full: nothing was stored; try again once an administrator has freed space (request id {id})"
                )
            }
            AppError::Internal(msg) | AppError::Unavailable(msg) => {
                let id = crate::observe::current_request_id().unwrap_or_default();
                tracing::error!(request.id = %id, error = %msg, "request failed");
                if matches!(self, AppError::Internal(_)) {
                    format!("internal server error (request id {id})")
                } else {
                    format!("service temporarily unavailable (request id {id})")
                }
            }
            other => other.to_string(),
        }
    }

    /// Shorthand for an internal error from anything displayable.
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(m)) = e.sql_err() {
            return AppError::Conflict(m);
        }
        match e {
            DbErr::RecordNotFound(m) => AppError::NotFound(m),
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => AppError::Unavailable(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound => AppError::Internal(
                "blob referenced by the database is missing from the store".into(),
            ),
            crate::store::StoreError::Full(m) => AppError::StorageFull(m),
            crate::store::StoreError::Io(m) => AppError::Unavailable(m),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                AppError::StorageFull(e.to_string())
            }
            _ => AppError::Internal(e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_507_and_says_storage_is_full() {
        for kind in [
            std::io::ErrorKind::StorageFull,
            std::io::ErrorKind::QuotaExceeded,
        ] {
            let e: AppError = std::io::Error::from(kind).into();
            assert_eq!(e.status(), StatusCode::INSUFFICIENT_STORAGE, "{kind:?}");
            assert!(e.public_message().contains("storage is full"), "{kind:?}");
            let e: AppError = crate::store::StoreError::from(std::io::Error::from(kind)).into();
            assert_eq!(e.status(), StatusCode::INSUFFICIENT_STORAGE, "{kind:?}");
        }
        let other: AppError = std::io::Error::other("boom").into();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_reason_phrase_keeps_the_status_and_message_of_the_error() {
        let e = AppError::Conflict("exists".into()).with_reason("Already there");
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.reason(), Some("Already there"));
        assert_eq!(e.public_message(), "exists");
        let e = e.with_reason("Replaced");
        assert_eq!(e.reason(), Some("Replaced"));
        assert!(matches!(e.kind(), AppError::Conflict(_)));
    }

    #[test]
    fn too_many_requests_is_429_and_says_when_to_retry() {
        let e = AppError::TooManyRequests {
            message: "slow down".into(),
            retry_after_secs: 42,
        }
        .with_reason("Too many");
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.public_message(), "slow down");
        assert!(matches!(
            e.kind(),
            AppError::TooManyRequests {
                retry_after_secs: 42,
                ..
            }
        ));
    }
}
