//! The one error type of `.gem` reading, gemspec parsing and yank forms.
//!
//! Messages are plain sentences for the `gem` user, who sees the response body verbatim
//! (RubyGems protocol reference §5.1, §10 pitfall 12). See `docs/formats/rubygems.md`.

use crate::names::NameError;

/// Why a `.gem` (or a yank form) was refused. Each message is meant for the `gem` user, who
/// sees the response body verbatim (protocol §5.1).
#[derive(Debug, thiserror::Error)]
pub enum GemError {
    /// The upload is not a tar archive.
    #[error("the .gem is not a valid tar archive: {0}")]
    NotTar(String),
    /// A member name with `/`, `..` or another unsafe form.
    #[error("the .gem contains the unsafe entry name '{0}'")]
    UnsafeEntry(String),
    /// A member that is not a regular file.
    #[error("the .gem entry '{path}' is a {kind}; only regular files are allowed")]
    NotRegular {
        /// The member's name.
        path: String,
        /// What it is, e.g. "symlink".
        kind: &'static str,
    },
    /// `metadata.gz` or `data.tar.gz` is absent.
    #[error("the .gem has no {0}")]
    Missing(&'static str),
    /// A member that must be unique appears twice.
    #[error("the .gem contains {0} more than once")]
    Duplicate(&'static str),
    /// More tar entries than allowed (in the `.gem` or in `data.tar.gz`).
    #[error("the .gem has more than {0} entries")]
    TooManyEntries(u64),
    /// `metadata.gz` or `checksums.yaml.gz` (compressed or not) is larger than the limit.
    #[error("{file} in the .gem is larger than {limit} bytes")]
    MetadataTooLarge {
        /// The member's name.
        file: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// A member that should be gzip is not, or is corrupt.
    #[error("{file} in the .gem is not valid gzip: {reason}")]
    BadGzip {
        /// The member's name.
        file: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// `metadata.gz` or `checksums.yaml.gz` is not UTF-8 text.
    #[error("{0} in the .gem is not UTF-8 text")]
    NotText(&'static str),
    /// `checksums.yaml.gz` is not the expected mapping.
    #[error("checksums.yaml.gz in the .gem is not valid: {0}")]
    BadChecksums(String),
    /// A digest in `checksums.yaml.gz` does not match the member.
    #[error("{algorithm} checksum of {file} does not match checksums.yaml.gz")]
    ChecksumMismatch {
        /// `metadata.gz` or `data.tar.gz`.
        file: &'static str,
        /// `SHA1`, `SHA256` or `SHA512`.
        algorithm: String,
    },
    /// `data.tar.gz` decompresses but is not a tar archive.
    #[error("data.tar.gz in the .gem is not a valid tar archive: {0}")]
    DataNotTar(String),
    /// An absolute path or a `..` component in `data.tar.gz`.
    #[error("data.tar.gz entry '{0}' has an absolute path or a '..' component")]
    UnsafePath(String),
    /// A device, fifo or other special entry in `data.tar.gz`.
    #[error(
        "data.tar.gz entry '{path}' is a {kind}; only files, directories and links are allowed"
    )]
    DataNotRegular {
        /// The entry's path.
        path: String,
        /// What it is, e.g. "character device".
        kind: &'static str,
    },
    /// A symlink or hard link in `data.tar.gz` pointing outside the gem.
    #[error("data.tar.gz entry '{path}' links to '{target}', outside the gem")]
    LinkEscapes {
        /// The link's path.
        path: String,
        /// Its target.
        target: String,
    },
    /// An entry of `data.tar.gz` below a symlink of the same archive.
    #[error("data.tar.gz entry '{path}' goes through the symlink '{link}'")]
    ThroughLink {
        /// The entry's path.
        path: String,
        /// The symlink on its way.
        link: String,
    },
    /// The files add up to more than allowed.
    #[error("data.tar.gz in the .gem unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// The gemspec is not well-formed YAML.
    #[error("the gemspec YAML is invalid: {0}")]
    Yaml(String),
    /// A YAML tag outside the allow-list.
    #[error("the gemspec YAML uses the forbidden tag {0}")]
    ForbiddenTag(String),
    /// More alias uses than allowed.
    #[error("the gemspec YAML uses more than {0} aliases")]
    TooManyAliases(usize),
    /// Deeper nesting than allowed.
    #[error("the gemspec YAML is nested deeper than {0} levels")]
    TooDeep(usize),
    /// Too large once aliases are expanded.
    #[error("the gemspec YAML expands to more than {0} nodes")]
    TooManyNodes(usize),
    /// The YAML document is not a `Gem::Specification` mapping.
    #[error("the gemspec YAML is not a Gem::Specification")]
    NotASpec,
    /// A required gemspec field is absent.
    #[error("the gemspec has no {0}")]
    MissingField(&'static str),
    /// A gemspec field has the wrong shape.
    #[error("invalid gemspec {field}: {reason}")]
    InvalidField {
        /// The field, e.g. `dependencies[1]`.
        field: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The name, version or platform breaks the rules.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A yank form body that cannot be decoded or lacks a field.
    #[error("invalid yank request: {0}")]
    BadForm(String),
}
