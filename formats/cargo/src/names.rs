//! Crate names: cargo's rules for new names, the canonical (uniqueness) form, and the sparse
//! index file path of a name in both directions.
//!
//! Follows the Cargo registry protocol reference §3.1 ("Path rules"), §5.2 step 2 and §9
//! ("Names: case and `-`/`_`"). See `docs/formats/cargo.md`.

/// Longest crate name accepted.
const MAX_NAME_LEN: usize = 64;

/// Names nobody may publish, compared in canonical form (so `Proc-Macro` is reserved too): the
/// crates shipped with Rust and the Windows device names, which cannot be file names there.
const RESERVED: [&str; 27] = [
    "std",
    "core",
    "alloc",
    "proc-macro",
    "test",
    "con",
    "prn",
    "aux",
    "nul",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

/// Why a name is not acceptable for a new crate. Each message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is the empty string.
    #[error("crate name must not be empty")]
    Empty,
    /// More than 64 characters.
    #[error("crate name must be at most 64 characters long (got {0})")]
    TooLong(usize),
    /// The first character is not an ASCII letter.
    #[error("crate name must start with an ASCII letter, not {0:?}")]
    FirstChar(char),
    /// A character other than an ASCII letter, digit, `-` or `_`.
    #[error("crate name may contain only ASCII letters, digits, '-' and '_', not {0:?}")]
    InvalidChar(char),
    /// A name of a crate shipped with Rust, or a Windows device name.
    #[error("crate name '{0}' is reserved")]
    Reserved(String),
}

/// cargo's rules: 1..=64 chars, ASCII alphanumeric or '-' or '_', first char ASCII alphabetic,
/// not reserved (std, core, alloc, proc_macro, test, the Windows device names con prn aux nul
/// com1..com9 lpt1..lpt9, case-insensitively and with `-` and `_` treated alike). Names that
/// are Rust keywords are fine, as cargo allows them.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let first = chars.next().ok_or(NameError::Empty)?;
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(NameError::TooLong(len));
    }
    if !first.is_ascii_alphabetic() {
        return Err(NameError::FirstChar(first));
    }
    if let Some(c) = chars.find(|&c| !is_name_char(c)) {
        return Err(NameError::InvalidChar(c));
    }
    if RESERVED.contains(&canonical_name(name).as_str()) {
        return Err(NameError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Uniqueness key: ASCII lower-case with '_' -> '-' (`Foo_Bar` and `foo-bar` collide).
pub fn canonical_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// Index file path relative to `index/` for a name (lower-cased): "1/a", "2/ab", "3/a/abc",
/// "se/rd/serde". The empty string maps to the empty path.
pub fn index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let mut chars = lower.chars();
    match lower.chars().count() {
        0 => String::new(),
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => {
            let first: String = chars.by_ref().take(1).collect();
            format!("3/{first}/{lower}")
        }
        _ => {
            let head: String = chars.by_ref().take(2).collect();
            let next: String = chars.take(2).collect();
            format!("{head}/{next}/{lower}")
        }
    }
}

/// The inverse for routing: given the path segments after `index/` (e.g. ["se","rd","serde"]),
/// return the lower-case name if the segments are exactly the path `index_path(name)` would
/// produce, else None.
///
/// The name must also be plausible (1..=64 ASCII letters, digits, `-` or `_`), so a request
/// for e.g. `2/..` never reaches a lookup; the stricter rules for new names (first character,
/// reserved names) are not applied here.
pub fn name_from_index_path(segments: &[&str]) -> Option<String> {
    let name = *segments.last()?;
    if !is_plausible_name(name) || name.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let expected = index_path(name);
    let actual = segments.join("/");
    (expected == actual).then(|| name.to_owned())
}

/// Could this be the name of an existing crate (here or in another registry)? 1..=64 ASCII
/// letters, digits, `-` or `_`, without the first-character and reserved-name rules.
pub(crate) fn is_plausible_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.chars().all(is_name_char)
}

/// ASCII letter, digit, `-` or `_`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_names_skip_the_new_name_rules() {
        assert!(is_plausible_name("9lives"));
        assert!(is_plausible_name("std"));
        assert!(!is_plausible_name(""));
        assert!(!is_plausible_name("a.b"));
        assert!(!is_plausible_name(&"a".repeat(65)));
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        assert_eq!(index_path("éa"), "2/éa");
        assert_eq!(index_path("éééé"), "éé/éé/éééé");
        assert_eq!(name_from_index_path(&["éé", "éé", "éééé"]), None);
    }
}
