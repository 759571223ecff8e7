//! Unit tests of the proxy codec on compact-index fixtures laid out like the public gem registry's
//! format v2 (`created_at:` after `checksum:`), which the hosted packgate upstream never writes.

use super::*;

const SUM_A: &str = "0a4f9c3e0a4f9c3e0a4f9c3e0a4f9c3e0a4f9c3e0a4f9c3e0a4f9c3e0a4f9c3e";
const SUM_B: &str = "b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2b1c2";
const SUM_C: &str = "c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4c3d4";

/// `info/demo` (format v2): 0.1.0 from 2024-01-01, 0.2.0 from 2024-06-01 (two platforms), 0.3.0
/// without `created_at`.
fn info_v2() -> String {
    format!(
        "---\n\
         0.1.0 |checksum:{SUM_A},created_at:2024-01-01T00:00:00.000Z\n\
         0.2.0 rack:< 3&>= 1.0,thor:~> 1.2|checksum:{SUM_B},ruby:>= 2.7,created_at:2024-06-01T10:00:00Z\n\
         0.2.0-x86_64-linux rack:< 3&>= 1.0|checksum:{SUM_C},ruby:>= 2.7,rubygems:>= 3.3.22,created_at:2024-06-01T10:05:00Z\n\
         0.3.0 |checksum:{SUM_A}\n"
    )
}

/// A cooldown's verdict for the fixtures' `created_at:` values (all RFC 3339 UTC, so they compare
/// as text): created before `cutoff`, or unknown and `allow_unknown`.
fn cooldown(cutoff: &'static str, allow_unknown: bool) -> impl Fn(Option<&str>) -> bool {
    move |created| created.map_or(allow_unknown, |t| t < cutoff)
}

#[test]
fn a_cooldown_drops_young_lines_and_keeps_the_others_byte_for_byte() {
    let info = info_v2();
    // On 2024-06-05 with a 7-day cooldown (created before 05-29): both 0.2.0 lines are young,
    // 0.3.0 has no date.
    let f = filter_info(info.as_bytes(), &cooldown("2024-05-29T00:00:00Z", true))
        .expect("lines hidden");
    assert_eq!(f.hidden, ["0.2.0", "0.2.0-x86_64-linux"]);
    assert_eq!(f.kept, ["0.1.0", "0.3.0"]);
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(
        String::from_utf8(f.body).unwrap(),
        format!("---\n{}\n{}\n", lines[1], lines[4]),
        "kept lines, checksum included, are the upstream's bytes"
    );
    // An unknown creation time follows min_age_unknown.
    let deny = filter_info(info.as_bytes(), &cooldown("2024-05-29T00:00:00Z", false)).unwrap();
    assert_eq!(deny.kept, ["0.1.0"]);
    // Once old enough, nothing is hidden and the upstream body is served as it is.
    assert_eq!(
        filter_info(info.as_bytes(), &cooldown("2024-06-02T00:00:00Z", true)),
        None
    );
}

#[test]
fn v1_lines_without_created_at_are_unknown_to_the_cooldown() {
    let info = format!("---\n1.0.0 |checksum:{SUM_A}\n");
    assert_eq!(
        filter_info(info.as_bytes(), &cooldown("2024-05-29T00:00:00Z", true)),
        None
    );
    let denied =
        filter_info(info.as_bytes(), &cooldown("2024-05-29T00:00:00Z", false)).expect("denied");
    assert_eq!(denied.body, b"---\n");
    assert!(denied.kept.is_empty());
}

#[test]
fn the_line_of_a_file_gives_its_checksum_and_creation_time() {
    let info = info_v2();
    let e = find_info_line(info.as_bytes(), "0.2.0-x86_64-linux").unwrap();
    assert_eq!(e.sha256.as_deref(), Some(SUM_C));
    assert_eq!(e.created_at.as_deref(), Some("2024-06-01T10:05:00Z"));
    let e = find_info_line(info.as_bytes(), "0.3.0").unwrap();
    assert_eq!(
        (e.sha256.as_deref(), e.created_at.as_deref()),
        (Some(SUM_A), None)
    );
    assert_eq!(find_info_line(info.as_bytes(), "0.2"), None);
    // Bundler also accepts a base64 checksum; it is compared as hex.
    let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(SUM_B).unwrap());
    let info = format!("---\n1.0 |checksum:{b64}\n");
    assert_eq!(
        find_info_line(info.as_bytes(), "1.0")
            .unwrap()
            .sha256
            .as_deref(),
        Some(SUM_B)
    );
    assert_eq!(info_entries(info_v2().as_bytes()).len(), 4);
}

#[test]
fn file_stems_split_where_a_digit_follows_a_dash() {
    assert_eq!(file_candidates("demo-0.2.0"), [("demo", "0.2.0")]);
    assert_eq!(
        file_candidates("rack-test-2.1.0-x86_64-linux"),
        [("rack-test", "2.1.0-x86_64-linux")]
    );
    assert_eq!(
        file_candidates("net-http2-1.0"),
        [("net-http2", "1.0")],
        "a digit inside a name part does not split"
    );
    assert_eq!(file_candidates("x-1-2.0"), [("x", "1-2.0"), ("x-1", "2.0")]);
    assert!(file_candidates("nodash").is_empty());
    assert!(file_candidates("-1.0").is_empty());
    assert!(is_plain_name("Rack_Test.2-x") && !is_plain_name("..") && !is_plain_name("a/b"));
}

#[test]
fn the_last_versions_line_of_a_gem_names_its_info_md5() {
    let versions = "created_at: 2024-06-01T00:00:00Z\n---\n\
        demo 0.1.0 11111111111111111111111111111111\n\
        rack 2.0 22222222222222222222222222222222\n\
        demo 0.2.0 33333333333333333333333333333333\n";
    let md5s = info_md5s(versions.as_bytes());
    assert_eq!(md5s["demo"], "33333333333333333333333333333333");
    assert_eq!(md5s["rack"], "22222222222222222222222222222222");
    assert_eq!(md5s.len(), 2);
}

#[test]
fn versions_carries_the_md5_of_the_filtered_info() {
    let info = info_v2();
    let upstream_md5 = md5_hex(info.as_bytes());
    let versions = format!(
        "created_at: 2024-06-01T00:00:00Z\n---\n\
         demo 0.1.0 11111111111111111111111111111111\n\
         rack 2.0 22222222222222222222222222222222\n\
         demo 0.2.0,0.2.0-x86_64-linux,0.3.0 {upstream_md5}\n"
    );
    let filtered =
        filter_info(info.as_bytes(), &cooldown("2024-05-29T00:00:00Z", true)).expect("filtered");
    let o = filtered.versions_override("demo", &upstream_md5);
    assert_eq!(o.md5, md5_hex(&filtered.body));
    let out = String::from_utf8(
        override_versions(versions.as_bytes(), std::slice::from_ref(&o)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        out,
        format!(
            "created_at: 2024-06-01T00:00:00Z\n---\n\
             demo 0.1.0,0.3.0 {}\n\
             rack 2.0 22222222222222222222222222222222\n",
            o.md5
        )
    );
    assert_eq!(info_md5s(out.as_bytes())["demo"], md5_hex(&filtered.body));
    validate_versions(out.as_bytes()).unwrap();
    // The upstream changed the gem since the filtering: its lines pass through.
    let moved = versions.replace(&upstream_md5, "44444444444444444444444444444444");
    assert_eq!(
        override_versions(moved.as_bytes(), std::slice::from_ref(&o)),
        None
    );
    // Nothing kept: the gem leaves versions.
    let none = VersionsOverride { kept: vec![], ..o };
    let out = String::from_utf8(override_versions(versions.as_bytes(), &[none]).unwrap()).unwrap();
    assert!(!out.contains("demo"), "{out}");
    assert_eq!(override_versions(versions.as_bytes(), &[]), None);
}

#[test]
fn malformed_documents_are_refused_before_they_are_cached() {
    let ok_versions = "created_at: x\n---\ndemo 0.1.0 0123456789abcdef0123456789abcdef\n";
    validate_versions(ok_versions.as_bytes()).unwrap();
    for bad in [
        "no separator\n",
        "---\ndemo 0.1.0\n",
        "---\ndemo 0.1.0 not-an-md5\n",
        "---\ndemo  0123456789abcdef0123456789abcdef\n",
    ] {
        assert!(validate_versions(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert!(validate_versions(b"---\n\xff\n").is_err());
    validate_info(info_v2().as_bytes()).unwrap();
    validate_info(b"---\n").unwrap();
    assert!(validate_info(b"<html>oops</html>").is_err());
    assert!(validate_info(b"---\nnospace\n").is_err());
    validate_names(b"---\ndemo\n").unwrap();
    assert!(validate_names(b"{}").is_err());
    validate_specs_gz(&[0x1f, 0x8b, 8, 0]).unwrap();
    assert!(validate_specs_gz(b"\x04\x08[").is_err());
}

#[test]
fn a_cached_version_records_what_its_info_line_says() {
    let spec = spec_from_info("demo", info_v2().as_bytes(), "0.2.0-x86_64-linux").unwrap();
    assert_eq!(
        (
            spec.name.as_str(),
            spec.version.as_str(),
            spec.platform.as_str()
        ),
        ("demo", "0.2.0", "x86_64-linux")
    );
    assert_eq!(spec.dependencies.len(), 1);
    assert_eq!(spec.dependencies[0].name, "rack");
    assert_eq!(
        spec.dependencies[0].requirements,
        [
            ("<".to_owned(), "3".to_owned()),
            (">=".to_owned(), "1.0".to_owned())
        ]
    );
    assert_eq!(
        spec.required_rubygems_version,
        [(">=".to_owned(), "3.3.22".to_owned())]
    );
    let plain = spec_from_info("demo", info_v2().as_bytes(), "0.1.0").unwrap();
    assert_eq!(plain.platform, "ruby");
    assert!(plain.dependencies.is_empty());
    assert_eq!(spec_from_info("demo", info_v2().as_bytes(), "9.9.9"), None);
}
