//! Single flight: concurrent callers asking for the same key share one upstream exchange. The
//! exchange runs as its own task, so a caller that goes away does not cancel it for the others,
//! and the key is released when it ends (the next caller starts a new one).

use crate::error::AppError;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// A failure shared by every caller of one flight (an [`AppError`] is not `Clone`).
#[derive(Debug, Clone)]
pub struct Failure {
    status: u16,
    message: String,
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        let status = e.status().as_u16();
        let message = match e.kind() {
            // Keep internal details out of the shared message; they are logged where they happen.
            AppError::Internal(m) => {
                tracing::error!(error = %m, "proxy fetch failed");
                "internal error while fetching from the upstream".to_string()
            }
            other => other.to_string(),
        };
        Failure { status, message }
    }
}

impl From<Failure> for AppError {
    fn from(f: Failure) -> Self {
        match f.status {
            404 => AppError::NotFound(f.message),
            403 => AppError::Forbidden(f.message),
            413 => AppError::TooLarge(f.message),
            503 => AppError::UpstreamDown(f.message),
            504 => AppError::UpstreamTimeout(f.message),
            507 => AppError::StorageFull(f.message),
            500 => AppError::Internal(f.message),
            _ => AppError::Upstream(f.message),
        }
    }
}

type Flight<T> = Shared<BoxFuture<'static, Result<T, Failure>>>;

/// The flights in progress, by key.
pub struct Flights<T> {
    map: Arc<Mutex<HashMap<String, Flight<T>>>>,
}

impl<T> Default for Flights<T> {
    fn default() -> Self {
        Flights {
            map: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Flights<T> {
    /// Joins the flight for `key`, or starts one running `start()`.
    pub async fn run<F>(&self, key: &str, start: impl FnOnce() -> F) -> Result<T, AppError>
    where
        F: Future<Output = Result<T, AppError>> + Send + 'static,
    {
        let flight = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(key) {
                Some(f) => f.clone(),
                None => {
                    let work = start();
                    let release = (self.map.clone(), key.to_string());
                    let task = tokio::spawn(async move {
                        let out = work.await.map_err(Failure::from);
                        release
                            .0
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&release.1);
                        out
                    });
                    let f: Flight<T> = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(Failure::from(AppError::internal(format!(
                                "proxy fetch task failed: {e}"
                            ))))
                        })
                    }
                    .boxed()
                    .shared();
                    map.insert(key.to_string(), f.clone());
                    f
                }
            }
        };
        flight.await.map_err(AppError::from)
    }
}
