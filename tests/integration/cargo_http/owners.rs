//! Owners: listing, adding and removing owners, and who may publish new versions.

use super::{
    api, expect_errors, index_lines, logins, owner_logins, owners_path, publish, put_crate, setup,
    versions,
};
use crate::support::snapshot::{assert_unchanged, index_snapshot};
use packgate_cargo::testing::Crate;
use serde_json::json;

#[test]
fn owners_list_add_remove_and_publish_rights() {
    let (server, token) = setup();
    let bob = server.publisher("bob");
    publish(&server, "cargo", &token, &Crate::new("pg-own", "0.1.0"));
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));

    // Bob is not an owner: he can neither publish nor make himself one.
    let before = index_snapshot(&server, "cargo", "pg-own", None);
    let resp = put_crate(
        &server,
        "cargo",
        Some(&bob),
        Crate::new("pg-own", "0.2.0").body(),
    );
    expect_errors(&resp, 403);
    assert_unchanged(&server, &before, "non-owner publish");
    let resp = api(
        &server,
        "PUT",
        &owners_path("pg-own"),
        Some(&bob),
        Some(&json!({"users": ["bob"]})),
    );
    expect_errors(&resp, 403);
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));

    // Alice adds bob; then bob can publish.
    let resp = api(
        &server,
        "PUT",
        &owners_path("pg-own"),
        Some(&token),
        Some(&json!({"users": ["bob"]})),
    );
    let body = resp.expect(200).json();
    assert_eq!(body["ok"], json!(true), "{body}");
    assert!(
        body["msg"].is_string(),
        "owner add needs a string `msg`: {body}"
    );
    assert_eq!(
        owner_logins(&server, &token, "pg-own"),
        logins(&["alice", "bob"])
    );
    publish(&server, "cargo", &bob, &Crate::new("pg-own", "0.2.0"));

    // Alice removes bob; bob can no longer publish.
    let resp = api(
        &server,
        "DELETE",
        &owners_path("pg-own"),
        Some(&token),
        Some(&json!({"users": ["bob"]})),
    );
    let body = resp.expect(200).json();
    assert_eq!(body["ok"], json!(true), "{body}");
    assert!(
        body["msg"].is_string(),
        "owner remove needs a string `msg`: {body}"
    );
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));
    let before = index_snapshot(&server, "cargo", "pg-own", None);
    let resp = put_crate(
        &server,
        "cargo",
        Some(&bob),
        Crate::new("pg-own", "0.3.0").body(),
    );
    expect_errors(&resp, 403);
    assert_unchanged(&server, &before, "publish by a removed owner");

    // The last owner cannot be removed.
    let resp = api(
        &server,
        "DELETE",
        &owners_path("pg-own"),
        Some(&token),
        Some(&json!({"users": ["alice"]})),
    );
    expect_errors(&resp, 400);
    assert_eq!(owner_logins(&server, &token, "pg-own"), logins(&["alice"]));
    assert_eq!(
        versions(&index_lines(&server, "cargo", "pg-own", None)),
        ["0.1.0", "0.2.0"]
    );
}
