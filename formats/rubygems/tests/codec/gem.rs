//! `read_gem`: the real `gem build` files, and broken or hostile `.gem` files built here.

use packgate_rubygems::{GemError, GemLimits, GemSpec, read_gem};

use crate::support::{
    Item, Trickle, checksums_yaml, demo_gem, gem_with, gzip, member, members, minimal_yaml,
    platform_gem, tar, tgz,
};

const LIMITS: GemLimits = GemLimits {
    max_metadata: 64 * 1024,
    max_entries: 50,
    max_unpacked: 256 * 1024,
};

fn read(bytes: &[u8]) -> Result<GemSpec, GemError> {
    read_gem(Trickle::new(bytes), &LIMITS)
}

/// A gem whose `data.tar.gz` holds `items`, with matching checksums.
fn gem_of(items: &[Item<'_>]) -> Vec<u8> {
    gem_with(&minimal_yaml("demo", "1.0"), &tgz(items))
}

#[test]
fn the_real_gems_are_read() {
    let spec = read(&demo_gem()).unwrap();
    assert_eq!(
        (spec.name.as_str(), spec.version.as_str()),
        ("demo", "0.1.0")
    );
    let spec = read(&platform_gem()).unwrap();
    assert_eq!(spec.platform, "x86_64-linux");
    assert_eq!(GemLimits::default().max_metadata, 1024 * 1024);
    assert_eq!(GemLimits::default().max_entries, 100_000);
    assert_eq!(GemLimits::default().max_unpacked, 512 * 1024 * 1024);
}

#[test]
fn signatures_and_unknown_members_are_skipped() {
    let gem = demo_gem();
    let mut items: Vec<(String, Vec<u8>)> = members(&gem);
    items.push(("metadata.gz.sig".into(), b"sig".to_vec()));
    let refs: Vec<Item<'_>> = items
        .iter()
        .map(|(n, d)| Item::File(n.as_str(), d.as_slice()))
        .collect();
    assert_eq!(read(&tar(&refs)).unwrap().name, "demo");
}

#[test]
fn a_gem_without_checksums_is_accepted() {
    let metadata = gzip(minimal_yaml("demo", "1.0").as_bytes());
    let data = tgz(&[Item::File("lib/demo.rb", b"1")]);
    let gem = tar(&[
        Item::File("metadata.gz", &metadata),
        Item::File("data.tar.gz", &data),
    ]);
    assert_eq!(read(&gem).unwrap().name, "demo");
}

#[test]
fn links_inside_the_gem_are_accepted() {
    let gem = gem_of(&[
        Item::Dir("lib"),
        Item::File("lib/a.rb", b"1"),
        Item::Symlink("lib/b.rb", "a.rb"),
        Item::Symlink("bin/tool", "../lib/a.rb"),
        Item::HardLink("lib/c.rb", "lib/a.rb"),
    ]);
    assert_eq!(read(&gem).unwrap().name, "demo");
}

#[test]
fn broken_or_dangerous_gems_are_refused() {
    let meta = gzip(minimal_yaml("demo", "1.0").as_bytes());
    let data = tgz(&[Item::File("lib/demo.rb", b"1")]);
    let m: &[u8] = &meta;
    let d: &[u8] = &data;
    type Check = fn(&GemError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("empty", Vec::new(), |e| matches!(e, GemError::NotTar(_))),
        ("not a tar", b"PK\x03\x04 zip zip zip".repeat(60), |e| {
            matches!(e, GemError::NotTar(_))
        }),
        (
            "gzip instead of tar",
            gzip(&tar(&[Item::File("metadata.gz", m)])),
            |e| matches!(e, GemError::NotTar(m) if m.contains("gzip")),
        ),
        (
            "missing metadata.gz",
            tar(&[Item::File("data.tar.gz", d)]),
            |e| matches!(e, GemError::Missing("metadata.gz")),
        ),
        (
            "missing data.tar.gz",
            tar(&[Item::File("metadata.gz", m)]),
            |e| matches!(e, GemError::Missing("data.tar.gz")),
        ),
        (
            "two metadata.gz",
            tar(&[
                Item::File("metadata.gz", m),
                Item::File("metadata.gz", m),
                Item::File("data.tar.gz", d),
            ]),
            |e| matches!(e, GemError::Duplicate("metadata.gz")),
        ),
        (
            "two data.tar.gz",
            tar(&[
                Item::File("data.tar.gz", d),
                Item::File("metadata.gz", m),
                Item::File("data.tar.gz", d),
            ]),
            |e| matches!(e, GemError::Duplicate("data.tar.gz")),
        ),
        (
            "nested member",
            tar(&[Item::File("x/metadata.gz", m), Item::File("data.tar.gz", d)]),
            |e| matches!(e, GemError::UnsafeEntry(p) if p == "x/metadata.gz"),
        ),
        (
            "dot-dot member",
            tar(&[Item::RawPath("..", m)]),
            |e| matches!(e, GemError::UnsafeEntry(p) if p == ".."),
        ),
        (
            "symlink member",
            tar(&[Item::Symlink("metadata.gz", "/etc/passwd")]),
            |e| {
                matches!(
                    e,
                    GemError::NotRegular {
                        kind: "symlink",
                        ..
                    }
                )
            },
        ),
        (
            "device member",
            tar(&[Item::CharDevice("data.tar.gz")]),
            |e| {
                matches!(
                    e,
                    GemError::NotRegular {
                        kind: "character device",
                        ..
                    }
                )
            },
        ),
        ("directory member", tar(&[Item::Dir("lib")]), |e| {
            matches!(
                e,
                GemError::NotRegular {
                    kind: "directory",
                    ..
                }
            )
        }),
        (
            "metadata.gz not gzip",
            tar(&[
                Item::File("metadata.gz", b"name: demo\n"),
                Item::File("data.tar.gz", d),
            ]),
            |e| {
                matches!(
                    e,
                    GemError::BadGzip {
                        file: "metadata.gz",
                        ..
                    }
                )
            },
        ),
        (
            "data.tar.gz not gzip",
            tar(&[
                Item::File("metadata.gz", m),
                Item::File("data.tar.gz", b"plain"),
            ]),
            |e| {
                matches!(
                    e,
                    GemError::BadGzip {
                        file: "data.tar.gz",
                        ..
                    }
                )
            },
        ),
        (
            "data.tar.gz not a tar",
            tar(&[
                Item::File("metadata.gz", m),
                Item::File("data.tar.gz", &gzip(&[7; 1500])),
            ]),
            |e| matches!(e, GemError::DataNotTar(_)),
        ),
    ];
    for (what, bytes, check) in cases {
        match read(&bytes) {
            Err(e) => assert!(check(&e), "{what}: {e:?}"),
            Ok(spec) => panic!("{what}: accepted {spec:?}"),
        }
    }
}

#[test]
fn hostile_data_entries_are_refused() {
    type Check = fn(&GemError) -> bool;
    let cases: Vec<(&str, Vec<Item<'_>>, Check)> = vec![
        (
            "dot-dot path",
            vec![Item::RawPath("lib/../../evil.rb", b"x")],
            |e| matches!(e, GemError::UnsafePath(p) if p == "lib/../../evil.rb"),
        ),
        (
            "absolute path",
            vec![Item::RawPath("/etc/cron.d/x", b"x")],
            |e| matches!(e, GemError::UnsafePath(_)),
        ),
        (
            "symlink escaping",
            vec![Item::Symlink("lib/x", "../../etc/passwd")],
            |e| matches!(e, GemError::LinkEscapes { path, target } if path == "lib/x" && target == "../../etc/passwd"),
        ),
        (
            "absolute symlink",
            vec![Item::Symlink("lib/x", "/etc/passwd")],
            |e| matches!(e, GemError::LinkEscapes { .. }),
        ),
        (
            "hard link escaping",
            vec![Item::HardLink("lib/x", "../x")],
            |e| matches!(e, GemError::LinkEscapes { .. }),
        ),
        (
            "chained symlinks",
            vec![Item::Symlink("a/up", ".."), Item::Symlink("b", "a/up/..")],
            |e| matches!(e, GemError::LinkEscapes { path, .. } if path == "b"),
        ),
        (
            "file written through a symlink",
            vec![Item::Symlink("a/up", ".."), Item::File("a/up/x", b"x")],
            |e| matches!(e, GemError::ThroughLink { link, .. } if link == "a/up"),
        ),
        ("device", vec![Item::CharDevice("lib/tty")], |e| {
            matches!(
                e,
                GemError::DataNotRegular {
                    kind: "character device",
                    ..
                }
            )
        }),
        ("fifo", vec![Item::Fifo("lib/pipe")], |e| {
            matches!(e, GemError::DataNotRegular { kind: "fifo", .. })
        }),
    ];
    for (what, items, check) in cases {
        match read(&gem_of(&items)) {
            Err(e) => assert!(check(&e), "{what}: {e:?}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}

#[test]
fn checksum_mismatches_name_the_file() {
    let gem = demo_gem();
    let data = member(&gem, "data.tar.gz");
    let metadata = member(&gem, "metadata.gz");
    let other = tgz(&[Item::File("lib/demo.rb", b"tampered")]);
    // Replace data.tar.gz but keep the original checksums.yaml.gz.
    let tampered = tar(&[
        Item::File("metadata.gz", &metadata),
        Item::File("data.tar.gz", &other),
        Item::File("checksums.yaml.gz", &member(&gem, "checksums.yaml.gz")),
    ]);
    let err = read(&tampered).unwrap_err();
    assert!(
        matches!(&err, GemError::ChecksumMismatch { file: "data.tar.gz", algorithm } if algorithm == "SHA256"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "SHA256 checksum of data.tar.gz does not match checksums.yaml.gz"
    );

    // A wrong SHA512 for metadata.gz, right SHA256: still refused.
    let yaml = checksums_yaml(&[("metadata.gz", &metadata), ("data.tar.gz", &data)]);
    let lines: Vec<&str> = yaml.lines().collect();
    let wrong = lines
        .iter()
        .map(|l| {
            if l.starts_with("  metadata.gz: ") && l.len() > 100 {
                "  metadata.gz: 00"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let gem2 = tar(&[
        Item::File("metadata.gz", &metadata),
        Item::File("data.tar.gz", &data),
        Item::File("checksums.yaml.gz", &gzip(wrong.as_bytes())),
    ]);
    assert!(
        matches!(read(&gem2), Err(GemError::ChecksumMismatch { file: "metadata.gz", algorithm }) if algorithm == "SHA512")
    );

    // SHA1 (RubyGems 2.x), upper-case hex: checked too.
    let sha1 = "---\nSHA1:\n  metadata.gz: DA39A3EE5E6B4B0D3255BFEF95601890AFD80709\n";
    let gem3 = tar(&[
        Item::File("metadata.gz", &metadata),
        Item::File("data.tar.gz", &data),
        Item::File("checksums.yaml.gz", &gzip(sha1.as_bytes())),
    ]);
    assert!(
        matches!(read(&gem3), Err(GemError::ChecksumMismatch { file: "metadata.gz", algorithm }) if algorithm == "SHA1")
    );

    let garbage = tar(&[
        Item::File("metadata.gz", &metadata),
        Item::File("data.tar.gz", &data),
        Item::File("checksums.yaml.gz", &gzip(b"- just\n- a list\n")),
    ]);
    assert!(matches!(read(&garbage), Err(GemError::BadChecksums(_))));
}

#[test]
fn limits_stop_bombs() {
    let big = vec![0u8; 300 * 1024];
    let err = read(&gem_of(&[Item::File("lib/big.bin", &big)])).unwrap_err();
    assert!(matches!(err, GemError::TooLarge(_)), "{err:?}");

    let names: Vec<String> = (0..60).map(|i| format!("lib/{i}.rb")).collect();
    let items: Vec<Item<'_>> = names.iter().map(|n| Item::File(n, b"1")).collect();
    assert!(matches!(
        read(&gem_of(&items)),
        Err(GemError::TooManyEntries(50))
    ));

    let huge_yaml = minimal_yaml("demo", "1.0") + &"# padding\n".repeat(8000);
    let err = read(&gem_with(&huge_yaml, &tgz(&[]))).unwrap_err();
    assert!(
        matches!(
            err,
            GemError::MetadataTooLarge {
                file: "metadata.gz",
                ..
            }
        ),
        "{err:?}"
    );
}
