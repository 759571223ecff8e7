//! `parse_spec`: the real `gem build` YAML, forbidden tags, alias bombs and missing fields.

use std::collections::BTreeMap;

use packgate_rubygems::{GemDependency, GemError, NameError, parse_spec};

use crate::support::{demo_gem, minimal_yaml, platform_gem, spec_yaml};

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn the_gem_build_yaml_is_read() {
    let spec = parse_spec(&spec_yaml(&demo_gem())).unwrap();
    assert_eq!(spec.name, "demo");
    assert_eq!(spec.version, "0.1.0");
    assert_eq!(spec.platform, "ruby");
    assert_eq!(spec.summary.as_deref(), Some("A demo gem"));
    assert_eq!(
        spec.description.as_deref(),
        Some("A tiny gem for packgate's codec tests")
    );
    assert_eq!(spec.authors, ["Alice Example", "Bob Example"]);
    assert_eq!(spec.email, ["alice@example.test"]);
    assert_eq!(spec.homepage.as_deref(), Some("http://example.test/demo"));
    assert_eq!(spec.licenses, ["MIT"]);
    let metadata: BTreeMap<String, String> = [
        ("rubygems_mfa_required", "true"),
        ("source_code_uri", "http://example.test/demo/src"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(spec.metadata, metadata);
    assert_eq!(spec.required_ruby_version, pairs(&[(">=", "2.7")]));
    assert_eq!(spec.required_rubygems_version, pairs(&[(">=", "0")]));
    assert_eq!(spec.rubygems_version.as_deref(), Some("3.3.15"));
    let dep = |name: &str, reqs: &[(&str, &str)], runtime| GemDependency {
        name: name.into(),
        requirements: pairs(reqs),
        runtime,
    };
    assert_eq!(
        spec.dependencies,
        [
            dep("rack", &[(">=", "1.0"), ("<", "3")], true),
            dep("thor", &[("~>", "1.2")], true),
            dep("rake", &[("~>", "13.0")], false),
        ]
    );
    let json = serde_json::to_string(&spec).unwrap();
    assert_eq!(
        serde_json::from_str::<packgate_rubygems::GemSpec>(&json).unwrap(),
        spec
    );
}

#[test]
fn the_platform_gem_yaml_is_read() {
    let spec = parse_spec(&spec_yaml(&platform_gem())).unwrap();
    assert_eq!(spec.name, "native_ext");
    assert_eq!(spec.version, "1.0.0.pre.beta");
    assert_eq!(spec.platform, "x86_64-linux");
    assert_eq!(spec.email, Vec::<String>::new());
    assert_eq!(spec.homepage, None);
    assert_eq!(
        spec.required_ruby_version,
        pairs(&[(">=", "2.7"), ("<", "4")])
    );
    assert_eq!(spec.required_rubygems_version, pairs(&[(">=", "3.3.22")]));
    assert_eq!(
        spec.dependencies[0].requirements,
        pairs(&[("~>", "1.15"), (">=", "1.15.5")])
    );
}

#[test]
fn older_psych_shapes_are_read() {
    // Anchors shared between requirement and version_requirements (older Psych), a
    // Gem::Platform object, !binary strings, a single email string, no type (runtime).
    let yaml = "--- !ruby/object:Gem::Specification\nname: !binary |-\n  b2xk\n\
        version: !ruby/object:Gem::Version\n  version: '2.0'\n\
        platform: !ruby/object:Gem::Platform\n  cpu: x86\n  os: mswin32\n  version:\n\
        summary: !!str caf\u{e9}\ndescription: !binary Y2Fm6Q==\nemail: a@example.test\n\
        dependencies:\n- !ruby/object:Gem::Dependency\n  name: r\n\
        \x20 requirement: &1 !ruby/object:Gem::Requirement\n    requirements:\n    - - \">=\"\n\
        \x20     - !ruby/object:Gem::Version\n        version: '1'\n  version_requirements: *1\n\
        - !ruby/object:Gem::Dependency\n  name: s\n  version_requirements: *1\n";
    let spec = parse_spec(yaml).unwrap();
    assert_eq!(spec.name, "old");
    assert_eq!(spec.platform, "x86-mswin32");
    assert_eq!(spec.summary.as_deref(), Some("café"));
    assert_eq!(spec.description.as_deref(), Some("caf\u{fffd}"));
    assert_eq!(spec.email, ["a@example.test"]);
    assert!(spec.dependencies.iter().all(|d| d.runtime));
    assert_eq!(spec.dependencies[1].requirements, pairs(&[(">=", "1")]));
}

#[test]
fn every_forbidden_tag_is_named() {
    let cases = [
        ("!ruby/object:Foo", "metadata: !ruby/object:Foo\n  a: b\n"),
        (
            "!ruby/hash-with-ivars",
            "metadata: !ruby/hash-with-ivars\n  a: b\n",
        ),
        (
            "!!python/object:os.system",
            "summary: !!python/object:os.system x\n",
        ),
        (
            "!ruby/object:Gem::Installer",
            "x: !ruby/object:Gem::Installer {}\n",
        ),
        ("!ruby/struct:Foo", "x: !ruby/struct:Foo []\n"),
        ("!ruby/sym", "x: !ruby/sym foo\n"),
        ("!!set", "x: !!set {a}\n"),
        (
            "!<tag:example.test,2024:x>",
            "x: !<tag:example.test,2024:x> y\n",
        ),
    ];
    for (tag, extra) in cases {
        let yaml = minimal_yaml("demo", "1.0") + extra;
        match parse_spec(&yaml) {
            Err(GemError::ForbiddenTag(t)) => assert_eq!(t, tag),
            other => panic!("{tag}: {other:?}"),
        }
        let msg = parse_spec(&yaml).unwrap_err().to_string();
        assert!(msg.contains(tag), "{msg}");
    }
    let root = "--- !ruby/object:Gem::Installer\nname: demo\n";
    assert!(
        matches!(parse_spec(root), Err(GemError::ForbiddenTag(t)) if t == "!ruby/object:Gem::Installer")
    );
}

#[test]
fn billion_laughs_are_stopped() {
    // 9 levels of 9 aliases: only 81 alias uses, but 9^9 nodes once expanded.
    let mut yaml =
        minimal_yaml("demo", "1.0") + "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for i in 1..=9 {
        let refs = vec![format!("*l{}", i - 1); 9].join(", ");
        yaml += &format!("l{i}: &l{i} [{refs}]\n");
    }
    assert!(matches!(parse_spec(&yaml), Err(GemError::TooManyNodes(_))));

    let many = vec!["*a"; 101].join(", ");
    let yaml = minimal_yaml("demo", "1.0") + &format!("a: &a x\nb: [{many}]\n");
    assert!(matches!(
        parse_spec(&yaml),
        Err(GemError::TooManyAliases(100))
    ));
    let yaml =
        minimal_yaml("demo", "1.0") + &format!("a: &a x\nb: [{}]\n", vec!["*a"; 100].join(","));
    assert!(parse_spec(&yaml).is_ok());

    let deep = minimal_yaml("demo", "1.0") + &format!("x: {}{}\n", "[".repeat(40), "]".repeat(40));
    assert!(matches!(parse_spec(&deep), Err(GemError::TooDeep(32))));
    let recursive = minimal_yaml("demo", "1.0") + "x: &r [*r]\n";
    assert!(matches!(parse_spec(&recursive), Err(GemError::Yaml(_))));
}

#[test]
fn missing_or_invalid_fields_are_errors() {
    let no_name = "--- !ruby/object:Gem::Specification\nversion: '1.0'\n";
    assert!(matches!(
        parse_spec(no_name),
        Err(GemError::MissingField("name"))
    ));
    let no_version = "--- !ruby/object:Gem::Specification\nname: demo\n";
    assert!(matches!(
        parse_spec(no_version),
        Err(GemError::MissingField("version"))
    ));
    let null_version = "--- !ruby/object:Gem::Specification\nname: demo\nversion:\n";
    assert!(matches!(
        parse_spec(null_version),
        Err(GemError::MissingField("version"))
    ));
    assert!(matches!(parse_spec("- a\n- b\n"), Err(GemError::NotASpec)));
    assert!(matches!(parse_spec(""), Err(GemError::Yaml(_))));
    assert!(matches!(
        parse_spec("name: [unclosed\n"),
        Err(GemError::Yaml(_))
    ));
    assert!(matches!(
        parse_spec(&minimal_yaml("-bad", "1.0")),
        Err(GemError::Name(NameError::FirstChar('-')))
    ));
    assert!(matches!(
        parse_spec(&minimal_yaml("demo", "1.0-beta")),
        Err(GemError::Name(NameError::Version { .. }))
    ));
    let bad_platform = minimal_yaml("demo", "1.0").replace("platform: ruby", "platform: Linux");
    assert!(matches!(
        parse_spec(&bad_platform),
        Err(GemError::Name(NameError::Platform { .. }))
    ));
    let bad_op = minimal_yaml("demo", "1.0")
        + "required_ruby_version:\n  requirements:\n  - - \"=>\"\n    - version: '2'\n";
    let msg = parse_spec(&bad_op).unwrap_err().to_string();
    assert_eq!(
        msg,
        "invalid gemspec required_ruby_version: unknown requirement operator"
    );
    let bad_type = minimal_yaml("demo", "1.0") + "dependencies:\n- name: r\n  type: :optional\n";
    let msg = parse_spec(&bad_type).unwrap_err().to_string();
    assert_eq!(
        msg,
        "invalid gemspec dependencies[0]: type must be :runtime or :development"
    );
    let bad_authors = minimal_yaml("demo", "1.0").replace("authors:\n- A\n", "authors:\n- [A]\n");
    assert!(matches!(
        parse_spec(&bad_authors),
        Err(GemError::InvalidField { .. })
    ));
}
