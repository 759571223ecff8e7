//! The push and yank API: the yank form body and the plain-text answers `gem` prints verbatim.
//!
//! Follows the RubyGems protocol reference §5.1 (push responses), §5.2 (`gem yank` form body)
//! and §10 pitfall 12 (short plain text, never JSON or HTML). See `docs/formats/rubygems.md`.

use crate::gem::GemError;
use crate::names::{validate_name, validate_platform, validate_version};

/// form body "gem_name=x&version=1.0&platform=y" (percent/+ decoding) -> (name, version,
/// platform or None).
///
/// The name and version are checked with the gem rules; a platform, when present and not
/// empty, is checked and normalised with [`validate_platform`]. Unknown fields are ignored; a
/// field given twice, a bad `%` escape or invalid UTF-8 is an error.
pub fn parse_yank_form(body: &[u8]) -> Result<(String, String, Option<String>), GemError> {
    let mut name = None;
    let mut version = None;
    let mut platform = None;
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let slot = match decode(key)?.as_str() {
            "gem_name" => &mut name,
            "version" => &mut version,
            "platform" => &mut platform,
            _ => continue,
        };
        if slot.replace(decode(value)?).is_some() {
            return Err(GemError::BadForm("a field is given twice".into()));
        }
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| GemError::BadForm("gem_name is missing".into()))?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| GemError::BadForm("version is missing".into()))?;
    validate_name(&name)?;
    validate_version(&version)?;
    let platform = match platform.filter(|p| !p.is_empty()) {
        Some(p) => Some(validate_platform(&p)?),
        None => None,
    };
    Ok((name, version, platform))
}

/// `application/x-www-form-urlencoded` decoding of one key or value: `+` is a space, `%XX` a
/// byte; the result must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, GemError> {
    let bad = || GemError::BadForm("invalid percent-encoding".into());
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| GemError::BadForm("the form is not UTF-8".into()))
}

/// The 200 body of `gem push`: `Successfully registered gem: demo (0.1.0)`. For a platform gem
/// the version is shown as `version-platform`.
pub fn push_ok(name: &str, version: &str, platform: &str) -> String {
    format!(
        "Successfully registered gem: {name} ({})",
        crate::names::version_with_platform(version, platform)
    )
}

/// The 409 body of `gem push` for a file that exists already.
pub fn push_conflict(name: &str, version: &str, platform: &str) -> String {
    format!(
        "{name} {} already exists; published versions cannot be replaced (yank it instead)",
        crate::names::version_with_platform(version, platform)
    )
}

/// The 200 body of `gem yank`: `Successfully deleted gem: demo (0.1.0)`.
pub fn yank_ok(name: &str, version: &str, platform: &str) -> String {
    format!(
        "Successfully deleted gem: {name} ({})",
        crate::names::version_with_platform(version, platform)
    )
}

/// The 404 body of `gem yank`: `The version 0.1.0 does not exist.`.
pub fn yank_not_found(version: &str, platform: &str) -> String {
    format!(
        "The version {} does not exist.",
        crate::names::version_with_platform(version, platform)
    )
}

/// The owners list of `GET /api/v1/gems/NAME/owners.yaml`, which `gem owner NAME` prints:
/// `- email: ...` / `  handle: ...` / `  id: ...` per owner (`email` only when known).
pub fn owners_yaml(owners: &[(i64, &str, Option<&str>)]) -> Vec<u8> {
    let mut out = String::from("---\n");
    for (id, handle, email) in owners {
        let mut first = true;
        let mut line = |key: &str, value: String| {
            out.push_str(if first { "- " } else { "  " });
            out.push_str(&format!("{key}: {value}\n"));
            first = false;
        };
        if let Some(e) = email {
            line("email", yaml_string(e));
        }
        line("handle", yaml_string(handle));
        line("id", id.to_string());
    }
    out.into_bytes()
}

/// A YAML double-quoted scalar.
fn yaml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
