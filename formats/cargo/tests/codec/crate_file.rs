//! `inspect_crate`: a `.crate` must be a gzipped tar of `{name}-{vers}/` with a matching
//! `Cargo.toml`, and nothing dangerous.

use packgate_cargo::{CrateError, CrateInfo, CrateLimits, inspect_crate};

use crate::support::{Item, Trickle, cargo_toml, crate_file, gzip, tgz};

const LIMITS: CrateLimits = CrateLimits {
    max_unpacked: 1024 * 1024,
    max_entries: 100,
    max_manifest: 64 * 1024,
};

fn inspect(bytes: &[u8], name: &str, vers: &str) -> Result<CrateInfo, CrateError> {
    inspect_crate(Trickle::new(bytes), name, vers, &LIMITS)
}

#[test]
fn a_packaged_crate_is_described() {
    let info = inspect(&crate_file("demo", "0.2.0"), "demo", "0.2.0").unwrap();
    let manifest_len = cargo_toml("demo", "0.2.0").len() as u64;
    assert_eq!(info.manifest_name, "demo");
    assert_eq!(info.manifest_version, "0.2.0");
    assert_eq!(info.file_count, 4);
    assert_eq!(info.unpacked_size, 2 + manifest_len + 10 + 17);
    assert_eq!(CrateLimits::default().max_entries, 100_000);
}

#[test]
fn directories_long_paths_and_mixed_case_names_are_fine() {
    let toml = cargo_toml("My_Crate", "1.0.0-rc.1+build.7");
    let top = "My_Crate-1.0.0-rc.1+build.7";
    let deep = format!("{top}/{}/mod.rs", "nested/".repeat(20));
    let bytes = tgz(&[
        Item::Dir(&format!("{top}/")),
        Item::File(&format!("{top}/Cargo.toml"), toml.as_bytes()),
        Item::Dir(&format!("{top}/src")),
        Item::File(&deep, b"x"),
    ]);
    let info = inspect(&bytes, "My_Crate", "1.0.0-rc.1+build.7").unwrap();
    assert_eq!(info.file_count, 2);
}

#[test]
fn the_old_project_table_is_accepted() {
    let toml = "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n";
    let bytes = tgz(&[Item::File("demo-0.1.0/Cargo.toml", toml.as_bytes())]);
    assert_eq!(
        inspect(&bytes, "demo", "0.1.0").unwrap().manifest_name,
        "demo"
    );
}

#[test]
fn broken_or_dangerous_crates_are_refused() {
    let toml = cargo_toml("demo", "1.0.0");
    let m = toml.as_bytes();
    type Check = fn(&CrateError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("not gzip", b"PK\x03\x04 a zip".to_vec(), |e| {
            matches!(e, CrateError::NotGzip)
        }),
        ("empty", Vec::new(), |e| matches!(e, CrateError::NotGzip)),
        ("bad gzip", b"\x1f\x8b\x08garbage-garbage".to_vec(), |e| {
            matches!(e, CrateError::BadGzip(_))
        }),
        ("gzip of non-tar", gzip(&[7u8; 1500]), |e| {
            matches!(e, CrateError::NotTar(_))
        }),
        (
            "other top directory",
            tgz(&[
                Item::File("demo-1.0.0/Cargo.toml", m),
                Item::File("other-1.0.0/x.rs", b"x"),
            ]),
            |e| {
                matches!(e, CrateError::OutsidePrefix { path, prefix }
                if path == "other-1.0.0/x.rs" && prefix == "demo-1.0.0")
            },
        ),
        (
            "prefix in another case",
            tgz(&[Item::File("Demo-1.0.0/Cargo.toml", m)]),
            |e| matches!(e, CrateError::OutsidePrefix { .. }),
        ),
        (
            "prefix with another version",
            tgz(&[Item::File("demo-1.0.1/Cargo.toml", m)]),
            |e| matches!(e, CrateError::OutsidePrefix { .. }),
        ),
        (
            "file at the root",
            tgz(&[
                Item::File("demo-1.0.0/Cargo.toml", m),
                Item::File("x.rs", b""),
            ]),
            |e| matches!(e, CrateError::OutsidePrefix { .. }),
        ),
        (
            "file named like the prefix",
            tgz(&[Item::File("demo-1.0.0", b"")]),
            |e| matches!(e, CrateError::OutsidePrefix { .. }),
        ),
        (
            "dot-dot",
            tgz(&[
                Item::File("demo-1.0.0/Cargo.toml", m),
                Item::RawPath("demo-1.0.0/../evil.rs", b"x"),
            ]),
            |e| matches!(e, CrateError::UnsafePath(p) if p == "demo-1.0.0/../evil.rs"),
        ),
        (
            "absolute path",
            tgz(&[Item::RawPath("/demo-1.0.0/Cargo.toml", m)]),
            |e| matches!(e, CrateError::UnsafePath(_)),
        ),
        (
            "symlink",
            tgz(&[
                Item::File("demo-1.0.0/Cargo.toml", m),
                Item::Symlink("demo-1.0.0/src", "/etc"),
            ]),
            |e| {
                matches!(e, CrateError::NotRegular { path, kind: "symlink" }
                if path == "demo-1.0.0/src")
            },
        ),
        (
            "hard link",
            tgz(&[
                Item::File("demo-1.0.0/Cargo.toml", m),
                Item::HardLink("demo-1.0.0/copy", "demo-1.0.0/Cargo.toml"),
            ]),
            |e| {
                matches!(
                    e,
                    CrateError::NotRegular {
                        kind: "hard link",
                        ..
                    }
                )
            },
        ),
        ("fifo", tgz(&[Item::Fifo("demo-1.0.0/pipe")]), |e| {
            matches!(e, CrateError::NotRegular { kind: "fifo", .. })
        }),
        (
            "no Cargo.toml",
            tgz(&[
                Item::File("demo-1.0.0/src/lib.rs", b""),
                Item::File("demo-1.0.0/sub/Cargo.toml", m),
                Item::File("demo-1.0.0/Cargo.toml.orig", m),
            ]),
            |e| matches!(e, CrateError::ManifestMissing(p) if p == "demo-1.0.0"),
        ),
        ("no entries", tgz(&[]), |e| {
            matches!(e, CrateError::ManifestMissing(_))
        }),
        (
            "two Cargo.toml",
            tgz(&[
                Item::File("demo-1.0.0/Cargo.toml", m),
                Item::File("./demo-1.0.0/Cargo.toml", m),
            ]),
            |e| matches!(e, CrateError::ManifestDuplicate(_)),
        ),
        (
            "Cargo.toml not TOML",
            tgz(&[Item::File("demo-1.0.0/Cargo.toml", b"[package\nname=")]),
            |e| matches!(e, CrateError::ManifestInvalid(_)),
        ),
        (
            "Cargo.toml without [package]",
            tgz(&[Item::File("demo-1.0.0/Cargo.toml", b"[workspace]\n")]),
            |e| matches!(e, CrateError::ManifestInvalid(r) if r.contains("[package]")),
        ),
        (
            "Cargo.toml with an inherited version",
            tgz(&[Item::File(
                "demo-1.0.0/Cargo.toml",
                b"[package]\nname = \"demo\"\nversion.workspace = true\n",
            )]),
            |e| matches!(e, CrateError::ManifestInvalid(_)),
        ),
        (
            "Cargo.toml not UTF-8",
            tgz(&[Item::File("demo-1.0.0/Cargo.toml", b"name = \"\xff\"")]),
            |e| matches!(e, CrateError::ManifestInvalid(_)),
        ),
    ];
    for (what, bytes, check) in cases {
        match inspect(&bytes, "demo", "1.0.0") {
            Err(e) => assert!(check(&e), "{what}: {e:?}"),
            Ok(info) => panic!("{what}: accepted {info:?}"),
        }
    }
}

#[test]
fn cargo_toml_must_name_the_published_crate_and_version() {
    let other_name = tgz(&[Item::File(
        "demo-1.0.0/Cargo.toml",
        cargo_toml("Demo", "1.0.0").as_bytes(),
    )]);
    let err = inspect(&other_name, "demo", "1.0.0").unwrap_err();
    assert!(
        matches!(&err, CrateError::ManifestMismatch { field: "name", manifest, publish }
            if manifest == "Demo" && publish == "demo"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Cargo.toml in the .crate has name 'Demo' but the publish metadata says 'demo'"
    );

    let other_version = tgz(&[Item::File(
        "demo-1.0.0/Cargo.toml",
        cargo_toml("demo", "1.0.1").as_bytes(),
    )]);
    let err = inspect(&other_version, "demo", "1.0.0").unwrap_err();
    assert!(
        matches!(
            &err,
            CrateError::ManifestMismatch {
                field: "version",
                ..
            }
        ),
        "{err:?}"
    );

    let build = tgz(&[Item::File(
        "demo-1.0.0+b/Cargo.toml",
        cargo_toml("demo", "1.0.0+a").as_bytes(),
    )]);
    let err = inspect(&build, "demo", "1.0.0+b").unwrap_err();
    assert!(
        matches!(err, CrateError::ManifestMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn limits_stop_decompression_bombs() {
    let m = cargo_toml("demo", "1.0.0");
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let bomb = tgz(&[
        Item::File("demo-1.0.0/Cargo.toml", m.as_bytes()),
        Item::File("demo-1.0.0/zeros.bin", &zeros),
    ]);
    assert!(bomb.len() < 64 * 1024);
    let err = inspect(&bomb, "demo", "1.0.0").unwrap_err();
    assert!(matches!(err, CrateError::TooLarge(1_048_576)), "{err:?}");

    let names: Vec<String> = (0..101).map(|i| format!("demo-1.0.0/f{i}.rs")).collect();
    let many: Vec<Item<'_>> = names.iter().map(|n| Item::File(n, b"")).collect();
    let err = inspect(&tgz(&many), "demo", "1.0.0").unwrap_err();
    assert!(matches!(err, CrateError::TooManyEntries(100)), "{err:?}");

    let padded = format!("{m}\n# {}\n", "x".repeat(70 * 1024));
    let big = tgz(&[Item::File("demo-1.0.0/Cargo.toml", padded.as_bytes())]);
    let err = inspect(&big, "demo", "1.0.0").unwrap_err();
    assert!(
        matches!(err, CrateError::ManifestTooLarge(65_536)),
        "{err:?}"
    );
}
