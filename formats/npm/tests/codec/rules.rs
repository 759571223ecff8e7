//! Registry rules the npm routes apply: dist-tags after an unpublish, search keyword filters.

use std::collections::BTreeMap;

use packgate_npm::{has_keywords, manifest_keywords, retag_after_removal};
use serde_json::json;

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(t, v)| (t.to_string(), v.to_string()))
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn unpublishing_latest_moves_it_to_the_highest_remaining_stable_version() {
    let versions = strings(&["1.0.0", "1.1.0", "2.0.0-beta.1", "1.2.0"]);
    let changes = retag_after_removal(
        &tags(&[("latest", "1.2.0"), ("next", "2.0.0-beta.1")]),
        &versions,
        &strings(&["1.2.0"]),
    );
    assert_eq!(
        changes,
        vec![("latest".to_string(), Some("1.1.0".to_string()))]
    );
}

#[test]
fn tags_of_removed_versions_go_and_latest_stays_when_it_survives() {
    let versions = strings(&["1.0.0", "2.0.0-beta.1", "2.0.0-beta.2"]);
    let changes = retag_after_removal(
        &tags(&[
            ("latest", "1.0.0"),
            ("next", "2.0.0-beta.2"),
            ("old", "2.0.0-beta.1"),
        ]),
        &versions,
        &strings(&["2.0.0-beta.1", "2.0.0-beta.2"]),
    );
    assert_eq!(
        changes,
        vec![("next".to_string(), None), ("old".to_string(), None)]
    );
}

#[test]
fn with_only_prereleases_left_latest_takes_the_highest_prerelease() {
    let versions = strings(&["1.0.0", "2.0.0-rc.1", "2.0.0-rc.2"]);
    let changes = retag_after_removal(
        &tags(&[("latest", "1.0.0")]),
        &versions,
        &strings(&["1.0.0"]),
    );
    assert_eq!(
        changes,
        vec![("latest".to_string(), Some("2.0.0-rc.2".to_string()))]
    );
    // Nothing left: latest is removed, not moved.
    let changes = retag_after_removal(
        &tags(&[("latest", "1.0.0")]),
        &strings(&["1.0.0"]),
        &strings(&["1.0.0"]),
    );
    assert_eq!(changes, vec![("latest".to_string(), None)]);
}

#[test]
fn keyword_filters_need_every_keyword_ignoring_case() {
    let kw = manifest_keywords(&json!({"keywords": ["HTTP", "client", 7]}));
    assert!(has_keywords(&kw, &[]));
    assert!(has_keywords(&kw, &strings(&["http"])));
    assert!(has_keywords(&kw, &strings(&["http", "client"])));
    assert!(!has_keywords(&kw, &strings(&["http", "server"])));
    let none = manifest_keywords(&json!({"name": "x"}));
    assert_eq!(none, json!([]));
    assert!(!has_keywords(&none, &strings(&["http"])));
    assert!(!has_keywords(&json!("http, client"), &strings(&["http"])));
}
