//! `index_entry` and `render_index`: index lines as cargo reads them.

use packgate_cargo::{IndexEntry, PublishMeta, index_entry, render_index};

use crate::support::publish_json;

const CKSUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn meta() -> PublishMeta {
    let mut m: PublishMeta = serde_json::from_str(&publish_json("demo", "0.2.0")).unwrap();
    let dev = serde_json::json!({ "name": "insta", "version_req": "^1.40", "features": [],
        "optional": false, "default_features": true, "target": null, "kind": "dev" });
    let build = serde_json::json!({ "name": "cc", "version_req": "=1.2.3",
        "target": "x86_64-pc-windows-gnu", "kind": "build" });
    m.deps.push(serde_json::from_value(dev).unwrap());
    m.deps.push(serde_json::from_value(build).unwrap());
    m
}

#[test]
fn the_line_has_cargos_fields_in_order() {
    let line = serde_json::to_string(&index_entry(&meta(), CKSUM, false)).unwrap();
    let want = concat!(
        r#"{"name":"demo","vers":"0.2.0","deps":["#,
        r#"{"name":"serde","req":"^1.0","features":["derive"],"optional":false,"#,
        r#""default_features":true,"target":null,"kind":"normal","#,
        r#""registry":"sparse+https://index.example.test/","package":null},"#,
        r#"{"name":"my_crate_alias","req":"^0.1","features":[],"optional":true,"#,
        r#""default_features":false,"target":"cfg(unix)","kind":"normal","registry":null,"#,
        r#""package":"my-crate"},"#,
        r#"{"name":"insta","req":"^1.40","features":[],"optional":false,"#,
        r#""default_features":true,"target":null,"kind":"dev","registry":null,"package":null},"#,
        r#"{"name":"cc","req":"=1.2.3","features":[],"optional":false,"default_features":true,"#,
        r#""target":"x86_64-pc-windows-gnu","kind":"build","registry":null,"package":null}],"#,
        r#""cksum":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","#,
        r#""features":{"default":["std"],"std":[]},"features2":{"alias":["dep:my_crate_alias"]},"#,
        r#""yanked":false,"links":null,"rust_version":"1.70","v":2}"#,
    );
    assert_eq!(line, want);
}

#[test]
fn a_renamed_dependency_is_written_as_alias_with_package() {
    let entry = index_entry(&meta(), CKSUM, false);
    let dep = &entry.deps[1];
    assert_eq!(dep.name, "my_crate_alias");
    assert_eq!(dep.package.as_deref(), Some("my-crate"));
    assert_eq!(entry.deps[0].package, None);
}

#[test]
fn target_kind_and_registry_are_carried_over() {
    let entry = index_entry(&meta(), CKSUM, true);
    assert!(entry.yanked);
    let kinds: Vec<&str> = entry.deps.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, ["normal", "normal", "dev", "build"]);
    assert_eq!(entry.deps[1].target.as_deref(), Some("cfg(unix)"));
    assert_eq!(
        entry.deps[3].target.as_deref(),
        Some("x86_64-pc-windows-gnu")
    );
    assert_eq!(
        entry.deps[0].registry.as_deref(),
        Some("sparse+https://index.example.test/")
    );
    assert_eq!(entry.deps[2].registry, None);
}

#[test]
fn rust_version_is_left_out_when_absent_and_links_kept() {
    // meta() has a `dep:` feature, so the line is schema v2.
    let mut m = meta();
    m.rust_version = None;
    m.links = Some("z".into());
    let line = serde_json::to_string(&index_entry(&m, CKSUM, false)).unwrap();
    assert!(!line.contains("rust_version"), "{line}");
    assert!(
        line.ends_with(r#""yanked":false,"links":"z","v":2}"#),
        "{line}"
    );
}

#[test]
fn an_index_file_is_one_line_per_entry_each_ending_in_newline() {
    let m = meta();
    let mut second = m.clone();
    second.vers = "0.3.0".into();
    let entries = [
        index_entry(&m, CKSUM, true),
        index_entry(&second, CKSUM, false),
    ];
    let body = String::from_utf8(render_index(&entries)).unwrap();
    assert!(body.ends_with('\n'));
    let lines: Vec<&str> = body.split_terminator('\n').collect();
    assert_eq!(lines.len(), 2);
    for (line, entry) in lines.iter().zip(&entries) {
        let parsed: IndexEntry = serde_json::from_str(line).unwrap();
        assert_eq!(&parsed, entry);
    }
    assert!(render_index(&[]).is_empty());
}

#[test]
fn lines_from_other_registries_parse_with_cargos_defaults() {
    let line = r#"{"name":"x","vers":"1.0.0","deps":[{"name":"y","req":"^1"}],
        "cksum":"00","features2":{"a":["dep:y"]},"pubtime":"2026-01-01T00:00:00Z"}"#;
    let entry: IndexEntry = serde_json::from_str(line).unwrap();
    assert_eq!(entry.v, 1);
    assert_eq!(entry.features2["a"], ["dep:y"]);
    assert!(!entry.yanked && entry.features.is_empty());
    let dep = &entry.deps[0];
    assert_eq!(dep.kind, "normal");
    assert!(dep.default_features && !dep.optional && dep.features.is_empty());
}

#[test]
fn lines_without_new_feature_syntax_stay_schema_v1() {
    let mut m = meta();
    m.features
        .retain(|_, values| values.iter().all(|v| !v.starts_with("dep:")));
    let line = serde_json::to_string(&index_entry(&m, CKSUM, false)).unwrap();
    assert!(!line.contains("features2"), "{line}");
    assert!(line.ends_with(r#""v":1}"#), "{line}");
}
