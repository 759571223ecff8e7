//! Refused pushes of the `.gem` itself (status, a non-empty plain-text body, nothing changed):
//! every malformed gem (outer entries, `data.tar.gz`, gemspec YAML, checksums) and pushes over
//! `max_upload`.

use super::{expect_text_error, push, push_ok, setup};
use crate::support::http::raw_request;
use crate::support::snapshot::{assert_unchanged, gem_snapshot};
use crate::support::{TestServer, random_bytes};
use packgate_rubygems::testing::{Gem, GemParts, TarEntry, gzip, tar};

/// A `.gem` whose members are the standard ones plus `extra` outer entries.
fn with_outer_entries(gem: &Gem, extra: Vec<TarEntry>) -> Vec<u8> {
    let parts = gem.parts();
    let mut entries = vec![
        TarEntry::file("metadata.gz", parts.metadata_gz.clone()),
        TarEntry::file("data.tar.gz", parts.data_tar_gz.clone()),
        TarEntry::file(
            "checksums.yaml.gz",
            parts.checksums_yaml_gz.clone().expect("checksums"),
        ),
    ];
    entries.extend(extra);
    tar(&entries)
}

/// A `.gem` of `gem` whose `data.tar.gz` also holds `extra` entries (checksums recomputed).
fn with_data_entries(gem: &Gem, extra: Vec<TarEntry>) -> Vec<u8> {
    let mut entries: Vec<TarEntry> = gem
        .files
        .iter()
        .map(|(p, c)| TarEntry::file(p, c.clone()).mode(0o644))
        .collect();
    entries.extend(extra);
    GemParts {
        metadata_gz: gem.metadata_gz(),
        data_tar_gz: gzip(&tar(&entries)),
        checksums_yaml_gz: None,
    }
    .with_fresh_checksums()
    .assemble()
}

/// A `.gem` of `gem` whose gemspec YAML went through `edit` (checksums recomputed).
fn with_yaml(gem: &Gem, edit: impl Fn(String) -> String) -> Vec<u8> {
    let yaml = edit(gem.spec_yaml());
    GemParts {
        metadata_gz: gzip(yaml.as_bytes()),
        data_tar_gz: gem.data_tar_gz(),
        checksums_yaml_gz: None,
    }
    .with_fresh_checksums()
    .assemble()
}

/// Malformed `.gem` files around `gem` (named pg_bad): every way the server must refuse.
fn malformed_gems(gem: &Gem) -> Vec<(String, Vec<u8>)> {
    let parts = gem.parts();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    let mut case = |what: &str, body: Vec<u8>| cases.push((what.to_owned(), body));

    case("empty body", Vec::new());
    case("random bytes", random_bytes(4096, 7));
    case(
        "a gzipped tar instead of a plain tar",
        gzip(&gem.gem_file()),
    );
    let truncated = gem.gem_file();
    case(
        "truncated archive",
        truncated[..truncated.len() / 3].to_vec(),
    );
    case(
        "no metadata.gz",
        tar(&[
            TarEntry::file("data.tar.gz", parts.data_tar_gz.clone()),
            TarEntry::file(
                "checksums.yaml.gz",
                parts.checksums_yaml_gz.clone().expect("c"),
            ),
        ]),
    );
    case(
        "no data.tar.gz",
        tar(&[TarEntry::file("metadata.gz", parts.metadata_gz.clone())]),
    );
    case(
        "metadata.gz is not gzip",
        GemParts {
            metadata_gz: gem.spec_yaml().into_bytes(),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "metadata.gz is a truncated gzip",
        GemParts {
            metadata_gz: parts.metadata_gz[..parts.metadata_gz.len() / 2].to_vec(),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "data.tar.gz is not gzip",
        GemParts {
            data_tar_gz: random_bytes(512, 3),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "data.tar.gz is a truncated gzip",
        GemParts {
            data_tar_gz: parts.data_tar_gz[..parts.data_tar_gz.len() / 2].to_vec(),
            ..parts.clone()
        }
        .with_fresh_checksums()
        .assemble(),
    );
    case(
        "checksums.yaml.gz does not match data.tar.gz",
        GemParts {
            data_tar_gz: Gem::new("pg_bad", "1.0.0")
                .file("lib/other.rb", "x = 1\n")
                .data_tar_gz(),
            ..parts.clone()
        }
        .assemble(),
    );
    case(
        "checksums.yaml.gz does not match metadata.gz",
        GemParts {
            metadata_gz: Gem::new("pg_bad", "1.0.0")
                .summary("tampered")
                .metadata_gz(),
            ..parts.clone()
        }
        .assemble(),
    );
    let sha512_wrong =
        packgate_rubygems::testing::checksums_yaml(&parts.metadata_gz, &parts.data_tar_gz)
            .lines()
            .enumerate()
            .map(|(i, l)| {
                // Line 5 is `  metadata.gz: <sha512>` under `SHA512:`.
                if i == 5 {
                    format!("  metadata.gz: {}", "0".repeat(128))
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
    case(
        "SHA512 in checksums.yaml.gz does not match",
        GemParts {
            checksums_yaml_gz: Some(gzip(sha512_wrong.as_bytes())),
            ..parts.clone()
        }
        .assemble(),
    );
    case(
        "metadata YAML is not a mapping",
        with_yaml(gem, |_| "--- just a string\n".to_owned()),
    );
    case(
        "metadata YAML does not parse",
        with_yaml(gem, |_| "--- {[: :\n  - ]\n".to_owned()),
    );
    case(
        "metadata YAML root tag is a foreign class",
        with_yaml(gem, |y| {
            y.replacen("!ruby/object:Gem::Specification", "!ruby/object:Foo", 1)
        }),
    );
    case(
        "metadata YAML holds a foreign object",
        with_yaml(gem, |y| {
            y.replacen(
                "description:\n",
                "description: !ruby/object:Foo\n  bar: 1\n",
                1,
            )
        }),
    );
    case(
        "metadata YAML holds a foreign hash class",
        with_yaml(gem, |y| {
            y.replacen("metadata: {}\n", "metadata: !ruby/hash:Foo {}\n", 1)
        }),
    );
    case(
        "metadata YAML without a name",
        with_yaml(gem, |y| y.replacen("name: pg_bad\n", "", 1)),
    );
    case(
        "metadata YAML without a version",
        with_yaml(gem, |y| {
            y.replacen(
                "version: !ruby/object:Gem::Version\n  version: 1.0.0\n",
                "",
                1,
            )
        }),
    );
    case(
        "outer entry with a path outside",
        with_outer_entries(gem, vec![TarEntry::file("../evil.txt", "x")]),
    );
    case(
        "outer entry with an absolute path",
        with_outer_entries(gem, vec![TarEntry::file("/tmp/evil.txt", "x")]),
    );
    case(
        "outer symlink",
        with_outer_entries(gem, vec![TarEntry::symlink("evil", "/etc/passwd")]),
    );
    case(
        "data entry with a path outside",
        with_data_entries(gem, vec![TarEntry::file("../../evil.rb", "x = 1\n")]),
    );
    case(
        "data entry with an absolute path",
        with_data_entries(gem, vec![TarEntry::file("/etc/evil.rb", "x = 1\n")]),
    );
    case(
        "data symlink pointing outside",
        with_data_entries(gem, vec![TarEntry::symlink("lib/evil.rb", "/etc/passwd")]),
    );
    case(
        "data hard link pointing outside",
        with_data_entries(
            gem,
            vec![TarEntry::hardlink("lib/hard.rb", "../../etc/passwd")],
        ),
    );
    case(
        "data character device",
        with_data_entries(gem, vec![TarEntry::char_device("lib/dev")]),
    );
    for name in ["", "bad name", "../pg_bad", "pg/bad", "pg_b\u{e9}d"] {
        // One harmless file, so that only the name is wrong.
        let mut bad = Gem::new(name, "1.0.0");
        bad.files = vec![("lib/pg_bad.rb".to_owned(), b"X = 1\n".to_vec())];
        case(&format!("invalid name {name:?}"), bad.gem_file());
    }
    for version in ["not a version", "1..0", "abc", "1.0/evil"] {
        case(
            &format!("invalid version {version:?}"),
            Gem::new("pg_bad", version).gem_file(),
        );
    }

    cases
}

#[test]
fn malformed_gems_are_refused_and_change_nothing() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_bad", "0.9.0"));
    let gem = Gem::new("pg_bad", "1.0.0");
    let before = gem_snapshot(&server, "rubygems", &["pg_bad"], None);
    for (what, body) in malformed_gems(&gem) {
        let resp = push(&server, "rubygems", Some(&token), body);
        assert!(
            [400, 422].contains(&resp.status),
            "{what}: expected 400 or 422, got {}: {}",
            resp.status,
            resp.text()
        );
        expect_text_error(&resp, &[400, 422]);
        assert_unchanged(&server, &before, &what);
    }
    // None of that poisoned the name: the well-formed 1.0.0 goes through.
    push_ok(&server, "rubygems", &token, &gem);
}

#[test]
fn push_over_max_upload_is_payload_too_large() {
    let server = TestServer::builder().max_upload("64 KiB").start();
    let token = server.publisher("alice");
    let big = Gem::new("pg_hefty", "1.0.0").file("lib/blob.bin", random_bytes(200 * 1024, 11));
    let body = big.gem_file();
    assert!(body.len() > 150 * 1024, "incompressible payload");
    let before = gem_snapshot(&server, "rubygems", &["pg_hefty"], None);
    let addr = format!("127.0.0.1:{}", server.port);
    let headers = [
        ("content-type", "application/octet-stream"),
        ("authorization", token.as_str()),
    ];
    let resp = raw_request(
        &addr,
        "POST",
        "/rubygems/api/v1/gems",
        &headers,
        &body,
        None,
        || {},
    );
    expect_text_error(&resp, &[413]);
    assert_unchanged(&server, &before, "push over max_upload");
    // The server is still fine, and a small push passes.
    push_ok(&server, "rubygems", &token, &Gem::new("pg_hefty", "1.0.0"));
}
