//! Sparse index files: one JSON line per published version, built from the publish metadata.
//!
//! Follows the Cargo registry protocol reference §3.3 ("Line format") and §3.4 ("Converting the
//! publish JSON into an index line"), including §12 pitfalls 5 (renamed dependencies) and 10
//! (`features`, `optional`, `default_features` always present for cargo < 1.84). See
//! `docs/formats/cargo.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::publish::PublishMeta;

/// One index line (protocol §3.3) with stable field order: name, vers, deps[{name,req,
/// features,optional,default_features,target,kind,registry,package}], cksum, features, yanked,
/// features2 (omitted when empty), links, rust_version (omitted when None), v. Features whose
/// values use the `dep:` or `?/` syntax go to `features2` and make `v` 2, as the public registry
/// writes them, so cargo versions that predate that syntax skip the line instead of misreading
/// it; every other feature stays in `features` and `v` is 1. No `pubtime`.
///
/// Deserializing accepts lines from other registries too: fields the reference marks optional
/// get cargo's defaults, unknown fields (`pubtime`) are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Crate name, original case.
    pub name: String,
    /// Version, SemVer.
    pub vers: String,
    /// Dependencies of every kind.
    pub deps: Vec<IndexDep>,
    /// SHA-256 of the `.crate`, 64 lower-case hex digits (protocol §10).
    pub cksum: String,
    /// Feature table.
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    /// Features using `dep:` or `?/` syntax (schema version 2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features2: BTreeMap<String, Vec<String>>,
    /// Whether the version is yanked; the only field that changes after publish.
    #[serde(default)]
    pub yanked: bool,
    /// `package.links`, or `null`.
    #[serde(default)]
    pub links: Option<String>,
    /// Minimum Rust version; the key is left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust_version: Option<String>,
    /// Schema version: 2 when `features2` is present, else 1.
    #[serde(default = "v1")]
    pub v: u32,
}

/// One dependency of an index line (protocol §3.3 `deps[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDep {
    /// Name as used in `Cargo.toml`: the alias when renamed.
    pub name: String,
    /// Version requirement.
    pub req: String,
    /// Features enabled on the dependency.
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether the dependency is optional.
    #[serde(default)]
    pub optional: bool,
    /// Whether its default features are on.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// Platform condition, or `null`.
    #[serde(default)]
    pub target: Option<String>,
    /// `normal`, `dev` or `build`.
    #[serde(default = "normal")]
    pub kind: String,
    /// Index URL of another registry, or `null` for this one.
    #[serde(default)]
    pub registry: Option<String>,
    /// The real crate name when renamed, else `null`.
    #[serde(default)]
    pub package: Option<String>,
}

fn v1() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn normal() -> String {
    "normal".to_owned()
}

/// Build the entry from publish metadata and the server-computed sha256 hex.
///
/// Renamed deps: name = explicit_name_in_toml, package = original name (Gitea #31500 wrote the
/// original name with `package: null`, breaking dependents). kind default "normal". registry
/// copied as sent (None -> null).
pub fn index_entry(m: &PublishMeta, cksum: &str, yanked: bool) -> IndexEntry {
    let deps = m
        .deps
        .iter()
        .map(|d| {
            let (name, package) = match &d.explicit_name_in_toml {
                Some(alias) => (alias.clone(), Some(d.name.clone())),
                None => (d.name.clone(), None),
            };
            IndexDep {
                name,
                req: d.version_req.clone(),
                features: d.features.clone(),
                optional: d.optional,
                default_features: d.default_features,
                target: d.target.clone(),
                kind: d.kind.clone().unwrap_or_else(normal),
                registry: d.registry.clone(),
                package,
            }
        })
        .collect();
    let (features2, features): (BTreeMap<_, _>, BTreeMap<_, _>) = m
        .features
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(_, values)| {
            values
                .iter()
                .any(|v| v.starts_with("dep:") || v.contains("?/"))
        });
    let v = if features2.is_empty() { 1 } else { 2 };
    IndexEntry {
        name: m.name.clone(),
        vers: m.vers.clone(),
        deps,
        cksum: cksum.to_owned(),
        features,
        features2,
        yanked,
        links: m.links.clone(),
        rust_version: m.rust_version.clone(),
        v,
    }
}

/// The index file body: one compact JSON line per entry, each followed by '\n'.
pub fn render_index(entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        // Writing these structs into a Vec cannot fail: there is no I/O and every map key is a
        // string, so an error would be a serde_json bug; such an entry is left out.
        if serde_json::to_writer(&mut out, entry).is_ok() {
            out.push(b'\n');
        }
    }
    out
}
