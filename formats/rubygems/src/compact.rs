//! The compact index: `info/NAME` lines and bodies, the `versions` file, `names`, and the
//! `ETag` / `Repr-Digest` values Bundler checks.
//!
//! Follows the RubyGems protocol reference §3.1 (`versions`), §3.2 (`info/{gem}` line grammar),
//! §3.3 (`names`), §3.4 (ETag and Repr-Digest contract) and §8 (checksums). See
//! `docs/formats/rubygems.md`.

use base64::Engine;
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::gem::GemSpec;
use crate::names::version_with_platform;

/// One info line: `"VERSION[-PLATFORM] DEP,DEP|checksum:HEX[,ruby:REQ][,rubygems:REQ]\n"` —
/// runtime deps only, deps sorted by name, constraints of one dep joined with '&' sorted as
/// strings, "ruby:"/"rubygems:" only when not ">= 0"; exactly one space after the version even
/// with no deps.
///
/// Bundler splits the part after `|` on `,` and each value on `&` (its `parse_dependency`), so
/// the `ruby:` and `rubygems:` constraints are joined with `&` too. `created_at:` is never
/// written (§3.2: older parsers would misread it).
pub fn info_line(spec: &GemSpec, sha256_hex: &str) -> String {
    let mut deps: Vec<_> = spec.dependencies.iter().filter(|d| d.runtime).collect();
    deps.sort_by(|a, b| a.name.cmp(&b.name));
    let deps: Vec<String> = deps
        .iter()
        .map(|d| format!("{}:{}", d.name, constraints(&d.requirements)))
        .collect();
    let mut line = format!(
        "{} {}|checksum:{sha256_hex}",
        version_with_platform(&spec.version, &spec.platform),
        deps.join(",")
    );
    if !is_any(&spec.required_ruby_version) {
        line.push_str(",ruby:");
        line.push_str(&constraints(&spec.required_ruby_version));
    }
    if !is_any(&spec.required_rubygems_version) {
        line.push_str(",rubygems:");
        line.push_str(&constraints(&spec.required_rubygems_version));
    }
    line.push('\n');
    line
}

/// "op version" pairs sorted as strings and joined with `&`; `>= 0` when there are none.
fn constraints(requirements: &[(String, String)]) -> String {
    if requirements.is_empty() {
        return ">= 0".to_owned();
    }
    let mut parts: Vec<String> = requirements
        .iter()
        .map(|(op, v)| format!("{op} {v}"))
        .collect();
    parts.sort();
    parts.join("&")
}

/// No requirement, or exactly `>= 0`.
fn is_any(requirements: &[(String, String)]) -> bool {
    match requirements {
        [] => true,
        [(op, v)] => op == ">=" && v == "0",
        _ => false,
    }
}

/// The info/NAME body: "---\n" followed by the lines (given in publication order).
pub fn render_info(lines: &[String]) -> Vec<u8> {
    let mut body = b"---\n".to_vec();
    for line in lines {
        body.extend_from_slice(line.as_bytes());
    }
    body
}

/// One versions-file line: `"NAME V1,V2-plat,... INFO_MD5\n"` (versions as `version[-platform]`
/// in publication order).
pub fn versions_line(name: &str, versions: &[String], info_md5_hex: &str) -> String {
    format!("{name} {} {info_md5_hex}\n", versions.join(","))
}

/// The versions body: "created_at: {created_at}\n---\n" + lines (already sorted by name by the
/// caller).
pub fn render_versions(created_at: &str, lines: &[String]) -> Vec<u8> {
    let mut body = format!("created_at: {created_at}\n---\n").into_bytes();
    for line in lines {
        body.extend_from_slice(line.as_bytes());
    }
    body
}

/// "---\n" + names one per line.
pub fn render_names(names: &[String]) -> Vec<u8> {
    let mut body = b"---\n".to_vec();
    for name in names {
        body.extend_from_slice(name.as_bytes());
        body.push(b'\n');
    }
    body
}

/// Lower-case hex MD5 of a body: the `versions` line trailer for an `info/NAME` body (§8).
pub fn md5_hex(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// `"<md5 hex>"` ETag of a body: strong and quoted, as Bundler ≤ 2.4 requires (§3.4).
pub fn etag_md5(body: &[u8]) -> String {
    format!("\"{}\"", md5_hex(body))
}

/// `sha-256=:<base64>:` Repr-Digest of a body, as Bundler 2.5+ reads it (§3.4).
pub fn repr_digest(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The MD5 of every prefix of `body` that ends a line (`\n`), by length, in ascending order: the
/// ETag (quoted MD5, §3.4) of each earlier state of an append-only document whose states end at
/// line boundaries. A client asking for the rest of a copy it holds (`Range: bytes=N-` with
/// `If-None-Match: "<MD5 of its copy>"`) holds a prefix of the current body exactly when one of
/// these matches.
pub fn line_prefix_md5s(body: &[u8]) -> Vec<(usize, [u8; 16])> {
    let mut hasher = Md5::new();
    let mut out = Vec::new();
    let mut at = 0;
    for line in body.split_inclusive(|b| *b == b'\n') {
        hasher.update(line);
        at += line.len();
        if line.ends_with(b"\n") {
            out.push((at, hasher.clone().finalize().into()));
        }
    }
    out
}

/// Whether `etag` (an `If-None-Match` entry: `"hex"`, `W/"hex"` or bare hex) is the MD5 of the
/// first `len` bytes, looked up in a table from [`line_prefix_md5s`].
pub fn prefix_has_md5(prefixes: &[(usize, [u8; 16])], len: usize, etag: &str) -> bool {
    let hex_digest = etag.trim();
    let hex_digest = hex_digest.strip_prefix("W/").unwrap_or(hex_digest);
    let hex_digest = hex_digest.trim_matches('"');
    let Ok(i) = prefixes.binary_search_by_key(&len, |(n, _)| *n) else {
        return false;
    };
    hex::encode(prefixes[i].1).eq_ignore_ascii_case(hex_digest)
}
