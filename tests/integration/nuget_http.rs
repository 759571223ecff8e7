//! The NuGet v3 feed over crafted HTTP: the service index; push (multipart, `Content-Length`,
//! chunked, `Expect: 100-continue`, first file part) and the flat container (version lists,
//! byte-exact downloads with HEAD, ETag, Range and immutable caching, nuspec entries);
//! case-insensitive ids and normalized versions; duplicates; registrations inlined and paged
//! (130 versions, every page at its `@id`, old page URLs still answering); dependency groups;
//! search and autocomplete with their prerelease / SemVer 2.0.0 filters; unlist, relist,
//! deprecation, symbol packages; the private repository; and every refusal with its status, its
//! exact reason phrase (all NuGet shows), a JSON `message`, and nothing stored (flat index,
//! registration, search, blob count). Packages are built in Rust (`support::nupkg_builder`).
//! Protocol: /work/shared/protocols/nuget.md; packgate's choices: docs/formats/nuget.md.

use crate::support::nuget_http::{
    Auth, Feed, Framing, NuResp, Part, basic, expect_basic_challenge, multipart,
    multipart_content_type, multipart_parts,
};
use crate::support::nuget_snapshot::{assert_nuget_unchanged, nuget_snapshot};
use crate::support::nupkg_builder::{
    NUSPEC_NS, Nupkg, RawEntry, nuspec_with_metadata, raw_entries_of, raw_zip, zip_of,
};
use crate::support::{Resp, TestServer, random_bytes};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Read;

const REPO: &str = "nuget";
const PRIVATE: &str = "nuget-private";

// Reason phrases (docs/formats/nuget.md, "Errors").
const NOT_ZIP: &str = "The package is not a valid zip archive";
const NO_NUSPEC: &str = "The package contains no .nuspec file";
const MANY_NUSPECS: &str = "The package contains more than one .nuspec file";
const DTD: &str = "The .nuspec file contains a DTD or entity; these are not allowed";
const NOT_WELL_FORMED: &str = "The .nuspec file is not well-formed XML";
const NO_ID: &str = "The .nuspec file has no package id";
const NO_VERSION: &str = "The .nuspec file has no package version";
const BAD_ID: &str = "The package id is not valid";
const BAD_VERSION: &str = "The package version is not a valid NuGet version";
const BAD_DEPENDENCY: &str = "A dependency in the .nuspec file is not valid";
const BAD_PATH: &str = "The package contains an entry with an absolute or '..' path";
const TOO_BIG_UNPACKED: &str = "The package unpacks to more than the size limit";
const CORRUPT: &str = "The package contains a corrupt entry";
const SYMBOLS_TO_PACKAGE: &str = "Symbol packages must be pushed to the symbol package endpoint";
const NOT_SYMBOLS: &str = "The symbol package does not declare the SymbolsPackage type";
const NO_FILE_PART: &str = "The request has no package file part";
const DUPLICATE: &str = "A package with this id and version already exists";
const TOO_LARGE: &str = "The package exceeds the size limit";
const KEY_REQUIRED: &str = "An API key is required";
const KEY_INVALID: &str = "The API key is invalid, revoked or expired";
const FORBIDDEN: &str = "The API key does not allow this operation";
const NO_VERSION_404: &str = "The package version does not exist";
const NO_PACKAGE_FOR_SYMBOLS: &str = "The package for this symbol package does not exist";
const READ_CREDENTIALS: &str = "Credentials are required to read this feed";
const BAD_DEPRECATION: &str = "The deprecation is not valid";

/// A server plus the token of user `alice` (scopes read, publish, delete; all repositories).
fn setup() -> (TestServer, String) {
    let server = TestServer::start();
    let token = server.publisher("alice");
    (server, token)
}

/// The `versions` of a flat-container index that must answer 200.
fn flat_versions(feed: &Feed, id: &str) -> Vec<String> {
    let doc = feed.get_json(&feed.flat_index_path(id), Auth::None);
    strings(&doc["versions"])
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("expected strings in {v}"))
                .to_owned()
        })
        .collect()
}

fn expect_status(resp: &Resp, status: u16) {
    assert_eq!(
        resp.status,
        status,
        "{}: expected {status}, got {}: {}",
        resp.request,
        resp.status,
        resp.text()
    );
}

/// The registration pages of `id`, each fetched at its `@id` when the index omits its items,
/// checked for the fields the client dereferences.
fn registration_pages(feed: &Feed, id: &str, key: Auth<'_>) -> (Value, Vec<Value>) {
    let index_url = feed.url(&format!(
        "registration/{}/index.json",
        id.to_ascii_lowercase()
    ));
    let index = feed.get_json(&feed.registration_path(id), key);
    assert_eq!(
        index["@id"].as_str(),
        Some(index_url.as_str()),
        "registration index @id: {index}"
    );
    let pages = index["items"]
        .as_array()
        .unwrap_or_else(|| panic!("registration index without items: {index}"));
    assert_eq!(
        index["count"].as_u64(),
        Some(pages.len() as u64),
        "index count = number of pages: {index}"
    );
    let mut out = Vec::new();
    for page in pages {
        for field in ["@id", "lower", "upper"] {
            assert!(
                page[field].is_string(),
                "page without string {field}: {page}"
            );
        }
        let page = if page.get("items").is_some() {
            assert_eq!(
                page["parent"].as_str(),
                Some(index_url.as_str()),
                "inlined page parent: {page}"
            );
            page.clone()
        } else {
            let url = page["@id"].as_str().expect("page @id");
            let doc = feed.get_json(url, key);
            assert_eq!(doc["@id"].as_str(), Some(url), "page document @id");
            assert_eq!(doc["lower"], page["lower"], "page lower: {doc}");
            assert_eq!(doc["upper"], page["upper"], "page upper: {doc}");
            assert_eq!(doc["count"], page["count"], "page count: {doc}");
            assert_eq!(
                doc["parent"].as_str(),
                Some(index_url.as_str()),
                "page parent: {doc}"
            );
            doc
        };
        let items = page["items"].as_array().expect("page items");
        assert_eq!(
            page["count"].as_u64(),
            Some(items.len() as u64),
            "page count = number of items: {page}"
        );
        for bound in ["lower", "upper"] {
            let b = page[bound].as_str().unwrap_or_default();
            assert!(
                !b.contains('+') && b == b.to_ascii_lowercase(),
                "page {bound} must be normalized lower case without metadata: {b:?}"
            );
        }
        out.push(page);
    }
    (index, out)
}

/// Every catalogEntry of `id`, in registration order.
fn catalog_entries(feed: &Feed, id: &str, key: Auth<'_>) -> Vec<Value> {
    let (_, pages) = registration_pages(feed, id, key);
    pages
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .map(|leaf| {
            for field in ["@id", "packageContent", "catalogEntry"] {
                assert!(!leaf[field].is_null(), "leaf without {field}: {leaf}");
            }
            leaf["catalogEntry"].clone()
        })
        .collect()
}

/// The catalogEntry whose version (metadata dropped, lower-cased) is `lower_version`.
fn entry_for(entries: &[Value], lower_version: &str) -> Value {
    entries
        .iter()
        .find(|e| {
            let v = e["version"].as_str().unwrap_or_default();
            v.split('+').next().unwrap_or_default().to_ascii_lowercase() == lower_version
        })
        .unwrap_or_else(|| panic!("no catalogEntry for {lower_version} in {entries:?}"))
        .clone()
}

fn entry_versions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["version"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `listed` absent counts as listed.
fn is_listed(entry: &Value) -> bool {
    entry.get("listed").and_then(Value::as_bool).unwrap_or(true)
}

/// `GET query?{qs}` → (totalHits, data).
fn search(feed: &Feed, qs: &str) -> (u64, Vec<Value>) {
    let doc = feed.get_json(&feed.path(&format!("query?{qs}")), Auth::None);
    let total = doc["totalHits"]
        .as_u64()
        .unwrap_or_else(|| panic!("query?{qs}: no numeric totalHits: {doc}"));
    let data = doc["data"]
        .as_array()
        .unwrap_or_else(|| panic!("query?{qs}: no data array: {doc}"))
        .clone();
    (total, data)
}

fn hit_ids(hits: &[Value]) -> BTreeSet<String> {
    hits.iter()
        .map(|h| h["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn hit<'a>(hits: &'a [Value], id: &str) -> &'a Value {
    hits.iter()
        .find(|h| h["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no hit {id} in {hits:?}"))
}

fn hit_versions(h: &Value) -> Vec<String> {
    h["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("hit without versions: {h}"))
        .iter()
        .map(|v| v["version"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `GET autocomplete?{qs}` → (totalHits if present, data).
fn autocomplete(feed: &Feed, qs: &str) -> (Option<u64>, Vec<String>) {
    let doc = feed.get_json(&feed.path(&format!("autocomplete?{qs}")), Auth::None);
    (doc["totalHits"].as_u64(), strings(&doc["data"]))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Asserts `value` (a string, or an array of strings) mentions `needle`.
fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a
            .iter()
            .any(|v| v.as_str().is_some_and(|s| s.contains(needle))),
        _ => false,
    }
}

// ------------------------------------------------------------------------------------------------
// The builder itself (no server)
// ------------------------------------------------------------------------------------------------

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

// ------------------------------------------------------------------------------------------------
// Service index, push, flat container, registration
// ------------------------------------------------------------------------------------------------

#[test]
fn service_index_lists_every_resource_anonymously() {
    let server = TestServer::start();
    for repo in [REPO, PRIVATE] {
        let feed = Feed::new(&server, repo);
        let resp = feed.get(&feed.path("index.json"), Auth::None);
        expect_status(&resp, 200);
        let ct = resp.header("content-type").unwrap_or_default();
        assert!(ct.contains("json"), "{repo}: index content-type {ct:?}");
        let doc = resp.json();
        assert_eq!(doc["version"], "3.0.0", "{repo}: {doc}");
        let mut pairs = BTreeSet::new();
        for r in doc["resources"].as_array().expect("resources") {
            let id = r["@id"].as_str().expect("@id").to_owned();
            assert!(
                id.starts_with(&feed.url("")),
                "{repo}: every resource lives under {{repo}}/v3/: {id}"
            );
            match &r["@type"] {
                Value::String(t) => {
                    pairs.insert((id.clone(), t.clone()));
                }
                Value::Array(ts) => {
                    for t in ts {
                        pairs.insert((id.clone(), t.as_str().expect("type").to_owned()));
                    }
                }
                other => panic!("{repo}: bad @type {other}"),
            }
        }
        let want: &[(&str, &[&str])] = &[
            ("flatcontainer/", &["PackageBaseAddress/3.0.0"]),
            (
                "registration/",
                &[
                    "RegistrationsBaseUrl",
                    "RegistrationsBaseUrl/3.0.0-beta",
                    "RegistrationsBaseUrl/3.0.0-rc",
                    "RegistrationsBaseUrl/3.4.0",
                    "RegistrationsBaseUrl/3.6.0",
                ],
            ),
            (
                "query",
                &[
                    "SearchQueryService",
                    "SearchQueryService/3.0.0-beta",
                    "SearchQueryService/3.0.0-rc",
                    "SearchQueryService/3.5.0",
                ],
            ),
            (
                "autocomplete",
                &[
                    "SearchAutocompleteService",
                    "SearchAutocompleteService/3.0.0-beta",
                    "SearchAutocompleteService/3.0.0-rc",
                ],
            ),
            ("package", &["PackagePublish/2.0.0"]),
            ("symbolpackage", &["SymbolPackagePublish/4.9.0"]),
        ];
        for (rest, types) in want {
            for t in *types {
                assert!(
                    pairs.contains(&(feed.url(rest), t.to_string())),
                    "{repo}: missing {{\"@id\": {:?}, \"@type\": {t:?}}} in {doc}",
                    feed.url(rest)
                );
            }
        }
        let head = server.http().head_with(&feed.path("index.json"), &[]);
        expect_status(&head, 200);
        assert!(head.body.is_empty(), "{repo}: HEAD index.json with a body");
    }
}

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
fn ids_are_case_insensitive_and_keep_the_first_spelling() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let first = Nupkg::new("Acme.Widget", "1.0.0");
    let second = Nupkg::new("acme.widget", "2.0.0");
    feed.push_ok(key, &first.bytes());
    feed.push_ok(key, &second.bytes());
    for spelling in ["acme.widget", "Acme.Widget", "ACME.WIDGET"] {
        assert_eq!(
            flat_versions(&feed, spelling),
            ["1.0.0", "2.0.0"],
            "flat index via {spelling}"
        );
        let entries = catalog_entries(&feed, spelling, Auth::None);
        assert_eq!(entry_versions(&entries), ["1.0.0", "2.0.0"]);
        for e in &entries {
            assert_eq!(e["id"], "Acme.Widget", "the first push's spelling: {e}");
        }
    }
    for (id, version, pkg) in [
        ("Acme.Widget", "2.0.0", &second),
        ("ACME.widget", "1.0.0", &first),
        ("acme.widget", "1.0.0", &first),
    ] {
        let resp = feed.get(&feed.flat_file_path(id, version, "nupkg"), Auth::None);
        expect_status(&resp, 200);
        assert_eq!(resp.body, pkg.bytes(), "download via {id}/{version}");
    }
    let (total, hits) = search(&feed, "q=widget&semVerLevel=2.0.0");
    assert_eq!(total, 1, "one package: {hits:?}");
    assert_eq!(hits[0]["id"], "Acme.Widget");
    assert_eq!(hit_versions(&hits[0]), ["1.0.0", "2.0.0"]);
    let (_, ids) = autocomplete(&feed, "q=acme&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(ids, ["Acme.Widget"]);
}

#[test]
fn versions_are_normalized() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let pkgs = [
        Nupkg::new("Pg.Norm", "1.0.0.0"),
        Nupkg::new("Pg.Norm", "1.00.01"),
        Nupkg::new("Pg.Norm", "2.0.0.5"),
        Nupkg::new("Pg.Norm", "3.0.0-RC.1+build.7"),
    ];
    for p in &pkgs {
        feed.push_ok(key, &p.bytes());
    }
    assert_eq!(
        flat_versions(&feed, "pg.norm"),
        ["1.0.0", "1.0.1", "2.0.0.5", "3.0.0-rc.1"]
    );
    for (segment, i) in [
        ("1.0.0", 0),
        ("1.0.0.0", 0),
        ("1.0", 0),
        ("1.0.1", 1),
        ("1.00.01", 1),
        ("2.0.0.5", 2),
        ("3.0.0-rc.1", 3),
        ("3.0.0-RC.1", 3),
    ] {
        let resp = feed.get(
            &feed.flat_file_path("pg.norm", segment, "nupkg"),
            Auth::None,
        );
        expect_status(&resp, 200);
        assert_eq!(resp.body, pkgs[i].bytes(), "download at {segment}");
        let nuspec = feed.get(&feed.nuspec_path("pg.norm", segment), Auth::None);
        expect_status(&nuspec, 200);
        assert_eq!(nuspec.text(), pkgs[i].nuspec(), "nuspec at {segment}");
    }
    let entries = catalog_entries(&feed, "pg.norm", Auth::None);
    assert_eq!(
        entry_versions(&entries),
        ["1.0.0", "1.0.1", "2.0.0.5", "3.0.0-RC.1+build.7"],
        "catalogEntry.version is the full normalized version"
    );
    let (_, pages) = registration_pages(&feed, "pg.norm", Auth::None);
    assert_eq!(pages[0]["lower"], "1.0.0");
    assert_eq!(pages[0]["upper"], "3.0.0-rc.1");
    let rc_leaf = feed.url("registration/pg.norm/3.0.0-rc.1.json");
    let rc = &pages[0]["items"][3];
    assert_eq!(rc["@id"].as_str(), Some(rc_leaf.as_str()), "{rc}");
    assert_eq!(
        rc["packageContent"].as_str(),
        Some(
            feed.url("flatcontainer/pg.norm/3.0.0-rc.1/pg.norm.3.0.0-rc.1.nupkg")
                .as_str()
        )
    );
    expect_status(&feed.get(&rc_leaf, Auth::None), 200);
    let (_, versions) = autocomplete(&feed, "id=pg.norm&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        versions,
        ["1.0.0", "1.0.1", "2.0.0.5", "3.0.0-RC.1+build.7"]
    );
}

#[test]
fn flat_index_orders_versions_by_nuget_precedence() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    for v in [
        "1.0.0",
        "1.0.0-beta.10",
        "10.0.0",
        "1.0.0-alpha",
        "1.0.0.1",
        "1.0.0-Beta",
        "2.0.0",
        "1.0.0-beta.2",
        "0.9.0",
    ] {
        feed.push_ok(Auth::ApiKey(&token), &Nupkg::new("Pg.Order", v).bytes());
    }
    assert_eq!(
        flat_versions(&feed, "pg.order"),
        [
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.10",
            "1.0.0",
            "1.0.0.1",
            "2.0.0",
            "10.0.0"
        ]
    );
    assert_eq!(
        entry_versions(&catalog_entries(&feed, "pg.order", Auth::None)),
        [
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-Beta",
            "1.0.0-beta.2",
            "1.0.0-beta.10",
            "1.0.0",
            "1.0.0.1",
            "2.0.0",
            "10.0.0"
        ]
    );
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
        assert_nuget_unchanged(
            &server,
            REPO,
            Auth::None,
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

/// (major, minor, patch) of a plain `x.y.z` version.
fn triple(v: &str) -> (u64, u64, u64) {
    let parts: Vec<u64> = v
        .split('.')
        .map(|p| p.parse().unwrap_or_else(|_| panic!("not x.y.z: {v}")))
        .collect();
    assert_eq!(parts.len(), 3, "not x.y.z: {v}");
    (parts[0], parts[1], parts[2])
}

fn page_versions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| {
            l["catalogEntry"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn registration_is_inlined_below_128_versions_then_paged() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let push = |v: &str| feed.push_ok(key, &Nupkg::new("Pg.Big", v).bytes());
    for i in 1..=127 {
        push(&format!("1.0.{i}"));
    }
    // 127 versions: every page inlined, at most 64 per page.
    let (index, pages) = registration_pages(&feed, "pg.big", Auth::None);
    let raw_pages = index["items"].as_array().expect("pages");
    assert!(
        raw_pages.iter().all(|p| p.get("items").is_some()),
        "below 128 versions every page is inlined: {index}"
    );
    assert!(
        pages.iter().all(|p| p["count"].as_u64().unwrap_or(0) <= 64),
        "at most 64 versions per page"
    );
    let all: Vec<String> = pages.iter().flat_map(page_versions).collect();
    let want: Vec<String> = (1..=127).map(|i| format!("1.0.{i}")).collect();
    assert_eq!(all, want);

    // 128 versions: pages of 64 without items in the index, each at its @id.
    push("1.0.128");
    let (index, pages) = registration_pages(&feed, "pg.big", Auth::None);
    let raw_pages = index["items"].as_array().expect("pages").clone();
    assert!(
        raw_pages.iter().all(|p| p.get("items").is_none()),
        "from 128 versions on the index omits the items: {index}"
    );
    assert_eq!(raw_pages.len(), 2, "{index}");
    let counts: Vec<u64> = pages
        .iter()
        .map(|p| p["count"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [64, 64]);
    for p in &raw_pages {
        let want_url = feed.url(&format!(
            "registration/pg.big/page/{}/{}.json",
            p["lower"].as_str().unwrap_or_default(),
            p["upper"].as_str().unwrap_or_default()
        ));
        assert_eq!(p["@id"].as_str(), Some(want_url.as_str()), "page @id");
    }
    let all: Vec<String> = pages.iter().flat_map(page_versions).collect();
    let want: Vec<String> = (1..=128).map(|i| format!("1.0.{i}")).collect();
    assert_eq!(all, want);
    let old_urls: Vec<(String, String, String)> = raw_pages
        .iter()
        .map(|p| {
            (
                p["@id"].as_str().unwrap_or_default().to_owned(),
                p["lower"].as_str().unwrap_or_default().to_owned(),
                p["upper"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();

    // Two more on top and one below: every page boundary shifts.
    push("1.0.129");
    push("1.0.130");
    push("0.9.0");
    let (index, pages) = registration_pages(&feed, "pg.big", Auth::None);
    assert_eq!(index["count"], 3, "131 versions in pages of 64: {index}");
    let counts: Vec<u64> = pages
        .iter()
        .map(|p| p["count"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(counts, [64, 64, 3]);
    let all: Vec<String> = pages.iter().flat_map(page_versions).collect();
    let mut want: Vec<String> = vec!["0.9.0".to_owned()];
    want.extend((1..=130).map(|i| format!("1.0.{i}")));
    assert_eq!(all, want, "every version exactly once, ascending");
    for p in &pages {
        let versions = page_versions(p);
        assert_eq!(p["lower"].as_str(), versions.first().map(String::as_str));
        assert_eq!(p["upper"].as_str(), versions.last().map(String::as_str));
    }
    // Page URLs handed out before the shift still answer: the versions between their bounds.
    for (url, lower, upper) in &old_urls {
        let doc = feed.get_json(url, Auth::None);
        let (lo, hi) = (triple(lower), triple(upper));
        let expected: Vec<String> = want
            .iter()
            .filter(|v| (lo..=hi).contains(&triple(v)))
            .cloned()
            .collect();
        assert_eq!(
            page_versions(&doc),
            expected,
            "old page URL {url} answers the versions between its bounds"
        );
    }
    assert_eq!(flat_versions(&feed, "pg.big").len(), 131);
    let (_, hits) = search(&feed, "q=packageid:Pg.Big&semVerLevel=2.0.0");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["version"], "1.0.130");
}

#[test]
fn dependency_groups_and_legacy_dependencies() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    feed.push_ok(key, &Nupkg::new("Pg.Base", "1.0.0").bytes());
    let app = Nupkg::new("Pg.App", "1.0.0")
        .dep_group(
            Some("net472"),
            &[("Pg.Base", "1.0"), ("Other.Lib", "[2.0,3.0)")],
        )
        .dep_group(
            Some("netstandard2.0"),
            &[("Pg.Base", "[1.0.0]"), ("Any.Version", "")],
        )
        .dep_group(Some("net8.0"), &[]);
    feed.push_ok(key, &app.bytes());
    let legacy = Nupkg::new("Pg.Legacy", "1.0.0")
        .legacy_deps(&[("Pg.Base", "1.0.0"), ("Other.Lib", "(,2.0]")]);
    feed.push_ok(key, &legacy.bytes());

    let entry = entry_for(&catalog_entries(&feed, "pg.app", Auth::None), "1.0.0");
    let groups = entry["dependencyGroups"]
        .as_array()
        .unwrap_or_else(|| panic!("no dependencyGroups: {entry}"));
    assert_eq!(
        groups.len(),
        3,
        "one group per framework, the empty one kept: {entry}"
    );
    let deps = |g: &Value| -> Vec<(String, Option<String>)> {
        g["dependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap_or_default().to_owned(),
                    d["range"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    let tfm = |g: &Value| {
        g["targetFramework"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase()
    };
    assert_eq!(tfm(&groups[0]), "net472", "{entry}");
    assert_eq!(
        deps(&groups[0]),
        [
            ("Pg.Base".to_owned(), Some("[1.0.0, )".to_owned())),
            ("Other.Lib".to_owned(), Some("[2.0.0, 3.0.0)".to_owned())),
        ]
    );
    assert_eq!(tfm(&groups[1]), "netstandard2.0", "{entry}");
    let ns = deps(&groups[1]);
    assert_eq!(ns.len(), 2, "{entry}");
    assert_eq!(ns[0].0, "Pg.Base");
    assert!(
        matches!(ns[0].1.as_deref(), Some("[1.0.0, 1.0.0]") | Some("[1.0.0]")),
        "exact range normalized: {:?}",
        ns[0].1
    );
    assert_eq!(ns[1].0, "Any.Version");
    assert!(
        matches!(ns[1].1.as_deref(), None | Some("") | Some("(, )")),
        "a dependency without version means any version: {:?}",
        ns[1].1
    );
    assert_eq!(tfm(&groups[2]), "net8.0", "{entry}");
    assert!(
        deps(&groups[2]).is_empty(),
        "the empty group has no dependencies"
    );

    let entry = entry_for(&catalog_entries(&feed, "pg.legacy", Auth::None), "1.0.0");
    let groups = entry["dependencyGroups"]
        .as_array()
        .unwrap_or_else(|| panic!("no dependencyGroups: {entry}"));
    assert_eq!(
        groups.len(),
        1,
        "legacy dependencies form one group: {entry}"
    );
    assert!(
        tfm(&groups[0]).is_empty(),
        "the legacy group has no framework: {entry}"
    );
    assert_eq!(
        deps(&groups[0]),
        [
            ("Pg.Base".to_owned(), Some("[1.0.0, )".to_owned())),
            ("Other.Lib".to_owned(), Some("(, 2.0.0]".to_owned())),
        ]
    );
    let base = entry_for(&catalog_entries(&feed, "pg.base", Auth::None), "1.0.0");
    assert!(
        base["dependencyGroups"]
            .as_array()
            .is_none_or(|g| g.is_empty()),
        "no dependencies: {base}"
    );
}

// ------------------------------------------------------------------------------------------------
// Search and autocomplete
// ------------------------------------------------------------------------------------------------

#[test]
fn search_filters_prerelease_semver2_and_pages() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    for p in [
        Nupkg::new("Pg.Search.Alpha", "1.0.0")
            .title("Shiny Alpha")
            .tags("needle alpha"),
        Nupkg::new("Pg.Search.Beta", "1.0.0"),
        Nupkg::new("Pg.Search.Beta", "2.0.0-beta"),
        Nupkg::new("Pg.Search.Gamma", "1.0.0-rc.1"),
        Nupkg::new("Pg.Search.Delta", "1.0.0+build.5"),
        Nupkg::new("Pg.Search.Eps", "1.0.0").dep_group(
            Some("netstandard2.0"),
            &[("Pg.Search.Gamma", "[1.0.0-rc.1, )")],
        ),
        Nupkg::new("Other.Thing", "1.0.0").description("Has a needle in its description."),
        Nupkg::new("Pg.Tool", "1.0.0").package_type("DotnetTool"),
    ] {
        feed.push_ok(key, &p.bytes());
    }
    let all5 = set(&[
        "Pg.Search.Alpha",
        "Pg.Search.Beta",
        "Pg.Search.Gamma",
        "Pg.Search.Delta",
        "Pg.Search.Eps",
    ]);

    // Everything visible.
    let (total, hits) = search(&feed, "q=pg.search&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(hit_ids(&hits), all5);
    assert_eq!(total, 5);
    let beta = hit(&hits, "Pg.Search.Beta");
    assert_eq!(beta["version"], "2.0.0-beta");
    assert_eq!(hit_versions(beta), ["1.0.0", "2.0.0-beta"]);
    assert_eq!(hit(&hits, "Pg.Search.Delta")["version"], "1.0.0+build.5");
    for h in &hits {
        let id = h["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        let reg = feed.url(&format!("registration/{id}/index.json"));
        assert_eq!(h["registration"].as_str(), Some(reg.as_str()), "{h}");
        assert!(h["description"].is_string(), "{h}");
    }

    // prerelease absent = false; semVerLevel absent hides SemVer 2.0.0 packages.
    let (total, hits) = search(&feed, "q=pg.search");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Pg.Search.Beta"]));
    assert_eq!(total, 2);
    let beta = hit(&hits, "Pg.Search.Beta");
    assert_eq!(beta["version"], "1.0.0");
    assert_eq!(hit_versions(beta), ["1.0.0"]);
    let (_, hits) = search(&feed, "q=pg.search&semVerLevel=2.0.0");
    assert_eq!(
        hit_ids(&hits),
        set(&[
            "Pg.Search.Alpha",
            "Pg.Search.Beta",
            "Pg.Search.Delta",
            "Pg.Search.Eps"
        ])
    );
    let (_, hits) = search(&feed, "q=pg.search&prerelease=true");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Pg.Search.Beta"]));
    assert_eq!(hit(&hits, "Pg.Search.Beta")["version"], "2.0.0-beta");
    let (_, hits) = search(&feed, "q=pg.search&prerelease=false&semVerLevel=1.0.0");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Pg.Search.Beta"]));

    // q matches title, tags and description, case-insensitively.
    let (_, hits) = search(&feed, "q=needle&semVerLevel=2.0.0");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha", "Other.Thing"]));
    let (_, hits) = search(&feed, "q=SHINY&semVerLevel=2.0.0");
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Alpha"]));
    let (total, hits) = search(
        &feed,
        "q=no-such-term-anywhere&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!((total, hits.len()), (0, 0));

    // packageid: is an exact id.
    let (_, hits) = search(
        &feed,
        "q=packageid:Pg.Search.Beta&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(hit_ids(&hits), set(&["Pg.Search.Beta"]));
    let (total, _) = search(
        &feed,
        "q=packageid:Pg.Search&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(total, 0, "packageid: is not a substring match");

    // skip/take page through the same totalHits.
    let mut seen = BTreeSet::new();
    for skip in [0, 2, 4] {
        let (total, hits) = search(
            &feed,
            &format!("q=pg.search&prerelease=true&semVerLevel=2.0.0&skip={skip}&take=2"),
        );
        assert_eq!(total, 5, "totalHits counts every match, not the page");
        assert_eq!(hits.len(), if skip == 4 { 1 } else { 2 }, "skip={skip}");
        for id in hit_ids(&hits) {
            assert!(seen.insert(id.clone()), "{id} on two pages");
        }
    }
    assert_eq!(seen, all5);
    let (total, hits) = search(
        &feed,
        "q=pg.search&prerelease=true&semVerLevel=2.0.0&skip=5",
    );
    assert_eq!((total, hits.len()), (5, 0));

    // An empty q lists everything.
    let (total, hits) = search(&feed, "q=&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(total, 7);
    assert_eq!(hits.len(), 7);
    let (_, hits) = search(&feed, "prerelease=true&semVerLevel=2.0.0");
    assert_eq!(hits.len(), 7, "no q at all lists everything too");
    // Package types, when given, come from the nuspec (`Dependency` when it declares none).
    for (id, want) in [("Pg.Tool", "DotnetTool"), ("Pg.Search.Alpha", "Dependency")] {
        if let Some(types) = hit(&hits, id).get("packageTypes").and_then(Value::as_array) {
            assert!(
                types.iter().any(|t| t["name"] == want),
                "{id}: packageTypes {types:?} should name {want}"
            );
        }
    }
}

#[test]
fn autocomplete_ids_and_versions() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    for p in [
        Nupkg::new("Pg.Auto.One", "1.0.0"),
        Nupkg::new("Pg.Auto.One", "1.1.0-beta"),
        Nupkg::new("Pg.Auto.One", "2.0.0-rc.1+meta"),
        Nupkg::new("Pg.Auto.Two", "0.1.0-alpha"),
        Nupkg::new("Pg.Auto.Three", "1.0.0"),
        Nupkg::new("Other.Zed", "1.0.0"),
    ] {
        feed.push_ok(key, &p.bytes());
    }
    let (total, ids) = autocomplete(&feed, "q=pg.auto&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["Pg.Auto.One", "Pg.Auto.Two", "Pg.Auto.Three"])
    );
    assert_eq!(total, Some(3));
    let (total, ids) = autocomplete(&feed, "q=pg.auto&semVerLevel=2.0.0");
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["Pg.Auto.One", "Pg.Auto.Three"]),
        "prerelease absent = false hides prerelease-only ids"
    );
    assert_eq!(total, Some(2));
    let (_, ids) = autocomplete(&feed, "q=PG.AUTO.T&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["Pg.Auto.Two", "Pg.Auto.Three"])
    );
    let mut seen = BTreeSet::new();
    for skip in [0, 1, 2] {
        let (total, ids) = autocomplete(
            &feed,
            &format!("q=pg.auto&prerelease=true&semVerLevel=2.0.0&skip={skip}&take=1"),
        );
        assert_eq!(total, Some(3));
        assert_eq!(ids.len(), 1, "take=1");
        assert!(seen.insert(ids[0].clone()), "{} twice", ids[0]);
    }
    assert_eq!(seen.len(), 3);

    let (_, versions) = autocomplete(&feed, "id=pg.auto.one&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(versions, ["1.0.0", "1.1.0-beta", "2.0.0-rc.1+meta"]);
    let (_, versions) = autocomplete(&feed, "id=PG.AUTO.ONE&prerelease=false&semVerLevel=2.0.0");
    assert_eq!(versions, ["1.0.0"]);
    let (_, versions) = autocomplete(&feed, "id=pg.auto.one&prerelease=true");
    assert_eq!(
        versions,
        ["1.0.0", "1.1.0-beta"],
        "SemVer 2.0.0 needs semVerLevel"
    );
    let (_, versions) = autocomplete(&feed, "id=pg.nothing&prerelease=true&semVerLevel=2.0.0");
    assert!(versions.is_empty());
}

// ------------------------------------------------------------------------------------------------
// Unlist, relist, deprecation, symbols
// ------------------------------------------------------------------------------------------------

#[test]
fn unlist_hides_from_search_but_keeps_restores_working() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let v1 = Nupkg::new("Pg.Unlist", "1.0.0");
    let v2 = Nupkg::new("Pg.Unlist", "2.0.0");
    feed.push_ok(key, &v1.bytes());
    feed.push_ok(key, &v2.bytes());

    feed.delete(key, "Pg.Unlist", "2.0.0").expect_status(204);
    let (_, hits) = search(
        &feed,
        "q=packageid:Pg.Unlist&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["version"], "1.0.0", "latest listed version");
    assert_eq!(hit_versions(&hits[0]), ["1.0.0"]);
    let (_, versions) = autocomplete(&feed, "id=pg.unlist&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(versions, ["1.0.0"]);
    assert_eq!(
        flat_versions(&feed, "pg.unlist"),
        ["1.0.0", "2.0.0"],
        "unlisted versions stay in the flat container"
    );
    let resp = feed.get(
        &feed.flat_file_path("pg.unlist", "2.0.0", "nupkg"),
        Auth::None,
    );
    expect_status(&resp, 200);
    assert_eq!(
        resp.body,
        v2.bytes(),
        "an unlisted version stays downloadable"
    );
    let entries = catalog_entries(&feed, "pg.unlist", Auth::None);
    assert!(is_listed(&entry_for(&entries, "1.0.0")));
    assert_eq!(entry_for(&entries, "2.0.0")["listed"], false);

    // Unlisting again is fine; the id and version are matched like the user typed them.
    feed.delete(key, "PG.UNLIST", "2.0.0.0").expect_status(204);
    feed.delete(key, "pg.unlist", "1.0").expect_status(204);
    let (total, hits) = search(&feed, "q=pg.unlist&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        (total, hits.len()),
        (0, 0),
        "a fully unlisted package disappears"
    );
    let (_, ids) = autocomplete(&feed, "q=pg.unlist&prerelease=true&semVerLevel=2.0.0");
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(flat_versions(&feed, "pg.unlist"), ["1.0.0", "2.0.0"]);

    // Relist: 200, also when already listed.
    feed.relist(key, "Pg.Unlist", "2.0.0").expect_status(200);
    let (_, hits) = search(
        &feed,
        "q=packageid:Pg.Unlist&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["version"], "2.0.0");
    assert_eq!(hit_versions(&hits[0]), ["2.0.0"]);
    feed.relist(key, "pg.unlist", "2.0.0").expect_status(200);
    feed.relist(key, "pg.unlist", "1.0.0.0").expect_status(200);
    let entries = catalog_entries(&feed, "pg.unlist", Auth::None);
    assert!(entries.iter().all(is_listed), "{entries:?}");

    // Absent versions and ids.
    let before = nuget_snapshot(&server, REPO, &["Pg.Unlist", "Pg.Absent"], &[], Auth::None);
    for (id, version) in [("Pg.Unlist", "9.9.9"), ("Pg.Absent", "1.0.0")] {
        feed.delete(key, id, version)
            .expect_refusal(404, NO_VERSION_404);
        feed.relist(key, id, version)
            .expect_refusal(404, NO_VERSION_404);
    }
    assert_nuget_unchanged(
        &server,
        REPO,
        Auth::None,
        &before,
        "unlist/relist of absent versions",
    );
}

#[test]
fn deprecation_is_set_and_cleared() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    feed.push_ok(key, &Nupkg::new("Pg.Old", "1.0.0").bytes());
    feed.push_ok(key, &Nupkg::new("Pg.Old", "2.0.0").bytes());
    let legacy = json!({
        "reasons": ["Legacy"],
        "message": "Use Pg.New",
        "alternatePackage": {"id": "Pg.New", "range": "*"}
    });
    feed.deprecate(key, "Pg.Old", "1.0.0", &legacy)
        .expect_status(200);
    let entries = catalog_entries(&feed, "pg.old", Auth::None);
    let dep = &entry_for(&entries, "1.0.0")["deprecation"];
    assert_eq!(dep["reasons"], json!(["Legacy"]), "{dep}");
    assert_eq!(dep["message"], "Use Pg.New");
    assert_eq!(dep["alternatePackage"]["id"], "Pg.New");
    assert_eq!(dep["alternatePackage"]["range"], "*");
    assert!(
        entry_for(&entries, "2.0.0")
            .get("deprecation")
            .is_none_or(Value::is_null),
        "only 1.0.0 is deprecated"
    );

    // Several reasons, no alternate, any spelling of the id and version.
    feed.deprecate(
        key,
        "PG.OLD",
        "2.0.0.0",
        &json!({"reasons": ["CriticalBugs", "Other"], "message": "Broken"}),
    )
    .expect_status(200);
    let entries = catalog_entries(&feed, "pg.old", Auth::None);
    let dep = &entry_for(&entries, "2.0.0")["deprecation"];
    assert_eq!(dep["reasons"], json!(["CriticalBugs", "Other"]), "{dep}");
    assert!(dep.get("alternatePackage").is_none_or(Value::is_null));

    feed.undeprecate(key, "Pg.Old", "1.0.0").expect_status(200);
    let entries = catalog_entries(&feed, "pg.old", Auth::None);
    assert!(
        entry_for(&entries, "1.0.0")
            .get("deprecation")
            .is_none_or(Value::is_null),
        "deprecation removed"
    );
    assert!(!entry_for(&entries, "2.0.0")["deprecation"].is_null());

    // Invalid deprecations and absent versions change nothing.
    let before = nuget_snapshot(&server, REPO, &["Pg.Old"], &[], Auth::None);
    for body in [
        json!({"reasons": ["Bogus"], "message": "x"}),
        json!({"reasons": [], "message": "x"}),
        json!({"message": "no reasons"}),
        json!({"reasons": "Legacy"}),
    ] {
        let resp = feed.deprecate(key, "Pg.Old", "1.0.0", &body);
        resp.expect_refusal(400, BAD_DEPRECATION);
        assert_nuget_unchanged(
            &server,
            REPO,
            Auth::None,
            &before,
            &format!("deprecation {body}"),
        );
    }
    let not_json = feed.raw(
        "PUT",
        &feed.path("package/Pg.Old/1.0.0/deprecation"),
        key,
        &[("Content-Type", "application/json")],
        Some(b"{not json"),
        Framing::Sized,
    );
    assert_eq!(not_json.status, 400, "{}", not_json.text());
    feed.deprecate(key, "Pg.Old", "9.9.9", &legacy)
        .expect_refusal(404, NO_VERSION_404);
    feed.undeprecate(key, "Pg.Old", "9.9.9")
        .expect_refusal(404, NO_VERSION_404);
    assert_nuget_unchanged(&server, REPO, Auth::None, &before, "invalid deprecations");
}

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
    assert_nuget_unchanged(
        &server,
        REPO,
        Auth::None,
        &before,
        "symbols before the package",
    );

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
    assert_nuget_unchanged(&server, REPO, Auth::None, &before, "misdirected packages");
}

// ------------------------------------------------------------------------------------------------
// Push framing and authentication
// ------------------------------------------------------------------------------------------------

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
fn auth_refusals_change_nothing() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    feed.push_ok(
        Auth::ApiKey(&token),
        &Nupkg::new("Pg.Guard", "1.0.0").bytes(),
    );
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    let publish_only = server.create_token("alice", &["--scope", "read,publish"]);
    let for_npm = server.create_token(
        "alice",
        &["--scope", "read,publish,delete", "--repo", "npm"],
    );
    let for_private = server.create_token(
        "alice",
        &["--scope", "read,publish,delete", "--repo", PRIVATE],
    );
    server.add_user("mallory", None);
    let revoked = server.create_token("mallory", &[]);
    let listed = server.cli_ok(&["token", "list", "--user", "mallory"], None);
    let id = listed
        .lines()
        .next()
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("token list: {listed:?}"))
        .to_owned();
    server.cli_ok(&["token", "revoke", &id], None);

    let snupkg = feed.flat_file_path("pg.guard", "1.0.0", "snupkg");
    let before = nuget_snapshot(
        &server,
        REPO,
        &["Pg.Guard", "Pg.Guard.New"],
        &[snupkg],
        Auth::None,
    );
    let unauthenticated: Vec<(&str, Auth, &str)> = vec![
        ("no key", Auth::None, KEY_REQUIRED),
        // What NuGet.exe retries with after a 401 when it has no credentials: `Basic :`.
        (
            "empty Basic credentials",
            Auth::Authorization("Basic Og=="),
            KEY_REQUIRED,
        ),
        (
            "an unknown key",
            Auth::ApiKey("pgt_not-a-real-key"),
            KEY_INVALID,
        ),
        ("a revoked key", Auth::ApiKey(&revoked), KEY_INVALID),
        (
            "Basic with a wrong secret",
            Auth::Basic("alice", "wrong"),
            KEY_INVALID,
        ),
    ];
    let forbidden: Vec<(&str, Auth)> = vec![
        ("a read-only key", Auth::ApiKey(&read_only)),
        (
            "a read-only key as Basic",
            Auth::Basic("reader", &read_only),
        ),
        ("a key for the npm repository", Auth::ApiKey(&for_npm)),
        ("a key for nuget-private", Auth::ApiKey(&for_private)),
    ];
    let check = |what: &str, resp: NuResp, status: u16, reason: &str| {
        resp.expect_refusal(status, reason);
        assert_nuget_unchanged(&server, REPO, Auth::None, &before, what);
    };
    let symbols = Nupkg::new("Pg.Guard", "1.0.0").symbols().bytes();
    let deprecation = json!({"reasons": ["Legacy"], "message": "x"});
    for (what, key, reason) in &unauthenticated {
        for pkg in [
            Nupkg::new("Pg.Guard", "1.1.0"),
            Nupkg::new("Pg.Guard.New", "1.0.0"),
        ] {
            check(
                &format!("push of {} with {what}", pkg.id),
                feed.push(*key, &pkg.bytes()),
                401,
                reason,
            );
        }
        check(
            &format!("symbols with {what}"),
            feed.push_symbols(*key, &symbols),
            401,
            reason,
        );
        check(
            &format!("delete with {what}"),
            feed.delete(*key, "Pg.Guard", "1.0.0"),
            401,
            reason,
        );
        check(
            &format!("relist with {what}"),
            feed.relist(*key, "Pg.Guard", "1.0.0"),
            401,
            reason,
        );
        check(
            &format!("deprecate with {what}"),
            feed.deprecate(*key, "Pg.Guard", "1.0.0", &deprecation),
            401,
            reason,
        );
        check(
            &format!("undeprecate with {what}"),
            feed.undeprecate(*key, "Pg.Guard", "1.0.0"),
            401,
            reason,
        );
    }
    for (what, key) in &forbidden {
        for pkg in [
            Nupkg::new("Pg.Guard", "1.1.0"),
            Nupkg::new("Pg.Guard.New", "1.0.0"),
        ] {
            check(
                &format!("push of {} with {what}", pkg.id),
                feed.push(*key, &pkg.bytes()),
                403,
                FORBIDDEN,
            );
        }
        check(
            &format!("symbols with {what}"),
            feed.push_symbols(*key, &symbols),
            403,
            FORBIDDEN,
        );
    }
    // Delete, relist and deprecation need the delete scope.
    let no_delete: Vec<(&str, Auth)> = vec![
        ("a read-only key", Auth::ApiKey(&read_only)),
        ("a publish-only key", Auth::ApiKey(&publish_only)),
        ("a key for the npm repository", Auth::ApiKey(&for_npm)),
        ("a key for nuget-private", Auth::ApiKey(&for_private)),
    ];
    for (what, key) in &no_delete {
        check(
            &format!("delete with {what}"),
            feed.delete(*key, "Pg.Guard", "1.0.0"),
            403,
            FORBIDDEN,
        );
        check(
            &format!("relist with {what}"),
            feed.relist(*key, "Pg.Guard", "1.0.0"),
            403,
            FORBIDDEN,
        );
        check(
            &format!("deprecate with {what}"),
            feed.deprecate(*key, "Pg.Guard", "1.0.0", &deprecation),
            403,
            FORBIDDEN,
        );
    }

    // The limited keys work where they are meant to.
    feed.push_ok(
        Auth::ApiKey(&publish_only),
        &Nupkg::new("Pg.Guard", "1.2.0").bytes(),
    );
    Feed::new(&server, PRIVATE).push_ok(
        Auth::ApiKey(&for_private),
        &Nupkg::new("Pg.Guard", "1.0.0").bytes(),
    );
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
        assert_nuget_unchanged(
            &server,
            "nuget-small",
            Auth::None,
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
    assert_nuget_unchanged(
        &server,
        "nuget-small",
        Auth::None,
        &before,
        "a form field over max_upload before the file part",
    );
    // The limit is the repository's: the same package fits the default repository, and a small
    // one fits the small repository.
    Feed::new(&server, REPO).push_ok(key, &bytes);
    small.push_ok(key, &Nupkg::new("Pg.Hefty", "1.0.0").bytes());
    assert_eq!(flat_versions(&small, "pg.hefty"), ["1.0.0"]);
}

#[test]
fn private_repository_requires_credentials_for_reads() {
    let (server, token) = setup();
    let feed = Feed::new(&server, PRIVATE);
    let pkg = Nupkg::new("Pg.Secret", "1.0.0");
    feed.push_ok(Auth::ApiKey(&token), &pkg.bytes());
    feed.push_symbols(
        Auth::ApiKey(&token),
        &Nupkg::new("Pg.Secret", "1.0.0").symbols().bytes(),
    )
    .expect_status(201);
    let for_public = server.create_token("alice", &["--scope", "read", "--repo", REPO]);
    let good = basic("alice", &token);
    let paths = [
        feed.flat_index_path("pg.secret"),
        feed.flat_file_path("pg.secret", "1.0.0", "nupkg"),
        feed.flat_file_path("pg.secret", "1.0.0", "snupkg"),
        feed.nuspec_path("pg.secret", "1.0.0"),
        feed.registration_path("pg.secret"),
        feed.path("registration/pg.secret/1.0.0.json"),
        feed.path("query?q=secret&prerelease=true&semVerLevel=2.0.0"),
        feed.path("autocomplete?q=pg&prerelease=true&semVerLevel=2.0.0"),
        feed.path("autocomplete?id=pg.secret&prerelease=true&semVerLevel=2.0.0"),
    ];
    for path in &paths {
        for method in ["GET", "HEAD"] {
            let anonymous = feed.send(method, path, Auth::None);
            expect_status(&anonymous, 401);
            expect_basic_challenge(&anonymous);
            // What NuGet.exe sends without configured credentials: `Basic :`.
            for bad in [
                Auth::Basic("alice", "wrong-token"),
                Auth::Authorization("Basic Og=="),
                Auth::ApiKey("pgt_not-a-real-key"),
            ] {
                let resp = feed.send(method, path, bad);
                expect_status(&resp, 401);
                expect_basic_challenge(&resp);
            }
            expect_status(&feed.send(method, path, Auth::ApiKey(&for_public)), 403);
            for ok in [Auth::Authorization(&good), Auth::ApiKey(&token)] {
                let resp = feed.send(method, path, ok);
                expect_status(&resp, 200);
            }
        }
        // The reason phrase of the anonymous refusal.
        let raw = feed.raw("GET", path, Auth::None, &[], None, Framing::Sized);
        raw.expect_refusal_any(401, &[READ_CREDENTIALS, KEY_REQUIRED]);
    }
    // The service index stays anonymous.
    for method in ["GET", "HEAD"] {
        expect_status(
            &feed.send(method, &feed.path("index.json"), Auth::None),
            200,
        );
    }
    // Authenticated reads see the package.
    let auth = Auth::Authorization(&good);
    assert_eq!(
        feed.get_json(&feed.flat_index_path("pg.secret"), auth),
        json!({"versions": ["1.0.0"]})
    );
    assert_eq!(
        feed.get(&feed.flat_file_path("pg.secret", "1.0.0", "nupkg"), auth)
            .body,
        pkg.bytes()
    );
    assert_eq!(
        catalog_entries(&feed, "pg.secret", auth)[0]["id"],
        "Pg.Secret"
    );
    // Nothing leaks into the public repository.
    let public = Feed::new(&server, REPO);
    expect_status(
        &public.get(&public.flat_index_path("pg.secret"), Auth::None),
        404,
    );
    let (total, _) = search(&public, "q=secret&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(total, 0);
}

// ------------------------------------------------------------------------------------------------
// Malformed packages
// ------------------------------------------------------------------------------------------------

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
        assert_nuget_unchanged(
            &server,
            REPO,
            Auth::None,
            &before,
            &format!("push of {what}"),
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} malformed packages were not refused as expected:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_nuget_unchanged(&server, REPO, Auth::None, &before, "malformed packages");
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
            assert_nuget_unchanged(
                &server,
                REPO,
                Auth::None,
                &before,
                &format!("{endpoint} with {what}"),
            );
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
        assert_nuget_unchanged(&server, REPO, Auth::None, &before, what);
        eprintln!("{what}: refused in {:?}", started.elapsed());
    }
    feed.push_ok(key, &good.bytes());
}
