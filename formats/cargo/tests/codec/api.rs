//! Web API bodies.

use packgate_cargo::{
    PublishError, SearchHit, config_json, error_body, owners_changed, parse_owner_request,
    publish_ok, render_owners, render_search, yank_ok,
};
use serde_json::{Value, json};

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[test]
fn errors_use_the_errors_detail_shape() {
    let body = error_body("crate version `0.2.0` is already uploaded");
    assert_eq!(
        parse(&body),
        json!({ "errors": [{ "detail": "crate version `0.2.0` is already uploaded" }] })
    );
}

#[test]
fn config_json_points_dl_at_the_api() {
    let body = config_json("http://127.0.0.1:8080/cargo", true);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"dl":"http://127.0.0.1:8080/cargo/api/v1/crates","api":"http://127.0.0.1:8080/cargo","auth-required":true}"#
    );
    let body = parse(&config_json("http://h.example.test/cargo/", false));
    assert_eq!(body["dl"], "http://h.example.test/cargo/api/v1/crates");
    assert_eq!(body["api"], "http://h.example.test/cargo");
    assert_eq!(body["auth-required"], false);
}

#[test]
fn search_results_carry_crates_and_total() {
    let hits = [
        SearchHit {
            name: "my-crate".into(),
            max_version: "0.2.0".into(),
            description: Some("A crate".into()),
        },
        SearchHit {
            name: "my-other".into(),
            max_version: "1.0.0".into(),
            description: None,
        },
    ];
    assert_eq!(
        parse(&render_search(&hits, 7)),
        json!({
            "crates": [
                { "name": "my-crate", "max_version": "0.2.0", "description": "A crate" },
                { "name": "my-other", "max_version": "1.0.0", "description": null }
            ],
            "meta": { "total": 7 }
        })
    );
    assert_eq!(
        parse(&render_search(&[], 0)),
        json!({ "crates": [], "meta": { "total": 0 } })
    );
}

#[test]
fn owners_are_listed_with_id_and_login() {
    let body = render_owners(&[(1, "alice".into()), (42, "bob".into())]);
    assert_eq!(
        parse(&body),
        json!({ "users": [
            { "id": 1, "login": "alice", "name": null },
            { "id": 42, "login": "bob", "name": null }
        ] })
    );
}

#[test]
fn owner_requests_yield_logins() {
    assert_eq!(
        parse_owner_request(br#"{"users":["bob","carol"]}"#).unwrap(),
        ["bob", "carol"]
    );
    for bad in [
        &b"{}"[..],
        br#"{"users":[]}"#,
        br#"{"users":[""]}"#,
        br#"{"users":"bob"}"#,
        br#"{"users":[1]}"#,
        b"bob",
    ] {
        let res = parse_owner_request(bad);
        assert!(
            matches!(res, Err(PublishError::BadOwnerRequest(_))),
            "{}: {res:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn success_bodies_have_what_cargo_asserts() {
    assert_eq!(
        parse(&publish_ok(&["no README".to_owned()])),
        json!({ "warnings": { "invalid_categories": [], "invalid_badges": [], "other": ["no README"] } })
    );
    assert_eq!(parse(&publish_ok(&[]))["warnings"]["other"], json!([]));
    assert_eq!(parse(&yank_ok()), json!({ "ok": true }));
    assert_eq!(
        parse(&owners_changed(
            "user bob has been added as an owner of crate my-crate"
        )),
        json!({ "ok": true, "msg": "user bob has been added as an owner of crate my-crate" })
    );
}

#[test]
fn owner_requests_are_bounded() {
    let many: Vec<String> = (0..21).map(|i| format!("user{i}")).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "users": many })).unwrap();
    assert!(packgate_cargo::parse_owner_request(&body).is_err());
    let long = serde_json::to_vec(&serde_json::json!({ "users": ["x".repeat(129)] })).unwrap();
    assert!(packgate_cargo::parse_owner_request(&long).is_err());
    let ok = serde_json::to_vec(&serde_json::json!({ "users": ["alice", "bob"] })).unwrap();
    assert_eq!(
        packgate_cargo::parse_owner_request(&ok).unwrap(),
        ["alice", "bob"]
    );
}
