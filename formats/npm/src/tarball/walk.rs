//! The per-entry walk over a package tarball: the single top-level directory and the
//! interesting files at depth 1 (`package.json`, `npm-shrinkwrap.json`, `binding.gyp`). Path
//! safety, limits and file statistics come from `packgate-archive`.

use std::io::Read;

use packgate_archive::{Allow, Entry, Kind, Totals};
use serde_json::{Map, Value};

use super::{TarballError, TarballInfo, TarballLimits, refused};

/// State accumulated over the entries of one tarball.
#[derive(Default)]
pub(super) struct Walk {
    top: Option<String>,
    manifest: Option<Map<String, Value>>,
    has_shrinkwrap: bool,
    has_binding_gyp: bool,
}

impl Walk {
    /// Looks at one entry (reading it only when it is the top-level `package.json`).
    pub(super) fn entry<R: Read>(
        &mut self,
        mut entry: Entry<'_, R>,
        limits: &TarballLimits,
    ) -> Result<(), TarballError> {
        let parts = entry.parts();
        let Some(&top) = parts.first() else {
            return Ok(());
        };
        match &self.top {
            None => self.top = Some(top.to_owned()),
            Some(first) if first != top => {
                return Err(TarballError::MultipleTopDirs {
                    first: first.clone(),
                    second: top.to_owned(),
                });
            }
            Some(_) => {}
        }
        match Allow::FilesAndDirs.check(&entry) {
            Err(kind) => {
                let path = entry.path().to_owned();
                return Err(TarballError::NotRegular { path, kind });
            }
            Ok(Kind::Dir) => return Ok(()),
            Ok(_) => {}
        }
        if parts.len() == 1 {
            return Err(TarballError::OutsideTopDir(entry.path().to_owned()));
        }
        entry.count_file().map_err(refused)?;
        let file = if parts.len() == 2 { parts[1] } else { "" };
        self.has_shrinkwrap |= file == "npm-shrinkwrap.json";
        self.has_binding_gyp |= file == "binding.gyp";
        if file == "package.json" {
            self.read_manifest(&mut entry, limits)?;
        }
        Ok(())
    }

    fn read_manifest<R: Read>(
        &mut self,
        entry: &mut Entry<'_, R>,
        limits: &TarballLimits,
    ) -> Result<(), TarballError> {
        if self.manifest.is_some() {
            let top = self.top.clone().unwrap_or_default();
            return Err(TarballError::ManifestDuplicate(top));
        }
        let buf = entry.read_bounded(limits.max_manifest).map_err(refused)?;
        let text = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf);
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| TarballError::ManifestInvalid(e.to_string()))?;
        match value {
            Value::Object(map) => self.manifest = Some(map),
            _ => return Err(TarballError::ManifestNotObject),
        }
        Ok(())
    }

    /// The result, once every entry was seen.
    pub(super) fn finish(self, files: Totals) -> Result<TarballInfo, TarballError> {
        let top = self.top.ok_or(TarballError::Empty)?;
        let manifest = self.manifest.ok_or(TarballError::ManifestMissing(top))?;
        Ok(TarballInfo {
            manifest,
            file_count: files.files,
            unpacked_size: files.unpacked,
            has_shrinkwrap: self.has_shrinkwrap,
            has_binding_gyp: self.has_binding_gyp,
        })
    }
}
