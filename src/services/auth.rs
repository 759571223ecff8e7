//! Users, tokens and authorization. Passwords are Argon2id hashes; tokens are stored as SHA-256
//! hashes with scopes, an optional repository restriction and an optional expiry.

use super::time::now_millis;
use crate::db::Db;
use crate::db::entity::{token, user};
use crate::error::AppError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};

/// A stored token as the token endpoints list it (the clear token is never stored).
pub type Token = token::Model;

/// What a token or user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read metadata and download files.
    Read,
    /// Publish new versions, change tags and deprecations.
    Publish,
    /// Unpublish, yank, delete.
    Delete,
    /// Manage users and tokens.
    Admin,
}

impl Scope {
    /// Parses `read`, `publish`, `delete` or `admin`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s.trim() {
            "read" => Some(Scope::Read),
            "publish" | "write" => Some(Scope::Publish),
            "delete" | "yank" => Some(Scope::Delete),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Publish => "publish",
            Scope::Delete => "delete",
            Scope::Admin => "admin",
        }
    }
}

/// Parses a comma-separated scope list.
pub fn parse_scopes(s: &str) -> Result<Vec<Scope>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            Scope::parse(p).ok_or_else(|| {
                format!("unknown scope {p:?} (expected read, publish, delete or admin)")
            })
        })
        .collect()
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User id.
    pub user_id: i64,
    /// User name.
    pub user_name: String,
    /// User e-mail.
    pub email: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Repositories the credential is limited to (`None`: all).
    pub repos: Option<Vec<String>>,
    /// The token used, if any.
    pub token_id: Option<i64>,
}

impl Principal {
    /// Whether this credential carries a scope (admin implies every scope).
    pub fn has(&self, s: Scope) -> bool {
        self.scopes.contains(&s) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether this credential may act on a repository.
    pub fn allows_repo(&self, repo: &str) -> bool {
        self.repos
            .as_ref()
            .is_none_or(|r| r.iter().any(|x| x == repo))
    }
}

/// The rights a user has (and a token without `--scope` carries).
pub fn user_scopes(u: &user::Model) -> Vec<Scope> {
    let mut s = vec![Scope::Read, Scope::Publish, Scope::Delete];
    if u.is_admin {
        s.push(Scope::Admin);
    }
    s
}

/// Checks that `who` may perform `action` on `repo` (whose anonymous reads may be allowed).
pub fn authorize(
    who: Option<&Principal>,
    repo: &str,
    anonymous_read: bool,
    action: Scope,
) -> Result<(), AppError> {
    if action == Scope::Read && anonymous_read {
        return Ok(());
    }
    let Some(p) = who else {
        return Err(AppError::Unauthorized(
            "authentication required: this action needs a token".into(),
        ));
    };
    if !p.allows_repo(repo) {
        return Err(AppError::Forbidden(format!(
            "this token is not valid for repository {repo:?}"
        )));
    }
    if !p.has(action) {
        return Err(AppError::Forbidden(format!(
            "this token lacks the {:?} scope needed here",
            action.as_str()
        )));
    }
    Ok(())
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(AppError::internal)?;
    Ok(hex::encode(b))
}

/// Hashes a password with Argon2id and a random salt (off the async threads).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(AppError::internal)?;
        let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(AppError::internal)
    })
    .await?
}

async fn verify_hash(hash: String, password: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(AppError::internal)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// Finds a user by name.
pub async fn find_user(db: &Db, name: &str) -> Result<Option<user::Model>, AppError> {
    Ok(user::Entity::find()
        .filter(user::Column::Name.eq(name))
        .one(&db.conn)
        .await?)
}

/// Creates a user; Conflict if the name is taken.
pub async fn create_user(
    db: &Db,
    name: &str,
    email: Option<&str>,
    password: Option<String>,
    admin: bool,
) -> Result<user::Model, AppError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        return Err(AppError::Invalid(format!(
            "user name {name:?} is invalid: use 1-64 ASCII letters, digits, '-', '_' or '.'"
        )));
    }
    let password_hash = match password {
        Some(p) if p.is_empty() => return Err(AppError::Invalid("the password is empty".into())),
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let _guard = db.write_lock().await;
    let am = user::ActiveModel {
        name: Set(name.to_string()),
        email: Set(email.map(str::to_string)),
        password_hash: Set(password_hash),
        is_admin: Set(admin),
        created_at: Set(now_millis()),
        ..Default::default()
    };
    am.insert(&db.conn)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(format!("user {name:?} already exists")),
            other => other,
        })
}

/// Checks a user's password; `None` when the user is unknown, has no password, or it is wrong.
pub async fn check_password(
    db: &Db,
    name: &str,
    password: &str,
) -> Result<Option<user::Model>, AppError> {
    let Some(u) = find_user(db, name).await? else {
        return Ok(None);
    };
    let Some(hash) = u.password_hash.clone() else {
        return Ok(None);
    };
    Ok(verify_hash(hash, password.to_string()).await?.then_some(u))
}

/// A new token's parameters.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Scopes; empty means all of the user's rights.
    pub scopes: Vec<Scope>,
    /// Repository restriction; empty means all.
    pub repos: Vec<String>,
    /// Expiry (Unix ms).
    pub expires_at: Option<i64>,
    /// A label.
    pub name: Option<String>,
}

/// Creates a token for a user and returns the clear token (shown once) and its row.
pub async fn create_token(
    db: &Db,
    u: &user::Model,
    t: NewToken,
) -> Result<(String, token::Model), AppError> {
    let all = user_scopes(u);
    let scopes = if t.scopes.is_empty() {
        all.clone()
    } else {
        t.scopes
    };
    if let Some(s) = scopes.iter().find(|s| !all.contains(s)) {
        return Err(AppError::Forbidden(format!(
            "user {:?} does not have the {:?} right",
            u.name,
            s.as_str()
        )));
    }
    let clear = format!("pgt_{}", random_hex(20)?);
    let _guard = db.write_lock().await;
    let am = token::ActiveModel {
        user_id: Set(u.id),
        token_hash: Set(hash_token(&clear)),
        prefix: Set(clear[..12].to_string()),
        name: Set(t.name),
        scopes: Set(scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")),
        repositories: Set(if t.repos.is_empty() {
            None
        } else {
            Some(t.repos.join(","))
        }),
        expires_at: Set(t.expires_at),
        created_at: Set(now_millis()),
        ..Default::default()
    };
    let row = am.insert(&db.conn).await?;
    Ok((clear, row))
}

/// Resolves a clear token to its principal; `None` if unknown or expired.
pub async fn principal_for_token(db: &Db, clear: &str) -> Result<Option<Principal>, AppError> {
    let Some(t) = token::Entity::find()
        .filter(token::Column::TokenHash.eq(hash_token(clear)))
        .one(&db.conn)
        .await?
    else {
        return Ok(None);
    };
    if t.expires_at.is_some_and(|e| e <= now_millis()) {
        return Ok(None);
    }
    let Some(u) = user::Entity::find_by_id(t.user_id).one(&db.conn).await? else {
        return Ok(None);
    };
    let scopes = t.scopes.split(',').filter_map(Scope::parse).collect();
    Ok(Some(Principal {
        user_id: u.id,
        user_name: u.name,
        email: u.email,
        scopes,
        repos: t
            .repositories
            .map(|r| r.split(',').map(str::to_string).collect()),
        token_id: Some(t.id),
    }))
}

/// Resolves user + password (or user + token, as npm's Basic auth may send) to a principal.
pub async fn principal_for_basic(
    db: &Db,
    name: &str,
    secret: &str,
) -> Result<Option<Principal>, AppError> {
    if let Some(p) = principal_for_token(db, secret).await? {
        return Ok((p.user_name == name).then_some(p));
    }
    let Some(u) = check_password(db, name, secret).await? else {
        return Ok(None);
    };
    Ok(Some(Principal {
        user_id: u.id,
        scopes: user_scopes(&u),
        user_name: u.name,
        email: u.email,
        repos: None,
        token_id: None,
    }))
}

/// Tokens of one user (or of everyone), oldest first.
pub async fn list_tokens(
    db: &Db,
    user_id: Option<i64>,
) -> Result<Vec<(token::Model, String)>, AppError> {
    let mut q = token::Entity::find().order_by_asc(token::Column::Id);
    if let Some(id) = user_id {
        q = q.filter(token::Column::UserId.eq(id));
    }
    let tokens = q.all(&db.conn).await?;
    let users = user::Entity::find().all(&db.conn).await?;
    Ok(tokens
        .into_iter()
        .map(|t| {
            let name = users
                .iter()
                .find(|u| u.id == t.user_id)
                .map(|u| u.name.clone())
                .unwrap_or_default();
            (t, name)
        })
        .collect())
}

/// Deletes a token by id (limited to one user's tokens when `user_id` is given). Returns whether it existed.
pub async fn revoke_token(db: &Db, id: i64, user_id: Option<i64>) -> Result<bool, AppError> {
    let _guard = db.write_lock().await;
    let mut q = token::Entity::delete_many().filter(token::Column::Id.eq(id));
    if let Some(u) = user_id {
        q = q.filter(token::Column::UserId.eq(u));
    }
    Ok(q.exec(&db.conn).await?.rows_affected > 0)
}

/// Deletes the token whose clear text is given (logout). Returns whether it existed.
pub async fn revoke_clear_token(db: &Db, clear: &str) -> Result<bool, AppError> {
    let _guard = db.write_lock().await;
    let res = token::Entity::delete_many()
        .filter(token::Column::TokenHash.eq(hash_token(clear)))
        .exec(&db.conn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Deletes a user's token whose stored hash starts with `key_prefix` (npm's token key).
pub async fn revoke_by_key(db: &Db, user_id: i64, key_prefix: &str) -> Result<bool, AppError> {
    let tokens = list_tokens(db, Some(user_id)).await?;
    let matches: Vec<_> = tokens
        .iter()
        .filter(|(t, _)| t.token_hash.starts_with(key_prefix))
        .collect();
    match matches.as_slice() {
        [(t, _)] => revoke_token(db, t.id, Some(user_id)).await,
        [] => Ok(false),
        _ => Err(AppError::Invalid(format!(
            "token key prefix {key_prefix:?} is ambiguous"
        ))),
    }
}
