//! Compact index lines and bodies, ETag and Repr-Digest.

use std::collections::BTreeMap;

use packgate_rubygems::{
    GemDependency, GemSpec, etag_md5, info_line, md5_hex, parse_spec, render_info, render_names,
    render_versions, repr_digest, versions_line,
};

use crate::support::{demo_gem, platform_gem, spec_yaml};

const SHA: &str = "0a4f9c3e00000000000000000000000000000000000000000000000000000000";

fn spec(version: &str, platform: &str) -> GemSpec {
    GemSpec {
        name: "demo".into(),
        version: version.into(),
        platform: platform.into(),
        summary: None,
        description: None,
        authors: vec![],
        email: vec![],
        homepage: None,
        licenses: vec![],
        metadata: BTreeMap::new(),
        required_ruby_version: vec![],
        required_rubygems_version: vec![],
        dependencies: vec![],
        rubygems_version: None,
    }
}

fn dep(name: &str, reqs: &[(&str, &str)], runtime: bool) -> GemDependency {
    GemDependency {
        name: name.into(),
        requirements: reqs
            .iter()
            .map(|(o, v)| (o.to_string(), v.to_string()))
            .collect(),
        runtime,
    }
}

#[test]
fn a_gem_without_dependencies_has_one_space_before_the_bar() {
    assert_eq!(
        info_line(&spec("0.1.0", "ruby"), SHA),
        format!("0.1.0 |checksum:{SHA}\n")
    );
}

#[test]
fn runtime_dependencies_are_sorted_and_constraints_joined() {
    let mut s = spec("0.2.0", "ruby");
    s.dependencies = vec![
        dep("thor", &[("~>", "1.2")], true),
        dep("rake", &[("~>", "13.0")], false),
        dep("rack", &[(">=", "1.0"), ("<", "3")], true),
        dep("any", &[(">=", "0")], true),
    ];
    assert_eq!(
        info_line(&s, SHA),
        format!("0.2.0 any:>= 0,rack:< 3&>= 1.0,thor:~> 1.2|checksum:{SHA}\n")
    );
}

#[test]
fn ruby_and_rubygems_requirements_appear_unless_any() {
    let mut s = spec("0.2.0", "x86_64-linux");
    s.required_ruby_version = vec![(">=".into(), "2.7".into()), ("<".into(), "4".into())];
    s.required_rubygems_version = vec![(">=".into(), "0".into())];
    assert_eq!(
        info_line(&s, SHA),
        format!("0.2.0-x86_64-linux |checksum:{SHA},ruby:< 4&>= 2.7\n")
    );
    s.required_rubygems_version = vec![(">=".into(), "3.3.22".into())];
    assert_eq!(
        info_line(&s, SHA),
        format!("0.2.0-x86_64-linux |checksum:{SHA},ruby:< 4&>= 2.7,rubygems:>= 3.3.22\n")
    );
}

#[test]
fn lines_from_the_real_gems() {
    let demo = parse_spec(&spec_yaml(&demo_gem())).unwrap();
    assert_eq!(
        info_line(&demo, SHA),
        format!("0.1.0 rack:< 3&>= 1.0,thor:~> 1.2|checksum:{SHA},ruby:>= 2.7\n")
    );
    let native = parse_spec(&spec_yaml(&platform_gem())).unwrap();
    assert_eq!(
        info_line(&native, SHA),
        format!(
            "1.0.0.pre.beta-x86_64-linux ffi:>= 1.15.5&~> 1.15|checksum:{SHA},ruby:< 4&>= 2.7,rubygems:>= 3.3.22\n"
        )
    );
}

#[test]
fn bodies_are_rendered() {
    let lines = vec![
        format!("0.1.0 |checksum:{SHA}\n"),
        format!("0.2.0 rack:>= 1|checksum:{SHA}\n"),
    ];
    let info = render_info(&lines);
    assert_eq!(info, format!("---\n{}{}", lines[0], lines[1]).into_bytes());
    assert_eq!(render_info(&[]), b"---\n");

    let versions = [
        "0.1.0".to_string(),
        "0.2.0".into(),
        "0.2.0-x86_64-linux".into(),
    ];
    let line = versions_line("demo", &versions, &md5_hex(&info));
    assert_eq!(
        line,
        format!("demo 0.1.0,0.2.0,0.2.0-x86_64-linux {}\n", md5_hex(&info))
    );
    let body = render_versions("2024-06-01T10:00:00Z", std::slice::from_ref(&line));
    assert_eq!(
        body,
        format!("created_at: 2024-06-01T10:00:00Z\n---\n{line}").into_bytes()
    );

    assert_eq!(
        render_names(&["demo".into(), "rack-ext".into()]),
        b"---\ndemo\nrack-ext\n"
    );
    assert_eq!(render_names(&[]), b"---\n");
}

#[test]
fn etag_and_repr_digest_describe_the_full_body() {
    assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(etag_md5(b"hello"), "\"5d41402abc4b2a76b9719d911017c592\"");
    assert_eq!(
        repr_digest(b"hello"),
        "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:"
    );
    assert_eq!(etag_md5(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
}
