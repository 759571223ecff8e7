//! `group::merge_packuments`: packuments of a group's members merged into one.

use packgate_npm::group::{GroupError, merge_packuments};
use serde_json::{Value, json};

const GROUP: &str = "http://gw/npm-group";

fn manifest(version: &str, host: &str, integrity: &str) -> Value {
    json!({
        "name": "@acme/widget",
        "version": version,
        "dist": {
            "tarball": format!("{host}/@acme/widget/-/widget-{version}.tgz"),
            "integrity": integrity,
            "shasum": "abc"
        }
    })
}

/// A hosted member: 1.0.0 and 2.0.0, `latest` 2.0.0.
fn hosted() -> Vec<u8> {
    json!({
        "_id": "@acme/widget",
        "name": "@acme/widget",
        "description": "hosted widget",
        "readme": "# hosted",
        "dist-tags": {"latest": "2.0.0"},
        "versions": {
            "1.0.0": manifest("1.0.0", "http://gw/npm-hosted", "sha512-HOSTED1"),
            "2.0.0": manifest("2.0.0", "http://gw/npm-hosted", "sha512-HOSTED2")
        },
        "time": {
            "created": "2021-01-01T00:00:00.000Z",
            "modified": "2021-02-01T00:00:00.000Z",
            "1.0.0": "2021-01-01T00:00:00.000Z",
            "2.0.0": "2021-02-01T00:00:00.000Z"
        }
    })
    .to_string()
    .into_bytes()
}

/// A proxy member: 2.0.0 (other bytes), 3.0.0 and 4.0.0-rc.1, `latest` 3.0.0.
fn proxied() -> Vec<u8> {
    json!({
        "_id": "@acme/widget",
        "name": "@acme/widget",
        "description": "public widget",
        "dist-tags": {"latest": "3.0.0", "next": "4.0.0-rc.1"},
        "versions": {
            "2.0.0": manifest("2.0.0", "http://gw/npmjs", "sha512-PUBLIC2"),
            "3.0.0": manifest("3.0.0", "http://gw/npmjs", "sha512-PUBLIC3"),
            "4.0.0-rc.1": manifest("4.0.0-rc.1", "http://gw/npmjs", "sha512-PUBLIC4")
        },
        "time": {
            "created": "2020-01-01T00:00:00.000Z",
            "modified": "2024-06-01T00:00:00.000Z",
            "2.0.0": "2020-06-01T00:00:00.000Z",
            "3.0.0": "2024-05-01T00:00:00.000Z",
            "4.0.0-rc.1": "2024-06-01T00:00:00.000Z",
            "unpublished": {"time": "2024-06-02T00:00:00.000Z"}
        }
    })
    .to_string()
    .into_bytes()
}

fn merge(members: &[&[u8]]) -> (Value, Vec<(String, usize)>) {
    let merged = merge_packuments(members, "@acme/widget", GROUP).unwrap();
    let doc = serde_json::from_slice(&merged.body).unwrap();
    let sources = merged
        .sources
        .iter()
        .map(|s| (s.version.clone(), s.member))
        .collect();
    (doc, sources)
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn versions_of_every_member_are_listed_in_semver_order() {
    let (doc, sources) = merge(&[&hosted(), &proxied()]);
    assert_eq!(
        keys(&doc["versions"]),
        ["1.0.0", "2.0.0", "3.0.0", "4.0.0-rc.1"]
    );
    let want = [("1.0.0", 0), ("2.0.0", 0), ("3.0.0", 1), ("4.0.0-rc.1", 1)];
    let want: Vec<(String, usize)> = want.iter().map(|(v, m)| (v.to_string(), *m)).collect();
    assert_eq!(sources, want);
}

#[test]
fn earliest_member_wins_a_version_present_in_two() {
    let (doc, _) = merge(&[&hosted(), &proxied()]);
    assert_eq!(
        doc["versions"]["2.0.0"]["dist"]["integrity"],
        "sha512-HOSTED2"
    );
    let (doc, sources) = merge(&[&proxied(), &hosted()]);
    assert_eq!(
        doc["versions"]["2.0.0"]["dist"]["integrity"],
        "sha512-PUBLIC2"
    );
    assert!(sources.contains(&("2.0.0".to_string(), 0)));
}

#[test]
fn a_build_metadata_twin_is_the_same_version() {
    let a = json!({"name": "w", "versions": {"1.0.0+a": {"version": "1.0.0+a"}}});
    let b = json!({"name": "w", "versions": {"1.0.0+b": {"version": "1.0.0+b"}}});
    let (a, b) = (a.to_string(), b.to_string());
    let (doc, sources) = merge(&[a.as_bytes(), b.as_bytes()]);
    assert_eq!(keys(&doc["versions"]), ["1.0.0+a"]);
    assert_eq!(sources, [("1.0.0+a".to_string(), 0)]);
}

#[test]
fn dist_tags_and_top_level_fields_come_from_the_earliest_member() {
    let (doc, _) = merge(&[&hosted(), &proxied()]);
    assert_eq!(doc["dist-tags"], json!({"latest": "2.0.0"}));
    assert_eq!(doc["description"], "hosted widget");
    assert_eq!(doc["readme"], "# hosted");
    let (doc, _) = merge(&[&proxied(), &hosted()]);
    assert_eq!(
        doc["dist-tags"],
        json!({"latest": "3.0.0", "next": "4.0.0-rc.1"})
    );
    assert_eq!(doc["description"], "public widget");
    assert!(doc.get("readme").is_none());
}

#[test]
fn a_member_without_versions_does_not_supply_the_top_level_fields() {
    // A hosted package whose versions were all unpublished keeps only `time.unpublished`.
    let gone = json!({"name": "@acme/widget", "description": "gone", "dist-tags": {},
        "versions": {}, "time": {"created": "2019-01-01T00:00:00.000Z"}})
    .to_string();
    let (doc, sources) = merge(&[gone.as_bytes(), &proxied()]);
    assert_eq!(doc["description"], "public widget");
    assert_eq!(doc["dist-tags"]["latest"], "3.0.0");
    assert!(sources.iter().all(|(_, m)| *m == 1));
}

#[test]
fn dist_tags_point_only_at_listed_versions() {
    // The earliest member's tags name versions it no longer lists.
    let stale = json!({
        "name": "@acme/widget",
        "dist-tags": {"latest": "9.0.0", "next": "9.1.0-rc.1", "old": "1.0.0", "bad": 7},
        "versions": {"1.0.0": manifest("1.0.0", "http://gw/h", "sha512-A")}
    })
    .to_string();
    let (doc, _) = merge(&[stale.as_bytes(), &proxied()]);
    let listed = keys(&doc["versions"]);
    for (tag, version) in doc["dist-tags"].as_object().unwrap() {
        assert!(listed.contains(&version.as_str().unwrap()), "{tag}");
    }
    assert_eq!(doc["dist-tags"], json!({"latest": "3.0.0", "old": "1.0.0"}));
}

#[test]
fn latest_falls_back_to_the_highest_prerelease_when_no_stable_is_listed() {
    let pre = json!({"name": "w", "dist-tags": {"latest": "2.0.0"},
        "versions": {"2.0.0-rc.1": {}, "2.0.0-rc.2": {}}})
    .to_string();
    let (doc, _) = merge(&[pre.as_bytes()]);
    assert_eq!(doc["dist-tags"], json!({"latest": "2.0.0-rc.2"}));
}

#[test]
fn tarball_urls_point_at_the_group_and_digests_stay() {
    let merged = merge_packuments(
        &[&hosted(), &proxied()],
        "@acme/widget",
        "http://gw/npm-group/",
    )
    .unwrap();
    let doc: Value = serde_json::from_slice(&merged.body).unwrap();
    assert_eq!(
        doc["versions"]["3.0.0"]["dist"],
        json!({
            "tarball": "http://gw/npm-group/@acme/widget/-/widget-3.0.0.tgz",
            "integrity": "sha512-PUBLIC3",
            "shasum": "abc"
        })
    );
    let text = String::from_utf8(merged.body.clone()).unwrap();
    assert!(!text.contains("npm-hosted/") && !text.contains("npmjs/"));
    let source = merged.source_of_file("widget-3.0.0.tgz").unwrap();
    assert_eq!((source.version.as_str(), source.member), ("3.0.0", 1));
    assert_eq!(merged.source_of_version("1.0.0").unwrap().member, 0);
    assert!(merged.source_of_file("widget-9.0.0.tgz").is_none());
}

#[test]
fn time_lists_created_modified_and_the_merged_versions_from_their_supplier() {
    let (doc, _) = merge(&[&hosted(), &proxied()]);
    assert_eq!(
        doc["time"],
        json!({
            "created": "2020-01-01T00:00:00.000Z",
            "modified": "2024-06-01T00:00:00.000Z",
            "1.0.0": "2021-01-01T00:00:00.000Z",
            "2.0.0": "2021-02-01T00:00:00.000Z",
            "3.0.0": "2024-05-01T00:00:00.000Z",
            "4.0.0-rc.1": "2024-06-01T00:00:00.000Z"
        })
    );
}

#[test]
fn abbreviated_packuments_merge_with_the_latest_modified() {
    let corgi = |modified: &str, versions: &[&str]| {
        let versions: serde_json::Map<String, Value> = versions
            .iter()
            .map(|v| (v.to_string(), manifest(v, "http://gw/x", "sha512-X")))
            .collect();
        json!({"name": "@acme/widget", "modified": modified,
            "dist-tags": {"latest": versions.keys().next_back().unwrap()}, "versions": versions})
        .to_string()
    };
    let a = corgi("2021-02-01T00:00:00.000Z", &["1.0.0"]);
    let b = corgi("2024-06-01T00:00:00.000Z", &["1.0.0", "1.1.0"]);
    let (doc, sources) = merge(&[a.as_bytes(), b.as_bytes()]);
    assert_eq!(keys(&doc), ["name", "modified", "dist-tags", "versions"]);
    assert_eq!(doc["modified"], "2024-06-01T00:00:00.000Z");
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    assert_eq!(
        doc["versions"]["1.1.0"]["dist"]["tarball"],
        "http://gw/npm-group/@acme/widget/-/widget-1.1.0.tgz"
    );
    assert_eq!(sources[1], ("1.1.0".to_string(), 1));
}

#[test]
fn a_version_whose_manifest_is_not_an_object_is_left_out() {
    let odd = json!({"name": "w", "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": "junk", "0.9.0": {"version": "0.9.0"}}})
    .to_string();
    let (doc, sources) = merge(&[odd.as_bytes()]);
    assert_eq!(keys(&doc["versions"]), ["0.9.0"]);
    assert_eq!(doc["dist-tags"], json!({"latest": "0.9.0"}));
    assert_eq!(sources.len(), 1);
}

#[test]
fn a_member_that_is_not_a_json_object_is_an_error_naming_it() {
    let err = merge_packuments(&[&hosted(), b"<html>"], "@acme/widget", GROUP).unwrap_err();
    assert!(
        matches!(err, GroupError::Malformed { member: 1, .. }),
        "{err}"
    );
    let err = merge_packuments(&[b"[1]"], "@acme/widget", GROUP).unwrap_err();
    assert!(
        matches!(err, GroupError::Malformed { member: 0, .. }),
        "{err}"
    );
}

#[test]
fn no_members_means_no_package() {
    assert_eq!(
        merge_packuments(&[], "@acme/widget", GROUP),
        Err(GroupError::NoMembers)
    );
}
