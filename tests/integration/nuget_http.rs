//! The NuGet v3 feed over crafted HTTP: the service index; push (multipart, `Content-Length`,
//! chunked, `Expect: 100-continue`, first file part) and the flat container (version lists,
//! byte-exact downloads with HEAD, ETag, Range and immutable caching, nuspec entries);
//! case-insensitive ids and normalized versions; duplicates; registrations inlined and paged
//! (130 versions, every page at its `@id`, old page URLs still answering); dependency groups;
//! search and autocomplete with their prerelease / SemVer 2.0.0 filters; unlist, relist,
//! deprecation, symbol packages; the private repository; and every refusal with its status, its
//! exact reason phrase (all NuGet shows), a JSON `message`, and nothing stored (flat index,
//! registration, search, blob count). Packages are built in Rust (`packgate_nuget::testing`).
//! Protocol: /work/shared/protocols/nuget.md; packgate's choices: docs/formats/nuget.md.
//!
//! The tests live in one submodule per operation: `builder` (the `.nupkg` builder itself),
//! `feed` (service index, flat container, registrations), `push`, `search`, `listing` (unlist,
//! relist, deprecation), `symbols`, `auth` (credentials and the private repository) and
//! `refusals` (malformed packages and bodies). This file holds what they share: the setup, the
//! reason phrases and the helpers that read the v3 documents.

use crate::support::nuget_http::{Auth, Feed};
use crate::support::{Resp, TestServer};
use serde_json::Value;
use std::collections::BTreeSet;

mod auth;
mod builder;
mod feed;
mod listing;
mod push;
mod refusals;
mod search;
mod symbols;

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
