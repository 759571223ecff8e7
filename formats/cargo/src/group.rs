//! Group repositories: one sparse-index file (`GET /index/{prefix}/{name}`) merged from the index
//! files of a group's members, hosted and proxy, in precedence order, and which member supplies
//! each version (to route `.crate` downloads and explain the merge); and the members' `cargo
//! search` answers taken together.
//!
//! Follows the Cargo registry protocol reference §3.3 (line format) and §6 (search). Index lines hold no URLs, so
//! kept lines are passed through byte for byte, unknown fields (`pubtime`, `v`, `features2`)
//! included. See `docs/formats/cargo.md`.

use std::collections::HashSet;

use serde::Deserialize;

use crate::api::SearchHit;
use crate::names::canonical_name;
use crate::version::version_identity;

/// Which member supplies one version of a merged index file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSource {
    /// The version as the kept line spells it (cargo asks for downloads with this spelling).
    pub vers: String,
    /// The member's index in the slice given to the merge.
    pub member: usize,
}

/// An index file merged from a group's members.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergedIndex {
    /// The merged file: the kept lines in member order, each ending in `\n`.
    pub body: Vec<u8>,
    /// The version and supplier of each kept line, in the order of `body`.
    pub sources: Vec<LineSource>,
    /// Lines left out because a kept line already has their version.
    pub duplicates: usize,
    /// Lines left out because they are not an index line (not a JSON object, no string `vers`,
    /// a `vers` that is not SemVer); blank lines are not counted.
    pub malformed: usize,
}

impl MergedIndex {
    /// The member supplying `vers` (build metadata ignored, as in the merge).
    pub fn member_of(&self, vers: &str) -> Option<usize> {
        let wanted = version_identity(vers);
        self.sources
            .iter()
            .find(|s| version_identity(&s.vers) == wanted)
            .map(|s| s.member)
    }
}

/// The one field of an index line the merge reads.
#[derive(Deserialize)]
struct Vers {
    vers: String,
}

/// Merges the index files of the members that have the crate, in member order (indexes in the
/// result refer to `members`; leave out members without the crate). The result lists each
/// member's lines in its order, leaving out a line whose version an earlier kept line has, with
/// build metadata ignored: `1.0.0+a` beside `1.0.0+b` makes cargo's lockfile ambiguous, and the
/// public registry refuses the second (protocol §5.2 step 3, §12 pitfall 7). Kept lines are byte-identical to
/// the member's, `\r` included; one that ends its member's file without `\n` gets one. Blank and
/// malformed lines are left out; nothing here fails.
pub fn merge_index_files(members: &[&[u8]]) -> MergedIndex {
    let mut merged = MergedIndex::default();
    let mut seen: HashSet<String> = HashSet::new();
    for (member, body) in members.iter().enumerate() {
        for raw in body.split_inclusive(|b| *b == b'\n') {
            let line = trim_newline(raw);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Some(vers) = vers_of(line) else {
                merged.malformed += 1;
                continue;
            };
            if !seen.insert(version_identity(&vers)) {
                merged.duplicates += 1;
                continue;
            }
            merged.body.extend_from_slice(raw);
            if !raw.ends_with(b"\n") {
                merged.body.push(b'\n');
            }
            merged.sources.push(LineSource { vers, member });
        }
    }
    merged
}

/// The `vers` of an index line, when it is a JSON object with a SemVer `vers`.
fn vers_of(line: &[u8]) -> Option<String> {
    let Vers { vers } = serde_json::from_slice(line).ok()?;
    semver::Version::parse(&vers).ok()?;
    Some(vers)
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One page of a `cargo search` answer: its crates and `meta.total`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchPage {
    /// The crates listed, in the answer's order.
    pub hits: Vec<SearchHit>,
    /// How many crates match in all (`meta.total`).
    pub total: u64,
}

/// Reads a search answer `{"crates":[{"name","max_version","description"}],"meta":{"total":n}}`
/// (protocol §6): entries without a string `name` and `max_version` are left out, other fields
/// (a public registry sends many) are not read, and a missing `meta.total` counts the entries.
/// `None` when the body is not a JSON object with a `crates` array.
pub fn parse_search(body: &[u8]) -> Option<SearchPage> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let crates = doc.get("crates")?.as_array()?;
    let hits: Vec<SearchHit> = crates
        .iter()
        .filter_map(|c| {
            Some(SearchHit {
                name: c.get("name")?.as_str()?.to_string(),
                max_version: c.get("max_version")?.as_str()?.to_string(),
                description: c
                    .get("description")
                    .and_then(|d| d.as_str())
                    .map(str::to_string),
            })
        })
        .collect();
    let total = doc
        .get("meta")
        .and_then(|m| m.get("total"))
        .and_then(|t| t.as_u64())
        .unwrap_or(hits.len() as u64);
    Some(SearchPage { hits, total })
}

/// The search pages of a group's members (in member order; indexes in `keep` refer to `pages`)
/// taken together: a crate listed by several members is kept once, from the earliest (names
/// compared ignoring case and `-`/`_`), `keep(member, canonical name)` may leave out others (the
/// group's rules and claims), and at most `limit` crates are listed. `total` is the members'
/// totals less the crates left out.
pub fn merge_search(
    pages: &[SearchPage],
    keep: &dyn Fn(usize, &str) -> bool,
    limit: usize,
) -> SearchPage {
    let mut seen: HashSet<String> = HashSet::new();
    let mut hits = Vec::new();
    let mut dropped: u64 = 0;
    for (member, page) in pages.iter().enumerate() {
        for hit in &page.hits {
            let canonical = canonical_name(&hit.name);
            if seen.contains(&canonical) || !keep(member, &canonical) {
                dropped += 1;
                continue;
            }
            seen.insert(canonical);
            hits.push(hit.clone());
        }
    }
    let total = pages
        .iter()
        .map(|p| p.total)
        .sum::<u64>()
        .saturating_sub(dropped)
        .max(hits.len() as u64);
    hits.truncate(limit);
    SearchPage { hits, total }
}
