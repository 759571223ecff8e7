//! Malformed pushes: every broken package (zip, nuspec, ids, versions, dependencies, paths,
//! sizes, corrupt entries) and body without a package file part is refused with its status and
//! exact reason phrase, and zip bombs are refused early; nothing is stored.

use super::{
    BAD_DEPENDENCY, BAD_ID, BAD_PATH, BAD_VERSION, CORRUPT, DTD, MANY_NUSPECS, NO_FILE_PART, NO_ID,
    NO_NUSPEC, NO_VERSION, NOT_WELL_FORMED, NOT_ZIP, REPO, SYMBOLS_TO_PACKAGE, TOO_BIG_UNPACKED,
    setup,
};
use crate::support::nuget_http::{
    Auth, Feed, Framing, Part, multipart, multipart_content_type, multipart_parts,
};
use crate::support::snapshot::{assert_unchanged, nuget_snapshot};
use packgate_nuget::testing::{
    NUSPEC_NS, Nupkg, RawEntry, nuspec_with_metadata, raw_entries_of, raw_zip, zip_of,
};

/// A Pg.Bad package whose nuspec `<metadata>` is `metadata`.
fn with_metadata(metadata: &str) -> Vec<u8> {
    Nupkg::new("Pg.Bad", "1.0.0")
        .nuspec_override(&nuspec_with_metadata(metadata))
        .bytes()
}

/// A Pg.Bad package whose whole nuspec is `xml`.
fn with_nuspec(xml: &str) -> Vec<u8> {
    Nupkg::new("Pg.Bad", "1.0.0").nuspec_override(xml).bytes()
}

fn meta(id: &str, version: &str, extra: &str) -> String {
    format!(
        "    <id>{id}</id>\n    <version>{version}</version>\n    <authors>t</authors>\n    \
         <description>d</description>\n{extra}"
    )
}

/// Every malformed package: (what, body, accepted reasons). All are 400.
fn malformed_packages() -> Vec<(String, Vec<u8>, Vec<&'static str>)> {
    let good = Nupkg::new("Pg.Bad", "1.0.0");
    let good_bytes = good.bytes();
    let nuspec = good.nuspec();
    let mut cases: Vec<(String, Vec<u8>, Vec<&'static str>)> = vec![
        (
            "not a zip".into(),
            b"definitely not a zip archive".to_vec(),
            vec![NOT_ZIP],
        ),
        (
            "an empty file".into(),
            Vec::new(),
            vec![NOT_ZIP, NO_FILE_PART],
        ),
        (
            "a truncated zip".into(),
            good_bytes[..good_bytes.len() / 2].to_vec(),
            vec![NOT_ZIP, CORRUPT],
        ),
        (
            "a gzip file".into(),
            {
                use std::io::Write;
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(nuspec.as_bytes()).expect("gzip");
                e.finish().expect("gzip")
            },
            vec![NOT_ZIP],
        ),
        (
            "no nuspec".into(),
            zip_of(&[("lib/netstandard2.0/Pg.Bad.dll", b"MZ")]),
            vec![NO_NUSPEC],
        ),
        (
            "a nuspec only below the root".into(),
            zip_of(&[("content/Pg.Bad.nuspec", nuspec.as_bytes())]),
            vec![NO_NUSPEC],
        ),
        (
            "two nuspecs".into(),
            zip_of(&[
                ("Pg.Bad.nuspec", nuspec.as_bytes()),
                ("Other.nuspec", nuspec.as_bytes()),
            ]),
            vec![MANY_NUSPECS],
        ),
        (
            "two nuspecs differing in case".into(),
            zip_of(&[
                ("Pg.Bad.nuspec", nuspec.as_bytes()),
                ("pg.bad.NUSPEC", nuspec.as_bytes()),
            ]),
            vec![MANY_NUSPECS],
        ),
        (
            "a billion-laughs DTD".into(),
            with_nuspec(&format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE package [\n  <!ENTITY lol \"lol\">\n  \
                 <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n  \
                 <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n  \
                 <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n  \
                 <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n  \
                 <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n  \
                 <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n  \
                 <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n  \
                 <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n  \
                 <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n\
                 ]>\n<package xmlns=\"{NUSPEC_NS}\">\n  <metadata>\n{}  </metadata>\n</package>\n",
                meta("Pg.Bad", "1.0.0", "    <summary>&lol9;</summary>\n")
            )),
            vec![DTD],
        ),
        (
            "an external entity".into(),
            with_nuspec(&format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE package [ <!ENTITY xxe SYSTEM \
                 \"file:///etc/passwd\"> ]>\n<package xmlns=\"{NUSPEC_NS}\">\n  <metadata>\n{}  \
                 </metadata>\n</package>\n",
                meta("Pg.Bad", "1.0.0", "    <summary>&xxe;</summary>\n")
            )),
            vec![DTD],
        ),
        (
            "a DOCTYPE without entities".into(),
            with_nuspec(&format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE package>\n<package xmlns=\"{NUSPEC_NS}\">\n  \
                 <metadata>\n{}  </metadata>\n</package>\n",
                meta("Pg.Bad", "1.0.0", "")
            )),
            vec![DTD],
        ),
        (
            "an undefined entity".into(),
            with_metadata(&meta(
                "Pg.Bad",
                "1.0.0",
                "    <summary>&undefined;</summary>\n",
            )),
            vec![DTD, NOT_WELL_FORMED],
        ),
        (
            "unclosed elements".into(),
            with_nuspec(&format!(
                "<?xml version=\"1.0\"?>\n<package xmlns=\"{NUSPEC_NS}\">\n  <metadata>\n    \
                 <id>Pg.Bad</id>\n"
            )),
            vec![NOT_WELL_FORMED],
        ),
        (
            "mismatched tags".into(),
            with_metadata(&meta("Pg.Bad", "1.0.0", "    <title>x</summary>\n")),
            vec![NOT_WELL_FORMED],
        ),
        (
            "JSON instead of XML".into(),
            with_nuspec("{\"id\": \"Pg.Bad\"}"),
            vec![NOT_WELL_FORMED],
        ),
        (
            "an empty nuspec".into(),
            with_nuspec(""),
            vec![NOT_WELL_FORMED],
        ),
        (
            "no id".into(),
            with_metadata(
                "    <version>1.0.0</version>\n    <authors>t</authors>\n    <description>d</description>\n",
            ),
            vec![NO_ID],
        ),
        (
            "an empty id".into(),
            with_metadata(&meta("", "1.0.0", "")),
            vec![NO_ID, BAD_ID],
        ),
        (
            "no version".into(),
            with_metadata(
                "    <id>Pg.Bad</id>\n    <authors>t</authors>\n    <description>d</description>\n",
            ),
            vec![NO_VERSION],
        ),
        (
            "an empty version".into(),
            with_metadata(&meta("Pg.Bad", "", "")),
            vec![NO_VERSION, BAD_VERSION],
        ),
    ];
    let long_id = "A".repeat(101);
    for id in [
        "bad id",
        "-Pg.Bad",
        "Pg..Bad",
        "Pg.Bad.",
        "Pg/Bad",
        "Pg.B\u{e4}d",
        long_id.as_str(),
        "..",
    ] {
        // The entry keeps a harmless name; only the manifest's <id> is bad.
        cases.push((
            format!("the id {id:?}"),
            Nupkg::new("Pg.Bad", "1.0.0")
                .nuspec_override(&Nupkg::new(id, "1.0.0").nuspec())
                .bytes(),
            vec![BAD_ID],
        ));
    }
    for version in [
        "1.0.0.0.0",
        "banana",
        "1.0.0-",
        "1.0.0-beta..1",
        "1.0.0+",
        "-1.0.0",
        "1.0.0-be ta",
        "v1.0.0",
        "1.0.0-beta_1",
        "99999999999999999999.0.0",
    ] {
        cases.push((
            format!("the version {version:?}"),
            Nupkg::new("Pg.Bad", version).bytes(),
            vec![BAD_VERSION],
        ));
    }
    for (what, pkg) in [
        (
            "a dependency id with a space",
            Nupkg::new("Pg.Bad", "1.0.0").dep_group(Some("net472"), &[("bad id", "1.0")]),
        ),
        (
            "an unclosed dependency range",
            Nupkg::new("Pg.Bad", "1.0.0").dep_group(Some("net472"), &[("Pg.Dep", "[1.0")]),
        ),
        (
            "a dependency range that is no version",
            Nupkg::new("Pg.Bad", "1.0.0").dep_group(None, &[("Pg.Dep", "not-a-range")]),
        ),
        (
            "a dependency range with min above max",
            Nupkg::new("Pg.Bad", "1.0.0").dep_group(None, &[("Pg.Dep", "[2.0,1.0]")]),
        ),
        (
            "a legacy dependency with a bad id",
            Nupkg::new("Pg.Bad", "1.0.0").legacy_deps(&[("-bad-", "1.0")]),
        ),
    ] {
        cases.push((what.to_owned(), pkg.bytes(), vec![BAD_DEPENDENCY]));
    }
    cases.push((
        "a dependency without id".into(),
        with_metadata(&meta(
            "Pg.Bad",
            "1.0.0",
            "    <dependencies>\n      <dependency version=\"1.0\" />\n    </dependencies>\n",
        )),
        vec![BAD_DEPENDENCY],
    ));
    for path in [
        "../evil.dll",
        "lib/../../evil.dll",
        "/abs/evil.dll",
        "lib/netstandard2.0/../../../evil.dll",
    ] {
        cases.push((
            format!("an entry {path:?}"),
            good.clone().file(path, b"MZ evil".to_vec()).bytes(),
            vec![BAD_PATH],
        ));
    }
    cases.push((
        "an entry whose data fails its CRC".into(),
        good.bytes_with_corrupt_entry(),
        vec![CORRUPT],
    ));
    cases.push((
        "an entry whose CRC header lies".into(),
        {
            let mut entries = raw_entries_of(&good);
            let mut lying = RawEntry::stored("content/readme.txt", b"hello world");
            lying.crc ^= 0xdead_beef;
            entries.push(lying);
            raw_zip(&entries)
        },
        vec![CORRUPT],
    ));
    cases.push((
        "a symbol package".into(),
        Nupkg::new("Pg.Bad", "1.0.0").symbols().bytes(),
        vec![SYMBOLS_TO_PACKAGE],
    ));
    cases
}

#[test]
fn malformed_packages_are_refused_with_specific_reasons_and_change_nothing() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    feed.push_ok(key, &Nupkg::new("Pg.Bad", "0.1.0").bytes());
    let before = nuget_snapshot(&server, REPO, &["Pg.Bad"], &[], Auth::None);
    let cases = malformed_packages();
    let mut failures = Vec::new();
    for (what, body, reasons) in &cases {
        let resp = feed.push(key, body);
        let ok = resp.status == 400 && reasons.contains(&resp.reason.as_str());
        if !ok {
            failures.push(format!(
                "{what}: expected 400 {reasons:?}, got {} {:?} ({})",
                resp.status,
                resp.reason,
                resp.text()
            ));
            continue;
        }
        resp.expect_refusal_any(400, reasons);
        assert_unchanged(&server, &before, &format!("push of {what}"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} malformed packages were not refused as expected:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_unchanged(&server, &before, "malformed packages");
    // The server is fine afterwards.
    feed.push_ok(key, &Nupkg::new("Pg.Bad", "1.0.0").bytes());
}

#[test]
fn requests_without_a_package_file_part_are_refused() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let before = nuget_snapshot(&server, REPO, &["Pg.NoFile"], &[], Auth::None);
    let pkg = Nupkg::new("Pg.NoFile", "1.0.0").bytes();
    let ct = multipart_content_type();
    let only_field = multipart_parts(&[Part::Field {
        name: "package",
        value: "not a file",
    }]);
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<Vec<u8>>);
    let cases: Vec<Case> = vec![
        (
            "a bare .nupkg body",
            vec![("Content-Type", "application/octet-stream")],
            Some(pkg.clone()),
        ),
        (
            "a multipart body with only a field",
            vec![("Content-Type", ct.as_str())],
            Some(only_field),
        ),
        (
            "an empty multipart body",
            vec![("Content-Type", ct.as_str())],
            Some(Vec::new()),
        ),
        ("no body at all", vec![], None),
        (
            "a form-urlencoded body",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            Some(b"package=x".to_vec()),
        ),
    ];
    for (what, headers, body) in cases {
        for endpoint in ["package/", "symbolpackage/"] {
            let resp = feed.raw(
                "PUT",
                &feed.path(endpoint),
                key,
                &headers,
                body.as_deref(),
                Framing::Sized,
            );
            resp.expect_refusal(400, NO_FILE_PART);
            assert_unchanged(&server, &before, &format!("{endpoint} with {what}"));
        }
    }
    // A correct body still works.
    let resp = feed.raw(
        "PUT",
        &feed.path("package/"),
        key,
        &[("Content-Type", ct.as_str())],
        Some(&multipart(&pkg)),
        Framing::Sized,
    );
    resp.expect_status(201);
}

#[test]
fn zip_bombs_are_refused_early() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let good = Nupkg::new("Pg.Bomb", "1.0.0");
    let with = |extra: RawEntry| {
        let mut entries = raw_entries_of(&good);
        entries.push(extra);
        raw_zip(&entries)
    };
    let with2 = |a: RawEntry, b: RawEntry| {
        let mut entries = raw_entries_of(&good);
        entries.push(a);
        entries.push(b);
        raw_zip(&entries)
    };
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "2 GiB of zeros in one entry",
            with(RawEntry::zeros("content/zeros.bin", 2048)),
            vec![TOO_BIG_UNPACKED],
        ),
        (
            "64 MiB of zeros (a per-entry ratio of about 1000:1)",
            with(RawEntry::zeros("content/zeros.bin", 64)),
            vec![TOO_BIG_UNPACKED],
        ),
        (
            "1.1 GiB in one entry at a ratio of about 100:1 (the total bound)",
            with(RawEntry::sparse("content/sparse.bin", 1100)),
            vec![TOO_BIG_UNPACKED],
        ),
        (
            "two entries of 600 MiB at about 100:1 (the running total)",
            with2(
                RawEntry::sparse("content/a.bin", 600),
                RawEntry::sparse("content/b.bin", 600),
            ),
            vec![TOO_BIG_UNPACKED],
        ),
        (
            "2 GiB of zeros declaring 1 KiB",
            with(RawEntry::zeros("content/zeros.bin", 2048).declaring_size(1024)),
            vec![TOO_BIG_UNPACKED, CORRUPT],
        ),
    ];
    let before = nuget_snapshot(&server, REPO, &["Pg.Bomb"], &[], Auth::None);
    for (what, body, reasons) in &cases {
        assert!(
            body.len() < 8 << 20,
            "{what}: {} bytes on the wire",
            body.len()
        );
        let started = std::time::Instant::now();
        let resp = feed.push(key, body);
        resp.expect_refusal_any(400, reasons);
        assert_unchanged(&server, &before, what);
        eprintln!("{what}: refused in {:?}", started.elapsed());
    }
    feed.push_ok(key, &good.bytes());
}
