//! Group repositories: a group's flat-container version list (`GET {flat}/{id}/index.json`) merged
//! from its members' (hosted and proxy, in precedence order), and the registration entries a
//! group renders its registration index, pages and leaves from; both with the member supplying
//! each version, to route `.nupkg` downloads and explain the merge. Also the members' documents
//! as served (registration indexes, pages and leaves, search and autocomplete answers) read,
//! pointed at the group (their URLs rebased) and merged, every field of an item kept.
//!
//! Follows the NuGet protocol reference §3.2 (version identity and order), §4.1 (version list),
//! §5 (registrations) and §6 (search, autocomplete). See `docs/formats/nuget.md`.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::documents::{RegEntry, flat_versions};
use crate::names::lower_id;
use crate::proxy::{decode, flat_versions_of, lower_version};
use crate::version::NuGetVersion;

/// Versions per page of a group's registration index (the size a hosted feed's pages have).
const PAGE_SIZE: usize = 64;

/// Why no version list can be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// No member list was given: no member has the package (a 404 for the client).
    #[error("no member of the group has the package")]
    NoMembers,
    /// A member's version list is not a JSON object with a `versions` array of strings.
    #[error("the version list of group member {member} is unusable: {reason}")]
    Malformed {
        /// The member's index in the slice given to the merge.
        member: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Which member supplies one version of a merged list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatSource {
    /// The version, lower-case normalized (as listed and in download URLs).
    pub version: String,
    /// The member's index in the slice given to the merge.
    pub member: usize,
}

/// A flat-container version list merged from a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedFlat {
    /// The merged `{"versions":[…]}`.
    pub body: Vec<u8>,
    /// Every merged version with its supplier, ascending (the order of `body`).
    pub sources: Vec<FlatSource>,
    /// Listed strings left out because they are not NuGet versions.
    pub malformed: usize,
}

impl MergedFlat {
    /// The member supplying `version` (any spelling of it: `1.0`, `1.0.0.0`, upper case).
    pub fn member_of(&self, version: &str) -> Option<usize> {
        let wanted = lower_version(version);
        self.sources
            .iter()
            .find(|s| s.version == wanted)
            .map(|s| s.member)
    }
}

/// Merges the flat-container `index.json` bodies (plain or gzip) of the members that have the
/// package, in member order (indexes in the result refer to `members`; leave out members without
/// the package). The result lists the union of their versions, lower-case normalized, in NuGet
/// order, each once (NuGet identity: `1.0` is `1.0.0`, release labels ignore case, metadata is
/// ignored); a version listed by several members comes from the earliest. Listed strings that
/// are not NuGet versions are left out: restore in NuGet.Client 6.x (nuget.exe, the .NET SDK)
/// reads this list with `NuGetVersion.Parse` (`HttpFileSystemBasedFindPackageByIdResource`) and
/// fails the whole source on one that does not parse; re-check by listing `1.0.0-` in a member and
/// running `dotnet restore` against the group.
pub fn merge_flat_index(members: &[&[u8]]) -> Result<MergedFlat, GroupError> {
    if members.is_empty() {
        return Err(GroupError::NoMembers);
    }
    let mut picked: BTreeMap<NuGetVersion, usize> = BTreeMap::new();
    let mut malformed = 0;
    for (member, body) in members.iter().enumerate() {
        let listed =
            flat_versions_of(body).map_err(|reason| GroupError::Malformed { member, reason })?;
        for text in listed {
            match NuGetVersion::parse(&text) {
                Ok(version) => {
                    picked.entry(version).or_insert(member);
                }
                Err(_) => malformed += 1,
            }
        }
    }
    let sources: Vec<FlatSource> = picked
        .into_iter()
        .map(|(version, member)| FlatSource {
            version: version.lower(),
            member,
        })
        .collect();
    let lower: Vec<String> = sources.iter().map(|s| s.version.clone()).collect();
    Ok(MergedFlat {
        body: flat_versions(&lower),
        sources,
        malformed,
    })
}

/// Registration entries merged from a group's members, ready for
/// [`crate::registration_index`], [`crate::registration_page`] and [`crate::registration_leaf`].
#[derive(Debug, Clone)]
pub struct MergedEntries<'a> {
    /// One entry per version, ascending.
    pub entries: Vec<RegEntry<'a>>,
    /// The supplying member of each entry (same positions as `entries`).
    pub members: Vec<usize>,
}

/// Merges the registration entries of the members that have the package, in member order
/// (indexes in the result refer to `members`): one entry per version (NuGet identity), from the
/// earliest member listing it, ascending. Every entry shows the `display_id` of the first entry of
/// the earliest member, so the group's documents spell the id one way, as a hosted feed does.
pub fn merge_registration_entries<'a>(members: &[&[RegEntry<'a>]]) -> MergedEntries<'a> {
    let display_id = members.iter().flat_map(|m| m.first()).next();
    let display_id = display_id.map(|e| e.display_id);
    let mut picked: BTreeMap<&NuGetVersion, (RegEntry<'a>, usize)> = BTreeMap::new();
    for (member, entries) in members.iter().enumerate() {
        for entry in entries.iter() {
            picked.entry(entry.version).or_insert((*entry, member));
        }
    }
    let (entries, members) = picked
        .into_values()
        .map(|(mut entry, member)| {
            if let Some(id) = display_id {
                entry.display_id = id;
            }
            (entry, member)
        })
        .unzip();
    MergedEntries { entries, members }
}

/// A JSON object from a member's body (plain or gzip).
fn object(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(&decode(body)?) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the document is not a JSON object".into()),
        Err(e) => Err(format!("the document is not JSON: {e}")),
    }
}

fn to_vec(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// A member's registration index as a group reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberIndex {
    /// The leaf items of its inlined pages, as served.
    pub items: Vec<Value>,
    /// The `(lower, upper)` bounds, as written, of the pages it links to instead of inlining
    /// (a hosted feed from 128 versions on, the public gallery from 128 too): the group reads
    /// them from the member's page route.
    pub external: Vec<(String, String)>,
}

/// Reads a member's registration index (`{reg}/{id}/index.json`).
pub fn read_registration_index(body: &[u8]) -> Result<MemberIndex, String> {
    let doc = object(body)?;
    let pages = doc
        .get("items")
        .and_then(Value::as_array)
        .ok_or("the registration index has no items")?;
    let mut out = MemberIndex::default();
    for page in pages {
        match page.get("items").and_then(Value::as_array) {
            Some(items) => out.items.extend(items.iter().cloned()),
            None => {
                let bound = |k: &str| page.get(k).and_then(Value::as_str).map(str::to_string);
                let (Some(lower), Some(upper)) = (bound("lower"), bound("upper")) else {
                    return Err("a registration page without items has no bounds".into());
                };
                out.external.push((lower, upper));
            }
        }
    }
    Ok(out)
}

/// The leaf items of a member's external registration page, as served.
pub fn read_registration_page(body: &[u8]) -> Result<Vec<Value>, String> {
    let doc = object(body)?;
    doc.get("items")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| "the registration page has no items".into())
}

/// Points every URL under `from` at `to`: each string below `doc` that is `from`, or starts with
/// `from` followed by `/`, `#` or `?`, gets `to` in its place (`from` and `to` without a trailing
/// slash: a member's `…/{member}/v3` and the group's `…/{group}/v3`).
pub fn rebase_urls(doc: &mut Value, from: &str, to: &str) {
    match doc {
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix(from)
                && (rest.is_empty() || rest.starts_with(['/', '#', '?']))
            {
                *s = format!("{to}{rest}");
            }
        }
        Value::Object(m) => m.values_mut().for_each(|v| rebase_urls(v, from, to)),
        Value::Array(a) => a.iter_mut().for_each(|v| rebase_urls(v, from, to)),
        _ => {}
    }
}

/// A member's document (plain or gzip JSON object) with its URLs under `from` pointed at `to`
/// (see [`rebase_urls`]); every other byte of meaning kept.
pub fn rebase_document(body: &[u8], from: &str, to: &str) -> Result<Vec<u8>, String> {
    let mut doc = object(body)?;
    rebase_urls(&mut doc, from, to);
    Ok(to_vec(&doc))
}

/// The version of a registration leaf item (`catalogEntry.version`).
fn item_version(item: &Value) -> Option<NuGetVersion> {
    let text = item.get("catalogEntry")?.get("version")?.as_str()?;
    NuGetVersion::parse(text).ok()
}

/// Registration leaf items merged from a group's members.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedItems {
    /// One item per version, ascending, each as its member served it.
    pub items: Vec<Value>,
    /// The supplying member of each item (same positions as `items`).
    pub members: Vec<usize>,
    /// Items left out because their `catalogEntry` has no NuGet version (a catalog entry given
    /// only by URL, say): NuGet.exe 5.8 cannot resolve them either.
    pub malformed: usize,
}

impl MergedItems {
    /// The lower-case normalized version of each item.
    pub fn versions(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(item_version)
            .map(|v| v.lower())
            .collect()
    }

    /// The items whose versions lie within `lower..=upper` (any spelling of the bounds).
    pub fn within(&self, lower: &NuGetVersion, upper: &NuGetVersion) -> Vec<Value> {
        self.items
            .iter()
            .filter(|i| item_version(i).is_some_and(|v| v >= *lower && v <= *upper))
            .cloned()
            .collect()
    }
}

/// Merges the registration leaf items of the members that have the package, in member order
/// (indexes in the result refer to `members`): one item per version (NuGet identity: `1.0` is
/// `1.0.0`, labels ignore case, metadata is ignored), from the earliest member listing it,
/// ascending. Items are kept whole (listed, deprecation, vulnerabilities, dependencies, fields
/// packgate does not know).
pub fn merge_registration_items(members: Vec<Vec<Value>>) -> MergedItems {
    let mut picked: BTreeMap<NuGetVersion, (Value, usize)> = BTreeMap::new();
    let mut malformed = 0;
    for (member, items) in members.into_iter().enumerate() {
        for item in items {
            match item_version(&item) {
                Some(v) => {
                    picked.entry(v).or_insert((item, member));
                }
                None => malformed += 1,
            }
        }
    }
    let (items, members) = picked.into_values().unzip();
    MergedItems {
        items,
        members,
        malformed,
    }
}

fn index_url(v3: &str, lid: &str) -> String {
    format!("{v3}/registration/{lid}/index.json")
}

fn bounds(items: &[Value]) -> (String, String) {
    let lower = |i: Option<&Value>| {
        i.and_then(item_version)
            .map(|v| v.lower())
            .unwrap_or_default()
    };
    (lower(items.first()), lower(items.last()))
}

fn page_of(v3: &str, lid: &str, id: String, lower: &str, upper: &str, items: &[Value]) -> Value {
    json!({
        "@id": id,
        "@type": "catalog:CatalogPage",
        "count": items.len(),
        "lower": lower,
        "upper": upper,
        "parent": index_url(v3, lid),
        "items": items,
    })
}

/// A group's registration index of package `lid` from merged items (ascending): pages of 64
/// versions, every page inlined whatever the number of versions (the group has no pages of its
/// own to link to), each item as given.
pub fn registration_index_of_items(v3: &str, lid: &str, items: &[Value]) -> Vec<u8> {
    let index = index_url(v3, lid);
    let pages: Vec<Value> = items
        .chunks(PAGE_SIZE)
        .map(|chunk| {
            let (lower, upper) = bounds(chunk);
            let id = format!("{index}#page/{lower}/{upper}");
            page_of(v3, lid, id, &lower, &upper, chunk)
        })
        .collect();
    to_vec(&json!({
        "@id": index,
        "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
        "count": pages.len(),
        "items": pages,
    }))
}

/// A standalone registration page of a group (`{reg}/{id}/page/{lower}/{upper}.json`) holding the
/// given items (those within the bounds).
pub fn registration_page_of_items(
    v3: &str,
    lid: &str,
    lower: &str,
    upper: &str,
    items: &[Value],
) -> Vec<u8> {
    let id = format!("{v3}/registration/{lid}/page/{lower}/{upper}.json");
    to_vec(&page_of(v3, lid, id, lower, upper, items))
}

/// A member's search or autocomplete answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberHits {
    /// Its `totalHits`.
    pub total: u64,
    /// Its `data`: search hits (objects) or autocomplete ids or versions (strings).
    pub data: Vec<Value>,
}

/// Reads a member's search or autocomplete answer (`{"totalHits": n, "data": [...]}`).
pub fn read_hits(body: &[u8]) -> Result<MemberHits, String> {
    let doc = object(body)?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .cloned()
        .ok_or("the answer has no data array")?;
    let total = doc
        .get("totalHits")
        .and_then(Value::as_u64)
        .unwrap_or(data.len() as u64);
    Ok(MemberHits { total, data })
}

/// The lower-case package id a hit names: a search hit's `id`, or an autocomplete id itself.
pub fn hit_id(hit: &Value) -> Option<String> {
    match hit {
        Value::String(s) => Some(lower_id(s)),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(lower_id),
        _ => None,
    }
}

/// Search or autocomplete (ids) answers merged (members in precedence order, each with its
/// index in the group): a hit `keep` refuses (member index, lower-case id) is left out, as is a
/// hit whose id an earlier member listed. `totalHits` is the members' sum less the hits left out
/// here (the members are paged alike, so the group's total is an estimate past the first page).
pub fn merge_hits(members: &[(usize, MemberHits)], keep: &dyn Fn(usize, &str) -> bool) -> Vec<u8> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut data = Vec::new();
    let mut total: u64 = 0;
    let mut dropped: u64 = 0;
    for (member, hits) in members {
        total += hits.total;
        for hit in &hits.data {
            let kept = match hit_id(hit) {
                Some(id) => keep(*member, &id) && seen.insert(id),
                None => false,
            };
            if kept {
                data.push(hit.clone());
            } else {
                dropped += 1;
            }
        }
    }
    let total = total.saturating_sub(dropped).max(data.len() as u64);
    to_vec(&json!({"totalHits": total, "data": data}))
}

/// Autocomplete answers for the versions of one id merged: the union of the members' versions
/// (NuGet identity, the earliest member's spelling kept), ascending.
pub fn merge_versions(members: &[MemberHits]) -> Vec<u8> {
    let mut picked: BTreeMap<NuGetVersion, String> = BTreeMap::new();
    for hits in members {
        for text in hits.data.iter().filter_map(Value::as_str) {
            if let Ok(v) = NuGetVersion::parse(text) {
                picked.entry(v).or_insert_with(|| text.to_string());
            }
        }
    }
    let data: Vec<String> = picked.into_values().collect();
    to_vec(&json!({"totalHits": data.len(), "data": data}))
}
