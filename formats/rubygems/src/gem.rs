//! Reading a pushed `.gem`: an uncompressed tar holding `metadata.gz` (the gemspec YAML),
//! `data.tar.gz` (the files) and usually `checksums.yaml.gz`, checked in one streaming pass.
//!
//! Implements the RubyGems protocol reference §5.1 (`gem push`, server processing steps 1 to 3).
//! See `docs/formats/rubygems.md`.

use std::io::{Cursor, Read};

use flate2::read::GzDecoder;
use packgate_archive::{Allow, Archive, ArchiveError, Bounds, PathRule};

mod checksums;
mod data;
mod digest;
mod error;

mod spec;
mod yaml;

pub use error::GemError;
pub use spec::{GemDependency, GemSpec, parse_spec};

use digest::{Digests, FileDigests};

/// Limits applied while streaming a `.gem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemLimits {
    /// Largest `metadata.gz` / `checksums.yaml.gz`, compressed and decompressed.
    pub max_metadata: u64,
    /// Most tar entries, in the `.gem` and in `data.tar.gz` each.
    pub max_entries: u64,
    /// Largest total size of the files in `data.tar.gz`.
    pub max_unpacked: u64,
}

impl Default for GemLimits {
    /// 1 MiB metadata YAML, 100 000 entries, 512 MiB unpacked.
    fn default() -> Self {
        Self {
            max_metadata: 1024 * 1024,
            max_entries: 100_000,
            max_unpacked: 512 * 1024 * 1024,
        }
    }
}

impl GemLimits {
    /// The defaults, with the unpacked size raised for a larger upload limit
    /// ([`packgate_archive::unpacked_for_upload`]).
    pub fn for_upload(max_upload: u64) -> Self {
        let d = Self::default();
        Self {
            max_unpacked: packgate_archive::unpacked_for_upload(d.max_unpacked, max_upload),
            ..d
        }
    }
}

/// What was found among the `.gem` members so far.
#[derive(Default)]
struct Members {
    /// The gemspec YAML and the digests of `metadata.gz`.
    metadata: Option<(String, FileDigests)>,
    /// The digests of `data.tar.gz`.
    data: Option<FileDigests>,
    /// The text of `checksums.yaml.gz`.
    checksums: Option<String>,
}

/// Streams the .gem: must be a tar; entries only regular files with safe relative names (no
/// '/', no '..', no links/devices at top level); must contain metadata.gz and data.tar.gz exactly
/// once; gunzips metadata.gz (bounded) and parses it with parse_spec; if checksums.yaml.gz is
/// present, verifies every SHA256/SHA512 (and SHA1 if present) it lists for metadata.gz and
/// data.tar.gz against digests computed while streaming (mismatch -> error naming the file);
/// walks data.tar.gz (gzip tar) to check it is well-formed and its entries stay inside (no
/// absolute paths, no "..", no devices; symlinks whose target escapes are refused), bounded by
/// limits (decompression bombs).
///
/// Other members (`*.sig` of signed gems) are skipped unread.
pub fn read_gem<R: Read>(mut r: R, limits: &GemLimits) -> Result<GemSpec, GemError> {
    let not_tar = |e: std::io::Error| GemError::NotTar(e.to_string());
    // Peek at the first two bytes to tell an empty or gzip-compressed upload apart.
    let mut prefix = Vec::with_capacity(2);
    r.by_ref()
        .take(2)
        .read_to_end(&mut prefix)
        .map_err(not_tar)?;
    match prefix.as_slice() {
        [] => return Err(GemError::NotTar("the file is empty".into())),
        [0x1f, 0x8b] => {
            return Err(GemError::NotTar(
                "it is gzip-compressed; a .gem is an uncompressed tar".into(),
            ));
        }
        _ => {}
    }
    let bounds = Bounds {
        max_entries: limits.max_entries,
        max_unpacked: limits.max_unpacked,
    };
    let mut archive = Archive::plain(Cursor::new(prefix).chain(r), bounds, PathRule::Flat);
    let mut members = Members::default();
    for entry in archive.entries().map_err(refused_member)? {
        let mut entry = entry.map_err(refused_member)?;
        if let Err(kind) = Allow::Files.check(&entry) {
            let path = entry.path().to_owned();
            return Err(GemError::NotRegular { path, kind });
        }
        match entry.path() {
            "metadata.gz" => {
                if members.metadata.is_some() {
                    return Err(GemError::Duplicate("metadata.gz"));
                }
                let (text, digests) = small_gzip(&mut entry, "metadata.gz", limits)?;
                members.metadata = Some((text, digests));
            }
            "data.tar.gz" => {
                if members.data.is_some() {
                    return Err(GemError::Duplicate("data.tar.gz"));
                }
                members.data = Some(data::walk(&mut entry, limits)?);
            }
            "checksums.yaml.gz" => {
                if members.checksums.is_some() {
                    return Err(GemError::Duplicate("checksums.yaml.gz"));
                }
                let (text, _) = small_gzip(&mut entry, "checksums.yaml.gz", limits)?;
                members.checksums = Some(text);
            }
            _ => {}
        }
    }
    let (yaml, metadata_digests) = members.metadata.ok_or(GemError::Missing("metadata.gz"))?;
    let data_digests = members.data.ok_or(GemError::Missing("data.tar.gz"))?;
    if let Some(text) = members.checksums {
        checksums::verify(
            &text,
            &[
                ("metadata.gz", &metadata_digests),
                ("data.tar.gz", &data_digests),
            ],
        )?;
    }
    parse_spec(&yaml)
}

/// Reads a small gzip member whole (at most `max_metadata` bytes, compressed and decompressed)
/// and returns its text and the digests of its compressed bytes.
fn small_gzip<R: Read>(
    entry: &mut R,
    file: &'static str,
    limits: &GemLimits,
) -> Result<(String, FileDigests), GemError> {
    let too_large = || GemError::MetadataTooLarge {
        file,
        limit: limits.max_metadata,
    };
    let bad_gzip = |e: std::io::Error| GemError::BadGzip {
        file,
        reason: e.to_string(),
    };
    let mut raw = Vec::new();
    entry
        .take(limits.max_metadata.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(|e| GemError::NotTar(e.to_string()))?;
    if raw.len() as u64 > limits.max_metadata {
        return Err(too_large());
    }
    let mut digests = Digests::new();
    digests.update(&raw);
    let mut text = Vec::new();
    GzDecoder::new(raw.as_slice())
        .take(limits.max_metadata.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(bad_gzip)?;
    if text.len() as u64 > limits.max_metadata {
        return Err(too_large());
    }
    let text = String::from_utf8(text).map_err(|_| GemError::NotText(file))?;
    Ok((text, digests.finish()))
}

/// The gem error for a refusal of the shared walk over the `.gem` members.
fn refused_member(e: ArchiveError) -> GemError {
    match e {
        ArchiveError::UnsafePath(path) => GemError::UnsafeEntry(path),
        ArchiveError::TooManyEntries(max) => GemError::TooManyEntries(max),
        ArchiveError::NotTar(reason) => GemError::NotTar(reason),
        // Not raised for an uncompressed tar whose files are neither counted nor read whole.
        ArchiveError::NotGzip
        | ArchiveError::BadGzip(_)
        | ArchiveError::TooLarge(_)
        | ArchiveError::EntryTooLarge(_) => GemError::NotTar(e.to_string()),
    }
}
