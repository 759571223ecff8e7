//! Inspection of an uploaded `.crate` (a gzipped tar of `{name}-{vers}/...`): format checks,
//! path and entry-type safety, the packaged `Cargo.toml`, file statistics, and limits against
//! decompression bombs.
//!
//! Implements the Cargo registry protocol reference §5.2 step 4 ("check that the tarball's top
//! directory and `Cargo.toml` match name/version"). See `docs/formats/cargo.md`.

use std::io::Read;

use packgate_archive::{Archive, ArchiveError, Bounds, PathRule};

mod walk;
use walk::Walk;

/// Why a `.crate` was refused. Each message is meant for the cargo user.
#[derive(Debug, thiserror::Error)]
pub enum CrateError {
    /// Does not start with the gzip magic bytes.
    #[error("the .crate is not gzip")]
    NotGzip,
    /// Starts like gzip but does not decompress.
    #[error("the .crate is not valid gzip: {0}")]
    BadGzip(String),
    /// Decompresses, but is not a tar archive.
    #[error("the .crate is not a valid tar archive: {0}")]
    NotTar(String),
    /// An absolute path or a `..` component.
    #[error("the .crate entry '{0}' has an absolute path or a '..' component")]
    UnsafePath(String),
    /// An entry that is not below `{name}-{vers}/`.
    #[error("the .crate entry '{path}' has a path outside {prefix}/")]
    OutsidePrefix {
        /// The entry's path.
        path: String,
        /// The directory every entry must be in, `{name}-{vers}`.
        prefix: String,
    },
    /// A symlink, hard link, device, fifo or other special entry.
    #[error(
        "the .crate entry '{path}' is a {kind}; only regular files and directories are allowed"
    )]
    NotRegular {
        /// The entry's path.
        path: String,
        /// What it is, e.g. "symlink".
        kind: &'static str,
    },
    /// No `{name}-{vers}/Cargo.toml`.
    #[error("Cargo.toml missing from the .crate (expected {0}/Cargo.toml)")]
    ManifestMissing(String),
    /// Two `{name}-{vers}/Cargo.toml` entries.
    #[error("the .crate contains {0}/Cargo.toml more than once")]
    ManifestDuplicate(String),
    /// `Cargo.toml` larger than the limit.
    #[error("Cargo.toml in the .crate is larger than {0} bytes")]
    ManifestTooLarge(u64),
    /// `Cargo.toml` is not UTF-8 TOML with a `[package]` name and version.
    #[error("Cargo.toml in the .crate is not valid: {0}")]
    ManifestInvalid(String),
    /// `Cargo.toml` names another crate or version than the publish metadata.
    #[error(
        "Cargo.toml in the .crate has {field} '{manifest}' but the publish metadata says '{publish}'"
    )]
    ManifestMismatch {
        /// `name` or `version`.
        field: &'static str,
        /// The value in `Cargo.toml`.
        manifest: String,
        /// The value in the publish metadata.
        publish: String,
    },
    /// More entries than allowed.
    #[error("the .crate has more than {0} entries")]
    TooManyEntries(u64),
    /// Files add up to more than allowed.
    #[error("the .crate unpacks to more than {0} bytes")]
    TooLarge(u64),
}

/// Limits applied while streaming a `.crate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrateLimits {
    /// Largest total size of the regular files.
    pub max_unpacked: u64,
    /// Most tar entries (files and directories).
    pub max_entries: u64,
    /// Largest `Cargo.toml`.
    pub max_manifest: u64,
}

impl Default for CrateLimits {
    /// 512 MiB unpacked, 100 000 entries, 1 MiB `Cargo.toml`.
    fn default() -> Self {
        Self {
            max_unpacked: 512 * 1024 * 1024,
            max_entries: 100_000,
            max_manifest: 1024 * 1024,
        }
    }
}

impl CrateLimits {
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

/// What a `.crate` holds, as far as the registry cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateInfo {
    /// `[package] name` of the packaged `Cargo.toml` (equal to the publish name).
    pub manifest_name: String,
    /// `[package] version` of the packaged `Cargo.toml`, as written there.
    pub manifest_version: String,
    /// Number of regular files.
    pub file_count: u64,
    /// Total size of the regular files.
    pub unpacked_size: u64,
}

/// Streams a .crate: gzip, tar, every entry under "{name}-{vers}/" (exact, case-sensitive, as
/// meta says), no absolute paths or "..", only regular files and directories (symlinks, hard
/// links, devices, fifos refused), "{name}-{vers}/Cargo.toml" present; parse it with toml:
/// `[package]` name and version must equal meta's (version compared as semver). Bounded by
/// limits (decompression bombs).
pub fn inspect_crate<R: Read>(
    r: R,
    name: &str,
    vers: &str,
    limits: &CrateLimits,
) -> Result<CrateInfo, CrateError> {
    let bounds = Bounds {
        max_entries: limits.max_entries,
        max_unpacked: limits.max_unpacked,
    };
    let mut archive = Archive::gzip_checked(r, bounds, PathRule::Slash).map_err(refused)?;
    let mut walk = Walk::new(name, vers);
    for entry in archive.entries().map_err(refused)? {
        walk.entry(entry.map_err(refused)?, limits)?;
    }
    walk.finish(archive.totals())
}

/// The `.crate` error for a refusal of the shared archive walk.
fn refused(e: ArchiveError) -> CrateError {
    match e {
        ArchiveError::NotGzip => CrateError::NotGzip,
        ArchiveError::BadGzip(reason) => CrateError::BadGzip(reason),
        ArchiveError::NotTar(reason) => CrateError::NotTar(reason),
        ArchiveError::UnsafePath(path) => CrateError::UnsafePath(path),
        ArchiveError::TooManyEntries(max) => CrateError::TooManyEntries(max),
        ArchiveError::TooLarge(max) => CrateError::TooLarge(max),
        // The only entry read whole is Cargo.toml.
        ArchiveError::EntryTooLarge(max) => CrateError::ManifestTooLarge(max),
    }
}
