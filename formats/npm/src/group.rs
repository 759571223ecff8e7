//! Group repositories: one packument (`GET /{name}`, full or abbreviated) merged from the
//! packuments of a group's members, hosted and proxy, in precedence order, and which member
//! supplies each version (to route tarball downloads and explain the merge).
//!
//! The merge: the union of `versions`, the earliest member winning a version that several list;
//! `dist-tags` and every other top-level field from the earliest member that lists a version, with
//! tags naming an unlisted version dropped (`latest` moved); `time` for the listed versions only;
//! every `dist.tarball` pointed at the group. See `docs/formats/npm.md`.
//!
//! The members' documents are read shallowly: only `dist-tags`, `time`, `modified`, the keys of
//! `versions` and of each merged manifest, and the merged manifests' `dist` are decoded; every
//! other value goes into the merged document byte for byte. Building, copying and writing out
//! whole `serde_json::Value` trees made the merge of a 1,000-version packument several times
//! slower.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
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
        .position(|d| d.versions().is_some_and(|v| !v.is_empty()))
        .unwrap_or(0);
    let Some(first) = docs.get(primary) else {
        return Err(GroupError::NoMembers);
    };

    let picked = pick_versions(&docs);
    let base = format!("{}/{}/-/", registry.trim_end_matches('/'), name);
    let merged: Vec<String> = picked.iter().map(|p| p.version.to_owned()).collect();

    // The primary's top-level fields in its order, the merged ones in place of its own (or
    // appended), as inserting them into a copy of its `serde_json::Map` would place them.
    let mut out: Fields<'_, Out<'_, '_>> = Fields::default();
    for (key, field) in first.0.iter() {
        out.insert(key.clone(), Out::Kept(field));
    }
    let tags = dist_tags(first.parsed("dist-tags"), &merged);
    out.insert("dist-tags".into(), Out::Object(tags));
    if docs.iter().any(|d| time_of(d).is_some()) {
        out.insert("time".into(), Out::Object(time(&docs, &picked)));
    }
    if let Some(modified) = extreme(&docs, |d| d.parsed("modified"), Ordering::Greater) {
        out.insert("modified".into(), Out::String(modified));
    }
    out.insert("versions".into(), Out::Versions);

    let size = members.get(primary).map_or(0, |b| b.len())
        + picked.iter().map(|p| p.manifest.get().len()).sum::<usize>();
    let mut body = Vec::with_capacity(size + size / 16 + 64);
    let mut sources = Vec::new();
    body.push(b'{');
    for (i, (key, value)) in out.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        push_json(&mut body, key.as_ref());
        body.push(b':');
        match value {
            Out::Kept(Field::Raw(raw)) => body.extend_from_slice(raw.get().as_bytes()),
            Out::Kept(Field::Parsed(value)) => push_json(&mut body, value),
            Out::Object(object) => push_json(&mut body, object),
            Out::String(string) => push_json(&mut body, string),
            // The member's own `versions` never stays: the merged ones replace it.
            Out::Kept(Field::Versions(_)) | Out::Versions => {
                sources = write_versions(&mut body, &picked, &base)?;
            }
        }
    }
    body.push(b'}');
    Ok(MergedPackument { body, sources })
}

/// One version picked for the merged document.
struct Picked<'d> {
    version: &'d str,
    member: usize,
    manifest: &'d RawValue,
}

/// A value of the merged document's top level.
enum Out<'d, 'a> {
    /// The primary member's, as it is.
    Kept(&'d Field<'a>),
    /// `dist-tags` or `time`, merged.
    Object(Map<String, Value>),
    /// `modified`, merged.
    String(String),
    /// `versions`, merged: written from the picked manifests.
    Versions,
}

/// A member's packument read shallowly: its top-level fields, in order.
struct Member<'a>(Fields<'a, Field<'a>>);

/// A top-level field of a member's packument.
enum Field<'a> {
    /// Copied to the merged document as it is.
    Raw(&'a RawValue),
    /// `dist-tags`, `time` or `modified`, which the merge reads.
    Parsed(Value),
    /// `versions`: each version's manifest as it is; `None` when not an object.
    Versions(Option<Fields<'a, &'a RawValue>>),
}

impl<'a> Member<'a> {
    fn versions(&self) -> Option<&Fields<'a, &'a RawValue>> {
        match self.0.get("versions") {
            Some(Field::Versions(versions)) => versions.as_ref(),
            _ => None,
        }
    }

    fn parsed(&self, key: &str) -> Option<&Value> {
        match self.0.get(key) {
            Some(Field::Parsed(value)) => Some(value),
            _ => None,
        }
    }
}

fn parse(member: usize, body: &[u8]) -> Result<Member<'_>, GroupError> {
    serde_json::from_slice(body).map_err(|shallow| {
        // Read again, whole, only to say why, as the whole-document parse always said it.
        let reason = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(_)) => format!("the packument is not JSON: {shallow}"),
            Ok(_) => "the packument is not a JSON object".to_owned(),
            Err(e) => format!("the packument is not JSON: {e}"),
        };
        GroupError::Malformed { member, reason }
    })
}

/// Whether a raw value is a JSON object (raw values start at their first byte).
fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// The union of the members' versions, earliest member first, in SemVer order.
fn pick_versions<'d>(docs: &'d [Member<'_>]) -> Vec<Picked<'d>> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut picked = Vec::new();
    for (member, doc) in docs.iter().enumerate() {
        let versions = doc.versions().into_iter().flat_map(Fields::iter);
        for (version, manifest) in versions.filter(|(_, m)| is_object(m)) {
            if seen.insert(version_identity(version)) {
                picked.push(Picked {
                    version,
                    member,
                    manifest,
                });
            }
        }
    }
    picked.sort_by(|a, b| cmp_versions(a.version, b.version));
    picked
}

/// Writes the merged `versions` object; returns the versions' sources, in the same order.
fn write_versions(
    out: &mut Vec<u8>,
    picked: &[Picked<'_>],
    base: &str,
) -> Result<Vec<VersionSource>, GroupError> {
    let mut sources = Vec::with_capacity(picked.len());
    out.push(b'{');
    for (i, p) in picked.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json(out, p.version);
        out.push(b':');
        let file = write_manifest(out, p.manifest, base).map_err(|e| GroupError::Malformed {
            member: p.member,
            reason: format!("the packument is not JSON: {e}"),
        })?;
        sources.push(VersionSource {
            version: p.version.to_owned(),
            member: p.member,
            file,
        });
    }
    out.push(b'}');
    Ok(sources)
}

/// Writes `manifest` (an object) with `dist.tarball` pointed at `{base}{file}`; returns `file`.
/// Only the manifest's keys and its `dist` are decoded; every other value is copied as it is.
fn write_manifest(
    out: &mut Vec<u8>,
    manifest: &RawValue,
    base: &str,
) -> serde_json::Result<Option<String>> {
    let RawObject(Some(fields)) = serde_json::from_str(manifest.get())? else {
        out.extend_from_slice(manifest.get().as_bytes());
        return Ok(None);
    };
    let Some((dist, file)) = fields
        .get("dist")
        .map(|d| tarball_of(d))
        .transpose()?
        .flatten()
    else {
        write_object(out, &fields, None, |_| {});
        return Ok(None);
    };
    let url = format!("{base}{file}");
    write_object(out, &fields, Some("dist"), |out| {
        write_object(out, &dist, Some("tarball"), |out| push_json(out, &url));
    });
    Ok(Some(file))
}

/// The fields of `dist` and the file name of its `tarball`, when `dist` is an object whose
/// `tarball` is a URL naming a file.
fn tarball_of(dist: &RawValue) -> serde_json::Result<Option<(Fields<'_, &RawValue>, String)>> {
    if !is_object(dist) {
        return Ok(None);
    }
    let RawObject(Some(fields)) = serde_json::from_str(dist.get())? else {
        return Ok(None);
    };
    let Some(tarball) = fields.get("tarball").filter(|t| t.get().starts_with('"')) else {
        return Ok(None);
    };
    let Key(url) = serde_json::from_str(tarball.get())?;
    let file = url_basename(&url).map(str::to_owned);
    Ok(file.map(|file| (fields, file)))
}

/// Writes `fields` as a JSON object, each value as it is but the value at `key`, which `with`
/// writes.
fn write_object(
    out: &mut Vec<u8>,
    fields: &Fields<'_, &RawValue>,
    key: Option<&str>,
    with: impl Fn(&mut Vec<u8>),
) {
    out.push(b'{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json(out, name.as_ref());
        out.push(b':');
        if key == Some(name.as_ref()) {
            with(out);
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    out.push(b'}');
}

/// Appends `value` as JSON, strings escaped as `serde_json` escapes them.
fn push_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let written = serde_json::to_writer(&mut *out, value);
    debug_assert!(written.is_ok(), "strings and JSON values always serialize");
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
fn time(docs: &[Member<'_>], picked: &[Picked<'_>]) -> Map<String, Value> {
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
            .and_then(|t| t.get(p.version));
        if let Some(when @ Value::String(_)) = when {
            out.insert(p.version.to_owned(), when.clone());
        }
    }
    out
}

fn time_of<'d>(doc: &'d Member<'_>) -> Option<&'d Map<String, Value>> {
    doc.parsed("time").and_then(Value::as_object)
}

/// The least (`Less`) or greatest (`Greater`) of the members' timestamps at `at`, compared as
/// text (ISO-8601 in UTC, as the registry writes them, sorts by time).
fn extreme<'d, 'a: 'd>(
    docs: &'d [Member<'a>],
    at: impl Fn(&'d Member<'a>) -> Option<&'d Value>,
    want: Ordering,
) -> Option<String> {
    docs.iter()
        .filter_map(|d| at(d)?.as_str())
        .reduce(|a, b| if b.cmp(a) == want { b } else { a })
        .map(str::to_owned)
}

/// A JSON object's members in document order, each key once: a repeated key keeps its first
/// place and its last value, as when the document is parsed into a `serde_json::Map`.
struct Fields<'a, V> {
    entries: Vec<(Cow<'a, str>, V)>,
    /// Key -> place in `entries`, kept once there are more than [`LINEAR`] entries.
    index: HashMap<Cow<'a, str>, usize>,
}

/// Up to this many keys, a key is looked up by scanning (manifests, `dist`, the top level).
const LINEAR: usize = 16;

impl<V> Default for Fields<'_, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<'a, V> Fields<'a, V> {
    fn insert(&mut self, key: Cow<'a, str>, value: V) {
        if let Some(at) = self.position(&key)
            && let Some(entry) = self.entries.get_mut(at)
        {
            entry.1 = value;
            return;
        }
        let at = self.entries.len();
        if at == LINEAR {
            self.index = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect();
        }
        if at >= LINEAR {
            self.index.insert(key.clone(), at);
        }
        self.entries.push((key, value));
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.entries.len() > LINEAR {
            self.index.get(key).copied()
        } else {
            self.entries.iter().position(|(k, _)| k.as_ref() == key)
        }
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(self.position(key)?).map(|(_, v)| v)
    }

    fn iter(&self) -> impl Iterator<Item = (&Cow<'a, str>, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An object key, borrowed from the document unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

/// Any JSON value; an object's members kept raw (`None` for anything but an object).
struct RawObject<'a>(Option<Fields<'a, &'a RawValue>>);

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawObjectVisitor)
    }
}

struct RawObjectVisitor;

impl<'de> Visitor<'de> for RawObjectVisitor {
    type Value = RawObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(Key(key)) = map.next_key()? {
            fields.insert(key, map.next_value()?);
        }
        Ok(RawObject(Some(fields)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RawObject(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RawObject(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(RawObject(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(RawObject(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(RawObject(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawObject(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RawObject(None))
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(Key(key)) = map.next_key()? {
            let field = match key.as_ref() {
                "versions" => Field::Versions(map.next_value::<RawObject<'de>>()?.0),
                "dist-tags" | "time" | "modified" => Field::Parsed(map.next_value()?),
                _ => Field::Raw(map.next_value()?),
            };
            fields.insert(key, field);
        }
        Ok(Member(fields))
    }
}
