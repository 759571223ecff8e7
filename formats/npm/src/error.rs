//! npm's error body.
//!
//! npm builds its message as `<status> <statusText> - <METHOD> <url> - <body.error>` and ignores
//! `message` and `reason` (npm protocol reference §10 "Errors"). See `docs/formats/npm.md`.

use serde_json::json;

/// npm's error body: `{"error": msg}` (npm prints only `error`).
pub fn error_body(msg: &str) -> Vec<u8> {
    json!({ "error": msg }).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::error_body;

    #[test]
    fn error_body_has_only_the_error_field() {
        let v: serde_json::Value = serde_json::from_slice(&error_body("a \"quoted\" é")).unwrap();
        assert_eq!(v, serde_json::json!({ "error": "a \"quoted\" é" }));
    }
}
