//! Unit tests of the proxy's document handling, over documents shaped like the public gallery's
//! (catalog URLs, gzip hives, vulnerabilities) and like packgate's own hosted feed.

use super::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;

const ORIGIN: &str = "https://api.gallery.test";
const V3: &str = "http://127.0.0.1:8080/nuget-proxy/v3";

fn gallery_index() -> Vec<u8> {
    to_vec(&json!({
        "version": "3.0.0",
        "resources": [
            {"@id": "https://api.gallery.test/v3-flatcontainer/", "@type": "PackageBaseAddress/3.0.0"},
            {"@id": "https://api.gallery.test/v3/registration5-semver1/", "@type": "RegistrationsBaseUrl"},
            {"@id": "https://api.gallery.test/v3/registration5-gz-semver1/", "@type": "RegistrationsBaseUrl/3.4.0"},
            {"@id": "https://api.gallery.test/v3/registration5-gz-semver2/", "@type": ["RegistrationsBaseUrl/3.6.0", "RegistrationsBaseUrl/Versioned"]},
            {"@id": "https://search.gallery.test/query", "@type": "SearchQueryService/3.0.0-beta"},
            {"@id": "https://api.gallery.test/query", "@type": "SearchQueryService/3.5.0"},
            {"@id": "https://evil.test/autocomplete", "@type": "SearchAutocompleteService"},
            {"@id": "https://api.gallery.test/v3/catalog0/index.json", "@type": "Catalog/3.0.0"}
        ]
    }))
}

fn resources() -> UpstreamResources {
    upstream_resources(&gallery_index(), ORIGIN).expect("resources")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// A registration index as the public gallery's SemVer 2.0.0 hive serves it (one inlined page).
fn gallery_registration(published: &[(&str, &str)]) -> Value {
    let reg = "https://api.gallery.test/v3/registration5-gz-semver2/acme.widget";
    let items: Vec<Value> = published
        .iter()
        .map(|(v, when)| {
            let catalog = format!("https://api.gallery.test/v3/catalog0/data/2024.01.01/acme.widget.{v}.json");
            json!({
                "@id": format!("{reg}/{v}.json"),
                "@type": "Package",
                "commitId": "c0ffee",
                "catalogEntry": {
                    "@id": catalog,
                    "@type": "PackageDetails",
                    "id": "Acme.Widget",
                    "version": v,
                    "published": when,
                    "listed": true,
                    "iconUrl": format!("https://api.gallery.test/v3-flatcontainer/acme.widget/{v}/icon"),
                    "projectUrl": "https://github.test/acme/widget",
                    "packageContent": format!("https://api.gallery.test/v3-flatcontainer/acme.widget/{v}/acme.widget.{v}.nupkg"),
                    "dependencyGroups": [{
                        "@id": format!("{catalog}#dependencygroup/.netstandard2.0"),
                        "@type": "PackageDependencyGroup",
                        "targetFramework": ".NETStandard2.0",
                        "dependencies": [{
                            "@id": format!("{catalog}#dependencygroup/.netstandard2.0/newtonsoft.json"),
                            "@type": "PackageDependency",
                            "id": "Newtonsoft.Json",
                            "range": "[13.0.1, )",
                            "registration": "https://api.gallery.test/v3/registration5-semver1/newtonsoft.json/index.json"
                        }]
                    }],
                    "deprecation": {
                        "@id": format!("{catalog}#deprecation"),
                        "reasons": ["Legacy"],
                        "alternatePackage": {"@id": format!("{catalog}#deprecation/alternatePackage"), "id": "Acme.Widget2", "range": "*"}
                    },
                    "vulnerabilities": [{
                        "@id": format!("{catalog}#vulnerability/GitHub/1"),
                        "@type": "Vulnerability",
                        "advisoryUrl": "https://github.test/advisories/GHSA-1",
                        "severity": "2"
                    }]
                },
                "packageContent": format!("https://api.gallery.test/v3-flatcontainer/acme.widget/{v}/acme.widget.{v}.nupkg"),
                "registration": format!("{reg}/index.json")
            })
        })
        .collect();
    let first = published.first().map(|p| p.0).unwrap_or("0.0.0");
    let last = published.last().map(|p| p.0).unwrap_or("0.0.0");
    json!({
        "@id": format!("{reg}/index.json"),
        "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
        "commitId": "c0ffee",
        "count": 1,
        "items": [{
            "@id": format!("{reg}/index.json#page/{first}/{last}"),
            "@type": "catalog:CatalogPage",
            "count": items.len(),
            "items": items,
            "parent": format!("{reg}/index.json"),
            "lower": first,
            "upper": last
        }],
        "@context": {"@vocab": "http://schema.nuget.org/schema#", "catalog": "http://schema.nuget.org/catalog#"}
    })
}

/// Every string in `v`.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn only_resources_on_the_upstream_origin_are_used_and_the_semver2_hive_is_read() {
    let r = resources();
    assert_eq!(
        r.flat.as_deref(),
        Some("https://api.gallery.test/v3-flatcontainer/")
    );
    assert_eq!(
        r.registration.as_deref(),
        Some("https://api.gallery.test/v3/registration5-gz-semver2/")
    );
    assert_eq!(r.registrations.len(), 3, "{:?}", r.registrations);
    assert_eq!(r.search.as_deref(), Some("https://api.gallery.test/query"));
    assert_eq!(r.autocomplete, None, "another origin's resource is ignored");
    assert!(validate_service_index(&gallery_index()).is_ok());
    assert!(validate_service_index(br#"{"version":"2.0.0","resources":[]}"#).is_err());
    assert!(validate_service_index(b"[1]").is_err());
}

#[test]
fn origins_match_whole_hosts_and_ports_only() {
    assert!(on_origin(
        "http://127.0.0.1:4000/x",
        "http://127.0.0.1:4000"
    ));
    assert!(on_origin("HTTP://127.0.0.1:4000", "http://127.0.0.1:4000"));
    assert!(on_origin(
        "http://127.0.0.1:4000#f",
        "http://127.0.0.1:4000"
    ));
    assert!(!on_origin(
        "http://127.0.0.1:40001/x",
        "http://127.0.0.1:4000"
    ));
    assert!(!on_origin(
        "http://127.0.0.1:4000.evil.test/",
        "http://127.0.0.1:4000"
    ));
    assert!(!on_origin(
        "https://127.0.0.1:4000/x",
        "http://127.0.0.1:4000"
    ));
}

#[test]
fn the_proxy_service_index_names_only_its_own_read_resources() {
    let doc: Value = serde_json::from_slice(&proxy_service_index(V3)).expect("json");
    assert_eq!(doc["version"], "3.0.0");
    let mut types = HashSet::new();
    for r in doc["resources"].as_array().expect("resources") {
        assert!(r["@id"].as_str().expect("@id").starts_with(V3), "{r}");
        types.insert(r["@type"].as_str().expect("@type").to_string());
    }
    // What NuGet 6.x asks for first (protocol reference §2).
    for t in [
        "PackageBaseAddress/3.0.0",
        "RegistrationsBaseUrl/3.6.0",
        "SearchQueryService/3.0.0-beta",
        "SearchAutocompleteService/3.0.0-beta",
    ] {
        assert!(types.contains(t), "{t} missing: {types:?}");
    }
    assert!(!types.iter().any(|t| t.starts_with("PackagePublish")));
}

#[test]
fn a_gzip_gallery_registration_is_rewritten_with_no_upstream_url_left_and_every_field_kept() {
    let upstream = resources();
    let links = Links {
        v3: V3,
        origin: ORIGIN,
        upstream: &upstream,
    };
    let original = gallery_registration(&[
        ("1.0.0", "2020-01-01T00:00:00+00:00"),
        ("2.0.0-beta.1", "2021-01-01T00:00:00.1234567+00:00"),
    ]);
    let body = gzip(&to_vec(&original));
    let out = rewrite_registration(&body, "acme.widget", RegDoc::Index, &HashSet::new(), &links)
        .expect("rewrite");
    let doc: Value = serde_json::from_slice(&out).expect("plain JSON");
    let mut all = Vec::new();
    strings(&doc, &mut all);
    assert!(
        !all.iter().any(|s| s.contains("api.gallery.test")),
        "{all:#?}"
    );
    let reg = format!("{V3}/registration/acme.widget");
    assert_eq!(doc["@id"], format!("{reg}/index.json"));
    let page = &doc["items"][0];
    assert_eq!(
        page["@id"],
        format!("{reg}/index.json#page/1.0.0/2.0.0-beta.1")
    );
    assert_eq!(page["parent"], format!("{reg}/index.json"));
    let item = &page["items"][1];
    let leaf = format!("{reg}/2.0.0-beta.1.json");
    assert_eq!(item["@id"], leaf);
    assert_eq!(item["registration"], format!("{reg}/index.json"));
    let content =
        format!("{V3}/flatcontainer/acme.widget/2.0.0-beta.1/acme.widget.2.0.0-beta.1.nupkg");
    assert_eq!(item["packageContent"], content);
    let entry = &item["catalogEntry"];
    assert_eq!(entry["@id"], leaf);
    assert_eq!(entry["packageContent"], content);
    assert_eq!(
        entry["iconUrl"],
        format!("{V3}/flatcontainer/acme.widget/2.0.0-beta.1/icon")
    );
    let group = &entry["dependencyGroups"][0];
    assert_eq!(
        group["@id"],
        format!("{leaf}#dependencygroup/.netstandard2.0")
    );
    assert_eq!(
        group["dependencies"][0]["registration"],
        format!("{V3}/registration/newtonsoft.json/index.json")
    );
    assert_eq!(group["dependencies"][0]["range"], "[13.0.1, )");
    assert_eq!(
        entry["deprecation"]["alternatePackage"]["@id"],
        format!("{leaf}#deprecation/alternatePackage")
    );
    assert_eq!(entry["deprecation"]["reasons"], json!(["Legacy"]));
    let vuln = &entry["vulnerabilities"][0];
    assert_eq!(vuln["advisoryUrl"], "https://github.test/advisories/GHSA-1");
    assert_eq!(vuln["severity"], "2");
    assert_eq!(entry["projectUrl"], "https://github.test/acme/widget");
    assert_eq!(doc["commitId"], "c0ffee");
    assert_eq!(
        doc["@context"]["catalog"],
        "http://schema.nuget.org/catalog#"
    );
}

#[test]
fn a_packgate_registration_is_rewritten_like_a_prefix_replacement() {
    let up = "http://127.0.0.1:4000/nuget/v3";
    let service = to_vec(&json!({"version": "3.0.0", "resources": [
        {"@id": format!("{up}/flatcontainer/"), "@type": "PackageBaseAddress/3.0.0"},
        {"@id": format!("{up}/registration/"), "@type": "RegistrationsBaseUrl/3.6.0"}
    ]}));
    let upstream = upstream_resources(&service, "http://127.0.0.1:4000").expect("resources");
    let links = Links {
        v3: V3,
        origin: "http://127.0.0.1:4000",
        upstream: &upstream,
    };
    let nuspec = crate::Nuspec {
        id: "Acme.Widget".into(),
        version: "1.0.0".into(),
        authors: Some("Alice".into()),
        dependency_groups: vec![crate::DependencyGroup {
            target_framework: Some("net8.0".into()),
            dependencies: vec![crate::Dependency {
                id: "Acme.Base".into(),
                range: Some("1.0.0".into()),
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let version = NuGetVersion::parse("1.0.0").expect("version");
    let deprecation = crate::Deprecation {
        reasons: vec!["Legacy".into()],
        message: Some("old".into()),
        alternate_package: Some(crate::AlternatePackage {
            id: "Acme.Widget2".into(),
            range: "*".into(),
        }),
    };
    let entry = crate::RegEntry {
        display_id: "Acme.Widget",
        nuspec: &nuspec,
        version: &version,
        listed: true,
        published: "2024-06-01T10:00:00.000Z",
        deprecation: Some(&deprecation),
        package_size: Some(123),
    };
    for (served, kind) in [
        (
            crate::registration_index(up, "acme.widget", &[entry]),
            RegDoc::Index,
        ),
        (
            crate::registration_leaf(up, "acme.widget", &entry),
            RegDoc::Leaf("1.0.0"),
        ),
        (
            crate::registration_page(up, "acme.widget", "1.0.0", "1.0.0", &[entry]),
            RegDoc::Page,
        ),
    ] {
        let out = rewrite_registration(&served, "acme.widget", kind, &HashSet::new(), &links)
            .expect("rewrite");
        let replaced = String::from_utf8(served).expect("utf-8").replace(up, V3);
        let want: Value = serde_json::from_str(&replaced).expect("json");
        let got: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(got, want, "{kind:?}");
    }
}

#[test]
fn hidden_versions_leave_the_registration_and_emptied_pages_are_dropped() {
    let upstream = resources();
    let links = Links {
        v3: V3,
        origin: ORIGIN,
        upstream: &upstream,
    };
    let body = to_vec(&gallery_registration(&[
        ("1.0.0", "2020-01-01T00:00:00Z"),
        ("2.0.0", "2020-02-01T00:00:00Z"),
    ]));
    let hidden: HashSet<String> = ["2.0.0".to_string()].into();
    let out = rewrite_registration(&body, "acme.widget", RegDoc::Index, &hidden, &links)
        .expect("rewrite");
    let doc: Value = serde_json::from_slice(&out).expect("json");
    let items = doc["items"][0]["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["catalogEntry"]["version"], "1.0.0");
    assert_eq!(doc["items"][0]["count"], 1);
    let all: HashSet<String> = ["1.0.0".to_string(), "2.0.0".to_string()].into();
    let out =
        rewrite_registration(&body, "acme.widget", RegDoc::Index, &all, &links).expect("rewrite");
    let doc: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(doc["items"], json!([]));
    assert_eq!(doc["count"], 0);
}

#[test]
fn external_pages_are_found_in_the_index_and_linked_at_the_proxy() {
    let upstream = resources();
    let links = Links {
        v3: V3,
        origin: ORIGIN,
        upstream: &upstream,
    };
    let reg = "https://api.gallery.test/v3/registration5-gz-semver2/big";
    let index = to_vec(&json!({
        "@id": format!("{reg}/index.json"),
        "count": 2,
        "items": [
            {"@id": format!("{reg}/page/1.0.0/1.0.63.json"), "@type": "catalog:CatalogPage", "count": 64, "lower": "1.0.0", "upper": "1.0.63"},
            {"@id": format!("{reg}/page/1.0.64/2.0.0-RC.1.json"), "@type": "catalog:CatalogPage", "count": 64, "lower": "1.0.64", "upper": "2.0.0-RC.1"}
        ]
    }));
    let pages = registration_pages(&index).expect("pages");
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1].upper, "2.0.0-rc.1");
    assert_eq!(
        pages[1].url.as_deref(),
        Some(format!("{reg}/page/1.0.64/2.0.0-RC.1.json").as_str())
    );
    let out = rewrite_registration(&index, "big", RegDoc::Index, &HashSet::new(), &links)
        .expect("rewrite");
    let doc: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(
        doc["items"][1]["@id"],
        format!("{V3}/registration/big/page/1.0.64/2.0.0-rc.1.json")
    );
    assert_eq!(
        doc["items"][1]["count"], 64,
        "external page counts are kept"
    );
}

#[test]
fn flat_lists_are_read_and_filtered_by_normalized_version() {
    let body = br#"{"versions":["1.0.0","2.0.0-beta","3.0.0"],"extra":1}"#;
    assert_eq!(
        flat_versions_of(body).expect("versions"),
        ["1.0.0", "2.0.0-beta", "3.0.0"]
    );
    let out = filter_flat(body, &|v| v == "2.0.0-beta").expect("filter");
    assert_eq!(out, br#"{"versions":["1.0.0","3.0.0"],"extra":1}"#);
    assert!(validate_flat(br#"{"versions":[1]}"#).is_err());
    assert!(validate_flat(br#"{"nope":[]}"#).is_err());
    assert!(validate_document(b"{not json").is_err());
}

#[test]
fn publish_times_parse_and_the_1900_date_of_unlisted_versions_counts_as_unknown() {
    let items = page_items(&to_vec(
        &gallery_registration(&[
            ("1.0.0", "2024-06-01T10:00:00.000Z"),
            ("1.1.0", "1900-01-01T00:00:00+00:00"),
        ])["items"][0],
    ))
    .expect("items");
    assert_eq!(
        items[0].published.as_deref(),
        Some("2024-06-01T10:00:00.000Z")
    );
    assert_eq!(items[1].published, None);
}

#[test]
fn the_cooldown_hides_young_and_per_policy_unknown_versions() {
    let items = page_items(&to_vec(
        &gallery_registration(&[
            ("1.0.0", "2024-06-01T00:00:00Z"),
            ("1.1.0", "1900-01-01T00:00:00+00:00"),
            ("2.0.0", "2024-06-09T12:00:00Z"),
        ])["items"][0],
    ))
    .expect("items");
    assert_eq!(items[1].published, None);
    // On 2024-06-10 with a 3-day cooldown (published before 06-07; the fixtures' times are all
    // RFC 3339 UTC, so they compare as text).
    let cooldown = |allow_unknown: bool| {
        move |published: Option<&str>| published.map_or(allow_unknown, |t| t < "2024-06-07")
    };
    let flat = ["1.0.0", "1.1.0", "2.0.0", "3.0.0"];
    let hidden = hidden_versions(flat, &items, &cooldown(true));
    assert_eq!(hidden, ["2.0.0".to_string()].into());
    let hidden = hidden_versions(flat, &items, &cooldown(false));
    let want: HashSet<String> = ["1.1.0", "2.0.0", "3.0.0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(hidden, want);
}

#[test]
fn search_hits_point_at_the_proxy_registration() {
    let upstream = resources();
    let links = Links {
        v3: V3,
        origin: ORIGIN,
        upstream: &upstream,
    };
    let body = to_vec(&json!({"totalHits": 1, "data": [{
        "@id": "https://api.gallery.test/v3/registration5-semver1/acme.widget/index.json",
        "@type": "Package",
        "registration": "https://api.gallery.test/v3/registration5-semver1/acme.widget/index.json",
        "id": "Acme.Widget",
        "version": "1.0.0+build",
        "iconUrl": "https://api.gallery.test/unknown/icon",
        "versions": [{"version": "1.0.0+build", "downloads": 3, "@id": "https://api.gallery.test/v3/registration5-semver1/acme.widget/1.0.0.json"}]
    }]}));
    let doc: Value =
        serde_json::from_slice(&rewrite_search(&body, &links).expect("rewrite")).expect("json");
    let hit = &doc["data"][0];
    assert_eq!(
        hit["registration"],
        format!("{V3}/registration/acme.widget/index.json")
    );
    assert_eq!(
        hit["versions"][0]["@id"],
        format!("{V3}/registration/acme.widget/1.0.0.json")
    );
    assert!(hit.get("iconUrl").is_none(), "no counterpart: left out");
    assert_eq!(hit["versions"][0]["downloads"], 3);
}

#[test]
fn gzip_bodies_are_bounded_when_inflated() {
    let zeros = vec![0u8; (MAX_INFLATED + 10) as usize];
    let bomb = gzip(&zeros);
    assert!(decode(&bomb).is_err());
    assert_eq!(decode(&gzip(b"{}")).expect("small").as_ref(), b"{}");
}
