//! Gem names, platforms and file names: the rules for new names, the squatting key, platform
//! strings, and `Gem::Specification#file_name` / `#full_name`.
//!
//! Follows the RubyGems protocol reference §2 ("Names, versions, platforms"). See
//! `docs/formats/rubygems.md`. The version rules live in [`crate::version`] and are re-exported
//! here, so `names::validate_version` and friends work as well.

pub use crate::version::{compare_versions, is_prerelease, validate_version};

/// Longest gem name accepted.
const MAX_NAME_LEN: usize = 100;

/// Longest platform string accepted.
const MAX_PLATFORM_LEN: usize = 64;

/// The platform of pure-Ruby gems, left out of file names and compact-index lines.
pub const RUBY_PLATFORM: &str = "ruby";

/// Why a gem name, version or platform is not acceptable. Each message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is the empty string.
    #[error("gem name must not be empty")]
    Empty,
    /// More than 100 characters.
    #[error("gem name must be at most 100 characters long (got {0})")]
    TooLong(usize),
    /// A character other than an ASCII letter, digit, `_`, `.` or `-`.
    #[error("gem name may contain only ASCII letters, digits, '_', '.' and '-', not {0:?}")]
    InvalidChar(char),
    /// The name starts with `.` or `-`.
    #[error("gem name must not start with {0:?}")]
    FirstChar(char),
    /// Only digits and punctuation.
    #[error("gem name '{0}' must contain at least one letter")]
    NoLetter(String),
    /// The version is not `Gem::Version` syntax.
    #[error("invalid gem version '{version}': {reason}")]
    Version {
        /// The version as given.
        version: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The platform is neither `ruby` nor `cpu-os[-version]`.
    #[error("invalid gem platform '{platform}': {reason}")]
    Platform {
        /// The platform as given.
        platform: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Gem names: 1..=100 chars of `[A-Za-z0-9_.-]`, must contain a letter, no leading '.'/'-', not
/// "." or "..".
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let first = name.chars().next().ok_or(NameError::Empty)?;
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(NameError::TooLong(len));
    }
    if let Some(c) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(NameError::InvalidChar(c));
    }
    if first == '.' || first == '-' {
        return Err(NameError::FirstChar(first));
    }
    if !name.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(NameError::NoLetter(name.to_owned()));
    }
    Ok(())
}

/// Squatting key: ASCII lower-case with '-', '_' and '.' removed (refuse a new gem colliding
/// with another's key). `Rack_Test`, `rack-test` and `racktest` share the key `racktest`.
pub fn similarity_key(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Platform: "ruby" or `cpu-os[-version]` of `[a-z0-9_.-]`; "" -> "ruby". Returns the platform to
/// store.
///
/// Single-part platforms such as `java` (JRuby gems, `Gem::Platform#to_s` of a platform without
/// cpu) are accepted too; every `-`-separated part must be non-empty and not `.` or `..`.
pub fn validate_platform(p: &str) -> Result<String, NameError> {
    let bad = |reason| NameError::Platform {
        platform: p.to_owned(),
        reason,
    };
    if p.is_empty() || p == RUBY_PLATFORM {
        return Ok(RUBY_PLATFORM.to_owned());
    }
    if p.len() > MAX_PLATFORM_LEN {
        return Err(bad("at most 64 characters are allowed"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c);
    if !p.chars().all(allowed) {
        return Err(bad(
            "only lower-case ASCII letters, digits, '_', '.' and '-' are allowed",
        ));
    }
    if p.split('-')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad("expected cpu-os[-version] with non-empty parts"));
    }
    Ok(p.to_owned())
}

/// "{name}-{version}.gem" or "{name}-{version}-{platform}.gem" (platform "ruby" or "" omitted).
pub fn gem_file_name(name: &str, version: &str, platform: &str) -> String {
    format!("{}.gem", full_name(name, version, platform))
}

/// The "full name" without `.gem`: "{name}-{version}" or "{name}-{version}-{platform}", as
/// in quick spec paths (`quick/Marshal.4.8/{full_name}.gemspec.rz`).
pub fn full_name(name: &str, version: &str, platform: &str) -> String {
    format!("{name}-{}", version_with_platform(version, platform))
}

/// "version" or "version-platform" (platform "ruby" or "" omitted), the form used in compact
/// index lines and `versions` lists.
pub fn version_with_platform(version: &str, platform: &str) -> String {
    if platform.is_empty() || platform == RUBY_PLATFORM {
        version.to_owned()
    } else {
        format!("{version}-{platform}")
    }
}

/// ASCII letter, digit, `_`, `.` or `-`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_names_are_refused_by_the_first_char_rule() {
        assert_eq!(validate_name("."), Err(NameError::FirstChar('.')));
        assert_eq!(validate_name(".."), Err(NameError::FirstChar('.')));
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        assert_eq!(validate_name("é"), Err(NameError::InvalidChar('é')));
        assert_eq!(similarity_key("Ä-b"), "Äb");
        assert!(validate_platform("ä-linux").is_err());
    }
}
