//! `PUT /api/v1/crates/new`: the publish metadata document, the binary framing around it and
//! the `.crate`, and the checks on the metadata.
//!
//! Follows the Cargo registry protocol reference §5.1 ("Request") and §5.2 ("Server checks").
//! See `docs/formats/cargo.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

mod frame;
mod validate;

pub use frame::read_publish;
pub use validate::validate_meta;

/// Why a publish request (or an owner request) was refused. Each message is meant for the
/// cargo user, who sees it as `the remote server responded with an error: ...`.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The body ended before the lengths it announced were satisfied.
    #[error("publish body is truncated: {part} needs {expected} bytes but only {got} were sent")]
    Truncated {
        /// Which part was cut: "the JSON length", "the JSON metadata", "the .crate length" or
        /// "the .crate file".
        part: &'static str,
        /// Bytes that part should have had.
        expected: u64,
        /// Bytes actually present.
        got: u64,
    },
    /// The JSON length is above the limit.
    #[error("publish metadata is {len} bytes, more than the {max} bytes allowed")]
    JsonTooLarge {
        /// The announced length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// Bytes after the `.crate`.
    #[error("publish body has trailing bytes after the .crate file")]
    TrailingBytes,
    /// The metadata is not JSON at all.
    #[error("publish metadata is not valid JSON: {0}")]
    InvalidJson(String),
    /// The metadata is JSON but not the publish document (wrong types, missing `name`/`vers`).
    #[error("publish metadata does not match the publish schema: {0}")]
    NotSchema(String),
    /// A field of the metadata fails a check; `field` names it (e.g. `deps[1].version_req`).
    #[error("invalid {field}: {reason}")]
    Field {
        /// Path of the offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An owners body that is not `{"users": ["login", ...]}`.
    #[error("owner request must be {{\"users\": [\"login\", ...]}}: {0}")]
    BadOwnerRequest(String),
    /// Reading the body or writing the `.crate` failed.
    #[error("I/O error while reading the publish body: {0}")]
    Io(#[from] std::io::Error),
}

/// The publish metadata (protocol §5.1), serde-deserialized; unknown fields ignored; all
/// optional ones Option/default (`null` counts as absent); `badges` ignored.
///
/// cargo 1.95 always sends all 18 top-level keys, `null` included (§5.1 "Observed").
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PublishMeta {
    /// Crate name, original case.
    pub name: String,
    /// Version, SemVer.
    pub vers: String,
    /// Dependencies of every kind.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deps: Vec<PublishDep>,
    /// Feature table: feature name → what it enables (`dep:x` and `x?/y` included).
    #[serde(default, deserialize_with = "null_as_default")]
    pub features: BTreeMap<String, Vec<String>>,
    /// `package.authors`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub authors: Vec<String>,
    /// `package.description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `package.documentation` URL.
    #[serde(default)]
    pub documentation: Option<String>,
    /// `package.homepage` URL.
    #[serde(default)]
    pub homepage: Option<String>,
    /// The README's text.
    #[serde(default)]
    pub readme: Option<String>,
    /// The README's path inside the crate.
    #[serde(default)]
    pub readme_file: Option<String>,
    /// `package.keywords`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub keywords: Vec<String>,
    /// `package.categories`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub categories: Vec<String>,
    /// SPDX license expression.
    #[serde(default)]
    pub license: Option<String>,
    /// Path of a license file inside the crate.
    #[serde(default)]
    pub license_file: Option<String>,
    /// Source repository URL.
    #[serde(default)]
    pub repository: Option<String>,
    /// `package.links`: the native library linked.
    #[serde(default)]
    pub links: Option<String>,
    /// `package.rust-version`.
    #[serde(default)]
    pub rust_version: Option<String>,
}

/// One dependency in the publish metadata (protocol §5.1); unknown fields (`artifact`,
/// `bindep_target`, `lib`) ignored.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PublishDep {
    /// The depended-on crate's real name (not the alias of a renamed dependency).
    pub name: String,
    /// Version requirement, e.g. `^1.0`.
    pub version_req: String,
    /// Features enabled on the dependency.
    #[serde(default, deserialize_with = "null_as_default")]
    pub features: Vec<String>,
    /// Whether the dependency is optional.
    #[serde(default, deserialize_with = "null_as_default")]
    pub optional: bool,
    /// Whether the dependency's default features are on (`true` when absent).
    #[serde(default = "yes", deserialize_with = "null_as_true")]
    pub default_features: bool,
    /// Platform condition, e.g. `cfg(unix)`.
    #[serde(default)]
    pub target: Option<String>,
    /// `normal`, `dev` or `build`; absent means `normal`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Index URL of another registry; absent (as cargo 1.95 sends it) or `null` = this one.
    #[serde(default)]
    pub registry: Option<String>,
    /// The alias in `Cargo.toml` when the dependency is renamed (`alias = { package = ... }`).
    #[serde(default)]
    pub explicit_name_in_toml: Option<String>,
}

/// `true`, for serde defaults.
fn yes() -> bool {
    true
}

/// Deserializes `null` like an absent field.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Deserializes `null` as `true`.
fn null_as_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}
