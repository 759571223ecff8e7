//! NuGet proxy repositories over HTTP: the upstream is a second packgate (its hosted `nuget`
//! feed) behind the fault proxy, which counts the requests that reach it and injects failures.
//! This file holds the cache rules (TTL and 304, single flight, stale copies, negative cache with
//! revalidation, first-seen pinning, deletions, offline, writes refused); `documents` holds the
//! rewritten documents (service index, registrations, search) and the cooldown; `cli` the real
//! NuGet.exe installing through a proxy, also after the upstream is gone.

use crate::support::fault_proxy::Fault;
use crate::support::nuget_http::{Auth, Feed, Framing, NuResp};
use crate::support::proxy::{
    ProxyRig, STALE_SETTINGS, concurrent_bodies, expect_one_conditional_revalidation,
    expect_stale_copy, outlive_ttl, proxy_event, upstream_failures,
};
use crate::support::{Resp, random_bytes};
use packgate_nuget::testing::Nupkg;
use serde_json::{Value, json};
use sha2::Digest;
use std::time::Duration;

mod cli;
mod documents;

/// The upstream's hosted repository.
const UP: &str = "nuget";

/// The upstream feed (direct, not through the fault proxy).
fn upstream_feed(rig: &ProxyRig) -> Feed<'_> {
    Feed::new(&rig.upstream, UP)
}

/// The proxy repository's feed.
fn feed(rig: &ProxyRig) -> Feed<'_> {
    Feed::new(&rig.proxy, &rig.repo)
}

/// Pushes `pkg` to the upstream's hosted feed.
fn publish(rig: &ProxyRig, pkg: &Nupkg) {
    upstream_feed(rig).push_ok(Auth::ApiKey(&rig.token), &pkg.bytes());
}

/// The upstream path of `rest` under its v3 directory (what the fault proxy counts).
fn up_path(rest: &str) -> String {
    format!("/{UP}/v3/{rest}")
}

/// `GET {proxy}/v3/{rest}`.
fn get(rig: &ProxyRig, rest: &str) -> Resp {
    let feed = feed(rig);
    feed.get(&feed.path(rest), Auth::None)
}

/// `GET {proxy}/v3/{rest}` over a raw socket, for the reason phrase.
fn get_raw(rig: &ProxyRig, rest: &str) -> NuResp {
    let feed = feed(rig);
    feed.raw(
        "GET",
        &feed.path(rest),
        Auth::None,
        &[],
        None,
        Framing::Sized,
    )
}

fn flat_index(lid: &str) -> String {
    format!("flatcontainer/{lid}/index.json")
}

fn nupkg(lid: &str, v: &str) -> String {
    format!("flatcontainer/{lid}/{v}/{lid}.{v}.nupkg")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The upstream's document at `rest`, fetched through the fault proxy (so it names the fault
/// proxy's origin, as the proxy sees it).
fn upstream_doc(rig: &ProxyRig, rest: &str) -> Resp {
    let client = crate::support::http::Client::new(&rig.fault.url());
    let resp = client.get(&up_path(rest));
    resp.expect(200);
    resp
}

/// `text` with the upstream's v3 URL (through the fault proxy) replaced by the proxy's, parsed.
fn as_proxied(rig: &ProxyRig, text: &str) -> Value {
    let upstream = format!("{}/{UP}/v3/", rig.fault.url());
    serde_json::from_str(&text.replace(&upstream, &feed(rig).url(""))).expect("JSON")
}

/// Asserts that no upstream host:port appears in `text`.
fn names_no_upstream(rig: &ProxyRig, what: &str, text: &str) {
    for host in rig.upstream_hosts() {
        assert!(
            !text.contains(&host),
            "{what} names the upstream {host}: {text}"
        );
    }
}

/// The `versions` of a served flat-container list.
fn listed(resp: &Resp) -> Vec<String> {
    resp.expect(200);
    resp.json()["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn a_flat_version_list_is_passed_through_byte_for_byte_and_served_from_the_cache() {
    let rig = ProxyRig::start("nuget", UP, "");
    publish(&rig, &Nupkg::new("Acme.Cached", "1.0.0"));
    publish(&rig, &Nupkg::new("Acme.Cached", "2.0.0-Beta.1"));
    let first = get(&rig, &flat_index("acme.cached"));
    first.expect(200);
    assert_eq!(first.header("x-packgate-cache"), Some("miss"));
    let upstream = upstream_doc(&rig, &flat_index("acme.cached"));
    assert_eq!(
        sha256(&first.body),
        sha256(&upstream.body),
        "served byte for byte: {}",
        first.text()
    );
    for _ in 0..5 {
        let again = get(&rig, &flat_index("Acme.Cached"));
        again.expect(200);
        assert_eq!(again.header("x-packgate-cache"), Some("hit"));
        assert_eq!(again.body, first.body);
    }
    assert_eq!(rig.fault.count(&up_path(&flat_index("acme.cached"))), 2);
    assert_eq!(
        rig.fault.count(&up_path("index.json")),
        1,
        "the upstream's service index is read once"
    );
    assert!(proxy_event(&rig, "hit") >= 5);
    // Spacing and fields packgate does not know are kept too (nothing is re-serialized).
    publish(&rig, &Nupkg::new("Acme.Odd", "1.0.0"));
    let odd = b"{ \"versions\" : [ \"1.0.0\" ],\n  \"x-future\": {\"k\": [1, 2.50]} }\n".to_vec();
    rig.fault.set(
        &up_path(&flat_index("acme.odd")),
        Fault::Body {
            content_type: "application/json".into(),
            body: odd.clone(),
        },
    );
    let served = get(&rig, &flat_index("acme.odd"));
    served.expect(200);
    assert_eq!(sha256(&served.body), sha256(&odd), "{}", served.text());
}

#[test]
fn after_the_ttl_one_conditional_request_revalidates_and_a_304_keeps_the_bytes() {
    let rig = ProxyRig::start("nuget", UP, "metadata_ttl = \"1s\"");
    publish(&rig, &Nupkg::new("Acme.Revalidated", "1.0.0"));
    let path = flat_index("acme.revalidated");
    let first = get(&rig, &path);
    first.expect(200);
    outlive_ttl();
    let second = get(&rig, &path);
    let up = up_path(&path);
    expect_one_conditional_revalidation(&rig, &up, (&first, &second), &["if-none-match"]);
    get(&rig, &path).expect(200);
    assert_eq!(rig.fault.count(&up_path(&path)), 2, "inside the new window");
    publish(&rig, &Nupkg::new("Acme.Revalidated", "1.1.0"));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(listed(&get(&rig, &path)), ["1.0.0", "1.1.0"]);
}

#[test]
fn fifty_concurrent_cold_requests_cause_one_upstream_request_each() {
    let rig = ProxyRig::start("nuget", UP, "");
    let pkg = Nupkg::new("Acme.Crowded", "1.0.0").file("lib/big.bin", random_bytes(300_000, 7));
    publish(&rig, &pkg);
    rig.fault
        .set(&up_path(""), Fault::Delay(Duration::from_millis(300)));
    let many = |rest: String| concurrent_bodies(50, || get(&rig, &rest));
    let lists = many(flat_index("acme.crowded"));
    assert!(lists.windows(2).all(|w| w[0] == w[1]), "identical lists");
    assert_eq!(rig.fault.count(&up_path("index.json")), 1);
    assert_eq!(rig.fault.count(&up_path(&flat_index("acme.crowded"))), 1);
    let files = many(nupkg("acme.crowded", "1.0.0"));
    assert!(
        files.iter().all(|f| *f == pkg.bytes()),
        "every client got it"
    );
    assert_eq!(
        rig.fault.count(&up_path(&nupkg("acme.crowded", "1.0.0"))),
        1
    );
}

#[test]
fn a_failing_upstream_gets_the_stale_copy_or_a_gateway_error_never_a_404() {
    let rig = ProxyRig::start("nuget", UP, STALE_SETTINGS);
    publish(&rig, &Nupkg::new("Acme.Steady", "1.0.0"));
    let steady = flat_index("acme.steady");
    let mut last_good = get(&rig, &steady);
    last_good.expect(200);
    for (round, (fault, status)) in upstream_failures().into_iter().enumerate() {
        let reason = match status {
            504 => "The upstream feed did not answer in time",
            _ => "The upstream feed failed",
        };
        // A new upstream version, so that the revalidation gets a body to break (not a 304).
        publish(&rig, &Nupkg::new("Acme.Steady", &format!("1.1.{round}")));
        publish(&rig, &Nupkg::new(&format!("Acme.Cold{round}"), "1.0.0"));
        outlive_ttl();
        rig.fault.set(&up_path("flatcontainer/"), fault.clone());
        expect_stale_copy(&get(&rig, &steady), &last_good, &fault);
        let cold = get_raw(&rig, &flat_index(&format!("acme.cold{round}")));
        let msg = cold.expect_refusal(status, reason);
        assert!(msg.contains("upstream"), "{fault:?}: {msg}");
        rig.fault.clear();
        last_good = get(&rig, &steady);
        assert!(listed(&last_good).contains(&format!("1.1.{round}")));
    }
    outlive_ttl();
    rig.fault.down();
    let stale = get(&rig, &steady);
    stale.expect(200);
    assert_eq!(stale.header("x-packgate-cache"), Some("stale"));
    assert!(proxy_event(&rig, "stale") >= 5);
}

#[test]
fn an_upstream_404_is_remembered_for_negative_ttl_only() {
    let rig = ProxyRig::start("nuget", UP, "negative_ttl = \"1s\"");
    let path = flat_index("acme.later");
    get_raw(&rig, &path).expect_refusal(404, "Not found");
    get(&rig, &path).expect(404);
    assert_eq!(rig.fault.count(&up_path(&path)), 1, "the 404 is cached");
    publish(&rig, &Nupkg::new("Acme.Later", "1.0.0"));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(listed(&get(&rig, &path)), ["1.0.0"]);
    assert_eq!(rig.fault.count(&up_path(&path)), 2);
}

#[test]
fn a_version_published_after_the_list_was_cached_is_found_by_one_revalidation() {
    let rig = ProxyRig::start("nuget", UP, "metadata_ttl = \"1h\"");
    publish(&rig, &Nupkg::new("Acme.Moving", "1.0.0"));
    get(&rig, &flat_index("acme.moving")).expect(200);
    let newer = Nupkg::new("Acme.Moving", "1.1.0");
    publish(&rig, &newer);
    std::thread::sleep(Duration::from_millis(1100));
    let got = get(&rig, &nupkg("acme.moving", "1.1.0"));
    got.expect(200);
    assert_eq!(got.body, newer.bytes());
    assert_eq!(
        rig.fault.count(&up_path(&flat_index("acme.moving"))),
        2,
        "one revalidation"
    );
    get_raw(&rig, &nupkg("acme.moving", "9.9.9")).expect_refusal(404, "Not found");
    assert_eq!(rig.fault.count(&up_path(&nupkg("acme.moving", "9.9.9"))), 0);
}

#[test]
fn a_package_is_pinned_at_the_first_bytes_seen_and_broken_downloads_store_nothing() {
    let rig = ProxyRig::start("nuget", UP, "");
    let pkg = Nupkg::new("Acme.Pinned", "1.0.0").file("lib/data.txt", "the real bytes");
    publish(&rig, &pkg);
    let path = nupkg("acme.pinned", "1.0.0");
    // NuGet declares no digest: besides broken transfers, a first download that is not a sound
    // package of this id and version (a flipped byte fails a CRC; another package's bytes name
    // another id) is refused, since whatever is kept first is pinned.
    let impostor = Nupkg::new("Acme.Other", "1.0.0").bytes();
    for fault in [
        Fault::Truncate(20),
        Fault::Reset(20),
        Fault::Status(500),
        Fault::Corrupt,
        Fault::Swap(impostor),
        Fault::Swap(b"not a zip at all".to_vec()),
    ] {
        rig.fault.set(&up_path(&path), fault.clone());
        let refused = get_raw(&rig, &path);
        assert!(
            [502, 504].contains(&refused.status),
            "{fault:?}: {} {:?} {}",
            refused.status,
            refused.reason,
            refused.text()
        );
    }
    rig.fault.clear();
    let good = get(&rig, &path);
    good.expect(200);
    assert_eq!(good.body, pkg.bytes());
    assert_eq!(
        good.header("x-packgate-cache"),
        Some("miss"),
        "nothing bad was kept"
    );
    // The upstream now serves other bytes for the same version: the proxy keeps the first.
    let other = Nupkg::new("Acme.Pinned", "1.0.0").file("lib/data.txt", "changed upstream");
    rig.fault.set(&up_path(&path), Fault::Swap(other.bytes()));
    let before = rig.fault.count(&up_path(&path));
    // The id as a user may type it: the same cached file.
    let again = get(&rig, &path.replacen("acme.pinned/", "Acme.Pinned/", 1));
    again.expect(200);
    assert_eq!(again.body, pkg.bytes());
    assert_eq!(again.header("x-packgate-cache"), Some("hit"));
    assert_eq!(rig.fault.count(&up_path(&path)), before);
}

#[test]
fn upstream_deletions_leave_the_served_metadata_but_cached_packages_stay() {
    let rig = ProxyRig::start("nuget", UP, "metadata_ttl = \"1s\"");
    let old = Nupkg::new("Acme.Shrinking", "1.0.0");
    publish(&rig, &old);
    publish(&rig, &Nupkg::new("Acme.Shrinking", "2.0.0"));
    let file = nupkg("acme.shrinking", "1.0.0");
    get(&rig, &file).expect(200);
    get(&rig, "registration/acme.shrinking/index.json").expect(200);
    // The upstream drops 1.0.0 (hosted packgate only unlists, so the fault proxy plays it).
    let mut reg = upstream_doc(&rig, "registration/acme.shrinking/index.json").json();
    reg["items"][0]["items"]
        .as_array_mut()
        .expect("items")
        .remove(0);
    reg["items"][0]["count"] = json!(1);
    reg["items"][0]["lower"] = json!("2.0.0");
    let body = |v: Value| Fault::Body {
        content_type: "application/json".into(),
        body: v.to_string().into_bytes(),
    };
    rig.fault.set(
        &up_path(&flat_index("acme.shrinking")),
        body(json!({"versions": ["2.0.0"]})),
    );
    rig.fault.set(
        &up_path("registration/acme.shrinking/index.json"),
        body(reg),
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(listed(&get(&rig, &flat_index("acme.shrinking"))), ["2.0.0"]);
    let served = get(&rig, "registration/acme.shrinking/index.json");
    served.expect(200);
    assert!(!served.text().contains("\"1.0.0\""), "{}", served.text());
    let kept = get(&rig, &file);
    kept.expect(200);
    assert_eq!(kept.body, old.bytes(), "restores pinned to it keep working");
    // Then the whole package goes.
    rig.fault
        .set(&up_path(&flat_index("acme.shrinking")), Fault::Status(404));
    std::thread::sleep(Duration::from_millis(1200));
    get(&rig, &flat_index("acme.shrinking")).expect(404);
    assert_eq!(get(&rig, &file).body, old.bytes());
}

#[test]
fn an_offline_proxy_contacts_nobody_and_names_itself_for_uncached_packages() {
    let rig = ProxyRig::start("nuget", UP, "");
    let pkg = Nupkg::new("Acme.Kept", "1.0.0");
    publish(&rig, &pkg);
    for rest in [
        flat_index("acme.kept"),
        "registration/acme.kept/index.json".to_string(),
        nupkg("acme.kept", "1.0.0"),
    ] {
        get(&rig, &rest).expect(200);
    }
    // The same deployment restarted with `offline = true`.
    let offline = rig.restart_offline();
    let feed = Feed::new(&offline, &rig.repo);
    feed.get(&feed.path("index.json"), Auth::None).expect(200);
    let list = feed.get(&feed.path(&flat_index("acme.kept")), Auth::None);
    list.expect(200);
    assert_eq!(list.header("x-packgate-cache"), Some("offline"));
    let reg = feed.get(&feed.path("registration/acme.kept/index.json"), Auth::None);
    reg.expect(200);
    names_no_upstream(&rig, "the offline registration", &reg.text());
    let file = feed.get(&feed.path(&nupkg("acme.kept", "1.0.0")), Auth::None);
    file.expect(200);
    assert_eq!(file.body, pkg.bytes());
    let missing = feed.raw(
        "GET",
        &feed.path(&flat_index("acme.notcached")),
        Auth::None,
        &[],
        None,
        Framing::Sized,
    );
    let msg = missing.expect_refusal(503, "This offline feed has not cached it");
    assert!(msg.contains(&rig.repo) && msg.contains("offline"), "{msg}");
    assert_eq!(rig.fault.total(), 0, "an offline proxy asks nobody");
}

#[test]
fn writes_to_a_proxy_are_refused_with_405_naming_it_a_proxy() {
    let rig = ProxyRig::start("nuget", UP, "");
    let token = rig.proxy.publisher("alice");
    let feed = feed(&rig);
    let key = Auth::ApiKey(&token);
    let pkg = Nupkg::new("Acme.Nope", "1.0.0");
    const READ_ONLY: &str = "This feed is a read-only proxy";
    let msg = feed.push(key, &pkg.bytes()).expect_refusal(405, READ_ONLY);
    assert!(msg.contains("proxy"), "{msg}");
    feed.push_symbols(key, &pkg.clone().symbols().bytes())
        .expect_refusal(405, READ_ONLY);
    feed.delete(key, "Acme.Nope", "1.0.0")
        .expect_refusal(405, READ_ONLY);
    feed.relist(key, "Acme.Nope", "1.0.0")
        .expect_refusal(405, READ_ONLY);
    feed.deprecate(key, "Acme.Nope", "1.0.0", &json!({"reasons": ["Legacy"]}))
        .expect_refusal(405, READ_ONLY);
    feed.undeprecate(key, "Acme.Nope", "1.0.0")
        .expect_refusal(405, READ_ONLY);
    assert_eq!(rig.fault.total(), 0);
}
