//! Marshal output: the protocol §7.2 bytes exactly, the §7.3 quick spec layout, and the
//! SafeMarshal allow-list.

use std::io::Read;

use flate2::read::ZlibDecoder;
use packgate_rubygems::{
    GemSpec, parse_spec, quick_spec, quick_spec_marshal, specs_file, specs_marshal,
};

use crate::safe_marshal::{M, load, requirement, s, version};
use crate::support::{demo_gem, gunzip, minimal_yaml, spec_yaml};

/// The bytes of protocol §7.2 for `[["demo", Gem::Version("0.1.0"), "ruby"]]`.
const SECTION_7_2: &[u8] = &[
    0x04, 0x08, 0x5b, 0x06, // [ 1 element
    0x5b, 0x08, // [ 3 elements
    0x49, 0x22, 0x09, 0x64, 0x65, 0x6d, 0x6f, 0x06, 0x3a, 0x06, 0x45, 0x54, // "demo"
    0x55, 0x3a, 0x11, 0x47, 0x65, 0x6d, 0x3a, 0x3a, 0x56, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x5b,
    0x06, 0x49, 0x22, 0x0a, 0x30, 0x2e, 0x31, 0x2e, 0x30, 0x06, 0x3a, 0x06, 0x45, 0x54, 0x49, 0x22,
    0x09, 0x72, 0x75, 0x62, 0x79, 0x06, 0x3a, 0x06, 0x45, 0x54, // "ruby"
];

fn tuple(name: &str, v: &str, platform: &str) -> (String, String, String) {
    (name.into(), v.into(), platform.into())
}

#[test]
fn the_specs_file_matches_section_7_2_byte_for_byte() {
    let tuples = [tuple("demo", "0.1.0", "ruby")];
    assert_eq!(specs_marshal(&tuples), SECTION_7_2);
    let gz = specs_file(&tuples);
    assert_eq!(&gz[..2], [0x1f, 0x8b], "gzip, not zlib");
    assert_eq!(gunzip(&gz), SECTION_7_2);
    assert_eq!(specs_file(&tuples), gz, "deterministic");
}

#[test]
fn specs_files_hold_every_tuple_in_the_given_order() {
    let tuples = [
        tuple("demo", "0.1.0", "ruby"),
        tuple("demo", "0.2.0", "x86_64-linux"),
        tuple("rack-ext", "1.0.0.pre", "ruby"),
    ];
    let M::Array(items) = load(&gunzip(&specs_file(&tuples))) else {
        panic!("not an array")
    };
    let want: Vec<M> = tuples
        .iter()
        .map(|(n, v, p)| M::Array(vec![s(n), version(v), s(p)]))
        .collect();
    assert_eq!(items, want);
    assert_eq!(gunzip(&specs_file(&[])), [0x04, 0x08, 0x5b, 0x00]);
}

/// The quick spec of a minimal gem, assembled by hand from protocol §7.1 and §7.3.
#[test]
fn the_quick_spec_layout_is_exact() {
    let mut spec = parse_spec(&minimal_yaml("demo", "0.1.0")).unwrap();
    spec.rubygems_version = Some("3.4.0".into());
    let str_ = |t: &str| {
        // Packed length: 0 is 00, 1..=122 is n+5.
        let len = if t.is_empty() { 0 } else { t.len() as u8 + 5 };
        let mut b = vec![0x49, 0x22, len];
        b.extend_from_slice(t.as_bytes());
        b.extend_from_slice(&[0x06, 0x3a, 0x06, 0x45, 0x54]);
        b
    };
    let sym = |t: &str| {
        let mut b = vec![0x3a, t.len() as u8 + 5];
        b.extend_from_slice(t.as_bytes());
        b
    };
    let ver = |v: &str| [vec![0x55], sym("Gem::Version"), vec![0x5b, 0x06], str_(v)].concat();
    let any = [
        vec![0x55],
        sym("Gem::Requirement"),
        vec![0x5b, 0x06, 0x5b, 0x06, 0x5b, 0x07],
        str_(">="),
        ver("0"),
    ]
    .concat();
    let inner = [
        vec![0x04, 0x08, 0x5b, 0x18], // [ 19 elements
        str_("3.4.0"),
        vec![0x69, 0x09], // 4
        str_("demo"),
        ver("0.1.0"),
        vec![0x30], // date nil
        str_("s"),
        any.clone(),
        any,
        str_("ruby"),
        vec![0x5b, 0x00], // no dependencies
        str_(""),         // rubyforge_project
        vec![0x30],       // email nil
        vec![0x5b, 0x06],
        str_("A"),
        vec![0x30, 0x30, 0x54], // description nil, homepage nil, has_rdoc true
        str_("ruby"),
        vec![0x5b, 0x00, 0x7b, 0x00], // licenses [], metadata {}
    ]
    .concat();
    let mut outer = [vec![0x04, 0x08, 0x75], sym("Gem::Specification")].concat();
    outer.extend_from_slice(&[0x01, inner.len() as u8]);
    outer.extend_from_slice(&inner);
    assert!(inner.len() > 122 && inner.len() < 256);
    assert_eq!(quick_spec_marshal(&spec), outer);

    let rz = quick_spec(&spec);
    assert_eq!(rz[0], 0x78, "zlib, not gzip");
    let mut raw = Vec::new();
    ZlibDecoder::new(rz.as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(raw, outer);
}

#[test]
fn the_quick_spec_of_the_real_gem_has_every_field() {
    let spec: GemSpec = parse_spec(&spec_yaml(&demo_gem())).unwrap();
    let M::Dumped(class, inner) = load(&quick_spec_marshal(&spec)) else {
        panic!("not u")
    };
    assert_eq!(class, "Gem::Specification");
    let M::Array(a) = *inner else {
        panic!("not an array")
    };
    assert_eq!(a.len(), 19);
    assert_eq!(a[0], s("3.3.15"));
    assert_eq!(a[1], M::Int(4));
    assert_eq!((a[2].clone(), a[3].clone()), (s("demo"), version("0.1.0")));
    assert_eq!(a[4], M::Nil);
    assert_eq!(a[5], s("A demo gem"));
    assert_eq!(a[6], requirement(&[(">=", "2.7")]));
    assert_eq!(a[7], requirement(&[(">=", "0")]));
    assert_eq!((a[8].clone(), a[16].clone()), (s("ruby"), s("ruby")));
    let dep = |name: &str, reqs: &[(&str, &str)], kind: &str| {
        M::Object(
            "Gem::Dependency".into(),
            vec![
                ("@name".into(), s(name)),
                ("@requirement".into(), requirement(reqs)),
                ("@type".into(), M::Sym(kind.into())),
                ("@prerelease".into(), M::Bool(false)),
            ],
        )
    };
    assert_eq!(
        a[9],
        M::Array(vec![
            dep("rack", &[(">=", "1.0"), ("<", "3")], "runtime"),
            dep("thor", &[("~>", "1.2")], "runtime"),
            dep("rake", &[("~>", "13.0")], "development"),
        ])
    );
    assert_eq!(a[10], s(""));
    assert_eq!(a[11], s("alice@example.test"));
    assert_eq!(a[12], M::Array(vec![s("Alice Example"), s("Bob Example")]));
    assert_eq!(a[13], s("A tiny gem for packgate's codec tests"));
    assert_eq!(a[14], s("http://example.test/demo"));
    assert_eq!(a[15], M::Bool(true));
    assert_eq!(a[17], M::Array(vec![s("MIT")]));
    assert_eq!(
        a[18],
        M::Hash(vec![
            (s("rubygems_mfa_required"), s("true")),
            (s("source_code_uri"), s("http://example.test/demo/src")),
        ])
    );
}

#[test]
fn several_emails_become_an_array_and_unicode_survives() {
    let mut spec = parse_spec(&minimal_yaml("demo", "1.0")).unwrap();
    spec.email = vec!["a@example.test".into(), "b@example.test".into()];
    spec.summary = Some("Grüße ✓".into());
    spec.description = Some("x".repeat(70_000));
    let M::Dumped(_, inner) = load(&quick_spec_marshal(&spec)) else {
        panic!()
    };
    let M::Array(a) = *inner else { panic!() };
    assert_eq!(
        a[11],
        M::Array(vec![s("a@example.test"), s("b@example.test")])
    );
    assert_eq!(a[5], s("Grüße ✓"));
    assert_eq!(a[13], s(&"x".repeat(70_000)));
}
