//! `stored_manifest`, packument rendering, `Accept` negotiation, search and error bodies.

use std::collections::BTreeMap;

use packgate_npm::{
    Dist, PackageView, PublishRequest, SearchHit, TarballInfo, VersionView, error_body,
    render_abbreviated, render_full, render_search, stored_manifest, wants_abbreviated,
};
use serde_json::{Map, Value, json};

fn req(version: &str, manifest: Value) -> PublishRequest {
    PublishRequest {
        name: "@acme/widget".into(),
        version: version.into(),
        tag: "latest".into(),
        manifest: manifest.as_object().unwrap().clone(),
        declared_length: None,
        declared_shasum: None,
        declared_integrity: None,
    }
}

fn info(gyp: bool, shrinkwrap: bool) -> TarballInfo {
    TarballInfo {
        manifest: Map::new(),
        file_count: 3,
        unpacked_size: 1234,
        has_shrinkwrap: shrinkwrap,
        has_binding_gyp: gyp,
    }
}

#[test]
fn stored_manifest_adds_registry_fields() {
    let sent = json!({
        "name": "@acme/widget", "version": "1.0.0", "readme": "# hi", "hasInstallScript": true,
        "scripts": { "test": "x" }, "_attachments": {}, "dist": { "tarball": "http://elsewhere/x.tgz" }
    });
    let m = stored_manifest(&req("1.0.0", sent), &info(false, true), "alice", None);
    assert_eq!(m["_id"], "@acme/widget@1.0.0");
    assert_eq!(m["_npmUser"], json!({ "name": "alice" }));
    assert_eq!(m["maintainers"], json!([{ "name": "alice" }]));
    assert_eq!(m["_hasShrinkwrap"], true);
    assert_eq!(m["readme"], "# hi");
    assert_eq!(m["dist"], json!({ "fileCount": 3, "unpackedSize": 1234 }));
    assert!(
        !m.contains_key("hasInstallScript"),
        "client-sent flag is not trusted"
    );
    assert!(!m.contains_key("_attachments"));

    let with_email = stored_manifest(
        &req("1.0.0", json!({ "maintainers": [{ "name": "bob" }] })),
        &info(false, false),
        "alice",
        Some("alice@example.test"),
    );
    assert_eq!(
        with_email["_npmUser"],
        json!({ "name": "alice", "email": "alice@example.test" })
    );
    assert_eq!(with_email["maintainers"], json!([{ "name": "bob" }]));
}

#[test]
fn has_install_script_follows_scripts_and_binding_gyp() {
    let cases = [
        (
            json!({ "scripts": { "postinstall": "node build.js" } }),
            false,
            true,
        ),
        (json!({ "scripts": { "install": "x" } }), false, true),
        (json!({ "scripts": { "preinstall": "x" } }), false, true),
        (
            json!({ "scripts": { "test": "x", "prepare": "y" } }),
            false,
            false,
        ),
        (json!({}), true, true),
        (json!({ "gypfile": false }), true, false),
        (json!({ "gypfile": true }), true, true),
        (json!({}), false, false),
    ];
    for (manifest, gyp, want) in cases {
        let m = stored_manifest(
            &req("1.0.0", manifest.clone()),
            &info(gyp, false),
            "a",
            None,
        );
        assert_eq!(
            m.get("hasInstallScript") == Some(&Value::Bool(true)),
            want,
            "{manifest} gyp={gyp}"
        );
        assert!(
            m.get("hasInstallScript") != Some(&Value::Bool(false)),
            "omitted, never false"
        );
    }
}

fn view(version: &str, extra: Value, deprecated: Option<&str>) -> VersionView {
    let mut sent = json!({
        "name": "@acme/widget", "version": version, "description": format!("widget {version}"),
        "readme": format!("# readme {version}"), "license": "MIT", "keywords": ["ui"],
        "dependencies": { "left-pad": "^1.3.0" }, "main": "index.js"
    });
    for (k, v) in extra.as_object().unwrap() {
        sent[k] = v.clone();
    }
    VersionView {
        version: version.into(),
        manifest: stored_manifest(&req(version, sent), &info(false, false), "alice", None),
        dist: Dist {
            tarball: format!("http://127.0.0.1:8080/npm/@acme/widget/-/widget-{version}.tgz"),
            shasum: "aa".repeat(20),
            integrity: "sha512-AAAA".into(),
        },
        deprecated: deprecated.map(str::to_owned),
        published: format!("2024-06-01T00:00:00.000Z#{version}"),
    }
}

fn package() -> PackageView {
    PackageView {
        name: "@acme/widget".into(),
        rev: "4-abc".into(),
        created: "2024-05-01T10:00:00.000Z".into(),
        modified: "2024-06-01T10:00:00.000Z".into(),
        dist_tags: BTreeMap::from([
            ("latest".to_owned(), "1.10.0".to_owned()),
            ("beta".to_owned(), "2.0.0-beta.1".to_owned()),
        ]),
        versions: vec![
            view("2.0.0-beta.1", json!({}), None),
            view(
                "1.10.0",
                json!({ "scripts": { "postinstall": "node build.js" } }),
                Some(""),
            ),
            view("1.2.0", json!({}), Some("use 1.10")),
        ],
        maintainers: vec![],
    }
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn full_packument_has_the_shape_npm_reads() {
    let doc = parse(&render_full(&package()));
    assert_eq!(doc["_id"], "@acme/widget");
    assert_eq!(doc["_rev"], "4-abc");
    assert_eq!(doc["name"], "@acme/widget");
    assert_eq!(doc["description"], "widget 1.10.0");
    assert_eq!(doc["readme"], "# readme 1.10.0");
    assert_eq!(doc["license"], "MIT");
    assert_eq!(doc["keywords"], json!(["ui"]));
    assert_eq!(
        doc["dist-tags"],
        json!({ "beta": "2.0.0-beta.1", "latest": "1.10.0" })
    );
    assert_eq!(doc["maintainers"], json!([{ "name": "alice" }]));
    let versions = doc["versions"].as_object().unwrap();
    assert_eq!(
        versions.keys().collect::<Vec<_>>(),
        ["1.2.0", "1.10.0", "2.0.0-beta.1"]
    );
    let time = doc["time"].as_object().unwrap();
    assert_eq!(
        time.keys().collect::<Vec<_>>(),
        ["created", "modified", "1.2.0", "1.10.0", "2.0.0-beta.1"]
    );
    let v = &versions["1.10.0"];
    assert_eq!(v["_id"], "@acme/widget@1.10.0");
    assert_eq!(v["hasInstallScript"], true);
    assert_eq!(v["dependencies"], json!({ "left-pad": "^1.3.0" }));
    assert_eq!(
        v["dist"],
        json!({
            "integrity": "sha512-AAAA", "shasum": "aa".repeat(20),
            "tarball": "http://127.0.0.1:8080/npm/@acme/widget/-/widget-1.10.0.tgz",
            "fileCount": 3, "unpackedSize": 1234
        })
    );
    assert!(
        v.get("deprecated").is_none(),
        "empty deprecation is not rendered"
    );
    assert_eq!(versions["1.2.0"]["deprecated"], "use 1.10");
    assert!(versions.values().all(|v| v.get("readme").is_none()));
}

#[test]
fn abbreviated_packument_keeps_only_install_fields() {
    let doc = parse(&render_abbreviated(&package()));
    let top: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(top, ["name", "modified", "dist-tags", "versions"]);
    assert_eq!(doc["modified"], "2024-06-01T10:00:00.000Z");
    let allowed = [
        "name",
        "version",
        "deprecated",
        "dependencies",
        "optionalDependencies",
        "devDependencies",
        "bundleDependencies",
        "peerDependencies",
        "peerDependenciesMeta",
        "acceptDependencies",
        "bin",
        "directories",
        "dist",
        "engines",
        "_hasShrinkwrap",
        "hasInstallScript",
        "funding",
        "cpu",
        "os",
        "libc",
    ];
    for (key, v) in doc["versions"].as_object().unwrap() {
        for field in v.as_object().unwrap().keys() {
            assert!(allowed.contains(&field.as_str()), "{key}: {field}");
        }
        assert_eq!(v["version"], key.as_str());
        assert_eq!(v["dist"]["fileCount"], 3);
        assert!(v["dist"]["tarball"].as_str().unwrap().ends_with(".tgz"));
    }
    assert_eq!(doc["versions"]["1.10.0"]["hasInstallScript"], true);
    assert_eq!(doc["versions"]["1.10.0"]["_hasShrinkwrap"], false);
    assert_eq!(doc["versions"]["1.2.0"]["deprecated"], "use 1.10");
}

#[test]
fn empty_package_renders_without_crashing() {
    let p = PackageView {
        versions: vec![],
        dist_tags: BTreeMap::new(),
        ..package()
    };
    let doc = parse(&render_full(&p));
    assert_eq!(doc["versions"], json!({}));
    assert_eq!(doc["maintainers"], json!([]));
    assert!(doc.get("description").is_none());
}

#[test]
fn accept_header_negotiation() {
    let cases = [
        (
            "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
            true,
        ),
        ("application/vnd.npm.install-v1+json", true),
        ("APPLICATION/VND.NPM.INSTALL-V1+JSON;Q=0.5", true),
        ("application/json", false),
        ("*/*", false),
        ("", false),
        ("application/vnd.npm.install-v1+json;q=0", false),
        (
            "application/vnd.npm.install-v1+json; q=0.000, application/json",
            false,
        ),
        ("application/vnd.npm.install-v1+json;q=abc", false),
    ];
    for (accept, want) in cases {
        assert_eq!(wants_abbreviated(accept), want, "{accept}");
    }
}

#[test]
fn search_results_always_carry_maintainers() {
    let hits = [
        SearchHit {
            name: "@acme/widget".into(),
            version: "1.1.0".into(),
            description: Some("A widget".into()),
            keywords: json!(["ui"]),
            date: "2024-06-01T10:00:00.000Z".into(),
            link: "http://127.0.0.1:8080/npm/@acme/widget".into(),
            publisher: Some("alice".into()),
        },
        SearchHit {
            name: "left-pad".into(),
            version: "1.3.0".into(),
            description: None,
            keywords: Value::Null,
            date: "2024-06-02T10:00:00.000Z".into(),
            link: "http://127.0.0.1:8080/npm/left-pad".into(),
            publisher: None,
        },
    ];
    let doc = parse(&render_search(&hits, 7, "2024-06-03T00:00:00.000Z"));
    assert_eq!(doc["total"], 7);
    assert_eq!(doc["time"], "2024-06-03T00:00:00.000Z");
    let a = &doc["objects"][0];
    assert_eq!(a["package"]["scope"], "acme");
    assert_eq!(
        a["package"]["links"]["npm"],
        "http://127.0.0.1:8080/npm/@acme/widget"
    );
    assert_eq!(a["package"]["publisher"]["username"], "alice");
    assert_eq!(
        a["package"]["maintainers"],
        json!([{ "username": "alice" }])
    );
    assert!(a["score"]["final"].is_number() && a["searchScore"].is_number());
    let b = &doc["objects"][1]["package"];
    assert_eq!(b["scope"], "unscoped");
    assert_eq!(b["maintainers"], json!([]));
    assert_eq!(b["keywords"], json!([]));
    assert!(b.get("description").is_none());
}

#[test]
fn error_bodies_use_the_error_field() {
    let body = parse(&error_body(
        "You cannot publish over the previously published versions: 1.2.0.",
    ));
    assert_eq!(
        body,
        json!({ "error": "You cannot publish over the previously published versions: 1.2.0." })
    );
}

#[test]
fn owners_are_the_maintainers_when_known() {
    let p = PackageView {
        maintainers: vec![
            ("alice".into(), Some("alice@example.test".into())),
            ("bob".into(), None),
        ],
        ..package()
    };
    let doc = parse(&render_full(&p));
    assert_eq!(
        doc["maintainers"],
        json!([{"name": "alice", "email": "alice@example.test"}, {"name": "bob"}])
    );
}

/// The packument as one JSON map, built the way packgate rendered it before version objects
/// were rendered on their own: [`render_full`] and [`render_abbreviated`] must stay byte for
/// byte the same (npm compares nothing, but ETags and caches of clients do).
fn whole_map_render(p: &PackageView, abbreviated: bool) -> Vec<u8> {
    let mut ordered: Vec<&VersionView> = p.versions.iter().collect();
    packgate_npm::sort_in_semver_order(&mut ordered, |v| &v.version);
    let keys: Vec<&str> = ordered.iter().map(|v| v.version.as_str()).collect();
    let latest = packgate_npm::latest_version(&p.dist_tags, &keys)
        .and_then(|k| ordered.iter().find(|v| v.version == k))
        .map(|v| &v.manifest);
    let mut doc = serde_json::Map::new();
    let versions: serde_json::Map<String, Value> = ordered
        .iter()
        .map(|v| {
            let object = packgate_npm::render_version(&p.name, v, abbreviated);
            (v.version.clone(), parse(&object))
        })
        .collect();
    let tags: serde_json::Map<String, Value> = p
        .dist_tags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if abbreviated {
        doc.insert("name".into(), json!(p.name));
        doc.insert("modified".into(), json!(p.modified));
        doc.insert("dist-tags".into(), Value::Object(tags));
        doc.insert("versions".into(), Value::Object(versions));
        return Value::Object(doc).to_string().into_bytes();
    }
    doc.insert("_id".into(), json!(p.name));
    doc.insert("_rev".into(), json!(p.rev));
    doc.insert("name".into(), json!(p.name));
    if let Some(d) = latest.and_then(|m| m.get("description")) {
        doc.insert("description".into(), d.clone());
    }
    doc.insert("dist-tags".into(), Value::Object(tags));
    doc.insert("versions".into(), Value::Object(versions));
    let mut time = serde_json::Map::new();
    time.insert("created".into(), json!(p.created));
    time.insert("modified".into(), json!(p.modified));
    for v in &ordered {
        time.insert(v.version.clone(), json!(v.published));
    }
    doc.insert("time".into(), Value::Object(time));
    let maintainers = if p.maintainers.is_empty() {
        latest
            .and_then(|m| m.get("maintainers"))
            .filter(|v| v.is_array())
            .cloned()
            .unwrap_or(json!([]))
    } else {
        Value::Array(
            p.maintainers
                .iter()
                .map(|(n, e)| match e {
                    Some(e) => json!({"name": n, "email": e}),
                    None => json!({ "name": n }),
                })
                .collect(),
        )
    };
    doc.insert("maintainers".into(), maintainers);
    for field in [
        "readme",
        "readmeFilename",
        "license",
        "homepage",
        "keywords",
        "repository",
        "author",
        "bugs",
    ] {
        if let Some(v) = latest.and_then(|m| m.get(field)) {
            doc.insert(field.into(), v.clone());
        }
    }
    Value::Object(doc).to_string().into_bytes()
}

#[test]
fn assembled_packuments_are_byte_for_byte_a_whole_map_render() {
    let mut with_owners = package();
    with_owners.maintainers = vec![
        ("alice".into(), Some("alice@example.test".into())),
        ("bob".into(), None),
    ];
    let mut no_latest_tag = package();
    no_latest_tag.dist_tags.clear();
    for p in [package(), with_owners, no_latest_tag] {
        assert_eq!(
            String::from_utf8(render_full(&p)).unwrap(),
            String::from_utf8(whole_map_render(&p, false)).unwrap()
        );
        assert_eq!(
            String::from_utf8(render_abbreviated(&p)).unwrap(),
            String::from_utf8(whole_map_render(&p, true)).unwrap()
        );
    }
}

#[test]
fn assembled_objects_are_where_the_ranges_say() {
    let p = package();
    let mut ordered: Vec<&VersionView> = p.versions.iter().collect();
    packgate_npm::sort_in_semver_order(&mut ordered, |v| &v.version);
    let objects: Vec<Vec<u8>> = ordered
        .iter()
        .map(|v| packgate_npm::render_version(&p.name, v, true))
        .collect();
    let entries: Vec<packgate_npm::Entry<'_>> = ordered
        .iter()
        .zip(&objects)
        .map(|(v, o)| packgate_npm::Entry {
            version: &v.version,
            published: &v.published,
            object: o,
        })
        .collect();
    let head = packgate_npm::Head {
        name: &p.name,
        rev: &p.rev,
        created: &p.created,
        modified: &p.modified,
        dist_tags: &p.dist_tags,
        maintainers: &p.maintainers,
        latest: None,
    };
    let a = packgate_npm::assemble(&head, &entries, true);
    assert_eq!(a.body, render_abbreviated(&p));
    for (range, object) in a.objects.iter().zip(&objects) {
        assert_eq!(&a.body[range.clone()], object.as_slice());
    }
}
