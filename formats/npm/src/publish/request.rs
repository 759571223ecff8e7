//! Validation of a publish document and of its uploaded tarball against what it declares.
//!
//! Implements the checks of npm protocol reference §5.2 ("Server processing", steps 1 and 2)
//! and §12 ("Checksums"). See `docs/formats/npm.md`.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::{PublishError, SplitBody};
use crate::{validate_dist_tag, validate_new_name, validate_version};

/// SRI digests: standard alphabet, padding optional (ssri accepts both).
const SRI_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A validated publish: exactly one version whose key equals its `version`; name == URL name ==
/// `doc.name` == `versions[v].name`; exactly one dist-tag pointing at that version; attachment
/// key `{name}-{version}.tgz`.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishRequest {
    /// The package name (scope included).
    pub name: String,
    /// The canonical version string.
    pub version: String,
    /// The dist-tag to point at the version (`--tag`, default `latest`).
    pub tag: String,
    /// `versions[v]` as sent.
    pub manifest: Map<String, Value>,
    /// `_attachments[k].length`.
    pub declared_length: Option<u64>,
    /// `versions[v].dist.shasum`.
    pub declared_shasum: Option<String>,
    /// `versions[v].dist.integrity`.
    pub declared_integrity: Option<String>,
}

/// Validates a split publish body. The version goes through [`validate_version`], the tag
/// through [`validate_dist_tag`], and the name through [`validate_new_name`] only when
/// `is_new_package` is true (old packages may have names that are no longer allowed).
pub fn parse_publish(
    split: &SplitBody,
    url_name: &str,
    is_new_package: bool,
) -> Result<PublishRequest, PublishError> {
    let doc = split
        .document
        .as_object()
        .ok_or(PublishError::NotAnObject)?;
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("'name' must be a string"))?;
    if name != url_name {
        return Err(PublishError::NameMismatch {
            url: url_name.to_owned(),
            doc: name.to_owned(),
        });
    }
    if is_new_package {
        validate_new_name(name)?;
    }

    let versions = doc
        .get("versions")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("'versions' must be an object"))?;
    let (key, manifest) = match versions.iter().next() {
        Some(only) if versions.len() == 1 => only,
        _ => return Err(PublishError::VersionCount(versions.len())),
    };
    let manifest = manifest
        .as_object()
        .ok_or_else(|| invalid(&format!("versions['{key}'] must be an object")))?;
    let sent_version = manifest
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("versions['{key}'].version must be a string")))?;
    if key != sent_version {
        return Err(PublishError::VersionKeyMismatch {
            key: key.clone(),
            version: sent_version.to_owned(),
        });
    }
    let version = validate_version(sent_version)?;
    match manifest.get("name").and_then(Value::as_str) {
        Some(n) if n == name => {}
        other => {
            return Err(invalid(&format!(
                "versions['{key}'].name is '{}' but the package is '{name}'",
                other.unwrap_or("<missing>")
            )));
        }
    }

    let tags = doc
        .get("dist-tags")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("'dist-tags' must be an object"))?;
    let (tag, target) = match tags.iter().next() {
        Some(only) if tags.len() == 1 => only,
        _ => return Err(PublishError::TagCount(tags.len())),
    };
    validate_dist_tag(tag)?;
    let target = target
        .as_str()
        .ok_or_else(|| invalid(&format!("dist-tags['{tag}'] must be a version string")))?;
    if target != version {
        return Err(PublishError::TagTarget {
            tag: tag.clone(),
            target: target.to_owned(),
            version,
        });
    }

    let attachment = split
        .attachment_name
        .as_deref()
        .ok_or(PublishError::NoAttachment)?;
    let expected = format!("{name}-{version}.tgz");
    if attachment != expected {
        return Err(PublishError::AttachmentName {
            expected,
            got: attachment.to_owned(),
        });
    }
    let declared_length = doc
        .get("_attachments")
        .and_then(|a| a.get(attachment))
        .and_then(|a| a.get("length"))
        .and_then(Value::as_u64);
    let dist = manifest.get("dist");
    let dist_str = |field: &str| {
        dist.and_then(|d| d.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };

    Ok(PublishRequest {
        name: name.to_owned(),
        version,
        tag: tag.clone(),
        manifest: manifest.clone(),
        declared_length,
        declared_shasum: dist_str("shasum"),
        declared_integrity: dist_str("integrity"),
    })
}

/// Checks the decoded attachment against what the document declares: length, shasum (sha1
/// hex), integrity (SRI string possibly with several space-separated entries; every sha512 and
/// sha1 entry must match, entries for other algorithms are ignored).
pub fn verify_attachment(
    req: &PublishRequest,
    size: u64,
    sha1_hex: &str,
    sha512: &[u8],
) -> Result<(), PublishError> {
    if let Some(declared) = req.declared_length
        && declared != size
    {
        return Err(PublishError::LengthMismatch {
            declared,
            actual: size,
        });
    }
    if let Some(declared) = &req.declared_shasum
        && !declared.eq_ignore_ascii_case(sha1_hex)
    {
        return Err(PublishError::ShasumMismatch {
            declared: declared.clone(),
            actual: sha1_hex.to_ascii_lowercase(),
        });
    }
    let Some(integrity) = &req.declared_integrity else {
        return Ok(());
    };
    let sha1 = decode_hex(sha1_hex);
    for entry in integrity.split_whitespace() {
        let Some((algo, rest)) = entry.split_once('-') else {
            continue;
        };
        let expected: &[u8] = match algo {
            "sha512" => sha512,
            "sha1" => &sha1,
            _ => continue,
        };
        let digest = rest.split('?').next().unwrap_or(rest);
        if SRI_BASE64.decode(digest).ok().as_deref() != Some(expected) {
            return Err(PublishError::IntegrityMismatch {
                entry: entry.to_owned(),
            });
        }
    }
    Ok(())
}

/// Lower- or upper-case hex to bytes; an invalid string gives bytes that match nothing.
fn decode_hex(hex: &str) -> Vec<u8> {
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Vec::new();
    }
    bytes
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .unwrap_or_default()
}

fn invalid(what: &str) -> PublishError {
    PublishError::InvalidField(what.to_owned())
}
