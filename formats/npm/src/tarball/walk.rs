//! The per-entry walk over a package tarball: path safety, the single top-level directory,
//! file statistics and the interesting files at depth 1 (`package.json`,
//! `npm-shrinkwrap.json`, `binding.gyp`).

use std::io::Read;

use serde_json::{Map, Value};

use super::{Step, TarballError, TarballInfo, TarballLimits};

/// State accumulated over the entries of one tarball.
#[derive(Default)]
pub(super) struct Walk {
    top: Option<String>,
    entries: u64,
    manifest: Option<Map<String, Value>>,
    file_count: u64,
    unpacked_size: u64,
    has_shrinkwrap: bool,
    has_binding_gyp: bool,
}

impl Walk {
    /// Looks at one entry (reading it only when it is the top-level `package.json`).
    pub(super) fn entry<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        limits: &TarballLimits,
    ) -> Result<(), Step> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        self.entries += 1;
        if self.entries > limits.max_entries {
            return Err(TarballError::TooManyEntries(limits.max_entries).into());
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(parts) = components(&path) else {
            return Err(TarballError::UnsafePath(path).into());
        };
        let Some(&top) = parts.first() else {
            return Ok(());
        };
        match &self.top {
            None => self.top = Some(top.to_owned()),
            Some(first) if first != top => {
                return Err(TarballError::MultipleTopDirs {
                    first: first.clone(),
                    second: top.to_owned(),
                }
                .into());
            }
            Some(_) => {}
        }
        let is_file = kind.is_file() || kind == tar::EntryType::Continuous;
        if !is_file {
            return Ok(());
        }
        if parts.len() == 1 {
            return Err(TarballError::OutsideTopDir(path).into());
        }
        let size = entry.size();
        self.file_count += 1;
        self.unpacked_size = self.unpacked_size.saturating_add(size);
        if self.unpacked_size > limits.max_unpacked {
            return Err(TarballError::TooLarge(limits.max_unpacked).into());
        }
        if parts.len() == 2 {
            match parts[1] {
                "package.json" => self.read_manifest(&mut entry, size, limits)?,
                "npm-shrinkwrap.json" => self.has_shrinkwrap = true,
                "binding.gyp" => self.has_binding_gyp = true,
                _ => {}
            }
        }
        Ok(())
    }

    fn read_manifest<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        size: u64,
        limits: &TarballLimits,
    ) -> Result<(), Step> {
        if self.manifest.is_some() {
            let top = self.top.clone().unwrap_or_default();
            return Err(TarballError::ManifestDuplicate(top).into());
        }
        if size > limits.max_manifest {
            return Err(TarballError::ManifestTooLarge(limits.max_manifest).into());
        }
        let mut buf = Vec::new();
        entry
            .take(limits.max_manifest.saturating_add(1))
            .read_to_end(&mut buf)?;
        let text = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf);
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| TarballError::ManifestInvalid(e.to_string()))?;
        match value {
            Value::Object(map) => self.manifest = Some(map),
            _ => return Err(TarballError::ManifestNotObject.into()),
        }
        Ok(())
    }

    /// The result, once every entry was seen.
    pub(super) fn finish(self) -> Result<TarballInfo, TarballError> {
        let top = self.top.ok_or(TarballError::Empty)?;
        let manifest = self.manifest.ok_or(TarballError::ManifestMissing(top))?;
        Ok(TarballInfo {
            manifest,
            file_count: self.file_count,
            unpacked_size: self.unpacked_size,
            has_shrinkwrap: self.has_shrinkwrap,
            has_binding_gyp: self.has_binding_gyp,
        })
    }
}

/// The path's components without empty and `.` parts; `None` for an absolute path (also a
/// Windows drive or UNC path) or one with a `..` component (with `/` or `\` as separator).
fn components(path: &str) -> Option<Vec<&str>> {
    let drive =
        path.len() >= 2 && path.as_bytes()[1] == b':' && path.as_bytes()[0].is_ascii_alphabetic();
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
            components("package/lib/a.js"),
            Some(vec!["package", "lib", "a.js"])
        );
        assert_eq!(components("./package//a.js"), Some(vec!["package", "a.js"]));
        assert_eq!(components("package/"), Some(vec!["package"]));
        for bad in [
            "/etc/passwd",
            "package/../x",
            "..",
            "package/a\\..\\b",
            "C:/x",
            "\\x",
        ] {
            assert_eq!(components(bad), None, "{bad}");
        }
    }
}
