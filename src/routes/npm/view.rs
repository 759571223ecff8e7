//! Builds the codec's [`PackageView`] from the shared model's descriptor (dist-tags are package
//! properties named `npm.dist-tag.<tag>`; digests come from the stored blobs, never from clients).

use crate::services::packages::PackageDescriptor;
use crate::services::time::iso8601;
use base64::Engine;
use packgate_npm::{Dist, PackageView, VersionView};
use std::collections::BTreeMap;

/// The property-name prefix of dist-tags.
pub const DIST_TAG: &str = "npm.dist-tag.";

/// `sha512-<base64>` from raw SHA-512 bytes.
pub fn integrity(sha512: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha512)
    )
}

/// The dist-tags of a package.
pub fn dist_tags(desc: &PackageDescriptor) -> BTreeMap<String, String> {
    desc.properties_with_prefix(DIST_TAG)
        .map(|(t, v)| (t.to_string(), v.to_string()))
        .collect()
}

/// The `_rev` npm copies into write URLs.
pub fn rev(desc: &PackageDescriptor) -> String {
    format!(
        "{}-{:x}",
        desc.package.change_stamp + 1,
        desc.package.updated_at
    )
}

/// The render input for a package, with tarball URLs under `registry` (`{base}/{repo}`).
pub fn package_view(desc: &PackageDescriptor, registry: &str) -> PackageView {
    let name = &desc.package.name;
    let versions = desc
        .versions
        .iter()
        .filter_map(|v| {
            let (file, blob) = v.files.first()?;
            let manifest = match serde_json::from_str::<serde_json::Value>(&v.version.metadata) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            let d = blob.digests();
            Some(VersionView {
                version: v.version.version.clone(),
                manifest,
                dist: Dist {
                    tarball: format!("{registry}/{name}/-/{}", file.name),
                    shasum: d.sha1.clone(),
                    integrity: integrity(&d.sha512),
                },
                deprecated: v.version.deprecated.clone(),
                published: iso8601(v.version.created_at),
            })
        })
        .collect();
    PackageView {
        name: name.clone(),
        rev: rev(desc),
        created: iso8601(desc.package.created_at),
        modified: iso8601(desc.package.updated_at),
        dist_tags: dist_tags(desc),
        versions,
        maintainers: desc
            .owners
            .iter()
            .map(|o| (o.login.clone(), o.email.clone()))
            .collect(),
    }
}
