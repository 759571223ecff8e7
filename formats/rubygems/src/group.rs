//! Group repositories: the compact index of a group merged from its members' (hosted and proxy,
//! in precedence order): `info/NAME` (members' lines in order, a `VERSION[-PLATFORM]` kept once,
//! with which member supplies it, to route `.gem` downloads and explain the merge), `names` (the
//! sorted union) and the lines of the group's `versions` file.
//!
//! Follows the RubyGems protocol reference §3.1 (`versions`), §3.2 (`info/{gem}`), §3.3 (`names`)
//! and §10 pitfall 14 (a group must list every merged gem in `versions`, with the MD5 of the
//! *merged* `info/NAME`). See `docs/formats/rubygems.md`.

use std::collections::{BTreeSet, HashSet};

use crate::compact::{md5_hex, render_names, versions_line};

/// Which member supplies one line of a merged `info/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoSource {
    /// `VERSION[-PLATFORM]`, the line's first field.
    pub key: String,
    /// The member's index in the slice given to the merge.
    pub member: usize,
}

/// An `info/NAME` merged from a group's members.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergedInfo {
    /// The merged body: a `---` line, then the kept lines in member order, each ending in `\n`.
    pub body: Vec<u8>,
    /// The key and supplier of each kept line, in the order of `body`.
    pub sources: Vec<InfoSource>,
    /// Lines left out because a kept line already has their `VERSION[-PLATFORM]`.
    pub duplicates: usize,
    /// Lines left out because they are not `VERSION[-PLATFORM] SP ...` in UTF-8; blank lines are
    /// not counted.
    pub malformed: usize,
}

impl MergedInfo {
    /// The member supplying `VERSION[-PLATFORM]` `key` (as in a `.gem` file name).
    pub fn member_of(&self, key: &str) -> Option<usize> {
        self.sources.iter().find(|s| s.key == key).map(|s| s.member)
    }

    /// `VERSION[-PLATFORM]` of the kept lines, in order: the gem's versions in the group's
    /// `versions` file.
    pub fn keys(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.key.clone()).collect()
    }

    /// The gem's line in the group's `versions` file: the kept keys and the MD5 of this body.
    pub fn versions_line(&self, name: &str) -> String {
        versions_line(name, &self.keys(), &md5_hex(&self.body))
    }
}

/// The lines of `body` with their terminators.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split_inclusive(|b| *b == b'\n')
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The `---` separator line of `body` (as written) and the lines after it; all lines when there
/// is no separator.
fn after_separator(body: &[u8]) -> (Option<&[u8]>, Vec<&[u8]>) {
    let all: Vec<&[u8]> = lines(body).collect();
    match all.iter().position(|l| trim_eol(l) == b"---") {
        Some(at) => (Some(all[at]), all[at + 1..].to_vec()),
        None => (None, all),
    }
}

/// The key of an info line: the text before its first space, when that is not empty.
fn key_of(line: &[u8]) -> Option<&str> {
    let (key, _) = std::str::from_utf8(line).ok()?.split_once(' ')?;
    (!key.is_empty()).then_some(key)
}

/// Merges the `info/NAME` bodies of the members that have the gem, in member order (indexes in
/// the result refer to `members`; leave out members without the gem). The body starts with the
/// first member's `---` line as written (else `---\n`); lines before a member's `---` are left
/// out. Then each member's lines in its order, leaving out a line whose `VERSION[-PLATFORM]` an
/// earlier kept line has (compared exactly: `1.0` and `1.0.0` are two `.gem` files). Kept lines
/// are byte-identical to the member's (`checksum:` and `created_at:` included, so Bundler 2.x
/// verifies the `.gem` it downloads against the supplier's checksum); one that ends its member's
/// body without `\n` gets one. Blank and malformed lines are left out; nothing here fails. One
/// member's well-formed body comes out unchanged, so its MD5 is kept.
pub fn merge_info(members: &[&[u8]]) -> MergedInfo {
    let mut merged = MergedInfo::default();
    let mut separator: Option<&[u8]> = None;
    let mut kept: Vec<u8> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (member, body) in members.iter().enumerate() {
        let (sep, entries) = after_separator(body);
        separator = separator.or(sep);
        for raw in entries {
            let line = trim_eol(raw);
            if is_blank(line) {
                continue;
            }
            let Some(key) = key_of(line) else {
                merged.malformed += 1;
                continue;
            };
            if !seen.insert(key.to_owned()) {
                merged.duplicates += 1;
                continue;
            }
            push_line(&mut kept, raw);
            merged.sources.push(InfoSource {
                key: key.to_owned(),
                member,
            });
        }
    }
    push_line(&mut merged.body, separator.unwrap_or(b"---\n"));
    merged.body.extend_from_slice(&kept);
    merged
}

/// Appends `raw`, and a `\n` when it has none.
fn push_line(out: &mut Vec<u8>, raw: &[u8]) {
    out.extend_from_slice(raw);
    if !raw.ends_with(b"\n") {
        out.push(b'\n');
    }
}

/// Merges the members' `names` bodies: `---`, then the union of their names sorted by byte
/// value, each once. Lines before a member's `---`, blank lines and lines that are not UTF-8 or
/// hold white space are left out.
pub fn merge_names(members: &[&[u8]]) -> Vec<u8> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for body in members {
        for raw in after_separator(body).1 {
            let Ok(name) = std::str::from_utf8(trim_eol(raw)) else {
                continue;
            };
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                names.insert(name.to_owned());
            }
        }
    }
    render_names(&names.into_iter().collect::<Vec<_>>())
}

/// The gem lines of a group's `versions` file, for [`crate::render_versions`]: one
/// `NAME V1,V2-plat MD5` line per gem from `(name, VERSION[-PLATFORM] list, MD5 of the gem's
/// merged info/NAME)` (see [`MergedInfo::versions_line`]), sorted by name; a gem without versions
/// is left out, and a name given twice keeps its first entry. Bundler 2.x asks `info/NAME` only for
/// gems this file lists and checks each fetched body against the MD5 (protocol §10 pitfall 14).
pub fn group_versions_lines(gems: &[(&str, &[String], &str)]) -> Vec<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut kept: Vec<&(&str, &[String], &str)> = gems
        .iter()
        .filter(|(name, versions, _)| !versions.is_empty() && seen.insert(name))
        .collect();
    kept.sort_by(|a, b| a.0.cmp(b.0));
    kept.into_iter()
        .map(|(name, versions, md5)| versions_line(name, versions, md5))
        .collect()
}

/// One gem of a `versions` file as Bundler 2.x reads it: its live versions and the MD5 of its
/// `info/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsGem {
    /// The gem name.
    pub name: String,
    /// `VERSION[-PLATFORM]` listed and not yanked since, in the order first listed.
    pub versions: Vec<String>,
    /// The MD5 the gem's **last** line names (lower-case hex).
    pub md5: String,
}

/// Reads a `versions` body as Bundler does (protocol §3.1): after `---`, lines `NAME VERSIONS
/// MD5`, several per gem when versions were appended; a version written `-VERSION` is a yank and
/// removes it; the last line of a gem names the MD5 of its current `info/NAME`. Gems in the order
/// of their first line; a gem whose versions are all yanked is kept (with no versions). Lines that
/// are not three space-separated UTF-8 fields are skipped.
pub fn read_versions(body: &[u8]) -> Vec<VersionsGem> {
    let (_, entries) = after_separator(body);
    let mut gems: Vec<VersionsGem> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for raw in entries {
        let Ok(line) = std::str::from_utf8(trim_eol(raw)) else {
            continue;
        };
        let mut fields = line.split(' ');
        let (Some(name), Some(versions), Some(md5), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if name.is_empty() || md5.is_empty() {
            continue;
        }
        let i = *at.entry(name.to_owned()).or_insert_with(|| {
            gems.push(VersionsGem {
                name: name.to_owned(),
                versions: Vec::new(),
                md5: String::new(),
            });
            gems.len() - 1
        });
        let gem = &mut gems[i];
        for v in versions.split(',').filter(|v| !v.is_empty()) {
            match v.strip_prefix('-') {
                Some(yanked) => gem.versions.retain(|x| x != yanked),
                None => {
                    if !gem.versions.iter().any(|x| x == v) {
                        gem.versions.push(v.to_owned());
                    }
                }
            }
        }
        gem.md5 = md5.to_ascii_lowercase();
    }
    gems
}

/// What a group's append-only `versions` needs appended so that Bundler reads a target state
/// from it (see [`versions_delta`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionsDelta {
    /// Lines to append (each ending in `\n`), sorted by gem name: per changed gem,
    /// `NAME -GONE,NEW INFO_MD5`, the yanked versions written `-VERSION` as a hosted repository
    /// writes them, the MD5 always the target's.
    pub lines: Vec<String>,
    /// Gems the file lists with versions that the target lacks entirely. An append-only file
    /// cannot drop a gem (Bundler would keep it, and ask for an `info/NAME` that no longer
    /// exists), so the file must be rewritten (compacted) instead.
    pub vanished: Vec<String>,
}

/// The lines that turn a `versions` file whose gems read as `current` (see [`read_versions`])
/// into one Bundler reads as `target`: `(name, VERSION[-PLATFORM] list, MD5 of the gem's
/// info/NAME)` per gem, a gem without versions counting as absent. A gem whose version set and
/// MD5 both match gets no line (the order of versions is not compared: Bundler keeps them as a
/// list it never sorts by). A gem whose MD5 alone changed (its `info/NAME` lines changed, not
/// which versions it has) gets `NAME -LAST,LAST MD5`: Bundler 2.x splits a line at runs of spaces,
/// so a line needs a version field, and yanking and re-adding the last version leaves the set as
/// it was while the MD5 takes effect.
pub fn versions_delta(
    current: &[VersionsGem],
    target: &[(&str, &[String], &str)],
) -> VersionsDelta {
    let now: std::collections::HashMap<&str, &VersionsGem> =
        current.iter().map(|g| (g.name.as_str(), g)).collect();
    let mut wanted: Vec<&(&str, &[String], &str)> =
        target.iter().filter(|(_, v, _)| !v.is_empty()).collect();
    wanted.sort_by(|a, b| a.0.cmp(b.0));
    wanted.dedup_by(|a, b| a.0 == b.0);
    let mut delta = VersionsDelta::default();
    for (name, versions, md5) in &wanted {
        let (have, had_md5): (&[String], &str) = match now.get(name) {
            Some(g) => (g.versions.as_slice(), g.md5.as_str()),
            None => (&[], ""),
        };
        let gone = have.iter().filter(|v| !versions.contains(v));
        let new = versions.iter().filter(|v| !have.contains(v));
        let mut entries: Vec<String> = gone.map(|v| format!("-{v}")).collect();
        entries.extend(new.cloned());
        if entries.is_empty() {
            if had_md5.eq_ignore_ascii_case(md5) {
                continue;
            }
            if let Some(last) = versions.last() {
                entries = vec![format!("-{last}"), last.clone()];
            }
        }
        delta.lines.push(versions_line(name, &entries, md5));
    }
    let listed: HashSet<&str> = wanted.iter().map(|(n, _, _)| *n).collect();
    delta.vanished = current
        .iter()
        .filter(|g| !g.versions.is_empty() && !listed.contains(g.name.as_str()))
        .map(|g| g.name.clone())
        .collect();
    delta.vanished.sort();
    delta
}

/// The `created_at:` value of a `versions` body's header, when it has one.
pub fn versions_created_at(body: &[u8]) -> Option<String> {
    let (Some(_), _) = after_separator(body) else {
        return None;
    };
    lines(body)
        .map(trim_eol)
        .take_while(|l| *l != b"---")
        .filter_map(|l| std::str::from_utf8(l).ok())
        .find_map(|l| l.strip_prefix("created_at:"))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Which legacy specs index to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecsKind {
    /// `specs.4.8.gz`: every released (not prerelease) version.
    All,
    /// `latest_specs.4.8.gz`: the highest released version per platform.
    Latest,
    /// `prerelease_specs.4.8.gz`: every prerelease version.
    Prerelease,
}

/// The `(name, version, platform)` tuples of a legacy specs index (for [`crate::specs_file`]) from
/// each gem's `VERSION[-PLATFORM]` list (as in `versions`; the platform is what follows the
/// first `-`, `ruby` when there is none): sorted by name, then version (RubyGems' order), then
/// platform, as a hosted repository writes them.
pub fn specs_tuples(gems: &[(&str, &[String])], kind: SpecsKind) -> Vec<(String, String, String)> {
    use crate::version::{compare_versions, is_prerelease};
    let mut out = Vec::new();
    for (name, keys) in gems {
        let mut rows: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| k.split_once('-').unwrap_or((k.as_str(), "ruby")))
            .filter(|(v, _)| (kind == SpecsKind::Prerelease) == is_prerelease(v))
            .collect();
        if kind == SpecsKind::Latest {
            let mut latest: Vec<(&str, &str)> = Vec::new();
            for (v, p) in rows {
                match latest.iter_mut().find(|(_, lp)| *lp == p) {
                    Some(slot) if compare_versions(v, slot.0).is_gt() => slot.0 = v,
                    Some(_) => {}
                    None => latest.push((v, p)),
                }
            }
            rows = latest;
        }
        out.extend(
            rows.into_iter()
                .map(|(v, p)| ((*name).to_owned(), v.to_owned(), p.to_owned())),
        );
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| compare_versions(&a.1, &b.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    out.dedup();
    out
}
