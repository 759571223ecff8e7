//! The walk over `data.tar.gz`: gzip and tar well-formedness, path and link safety, entry
//! types, and limits against decompression bombs, while the compressed bytes are hashed for
//! `checksums.yaml.gz`.
//!
//! Implements the RubyGems protocol reference §5.1 step 1 (the `.gem` layout). See
//! `docs/formats/rubygems.md`.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read};
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;

use super::digest::{Digests, FileDigests, Hashing};
use super::{GemError, GemLimits, kind_name};

/// Bytes of tar headers (and long-name/PAX records) allowed per entry on top of file contents.
const HEADER_ALLOWANCE: u64 = 2048;

/// Walks `data.tar.gz` read from `member` to its end and returns the digests of its bytes.
pub(super) fn walk<R: Read>(member: &mut R, limits: &GemLimits) -> Result<FileDigests, GemError> {
    let guard = Rc::new(Guard::default());
    let cap = limits.max_unpacked.saturating_add(
        limits
            .max_entries
            .saturating_add(16)
            .saturating_mul(HEADER_ALLOWANCE),
    );
    let hashing = Hashing {
        inner: member,
        digests: Digests::new(),
    };
    let mut archive = tar::Archive::new(Guarded {
        inner: GzDecoder::new(hashing),
        left: cap,
        guard: guard.clone(),
    });
    let classify = |e: io::Error| guard.classify(e, limits);
    let mut links = Links::default();
    let mut count = 0u64;
    let mut unpacked = 0u64;
    for entry in archive.entries().map_err(classify)? {
        let entry = entry.map_err(classify)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        count += 1;
        if count > limits.max_entries {
            return Err(GemError::TooManyEntries(limits.max_entries));
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(parts) = components(&path) else {
            return Err(GemError::UnsafePath(path));
        };
        links.check_entry(&path, &parts)?;
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                unpacked = unpacked.saturating_add(entry.size());
                if unpacked > limits.max_unpacked {
                    return Err(GemError::TooLarge(limits.max_unpacked));
                }
            }
            EntryType::Directory => {}
            EntryType::Symlink | EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                links.add(path.clone(), &parts, target, kind == EntryType::Symlink)?;
            }
            _ => {
                let kind = kind_name(kind);
                return Err(GemError::DataNotRegular { path, kind });
            }
        }
    }
    links.finish()?;
    // Read the rest (end-of-archive blocks, gzip trailer, padding) so the digest covers the
    // whole member.
    let mut guarded = archive.into_inner();
    io::copy(&mut guarded, &mut io::sink()).map_err(classify)?;
    let mut hashing = guarded.inner.into_inner();
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| GemError::NotTar(e.to_string()))?;
    Ok(hashing.digests.finish())
}

/// The path's components without empty and `.` parts; `None` for an absolute path (also a
/// Windows drive or UNC path) or one with a `..` component (with `/` or `\` as separator).
pub(crate) fn components(path: &str) -> Option<Vec<&str>> {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic();
    if path.is_empty() || path.starts_with(['/', '\\']) || drive {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split(['/', '\\']) {
        if part == ".." {
            return None;
        }
        if !part.is_empty() && part != "." {
            parts.push(part);
        }
    }
    Some(parts)
}

/// Resolves a link `target` from the directory `base` and returns the directories it passes
/// through (joined with `/`), or `None` if it leaves the gem: absolute and empty targets always
/// do, `..` may climb only as far as the top.
pub(crate) fn resolve_link(base: &[&str], target: &str) -> Option<Vec<String>> {
    let bytes = target.as_bytes();
    let drive = bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic();
    if target.is_empty() || target.starts_with(['/', '\\']) || drive {
        return None;
    }
    let parts: Vec<&str> = target
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut stack = base.to_vec();
    let mut passed = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if *part == ".." {
            stack.pop()?;
        } else {
            stack.push(part);
        }
        if i + 1 < parts.len() && !stack.is_empty() {
            passed.push(stack.join("/"));
        }
    }
    Some(passed)
}

/// The links seen so far, to refuse paths that reach outside through a chain of symlinks.
#[derive(Default)]
struct Links {
    /// Paths of symlinks, components joined with `/`.
    symlinks: HashSet<String>,
    /// (link path, directories its target passes through), checked once all links are known.
    passes: Vec<(String, String, Vec<String>)>,
}

impl Links {
    /// No entry may sit below a symlink seen earlier (it would be written through it).
    fn check_entry(&self, path: &str, parts: &[&str]) -> Result<(), GemError> {
        if self.symlinks.is_empty() {
            return Ok(());
        }
        for end in 1..parts.len() {
            let dir = parts[..end].join("/");
            if self.symlinks.contains(&dir) {
                return Err(GemError::ThroughLink {
                    path: path.to_owned(),
                    link: dir,
                });
            }
        }
        Ok(())
    }

    /// A symlink is resolved from its directory, a hard link from the top of the archive.
    fn add(
        &mut self,
        path: String,
        parts: &[&str],
        target: String,
        symlink: bool,
    ) -> Result<(), GemError> {
        let base = if symlink {
            &parts[..parts.len().saturating_sub(1)]
        } else {
            &[][..]
        };
        let Some(passed) = resolve_link(base, &target) else {
            return Err(GemError::LinkEscapes { path, target });
        };
        if symlink {
            self.symlinks.insert(parts.join("/"));
        }
        self.passes.push((path, target, passed));
        Ok(())
    }

    /// No link target may pass through a symlink (its `..` would climb from elsewhere).
    fn finish(self) -> Result<(), GemError> {
        for (path, target, passed) in self.passes {
            if passed.iter().any(|dir| self.symlinks.contains(dir)) {
                return Err(GemError::LinkEscapes { path, target });
            }
        }
        Ok(())
    }
}

/// Remembers why the decompressed stream failed, so tar errors can be told apart.
#[derive(Default)]
struct Guard {
    /// The gzip decoder failed.
    gzip_error: Cell<bool>,
    /// The decompressed-bytes cap was reached.
    over_limit: Cell<bool>,
}

impl Guard {
    /// The error to report for a failed read of the decompressed stream.
    fn classify(&self, e: io::Error, limits: &GemLimits) -> GemError {
        if self.over_limit.get() {
            GemError::TooLarge(limits.max_unpacked)
        } else if self.gzip_error.get() {
            GemError::BadGzip {
                file: "data.tar.gz",
                reason: e.to_string(),
            }
        } else {
            GemError::DataNotTar(e.to_string())
        }
    }
}

/// The gzip decoder, with a cap on decompressed bytes and error bookkeeping.
struct Guarded<R> {
    /// The gzip decoder.
    inner: R,
    /// Decompressed bytes still allowed.
    left: u64,
    /// Where failures are recorded.
    guard: Rc<Guard>,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            self.guard.over_limit.set(true);
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
                self.guard.gzip_error.set(true);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{components, resolve_link};

    #[test]
    fn paths_are_split_and_checked() {
        assert_eq!(components("lib/a.rb"), Some(vec!["lib", "a.rb"]));
        assert_eq!(components("./lib//a.rb"), Some(vec!["lib", "a.rb"]));
        for bad in [
            "/etc/passwd",
            "lib/../../x",
            "..",
            "a\\..\\b",
            "C:/x",
            "\\x",
            "",
        ] {
            assert_eq!(components(bad), None, "{bad}");
        }
    }

    #[test]
    fn link_targets_are_resolved_from_their_directory() {
        assert_eq!(
            resolve_link(&["lib", "demo"], "../other.rb"),
            Some(vec!["lib".to_owned()])
        );
        assert_eq!(
            resolve_link(&["lib"], "./x/../y"),
            Some(vec!["lib/x".to_owned(), "lib".to_owned()])
        );
        assert_eq!(resolve_link(&["lib"], "../../etc/passwd"), None);
        assert_eq!(resolve_link(&[], ".."), None);
        assert_eq!(resolve_link(&["lib"], "/etc/passwd"), None);
        assert_eq!(resolve_link(&["lib"], ""), None);
    }
}
