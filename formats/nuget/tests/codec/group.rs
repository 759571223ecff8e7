//! `group`: flat-container version lists and registration entries of a group's members merged.

use std::io::Write;

use packgate_nuget::group::{GroupError, merge_flat_index, merge_registration_entries};
use packgate_nuget::{NuGetVersion, Nuspec, RegEntry, registration_index};
use serde_json::Value;

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
