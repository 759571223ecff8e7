//! RubyGems group repositories over HTTP and with the real `gem` and `bundle` clients: a group
//! `gems-all` on the proxy rig's packgate joins its hosted `rubygems` repository and the proxy
//! `rubygems-proxy` (whose upstream is a second packgate behind the fault proxy, which counts what
//! reaches it). The group's append-only `versions` is in `versions_log`, the real clients in
//! `cli`.

mod cli;
mod versions_log;

use crate::support::gem_client::GemEnv;
use crate::support::proxy::ProxyRig;
use crate::support::{Resp, TestServer};
use packgate_rubygems::testing::{
    Gem, md5_hex, parse_info, parse_versions, repr_digest, sha256_hex, versions_state,
};
use std::collections::BTreeMap;

const GROUP: &str = "gems-all";

/// The group's TOML (members `members`), appended after the proxy repository's keys.
fn group_with(members: &str, extra: &str) -> String {
    format!(
        "\n[[repository]]\nname = \"{GROUP}\"\nformat = \"rubygems\"\ntype = \"group\"\nmembers = [{members}]\n{extra}\n"
    )
}

/// A rig whose proxy server also has the group `gems-all` over `rubygems` and `rubygems-proxy`
/// (`extra`: more keys of the group), and a publisher token on the proxy server.
fn rig(extra: &str) -> (ProxyRig, String) {
    rig_over("\"rubygems\", \"rubygems-proxy\"", extra)
}

fn rig_over(members: &str, extra: &str) -> (ProxyRig, String) {
    let rig = ProxyRig::start("rubygems", "rubygems", &group_with(members, extra));
    let token = rig.proxy.publisher("internal-publisher");
    (rig, token)
}

/// `POST /{repo}/api/v1/gems` with the `.gem` as body (what `gem push` sends).
fn push_to(server: &TestServer, repo: &str, token: &str, gem: &Gem) -> Resp {
    server.http().send(
        "POST",
        &format!("/{repo}/api/v1/gems"),
        &[
            ("content-type", "application/octet-stream"),
            ("authorization", token),
        ],
        Some(gem.gem_file()),
    )
}

/// Pushes to the upstream (what the proxy member sees).
fn upstream(rig: &ProxyRig, gem: &Gem) {
    push_to(&rig.upstream, "rubygems", &rig.token, gem).expect(200);
}

/// Pushes to the group's hosted member.
fn internal(rig: &ProxyRig, token: &str, gem: &Gem) {
    push_to(&rig.proxy, "rubygems", token, gem).expect(200);
}

/// `DELETE /{repo}/api/v1/gems/yank` (what `gem yank` sends).
fn yank(server: &TestServer, repo: &str, token: &str, name: &str, version: &str) -> Resp {
    server.http().send(
        "DELETE",
        &format!("/{repo}/api/v1/gems/yank"),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", token),
        ],
        Some(format!("gem_name={name}&version={version}").into_bytes()),
    )
}

/// `GET {proxy server}/{repo}/{path}`.
fn get(rig: &ProxyRig, repo: &str, path: &str) -> Resp {
    rig.proxy.http().get(&format!("/{repo}/{path}"))
}

fn group_get(rig: &ProxyRig, path: &str) -> Resp {
    get(rig, GROUP, path)
}

/// Bundler's view of the group's `versions`: per gem, live versions and the MD5.
fn group_versions(rig: &ProxyRig) -> BTreeMap<String, (Vec<String>, String)> {
    let resp = group_get(rig, "versions");
    resp.expect(200);
    versions_state(&parse_versions(&resp.text()))
}

/// The `VERSION[-PLATFORM]` keys of an `info/NAME` body.
fn info_keys(body: &str) -> Vec<String> {
    parse_info(body).into_iter().map(|l| l.version).collect()
}

/// The `checksum:` of `key` in an `info/NAME` body.
fn checksum(body: &str, key: &str) -> String {
    parse_info(body)
        .into_iter()
        .find(|l| l.version == key)
        .and_then(|l| l.reqs.get("checksum").and_then(|c| c.first().cloned()))
        .unwrap_or_else(|| panic!("no checksum of {key} in {body:?}"))
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

/// Asserts a gateway error (502, 503 or 504), never a 404.
fn gateway_error(resp: &Resp) {
    assert!(
        [502, 503, 504].contains(&resp.status),
        "{}: {} {}",
        resp.request,
        resp.status,
        resp.text()
    );
}

#[test]
fn a_group_serves_hosted_and_upstream_gems_through_one_compact_index() {
    let (rig, token) = rig("");
    let mine = Gem::new("acme_internal", "1.0.0").file("lib/acme_internal.rb", "mine");
    internal(&rig, &token, &mine);
    let public = Gem::new("public_lib", "2.0.0")
        .dep("acme_internal", &[">= 1.0"])
        .file("lib/public_lib.rb", "public");
    upstream(&rig, &public);
    upstream(&rig, &Gem::new("public_lib", "2.1.0.pre"));

    // info/NAME of a gem one member supplies is that member's, byte for byte.
    for (name, member) in [
        ("acme_internal", "rubygems"),
        ("public_lib", "rubygems-proxy"),
    ] {
        let merged = group_get(&rig, &format!("info/{name}"));
        merged.expect(200);
        assert_eq!(merged.body, get(&rig, member, &format!("info/{name}")).body);
        assert_eq!(
            merged.header("etag").map(str::to_owned),
            Some(format!("\"{}\"", md5_hex(&merged.body))),
            "ETag is the quoted MD5 (Bundler 2.3 checks it)"
        );
        assert_eq!(
            merged.header("repr-digest").map(str::to_owned),
            Some(repr_digest(&merged.body))
        );
        assert_eq!(merged.header("x-packgate-partial"), None);
    }
    // versions lists both, each with the MD5 of the group's info/NAME.
    let state = group_versions(&rig);
    assert_eq!(state["acme_internal"].0, ["1.0.0"]);
    assert_eq!(state["public_lib"].0, ["2.0.0", "2.1.0.pre"]);
    for name in ["acme_internal", "public_lib"] {
        let info = group_get(&rig, &format!("info/{name}"));
        assert_eq!(state[name].1, md5_hex(&info.body), "{name}");
    }
    let names = group_get(&rig, "names");
    names.expect(200);
    let listed: Vec<&str> = std::str::from_utf8(&names.body)
        .expect("utf-8")
        .lines()
        .collect();
    assert_eq!(listed, ["---", "acme_internal", "public_lib"]);

    // Files come from the member that supplies the version.
    let got = group_get(&rig, &format!("gems/{}", mine.file_name()));
    got.expect(200);
    assert_eq!(got.body, mine.gem_file());
    let got = group_get(&rig, &format!("gems/{}", public.file_name()));
    got.expect(200);
    assert_eq!(got.body, public.gem_file());
    let spec_path = format!("quick/Marshal.4.8/{}.gemspec.rz", public.spec_stem());
    let spec = group_get(&rig, &spec_path);
    spec.expect(200);
    assert_eq!(spec.body, get(&rig, "rubygems-proxy", &spec_path).body);
    for host in rig.upstream_hosts() {
        assert!(!group_get(&rig, "versions").text().contains(&host));
    }

    // Nobody has it: 404 in gem's words.
    gem_error(&group_get(&rig, "info/nowhere_at_all"), 404);
    gem_error(&group_get(&rig, "gems/nowhere_at_all-1.0.0.gem"), 404);
    gem_error(&group_get(&rig, "gems/public_lib-9.9.9.gem"), 404);
}

#[test]
fn a_gem_held_by_a_hosted_member_never_comes_from_the_upstream() {
    let (rig, token) = rig("");
    let mine = Gem::new("foo", "1.0.0").file("lib/foo.rb", "ours");
    internal(&rig, &token, &mine);
    upstream(
        &rig,
        &Gem::new("foo", "99.0.0").file("lib/foo.rb", "attacker"),
    );
    // A hosted `acme_tools` also keeps its look-alikes out (the squatting key of the packages
    // table: case, `-`, `_` and `.` folded).
    internal(&rig, &token, &Gem::new("acme_tools", "1.0.0"));
    upstream(&rig, &Gem::new("acme-tools", "5.0.0"));

    let info = group_get(&rig, "info/foo");
    info.expect(200);
    assert_eq!(
        info_keys(&info.text()),
        ["1.0.0"],
        "only the hosted versions"
    );
    assert_eq!(info.body, get(&rig, "rubygems", "info/foo").body);
    let state = group_versions(&rig);
    assert_eq!(
        state["foo"],
        (vec!["1.0.0".to_owned()], md5_hex(&info.body))
    );
    assert!(!state.contains_key("acme-tools"), "{state:?}");
    gem_error(&group_get(&rig, "gems/foo-99.0.0.gem"), 404);
    gem_error(
        &group_get(&rig, "quick/Marshal.4.8/foo-99.0.0.gemspec.rz"),
        404,
    );
    gem_error(&group_get(&rig, "info/acme-tools"), 404);
    gem_error(&group_get(&rig, "gems/acme-tools-5.0.0.gem"), 404);
    assert_eq!(group_get(&rig, "gems/foo-1.0.0.gem").body, mine.gem_file());
    let names = group_get(&rig, "names").text();
    assert!(!names.lines().any(|l| l == "acme-tools"), "{names}");
    for path in [
        "/rubygems/info/foo",
        "/rubygems/gems/foo-99.0.0.gem",
        "/rubygems/quick/Marshal.4.8/foo-99.0.0.gemspec.rz",
        "/rubygems/info/acme-tools",
        "/rubygems/gems/acme-tools-5.0.0.gem",
    ] {
        assert_eq!(
            rig.fault.count(path),
            0,
            "the upstream is not even asked: {path}"
        );
    }
}

#[test]
fn allow_upstream_merges_a_claimed_gem_with_the_earliest_member_winning() {
    let (rig, token) = rig("allow_upstream = [\"shared_*\"]");
    let ours = Gem::new("shared_util", "1.0.0").file("lib/shared_util.rb", "ours");
    internal(&rig, &token, &ours);
    upstream(
        &rig,
        &Gem::new("shared_util", "1.0.0").file("lib/shared_util.rb", "theirs"),
    );
    let newer = Gem::new("shared_util", "2.0.0").file("lib/shared_util.rb", "theirs 2");
    upstream(&rig, &newer);
    let java = Gem::new("shared_util", "2.0.0").platform("java");
    upstream(&rig, &java);

    let info = group_get(&rig, "info/shared_util");
    info.expect(200);
    let text = info.text();
    assert_eq!(info_keys(&text), ["1.0.0", "2.0.0", "2.0.0-java"]);
    assert_eq!(
        checksum(&text, "1.0.0"),
        sha256_hex(&ours.gem_file()),
        "a version both have comes from the earlier member"
    );
    assert_eq!(checksum(&text, "2.0.0"), sha256_hex(&newer.gem_file()));
    let state = group_versions(&rig);
    assert_eq!(
        state["shared_util"],
        (
            vec!["1.0.0".into(), "2.0.0".into(), "2.0.0-java".into()],
            md5_hex(&info.body)
        ),
        "versions names the MD5 of the merged info"
    );
    assert_eq!(
        group_get(&rig, "gems/shared_util-1.0.0.gem").body,
        ours.gem_file()
    );
    assert_eq!(
        group_get(&rig, "gems/shared_util-2.0.0.gem").body,
        newer.gem_file()
    );
    assert_eq!(
        group_get(&rig, "gems/shared_util-2.0.0-java.gem").body,
        java.gem_file()
    );
    assert_eq!(
        rig.fault.count("/rubygems/gems/shared_util-1.0.0.gem"),
        0,
        "the hosted copy is served"
    );
    // A new version in the hosted member shows at once, in info and in versions.
    internal(&rig, &token, &Gem::new("shared_util", "3.0.0"));
    let info = group_get(&rig, "info/shared_util");
    assert_eq!(
        info_keys(&info.text()),
        ["1.0.0", "3.0.0", "2.0.0", "2.0.0-java"]
    );
    assert_eq!(group_versions(&rig)["shared_util"].1, md5_hex(&info.body));
}

#[test]
fn route_rules_keep_gems_to_the_members_they_allow() {
    let (rig, _) = rig(
        "[[repository.route]]\nnames = [\"acme_*\"]\nonly = [\"rubygems\"]\n\n[[repository.route]]\nnames = [\"left_pad\"]\nexclude = [\"rubygems-proxy\"]\n",
    );
    upstream(&rig, &Gem::new("acme_lookalike", "1.0.0"));
    upstream(&rig, &Gem::new("left_pad", "1.0.0"));
    upstream(&rig, &Gem::new("right_pad", "1.0.0"));
    gem_error(&group_get(&rig, "info/acme_lookalike"), 404);
    gem_error(&group_get(&rig, "info/left_pad"), 404);
    gem_error(&group_get(&rig, "gems/left_pad-1.0.0.gem"), 404);
    group_get(&rig, "info/right_pad").expect(200);
    let state = group_versions(&rig);
    assert_eq!(
        state.keys().collect::<Vec<_>>(),
        ["right_pad"],
        "versions follows the rules"
    );
    let names = group_get(&rig, "names").text();
    assert_eq!(names, "---\nright_pad\n");
    for path in [
        "/rubygems/info/acme_lookalike",
        "/rubygems/info/left_pad",
        "/rubygems/gems/left_pad-1.0.0.gem",
    ] {
        assert_eq!(rig.fault.count(path), 0, "{path}");
    }
}

#[test]
fn building_versions_fetches_info_only_for_gems_several_members_supply() {
    let (rig, token) = rig("allow_upstream = [\"both_*\"]");
    internal(&rig, &token, &Gem::new("both_a", "1.0.0"));
    upstream(&rig, &Gem::new("both_a", "2.0.0"));
    for i in 0..5 {
        upstream(&rig, &Gem::new(&format!("single_{i}"), "1.0.0"));
    }
    let state = group_versions(&rig);
    assert_eq!(state.len(), 6, "{state:?}");
    assert_eq!(state["both_a"].0, ["1.0.0", "2.0.0"]);
    for i in 0..5 {
        assert_eq!(
            rig.fault.count(&format!("/rubygems/info/single_{i}")),
            0,
            "single_{i} takes its member's versions line"
        );
    }
    assert_eq!(rig.fault.count("/rubygems/info/both_a"), 1);
    // Asked again: from the cache (the members' ETags did not change).
    group_versions(&rig);
    assert_eq!(rig.fault.count("/rubygems/info/both_a"), 1);
    assert_eq!(
        state["both_a"].1,
        md5_hex(&group_get(&rig, "info/both_a").body)
    );
}

#[test]
fn legacy_specs_indexes_are_built_from_the_group_versions() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Gem::new("legacy_mine", "1.0.0"));
    internal(&rig, &token, &Gem::new("claimed_gem", "1.0.0"));
    upstream(&rig, &Gem::new("claimed_gem", "7.0.0"));
    upstream(&rig, &Gem::new("legacy_public", "1.0.0"));
    upstream(&rig, &Gem::new("legacy_public", "1.1.0"));
    upstream(&rig, &Gem::new("legacy_public", "2.0.0.pre"));
    for file in [
        "specs.4.8.gz",
        "latest_specs.4.8.gz",
        "prerelease_specs.4.8.gz",
    ] {
        let served = group_get(&rig, file);
        served.expect(200);
        let marshal = packgate_rubygems::testing::gunzip(&served.body);
        assert_eq!(&marshal[..3], [4, 8, b'['], "{file}: a Marshal 4.8 Array");
        let etag = served.header("etag").expect("etag").to_owned();
        rig.proxy
            .http()
            .get_with(&format!("/{GROUP}/{file}"), &[("if-none-match", &etag)])
            .expect(304);
    }
    gem_error(&group_get(&rig, "other_specs.4.8.gz"), 404);
    let Some(all) = ruby_specs(&rig, "specs.4.8.gz") else {
        return;
    };
    assert_eq!(
        all,
        [
            "claimed_gem 1.0.0 ruby",
            "legacy_mine 1.0.0 ruby",
            "legacy_public 1.0.0 ruby",
            "legacy_public 1.1.0 ruby"
        ]
    );
    assert_eq!(
        ruby_specs(&rig, "latest_specs.4.8.gz").expect("ruby"),
        [
            "claimed_gem 1.0.0 ruby",
            "legacy_mine 1.0.0 ruby",
            "legacy_public 1.1.0 ruby"
        ]
    );
    assert_eq!(
        ruby_specs(&rig, "prerelease_specs.4.8.gz").expect("ruby"),
        ["legacy_public 2.0.0.pre ruby"]
    );
}

/// Loads a legacy specs file of the group with Ruby: `name version platform` per tuple, sorted;
/// `None` when ruby is not installed.
fn ruby_specs(rig: &ProxyRig, file: &str) -> Option<Vec<String>> {
    if !GemEnv::installed() {
        return None;
    }
    let gems = GemEnv::new(&rig.proxy, GROUP, None);
    let dir = gems.new_dir("specs");
    let path = dir.join(file);
    std::fs::write(&path, &group_get(rig, file).body).expect("write specs");
    let script = "require 'rubygems'; require 'zlib'; \
                  Marshal.load(Zlib.gunzip(File.binread(ARGV[0]))).each { |n, v, p| \
                  puts [n, v.to_s, p].join(' ') }";
    let out = gems
        .run(
            "ruby",
            &dir,
            &["-e", script, &path.display().to_string()],
            None,
        )
        .ok();
    let mut lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    lines.sort();
    Some(lines)
}

#[test]
fn a_push_to_the_group_lands_in_publish_to_and_shows_on_the_next_request() {
    let (rig, token) = rig("publish_to = \"rubygems\"");
    let first = Gem::new("through_group", "1.0.0");
    let pushed = push_to(&rig.proxy, GROUP, &token, &first);
    pushed.expect(200);
    assert!(
        pushed
            .text()
            .contains("Successfully registered gem: through_group (1.0.0)"),
        "{}",
        pushed.text()
    );
    let hosted = get(&rig, "rubygems", "info/through_group");
    hosted.expect(200);
    assert_eq!(info_keys(&hosted.text()), ["1.0.0"]);
    assert_eq!(group_versions(&rig)["through_group"].0, ["1.0.0"]);
    // The group follows the member at once (its caches are keyed by the members' ETags).
    internal(&rig, &token, &Gem::new("through_group", "1.1.0"));
    assert_eq!(
        info_keys(&group_get(&rig, "info/through_group").text()),
        ["1.0.0", "1.1.0"]
    );
    assert_eq!(group_versions(&rig)["through_group"].0, ["1.0.0", "1.1.0"]);
    // A second push of the same version is refused by the member, in gem's words.
    let again = push_to(&rig.proxy, GROUP, &token, &first);
    let text = gem_error(&again, 409);
    assert!(text.contains("Repushing"), "{text}");
    // Without credentials: 401 with the challenge gem answers.
    let anonymous = rig.proxy.http().send(
        "POST",
        &format!("/{GROUP}/api/v1/gems"),
        &[("content-type", "application/octet-stream")],
        Some(Gem::new("through_group", "2.0.0").gem_file()),
    );
    gem_error(&anonymous, 401);
}

#[test]
fn a_push_through_the_group_goes_to_the_hosted_member_already_holding_the_gem() {
    // Two hosted members: publish_to is the first, the gem lives in the second.
    let (rig, token) = rig_over(
        "\"rubygems-private\", \"rubygems\", \"rubygems-proxy\"",
        "publish_to = \"rubygems-private\"",
    );
    let auth = [("authorization", token.as_str())];
    let private_info = |name: &str| {
        rig.proxy
            .http()
            .get_with(&format!("/rubygems-private/info/{name}"), &auth)
    };
    internal(&rig, &token, &Gem::new("held_by_b", "1.0.0"));
    let pushed = push_to(&rig.proxy, GROUP, &token, &Gem::new("held_by_b", "2.0.0"));
    pushed.expect(200);
    assert!(
        pushed
            .text()
            .contains("Successfully registered gem: held_by_b (2.0.0)"),
        "{}",
        pushed.text()
    );
    assert_eq!(
        info_keys(&get(&rig, "rubygems", "info/held_by_b").text()),
        ["1.0.0", "2.0.0"],
        "the new version lands in the member holding the gem"
    );
    gem_error(&private_info("held_by_b"), 404);
    // A look-alike spelling goes to the holder too, which refuses it as too similar.
    let similar = push_to(&rig.proxy, GROUP, &token, &Gem::new("Held-By-B", "3.0.0"));
    let text = gem_error(&similar, 409);
    assert!(text.contains("too similar"), "{text}");
    gem_error(&private_info("Held-By-B"), 404);
    // A new gem goes to publish_to.
    push_to(&rig.proxy, GROUP, &token, &Gem::new("brand_new", "1.0.0")).expect(200);
    assert_eq!(info_keys(&private_info("brand_new").text()), ["1.0.0"]);
    gem_error(&get(&rig, "rubygems", "info/brand_new"), 404);
    let versions = rig
        .proxy
        .http()
        .get_with(&format!("/{GROUP}/versions"), &auth);
    let state = versions_state(&parse_versions(&versions.text()));
    assert_eq!(state["held_by_b"].0, ["1.0.0", "2.0.0"]);
    assert_eq!(state["brand_new"].0, ["1.0.0"]);
    // A broken upload is refused before any member is chosen.
    let broken = rig.proxy.http().send(
        "POST",
        &format!("/{GROUP}/api/v1/gems"),
        &[
            ("content-type", "application/octet-stream"),
            ("authorization", &token),
        ],
        Some(b"not a gem".to_vec()),
    );
    assert!(
        [400, 422].contains(&broken.status),
        "{}: {}",
        broken.status,
        broken.text()
    );
}

#[test]
fn a_group_without_publish_to_refuses_pushes_in_plain_text() {
    let (rig, token) = rig("");
    let refused = push_to(&rig.proxy, GROUP, &token, &Gem::new("nowhere", "1.0.0"));
    let text = gem_error(&refused, 405);
    assert!(text.contains("publish_to"), "{text}");
    get(&rig, "rubygems", "info/nowhere").expect(404);
}

#[test]
fn a_yank_through_the_group_acts_on_the_hosted_member_holding_the_gem() {
    // Two hosted members: the gem lives in the second, publish_to is the first.
    let (rig, token) = rig_over(
        "\"rubygems-private\", \"rubygems\", \"rubygems-proxy\"",
        "publish_to = \"rubygems-private\"",
    );
    internal(&rig, &token, &Gem::new("held_below", "1.0.0"));
    internal(&rig, &token, &Gem::new("held_below", "1.1.0"));
    let yanked = yank(&rig.proxy, GROUP, &token, "held_below", "1.1.0");
    yanked.expect(200);
    assert!(
        yanked.text().contains("Successfully deleted gem"),
        "{}",
        yanked.text()
    );
    assert_eq!(
        info_keys(&get(&rig, "rubygems", "info/held_below").text()),
        ["1.0.0"]
    );
    let auth = [("authorization", token.as_str())];
    let info = rig
        .proxy
        .http()
        .get_with(&format!("/{GROUP}/info/held_below"), &auth);
    assert_eq!(info_keys(&info.text()), ["1.0.0"]);
    let versions = rig
        .proxy
        .http()
        .get_with(&format!("/{GROUP}/versions"), &auth);
    assert_eq!(
        versions_state(&parse_versions(&versions.text()))["held_below"].0,
        ["1.0.0"]
    );
    rig.proxy
        .http()
        .get_with(&format!("/{GROUP}/gems/held_below-1.1.0.gem"), &auth)
        .expect(404);
    // Owners through the group: those of the holding member.
    let owners = rig.proxy.http().get_with(
        &format!("/{GROUP}/api/v1/gems/held_below/owners.yaml"),
        &auth,
    );
    owners.expect(200);
    assert!(
        owners.text().contains("internal-publisher"),
        "{}",
        owners.text()
    );
    // A gem nobody holds: publish_to answers that it does not exist.
    gem_error(
        &yank(&rig.proxy, GROUP, &token, "never_pushed", "1.0.0"),
        404,
    );
}

#[test]
fn a_failing_member_gives_a_gateway_error_and_never_a_404() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Gem::new("held_here", "1.0.0"));
    upstream(&rig, &Gem::new("only_upstream", "1.0.0"));
    rig.fault.down();
    // `held_here` is claimed: the proxy is not asked, the answer is whole.
    let whole = group_get(&rig, "info/held_here");
    whole.expect(200);
    assert_eq!(whole.header("x-packgate-partial"), None);
    // A gem no hosted member holds: the failing proxy might hold it.
    gateway_error(&group_get(&rig, "info/only_upstream"));
    gateway_error(&group_get(&rig, "gems/only_upstream-1.0.0.gem"));
    // versions: the hosted member's gems, marked partial.
    let partial = group_get(&rig, "versions");
    partial.expect(200);
    assert_eq!(partial.header("x-packgate-partial"), Some("rubygems-proxy"));
    let state = versions_state(&parse_versions(&partial.text()));
    assert_eq!(state.keys().collect::<Vec<_>>(), ["held_here"]);
}

#[test]
fn a_member_down_after_caching_gives_a_partial_merge_marked_in_a_header() {
    let (rig, token) = rig("allow_upstream = [\"mixed\"]");
    internal(&rig, &token, &Gem::new("mixed", "1.0.0"));
    upstream(&rig, &Gem::new("mixed", "2.0.0"));
    assert_eq!(
        info_keys(&group_get(&rig, "info/mixed").text()),
        ["1.0.0", "2.0.0"]
    );
    crate::support::proxy::purge(&rig, "mixed");
    rig.fault.down();
    let partial = group_get(&rig, "info/mixed");
    partial.expect(200);
    assert_eq!(partial.header("x-packgate-partial"), Some("rubygems-proxy"));
    assert_eq!(info_keys(&partial.text()), ["1.0.0"]);
}

#[test]
fn explain_names_the_supplier_of_each_version_and_why_other_members_are_left_out() {
    let (rig, token) = rig("allow_upstream = [\"open_*\"]");
    internal(&rig, &token, &Gem::new("claimed", "1.0.0"));
    upstream(&rig, &Gem::new("claimed", "9.0.0"));
    internal(&rig, &token, &Gem::new("open_lib", "1.0.0"));
    upstream(&rig, &Gem::new("open_lib", "2.0.0"));

    let claimed = rig
        .proxy
        .http()
        .get(&format!("/-/api/explain/{GROUP}/claimed"));
    claimed.expect(200);
    let claimed = claimed.json();
    assert_eq!(claimed["members"][0]["answer"], "found");
    assert_eq!(claimed["members"][1]["verdict"], "claimed_by_hosted");
    assert_eq!(claimed["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(claimed["versions"][0]["member"], "rubygems");

    let open = rig
        .proxy
        .http()
        .get(&format!("/-/api/explain/{GROUP}/open_lib"))
        .json();
    assert_eq!(open["allow_upstream"], true);
    assert_eq!(open["versions"][0]["version"], "1.0.0");
    assert_eq!(open["versions"][0]["member"], "rubygems");
    assert_eq!(open["versions"][1]["version"], "2.0.0");
    assert_eq!(open["versions"][1]["member"], "rubygems-proxy");
}
