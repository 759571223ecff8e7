//! Package ids: NuGet's id rule (restricted to ASCII) and the lower-case form used in URLs.
//!
//! Follows the NuGet protocol reference §3.1. Ids are case-insensitive; the lower-case form is
//! the lookup key and the spelling in flat-container and registration URLs.

/// Longest package id accepted (NuGet's limit).
pub const MAX_ID_LEN: usize = 100;

/// Why a package id is not acceptable. Each message quotes the id and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is the empty string.
    #[error("package id must not be empty")]
    Empty,
    /// More than [`MAX_ID_LEN`] characters.
    #[error("package id '{id}' is {len} characters long; at most 100 are allowed")]
    TooLong {
        /// The id as given.
        id: String,
        /// Its length in characters.
        len: usize,
    },
    /// A character other than an ASCII letter, digit, `_`, `.` or `-`.
    #[error(
        "package id '{id}' contains {ch:?}; only ASCII letters, digits, '_', '.' and '-' are allowed"
    )]
    InvalidChar {
        /// The id as given.
        id: String,
        /// The first offending character.
        ch: char,
    },
    /// A `.` or `-` at the start or end, or two of them in a row.
    #[error(
        "package id '{id}' must start and end with a letter, digit or '_', and '.' or '-' must not follow each other"
    )]
    Separator {
        /// The id as given.
        id: String,
    },
}

/// Checks NuGet's id rule `^\w+([.-]\w+)*$` with `\w` limited to `[A-Za-z0-9_]`, 1 to 100
/// characters.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if let Some(ch) = id.chars().find(|&c| !is_word(c) && c != '.' && c != '-') {
        return Err(IdError::InvalidChar {
            id: id.to_owned(),
            ch,
        });
    }
    // Only ASCII is left, so bytes are characters.
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            id: id.to_owned(),
            len: id.len(),
        });
    }
    let bytes = id.as_bytes();
    let sep = |b: &u8| *b == b'.' || *b == b'-';
    if sep(&bytes[0])
        || sep(&bytes[bytes.len() - 1])
        || bytes.windows(2).any(|w| sep(&w[0]) && sep(&w[1]))
    {
        return Err(IdError::Separator { id: id.to_owned() });
    }
    Ok(())
}

/// The lookup and URL form of an id: ASCII lower-case (ids are ASCII once validated).
pub fn lower_id(id: &str) -> String {
    id.to_ascii_lowercase()
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
