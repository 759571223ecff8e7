//! Login (classic CouchDB-style), logout, whoami and `npm token list|create|revoke`.

use super::{Body, Ctx, json, not_found};
use crate::error::AppError;
use crate::services::auth::{self, NewToken, Principal, Scope};
use crate::services::logins;
use crate::services::time::{iso8601, now_millis};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

async fn small_json(ctx: &Ctx<'_>, body: Body) -> Result<Value, AppError> {
    let spooled = ctx.state.spool.body(body, 1024 * 1024).await?;
    let text = std::fs::read(spooled.path())?;
    serde_json::from_slice(&text)
        .map_err(|e| AppError::Invalid(format!("the request body is not valid JSON: {e}")))
}

/// `POST /-/v1/login`: web login is not offered; any 4xx makes npm fall back to username/password.
pub async fn web_login(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("login");
    Err(AppError::NotFound(
        "web login is not supported by this registry; use username and password".into(),
    ))
}

/// `PUT /-/user/org.couchdb.user:{name}`: check the password and issue a token (201).
pub async fn login(ctx: &Ctx<'_>, name: &str, body: Body) -> Result<HttpResponse, AppError> {
    ctx.label("login");
    let doc = small_json(ctx, body).await?;
    let user_name = doc.get("name").and_then(Value::as_str).unwrap_or(name);
    let password = doc.get("password").and_then(Value::as_str).unwrap_or("");
    let Some(user) = auth::check_password_from(
        &ctx.state.db,
        crate::routes::common::auth::client_address(ctx.req, ctx.state),
        user_name,
        password,
    )
    .await?
    else {
        return Err(AppError::Unauthorized(
            "incorrect username or password (accounts are created by an administrator)".into(),
        ));
    };
    let token = logins::issue(&ctx.state.db, &user, "npm login", vec![]).await?;
    Ok(json(
        StatusCode::CREATED,
        json!({"ok": true, "id": format!("org.couchdb.user:{}", user.name), "rev": "_we_dont_use_revs_any_more", "token": token}),
    ))
}

/// `GET /-/user/org.couchdb.user:{name}`: the public part of a user document.
pub async fn get_user(ctx: &Ctx<'_>, name: &str) -> Result<HttpResponse, AppError> {
    ctx.label("user");
    ctx.require(Scope::Read).await?;
    let user = auth::find_user(&ctx.state.db, name)
        .await?
        .ok_or_else(not_found)?;
    Ok(json(
        StatusCode::OK,
        json!({"_id": format!("org.couchdb.user:{}", user.name), "name": user.name, "email": user.email}),
    ))
}

/// `DELETE /-/user/token/{token}`: logout revokes the token.
pub async fn logout(ctx: &Ctx<'_>, token: &str) -> Result<HttpResponse, AppError> {
    ctx.label("logout");
    let who = ctx.principal().await?;
    let Some(who) = who else {
        return Err(AppError::Unauthorized("authentication required".into()));
    };
    let own = auth::principal_for_token(&ctx.state.db, token).await?;
    if own.as_ref().is_none_or(|p| p.user_id != who.user_id) {
        return Err(not_found());
    }
    auth::revoke_clear_token(&ctx.state.db, token).await?;
    Ok(json(StatusCode::OK, json!({"ok": true})))
}

/// `GET /-/whoami`.
pub async fn whoami(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("whoami");
    let who = ctx
        .principal()
        .await?
        .ok_or_else(|| AppError::Unauthorized("authentication required".into()))?;
    Ok(json(StatusCode::OK, json!({"username": who.user_name})))
}

fn token_object(t: &auth::Token) -> Value {
    json!({
        "key": t.token_hash,
        "token": t.prefix,
        "created": iso8601(t.created_at),
        "updated": iso8601(t.created_at),
        "readonly": t.scopes == "read",
        "cidr_whitelist": null,
        "name": t.name.clone().unwrap_or_default(),
        "expires": t.expires_at.map(iso8601),
    })
}

/// Token management needs full rights: a password, or a token with every right of its user
/// (read, publish and delete) for every repository. A read-only token, or one limited to some
/// repositories, must not list or revoke the user's other tokens.
fn require_full_rights(who: &Principal) -> Result<(), AppError> {
    let full = who.token_id.is_none()
        || (who.has(Scope::Read)
            && who.has(Scope::Publish)
            && who.has(Scope::Delete)
            && who.repos.is_none());
    if full {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "managing tokens needs your password or a token with full rights (read, publish and delete, for every repository)".into(),
        ))
    }
}

/// `GET /-/npm/v1/tokens`: the caller's tokens (one page; `urls` must be present).
pub async fn list_tokens(ctx: &Ctx<'_>) -> Result<HttpResponse, AppError> {
    ctx.label("tokens");
    let who = ctx
        .principal()
        .await?
        .ok_or_else(|| AppError::Unauthorized("authentication required".into()))?;
    require_full_rights(&who)?;
    let tokens = auth::list_tokens(&ctx.state.db, Some(who.user_id)).await?;
    let objects: Vec<Value> = tokens.iter().map(|(t, _)| token_object(t)).collect();
    Ok(json(
        StatusCode::OK,
        json!({"objects": objects, "total": objects.len(), "urls": {}}),
    ))
}

/// `POST /-/npm/v1/tokens`: a new token after re-checking the password.
pub async fn create_token(ctx: &Ctx<'_>, body: Body) -> Result<HttpResponse, AppError> {
    ctx.label("tokens");
    let who = ctx
        .principal()
        .await?
        .ok_or_else(|| AppError::Unauthorized("authentication required".into()))?;
    require_full_rights(&who)?;
    let doc = small_json(ctx, body).await?;
    let password = doc.get("password").and_then(Value::as_str).unwrap_or("");
    let Some(user) = auth::check_password_from(
        &ctx.state.db,
        crate::routes::common::auth::client_address(ctx.req, ctx.state),
        &who.user_name,
        password,
    )
    .await?
    else {
        return Err(AppError::Unauthorized("incorrect password".into()));
    };
    let readonly = doc
        .get("readonly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let scopes = if readonly { vec![Scope::Read] } else { vec![] };
    let expires_at = doc
        .get("expires")
        .and_then(Value::as_i64)
        .filter(|d| *d > 0)
        .map(|d| now_millis() + d * 86_400_000);
    let name = doc.get("name").and_then(Value::as_str).map(str::to_string);
    let (clear, row) = auth::create_token(
        &ctx.state.db,
        &user,
        NewToken {
            scopes,
            repos: vec![],
            expires_at,
            name,
        },
    )
    .await?;
    let mut obj = token_object(&row);
    obj["token"] = Value::String(clear);
    Ok(json(StatusCode::OK, obj))
}

/// `DELETE /-/npm/v1/tokens/token/{key}`.
pub async fn revoke_token(ctx: &Ctx<'_>, key: &str) -> Result<HttpResponse, AppError> {
    ctx.label("tokens");
    let who = ctx
        .principal()
        .await?
        .ok_or_else(|| AppError::Unauthorized("authentication required".into()))?;
    require_full_rights(&who)?;
    if key.is_empty() || !auth::revoke_by_key(&ctx.state.db, who.user_id, key).await? {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}
