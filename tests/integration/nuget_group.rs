//! NuGet group repositories over HTTP and with the real NuGet client (NuGet.exe 5.8 on mono): a
//! group `nuget-all` on the proxy rig's packgate joins its hosted `nuget` feed and the proxy
//! `nuget-proxy` (whose upstream is a second packgate behind the fault proxy, which counts what
//! reaches it). Covered: the service index, flat-container lists, `.nupkg` downloads,
//! registrations (indexes, pages, leaves), search and autocomplete through the group, the name
//! claim, `allow_upstream` and route rules, pushes, unlists, relists and deprecations through
//! the group, failing members, and explain.

use crate::support::Resp;
use crate::support::nuget_client::{NuGet, dirs_starting_with, installed_nupkg, served_requests};
use crate::support::nuget_http::{Auth, Feed, Framing};
use crate::support::proxy::ProxyRig;
use packgate_nuget::testing::Nupkg;
use serde_json::{Value, json};

const GROUP: &str = "nuget-all";
const HOSTED: &str = "nuget";
const PROXY: &str = "nuget-proxy";

/// A group's TOML (appended after the proxy repository's keys).
fn group_toml(name: &str, members: &[&str], extra: &str) -> String {
    let members: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "\n[[repository]]\nname = \"{name}\"\nformat = \"nuget\"\ntype = \"group\"\nmembers = [{}]\n{extra}\n",
        members.join(", ")
    )
}

/// A rig whose proxy server also has the group `nuget-all` over `nuget` and `nuget-proxy`
/// (`extra`: more keys of the group), and a publisher token on that server.
fn rig(extra: &str) -> (ProxyRig, String) {
    rig_with(&group_toml(GROUP, &[HOSTED, PROXY], extra))
}

fn rig_with(groups: &str) -> (ProxyRig, String) {
    let rig = ProxyRig::start("nuget", "nuget", groups);
    let token = rig.proxy.publisher("internal-publisher");
    (rig, token)
}

/// Pushes to the upstream's hosted feed (what the proxy member sees).
fn upstream(rig: &ProxyRig, pkg: &Nupkg) {
    Feed::new(&rig.upstream, "nuget").push_ok(Auth::ApiKey(&rig.token), &pkg.bytes());
}

/// Pushes to the group's hosted member.
fn internal(rig: &ProxyRig, token: &str, pkg: &Nupkg) {
    Feed::new(&rig.proxy, HOSTED).push_ok(Auth::ApiKey(token), &pkg.bytes());
}

fn feed<'a>(rig: &'a ProxyRig, repo: &str) -> Feed<'a> {
    Feed::new(&rig.proxy, repo)
}

/// `GET {repo}/v3/{rest}` on the proxy rig's server, anonymously.
fn get(rig: &ProxyRig, repo: &str, rest: &str) -> Resp {
    let f = feed(rig, repo);
    f.get(&f.path(rest), Auth::None)
}

fn flat(lid: &str) -> String {
    format!("flatcontainer/{lid}/index.json")
}

fn nupkg(lid: &str, v: &str) -> String {
    format!("flatcontainer/{lid}/{v}/{lid}.{v}.nupkg")
}

fn registration(lid: &str) -> String {
    format!("registration/{lid}/index.json")
}

/// The `versions` of a flat-container list that must answer 200.
fn listed(resp: &Resp) -> Vec<String> {
    resp.expect(200);
    resp.json()["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

/// Every inlined item of a registration index.
fn items(doc: &Value) -> Vec<Value> {
    doc["items"]
        .as_array()
        .expect("pages")
        .iter()
        .flat_map(|p| p["items"].as_array().expect("inlined items").clone())
        .collect()
}

/// The catalog versions of a registration index's inlined items.
fn registered(doc: &Value) -> Vec<String> {
    items(doc)
        .iter()
        .map(|i| {
            i["catalogEntry"]["version"]
                .as_str()
                .expect("version")
                .to_string()
        })
        .collect()
}

/// Requests that reached the upstream about `lid`.
fn upstream_asked_about(rig: &ProxyRig, lid: &str) -> usize {
    rig.fault
        .requests()
        .iter()
        .filter(|r| r.path.to_ascii_lowercase().contains(&format!("/{lid}/")))
        .count()
}

/// Asserts that `text` names no member (its `v3` URL) and no upstream host.
fn names_only_the_group(rig: &ProxyRig, what: &str, text: &str) {
    for member in [HOSTED, PROXY] {
        let url = format!("{}/{member}/v3", rig.proxy.base);
        assert!(
            !text.contains(&url),
            "{what} names the member {url}: {text}"
        );
    }
    for host in rig.upstream_hosts() {
        assert!(
            !text.contains(&host),
            "{what} names the upstream {host}: {text}"
        );
    }
}

#[test]
fn a_group_serves_hosted_and_upstream_packages_with_every_url_under_the_group() {
    let (rig, token) = rig("");
    let mine = Nupkg::new("Acme.Internal", "1.0.0").description("ours");
    internal(&rig, &token, &mine);
    let public = Nupkg::new("Public.Lib", "2.0.0").dep_group(None, &[("Acme.Internal", "1.0.0")]);
    upstream(&rig, &public);
    let group = feed(&rig, GROUP);

    // The service index names the group's resources only.
    let index = get(&rig, GROUP, "index.json");
    index.expect(200);
    let resources = index.json()["resources"]
        .as_array()
        .expect("resources")
        .clone();
    assert!(!resources.is_empty());
    for r in &resources {
        let id = r["@id"].as_str().expect("@id");
        assert!(id.starts_with(&group.url("")), "{id} is under the group");
    }
    for wanted in [
        "PackageBaseAddress/3.0.0",
        "RegistrationsBaseUrl/3.6.0",
        "SearchQueryService",
        "PackagePublish/2.0.0",
    ] {
        assert!(
            resources.iter().any(|r| r["@type"] == wanted),
            "{wanted} listed"
        );
    }

    assert_eq!(listed(&get(&rig, GROUP, &flat("acme.internal"))), ["1.0.0"]);
    assert_eq!(listed(&get(&rig, GROUP, &flat("Public.Lib"))), ["2.0.0"]);
    let got = get(&rig, GROUP, &nupkg("acme.internal", "1.0.0"));
    got.expect(200);
    assert_eq!(got.body, mine.bytes());
    let got = get(&rig, GROUP, &nupkg("public.lib", "2.0.0"));
    got.expect(200);
    assert_eq!(got.body, public.bytes());

    for (lid, version) in [("acme.internal", "1.0.0"), ("public.lib", "2.0.0")] {
        let reg = get(&rig, GROUP, &registration(lid));
        reg.expect(200);
        names_only_the_group(&rig, "the registration index", &reg.text());
        let doc = reg.json();
        assert_eq!(doc["@id"], group.url(&registration(lid)));
        assert_eq!(registered(&doc), [version]);
        let item = &items(&doc)[0];
        assert_eq!(item["packageContent"], group.url(&nupkg(lid, version)));
        assert_eq!(item["registration"], group.url(&registration(lid)));
        assert_eq!(
            item["@id"],
            group.url(&format!("registration/{lid}/{version}.json"))
        );
        let leaf = get(&rig, GROUP, &format!("registration/{lid}/{version}.json"));
        leaf.expect(200);
        names_only_the_group(&rig, "the leaf", &leaf.text());
        assert_eq!(
            leaf.json()["packageContent"],
            group.url(&nupkg(lid, version))
        );
    }
    // A hosted item keeps its fields; a dependency's registration is the group's.
    let doc = get(&rig, GROUP, &registration("acme.internal")).json();
    assert_eq!(items(&doc)[0]["catalogEntry"]["description"], "ours");
    let doc = get(&rig, GROUP, &registration("public.lib")).json();
    assert_eq!(
        items(&doc)[0]["catalogEntry"]["dependencyGroups"][0]["dependencies"][0]["registration"],
        group.url(&registration("acme.internal"))
    );

    // No member has it: 404 with NuGet's reason phrase.
    for rest in [
        flat("nowhere.at.all"),
        registration("nowhere.at.all"),
        nupkg("nowhere.at.all", "1.0.0"),
        "registration/nowhere.at.all/1.0.0.json".to_string(),
    ] {
        let f = feed(&rig, GROUP);
        f.raw("GET", &f.path(&rest), Auth::None, &[], None, Framing::Sized)
            .expect_refusal(404, "Not found");
    }
    get(&rig, GROUP, &nupkg("acme.internal", "9.0.0")).expect(404);
}

#[test]
fn a_revalidation_gets_a_304_and_a_range_passes_through_even_for_one_member() {
    let (rig, token) = rig("");
    let pkg = Nupkg::new("Acme.Single", "1.0.0");
    internal(&rig, &token, &pkg);
    let first = get(&rig, GROUP, &flat("acme.single"));
    first.expect(200);
    let tag = first.header("etag").expect("an ETag").to_string();
    let hosted = get(&rig, HOSTED, &flat("acme.single"));
    assert_eq!(
        hosted.body, first.body,
        "the same bytes as the only member's"
    );
    assert_ne!(
        hosted.header("etag"),
        Some(tag.as_str()),
        "but not its ETag"
    );
    let f = feed(&rig, GROUP);
    let again = rig.proxy.http().get_with(
        &f.path(&flat("acme.single")),
        &[("if-none-match", tag.as_str())],
    );
    again.expect(304);
    let reg = get(&rig, GROUP, &registration("acme.single"));
    let tag = reg.header("etag").expect("an ETag").to_string();
    rig.proxy
        .http()
        .get_with(
            &f.path(&registration("acme.single")),
            &[("if-none-match", tag.as_str())],
        )
        .expect(304);
    let part = rig.proxy.http().get_with(
        &f.path(&nupkg("acme.single", "1.0.0")),
        &[("range", "bytes=0-9")],
    );
    part.expect(206);
    assert_eq!(part.body, pkg.bytes()[..10]);
}

#[test]
fn a_name_held_by_a_hosted_member_never_comes_from_the_upstream() {
    let (rig, token) = rig("");
    let mine = Nupkg::new("Acme.Foo", "1.0.0").description("ours");
    internal(&rig, &token, &mine);
    upstream(
        &rig,
        &Nupkg::new("acme.foo", "99.0.0").description("attacker"),
    );

    assert_eq!(listed(&get(&rig, GROUP, &flat("acme.foo"))), ["1.0.0"]);
    let doc = get(&rig, GROUP, &registration("Acme.Foo")).json();
    assert_eq!(registered(&doc), ["1.0.0"], "only the hosted versions");
    get(&rig, GROUP, &nupkg("acme.foo", "99.0.0")).expect(404);
    get(&rig, GROUP, "registration/acme.foo/99.0.0.json").expect(404);
    let versions = get(&rig, GROUP, "autocomplete?id=acme.foo");
    assert_eq!(versions.json()["data"], json!(["1.0.0"]));
    assert_eq!(
        upstream_asked_about(&rig, "acme.foo"),
        0,
        "the upstream is not even asked for a claimed id"
    );
}

#[test]
fn allow_upstream_merges_a_claimed_id_with_the_earliest_member_winning() {
    let (rig, token) = rig("allow_upstream = [\"Shared.*\"]");
    let ours = Nupkg::new("Shared.Util", "1.0.0").description("ours");
    internal(&rig, &token, &ours);
    upstream(
        &rig,
        &Nupkg::new("Shared.Util", "1.0.0").description("theirs"),
    );
    let newer = Nupkg::new("Shared.Util", "2.0.0").description("theirs 2");
    upstream(&rig, &newer);

    assert_eq!(
        listed(&get(&rig, GROUP, &flat("shared.util"))),
        ["1.0.0", "2.0.0"]
    );
    let doc = get(&rig, GROUP, &registration("shared.util")).json();
    assert_eq!(registered(&doc), ["1.0.0", "2.0.0"]);
    let descriptions: Vec<Value> = items(&doc)
        .iter()
        .map(|i| i["catalogEntry"]["description"].clone())
        .collect();
    assert_eq!(
        descriptions,
        [json!("ours"), json!("theirs 2")],
        "a version both have comes from the earlier member"
    );
    assert_eq!(
        get(&rig, GROUP, &nupkg("shared.util", "1.0.0")).body,
        ours.bytes()
    );
    assert_eq!(
        get(&rig, GROUP, &nupkg("shared.util", "2.0.0")).body,
        newer.bytes()
    );
    let leaf = get(&rig, GROUP, "registration/shared.util/1.0.0.json").json();
    assert_eq!(leaf["catalogEntry"]["description"], "ours");
    let versions = get(&rig, GROUP, "autocomplete?id=Shared.Util").json();
    assert_eq!(versions["data"], json!(["1.0.0", "2.0.0"]));
}

#[test]
fn route_rules_keep_ids_to_the_members_they_allow() {
    let (rig, _) = rig(
        "[[repository.route]]\nnames = [\"Acme.*\"]\nonly = [\"nuget\"]\n\n[[repository.route]]\nnames = [\"left.pad\"]\nexclude = [\"nuget-proxy\"]\n",
    );
    upstream(&rig, &Nupkg::new("Acme.Lookalike", "1.0.0"));
    upstream(&rig, &Nupkg::new("Left.Pad", "1.0.0"));
    upstream(&rig, &Nupkg::new("Right.Pad", "1.0.0"));
    get(&rig, GROUP, &flat("acme.lookalike")).expect(404);
    get(&rig, GROUP, &registration("acme.lookalike")).expect(404);
    get(&rig, GROUP, &flat("left.pad")).expect(404);
    get(&rig, GROUP, &nupkg("left.pad", "1.0.0")).expect(404);
    assert_eq!(listed(&get(&rig, GROUP, &flat("right.pad"))), ["1.0.0"]);
    assert_eq!(upstream_asked_about(&rig, "acme.lookalike"), 0);
    assert_eq!(upstream_asked_about(&rig, "left.pad"), 0);
    // Search leaves out the hits a rule keeps away from the member that found them.
    let ids: Vec<Value> = get(&rig, GROUP, "query?q=pad").json()["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|h| h["id"].clone())
        .collect();
    assert_eq!(ids, [json!("Right.Pad")]);
}

#[test]
fn search_and_autocomplete_merge_the_members_and_leave_out_claimed_ids() {
    // The proxy comes first here: only the claim keeps its `Acme.Claimed` out.
    let groups = format!(
        "{}{}",
        group_toml(GROUP, &[HOSTED, PROXY], ""),
        group_toml("nuget-upfirst", &[PROXY, HOSTED], "")
    );
    let (rig, token) = rig_with(&groups);
    internal(
        &rig,
        &token,
        &Nupkg::new("Acme.Claimed", "1.0.0").description("ours"),
    );
    internal(&rig, &token, &Nupkg::new("Acme.Ours", "1.0.0"));
    upstream(
        &rig,
        &Nupkg::new("Acme.Claimed", "99.0.0").description("attacker"),
    );
    upstream(&rig, &Nupkg::new("Acme.Public", "3.0.0"));

    for group in [GROUP, "nuget-upfirst"] {
        let answer = get(&rig, group, "query?q=acme");
        answer.expect(200);
        names_only_the_group(&rig, "the search answer", &answer.text());
        let answer = answer.json();
        let mut hits: Vec<(String, String)> = answer["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|h| {
                (
                    h["id"].as_str().expect("id").to_string(),
                    h["version"].as_str().expect("version").to_string(),
                )
            })
            .collect();
        hits.sort();
        assert_eq!(
            hits,
            [
                ("Acme.Claimed".to_string(), "1.0.0".to_string()),
                ("Acme.Ours".to_string(), "1.0.0".to_string()),
                ("Acme.Public".to_string(), "3.0.0".to_string())
            ],
            "{group}"
        );
        assert_eq!(answer["totalHits"], 3, "{group}");
        let claimed = answer["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|h| h["id"] == "Acme.Claimed")
            .cloned()
            .expect("hit");
        assert_eq!(
            claimed["registration"],
            feed(&rig, group).url(&registration("acme.claimed"))
        );
        let mut ids: Vec<String> = get(&rig, group, "autocomplete?q=acme").json()["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|i| i.as_str().expect("id").to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, ["Acme.Claimed", "Acme.Ours", "Acme.Public"], "{group}");
        let versions = get(&rig, group, "autocomplete?id=acme.claimed").json();
        assert_eq!(versions["data"], json!(["1.0.0"]), "{group}");
    }
}

#[test]
fn a_registration_a_member_pages_is_read_page_by_page_and_inlined_by_the_group() {
    let (rig, token) = rig("");
    for i in 0..130 {
        internal(&rig, &token, &Nupkg::new("Acme.Many", &format!("1.0.{i}")));
    }
    let hosted = get(&rig, HOSTED, &registration("acme.many")).json();
    assert!(
        hosted["items"]
            .as_array()
            .expect("pages")
            .iter()
            .all(|p| p.get("items").is_none()),
        "the hosted member links its pages"
    );
    let reg = get(&rig, GROUP, &registration("acme.many"));
    reg.expect(200);
    names_only_the_group(&rig, "the paged registration", &reg.text());
    let doc = reg.json();
    let versions = registered(&doc);
    assert_eq!(versions.len(), 130);
    assert_eq!(versions[129], "1.0.129");
    assert_eq!(doc["count"], 3);
    // A page of the group by its bounds.
    let page = get(
        &rig,
        GROUP,
        "registration/acme.many/page/1.0.10/1.0.12.json",
    );
    page.expect(200);
    assert_eq!(page.json()["count"], 3);
    get(&rig, GROUP, "registration/acme.many/page/9.0.0/9.0.1.json").expect(404);
}

#[test]
fn a_push_to_the_group_lands_in_publish_to_and_shows_on_the_next_request() {
    let (rig, token) = rig("publish_to = \"nuget\"");
    let group = feed(&rig, GROUP);
    group.push_ok(
        Auth::ApiKey(&token),
        &Nupkg::new("Through.Group", "1.0.0").bytes(),
    );
    assert_eq!(
        listed(&get(&rig, HOSTED, &flat("through.group"))),
        ["1.0.0"]
    );
    assert_eq!(listed(&get(&rig, GROUP, &flat("through.group"))), ["1.0.0"]);
    let before = get(&rig, GROUP, &registration("through.group")).json();
    assert_eq!(registered(&before), ["1.0.0"]);
    // The group's documents follow the member at once (cached by the members' ETags).
    internal(&rig, &token, &Nupkg::new("Through.Group", "1.1.0"));
    assert_eq!(
        listed(&get(&rig, GROUP, &flat("through.group"))),
        ["1.0.0", "1.1.0"]
    );
    let after = get(&rig, GROUP, &registration("through.group")).json();
    assert_eq!(registered(&after), ["1.0.0", "1.1.0"]);
    // A duplicate through the group is the member's 409.
    group
        .push(
            Auth::ApiKey(&token),
            &Nupkg::new("Through.Group", "1.0.0").bytes(),
        )
        .expect_refusal(409, "A package with this id and version already exists");
    // Without a token: the group's 401.
    group
        .push(Auth::None, &Nupkg::new("Through.Group", "2.0.0").bytes())
        .expect_status(401);
}

#[test]
fn a_group_without_publish_to_refuses_new_packages_and_sends_new_versions_to_their_member() {
    let (rig, token) = rig("");
    let group = feed(&rig, GROUP);
    let refused = group.push(
        Auth::ApiKey(&token),
        &Nupkg::new("Nowhere.New", "1.0.0").bytes(),
    );
    let message = refused.expect_refusal(405, "This group has no repository to push to");
    assert!(message.contains("publish_to"), "{message}");
    get(&rig, HOSTED, &flat("nowhere.new")).expect(404);
    // A new version of a package a hosted member holds goes to that member.
    internal(&rig, &token, &Nupkg::new("Held.Here", "1.0.0"));
    group.push_ok(
        Auth::ApiKey(&token),
        &Nupkg::new("held.here", "2.0.0").bytes(),
    );
    assert_eq!(
        listed(&get(&rig, HOSTED, &flat("held.here"))),
        ["1.0.0", "2.0.0"]
    );
    group
        .delete(Auth::ApiKey(&token), "Nowhere.New", "1.0.0")
        .expect_refusal(405, "This group has no repository to push to");
}

#[test]
fn unlist_relist_and_deprecation_through_the_group_act_on_the_hosted_member_holding_the_package() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Nupkg::new("Acme.Lifecycle", "1.0.0"));
    let group = feed(&rig, GROUP);
    let hosted_listed = || {
        items(&get(&rig, HOSTED, &registration("acme.lifecycle")).json())[0]["catalogEntry"]
            ["listed"]
            .clone()
    };
    group
        .delete(Auth::ApiKey(&token), "Acme.Lifecycle", "1.0.0")
        .expect_status(204);
    assert_eq!(hosted_listed(), json!(false));
    let through = get(&rig, GROUP, &registration("acme.lifecycle")).json();
    assert_eq!(items(&through)[0]["catalogEntry"]["listed"], false);
    group
        .relist(Auth::ApiKey(&token), "acme.lifecycle", "1.0.0")
        .expect_status(200);
    assert_eq!(hosted_listed(), json!(true));
    group
        .deprecate(
            Auth::ApiKey(&token),
            "Acme.Lifecycle",
            "1.0.0",
            &json!({"reasons": ["Legacy"], "message": "use Acme.Next"}),
        )
        .expect_status(200);
    let through = get(&rig, GROUP, &registration("acme.lifecycle")).json();
    assert_eq!(
        items(&through)[0]["catalogEntry"]["deprecation"]["message"],
        "use Acme.Next"
    );
    group
        .undeprecate(Auth::ApiKey(&token), "Acme.Lifecycle", "1.0.0")
        .expect_status(200);
    let through = get(&rig, GROUP, &registration("acme.lifecycle")).json();
    assert!(
        items(&through)[0]["catalogEntry"]
            .get("deprecation")
            .is_none()
    );
    // Without a key: the member's 401, in NuGet's words.
    group
        .delete(Auth::None, "Acme.Lifecycle", "1.0.0")
        .expect_refusal(401, "An API key is required");
}

#[test]
fn a_failing_member_gives_a_gateway_error_and_never_a_404() {
    let (rig, token) = rig("");
    internal(&rig, &token, &Nupkg::new("Held.Here", "1.0.0"));
    upstream(&rig, &Nupkg::new("Only.Upstream", "1.0.0"));
    rig.fault.down();
    // `held.here` is claimed: the proxy is not asked, the answer is whole.
    let whole = get(&rig, GROUP, &flat("held.here"));
    assert_eq!(listed(&whole), ["1.0.0"]);
    assert_eq!(whole.header("x-packgate-partial"), None);
    // An id no hosted member holds: the failing proxy might hold it.
    for rest in [
        flat("only.upstream"),
        registration("only.upstream"),
        nupkg("only.upstream", "1.0.0"),
        "registration/only.upstream/1.0.0.json".to_string(),
        "autocomplete?id=only.upstream".to_string(),
    ] {
        let failed = get(&rig, GROUP, &rest);
        assert!(
            [502, 503, 504].contains(&failed.status),
            "{rest}: {} {}",
            failed.status,
            failed.text()
        );
    }
    // Search answers from the hosted member, marked partial.
    let partial = get(&rig, GROUP, "query?q=held");
    partial.expect(200);
    assert_eq!(partial.header("x-packgate-partial"), Some(PROXY));
    assert_eq!(partial.json()["data"][0]["id"], "Held.Here");
}

#[test]
fn a_member_down_after_caching_gives_a_partial_merge_marked_in_a_header() {
    let (rig, token) = rig("allow_upstream = [\"mixed\"]");
    internal(&rig, &token, &Nupkg::new("Mixed", "1.0.0"));
    upstream(&rig, &Nupkg::new("Mixed", "2.0.0"));
    assert_eq!(
        listed(&get(&rig, GROUP, &flat("mixed"))),
        ["1.0.0", "2.0.0"]
    );
    assert_eq!(
        registered(&get(&rig, GROUP, &registration("mixed")).json()),
        ["1.0.0", "2.0.0"]
    );
    // The proxy's copies are purged and its upstream fails.
    crate::support::proxy::purge(&rig, "mixed");
    rig.fault.down();
    let partial = get(&rig, GROUP, &flat("mixed"));
    assert_eq!(listed(&partial), ["1.0.0"]);
    assert_eq!(partial.header("x-packgate-partial"), Some(PROXY));
    let partial = get(&rig, GROUP, &registration("mixed"));
    partial.expect(200);
    assert_eq!(partial.header("x-packgate-partial"), Some(PROXY));
    assert_eq!(registered(&partial.json()), ["1.0.0"]);
    // The hosted version downloads; the upstream's might come from the failing member: not a 404.
    get(&rig, GROUP, &nupkg("mixed", "1.0.0")).expect(200);
    let failed = get(&rig, GROUP, &nupkg("mixed", "2.0.0"));
    assert!(
        [502, 503, 504].contains(&failed.status),
        "{}",
        failed.status
    );
}

#[test]
fn explain_names_the_member_supplying_each_version_and_why_others_are_left_out() {
    let (rig, token) = rig("allow_upstream = [\"Open.*\"]");
    internal(&rig, &token, &Nupkg::new("Acme.Claimed", "1.0.0"));
    upstream(&rig, &Nupkg::new("Acme.Claimed", "9.0.0"));
    internal(&rig, &token, &Nupkg::new("Open.Lib", "1.0.0"));
    upstream(&rig, &Nupkg::new("Open.Lib", "2.0.0"));

    let claimed = rig
        .proxy
        .http()
        .get("/-/api/explain/nuget-all/Acme.Claimed");
    claimed.expect(200);
    let claimed = claimed.json();
    assert_eq!(claimed["normalized"], "acme.claimed");
    assert_eq!(claimed["members"][0]["answer"], "found");
    assert_eq!(claimed["members"][1]["verdict"], "claimed_by_hosted");
    assert_eq!(claimed["members"][1]["member"], HOSTED);
    assert_eq!(
        claimed["versions"],
        json!([{"version": "1.0.0", "member": HOSTED}])
    );

    let open = rig
        .proxy
        .http()
        .get("/-/api/explain/nuget-all/open.lib")
        .json();
    assert_eq!(open["allow_upstream"], true);
    assert_eq!(open["members"][1]["verdict"], "asked");
    assert_eq!(open["members"][1]["answer"], "found");
    assert_eq!(
        open["versions"],
        json!([{"version": "1.0.0", "member": HOSTED}, {"version": "2.0.0", "member": PROXY}])
    );
}

#[test]
fn nuget_installs_from_both_members_and_pushes_and_deletes_through_the_group() {
    crate::require_nuget!();
    let (rig, token) = rig("publish_to = \"nuget\"");
    let base = Nupkg::new("Pg.Group.Base", "1.2.0")
        .dep_group(Some("net472"), &[])
        .file("lib/net472/Pg.Group.Base.dll", b"MZ base".to_vec());
    upstream(&rig, &base);
    let app = Nupkg::new("Pg.Group.App", "1.0.0")
        .dep_group(Some("net472"), &[("Pg.Group.Base", "[1.0.0, )")])
        .file("lib/net472/Pg.Group.App.dll", b"MZ app".to_vec());
    let source = feed(&rig, GROUP).url("index.json");
    let nuget = NuGet::with_source(&source, None);

    // `nuget push` to the group: lands in the hosted member (publish_to).
    let dir = nuget.new_dir("pkgs");
    let file = dir.join(app.file_name());
    std::fs::write(&file, app.bytes()).expect("write package");
    nuget
        .push(&file, Some(&token), &[])
        .ok()
        .mentions_any(&["Your package was pushed"]);
    assert_eq!(
        get(&rig, HOSTED, &nupkg("pg.group.app", "1.0.0")).body,
        app.bytes()
    );

    // `nuget install` through the group: the app from the hosted member, its dependency from the
    // proxy, every request to the group.
    let mark = served_requests(&rig.proxy).len();
    let (out, installed) = nuget.install("Pg.Group.App", &["-Framework", "net472"]);
    out.ok();
    assert_eq!(
        dirs_starting_with(&installed, "Pg.Group."),
        ["Pg.Group.App.1.0.0", "Pg.Group.Base.1.2.0"],
        "the dependency is resolved through the group"
    );
    assert_eq!(
        installed_nupkg(&installed, "Pg.Group.App.1.0.0"),
        app.bytes()
    );
    assert_eq!(
        installed_nupkg(&installed, "Pg.Group.Base.1.2.0"),
        base.bytes()
    );
    let trace: Vec<_> = served_requests(&rig.proxy).into_iter().skip(mark).collect();
    for want in [
        "registration/pg.group.app/index.json",
        "registration/pg.group.base/index.json",
        "flatcontainer/pg.group.app/1.0.0/pg.group.app.1.0.0.nupkg",
        "flatcontainer/pg.group.base/1.2.0/pg.group.base.1.2.0.nupkg",
    ] {
        let want = format!("/{GROUP}/v3/{want}");
        assert!(
            trace
                .iter()
                .any(|(m, p, s)| m == "GET" && *p == want && *s == 200),
            "NuGet.exe should GET {want} from the group; it sent {trace:?}"
        );
    }

    // `nuget delete` through the group unlists in the hosted member.
    nuget
        .delete("Pg.Group.App", "1.0.0", Some(&token))
        .ok()
        .mentions_any(&["was deleted successfully"]);
    let hosted = get(&rig, HOSTED, &registration("pg.group.app")).json();
    assert_eq!(items(&hosted)[0]["catalogEntry"]["listed"], false);
}
