//! `group::merge_index_files`: index files of a group's members merged into one.

use packgate_cargo::SearchHit;
use packgate_cargo::group::{
    LineSource, SearchPage, merge_index_files, merge_search, parse_search,
};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// An index line as a registry writes it, with an unknown field to show it survives.
fn line(vers: &str, cksum: &str, extra: &str) -> String {
    format!(
        r#"{{"name":"widget","vers":"{vers}","deps":[],"cksum":"{cksum}","features":{{}},"yanked":false{extra}}}"#
    )
}

fn sources(pairs: &[(&str, usize)]) -> Vec<LineSource> {
    pairs
        .iter()
        .map(|(vers, member)| LineSource {
            vers: vers.to_string(),
            member: *member,
        })
        .collect()
}

#[test]
fn lines_of_every_member_are_kept_in_member_order() {
    let hosted = format!("{}\n{}\n", line("1.0.0", A, ""), line("0.9.0", A, ""));
    let proxied = format!(
        "{}\n",
        line("2.0.0", B, r#","pubtime":"2024-06-01T00:00:00Z""#)
    );
    let merged = merge_index_files(&[hosted.as_bytes(), proxied.as_bytes()]);
    assert_eq!(
        String::from_utf8(merged.body).unwrap(),
        format!("{hosted}{proxied}")
    );
    assert_eq!(
        merged.sources,
        sources(&[("1.0.0", 0), ("0.9.0", 0), ("2.0.0", 1)])
    );
    assert_eq!((merged.duplicates, merged.malformed), (0, 0));
}

#[test]
fn earliest_member_wins_a_version_present_in_two() {
    let hosted = format!("{}\n", line("1.0.0", A, ""));
    let proxied = format!("{}\n{}\n", line("1.0.0", B, ""), line("1.1.0", B, ""));
    let merged = merge_index_files(&[hosted.as_bytes(), proxied.as_bytes()]);
    let body = String::from_utf8(merged.body.clone()).unwrap();
    assert_eq!(
        body,
        format!("{}\n{}\n", line("1.0.0", A, ""), line("1.1.0", B, ""))
    );
    assert_eq!(merged.duplicates, 1);
    assert_eq!(merged.member_of("1.0.0"), Some(0));
    assert_eq!(merged.member_of("1.1.0"), Some(1));
    assert_eq!(merged.member_of("3.0.0"), None);
}

#[test]
fn a_version_differing_only_in_build_metadata_is_a_duplicate() {
    let first = format!("{}\n", line("1.0.0+a", A, ""));
    let second = format!("{}\n{}\n", line("1.0.0+b", B, ""), line("1.0.0", B, ""));
    let merged = merge_index_files(&[first.as_bytes(), second.as_bytes()]);
    assert_eq!(merged.sources, sources(&[("1.0.0+a", 0)]));
    assert_eq!(merged.duplicates, 2);
    assert_eq!(merged.member_of("1.0.0+b"), Some(0));
}

#[test]
fn kept_lines_are_byte_identical_to_the_members() {
    // Unusual spacing, field order, unknown fields and a CRLF line, all kept as they are.
    let odd = concat!(
        "{ \"vers\" : \"1.0.0\", \"name\":\"widget\", \"future\":{\"k\":[1,2]}, \"cksum\":\"x\" }\r\n",
        "{\"name\":\"widget\",\"vers\":\"1.1.0\",\"v\":2,\"features2\":{\"x\":[\"dep:y\"]}}\n",
    );
    let merged = merge_index_files(&[odd.as_bytes()]);
    assert_eq!(merged.body, odd.as_bytes());
    let other = format!("{}\n", line("2.0.0", B, ""));
    let merged = merge_index_files(&[odd.as_bytes(), other.as_bytes()]);
    assert!(merged.body.starts_with(odd.as_bytes()));
    assert!(merged.body.ends_with(other.as_bytes()));
}

#[test]
fn a_last_line_without_newline_gets_one_and_blank_lines_go() {
    let first = format!("\n{}\n  \n{}", line("1.0.0", A, ""), line("1.1.0", A, ""));
    let second = line("2.0.0", B, "");
    let merged = merge_index_files(&[first.as_bytes(), second.as_bytes()]);
    assert_eq!(
        String::from_utf8(merged.body).unwrap(),
        format!(
            "{}\n{}\n{}\n",
            line("1.0.0", A, ""),
            line("1.1.0", A, ""),
            line("2.0.0", B, "")
        )
    );
    assert_eq!(merged.malformed, 0);
}

#[test]
fn malformed_lines_are_skipped_and_counted() {
    let body = format!(
        "{}\nnot json\n[1,2]\n{{\"name\":\"widget\"}}\n{{\"vers\":7}}\n{{\"vers\":\"v1\"}}\n{}\n",
        line("1.0.0", A, ""),
        line("1.1.0", A, "")
    );
    let mut bytes = body.into_bytes();
    // A line that is not UTF-8.
    bytes.extend_from_slice(b"{\"vers\":\"\xff\"}\n");
    let merged = merge_index_files(&[&bytes]);
    assert_eq!(merged.sources, sources(&[("1.0.0", 0), ("1.1.0", 0)]));
    assert_eq!(merged.malformed, 6);
    assert_eq!(
        merged.body,
        format!("{}\n{}\n", line("1.0.0", A, ""), line("1.1.0", A, "")).as_bytes()
    );
}

#[test]
fn no_members_or_empty_files_merge_to_an_empty_file() {
    assert_eq!(merge_index_files(&[]).body, b"");
    let merged = merge_index_files(&[b"", b"\n"]);
    assert!(merged.body.is_empty() && merged.sources.is_empty());
}

fn hit(name: &str, max: &str) -> SearchHit {
    SearchHit {
        name: name.into(),
        max_version: max.into(),
        description: None,
    }
}

#[test]
fn a_search_answer_is_read_with_only_the_fields_cargo_prints() {
    let body = br#"{"crates":[{"name":"serde","max_version":"1.0.0","description":"x","downloads":9},{"name":"bad"},{"name":"toml","max_version":"0.8.0","description":null}],"meta":{"total":40}}"#;
    let page = parse_search(body).unwrap();
    assert_eq!(page.total, 40);
    assert_eq!(page.hits.len(), 2);
    assert_eq!(page.hits[0].description.as_deref(), Some("x"));
    assert_eq!(page.hits[1], hit("toml", "0.8.0"));
    let no_meta = parse_search(br#"{"crates":[{"name":"a","max_version":"1.0.0"}]}"#).unwrap();
    assert_eq!(no_meta.total, 1);
    assert_eq!(parse_search(b"[1]"), None);
    assert_eq!(parse_search(b"{\"errors\":[]}"), None);
}

#[test]
fn search_pages_merge_once_per_canonical_name_from_the_earliest_member() {
    let hosted = SearchPage {
        hits: vec![hit("Foo_Bar", "1.0.0"), hit("mine", "0.1.0")],
        total: 2,
    };
    let upstream = SearchPage {
        hits: vec![
            hit("foo-bar", "99.0.0"),
            hit("claimed", "5.0.0"),
            hit("public", "2.0.0"),
        ],
        total: 30,
    };
    let keep = |member: usize, name: &str| !(member == 1 && name == "claimed");
    let merged = merge_search(&[hosted.clone(), upstream.clone()], &keep, 10);
    assert_eq!(
        merged.hits,
        [
            hit("Foo_Bar", "1.0.0"),
            hit("mine", "0.1.0"),
            hit("public", "2.0.0")
        ]
    );
    assert_eq!(
        merged.total, 30,
        "32 less the duplicate and the claimed one"
    );
    let first = merge_search(&[hosted, upstream], &keep, 1);
    assert_eq!(first.hits, [hit("Foo_Bar", "1.0.0")]);
    assert_eq!(first.total, 30);
}
