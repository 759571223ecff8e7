//! Inspection of an uploaded `.crate` (a gzipped tar of `{name}-{vers}/...`): format checks,
//! path and entry-type safety, the packaged `Cargo.toml`, file statistics, and limits against
//! decompression bombs.
//!
//! Implements the Cargo registry protocol reference §5.2 step 4 ("check that the tarball's top
//! directory and `Cargo.toml` match name/version"). See `docs/formats/cargo.md`.

use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

use flate2::read::GzDecoder;

mod walk;
use walk::Walk;

/// Bytes of tar headers (and long-name/PAX records) allowed per entry on top of file contents.
const HEADER_ALLOWANCE: u64 = 2048;

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
    mut r: R,
    name: &str,
    vers: &str,
    limits: &CrateLimits,
) -> Result<CrateInfo, CrateError> {
    let mut magic = [0u8; 2];
    if r.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Err(CrateError::NotGzip);
    }
    let state = Rc::new(Guard::default());
    let cap = limits.max_unpacked.saturating_add(
        limits
            .max_entries
            .saturating_add(16)
            .saturating_mul(HEADER_ALLOWANCE),
    );
    let gz = GzDecoder::new(Cursor::new(magic).chain(r));
    let mut archive = tar::Archive::new(Guarded {
        inner: gz,
        left: cap,
        state: state.clone(),
    });
    let mut walk = Walk::new(name, vers);
    let entries = archive.entries().map_err(|e| state.classify(e, limits))?;
    for entry in entries {
        let entry = entry.map_err(|e| state.classify(e, limits))?;
        walk.entry(entry, limits).map_err(|e| match e {
            Step::Tar(io) => state.classify(io, limits),
            Step::Reject(c) => c,
        })?;
    }
    walk.finish()
}

/// Failure inside the per-entry walk: an I/O error to classify, or a rejection.
enum Step {
    Tar(io::Error),
    Reject(CrateError),
}

impl From<io::Error> for Step {
    fn from(e: io::Error) -> Self {
        Step::Tar(e)
    }
}

impl From<CrateError> for Step {
    fn from(e: CrateError) -> Self {
        Step::Reject(e)
    }
}

/// Remembers why the decompressed stream failed, so tar errors can be told apart.
#[derive(Default)]
struct Guard {
    gzip_error: Cell<bool>,
    over_limit: Cell<bool>,
}

impl Guard {
    fn classify(&self, e: io::Error, limits: &CrateLimits) -> CrateError {
        if self.over_limit.get() {
            CrateError::TooLarge(limits.max_unpacked)
        } else if self.gzip_error.get() {
            CrateError::BadGzip(e.to_string())
        } else {
            CrateError::NotTar(e.to_string())
        }
    }
}

/// The gzip decoder, with a cap on decompressed bytes and error bookkeeping.
struct Guarded<R> {
    inner: R,
    left: u64,
    state: Rc<Guard>,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            self.state.over_limit.set(true);
            return Err(io::Error::other("decompressed size limit reached"));
        }
        let max = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match self.inner.read(&mut buf[..max]) {
            Ok(n) => {
                self.left -= n as u64;
                Ok(n)
            }
            Err(e) => {
                self.state.gzip_error.set(true);
                Err(e)
            }
        }
    }
}
