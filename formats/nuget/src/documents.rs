//! The JSON documents of the v3 feed: service index, flat-container version list,
//! registration index / page / leaf, search, autocomplete and the error body.
//!
//! Follows the NuGet protocol reference §2, §4.1, §5 and §6. Every URL is built from `v3`, the
//! absolute URL of the repository's v3 directory without a trailing slash; resources live at
//! `{v3}/flatcontainer/`, `{v3}/registration/`, `{v3}/query`, `{v3}/autocomplete`,
//! `{v3}/package` and `{v3}/symbolpackage`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::names::{lower_id, validate_id};
use crate::nuspec::Nuspec;
use crate::range::VersionRange;
use crate::version::NuGetVersion;

/// Pages hold at most this many versions.
const PAGE_SIZE: usize = 64;

/// From this many versions on, pages are not inlined in the registration index.
const INLINE_BELOW: usize = 128;

/// Longest deprecation message accepted.
const MAX_DEPRECATION_MESSAGE: usize = 4000;

/// One version of a package as the registration documents show it.
#[derive(Debug, Clone, Copy)]
pub struct RegEntry<'a> {
    /// The package id as displayed (first pushed spelling).
    pub display_id: &'a str,
    /// The version's manifest.
    pub nuspec: &'a Nuspec,
    /// The parsed version.
    pub version: &'a NuGetVersion,
    /// Whether the version is listed.
    pub listed: bool,
    /// When it was pushed, RFC 3339.
    pub published: &'a str,
    /// Its deprecation, if any.
    pub deprecation: Option<&'a Deprecation>,
    /// The `.nupkg` size in bytes, when known.
    pub package_size: Option<u64>,
}

/// A version's deprecation, as stored by the server and rendered in registration documents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Deprecation {
    /// `Legacy`, `CriticalBugs` and/or `Other`.
    pub reasons: Vec<String>,
    /// A free text for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The package to use instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_package: Option<AlternatePackage>,
}

/// The package recommended instead of a deprecated one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlternatePackage {
    /// Its id.
    pub id: String,
    /// A version range, or `*` for any version.
    pub range: String,
}

impl Deprecation {
    /// Checks the reasons (at least one, each `Legacy`, `CriticalBugs` or `Other`, no
    /// duplicates), the message length (at most 4000 characters) and the alternate package.
    pub fn validate(&self) -> Result<(), String> {
        if self.reasons.is_empty() {
            return Err("a deprecation needs at least one reason".into());
        }
        for (i, r) in self.reasons.iter().enumerate() {
            if !matches!(r.as_str(), "Legacy" | "CriticalBugs" | "Other") {
                return Err(format!(
                    "unknown deprecation reason '{r}'; use Legacy, CriticalBugs or Other"
                ));
            }
            if self.reasons[..i].contains(r) {
                return Err(format!("the deprecation reason '{r}' is given twice"));
            }
        }
        if let Some(m) = &self.message
            && m.chars().count() > MAX_DEPRECATION_MESSAGE
        {
            return Err("the deprecation message is longer than 4000 characters".into());
        }
        if let Some(alt) = &self.alternate_package {
            validate_id(&alt.id).map_err(|e| format!("alternate package: {e}"))?;
            if alt.range != "*" {
                VersionRange::parse(&alt.range).map_err(|e| format!("alternate package: {e}"))?;
            }
        }
        Ok(())
    }
}

/// One package in a search answer.
#[derive(Debug, Clone)]
pub struct SearchHit<'a> {
    /// The package id as displayed.
    pub display_id: &'a str,
    /// The manifest of the latest version shown.
    pub latest: &'a Nuspec,
    /// The latest version shown.
    pub latest_version: &'a NuGetVersion,
    /// The listed versions that pass the request's filters, ascending.
    pub versions: Vec<&'a NuGetVersion>,
    /// Whether the latest version is deprecated (not rendered yet).
    pub deprecated: bool,
}

fn to_bytes(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn index_url(v3: &str, lower_id: &str) -> String {
    format!("{v3}/registration/{lower_id}/index.json")
}

fn leaf_url(v3: &str, lower_id: &str, lower_ver: &str) -> String {
    format!("{v3}/registration/{lower_id}/{lower_ver}.json")
}

fn content_url(v3: &str, lower_id: &str, lower_ver: &str) -> String {
    format!("{v3}/flatcontainer/{lower_id}/{lower_ver}/{lower_id}.{lower_ver}.nupkg")
}

/// The service index (`index.json`) with every resource alias packgate serves.
pub fn service_index(v3: &str) -> Vec<u8> {
    let flat = format!("{v3}/flatcontainer/");
    let reg = format!("{v3}/registration/");
    let query = format!("{v3}/query");
    let ac = format!("{v3}/autocomplete");
    let publish = format!("{v3}/package");
    let symbols = format!("{v3}/symbolpackage");
    let table: [(&str, &str, &[&str], &str); 6] = [
        (
            &flat,
            "PackageBaseAddress",
            &["/3.0.0"],
            "Base URL of .nupkg files and version lists",
        ),
        (
            &reg,
            "RegistrationsBaseUrl",
            &["", "/3.0.0-beta", "/3.0.0-rc", "/3.4.0", "/3.6.0"],
            "Base URL of package metadata (one hive, SemVer 2.0.0 included)",
        ),
        (
            &query,
            "SearchQueryService",
            &["", "/3.0.0-beta", "/3.0.0-rc", "/3.4.0", "/3.5.0"],
            "Search of packages",
        ),
        (
            &ac,
            "SearchAutocompleteService",
            &["", "/3.0.0-beta", "/3.0.0-rc"],
            "Autocomplete of package ids and versions",
        ),
        (
            &publish,
            "PackagePublish",
            &["/2.0.0"],
            "Push, delete (unlist) and relist of packages",
        ),
        (
            &symbols,
            "SymbolPackagePublish",
            &["/4.9.0"],
            "Push of symbol packages (.snupkg)",
        ),
    ];
    let resources: Vec<Value> = table
        .iter()
        .flat_map(|(id, name, versions, comment)| {
            versions
                .iter()
                .map(move |v| json!({"@id": id, "@type": format!("{name}{v}"), "comment": comment}))
        })
        .collect();
    to_bytes(&json!({"version": "3.0.0", "resources": resources}))
}

/// The flat-container version list: `{"versions":[…]}` from sorted lower-case normalized
/// versions.
pub fn flat_versions(lower_versions: &[String]) -> Vec<u8> {
    to_bytes(&json!({ "versions": lower_versions }))
}

/// Adds `key: value` to a JSON object when there is a value.
fn put(obj: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(m), Some(v)) = (obj.as_object_mut(), value) {
        m.insert(key.to_owned(), v);
    }
}

/// The `catalogEntry` object of one version.
fn catalog_entry(v3: &str, lower_id: &str, e: &RegEntry<'_>) -> Value {
    let n = e.nuspec;
    let lver = e.version.lower();
    let leaf = leaf_url(v3, lower_id, &lver);
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let groups: Vec<Value> = n
        .dependency_groups
        .iter()
        .map(|g| {
            let tfm = g.target_framework.as_deref().unwrap_or("any");
            let gid = format!("{leaf}#dependencygroup/{}", tfm.to_ascii_lowercase());
            let deps: Vec<Value> = g
                .dependencies
                .iter()
                .map(|d| {
                    let did = crate::names::lower_id(&d.id);
                    let mut dep = json!({
                        "@id": format!("{gid}/{did}"),
                        "@type": "PackageDependency",
                        "id": d.id,
                        "registration": index_url(v3, &did),
                    });
                    let range = d.range.as_deref().and_then(|r| VersionRange::parse(r).ok());
                    put(
                        &mut dep,
                        "range",
                        range.filter(|r| !r.is_any()).map(|r| json!(r.normalized())),
                    );
                    dep
                })
                .collect();
            let mut group = json!({"@id": gid, "@type": "PackageDependencyGroup"});
            put(
                &mut group,
                "targetFramework",
                g.target_framework.as_ref().map(|t| json!(t)),
            );
            put(
                &mut group,
                "dependencies",
                (!deps.is_empty()).then(|| json!(deps)),
            );
            group
        })
        .collect();
    let mut entry = json!({
        "@id": leaf,
        "@type": "PackageDetails",
        "id": e.display_id,
        "version": e.version.full(),
        "authors": text(&n.authors),
        "description": text(&n.description),
        "title": text(&n.title),
        "summary": text(&n.summary),
        "iconUrl": text(&n.icon_url),
        "licenseUrl": text(&n.license_url),
        "projectUrl": text(&n.project_url),
        "listed": e.listed,
        "published": e.published,
        "requireLicenseAcceptance": n.require_license_acceptance,
        "tags": n.tags,
        "packageContent": content_url(v3, lower_id, &lver),
        "dependencyGroups": groups,
    });
    let expression = n.license.as_ref().filter(|l| l.kind == "expression");
    put(
        &mut entry,
        "licenseExpression",
        expression.map(|l| json!(l.value)),
    );
    put(
        &mut entry,
        "language",
        n.language.as_ref().map(|l| json!(l)),
    );
    put(
        &mut entry,
        "minClientVersion",
        n.min_client_version.as_ref().map(|m| json!(m)),
    );
    put(&mut entry, "packageSize", e.package_size.map(|s| json!(s)));
    let deprecation = e.deprecation.map(|d| {
        let mut dep = json!({"@id": format!("{leaf}#deprecation"), "reasons": d.reasons});
        put(&mut dep, "message", d.message.as_ref().map(|m| json!(m)));
        let alt = d.alternate_package.as_ref().map(|a| {
            json!({
                "@id": index_url(v3, &crate::names::lower_id(&a.id)),
                "id": a.id,
                "range": a.range,
            })
        });
        put(&mut dep, "alternatePackage", alt);
        dep
    });
    put(&mut entry, "deprecation", deprecation);
    entry
}

/// One leaf item inside a registration page.
fn page_item(v3: &str, lower_id: &str, e: &RegEntry<'_>) -> Value {
    let lver = e.version.lower();
    json!({
        "@id": leaf_url(v3, lower_id, &lver),
        "@type": "Package",
        "packageContent": content_url(v3, lower_id, &lver),
        "registration": index_url(v3, lower_id),
        "catalogEntry": catalog_entry(v3, lower_id, e),
    })
}

/// A page object; `items` are inlined when `inline`.
fn page(
    v3: &str,
    lower_id: &str,
    id: String,
    lower: &str,
    upper: &str,
    entries: &[RegEntry<'_>],
    inline: bool,
) -> Value {
    let mut page = json!({
        "@id": id,
        "@type": "catalog:CatalogPage",
        "count": entries.len(),
        "lower": lower,
        "upper": upper,
        "parent": index_url(v3, lower_id),
    });
    let items = inline.then(|| {
        let items: Vec<Value> = entries.iter().map(|e| page_item(v3, lower_id, e)).collect();
        json!(items)
    });
    put(&mut page, "items", items);
    page
}

/// The registration index of a package. `entries` are ascending by version and not empty.
/// Fewer than 128 versions: pages of up to 64 inlined; otherwise pages of 64 without `items`,
/// each at `{v3}/registration/{id}/page/{lower}/{upper}.json`.
pub fn registration_index(v3: &str, lower_id: &str, entries: &[RegEntry<'_>]) -> Vec<u8> {
    let index = index_url(v3, lower_id);
    let inline = entries.len() < INLINE_BELOW;
    let pages: Vec<Value> = entries
        .chunks(PAGE_SIZE)
        .map(|chunk| {
            let lower = chunk[0].version.lower();
            let upper = chunk[chunk.len() - 1].version.lower();
            let id = if inline {
                format!("{index}#page/{lower}/{upper}")
            } else {
                format!("{v3}/registration/{lower_id}/page/{lower}/{upper}.json")
            };
            page(v3, lower_id, id, &lower, &upper, chunk, inline)
        })
        .collect();
    to_bytes(&json!({
        "@id": index,
        "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
        "count": pages.len(),
        "items": pages,
    }))
}

/// A standalone registration page for the given bounds (from the URL) and the entries within.
pub fn registration_page(
    v3: &str,
    lower_id: &str,
    lower: &str,
    upper: &str,
    entries: &[RegEntry<'_>],
) -> Vec<u8> {
    let id = format!("{v3}/registration/{lower_id}/page/{lower}/{upper}.json");
    to_bytes(&page(v3, lower_id, id, lower, upper, entries, true))
}

/// The registration leaf of one version.
pub fn registration_leaf(v3: &str, lower_id: &str, e: &RegEntry<'_>) -> Vec<u8> {
    let lver = e.version.lower();
    to_bytes(&json!({
        "@id": leaf_url(v3, lower_id, &lver),
        "@type": ["Package", "http://schema.nuget.org/catalog#Permalink"],
        "listed": e.listed,
        "packageContent": content_url(v3, lower_id, &lver),
        "published": e.published,
        "registration": index_url(v3, lower_id),
        "catalogEntry": catalog_entry(v3, lower_id, e),
    }))
}

/// The search answer: `{"totalHits": n, "data": [...]}`.
pub fn search_response(v3: &str, total_hits: usize, hits: &[SearchHit<'_>]) -> Vec<u8> {
    let data: Vec<Value> = hits
        .iter()
        .map(|h| {
            let n = h.latest;
            let lid = lower_id(h.display_id);
            let index = index_url(v3, &lid);
            let text = |s: &Option<String>| s.clone().unwrap_or_default();
            let types: Vec<Value> = if n.package_types.is_empty() {
                vec![json!({"name": "Dependency"})]
            } else {
                n.package_types
                    .iter()
                    .map(|t| json!({"name": t.name}))
                    .collect()
            };
            let versions: Vec<Value> = h
                .versions
                .iter()
                .map(|v| {
                    json!({
                        "version": v.full(),
                        "downloads": 0,
                        "@id": leaf_url(v3, &lid, &v.lower()),
                    })
                })
                .collect();
            json!({
                "@id": index,
                "@type": "Package",
                "registration": index,
                "id": h.display_id,
                "version": h.latest_version.full(),
                "description": text(&n.description),
                "summary": text(&n.summary),
                "title": n.title.clone().unwrap_or_else(|| h.display_id.to_owned()),
                "iconUrl": text(&n.icon_url),
                "licenseUrl": text(&n.license_url),
                "projectUrl": text(&n.project_url),
                "tags": n.tags,
                "authors": n.authors_list(),
                "owners": [],
                "totalDownloads": 0,
                "verified": false,
                "packageTypes": types,
                "versions": versions,
            })
        })
        .collect();
    to_bytes(&json!({"totalHits": total_hits, "data": data}))
}

/// Whether a package matches a search text: every whitespace-separated term must match.
/// `packageid:X` is an exact id, `id:X` a part of the id, `tag:X`/`tags:X` an exact tag; any
/// other term is a case-insensitive part of the id, title, description, summary, authors or
/// a tag.
pub fn matches_query(nuspec: &Nuspec, display_id: &str, q: &str) -> bool {
    let id = display_id.to_lowercase();
    let tags: Vec<String> = nuspec.tags.iter().map(|t| t.to_lowercase()).collect();
    let fields: Vec<String> = [
        &nuspec.title,
        &nuspec.description,
        &nuspec.summary,
        &nuspec.authors,
    ]
    .into_iter()
    .flatten()
    .map(|s| s.to_lowercase())
    .collect();
    q.split_whitespace().all(|term| {
        let term = term.to_lowercase();
        let field = |prefix: &str| term.strip_prefix(prefix);
        if let Some(x) = field("packageid:") {
            id == x
        } else if let Some(x) = field("id:") {
            id.contains(x)
        } else if let Some(x) = field("tags:").or_else(|| field("tag:")) {
            tags.iter().any(|t| t == x)
        } else {
            id.contains(&term)
                || fields.iter().any(|f| f.contains(&term))
                || tags.iter().any(|t| t.contains(&term))
        }
    })
}

/// The autocomplete answer for ids: `{"totalHits": n, "data": [ids]}`.
pub fn autocomplete_ids(total_hits: usize, ids: &[&str]) -> Vec<u8> {
    to_bytes(&json!({"totalHits": total_hits, "data": ids}))
}

/// The autocomplete answer for the versions of one id: `{"totalHits": n, "data": [versions]}`.
pub fn autocomplete_versions(versions: &[String]) -> Vec<u8> {
    to_bytes(&json!({"totalHits": versions.len(), "data": versions}))
}

/// A small error body for tools that read it: `{"message": "…"}`.
pub fn error_body(message: &str) -> Vec<u8> {
    to_bytes(&json!({ "message": message }))
}
