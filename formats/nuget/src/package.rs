//! Reading a `.nupkg` or `.snupkg`: zip structure checks, a streaming read of every entry with
//! size and ratio bounds (zip bombs) and CRC checks, and the root `.nuspec`.
//!
//! Follows the NuGet protocol reference §7.1 and §7.4. Nothing is extracted and no entry is
//! held in memory except the `.nuspec`; the package bytes are never rewritten.

use std::io::{Read, Seek};

use crate::nuspec::{Nuspec, NuspecError, parse_nuspec};
use crate::version::NuGetVersion;

/// Entries below this uncompressed size are exempt from the ratio bound.
const RATIO_EXEMPT: u64 = 1024 * 1024;

/// Bounds applied while reading a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageLimits {
    /// Most zip entries accepted (default 20 000).
    pub max_entries: usize,
    /// Largest `.nuspec` entry, uncompressed (default 1 MiB).
    pub max_nuspec: u64,
    /// Largest total of all entries, uncompressed (default 1 GiB).
    pub max_unpacked: u64,
    /// Largest uncompressed/compressed ratio of one entry (default 1000); entries under 1 MiB
    /// uncompressed are exempt.
    pub max_ratio: u64,
}

impl Default for PackageLimits {
    fn default() -> Self {
        PackageLimits {
            max_entries: 20_000,
            max_nuspec: 1024 * 1024,
            max_unpacked: 1024 * 1024 * 1024,
            max_ratio: 1000,
        }
    }
}

impl PackageLimits {
    /// The defaults, with the unpacked total raised to eight times a larger upload limit (zip
    /// entries are compressed one by one; the per-entry ratio bound still applies).
    pub fn for_upload(max_upload: u64) -> Self {
        let d = Self::default();
        Self {
            max_unpacked: d.max_unpacked.max(max_upload.saturating_mul(8)),
            ..d
        }
    }
}

/// A package that passed every check.
#[derive(Debug, Clone)]
pub struct ReadPackage {
    /// The parsed and validated manifest.
    pub nuspec: Nuspec,
    /// The `.nuspec` entry byte for byte.
    pub nuspec_bytes: Vec<u8>,
    /// The name of the `.nuspec` entry.
    pub nuspec_name: String,
    /// The package version parsed from the manifest.
    pub version: NuGetVersion,
    /// Number of zip entries.
    pub entries: usize,
    /// Total uncompressed size of all entries.
    pub unpacked: u64,
}

/// Why a package is refused. [`PackageError::reason`] gives a fixed HTTP reason phrase.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The bytes are not a zip archive.
    #[error("the package is not a valid zip archive ({0})")]
    NotZip(String),
    /// Reading the package failed below the zip layer.
    #[error("the package could not be read: {0}")]
    Io(String),
    /// More entries than [`PackageLimits::max_entries`].
    #[error("the package contains {count} entries; at most {max} are allowed")]
    TooManyEntries {
        /// Entries found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An entry name is absolute, has a `..` segment or a NUL byte.
    #[error("the package contains the entry '{0}', whose path is absolute or goes up with '..'")]
    UnsafePath(String),
    /// An entry is encrypted.
    #[error("the package contains the encrypted entry '{0}'; encrypted entries are not allowed")]
    Encrypted(String),
    /// An entry cannot be read: bad compressed data, CRC mismatch, size mismatch.
    #[error("the package entry '{0}' is corrupt: {1}")]
    Corrupt(String, String),
    /// The entries together unpack to more than [`PackageLimits::max_unpacked`].
    #[error("the package unpacks to more than {max} bytes (reached at entry '{name}')")]
    TooLarge {
        /// The entry being read when the bound was crossed.
        name: String,
        /// The limit.
        max: u64,
    },
    /// One entry unpacks to more than [`PackageLimits::max_ratio`] times its compressed size.
    #[error(
        "the package entry '{name}' unpacks to more than {max_ratio} times its compressed size of {compressed} bytes"
    )]
    ZipBomb {
        /// The entry.
        name: String,
        /// Its compressed size.
        compressed: u64,
        /// The ratio limit.
        max_ratio: u64,
        /// Bytes of it read before stopping (0 when its declared size alone was too large).
        read: u64,
    },
    /// No `.nuspec` at the archive root.
    #[error("the package contains no .nuspec file at its root")]
    NoNuspec,
    /// More than one `.nuspec` at the archive root.
    #[error(
        "the package contains {} .nuspec files at its root ({}); exactly one is allowed",
        .0.len(),
        .0.join(", ")
    )]
    SeveralNuspecs(Vec<String>),
    /// The `.nuspec` entry is larger than [`PackageLimits::max_nuspec`].
    #[error("the .nuspec file '{name}' is larger than {max} bytes")]
    NuspecTooLarge {
        /// The entry name.
        name: String,
        /// The limit.
        max: u64,
    },
    /// The `.nuspec` is refused.
    #[error("{0}")]
    Nuspec(#[from] NuspecError),
}

impl PackageError {
    /// A fixed, specific HTTP reason phrase for this kind of error (NuGet clients show only
    /// the status line).
    pub fn reason(&self) -> &'static str {
        match self {
            PackageError::NotZip(_) => "The package is not a valid zip archive",
            PackageError::Io(_) => "The package could not be read",
            PackageError::TooManyEntries { .. } => "The package has too many entries",
            PackageError::UnsafePath(_) => {
                "The package contains an entry with an absolute or '..' path"
            }
            PackageError::Encrypted(_) => "The package contains an encrypted entry",
            PackageError::Corrupt(..) => "The package contains a corrupt entry",
            PackageError::TooLarge { .. } | PackageError::ZipBomb { .. } => {
                "The package unpacks to more than the size limit"
            }
            PackageError::NoNuspec => "The package contains no .nuspec file",
            PackageError::SeveralNuspecs(_) => "The package contains more than one .nuspec file",
            PackageError::NuspecTooLarge { .. } => "The .nuspec file is too large",
            PackageError::Nuspec(e) => e.reason(),
        }
    }
}

/// Whether an entry name is absolute (`/x`, `\x`, `C:…`), has a `..` segment or a NUL.
fn unsafe_path(name: &str) -> bool {
    let b = name.as_bytes();
    name.starts_with(['/', '\\'])
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
        || name.contains('\0')
        || name.split(['/', '\\']).any(|seg| seg == "..")
}

/// Whether an entry is a `.nuspec` at the archive root.
fn is_root_nuspec(name: &str) -> bool {
    !name.contains(['/', '\\'])
        && name.len() >= 7
        && name.as_bytes()[name.len() - 7..].eq_ignore_ascii_case(b".nuspec")
}

/// Reads and checks a whole package; see the module documentation for the rules.
pub fn read_package<R: Read + Seek>(
    r: R,
    limits: &PackageLimits,
) -> Result<ReadPackage, PackageError> {
    let mut zip = zip::ZipArchive::new(r).map_err(|e| match e {
        zip::result::ZipError::Io(io) => PackageError::Io(io.to_string()),
        other => PackageError::NotZip(other.to_string()),
    })?;
    let count = zip.len();
    if count > limits.max_entries {
        return Err(PackageError::TooManyEntries {
            count,
            max: limits.max_entries,
        });
    }
    // First the cheap checks on names and flags, before anything is decompressed.
    let mut names = Vec::with_capacity(count);
    let mut nuspecs = Vec::new();
    for i in 0..count {
        let entry = zip
            .by_index_data(i)
            .map_err(|e| PackageError::NotZip(e.to_string()))?;
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
                return Err(PackageError::Corrupt(raw, e.to_string()));
            }
        };
        if unsafe_path(&name) {
            return Err(PackageError::UnsafePath(name));
        }
        if entry.encrypted() {
            return Err(PackageError::Encrypted(name));
        }
        if is_root_nuspec(&name) {
            nuspecs.push((i, name.clone()));
        }
        names.push(name);
    }
    let (nuspec_index, nuspec_name) = match nuspecs.len() {
        0 => return Err(PackageError::NoNuspec),
        1 => nuspecs.remove(0),
        _ => {
            return Err(PackageError::SeveralNuspecs(
                nuspecs.into_iter().map(|(_, n)| n).collect(),
            ));
        }
    };
    let mut budget = Budget {
        total: 0,
        max_total: limits.max_unpacked,
        max_ratio: limits.max_ratio,
    };
    let mut nuspec_bytes = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| PackageError::Corrupt(name.clone(), e.to_string()))?;
        let (declared, compressed) = (entry.size(), entry.compressed_size());
        let keep = if i == nuspec_index {
            if declared > limits.max_nuspec {
                return Err(PackageError::NuspecTooLarge {
                    name: name.clone(),
                    max: limits.max_nuspec,
                });
            }
            Some((&mut nuspec_bytes, limits.max_nuspec))
        } else {
            None
        };
        budget.drain(name, &mut entry, declared, compressed, keep)?;
    }
    let nuspec = parse_nuspec(&nuspec_bytes)?;
    let version = NuGetVersion::parse(&nuspec.version).map_err(NuspecError::from)?;
    Ok(ReadPackage {
        nuspec,
        nuspec_bytes,
        nuspec_name,
        version,
        entries: count,
        unpacked: budget.total,
    })
}

/// The running unpacked total and the bounds checked while entries stream by.
struct Budget {
    total: u64,
    max_total: u64,
    max_ratio: u64,
}

impl Budget {
    /// The largest size an entry of `compressed` bytes may unpack to.
    fn ratio_cap(&self, compressed: u64) -> u64 {
        self.max_ratio
            .saturating_mul(compressed.max(1))
            .max(RATIO_EXEMPT)
    }

    /// Reads one entry to its end, checking the bounds before and while reading, and keeps
    /// its bytes when `keep` is given (up to the given size).
    fn drain(
        &mut self,
        name: &str,
        entry: &mut dyn Read,
        declared: u64,
        compressed: u64,
        mut keep: Option<(&mut Vec<u8>, u64)>,
    ) -> Result<(), PackageError> {
        let too_large = || PackageError::TooLarge {
            name: name.to_owned(),
            max: self.max_total,
        };
        let bomb = |read| PackageError::ZipBomb {
            name: name.to_owned(),
            compressed,
            max_ratio: self.max_ratio,
            read,
        };
        let cap = self.ratio_cap(compressed);
        if declared > cap {
            return Err(bomb(0));
        }
        if declared > self.max_total - self.total {
            return Err(too_large());
        }
        let mut buf = [0u8; 64 * 1024];
        let mut read = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PackageError::Corrupt(name.to_owned(), e.to_string())),
            };
            read += n as u64;
            if read > cap {
                return Err(bomb(read));
            }
            if read > self.max_total - self.total {
                return Err(too_large());
            }
            if let Some((out, max)) = keep.as_mut() {
                if read > *max {
                    return Err(PackageError::NuspecTooLarge {
                        name: name.to_owned(),
                        max: *max,
                    });
                }
                out.extend_from_slice(&buf[..n]);
            }
        }
        if read != declared {
            return Err(PackageError::Corrupt(
                name.to_owned(),
                format!("it declares {declared} bytes but holds {read}"),
            ));
        }
        self.total += read;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_bounds_stop_reading_early_when_sizes_lie() {
        // An entry that declares 100 bytes but streams 50 MB of zeros.
        let mut src = std::io::repeat(0).take(50_000_000);
        let mut budget = Budget {
            total: 0,
            max_total: u64::MAX,
            max_ratio: 10,
        };
        let e = budget.drain("bomb", &mut src, 100, 1000, None).unwrap_err();
        assert!(matches!(e, PackageError::ZipBomb { read, .. } if read <= RATIO_EXEMPT + 65536));
        assert!(src.limit() > 48_000_000, "stopped early");
        let mut src = std::io::repeat(1).take(50_000_000);
        let mut budget = Budget {
            total: 0,
            max_total: 2_000_000,
            max_ratio: 1000,
        };
        let e = budget
            .drain("big", &mut src, 100, 49_000_000, None)
            .unwrap_err();
        assert!(matches!(e, PackageError::TooLarge { .. }));
        assert!(src.limit() > 47_000_000, "stopped early");
    }
}
