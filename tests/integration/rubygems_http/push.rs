//! `gem push` over HTTP: the push story (compact-index lines, downloads), raw, Bearer and Basic
//! keys, and the conflicts of duplicates and of names that differ only in case or separators.

use super::{
    PLATFORM, assert_registered, assert_versions_md5s_match_info, basic, expect_status,
    expect_text_error, get, info_text, push, push_ok, setup, versions_text,
};
use crate::support::snapshot::{assert_unchanged, gem_snapshot};
use packgate_rubygems::testing::{
    Gem, InfoLine, md5_hex, parse_info, parse_versions, versions_state,
};

#[test]
fn push_compact_index_lines_and_downloads() {
    let (server, token) = setup();
    let gems = [
        Gem::new("pg_story", "0.1.0"),
        Gem::new("pg_story", "0.2.0")
            .dep("pg_dep", &["~> 1.0"])
            .dep("pg_multi", &[">= 0.2", "< 2"])
            .dev_dep("pg_devonly", &[">= 0"])
            .required_ruby(&[">= 2.7"])
            .required_rubygems(&[">= 3.0"]),
        Gem::new("pg_story", "0.2.0")
            .platform(PLATFORM)
            .dep("pg_dep", &["~> 1.0"]),
        Gem::new("pg_story", "0.3.0.pre"),
    ];
    let mut files = Vec::new();
    let blobs = server.blob_count();
    for gem in &gems {
        files.push(push_ok(&server, "rubygems", &token, gem));
    }
    if let (Some(before), Some(after)) = (blobs, server.blob_count()) {
        // Makes the "blob count unchanged" checks of the refusal tests meaningful.
        assert!(
            after > before,
            "a push stores the .gem under data_dir/blobs"
        );
    }

    // info/NAME: `---` then one line per version in publication order; checksum = SHA-256 of the
    // pushed file; development dependencies absent; ruby/rubygems requirements when not `>= 0`.
    let info = info_text(&server, "rubygems", "pg_story");
    let lines = parse_info(&info);
    let want: Vec<InfoLine> = gems
        .iter()
        .zip(&files)
        .map(|(g, f)| g.expected_info(f))
        .collect();
    assert_eq!(lines, want, "info/pg_story: {info:?}");
    assert!(
        !info.contains("pg_devonly"),
        "development dependencies never reach the index: {info:?}"
    );
    assert!(
        info.contains("\n0.1.0 |checksum:"),
        "a version without dependencies is `VERSION |checksum:…`: {info:?}"
    );

    // versions: one appended line per push (`NAME VERSION MD5`), the last MD5 = MD5 of info.
    let versions = versions_text(&server, "rubygems");
    let parsed = parse_versions(&versions);
    let story: Vec<_> = parsed.iter().filter(|l| l.name == "pg_story").collect();
    let pushed: Vec<Vec<String>> = gems.iter().map(|g| vec![g.full_version()]).collect();
    assert_eq!(
        story.iter().map(|l| l.versions.clone()).collect::<Vec<_>>(),
        pushed,
        "one `versions` line per push: {versions:?}"
    );
    let state = versions_state(&parsed);
    assert_eq!(
        state["pg_story"].0,
        ["0.1.0", "0.2.0", "0.2.0-x86_64-linux", "0.3.0.pre"]
    );
    assert_eq!(state["pg_story"].1, md5_hex(info.as_bytes()));
    assert_versions_md5s_match_info(&server, "rubygems");

    // Downloads are the pushed bytes; unknown files are 404.
    for (gem, file) in gems.iter().zip(&files) {
        let resp = get(&server, &format!("/rubygems/gems/{}", gem.file_name()));
        assert_eq!(
            resp.expect(200).body,
            *file,
            "download of {}",
            gem.file_name()
        );
    }
    for path in [
        "/rubygems/gems/pg_story-9.9.9.gem",
        "/rubygems/gems/pg_story-0.1.0-x86_64-linux.gem",
        "/rubygems/gems/pg_nothing-0.1.0.gem",
        "/rubygems/info/pg_nothing",
        "/rubygems/info/PG_STORY",
    ] {
        expect_status(&get(&server, path), 404);
    }

    // names: sorted, one per line.
    for name in ["zz_last", "aa_first", "mm_middle"] {
        push_ok(&server, "rubygems", &token, &Gem::new(name, "1.0.0"));
    }
    let names = get(&server, "/rubygems/names").expect(200).text();
    assert_eq!(names, "---\naa_first\nmm_middle\npg_story\nzz_last\n");
    assert_versions_md5s_match_info(&server, "rubygems");
    // The legacy dependency API stays off.
    expect_status(&get(&server, "/rubygems/api/v1/dependencies"), 404);
}

#[test]
fn push_accepts_raw_bearer_and_basic_keys() {
    let (server, token) = setup();
    let bearer = format!("Bearer {token}");
    let basic_auth = basic("alice", &token);
    for (auth, version) in [
        (token.as_str(), "1.0.0"),
        (bearer.as_str(), "1.1.0"),
        (basic_auth.as_str(), "1.2.0"),
    ] {
        let gem = Gem::new("pg_auth", version);
        let resp = push(&server, "rubygems", Some(auth), gem.gem_file());
        assert_registered(&resp, &gem);
    }
    let lines = parse_info(&info_text(&server, "rubygems", "pg_auth"));
    let versions: Vec<&str> = lines.iter().map(|l| l.version.as_str()).collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0"]);
}

#[test]
fn duplicates_and_similar_names_conflict() {
    let (server, token) = setup();
    let original = Gem::new("pg_dup", "1.0.0");
    let file = push_ok(&server, "rubygems", &token, &original);
    let before = gem_snapshot(
        &server,
        "rubygems",
        &["pg_dup", "PG_DUP", "pg-dup", "pg.dup"],
        None,
    );
    let cases = [
        ("identical file", original.clone()),
        (
            "same version, other content",
            original.clone().file("lib/pg_dup.rb", "CHANGED = true\n"),
        ),
        ("same name ignoring case", Gem::new("PG_DUP", "2.0.0")),
        ("same name with `-` for `_`", Gem::new("pg-dup", "2.0.0")),
        ("same name with `.` for `_`", Gem::new("pg.dup", "2.0.0")),
        ("case and separators", Gem::new("Pg-Dup", "1.0.0")),
    ];
    for (what, gem) in cases {
        let resp = push(&server, "rubygems", Some(&token), gem.gem_file());
        expect_text_error(&resp, &[409]);
        assert_unchanged(&server, &before, what);
    }
    let served = get(&server, "/rubygems/gems/pg_dup-1.0.0.gem");
    assert_eq!(served.expect(200).body, file, "the first file is kept");

    // The same version for another platform is a different file.
    let native = Gem::new("pg_dup", "1.0.0").platform(PLATFORM);
    push_ok(&server, "rubygems", &token, &native);
    let before = gem_snapshot(&server, "rubygems", &["pg_dup"], None);
    let resp = push(&server, "rubygems", Some(&token), native.gem_file());
    expect_text_error(&resp, &[409]);
    assert_unchanged(&server, &before, "duplicate platform file");
}
