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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuspec::{Dependency, DependencyGroup, License, PackageType};

    const V3: &str = "http://127.0.0.1:8080/nuget/v3";

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    fn nuspec() -> Nuspec {
        Nuspec {
            id: "Acme.Widget".into(),
            version: "1.0".into(),
            authors: Some("Alice, Bob".into()),
            description: Some("Widgets.".into()),
            tags: vec!["widgets".into(), "Tools".into()],
            license: Some(License {
                kind: "expression".into(),
                value: "MIT".into(),
                version: None,
            }),
            dependency_groups: vec![
                DependencyGroup {
                    target_framework: Some("net8.0".into()),
                    dependencies: vec![
                        Dependency {
                            id: "Newtonsoft.Json".into(),
                            range: Some("13.0.1".into()),
                            ..Default::default()
                        },
                        Dependency {
                            id: "Any.Dep".into(),
                            ..Default::default()
                        },
                    ],
                },
                DependencyGroup {
                    target_framework: Some(".NETStandard2.0".into()),
                    dependencies: vec![],
                },
            ],
            ..Nuspec::default()
        }
    }

    fn versions(n: usize) -> Vec<NuGetVersion> {
        (0..n)
            .map(|i| NuGetVersion::parse(&format!("1.{i}.0")).unwrap())
            .collect()
    }

    fn entries<'a>(n: &'a Nuspec, vs: &'a [NuGetVersion]) -> Vec<RegEntry<'a>> {
        vs.iter()
            .map(|v| RegEntry {
                display_id: "Acme.Widget",
                nuspec: n,
                version: v,
                listed: true,
                published: "2024-06-01T10:00:00+00:00",
                deprecation: None,
                package_size: Some(1234),
            })
            .collect()
    }

    #[test]
    fn service_index_lists_every_alias() {
        let doc = parse(&service_index(V3));
        assert_eq!(doc["version"], "3.0.0");
        let res = doc["resources"].as_array().unwrap();
        let id_of = |ty: &str| {
            res.iter()
                .find(|r| r["@type"] == ty)
                .map(|r| r["@id"].as_str().unwrap().to_owned())
        };
        assert_eq!(
            id_of("SearchQueryService/3.0.0-beta").unwrap(),
            format!("{V3}/query")
        );
        assert_eq!(
            id_of("RegistrationsBaseUrl/3.6.0").unwrap(),
            format!("{V3}/registration/")
        );
        assert_eq!(
            id_of("PackageBaseAddress/3.0.0").unwrap(),
            format!("{V3}/flatcontainer/")
        );
        assert_eq!(
            id_of("PackagePublish/2.0.0").unwrap(),
            format!("{V3}/package")
        );
        assert_eq!(
            id_of("SymbolPackagePublish/4.9.0").unwrap(),
            format!("{V3}/symbolpackage")
        );
        assert_eq!(
            id_of("SearchAutocompleteService/3.0.0-rc").unwrap(),
            format!("{V3}/autocomplete")
        );
        assert_eq!(res.len(), 16);
        assert!(res.iter().all(|r| r["comment"].is_string()));
        assert!(id_of("VulnerabilityInfo/6.7.0").is_none());
    }

    #[test]
    fn small_registration_index_inlines_its_page() {
        let n = nuspec();
        let vs = versions(3);
        let doc = parse(&registration_index(V3, "acme.widget", &entries(&n, &vs)));
        let index = format!("{V3}/registration/acme.widget/index.json");
        assert_eq!(doc["@id"], index.as_str());
        assert_eq!(doc["count"], 1);
        let page = &doc["items"][0];
        assert_eq!(page["@id"], format!("{index}#page/1.0.0/1.2.0"));
        assert_eq!(
            (
                page["count"].as_u64(),
                page["lower"].as_str(),
                page["upper"].as_str()
            ),
            (Some(3), Some("1.0.0"), Some("1.2.0"))
        );
        assert_eq!(page["parent"], index.as_str());
        let leaf = &page["items"][1];
        assert_eq!(
            leaf["@id"],
            format!("{V3}/registration/acme.widget/1.1.0.json")
        );
        assert_eq!(
            leaf["packageContent"],
            format!("{V3}/flatcontainer/acme.widget/1.1.0/acme.widget.1.1.0.nupkg")
        );
        let ce = &leaf["catalogEntry"];
        assert_eq!(
            (ce["id"].as_str(), ce["version"].as_str()),
            (Some("Acme.Widget"), Some("1.1.0"))
        );
        assert_eq!(
            (ce["authors"].as_str(), ce["title"].as_str()),
            (Some("Alice, Bob"), Some(""))
        );
        assert_eq!(ce["licenseExpression"], "MIT");
        assert_eq!(ce["packageSize"], 1234);
        assert!(ce.get("deprecation").is_none() && ce.get("minClientVersion").is_none());
        let groups = ce["dependencyGroups"].as_array().unwrap();
        assert_eq!(groups[0]["targetFramework"], "net8.0");
        assert_eq!(
            groups[0]["@id"],
            format!("{V3}/registration/acme.widget/1.1.0.json#dependencygroup/net8.0")
        );
        let dep = &groups[0]["dependencies"][0];
        assert_eq!(dep["range"], "[13.0.1, )");
        assert_eq!(
            dep["registration"],
            format!("{V3}/registration/newtonsoft.json/index.json")
        );
        assert!(
            groups[0]["dependencies"][1].get("range").is_none(),
            "any range is omitted"
        );
        assert!(
            groups[1].get("dependencies").is_none(),
            "empty group has no dependencies key"
        );
    }

    #[test]
    fn large_registration_index_links_pages() {
        let n = nuspec();
        let vs = versions(130);
        let doc = parse(&registration_index(V3, "acme.widget", &entries(&n, &vs)));
        assert_eq!(doc["count"], 3);
        let pages = doc["items"].as_array().unwrap();
        let bounds: Vec<_> = pages
            .iter()
            .map(|p| {
                (
                    p["lower"].as_str().unwrap(),
                    p["upper"].as_str().unwrap(),
                    p["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            bounds,
            [
                ("1.0.0", "1.63.0", 64),
                ("1.64.0", "1.127.0", 64),
                ("1.128.0", "1.129.0", 2)
            ]
        );
        assert_eq!(
            pages[1]["@id"],
            format!("{V3}/registration/acme.widget/page/1.64.0/1.127.0.json")
        );
        assert!(pages.iter().all(|p| p.get("items").is_none()));
        let doc = parse(&registration_index(
            V3,
            "acme.widget",
            &entries(&n, &vs[..127]),
        ));
        assert!(
            doc["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["items"].is_array())
        );
    }

    #[test]
    fn page_and_leaf_documents() {
        let n = nuspec();
        let vs = vec![NuGetVersion::parse("2.0.0-RC.1+git").unwrap()];
        let dep = Deprecation {
            reasons: vec!["Legacy".into()],
            message: Some("Use Acme.Widget2".into()),
            alternate_package: Some(AlternatePackage {
                id: "Acme.Widget2".into(),
                range: "*".into(),
            }),
        };
        let mut es = entries(&n, &vs);
        es[0].deprecation = Some(&dep);
        es[0].listed = false;
        let page = parse(&registration_page(
            V3,
            "acme.widget",
            "2.0.0-rc.1",
            "2.0.0-rc.1",
            &es,
        ));
        assert_eq!(
            page["@id"],
            format!("{V3}/registration/acme.widget/page/2.0.0-rc.1/2.0.0-rc.1.json")
        );
        assert_eq!(
            (page["@type"].as_str(), page["count"].as_u64()),
            (Some("catalog:CatalogPage"), Some(1))
        );
        assert_eq!(
            page["parent"],
            format!("{V3}/registration/acme.widget/index.json")
        );
        let leaf = parse(&registration_leaf(V3, "acme.widget", &es[0]));
        assert_eq!(
            leaf["@id"],
            format!("{V3}/registration/acme.widget/2.0.0-rc.1.json")
        );
        assert_eq!(
            leaf["@type"][1],
            "http://schema.nuget.org/catalog#Permalink"
        );
        assert_eq!(
            (leaf["listed"].as_bool(), leaf["published"].as_str()),
            (Some(false), Some("2024-06-01T10:00:00+00:00"))
        );
        let ce = &leaf["catalogEntry"];
        assert_eq!(ce, &page["items"][0]["catalogEntry"]);
        assert_eq!(ce["version"], "2.0.0-RC.1+git");
        assert_eq!(ce["deprecation"]["reasons"][0], "Legacy");
        assert_eq!(ce["deprecation"]["alternatePackage"]["id"], "Acme.Widget2");
        assert_eq!(
            ce["deprecation"]["@id"],
            format!("{V3}/registration/acme.widget/2.0.0-rc.1.json#deprecation")
        );
    }

    #[test]
    fn search_and_autocomplete_shapes() {
        let mut n = nuspec();
        let vs = versions(2);
        let hit = SearchHit {
            display_id: "Acme.Widget",
            latest: &n,
            latest_version: &vs[1],
            versions: vs.iter().collect(),
            deprecated: false,
        };
        let doc = parse(&search_response(V3, 7, &[hit]));
        assert_eq!(doc["totalHits"], 7);
        let d = &doc["data"][0];
        assert_eq!(
            d["@id"],
            format!("{V3}/registration/acme.widget/index.json")
        );
        assert_eq!(
            (d["id"].as_str(), d["version"].as_str(), d["title"].as_str()),
            (Some("Acme.Widget"), Some("1.1.0"), Some("Acme.Widget"))
        );
        assert_eq!(d["authors"], json!(["Alice", "Bob"]));
        assert_eq!(
            (d["owners"].clone(), d["projectUrl"].clone()),
            (json!([]), json!(""))
        );
        assert_eq!(d["packageTypes"], json!([{"name": "Dependency"}]));
        assert_eq!(
            d["versions"][0]["@id"],
            format!("{V3}/registration/acme.widget/1.0.0.json")
        );
        assert_eq!(d["versions"][1]["downloads"], 0);
        n.package_types = vec![PackageType {
            name: "DotnetTool".into(),
            version: None,
        }];
        let hit = SearchHit {
            display_id: "Acme.Widget",
            latest: &n,
            latest_version: &vs[0],
            versions: vec![],
            deprecated: false,
        };
        assert_eq!(
            parse(&search_response(V3, 1, &[hit]))["data"][0]["packageTypes"][0]["name"],
            "DotnetTool"
        );

        assert_eq!(
            parse(&autocomplete_ids(3, &["A", "B"])),
            json!({"totalHits": 3, "data": ["A", "B"]})
        );
        assert_eq!(
            parse(&autocomplete_versions(&["1.0.0".into()])),
            json!({"totalHits": 1, "data": ["1.0.0"]})
        );
        assert_eq!(
            parse(&flat_versions(&["1.0.0".into(), "2.0.0-b".into()])),
            json!({"versions": ["1.0.0", "2.0.0-b"]})
        );
        assert_eq!(
            parse(&error_body("no \"way\"")),
            json!({"message": "no \"way\""})
        );
    }

    #[test]
    fn query_terms_must_all_match() {
        let n = nuspec();
        let m = |q| matches_query(&n, "Acme.Widget", q);
        assert!(m("") && m("   ") && m("widget") && m("ACME alice") && m("tools"));
        assert!(m("packageid:acme.widget") && !m("packageid:acme"));
        assert!(m("id:WIDG") && !m("id:alice"));
        assert!(m("tag:tools") && m("tags:Widgets") && !m("tag:tool"));
        assert!(!m("widget nothere"));
    }

    #[test]
    fn deprecation_validation() {
        let ok = Deprecation {
            reasons: vec!["Legacy".into(), "Other".into()],
            message: None,
            alternate_package: None,
        };
        assert_eq!(ok.validate(), Ok(()));
        let with = |f: &dyn Fn(&mut Deprecation)| {
            let mut d = ok.clone();
            f(&mut d);
            d.validate()
        };
        assert!(with(&|d| d.reasons.clear()).is_err());
        assert!(with(&|d| d.reasons = vec!["legacy".into()]).is_err());
        assert!(with(&|d| d.reasons = vec!["Other".into(), "Other".into()]).is_err());
        assert!(with(&|d| d.message = Some("x".repeat(4001))).is_err());
        assert!(with(&|d| d.message = Some("x".repeat(4000))).is_ok());
        let alt = |id: &str, range: &str| {
            Some(AlternatePackage {
                id: id.into(),
                range: range.into(),
            })
        };
        assert!(with(&|d| d.alternate_package = alt("B", "*")).is_ok());
        assert!(with(&|d| d.alternate_package = alt("B", "[1.0,2.0)")).is_ok());
        assert!(with(&|d| d.alternate_package = alt("B..x", "*")).is_err());
        assert!(with(&|d| d.alternate_package = alt("B", "1.*")).is_err());
        let json: Deprecation = serde_json::from_str(r#"{"reasons":["Legacy"]}"#).unwrap();
        assert_eq!(json.message, None);
    }
}
