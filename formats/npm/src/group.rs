//! Group repositories: one packument (`GET /{name}`, full or abbreviated) merged from the
//! packuments of a group's members, hosted and proxy, in precedence order, and which member
//! supplies each version (to route tarball downloads and explain the merge).
//!
//! The merge: the union of `versions`, the earliest member winning a version that several list;
//! `dist-tags` and every other top-level field from the earliest member that lists a version, with
//! tags naming an unlisted version dropped (`latest` moved); `time` for the listed versions only;
//! every `dist.tarball` pointed at the group. See `docs/formats/npm.md`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use crate::proxy::url_basename;
use crate::version::{cmp_versions, retag_after_removal, version_identity};

/// Why no packument can be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// No member packument was given: no member has the package (a 404 for the client).
    #[error("no member of the group has the package")]
    NoMembers,
    /// A member's packument is not a JSON object.
    #[error("the packument of group member {member} is unusable: {reason}")]
    Malformed {
        /// The member's index in the slice given to the merge.
        member: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Which member supplies one version of a merged packument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSource {
    /// The version key, as the supplying member lists it.
    pub version: String,
    /// The member's index in the slice given to the merge.
    pub member: usize,
    /// The tarball file name (last segment of the member's `dist.tarball`), when it has one.
    pub file: Option<String>,
}

/// A packument merged from a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedPackument {
    /// The merged document, JSON.
    pub body: Vec<u8>,
    /// Every merged version with its supplier, in SemVer order.
    pub sources: Vec<VersionSource>,
}

impl MergedPackument {
    /// The version whose tarball is `file` (`widget-1.0.0.tgz`), to route a download.
    pub fn source_of_file(&self, file: &str) -> Option<&VersionSource> {
        self.sources
            .iter()
            .find(|s| s.file.as_deref() == Some(file))
    }

    /// The source of `version` (exact version key).
    pub fn source_of_version(&self, version: &str) -> Option<&VersionSource> {
        self.sources.iter().find(|s| s.version == version)
    }
}

/// One version picked for the merged document.
struct Picked {
    version: String,
    member: usize,
    manifest: Value,
}

/// Merges the packuments of the members that have package `name`, in member order (indexes in
/// the result refer to `members`; leave out members without the package). All members are of one
/// kind, full or abbreviated (abbreviated ones carry a top-level `modified` and no `time`).
///
/// - `versions`: the union; a version listed by several members (also as `1.0.0+a` and `1.0.0+b`,
///   one version for npm, see [`crate::version_identity`]) comes from the earliest one. Versions
///   whose manifest is not an object are left out.
/// - `dist-tags` and every other top-level field (`name`, `description`, `readme`, ...): from the
///   earliest member that lists at least one version (else the first member). Tags naming a
///   version the merge does not list are dropped, and `latest` then names the highest merged
///   stable version (else the highest merged one).
/// - `time`: `created` (the earliest of the members'), `modified` (the latest), and each merged
///   version's time from the member that supplies it; nothing else. A top-level `modified` is the
///   latest of the members'.
/// - `dist.tarball` of each version becomes `{registry}/{name}/-/{file}`, `file` being the last
///   segment of the member's URL; `integrity`, `shasum` and `signatures` stay as they are.
pub fn merge_packuments(
    members: &[&[u8]],
    name: &str,
    registry: &str,
) -> Result<MergedPackument, GroupError> {
    let docs = members
        .iter()
        .enumerate()
        .map(|(member, body)| parse(member, body))
        .collect::<Result<Vec<_>, _>>()?;
    let primary = docs
        .iter()
        .position(|d| versions_of(d).is_some_and(|v| !v.is_empty()))
        .unwrap_or(0);
    let Some(first) = docs.get(primary) else {
        return Err(GroupError::NoMembers);
    };

    let mut picked = pick_versions(&docs);
    let base = format!("{}/{}/-/", registry.trim_end_matches('/'), name);
    let mut sources = Vec::with_capacity(picked.len());
    for p in &mut picked {
        let file = rewrite_tarball(&mut p.manifest, &base);
        sources.push(VersionSource {
            version: p.version.clone(),
            member: p.member,
            file,
        });
    }

    let mut out = first.clone();
    let merged: Vec<String> = picked.iter().map(|p| p.version.clone()).collect();
    out.insert(
        "dist-tags".into(),
        Value::Object(dist_tags(first.get("dist-tags"), &merged)),
    );
    if docs
        .iter()
        .any(|d| d.get("time").is_some_and(Value::is_object))
    {
        out.insert("time".into(), Value::Object(time(&docs, &picked)));
    }
    if let Some(modified) = extreme(&docs, |d| d.get("modified"), Ordering::Greater) {
        out.insert("modified".into(), Value::String(modified));
    }
    let versions: Map<String, Value> = picked
        .into_iter()
        .map(|p| (p.version, p.manifest))
        .collect();
    out.insert("versions".into(), Value::Object(versions));

    let body = Value::Object(out).to_string().into_bytes();
    Ok(MergedPackument { body, sources })
}

fn parse(member: usize, body: &[u8]) -> Result<Map<String, Value>, GroupError> {
    let malformed = |reason: String| GroupError::Malformed { member, reason };
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(doc)) => Ok(doc),
        Ok(_) => Err(malformed("the packument is not a JSON object".into())),
        Err(e) => Err(malformed(format!("the packument is not JSON: {e}"))),
    }
}

fn versions_of(doc: &Map<String, Value>) -> Option<&Map<String, Value>> {
    doc.get("versions").and_then(Value::as_object)
}

/// The union of the members' versions, earliest member first, in SemVer order.
fn pick_versions(docs: &[Map<String, Value>]) -> Vec<Picked> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut picked = Vec::new();
    for (member, doc) in docs.iter().enumerate() {
        let versions = versions_of(doc).into_iter().flatten();
        for (version, manifest) in versions.filter(|(_, m)| m.is_object()) {
            if seen.insert(version_identity(version)) {
                picked.push(Picked {
                    version: version.clone(),
                    member,
                    manifest: manifest.clone(),
                });
            }
        }
    }
    picked.sort_by(|a, b| cmp_versions(&a.version, &b.version));
    picked
}

/// Points `dist.tarball` at `{base}{file}`; returns `file`.
fn rewrite_tarball(manifest: &mut Value, base: &str) -> Option<String> {
    let dist = manifest.get_mut("dist")?.as_object_mut()?;
    let file = url_basename(dist.get("tarball")?.as_str()?)?.to_owned();
    dist.insert("tarball".into(), Value::String(format!("{base}{file}")));
    Some(file)
}

/// The primary member's string tags, those naming an unlisted version dropped and `latest`
/// moved as when versions are unpublished ([`crate::retag_after_removal`]). A tag naming a
/// version the packument does not list breaks `npm view` and `npm install` (npm/npm#11002,
/// protocol §14 pitfall 15); re-check with `npm view pkg dist-tags` against a group.
fn dist_tags(tags: Option<&Value>, merged: &[String]) -> Map<String, Value> {
    let mut out: Map<String, Value> = tags
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.is_string())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let strings: BTreeMap<String, String> = out
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    let dangling: Vec<String> = strings
        .values()
        .filter(|v| !merged.contains(v))
        .cloned()
        .collect();
    for (tag, change) in retag_after_removal(&strings, merged, &dangling) {
        match change {
            Some(version) => out.insert(tag, Value::String(version)),
            None => out.shift_remove(&tag),
        };
    }
    out
}

/// `created`, `modified`, then each merged version's time from its supplier.
fn time(docs: &[Map<String, Value>], picked: &[Picked]) -> Map<String, Value> {
    let mut out = Map::new();
    let created = extreme(docs, |d| time_of(d)?.get("created"), Ordering::Less);
    let modified = extreme(docs, |d| time_of(d)?.get("modified"), Ordering::Greater);
    for (key, value) in [("created", created), ("modified", modified)] {
        if let Some(value) = value {
            out.insert(key.into(), Value::String(value));
        }
    }
    for p in picked {
        let when = docs
            .get(p.member)
            .and_then(time_of)
            .and_then(|t| t.get(&p.version));
        if let Some(when @ Value::String(_)) = when {
            out.insert(p.version.clone(), when.clone());
        }
    }
    out
}

fn time_of(doc: &Map<String, Value>) -> Option<&Map<String, Value>> {
    doc.get("time").and_then(Value::as_object)
}

/// The least (`Less`) or greatest (`Greater`) of the members' timestamps at `at`, compared as
/// text (ISO-8601 in UTC, as the registry writes them, sorts by time).
fn extreme<'a>(
    docs: &'a [Map<String, Value>],
    at: impl Fn(&'a Map<String, Value>) -> Option<&'a Value>,
    want: Ordering,
) -> Option<String> {
    docs.iter()
        .filter_map(|d| at(d)?.as_str())
        .reduce(|a, b| if b.cmp(a) == want { b } else { a })
        .map(str::to_owned)
}
