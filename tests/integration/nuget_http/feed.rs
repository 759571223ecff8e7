//! Reading the feed: the service index (every resource, anonymously), the flat container
//! (case-insensitive ids keeping the first spelling, normalized versions, NuGet precedence order)
//! and the registrations (inlined below 128 versions, then paged with every page at its `@id`;
//! dependency groups, legacy flat dependencies).

use super::{
    PRIVATE, REPO, autocomplete, catalog_entries, entry_for, entry_versions, expect_status,
    flat_versions, hit_versions, registration_pages, search, setup,
};
use crate::support::TestServer;
use crate::support::nuget_http::{Auth, Feed};
use packgate_nuget::testing::Nupkg;
use serde_json::Value;
use std::collections::BTreeSet;

#[test]
fn service_index_lists_every_resource_anonymously() {
    let server = TestServer::start();
    for repo in [REPO, PRIVATE] {
        let feed = Feed::new(&server, repo);
        let resp = feed.get(&feed.path("index.json"), Auth::None);
        expect_status(&resp, 200);
        let ct = resp.header("content-type").unwrap_or_default();
        assert!(ct.contains("json"), "{repo}: index content-type {ct:?}");
        let doc = resp.json();
        assert_eq!(doc["version"], "3.0.0", "{repo}: {doc}");
        let mut pairs = BTreeSet::new();
        for r in doc["resources"].as_array().expect("resources") {
            let id = r["@id"].as_str().expect("@id").to_owned();
            assert!(
                id.starts_with(&feed.url("")),
                "{repo}: every resource lives under {{repo}}/v3/: {id}"
            );
            match &r["@type"] {
                Value::String(t) => {
                    pairs.insert((id.clone(), t.clone()));
                }
                Value::Array(ts) => {
                    for t in ts {
                        pairs.insert((id.clone(), t.as_str().expect("type").to_owned()));
                    }
                }
                other => panic!("{repo}: bad @type {other}"),
            }
        }
        let want: &[(&str, &[&str])] = &[
            ("flatcontainer/", &["PackageBaseAddress/3.0.0"]),
            (
                "registration/",
                &[
                    "RegistrationsBaseUrl",
                    "RegistrationsBaseUrl/3.0.0-beta",
                    "RegistrationsBaseUrl/3.0.0-rc",
                    "RegistrationsBaseUrl/3.4.0",
                    "RegistrationsBaseUrl/3.6.0",
                ],
            ),
            (
                "query",
                &[
                    "SearchQueryService",
                    "SearchQueryService/3.0.0-beta",
                    "SearchQueryService/3.0.0-rc",
                    "SearchQueryService/3.5.0",
                ],
            ),
            (
                "autocomplete",
                &[
                    "SearchAutocompleteService",
                    "SearchAutocompleteService/3.0.0-beta",
                    "SearchAutocompleteService/3.0.0-rc",
                ],
            ),
            ("package", &["PackagePublish/2.0.0"]),
            ("symbolpackage", &["SymbolPackagePublish/4.9.0"]),
        ];
        for (rest, types) in want {
            for t in *types {
                assert!(
                    pairs.contains(&(feed.url(rest), t.to_string())),
                    "{repo}: missing {{\"@id\": {:?}, \"@type\": {t:?}}} in {doc}",
                    feed.url(rest)
                );
            }
        }
        let head = server.http().head_with(&feed.path("index.json"), &[]);
        expect_status(&head, 200);
        assert!(head.body.is_empty(), "{repo}: HEAD index.json with a body");
    }
}

#[test]
fn ids_are_case_insensitive_and_keep_the_first_spelling() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let first = Nupkg::new("Acme.Widget", "1.0.0");
    let second = Nupkg::new("acme.widget", "2.0.0");
    feed.push_ok(key, &first.bytes());
    feed.push_ok(key, &second.bytes());
    for spelling in ["acme.widget", "Acme.Widget", "ACME.WIDGET"] {
        assert_eq!(
            flat_versions(&feed, spelling),
            ["1.0.0", "2.0.0"],
            "flat index via {spelling}"
        );
        let entries = catalog_entries(&feed, spelling, Auth::None);
        assert_eq!(entry_versions(&entries), ["1.0.0", "2.0.0"]);
        for e in &entries {
            assert_eq!(e["id"], "Acme.Widget", "the first push's spelling: {e}");
        }
    }
    for (id, version, pkg) in [
        ("Acme.Widget", "2.0.0", &second),
        ("ACME.widget", "1.0.0", &first),
        ("acme.widget", "1.0.0", &first),
    ] {
        let resp = feed.get(&feed.flat_file_path(id, version, "nupkg"), Auth::None);
        expect_status(&resp, 200);
        assert_eq!(resp.body, pkg.bytes(), "download via {id}/{version}");
    }
    let (total, hits) = search(&feed, "q=widget&semVerLevel=2.0.0");
    assert_eq!(total, 1, "one package: {hits:?}");
    assert_eq!(hits[0]["id"], "Acme.Widget");
    assert_eq!(hit_versions(&hits[0]), ["1.0.0", "2.0.0"]);
    let (_, ids) = autocomplete(&feed, "q=acme&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(ids, ["Acme.Widget"]);
}

#[test]
fn versions_are_normalized() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let pkgs = [
        Nupkg::new("Pg.Norm", "1.0.0.0"),
        Nupkg::new("Pg.Norm", "1.00.01"),
        Nupkg::new("Pg.Norm", "2.0.0.5"),
        Nupkg::new("Pg.Norm", "3.0.0-RC.1+build.7"),
    ];
    for p in &pkgs {
        feed.push_ok(key, &p.bytes());
    }
    assert_eq!(
        flat_versions(&feed, "pg.norm"),
        ["1.0.0", "1.0.1", "2.0.0.5", "3.0.0-rc.1"]
    );
    for (segment, i) in [
        ("1.0.0", 0),
        ("1.0.0.0", 0),
        ("1.0", 0),
        ("1.0.1", 1),
        ("1.00.01", 1),
        ("2.0.0.5", 2),
        ("3.0.0-rc.1", 3),
        ("3.0.0-RC.1", 3),
    ] {
        let resp = feed.get(
            &feed.flat_file_path("pg.norm", segment, "nupkg"),
            Auth::None,
        );
        expect_status(&resp, 200);
        assert_eq!(resp.body, pkgs[i].bytes(), "download at {segment}");
        let nuspec = feed.get(&feed.nuspec_path("pg.norm", segment), Auth::None);
        expect_status(&nuspec, 200);
        assert_eq!(nuspec.text(), pkgs[i].nuspec(), "nuspec at {segment}");
    }
    let entries = catalog_entries(&feed, "pg.norm", Auth::None);
    assert_eq!(
        entry_versions(&entries),
        ["1.0.0", "1.0.1", "2.0.0.5", "3.0.0-RC.1+build.7"],
        "catalogEntry.version is the full normalized version"
    );
    let (_, pages) = registration_pages(&feed, "pg.norm", Auth::None);
    assert_eq!(pages[0]["lower"], "1.0.0");
    assert_eq!(pages[0]["upper"], "3.0.0-rc.1");
    let rc_leaf = feed.url("registration/pg.norm/3.0.0-rc.1.json");
    let rc = &pages[0]["items"][3];
    assert_eq!(rc["@id"].as_str(), Some(rc_leaf.as_str()), "{rc}");
    assert_eq!(
        rc["packageContent"].as_str(),
        Some(
            feed.url("flatcontainer/pg.norm/3.0.0-rc.1/pg.norm.3.0.0-rc.1.nupkg")
                .as_str()
        )
    );
    expect_status(&feed.get(&rc_leaf, Auth::None), 200);
    let (_, versions) = autocomplete(&feed, "id=pg.norm&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        versions,
        ["1.0.0", "1.0.1", "2.0.0.5", "3.0.0-RC.1+build.7"]
    );
}

#[test]
fn flat_index_orders_versions_by_nuget_precedence() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    for v in [
        "1.0.0",
        "1.0.0-beta.10",
        "10.0.0",
        "1.0.0-alpha",
        "1.0.0.1",
        "1.0.0-Beta",
        "2.0.0",
        "1.0.0-beta.2",
        "0.9.0",
    ] {
        feed.push_ok(Auth::ApiKey(&token), &Nupkg::new("Pg.Order", v).bytes());
    }
    assert_eq!(
        flat_versions(&feed, "pg.order"),
        [
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.10",
            "1.0.0",
            "1.0.0.1",
            "2.0.0",
            "10.0.0"
        ]
    );
    assert_eq!(
        entry_versions(&catalog_entries(&feed, "pg.order", Auth::None)),
        [
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-Beta",
            "1.0.0-beta.2",
            "1.0.0-beta.10",
            "1.0.0",
            "1.0.0.1",
            "2.0.0",
            "10.0.0"
        ]
    );
}

/// (major, minor, patch) of a plain `x.y.z` version.
fn triple(v: &str) -> (u64, u64, u64) {
    let parts: Vec<u64> = v
        .split('.')
        .map(|p| p.parse().unwrap_or_else(|_| panic!("not x.y.z: {v}")))
        .collect();
    assert_eq!(parts.len(), 3, "not x.y.z: {v}");
    (parts[0], parts[1], parts[2])
}

fn page_versions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| {
            l["catalogEntry"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn registration_is_inlined_below_128_versions_then_paged() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let push = |v: &str| feed.push_ok(key, &Nupkg::new("Pg.Big", v).bytes());
    for i in 1..=127 {
        push(&format!("1.0.{i}"));
    }
    // 127 versions: every page inlined, at most 64 per page.
    let (index, pages) = registration_pages(&feed, "pg.big", Auth::None);
    let raw_pages = index["items"].as_array().expect("pages");
    assert!(
        raw_pages.iter().all(|p| p.get("items").is_some()),
        "below 128 versions every page is inlined: {index}"
    );
    assert!(
        pages.iter().all(|p| p["count"].as_u64().unwrap_or(0) <= 64),
        "at most 64 versions per page"
    );
    let all: Vec<String> = pages.iter().flat_map(page_versions).collect();
    let want: Vec<String> = (1..=127).map(|i| format!("1.0.{i}")).collect();
    assert_eq!(all, want);

    // 128 versions: pages of 64 without items in the index, each at its @id.
    push("1.0.128");
    let (index, pages) = registration_pages(&feed, "pg.big", Auth::None);
    let raw_pages = index["items"].as_array().expect("pages").clone();
    assert!(
        raw_pages.iter().all(|p| p.get("items").is_none()),
        "from 128 versions on the index omits the items: {index}"
    );
    assert_eq!(raw_pages.len(), 2, "{index}");
    let counts: Vec<u64> = pages
        .iter()
        .map(|p| p["count"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [64, 64]);
    for p in &raw_pages {
        let want_url = feed.url(&format!(
            "registration/pg.big/page/{}/{}.json",
            p["lower"].as_str().unwrap_or_default(),
            p["upper"].as_str().unwrap_or_default()
        ));
        assert_eq!(p["@id"].as_str(), Some(want_url.as_str()), "page @id");
    }
    let all: Vec<String> = pages.iter().flat_map(page_versions).collect();
    let want: Vec<String> = (1..=128).map(|i| format!("1.0.{i}")).collect();
    assert_eq!(all, want);
    let old_urls: Vec<(String, String, String)> = raw_pages
        .iter()
        .map(|p| {
            (
                p["@id"].as_str().unwrap_or_default().to_owned(),
                p["lower"].as_str().unwrap_or_default().to_owned(),
                p["upper"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();

    // Two more on top and one below: every page boundary shifts.
    push("1.0.129");
    push("1.0.130");
    push("0.9.0");
    let (index, pages) = registration_pages(&feed, "pg.big", Auth::None);
    assert_eq!(index["count"], 3, "131 versions in pages of 64: {index}");
    let counts: Vec<u64> = pages
        .iter()
        .map(|p| p["count"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [64, 64, 3]);
    let all: Vec<String> = pages.iter().flat_map(page_versions).collect();
    let mut want: Vec<String> = vec!["0.9.0".to_owned()];
    want.extend((1..=130).map(|i| format!("1.0.{i}")));
    assert_eq!(all, want, "every version exactly once, ascending");
    for p in &pages {
        let versions = page_versions(p);
        assert_eq!(p["lower"].as_str(), versions.first().map(String::as_str));
        assert_eq!(p["upper"].as_str(), versions.last().map(String::as_str));
    }
    // Page URLs handed out before the shift still answer: the versions between their bounds.
    for (url, lower, upper) in &old_urls {
        let doc = feed.get_json(url, Auth::None);
        let (lo, hi) = (triple(lower), triple(upper));
        let expected: Vec<String> = want
            .iter()
            .filter(|v| (lo..=hi).contains(&triple(v)))
            .cloned()
            .collect();
        assert_eq!(
            page_versions(&doc),
            expected,
            "old page URL {url} answers the versions between its bounds"
        );
    }
    assert_eq!(flat_versions(&feed, "pg.big").len(), 131);
    let (_, hits) = search(&feed, "q=packageid:Pg.Big&semVerLevel=2.0.0");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["version"], "1.0.130");
}

#[test]
fn dependency_groups_and_legacy_dependencies() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    feed.push_ok(key, &Nupkg::new("Pg.Base", "1.0.0").bytes());
    let app = Nupkg::new("Pg.App", "1.0.0")
        .dep_group(
            Some("net472"),
            &[("Pg.Base", "1.0"), ("Other.Lib", "[2.0,3.0)")],
        )
        .dep_group(
            Some("netstandard2.0"),
            &[("Pg.Base", "[1.0.0]"), ("Any.Version", "")],
        )
        .dep_group(Some("net8.0"), &[]);
    feed.push_ok(key, &app.bytes());
    let legacy = Nupkg::new("Pg.Legacy", "1.0.0")
        .legacy_deps(&[("Pg.Base", "1.0.0"), ("Other.Lib", "(,2.0]")]);
    feed.push_ok(key, &legacy.bytes());

    let entry = entry_for(&catalog_entries(&feed, "pg.app", Auth::None), "1.0.0");
    let groups = entry["dependencyGroups"]
        .as_array()
        .unwrap_or_else(|| panic!("no dependencyGroups: {entry}"));
    assert_eq!(
        groups.len(),
        3,
        "one group per framework, the empty one kept: {entry}"
    );
    let deps = |g: &Value| -> Vec<(String, Option<String>)> {
        g["dependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap_or_default().to_owned(),
                    d["range"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    let tfm = |g: &Value| {
        g["targetFramework"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
    };
    assert_eq!(tfm(&groups[0]), "net472", "{entry}");
    assert_eq!(
        deps(&groups[0]),
        [
            ("Pg.Base".to_owned(), Some("[1.0.0, )".to_owned())),
            ("Other.Lib".to_owned(), Some("[2.0.0, 3.0.0)".to_owned())),
        ]
    );
    assert_eq!(tfm(&groups[1]), "netstandard2.0", "{entry}");
    let ns = deps(&groups[1]);
    assert_eq!(ns.len(), 2, "{entry}");
    assert_eq!(ns[0].0, "Pg.Base");
    assert!(
        matches!(ns[0].1.as_deref(), Some("[1.0.0, 1.0.0]") | Some("[1.0.0]")),
        "exact range normalized: {:?}",
        ns[0].1
    );
    assert_eq!(ns[1].0, "Any.Version");
    assert!(
        matches!(ns[1].1.as_deref(), None | Some("") | Some("(, )")),
        "a dependency without version means any version: {:?}",
        ns[1].1
    );
    assert_eq!(tfm(&groups[2]), "net8.0", "{entry}");
    assert!(
        deps(&groups[2]).is_empty(),
        "the empty group has no dependencies"
    );

    let entry = entry_for(&catalog_entries(&feed, "pg.legacy", Auth::None), "1.0.0");
    let groups = entry["dependencyGroups"]
        .as_array()
        .unwrap_or_else(|| panic!("no dependencyGroups: {entry}"));
    assert_eq!(
        groups.len(),
        1,
        "legacy dependencies form one group: {entry}"
    );
    assert!(
        tfm(&groups[0]).is_empty(),
        "the legacy group has no framework: {entry}"
    );
    assert_eq!(
        deps(&groups[0]),
        [
            ("Pg.Base".to_owned(), Some("[1.0.0, )".to_owned())),
            ("Other.Lib".to_owned(), Some("(, 2.0.0]".to_owned())),
        ]
    );
    let base = entry_for(&catalog_entries(&feed, "pg.base", Auth::None), "1.0.0");
    assert!(
        base["dependencyGroups"]
            .as_array()
            .is_none_or(|g| g.is_empty()),
        "no dependencies: {base}"
    );
}
