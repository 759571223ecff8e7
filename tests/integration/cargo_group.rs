//! Cargo group repositories over HTTP and with the real cargo client: a group `cargo-all` on the
//! proxy rig's packgate joins its hosted `cargo` repository and the proxy `cargo-proxy` (whose
//! upstream is a second packgate's sparse index behind the fault proxy, which counts what
//! reaches it).

use crate::support::Resp;
use crate::support::TestServer;
use crate::support::cargo_client::Cargo;
use crate::support::proxy::ProxyRig;
use packgate_cargo::testing::{Crate, frame, index_path, parse_index, sha256_hex};
use serde_json::Value;

/// The group's TOML (members `members`, more keys `extra`), appended after the proxy repository's
/// keys.
fn group_with(members: &str, extra: &str) -> String {
    format!(
        "\n[[repository]]\nname = \"cargo-all\"\nformat = \"cargo\"\ntype = \"group\"\nmembers = [{members}]\n{extra}\n"
    )
}

/// A rig whose proxy server also has the group `cargo-all` over `cargo` and `cargo-proxy`
/// (`extra`: more keys of the group), and a publisher token on that server.
fn rig(extra: &str) -> (ProxyRig, String) {
    rig_with("\"cargo\", \"cargo-proxy\"", extra)
}

fn rig_with(members: &str, extra: &str) -> (ProxyRig, String) {
    let rig = ProxyRig::start("cargo", "cargo/index", &group_with(members, extra));
    let token = rig.proxy.publisher("internal-publisher");
    (rig, token)
}

/// `PUT /{repo}/api/v1/crates/new` of `krate` on `server`; returns the answer and the `.crate`.
fn publish_to(server: &TestServer, repo: &str, token: &str, krate: &Crate) -> (Resp, Vec<u8>) {
    let file = krate.crate_file();
    let body = frame(
        &serde_json::to_vec(&krate.metadata()).expect("serialize"),
        &file,
    );
    let resp = server.http().send(
        "PUT",
        &format!("/{repo}/api/v1/crates/new"),
        &[
            ("content-type", "application/octet-stream"),
            ("authorization", token),
        ],
        Some(body),
    );
    (resp, file)
}

/// Publishes to the upstream (what the proxy member sees); returns the `.crate`.
fn upstream(rig: &ProxyRig, krate: &Crate) -> Vec<u8> {
    let (resp, file) = publish_to(&rig.upstream, "cargo", &rig.token, krate);
    resp.expect(200);
    file
}

/// Publishes to the group's hosted member `cargo`; returns the `.crate`.
fn internal(rig: &ProxyRig, token: &str, krate: &Crate) -> Vec<u8> {
    let (resp, file) = publish_to(&rig.proxy, "cargo", token, krate);
    resp.expect(200);
    file
}

fn index(rig: &ProxyRig, repo: &str, name: &str) -> Resp {
    rig.proxy
        .http()
        .get(&format!("/{repo}/index/{}", index_path(name)))
}

fn download(rig: &ProxyRig, name: &str, vers: &str) -> Resp {
    rig.proxy
        .http()
        .get(&format!("/cargo-all/api/v1/crates/{name}/{vers}/download"))
}

/// The `vers` of each line of an index file, in order.
fn versions(resp: &Resp) -> Vec<String> {
    parse_index(&resp.text())
        .iter()
        .map(|l| l["vers"].as_str().expect("vers").to_string())
        .collect()
}

/// The line of `vers` in an index file, byte for byte (without its newline).
fn raw_line(body: &[u8], vers: &str) -> Vec<u8> {
    let needle = format!("\"vers\":\"{vers}\"");
    body.split(|b| *b == b'\n')
        .find(|l| String::from_utf8_lossy(l).contains(&needle))
        .unwrap_or_else(|| panic!("no line for {vers}"))
        .to_vec()
}

/// Where the upstream serves the index file of `name` (what the fault proxy counts).
fn upstream_index(name: &str) -> String {
    format!("/cargo/index/{}", index_path(name))
}

/// Asserts cargo's error shape `{"errors":[{"detail":…}]}` with `status`; returns the detail.
fn expect_detail(resp: &Resp, status: u16) -> String {
    resp.expect(status);
    let body: Value = resp.json();
    body["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: not a cargo error body: {body}", resp.request))
        .to_owned()
}

#[test]
fn a_group_serves_hosted_and_upstream_crates_with_its_own_config_and_downloads() {
    let (rig, token) = rig("");
    let mine = internal(&rig, &token, &Crate::new("pgg-internal", "1.0.0"));
    let public = upstream(&rig, &Crate::new("pgg-public", "2.0.0"));

    let config = rig.proxy.http().get("/cargo-all/index/config.json");
    config.expect(200);
    let config = config.json();
    assert_eq!(config["dl"], rig.proxy.url("/cargo-all/api/v1/crates"));
    assert_eq!(config["api"], rig.proxy.url("/cargo-all"));
    assert_eq!(config["auth-required"], false);

    // A crate of one member: its index file byte for byte.
    let hosted = index(&rig, "cargo", "pgg-internal");
    let through = index(&rig, "cargo-all", "pgg-internal");
    through.expect(200);
    assert_eq!(through.body, hosted.body);
    let proxied = index(&rig, "cargo-proxy", "pgg-public");
    let through = index(&rig, "cargo-all", "pgg-public");
    through.expect(200);
    assert_eq!(through.body, proxied.body);
    for host in rig.upstream_hosts() {
        assert!(!through.text().contains(&host));
    }

    let got = download(&rig, "pgg-internal", "1.0.0");
    got.expect(200);
    assert_eq!(got.body, mine);
    let got = download(&rig, "pgg-public", "2.0.0");
    got.expect(200);
    assert_eq!(got.body, public);
    // Neither member has it: 404 in cargo's words.
    expect_detail(&index(&rig, "cargo-all", "pgg-nowhere"), 404);
    expect_detail(&download(&rig, "pgg-nowhere", "1.0.0"), 404);
    expect_detail(&download(&rig, "pgg-public", "9.9.9"), 404);
}

#[test]
fn the_group_index_file_has_its_own_etag_and_answers_cargo_revalidation_with_304() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Crate::new("pgg-etag", "1.0.0"));
    let path = format!("/cargo-all/index/{}", index_path("pgg-etag"));
    let first = rig.proxy.http().get(&path);
    first.expect(200);
    let etag = first.header("etag").expect("an ETag").to_string();
    // The member's file is the same bytes: the member's own 304 must not leak into the group.
    rig.proxy
        .http()
        .get_with(&path, &[("if-none-match", etag.as_str())])
        .expect(304);
    internal(&rig, &token, &Crate::new("pgg-etag", "1.1.0"));
    let second = rig
        .proxy
        .http()
        .get_with(&path, &[("if-none-match", etag.as_str())]);
    second.expect(200);
    assert_eq!(versions(&second), ["1.0.0", "1.1.0"]);
    assert_ne!(second.header("etag"), Some(etag.as_str()));
    let head = rig.proxy.http().head_with(&path, &[]);
    head.expect(200);
    assert_eq!(head.header("etag"), second.header("etag"));
}

#[test]
fn a_crate_held_by_a_hosted_member_never_comes_from_the_upstream() {
    let (rig, token) = rig("");
    let ours = internal(&rig, &token, &Crate::new("pgg-held", "1.0.0"));
    upstream(&rig, &Crate::new("pgg-held", "99.0.0"));
    // The `_` spelling of a hosted crate is the same crate to cargo's lockfile: claimed too.
    internal(&rig, &token, &Crate::new("pgg-twin", "1.0.0"));
    upstream(&rig, &Crate::new("pgg_twin", "98.0.0"));

    let through = index(&rig, "cargo-all", "pgg-held");
    through.expect(200);
    assert_eq!(versions(&through), ["1.0.0"], "only the hosted versions");
    expect_detail(&download(&rig, "pgg-held", "99.0.0"), 404);
    assert_eq!(download(&rig, "pgg-held", "1.0.0").body, ours);
    expect_detail(&index(&rig, "cargo-all", "pgg_twin"), 404);
    expect_detail(&download(&rig, "pgg_twin", "98.0.0"), 404);
    for name in ["pgg-held", "pgg_twin"] {
        assert_eq!(
            rig.fault.count(&upstream_index(name)),
            0,
            "the upstream is not even asked for the claimed {name}"
        );
    }
    assert_eq!(
        rig.fault
            .count("/cargo/api/v1/crates/pgg-held/99.0.0/download"),
        0
    );
}

#[test]
fn allow_upstream_merges_index_lines_with_the_earliest_member_winning() {
    let (rig, token) = rig("allow_upstream = [\"pgg-shared*\"]");
    let ours = internal(
        &rig,
        &token,
        &Crate::new("pgg-shared", "1.0.0").file("src/lib.rs", "// ours\n"),
    );
    upstream(
        &rig,
        &Crate::new("pgg-shared", "1.0.0").file("src/lib.rs", "// theirs\n"),
    );
    let newer = upstream(
        &rig,
        &Crate::new("pgg-shared", "2.0.0").file("src/lib.rs", "// theirs 2\n"),
    );

    let through = index(&rig, "cargo-all", "pgg-shared");
    through.expect(200);
    assert_eq!(versions(&through), ["1.0.0", "2.0.0"]);
    let hosted = index(&rig, "cargo", "pgg-shared").body;
    let proxied = index(&rig, "cargo-proxy", "pgg-shared").body;
    assert_eq!(
        raw_line(&through.body, "1.0.0"),
        raw_line(&hosted, "1.0.0"),
        "a version both have comes from the earlier member, its line byte-identical"
    );
    assert_eq!(
        raw_line(&through.body, "2.0.0"),
        raw_line(&proxied, "2.0.0")
    );
    assert_eq!(parse_index(&through.text())[0]["cksum"], sha256_hex(&ours));
    assert_eq!(download(&rig, "pgg-shared", "1.0.0").body, ours);
    assert_eq!(download(&rig, "pgg-shared", "2.0.0").body, newer);
    assert_eq!(
        rig.fault
            .count("/cargo/api/v1/crates/pgg-shared/1.0.0/download"),
        0,
        "the version kept from the hosted member is downloaded from it"
    );
}

#[test]
fn route_rules_keep_crates_to_the_members_they_allow() {
    let (rig, _) = rig(
        "[[repository.route]]\nnames = [\"acme-*\"]\nonly = [\"cargo\"]\n\n[[repository.route]]\nnames = [\"left-pad\"]\nexclude = [\"cargo-proxy\"]\n",
    );
    upstream(&rig, &Crate::new("acme-lookalike", "1.0.0"));
    upstream(&rig, &Crate::new("left-pad", "1.0.0"));
    upstream(&rig, &Crate::new("right-pad", "1.0.0"));
    expect_detail(&index(&rig, "cargo-all", "acme-lookalike"), 404);
    // Rules match the canonical name: the `_` spelling is held to the same rule.
    expect_detail(&index(&rig, "cargo-all", "acme_lookalike"), 404);
    expect_detail(&index(&rig, "cargo-all", "left-pad"), 404);
    expect_detail(&download(&rig, "left-pad", "1.0.0"), 404);
    index(&rig, "cargo-all", "right-pad").expect(200);
    for name in ["acme-lookalike", "acme_lookalike", "left-pad"] {
        assert_eq!(rig.fault.count(&upstream_index(name)), 0, "{name}");
    }
    assert_eq!(
        rig.fault
            .count("/cargo/api/v1/crates/left-pad/1.0.0/download"),
        0
    );
}

#[test]
fn a_publish_to_the_group_lands_in_publish_to_and_shows_on_the_next_request() {
    let (rig, token) = rig("publish_to = \"cargo\"");
    let (resp, file) = publish_to(
        &rig.proxy,
        "cargo-all",
        &token,
        &Crate::new("pgg-through", "1.0.0"),
    );
    resp.expect(200);
    let hosted = index(&rig, "cargo", "pgg-through");
    hosted.expect(200);
    assert_eq!(versions(&hosted), ["1.0.0"]);
    assert_eq!(
        versions(&index(&rig, "cargo-all", "pgg-through")),
        ["1.0.0"]
    );
    assert_eq!(download(&rig, "pgg-through", "1.0.0").body, file);
    // The group's copy follows the member at once (its cache is keyed by the members' ETags).
    internal(&rig, &token, &Crate::new("pgg-through", "1.1.0"));
    assert_eq!(
        versions(&index(&rig, "cargo-all", "pgg-through")),
        ["1.0.0", "1.1.0"]
    );
}

#[test]
fn a_group_without_publish_to_refuses_publishes_in_cargos_error_shape() {
    let (rig, token) = rig("");
    let (resp, _) = publish_to(
        &rig.proxy,
        "cargo-all",
        &token,
        &Crate::new("pgg-nowhere", "1.0.0"),
    );
    let detail = expect_detail(&resp, 405);
    assert!(detail.contains("publish_to"), "{detail}");
    expect_detail(&index(&rig, "cargo", "pgg-nowhere"), 404);
    // Yanking a crate no hosted member holds has nowhere to go either.
    upstream(&rig, &Crate::new("pgg-upstream-only", "1.0.0"));
    let yank = rig.proxy.http().delete(
        "/cargo-all/api/v1/crates/pgg-upstream-only/1.0.0/yank",
        Some(&token),
    );
    expect_detail(&yank, 405);
}

/// Two more public hosted repositories, `cargo-a` and `cargo-b`, declared after the group.
const TWO_HOSTED: &str = "
[[repository]]
name = \"cargo-a\"
format = \"cargo\"
type = \"hosted\"
anonymous_read = true

[[repository]]
name = \"cargo-b\"
format = \"cargo\"
type = \"hosted\"
anonymous_read = true
";

/// A rig whose group `cargo-all` joins the hosted `cargo-a` and `cargo-b` and the proxy
/// `cargo-proxy` (`keys`: more keys of the group), and a publisher token.
fn two_hosted(keys: &str) -> (ProxyRig, String) {
    rig_with(
        "\"cargo-a\", \"cargo-b\", \"cargo-proxy\"",
        &format!("{keys}\n{TWO_HOSTED}"),
    )
}

/// Publishes `krate` through the group `cargo-all` with `token`.
fn through_group(rig: &ProxyRig, token: &str, krate: &Crate) -> (Resp, Vec<u8>) {
    publish_to(&rig.proxy, "cargo-all", token, krate)
}

#[test]
fn a_publish_through_the_group_lands_in_the_hosted_member_that_already_holds_the_crate() {
    let (rig, token) = two_hosted("publish_to = \"cargo-a\"");
    publish_to(&rig.proxy, "cargo-b", &token, &Crate::new("pgg-x", "1.0.0"))
        .0
        .expect(200);

    let (resp, file) = through_group(&rig, &token, &Crate::new("pgg-x", "2.0.0"));
    resp.expect(200);
    assert_eq!(
        versions(&index(&rig, "cargo-b", "pgg-x")),
        ["1.0.0", "2.0.0"]
    );
    expect_detail(&index(&rig, "cargo-a", "pgg-x"), 404);
    assert_eq!(
        versions(&index(&rig, "cargo-all", "pgg-x")),
        ["1.0.0", "2.0.0"]
    );
    assert_eq!(download(&rig, "pgg-x", "2.0.0").body, file);

    // A new crate goes to `publish_to`.
    through_group(&rig, &token, &Crate::new("pgg-new", "1.0.0"))
        .0
        .expect(200);
    assert_eq!(versions(&index(&rig, "cargo-a", "pgg-new")), ["1.0.0"]);
    expect_detail(&index(&rig, "cargo-b", "pgg-new"), 404);
}

#[test]
fn a_publish_through_the_group_refused_by_the_holding_member_is_written_nowhere() {
    let (rig, token) = two_hosted("publish_to = \"cargo-a\"");
    publish_to(
        &rig.proxy,
        "cargo-b",
        &token,
        &Crate::new("pgg-held-b", "1.0.0"),
    )
    .0
    .expect(200);
    let stranger = {
        rig.proxy.add_user("mallory", None);
        rig.proxy
            .create_token("mallory", &["--scope", "read,publish"])
    };
    // Checked against the member holding the crate: its owners, its versions, its spelling.
    let not_owner = through_group(&rig, &stranger, &Crate::new("pgg-held-b", "2.0.0")).0;
    let detail = expect_detail(&not_owner, 403);
    assert!(detail.contains("not an owner"), "{detail}");
    let again = through_group(&rig, &token, &Crate::new("pgg-held-b", "1.0.0")).0;
    expect_detail(&again, 409);
    // Another spelling is the same crate to the claim, and a taken name to the member.
    let respelled = through_group(&rig, &token, &Crate::new("Pgg_Held_B", "3.0.0")).0;
    let detail = expect_detail(&respelled, 409);
    assert!(detail.contains("pgg-held-b"), "{detail}");

    assert_eq!(versions(&index(&rig, "cargo-b", "pgg-held-b")), ["1.0.0"]);
    for name in ["pgg-held-b", "Pgg_Held_B"] {
        expect_detail(&index(&rig, "cargo-a", name), 404);
    }
    assert_eq!(versions(&index(&rig, "cargo-all", "pgg-held-b")), ["1.0.0"]);
}

#[test]
fn a_group_without_publish_to_publishes_a_crate_a_hosted_member_holds_and_refuses_a_new_one() {
    let (rig, token) = two_hosted("");
    publish_to(&rig.proxy, "cargo-b", &token, &Crate::new("pgg-y", "1.0.0"))
        .0
        .expect(200);

    through_group(&rig, &token, &Crate::new("pgg_Y", "2.0.0"))
        .0
        .expect(409);
    through_group(&rig, &token, &Crate::new("pgg-y", "2.0.0"))
        .0
        .expect(200);
    assert_eq!(
        versions(&index(&rig, "cargo-b", "pgg-y")),
        ["1.0.0", "2.0.0"]
    );
    expect_detail(&index(&rig, "cargo-a", "pgg-y"), 404);

    let (resp, _) = through_group(&rig, &token, &Crate::new("pgg-z", "1.0.0"));
    let detail = expect_detail(&resp, 405);
    assert!(detail.contains("publish_to"), "{detail}");
    for member in ["cargo-a", "cargo-b", "cargo-all"] {
        expect_detail(&index(&rig, member, "pgg-z"), 404);
    }
}

#[test]
fn yank_and_owner_commands_through_the_group_act_on_the_hosted_member_holding_the_crate() {
    // Two hosted members: publishes go to `cargo-private`, writes to the member holding the crate.
    let (rig, token) = rig_with(
        "\"cargo\", \"cargo-private\", \"cargo-proxy\"",
        "publish_to = \"cargo-private\"",
    );
    internal(&rig, &token, &Crate::new("pgg-yankable", "1.0.0"));
    let http = rig.proxy.http();
    // `cargo-private` is read through the group by token holders only.
    let read = |repo: &str, name: &str| {
        http.get_auth(&format!("/{repo}/index/{}", index_path(name)), Some(&token))
    };
    http.delete(
        "/cargo-all/api/v1/crates/pgg-yankable/1.0.0/yank",
        Some(&token),
    )
    .expect(200);
    let lines = parse_index(&index(&rig, "cargo", "pgg-yankable").text());
    assert_eq!(lines[0]["yanked"], true, "yanked in the member holding it");
    let through = read("cargo-all", "pgg-yankable");
    assert_eq!(through.header("x-packgate-partial"), None);
    assert_eq!(parse_index(&through.text())[0]["yanked"], true);
    http.send(
        "PUT",
        "/cargo-all/api/v1/crates/pgg-yankable/1.0.0/unyank",
        &[("authorization", token.as_str())],
        Some(Vec::new()),
    )
    .expect(200);
    let lines = parse_index(&index(&rig, "cargo", "pgg-yankable").text());
    assert_eq!(lines[0]["yanked"], false);
    // A spelling with `_` reaches the same crate.
    http.delete(
        "/cargo-all/api/v1/crates/pgg_yankable/1.0.0/yank",
        Some(&token),
    )
    .expect(200);

    let owners = http.get_auth("/cargo-all/api/v1/crates/pgg-yankable/owners", Some(&token));
    owners.expect(200);
    assert_eq!(owners.json()["users"][0]["login"], "internal-publisher");
    rig.proxy.add_user("bob", None);
    http.send(
        "PUT",
        "/cargo-all/api/v1/crates/pgg-yankable/owners",
        &[
            ("authorization", token.as_str()),
            ("content-type", "application/json"),
        ],
        Some(br#"{"users":["bob"]}"#.to_vec()),
    )
    .expect(200);
    let owners = http
        .get_auth("/cargo/api/v1/crates/pgg-yankable/owners", Some(&token))
        .json();
    let logins: Vec<&str> = owners["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["login"].as_str())
        .collect();
    assert!(logins.contains(&"bob"), "{owners}");

    // A new crate goes to `publish_to`, not to the first hosted member.
    publish_to(
        &rig.proxy,
        "cargo-all",
        &token,
        &Crate::new("pgg-fresh", "1.0.0"),
    )
    .0
    .expect(200);
    expect_detail(&index(&rig, "cargo", "pgg-fresh"), 404);
    read("cargo-private", "pgg-fresh").expect(200);
    assert_eq!(versions(&read("cargo-all", "pgg-fresh")), ["1.0.0"]);
    // Owners of an upstream crate live upstream.
    upstream(&rig, &Crate::new("pgg-foreign", "1.0.0"));
    expect_detail(
        &http.get("/cargo-all/api/v1/crates/pgg-foreign/owners"),
        404,
    );
}

#[test]
fn search_through_the_group_lists_the_crates_of_both_members_once() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Crate::new("pgg-find-mine", "1.0.0"));
    internal(&rig, &token, &Crate::new("pgg-find-both", "1.0.0"));
    upstream(&rig, &Crate::new("pgg-find-both", "99.0.0"));
    upstream(&rig, &Crate::new("pgg-find-theirs", "3.0.0"));
    let found = rig
        .proxy
        .http()
        .get("/cargo-all/api/v1/crates?q=pgg-find&per_page=10");
    found.expect(200);
    let body = found.json();
    let mut hits: Vec<(String, String)> = body["crates"]
        .as_array()
        .expect("crates")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_string(),
                c["max_version"].as_str().expect("max_version").to_string(),
            )
        })
        .collect();
    hits.sort();
    assert_eq!(
        hits,
        [
            ("pgg-find-both".to_string(), "1.0.0".to_string()),
            ("pgg-find-mine".to_string(), "1.0.0".to_string()),
            ("pgg-find-theirs".to_string(), "3.0.0".to_string()),
        ],
        "the claimed crate once, from the hosted member"
    );
    assert_eq!(body["meta"]["total"], 3);
    let one = rig
        .proxy
        .http()
        .get("/cargo-all/api/v1/crates?q=pgg-find&per_page=1")
        .json();
    assert_eq!(one["crates"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["meta"]["total"], 3);
}

#[test]
fn a_failing_member_leaves_a_partial_answer_and_never_a_404() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Crate::new("pgg-held-here", "1.0.0"));
    upstream(&rig, &Crate::new("pgg-only-upstream", "1.0.0"));
    rig.fault.down();
    // `pgg-held-here` is claimed: the proxy is not asked, the answer is whole.
    let whole = index(&rig, "cargo-all", "pgg-held-here");
    whole.expect(200);
    assert_eq!(whole.header("x-packgate-partial"), None);
    download(&rig, "pgg-held-here", "1.0.0").expect(200);
    // A crate no hosted member holds: the failing proxy might hold it.
    for failed in [
        index(&rig, "cargo-all", "pgg-only-upstream"),
        download(&rig, "pgg-only-upstream", "1.0.0"),
    ] {
        assert!(
            [502, 503, 504].contains(&failed.status),
            "{} {}",
            failed.status,
            failed.text()
        );
        assert!(failed.json()["errors"][0]["detail"].is_string());
    }
}

#[test]
fn a_member_down_after_caching_gives_a_partial_merge_marked_in_a_header() {
    let (rig, token) = rig("allow_upstream = [\"pgg-mixed\"]");
    internal(&rig, &token, &Crate::new("pgg-mixed", "1.0.0"));
    upstream(&rig, &Crate::new("pgg-mixed", "2.0.0"));
    // Both members answer; then the proxy's copy is purged and its upstream fails.
    assert_eq!(
        versions(&index(&rig, "cargo-all", "pgg-mixed")),
        ["1.0.0", "2.0.0"]
    );
    crate::support::proxy::purge(&rig, "pgg-mixed");
    rig.fault.down();
    let partial = index(&rig, "cargo-all", "pgg-mixed");
    partial.expect(200);
    assert_eq!(partial.header("x-packgate-partial"), Some("cargo-proxy"));
    assert_eq!(versions(&partial), ["1.0.0"]);
    download(&rig, "pgg-mixed", "1.0.0").expect(200);
    let search = rig.proxy.http().get("/cargo-all/api/v1/crates?q=pgg");
    search.expect(200);
    assert_eq!(search.header("x-packgate-partial"), Some("cargo-proxy"));
}

#[test]
fn explain_names_the_member_supplying_each_version_by_the_canonical_name() {
    let (rig, token) = rig("allow_upstream = [\"pgg-open*\"]");
    internal(&rig, &token, &Crate::new("Pgg_Claimed", "1.0.0"));
    upstream(&rig, &Crate::new("pgg-claimed", "9.0.0"));
    internal(&rig, &token, &Crate::new("pgg-open", "1.0.0"));
    upstream(&rig, &Crate::new("pgg-open", "2.0.0"));

    let claimed = rig.proxy.http().get("/-/api/explain/cargo-all/pgg-claimed");
    claimed.expect(200);
    let claimed = claimed.json();
    assert_eq!(claimed["normalized"], "pgg-claimed");
    assert_eq!(claimed["members"][1]["verdict"], "claimed_by_hosted");
    assert_eq!(claimed["members"][1]["member"], "cargo");
    // The hosted member keeps the first spelling: its index path is `pg/g_/pgg_claimed`.
    let held = rig
        .proxy
        .http()
        .get("/-/api/explain/cargo-all/Pgg_Claimed")
        .json();
    assert_eq!(held["members"][0]["answer"], "found");
    assert_eq!(held["versions"][0]["version"], "1.0.0");
    assert_eq!(held["versions"][0]["member"], "cargo");

    let open = rig
        .proxy
        .http()
        .get("/-/api/explain/cargo-all/pgg-open")
        .json();
    assert_eq!(open["allow_upstream"], true);
    assert_eq!(open["members"][1]["cache"], "miss");
    let by_version: Vec<(&str, &str)> = open["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["version"].as_str()?, v["member"].as_str()?)))
        .collect();
    assert_eq!(by_version, [("1.0.0", "cargo"), ("2.0.0", "cargo-proxy")]);
    let dry = rig
        .proxy
        .http()
        .get("/-/api/explain/cargo-all/pgg-not-yet")
        .json();
    assert_eq!(dry["members"][0]["answer"], "missing");
    assert_eq!(dry["members"][1]["answer"], "missing");
    assert_eq!(dry["versions"].as_array().map(Vec::len), Some(0));
}

/// `Cargo.toml` of a publishable library.
fn lib_manifest(name: &str, version: &str, deps: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         description = \"{name} test crate\"\nlicense = \"MIT\"\n\n[dependencies]\n{deps}"
    )
}

#[test]
fn cargo_builds_from_both_members_and_publishes_through_the_group() {
    crate::require_cargo!();
    let (rig, token) = rig("publish_to = \"cargo\"");
    let public = upstream(
        &rig,
        &Crate::new("pgg-public-dep", "1.3.0")
            .file("src/lib.rs", "pub fn value() -> u64 {\n    20\n}\n"),
    );
    let cargo = Cargo::new(&rig.proxy, "cargo-all", Some(&token));

    // `cargo publish` to the group (verified: the build resolves the upstream crate through it).
    let lib = cargo.project(
        "pgg-internal-lib",
        &[
            (
                "Cargo.toml",
                lib_manifest(
                    "pgg-internal-lib",
                    "0.1.0",
                    "pgg-public-dep = { version = \"1\", registry = \"packgate\" }\n",
                ),
            ),
            (
                "src/lib.rs",
                "pub fn value() -> u64 {\n    pgg_public_dep::value() + 1\n}\n".to_string(),
            ),
        ],
    );
    cargo
        .publish(&lib, true)
        .ok()
        .mentions_any(&["Published pgg-internal-lib v0.1.0"])
        .never_mentions("timed out");
    let hosted = index(&rig, "cargo", "pgg-internal-lib");
    hosted.expect(200);
    let line = &parse_index(&hosted.text())[0];
    assert_eq!(line["deps"][0]["name"], "pgg-public-dep");
    assert_eq!(
        line["deps"][0]["registry"],
        Value::Null,
        "a dependency of this registry: resolved through the group"
    );

    // A project needing both members' crates, built through the group.
    let app = cargo.project(
        "app",
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\npgg-internal-lib = { version = \"0.1\", registry = \"packgate\" }\n"
                    .to_string(),
            ),
            (
                "src/main.rs",
                "fn main() {\n    println!(\"{}\", pgg_internal_lib::value());\n}\n".to_string(),
            ),
        ],
    );
    cargo.run(&app, &["build"]).ok();
    let out = cargo.run(&app, &["run", "-q"]).ok();
    assert_eq!(out.stdout.trim(), "21");
    let lock = std::fs::read_to_string(app.join("Cargo.lock")).expect("Cargo.lock");
    let source = format!("sparse+{}/cargo-all/index/", rig.proxy.base);
    assert_eq!(
        lock.matches(&source).count(),
        2,
        "both crates locked through the group:\n{lock}"
    );
    assert!(lock.contains(&sha256_hex(&public)), "{lock}");
    for host in rig.upstream_hosts() {
        assert!(
            !lock.contains(&host),
            "Cargo.lock names the upstream {host}"
        );
    }

    // Search, yank and owners through the group.
    let found = cargo.registry_cmd(&["search", "pgg"]).ok();
    assert!(
        found.stdout.contains("pgg-internal-lib = \"0.1.0\"")
            && found.stdout.contains("pgg-public-dep = \"1.3.0\""),
        "{}",
        found.describe()
    );
    cargo
        .registry_cmd(&["yank", "--version", "0.1.0", "pgg-internal-lib"])
        .ok();
    assert_eq!(
        parse_index(&index(&rig, "cargo", "pgg-internal-lib").text())[0]["yanked"],
        true
    );
    cargo
        .registry_cmd(&["yank", "--undo", "--version", "0.1.0", "pgg-internal-lib"])
        .ok();
    assert_eq!(
        parse_index(&index(&rig, "cargo", "pgg-internal-lib").text())[0]["yanked"],
        false
    );
    cargo
        .registry_cmd(&["owner", "--list", "pgg-internal-lib"])
        .ok()
        .mentions_any(&["internal-publisher"]);
}

#[test]
fn cargo_publish_with_a_group_token_lands_in_the_member_already_holding_the_crate() {
    crate::require_cargo!();
    let (rig, token) = two_hosted("publish_to = \"cargo-a\"");
    publish_to(
        &rig.proxy,
        "cargo-b",
        &token,
        &Crate::new("pgg-cli-held", "0.1.0"),
    )
    .0
    .expect(200);
    // A token limited to the group publishes through it.
    let for_group = rig.proxy.create_token(
        "internal-publisher",
        &["--scope", "read,publish", "--repo", "cargo-all"],
    );
    let cargo = Cargo::new(&rig.proxy, "cargo-all", Some(&for_group));
    let lib = cargo.project(
        "pgg-cli-held",
        &[
            ("Cargo.toml", lib_manifest("pgg-cli-held", "0.2.0", "")),
            ("src/lib.rs", "pub fn two() -> u8 {\n    2\n}\n".to_string()),
        ],
    );
    cargo
        .publish(&lib, false)
        .ok()
        .mentions_any(&["Published pgg-cli-held v0.2.0"])
        .never_mentions("timed out");
    assert_eq!(
        versions(&index(&rig, "cargo-b", "pgg-cli-held")),
        ["0.1.0", "0.2.0"]
    );
    expect_detail(&index(&rig, "cargo-a", "pgg-cli-held"), 404);

    // A new crate lands in `publish_to`.
    let fresh = cargo.project(
        "pgg-cli-fresh",
        &[
            ("Cargo.toml", lib_manifest("pgg-cli-fresh", "1.0.0", "")),
            ("src/lib.rs", "pub fn one() -> u8 {\n    1\n}\n".to_string()),
        ],
    );
    cargo
        .publish(&fresh, false)
        .ok()
        .mentions_any(&["Published pgg-cli-fresh v1.0.0"]);
    assert_eq!(
        versions(&index(&rig, "cargo-a", "pgg-cli-fresh")),
        ["1.0.0"]
    );
    expect_detail(&index(&rig, "cargo-b", "pgg-cli-fresh"), 404);
}
