//! Inspection of an uploaded package tarball (`.tgz`): format checks, `package.json`, file
//! statistics, and limits against decompression bombs.
//!
//! Implements npm protocol reference §5.2 step 3 ("check `package/package.json` name/version
//! agree") and gathers what §3.2/§3.3 need (`dist.fileCount`, `dist.unpackedSize`,
//! `_hasShrinkwrap`, `hasInstallScript`). See `docs/formats/npm.md`.

use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::rc::Rc;

use flate2::read::GzDecoder;
use serde_json::{Map, Value};

use crate::{PublishError, PublishRequest};

mod walk;
use walk::Walk;

/// Bytes of tar headers (and long-name/PAX records) allowed per entry on top of file contents.
const HEADER_ALLOWANCE: u64 = 2048;

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
pub fn inspect_tarball<R: Read>(
    mut r: R,
    limits: &TarballLimits,
) -> Result<TarballInfo, TarballError> {
    let mut magic = [0u8; 2];
    if r.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Err(TarballError::NotGzip);
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
    let mut walk = Walk::default();
    let entries = archive.entries().map_err(|e| state.classify(e, limits))?;
    for entry in entries {
        let entry = entry.map_err(|e| state.classify(e, limits))?;
        walk.entry(entry, limits).map_err(|e| match e {
            Step::Tar(io) => state.classify(io, limits),
            Step::Reject(t) => t,
        })?;
    }
    walk.finish()
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

/// Failure inside the per-entry walk: an I/O error to classify, or a rejection.
enum Step {
    Tar(io::Error),
    Reject(TarballError),
}

impl From<io::Error> for Step {
    fn from(e: io::Error) -> Self {
        Step::Tar(e)
    }
}

impl From<TarballError> for Step {
    fn from(e: TarballError) -> Self {
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
    fn classify(&self, e: io::Error, limits: &TarballLimits) -> TarballError {
        if self.over_limit.get() {
            TarballError::TooLarge(limits.max_unpacked)
        } else if self.gzip_error.get() {
            TarballError::BadGzip(e.to_string())
        } else {
            TarballError::NotTar(e.to_string())
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
