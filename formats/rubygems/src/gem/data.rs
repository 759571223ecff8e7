//! The walk over `data.tar.gz`: link safety and entry types on top of the bounded gzip-tar
//! reading of `packgate-archive` (gzip and tar well-formedness, paths, limits against
//! decompression bombs), while the compressed bytes are hashed for `checksums.yaml.gz`.
//!
//! Implements the RubyGems protocol reference §5.1 step 1 (the `.gem` layout). See
//! `docs/formats/rubygems.md`.

use std::collections::HashSet;
use std::io::{self, Read};

use packgate_archive::{Allow, Archive, ArchiveError, Bounds, Kind, PathRule, is_absolute};

use super::digest::{Digests, FileDigests, Hashing};
use super::{GemError, GemLimits};

/// Walks `data.tar.gz` read from `member` to its end and returns the digests of its bytes.
pub(super) fn walk<R: Read>(member: &mut R, limits: &GemLimits) -> Result<FileDigests, GemError> {
    let hashing = Hashing {
        inner: member,
        digests: Digests::new(),
    };
    let bounds = Bounds {
        max_entries: limits.max_entries,
        max_unpacked: limits.max_unpacked,
    };
    let mut archive = Archive::gzip(hashing, bounds, PathRule::SlashOrBackslash);
    let mut links = Links::default();
    for entry in archive.entries().map_err(refused)? {
        let entry = entry.map_err(refused)?;
        let path = entry.path();
        let parts = entry.parts();
        links.check_entry(path, &parts)?;
        match Allow::FilesDirsAndLinks.check(&entry) {
            Ok(Kind::File) => entry.count_file().map_err(refused)?,
            Ok(Kind::Symlink) => links.add(path, &parts, entry.link_target(), true)?,
            Ok(Kind::HardLink) => links.add(path, &parts, entry.link_target(), false)?,
            Ok(_) => {}
            Err(kind) => {
                let path = path.to_owned();
                return Err(GemError::DataNotRegular { path, kind });
            }
        }
    }
    links.finish()?;
    // Read the rest (end-of-archive blocks, gzip trailer, padding) so the digest covers the
    // whole member.
    let mut hashing = archive.drain().map_err(refused)?;
    io::copy(&mut hashing, &mut io::sink()).map_err(|e| GemError::NotTar(e.to_string()))?;
    Ok(hashing.digests.finish())
}

/// The gem error for a refusal of the shared archive walk.
fn refused(e: ArchiveError) -> GemError {
    match e {
        ArchiveError::BadGzip(reason) => GemError::BadGzip {
            file: "data.tar.gz",
            reason,
        },
        ArchiveError::NotTar(reason) => GemError::DataNotTar(reason),
        ArchiveError::UnsafePath(path) => GemError::UnsafePath(path),
        ArchiveError::TooManyEntries(max) => GemError::TooManyEntries(max),
        ArchiveError::TooLarge(max) => GemError::TooLarge(max),
        // Not raised here: the magic bytes are left to the decoder and no entry is read whole.
        ArchiveError::NotGzip | ArchiveError::EntryTooLarge(_) => {
            GemError::DataNotTar(e.to_string())
        }
    }
}

/// Resolves a link `target` from the directory `base` and returns the directories it passes
/// through (joined with `/`), or `None` if it leaves the gem: absolute and empty targets always
/// do, `..` may climb only as far as the top.
pub(crate) fn resolve_link(base: &[&str], target: &str) -> Option<Vec<String>> {
    if target.is_empty() || is_absolute(target) {
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
        path: &str,
        parts: &[&str],
        target: String,
        symlink: bool,
    ) -> Result<(), GemError> {
        let path = path.to_owned();
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

#[cfg(test)]
mod tests {
    use super::resolve_link;

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
