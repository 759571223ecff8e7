//! `inspect_tarball` and `check_tarball_matches`.

use packgate_npm::{
    PublishError, PublishRequest, TarballError, TarballLimits, check_tarball_matches,
    inspect_tarball,
};

use crate::support::{Item, Trickle, gzip, package_json, package_tgz, tgz};

const LIMITS: TarballLimits = TarballLimits {
    max_unpacked: 1024 * 1024,
    max_manifest: 64 * 1024,
    max_entries: 100,
};

fn inspect(bytes: &[u8]) -> Result<packgate_npm::TarballInfo, TarballError> {
    inspect_tarball(Trickle::new(bytes), &LIMITS)
}

#[test]
fn a_packed_package_is_described() {
    let pj = package_json("@acme/widget", "1.0.0");
    let bytes = tgz(&[
        Item::Dir("package/"),
        Item::File("package/package.json", pj.as_bytes()),
        Item::Dir("package/lib/"),
        Item::File("package/lib/index.js", b"exports.a = 1;\n"),
        Item::File("package/lib/package.json", b"not the manifest"),
        Item::File("package/npm-shrinkwrap.json", b"{}"),
        Item::File("package/binding.gyp", b"{}"),
    ]);
    let info = inspect(&bytes).unwrap();
    assert_eq!(info.manifest["name"], "@acme/widget");
    assert_eq!(info.file_count, 5);
    assert_eq!(info.unpacked_size, (pj.len() + 15 + 16 + 2 + 2) as u64);
    assert!(info.has_shrinkwrap && info.has_binding_gyp);

    let plain = inspect(&package_tgz("left-pad", "1.3.0")).unwrap();
    assert!(!plain.has_shrinkwrap && !plain.has_binding_gyp);
    assert_eq!(plain.file_count, 3);
}

#[test]
fn any_single_top_directory_is_accepted_and_a_bom_is_skipped() {
    let pj = format!("\u{feff}{}", package_json("old", "0.1.0"));
    let info = inspect(&tgz(&[Item::File(
        "./node-old/package.json",
        pj.as_bytes(),
    )]))
    .unwrap();
    assert_eq!(info.manifest["version"], "0.1.0");
}

#[test]
fn broken_tarballs_are_refused() {
    let pj = package_json("x", "1.0.0");
    type Check = fn(&TarballError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("not gzip", b"PK\x03\x04 zip file".to_vec(), |e| {
            matches!(e, TarballError::NotGzip)
        }),
        ("empty input", Vec::new(), |e| {
            matches!(e, TarballError::NotGzip)
        }),
        ("truncated gzip", gzip(&[7; 5000])[..20].to_vec(), |e| {
            matches!(e, TarballError::BadGzip(_))
        }),
        (
            "gzip but not tar",
            gzip(&b"hello world, not a tar archive\n".repeat(40)),
            |e| matches!(e, TarballError::NotTar(_)),
        ),
        ("gzip of nothing", gzip(b""), |e| {
            matches!(e, TarballError::Empty)
        }),
        (
            "a symlink to a host file",
            tgz(&[
                Item::File("package/package.json", pj.as_bytes()),
                Item::Symlink("package/passwd", "/etc/passwd"),
            ]),
            |e| matches!(e, TarballError::NotRegular { path, kind: "symlink" } if path == "package/passwd"),
        ),
        (
            "a hard link out of the package",
            tgz(&[
                Item::File("package/package.json", pj.as_bytes()),
                Item::HardLink("package/passwd", "../../../etc/passwd"),
            ]),
            |e| {
                matches!(
                    e,
                    TarballError::NotRegular {
                        kind: "hard link",
                        ..
                    }
                )
            },
        ),
        (
            "a character device",
            tgz(&[
                Item::File("package/package.json", pj.as_bytes()),
                Item::CharDevice("package/null"),
            ]),
            |e| {
                matches!(
                    e,
                    TarballError::NotRegular {
                        kind: "character device",
                        ..
                    }
                )
            },
        ),
        (
            "a fifo",
            tgz(&[
                Item::File("package/package.json", pj.as_bytes()),
                Item::Fifo("package/pipe"),
            ]),
            |e| matches!(e, TarballError::NotRegular { kind: "fifo", .. }),
        ),
        (
            "no package.json",
            tgz(&[Item::File("package/index.js", b"1")]),
            |e| matches!(e, TarballError::ManifestMissing(t) if t == "package"),
        ),
        (
            "package.json too deep",
            tgz(&[Item::File("package/lib/package.json", pj.as_bytes())]),
            |e| matches!(e, TarballError::ManifestMissing(_)),
        ),
        (
            "dot-dot path",
            tgz(&[
                Item::File("package/package.json", pj.as_bytes()),
                Item::RawPath("package/../../evil", b"x"),
            ]),
            |e| matches!(e, TarballError::UnsafePath(p) if p == "package/../../evil"),
        ),
        (
            "absolute path",
            tgz(&[Item::RawPath("/etc/evil", b"x")]),
            |e| matches!(e, TarballError::UnsafePath(_)),
        ),
        (
            "two top dirs",
            tgz(&[
                Item::File("package/package.json", pj.as_bytes()),
                Item::File("other/a.js", b"1"),
            ]),
            |e| matches!(e, TarballError::MultipleTopDirs { .. }),
        ),
        (
            "file at root",
            tgz(&[Item::File("package.json", pj.as_bytes())]),
            |e| matches!(e, TarballError::OutsideTopDir(_)),
        ),
        (
            "manifest not json",
            tgz(&[Item::File("package/package.json", b"{name:")]),
            |e| matches!(e, TarballError::ManifestInvalid(_)),
        ),
        (
            "manifest not object",
            tgz(&[Item::File("package/package.json", b"[1]")]),
            |e| matches!(e, TarballError::ManifestNotObject),
        ),
        (
            "manifest twice",
            tgz(&[
                Item::File("package/package.json", pj.as_bytes()),
                Item::File("package/package.json", pj.as_bytes()),
            ]),
            |e| matches!(e, TarballError::ManifestDuplicate(_)),
        ),
    ];
    for (what, bytes, check) in cases {
        let err = inspect(&bytes).expect_err(what);
        assert!(check(&err), "{what}: {err:?}");
    }
}

#[test]
fn limits_stop_oversized_tarballs() {
    let pj = package_json("x", "1.0.0");
    let zeros = vec![0u8; 2 * 1024 * 1024];
    let bomb = tgz(&[
        Item::File("package/package.json", pj.as_bytes()),
        Item::File("package/zeros", &zeros),
    ]);
    assert!(bomb.len() < 20_000, "compresses well: {}", bomb.len());
    assert!(matches!(inspect(&bomb), Err(TarballError::TooLarge(l)) if l == LIMITS.max_unpacked));

    let names: Vec<String> = (0..101).map(|i| format!("package/f{i}")).collect();
    let mut items = vec![Item::File("package/package.json", pj.as_bytes())];
    items.extend(names.iter().map(|n| Item::File(n, b"")));
    assert!(matches!(
        inspect(&tgz(&items)),
        Err(TarballError::TooManyEntries(100))
    ));

    let big_manifest = format!("{{\"pad\":\"{}\"}}", "p".repeat(70 * 1024));
    let t = tgz(&[Item::File("package/package.json", big_manifest.as_bytes())]);
    assert!(matches!(
        inspect(&t),
        Err(TarballError::ManifestTooLarge(_))
    ));

    // A GNU long-name record is buffered by the tar reader: the decompressed-bytes cap stops it.
    let long = format!("package/{}", "n".repeat(300_000));
    let tight = TarballLimits {
        max_unpacked: 10,
        max_manifest: 10,
        max_entries: 1,
    };
    let t = tgz(&[Item::File(&long, b"")]);
    assert!(matches!(
        inspect_tarball(&t[..], &tight),
        Err(TarballError::TooLarge(10))
    ));
}

fn request(name: &str, version: &str) -> PublishRequest {
    PublishRequest {
        name: name.into(),
        version: version.into(),
        tag: "latest".into(),
        manifest: Default::default(),
        declared_length: None,
        declared_shasum: None,
        declared_integrity: None,
    }
}

#[test]
fn tarball_manifest_must_match_the_publish() {
    let info = inspect(&package_tgz("@acme/widget", "1.0.0")).unwrap();
    assert!(check_tarball_matches(&info, &request("@acme/widget", "1.0.0")).is_ok());

    let err = check_tarball_matches(&info, &request("@acme/gadget", "1.0.0")).unwrap_err();
    assert!(matches!(
        err,
        PublishError::TarballMismatch { field: "name", .. }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("@acme/widget") && msg.contains("@acme/gadget"),
        "{msg}"
    );

    let err = check_tarball_matches(&info, &request("@acme/widget", "1.0.1")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("'1.0.0'") && msg.contains("'1.0.1'"), "{msg}");

    let v_prefixed = inspect(&tgz(&[Item::File(
        "package/package.json",
        package_json("x", "v2.0.0").as_bytes(),
    )]))
    .unwrap();
    assert!(check_tarball_matches(&v_prefixed, &request("x", "2.0.0")).is_ok());
}
