//! Cargo proxy repositories over HTTP: the upstream is a second packgate (its hosted `cargo`
//! repository, whose sparse index `{fault}/cargo/index/` is the proxy's `upstream`) behind the
//! fault proxy, which counts the requests that reach it and injects failures. Each rule of the
//! proxy cache has a test here (byte-for-byte index files, config.json, TTL and 304, single
//! flight, stale, negative cache with revalidation, cksum mismatch, offline, cooldown on
//! `pubtime`, deletion and yank propagation, search, writes refused, hostile answers); the real
//! cargo client's builds through a proxy are in `cargo_proxy/cli.rs`.

use crate::support::Resp;
use crate::support::fault_proxy::Fault;
use crate::support::proxy::{
    ProxyRig, STALE_SETTINGS, concurrent_bodies, expect_one_conditional_revalidation,
    expect_refused_file, expect_stale_copy, outlive_ttl, proxy_event, upstream_failures,
    utc_seconds,
};
use packgate_cargo::testing::{Crate, frame, index_path, parse_index, sha256_hex};
use serde_json::Value;
use std::time::Duration;

mod cli;

/// A rig whose proxy repository `cargo-proxy` caches the upstream's sparse index.
fn rig(settings: &str) -> ProxyRig {
    ProxyRig::start("cargo", "cargo/index", settings)
}

/// Publishes `krate` to the upstream's hosted `cargo` repository; returns the `.crate` bytes.
fn publish(rig: &ProxyRig, krate: &Crate) -> Vec<u8> {
    let file = krate.crate_file();
    let body = frame(
        &serde_json::to_vec(&krate.metadata()).expect("serialize"),
        &file,
    );
    rig.upstream
        .http()
        .send(
            "PUT",
            "/cargo/api/v1/crates/new",
            &[
                ("content-type", "application/octet-stream"),
                ("authorization", rig.token.as_str()),
            ],
            Some(body),
        )
        .expect(200);
    file
}

/// Where the upstream serves the index file of `name` (what the fault proxy counts).
fn upstream_index(name: &str) -> String {
    format!("/cargo/index/{}", index_path(name))
}

/// Where the upstream serves a `.crate`.
fn upstream_download(name: &str, vers: &str) -> String {
    format!("/cargo/api/v1/crates/{name}/{vers}/download")
}

/// The upstream's own index file of `name`, read directly (not through the fault proxy).
fn upstream_body(rig: &ProxyRig, name: &str) -> Vec<u8> {
    let r = rig.upstream.http().get(&upstream_index(name));
    r.expect(200);
    r.body.clone()
}

fn index(rig: &ProxyRig, name: &str) -> Resp {
    rig.proxy
        .http()
        .get(&format!("/{}/index/{}", rig.repo, index_path(name)))
}

fn download(rig: &ProxyRig, name: &str, vers: &str) -> Resp {
    rig.proxy.http().get(&format!(
        "/{}/api/v1/crates/{name}/{vers}/download",
        rig.repo
    ))
}

/// Asserts cargo's error shape `{"errors":[{"detail":…}]}` with `status`; returns the detail.
fn expect_detail(resp: &Resp, status: u16) -> String {
    resp.expect(status);
    let body = resp.json();
    let detail = body["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: not a cargo error body: {body}", resp.request));
    assert!(!detail.trim().is_empty(), "{}: empty detail", resp.request);
    detail.to_owned()
}

/// `line` (one JSON object, no newline) with `extra` (`"k":v,…`) added before its closing brace.
fn with_fields(line: &str, extra: &str) -> String {
    let body = line
        .strip_suffix('}')
        .expect("an index line is a JSON object");
    format!("{body},{extra}}}")
}

/// An RFC 3339 UTC timestamp `secs_ago` seconds before now, as `pubtime` is written.
fn pubtime(secs_ago: u64) -> String {
    let now = packgate::services::time::now_millis();
    utc_seconds(now - secs_ago as i64 * 1000)
}

#[test]
fn an_index_file_is_fetched_once_and_passed_through_byte_for_byte() {
    let rig = rig("");
    publish(&rig, &Crate::new("pg-cached", "1.0.0").rust_version("1.70"));
    publish(&rig, &Crate::new("pg-cached", "1.1.0"));
    let upstream = upstream_body(&rig, "pg-cached");
    let first = index(&rig, "pg-cached");
    first.expect(200);
    assert_eq!(first.header("x-packgate-cache"), Some("miss"));
    assert_eq!(
        sha256_hex(&first.body),
        sha256_hex(&upstream),
        "the index file is served byte for byte"
    );
    for _ in 0..5 {
        let again = index(&rig, "pg-cached");
        again.expect(200);
        assert_eq!(again.header("x-packgate-cache"), Some("hit"));
        assert_eq!(again.body, first.body);
    }
    assert_eq!(rig.fault.count(&upstream_index("pg-cached")), 1);
    // cargo revalidates its own copy with the ETag packgate gave it.
    let etag = first.header("etag").expect("an ETag").to_string();
    let path = format!("/{}/index/{}", rig.repo, index_path("pg-cached"));
    rig.proxy
        .http()
        .get_with(&path, &[("if-none-match", etag.as_str())])
        .expect(304);
    let head = rig.proxy.http().head_with(&path, &[]);
    head.expect(200);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    // Upper-case spellings are looked up lower-cased.
    let upper = rig
        .proxy
        .http()
        .get(&format!("/{}/index/PG/-C/PG-Cached", rig.repo));
    upper.expect(200);
    assert_eq!(upper.body, first.body);
    assert_eq!(rig.fault.count(&upstream_index("pg-cached")), 1);
    assert!(proxy_event(&rig, "hit") >= 5);
}

#[test]
fn unknown_index_fields_pass_through_byte_for_byte() {
    let rig = rig("");
    let file = publish(&rig, &Crate::new("pg-fields", "1.0.0"));
    let text = String::from_utf8(upstream_body(&rig, "pg-fields")).expect("UTF-8");
    // Fields packgate does not model, as the public registry writes them, and one from the
    // future; no trailing newline on the last line.
    let line = with_fields(
        text.trim_end(),
        r#""rust_version":"1.70","pubtime":"2020-01-01T00:00:00Z","v":2,"features2":{"x":["dep:y"]},"future":{"k":[1,2]}"#,
    );
    let crafted = format!(
        "{line}\n\n{}",
        with_fields(&line, r#""extra":null"#).replace("1.0.0", "1.0.1")
    );
    rig.fault.set(
        &upstream_index("pg-fields"),
        Fault::Body {
            content_type: "text/plain".into(),
            body: crafted.clone().into_bytes(),
        },
    );
    let served = index(&rig, "pg-fields");
    served.expect(200);
    assert_eq!(sha256_hex(&served.body), sha256_hex(crafted.as_bytes()));
    rig.fault.clear();
    let got = download(&rig, "pg-fields", "1.0.0");
    got.expect(200);
    assert_eq!(got.body, file);
}

#[test]
fn config_json_points_at_the_proxy_and_follows_its_read_policy() {
    let rig = rig("");
    let r = rig
        .proxy
        .http()
        .get(&format!("/{}/index/config.json", rig.repo));
    r.expect(200);
    let config = r.json();
    assert_eq!(
        config["dl"],
        rig.proxy.url(&format!("/{}/api/v1/crates", rig.repo))
    );
    assert_eq!(config["api"], rig.proxy.url(&format!("/{}", rig.repo)));
    assert_eq!(config["auth-required"], false);
    for host in rig.upstream_hosts() {
        assert!(!r.text().contains(&host), "config.json names {host}");
    }
    assert_eq!(rig.fault.total(), 0, "packgate's own config.json");

    let private = self::rig("anonymous_read = false");
    let path = format!("/{}/index/config.json", private.repo);
    private.proxy.http().get(&path).expect(401);
    let token = private.proxy.publisher("reader");
    let r = private
        .proxy
        .http()
        .get_with(&path, &[("authorization", token.as_str())]);
    r.expect(200);
    assert_eq!(r.json()["auth-required"], true);
    private
        .proxy
        .http()
        .get(&format!("/{}/index/{}", private.repo, index_path("pg-any")))
        .expect(401);
}

#[test]
fn after_the_ttl_one_conditional_request_revalidates_and_a_304_keeps_the_bytes() {
    let rig = rig("metadata_ttl = \"1s\"");
    publish(&rig, &Crate::new("pg-revalidated", "1.0.0"));
    let first = index(&rig, "pg-revalidated");
    first.expect(200);
    outlive_ttl();
    let second = index(&rig, "pg-revalidated");
    let path = upstream_index("pg-revalidated");
    let validators = ["if-none-match", "if-modified-since"];
    expect_one_conditional_revalidation(&rig, &path, (&first, &second), &validators);
    index(&rig, "pg-revalidated").expect(200);
    assert_eq!(rig.fault.count(&path), 2, "inside the renewed window");
    publish(&rig, &Crate::new("pg-revalidated", "1.1.0"));
    std::thread::sleep(Duration::from_millis(1200));
    let third = index(&rig, "pg-revalidated");
    let versions: Vec<Value> = parse_index(&third.text())
        .into_iter()
        .map(|l| l["vers"].clone())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0"]);
    assert_eq!(third.body, upstream_body(&rig, "pg-revalidated"));
}

#[test]
fn fifty_concurrent_cold_requests_cause_one_upstream_request_each() {
    let rig = rig("");
    let krate = Crate::new("pg-crowded", "1.0.0")
        .file("data.bin", crate::support::random_bytes(300_000, 11));
    let file = publish(&rig, &krate);
    rig.fault
        .set("/cargo/", Fault::Delay(Duration::from_millis(300)));
    let bodies: Vec<Vec<u8>> = concurrent_bodies(50, || index(&rig, "pg-crowded"));
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "identical bodies");
    assert_eq!(rig.fault.count(&upstream_index("pg-crowded")), 1);
    let files: Vec<Vec<u8>> = concurrent_bodies(50, || download(&rig, "pg-crowded", "1.0.0"));
    assert!(
        files.iter().all(|f| *f == file),
        "every client got the .crate"
    );
    assert_eq!(
        rig.fault.count(&upstream_download("pg-crowded", "1.0.0")),
        1
    );
    assert_eq!(rig.fault.count("/cargo/index/config.json"), 1);
}

#[test]
fn a_failing_upstream_gets_the_stale_copy_or_a_gateway_error_never_a_404() {
    let rig = rig(STALE_SETTINGS);
    publish(&rig, &Crate::new("pg-steady", "1.0.0"));
    let mut last_good = index(&rig, "pg-steady");
    last_good.expect(200);
    for (round, (fault, uncached_status)) in upstream_failures().into_iter().enumerate() {
        // A new upstream version, so that the revalidation gets a body to break (not a 304).
        publish(&rig, &Crate::new("pg-steady", &format!("1.1.{round}")));
        let cold = format!("pg-cold-{round}");
        let cold_file = publish(&rig, &Crate::new(&cold, "1.0.0"));
        outlive_ttl();
        rig.fault.set("/cargo/", fault.clone());
        expect_stale_copy(&index(&rig, "pg-steady"), &last_good, &fault);
        let msg = expect_detail(&index(&rig, &cold), uncached_status);
        assert!(msg.contains("upstream"), "{fault:?}: {msg}");
        let msg = expect_detail(&download(&rig, &cold, "1.0.0"), uncached_status);
        assert!(msg.contains("upstream"), "{fault:?}: {msg}");
        rig.fault.clear();
        last_good = index(&rig, "pg-steady");
        last_good.expect(200);
        assert!(last_good.text().contains(&format!("1.1.{round}")));
        assert_eq!(download(&rig, &cold, "1.0.0").body, cold_file);
    }
    outlive_ttl();
    rig.fault.down();
    let stale = index(&rig, "pg-steady");
    stale.expect(200);
    assert_eq!(stale.header("x-packgate-cache"), Some("stale"));
    let msg = expect_detail(&index(&rig, "pg-never-seen"), 502);
    assert!(msg.contains("upstream"), "{msg}");
    assert!(proxy_event(&rig, "stale") >= 5);
}

#[test]
fn repeated_failures_back_off_and_the_upstream_is_not_asked() {
    let rig = rig("");
    rig.fault.set("/cargo/", Fault::Status(503));
    for i in 0..5 {
        expect_detail(&index(&rig, &format!("pg-down-{i}")), 502);
    }
    assert_eq!(rig.fault.total(), 5);
    let msg = expect_detail(&index(&rig, "pg-down-5"), 503);
    assert!(msg.contains("retries it in"), "{msg}");
    let msg = expect_detail(&download(&rig, "pg-down-6", "1.0.0"), 503);
    assert!(msg.contains("retries it in"), "{msg}");
    assert_eq!(
        rig.fault.total(),
        5,
        "backing off: the upstream is not asked"
    );
}

#[test]
fn a_missing_crate_is_404_remembered_for_negative_ttl_only_never_400() {
    let rig = rig("negative_ttl = \"1s\"");
    expect_detail(&index(&rig, "pg-later"), 404);
    expect_detail(&index(&rig, "pg-later"), 404);
    assert_eq!(
        rig.fault.count(&upstream_index("pg-later")),
        1,
        "the 404 is cached"
    );
    publish(&rig, &Crate::new("pg-later", "1.0.0"));
    std::thread::sleep(Duration::from_millis(1200));
    index(&rig, "pg-later").expect(200);
    assert_eq!(rig.fault.count(&upstream_index("pg-later")), 2);
    // 410 and 451 upstream are "not found" too.
    for status in [410, 451] {
        let name = format!("pg-gone-{status}");
        rig.fault.set(&upstream_index(&name), Fault::Status(status));
        expect_detail(&index(&rig, &name), 404);
        expect_detail(&download(&rig, &name, "1.0.0"), 404);
    }
    // Paths that name no crate never reach the upstream.
    rig.fault.reset_counts();
    for bad in [
        "/index/2/..",
        "/index/xx/yy/zz",
        "/api/v1/crates/a.b/1.0.0/download",
    ] {
        let r = rig.proxy.http().get(&format!("/{}{bad}", rig.repo));
        assert_eq!(r.status, 404, "{bad}: {}", r.text());
    }
    assert_eq!(rig.fault.total(), 0);
}

#[test]
fn a_version_published_after_the_index_was_cached_is_found_by_one_revalidation() {
    let rig = rig("metadata_ttl = \"1h\"");
    publish(&rig, &Crate::new("pg-moving", "1.0.0"));
    index(&rig, "pg-moving").expect(200);
    let newer = publish(&rig, &Crate::new("pg-moving", "1.1.0"));
    std::thread::sleep(Duration::from_millis(1100));
    let got = download(&rig, "pg-moving", "1.1.0");
    got.expect(200);
    assert_eq!(got.body, newer);
    assert_eq!(
        rig.fault.count(&upstream_index("pg-moving")),
        2,
        "one revalidation"
    );
    let listed = index(&rig, "pg-moving");
    assert!(
        listed.text().contains("\"1.1.0\""),
        "the renewed copy is served"
    );
    std::thread::sleep(Duration::from_millis(1100));
    expect_detail(&download(&rig, "pg-moving", "9.9.9"), 404);
    assert_eq!(rig.fault.count(&upstream_index("pg-moving")), 3);
}

#[test]
fn a_crate_that_does_not_match_its_cksum_is_refused_and_nothing_is_stored() {
    let rig = rig("");
    let krate = Crate::new("pg-tampered", "1.0.0").file("src/lib.rs", "pub const REAL: u8 = 1;\n");
    let file = publish(&rig, &krate);
    index(&rig, "pg-tampered").expect(200);
    let path = upstream_download("pg-tampered", "1.0.0");
    let evil = krate
        .clone()
        .file("src/lib.rs", "pub const EVIL: u8 = 1;\n");
    for fault in [
        Fault::Corrupt,
        Fault::Swap(evil.crate_file()),
        Fault::Truncate(20),
    ] {
        rig.fault.set(&path, fault.clone());
        expect_refused_file(&download(&rig, "pg-tampered", "1.0.0"), &fault);
    }
    assert!(proxy_event(&rig, "digest_mismatch") >= 2);
    let blobs = rig.proxy.blob_count();
    rig.fault.clear();
    let good = download(&rig, "pg-tampered", "1.0.0");
    good.expect(200);
    assert_eq!(good.body, file);
    assert_eq!(
        good.header("x-packgate-cache"),
        Some("miss"),
        "nothing bad was cached"
    );
    rig.settle();
    if let (Some(before), Some(after)) = (blobs, rig.proxy.blob_count()) {
        assert_eq!(after, before + 1);
    }
}

#[test]
fn cached_crates_and_index_files_are_served_after_the_upstream_is_gone() {
    let rig = rig("metadata_ttl = \"1s\"");
    let file = publish(&rig, &Crate::new("pg-durable", "2.0.0"));
    index(&rig, "pg-durable").expect(200);
    download(&rig, "pg-durable", "2.0.0").expect(200);
    rig.fault.down();
    std::thread::sleep(Duration::from_millis(1200));
    let doc = index(&rig, "pg-durable");
    doc.expect(200);
    assert_eq!(doc.header("x-packgate-cache"), Some("stale"));
    let got = download(&rig, "pg-durable", "2.0.0");
    got.expect(200);
    assert_eq!(got.body, file);
    assert_eq!(got.header("x-packgate-cache"), Some("hit"));
}

#[test]
fn upstream_yanks_and_deletions_propagate_but_cached_crates_stay_downloadable() {
    let rig = rig("metadata_ttl = \"1s\"");
    let old = publish(&rig, &Crate::new("pg-shrinking", "1.0.0"));
    publish(&rig, &Crate::new("pg-shrinking", "2.0.0"));
    download(&rig, "pg-shrinking", "1.0.0").expect(200);
    // A yank upstream shows after the next revalidation.
    rig.upstream
        .http()
        .send(
            "DELETE",
            "/cargo/api/v1/crates/pg-shrinking/2.0.0/yank",
            &[("authorization", rig.token.as_str())],
            None,
        )
        .expect(200);
    std::thread::sleep(Duration::from_millis(1200));
    let lines = parse_index(&index(&rig, "pg-shrinking").text());
    assert_eq!(lines[1]["vers"], "2.0.0");
    assert_eq!(lines[1]["yanked"], true);
    // The upstream drops 1.0.0 from its index (the fault proxy serves the file without it).
    let text = String::from_utf8(upstream_body(&rig, "pg-shrinking")).expect("UTF-8");
    let without: String = text
        .split_inclusive('\n')
        .filter(|l| !l.contains("\"1.0.0\""))
        .collect();
    rig.fault.set(
        &upstream_index("pg-shrinking"),
        Fault::Body {
            content_type: "text/plain".into(),
            body: without.clone().into_bytes(),
        },
    );
    std::thread::sleep(Duration::from_millis(1200));
    let served = index(&rig, "pg-shrinking");
    served.expect(200);
    assert_eq!(
        served.body,
        without.as_bytes(),
        "1.0.0 is gone from the index"
    );
    let got = download(&rig, "pg-shrinking", "1.0.0");
    got.expect(200);
    assert_eq!(got.body, old, "lockfiles keep working");
}

#[test]
fn an_offline_proxy_contacts_nobody_and_names_itself_for_uncached_crates() {
    let rig = rig("");
    let file = publish(&rig, &Crate::new("pg-kept", "1.0.0"));
    publish(&rig, &Crate::new("pg-kept", "1.1.0"));
    index(&rig, "pg-kept").expect(200);
    download(&rig, "pg-kept", "1.0.0").expect(200);
    // The same deployment restarted with `offline = true`.
    let offline = rig.restart_offline();
    let http = offline.http();
    let doc = http.get(&format!("/{}/index/{}", rig.repo, index_path("pg-kept")));
    doc.expect(200);
    assert_eq!(doc.header("x-packgate-cache"), Some("offline"));
    let got = http.get(&format!(
        "/{}/api/v1/crates/pg-kept/1.0.0/download",
        rig.repo
    ));
    got.expect(200);
    assert_eq!(got.body, file);
    http.get(&format!("/{}/index/config.json", rig.repo))
        .expect(200);
    for path in [
        format!("/{}/index/{}", rig.repo, index_path("pg-not-cached")),
        format!("/{}/api/v1/crates/pg-kept/1.1.0/download", rig.repo),
    ] {
        let msg = expect_detail(&http.get(&path), 503);
        assert!(
            msg.contains(&rig.repo) && msg.contains("offline"),
            "{path}: {msg}"
        );
    }
    assert_eq!(
        rig.fault.total(),
        0,
        "an offline proxy makes no upstream request"
    );
}

/// The upstream's index file of `name` with a `pubtime` on each line (`None`: left without).
fn with_pubtimes(rig: &ProxyRig, name: &str, times: &[Option<String>]) -> Vec<String> {
    let text = String::from_utf8(upstream_body(rig, name)).expect("UTF-8");
    let lines: Vec<String> = text
        .lines()
        .zip(times)
        .map(|(l, t)| match t {
            Some(t) => with_fields(l, &format!("\"pubtime\":\"{t}\"")),
            None => l.to_string(),
        })
        .collect();
    assert_eq!(lines.len(), times.len());
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    rig.fault.set(
        &upstream_index(name),
        Fault::Body {
            content_type: "text/plain".into(),
            body: body.into_bytes(),
        },
    );
    lines
}

#[test]
fn a_cooldown_hides_young_lines_keeps_the_others_byte_identical_and_refuses_their_crates() {
    let rig = rig("min_age = \"1h\"\nmin_age_exempt = [\"trusted-*\"]");
    let old_file = publish(&rig, &Crate::new("pg-fresh", "1.0.0"));
    publish(&rig, &Crate::new("pg-fresh", "1.1.0"));
    publish(&rig, &Crate::new("pg-fresh", "2.0.0"));
    let lines = with_pubtimes(
        &rig,
        "pg-fresh",
        &[Some(pubtime(86_400)), None, Some(pubtime(60))],
    );
    let served = index(&rig, "pg-fresh");
    served.expect(200);
    assert_eq!(
        served.text(),
        format!("{}\n{}\n", lines[0], lines[1]),
        "the young line is left out, the others are byte-identical"
    );
    let msg = expect_detail(&download(&rig, "pg-fresh", "2.0.0"), 403);
    assert!(msg.contains("cooldown"), "{msg}");
    let got = download(&rig, "pg-fresh", "1.0.0");
    got.expect(200);
    assert_eq!(got.body, old_file);
    // Exempt names skip the cooldown.
    publish(&rig, &Crate::new("trusted-lib", "1.0.0"));
    let exempt = with_pubtimes(&rig, "trusted-lib", &[Some(pubtime(60))]);
    assert_eq!(
        index(&rig, "trusted-lib").text(),
        format!("{}\n", exempt[0])
    );
    download(&rig, "trusted-lib", "1.0.0").expect(200);

    // `min_age_unknown = "deny"` hides lines without a publish time too.
    let rig = self::rig("min_age = \"1h\"\nmin_age_unknown = \"deny\"");
    publish(&rig, &Crate::new("pg-fresh", "1.0.0"));
    publish(&rig, &Crate::new("pg-fresh", "1.1.0"));
    let lines = with_pubtimes(&rig, "pg-fresh", &[Some(pubtime(86_400)), None]);
    assert_eq!(index(&rig, "pg-fresh").text(), format!("{}\n", lines[0]));
    let msg = expect_detail(&download(&rig, "pg-fresh", "1.1.0"), 403);
    assert!(msg.contains("no publish time"), "{msg}");
}

#[test]
fn writes_to_a_proxy_are_refused_with_405_naming_it_a_proxy() {
    let rig = rig("");
    let token = rig.proxy.publisher("alice");
    let auth = [("authorization", token.as_str())];
    let http = rig.proxy.http();
    let r = http.send(
        "PUT",
        &format!("/{}/api/v1/crates/new", rig.repo),
        &auth,
        Some(Crate::new("pg-nope", "1.0.0").body()),
    );
    let msg = expect_detail(&r, 405);
    assert!(msg.contains("proxy"), "{msg}");
    for (method, path) in [
        ("DELETE", "/api/v1/crates/pg-nope/1.0.0/yank"),
        ("PUT", "/api/v1/crates/pg-nope/1.0.0/unyank"),
        ("PUT", "/api/v1/crates/pg-nope/owners"),
        ("DELETE", "/api/v1/crates/pg-nope/owners"),
    ] {
        let r = http.send(method, &format!("/{}{path}", rig.repo), &auth, None);
        let msg = expect_detail(&r, 405);
        assert!(msg.contains("read-only proxy"), "{method} {path}: {msg}");
    }
    let owners = http.get(&format!("/{}/api/v1/crates/pg-nope/owners", rig.repo));
    expect_detail(&owners, 404);
    assert_eq!(rig.fault.total(), 0);
}

#[test]
fn search_is_forwarded_to_the_upstream() {
    let rig = rig("");
    publish(&rig, &Crate::new("pg-findable-widget", "1.0.0"));
    let path = format!("/{}/api/v1/crates?q=findable&per_page=10", rig.repo);
    let found = rig.proxy.http().get(&path);
    found.expect(200);
    let names: Vec<String> = found.json()["crates"]
        .as_array()
        .expect("crates")
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["pg-findable-widget"]);
    assert_eq!(found.json()["meta"]["total"], 1);
    rig.proxy.http().get(&path).expect(200);
    assert_eq!(
        rig.fault.count("/cargo/api/v1/crates"),
        1,
        "kept inside the TTL"
    );
}

#[test]
fn hostile_upstream_answers_are_not_cached_and_a_declared_download_host_gets_no_credentials() {
    let rig = rig(
        "max_document_size = \"4 KiB\"\n[repository.upstream_auth]\ntype = \"header\"\nname = \"x-upstream-key\"\nvalue = \"k3y\"",
    );
    let file = publish(&rig, &Crate::new("pg-victim", "1.0.0"));
    let path = upstream_index("pg-victim");
    let good = upstream_body(&rig, "pg-victim");
    let good_line = String::from_utf8(good.clone()).expect("UTF-8");
    for body in [
        b"{not json\n".to_vec(),
        b"{\"name\":\"pg-victim\",\"vers\":\"1.0.0\"}\n".to_vec(),
        format!("{good_line}{}", good_line.replace("pg-victim", "pg-other")).into_bytes(),
        format!("{}\n", "x".repeat(10_000)).into_bytes(),
    ] {
        rig.fault.set(
            &path,
            Fault::Body {
                content_type: "text/plain".into(),
                body,
            },
        );
        let msg = expect_detail(&index(&rig, "pg-victim"), 502);
        assert!(msg.contains("upstream"), "{msg}");
        rig.fault.clear();
        let r = index(&rig, "pg-victim");
        r.expect(200);
        assert_eq!(r.body, good);
        crate::support::proxy::purge(&rig, "pg-victim");
    }
    rig.fault.set(
        &path,
        Fault::Redirect("http://127.0.0.1:9/elsewhere".into()),
    );
    expect_detail(&index(&rig, "pg-victim"), 502);
    rig.fault.clear();
    // A config.json whose `dl` names another host (the public crate registry serves `.crate`
    // files from a CDN host): the file is fetched there, without the upstream's credentials, and
    // still checked against `cksum`.
    let other = crate::support::fault_proxy::FaultProxy::start(&rig.upstream.base);
    rig.fault.set(
        "/cargo/index/config.json",
        Fault::Body {
            content_type: "application/json".into(),
            body: format!("{{\"dl\":\"{}/cargo/api/v1/crates\"}}", other.url()).into_bytes(),
        },
    );
    other.set("/cargo/api/v1/crates/", Fault::Corrupt);
    let msg = expect_detail(&download(&rig, "pg-victim", "1.0.0"), 502);
    assert!(msg.contains("does not match"), "{msg}");
    other.clear();
    let served = download(&rig, "pg-victim", "1.0.0");
    served.expect(200);
    assert_eq!(served.body, file);
    assert!(other.total() >= 2, "the declared download host was asked");
    assert!(
        other
            .requests()
            .iter()
            .all(|r| r.header("x-upstream-key").is_none()),
        "no credentials go to the download host"
    );
    assert!(
        rig.fault
            .requests()
            .iter()
            .all(|r| r.header("x-upstream-key") == Some("k3y")),
        "the upstream's origin gets them on every request"
    );
    crate::support::proxy::purge_with(&rig, "pg-victim", "&files=true");
    let msg = expect_detail(
        &rig.proxy
            .http()
            .get(&format!("/{}/api/v1/crates?q=x", rig.repo)),
        502,
    );
    assert!(msg.contains("api"), "{msg}");
    crate::support::proxy::purge(&rig, "");
    rig.fault.clear();
    assert_eq!(download(&rig, "pg-victim", "1.0.0").body, file);
}
