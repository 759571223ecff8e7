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

/// The merge as it was first written: whole `serde_json::Value` trees, cloned and re-serialized.
/// The equivalence tests hold the shallow merge to it.
mod reference {
    use std::cmp::Ordering;
    use std::collections::{BTreeMap, HashMap, HashSet};

    use packgate_npm::group::{GroupError, VersionSource};
    use packgate_npm::proxy::url_basename;
    use packgate_npm::{retag_after_removal, sort_versions, version_identity};
    use serde_json::{Map, Value};

    struct Picked {
        version: String,
        member: usize,
        manifest: Value,
    }

    pub fn merge(
        members: &[&[u8]],
        name: &str,
        registry: &str,
    ) -> Result<(Value, Vec<VersionSource>), GroupError> {
        let docs = members
            .iter()
            .enumerate()
            .map(|(member, body)| parse(member, body))
            .collect::<Result<Vec<_>, _>>()?;
        let primary = docs
            .iter()
            .position(|d| versions_of(d).is_some_and(|v| !v.is_empty()))
            .unwrap_or(0);
        let Some(first) = docs.get(primary) else {
            return Err(GroupError::NoMembers);
        };
        let mut picked = pick_versions(&docs);
        let base = format!("{}/{}/-/", registry.trim_end_matches('/'), name);
        let mut sources = Vec::new();
        for p in &mut picked {
            let file = rewrite_tarball(&mut p.manifest, &base);
            sources.push(VersionSource {
                version: p.version.clone(),
                member: p.member,
                file,
            });
        }
        let mut out = first.clone();
        let merged: Vec<String> = picked.iter().map(|p| p.version.clone()).collect();
        out.insert(
            "dist-tags".into(),
            Value::Object(dist_tags(first.get("dist-tags"), &merged)),
        );
        if docs
            .iter()
            .any(|d| d.get("time").is_some_and(Value::is_object))
        {
            out.insert("time".into(), Value::Object(time(&docs, &picked)));
        }
        if let Some(modified) = extreme(&docs, |d| d.get("modified"), Ordering::Greater) {
            out.insert("modified".into(), Value::String(modified));
        }
        let versions: Map<String, Value> = picked
            .into_iter()
            .map(|p| (p.version, p.manifest))
            .collect();
        out.insert("versions".into(), Value::Object(versions));
        Ok((Value::Object(out), sources))
    }

    fn parse(member: usize, body: &[u8]) -> Result<Map<String, Value>, GroupError> {
        let malformed = |reason: String| GroupError::Malformed { member, reason };
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(doc)) => Ok(doc),
            Ok(_) => Err(malformed("the packument is not a JSON object".into())),
            Err(e) => Err(malformed(format!("the packument is not JSON: {e}"))),
        }
    }

    fn versions_of(doc: &Map<String, Value>) -> Option<&Map<String, Value>> {
        doc.get("versions").and_then(Value::as_object)
    }

    fn pick_versions(docs: &[Map<String, Value>]) -> Vec<Picked> {
        let mut seen = HashSet::new();
        let mut picked = Vec::new();
        for (member, doc) in docs.iter().enumerate() {
            let versions = versions_of(doc).into_iter().flatten();
            for (version, manifest) in versions.filter(|(_, m)| m.is_object()) {
                if seen.insert(version_identity(version)) {
                    picked.push(Picked {
                        version: version.clone(),
                        member,
                        manifest: manifest.clone(),
                    });
                }
            }
        }
        let mut order: Vec<String> = picked.iter().map(|p| p.version.clone()).collect();
        sort_versions(&mut order);
        let rank: HashMap<String, usize> = order.into_iter().zip(0..).collect();
        picked.sort_by_key(|p| rank[&p.version]);
        picked
    }

    fn rewrite_tarball(manifest: &mut Value, base: &str) -> Option<String> {
        let dist = manifest.get_mut("dist")?.as_object_mut()?;
        let file = url_basename(dist.get("tarball")?.as_str()?)?.to_owned();
        dist.insert("tarball".into(), Value::String(format!("{base}{file}")));
        Some(file)
    }

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

    fn time(docs: &[Map<String, Value>], picked: &[Picked]) -> Map<String, Value> {
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
                .and_then(|t| t.get(&p.version));
            if let Some(when @ Value::String(_)) = when {
                out.insert(p.version.clone(), when.clone());
            }
        }
        out
    }

    fn time_of(doc: &Map<String, Value>) -> Option<&Map<String, Value>> {
        doc.get("time").and_then(Value::as_object)
    }

    fn extreme<'a>(
        docs: &'a [Map<String, Value>],
        at: impl Fn(&'a Map<String, Value>) -> Option<&'a Value>,
        want: Ordering,
    ) -> Option<String> {
        docs.iter()
            .filter_map(|d| at(d)?.as_str())
            .reduce(|a, b| if b.cmp(a) == want { b } else { a })
            .map(str::to_owned)
    }
}

/// Merges `members` both ways and asserts the same document (keys in the same order at every
/// depth), the same sources and the same errors.
fn assert_same_as_reference(members: &[&[u8]], registry: &str) {
    let ours = merge_packuments(members, "@acme/widget", registry);
    let theirs = reference::merge(members, "@acme/widget", registry);
    match (ours, theirs) {
        (Ok(ours), Ok((doc, sources))) => {
            let parsed: Value = serde_json::from_slice(&ours.body).unwrap();
            assert_eq!(parsed, doc);
            assert_eq!(parsed.to_string(), doc.to_string(), "key order differs");
            assert_eq!(ours.sources, sources);
        }
        (Err(ours), Err(theirs)) => assert_eq!(ours, theirs),
        (ours, theirs) => panic!("{ours:?} != {theirs:?}"),
    }
}

/// Member documents written by hand, to keep escapes, duplicate keys and layout as they are.
const ESCAPED: &str = r#"{
  "_id": "@acme/widget",
  "name": "@acme/w\u0069dget",
  "des\u0063ription": "quote \" backslash \\ slash \/ tab \t nl \n e-acute \u00e9 smile \ud83d\ude00",
  "readme": "héllo wörld ✓ 😀",
  "ключ": {"nested": ["ü", 1.5, -2, 1e3, true, false, null, {}]},
  "dist-tags": {"latest": "1.0.0", "n\u0065xt": "2.0.0-rc.1", "gone": "0.0.1", "num": 3},
  "versions": {
    "1\u002e0.0": {
      "name": "@acme/widget",
      "version": "1.0.0",
      "descr\u0069ption": "é \"x\"",
      "dist": {
        "shasum": "abc",
        "tar\u0062all": "http:\/\/gw\/npm-hosted\/@acme\/widget\/-\/widget-1.0.0.tgz",
        "integrity": "sha512-E1"
      }
    },
    "2.0.0-rc.1": {"version": "2.0.0-rc.1", "dist": {"tarball": "http://gw/h/w/-/w%C3%A9-2.0.0-rc.1.tgz?x=1#f"}},
    "0.5.0": {"dist": {"tarball": "http://gw/h/w/-/"}},
    "0.6.0": {"dist": {"tarball": 5}},
    "0.7.0": {"dist": "no"},
    "0.8.0": {"dist": {}},
    "0.9.0": "junk",
    "0.9.1": 7,
    "0.9.2": null,
    "0.9.3": [1, {"a": 2}],
    "not-semver": {"dist": {"tarball": "http://gw/h/w/-/odd.tgz"}},
    "1.0.0+b": {"version": "1.0.0+b"}
  },
  "time": {
    "created": "2021-01-01T00:00:00.000Z",
    "modified": "2021-03-01T00:00:00.000Z",
    "1.0.0": "2021-01-02T00:00:00.000Z",
    "2.0.0-rc.1": {"not": "a string"},
    "0.5.0": "2021-01-03T00:00:00.000Z",
    "unpublished": {"time": "2021-03-01T00:00:00.000Z"}
  },
  "users": {"someone": true}
}"#;

/// Duplicate keys at the top, in `versions`, in a manifest and in `dist`: the last one counts,
/// at the place of the first, as when the document is parsed whole.
const DUPLICATED: &str = r#"{"name":"dup","description":"first","versions":{"1.0.0":{"v":1}},
"dist-tags":{"latest":"1.0.0","latest":"3.0.0"},"description":"second",
"versions":{"3.0.0":{"a":1,"dist":{"tarball":"http://x/a/-/one.tgz"},"b":2,
"dist":{"tarball":"http://x/a/-/two.tgz","tarball":"http://x/a/-/three.tgz","k":1}},
"1.0.0":"junk","1.0.0":{"v":2},"3.0.0+z":{"twin":true}},"modified":5,"modified":"2022-01-01T00:00:00.000Z"}"#;

/// An abbreviated member without `versions`, another whose `versions` is not an object, and one
/// whose `time` and `modified` are not what they should be.
const NO_VERSIONS: &str = r#"{"name":"@acme/widget","modified":"2025-01-01T00:00:00.000Z","dist-tags":{"latest":"9.9.9"}}"#;
const ODD_VERSIONS: &str =
    r#"{"name":"@acme/widget","versions":["1.0.0"],"time":"yesterday","modified":7}"#;
const ODD_TIME: &str = r#"{"name":"@acme/widget","time":[1],"modified":null,"versions":{"5.0.0":{"dist":{"tarball":"http://gw/p/w/-/w-5.0.0.tgz"}}},"dist-tags":"none"}"#;

fn pretty(body: &[u8]) -> Vec<u8> {
    let doc: Value = serde_json::from_slice(body).unwrap();
    serde_json::to_vec_pretty(&doc).unwrap()
}

#[test]
fn the_shallow_merge_matches_the_whole_document_merge_on_the_usual_members() {
    let (h, p) = (hosted(), proxied());
    for members in [
        vec![&h[..]],
        vec![&p[..]],
        vec![&h[..], &p[..]],
        vec![&p[..], &h[..]],
    ] {
        assert_same_as_reference(&members, GROUP);
        assert_same_as_reference(&members, "http://gw/npm-group/");
    }
    let (h, p) = (pretty(&h), pretty(&p));
    assert_same_as_reference(&[&h, &p], GROUP);
}

#[test]
fn the_shallow_merge_matches_the_whole_document_merge_on_escapes_and_unicode() {
    let (e, h, p) = (ESCAPED.as_bytes(), hosted(), proxied());
    assert_same_as_reference(&[e], GROUP);
    assert_same_as_reference(&[e, &h, &p], GROUP);
    assert_same_as_reference(&[&p, e, &h], "http://gw/gr\"oup/ü");
    let compact = serde_json::from_str::<Value>(ESCAPED).unwrap().to_string();
    assert_same_as_reference(&[compact.as_bytes(), &h], GROUP);
}

#[test]
fn the_shallow_merge_matches_the_whole_document_merge_on_duplicate_keys() {
    let (d, h) = (DUPLICATED.as_bytes(), hosted());
    assert_same_as_reference(&[d], GROUP);
    assert_same_as_reference(&[&h, d], GROUP);
    assert_same_as_reference(&[d, ESCAPED.as_bytes()], GROUP);
}

#[test]
fn the_shallow_merge_matches_the_whole_document_merge_when_versions_are_missing_or_odd() {
    let (n, o, t, h, p) = (
        NO_VERSIONS.as_bytes(),
        ODD_VERSIONS.as_bytes(),
        ODD_TIME.as_bytes(),
        hosted(),
        proxied(),
    );
    assert_same_as_reference(&[n], GROUP);
    assert_same_as_reference(&[o], GROUP);
    assert_same_as_reference(&[t], GROUP);
    assert_same_as_reference(&[o, t], GROUP);
    assert_same_as_reference(&[n, o, &h, &p], GROUP);
    assert_same_as_reference(&[t, n, &p], GROUP);
    assert_same_as_reference(&[n, t], GROUP);
    let empty = br#"{}"#;
    assert_same_as_reference(&[empty], GROUP);
    assert_same_as_reference(&[empty, n], GROUP);
}

#[test]
fn the_shallow_merge_fails_like_the_whole_document_merge() {
    let h = hosted();
    for bad in [
        &b"<html>"[..],
        b"[1]",
        b"\"text\"",
        b"null",
        b"12",
        b"",
        b"{\"a\":1} trailing",
        b"{\"a\":}",
        b"{\"versions\":{\"1.0.0\":{\"dist\":{\"tarball\":\"x\"}}}",
        b"{\"a\":\"\xff\"}",
        b"{\"a\":\"bad \\q escape\"}",
    ] {
        assert_same_as_reference(&[&h, bad], GROUP);
        assert_same_as_reference(&[bad, &h], GROUP);
    }
    assert_same_as_reference(&[], GROUP);
}

#[test]
fn a_merged_manifest_that_does_not_decode_is_an_error_naming_its_member() {
    // Only what the merge reads is decoded; here the tarball URL holds a lone surrogate.
    let odd = br#"{"versions":{"7.0.0":{"dist":{"tarball":"http://gw/h/w/-/\ud800.tgz"}}}}"#;
    let err = merge_packuments(&[&hosted(), odd], "@acme/widget", GROUP).unwrap_err();
    assert!(
        matches!(err, GroupError::Malformed { member: 1, .. }),
        "{err}"
    );
    assert!(reference::merge(&[&hosted(), odd], "@acme/widget", GROUP).is_err());
}

#[test]
fn the_merged_document_is_json_with_versions_in_semver_order() {
    let (e, d, h, p) = (
        ESCAPED.as_bytes(),
        DUPLICATED.as_bytes(),
        hosted(),
        proxied(),
    );
    let members = [e, d, &h[..], &p[..], ODD_TIME.as_bytes()];
    let merged = merge_packuments(&members, "@acme/widget", GROUP).unwrap();
    let doc: Value = serde_json::from_slice(&merged.body).unwrap();
    let listed: Vec<String> = keys(&doc["versions"])
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut sorted = listed.clone();
    packgate_npm::sort_versions(&mut sorted);
    assert_eq!(listed, sorted);
    let want = [
        "0.5.0",
        "0.6.0",
        "0.7.0",
        "0.8.0",
        "1.0.0",
        "2.0.0-rc.1",
        "2.0.0",
        "3.0.0",
        "4.0.0-rc.1",
        "5.0.0",
        "not-semver",
    ];
    assert_eq!(listed, want);
    let sourced: Vec<&str> = merged.sources.iter().map(|s| s.version.as_str()).collect();
    assert_eq!(sourced, listed);
}

/// An abbreviated packument of `count` versions from `from` on (`1.{i / 100}.{i % 100}`), about
/// 400 bytes a version, as a proxy member serves it.
fn big_abbreviated(from: usize, count: usize, host: &str) -> Vec<u8> {
    let versions: serde_json::Map<String, Value> = (from..from + count)
        .map(|i| {
            let version = format!("1.{}.{}", i / 100, i % 100);
            let manifest = json!({
                "name": "@acme/widget",
                "version": version,
                "dependencies": {"left-pad": "^1.3.0", "lodash": "^4.17.21"},
                "dist": {
                    "integrity": format!("sha512-{i:0>86}=="),
                    "shasum": format!("{i:0>40}"),
                    "tarball": format!("{host}/@acme/widget/-/widget-{version}.tgz"),
                    "fileCount": 12,
                    "unpackedSize": 40_000 + i,
                    "signatures": [{"keyid": "SHA256:abcdefghijklmnop", "sig": format!("MEUCIQ{i:0>8}")}]
                }
            });
            (version, manifest)
        })
        .collect();
    let latest = versions.keys().next_back().cloned().unwrap();
    json!({
        "name": "@acme/widget",
        "modified": "2024-06-01T00:00:00.000Z",
        "dist-tags": {"latest": latest},
        "versions": versions
    })
    .to_string()
    .into_bytes()
}

/// The fastest and the median of `runs` calls, in milliseconds.
fn time_ms(runs: usize, mut call: impl FnMut()) -> (f64, f64) {
    let mut took: Vec<f64> = (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            call();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    took.sort_by(f64::total_cmp);
    (took[0], took[runs / 2])
}

#[test]
#[ignore = "a benchmark: cargo test -p packgate-npm --release -- --ignored --nocapture merging_large"]
fn merging_large_abbreviated_packuments_is_timed() {
    let one = big_abbreviated(0, 1000, "http://gw/npm-hosted");
    let two = big_abbreviated(500, 1000, "http://gw/npm-proxy");
    for (label, members) in [
        ("1 member, 1000 versions", vec![&one[..]]),
        ("2 members, 1500 versions", vec![&one[..], &two[..]]),
    ] {
        let size: usize = members.iter().map(|m| m.len()).sum();
        let (fast, median) = time_ms(40, || {
            std::hint::black_box(merge_packuments(&members, "@acme/widget", GROUP).unwrap());
        });
        let (ref_fast, ref_median) = time_ms(40, || {
            std::hint::black_box(reference::merge(&members, "@acme/widget", GROUP).unwrap());
        });
        println!(
            "{label} ({} KB in): merge_packuments min {fast:.2} ms, median {median:.2} ms; \
             whole-Value reference min {ref_fast:.2} ms, median {ref_median:.2} ms",
            size / 1000
        );
        assert_same_as_reference(&members, GROUP);
    }
}
