//! Builds the codec's [`PackageView`] from the shared model's descriptor (dist-tags are package
//! properties named `npm.dist-tag.<tag>`; digests come from the stored blobs, never from clients).

use crate::services::packages::PackageDescriptor;
use crate::services::time::iso8601;
use base64::Engine;
use bytes::Bytes;
use packgate_npm::{Dist, Entry, Head, PackageView, VersionView};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::ops::Range;

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

/// The render input for one version (`None`: a version without a file is not listed).
fn version_view(
    name: &str,
    v: &crate::services::packages::VersionDescriptor,
    registry: &str,
) -> Option<VersionView> {
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
}

/// The render input for a package, with tarball URLs under `registry` (`{base}/{repo}`).
pub fn package_view(desc: &PackageDescriptor, registry: &str) -> PackageView {
    let name = &desc.package.name;
    let versions = desc
        .versions
        .iter()
        .filter_map(|v| version_view(name, v, registry))
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

/// Where each version's object lies in a rendered packument, by version id, with a hash of what
/// the object is made of: the next rendering of the package (a version more, a deprecation)
/// copies the objects that did not change instead of parsing and rendering them again.
#[derive(Debug, Default)]
pub struct Objects {
    by_version: HashMap<i64, (u64, Range<usize>)>,
}

impl Objects {
    /// Bytes it takes (counted in the document cache's bound).
    pub fn weight(&self) -> usize {
        self.by_version.len() * 48
    }
}

/// What a version's object depends on besides the package name and the registry URL (both in
/// the document's cache key): the stored manifest, the deprecation, the file and its digest.
fn object_hash(v: &crate::services::packages::VersionDescriptor) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.version.metadata.hash(&mut h);
    v.version.deprecated.hash(&mut h);
    if let Some((file, blob)) = v.files.first() {
        file.name.hash(&mut h);
        blob.sha256.hash(&mut h);
    }
    h.finish()
}

/// The packument of `desc` (full or abbreviated), byte for byte what
/// [`packgate_npm::render_full`] / [`packgate_npm::render_abbreviated`] make of
/// [`package_view`], reusing the objects of `previous` (the last rendering and its
/// [`Objects`]) where a version did not change; with the new rendering's objects.
pub fn render_packument(
    desc: &PackageDescriptor,
    registry: &str,
    abbreviated: bool,
    previous: Option<(&Bytes, &Objects)>,
) -> (Vec<u8>, Objects) {
    let name = &desc.package.name;
    struct Item<'a> {
        id: i64,
        hash: u64,
        version: &'a str,
        published: String,
        object: Bytes,
    }
    let mut items: Vec<Item<'_>> = desc
        .versions
        .iter()
        .filter(|v| !v.files.is_empty())
        .filter_map(|v| {
            let hash = object_hash(v);
            let kept = previous.and_then(|(body, objects)| {
                objects
                    .by_version
                    .get(&v.version.id)
                    .filter(|(h, r)| *h == hash && r.end <= body.len())
                    .map(|(_, r)| body.slice(r.clone()))
            });
            let object = match kept {
                Some(object) => object,
                None => Bytes::from(packgate_npm::render_version(
                    name,
                    &version_view(name, v, registry)?,
                    abbreviated,
                )),
            };
            Some(Item {
                id: v.version.id,
                hash,
                version: &v.version.version,
                published: iso8601(v.version.created_at),
                object,
            })
        })
        .collect();
    packgate_npm::sort_in_semver_order(&mut items, |i| i.version);
    let tags = dist_tags(desc);
    let keys: Vec<&str> = items.iter().map(|i| i.version).collect();
    // The full document hoists the latest version's description, readme and the like: the one
    // manifest parsed whatever was kept.
    let latest_manifest = if abbreviated {
        None
    } else {
        packgate_npm::latest_version(&tags, &keys)
            .and_then(|k| desc.versions.iter().find(|v| v.version.version == k))
            .map(
                |v| match serde_json::from_str::<serde_json::Value>(&v.version.metadata) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => serde_json::Map::new(),
                },
            )
    };
    let rev = rev(desc);
    let (created, modified) = (
        iso8601(desc.package.created_at),
        iso8601(desc.package.updated_at),
    );
    let maintainers: Vec<(String, Option<String>)> = desc
        .owners
        .iter()
        .map(|o| (o.login.clone(), o.email.clone()))
        .collect();
    let head = Head {
        name,
        rev: &rev,
        created: &created,
        modified: &modified,
        dist_tags: &tags,
        maintainers: &maintainers,
        latest: latest_manifest.as_ref(),
    };
    let entries: Vec<Entry<'_>> = items
        .iter()
        .map(|i| Entry {
            version: i.version,
            published: &i.published,
            object: &i.object,
        })
        .collect();
    let assembled = packgate_npm::assemble(&head, &entries, abbreviated);
    let by_version = items
        .iter()
        .zip(assembled.objects)
        .map(|(i, r)| (i.id, (i.hash, r)))
        .collect();
    (assembled.body, Objects { by_version })
}
