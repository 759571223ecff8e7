//! Search queries: the term limit, literal matching with scope and keyword filters, and paging
//! that never overflows.

use packgate_npm::{MAX_SEARCH_TERMS, SearchError, lower_keywords, parse_search_text, search_page};
use serde_json::json;

fn query_of(words: usize) -> String {
    (0..words)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn sixteen_terms_pass_and_seventeen_are_refused_naming_the_limit() {
    assert_eq!(MAX_SEARCH_TERMS, 16);
    assert_eq!(parse_search_text(&query_of(16)).check(), Ok(()));
    let err = parse_search_text(&query_of(17)).check().unwrap_err();
    assert_eq!(err, SearchError::TooManyTerms(17));
    assert!(err.to_string().contains("16"), "{err}");
    // Qualifiers are not terms; keyword filters have their own limit.
    let q = parse_search_text(&format!("{} scope:acme author:bob", query_of(16)));
    assert_eq!(q.check(), Ok(()));
    let many_keywords: Vec<String> = (0..17).map(|i| format!("k{i}")).collect();
    let q = parse_search_text(&format!("keywords:{}", many_keywords.join(",")));
    assert_eq!(q.check(), Err(SearchError::TooManyKeywords(17)));
    assert_eq!(
        parse_search_text(&query_of(1000)).check(),
        Err(SearchError::TooManyTerms(1000))
    );
}

#[test]
fn terms_match_names_literally_and_without_case() {
    let kw: Vec<String> = Vec::new();
    let q = parse_search_text("a_b");
    assert!(q.matches("a_b", &kw));
    assert!(q.matches("xa_by", &kw));
    assert!(!q.matches("axb", &kw), "`_` is not a wildcard");
    let q = parse_search_text("%");
    assert!(!q.matches("axb", &kw), "`%` is not a wildcard");
    assert!(!parse_search_text("a\\_b").matches("a_b", &kw));
    assert!(parse_search_text("WIDGET").matches("@acme/widget", &kw));
    // Any term is enough; no term matches everything.
    let q = parse_search_text("zzz widget");
    assert!(q.matches("widget", &kw));
    assert!(parse_search_text("").matches("anything", &kw));
}

#[test]
fn scope_and_keyword_filters_narrow_the_matches() {
    let kw = lower_keywords(&json!(["HTTP", "Client", 7]));
    assert_eq!(kw, ["http", "client"]);
    let q = parse_search_text("widget scope:@Acme keywords:http,CLIENT");
    assert!(q.matches("@acme/widget", &kw));
    assert!(
        !q.matches("@acme-evil/widget", &kw),
        "scope is the whole scope"
    );
    assert!(!q.matches("@other/widget", &kw));
    assert!(!q.matches("widget", &kw));
    assert!(!q.matches("@acme/widget", &lower_keywords(&json!(["http"]))));
    assert!(lower_keywords(&json!("http, client")).is_empty());
    assert!(lower_keywords(&json!(null)).is_empty());
}

#[test]
fn pages_are_clamped_to_the_result_and_never_overflow() {
    assert_eq!(search_page(3, 0, 20), 0..3);
    assert_eq!(search_page(3, 1, 1), 1..2);
    assert_eq!(search_page(3, 2, 250), 2..3);
    assert_eq!(search_page(3, 3, 20), 3..3);
    assert_eq!(search_page(3, u64::MAX, 250), 3..3);
    assert_eq!(search_page(3, 1, u64::MAX), 1..3);
    assert_eq!(search_page(0, u64::MAX, u64::MAX), 0..0);
    assert_eq!(search_page(usize::MAX, u64::MAX, u64::MAX).len(), 0);
}
