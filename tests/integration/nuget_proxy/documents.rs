//! The documents a NuGet proxy rewrites or builds: its own service index, registration indexes,
//! external pages and leaves (every URL pointing at the proxy, every other field kept), search
//! and autocomplete answers; the cooldown's filtering; and hostile upstream documents.

use super::{
    UP, as_proxied, feed, flat_index, get, get_raw, listed, names_no_upstream, nupkg, publish,
    up_path, upstream_doc, upstream_feed,
};
use crate::support::TestServer;
use crate::support::fault_proxy::{Fault, FaultProxy};
use crate::support::nuget_http::{Auth, Feed};
use crate::support::proxy::{ProxyRig, proxy_repository};
use packgate_nuget::testing::Nupkg;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn body(v: &Value) -> Fault {
    Fault::Body {
        content_type: "application/json".into(),
        body: v.to_string().into_bytes(),
    }
}

/// The versions of the leaf items inlined in a registration index.
fn inlined_versions(index: &Value) -> Vec<String> {
    index["items"]
        .as_array()
        .expect("pages")
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .map(|i| {
            i["catalogEntry"]["version"]
                .as_str()
                .expect("version")
                .to_string()
        })
        .collect()
}

#[test]
fn the_proxy_service_index_names_only_packgate_urls_and_asks_nobody() {
    let rig = ProxyRig::start("nuget", UP, "");
    let resp = get(&rig, "index.json");
    resp.expect(200);
    let doc = resp.json();
    assert_eq!(doc["version"], "3.0.0");
    let mut types = BTreeSet::new();
    for r in doc["resources"].as_array().expect("resources") {
        let id = r["@id"].as_str().expect("@id");
        assert!(id.starts_with(&feed(&rig).url("")), "{id}");
        types.insert(r["@type"].as_str().expect("@type").to_string());
    }
    // What NuGet 5.x/6.x looks for first (protocol reference §2).
    for t in [
        "PackageBaseAddress/3.0.0",
        "RegistrationsBaseUrl/3.6.0",
        "SearchQueryService/3.0.0-beta",
        "SearchAutocompleteService/3.0.0-beta",
    ] {
        assert!(types.contains(t), "{t}: {types:?}");
    }
    assert!(
        !types.iter().any(|t| t.starts_with("PackagePublish")),
        "{types:?}"
    );
    names_no_upstream(&rig, "the service index", &resp.text());
    assert_eq!(rig.fault.total(), 0, "built without the upstream");
}

#[test]
fn an_upstream_given_as_its_service_index_url_works_like_its_directory() {
    let rig = ProxyRig::start("nuget", UP, "");
    publish(&rig, &Nupkg::new("Acme.Direct", "1.0.0"));
    let proxy = TestServer::builder()
        .extra_config(&proxy_repository(
            "nuget-direct",
            "nuget",
            &format!("{}/{UP}/v3/index.json", rig.fault.url()),
            "",
        ))
        .start();
    let feed = Feed::new(&proxy, "nuget-direct");
    let list = feed.get(&feed.path(&flat_index("acme.direct")), Auth::None);
    list.expect(200);
    assert_eq!(list.json()["versions"], json!(["1.0.0"]));
    assert_eq!(rig.fault.count(&up_path("index.json")), 1);
}

#[test]
fn registrations_point_every_url_at_the_proxy_and_keep_every_other_field() {
    let rig = ProxyRig::start("nuget", UP, "");
    publish(&rig, &Nupkg::new("Acme.Base", "1.0.0"));
    publish(
        &rig,
        &Nupkg::new("Acme.Widget", "1.0.0")
            .dep_group(Some("net8.0"), &[("Acme.Base", "[1.0.0, )")])
            .dep_group(Some("netstandard2.0"), &[])
            .license_expression("MIT"),
    );
    publish(&rig, &Nupkg::new("Acme.Widget", "2.0.0-beta.1+sha.5"));
    upstream_feed(&rig)
        .deprecate(
            Auth::ApiKey(&rig.token),
            "Acme.Widget",
            "1.0.0",
            &json!({"reasons": ["Legacy"], "message": "Use Acme.Widget2",
                    "alternatePackage": {"id": "Acme.Widget2", "range": "*"}}),
        )
        .expect_status(200);
    for rest in [
        "registration/acme.widget/index.json",
        "registration/acme.widget/1.0.0.json",
        "registration/acme.widget/2.0.0-beta.1.json",
    ] {
        let served = get(&rig, rest);
        served.expect(200);
        assert_eq!(
            served.json(),
            as_proxied(&rig, &upstream_doc(&rig, rest).text()),
            "{rest}: the upstream's document with its URLs moved to the proxy"
        );
        names_no_upstream(&rig, rest, &served.text());
    }
    let index = get(&rig, "registration/Acme.Widget/index.json").json();
    let entry = &index["items"][0]["items"][0]["catalogEntry"];
    assert_eq!(entry["deprecation"]["reasons"], json!(["Legacy"]));
    assert_eq!(entry["licenseExpression"], "MIT");
    assert_eq!(
        entry["dependencyGroups"][0]["dependencies"][0]["registration"],
        feed(&rig).url("registration/acme.base/index.json")
    );
    // Every URL in it is served by the proxy.
    let content = entry["packageContent"].as_str().expect("packageContent");
    let path = content.strip_prefix(&rig.proxy.base).expect("a proxy URL");
    rig.proxy.http().get(path).expect(200);
    let leaf = index["items"][0]["items"][1]["@id"].as_str().expect("@id");
    rig.proxy
        .http()
        .get(leaf.strip_prefix(&rig.proxy.base).expect("a proxy URL"))
        .expect(200);
}

#[test]
fn a_paged_registration_serves_its_external_pages_through_the_proxy() {
    let rig = ProxyRig::start("nuget", UP, "");
    for i in 0..130 {
        publish(&rig, &Nupkg::new("Acme.Big", &format!("1.0.{i}")));
    }
    let served = get(&rig, "registration/acme.big/index.json");
    served.expect(200);
    names_no_upstream(&rig, "the paged index", &served.text());
    let index = served.json();
    let pages = index["items"].as_array().expect("pages");
    assert_eq!(pages.len(), 3, "{index}");
    let mut versions = 0;
    for page in pages {
        assert!(page.get("items").is_none(), "external: {page}");
        let url = page["@id"].as_str().expect("@id");
        let path = url.strip_prefix(&rig.proxy.base).expect("a proxy URL");
        let got = rig.proxy.http().get(path);
        got.expect(200);
        names_no_upstream(&rig, url, &got.text());
        let upstream_path = path.replacen(&format!("/{}/", rig.repo), &format!("/{UP}/"), 1);
        let rest = upstream_path.strip_prefix(&up_path("")).expect("v3 path");
        assert_eq!(
            got.json(),
            as_proxied(&rig, &upstream_doc(&rig, rest).text())
        );
        versions += got.json()["items"].as_array().expect("items").len();
    }
    assert_eq!(versions, 130);
    get_raw(&rig, "registration/acme.big/page/9.0.0/9.9.9.json").expect_refusal(404, "Not found");
}

#[test]
fn search_and_autocomplete_are_forwarded_with_urls_pointing_at_the_proxy() {
    let rig = ProxyRig::start("nuget", UP, "");
    publish(
        &rig,
        &Nupkg::new("Findable.Widget", "1.0.0").description("widgets"),
    );
    let query = "query?q=findable&prerelease=true&semVerLevel=2.0.0";
    let found = get(&rig, query);
    found.expect(200);
    names_no_upstream(&rig, "the search answer", &found.text());
    let doc = found.json();
    let hit = &doc["data"][0];
    assert_eq!(hit["id"], "Findable.Widget");
    assert_eq!(
        hit["registration"],
        feed(&rig).url("registration/findable.widget/index.json")
    );
    assert_eq!(
        hit["versions"][0]["@id"],
        feed(&rig).url("registration/findable.widget/1.0.0.json")
    );
    get(&rig, query).expect(200);
    assert_eq!(rig.fault.count(&up_path("query")), 1, "kept a short while");
    let ac = get(&rig, "autocomplete?q=findable");
    ac.expect(200);
    assert_eq!(ac.json()["data"], json!(["Findable.Widget"]));
    assert_eq!(rig.fault.count(&up_path("autocomplete")), 1);
}

#[test]
fn a_cooldown_hides_young_versions_and_refuses_their_packages() {
    let rig = ProxyRig::start(
        "nuget",
        UP,
        "min_age = \"1h\"\nmin_age_exempt = [\"Trusted.*\"]",
    );
    publish(&rig, &Nupkg::new("Fresh.Pkg", "1.0.0"));
    assert!(listed(&get(&rig, &flat_index("fresh.pkg"))).is_empty());
    let reg = get(&rig, "registration/fresh.pkg/index.json").json();
    assert_eq!(reg["items"], json!([]), "{reg}");
    assert_eq!(reg["count"], 0);
    let msg = get_raw(&rig, &nupkg("fresh.pkg", "1.0.0")).expect_refusal(
        403,
        "The package version is younger than this feed's minimum age",
    );
    assert!(msg.contains("cooldown"), "{msg}");
    get(&rig, "registration/fresh.pkg/1.0.0.json").expect(404);
    publish(&rig, &Nupkg::new("Trusted.Lib", "1.0.0"));
    assert_eq!(listed(&get(&rig, &flat_index("trusted.lib"))), ["1.0.0"]);
    get(&rig, &nupkg("trusted.lib", "1.0.0")).expect(200);

    // Publish times as the public gallery has them: an old version, an unlisted one (1900: an
    // unknown time, allowed by default) and a young one.
    for v in ["1.0.0", "1.1.0", "2.0.0"] {
        publish(&rig, &Nupkg::new("Aged.Pkg", v));
    }
    let rest = "registration/aged.pkg/index.json";
    let mut index = upstream_doc(&rig, rest).json();
    for (i, when) in ["2020-01-01T00:00:00+00:00", "1900-01-01T00:00:00+00:00"]
        .iter()
        .enumerate()
    {
        index["items"][0]["items"][i]["catalogEntry"]["published"] = json!(when);
    }
    rig.fault.set(&up_path(rest), body(&index));
    assert_eq!(
        listed(&get(&rig, &flat_index("aged.pkg"))),
        ["1.0.0", "1.1.0"]
    );
    assert_eq!(
        inlined_versions(&get(&rig, rest).json()),
        ["1.0.0", "1.1.0"]
    );
    get(&rig, &nupkg("aged.pkg", "1.0.0")).expect(200);
    get(&rig, &nupkg("aged.pkg", "1.1.0")).expect(200);
    get(&rig, &nupkg("aged.pkg", "2.0.0")).expect(403);
}

#[test]
fn hostile_upstream_documents_are_not_cached_and_other_hosts_are_never_contacted() {
    let rig = ProxyRig::start("nuget", UP, "max_document_size = \"16 KiB\"");
    publish(&rig, &Nupkg::new("Acme.Victim", "1.0.0"));
    let list = flat_index("acme.victim");
    for fault in [
        Fault::Body {
            content_type: "application/json".into(),
            body: b"{not json".to_vec(),
        },
        Fault::Body {
            content_type: "application/json".into(),
            body: format!("{{\"versions\":[\"{}\"]}}", "1".repeat(40_000)).into_bytes(),
        },
        Fault::Redirect("http://127.0.0.1:9/elsewhere".into()),
    ] {
        rig.fault.set(&up_path(&list), fault.clone());
        let msg = get_raw(&rig, &list).expect_refusal(502, "The upstream feed failed");
        assert!(msg.contains("upstream"), "{fault:?}: {msg}");
        rig.fault.clear();
        assert_eq!(listed(&get(&rig, &list)), ["1.0.0"], "{fault:?}");
        crate::support::proxy::purge(&rig, "acme.victim");
    }
    // A registration naming another host: rewritten to the proxy; the host is never asked.
    let other = FaultProxy::start(&rig.upstream.base);
    let rest = "registration/acme.victim/index.json";
    let text = upstream_doc(&rig, rest)
        .text()
        .replace(&rig.fault.url(), &other.url());
    rig.fault.set(
        &up_path(rest),
        Fault::Body {
            content_type: "application/json".into(),
            body: text.into_bytes(),
        },
    );
    let served = get(&rig, rest);
    served.expect(200);
    assert!(!served.text().contains(&other.url()), "{}", served.text());
    let content = served.json()["items"][0]["items"][0]["packageContent"].clone();
    assert_eq!(
        content,
        json!(feed(&rig).url(&nupkg("acme.victim", "1.0.0")))
    );
    get(&rig, &nupkg("acme.victim", "1.0.0")).expect(200);
    // A service index whose resources live on another host: not used.
    let rig2 = ProxyRig::start("nuget", UP, "");
    let index = json!({"version": "3.0.0", "resources": [
        {"@id": format!("{}/{UP}/v3/flatcontainer/", other.url()), "@type": "PackageBaseAddress/3.0.0"},
        {"@id": format!("{}/{UP}/v3/registration/", other.url()), "@type": "RegistrationsBaseUrl/3.6.0"}
    ]});
    rig2.fault.set(&up_path("index.json"), body(&index));
    let msg =
        get_raw(&rig2, &flat_index("acme.victim")).expect_refusal(502, "The upstream feed failed");
    assert!(msg.contains("PackageBaseAddress"), "{msg}");
    assert_eq!(other.total(), 0, "the other host was not contacted");
}
