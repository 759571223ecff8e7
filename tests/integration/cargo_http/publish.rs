//! Publishing: the publish story (index line, download, `cksum`), dependencies recorded as sent,
//! and the conflicts of duplicate versions and of names that differ only in case or separators.

use super::{
    OTHER_INDEX, assert_publish_ok, download_path, expect_404, expect_errors, expect_errors_in,
    get_index, index_lines, publish, put_crate, setup, versions,
};
use crate::support::snapshot::{assert_unchanged, index_snapshot};
use packgate_cargo::testing::{Crate, Dep, assert_index_line, index_path, parse_index, sha256_hex};
use serde_json::{Value, json};

#[test]
fn publish_index_line_download_and_cksum() {
    let (server, token) = setup();
    let http = server.http();
    expect_404(&get_index(&server, "cargo", "pg-story", None));

    let first = Crate::new("pg-story", "0.1.0").rust_version("1.70");
    let blobs = server.blob_count();
    let file = publish(&server, "cargo", &token, &first);
    if let (Some(before), Some(after)) = (blobs, server.blob_count()) {
        // Makes the "blob count unchanged" checks of the refusal tests meaningful.
        assert!(
            after > before,
            "a publish stores the .crate under data_dir/blobs"
        );
    }

    let resp = get_index(&server, "cargo", "pg-story", None);
    resp.expect(200);
    assert_eq!(index_path("pg-story"), "pg/-s/pg-story");
    let text = resp.text();
    let lines = parse_index(&text);
    assert_eq!(lines.len(), 1, "one line per version: {text:?}");
    assert_index_line(
        &lines[0],
        &first.expected_index_line(&file, false),
        "pg-story 0.1.0",
    );
    assert_eq!(lines[0]["cksum"], json!(sha256_hex(&file)));
    for line in text.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "one JSON object per line: {line:?}"
        );
    }

    let download = http.get(&download_path("cargo", "pg-story", "0.1.0"));
    download.expect(200);
    assert_eq!(download.body, file, "download returns the uploaded .crate");
    assert_eq!(sha256_hex(&download.body), sha256_hex(&file));
    for path in [
        download_path("cargo", "pg-story", "9.9.9"),
        download_path("cargo", "no-such-crate", "0.1.0"),
    ] {
        let resp = http.get(&path);
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
    }

    // `Bearer <token>` works too; versions stay in publication order.
    let bearer = format!("Bearer {token}");
    for vers in ["0.2.0", "0.1.1"] {
        let krate = Crate::new("pg-story", vers);
        let resp = put_crate(&server, "cargo", Some(&bearer), krate.body());
        resp.expect(200);
        assert_publish_ok(&resp);
    }
    let lines = index_lines(&server, "cargo", "pg-story", None);
    assert_eq!(versions(&lines), ["0.1.0", "0.2.0", "0.1.1"]);
    assert_index_line(
        &lines[0],
        &first.expected_index_line(&file, false),
        "pg-story 0.1.0 after more publishes",
    );
    let latest = Crate::new("pg-story", "0.1.1");
    let latest_file = http
        .get(&download_path("cargo", "pg-story", "0.1.1"))
        .expect(200)
        .body
        .clone();
    assert_eq!(latest_file, latest.crate_file());
    assert_eq!(lines[2]["cksum"], json!(sha256_hex(&latest_file)));
}

#[test]
fn dependencies_are_recorded_as_sent() {
    let (server, token) = setup();
    let mut krate = Crate::new("pg-deps", "0.3.0")
        .rust_version("1.70")
        // Renamed, same registry, crate not present here.
        .dep(Dep::new("pg-story", "^0.1").alias("story_alias"))
        // Another registry, with features.
        .dep(
            Dep::new("serde", "^1.0")
                .registry(OTHER_INDEX)
                .features(&["derive"]),
        )
        // Renamed + optional + no default features + target-specific + another registry.
        .dep(
            Dep::new("rand", "^0.8")
                .alias("rand08")
                .optional()
                .no_default_features()
                .target("cfg(unix)")
                .registry(OTHER_INDEX),
        )
        .dep(Dep::new("winapi-ish", "^0.3").target("x86_64-pc-windows-gnu"))
        .dep(Dep::new("not-here", "^1").kind("dev"))
        .dep(Dep::new("cc", "^1.0").kind("build").registry(OTHER_INDEX))
        .feature("default", &["std"])
        .feature("std", &[])
        .feature("rng", &["dep:rand08", "serde?/std"]);
    krate.links = Some("pgdeps".to_owned());
    let file = publish(&server, "cargo", &token, &krate);
    let lines = index_lines(&server, "cargo", "pg-deps", None);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_index_line(line, &krate.expected_index_line(&file, false), "pg-deps");

    let dep = |name: &str| -> Value {
        line["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .find(|d| d["name"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("no dependency named {name:?} in {line}"))
    };
    let renamed = dep("story_alias");
    assert_eq!(renamed["package"], json!("pg-story"));
    assert_eq!(renamed["req"], json!("^0.1"));
    let rand = dep("rand08");
    assert_eq!(rand["package"], json!("rand"));
    assert_eq!(rand["optional"], json!(true));
    assert_eq!(rand["default_features"], json!(false));
    assert_eq!(rand["target"], json!("cfg(unix)"));
    assert_eq!(rand["registry"], json!(OTHER_INDEX));
    assert_eq!(dep("not-here")["kind"], json!("dev"));
    assert_eq!(dep("cc")["kind"], json!("build"));
    for original in ["pg-story", "rand"] {
        assert!(
            line["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .all(|d| d["name"] != json!(original)),
            "a renamed dependency must be listed under its alias, not {original:?}: {line}"
        );
    }
}

#[test]
fn duplicate_versions_conflict() {
    let (server, token) = setup();
    let original = Crate::new("dup", "1.0.0");
    let file = publish(&server, "cargo", &token, &original);
    let before = index_snapshot(&server, "cargo", "dup", None);
    let cases = [
        ("identical", original.clone()),
        (
            "different content",
            original
                .clone()
                .file("src/lib.rs", "pub const OTHER: u8 = 1;\n"),
        ),
        ("build metadata", Crate::new("dup", "1.0.0+b")),
    ];
    for (what, krate) in cases {
        let resp = put_crate(&server, "cargo", Some(&token), krate.body());
        let detail = expect_errors(&resp, 409);
        assert!(
            detail.contains("already"),
            "{what}: detail should say the version already exists: {detail:?}"
        );
        assert_unchanged(&server, &before, what);
    }
    let served = server.http().get(&download_path("cargo", "dup", "1.0.0"));
    assert_eq!(served.expect(200).body, file, "the first .crate is kept");
}

#[test]
fn names_are_unique_ignoring_case_and_separators() {
    let (server, token) = setup();
    publish(&server, "cargo", &token, &Crate::new("foo-bar", "1.0.0"));
    let before = index_snapshot(&server, "cargo", "foo-bar", None);
    for spelling in ["Foo_Bar", "foo_bar", "FOO-BAR"] {
        let resp = put_crate(
            &server,
            "cargo",
            Some(&token),
            Crate::new(spelling, "2.0.0").body(),
        );
        expect_errors_in(&resp, &[409, 400]);
        assert_unchanged(&server, &before, spelling);
        expect_404(&get_index(&server, "cargo", "foo_bar", None));
    }
    publish(&server, "cargo", &token, &Crate::new("foo-bar", "1.1.0"));
    let lines = index_lines(&server, "cargo", "foo-bar", None);
    assert_eq!(versions(&lines), ["1.0.0", "1.1.0"]);
    for line in &lines {
        assert_eq!(
            line["name"],
            json!("foo-bar"),
            "first spelling kept: {line}"
        );
    }
}
