//! `GET /-/v1/search`: parsing the `text` query and rendering the result document.
//!
//! Follows npm protocol reference §8 ("Search"). `package.maintainers` is always an array:
//! npm's search formatter calls `maintainers.map(...)` and crashes otherwise (§14 pitfall 6).
//! See `docs/formats/npm.md`.

use serde_json::{Map, Value, json};

/// One package in a search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Package name.
    pub name: String,
    /// The version shown (usually `latest`).
    pub version: String,
    /// Description, if any.
    pub description: Option<String>,
    /// `keywords` as stored (array or string); `null` renders as `[]`.
    pub keywords: Value,
    /// Publish date of `version`, ISO-8601.
    pub date: String,
    /// Link to the package (rendered as `links.npm`).
    pub link: String,
    /// Who published `version`.
    pub publisher: Option<String>,
}

/// The `text` parameter of a search, split into its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Free-text terms, lower-cased.
    pub terms: Vec<String>,
    /// `keywords:a,b` filters, lower-cased.
    pub keywords: Vec<String>,
    /// `scope:acme` (or `scope:@acme`) filter, without `@`, lower-cased.
    pub scope: Option<String>,
}

/// The most free-text terms, and the most `keywords:` filters, one search may have: each term
/// costs a pass over every package name, and npm users type two or three.
pub const MAX_SEARCH_TERMS: usize = 16;

/// Why a search query is refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// More than [`MAX_SEARCH_TERMS`] free-text terms.
    #[error(
        "the search has {0} terms; at most {MAX_SEARCH_TERMS} are allowed (search for fewer words)"
    )]
    TooManyTerms(usize),
    /// More than [`MAX_SEARCH_TERMS`] `keywords:` filters.
    #[error("the search filters on {0} keywords; at most {MAX_SEARCH_TERMS} are allowed")]
    TooManyKeywords(usize),
}

impl SearchQuery {
    /// Refuses queries with more than [`MAX_SEARCH_TERMS`] terms or keyword filters.
    pub fn check(&self) -> Result<(), SearchError> {
        if self.terms.len() > MAX_SEARCH_TERMS {
            return Err(SearchError::TooManyTerms(self.terms.len()));
        }
        if self.keywords.len() > MAX_SEARCH_TERMS {
            return Err(SearchError::TooManyKeywords(self.keywords.len()));
        }
        Ok(())
    }

    /// Whether a package matches: its name contains one of the terms literally, ignoring case
    /// (any name when there are no terms), it is in the `scope:` (if one is given), and its
    /// keywords hold every `keywords:` filter. `lower_name` is the name lower-cased and
    /// `lower_keywords` come from [`lower_keywords`].
    pub fn matches(&self, lower_name: &str, lower_keywords: &[String]) -> bool {
        let named = self.terms.is_empty() || self.terms.iter().any(|t| lower_name.contains(t));
        let scoped = self.scope.as_ref().is_none_or(|scope| {
            lower_name
                .strip_prefix('@')
                .and_then(|rest| rest.strip_prefix(scope.as_str()))
                .is_some_and(|rest| rest.starts_with('/'))
        });
        named
            && scoped
            && self
                .keywords
                .iter()
                .all(|k| lower_keywords.iter().any(|have| have == k))
    }
}

/// The positions of the page `[from, from + size)` in a result of `total` hits: empty when
/// `from` is past the end, however large `from` and `size` are.
pub fn search_page(total: usize, from: u64, size: u64) -> std::ops::Range<usize> {
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(total);
    let len = usize::try_from(size).unwrap_or(usize::MAX);
    start..start.saturating_add(len).min(total)
}

/// A manifest `keywords` array's strings, lower-cased (nothing for a missing or non-array
/// value), for [`SearchQuery::matches`].
pub fn lower_keywords(keywords: &Value) -> Vec<String> {
    keywords
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

/// A version manifest's `keywords` as search shows them (`[]` when absent).
pub fn manifest_keywords(manifest: &Value) -> Value {
    manifest
        .get("keywords")
        .cloned()
        .unwrap_or_else(|| json!([]))
}

/// Whether `keywords` (a manifest's array) holds every one of `wanted` (lower-case), ignoring case.
pub fn has_keywords(keywords: &Value, wanted: &[String]) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let have = lower_keywords(keywords);
    wanted.iter().all(|k| have.contains(k))
}

/// Qualifiers npm's search syntax knows but packgate does not filter on; they are dropped
/// rather than searched for as text.
const IGNORED_QUALIFIERS: [&str; 5] = ["author", "maintainer", "not", "is", "boost-exact"];

/// Parse the text query: free-text terms (lower-cased), `keywords:x` filters, `scope:x` filter.
/// Other known qualifiers (`author:`, `maintainer:`, `not:`, `is:`, `boost-exact:`) are ignored.
pub fn parse_search_text(text: &str) -> SearchQuery {
    let mut q = SearchQuery::default();
    for token in text.split_whitespace() {
        let lower = token.to_lowercase();
        match lower.split_once(':') {
            Some(("keywords" | "keyword", list)) => q.keywords.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
            ),
            Some(("scope", scope)) => {
                let scope = scope.trim_start_matches('@');
                if !scope.is_empty() {
                    q.scope = Some(scope.to_owned());
                }
            }
            Some((qualifier, _)) if IGNORED_QUALIFIERS.contains(&qualifier) => {}
            _ => q.terms.push(lower),
        }
    }
    q
}

/// §8 shape: `objects[].package` {name, scope (for scoped, else "unscoped"), version,
/// description, keywords, date, links{npm}, publisher{username}, maintainers [..] ALWAYS an
/// array}, `score`, `searchScore`; `total`; `time`.
pub fn render_search(hits: &[SearchHit], total: u64, now: &str) -> Vec<u8> {
    let objects: Vec<Value> = hits
        .iter()
        .map(|hit| {
            json!({
                "package": package(hit),
                "score": {
                    "final": 1.0,
                    "detail": { "quality": 1.0, "popularity": 1.0, "maintenance": 1.0 }
                },
                "searchScore": 1.0
            })
        })
        .collect();
    json!({ "objects": objects, "total": total, "time": now })
        .to_string()
        .into_bytes()
}

fn package(hit: &SearchHit) -> Value {
    let scope = hit
        .name
        .strip_prefix('@')
        .and_then(|rest| rest.split_once('/'))
        .map_or("unscoped", |(scope, _)| scope);
    let mut p = Map::new();
    p.insert("name".into(), hit.name.clone().into());
    p.insert("scope".into(), scope.into());
    p.insert("version".into(), hit.version.clone().into());
    if let Some(description) = &hit.description {
        p.insert("description".into(), description.clone().into());
    }
    let keywords = match &hit.keywords {
        Value::Null => Value::Array(Vec::new()),
        other => other.clone(),
    };
    p.insert("keywords".into(), keywords);
    p.insert("date".into(), hit.date.clone().into());
    p.insert("links".into(), json!({ "npm": hit.link }));
    let mut maintainers = Vec::new();
    if let Some(user) = &hit.publisher {
        p.insert("publisher".into(), json!({ "username": user }));
        maintainers.push(json!({ "username": user }));
    }
    p.insert("maintainers".into(), Value::Array(maintainers));
    Value::Object(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_are_split_from_terms() {
        let q =
            parse_search_text("Widget keywords:UI,react  scope:@Acme author:bob not:unstable a:b");
        assert_eq!(q.terms, ["widget", "a:b"]);
        assert_eq!(q.keywords, ["ui", "react"]);
        assert_eq!(q.scope.as_deref(), Some("acme"));
        assert_eq!(parse_search_text("   "), SearchQuery::default());
    }
}
