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
    render_whole(p, false)
}

/// Abbreviated (corgi) document, §3.3: `name`, `modified`, `dist-tags`, and `versions` with
/// only the allowed fields (`hasInstallScript` and `_hasShrinkwrap` included).
pub fn render_abbreviated(p: &PackageView) -> Vec<u8> {
    render_whole(p, true)
}

/// Renders every version object, then assembles the document.
fn render_whole(p: &PackageView, abbreviated: bool) -> Vec<u8> {
    let ordered = in_semver_order(p);
    let objects: Vec<Vec<u8>> = ordered
        .iter()
        .map(|v| render_version(&p.name, v, abbreviated))
        .collect();
    let entries: Vec<Entry<'_>> = ordered
        .iter()
        .zip(&objects)
        .map(|(v, object)| Entry {
            version: &v.version,
            published: &v.published,
            object,
        })
        .collect();
    let latest = latest(p, &ordered).map(|v| &v.manifest);
    let head = Head {
        name: &p.name,
        rev: &p.rev,
        created: &p.created,
        modified: &p.modified,
        dist_tags: &p.dist_tags,
        maintainers: &p.maintainers,
        latest,
    };
    assemble(&head, &entries, abbreviated).body
}

/// One version's object as it appears under `versions` in the full or the abbreviated
/// packument of package `name`: rendered on its own, so that a registry can keep it between
/// renderings of a package that gains versions (see [`assemble`]).
pub fn render_version(name: &str, v: &VersionView, abbreviated: bool) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    m.insert("version".into(), v.version.clone().into());
    if abbreviated {
        for field in CORGI_FIELDS {
            if let Some(value) = v.manifest.get(field)
                && !m.contains_key(field)
            {
                m.insert(field.into(), value.clone());
            }
        }
    } else {
        for (key, value) in &v.manifest {
            if key != "readme" && !m.contains_key(key) {
                m.insert(key.clone(), value.clone());
            }
        }
        m.entry("_id")
            .or_insert_with(|| format!("{name}@{}", v.version).into());
    }
    Value::Object(finish_version(m, v)).to_string().into_bytes()
}

/// The package-level parts of a packument.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// The package name.
    pub name: &'a str,
    /// Opaque revision (`_rev`, full document only).
    pub rev: &'a str,
    /// Creation time, ISO-8601 (full document only).
    pub created: &'a str,
    /// Last modification time, ISO-8601.
    pub modified: &'a str,
    /// Tag -> version.
    pub dist_tags: &'a BTreeMap<String, String>,
    /// The owners as `maintainers` (full document only); when empty, the latest version's.
    pub maintainers: &'a [(String, Option<String>)],
    /// The stored manifest of the version `latest` points at (else the highest): the full
    /// document hoists its description, readme and the like.
    pub latest: Option<&'a Map<String, Value>>,
}

/// One version of a packument being assembled: its key, publish time and rendered object.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The version key.
    pub version: &'a str,
    /// Publish time, ISO-8601 (the full document's `time`).
    pub published: &'a str,
    /// The object from [`render_version`].
    pub object: &'a [u8],
}

/// An assembled packument, with where each version's object lies in it.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The document.
    pub body: Vec<u8>,
    /// Per entry (in the order given), the byte range of its object in `body`.
    pub objects: Vec<std::ops::Range<usize>>,
}

/// The packument from its head and its version objects, given in SemVer order (see
/// [`sort_in_semver_order`]); byte for byte what [`render_full`] / [`render_abbreviated`] make.
pub fn assemble(head: &Head<'_>, entries: &[Entry<'_>], abbreviated: bool) -> Assembled {
    let size: usize = entries
        .iter()
        .map(|e| e.object.len() + e.version.len() + 8)
        .sum();
    let mut out = Json {
        buf: Vec::with_capacity(size + 1024),
        first: true,
    };
    out.buf.push(b'{');
    let from_latest = |field: &str| head.latest.and_then(|m| m.get(field));
    if !abbreviated {
        out.field("_id", &Value::from(head.name));
        out.field("_rev", &Value::from(head.rev));
    }
    out.field("name", &Value::from(head.name));
    if abbreviated {
        out.field("modified", &Value::from(head.modified));
    } else if let Some(description) = from_latest("description") {
        out.field("description", description);
    }
    let tags: Map<String, Value> = head
        .dist_tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    out.field("dist-tags", &Value::Object(tags));
    out.key("versions");
    out.buf.push(b'{');
    let mut objects = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.buf.push(b',');
        }
        out.string(e.version);
        out.buf.push(b':');
        let start = out.buf.len();
        out.buf.extend_from_slice(e.object);
        objects.push(start..out.buf.len());
    }
    out.buf.push(b'}');
    if !abbreviated {
        let mut time = Map::new();
        time.insert("created".into(), head.created.into());
        time.insert("modified".into(), head.modified.into());
        for e in entries {
            time.insert(e.version.to_string(), e.published.into());
        }
        out.field("time", &Value::Object(time));
        let maintainers = if head.maintainers.is_empty() {
            from_latest("maintainers")
                .filter(|v| v.is_array())
                .cloned()
                .unwrap_or_else(|| Value::Array(Vec::new()))
        } else {
            Value::Array(
                head.maintainers
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
            )
        };
        out.field("maintainers", &maintainers);
        for field in HOISTED {
            if let Some(value) = from_latest(field) {
                out.field(field, value);
            }
        }
    }
    out.buf.push(b'}');
    Assembled {
        body: out.buf,
        objects,
    }
}

/// A JSON object being written member by member.
struct Json {
    buf: Vec<u8>,
    first: bool,
}

impl Json {
    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.string(key);
        self.buf.push(b':');
    }

    fn string(&mut self, s: &str) {
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }

    fn field(&mut self, key: &str, value: &Value) {
        self.key(key);
        let _ = serde_json::to_writer(&mut self.buf, value);
    }
}

/// Sorts items by the SemVer precedence of the version each names.
pub fn sort_in_semver_order<T>(items: &mut [T], version: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| cmp_versions(version(a), version(b)));
}

/// Of versions in SemVer order, the one `latest` points at, else the highest.
pub fn latest_version<'a>(
    dist_tags: &BTreeMap<String, String>,
    ordered: &[&'a str],
) -> Option<&'a str> {
    dist_tags
        .get("latest")
        .and_then(|tag| ordered.iter().find(|v| **v == tag.as_str()))
        .or_else(|| ordered.last())
        .copied()
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
    let keys: Vec<&str> = ordered.iter().map(|v| v.version.as_str()).collect();
    let key = latest_version(&p.dist_tags, &keys)?;
    ordered.iter().find(|v| v.version == key).copied()
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
