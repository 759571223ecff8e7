//! The `.nupkg` builder (`packgate_nuget::testing`) on its own, without a server:
//! the layout it writes is the one the other NuGet tests rely on.

use packgate_nuget::testing::{NUSPEC_NS, Nupkg, RawEntry, raw_zip};
use std::io::Read;

#[test]
fn nupkg_builder_writes_the_expected_layout() {
    let pkg = Nupkg::new("Pg.Layout", "1.0.0")
        .dep_group(Some("net472"), &[("Pg.Dep", "1.0")])
        .dep_group(Some("netstandard2.0"), &[])
        .tags("a b");
    let bytes = pkg.bytes();
    assert_eq!(bytes, pkg.bytes(), "the builder is deterministic");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a readable zip");
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.expect("entry name").into_owned())
        .collect();
    for want in [
        "_rels/.rels",
        "Pg.Layout.nuspec",
        "lib/netstandard2.0/Pg.Layout.dll",
        "[Content_Types].xml",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let mut nuspec = String::new();
    zip.by_name("Pg.Layout.nuspec")
        .expect("nuspec")
        .read_to_string(&mut nuspec)
        .expect("read nuspec");
    assert_eq!(nuspec, pkg.nuspec());
    assert!(nuspec.contains(NUSPEC_NS));
    assert!(nuspec.contains("<group targetFramework=\"net472\">"));
    assert!(nuspec.contains("<dependency id=\"Pg.Dep\" version=\"1.0\" />"));
    assert!(nuspec.contains("<group targetFramework=\"netstandard2.0\" />"));

    let symbols = Nupkg::new("Pg.Layout", "1.0.0").symbols();
    assert_eq!(symbols.file_name(), "Pg.Layout.1.0.0.snupkg");
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(symbols.bytes())).expect("a readable zip");
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.expect("entry name").into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".pdb")), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with(".dll")), "{names:?}");
    let mut text = String::new();
    zip.by_name("Pg.Layout.nuspec")
        .expect("nuspec")
        .read_to_string(&mut text)
        .expect("read");
    assert!(
        text.contains("<packageType name=\"SymbolsPackage\" />"),
        "{text}"
    );

    // The raw writer: a zeros entry inflates to exactly its size and CRC (checked by the zip
    // reader), and a corrupt entry fails its CRC.
    let raw = raw_zip(&[
        RawEntry::deflated("a.nuspec", b"<x/>"),
        RawEntry::zeros("zeros.bin", 3),
    ]);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(raw)).expect("raw zip readable");
    let mut inflated = Vec::new();
    zip.by_name("zeros.bin")
        .expect("zeros entry")
        .read_to_end(&mut inflated)
        .expect("inflate zeros with a matching CRC");
    assert_eq!(inflated.len(), 3 << 20);
    assert!(inflated.iter().all(|b| *b == 0));
    let sparse = RawEntry::sparse("sparse.bin", 4);
    let ratio = (4u64 << 20) / sparse.data.len() as u64;
    assert!((20..900).contains(&ratio), "sparse ratio {ratio}");
    let raw = raw_zip(&[sparse]);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(raw)).expect("raw zip readable");
    let mut inflated = Vec::new();
    zip.by_name("sparse.bin")
        .expect("sparse entry")
        .read_to_end(&mut inflated)
        .expect("inflate the sparse entry with a matching CRC");
    assert_eq!(inflated.len(), 4 << 20);
    let corrupt = pkg.bytes_with_corrupt_entry();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(corrupt)).expect("readable");
    let mut sink = Vec::new();
    assert!(
        zip.by_name("content/corrupt.txt")
            .expect("entry")
            .read_to_end(&mut sink)
            .is_err(),
        "the corrupt entry must fail its CRC"
    );
}
