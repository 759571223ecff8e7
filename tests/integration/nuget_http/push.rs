//! Pushing packages: the push story (flat-container downloads with HEAD, ETag, Range and
//! immutable caching, nuspec entries, the registration), duplicates whatever the spelling, the
//! body framings NuGet uses (`Content-Length`, chunked, `Expect: 100-continue`, first file part),
//! the key header and Basic credentials, and the repository's `max_upload` (413, nothing stored).

use super::{
    DUPLICATE, REPO, TOO_LARGE, expect_status, flat_versions, is_listed, mentions,
    registration_pages, search, setup,
};
use crate::support::nuget_http::{
    Auth, Feed, Framing, Part, multipart_content_type, multipart_parts,
};
use crate::support::snapshot::{assert_unchanged, nuget_snapshot};
use crate::support::{TestServer, random_bytes};
use packgate_nuget::testing::Nupkg;
use serde_json::json;

#[test]
fn push_then_flat_container_downloads_and_registration() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let pkg = Nupkg::new("Pg.Demo", "1.2.3")
        .authors("Alice")
        .description("Demo widgets.")
        .title("Demo")
        .tags("demo widgets")
        .license_expression("MIT")
        .file("lib/netstandard2.0/blob.bin", random_bytes(50_000, 7));
    let bytes = pkg.bytes();
    let blobs = server.blob_count();
    let resp = feed.push(key, &bytes);
    resp.expect_status(201);
    if let (Some(before), Some(after)) = (blobs, server.blob_count()) {
        assert!(
            after > before,
            "a push stores the .nupkg under data_dir/blobs (makes the unchanged checks meaningful)"
        );
    }

    // Flat container: exactly the normalized lower-case version.
    let index = feed.get_json(&feed.flat_index_path("pg.demo"), Auth::None);
    assert_eq!(index, json!({"versions": ["1.2.3"]}));

    // The .nupkg byte for byte, with caching headers, HEAD and Range.
    let path = feed.flat_file_path("pg.demo", "1.2.3", "nupkg");
    let get = feed.get(&path, Auth::None);
    expect_status(&get, 200);
    assert_eq!(get.body, bytes, "download = pushed bytes");
    assert_eq!(
        get.header("content-type"),
        Some("application/octet-stream"),
        "nupkg content-type"
    );
    let etag = get.header("etag").expect("nupkg ETag").to_owned();
    let cache = get.header("cache-control").unwrap_or_default();
    assert!(
        cache.contains("immutable"),
        "a version's .nupkg is immutable: cache-control {cache:?}"
    );
    let head = server.http().head_with(&path, &[]);
    expect_status(&head, 200);
    assert!(head.body.is_empty(), "HEAD with a body");
    assert_eq!(head.header("etag"), Some(etag.as_str()), "HEAD ETag");
    assert_eq!(
        head.header("content-length"),
        Some(bytes.len().to_string().as_str()),
        "HEAD content-length"
    );
    let ranged = server
        .http()
        .get_with(&path, &[("range", "bytes=100-1099")]);
    expect_status(&ranged, 206);
    assert_eq!(ranged.body, bytes[100..1100], "Range body");
    assert_eq!(
        ranged.header("content-range"),
        Some(format!("bytes 100-1099/{}", bytes.len()).as_str())
    );

    // The nuspec entry byte for byte.
    let nuspec_path = feed.nuspec_path("pg.demo", "1.2.3");
    let nuspec = feed.get(&nuspec_path, Auth::None);
    expect_status(&nuspec, 200);
    assert_eq!(nuspec.body, pkg.nuspec().into_bytes(), "nuspec = the entry");
    let ct = nuspec.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/xml") || ct.starts_with("text/xml"),
        "nuspec content-type {ct:?}"
    );
    for head_path in [feed.flat_index_path("pg.demo"), nuspec_path.clone()] {
        let head = server.http().head_with(&head_path, &[]);
        expect_status(&head, 200);
        assert!(head.body.is_empty(), "HEAD {head_path} with a body");
    }

    // Unknown things are 404.
    for missing in [
        feed.flat_index_path("pg.nothing"),
        feed.flat_file_path("pg.demo", "9.9.9", "nupkg"),
        feed.flat_file_path("pg.nothing", "1.2.3", "nupkg"),
        feed.nuspec_path("pg.demo", "9.9.9"),
        feed.flat_file_path("pg.demo", "1.2.3", "snupkg"),
        feed.registration_path("pg.nothing"),
        feed.path("registration/pg.demo/9.9.9.json"),
    ] {
        expect_status(&feed.get(&missing, Auth::None), 404);
    }

    // Registration: one inlined page, one leaf with the nuspec's metadata.
    let (index, pages) = registration_pages(&feed, "pg.demo", Auth::None);
    assert_eq!(index["count"], 1, "{index}");
    let page = &pages[0];
    assert_eq!(
        (page["lower"].as_str(), page["upper"].as_str()),
        (Some("1.2.3"), Some("1.2.3"))
    );
    let leaf = &page["items"][0];
    let leaf_url = feed.url("registration/pg.demo/1.2.3.json");
    let content_url = feed.url("flatcontainer/pg.demo/1.2.3/pg.demo.1.2.3.nupkg");
    assert_eq!(leaf["@id"].as_str(), Some(leaf_url.as_str()), "{leaf}");
    assert_eq!(leaf["packageContent"].as_str(), Some(content_url.as_str()));
    let entry = &leaf["catalogEntry"];
    assert!(entry["@id"].as_str().is_some_and(|u| u.starts_with("http")));
    assert_eq!(entry["id"], "Pg.Demo");
    assert_eq!(entry["version"], "1.2.3");
    assert!(mentions(&entry["authors"], "Alice"), "authors: {entry}");
    assert_eq!(entry["description"], "Demo widgets.");
    assert_eq!(entry["title"], "Demo");
    assert!(mentions(&entry["tags"], "widgets"), "tags: {entry}");
    assert_eq!(entry["licenseExpression"], "MIT");
    assert!(is_listed(entry), "{entry}");
    if let Some(pc) = entry.get("packageContent") {
        assert_eq!(pc.as_str(), Some(content_url.as_str()));
    }
    let leaf_doc = feed.get_json(&leaf_url, Auth::None);
    assert_eq!(
        leaf_doc["@id"].as_str(),
        Some(leaf_url.as_str()),
        "{leaf_doc}"
    );

    // Push without the trailing slash works too.
    let next = Nupkg::new("Pg.Demo", "1.2.4");
    feed.put_file("package", key, &next.bytes(), Framing::Sized)
        .expect_status(201);
    assert_eq!(flat_versions(&feed, "pg.demo"), ["1.2.3", "1.2.4"]);
    // And the search finds it.
    let (total, hits) = search(&feed, "q=pg.demo&semVerLevel=2.0.0");
    assert_eq!(total, 1);
    assert_eq!(hits[0]["id"], "Pg.Demo");
    assert_eq!(hits[0]["version"], "1.2.4");
}

#[test]
fn duplicates_conflict_whatever_the_spelling() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let originals = [
        Nupkg::new("Pg.Dup", "1.0.0.0"),
        Nupkg::new("Pg.Dup", "2.0.0-beta"),
        Nupkg::new("Pg.Dup", "3.0.0+a"),
    ];
    for p in &originals {
        feed.push_ok(key, &p.bytes());
    }
    let before = nuget_snapshot(&server, REPO, &["Pg.Dup"], &[], Auth::None);
    for (id, version) in [
        ("Pg.Dup", "1.0.0"),
        ("pg.dup", "1.0"),
        ("PG.DUP", "1.0.0.0"),
        ("Pg.Dup", "01.00.00"),
        ("Pg.Dup", "1.0.0+meta"),
        ("Pg.Dup", "2.0.0-BETA"),
        ("pg.dup", "2.0.0-beta"),
        ("Pg.Dup", "3.0.0+b"),
        ("Pg.Dup", "3.0.0"),
    ] {
        let dup = Nupkg::new(id, version).description("a different package");
        let resp = feed.push(key, &dup.bytes());
        resp.expect_refusal(409, DUPLICATE);
        assert_unchanged(
            &server,
            &before,
            &format!("duplicate push of {id} {version}"),
        );
    }
    for (segment, p) in ["1.0.0", "2.0.0-beta", "3.0.0"].iter().zip(&originals) {
        let resp = feed.get(&feed.flat_file_path("pg.dup", segment, "nupkg"), Auth::None);
        assert_eq!(
            resp.body,
            p.bytes(),
            "{segment} still serves the first push"
        );
    }
}

#[test]
fn push_accepts_chunked_bodies_expect_continue_and_takes_the_first_file_part() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let big =
        Nupkg::new("Pg.Wire", "1.0.0").file("lib/netstandard2.0/big.bin", random_bytes(300_000, 3));
    feed.put_file("package/", key, &big.bytes(), Framing::Chunked(4093))
        .expect_status(201);
    let tiny = Nupkg::new("Pg.Wire", "1.1.0");
    feed.put_file("package", key, &tiny.bytes(), Framing::Chunked(7))
        .expect_status(201);
    let cont = Nupkg::new("Pg.Wire", "1.2.0");
    let resp = feed.put_file("package/", key, &cont.bytes(), Framing::ExpectContinue);
    resp.expect_status(201);
    assert!(
        resp.got_continue,
        "Expect: 100-continue must get an interim 100 Continue (RFC 9110 §10.1.1)"
    );

    // A form field first and a second file after: the first file part is the package.
    let firsts = [
        Nupkg::new("Pg.Wire", "1.3.0"),
        Nupkg::new("Pg.Wire", "1.4.0"),
    ];
    let ct = multipart_content_type();
    for (first, framing) in firsts.iter().zip([Framing::Sized, Framing::Chunked(1000)]) {
        let bytes = first.bytes();
        let body = multipart_parts(&[
            Part::Field {
                name: "note",
                value: "not the package",
            },
            Part::File {
                name: "package",
                filename: "package.nupkg",
                bytes: &bytes,
            },
            Part::File {
                name: "other",
                filename: "other.nupkg",
                bytes: b"garbage after the package",
            },
        ]);
        feed.raw(
            "PUT",
            &feed.path("package/"),
            key,
            &[("Content-Type", ct.as_str())],
            Some(&body),
            framing,
        )
        .expect_status(201);
    }

    assert_eq!(
        flat_versions(&feed, "pg.wire"),
        ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]
    );
    for (v, p) in [
        ("1.0.0", &big),
        ("1.1.0", &tiny),
        ("1.2.0", &cont),
        ("1.3.0", &firsts[0]),
        ("1.4.0", &firsts[1]),
    ] {
        let resp = feed.get(&feed.flat_file_path("pg.wire", v, "nupkg"), Auth::None);
        assert_eq!(resp.body, p.bytes(), "{v} stored byte for byte");
    }
}

#[test]
fn push_accepts_the_key_header_and_basic_credentials() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    for (key, version) in [
        (Auth::ApiKey(&token), "1.0.0"),
        (Auth::Basic("alice", &token), "1.1.0"),
    ] {
        let resp = feed.push(key, &Nupkg::new("Pg.Keys", version).bytes());
        assert_eq!(
            resp.status,
            201,
            "push with {key:?}: {} {:?} {}",
            resp.status,
            resp.reason,
            resp.text()
        );
    }
    assert_eq!(flat_versions(&feed, "pg.keys"), ["1.0.0", "1.1.0"]);
}

#[test]
fn push_over_the_repository_max_upload_is_payload_too_large() {
    let server = TestServer::builder()
        .extra_config(
            "[[repository]]\nname = \"nuget-small\"\nformat = \"nuget\"\ntype = \"hosted\"\n\
             anonymous_read = true\nmax_upload = \"64 KiB\"\n",
        )
        .start();
    let token = server.publisher("alice");
    let key = Auth::ApiKey(&token);
    let small = Feed::new(&server, "nuget-small");
    let big = Nupkg::new("Pg.Hefty", "1.0.0")
        .file("lib/netstandard2.0/blob.bin", random_bytes(200 * 1024, 11));
    let bytes = big.bytes();
    assert!(bytes.len() > 150 * 1024, "incompressible payload");
    let before = nuget_snapshot(&server, "nuget-small", &["Pg.Hefty"], &[], Auth::None);
    for framing in [Framing::Sized, Framing::Chunked(16 * 1024)] {
        let resp = small.put_file("package/", key, &bytes, framing);
        resp.expect_refusal(413, TOO_LARGE);
        assert_unchanged(
            &server,
            &before,
            &format!("{framing:?} push over max_upload"),
        );
    }
    // Form fields before the file part count against the limit too.
    let filler = "x".repeat(100 * 1024);
    let small_pkg = Nupkg::new("Pg.Hefty", "1.0.0").bytes();
    let padded = multipart_parts(&[
        Part::Field {
            name: "note",
            value: &filler,
        },
        Part::File {
            name: "package",
            filename: "package.nupkg",
            bytes: &small_pkg,
        },
    ]);
    let ct = multipart_content_type();
    small
        .raw(
            "PUT",
            &small.path("package/"),
            key,
            &[("Content-Type", ct.as_str())],
            Some(&padded),
            Framing::Chunked(16 * 1024),
        )
        .expect_refusal(413, TOO_LARGE);
    assert_unchanged(
        &server,
        &before,
        "a form field over max_upload before the file part",
    );
    // The limit is the repository's: the same package fits the default repository, and a small
    // one fits the small repository.
    Feed::new(&server, REPO).push_ok(key, &bytes);
    small.push_ok(key, &Nupkg::new("Pg.Hefty", "1.0.0").bytes());
    assert_eq!(flat_versions(&small, "pg.hefty"), ["1.0.0"]);
}
