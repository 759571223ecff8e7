//! Upstream compact-index documents as a proxy repository serves them: checks of `versions`,
//! `info/NAME`, `names` and the legacy `*specs.4.8.gz` bodies before they are cached, the MD5 each
//! gem's last `versions` line names, the `info/NAME` line a `.gem` or quick-spec file name stands
//! for (with its `checksum:` and `created_at:`), and the cooldown: `info/NAME` lines younger than
//! `min_age` left out (kept lines byte-identical, `checksum:` included) and the `versions` lines of
//! those gems regenerated with the MD5 of the filtered `info/NAME`.
//!
//! Follows the RubyGems protocol reference §3.1 (`versions`: the last line of a gem wins), §3.2
//! (`info/{gem}` line grammar, `created_at:` of format v2), §2 (file names) and §8 (checksums).
//! See `docs/formats/rubygems.md`, section "Proxy repositories".

use base64::Engine;
use std::collections::HashMap;

use crate::compact::{md5_hex, versions_line};
use crate::gem::{GemDependency, GemSpec};

/// One line of an upstream `info/NAME`, as far as a proxy needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoEntry {
    /// `VERSION[-PLATFORM]`, the line's first field.
    pub key: String,
    /// Lower-case hex SHA-256 of the `.gem` from `checksum:` (hex, or the 44-character base64 form
    /// Bundler also accepts), when the line has one.
    pub sha256: Option<String>,
    /// `created_at:` as the line writes it (format v2: RFC 3339 or Ruby's `Time#to_s`), when
    /// present.
    pub created_at: Option<String>,
}

/// An `info/NAME` with the lines a cooldown hides left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredInfo {
    /// The served body: the upstream's header and kept lines, byte for byte.
    pub body: Vec<u8>,
    /// `VERSION[-PLATFORM]` of the kept lines, in order.
    pub kept: Vec<String>,
    /// `VERSION[-PLATFORM]` of the hidden lines, in order.
    pub hidden: Vec<String>,
}

/// A gem whose `versions` line(s) a proxy replaces because its `info/NAME` was filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsOverride {
    /// The gem.
    pub name: String,
    /// MD5 of the upstream `info/NAME` that was filtered: the override applies only while the
    /// gem's last upstream `versions` line names exactly this one.
    pub upstream_md5: String,
    /// `VERSION[-PLATFORM]` of the kept lines (an empty list drops the gem from `versions`).
    pub kept: Vec<String>,
    /// MD5 of the filtered `info/NAME` that is served.
    pub md5: String,
}

/// The lines of `body` with their terminators, and where the lines after the `---` separator
/// start (`None`: no separator).
fn split_lines(body: &[u8]) -> (Vec<&[u8]>, Option<usize>) {
    let lines: Vec<&[u8]> = body.split_inclusive(|b| *b == b'\n').collect();
    let sep = lines.iter().position(|l| trim_eol(l) == b"---");
    (lines, sep.map(|i| i + 1))
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn text(body: &[u8], what: &str) -> Result<(), String> {
    std::str::from_utf8(body)
        .map(|_| ())
        .map_err(|e| format!("{what} is not UTF-8: {e}"))
}

/// Checks an upstream `versions` body before it is cached: UTF-8, a `---` line, then lines of
/// `NAME SP VERSIONS SP MD5` with a 32-digit hex MD5.
pub fn validate_versions(body: &[u8]) -> Result<(), String> {
    text(body, "versions")?;
    let (lines, Some(start)) = split_lines(body) else {
        return Err("versions has no `---` line".into());
    };
    for (n, line) in lines[start..].iter().enumerate() {
        let line = trim_eol(line);
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
        let ok = fields.len() == 3
            && !fields[0].is_empty()
            && !fields[1].is_empty()
            && fields[2].len() == 32
            && fields[2].iter().all(u8::is_ascii_hexdigit);
        if !ok {
            return Err(format!(
                "versions line {} is not `NAME VERSIONS MD5`: {:?}",
                start + n + 1,
                String::from_utf8_lossy(line)
            ));
        }
    }
    Ok(())
}

/// Checks an upstream `info/NAME` body before it is cached: UTF-8, a `---` line, then lines of
/// `VERSION[-PLATFORM] SP ...`.
pub fn validate_info(body: &[u8]) -> Result<(), String> {
    text(body, "info")?;
    let (lines, Some(start)) = split_lines(body) else {
        return Err("info has no `---` line".into());
    };
    for (n, line) in lines[start..].iter().enumerate() {
        let line = trim_eol(line);
        if line.is_empty() {
            continue;
        }
        match line.iter().position(|b| *b == b' ') {
            Some(at) if at > 0 => {}
            _ => {
                return Err(format!(
                    "info line {} is not `VERSION DEPS|REQS`: {:?}",
                    start + n + 1,
                    String::from_utf8_lossy(line)
                ));
            }
        }
    }
    Ok(())
}

/// Checks an upstream `names` body before it is cached: UTF-8 with a `---` line.
pub fn validate_names(body: &[u8]) -> Result<(), String> {
    text(body, "names")?;
    match split_lines(body).1 {
        Some(_) => Ok(()),
        None => Err("names has no `---` line".into()),
    }
}

/// Checks an upstream `specs.4.8.gz` (or `latest_`/`prerelease_`) body before it is cached: a
/// gzip stream (magic bytes `1f 8b`).
pub fn validate_specs_gz(body: &[u8]) -> Result<(), String> {
    if body.starts_with(&[0x1f, 0x8b]) {
        Ok(())
    } else {
        Err("the specs index is not gzip".into())
    }
}

/// The `info/NAME` MD5 each gem's **last** `versions` line names (Bundler's rule, §3.1).
pub fn info_md5s(versions: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let (lines, Some(start)) = split_lines(versions) else {
        return out;
    };
    for line in &lines[start..] {
        let Ok(line) = std::str::from_utf8(trim_eol(line)) else {
            continue;
        };
        let mut fields = line.split(' ');
        if let (Some(name), Some(_), Some(md5)) = (fields.next(), fields.next(), fields.next())
            && !name.is_empty()
        {
            out.insert(name.to_owned(), md5.to_ascii_lowercase());
        }
    }
    out
}

/// Whether `name` can be looked up upstream: 1 to 255 characters of `[A-Za-z0-9_.-]`, not `.` or
/// `..` (looser than the rules for new gems: old upstream gems break them).
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The (gem name, `VERSION[-PLATFORM]`) pairs a file stem `{name}-{version}[-{platform}]` can
/// stand for: split at each `-` followed by a digit (versions have no `-`, names may), the
/// shortest name first.
pub fn file_candidates(stem: &str) -> Vec<(&str, &str)> {
    let bytes = stem.as_bytes();
    (1..bytes.len().saturating_sub(1))
        .filter(|&i| bytes[i] == b'-' && bytes[i + 1].is_ascii_digit())
        .map(|i| (&stem[..i], &stem[i + 1..]))
        .collect()
}

/// The requirements part of an info line (after the first `|`) as `key:value` pairs.
fn requirements(line: &str) -> impl Iterator<Item = (&str, &str)> {
    line.split_once('|')
        .map_or("", |(_, r)| r)
        .split(',')
        .filter_map(|r| r.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
}

fn entry_of(line: &str) -> Option<InfoEntry> {
    let (key, _) = line.split_once(' ')?;
    if key.is_empty() {
        return None;
    }
    let mut e = InfoEntry {
        key: key.to_owned(),
        sha256: None,
        created_at: None,
    };
    for (k, v) in requirements(line) {
        match k {
            "checksum" => e.sha256 = sha256_hex(v),
            "created_at" => e.created_at = Some(v.to_owned()),
            _ => {}
        }
    }
    Some(e)
}

/// A `checksum:` value as lower-case hex: 64 hex digits, or 44 characters of base64.
fn sha256_hex(v: &str) -> Option<String> {
    if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(v.to_ascii_lowercase());
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    (raw.len() == 32).then(|| hex::encode(raw))
}

/// The lines after `---`, as text without terminators.
fn info_lines(info: &[u8]) -> impl Iterator<Item = &str> {
    let (lines, start) = split_lines(info);
    lines
        .into_iter()
        .skip(start.unwrap_or(usize::MAX))
        .filter_map(|l| std::str::from_utf8(trim_eol(l)).ok())
        .filter(|l| !l.is_empty())
}

/// The line of `VERSION[-PLATFORM]` `key` in an upstream `info/NAME`.
pub fn find_info_line(info: &[u8], key: &str) -> Option<InfoEntry> {
    info_lines(info).filter_map(entry_of).find(|e| e.key == key)
}

/// Every line of an upstream `info/NAME`, in order.
pub fn info_entries(info: &[u8]) -> Vec<InfoEntry> {
    info_lines(info).filter_map(entry_of).collect()
}

/// `info/NAME` without the lines `keep` refuses (`keep` gets each line's raw `created_at:`, `None`
/// when it has none, and gives the cooldown's verdict); `None` when it hides none (the upstream
/// body is then served as it is). Kept lines, the header and the `---` line stay byte for byte.
pub fn filter_info(info: &[u8], keep: &dyn Fn(Option<&str>) -> bool) -> Option<FilteredInfo> {
    let (lines, Some(start)) = split_lines(info) else {
        return None;
    };
    let mut body: Vec<u8> = lines[..start].concat();
    let mut kept = Vec::new();
    let mut hidden = Vec::new();
    for raw in &lines[start..] {
        let entry = std::str::from_utf8(trim_eol(raw)).ok().and_then(entry_of);
        match entry {
            Some(e) if !keep(e.created_at.as_deref()) => hidden.push(e.key),
            Some(e) => {
                kept.push(e.key);
                body.extend_from_slice(raw);
            }
            None => body.extend_from_slice(raw),
        }
    }
    (!hidden.is_empty()).then_some(FilteredInfo { body, kept, hidden })
}

impl FilteredInfo {
    /// The `versions` override of gem `name` whose upstream `info/NAME` this was filtered from.
    pub fn versions_override(&self, name: &str, upstream_md5: &str) -> VersionsOverride {
        VersionsOverride {
            name: name.to_owned(),
            upstream_md5: upstream_md5.to_owned(),
            kept: self.kept.clone(),
            md5: md5_hex(&self.body),
        }
    }
}

/// `versions` with the line(s) of each overridden gem replaced by one line listing the kept
/// versions and the filtered `info/NAME`'s MD5, at the place of the gem's first line (no line
/// when nothing is kept). A gem is overridden only while its last line names the MD5 the
/// override was made from (otherwise the upstream changed the gem since, and its line stays).
/// `None` when nothing was replaced.
pub fn override_versions(versions: &[u8], overrides: &[VersionsOverride]) -> Option<Vec<u8>> {
    if overrides.is_empty() {
        return None;
    }
    let (lines, Some(start)) = split_lines(versions) else {
        return None;
    };
    let name_of = |line: &[u8]| -> Option<String> {
        let line = std::str::from_utf8(trim_eol(line)).ok()?;
        line.split(' ').next().map(str::to_owned)
    };
    // The last MD5 of the overridden gems only (a public `versions` lists some 200 000 gems).
    let mut md5s: HashMap<&str, String> = overrides
        .iter()
        .map(|o| (o.name.as_str(), String::new()))
        .collect();
    for raw in &lines[start..] {
        let Ok(line) = std::str::from_utf8(trim_eol(raw)) else {
            continue;
        };
        let mut fields = line.split(' ');
        if let (Some(name), Some(_), Some(md5)) = (fields.next(), fields.next(), fields.next())
            && let Some(slot) = md5s.get_mut(name)
        {
            *slot = md5.to_ascii_lowercase();
        }
    }
    let active: HashMap<&str, &VersionsOverride> = overrides
        .iter()
        .filter(|o| md5s.get(o.name.as_str()) == Some(&o.upstream_md5))
        .map(|o| (o.name.as_str(), o))
        .collect();
    if active.is_empty() {
        return None;
    }
    let mut out: Vec<u8> = lines[..start].concat();
    let mut written: std::collections::HashSet<&str> = Default::default();
    for raw in &lines[start..] {
        let name = name_of(raw);
        match name.as_deref().and_then(|n| active.get_key_value(n)) {
            Some((n, o)) => {
                if written.insert(n) && !o.kept.is_empty() {
                    out.extend_from_slice(versions_line(&o.name, &o.kept, &o.md5).as_bytes());
                }
            }
            None => out.extend_from_slice(raw),
        }
    }
    Some(out)
}

/// A gemspec with what an `info/NAME` line says of gem `name` (dependencies, `ruby:` and
/// `rubygems:`), recorded with the versions a proxy caches.
pub fn spec_from_info(name: &str, info: &[u8], key: &str) -> Option<GemSpec> {
    let line = info_lines(info).find(|l| l.split(' ').next() == Some(key))?;
    let (version, platform) = key.split_once('-').unwrap_or((key, "ruby"));
    let (_, rest) = line.split_once(' ')?;
    let deps = rest.split_once('|').map_or(rest, |(d, _)| d);
    let constraints = |c: &str| -> Vec<(String, String)> {
        c.split('&')
            .filter_map(|one| {
                let one = one.trim();
                let at = one.find(|ch: char| ch.is_ascii_digit())?;
                let (op, v) = one.split_at(at);
                Some((op.trim().to_owned(), v.trim().to_owned()))
            })
            .collect()
    };
    let dependencies = deps
        .split(',')
        .filter_map(|d| d.split_once(':'))
        .map(|(n, c)| GemDependency {
            name: n.to_owned(),
            requirements: constraints(c),
            runtime: true,
        })
        .collect();
    let mut spec = GemSpec {
        name: name.to_owned(),
        version: version.to_owned(),
        platform: platform.to_owned(),
        summary: None,
        description: None,
        authors: Vec::new(),
        email: Vec::new(),
        homepage: None,
        licenses: Vec::new(),
        metadata: Default::default(),
        required_ruby_version: Vec::new(),
        required_rubygems_version: Vec::new(),
        dependencies,
        rubygems_version: None,
    };
    for (k, v) in requirements(line) {
        match k {
            "ruby" => spec.required_ruby_version = constraints(v),
            "rubygems" => spec.required_rubygems_version = constraints(v),
            _ => {}
        }
    }
    Some(spec)
}

#[cfg(test)]
mod tests;
