//! Inspection of an uploaded package tarball (`.tgz`): format checks, `package.json`, file
//! statistics, and limits against decompression bombs.
//!
//! Implements npm protocol reference §5.2 step 3 ("check `package/package.json` name/version
//! agree") and gathers what §3.2/§3.3 need (`dist.fileCount`, `dist.unpackedSize`,
//! `_hasShrinkwrap`, `hasInstallScript`). See `docs/formats/npm.md`.

use std::io::Read;

use packgate_archive::{Archive, ArchiveError, Bounds, PathRule};
use serde_json::{Map, Value};

use crate::{PublishError, PublishRequest};

mod walk;
use walk::Walk;

/// Why a tarball was refused. Each message is meant for the npm user.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    /// Does not start with the gzip magic bytes.
    #[error("tarball is not gzip")]
    NotGzip,
    /// Starts like gzip but does not decompress.
    #[error("tarball is not valid gzip: {0}")]
    BadGzip(String),
    /// Decompresses, but is not a tar archive.
    #[error("tarball is not a valid tar archive: {0}")]
    NotTar(String),
    /// The archive has no entries.
    #[error("tarball contains no files")]
    Empty,
    /// No `package.json` directly under the top-level directory.
    #[error("package.json missing from the tarball (expected {0}/package.json)")]
    ManifestMissing(String),
    /// Two `package.json` entries at the top level.
    #[error("tarball contains {0}/package.json more than once")]
    ManifestDuplicate(String),
    /// `package.json` larger than the limit.
    #[error("package.json in the tarball is larger than {0} bytes")]
    ManifestTooLarge(u64),
    /// `package.json` is not JSON.
    #[error("package.json in the tarball is not valid JSON: {0}")]
    ManifestInvalid(String),
    /// `package.json` is JSON but not an object.
    #[error("package.json in the tarball is not a JSON object")]
    ManifestNotObject,
    /// An absolute path or a `..` component.
    #[error("tarball entry '{0}' has an absolute path or a '..' component")]
    UnsafePath(String),
    /// Entries under more than one top-level directory.
    #[error("tarball must have a single top-level directory, found '{first}' and '{second}'")]
    MultipleTopDirs {
        /// The first top-level directory seen.
        first: String,
        /// Another one.
        second: String,
    },
    /// A symlink, hard link, device, fifo or other entry that is not a file or a directory:
    /// `npm pack` never writes one, and a link could point outside the package once unpacked.
    #[error("tarball entry '{path}' is a {kind}; only regular files and directories are allowed")]
    NotRegular {
        /// The entry's path.
        path: String,
        /// What it is, e.g. "symlink".
        kind: &'static str,
    },
    /// A file directly at the archive root.
    #[error("tarball entry '{0}' is not inside the top-level directory")]
    OutsideTopDir(String),
    /// More entries than allowed.
    #[error("tarball has more than {0} entries")]
    TooManyEntries(u64),
    /// Files add up to more than allowed.
    #[error("tarball unpacks to more than {0} bytes")]
    TooLarge(u64),
}

/// Limits applied while streaming a tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarballLimits {
    /// Largest total size of the regular files.
    pub max_unpacked: u64,
    /// Largest `package.json`.
    pub max_manifest: u64,
    /// Most tar entries (files, directories, links).
    pub max_entries: u64,
}

impl Default for TarballLimits {
    /// 512 MiB unpacked, 1 MiB `package.json`, 100 000 entries.
    fn default() -> Self {
        Self {
            max_unpacked: 512 * 1024 * 1024,
            max_manifest: 1024 * 1024,
            max_entries: 100_000,
        }
    }
}

impl TarballLimits {
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

/// What a tarball holds, as far as the registry cares.
#[derive(Debug, Clone, PartialEq)]
pub struct TarballInfo {
    /// `{top}/package.json`, parsed.
    pub manifest: Map<String, Value>,
    /// Number of regular files.
    pub file_count: u64,
    /// Total size of the regular files.
    pub unpacked_size: u64,
    /// `{top}/npm-shrinkwrap.json` is present.
    pub has_shrinkwrap: bool,
    /// `{top}/binding.gyp` is present.
    pub has_binding_gyp: bool,
}

/// Streams a .tgz: must be gzip, a tar, package.json at depth 1 under a single top directory
/// (usually "package/"), parsed as a JSON object; counts regular files and their total size;
/// enforces limits (decompression bombs); rejects absolute paths and ".." components.
pub fn inspect_tarball<R: Read>(r: R, limits: &TarballLimits) -> Result<TarballInfo, TarballError> {
    let bounds = Bounds {
        max_entries: limits.max_entries,
        max_unpacked: limits.max_unpacked,
    };
    let mut archive = Archive::gzip_checked(r, bounds, PathRule::Slash).map_err(refused)?;
    let mut walk = Walk::default();
    for entry in archive.entries().map_err(refused)? {
        walk.entry(entry.map_err(refused)?, limits)?;
    }
    walk.finish(archive.totals())
}

/// The tarball's package.json must agree with the publish (name and version). The version is
/// compared after npm's `semver.clean` (leading `v`/`=` and spaces dropped). The error message
/// names both values.
pub fn check_tarball_matches(info: &TarballInfo, req: &PublishRequest) -> Result<(), PublishError> {
    let field = |f: &str| info.manifest.get(f).and_then(Value::as_str);
    let mismatch =
        |field: &'static str, tarball: Option<&str>, publish: &str| PublishError::TarballMismatch {
            field,
            tarball: tarball.unwrap_or("<missing>").to_owned(),
            publish: publish.to_owned(),
        };
    let name = field("name");
    if name != Some(req.name.as_str()) {
        return Err(mismatch("name", name, &req.name));
    }
    let version = field("version");
    let cleaned = version.map(|v| v.trim().trim_start_matches(['=', 'v']).trim());
    if cleaned != Some(req.version.as_str()) {
        return Err(mismatch("version", version, &req.version));
    }
    Ok(())
}

/// The tarball error for a refusal of the shared archive walk.
fn refused(e: ArchiveError) -> TarballError {
    match e {
        ArchiveError::NotGzip => TarballError::NotGzip,
        ArchiveError::BadGzip(reason) => TarballError::BadGzip(reason),
        ArchiveError::NotTar(reason) => TarballError::NotTar(reason),
        ArchiveError::UnsafePath(path) => TarballError::UnsafePath(path),
        ArchiveError::TooManyEntries(max) => TarballError::TooManyEntries(max),
        ArchiveError::TooLarge(max) => TarballError::TooLarge(max),
        // The only entry read whole is package.json.
        ArchiveError::EntryTooLarge(max) => TarballError::ManifestTooLarge(max),
    }
}
