//! Rendering of the packument (`GET /{name}`): the full document, the abbreviated ("corgi")
//! document, and the `Accept` negotiation between them.
//!
//! Follows npm protocol reference §3.1 ("Content negotiation"), §3.2 ("Full document") and
//! §3.3 ("Abbreviated document"). See `docs/formats/npm.md`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::version::cmp_versions;

/// Media type of the abbreviated document.
const CORGI: &str = "application/vnd.npm.install-v1+json";

/// Per-version fields kept in the abbreviated document (besides `dist` and `deprecated`,
/// which are rendered from [`VersionView`]).
const CORGI_FIELDS: [&str; 18] = [
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "engines",
    "_hasShrinkwrap",
    "hasInstallScript",
    "funding",
    "cpu",
    "os",
    "libc",
];

/// Top-level fields copied from the `latest` version into the full document.
const HOISTED: [&str; 8] = [
    "readme",
    "readmeFilename",
    "license",
    "homepage",
    "keywords",
    "repository",
    "author",
    "bugs",
];

/// The registry-computed `dist` fields of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    /// Absolute tarball URL (`{reg}/{name}/-/{basename}-{version}.tgz`).
    pub tarball: String,
    /// SHA-1 hex of the tarball.
    pub shasum: String,
    /// SRI string, `sha512-<base64>`.
    pub integrity: String,
}

/// One version as stored, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionView {
    /// The version key.
    pub version: String,
    /// The stored manifest (see [`crate::stored_manifest`]).
    pub manifest: Map<String, Value>,
    /// Registry-computed digests and URL.
    pub dist: Dist,
    /// Deprecation message; `None` or empty means not deprecated.
    pub deprecated: Option<String>,
    /// Publish time, ISO-8601.
    pub published: String,
}

/// A package as stored, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageView {
    /// The package name.
    pub name: String,
    /// Opaque revision npm copies into `/-rev/{rev}` URLs.
    pub rev: String,
    /// Creation time, ISO-8601.
    pub created: String,
    /// Last modification time, ISO-8601.
    pub modified: String,
    /// Tag → version.
    pub dist_tags: BTreeMap<String, String>,
    /// The versions, in any order.
    pub versions: Vec<VersionView>,
    /// The package's owners as `maintainers` (login, e-mail), which `npm owner ls` prints and
    /// `npm owner add/rm` edits; when empty, the latest version's `maintainers` are shown.
    pub maintainers: Vec<(String, Option<String>)>,
}

/// Full packument (protocol §3.2): `_id`, `_rev`, `name`, description/readme/license/homepage/
/// keywords/repository/author/bugs hoisted from the latest-tagged version (readme removed from
/// the per-version objects), `dist-tags`, `versions` keyed in SemVer order with `dist` merged
/// (`fileCount`/`unpackedSize` from the stored manifest's dist, plus tarball/shasum/integrity),
/// `deprecated` only when set, `time` {created, modified, `<version>`...}, `maintainers`.
pub fn render_full(p: &PackageView) -> Vec<u8> {
    let ordered = in_semver_order(p);
    let latest = latest(p, &ordered).map(|v| &v.manifest);
    let from_latest = |field: &str| latest.and_then(|m| m.get(field)).cloned();

    let mut doc = Map::new();
    doc.insert("_id".into(), p.name.clone().into());
    doc.insert("_rev".into(), p.rev.clone().into());
    doc.insert("name".into(), p.name.clone().into());
    if let Some(description) = from_latest("description") {
        doc.insert("description".into(), description);
    }
    doc.insert("dist-tags".into(), dist_tags(p));
    let versions = ordered.iter().map(|v| {
        let mut m = version_base(p, v);
        for (key, value) in &v.manifest {
            if key != "readme" && !m.contains_key(key) {
                m.insert(key.clone(), value.clone());
            }
        }
        m.entry("_id")
            .or_insert_with(|| format!("{}@{}", p.name, v.version).into());
        (v.version.clone(), Value::Object(finish_version(m, v)))
    });
    doc.insert("versions".into(), Value::Object(versions.collect()));

    let mut time = Map::new();
    time.insert("created".into(), p.created.clone().into());
    time.insert("modified".into(), p.modified.clone().into());
    for v in &ordered {
        time.insert(v.version.clone(), v.published.clone().into());
    }
    doc.insert("time".into(), Value::Object(time));
    let maintainers = if p.maintainers.is_empty() {
        from_latest("maintainers").filter(Value::is_array)
    } else {
        Some(Value::Array(
            p.maintainers
                .iter()
                .map(|(name, email)| {
                    let mut m = Map::new();
                    m.insert("name".into(), name.clone().into());
                    if let Some(e) = email {
                        m.insert("email".into(), e.clone().into());
                    }
                    Value::Object(m)
                })
                .collect(),
        ))
    };
    doc.insert(
        "maintainers".into(),
        maintainers.unwrap_or_else(|| Value::Array(Vec::new())),
    );
    for field in HOISTED {
        if let Some(value) = from_latest(field) {
            doc.insert(field.into(), value);
        }
    }
    Value::Object(doc).to_string().into_bytes()
}

/// Abbreviated (corgi) document, §3.3: `name`, `modified`, `dist-tags`, and `versions` with
/// only the allowed fields (`hasInstallScript` and `_hasShrinkwrap` included).
pub fn render_abbreviated(p: &PackageView) -> Vec<u8> {
    let versions = in_semver_order(p).into_iter().map(|v| {
        let mut m = version_base(p, v);
        for field in CORGI_FIELDS {
            if let Some(value) = v.manifest.get(field)
                && !m.contains_key(field)
            {
                m.insert(field.into(), value.clone());
            }
        }
        (v.version.clone(), Value::Object(finish_version(m, v)))
    });
    let mut doc = Map::new();
    doc.insert("name".into(), p.name.clone().into());
    doc.insert("modified".into(), p.modified.clone().into());
    doc.insert("dist-tags".into(), dist_tags(p));
    doc.insert("versions".into(), Value::Object(versions.collect()));
    Value::Object(doc).to_string().into_bytes()
}

/// True when an Accept header asks for the corgi document (names
/// `application/vnd.npm.install-v1+json` with q > 0). An unparsable q counts as 0.
pub fn wants_abbreviated(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(CORGI) {
            return false;
        }
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok());
        q.is_some_and(|q| q > 0.0)
    })
}

/// The versions sorted by SemVer precedence.
fn in_semver_order(p: &PackageView) -> Vec<&VersionView> {
    let mut ordered: Vec<&VersionView> = p.versions.iter().collect();
    ordered.sort_by(|a, b| cmp_versions(&a.version, &b.version));
    ordered
}

/// The version `latest` points at, else the highest one.
fn latest<'a>(p: &PackageView, ordered: &[&'a VersionView]) -> Option<&'a VersionView> {
    p.dist_tags
        .get("latest")
        .and_then(|tag| ordered.iter().find(|v| &v.version == tag))
        .or_else(|| ordered.last())
        .copied()
}

fn dist_tags(p: &PackageView) -> Value {
    let tags = p.dist_tags.iter();
    Value::Object(tags.map(|(k, v)| (k.clone(), v.clone().into())).collect())
}

/// `name` and `version` as the registry knows them, first in every version object.
fn version_base(p: &PackageView, v: &VersionView) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), p.name.clone().into());
    m.insert("version".into(), v.version.clone().into());
    m
}

/// Replaces `dist` with the merged one and sets `deprecated` only when non-empty.
fn finish_version(mut m: Map<String, Value>, v: &VersionView) -> Map<String, Value> {
    let mut dist = Map::new();
    dist.insert("integrity".into(), v.dist.integrity.clone().into());
    dist.insert("shasum".into(), v.dist.shasum.clone().into());
    dist.insert("tarball".into(), v.dist.tarball.clone().into());
    let stored = v.manifest.get("dist").and_then(Value::as_object);
    for key in ["fileCount", "unpackedSize"] {
        if let Some(value) = stored.and_then(|d| d.get(key)) {
            dist.insert(key.into(), value.clone());
        }
    }
    m.insert("dist".into(), Value::Object(dist));
    m.remove("deprecated");
    if let Some(msg) = v.deprecated.as_ref().filter(|d| !d.is_empty()) {
        m.insert("deprecated".into(), msg.clone().into());
    }
    m
}
