//! npm package names: the rules for new names, scope handling, tarball file names and the
//! decoding of names from raw URL path segments.
//!
//! Follows npm protocol reference §2.1 ("Package names") and §2.3 ("Tarball URL layout"); the
//! rules mirror npm's `validate-npm-package-name` for *new* packages. See `docs/formats/npm.md`.

use percent_encoding::percent_decode_str;

use crate::urlsafe::is_uri_component_safe;

/// Longest package name npm accepts for a new package, scope included.
const MAX_NAME_LEN: usize = 214;

/// Longest string [`decode_name`] still considers a plausible (possibly old) package name.
const MAX_PLAUSIBLE_LEN: usize = 1024;

/// Names the public registry never hands out.
const RESERVED: [&str; 2] = ["node_modules", "favicon.ico"];

/// Why a name is not acceptable for a new package. Each message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is the empty string.
    #[error("package name must not be empty")]
    Empty,
    /// More than 214 characters, scope included.
    #[error("package name must be at most 214 characters long (got {0})")]
    TooLong(usize),
    /// Leading or trailing white space.
    #[error("package name must not have leading or trailing spaces")]
    Spaces,
    /// The name (or the part after the scope) starts with `.` or `_`.
    #[error("package name must not start with '.' or '_'")]
    LeadingDotOrUnderscore,
    /// `node_modules` or `favicon.ico`.
    #[error("package name '{0}' is reserved")]
    Reserved(String),
    /// Starts with `@` but is not exactly `@scope/name` with both parts non-empty, or an
    /// unscoped name contains `/`.
    #[error("scoped package name must have the form '@scope/name' with both parts non-empty")]
    BadScope,
    /// Contains an upper-case letter (allowed only for old packages).
    #[error("package name must not contain upper-case letters")]
    UpperCase,
    /// Contains one of `~'!()*`.
    #[error("package name must not contain '{0}' (none of ~'!()* are allowed)")]
    SpecialChar(char),
    /// Contains `..`.
    #[error("package name must not contain '..'")]
    DotDot,
    /// `encodeURIComponent` would change the name (or its scope or basename).
    #[error(
        "package name must contain only URL-safe characters (a-z, 0-9, '-', '_', '.'), got '{0}'"
    )]
    NotUrlSafe(String),
}

/// Validate a name for a NEW package (npm's rules for new names): 1..=214 chars incl. scope, no
/// upper case, no leading '.' or '_', no leading/trailing spaces, none of ~'!()*,
/// encodeURIComponent(part)==part for the name (and for scope and basename of @scope/name
/// separately), not "node_modules" or "favicon.ico", no "..", scoped form exactly "@scope/name"
/// with both parts non-empty.
pub fn validate_new_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(NameError::TooLong(len));
    }
    if name.trim() != name {
        return Err(NameError::Spaces);
    }
    let (scope, base) = split_scope(name).ok_or(NameError::BadScope)?;
    if name.starts_with(['.', '_']) || base.starts_with(['.', '_']) {
        return Err(NameError::LeadingDotOrUnderscore);
    }
    if RESERVED.contains(&name) {
        return Err(NameError::Reserved(name.to_owned()));
    }
    if name.chars().any(char::is_uppercase) {
        return Err(NameError::UpperCase);
    }
    if let Some(c) = name.chars().find(|c| "~'!()*".contains(*c)) {
        return Err(NameError::SpecialChar(c));
    }
    if name.contains("..") {
        return Err(NameError::DotDot);
    }
    for part in scope.into_iter().chain([base]) {
        if !is_uri_component_safe(part) {
            return Err(NameError::NotUrlSafe(part.to_owned()));
        }
    }
    Ok(())
}

/// Splits `@scope/name` into `(Some("scope"), "name")` and `name` into `(None, "name")`.
/// `None` when the scoped form is broken or an unscoped name contains `/`.
fn split_scope(name: &str) -> Option<(Option<&str>, &str)> {
    match name.strip_prefix('@') {
        Some(rest) => {
            let (scope, base) = rest.split_once('/')?;
            if scope.is_empty() || base.is_empty() || base.contains('/') {
                return None;
            }
            Some((Some(scope), base))
        }
        None if name.contains('/') => None,
        None => Some((None, name)),
    }
}

/// "@acme/widget" -> "widget"; "left-pad" -> "left-pad".
pub fn basename(name: &str) -> &str {
    match name.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
        Some((_, base)) => base,
        None => name,
    }
}

/// Tarball file name as the public registry lays it out: "{basename}-{version}.tgz".
pub fn tarball_filename(name: &str, version: &str) -> String {
    format!("{}-{version}.tgz", basename(name))
}

/// Decode a package name from a raw (still percent-encoded) URL path segment set: accepts
/// "@scope%2fname", "@scope%2Fname", "%40scope%2fname", "left-pad" (and "@scope/name" when the
/// router hands over both segments). Returns None if it is not a plausible name.
///
/// "Plausible" is looser than [`validate_new_name`]: old packages may have upper-case letters
/// or long names, so only what no npm name can contain is refused (control characters, white
/// space, a leading `.`, `_` or `-`, `..`, a broken scope, more than one `/`).
pub fn decode_name(raw: &str) -> Option<String> {
    let name = percent_decode_str(raw).decode_utf8().ok()?.into_owned();
    if name.is_empty() || name.len() > MAX_PLAUSIBLE_LEN {
        return None;
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\' || c == '%')
    {
        return None;
    }
    let (_, base) = split_scope(&name)?;
    if name.starts_with(['.', '_', '-']) || base.starts_with(['.', '_']) || name.contains("..") {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basename_drops_the_scope() {
        assert_eq!(basename("@acme/widget"), "widget");
        assert_eq!(basename("left-pad"), "left-pad");
        assert_eq!(
            tarball_filename("@acme/widget", "1.0.0"),
            "widget-1.0.0.tgz"
        );
        assert_eq!(
            tarball_filename("left-pad", "1.3.0-rc.1"),
            "left-pad-1.3.0-rc.1.tgz"
        );
    }

    #[test]
    fn scoped_names_decode_from_every_encoding() {
        for raw in [
            "@acme%2fwidget",
            "@acme%2Fwidget",
            "%40acme%2fwidget",
            "%40acme%2Fwidget",
            "@acme/widget",
        ] {
            assert_eq!(decode_name(raw).as_deref(), Some("@acme/widget"), "{raw}");
        }
        assert_eq!(decode_name("left-pad").as_deref(), Some("left-pad"));
        assert_eq!(decode_name("JSONStream").as_deref(), Some("JSONStream"));
    }

    #[test]
    fn implausible_segments_do_not_decode() {
        for raw in [
            "",
            "-",
            "-/whoami",
            ".hidden",
            "_private",
            "a%2fb",
            "@acme",
            "@acme%2f",
            "%40%2fx",
            "@a%2fb%2fc",
            "a%20b",
            "a%00b",
            "%ff",
            "..",
            "a..b",
            "@acme%2f..",
            "%2525",
        ] {
            assert_eq!(decode_name(raw), None, "{raw}");
        }
    }
}
