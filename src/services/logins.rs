//! Tokens issued by a client's sign-in (`npm login`, `gem signin`): they expire by default, and a
//! user holds a bounded number of tokens, so repeated sign-ins cannot grow the token table without
//! limit. Tokens an admin creates with `packgate token create` are not limited here.

use super::auth::{self, NewToken};
use super::time::now_millis;
use crate::db::Db;
use crate::db::entity::user;
use crate::error::AppError;

/// How long a sign-in token lives.
pub const LOGIN_TOKEN_TTL_DAYS: i64 = 30;

/// The most tokens one user may hold when signing in again.
pub const MAX_TOKENS_PER_USER: usize = 100;

/// Issues a sign-in token for `u` (all of the user's rights, limited to `repos` when given),
/// expiring after [`LOGIN_TOKEN_TTL_DAYS`]. Expired tokens of the user are removed first; a user
/// who still holds [`MAX_TOKENS_PER_USER`] tokens is refused (403) with what to do.
pub async fn issue(
    db: &Db,
    u: &user::Model,
    label: &str,
    repos: Vec<String>,
) -> Result<String, AppError> {
    let now = now_millis();
    let tokens = auth::list_tokens(db, Some(u.id)).await?;
    let mut live = 0;
    for (t, _) in &tokens {
        if t.expires_at.is_some_and(|e| e <= now) {
            auth::revoke_token(db, t.id, Some(u.id)).await?;
        } else {
            live += 1;
        }
    }
    if live >= MAX_TOKENS_PER_USER {
        return Err(AppError::Forbidden(format!(
            "user {} already holds {live} tokens; revoke some (`npm token revoke`, `packgate token revoke`) before signing in again",
            u.name
        )));
    }
    let t = NewToken {
        name: Some(label.to_string()),
        repos,
        expires_at: Some(now + LOGIN_TOKEN_TTL_DAYS * 86_400_000),
        ..Default::default()
    };
    let (token, _) = auth::create_token(db, u, t).await?;
    Ok(token)
}
