//! Refused requests (status, `errors[0].detail`, nothing changed): yank of a missing version,
//! publish bodies over `max_upload`, malformed publish bodies, forbidden names and invalid
//! versions.

use super::{
    expect_404, expect_errors, get_index, index_lines, publish, put_crate, setup, unyank, versions,
    yank,
};
use crate::support::http::raw_request;
use crate::support::snapshot::{assert_unchanged, index_snapshot};
use crate::support::{TestServer, random_bytes};
use packgate_cargo::testing::{Crate, frame, tar_gz};
use packgate_npm::testing::gzip;
use serde_json::json;

#[test]
fn yank_of_a_missing_version_is_not_found() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("here", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "here", None);
    for (name, vers) in [("here", "9.9.9"), ("not-here", "1.0.0")] {
        expect_errors(&yank(&server, Some(&token), name, vers), 404);
        expect_errors(&unyank(&server, Some(&token), name, vers), 404);
    }
    assert_unchanged(&server, &before, "yank of missing versions");
}

#[test]
fn publish_over_max_upload_is_payload_too_large() {
    let server = TestServer::builder().max_upload("64 KiB").start();
    let token = server.publisher("alice");
    let big = Crate::new("hefty", "1.0.0").file("data.bin", random_bytes(200 * 1024, 11));
    let body = big.body();
    assert!(body.len() > 150 * 1024, "incompressible payload");
    let before = index_snapshot(&server, "cargo", "hefty", None);
    let addr = format!("127.0.0.1:{}", server.port);
    let headers = [
        ("content-type", "application/octet-stream"),
        ("accept", "application/json"),
        ("authorization", token.as_str()),
    ];
    let resp = raw_request(
        &addr,
        "PUT",
        "/cargo/api/v1/crates/new",
        &headers,
        &body,
        None,
        || {},
    );
    expect_errors(&resp, 413);
    assert_unchanged(&server, &before, "publish over max_upload");
    // The server is still fine, and a small publish passes.
    publish(&server, "cargo", &token, &Crate::new("hefty", "1.0.0"));
}

#[test]
fn malformed_publish_bodies_are_bad_requests() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("pg-bad", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "pg-bad", None);
    let good = Crate::new("pg-bad", "1.1.0");
    let json = serde_json::to_vec(&good.metadata()).expect("serialize");
    let file = good.crate_file();
    let framed = frame(&json, &file);

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    cases.push(("empty body", Vec::new()));
    cases.push(("three bytes", vec![1, 0, 0]));
    let mut too_long_json = framed.clone();
    too_long_json[..4].copy_from_slice(&(framed.len() as u32 + 10).to_le_bytes());
    cases.push(("JSON length beyond the body", too_long_json));
    let mut only_json = (json.len() as u32).to_le_bytes().to_vec();
    only_json.extend_from_slice(&json);
    cases.push(("no crate length", only_json));
    let mut short_crate = framed.clone();
    short_crate.truncate(framed.len() - 10);
    cases.push(("crate shorter than its length", short_crate));
    let mut trailing = framed.clone();
    trailing.extend_from_slice(b"extra bytes");
    cases.push(("trailing bytes", trailing));
    cases.push(("JSON syntax error", frame(b"{\"name\": \"pg-bad\",", &file)));
    let mut no_vers = good.metadata();
    no_vers.as_object_mut().expect("object").remove("vers");
    cases.push((
        "JSON without vers",
        frame(&serde_json::to_vec(&no_vers).expect("json"), &file),
    ));
    let mut bad_deps = good.metadata();
    bad_deps["deps"] = json!("serde");
    cases.push((
        "deps not an array",
        frame(&serde_json::to_vec(&bad_deps).expect("json"), &file),
    ));
    cases.push((".crate not gzip", frame(&json, &random_bytes(4096, 3))));
    cases.push((
        ".crate gzip but not tar",
        frame(&json, &gzip(&random_bytes(4096, 5))),
    ));
    let mut no_toml = good.clone();
    no_toml.omit_cargo_toml = true;
    cases.push((
        ".crate without Cargo.toml",
        frame(&json, &no_toml.crate_file()),
    ));
    let wrong_dir = tar_gz(&[
        (
            "other-1.1.0/Cargo.toml".to_owned(),
            good.cargo_toml().into_bytes(),
        ),
        ("other-1.1.0/src/lib.rs".to_owned(), b"\n".to_vec()),
    ]);
    cases.push((
        ".crate with another top directory",
        frame(&json, &wrong_dir),
    ));
    let mut other_name = good.clone();
    other_name.toml_name = Some("pg-other".to_owned());
    cases.push((
        "Cargo.toml names another crate",
        frame(&json, &other_name.crate_file()),
    ));
    let mut other_vers = good.clone();
    other_vers.toml_vers = Some("1.2.0".to_owned());
    cases.push((
        "Cargo.toml has another version",
        frame(&json, &other_vers.crate_file()),
    ));

    for (what, body) in cases {
        let resp = put_crate(&server, "cargo", Some(&token), body);
        expect_errors(&resp, 400);
        assert_unchanged(&server, &before, what);
    }
    // The same server accepts the well-formed body.
    let resp = put_crate(&server, "cargo", Some(&token), framed);
    resp.expect(200);
    assert_eq!(
        versions(&index_lines(&server, "cargo", "pg-bad", None)),
        ["1.0.0", "1.1.0"]
    );
}

#[test]
fn forbidden_names_are_bad_requests() {
    let (server, token) = setup();
    let too_long = "a".repeat(65);
    let names = ["", too_long.as_str(), "crâte", "1abc", "std", "nul"];
    for name in names {
        let blobs = server.blob_count();
        let resp = put_crate(
            &server,
            "cargo",
            Some(&token),
            Crate::new(name, "1.0.0").body(),
        );
        expect_errors(&resp, 400);
        assert_eq!(
            server.blob_count(),
            blobs,
            "{name:?}: number of files under data_dir/blobs changed"
        );
        if !name.is_empty() && name.is_ascii() {
            expect_404(&get_index(&server, "cargo", name, None));
        }
    }
    // The limit itself is allowed.
    let longest = format!("b{}", "x".repeat(63));
    publish(&server, "cargo", &token, &Crate::new(&longest, "1.0.0"));
    assert_eq!(
        versions(&index_lines(&server, "cargo", &longest, None)),
        ["1.0.0"]
    );
}

#[test]
fn invalid_versions_are_bad_requests() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("pg-semver", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "pg-semver", None);
    for vers in ["", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "v1.0.0", "latest"] {
        let resp = put_crate(
            &server,
            "cargo",
            Some(&token),
            Crate::new("pg-semver", vers).body(),
        );
        expect_errors(&resp, 400);
        assert_unchanged(&server, &before, &format!("version {vers:?}"));
    }
    // Pre-release and build metadata are valid SemVer.
    publish(
        &server,
        "cargo",
        &token,
        &Crate::new("pg-semver", "1.1.0-rc.1+build.5"),
    );
    assert_eq!(
        versions(&index_lines(&server, "cargo", "pg-semver", None)),
        ["1.0.0", "1.1.0-rc.1+build.5"]
    );
}
