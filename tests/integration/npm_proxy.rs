//! npm proxy repositories over HTTP: the upstream is a second packgate behind the fault proxy,
//! which counts the requests that reach it and injects failures. Each rule of the proxy cache
//! has a test here (TTL and 304, single flight, stale, negative cache with revalidation, digest
//! mismatch, URL rewrite, offline, cooldown, deletion, back-off); the real npm client's installs
//! through a proxy are in `npm_proxy/cli.rs`.

use crate::support::fault_proxy::Fault;
use crate::support::proxy::{
    ProxyRig, STALE_SETTINGS, concurrent_bodies, expect_one_conditional_revalidation,
    expect_refused_file, expect_stale_copy, outlive_ttl, proxy_event, upstream_failures,
};
use crate::support::{Resp, TestServer};
use packgate_npm::testing::{Package, escape_name, integrity, sha1_hex};
use serde_json::Value;
use std::time::Duration;

mod cli;

const CORGI: &str = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// Publishes `pkg` to the upstream's hosted `npm` repository.
pub(crate) fn publish(rig: &ProxyRig, pkg: &Package) {
    publish_to(&rig.upstream, &rig.token, pkg);
}

fn publish_to(server: &TestServer, token: &str, pkg: &Package) {
    server
        .http()
        .json(
            "PUT",
            &format!("/npm/{}", escape_name(pkg.name())),
            Some(token),
            &pkg.publish_body(&server.registry("npm"), "latest"),
        )
        .expect_success();
}

/// The upstream path of a package's packument (what the fault proxy counts).
fn upstream_path(name: &str) -> String {
    format!("/npm/{}", escape_name(name))
}

fn packument(rig: &ProxyRig, name: &str) -> Resp {
    rig.proxy.http().get_with(
        &format!("/{}/{}", rig.repo, escape_name(name)),
        &[("accept", CORGI)],
    )
}

fn full_packument(rig: &ProxyRig, name: &str) -> Resp {
    rig.proxy.http().get_with(
        &format!("/{}/{}", rig.repo, escape_name(name)),
        &[("accept", "application/json")],
    )
}

fn tarball(rig: &ProxyRig, name: &str, version: &str) -> Resp {
    let base = name.rsplit('/').next().unwrap_or(name);
    rig.proxy
        .http()
        .get(&format!("/{}/{name}/-/{base}-{version}.tgz", rig.repo))
}

#[test]
fn a_packument_is_fetched_once_and_served_from_the_cache_inside_the_ttl() {
    let rig = ProxyRig::start("npm", "npm", "");
    let pkg = Package::new("@acme/cached", "1.0.0");
    publish(&rig, &pkg);
    let first = packument(&rig, "@acme/cached");
    first.expect(200);
    assert_eq!(first.header("x-packgate-cache"), Some("miss"));
    assert_eq!(first.header("vary"), Some("Accept"));
    for _ in 0..5 {
        let again = packument(&rig, "@acme/cached");
        again.expect(200);
        assert_eq!(again.header("x-packgate-cache"), Some("hit"));
        assert_eq!(again.body, first.body, "a cached packument keeps its bytes");
    }
    assert_eq!(rig.fault.count(&upstream_path("@acme/cached")), 1);
    let doc = first.json();
    let dist = &doc["versions"]["1.0.0"]["dist"];
    assert_eq!(
        dist["tarball"],
        rig.proxy
            .url(&format!("/{}/@acme/cached/-/cached-1.0.0.tgz", rig.repo))
    );
    assert_eq!(dist["integrity"], integrity(&pkg.tarball()));
    assert_eq!(dist["shasum"], sha1_hex(&pkg.tarball()));
    for host in rig.upstream_hosts() {
        assert!(
            !first.text().contains(&host)
                && !full_packument(&rig, "@acme/cached").text().contains(&host),
            "a served packument names the upstream {host}"
        );
    }
    // The full and the abbreviated packument are cached apart.
    assert_eq!(rig.fault.count(&upstream_path("@acme/cached")), 2);
    assert!(proxy_event(&rig, "hit") >= 5);
}

#[test]
fn after_the_ttl_one_conditional_request_revalidates_and_a_304_keeps_the_bytes() {
    let rig = ProxyRig::start("npm", "npm", "metadata_ttl = \"1s\"");
    publish(&rig, &Package::new("revalidated", "1.0.0"));
    let first = packument(&rig, "revalidated");
    first.expect(200);
    outlive_ttl();
    let second = packument(&rig, "revalidated");
    let path = upstream_path("revalidated");
    expect_one_conditional_revalidation(&rig, &path, (&first, &second), &["if-none-match"]);
    // Inside the renewed window: no request.
    packument(&rig, "revalidated").expect(200);
    assert_eq!(rig.fault.count(&path), 2);
    // A version published upstream shows after the next window.
    publish(&rig, &Package::new("revalidated", "1.1.0"));
    std::thread::sleep(Duration::from_millis(1200));
    let third = packument(&rig, "revalidated").json();
    assert_eq!(third["dist-tags"]["latest"], "1.1.0");
}

#[test]
fn fifty_concurrent_cold_requests_cause_one_upstream_request_each() {
    let rig = ProxyRig::start("npm", "npm", "");
    let pkg =
        Package::new("crowded", "1.0.0").file("big.bin", crate::support::random_bytes(300_000, 7));
    publish(&rig, &pkg);
    rig.fault
        .set("/npm/", Fault::Delay(Duration::from_millis(300)));
    let bodies: Vec<Vec<u8>> = concurrent_bodies(50, || packument(&rig, "crowded"));
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "identical packuments"
    );
    assert_eq!(rig.fault.count("/npm/crowded"), 1);
    let files: Vec<Vec<u8>> = concurrent_bodies(50, || tarball(&rig, "crowded", "1.0.0"));
    assert!(
        files.iter().all(|f| *f == pkg.tarball()),
        "every client got the tarball"
    );
    assert_eq!(rig.fault.count("/npm/crowded/-/crowded-1.0.0.tgz"), 1);
}

#[test]
fn a_failing_upstream_gets_the_stale_copy_or_a_gateway_error_never_a_404() {
    let rig = ProxyRig::start("npm", "npm", STALE_SETTINGS);
    publish(&rig, &Package::new("steady", "1.0.0"));
    let mut last_good = packument(&rig, "steady");
    last_good.expect(200);
    for (round, (fault, uncached_status)) in upstream_failures().into_iter().enumerate() {
        // A new upstream version, so that the revalidation gets a body to break (not a 304).
        publish(&rig, &Package::new("steady", &format!("1.1.{round}")));
        publish(&rig, &Package::new(&format!("cold-{round}"), "1.0.0"));
        outlive_ttl();
        rig.fault.set("/npm/", fault.clone());
        expect_stale_copy(&packument(&rig, "steady"), &last_good, &fault);
        let cold = packument(&rig, &format!("cold-{round}"));
        let msg = cold.expect_error(uncached_status);
        assert!(msg.contains("upstream"), "{fault:?}: {msg}");
        rig.fault.clear();
        // A success closes the back-off counter again, and renews the copy.
        last_good = packument(&rig, "steady");
        last_good.expect(200);
        assert!(last_good.text().contains(&format!("1.1.{round}")));
    }
    outlive_ttl();
    rig.fault.down();
    let stale = packument(&rig, "steady");
    stale.expect(200);
    assert_eq!(stale.header("x-packgate-cache"), Some("stale"));
    assert!(proxy_event(&rig, "stale") >= 5);
    assert!(proxy_event(&rig, "upstream_error") >= 5);
}

#[test]
fn repeated_failures_back_off_and_a_429_honours_retry_after() {
    let rig = ProxyRig::start("npm", "npm", "");
    rig.fault.set("/npm/", Fault::Status(503));
    for i in 0..5 {
        packument(&rig, &format!("down-{i}")).expect_error(502);
    }
    assert_eq!(rig.fault.total(), 5);
    let skipped = packument(&rig, "down-5");
    let msg = skipped.expect_error(503);
    assert!(msg.contains("retries it in"), "{msg}");
    assert_eq!(
        rig.fault.total(),
        5,
        "backing off: the upstream is not asked"
    );
    let ready = rig.proxy.http().get("/readyz");
    ready.expect(200);
    assert!(ready.text().contains("backing_off"), "{}", ready.text());

    let rig = ProxyRig::start("npm", "npm", "");
    rig.fault.set(
        "/npm/",
        Fault::TooMany {
            retry_after_secs: 120,
        },
    );
    packument(&rig, "limited").expect_error(503);
    packument(&rig, "limited-2").expect_error(503);
    assert_eq!(
        rig.fault.total(),
        1,
        "a 429 backs off for its Retry-After at once"
    );
}

#[test]
fn an_upstream_404_is_remembered_for_negative_ttl_only() {
    let rig = ProxyRig::start("npm", "npm", "negative_ttl = \"1s\"");
    packument(&rig, "later").expect_error(404);
    packument(&rig, "later").expect_error(404);
    assert_eq!(rig.fault.count("/npm/later"), 1, "the 404 is cached");
    publish(&rig, &Package::new("later", "1.0.0"));
    std::thread::sleep(Duration::from_millis(1200));
    packument(&rig, "later").expect(200);
    assert_eq!(rig.fault.count("/npm/later"), 2);
}

#[test]
fn a_version_published_after_the_packument_was_cached_is_found_by_one_revalidation() {
    let rig = ProxyRig::start("npm", "npm", "metadata_ttl = \"1h\"");
    publish(&rig, &Package::new("moving", "1.0.0"));
    packument(&rig, "moving").expect(200);
    let newer = Package::new("moving", "1.1.0");
    publish(&rig, &newer);
    std::thread::sleep(Duration::from_millis(1100));
    let got = tarball(&rig, "moving", "1.1.0");
    got.expect(200);
    assert_eq!(got.body, newer.tarball());
    assert_eq!(rig.fault.count("/npm/moving"), 2, "one revalidation");
    tarball(&rig, "moving", "9.9.9").expect_error(404);
}

#[test]
fn a_tarball_that_does_not_match_its_integrity_is_refused_and_nothing_is_stored() {
    let rig = ProxyRig::start("npm", "npm", "");
    let pkg = Package::new("tampered", "1.0.0").file("data.txt", "the real bytes");
    publish(&rig, &pkg);
    packument(&rig, "tampered").expect(200);
    let path = "/npm/tampered/-/tampered-1.0.0.tgz";
    for fault in [
        Fault::Corrupt,
        Fault::Swap(
            Package::new("tampered", "1.0.0")
                .file("data.txt", "evil")
                .tarball(),
        ),
        Fault::Truncate(20),
        // A gzip bomb (16 MiB of zeros, about 16 KiB gzipped) in place of the tarball: refused by
        // its digest, never inflated.
        Fault::Swap(packgate_npm::testing::gzip(&vec![0u8; 16 << 20])),
    ] {
        rig.fault.set(path, fault.clone());
        expect_refused_file(&tarball(&rig, "tampered", "1.0.0"), &fault);
    }
    assert!(proxy_event(&rig, "digest_mismatch") >= 3);
    rig.fault.clear();
    let good = tarball(&rig, "tampered", "1.0.0");
    good.expect(200);
    assert_eq!(good.body, pkg.tarball());
    assert_eq!(
        good.header("x-packgate-cache"),
        Some("miss"),
        "nothing bad was cached"
    );
}

#[test]
fn cached_tarballs_and_packuments_are_served_after_the_upstream_is_gone() {
    let rig = ProxyRig::start("npm", "npm", "metadata_ttl = \"1s\"");
    let pkg = Package::new("@acme/durable", "2.0.0");
    publish(&rig, &pkg);
    packument(&rig, "@acme/durable").expect(200);
    tarball(&rig, "@acme/durable", "2.0.0").expect(200);
    rig.fault.down();
    std::thread::sleep(Duration::from_millis(1200));
    let doc = packument(&rig, "@acme/durable");
    doc.expect(200);
    assert_eq!(doc.header("x-packgate-cache"), Some("stale"));
    let file = tarball(&rig, "@acme/durable", "2.0.0");
    file.expect(200);
    assert_eq!(file.body, pkg.tarball());
    assert_eq!(file.header("x-packgate-cache"), Some("hit"));
}

#[test]
fn upstream_deletions_disappear_from_the_packument_but_cached_tarballs_stay() {
    let rig = ProxyRig::start("npm", "npm", "metadata_ttl = \"1s\"");
    let old = Package::new("shrinking", "1.0.0");
    publish(&rig, &old);
    publish(&rig, &Package::new("shrinking", "2.0.0"));
    tarball(&rig, "shrinking", "1.0.0").expect(200);
    // Unpublish 1.0.0 upstream (npm sends the packument without it, then deletes the tarball).
    let up = rig.upstream.http();
    let doc = up
        .get_with(
            "/npm/shrinking?write=true",
            &[("accept", "application/json")],
        )
        .json();
    let rev = doc["_rev"].as_str().expect("_rev").to_string();
    let mut kept = doc.clone();
    kept["versions"]
        .as_object_mut()
        .expect("versions")
        .remove("1.0.0");
    kept["time"].as_object_mut().expect("time").remove("1.0.0");
    up.json(
        "PUT",
        &format!("/npm/shrinking/-rev/{rev}"),
        Some(&rig.token),
        &kept,
    )
    .expect_success();
    std::thread::sleep(Duration::from_millis(1200));
    let served = packument(&rig, "shrinking").json();
    assert!(served["versions"].get("1.0.0").is_none(), "{served}");
    assert!(served["versions"].get("2.0.0").is_some());
    let file = tarball(&rig, "shrinking", "1.0.0");
    file.expect(200);
    assert_eq!(file.body, old.tarball(), "lockfiles keep working");
}

#[test]
fn an_offline_proxy_contacts_nobody_and_names_itself_for_uncached_packages() {
    let rig = ProxyRig::start("npm", "npm", "");
    let pkg = Package::new("kept", "1.0.0");
    publish(&rig, &pkg);
    packument(&rig, "kept").expect(200);
    tarball(&rig, "kept", "1.0.0").expect(200);
    // The same deployment restarted with `offline = true`.
    let offline = rig.restart_offline();
    let http = offline.http();
    let doc = http.get_with(&format!("/{}/kept", rig.repo), &[("accept", CORGI)]);
    doc.expect(200);
    assert_eq!(doc.header("x-packgate-cache"), Some("offline"));
    http.get(&format!("/{}/kept/-/kept-1.0.0.tgz", rig.repo))
        .expect(200);
    let missing = http.get(&format!("/{}/not-cached", rig.repo));
    let msg = missing.expect_error(503);
    assert!(msg.contains(&rig.repo) && msg.contains("offline"), "{msg}");
    assert_eq!(
        rig.fault.total(),
        0,
        "an offline proxy makes no upstream request"
    );
}

#[test]
fn a_cooldown_hides_young_versions_and_refuses_their_tarballs() {
    let rig = ProxyRig::start(
        "npm",
        "npm",
        "min_age = \"1h\"\nmin_age_exempt = [\"@trusted/*\"]",
    );
    publish(&rig, &Package::new("fresh", "1.0.0"));
    let abbreviated = packument(&rig, "fresh").json();
    assert!(
        abbreviated["versions"]
            .as_object()
            .expect("versions")
            .is_empty(),
        "{abbreviated}"
    );
    assert!(
        abbreviated["dist-tags"].get("latest").is_none(),
        "{abbreviated}"
    );
    let full = full_packument(&rig, "fresh").json();
    assert!(full["versions"].as_object().expect("versions").is_empty());
    assert!(full["time"].get("1.0.0").is_none());
    let refused = tarball(&rig, "fresh", "1.0.0");
    let msg = refused.expect_error(403);
    assert!(msg.contains("cooldown"), "{msg}");
    publish(&rig, &Package::new("@trusted/lib", "1.0.0"));
    let exempt = packument(&rig, "@trusted/lib").json();
    assert_eq!(exempt["dist-tags"]["latest"], "1.0.0");
    tarball(&rig, "@trusted/lib", "1.0.0").expect(200);
}

#[test]
fn writes_to_a_proxy_are_refused_with_405_naming_it_a_proxy() {
    let rig = ProxyRig::start("npm", "npm", "");
    let token = rig.proxy.publisher("alice");
    let pkg = Package::new("nope", "1.0.0");
    let resp = rig.proxy.http().json(
        "PUT",
        &format!("/{}/nope", rig.repo),
        Some(&token),
        &pkg.publish_body(&rig.proxy.registry(&rig.repo), "latest"),
    );
    let msg = resp.expect_error(405);
    assert!(msg.contains("proxy"), "{msg}");
    rig.proxy
        .http()
        .delete(&format!("/{}/nope/-rev/1-abc", rig.repo), Some(&token))
        .expect_error(405);
    assert_eq!(rig.fault.total(), 0);
}

#[test]
fn hostile_upstream_answers_are_not_cached() {
    let rig = ProxyRig::start("npm", "npm", "max_document_size = \"4 KiB\"");
    publish(&rig, &Package::new("victim", "1.0.0"));
    let path = "/npm/victim";
    for fault in [
        Fault::Body {
            content_type: "application/json".into(),
            body: b"{not json".to_vec(),
        },
        Fault::Body {
            content_type: "application/json".into(),
            body: format!("{{\"pad\":\"{}\"}}", "x".repeat(10_000)).into_bytes(),
        },
        Fault::Redirect("http://127.0.0.1:9/elsewhere".into()),
    ] {
        rig.fault.set(path, fault.clone());
        let r = packument(&rig, "victim");
        let msg = r.expect_error(502);
        assert!(msg.contains("upstream"), "{fault:?}: {msg}");
        rig.fault.clear();
        packument(&rig, "victim").expect(200);
        crate::support::proxy::purge(&rig, "victim");
    }
    // A packument naming a tarball on another host: that host is never contacted.
    let other = crate::support::fault_proxy::FaultProxy::start(&rig.upstream.base);
    let mut doc: Value = rig
        .upstream
        .http()
        .get_with("/npm/victim", &[("accept", "application/json")])
        .json();
    doc["versions"]["1.0.0"]["dist"]["tarball"] =
        Value::String(format!("{}/npm/victim/-/victim-1.0.0.tgz", other.url()));
    rig.fault.set(
        path,
        Fault::Body {
            content_type: "application/json".into(),
            body: doc.to_string().into_bytes(),
        },
    );
    let doc = full_packument(&rig, "victim");
    doc.expect(200);
    assert!(!doc.text().contains(&other.url()), "rewritten to the proxy");
    let refused = tarball(&rig, "victim", "1.0.0");
    let msg = refused.expect_error(502);
    assert!(msg.contains("another origin"), "{msg}");
    assert_eq!(other.total(), 0, "the other host was not contacted");
}

#[test]
fn search_is_forwarded_to_the_upstream() {
    let rig = ProxyRig::start("npm", "npm", "");
    publish(&rig, &Package::new("findable-widget", "1.0.0"));
    let found = rig
        .proxy
        .http()
        .get(&format!("/{}/-/v1/search?text=findable", rig.repo));
    found.expect(200);
    let names: Vec<String> = found.json()["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["package"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["findable-widget"]);
    assert_eq!(rig.fault.count("/npm/-/v1/search"), 1);
}

#[test]
fn purging_the_cache_makes_the_next_request_ask_the_upstream() {
    let rig = ProxyRig::start("npm", "npm", "metadata_ttl = \"1h\"");
    publish(&rig, &Package::new("purged", "1.0.0"));
    packument(&rig, "purged").expect(200);
    tarball(&rig, "purged", "1.0.0").expect(200);
    crate::support::proxy::purge(&rig, "purged");
    packument(&rig, "purged").expect(200);
    assert_eq!(rig.fault.count("/npm/purged"), 2);
    let kept = tarball(&rig, "purged", "1.0.0");
    assert_eq!(
        kept.header("x-packgate-cache"),
        Some("hit"),
        "files stay by default"
    );
    crate::support::proxy::purge_with(&rig, "purged", "&files=true");
    let again = tarball(&rig, "purged", "1.0.0");
    again.expect(200);
    assert_eq!(
        again.header("x-packgate-cache"),
        Some("miss"),
        "fetched and checked again"
    );
    assert_eq!(rig.fault.count("/npm/purged/-/purged-1.0.0.tgz"), 2);
    let out = rig.proxy.cli(&["cache", "purge", &rig.repo], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = rig.proxy.http().get("/api/proxies");
    status.expect_error(401);
}
