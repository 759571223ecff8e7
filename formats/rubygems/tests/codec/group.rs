//! `group`: merged `info/NAME` and `names`, and the lines of a group's `versions` file.

use packgate_rubygems::group::{
    InfoSource, SpecsKind, VersionsGem, group_versions_lines, merge_info, merge_names,
    read_versions, specs_tuples, versions_created_at, versions_delta,
};
use packgate_rubygems::{line_prefix_md5s, md5_hex, prefix_has_md5, render_versions};

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn line(key: &str, sha: &str) -> String {
    format!("{key} rack:>= 2.0&< 4|checksum:{sha},ruby:>= 2.7\n")
}

fn keys(sources: &[InfoSource]) -> Vec<(&str, usize)> {
    sources.iter().map(|s| (s.key.as_str(), s.member)).collect()
}

#[test]
fn info_lines_of_every_member_are_kept_in_member_order() {
    let hosted = format!("---\n{}{}", line("1.0.0", SHA_A), line("0.9.0", SHA_A));
    let proxied = format!(
        "---\n{}{}",
        line("2.0.0", SHA_B),
        line("2.0.0-x86_64-linux", SHA_B)
    );
    let merged = merge_info(&[hosted.as_bytes(), proxied.as_bytes()]);
    assert_eq!(
        String::from_utf8(merged.body.clone()).unwrap(),
        format!("{hosted}{}", &proxied["---\n".len()..])
    );
    assert_eq!(
        keys(&merged.sources),
        [
            ("1.0.0", 0),
            ("0.9.0", 0),
            ("2.0.0", 1),
            ("2.0.0-x86_64-linux", 1)
        ]
    );
    assert_eq!((merged.duplicates, merged.malformed), (0, 0));
}

#[test]
fn earliest_member_wins_a_version_platform_present_in_two() {
    let hosted = format!("---\n{}", line("1.0.0", SHA_A));
    let proxied = format!(
        "---\n{}{}{}",
        line("1.0.0", SHA_B),
        line("1.0.0-java", SHA_B),
        line("1.1.0", SHA_B)
    );
    let merged = merge_info(&[hosted.as_bytes(), proxied.as_bytes()]);
    assert_eq!(
        String::from_utf8(merged.body.clone()).unwrap(),
        format!(
            "---\n{}{}{}",
            line("1.0.0", SHA_A),
            line("1.0.0-java", SHA_B),
            line("1.1.0", SHA_B)
        )
    );
    assert_eq!(merged.duplicates, 1);
    assert_eq!(merged.member_of("1.0.0"), Some(0));
    assert_eq!(merged.member_of("1.0.0-java"), Some(1));
    assert_eq!(merged.member_of("9.9.9"), None);
}

#[test]
fn versions_equal_only_by_gem_version_rules_are_both_kept() {
    let merged = merge_info(&[
        b"---\n1.0 |checksum:a\n" as &[u8],
        b"---\n1.0.0 |checksum:b\n",
    ]);
    assert_eq!(merged.keys(), ["1.0", "1.0.0"]);
}

#[test]
fn kept_info_lines_are_byte_identical_and_the_separator_comes_once() {
    // Format v2 `created_at:`, a base64 checksum, a CRLF line and no final newline.
    let first =
        "---\r\n1.0.0 |checksum:qqqq,created_at:2024-06-01T00:00:00Z\r\n1.1.0 a:= 1|checksum:x";
    let second = "---\n1.2.0 |checksum:y\n";
    let merged = merge_info(&[first.as_bytes(), second.as_bytes()]);
    assert_eq!(
        String::from_utf8(merged.body).unwrap(),
        "---\r\n1.0.0 |checksum:qqqq,created_at:2024-06-01T00:00:00Z\r\n1.1.0 a:= 1|checksum:x\n1.2.0 |checksum:y\n"
    );
}

#[test]
fn one_well_formed_member_comes_out_unchanged() {
    let body = format!("---\n{}{}", line("1.0.0", SHA_A), line("1.1.0", SHA_A));
    let merged = merge_info(&[body.as_bytes()]);
    assert_eq!(merged.body, body.as_bytes());
    assert_eq!(md5_hex(&merged.body), md5_hex(body.as_bytes()));
}

#[test]
fn a_member_without_separator_still_gets_one_and_headers_go() {
    let merged = merge_info(&[
        b"1.0.0 |checksum:a\n" as &[u8],
        b"junk header\n---\n2.0.0 |checksum:b\n",
    ]);
    assert_eq!(
        String::from_utf8(merged.body).unwrap(),
        "---\n1.0.0 |checksum:a\n2.0.0 |checksum:b\n"
    );
    assert_eq!(merge_info(&[b"1.0.0 |x\n"]).body, b"---\n1.0.0 |x\n");
    assert_eq!(merge_info(&[]).body, b"---\n");
}

#[test]
fn malformed_info_lines_are_skipped_and_counted() {
    let body: &[u8] =
        b"---\n1.0.0 |checksum:a\nnospace\n leading|space\n\n\xff\xfe x|y\n  \n1.1.0 |checksum:b\n";
    let merged = merge_info(&[body]);
    assert_eq!(merged.keys(), ["1.0.0", "1.1.0"]);
    assert_eq!(merged.malformed, 3);
    assert_eq!(merged.body, b"---\n1.0.0 |checksum:a\n1.1.0 |checksum:b\n");
}

#[test]
fn a_merged_info_gives_its_versions_line_with_the_merged_md5() {
    let merged = merge_info(&[
        b"---\n1.0.0 |checksum:a\n" as &[u8],
        b"---\n2.0.0-java |checksum:b\n",
    ]);
    assert_eq!(
        merged.versions_line("demo"),
        format!("demo 1.0.0,2.0.0-java {}\n", md5_hex(&merged.body))
    );
}

#[test]
fn names_are_the_sorted_union_of_the_members() {
    let merged = merge_names(&[
        b"---\nrails\nrack\n" as &[u8],
        b"---\r\nacme-internal\r\nrack\r\n",
        b"---\n\nbad name\n\xff\nzeitwerk",
    ]);
    assert_eq!(
        String::from_utf8(merged).unwrap(),
        "---\nacme-internal\nrack\nrails\nzeitwerk\n"
    );
    assert_eq!(merge_names(&[]), b"---\n");
}

#[test]
fn group_versions_lines_are_sorted_by_name_and_skip_gems_without_versions() {
    let rack = vec!["2.0.0".to_string(), "3.0.0-java".to_string()];
    let acme = vec!["0.1.0".to_string()];
    let none: Vec<String> = Vec::new();
    let md5 = "0123456789abcdef0123456789abcdef";
    let lines = group_versions_lines(&[
        ("rack", &rack, md5),
        ("gone", &none, md5),
        ("acme", &acme, md5),
        ("rack", &acme, "ffffffffffffffffffffffffffffffff"),
    ]);
    assert_eq!(
        lines,
        [
            format!("acme 0.1.0 {md5}\n"),
            format!("rack 2.0.0,3.0.0-java {md5}\n")
        ]
    );
    let body = render_versions("2024-06-01T00:00:00Z", &lines);
    assert!(body.starts_with(b"created_at: 2024-06-01T00:00:00Z\n---\nacme 0.1.0 "));
}

#[test]
fn a_versions_file_reads_as_bundler_reads_it_with_yanks_applied_and_the_last_md5() {
    let body = b"created_at: 2024-06-01T00:00:00Z\n---\n\
rack 1.0.0,1.1.0 11111111111111111111111111111111\n\
acme 0.1.0 22222222222222222222222222222222\n\
rack 1.2.0-java 33333333333333333333333333333333\n\
rack -1.0.0 44444444444444444444444444444444\n\
broken line\n\
acme -0.1.0 55555555555555555555555555555555\n";
    assert_eq!(
        read_versions(body),
        [
            VersionsGem {
                name: "rack".into(),
                versions: vec!["1.1.0".into(), "1.2.0-java".into()],
                md5: "44444444444444444444444444444444".into(),
            },
            VersionsGem {
                name: "acme".into(),
                versions: vec![],
                md5: "55555555555555555555555555555555".into(),
            },
        ]
    );
    assert_eq!(
        versions_created_at(body).as_deref(),
        Some("2024-06-01T00:00:00Z")
    );
    assert_eq!(versions_created_at(b"---\n"), None);
    assert!(read_versions(b"").is_empty());
}

#[test]
fn legacy_specs_tuples_split_released_latest_and_prerelease_versions() {
    let demo: Vec<String> = [
        "1.0.0",
        "1.10.0",
        "1.2.0",
        "1.2.0-x86_64-linux",
        "2.0.0.pre",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let acme = vec!["0.1.0".to_string()];
    let gems: [(&str, &[String]); 2] = [("demo", &demo), ("acme", &acme)];
    let t = |n: &str, v: &str, p: &str| (n.to_string(), v.to_string(), p.to_string());
    assert_eq!(
        specs_tuples(&gems, SpecsKind::All),
        [
            t("acme", "0.1.0", "ruby"),
            t("demo", "1.0.0", "ruby"),
            t("demo", "1.2.0", "ruby"),
            t("demo", "1.2.0", "x86_64-linux"),
            t("demo", "1.10.0", "ruby"),
        ]
    );
    assert_eq!(
        specs_tuples(&gems, SpecsKind::Latest),
        [
            t("acme", "0.1.0", "ruby"),
            t("demo", "1.2.0", "x86_64-linux"),
            t("demo", "1.10.0", "ruby"),
        ]
    );
    assert_eq!(
        specs_tuples(&gems, SpecsKind::Prerelease),
        [t("demo", "2.0.0.pre", "ruby")]
    );
}

const MD5_1: &str = "11111111111111111111111111111111";
const MD5_2: &str = "22222222222222222222222222222222";

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_versions_delta_appends_new_versions_and_yanks_with_the_new_md5() {
    let body = format!(
        "created_at: 2024-06-01T00:00:00.000Z\n---\nrack 1.0.0,1.1.0 {MD5_1}\nacme 0.1.0 {MD5_1}\n"
    );
    let current = read_versions(body.as_bytes());
    let rack = strings(&["1.1.0", "2.0.0", "2.0.0-java"]);
    let acme = strings(&["0.1.0"]);
    let fresh = strings(&["0.0.1"]);
    let delta = versions_delta(
        &current,
        &[
            ("rack", &rack, MD5_2),
            ("acme", &acme, MD5_1),
            ("brand_new", &fresh, MD5_2),
        ],
    );
    assert_eq!(
        delta.lines,
        [
            format!("brand_new 0.0.1 {MD5_2}\n"),
            format!("rack -1.0.0,2.0.0,2.0.0-java {MD5_2}\n"),
        ],
        "an unchanged gem gets no line"
    );
    assert!(delta.vanished.is_empty());
    // Appended, the file reads as the target.
    let appended = format!("{body}{}", delta.lines.concat());
    let read = read_versions(appended.as_bytes());
    let rack_now = read.iter().find(|g| g.name == "rack").unwrap();
    assert_eq!(rack_now.versions, rack);
    assert_eq!(rack_now.md5, MD5_2);
    assert!(
        versions_delta(
            &read,
            &[
                ("rack", &rack, MD5_2),
                ("acme", &acme, MD5_1),
                ("brand_new", &fresh, MD5_2)
            ]
        )
        .lines
        .is_empty()
    );
}

#[test]
fn a_versions_delta_rewrites_the_md5_alone_by_yanking_and_readding_the_last_version() {
    let current = read_versions(format!("---\nrack 1.0.0,1.1.0 {MD5_1}\n").as_bytes());
    let same = strings(&["1.1.0", "1.0.0"]);
    let delta = versions_delta(&current, &[("rack", &same, MD5_2)]);
    assert_eq!(delta.lines, [format!("rack -1.0.0,1.0.0 {MD5_2}\n")]);
    let appended = format!("---\nrack 1.0.0,1.1.0 {MD5_1}\n{}", delta.lines[0]);
    let read = read_versions(appended.as_bytes());
    assert_eq!(read[0].versions, strings(&["1.1.0", "1.0.0"]));
    assert_eq!(read[0].md5, MD5_2);
    // Upper-case hex is the same MD5.
    let upper = MD5_2.to_uppercase();
    assert!(
        versions_delta(&read, &[("rack", &same, &upper)])
            .lines
            .is_empty()
    );
}

#[test]
fn a_gem_missing_from_the_target_is_vanished_not_appended() {
    let current = read_versions(
        format!("---\ngone 1.0.0 {MD5_1}\nyanked 1.0.0 {MD5_1}\nyanked -1.0.0 {MD5_2}\nkept 1.0.0 {MD5_1}\n")
            .as_bytes(),
    );
    let kept = strings(&["1.0.0"]);
    let empty: Vec<String> = Vec::new();
    let delta = versions_delta(&current, &[("kept", &kept, MD5_1), ("gone", &empty, MD5_1)]);
    assert!(delta.lines.is_empty());
    assert_eq!(
        delta.vanished,
        ["gone"],
        "a gem without versions counts as absent; one already fully yanked is not listed again"
    );
}

#[test]
fn line_prefixes_know_the_md5_of_every_earlier_state_of_an_append_only_body() {
    let first = format!("created_at: 2024-06-01T00:00:00.000Z\n---\nrack 1.0.0 {MD5_1}\n");
    let body = format!("{first}rack 1.1.0 {MD5_2}\n");
    let prefixes = line_prefix_md5s(body.as_bytes());
    assert_eq!(prefixes.last().map(|p| p.0), Some(body.len()));
    let etag = format!("\"{}\"", md5_hex(first.as_bytes()));
    assert!(prefix_has_md5(&prefixes, first.len(), &etag));
    assert!(prefix_has_md5(&prefixes, first.len(), &format!("W/{etag}")));
    assert!(
        !prefix_has_md5(&prefixes, first.len() - 1, &etag),
        "only whole lines"
    );
    let other = format!("\"{}\"", md5_hex(b"something else\n"));
    assert!(!prefix_has_md5(&prefixes, first.len(), &other));
    assert!(line_prefix_md5s(b"no newline").is_empty());
}
