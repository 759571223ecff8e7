//! The group's `versions` as an append-only log: a change in a member is appended, so that
//! Bundler's ranged request (`Range: bytes=<size of its copy - 1>-` with `If-None-Match` of its
//! copy) gets a 206 it can append; a copy that is not a prefix of the current body (an older
//! generation, after a gem disappeared or the log was compacted) gets the whole body, never a
//! 206.

use super::{GROUP, group_get, info_keys, internal, rig, upstream, yank};
use crate::support::Resp;
use crate::support::proxy::{ProxyRig, concurrent_bodies};
use packgate_rubygems::testing::{Gem, md5_hex, parse_versions, repr_digest, versions_state};
use std::collections::BTreeMap;

/// `GET /{group}/versions` with `headers`.
fn versions_with(rig: &ProxyRig, headers: &[(&str, &str)]) -> Resp {
    rig.proxy
        .http()
        .get_with(&format!("/{GROUP}/versions"), headers)
}

/// What Bundler (2.3 and 2.5+) sends to update its `copy`: the range from its last byte on and
/// the copy's ETag (its quoted MD5).
fn bundler_update(rig: &ProxyRig, copy: &[u8]) -> Resp {
    let etag = format!("\"{}\"", md5_hex(copy));
    let range = format!("bytes={}-", copy.len() - 1);
    versions_with(rig, &[("range", &range), ("if-none-match", &etag)])
}

/// The full body after a 206 to [`bundler_update`], appended as Bundler does (the first byte
/// overlaps the copy's last); asserts that `ETag`, `Repr-Digest` and `Content-Range` describe
/// that full body.
fn appended(copy: &[u8], resp: &Resp) -> Vec<u8> {
    resp.expect(206);
    assert_eq!(
        resp.body.first(),
        copy.last(),
        "the range starts at the copy's last byte"
    );
    let mut full = copy.to_vec();
    full.extend_from_slice(&resp.body[1..]);
    assert_eq!(
        resp.header("etag").map(str::to_owned),
        Some(format!("\"{}\"", md5_hex(&full))),
        "the ETag is the MD5 of the whole new body (Bundler 2.3 checks it after appending)"
    );
    assert_eq!(
        resp.header("repr-digest").map(str::to_owned),
        Some(repr_digest(&full)),
        "Repr-Digest describes the whole new body (Bundler 2.5+ checks it after appending)"
    );
    assert_eq!(
        resp.header("content-range").map(str::to_owned),
        Some(format!(
            "bytes {}-{}/{}",
            copy.len() - 1,
            full.len() - 1,
            full.len()
        ))
    );
    full
}

/// Bundler's view of a `versions` body: per gem, live versions and the MD5.
fn state(body: &[u8]) -> BTreeMap<String, (Vec<String>, String)> {
    versions_state(&parse_versions(&String::from_utf8_lossy(body)))
}

/// The `created_at:` line of a `versions` body.
fn created_at(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The current whole `versions` of the group.
fn whole(rig: &ProxyRig) -> Vec<u8> {
    let resp = group_get(rig, "versions");
    resp.expect(200);
    resp.body.clone()
}

#[test]
fn a_ranged_versions_request_after_a_publish_to_a_member_gets_the_appended_lines() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Gem::new("ranged_one", "1.0.0"));
    upstream(&rig, &Gem::new("ranged_two", "1.0.0"));
    let first = group_get(&rig, "versions");
    first.expect(200);
    let copy = first.body.clone();
    assert_eq!(
        first.header("etag").map(str::to_owned),
        Some(format!("\"{}\"", md5_hex(&copy)))
    );
    assert_eq!(
        first.header("repr-digest").map(str::to_owned),
        Some(repr_digest(&copy))
    );
    assert!(created_at(&copy).starts_with("created_at: "), "{copy:?}");
    // Nothing new: 304.
    bundler_update(&rig, &copy).expect(304);

    // A push to the hosted member: the group appends a line, the copy is continued.
    internal(&rig, &token, &Gem::new("ranged_one", "1.1.0"));
    let resp = bundler_update(&rig, &copy);
    let after_push = appended(&copy, &resp);
    assert_eq!(after_push, whole(&rig), "the same bytes as a whole request");
    assert!(
        after_push.starts_with(&copy),
        "nothing before the copy's end changed"
    );
    let info = group_get(&rig, "info/ranged_one");
    assert_eq!(
        state(&after_push)["ranged_one"],
        (
            vec!["1.0.0".to_owned(), "1.1.0".to_owned()],
            md5_hex(&info.body)
        ),
        "the last line names the MD5 of the group's info"
    );
    assert_eq!(state(&after_push)["ranged_two"].0, ["1.0.0"]);

    // A yank in the member is appended as `-VERSION`, with the new MD5.
    yank(&rig.proxy, "rubygems", &token, "ranged_one", "1.0.0").expect(200);
    let resp = bundler_update(&rig, &after_push);
    let after_yank = appended(&after_push, &resp);
    let added = String::from_utf8_lossy(&after_yank[after_push.len()..]).into_owned();
    let info = group_get(&rig, "info/ranged_one");
    assert_eq!(
        added,
        format!("ranged_one -1.0.0 {}\n", md5_hex(&info.body)),
        "one line, as a hosted repository writes a yank"
    );
    assert_eq!(state(&after_yank)["ranged_one"].0, ["1.1.0"]);

    // A copy the group never served (same length, other bytes): the whole body, never a 206.
    let mut forged = after_push.clone();
    let at = forged.len() - 2;
    forged[at] = if forged[at] == b'0' { b'1' } else { b'0' };
    let resp = bundler_update(&rig, &forged);
    resp.expect(200);
    assert_eq!(resp.body, after_yank);
    // A range starting past the end: 416 (Bundler asks again without Range).
    let past = format!("bytes={}-", after_yank.len() + 10);
    let resp = versions_with(
        &rig,
        &[
            ("range", &past),
            ("if-none-match", "\"0123456789abcdef0123456789abcdef\""),
        ],
    );
    resp.expect(416);
    assert_eq!(
        resp.header("content-range").map(str::to_owned),
        Some(format!("bytes */{}", after_yank.len()))
    );
    versions_with(&rig, &[("range", &past)]).expect(416);
    // Without If-None-Match a satisfiable range is the client's own business: a 206.
    let resp = versions_with(&rig, &[("range", "bytes=5-")]);
    resp.expect(206);
    assert_eq!(resp.body, after_yank[5..]);
    let head = rig
        .proxy
        .http()
        .head_with(&format!("/{GROUP}/versions"), &[]);
    head.expect(200);
    assert_eq!(
        head.header("etag").map(str::to_owned),
        Some(format!("\"{}\"", md5_hex(&after_yank)))
    );

    // info/NAME is regenerated, not appended: always whole, 304 on its ETag.
    let info = group_get(&rig, "info/ranged_two");
    let info_etag = info.header("etag").expect("etag").to_owned();
    rig.proxy
        .http()
        .get_with(
            &format!("/{GROUP}/info/ranged_two"),
            &[("range", "bytes=3-"), ("if-none-match", &info_etag)],
        )
        .expect(304);
    let ranged = rig.proxy.http().get_with(
        &format!("/{GROUP}/info/ranged_two"),
        &[("range", "bytes=3-")],
    );
    ranged.expect(200);
    assert_eq!(ranged.body, info.body);
}

#[test]
fn a_gem_gone_from_every_member_starts_a_new_generation_that_old_copies_get_whole() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Gem::new("going_away", "1.0.0"));
    internal(&rig, &token, &Gem::new("staying", "1.0.0"));
    let copy = whole(&rig);
    assert!(state(&copy).contains_key("going_away"));
    // Its only version yanked: the gem leaves the group entirely (Bundler would otherwise ask
    // for an info/NAME that is gone), which a log cannot express by appending.
    yank(&rig.proxy, "rubygems", &token, "going_away", "1.0.0").expect(200);
    // The new generation is shorter than the copy: its range starts past the end (416), and
    // Bundler asks again without `Range` (keeping `If-None-Match`), which gets the whole body.
    bundler_update(&rig, &copy).expect(416);
    let etag = format!("\"{}\"", md5_hex(&copy));
    let resp = versions_with(&rig, &[("if-none-match", &etag)]);
    resp.expect(200);
    let fresh = resp.body.clone();
    assert_eq!(fresh, whole(&rig));
    assert_ne!(created_at(&fresh), created_at(&copy), "a new generation");
    assert_eq!(
        state(&fresh).keys().collect::<Vec<_>>(),
        ["staying"],
        "{}",
        String::from_utf8_lossy(&fresh)
    );
    assert_eq!(
        resp.header("etag").map(str::to_owned),
        Some(format!("\"{}\"", md5_hex(&fresh)))
    );
    // A copy of the old generation that is shorter than the new body: its range is inside the
    // body, but the copy is no prefix of it, so the whole body comes back, never a 206.
    let short = &copy[..copy.len().min(fresh.len() - 1)];
    let short = &short[..=short.iter().rposition(|b| *b == b'\n').unwrap_or(0)];
    let resp = bundler_update(&rig, short);
    resp.expect(200);
    assert_eq!(resp.body, fresh);
    // The new generation is appended to again.
    internal(&rig, &token, &Gem::new("staying", "1.1.0"));
    let resp = bundler_update(&rig, &fresh);
    let next = appended(&fresh, &resp);
    assert_eq!(state(&next)["staying"].0, ["1.0.0", "1.1.0"]);
}

#[test]
fn a_log_grown_past_twice_a_fresh_rebuild_is_compacted_and_old_copies_get_it_whole() {
    let (rig, token) = rig("");
    // A long gem name makes each appended line long (`lib/NAME.rb` must fit a tar name).
    let name = format!("grow{}", "x".repeat(86));
    internal(&rig, &token, &Gem::new(&name, "1.0.0"));
    let mut copy = whole(&rig);
    let first_generation = created_at(&copy);
    let mut compacted = None;
    for i in 1..400 {
        internal(&rig, &token, &Gem::new(&name, &format!("1.0.{i}")));
        let resp = bundler_update(&rig, &copy);
        if resp.status == 206 {
            copy = appended(&copy, &resp);
            continue;
        }
        // The compacted body is shorter than the copy: 416, then Bundler's request without
        // `Range` gets it whole.
        resp.expect(416);
        let etag = format!("\"{}\"", md5_hex(&copy));
        let resp = versions_with(&rig, &[("if-none-match", &etag)]);
        resp.expect(200);
        compacted = Some((i, resp.body.clone()));
        break;
    }
    let (last, fresh) = compacted.expect("the log is compacted before 400 appends");
    assert!(
        copy.len() > 16 * 1024,
        "compacted only after growing past the slack: {} bytes",
        copy.len()
    );
    assert!(fresh.len() < copy.len() / 2, "a fresh rebuild is smaller");
    assert_ne!(created_at(&fresh), first_generation);
    let versions: Vec<String> = (0..=last).map(|i| format!("1.0.{i}")).collect();
    assert_eq!(state(&fresh)[&name].0, versions);
    assert_eq!(
        String::from_utf8_lossy(&fresh).lines().count(),
        3,
        "one line per gem after the header"
    );
    assert_eq!(fresh, whole(&rig));
}

#[test]
fn while_a_member_fails_its_gems_keep_their_lines_and_claimed_gems_still_update() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Gem::new("held_here", "1.0.0"));
    upstream(&rig, &Gem::new("from_afar", "1.0.0"));
    let copy = whole(&rig);
    assert_eq!(state(&copy)["from_afar"].0, ["1.0.0"]);
    // The proxy member loses its cached versions and its upstream.
    crate::support::proxy::purge(&rig, "");
    rig.fault.down();
    internal(&rig, &token, &Gem::new("held_here", "1.1.0"));
    let resp = bundler_update(&rig, &copy);
    assert_eq!(resp.header("x-packgate-partial"), Some("rubygems-proxy"));
    let next = appended(&copy, &resp);
    let added = String::from_utf8_lossy(&next[copy.len()..]).into_owned();
    assert!(
        added.lines().all(|l| l.starts_with("held_here ")),
        "only the claimed gem changes: {added:?}"
    );
    assert_eq!(state(&next)["held_here"].0, ["1.0.0", "1.1.0"]);
    assert_eq!(
        state(&next)["from_afar"],
        state(&copy)["from_afar"],
        "the failing member's gem keeps its line (nothing taken away, no new generation)"
    );
    // Back up: nothing to append for it, the copy stays current.
    rig.fault.resume();
    let resp = bundler_update(&rig, &next);
    resp.expect(304);
    assert_eq!(resp.header("x-packgate-partial"), None);
}

#[test]
fn concurrent_requests_after_a_change_append_it_once() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Gem::new("busy", "1.0.0"));
    let copy = whole(&rig);
    internal(&rig, &token, &Gem::new("busy", "1.1.0"));
    let bodies = concurrent_bodies(16, || group_get(&rig, "versions"));
    for body in &bodies {
        assert_eq!(body, &bodies[0], "every request sees the same log");
    }
    let body = &bodies[0];
    assert!(body.starts_with(&copy));
    let lines = String::from_utf8_lossy(&body[copy.len()..]).into_owned();
    assert_eq!(
        lines.lines().filter(|l| l.starts_with("busy ")).count(),
        1,
        "the change is appended once: {lines:?}"
    );
    assert_eq!(state(body)["busy"].0, ["1.0.0", "1.1.0"]);
    let info = group_get(&rig, "info/busy");
    assert_eq!(info_keys(&info.text()), ["1.0.0", "1.1.0"]);
    assert_eq!(state(body)["busy"].1, md5_hex(&info.body));
}

#[test]
fn two_instances_sharing_postgresql_append_a_change_once_and_serve_the_same_log() {
    if !std::env::var("PACKGATE_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        println!("SKIP: PACKGATE_TEST_DATABASE_URL not set (two instances need PostgreSQL)");
        return;
    }
    let (rig, token) = rig("");
    let second = rig.proxy.start_second();
    internal(&rig, &token, &Gem::new("shared_log", "1.0.0"));
    let copy = whole(&rig);
    internal(&rig, &token, &Gem::new("shared_log", "1.1.0"));
    let bodies: Vec<Resp> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let server = if i % 2 == 0 { &rig.proxy } else { &second };
                s.spawn(move || server.http().get(&format!("/{GROUP}/versions")))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("request thread"))
            .collect()
    });
    for r in &bodies {
        r.expect(200);
        assert_eq!(r.body, bodies[0].body, "both instances serve the same log");
    }
    let body = &bodies[0].body;
    assert!(body.starts_with(&copy));
    let lines = String::from_utf8_lossy(&body[copy.len()..]).into_owned();
    assert_eq!(
        lines.lines().count(),
        1,
        "the change is appended once: {lines:?}"
    );
    assert_eq!(state(body)["shared_log"].0, ["1.0.0", "1.1.0"]);
    // Bundler's update through the other instance continues the same copy.
    let etag = format!("\"{}\"", md5_hex(&copy));
    let range = format!("bytes={}-", copy.len() - 1);
    let resp = second.http().get_with(
        &format!("/{GROUP}/versions"),
        &[("range", &range), ("if-none-match", &etag)],
    );
    assert_eq!(appended(&copy, &resp), *body);
}
