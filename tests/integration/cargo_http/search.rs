//! Search: `per_page` and the reported total.

use super::{api, publish, setup};
use packgate_cargo::testing::Crate;
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[test]
fn search_honours_per_page_and_reports_the_total() {
    let (server, token) = setup();
    for vers in ["0.1.0", "0.3.0", "0.2.0"] {
        publish(
            &server,
            "cargo",
            &token,
            &Crate::new("srch-alpha", vers).description("the alpha crate"),
        );
    }
    for name in ["srch-beta", "srch-gamma", "srch-delta", "other-thing"] {
        publish(&server, "cargo", &token, &Crate::new(name, "1.0.0"));
    }
    let search = |query: &str| -> Value {
        api(
            &server,
            "GET",
            &format!("/cargo/api/v1/crates?{query}"),
            None,
            None,
        )
        .expect(200)
        .json()
    };

    let page = search("q=srch&per_page=2");
    let crates = page["crates"].as_array().expect("`crates` array");
    assert_eq!(crates.len(), 2, "per_page=2: {page}");
    assert_eq!(
        page["meta"]["total"],
        json!(4),
        "total counts all matches: {page}"
    );
    for c in crates {
        assert!(
            c["name"].as_str().is_some_and(|n| n.starts_with("srch-")),
            "{c}"
        );
        assert!(c["max_version"].is_string(), "{c}");
    }

    let all = search("q=srch&per_page=10");
    let crates = all["crates"].as_array().expect("`crates` array");
    let names: BTreeSet<&str> = crates.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["srch-alpha", "srch-beta", "srch-delta", "srch-gamma"]),
        "{all}"
    );
    assert_eq!(all["meta"]["total"], json!(4));
    let alpha = crates
        .iter()
        .find(|c| c["name"] == json!("srch-alpha"))
        .expect("srch-alpha");
    assert_eq!(
        alpha["max_version"],
        json!("0.3.0"),
        "highest, not latest published"
    );
    assert_eq!(alpha["description"], json!("the alpha crate"));

    let none = search("q=nothing-matches-this&per_page=10");
    assert_eq!(none["crates"], json!([]));
    assert_eq!(none["meta"]["total"], json!(0));
}
