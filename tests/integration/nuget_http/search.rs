//! Search and autocomplete: the prerelease and SemVer 2.0.0 filters, paging, ids and versions.

use super::{REPO, autocomplete, hit, hit_ids, hit_versions, search, set, setup};
use crate::support::nuget_http::{Auth, Feed};
use packgate_nuget::testing::Nupkg;
use serde_json::Value;
use std::collections::BTreeSet;

#[test]
fn search_filters_prerelease_semver2_and_pages() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    for p in [
        Nupkg::new("Pg.Search.Alpha", "1.0.0")
            .title("Shiny Alpha")
            .tags("needle alpha"),
        Nupkg::new("Pg.Search.Beta", "1.0.0"),
        Nupkg::new("Pg.Search.Beta", "2.0.0-beta"),
        Nupkg::new("Pg.Search.Gamma", "1.0.0-rc.1"),
        Nupkg::new("Pg.Search.Delta", "1.0.0+build.5"),
        Nupkg::new("Pg.Search.Eps", "1.0.0").dep_group(
            Some("netstandard2.0"),
            &[("Pg.Search.Gamma", "[1.0.0-rc.1, )")],
        ),
        Nupkg::new("Other.Thing", "1.0.0").description("Has a needle in its description."),
        Nupkg::new("Pg.Tool", "1.0.0").package_type("DotnetTool"),
    ] {
        feed.push_ok(key, &p.bytes());
    }
    let all5 = set(&[
        "Pg.Search.Alpha",
        "Pg.Search.Beta",
        "Pg.Search.Gamma",
        "Pg.Search.Delta",
        "Pg.Search.Eps",
    ]);

    // Everything visible.
    let (total, hits) = search(&feed, "q=pg.search&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(hit_ids(&hits), all5);
    assert_eq!(total, 5);
    let beta = hit(&hits, "Pg.Search.Beta");
    assert_eq!(beta["version"], "2.0.0-beta");
    assert_eq!(hit_versions(beta), ["1.0.0", "2.0.0-beta"]);
    assert_eq!(hit(&hits, "Pg.Search.Delta")["version"], "1.0.0+build.5");
    for h in &hits {
        let id = h["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        let reg = feed.url(&format!("registration/{id}/index.json"));
        assert_eq!(h["registration"].as_str(), Some(reg.as_str()), "{h}");
        assert!(h["description"].is_string(), "{h}");
    }

    // prerelease absent = false; semVerLevel absent hides SemVer 2.0.0 packages.
    let (total, hits) = search(&feed, "q=pg.search");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Pg.Search.Beta"]));
    assert_eq!(total, 2);
    let beta = hit(&hits, "Pg.Search.Beta");
    assert_eq!(beta["version"], "1.0.0");
    assert_eq!(hit_versions(beta), ["1.0.0"]);
    let (_, hits) = search(&feed, "q=pg.search&semVerLevel=2.0.0");
    assert_eq!(
        hit_ids(&hits),
        set(&[
            "Pg.Search.Alpha",
            "Pg.Search.Beta",
            "Pg.Search.Delta",
            "Pg.Search.Eps"
        ])
    );
    let (_, hits) = search(&feed, "q=pg.search&prerelease=true");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Pg.Search.Beta"]));
    assert_eq!(hit(&hits, "Pg.Search.Beta")["version"], "2.0.0-beta");
    let (_, hits) = search(&feed, "q=pg.search&prerelease=false&semVerLevel=1.0.0");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Pg.Search.Beta"]));

    // q matches title, tags and description, case-insensitively.
    let (_, hits) = search(&feed, "q=needle&semVerLevel=2.0.0");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Other.Thing"]));
    let (_, hits) = search(&feed, "q=SHINY&semVerLevel=2.0.0");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha"]));
    let (total, hits) = search(
        &feed,
        "q=no-such-term-anywhere&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!((total, hits.len()), (0, 0));

    // packageid: is an exact id.
    let (_, hits) = search(
        &feed,
        "q=packageid:Pg.Search.Beta&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Beta"]));
    let (total, _) = search(
        &feed,
        "q=packageid:Pg.Search&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(total, 0, "packageid: is not a substring match");

    // skip/take page through the same totalHits.
    let mut seen = BTreeSet::new();
    for skip in [0, 2, 4] {
        let (total, hits) = search(
            &feed,
            &format!("q=pg.search&prerelease=true&semVerLevel=2.0.0&skip={skip}&take=2"),
        );
        assert_eq!(total, 5, "totalHits counts every match, not the page");
        assert_eq!(hits.len(), if skip == 4 { 1 } else { 2 }, "skip={skip}");
        for id in hit_ids(&hits) {
            assert!(seen.insert(id.clone()), "{id} on two pages");
        }
    }
    assert_eq!(seen, all5);
    let (total, hits) = search(
        &feed,
        "q=pg.search&prerelease=true&semVerLevel=2.0.0&skip=5",
    );
    assert_eq!((total, hits.len()), (5, 0));

    // An empty q lists everything.
    let (total, hits) = search(&feed, "q=&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(total, 7);
    assert_eq!(hits.len(), 7);
    let (_, hits) = search(&feed, "prerelease=true&semVerLevel=2.0.0");
    assert_eq!(hits.len(), 7, "no q at all lists everything too");
    // Package types, when given, come from the nuspec (`Dependency` when it declares none).
    for (id, want) in [("Pg.Tool", "DotnetTool"), ("Pg.Search.Alpha", "Dependency")] {
        if let Some(types) = hit(&hits, id).get("packageTypes").and_then(Value::as_array) {
            assert!(
                types.iter().any(|t| t["name"] == want),
                "{id}: packageTypes {types:?} should name {want}"
            );
        }
    }
}

#[test]
fn autocomplete_ids_and_versions() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    for p in [
        Nupkg::new("Pg.Auto.One", "1.0.0"),
        Nupkg::new("Pg.Auto.One", "1.1.0-beta"),
        Nupkg::new("Pg.Auto.One", "2.0.0-rc.1+meta"),
        Nupkg::new("Pg.Auto.Two", "0.1.0-alpha"),
        Nupkg::new("Pg.Auto.Three", "1.0.0"),
        Nupkg::new("Other.Zed", "1.0.0"),
    ] {
        feed.push_ok(key, &p.bytes());
    }
    let (total, ids) = autocomplete(&feed, "q=pg.auto&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["Pg.Auto.One", "Pg.Auto.Two", "Pg.Auto.Three"])
    );
    assert_eq!(total, Some(3));
    let (total, ids) = autocomplete(&feed, "q=pg.auto&semVerLevel=2.0.0");
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["Pg.Auto.One", "Pg.Auto.Three"]),
        "prerelease absent = false hides prerelease-only ids"
    );
    assert_eq!(total, Some(2));
    let (_, ids) = autocomplete(&feed, "q=PG.AUTO.T&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["Pg.Auto.Two", "Pg.Auto.Three"])
    );
    let mut seen = BTreeSet::new();
    for skip in [0, 1, 2] {
        let (total, ids) = autocomplete(
            &feed,
            &format!("q=pg.auto&prerelease=true&semVerLevel=2.0.0&skip={skip}&take=1"),
        );
        assert_eq!(total, Some(3));
        assert_eq!(ids.len(), 1, "take=1");
        assert!(seen.insert(ids[0].clone()), "{} twice", ids[0]);
    }
    assert_eq!(seen.len(), 3);

    let (_, versions) = autocomplete(&feed, "id=pg.auto.one&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(versions, ["1.0.0", "1.1.0-beta", "2.0.0-rc.1+meta"]);
    let (_, versions) = autocomplete(&feed, "id=PG.AUTO.ONE&prerelease=false&semVerLevel=2.0.0");
    assert_eq!(versions, ["1.0.0"]);
    let (_, versions) = autocomplete(&feed, "id=pg.auto.one&prerelease=true");
    assert_eq!(
        versions,
        ["1.0.0", "1.1.0-beta"],
        "SemVer 2.0.0 needs semVerLevel"
    );
    let (_, versions) = autocomplete(&feed, "id=pg.nothing&prerelease=true&semVerLevel=2.0.0");
    assert!(versions.is_empty());
}
