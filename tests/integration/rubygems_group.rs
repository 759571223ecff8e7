//! RubyGems group repositories over HTTP and with the real `gem` and `bundle` clients: a group
//! `gems-all` on the proxy rig's packgate joins its hosted `rubygems` repository and the proxy
//! `rubygems-proxy` (whose upstream is a second packgate behind the fault proxy, which counts what
//! reaches it).

use crate::support::gem_client::{GemEnv, GemProject, served_versions_206};
use crate::support::proxy::ProxyRig;
use crate::support::tool::ToolOut;
use crate::support::{Resp, TestServer};
use packgate_rubygems::testing::{
    Gem, md5_hex, parse_info, parse_versions, repr_digest, sha256_hex, versions_state,
};
use std::collections::BTreeMap;
use std::path::Path;

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
fn versions_is_always_whole_with_an_etag_for_conditional_requests() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Gem::new("ranged_one", "1.0.0"));
    upstream(&rig, &Gem::new("ranged_two", "1.0.0"));
    let full = group_get(&rig, "versions");
    full.expect(200);
    let etag = full.header("etag").expect("etag").to_owned();
    assert_eq!(etag, format!("\"{}\"", md5_hex(&full.body)));
    assert_eq!(
        full.header("repr-digest").map(str::to_owned),
        Some(repr_digest(&full.body))
    );
    // Bundler 2.3 asks for its copy's last byte on: the group answers the whole body (never a
    // 206 of a regenerated file), which Bundler takes as a replacement.
    let from = format!("bytes={}-", full.body.len() - 1);
    let ranged = rig
        .proxy
        .http()
        .get_with(&format!("/{GROUP}/versions"), &[("range", &from)]);
    ranged.expect(200);
    assert_eq!(ranged.body, full.body);
    let same = rig.proxy.http().get_with(
        &format!("/{GROUP}/versions"),
        &[("range", &from), ("if-none-match", &etag)],
    );
    same.expect(304);
    let head = rig
        .proxy
        .http()
        .head_with(&format!("/{GROUP}/versions"), &[]);
    head.expect(200);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    // The info of a gem is answered whole as well, and 304 on its ETag.
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
    // A push to the hosted member changes the group's versions on the next request.
    internal(&rig, &token, &Gem::new("ranged_one", "1.1.0"));
    let after = group_get(&rig, "versions");
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(
        versions_state(&parse_versions(&after.text()))["ranged_one"].0,
        ["1.0.0", "1.1.0"]
    );
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

// ---- the real clients ----

/// `gg_public` VERSION (upstream) whose `GgPublic.value` is `value`.
fn gg_public(version: &str, value: u32) -> Gem {
    Gem::new("gg_public", version).file(
        "lib/gg_public.rb",
        format!("module GgPublic\n  def self.value\n    {value}\n  end\nend\n"),
    )
}

/// `gg_shared` VERSION whose `GgShared.value` is `value` (both members have it).
fn gg_shared(version: &str, value: u32) -> Gem {
    Gem::new("gg_shared", version).file(
        "lib/gg_shared.rb",
        format!("module GgShared\n  def self.value\n    {value}\n  end\nend\n"),
    )
}

/// The internal gem, built and pushed with the real client: `GgPublic.value * 10 +
/// GgShared.value + bump`.
fn gg_internal(version: &str, bump: u32) -> GemProject {
    GemProject::new(
        "gg_internal",
        version,
        &format!(
            "require \"gg_public\"\nrequire \"gg_shared\"\n\nmodule GgInternal\n  def self.value\n    GgPublic.value * 10 + GgShared.value + {bump}\n  end\nend\n"
        ),
    )
    .dep("gg_public", &["~> 1.0"])
    .dep("gg_shared", &[">= 1.1"])
}

/// `bundle ARGS` that must succeed over the compact index, without checksum complaints.
fn bundle_ok(gems: &GemEnv, dir: &Path, args: &[&str]) -> ToolOut {
    gems.bundle(dir, args)
        .ok()
        .never_mentions("Fetching source index")
        .never_mentions("does not match the checksum")
}

/// `name (version)` lines of a Gemfile.lock's `specs:` section.
fn locked(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("Gemfile.lock")).expect("Gemfile.lock written");
    text.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("      "))
        .map(|l| l.trim().to_owned())
        .collect()
}

const RUN: [&str; 4] = [
    "exec",
    "ruby",
    "-e",
    "require \"gg_internal\"; puts GgInternal.value",
];

#[test]
fn gem_push_bundle_install_and_gem_install_work_through_the_group() {
    crate::require_bundler!();
    let (rig, token) = rig("publish_to = \"rubygems\"\nallow_upstream = [\"gg_shared\"]");
    upstream(&rig, &gg_public("1.0.0", 3));
    // gg_shared: 1.0.0 in both members (the hosted one wins), 1.1.0 only upstream.
    internal(&rig, &token, &gg_shared("1.0.0", 100));
    upstream(&rig, &gg_shared("1.0.0", 200));
    upstream(&rig, &gg_shared("1.1.0", 5));

    // `gem push` to the group lands in publish_to.
    let pusher = GemEnv::new(&rig.proxy, GROUP, Some(&token));
    let file = pusher.build(&gg_internal("1.0.0", 1));
    pusher
        .push(&file)
        .ok()
        .mentions_any(&["Successfully registered gem: gg_internal (1.0.0)"]);
    get(&rig, "rubygems", "info/gg_internal").expect(200);

    // `bundle install` needs gems from both members.
    let gems = GemEnv::new(&rig.proxy, GROUP, None);
    let app = gems.bundle_project("app", "gem \"gg_internal\"\n");
    let out = bundle_ok(&gems, &app, &["install"]);
    assert!(
        out.all().contains("Fetching gem metadata"),
        "bundler uses the compact index: {}",
        out.describe()
    );
    for want in [
        "gg_internal (1.0.0)",
        "gg_public (1.0.0)",
        "gg_shared (1.1.0)",
    ] {
        assert!(
            locked(&app).contains(&want.to_owned()),
            "{want}: {:?}",
            locked(&app)
        );
    }
    let lock = std::fs::read_to_string(app.join("Gemfile.lock")).expect("lock");
    assert!(lock.contains(&format!("remote: {}", gems.source)), "{lock}");
    for host in rig.upstream_hosts() {
        assert!(
            !lock.contains(&host),
            "the lockfile names the upstream {host}"
        );
    }
    assert_eq!(bundle_ok(&gems, &app, &RUN).stdout.trim(), "36");

    // A new version pushed through the group: bundle update sees it over its ranged versions
    // request (answered whole) without checksum errors.
    let file = pusher.build(&gg_internal("1.1.0", 2));
    pusher.push(&file).ok();
    bundle_ok(&gems, &app, &["update", "gg_internal"]);
    assert!(
        locked(&app).contains(&"gg_internal (1.1.0)".to_owned()),
        "bundle update: {:?}",
        locked(&app)
    );
    assert_eq!(bundle_ok(&gems, &app, &RUN).stdout.trim(), "37");
    assert!(
        !served_versions_206(&rig.proxy, GROUP),
        "the group's versions is never answered 206"
    );

    // `gem install` through the group (info, quick specs, gems) and `gem search` (legacy
    // specs index).
    let user = GemEnv::new(&rig.proxy, GROUP, None);
    user.install(&["gg_internal"]).ok();
    let value = user
        .ruby(&["-e", "require \"gg_internal\"; puts GgInternal.value"])
        .ok()
        .stdout
        .trim()
        .to_owned();
    assert_eq!(value, "37");
    // The hosted gg_shared 1.0.0 (value 100) is the one the group serves.
    user.install(&["gg_shared", "-v", "1.0.0"]).ok();
    let shared = user
        .ruby(&[
            "-e",
            "gem \"gg_shared\", \"1.0.0\"; require \"gg_shared\"; puts GgShared.value",
        ])
        .ok()
        .stdout
        .trim()
        .to_owned();
    assert_eq!(shared, "100");
    let search = user
        .gem(&[
            "search",
            "gg_",
            "--remote",
            "--clear-sources",
            "--source",
            &user.source,
        ])
        .ok();
    for name in [
        "gg_internal (1.1.0)",
        "gg_public (1.0.0)",
        "gg_shared (1.1.0)",
    ] {
        assert!(
            search.stdout.contains(name),
            "{name}: {}",
            search.describe()
        );
    }
}
