//! npm group repositories over HTTP and with the real npm client: a group `npm-all` on the proxy
//! rig's packgate joins its hosted `npm` repository and the proxy `npm-proxy` (whose upstream is a
//! second packgate behind the fault proxy, which counts what reaches it).

use crate::require_npm;
use crate::support::proxy::ProxyRig;
use crate::support::{Npm, Resp, TestServer};
use packgate_npm::testing::{Package, escape_name, integrity};

const CORGI: &str = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

/// The group's TOML, appended after the proxy repository's keys.
fn group(extra: &str) -> String {
    format!(
        "\n[[repository]]\nname = \"npm-all\"\nformat = \"npm\"\ntype = \"group\"\nmembers = [\"npm\", \"npm-proxy\"]\n{extra}\n"
    )
}

/// A rig whose proxy server also has the group `npm-all` (`extra`: more keys of the group).
fn rig(extra: &str) -> (ProxyRig, String) {
    let rig = ProxyRig::start("npm", "npm", &group(extra));
    let token = rig.proxy.publisher("internal-publisher");
    (rig, token)
}

fn publish_to(server: &TestServer, repo: &str, token: &str, pkg: &Package) -> Resp {
    server.http().json(
        "PUT",
        &format!("/{repo}/{}", escape_name(pkg.name())),
        Some(token),
        &pkg.publish_body(&server.registry(repo), "latest"),
    )
}

/// Publishes to the upstream (what the proxy member sees).
fn upstream(rig: &ProxyRig, pkg: &Package) {
    publish_to(&rig.upstream, "npm", &rig.token, pkg).expect_success();
}

/// Publishes to the group's hosted member.
fn internal(rig: &ProxyRig, token: &str, pkg: &Package) {
    publish_to(&rig.proxy, "npm", token, pkg).expect_success();
}

fn packument(rig: &ProxyRig, repo: &str, name: &str) -> Resp {
    rig.proxy.http().get_with(
        &format!("/{repo}/{}", escape_name(name)),
        &[("accept", CORGI)],
    )
}

fn versions(doc: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = doc["versions"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn tarball(rig: &ProxyRig, name: &str, version: &str) -> Resp {
    let base = name.rsplit('/').next().unwrap_or(name);
    rig.proxy
        .http()
        .get(&format!("/npm-all/{name}/-/{base}-{version}.tgz"))
}

#[test]
fn a_group_serves_hosted_and_upstream_packages_with_tarballs_under_the_group() {
    let (rig, token) = rig("");
    let mine = Package::new("@acme/internal", "1.0.0").file("index.js", "mine");
    internal(&rig, &token, &mine);
    let public = Package::new("public-lib", "2.0.0").file("index.js", "public");
    upstream(&rig, &public);

    let doc = packument(&rig, "npm-all", "@acme/internal");
    doc.expect(200);
    let doc = doc.json();
    assert_eq!(versions(&doc), ["1.0.0"]);
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["tarball"],
        rig.proxy
            .url("/npm-all/@acme/internal/-/internal-1.0.0.tgz")
    );
    let got = tarball(&rig, "@acme/internal", "1.0.0");
    got.expect(200);
    assert_eq!(got.body, mine.tarball());

    let doc = packument(&rig, "npm-all", "public-lib").json();
    assert_eq!(versions(&doc), ["2.0.0"]);
    assert_eq!(
        doc["versions"]["2.0.0"]["dist"]["tarball"],
        rig.proxy.url("/npm-all/public-lib/-/public-lib-2.0.0.tgz")
    );
    assert_eq!(
        doc["versions"]["2.0.0"]["dist"]["integrity"],
        integrity(&public.tarball())
    );
    let got = tarball(&rig, "public-lib", "2.0.0");
    got.expect(200);
    assert_eq!(got.body, public.tarball());
    for host in rig.upstream_hosts() {
        assert!(
            !packument(&rig, "npm-all", "public-lib")
                .text()
                .contains(&host)
        );
    }
    // Neither member has it: 404 in npm's words.
    packument(&rig, "npm-all", "nowhere-at-all").expect(404);
}

#[test]
fn a_name_held_by_a_hosted_member_never_comes_from_the_upstream() {
    let (rig, token) = rig("");
    let mine = Package::new("foo", "1.0.0").file("index.js", "ours");
    internal(&rig, &token, &mine);
    upstream(
        &rig,
        &Package::new("foo", "99.0.0").file("index.js", "attacker"),
    );

    let doc = packument(&rig, "npm-all", "foo");
    doc.expect(200);
    let doc = doc.json();
    assert_eq!(versions(&doc), ["1.0.0"], "only the hosted versions");
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    tarball(&rig, "foo", "99.0.0").expect(404);
    rig.proxy
        .http()
        .get_with("/npm-all/foo/99.0.0", &[])
        .expect(404);
    assert_eq!(
        rig.fault.count("/npm/foo"),
        0,
        "the upstream is not even asked for a claimed name"
    );
    assert_eq!(rig.fault.count("/npm/foo/-/foo-99.0.0.tgz"), 0);
}

#[test]
fn allow_upstream_merges_a_claimed_name_with_the_earliest_member_winning() {
    let (rig, token) = rig("allow_upstream = [\"shared-*\"]");
    let ours = Package::new("shared-util", "1.0.0").file("index.js", "ours");
    internal(&rig, &token, &ours);
    upstream(
        &rig,
        &Package::new("shared-util", "1.0.0").file("index.js", "theirs"),
    );
    let newer = Package::new("shared-util", "2.0.0").file("index.js", "theirs 2");
    upstream(&rig, &newer);

    let doc = packument(&rig, "npm-all", "shared-util").json();
    assert_eq!(versions(&doc), ["1.0.0", "2.0.0"]);
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["integrity"],
        integrity(&ours.tarball()),
        "a version both have comes from the earlier member"
    );
    assert_eq!(
        doc["dist-tags"]["latest"], "1.0.0",
        "dist-tags come from the earliest member that has the package"
    );
    assert_eq!(tarball(&rig, "shared-util", "1.0.0").body, ours.tarball());
    assert_eq!(tarball(&rig, "shared-util", "2.0.0").body, newer.tarball());
}

#[test]
fn route_rules_keep_names_to_the_members_they_allow() {
    let (rig, _) = rig(
        "[[repository.route]]\nnames = [\"@acme/*\"]\nonly = [\"npm\"]\n\n[[repository.route]]\nnames = [\"left-pad\"]\nexclude = [\"npm-proxy\"]\n",
    );
    upstream(&rig, &Package::new("@acme/lookalike", "1.0.0"));
    upstream(&rig, &Package::new("left-pad", "1.0.0"));
    upstream(&rig, &Package::new("right-pad", "1.0.0"));
    packument(&rig, "npm-all", "@acme/lookalike").expect(404);
    packument(&rig, "npm-all", "left-pad").expect(404);
    tarball(&rig, "left-pad", "1.0.0").expect(404);
    packument(&rig, "npm-all", "right-pad").expect(200);
    assert_eq!(rig.fault.count("/npm/@acme%2flookalike"), 0);
    assert_eq!(rig.fault.count("/npm/left-pad"), 0);
}

#[test]
fn a_publish_to_the_group_lands_in_publish_to_and_shows_on_the_next_request() {
    let (rig, token) = rig("publish_to = \"npm\"");
    let first = Package::new("through-group", "1.0.0");
    publish_to(&rig.proxy, "npm-all", &token, &first).expect_success();
    let hosted = packument(&rig, "npm", "through-group");
    hosted.expect(200);
    assert_eq!(versions(&hosted.json()), ["1.0.0"]);
    assert_eq!(
        versions(&packument(&rig, "npm-all", "through-group").json()),
        ["1.0.0"]
    );
    // The group's copy follows the member at once (its cache is keyed by the members' ETags).
    publish_to(
        &rig.proxy,
        "npm",
        &token,
        &Package::new("through-group", "1.1.0"),
    )
    .expect_success();
    let doc = packument(&rig, "npm-all", "through-group").json();
    assert_eq!(versions(&doc), ["1.0.0", "1.1.0"]);
    assert_eq!(doc["dist-tags"]["latest"], "1.1.0");
}

#[test]
fn a_group_without_publish_to_refuses_publishes_of_new_packages() {
    let (rig, token) = rig("");
    let refused = publish_to(
        &rig.proxy,
        "npm-all",
        &token,
        &Package::new("nowhere", "1.0.0"),
    );
    refused.expect(405);
    assert!(refused.text().contains("publish_to"), "{}", refused.text());
    packument(&rig, "npm", "nowhere").expect(404);
}

#[test]
fn a_failing_member_leaves_a_partial_answer_and_never_a_404() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Package::new("held-here", "1.0.0"));
    upstream(&rig, &Package::new("only-upstream", "1.0.0"));
    rig.fault.down();
    // `held-here` is claimed: the proxy is not asked, the answer is whole.
    let whole = packument(&rig, "npm-all", "held-here");
    whole.expect(200);
    assert_eq!(whole.header("x-packgate-partial"), None);
    // A name no hosted member holds: the failing proxy might hold it.
    let failed = packument(&rig, "npm-all", "only-upstream");
    assert!(
        [502, 503, 504].contains(&failed.status),
        "{} {}",
        failed.status,
        failed.text()
    );
}

#[test]
fn a_member_down_after_caching_gives_a_partial_merge_marked_in_a_header() {
    let (rig, token) = rig("allow_upstream = [\"mixed\"]");
    internal(&rig, &token, &Package::new("mixed", "1.0.0"));
    upstream(&rig, &Package::new("mixed", "2.0.0"));
    // Both members answer; then the proxy's copy is purged and its upstream fails.
    assert_eq!(
        versions(&packument(&rig, "npm-all", "mixed").json()),
        ["1.0.0", "2.0.0"]
    );
    crate::support::proxy::purge(&rig, "mixed");
    rig.fault.down();
    let partial = packument(&rig, "npm-all", "mixed");
    partial.expect(200);
    assert_eq!(partial.header("x-packgate-partial"), Some("npm-proxy"));
    assert_eq!(versions(&partial.json()), ["1.0.0"]);
}

#[test]
fn npm_installs_from_both_members_and_publishes_through_the_group() {
    require_npm!();
    let (rig, token) = rig("publish_to = \"npm\"");
    upstream(
        &rig,
        &Package::new("public-dep", "1.3.0").file("index.js", "module.exports = 'public';\n"),
    );
    let npm = Npm::new(&rig.proxy, "npm-all", Some(&token));
    // `npm publish` to the group: lands in the hosted member.
    let src = npm.new_dir("internal-app-lib");
    std::fs::write(
        src.join("package.json"),
        r#"{"name":"internal-app-lib","version":"0.1.0","dependencies":{"public-dep":"^1.0.0"}}"#,
    )
    .expect("package.json");
    std::fs::write(
        src.join("index.js"),
        "module.exports = 'internal + ' + require('public-dep');\n",
    )
    .expect("index.js");
    npm.run(&src, &["publish"]).ok();
    packument(&rig, "npm", "internal-app-lib").expect(200);

    let app = npm.new_dir("app");
    std::fs::write(
        app.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true,"dependencies":{"internal-app-lib":"^0.1.0"}}"#,
    )
    .expect("package.json");
    npm.run(&app, &["install", "--no-audit"]).ok();
    let lock = std::fs::read_to_string(app.join("package-lock.json")).expect("lockfile");
    assert!(
        lock.contains(&rig.proxy.url("/npm-all/public-dep/-/public-dep-1.3.0.tgz")),
        "the lockfile resolves through the group:\n{lock}"
    );
    let out = npm
        .node(&app, &["-e", "console.log(require('internal-app-lib'))"])
        .ok();
    assert!(
        out.stdout.contains("internal + public"),
        "{}",
        out.describe()
    );
}

#[test]
fn explain_names_the_supplier_of_each_version_and_why_other_members_are_left_out() {
    let (rig, token) = rig("allow_upstream = [\"open-*\"]");
    internal(&rig, &token, &Package::new("claimed", "1.0.0"));
    upstream(&rig, &Package::new("claimed", "9.0.0"));
    internal(&rig, &token, &Package::new("open-lib", "1.0.0"));
    upstream(&rig, &Package::new("open-lib", "2.0.0"));

    let claimed = rig.proxy.http().get("/-/api/explain/npm-all/claimed");
    claimed.expect(200);
    let claimed = claimed.json();
    assert_eq!(claimed["members"][0]["verdict"], "asked");
    assert_eq!(claimed["members"][0]["answer"], "found");
    assert_eq!(claimed["members"][1]["verdict"], "claimed_by_hosted");
    assert_eq!(claimed["members"][1]["member"], "npm");
    assert_eq!(claimed["versions"][0]["version"], "1.0.0");
    assert_eq!(claimed["versions"][0]["member"], "npm");
    assert_eq!(claimed["versions"].as_array().map(Vec::len), Some(1));

    let open = rig
        .proxy
        .http()
        .get("/-/api/explain/npm-all/open-lib")
        .json();
    assert_eq!(open["allow_upstream"], true);
    assert_eq!(open["members"][1]["verdict"], "asked");
    assert_eq!(
        open["members"][1]["cache"], "miss",
        "the proxy member fetched it now"
    );
    let by_version: Vec<(String, String)> = open["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["version"].to_string(), v["member"].to_string()))
        .collect();
    assert_eq!(
        by_version,
        [
            ("\"1.0.0\"".to_string(), "\"npm\"".to_string()),
            ("\"2.0.0\"".to_string(), "\"npm-proxy\"".to_string())
        ]
    );

    // A name nobody has: a dry run of the rules.
    let dry = rig
        .proxy
        .http()
        .get("/-/api/explain/npm-all/not-yet-published")
        .json();
    assert_eq!(dry["members"][0]["answer"], "missing");
    assert_eq!(dry["members"][1]["verdict"], "asked");
    assert_eq!(dry["versions"].as_array().map(Vec::len), Some(0));
    rig.proxy
        .http()
        .get("/-/api/explain/npm/claimed")
        .expect(404);

    // The command line's dry run reads the database only.
    let text = rig.proxy.cli_ok(&["explain", "npm-all", "claimed"], None);
    assert!(
        text.contains("1. npm (hosted): asked; holds 1.0.0"),
        "{text}"
    );
    assert!(
        text.contains("2. npm-proxy (proxy): not asked: hosted member npm holds the name"),
        "{text}"
    );
}
