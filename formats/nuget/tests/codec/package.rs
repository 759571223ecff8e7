//! Reading a .nupkg: valid and symbol packages, structure errors, unsafe entry names, size
//! bounds (nuspec, zip bombs, lying sizes, total unpacked size), corrupt and encrypted entries, and
//! the refusal reasons.

use packgate_nuget::{
    NuGetVersion, NuspecError, PackageError, PackageLimits, ReadPackage, read_package,
};
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

const NUSPEC: &[u8] = b"<?xml version=\"1.0\"?><package><metadata><id>Acme.Widget</id>\
        <version>1.0.0.0</version><authors>Alice</authors></metadata></package>";

fn build(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    build(entries, zip::CompressionMethod::Deflated)
}

fn read(bytes: &[u8], limits: &PackageLimits) -> Result<ReadPackage, PackageError> {
    read_package(Cursor::new(bytes), limits)
}

fn read_default(bytes: &[u8]) -> Result<ReadPackage, PackageError> {
    read(bytes, &PackageLimits::default())
}

#[test]
fn valid_package_is_read() {
    let bytes = zip_of(&[
        ("_rels/.rels", b"<Relationships/>"),
        ("Acme.Widget.nuspec", NUSPEC),
        ("lib/net8.0/Acme.Widget.dll", &[7u8; 3000]),
    ]);
    let p = read_default(&bytes).unwrap();
    assert_eq!(p.nuspec.id, "Acme.Widget");
    assert_eq!(p.nuspec_bytes, NUSPEC);
    assert_eq!(p.nuspec_name, "Acme.Widget.nuspec");
    assert_eq!(p.version.normalized(), "1.0.0");
    assert_eq!(
        (p.entries, p.unpacked),
        (3, (16 + NUSPEC.len() + 3000) as u64)
    );
    assert!(!p.nuspec.is_symbols_package());
}

#[test]
fn symbols_package_is_recognized() {
    let nuspec = b"<package><metadata><id>A</id><version>1.0</version><packageTypes>\
            <packageType name=\"symbolspackage\"/></packageTypes></metadata></package>";
    let bytes = zip_of(&[("A.NUSPEC", nuspec), ("lib/net8.0/A.pdb", b"pdb")]);
    assert!(read_default(&bytes).unwrap().nuspec.is_symbols_package());
}

#[test]
fn structure_errors_are_specific() {
    assert!(matches!(
        read_default(b"PK not a zip at all"),
        Err(PackageError::NotZip(_))
    ));
    let none = zip_of(&[("readme.txt", b"x"), ("sub/A.nuspec", NUSPEC)]);
    assert!(matches!(read_default(&none), Err(PackageError::NoNuspec)));
    let two = zip_of(&[("a.nuspec", NUSPEC), ("b.nuspec", NUSPEC)]);
    let e = read_default(&two).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the package contains 2 .nuspec files at its root (a.nuspec, b.nuspec); exactly one is allowed"
    );
    let many = zip_of(&[("a.nuspec", NUSPEC), ("b", b""), ("c", b"")]);
    let limits = PackageLimits {
        max_entries: 2,
        ..PackageLimits::default()
    };
    assert!(matches!(
        read(&many, &limits),
        Err(PackageError::TooManyEntries { count: 3, max: 2 })
    ));
    let bad = zip_of(&[(
        "a.nuspec",
        b"<package><metadata><id>a</id></metadata></package>",
    )]);
    let e = read_default(&bad).unwrap_err();
    assert!(matches!(
        e,
        PackageError::Nuspec(NuspecError::MissingVersion)
    ));
    assert_eq!(e.reason(), "The .nuspec file has no package version");
}

#[test]
fn unsafe_entry_names_are_refused() {
    for name in [
        "../evil",
        "lib/../../evil",
        "/abs",
        "\\abs",
        "C:\\x",
        "c:x",
        "a\\..\\b",
        "a\0b",
    ] {
        let bytes = zip_of(&[("A.nuspec", NUSPEC), (name, b"x")]);
        assert!(
            matches!(read_default(&bytes), Err(PackageError::UnsafePath(n)) if n == name),
            "{name:?}"
        );
    }
    // `..` inside a component is not a `..` component: such names are read.
    for name in ["lib/net8.0/a..b.dll", "..a/b"] {
        let bytes = zip_of(&[("A.nuspec", NUSPEC), (name, b"x")]);
        assert!(read_default(&bytes).is_ok(), "{name:?}");
    }
}

#[test]
fn oversized_nuspec_is_refused() {
    let bytes = zip_of(&[("A.nuspec", NUSPEC)]);
    let limits = PackageLimits {
        max_nuspec: 10,
        ..PackageLimits::default()
    };
    assert!(matches!(
        read(&bytes, &limits),
        Err(PackageError::NuspecTooLarge { max: 10, .. })
    ));
}

#[test]
fn zip_bomb_is_refused_before_unpacking() {
    let zeros = vec![0u8; 50_000_000];
    let bytes = zip_of(&[("A.nuspec", NUSPEC), ("bomb.bin", &zeros)]);
    let limits = PackageLimits {
        max_ratio: 10,
        ..PackageLimits::default()
    };
    let e = read(&bytes, &limits).unwrap_err();
    assert!(matches!(e, PackageError::ZipBomb { read: 0, .. }), "{e:?}");
    assert_eq!(
        e.reason(),
        "The package unpacks to more than the size limit"
    );
}

#[test]
fn total_unpacked_size_is_bounded() {
    let chunk: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let bytes = zip_of(&[("A.nuspec", NUSPEC), ("a", &chunk), ("b", &chunk)]);
    let limits = PackageLimits {
        max_unpacked: 1_000_000,
        ..PackageLimits::default()
    };
    let e = read(&bytes, &limits).unwrap_err();
    assert!(
        matches!(&e, PackageError::TooLarge { name, .. } if name == "b"),
        "{e:?}"
    );
    assert!(read(&bytes, &PackageLimits::default()).is_ok());
}

#[test]
fn corrupt_and_encrypted_entries_are_refused() {
    let payload = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = build(
        &[("A.nuspec", NUSPEC), ("data.bin", payload)],
        zip::CompressionMethod::Stored,
    );
    let at = bytes
        .windows(payload.len())
        .position(|w| w == payload)
        .unwrap();
    bytes[at + 5] ^= 0x55;
    let e = read_default(&bytes).unwrap_err();
    assert!(
        matches!(&e, PackageError::Corrupt(name, _) if name == "data.bin"),
        "{e:?}"
    );

    // Set the "encrypted" flag bit in the local and central headers of the second entry.
    let mut bytes = zip_of(&[("A.nuspec", NUSPEC), ("secret.bin", b"x")]);
    let find = |b: &[u8], sig: &[u8], nth: usize| {
        b.windows(4)
            .enumerate()
            .filter(|(_, w)| *w == sig)
            .nth(nth)
            .unwrap()
            .0
    };
    let local = find(&bytes, b"PK\x03\x04", 1);
    bytes[local + 6] |= 1;
    let central = find(&bytes, b"PK\x01\x02", 1);
    bytes[central + 8] |= 1;
    assert!(matches!(read_default(&bytes), Err(PackageError::Encrypted(n)) if n == "secret.bin"));
}

#[test]
fn every_reason_is_a_short_visible_ascii_phrase() {
    let errors = [
        PackageError::NotZip(String::new()),
        PackageError::Io(String::new()),
        PackageError::TooManyEntries { count: 0, max: 0 },
        PackageError::UnsafePath(String::new()),
        PackageError::Encrypted(String::new()),
        PackageError::Corrupt(String::new(), String::new()),
        PackageError::TooLarge {
            name: String::new(),
            max: 0,
        },
        PackageError::ZipBomb {
            name: String::new(),
            compressed: 0,
            max_ratio: 0,
            read: 0,
        },
        PackageError::NoNuspec,
        PackageError::SeveralNuspecs(vec![]),
        PackageError::NuspecTooLarge {
            name: String::new(),
            max: 0,
        },
        PackageError::Nuspec(NuspecError::Dtd),
        PackageError::Nuspec(NuspecError::Entity(String::new())),
        PackageError::Nuspec(NuspecError::Malformed(String::new())),
        PackageError::Nuspec(NuspecError::NotUtf8),
        PackageError::Nuspec(NuspecError::TooDeep),
        PackageError::Nuspec(NuspecError::MissingId),
        PackageError::Nuspec(NuspecError::MissingVersion),
        PackageError::Nuspec(NuspecError::Id(packgate_nuget::names::IdError::Empty)),
        PackageError::Nuspec(NuspecError::Version(NuGetVersion::parse("").unwrap_err())),
        PackageError::Nuspec(NuspecError::Dependency {
            id: String::new(),
            message: String::new(),
        }),
    ];
    for e in &errors {
        let r = e.reason();
        assert!(!r.is_empty() && r.len() <= 100, "{r}");
        assert!(r.bytes().all(|b| (0x20..0x7f).contains(&b)), "{r}");
    }
}
