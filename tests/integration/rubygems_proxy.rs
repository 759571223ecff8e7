//! RubyGems proxy repositories over HTTP: the upstream is a second packgate (hosted repository
//! `rubygems`) behind the fault proxy, which counts the requests that reach it and injects
//! failures. Each rule of the proxy cache has a test here (passthrough sha256, TTL and 304, Range
//! and Repr-Digest, the versions/info MD5 rule, single flight, stale, negative cache with
//! revalidation, checksum mismatch, quick specs and legacy indexes, deletions, offline, cooldown,
//! writes, hostile answers); the real Bundler and gem clients are in `rubygems_proxy/cli.rs`.

use crate::support::fault_proxy::Fault;
use crate::support::proxy::{
    ProxyRig, STALE_SETTINGS, concurrent_bodies, expect_one_conditional_revalidation,
    expect_refused_file, expect_stale_copy, outlive_ttl, proxy_event, upstream_failures,
    utc_seconds,
};
use crate::support::{Resp, TestServer};
use packgate::services::time::parse_rfc3339;
use packgate_rubygems::proxy::info_entries;
use packgate_rubygems::testing::{
    Gem, md5_hex, parse_versions, repr_digest, sha256_hex, versions_state,
};
use std::time::{Duration, Instant};

mod cli;

/// Pushes `gem` to the upstream's hosted `rubygems` repository; returns the `.gem` bytes.
fn push(rig: &ProxyRig, gem: &Gem) -> Vec<u8> {
    push_to(&rig.upstream, &rig.token, gem)
}

fn push_to(server: &TestServer, token: &str, gem: &Gem) -> Vec<u8> {
    let file = gem.gem_file();
    server
        .http()
        .send(
            "POST",
            "/rubygems/api/v1/gems",
            &[
                ("content-type", "application/octet-stream"),
                ("authorization", token),
            ],
            Some(file.clone()),
        )
        .expect(200);
    file
}

/// `gem yank NAME -v VERSION` on the upstream.
fn yank(rig: &ProxyRig, name: &str, version: &str) {
    rig.upstream
        .http()
        .send(
            "DELETE",
            "/rubygems/api/v1/gems/yank",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", rig.token.as_str()),
            ],
            Some(format!("gem_name={name}&version={version}").into_bytes()),
        )
        .expect(200);
}

/// `GET {proxy}/{repo}/{path}`.
fn get(rig: &ProxyRig, path: &str) -> Resp {
    rig.proxy.http().get(&format!("/{}/{path}", rig.repo))
}

fn get_with(rig: &ProxyRig, path: &str, headers: &[(&str, &str)]) -> Resp {
    rig.proxy
        .http()
        .get_with(&format!("/{}/{path}", rig.repo), headers)
}

/// The same document straight from the upstream (not through the fault proxy: not counted).
fn upstream(rig: &ProxyRig, path: &str) -> Resp {
    let r = rig.upstream.http().get(&format!("/rubygems/{path}"));
    r.expect(200);
    r
}

/// The path the fault proxy counts for `path`.
fn counted(path: &str) -> String {
    format!("/rubygems/{path}")
}

/// Asserts a RubyGems refusal: the status and a non-empty plain-text body; returns the text.
fn gem_error(resp: &Resp, status: u16) -> String {
    resp.expect(status);
    let text = resp.text();
    assert!(
        !text.trim().is_empty() && !text.trim_start().starts_with('{'),
        "{}: a plain-text error body: {text:?}",
        resp.request
    );
    text
}

/// Bundler's view of a served `versions`: per gem, live versions and the last line's MD5.
fn state_of(body: &str) -> std::collections::BTreeMap<String, (Vec<String>, String)> {
    versions_state(&parse_versions(body))
}

#[test]
fn the_compact_index_passes_through_byte_for_byte_and_is_served_from_the_cache_inside_the_ttl() {
    let rig = ProxyRig::start("rubygems", "rubygems", "");
    push(&rig, &Gem::new("pg_dep", "1.0.0"));
    push(
        &rig,
        &Gem::new("pg_demo", "0.1.0")
            .dep("pg_dep", &[">= 1.0", "< 3"])
            .required_ruby(&[">= 2.7"]),
    );
    push(&rig, &Gem::new("pg_demo", "0.2.0").platform("x86_64-linux"));
    for path in ["versions", "info/pg_demo", "names"] {
        let first = get(&rig, path);
        first.expect(200);
        assert_eq!(first.header("x-packgate-cache"), Some("miss"), "{path}");
        let up = upstream(&rig, path);
        assert_eq!(
            sha256_hex(&first.body),
            sha256_hex(&up.body),
            "{path} is the upstream's bytes"
        );
        assert_eq!(
            first.header("etag").map(str::to_owned),
            Some(format!("\"{}\"", md5_hex(&first.body))),
            "{path}: ETag is the quoted MD5 (Bundler 2.3 checks it)"
        );
        assert_eq!(
            first.header("repr-digest").map(str::to_owned),
            Some(repr_digest(&first.body)),
            "{path}"
        );
        for _ in 0..3 {
            let again = get(&rig, path);
            again.expect(200);
            assert_eq!(again.header("x-packgate-cache"), Some("hit"), "{path}");
            assert_eq!(
                again.body, first.body,
                "{path}: a cached copy keeps its bytes"
            );
        }
        assert_eq!(rig.fault.count(&counted(path)), 1, "{path}: one fetch");
        for host in rig.upstream_hosts() {
            assert!(!first.text().contains(&host), "{path} names {host}");
        }
    }
    // The served versions names exactly the MD5 of the served info.
    let versions = get(&rig, "versions").text();
    let info = get(&rig, "info/pg_demo");
    assert_eq!(state_of(&versions)["pg_demo"].1, md5_hex(&info.body));
    assert!(proxy_event(&rig, "hit") >= 9);
    // HEAD answers with the same validators (RubyGems 3.6 probes versions with HEAD).
    let head = rig
        .proxy
        .http()
        .head_with(&format!("/{}/versions", rig.repo), &[]);
    head.expect(200);
    assert_eq!(
        head.header("etag").map(str::to_owned),
        Some(format!("\"{}\"", md5_hex(versions.as_bytes())))
    );
}

#[test]
fn after_the_ttl_one_conditional_request_revalidates_and_a_304_keeps_the_bytes() {
    let rig = ProxyRig::start("rubygems", "rubygems", "metadata_ttl = \"1s\"");
    push(&rig, &Gem::new("pg_fresh", "1.0.0"));
    let first = get(&rig, "versions");
    first.expect(200);
    outlive_ttl();
    let second = get(&rig, "versions");
    let path = "/rubygems/versions";
    expect_one_conditional_revalidation(&rig, path, (&first, &second), &["if-none-match"]);
    get(&rig, "versions").expect(200);
    assert_eq!(
        rig.fault.count("/rubygems/versions"),
        2,
        "inside the renewed window"
    );
    // A gem published upstream shows after the next window.
    push(&rig, &Gem::new("pg_later", "1.0.0"));
    std::thread::sleep(Duration::from_millis(1200));
    let third = get(&rig, "versions").text();
    assert!(state_of(&third).contains_key("pg_later"), "{third}");
}

#[test]
fn versions_honours_range_etag_and_repr_digest_like_the_upstream() {
    let rig = ProxyRig::start("rubygems", "rubygems", "metadata_ttl = \"1s\"");
    push(&rig, &Gem::new("pg_ranged", "1.0.0"));
    let full = get(&rig, "versions");
    full.expect(200);
    let body = full.body.clone();
    let etag = full.header("etag").expect("etag").to_owned();
    // Bundler 2.3 asks for the last byte on: 206 of the cached bytes, validators of the whole.
    let from = format!("bytes={}-", body.len() - 1);
    let part = get_with(&rig, "versions", &[("range", &from)]);
    part.expect(206);
    assert_eq!(part.body, &body[body.len() - 1..]);
    assert_eq!(
        part.header("content-range").map(str::to_owned),
        Some(format!(
            "bytes {}-{}/{}",
            body.len() - 1,
            body.len() - 1,
            body.len()
        ))
    );
    assert_eq!(part.header("etag"), Some(etag.as_str()));
    assert_eq!(
        part.header("repr-digest").map(str::to_owned),
        Some(repr_digest(&body))
    );
    // A matching If-None-Match is a 304, also with a Range.
    let same = get_with(
        &rig,
        "versions",
        &[("if-none-match", &etag), ("range", &from)],
    );
    same.expect(304);
    // A range past the end (a client copy longer than the upstream's) is the whole body, never
    // a 416.
    let past = format!("bytes={}-", body.len() + 10);
    let whole = get_with(&rig, "versions", &[("range", &past)]);
    whole.expect(200);
    assert_eq!(whole.body, body);
    // The upstream appends; after the TTL a ranged request gets exactly the new tail, and the
    // client's appended copy matches the validators (what Bundler checks).
    push(&rig, &Gem::new("pg_ranged", "1.1.0"));
    std::thread::sleep(Duration::from_millis(1200));
    let tail = get_with(
        &rig,
        "versions",
        &[("if-none-match", &etag), ("range", &from)],
    );
    tail.expect(206);
    let mut appended = body.clone();
    appended.extend_from_slice(&tail.body[1..]);
    assert_eq!(
        tail.header("etag").map(str::to_owned),
        Some(format!("\"{}\"", md5_hex(&appended)))
    );
    assert_eq!(
        tail.header("repr-digest").map(str::to_owned),
        Some(repr_digest(&appended))
    );
    assert_eq!(appended, upstream(&rig, "versions").body);
}

#[test]
fn an_info_older_than_the_served_versions_is_revalidated_before_it_is_served() {
    let rig = ProxyRig::start("rubygems", "rubygems", "metadata_ttl = \"4s\"");
    push(&rig, &Gem::new("pg_moving", "1.0.0"));
    let start = Instant::now();
    get(&rig, "versions").expect(200);
    std::thread::sleep(Duration::from_millis(2000));
    let old_info = get(&rig, "info/pg_moving");
    old_info.expect(200);
    push(&rig, &Gem::new("pg_moving", "1.1.0"));
    // versions expires (fetched at 0 s) while info (fetched at 2 s) is still fresh.
    std::thread::sleep(Duration::from_millis(4300).saturating_sub(start.elapsed()));
    let versions = get(&rig, "versions");
    assert_eq!(versions.header("x-packgate-cache"), Some("revalidated"));
    let listed = state_of(&versions.text())["pg_moving"].1.clone();
    assert_ne!(listed, md5_hex(&old_info.body), "versions moved on");
    assert!(
        start.elapsed() < Duration::from_millis(5800),
        "the cached info is still inside its window"
    );
    let info = get(&rig, "info/pg_moving");
    info.expect(200);
    assert_eq!(
        md5_hex(&info.body),
        listed,
        "info is as new as the versions served"
    );
    assert_eq!(rig.fault.count("/rubygems/info/pg_moving"), 2);
    assert!(info.text().contains("1.1.0 "), "{}", info.text());
}

#[test]
fn fifty_concurrent_cold_requests_cause_one_upstream_request_each() {
    let rig = ProxyRig::start("rubygems", "rubygems", "");
    let gem = Gem::new("pg_crowded", "1.0.0")
        .file("data/blob.bin", crate::support::random_bytes(300_000, 7));
    let file = push(&rig, &gem);
    rig.fault
        .set("/rubygems/", Fault::Delay(Duration::from_millis(300)));
    let run = |path: String| concurrent_bodies(50, || get(&rig, &path));
    let infos = run("info/pg_crowded".into());
    assert!(infos.windows(2).all(|w| w[0] == w[1]), "identical info");
    assert_eq!(rig.fault.count("/rubygems/info/pg_crowded"), 1);
    let gems = run(format!("gems/{}", gem.file_name()));
    assert!(gems.iter().all(|g| *g == file), "every client got the gem");
    assert_eq!(
        rig.fault
            .count(&format!("/rubygems/gems/{}", gem.file_name())),
        1
    );
}

#[test]
fn a_failing_upstream_gets_the_stale_copy_or_a_gateway_error_never_a_404() {
    let rig = ProxyRig::start("rubygems", "rubygems", STALE_SETTINGS);
    push(&rig, &Gem::new("pg_steady", "1.0.0"));
    let mut last_good = get(&rig, "info/pg_steady");
    last_good.expect(200);
    for (round, (fault, uncached_status)) in upstream_failures().into_iter().enumerate() {
        // A new upstream version, so that the revalidation gets a body to break (not a 304).
        push(&rig, &Gem::new("pg_steady", &format!("1.1.{round}")));
        push(&rig, &Gem::new(&format!("pg_cold{round}"), "1.0.0"));
        outlive_ttl();
        rig.fault.set("/rubygems/", fault.clone());
        expect_stale_copy(&get(&rig, "info/pg_steady"), &last_good, &fault);
        let cold = get(&rig, &format!("info/pg_cold{round}"));
        let msg = gem_error(&cold, uncached_status);
        assert!(msg.contains("upstream"), "{fault:?}: {msg}");
        let cold_gem = get(&rig, &format!("gems/pg_cold{round}-1.0.0.gem"));
        assert!(
            [502, 503, 504].contains(&cold_gem.status),
            "{fault:?}: {} {}",
            cold_gem.status,
            cold_gem.text()
        );
        rig.fault.clear();
        last_good = get(&rig, "info/pg_steady");
        last_good.expect(200);
        assert!(last_good.text().contains(&format!("1.1.{round} ")));
    }
    outlive_ttl();
    rig.fault.down();
    let stale = get(&rig, "info/pg_steady");
    stale.expect(200);
    assert_eq!(stale.header("x-packgate-cache"), Some("stale"));
    assert!(proxy_event(&rig, "stale") >= 5);
    assert!(proxy_event(&rig, "upstream_error") >= 5);
}

#[test]
fn an_upstream_404_is_remembered_for_negative_ttl_only() {
    let rig = ProxyRig::start("rubygems", "rubygems", "negative_ttl = \"1s\"");
    gem_error(&get(&rig, "info/pg_later"), 404);
    gem_error(&get(&rig, "info/pg_later"), 404);
    assert_eq!(rig.fault.count("/rubygems/info/pg_later"), 1, "cached 404");
    push(&rig, &Gem::new("pg_later", "1.0.0"));
    std::thread::sleep(Duration::from_millis(1200));
    get(&rig, "info/pg_later").expect(200);
    assert_eq!(rig.fault.count("/rubygems/info/pg_later"), 2);
}

#[test]
fn a_gem_published_after_its_info_was_cached_is_found_by_one_revalidation() {
    let rig = ProxyRig::start("rubygems", "rubygems", "metadata_ttl = \"1h\"");
    push(&rig, &Gem::new("pg_new", "1.0.0"));
    get(&rig, "info/pg_new").expect(200);
    let newer = Gem::new("pg_new", "1.1.0").platform("x86_64-linux");
    let file = push(&rig, &newer);
    std::thread::sleep(Duration::from_millis(1100));
    let got = get(&rig, &format!("gems/{}", newer.file_name()));
    got.expect(200);
    assert_eq!(got.body, file);
    assert_eq!(got.header("x-packgate-cache"), Some("miss"));
    assert_eq!(
        rig.fault.count("/rubygems/info/pg_new"),
        2,
        "one revalidation"
    );
    let spec = get(
        &rig,
        &format!("quick/Marshal.4.8/{}.gemspec.rz", newer.spec_stem()),
    );
    spec.expect(200);
    gem_error(&get(&rig, "gems/pg_new-9.9.9.gem"), 404);
    gem_error(&get(&rig, "gems/pg_unheard-1.0.gem"), 404);
}

#[test]
fn a_gem_that_does_not_match_its_info_checksum_is_refused_and_nothing_is_stored() {
    let rig = ProxyRig::start("rubygems", "rubygems", "");
    let gem = Gem::new("pg_tampered", "1.0.0").file("lib/data.txt", "the real bytes");
    let file = push(&rig, &gem);
    get(&rig, "info/pg_tampered").expect(200);
    let path = format!("/rubygems/gems/{}", gem.file_name());
    for fault in [
        Fault::Corrupt,
        Fault::Swap(
            Gem::new("pg_tampered", "1.0.0")
                .file("lib/data.txt", "evil")
                .gem_file(),
        ),
        Fault::Truncate(20),
    ] {
        rig.fault.set(&path, fault.clone());
        expect_refused_file(&get(&rig, &format!("gems/{}", gem.file_name())), &fault);
    }
    assert!(proxy_event(&rig, "digest_mismatch") >= 2);
    rig.fault.clear();
    let good = get(&rig, &format!("gems/{}", gem.file_name()));
    good.expect(200);
    assert_eq!(good.body, file);
    assert_eq!(
        good.header("x-packgate-cache"),
        Some("miss"),
        "nothing bad was cached"
    );
}

#[test]
fn quick_specs_and_legacy_indexes_are_cached_and_served_after_the_upstream_is_gone() {
    let rig = ProxyRig::start("rubygems", "rubygems", "metadata_ttl = \"1s\"");
    let gem = Gem::new("pg_spec", "1.0.0").dep("pg_other", &["~> 1.0"]);
    push(&rig, &gem);
    push(&rig, &Gem::new("pg_spec", "2.0.0.pre"));
    let spec_path = format!("quick/Marshal.4.8/{}.gemspec.rz", gem.spec_stem());
    let spec = get(&rig, &spec_path);
    spec.expect(200);
    assert_eq!(spec.body, upstream(&rig, &spec_path).body);
    let again = get(&rig, &spec_path);
    assert_eq!(again.header("x-packgate-cache"), Some("hit"));
    assert_eq!(again.body, spec.body, "pinned on first sight");
    assert_eq!(rig.fault.count(&counted(&spec_path)), 1);
    let legacy = [
        "specs.4.8.gz",
        "latest_specs.4.8.gz",
        "prerelease_specs.4.8.gz",
    ];
    for file in legacy {
        let served = get(&rig, file);
        served.expect(200);
        assert_eq!(
            sha256_hex(&served.body),
            sha256_hex(&upstream(&rig, file).body),
            "{file}"
        );
        let etag = served.header("etag").expect("etag").to_owned();
        get_with(&rig, file, &[("if-none-match", &etag)]).expect(304);
        assert_eq!(rig.fault.count(&counted(file)), 1, "{file}");
    }
    gem_error(&get(&rig, "other_specs.4.8.gz"), 404);
    rig.fault.down();
    std::thread::sleep(Duration::from_millis(1200));
    for file in legacy {
        let stale = get(&rig, file);
        stale.expect(200);
        assert_eq!(stale.header("x-packgate-cache"), Some("stale"), "{file}");
    }
    let kept = get(&rig, &spec_path);
    kept.expect(200);
    assert_eq!(kept.body, spec.body);
}

#[test]
fn upstream_yanks_disappear_from_the_index_but_cached_gems_stay_downloadable() {
    let rig = ProxyRig::start("rubygems", "rubygems", "metadata_ttl = \"1s\"");
    let old = Gem::new("pg_shrinking", "1.0.0");
    let old_file = push(&rig, &old);
    push(&rig, &Gem::new("pg_shrinking", "2.0.0"));
    get(&rig, "versions").expect(200);
    get(&rig, &format!("gems/{}", old.file_name())).expect(200);
    yank(&rig, "pg_shrinking", "1.0.0");
    std::thread::sleep(Duration::from_millis(1200));
    let versions = get(&rig, "versions").text();
    let info = get(&rig, "info/pg_shrinking");
    let keys: Vec<String> = info_entries(&info.body)
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["2.0.0"]);
    assert_eq!(
        state_of(&versions)["pg_shrinking"],
        (vec!["2.0.0".to_owned()], md5_hex(&info.body))
    );
    let file = get(&rig, &format!("gems/{}", old.file_name()));
    file.expect(200);
    assert_eq!(file.body, old_file, "lockfiles keep working");
    assert_eq!(file.header("x-packgate-cache"), Some("hit"));
}

#[test]
fn an_offline_proxy_contacts_nobody_and_names_itself_for_uncached_gems() {
    let rig = ProxyRig::start("rubygems", "rubygems", "");
    let gem = Gem::new("pg_kept", "1.0.0");
    let file = push(&rig, &gem);
    push(&rig, &Gem::new("pg_uncached", "1.0.0"));
    for path in [
        "versions".to_owned(),
        "info/pg_kept".to_owned(),
        format!("gems/{}", gem.file_name()),
        format!("quick/Marshal.4.8/{}.gemspec.rz", gem.spec_stem()),
    ] {
        get(&rig, &path).expect(200);
    }
    // The same deployment restarted with `offline = true`.
    let offline = rig.restart_offline();
    let http = offline.http();
    let at = |path: &str| http.get(&format!("/{}/{path}", rig.repo));
    let info = at("info/pg_kept");
    info.expect(200);
    assert_eq!(info.header("x-packgate-cache"), Some("offline"));
    at("versions").expect(200);
    assert_eq!(at(&format!("gems/{}", gem.file_name())).body, file);
    at(&format!("quick/Marshal.4.8/{}.gemspec.rz", gem.spec_stem())).expect(200);
    for path in ["info/pg_uncached", "gems/pg_uncached-1.0.0.gem", "names"] {
        let msg = gem_error(&at(path), 503);
        assert!(msg.contains(&rig.repo) && msg.contains("offline"), "{msg}");
    }
    assert_eq!(rig.fault.total(), 0, "an offline proxy asks nobody");
}

/// An `info/NAME` of the format v2 the public registry serves: the upstream's lines with
/// `created_at:` appended, per version (`None`: left without).
fn with_created_at(info: &[u8], dates: &[(&str, Option<String>)]) -> String {
    let text = String::from_utf8(info.to_vec()).expect("utf-8");
    text.lines()
        .map(|line| {
            let key = line.split(' ').next().unwrap_or("");
            match dates.iter().find(|(v, _)| *v == key) {
                Some((_, Some(at))) => format!("{line},created_at:{at}\n"),
                _ => format!("{line}\n"),
            }
        })
        .collect()
}

/// `versions` with the last line of `name` naming `md5`.
fn with_md5(versions: &str, name: &str, md5: &str) -> String {
    let last = versions
        .lines()
        .collect::<Vec<_>>()
        .iter()
        .rposition(|l| l.split(' ').next() == Some(name))
        .expect("gem listed");
    versions
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == last {
                let (head, _) = l.rsplit_once(' ').expect("md5 field");
                format!("{head} {md5}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[test]
fn a_cooldown_hides_young_info_lines_and_versions_carries_the_filtered_md5() {
    let rig = ProxyRig::start(
        "rubygems",
        "rubygems",
        "min_age = \"1h\"\nmin_age_exempt = [\"pg_trusted*\"]",
    );
    let old = Gem::new("pg_cool", "1.0.0");
    let old_file = push(&rig, &old);
    let young = Gem::new("pg_cool", "2.0.0");
    push(&rig, &young);
    push(&rig, &Gem::new("pg_trusted", "1.0.0"));
    push(&rig, &Gem::new("pg_undated", "1.0.0"));
    // The hosted upstream writes no created_at (format v1); the fault proxy serves the v2 form.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let recent = utc_seconds(now - 10 * 60_000);
    assert!(parse_rfc3339(&recent).is_some_and(|t| (now - t) < 11 * 60_000));
    let cool = with_created_at(
        &upstream(&rig, "info/pg_cool").body,
        &[
            ("1.0.0", Some("2020-01-01T00:00:00.000Z".into())),
            ("2.0.0", Some(recent.clone())),
        ],
    );
    let trusted = with_created_at(
        &upstream(&rig, "info/pg_trusted").body,
        &[("1.0.0", Some(recent.clone()))],
    );
    let mut versions = upstream(&rig, "versions").text();
    versions = with_md5(&versions, "pg_cool", &md5_hex(cool.as_bytes()));
    versions = with_md5(&versions, "pg_trusted", &md5_hex(trusted.as_bytes()));
    let body = |text: &str| Fault::Body {
        content_type: "text/plain; charset=utf-8".into(),
        body: text.as_bytes().to_vec(),
    };
    rig.fault.set("/rubygems/info/pg_cool", body(&cool));
    rig.fault.set("/rubygems/info/pg_trusted", body(&trusted));
    rig.fault.set("/rubygems/versions", body(&versions));

    // Nothing filtered yet: versions passes through.
    let before = get(&rig, "versions");
    assert_eq!(before.text(), versions);
    let info = get(&rig, "info/pg_cool");
    info.expect(200);
    let lines: Vec<&str> = cool.lines().collect();
    assert_eq!(
        info.text(),
        format!("{}\n{}\n", lines[0], lines[1]),
        "the young line is left out, the kept one is byte-identical (checksum and created_at)"
    );
    // versions now carries the filtered info's MD5 and lists only the kept version (200, never
    // a 206 of a regenerated file).
    let from = format!("bytes={}-", before.body.len() - 1);
    let after = get_with(&rig, "versions", &[("range", &from)]);
    after.expect(200);
    let state = state_of(&after.text());
    assert_eq!(
        state["pg_cool"],
        (vec!["1.0.0".to_owned()], md5_hex(&info.body))
    );
    assert_eq!(
        after.header("etag").map(str::to_owned),
        Some(format!("\"{}\"", md5_hex(&after.body)))
    );
    // Exempt and undated gems pass through byte for byte (min_age_unknown = "allow").
    assert_eq!(get(&rig, "info/pg_trusted").text(), trusted);
    assert_eq!(
        sha256_hex(&get(&rig, "info/pg_undated").body),
        sha256_hex(&upstream(&rig, "info/pg_undated").body)
    );
    assert_eq!(state["pg_trusted"].1, md5_hex(trusted.as_bytes()));
    // The hidden version's files are refused with the reason; the kept one downloads.
    for path in [
        format!("gems/{}", young.file_name()),
        format!("quick/Marshal.4.8/{}.gemspec.rz", young.spec_stem()),
    ] {
        let msg = gem_error(&get(&rig, &path), 403);
        assert!(msg.contains("cooldown"), "{msg}");
    }
    assert_eq!(
        get(&rig, &format!("gems/{}", old.file_name())).body,
        old_file
    );
    get(&rig, "gems/pg_trusted-1.0.0.gem").expect(200);
}

#[test]
fn writes_to_a_proxy_are_refused_with_405_naming_it_a_proxy() {
    let rig = ProxyRig::start("rubygems", "rubygems", "");
    let token = rig.proxy.publisher("alice");
    let http = rig.proxy.http();
    let push = http.send(
        "POST",
        &format!("/{}/api/v1/gems", rig.repo),
        &[
            ("content-type", "application/octet-stream"),
            ("authorization", token.as_str()),
        ],
        Some(Gem::new("pg_nope", "1.0.0").gem_file()),
    );
    let msg = gem_error(&push, 405);
    assert!(msg.contains("proxy"), "{msg}");
    let form = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", token.as_str()),
    ];
    let yank = http.send(
        "DELETE",
        &format!("/{}/api/v1/gems/yank", rig.repo),
        &form,
        Some(b"gem_name=pg_nope&version=1.0.0".to_vec()),
    );
    gem_error(&yank, 405);
    let owner = http.send(
        "POST",
        &format!("/{}/api/v1/gems/pg_nope/owners", rig.repo),
        &form,
        Some(b"email=alice".to_vec()),
    );
    gem_error(&owner, 405);
    // The dependency API is not served by the hosted side either (Bundler uses the compact
    // index): 404, and nothing is asked upstream.
    gem_error(&get(&rig, "api/v1/dependencies?gems=pg_nope"), 404);
    assert_eq!(rig.fault.total(), 0);
}

#[test]
fn hostile_upstream_answers_are_not_cached() {
    let rig = ProxyRig::start("rubygems", "rubygems", "max_document_size = \"4 KiB\"");
    push(&rig, &Gem::new("pg_victim", "1.0.0"));
    let text = |s: &str| Fault::Body {
        content_type: "text/plain".into(),
        body: s.as_bytes().to_vec(),
    };
    for (path, fault) in [
        ("info/pg_victim", text("<html>maintenance</html>")),
        (
            "info/pg_victim",
            text(&format!("---\n{}\n", "x".repeat(10_000))),
        ),
        ("versions", text("---\npg_victim 1.0.0 not-an-md5\n")),
        (
            "names",
            Fault::Redirect("http://127.0.0.1:9/elsewhere".into()),
        ),
    ] {
        rig.fault.set(&counted(path), fault.clone());
        let msg = gem_error(&get(&rig, path), 502);
        assert!(msg.contains("upstream"), "{path} {fault:?}: {msg}");
        rig.fault.clear();
        get(&rig, path).expect(200);
        crate::support::proxy::purge(
            &rig,
            if path == "info/pg_victim" {
                "pg_victim"
            } else {
                ""
            },
        );
    }
}
