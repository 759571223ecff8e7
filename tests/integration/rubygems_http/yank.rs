//! `gem yank` over HTTP: the version leaves `versions`/`info/NAME` (an appended line), and every
//! refused yank leaves everything unchanged.

use super::{
    PLATFORM, assert_versions_md5s_match_info, expect_status, expect_text_error, get, info_text,
    push_ok, setup, versions_text, yank,
};
use crate::support::snapshot::{assert_unchanged, gem_snapshot};
use packgate_rubygems::testing::{Gem, md5_hex, parse_info, parse_versions, versions_state};

#[test]
fn yank_removes_the_version_and_appends_a_line() {
    let (server, token) = setup();
    let ruby = Gem::new("pg_yank", "1.0.0");
    let native = Gem::new("pg_yank", "1.0.0").platform(PLATFORM);
    let newer = Gem::new("pg_yank", "1.1.0");
    for g in [&ruby, &native, &newer] {
        push_ok(&server, "rubygems", &token, g);
    }
    let before = versions_text(&server, "rubygems");

    // Without a platform only the `ruby` file goes.
    let resp = yank(&server, "rubygems", Some(&token), "pg_yank", "1.0.0", None);
    resp.expect(200);
    assert_eq!(
        resp.text().trim_end(),
        "Successfully deleted gem: pg_yank (1.0.0)"
    );
    let info = info_text(&server, "rubygems", "pg_yank");
    let versions: Vec<String> = parse_info(&info).into_iter().map(|l| l.version).collect();
    assert_eq!(versions, ["1.0.0-x86_64-linux", "1.1.0"]);
    let after = versions_text(&server, "rubygems");
    assert_eq!(
        after,
        format!("{before}pg_yank -1.0.0 {}\n", md5_hex(info.as_bytes())),
        "a yank appends exactly one line"
    );
    expect_status(&get(&server, "/rubygems/gems/pg_yank-1.0.0.gem"), 404);
    get(&server, "/rubygems/gems/pg_yank-1.0.0-x86_64-linux.gem").expect(200);
    get(&server, "/rubygems/gems/pg_yank-1.1.0.gem").expect(200);

    // With a platform only that file goes.
    let resp = yank(
        &server,
        "rubygems",
        Some(&token),
        "pg_yank",
        "1.0.0",
        Some(PLATFORM),
    );
    resp.expect(200);
    assert!(
        resp.text()
            .starts_with("Successfully deleted gem: pg_yank (1.0.0"),
        "{}",
        resp.text()
    );
    let info = info_text(&server, "rubygems", "pg_yank");
    let versions: Vec<String> = parse_info(&info).into_iter().map(|l| l.version).collect();
    assert_eq!(versions, ["1.1.0"]);
    let state = versions_state(&parse_versions(&versions_text(&server, "rubygems")));
    assert_eq!(
        state["pg_yank"],
        (vec!["1.1.0".to_owned()], md5_hex(info.as_bytes()))
    );
    expect_status(
        &get(&server, "/rubygems/gems/pg_yank-1.0.0-x86_64-linux.gem"),
        404,
    );
    assert_versions_md5s_match_info(&server, "rubygems");

    // Missing versions (never pushed, or already yanked) and gems: 404 text, nothing changed.
    let before = gem_snapshot(&server, "rubygems", &["pg_yank"], None);
    for (name, version, platform) in [
        ("pg_yank", "9.9.9", None),
        ("pg_yank", "1.0.0", None),
        ("pg_yank", "1.1.0", Some(PLATFORM)),
        ("pg_nothing", "1.0.0", None),
    ] {
        let resp = yank(&server, "rubygems", Some(&token), name, version, platform);
        expect_text_error(&resp, &[404]);
        assert_unchanged(
            &server,
            &before,
            &format!("yank of missing {name} {version} {platform:?}"),
        );
    }
}

#[test]
fn yank_refusals_leave_everything_unchanged() {
    let (server, token) = setup();
    push_ok(&server, "rubygems", &token, &Gem::new("pg_keep", "1.0.0"));
    server.add_user("reader", None);
    let read_only = server.create_token("reader", &["--scope", "read"]);
    let publish_only = server.create_token("alice", &["--scope", "read,publish"]);
    let for_npm = server.create_token(
        "alice",
        &["--scope", "read,publish,delete", "--repo", "npm"],
    );
    let before = gem_snapshot(&server, "rubygems", &["pg_keep"], None);
    let cases: [(&str, Option<&str>, u16); 5] = [
        ("no key", None, 401),
        ("unknown key", Some("not-a-key"), 401),
        ("read-only key", Some(&read_only), 403),
        ("key without delete scope", Some(&publish_only), 403),
        ("key for the npm repository", Some(&for_npm), 403),
    ];
    for (what, key, status) in cases {
        let resp = yank(&server, "rubygems", key, "pg_keep", "1.0.0", None);
        expect_text_error(&resp, &[status]);
        assert_unchanged(&server, &before, &format!("yank with {what}"));
    }
    get(&server, "/rubygems/gems/pg_keep-1.0.0.gem").expect(200);
}
