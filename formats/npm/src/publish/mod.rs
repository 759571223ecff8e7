//! `PUT /{name}` bodies: the streaming split of a publish document into JSON and tarball, the
//! validation of a publish, and the metadata-only PUT flavours (deprecate, unpublish by
//! omission, maintainers).
//!
//! Follows npm protocol reference §5 ("Publish") and §6 ("Metadata-only PUTs"). See
//! `docs/formats/npm.md`.

mod b64stream;
mod lexer;
mod request;
mod split;

use serde_json::Value;

use crate::{NameError, VersionError};

pub use request::{PublishRequest, parse_publish, verify_attachment};
pub use split::{SplitBody, split_publish_body};

/// Why a `PUT /{name}` body was refused. Every message is meant for the npm user (npm prints
/// the `error` field of the response body).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Reading the request body failed.
    #[error("could not read the request body: {0}")]
    Read(std::io::Error),
    /// Writing the decoded tarball to its destination failed (a server-side problem).
    #[error("could not store the uploaded tarball: {0}")]
    Store(std::io::Error),
    /// The body is not well-formed JSON; the text says where and what.
    #[error("malformed JSON in request body: {0}")]
    Json(String),
    /// The body is JSON but not an object.
    #[error("request body must be a JSON object")]
    NotAnObject,
    /// Nesting deeper than 64 levels (the root object is level 1).
    #[error("JSON in request body is nested deeper than 64 levels")]
    TooDeep,
    /// The document without attachment data is larger than allowed.
    #[error("publish document (without attachment data) is larger than {0} bytes")]
    DocumentTooLarge(usize),
    /// More than one `_attachments` key ends in `.tgz`.
    #[error("a publish may carry only one .tgz attachment, got '{first}' and '{second}'")]
    SecondTarball {
        /// The first `.tgz` attachment key.
        first: String,
        /// The second one.
        second: String,
    },
    /// The `.tgz` attachment has no `data` member.
    #[error("attachment '{0}' has no data")]
    AttachmentDataMissing(String),
    /// The `.tgz` attachment's `data` is not a string, or is given twice.
    #[error("attachment '{0}' must have exactly one 'data' member holding a base64 string")]
    AttachmentDataNotString(String),
    /// The attachment data is not standard base64 with padding.
    #[error("attachment data is not valid base64: {0}")]
    BadBase64(String),
    /// A field is missing or has the wrong type.
    #[error("invalid publish document: {0}")]
    InvalidField(String),
    /// The package name in the body differs from the one in the URL.
    #[error("package name '{doc}' in the document does not match the URL ('{url}')")]
    NameMismatch {
        /// Name from the URL.
        url: String,
        /// Name from the document.
        doc: String,
    },
    /// Not exactly one version in `versions`.
    #[error("a publish must contain exactly one version, got {0}")]
    VersionCount(usize),
    /// `versions` key and the manifest's `version` differ.
    #[error("version key '{key}' does not match the manifest's version '{version}'")]
    VersionKeyMismatch {
        /// Key in `versions`.
        key: String,
        /// `versions[key].version`.
        version: String,
    },
    /// Not exactly one dist-tag.
    #[error("a publish must set exactly one dist-tag, got {0}")]
    TagCount(usize),
    /// The dist-tag does not point at the published version.
    #[error("dist-tag '{tag}' points at '{target}', but the published version is '{version}'")]
    TagTarget {
        /// The tag.
        tag: String,
        /// What the tag points at.
        target: String,
        /// The published version.
        version: String,
    },
    /// The package name is not acceptable for a new package.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// The version or dist-tag is not acceptable.
    #[error(transparent)]
    InvalidVersion(#[from] VersionError),
    /// No `.tgz` attachment (or no attachments at all).
    #[error("publish has no .tgz attachment")]
    NoAttachment,
    /// The attachment key is not `{name}-{version}.tgz`.
    #[error("attachment '{got}' should be named '{expected}'")]
    AttachmentName {
        /// `{name}-{version}.tgz`.
        expected: String,
        /// The key sent.
        got: String,
    },
    /// The decoded size differs from `_attachments[k].length`.
    #[error("attachment length is {declared} in the document but {actual} bytes were uploaded")]
    LengthMismatch {
        /// `length` from the document.
        declared: u64,
        /// Decoded size.
        actual: u64,
    },
    /// `dist.shasum` differs from the SHA-1 of the upload.
    #[error("dist.shasum {declared} does not match the uploaded tarball (sha1 {actual})")]
    ShasumMismatch {
        /// `dist.shasum` from the document.
        declared: String,
        /// SHA-1 hex of the upload.
        actual: String,
    },
    /// An entry of `dist.integrity` differs from the upload's digest.
    #[error("dist.integrity entry '{entry}' does not match the uploaded tarball")]
    IntegrityMismatch {
        /// The offending SRI entry.
        entry: String,
    },
    /// The tarball's `package.json` disagrees with the publish document.
    #[error(
        "package.json in the tarball has {field} '{tarball}', but the publish is for '{publish}'"
    )]
    TarballMismatch {
        /// `name` or `version`.
        field: &'static str,
        /// Value in the tarball's `package.json` (`<missing>` when absent).
        tarball: String,
        /// Value in the publish document.
        publish: String,
    },
}

/// What a `PUT /{name}` (or `PUT /{name}/-rev/{rev}`) body asks for (protocol §6 "Telling the PUT
/// flavours apart").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutKind {
    /// `npm publish`: the body has a non-empty `_attachments`.
    Publish,
    /// `npm unpublish pkg@v`: `/-rev/` in the URL and a `versions` object listing what remains.
    Unpublish,
    /// `npm deprecate`: the full packument with `deprecated` edits; only those count.
    Deprecate,
    /// `npm owner add/rm`: no `versions` key, only `maintainers`.
    Maintainers,
}

/// Classifies a metadata or publish PUT: (a) an attachment, or `_attachments` non-empty →
/// publish; (b) `/-rev/` in the URL and `versions` present → unpublish by omission; (c) no
/// `versions` → owner change; (d) otherwise → deprecate-style update.
pub fn classify_put(doc: &Value, has_attachment: bool, has_rev_in_url: bool) -> PutKind {
    let attachments = doc
        .get("_attachments")
        .and_then(Value::as_object)
        .is_some_and(|a| !a.is_empty());
    let has_versions = doc.get("versions").is_some_and(|v| !v.is_null());
    if has_attachment || attachments {
        PutKind::Publish
    } else if has_rev_in_url && has_versions {
        PutKind::Unpublish
    } else if !has_versions {
        PutKind::Maintainers
    } else {
        PutKind::Deprecate
    }
}

/// Deprecate body: for each version in `doc.versions`, its `deprecated` value: `Some(msg)` when
/// a non-empty string, `None` (= un-deprecate) when an empty string, absent or not a string.
pub fn deprecations(doc: &Value) -> Vec<(String, Option<String>)> {
    let Some(versions) = doc.get("versions").and_then(Value::as_object) else {
        return Vec::new();
    };
    versions
        .iter()
        .map(|(version, manifest)| {
            let msg = manifest
                .get("deprecated")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(str::to_owned);
            (version.clone(), msg)
        })
        .collect()
}

/// `npm owner add/rm` body: the logins its `maintainers` list names (each `{"name", "email"}`), in
/// order, without duplicates; an error when `maintainers` is not such a list.
pub fn maintainer_names(doc: &Value) -> Result<Vec<String>, PublishError> {
    let bad = || {
        PublishError::InvalidField("`maintainers` must be a list of {\"name\": ...} objects".into())
    };
    let list = doc
        .get("maintainers")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    let mut names: Vec<String> = Vec::with_capacity(list.len());
    for m in list {
        let name = m.get("name").and_then(Value::as_str).ok_or_else(bad)?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// Unpublish-by-omission body: the version keys it still lists.
pub fn remaining_versions(doc: &Value) -> Vec<String> {
    doc.get("versions")
        .and_then(Value::as_object)
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default()
}
