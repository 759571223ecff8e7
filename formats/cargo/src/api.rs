//! Web API bodies: errors, `config.json`, search results, owners, publish, yank and unyank
//! answers.
//!
//! Follows the Cargo registry protocol reference §2 (`config.json`), §5.3 (publish response),
//! §6 (yank, owners, search) and §8 (errors), including §12 pitfalls 11 (`ok: true`, `msg`) and
//! 15 (`dl` without a trailing slash). See `docs/formats/cargo.md`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::publish::PublishError;

/// `{"errors":[{"detail": msg}]}`: cargo prints `detail` for any status (protocol §8).
pub fn error_body(msg: &str) -> Vec<u8> {
    bytes(json!({ "errors": [{ "detail": msg }] }))
}

/// config.json: `{"dl": "{api}/api/v1/crates", "api": api, "auth-required": bool}`.
///
/// Trailing slashes of `api` are dropped: cargo appends `/api/v1/...` to `api` and
/// `/{crate}/{version}/download` to a marker-less `dl`, so a slash would double (§12 pitfall 15).
pub fn config_json(api: &str, auth_required: bool) -> Vec<u8> {
    let api = api.trim_end_matches('/');
    bytes(json!({
        "dl": format!("{api}/api/v1/crates"),
        "api": api,
        "auth-required": auth_required,
    }))
}

/// One crate in a search result (protocol §6 "Search").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// Crate name.
    pub name: String,
    /// Highest version, shown by `cargo search` as `name = "max_version"`.
    pub max_version: String,
    /// Description, or `null`.
    pub description: Option<String>,
}

/// `{"crates":[{name,max_version,description}],"meta":{"total":n}}`.
pub fn render_search(hits: &[SearchHit], total: u64) -> Vec<u8> {
    let crates: Vec<Value> = hits
        .iter()
        .map(|h| {
            json!({
                "name": h.name,
                "max_version": h.max_version,
                "description": h.description,
            })
        })
        .collect();
    bytes(json!({ "crates": crates, "meta": { "total": total } }))
}

/// `{"users":[{"id":id,"login":login,"name":null}]}` for `(id, login)` pairs; cargo needs
/// `id` and `login` and prints `login (name)` only when `name` is set.
pub fn render_owners(owners: &[(u32, String)]) -> Vec<u8> {
    let users: Vec<Value> = owners
        .iter()
        .map(|(id, login)| json!({ "id": id, "login": login, "name": null }))
        .collect();
    bytes(json!({ "users": users }))
}

/// Most logins one `cargo owner --add/--remove` request may name.
pub const MAX_OWNERS_PER_REQUEST: usize = 20;

/// The owners add/remove body `{"users":["bob"]}` -> logins. Refuses an empty list and empty
/// logins.
pub fn parse_owner_request(body: &[u8]) -> Result<Vec<String>, PublishError> {
    #[derive(Deserialize)]
    struct OwnerRequest {
        users: Vec<String>,
    }
    let req: OwnerRequest =
        serde_json::from_slice(body).map_err(|e| PublishError::BadOwnerRequest(e.to_string()))?;
    if req.users.is_empty() {
        return Err(PublishError::BadOwnerRequest("no users given".to_owned()));
    }
    if req.users.iter().any(|u| u.trim().is_empty()) {
        return Err(PublishError::BadOwnerRequest("empty login".to_owned()));
    }
    if req.users.len() > MAX_OWNERS_PER_REQUEST {
        return Err(PublishError::BadOwnerRequest(format!(
            "at most {MAX_OWNERS_PER_REQUEST} users per request"
        )));
    }
    if req.users.iter().any(|u| u.len() > 128) {
        return Err(PublishError::BadOwnerRequest(
            "a login is at most 128 bytes".to_owned(),
        ));
    }
    Ok(req.users)
}

/// The publish success body
/// `{"warnings":{"invalid_categories":[],"invalid_badges":[],"other":[...]}}`; cargo prints
/// each `other` string as `warning: ...`.
pub fn publish_ok(other_warnings: &[String]) -> Vec<u8> {
    bytes(json!({
        "warnings": {
            "invalid_categories": [],
            "invalid_badges": [],
            "other": other_warnings,
        }
    }))
}

/// `{"ok":true}`, the yank and unyank answer; cargo asserts `ok == true` (§12 pitfall 11).
pub fn yank_ok() -> Vec<u8> {
    bytes(json!({ "ok": true }))
}

/// `{"ok":true,"msg":msg}`, the owners add and remove answer; cargo fails without a string
/// `msg`, on remove too (§12 pitfall 11).
pub fn owners_changed(msg: &str) -> Vec<u8> {
    bytes(json!({ "ok": true, "msg": msg }))
}

fn bytes(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}
