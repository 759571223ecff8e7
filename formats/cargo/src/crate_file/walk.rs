//! The per-entry walk over a `.crate`: path safety, the `{name}-{vers}/` prefix, entry types,
//! file statistics, and reading the packaged `Cargo.toml`.

use std::io::Read;

use serde::Deserialize;
use tar::EntryType;

use super::{CrateError, CrateInfo, CrateLimits, Step};

/// The parts of the packaged `Cargo.toml` the registry checks.
#[derive(Deserialize)]
struct Manifest {
    package: Option<Package>,
    /// The old, deprecated spelling of `[package]`, which older cargo versions accept.
    project: Option<Package>,
}

/// `[package]`: cargo writes both keys as plain strings when it packages a crate.
#[derive(Deserialize)]
struct Package {
    name: Option<String>,
    version: Option<String>,
}

/// State accumulated over the entries of one `.crate`.
pub(super) struct Walk<'a> {
    name: &'a str,
    vers: &'a str,
    prefix: String,
    entries: u64,
    manifest: Option<(String, String)>,
    file_count: u64,
    unpacked_size: u64,
}

impl<'a> Walk<'a> {
    /// A walk expecting every entry under `{name}-{vers}/`.
    pub(super) fn new(name: &'a str, vers: &'a str) -> Self {
        Self {
            name,
            vers,
            prefix: format!("{name}-{vers}"),
            entries: 0,
            manifest: None,
            file_count: 0,
            unpacked_size: 0,
        }
    }

    /// Looks at one entry (reading it only when it is `{prefix}/Cargo.toml`).
    pub(super) fn entry<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        limits: &CrateLimits,
    ) -> Result<(), Step> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        self.entries += 1;
        if self.entries > limits.max_entries {
            return Err(CrateError::TooManyEntries(limits.max_entries).into());
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(parts) = components(&path) else {
            return Err(CrateError::UnsafePath(path).into());
        };
        let is_file = kind.is_file() || kind == EntryType::Continuous;
        let under_prefix =
            parts.first() == Some(&self.prefix.as_str()) && (parts.len() > 1 || kind.is_dir());
        if !under_prefix {
            let prefix = self.prefix.clone();
            return Err(CrateError::OutsidePrefix { path, prefix }.into());
        }
        if !is_file && !kind.is_dir() {
            let kind = kind_name(kind);
            return Err(CrateError::NotRegular { path, kind }.into());
        }
        if kind.is_dir() {
            return Ok(());
        }
        let size = entry.size();
        self.file_count += 1;
        self.unpacked_size = self.unpacked_size.saturating_add(size);
        if self.unpacked_size > limits.max_unpacked {
            return Err(CrateError::TooLarge(limits.max_unpacked).into());
        }
        if parts.len() == 2 && parts[1] == "Cargo.toml" {
            self.read_manifest(&mut entry, size, limits)?;
        }
        Ok(())
    }

    fn read_manifest<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        size: u64,
        limits: &CrateLimits,
    ) -> Result<(), Step> {
        if self.manifest.is_some() {
            return Err(CrateError::ManifestDuplicate(self.prefix.clone()).into());
        }
        if size > limits.max_manifest {
            return Err(CrateError::ManifestTooLarge(limits.max_manifest).into());
        }
        let mut buf = Vec::new();
        entry
            .take(limits.max_manifest.saturating_add(1))
            .read_to_end(&mut buf)?;
        let invalid = |e: &dyn std::fmt::Display| CrateError::ManifestInvalid(e.to_string());
        let text = String::from_utf8(buf).map_err(|e| invalid(&e))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let manifest: Manifest = toml::from_str(text).map_err(|e| invalid(&e))?;
        let package = manifest
            .package
            .or(manifest.project)
            .ok_or_else(|| invalid(&"no [package] table"))?;
        let name = package.name.ok_or_else(|| invalid(&"no [package] name"))?;
        let version = package
            .version
            .ok_or_else(|| invalid(&"no [package] version"))?;
        self.manifest = Some((name, version));
        Ok(())
    }

    /// The result, once every entry was seen.
    pub(super) fn finish(self) -> Result<CrateInfo, CrateError> {
        let (name, version) = self
            .manifest
            .ok_or(CrateError::ManifestMissing(self.prefix))?;
        if name != self.name {
            return Err(mismatch("name", name, self.name));
        }
        let same = match (
            semver::Version::parse(&version),
            semver::Version::parse(self.vers),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => version == self.vers,
        };
        if !same {
            return Err(mismatch("version", version, self.vers));
        }
        Ok(CrateInfo {
            manifest_name: name,
            manifest_version: version,
            file_count: self.file_count,
            unpacked_size: self.unpacked_size,
        })
    }
}

fn mismatch(field: &'static str, manifest: String, publish: &str) -> CrateError {
    CrateError::ManifestMismatch {
        field,
        manifest,
        publish: publish.to_owned(),
    }
}

/// A word for an entry type that is neither a regular file nor a directory.
fn kind_name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Symlink => "symlink",
        EntryType::Link => "hard link",
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "fifo",
        EntryType::GNUSparse => "sparse file",
        _ => "special entry",
    }
}

/// The path's components without empty and `.` parts; `None` for an absolute path (also a
/// Windows drive or UNC path) or one with a `..` component (with `/` or `\` as separator).
fn components(path: &str) -> Option<Vec<&str>> {
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic();
    if path.starts_with(['/', '\\']) || drive {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        if part.split('\\').any(|p| p == "..") {
            return None;
        }
        if !part.is_empty() && part != "." {
            parts.push(part);
        }
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::components;

    #[test]
    fn paths_are_split_and_checked() {
        assert_eq!(
            components("demo-1.0.0/src/lib.rs"),
            Some(vec!["demo-1.0.0", "src", "lib.rs"])
        );
        assert_eq!(
            components("./demo-1.0.0//a.rs"),
            Some(vec!["demo-1.0.0", "a.rs"])
        );
        for bad in [
            "/etc/passwd",
            "demo/../x",
            "..",
            "demo/a\\..\\b",
            "C:/x",
            "\\x",
        ] {
            assert_eq!(components(bad), None, "{bad}");
        }
    }
}
