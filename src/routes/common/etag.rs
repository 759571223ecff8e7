//! Strong ETags and `If-None-Match` handling for metadata documents.

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

/// A strong ETag (quoted) derived from the exact bytes of a body.
pub fn of_bytes(body: &[u8]) -> String {
    let d = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&d[..16]))
}

/// Whether the request's `If-None-Match` matches `etag` (so a 304 is due).
pub fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    let Some(v) = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
}
