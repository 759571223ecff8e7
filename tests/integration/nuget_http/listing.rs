//! Changing a pushed version's listing: unlist (hidden from search, restores keep working),
//! relist, and deprecation set and cleared (with the refusals of invalid deprecations).

use super::{
    BAD_DEPRECATION, NO_VERSION_404, REPO, autocomplete, catalog_entries, entry_for, expect_status,
    flat_versions, hit_versions, is_listed, search, setup,
};
use crate::support::nuget_http::{Auth, Feed, Framing};
use crate::support::snapshot::{assert_unchanged, nuget_snapshot};
use packgate_nuget::testing::Nupkg;
use serde_json::{Value, json};

#[test]
fn unlist_hides_from_search_but_keeps_restores_working() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    let v1 = Nupkg::new("Pg.Unlist", "1.0.0");
    let v2 = Nupkg::new("Pg.Unlist", "2.0.0");
    feed.push_ok(key, &v1.bytes());
    feed.push_ok(key, &v2.bytes());

    feed.delete(key, "Pg.Unlist", "2.0.0").expect_status(204);
    let (_, hits) = search(
        &feed,
        "q=packageid:Pg.Unlist&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["version"], "1.0.0", "latest listed version");
    assert_eq!(hit_versions(&hits[0]), ["1.0.0"]);
    let (_, versions) = autocomplete(&feed, "id=pg.unlist&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(versions, ["1.0.0"]);
    assert_eq!(
        flat_versions(&feed, "pg.unlist"),
        ["1.0.0", "2.0.0"],
        "unlisted versions stay in the flat container"
    );
    let resp = feed.get(
        &feed.flat_file_path("pg.unlist", "2.0.0", "nupkg"),
        Auth::None,
    );
    expect_status(&resp, 200);
    assert_eq!(
        resp.body,
        v2.bytes(),
        "an unlisted version stays downloadable"
    );
    let entries = catalog_entries(&feed, "pg.unlist", Auth::None);
    assert!(is_listed(&entry_for(&entries, "1.0.0")));
    assert_eq!(entry_for(&entries, "2.0.0")["listed"], false);

    // Unlisting again is fine; the id and version are matched like the user typed them.
    feed.delete(key, "PG.UNLIST", "2.0.0.0").expect_status(204);
    feed.delete(key, "pg.unlist", "1.0").expect_status(204);
    let (total, hits) = search(&feed, "q=pg.unlist&prerelease=true&semVerLevel=2.0.0");
    assert_eq!(
        (total, hits.len()),
        (0, 0),
        "a fully unlisted package disappears"
    );
    let (_, ids) = autocomplete(&feed, "q=pg.unlist&prerelease=true&semVerLevel=2.0.0");
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(flat_versions(&feed, "pg.unlist"), ["1.0.0", "2.0.0"]);

    // Relist: 200, also when already listed.
    feed.relist(key, "Pg.Unlist", "2.0.0").expect_status(200);
    let (_, hits) = search(
        &feed,
        "q=packageid:Pg.Unlist&prerelease=true&semVerLevel=2.0.0",
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["version"], "2.0.0");
    assert_eq!(hit_versions(&hits[0]), ["2.0.0"]);
    feed.relist(key, "pg.unlist", "2.0.0").expect_status(200);
    feed.relist(key, "pg.unlist", "1.0.0.0").expect_status(200);
    let entries = catalog_entries(&feed, "pg.unlist", Auth::None);
    assert!(entries.iter().all(is_listed), "{entries:?}");

    // Absent versions and ids.
    let before = nuget_snapshot(&server, REPO, &["Pg.Unlist", "Pg.Absent"], &[], Auth::None);
    for (id, version) in [("Pg.Unlist", "9.9.9"), ("Pg.Absent", "1.0.0")] {
        feed.delete(key, id, version)
            .expect_refusal(404, NO_VERSION_404);
        feed.relist(key, id, version)
            .expect_refusal(404, NO_VERSION_404);
    }
    assert_unchanged(&server, &before, "unlist/relist of absent versions");
}

#[test]
fn deprecation_is_set_and_cleared() {
    let (server, token) = setup();
    let feed = Feed::new(&server, REPO);
    let key = Auth::ApiKey(&token);
    feed.push_ok(key, &Nupkg::new("Pg.Old", "1.0.0").bytes());
    feed.push_ok(key, &Nupkg::new("Pg.Old", "2.0.0").bytes());
    let legacy = json!({
        "reasons": ["Legacy"],
        "message": "Use Pg.New",
        "alternatePackage": {"id": "Pg.New", "range": "*"}
    });
    feed.deprecate(key, "Pg.Old", "1.0.0", &legacy)
        .expect_status(200);
    let entries = catalog_entries(&feed, "pg.old", Auth::None);
    let dep = &entry_for(&entries, "1.0.0")["deprecation"];
    assert_eq!(dep["reasons"], json!(["Legacy"]), "{dep}");
    assert_eq!(dep["message"], "Use Pg.New");
    assert_eq!(dep["alternatePackage"]["id"], "Pg.New");
    assert_eq!(dep["alternatePackage"]["range"], "*");
    assert!(
        entry_for(&entries, "2.0.0")
            .get("deprecation")
            .is_none_or(Value::is_null),
        "only 1.0.0 is deprecated"
    );

    // Several reasons, no alternate, any spelling of the id and version.
    feed.deprecate(
        key,
        "PG.OLD",
        "2.0.0.0",
        &json!({"reasons": ["CriticalBugs", "Other"], "message": "Broken"}),
    )
    .expect_status(200);
    let entries = catalog_entries(&feed, "pg.old", Auth::None);
    let dep = &entry_for(&entries, "2.0.0")["deprecation"];
    assert_eq!(dep["reasons"], json!(["CriticalBugs", "Other"]), "{dep}");
    assert!(dep.get("alternatePackage").is_none_or(Value::is_null));

    feed.undeprecate(key, "Pg.Old", "1.0.0").expect_status(200);
    let entries = catalog_entries(&feed, "pg.old", Auth::None);
    assert!(
        entry_for(&entries, "1.0.0")
            .get("deprecation")
            .is_none_or(Value::is_null),
        "deprecation removed"
    );
    assert!(!entry_for(&entries, "2.0.0")["deprecation"].is_null());

    // Invalid deprecations and absent versions change nothing.
    let before = nuget_snapshot(&server, REPO, &["Pg.Old"], &[], Auth::None);
    for body in [
        json!({"reasons": ["Bogus"], "message": "x"}),
        json!({"reasons": [], "message": "x"}),
        json!({"message": "no reasons"}),
        json!({"reasons": "Legacy"}),
    ] {
        let resp = feed.deprecate(key, "Pg.Old", "1.0.0", &body);
        resp.expect_refusal(400, BAD_DEPRECATION);
        assert_unchanged(&server, &before, &format!("deprecation {body}"));
    }
    let not_json = feed.raw(
        "PUT",
        &feed.path("package/Pg.Old/1.0.0/deprecation"),
        key,
        &[("Content-Type", "application/json")],
        Some(b"{not json"),
        Framing::Sized,
    );
    assert_eq!(not_json.status, 400, "{}", not_json.text());
    feed.deprecate(key, "Pg.Old", "9.9.9", &legacy)
        .expect_refusal(404, NO_VERSION_404);
    feed.undeprecate(key, "Pg.Old", "9.9.9")
        .expect_refusal(404, NO_VERSION_404);
    assert_unchanged(&server, &before, "invalid deprecations");
}
