//! Reads the caller's credentials from `Authorization` (`Bearer <token>`, `Basic user:secret`, or a
//! raw token as cargo and gem send it) and resolves them to a principal.

use crate::error::AppError;
use crate::services::auth::{self, Principal};
use crate::state::AppState;
use actix_web::HttpRequest;
use base64::Engine;

/// The credential in the request, if any, as sent.
pub enum Credential {
    /// A token (Bearer or raw).
    Token(String),
    /// Basic user and secret.
    Basic(String, String),
}

/// Parses the `Authorization` header.
pub fn credential(req: &HttpRequest) -> Result<Option<Credential>, AppError> {
    let Some(v) = req.headers().get("authorization") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| AppError::Unauthorized("malformed Authorization header".into()))?
        .trim();
    if v.is_empty() {
        return Ok(None);
    }
    let (scheme, rest) = v.split_once(' ').unwrap_or(("", v));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Credential::Token(rest.trim().to_string())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| AppError::Unauthorized("malformed Basic credentials".into()))?;
        let text = String::from_utf8(raw)
            .map_err(|_| AppError::Unauthorized("malformed Basic credentials".into()))?;
        let (u, p) = text.split_once(':').unwrap_or((text.as_str(), ""));
        if u.is_empty() && p.is_empty() {
            // NuGet.exe answers a 401 challenge with `Basic Og==` (":") when it has no
            // credentials: that is no credential, not a wrong one.
            return Ok(None);
        }
        return Ok(Some(Credential::Basic(u.to_string(), p.to_string())));
    }
    Ok(Some(Credential::Token(v.to_string())))
}

/// The authenticated caller; a credential that is present but wrong is a 401, never "anonymous".
pub async fn principal(req: &HttpRequest, state: &AppState) -> Result<Option<Principal>, AppError> {
    let found = match credential(req)? {
        None => return Ok(None),
        Some(Credential::Token(t)) => auth::principal_for_token(&state.db, &t).await?,
        Some(Credential::Basic(u, p)) => auth::principal_for_basic(&state.db, &u, &p).await?,
    };
    match found {
        Some(p) => Ok(Some(p)),
        None => Err(AppError::Unauthorized(
            "bad credentials: the token is unknown, revoked or expired".into(),
        )),
    }
}
