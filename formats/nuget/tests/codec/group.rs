//! `group`: flat-container version lists, registration entries and items, and search and
//! autocomplete answers of a group's members merged; member URLs rebased to the group.

use std::io::Write;

use packgate_nuget::group::{
    GroupError, MemberHits, hit_id, merge_flat_index, merge_hits, merge_registration_entries,
    merge_registration_items, merge_versions, read_hits, read_registration_index,
    read_registration_page, rebase_document, rebase_urls, registration_index_of_items,
    registration_page_of_items,
};
use packgate_nuget::{NuGetVersion, Nuspec, RegEntry, registration_index};
use serde_json::{Value, json};

fn merged_list(members: &[&[u8]]) -> (Vec<String>, Vec<(String, usize)>) {
    let merged = merge_flat_index(members).unwrap();
    let doc: Value = serde_json::from_slice(&merged.body).unwrap();
    let listed = doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let sources = merged
        .sources
        .iter()
        .map(|s| (s.version.clone(), s.member))
        .collect();
    (listed, sources)
}

fn pairs(p: &[(&str, usize)]) -> Vec<(String, usize)> {
    p.iter().map(|(v, m)| (v.to_string(), *m)).collect()
}

#[test]
fn versions_of_every_member_are_listed_in_nuget_order() {
    let hosted = br#"{"versions":["1.0.0","2.0.0-beta.2"]}"#;
    let proxied = br#"{"versions":["1.10.0","2.0.0-beta.10","2.0.0","1.2.0"]}"#;
    let (listed, sources) = merged_list(&[hosted, proxied]);
    assert_eq!(
        listed,
        [
            "1.0.0",
            "1.2.0",
            "1.10.0",
            "2.0.0-beta.2",
            "2.0.0-beta.10",
            "2.0.0"
        ]
    );
    assert_eq!(
        sources,
        pairs(&[
            ("1.0.0", 0),
            ("1.2.0", 1),
            ("1.10.0", 1),
            ("2.0.0-beta.2", 0),
            ("2.0.0-beta.10", 1),
            ("2.0.0", 1)
        ])
    );
}

#[test]
fn earliest_member_wins_a_version_present_in_two_spelled_either_way() {
    // `1.0` is `1.0.0`, release labels ignore case, metadata is ignored.
    let hosted = br#"{"versions":["1.0","3.0.0-RC.1","4.0.0+build.1"]}"#;
    let proxied = br#"{"versions":["1.0.0","1.0.0.0","3.0.0-rc.1","4.0.0","5.0.0"]}"#;
    let merged = merge_flat_index(&[hosted, proxied]).unwrap();
    let (listed, _) = merged_list(&[hosted, proxied]);
    assert_eq!(listed, ["1.0.0", "3.0.0-rc.1", "4.0.0", "5.0.0"]);
    assert_eq!(merged.member_of("1.0.0"), Some(0));
    assert_eq!(merged.member_of("1.0.0.0"), Some(0));
    assert_eq!(merged.member_of("3.0.0-Rc.1"), Some(0));
    assert_eq!(merged.member_of("4.0.0"), Some(0));
    assert_eq!(merged.member_of("5.0.0"), Some(1));
    assert_eq!(merged.member_of("6.0.0"), None);
    let reversed = merge_flat_index(&[proxied, hosted]).unwrap();
    assert_eq!(reversed.member_of("1.0"), Some(0));
}

#[test]
fn listed_versions_are_lower_case_and_normalized() {
    let (listed, _) = merged_list(&[br#"{"versions":["01.02.3-Beta","1.0.0.7"]}"#]);
    assert_eq!(listed, ["1.0.0.7", "1.2.3-beta"]);
}

#[test]
fn strings_that_are_not_versions_are_left_out_and_counted() {
    let body = br#"{"versions":["1.0.0","not-a-version","1.0.0-","","2.0.0"]}"#;
    let merged = merge_flat_index(&[body]).unwrap();
    assert_eq!(merged.body, br#"{"versions":["1.0.0","2.0.0"]}"#);
    assert_eq!(merged.malformed, 3);
}

#[test]
fn a_gzip_member_list_is_read() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"versions":["3.0.0"]}"#).unwrap();
    let gz = gz.finish().unwrap();
    let (listed, _) = merged_list(&[br#"{"versions":["1.0.0"]}"#, &gz]);
    assert_eq!(listed, ["1.0.0", "3.0.0"]);
}

#[test]
fn a_member_list_that_is_not_a_version_list_is_an_error_naming_it() {
    let good = br#"{"versions":["1.0.0"]}"#;
    for bad in [
        &b"<html>"[..],
        b"[]",
        br#"{"data":[]}"#,
        br#"{"versions":[1]}"#,
    ] {
        let err = merge_flat_index(&[good, bad]).unwrap_err();
        assert!(
            matches!(err, GroupError::Malformed { member: 1, .. }),
            "{err}"
        );
    }
}

#[test]
fn no_members_means_no_package() {
    assert_eq!(merge_flat_index(&[]), Err(GroupError::NoMembers));
    let (listed, sources) = merged_list(&[br#"{"versions":[]}"#]);
    assert!(listed.is_empty() && sources.is_empty());
}

fn entry<'a>(id: &'a str, nuspec: &'a Nuspec, version: &'a NuGetVersion) -> RegEntry<'a> {
    RegEntry {
        display_id: id,
        nuspec,
        version,
        listed: true,
        published: "2024-06-01T10:00:00+00:00",
        deprecation: None,
        package_size: None,
    }
}

#[test]
fn registration_entries_merge_ascending_with_the_earliest_member_winning() {
    let hosted_spec = Nuspec {
        description: Some("hosted".into()),
        ..Nuspec::default()
    };
    let public_spec = Nuspec {
        description: Some("public".into()),
        ..Nuspec::default()
    };
    let v = |s: &str| NuGetVersion::parse(s).unwrap();
    let (v1, v2, v2b, v3) = (v("1.0.0"), v("2.0.0"), v("2.0"), v("3.0.0-rc.1"));
    let hosted = [
        entry("Acme.Widget", &hosted_spec, &v2),
        entry("Acme.Widget", &hosted_spec, &v1),
    ];
    let public = [
        entry("acme.widget", &public_spec, &v3),
        entry("acme.widget", &public_spec, &v2b),
    ];
    let merged = merge_registration_entries(&[&hosted, &public]);
    let got: Vec<(String, &str, usize)> = merged
        .entries
        .iter()
        .zip(&merged.members)
        .map(|(e, m)| (e.version.lower(), e.display_id, *m))
        .collect();
    assert_eq!(
        got,
        [
            ("1.0.0".to_string(), "Acme.Widget", 0),
            ("2.0.0".to_string(), "Acme.Widget", 0),
            ("3.0.0-rc.1".to_string(), "Acme.Widget", 1)
        ]
    );
    assert_eq!(
        merged.entries[1].nuspec.description.as_deref(),
        Some("hosted")
    );
    let doc: Value = serde_json::from_slice(&registration_index(
        "http://gw/v3",
        "acme.widget",
        &merged.entries,
    ))
    .unwrap();
    assert_eq!(doc["items"][0]["upper"], "3.0.0-rc.1");
    assert!(merge_registration_entries(&[]).entries.is_empty());
}

/// A registration leaf item as a member serves it, under the member's `v3`.
fn item(v3: &str, lid: &str, version: &str, note: &str) -> Value {
    let lver = version.to_ascii_lowercase();
    json!({
        "@id": format!("{v3}/registration/{lid}/{lver}.json"),
        "@type": "Package",
        "packageContent": format!("{v3}/flatcontainer/{lid}/{lver}/{lid}.{lver}.nupkg"),
        "registration": format!("{v3}/registration/{lid}/index.json"),
        "catalogEntry": {
            "@id": format!("{v3}/registration/{lid}/{lver}.json"),
            "id": "Acme.Widget",
            "version": version,
            "description": note,
            "x-unknown": {"kept": [1, 2]},
            "dependencyGroups": [{
                "@id": format!("{v3}/registration/{lid}/{lver}.json#dependencygroup/any"),
                "dependencies": [{"id": "Dep", "registration": format!("{v3}/registration/dep/index.json")}]
            }]
        }
    })
}

#[test]
fn a_member_index_yields_its_inlined_items_and_the_bounds_of_its_linked_pages() {
    let v3 = "http://gw/hosted/v3";
    let index = json!({
        "count": 2,
        "items": [
            {"lower": "1.0.0", "upper": "1.0.0", "items": [item(v3, "acme.widget", "1.0.0", "a")]},
            {"@id": format!("{v3}/registration/acme.widget/page/2.0.0/3.0.0.json"), "lower": "2.0.0", "upper": "3.0.0", "count": 2}
        ]
    });
    let read = read_registration_index(index.to_string().as_bytes()).unwrap();
    assert_eq!(read.items.len(), 1);
    assert_eq!(read.external, [("2.0.0".to_string(), "3.0.0".to_string())]);
    let page = json!({"items": [item(v3, "acme.widget", "2.0.0", "b")]});
    assert_eq!(
        read_registration_page(page.to_string().as_bytes())
            .unwrap()
            .len(),
        1
    );
    assert!(read_registration_index(b"{\"items\":[{\"count\":1}]}").is_err());
    assert!(read_registration_index(b"[]").is_err());
}

#[test]
fn urls_under_a_member_are_rebased_to_the_group_and_nothing_else_is_touched() {
    let mut doc = json!({
        "a": "http://gw/nuget/v3/registration/x/index.json",
        "b": ["http://gw/nuget/v3#frag", "http://gw/nuget/v3"],
        "c": "http://gw/nuget/v3-other/registration/x/index.json",
        "d": "http://elsewhere/nuget/v3/x",
        "e": 3
    });
    rebase_urls(&mut doc, "http://gw/nuget/v3", "http://gw/all/v3");
    assert_eq!(
        doc,
        json!({
            "a": "http://gw/all/v3/registration/x/index.json",
            "b": ["http://gw/all/v3#frag", "http://gw/all/v3"],
            "c": "http://gw/nuget/v3-other/registration/x/index.json",
            "d": "http://elsewhere/nuget/v3/x",
            "e": 3
        })
    );
    let leaf = rebase_document(
        br#"{"@id":"http://gw/nuget/v3/registration/x/1.0.0.json","listed":true}"#,
        "http://gw/nuget/v3",
        "http://gw/all/v3",
    )
    .unwrap();
    let leaf: Value = serde_json::from_slice(&leaf).unwrap();
    assert_eq!(leaf["@id"], "http://gw/all/v3/registration/x/1.0.0.json");
    assert_eq!(leaf["listed"], true);
}

#[test]
fn registration_items_merge_by_version_with_the_earliest_member_winning_and_every_field_kept() {
    let hosted = "http://gw/nuget/v3";
    let proxy = "http://gw/nuget-proxy/v3";
    let mine = vec![
        item(hosted, "acme.widget", "2.0.0", "hosted"),
        item(hosted, "acme.widget", "1.0", "hosted"),
    ];
    let theirs = vec![
        item(proxy, "acme.widget", "1.0.0", "upstream"),
        item(proxy, "acme.widget", "10.0.0-RC.1", "upstream"),
        json!({"@id": "x", "catalogEntry": "http://gw/catalog/x.json"}),
    ];
    let merged = merge_registration_items(vec![mine, theirs]);
    assert_eq!(merged.versions(), ["1.0.0", "2.0.0", "10.0.0-rc.1"]);
    assert_eq!(merged.members, [0, 0, 1]);
    assert_eq!(merged.malformed, 1);
    assert_eq!(merged.items[0]["catalogEntry"]["description"], "hosted");
    assert_eq!(merged.items[0]["catalogEntry"]["x-unknown"]["kept"][1], 2);
    let lo = NuGetVersion::parse("1.5").unwrap();
    let hi = NuGetVersion::parse("10.0.0-rc.1").unwrap();
    assert_eq!(merged.within(&lo, &hi).len(), 2);

    let index: Value = serde_json::from_slice(&registration_index_of_items(
        "http://gw/all/v3",
        "acme.widget",
        &merged.items,
    ))
    .unwrap();
    assert_eq!(
        index["@id"],
        "http://gw/all/v3/registration/acme.widget/index.json"
    );
    assert_eq!(index["count"], 1);
    let page = &index["items"][0];
    assert_eq!(page["lower"], "1.0.0");
    assert_eq!(page["upper"], "10.0.0-rc.1");
    assert_eq!(page["count"], 3);
    assert_eq!(
        page["@id"],
        "http://gw/all/v3/registration/acme.widget/index.json#page/1.0.0/10.0.0-rc.1"
    );
    assert_eq!(page["items"][2], merged.items[2]);
}

#[test]
fn a_group_index_inlines_every_page_however_many_versions_there_are() {
    let items: Vec<Value> = (0..130)
        .map(|i| item("http://gw/all/v3", "many", &format!("1.0.{i}"), ""))
        .collect();
    let merged = merge_registration_items(vec![items]);
    let index: Value = serde_json::from_slice(&registration_index_of_items(
        "http://gw/all/v3",
        "many",
        &merged.items,
    ))
    .unwrap();
    assert_eq!(index["count"], 3);
    for page in index["items"].as_array().unwrap() {
        assert!(page["items"].is_array(), "inlined: {page}");
    }
    assert_eq!(index["items"][2]["lower"], "1.0.128");
    let page: Value = serde_json::from_slice(&registration_page_of_items(
        "http://gw/all/v3",
        "many",
        "1.0.0",
        "1.0.1",
        &merged.items[..2],
    ))
    .unwrap();
    assert_eq!(
        page["@id"],
        "http://gw/all/v3/registration/many/page/1.0.0/1.0.1.json"
    );
    assert_eq!(page["count"], 2);
}

#[test]
fn search_hits_merge_by_id_with_the_earliest_member_winning_and_refused_ids_left_out() {
    let hosted = read_hits(
        br#"{"totalHits":2,"data":[{"id":"Acme.Widget","version":"1.0.0"},{"id":"Shared","version":"1.0.0"}]}"#,
    )
    .unwrap();
    let upstream = read_hits(
        br#"{"totalHits":3,"data":[{"id":"acme.widget","version":"99.0.0"},{"id":"Public.Lib","version":"2.0.0"},{"id":"Claimed","version":"9.0.0"}]}"#,
    )
    .unwrap();
    let keep = |member: usize, id: &str| !(member == 1 && id == "claimed");
    let merged: Value =
        serde_json::from_slice(&merge_hits(&[(0, hosted), (1, upstream)], &keep)).unwrap();
    let ids: Vec<&str> = merged["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["Acme.Widget", "Shared", "Public.Lib"]);
    assert_eq!(merged["data"][0]["version"], "1.0.0");
    assert_eq!(merged["totalHits"], 3);

    let a = read_hits(br#"{"totalHits":1,"data":["Acme.Widget"]}"#).unwrap();
    let b = read_hits(br#"{"totalHits":2,"data":["ACME.WIDGET","Other"]}"#).unwrap();
    let ids: Value = serde_json::from_slice(&merge_hits(&[(0, a), (1, b)], &|_, _| true)).unwrap();
    assert_eq!(
        ids,
        json!({"totalHits": 2, "data": ["Acme.Widget", "Other"]})
    );
    assert_eq!(hit_id(&json!(3)), None);
    assert!(read_hits(b"{\"totalHits\":1}").is_err());
}

#[test]
fn autocomplete_versions_merge_as_a_sorted_union() {
    let a = MemberHits {
        total: 2,
        data: vec![json!("1.0.0"), json!("2.0.0-Beta")],
    };
    let b = MemberHits {
        total: 3,
        data: vec![json!("1.0"), json!("1.5.0"), json!("2.0.0-beta")],
    };
    let merged: Value = serde_json::from_slice(&merge_versions(&[a, b])).unwrap();
    assert_eq!(
        merged,
        json!({"totalHits": 3, "data": ["1.0.0", "1.5.0", "2.0.0-Beta"]})
    );
}
