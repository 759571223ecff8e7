//! Symbol packages (`.snupkg`): they follow their package, and misdirected pushes are refused
//! with nothing stored.

use super::{
    NO_PACKAGE_FOR_SYMBOLS, NOT_SYMBOLS, NOT_ZIP, REPO, SYMBOLS_TO_PACKAGE, expect_status,
    flat_versions, setup,
};
use crate::support::nuget_http::{Auth, Feed, Framing};
use crate::support::random_bytes;
use crate::support::snapshot::{assert_unchanged, nuget_snapshot};
use packgate_nuget::testing::Nupkg;

#[test]
fn symbol_packages_follow_their_package() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let pkg = Nupkg::new("Pg.Sym", "1.0.0");
    let symbols = Nupkg::new("Pg.Sym", "1.0.0").symbols();
    let snupkg_path = feed.flat_file_path("pg.sym", "1.0.0", "snupkg");

    // No package yet: 404, nothing stored.
    let before = nuget_snapshot(
        &server,
        REPO,
        &["Pg.Sym"],
        std::slice::from_ref(&snupkg_path),
        Auth::None,
    );
    feed.push_symbols(key, &symbols.bytes())
        .expect_refusal(404, NO_PACKAGE_FOR_SYMBOLS);
    assert_unchanged(&server, &before, "symbols before the package");

    feed.push_ok(key, &pkg.bytes());
    expect_status(&feed.get(&snupkg_path, Auth::None), 404);
    feed.push_symbols(key, &symbols.bytes()).expect_status(201);
    let resp = feed.get(&snupkg_path, Auth::None);
    expect_status(&resp, 200);
    assert_eq!(resp.body, symbols.bytes(), ".snupkg byte for byte");
    let head = server.http().head_with(&snupkg_path, &[]);
    expect_status(&head, 200);
    assert!(head.body.is_empty());

    // Re-pushing replaces; any spelling of id and version; with and without the slash.
    let replacement = Nupkg::new("pg.sym", "1.0.0.0")
        .symbols()
        .file("lib/netstandard2.0/Pg.Sym.pdb", random_bytes(3000, 5));
    feed.put_file("symbolpackage", key, &replacement.bytes(), Framing::Sized)
        .expect_status(201);
    let resp = feed.get(
        &feed.flat_file_path("Pg.Sym", "1.0.0.0", "snupkg"),
        Auth::None,
    );
    expect_status(&resp, 200);
    assert_eq!(
        resp.body,
        replacement.bytes(),
        "the second push replaced the first"
    );
    assert_eq!(
        feed.get(&feed.flat_file_path("pg.sym", "1.0.0", "nupkg"), Auth::None)
            .body,
        pkg.bytes(),
        "the package itself is untouched"
    );
    assert_eq!(flat_versions(&feed, "pg.sym"), ["1.0.0"]);

    // Each kind goes to its own endpoint.
    let before = nuget_snapshot(
        &server,
        REPO,
        &["Pg.Sym", "Pg.Sym2"],
        &[snupkg_path],
        Auth::None,
    );
    feed.push(key, &Nupkg::new("Pg.Sym2", "1.0.0").symbols().bytes())
        .expect_refusal(400, SYMBOLS_TO_PACKAGE);
    feed.push_symbols(key, &Nupkg::new("Pg.Sym", "1.0.0").bytes())
        .expect_refusal(400, NOT_SYMBOLS);
    feed.push_symbols(key, b"not a zip at all")
        .expect_refusal(400, NOT_ZIP);
    feed.push_symbols(key, &Nupkg::new("Pg.Sym", "7.0.0").symbols().bytes())
        .expect_refusal(404, NO_PACKAGE_FOR_SYMBOLS);
    assert_unchanged(&server, &before, "misdirected packages");
}
