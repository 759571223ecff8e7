//! The v3 JSON documents: the service index, registration indexes (inlined and paged), pages and
//! leaves, search and autocomplete responses, query matching and deprecation validation.

use packgate_nuget::{
    AlternatePackage, Dependency, DependencyGroup, Deprecation, License, NuGetVersion, Nuspec,
    PackageType, RegEntry, SearchHit, autocomplete_ids, autocomplete_versions, error_body,
    flat_versions, matches_query, registration_index, registration_leaf, registration_page,
    search_response, service_index,
};
use serde_json::{Value, json};

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
