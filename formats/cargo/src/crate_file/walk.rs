//! The per-entry walk over a `.crate`: the `{name}-{vers}/` prefix, entry types and reading the
//! packaged `Cargo.toml`. Path safety, limits and file statistics come from `packgate-archive`.

use std::io::Read;

use packgate_archive::{Allow, Entry, Kind, Totals};
use serde::Deserialize;

use super::{CrateError, CrateInfo, CrateLimits, refused};

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
    manifest: Option<(String, String)>,
}

impl<'a> Walk<'a> {
    /// A walk expecting every entry under `{name}-{vers}/`.
    pub(super) fn new(name: &'a str, vers: &'a str) -> Self {
        Self {
            name,
            vers,
            prefix: format!("{name}-{vers}"),
            manifest: None,
        }
    }

    /// Looks at one entry (reading it only when it is `{prefix}/Cargo.toml`).
    pub(super) fn entry<R: Read>(
        &mut self,
        mut entry: Entry<'_, R>,
        limits: &CrateLimits,
    ) -> Result<(), CrateError> {
        let parts = entry.parts();
        let is_dir = entry.kind() == Kind::Dir;
        let under_prefix =
            parts.first() == Some(&self.prefix.as_str()) && (parts.len() > 1 || is_dir);
        if !under_prefix {
            let path = entry.path().to_owned();
            let prefix = self.prefix.clone();
            return Err(CrateError::OutsidePrefix { path, prefix });
        }
        match Allow::FilesAndDirs.check(&entry) {
            Err(kind) => {
                let path = entry.path().to_owned();
                return Err(CrateError::NotRegular { path, kind });
            }
            Ok(Kind::Dir) => return Ok(()),
            Ok(_) => {}
        }
        entry.count_file().map_err(refused)?;
        if parts.len() == 2 && parts[1] == "Cargo.toml" {
            self.read_manifest(&mut entry, limits)?;
        }
        Ok(())
    }

    fn read_manifest<R: Read>(
        &mut self,
        entry: &mut Entry<'_, R>,
        limits: &CrateLimits,
    ) -> Result<(), CrateError> {
        if self.manifest.is_some() {
            return Err(CrateError::ManifestDuplicate(self.prefix.clone()));
        }
        let buf = entry.read_bounded(limits.max_manifest).map_err(refused)?;
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
    pub(super) fn finish(self, files: Totals) -> Result<CrateInfo, CrateError> {
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
            file_count: files.files,
            unpacked_size: files.unpacked,
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
