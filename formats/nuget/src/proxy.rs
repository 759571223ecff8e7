//! NuGet v3 documents as a proxy repository serves them (protocol reference §2, §4, §5, §6): the
//! upstream's resources read from its service index (only URLs on its origin), the proxy's own
//! service index, flat-container version lists passed through or filtered by a cooldown,
//! registration indexes, pages and leaves whose upstream URLs are rewritten to the proxy's (every
//! other field kept, vulnerabilities and deprecations included), search answers with their
//! registration URLs rewritten, and the publish times a cooldown reads.
//!
//! Upstream registration hives may be gzip-compressed (the public gallery's SemVer 2.0.0 hive
//! always is): every reader here accepts a gzip body as well as plain JSON.

use crate::names::lower_id;
use crate::version::NuGetVersion;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Read;

/// Largest document accepted after gzip decoding.
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// Registration hive types, the preferred one first: `/3.6.0` includes SemVer 2.0.0 versions,
/// like the one hive packgate serves.
const REGISTRATION_TYPES: [&str; 5] = [
    "RegistrationsBaseUrl/3.6.0",
    "RegistrationsBaseUrl/3.4.0",
    "RegistrationsBaseUrl/3.0.0-rc",
    "RegistrationsBaseUrl/3.0.0-beta",
    "RegistrationsBaseUrl",
];

const SEARCH_TYPES: [&str; 5] = [
    "SearchQueryService/3.5.0",
    "SearchQueryService/3.4.0",
    "SearchQueryService/3.0.0-rc",
    "SearchQueryService/3.0.0-beta",
    "SearchQueryService",
];

const AUTOCOMPLETE_TYPES: [&str; 3] = [
    "SearchAutocompleteService/3.0.0-rc",
    "SearchAutocompleteService/3.0.0-beta",
    "SearchAutocompleteService",
];

/// The upstream resources a proxy uses, from the upstream's service index. Base URLs end in `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamResources {
    /// `PackageBaseAddress/3.0.0` (the flat container).
    pub flat: Option<String>,
    /// The registration hive read (SemVer 2.0.0 included when the upstream has one).
    pub registration: Option<String>,
    /// Every registration hive of the upstream (their URLs are rewritten too).
    pub registrations: Vec<String>,
    /// `SearchQueryService`.
    pub search: Option<String>,
    /// `SearchAutocompleteService`.
    pub autocomplete: Option<String>,
}

/// Whether `url` is on `origin` (`http://host:port`, compared ASCII case-insensitively).
pub fn on_origin(url: &str, origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    url.get(..origin.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(origin))
        && matches!(
            url.as_bytes().get(origin.len()),
            None | Some(b'/' | b'?' | b'#')
        )
}

/// The body, gunzipped when it is gzip (at most [`MAX_INFLATED`] bytes).
pub fn decode(body: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip body does not decode: {e}"))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(format!("the document inflates past {MAX_INFLATED} bytes"));
    }
    Ok(Cow::Owned(out))
}

fn parse(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(&decode(body)?) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the document is not a JSON object".into()),
        Err(e) => Err(format!("the document is not JSON: {e}")),
    }
}

fn to_vec(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// Checks that an upstream document is a JSON object (plain or gzip), before it is cached.
pub fn validate_document(body: &[u8]) -> Result<(), String> {
    parse(body).map(|_| ())
}

/// Checks an upstream service index: a `version` 3.x and a `resources` array.
pub fn validate_service_index(body: &[u8]) -> Result<(), String> {
    let doc = parse(body)?;
    let v3 = doc
        .get("version")
        .and_then(Value::as_str)
        .is_some_and(|v| v.split('.').next() == Some("3"));
    if !v3 {
        return Err("the service index is not version 3".into());
    }
    if !doc.get("resources").is_some_and(Value::is_array) {
        return Err("the service index has no resources".into());
    }
    Ok(())
}

/// Checks a flat-container version list: an object whose `versions` are strings.
pub fn validate_flat(body: &[u8]) -> Result<(), String> {
    flat_versions_of(body).map(|_| ())
}

/// The upstream's resources on `origin` (entries naming another origin are ignored).
pub fn upstream_resources(body: &[u8], origin: &str) -> Result<UpstreamResources, String> {
    let doc = parse(body)?;
    let resources = doc
        .get("resources")
        .and_then(Value::as_array)
        .ok_or("the service index has no resources")?;
    let mut by_type: HashMap<&str, &str> = HashMap::new();
    for r in resources {
        let Some(id) = r.get("@id").and_then(Value::as_str) else {
            continue;
        };
        if !on_origin(id, origin) {
            continue;
        }
        let types: Vec<&str> = match r.get("@type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for t in types {
            by_type.entry(t).or_insert(id);
        }
    }
    let first = |types: &[&str]| {
        types
            .iter()
            .find_map(|t| by_type.get(t).map(|u| u.to_string()))
    };
    let dir = |u: String| if u.ends_with('/') { u } else { u + "/" };
    let mut registrations: Vec<String> = Vec::new();
    for t in REGISTRATION_TYPES {
        if let Some(u) = by_type.get(t).map(|u| dir(u.to_string()))
            && !registrations.contains(&u)
        {
            registrations.push(u);
        }
    }
    Ok(UpstreamResources {
        flat: first(&["PackageBaseAddress/3.0.0"]).map(dir),
        registration: registrations.first().cloned(),
        registrations,
        search: first(&SEARCH_TYPES),
        autocomplete: first(&AUTOCOMPLETE_TYPES),
    })
}

/// The proxy's own service index: the flat container, the registration hive (under every type
/// name), search and autocomplete, all under `v3` (the proxy repository's `…/v3`, no trailing
/// slash). No publish resources: a proxy is read-only.
pub fn proxy_service_index(v3: &str) -> Vec<u8> {
    let table: [(String, &str, &[&str]); 4] = [
        (
            format!("{v3}/flatcontainer/"),
            "PackageBaseAddress",
            &["/3.0.0"],
        ),
        (
            format!("{v3}/registration/"),
            "RegistrationsBaseUrl",
            &["", "/3.0.0-beta", "/3.0.0-rc", "/3.4.0", "/3.6.0"],
        ),
        (
            format!("{v3}/query"),
            "SearchQueryService",
            &["", "/3.0.0-beta", "/3.0.0-rc", "/3.4.0", "/3.5.0"],
        ),
        (
            format!("{v3}/autocomplete"),
            "SearchAutocompleteService",
            &["", "/3.0.0-beta", "/3.0.0-rc"],
        ),
    ];
    let resources: Vec<Value> = table
        .iter()
        .flat_map(|(id, name, versions)| {
            versions.iter().map(move |v| {
                json!({"@id": id, "@type": format!("{name}{v}"), "comment": "through a packgate proxy"})
            })
        })
        .collect();
    to_vec(&json!({"version": "3.0.0", "resources": resources}))
}

/// The lower-case normalized form of a version string (ASCII lower-case when it does not parse).
pub fn lower_version(v: &str) -> String {
    NuGetVersion::parse(v)
        .map(|v| v.lower())
        .unwrap_or_else(|_| v.to_ascii_lowercase())
}

/// The versions a flat-container `index.json` lists, as written.
pub fn flat_versions_of(body: &[u8]) -> Result<Vec<String>, String> {
    let doc = parse(body)?;
    let versions = doc
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("the version list has no versions array")?;
    versions
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| "a listed version is not a string".to_string())
        })
        .collect()
}

/// The version list without the versions `hide` selects (by lower-case normalized version);
/// other fields kept.
pub fn filter_flat(body: &[u8], hide: &dyn Fn(&str) -> bool) -> Result<Vec<u8>, String> {
    let mut doc = parse(body)?;
    if let Some(Value::Array(versions)) = doc.get_mut("versions") {
        versions.retain(|v| v.as_str().is_none_or(|s| !hide(&lower_version(s))));
    }
    Ok(to_vec(&doc))
}

/// One version of a registration, as the proxy needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegItem {
    /// Lower-case normalized version.
    pub version: String,
    /// `published` as the registration writes it; `None` when absent or a date before 1901 (the
    /// public gallery's 1900-01-01 marks an unlisted version: its publish time is unknown).
    pub published: Option<String>,
    /// The upstream URL of the version's leaf (`@id`).
    pub leaf_url: Option<String>,
}

/// One page of a registration index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegPage {
    /// Lower bound, lower-case normalized.
    pub lower: String,
    /// Upper bound, lower-case normalized.
    pub upper: String,
    /// The page's upstream URL when its items are not inlined (an external page).
    pub url: Option<String>,
    /// The inlined items.
    pub items: Vec<RegItem>,
}

fn item_of(item: &Value) -> Option<RegItem> {
    let entry = item.get("catalogEntry")?;
    let version = entry.get("version").and_then(Value::as_str)?;
    let published = entry
        .get("published")
        .or_else(|| item.get("published"))
        .and_then(Value::as_str)
        .filter(|p| !is_unlisted_mark(p))
        .map(str::to_string);
    Some(RegItem {
        version: lower_version(version),
        published,
        leaf_url: item.get("@id").and_then(Value::as_str).map(str::to_string),
    })
}

fn items_of(page: &Value) -> Vec<RegItem> {
    page.get("items")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(item_of).collect())
        .unwrap_or_default()
}

/// The pages of a registration index.
pub fn registration_pages(index: &[u8]) -> Result<Vec<RegPage>, String> {
    let doc = parse(index)?;
    let pages = doc
        .get("items")
        .and_then(Value::as_array)
        .ok_or("the registration index has no items")?;
    Ok(pages
        .iter()
        .filter_map(|p| {
            let bound = |k: &str| p.get(k).and_then(Value::as_str).map(lower_version);
            Some(RegPage {
                lower: bound("lower")?,
                upper: bound("upper")?,
                url: match p.get("items") {
                    Some(_) => None,
                    None => p.get("@id").and_then(Value::as_str).map(str::to_string),
                },
                items: items_of(p),
            })
        })
        .collect())
}

/// The items of an external registration page.
pub fn page_items(page: &[u8]) -> Result<Vec<RegItem>, String> {
    Ok(items_of(&parse(page)?))
}

/// Where rewritten URLs point and which upstream URLs they replace.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    /// The proxy repository's `…/v3` URL, no trailing slash.
    pub v3: &'a str,
    /// The upstream's origin (`http://host:port`).
    pub origin: &'a str,
    /// The upstream's resources.
    pub upstream: &'a UpstreamResources,
}

impl Links<'_> {
    fn index(&self, lid: &str) -> String {
        format!("{}/registration/{lid}/index.json", self.v3)
    }

    fn leaf(&self, lid: &str, lver: &str) -> String {
        format!("{}/registration/{lid}/{lver}.json", self.v3)
    }

    fn page(&self, lid: &str, lower: &str, upper: &str) -> String {
        format!("{}/registration/{lid}/page/{lower}/{upper}.json", self.v3)
    }

    fn content(&self, lid: &str, lver: &str) -> String {
        format!("{}/flatcontainer/{lid}/{lver}/{lid}.{lver}.nupkg", self.v3)
    }

    /// An upstream URL under a known resource, moved under the proxy's.
    fn map(&self, url: &str) -> Option<String> {
        for base in &self.upstream.registrations {
            if let Some(rest) = url.strip_prefix(base.as_str()) {
                return Some(format!("{}/registration/{rest}", self.v3));
            }
        }
        let flat = self.upstream.flat.as_deref()?;
        let rest = url.strip_prefix(flat)?;
        Some(format!("{}/flatcontainer/{rest}", self.v3))
    }

    /// Rewrites every string left that points into the upstream: under a known resource it
    /// moves to the proxy's, anything else (the catalog, unknown resources) is left out.
    fn sweep(&self, v: &mut Value) {
        let upstream = |s: &str| on_origin(s, self.origin);
        match v {
            Value::Object(m) => {
                m.retain(
                    |_, x| !matches!(x, Value::String(s) if upstream(s) && self.map(s).is_none()),
                );
                m.values_mut().for_each(|x| self.sweep(x));
            }
            Value::Array(a) => {
                a.retain(
                    |x| !matches!(x, Value::String(s) if upstream(s) && self.map(s).is_none()),
                );
                a.iter_mut().for_each(|x| self.sweep(x));
            }
            Value::String(s) if upstream(s) => {
                if let Some(mapped) = self.map(s) {
                    *s = mapped;
                }
            }
            _ => {}
        }
    }
}

/// Which registration document is being rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegDoc<'a> {
    /// `{reg}/{id}/index.json`.
    Index,
    /// An external page, served at `{reg}/{id}/page/{lower}/{upper}.json`.
    Page,
    /// A leaf, served at `{reg}/{id}/{version}.json` (the lower-case normalized version).
    Leaf(&'a str),
}

/// Replaces `old` and `old#fragment` by `new` and `new#fragment` in every string below `v`.
fn rebase(v: &mut Value, old: &[String], new: &str) {
    match v {
        Value::String(s) => {
            for o in old.iter().filter(|o| !o.is_empty()) {
                if let Some(rest) = s.strip_prefix(o.as_str())
                    && (rest.is_empty() || rest.starts_with('#'))
                {
                    *s = format!("{new}{rest}");
                    return;
                }
            }
        }
        Value::Object(m) => m.values_mut().for_each(|x| rebase(x, old, new)),
        Value::Array(a) => a.iter_mut().for_each(|x| rebase(x, old, new)),
        _ => {}
    }
}

/// Points a leaf (or a page's leaf item) at the proxy: `@id`, `registration`, `packageContent`,
/// the `catalogEntry` and its `@id` (and fragments of it), dependency registrations.
fn rewrite_leaf(m: &mut Map<String, Value>, lid: &str, hint: Option<&str>, links: &Links<'_>) {
    let entry_version = m
        .get("catalogEntry")
        .and_then(|c| c.get("version"))
        .and_then(Value::as_str)
        .map(lower_version);
    let Some(lver) = entry_version.or_else(|| hint.map(str::to_string)) else {
        return;
    };
    let leaf = links.leaf(lid, &lver);
    let mut old: Vec<String> = Vec::new();
    old.extend(m.get("@id").and_then(Value::as_str).map(str::to_string));
    match m.get("catalogEntry") {
        Some(Value::String(s)) => old.push(s.clone()),
        Some(Value::Object(c)) => {
            old.extend(c.get("@id").and_then(Value::as_str).map(str::to_string))
        }
        _ => {}
    }
    for x in m.values_mut() {
        rebase(x, &old, &leaf);
    }
    m.insert("@id".into(), json!(leaf));
    if m.contains_key("registration") {
        m.insert("registration".into(), json!(links.index(lid)));
    }
    if m.contains_key("packageContent") {
        m.insert("packageContent".into(), json!(links.content(lid, &lver)));
    }
    match m.get_mut("catalogEntry") {
        Some(Value::String(s)) => *s = leaf.clone(),
        Some(Value::Object(c)) => {
            c.insert("@id".into(), json!(leaf));
            if c.contains_key("packageContent") {
                c.insert("packageContent".into(), json!(links.content(lid, &lver)));
            }
            let groups = c.get_mut("dependencyGroups").and_then(Value::as_array_mut);
            for g in groups.into_iter().flatten() {
                let deps = g.get_mut("dependencies").and_then(Value::as_array_mut);
                for d in deps.into_iter().flatten().filter_map(Value::as_object_mut) {
                    let dep_id = d.get("id").and_then(Value::as_str).map(lower_id);
                    if let Some(dep_id) = dep_id
                        && d.contains_key("registration")
                    {
                        d.insert("registration".into(), json!(links.index(&dep_id)));
                    }
                }
            }
        }
        _ => {}
    }
}

fn item_version(item: &Value) -> Option<String> {
    item.get("catalogEntry")
        .and_then(|c| c.get("version"))
        .and_then(Value::as_str)
        .map(lower_version)
}

/// Points a page at the proxy and leaves out its hidden items; whether it still has items (or
/// is external).
fn rewrite_page(
    p: &mut Map<String, Value>,
    lid: &str,
    standalone: bool,
    hidden: &HashSet<String>,
    links: &Links<'_>,
) -> bool {
    let bound = |k: &str| p.get(k).and_then(Value::as_str).map(lower_version);
    let (lower, upper) = (
        bound("lower").unwrap_or_default(),
        bound("upper").unwrap_or_default(),
    );
    let id = if standalone || !p.contains_key("items") {
        links.page(lid, &lower, &upper)
    } else {
        format!("{}#page/{lower}/{upper}", links.index(lid))
    };
    p.insert("@id".into(), json!(id));
    if p.contains_key("parent") {
        p.insert("parent".into(), json!(links.index(lid)));
    }
    let Some(items) = p.get_mut("items").and_then(Value::as_array_mut) else {
        return true;
    };
    let before = items.len();
    items.retain(|it| item_version(it).is_none_or(|v| !hidden.contains(&v)));
    for it in items.iter_mut().filter_map(Value::as_object_mut) {
        rewrite_leaf(it, lid, None, links);
    }
    let left = items.len();
    if left != before {
        p.insert("count".into(), json!(left));
    }
    left > 0 || before == 0
}

/// A registration document (index, external page or leaf) of package `lid` with every URL into
/// the upstream pointed at the proxy (or left out when it has no counterpart there) and the
/// versions in `hidden` (lower-case normalized) left out; pages left empty are dropped.
pub fn rewrite_registration(
    body: &[u8],
    lid: &str,
    kind: RegDoc<'_>,
    hidden: &HashSet<String>,
    links: &Links<'_>,
) -> Result<Vec<u8>, String> {
    let mut doc = parse(body)?;
    let Value::Object(m) = &mut doc else {
        return Err("the document is not a JSON object".into());
    };
    match kind {
        RegDoc::Index => {
            m.insert("@id".into(), json!(links.index(lid)));
            if let Some(pages) = m.get_mut("items").and_then(Value::as_array_mut) {
                let before = pages.len();
                pages.retain_mut(|p| {
                    p.as_object_mut()
                        .is_none_or(|p| rewrite_page(p, lid, false, hidden, links))
                });
                let left = pages.len();
                if left != before {
                    m.insert("count".into(), json!(left));
                }
            }
        }
        RegDoc::Page => {
            rewrite_page(m, lid, true, hidden, links);
        }
        RegDoc::Leaf(lver) => rewrite_leaf(m, lid, Some(lver), links),
    }
    links.sweep(&mut doc);
    Ok(to_vec(&doc))
}

/// A search answer with each hit's `@id`, `registration` and version `@id`s pointed at the
/// proxy's registration, and other upstream URLs rewritten or left out.
pub fn rewrite_search(body: &[u8], links: &Links<'_>) -> Result<Vec<u8>, String> {
    let mut doc = parse(body)?;
    let hits = doc.get_mut("data").and_then(Value::as_array_mut);
    for hit in hits.into_iter().flatten().filter_map(Value::as_object_mut) {
        let Some(lid) = hit.get("id").and_then(Value::as_str).map(lower_id) else {
            continue;
        };
        for key in ["@id", "registration"] {
            if hit.contains_key(key) {
                hit.insert(key.into(), json!(links.index(&lid)));
            }
        }
        let versions = hit.get_mut("versions").and_then(Value::as_array_mut);
        for v in versions
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            let lver = v.get("version").and_then(Value::as_str).map(lower_version);
            if let Some(lver) = lver
                && v.contains_key("@id")
            {
                v.insert("@id".into(), json!(links.leaf(&lid, &lver)));
            }
        }
    }
    links.sweep(&mut doc);
    Ok(to_vec(&doc))
}

/// The versions of `all` (lower-case normalized) and of the registration `items` that `keep`
/// refuses; `keep` gets the `published` the registration lists for a version (`None`: unknown,
/// also for a version it does not list) and gives the cooldown's verdict.
pub fn hidden_versions<'a>(
    all: impl IntoIterator<Item = &'a str>,
    items: &'a [RegItem],
    keep: &dyn Fn(Option<&str>) -> bool,
) -> HashSet<String> {
    let times: HashMap<&str, Option<&str>> = items
        .iter()
        .map(|i| (i.version.as_str(), i.published.as_deref()))
        .collect();
    all.into_iter()
        .chain(items.iter().map(|i| i.version.as_str()))
        .filter(|v| !keep(times.get(v).copied().flatten()))
        .map(str::to_string)
        .collect()
}

/// Whether a registration `published` is dated before 1901 (by its year: the public gallery writes
/// `1900-01-01T00:00:00+00:00` for unlisted versions).
fn is_unlisted_mark(published: &str) -> bool {
    let year = published.trim().split('-').next().unwrap_or_default();
    year.parse::<i64>().is_ok_and(|y| y < 1901)
}

#[cfg(test)]
mod tests;
