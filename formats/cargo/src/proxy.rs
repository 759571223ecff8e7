//! Upstream sparse-index documents as a proxy repository serves them: index files passed through
//! byte for byte (with a cooldown, lines whose `pubtime` is too young are left out and every
//! other line stays byte-identical), the line of one version with its `cksum` and `pubtime`, the
//! upstream's `config.json` and its `dl` template expanded into a download URL, and the checks an
//! upstream body passes before it is cached.
//!
//! Follows the Cargo registry protocol reference §2 (`config.json`, `dl` markers), §3.3 (line
//! format, `pubtime`) and §10 (checksums). See `docs/formats/cargo.md`, "Proxy repositories".

use serde::Deserialize;
use std::borrow::Cow;

/// The raw `pubtime` of an index line (one JSON object); `None` when it has none or is not JSON.
fn pubtime_of(line: &[u8]) -> Option<String> {
    serde_json::from_slice::<LineFields>(line)
        .ok()
        .and_then(|l| l.pubtime)
}

/// The fields of an index line a proxy reads (everything else is passed through unread).
#[derive(Deserialize)]
struct LineFields {
    name: String,
    vers: String,
    cksum: String,
    #[serde(default)]
    pubtime: Option<String>,
    #[serde(default)]
    yanked: bool,
}

/// One version's line in an upstream index file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLine {
    /// The crate name as the line spells it (original case; `{crate}` in the `dl` template).
    pub name: String,
    /// The version as the line spells it.
    pub vers: String,
    /// SHA-256 of the `.crate`, lower-case hex.
    pub cksum: String,
    /// `pubtime` as the line writes it, when it has one.
    pub pubtime: Option<String>,
    /// Whether the version is yanked (yanked versions stay downloadable).
    pub yanked: bool,
    /// The line itself, without its newline (recorded with the cached `.crate`).
    pub line: String,
}

/// The lines of an index file, each with its `\n` (the last one may lack it).
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split_inclusive(|b| *b == b'\n')
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks an upstream index file before it is cached: UTF-8, every non-blank line a JSON object
/// with string `name`, `vers` and a 64-hex-digit `cksum`, all lines naming one crate (ignoring
/// ASCII case). An empty file is valid (a crate without versions). A file failing this is not
/// cached: the client gets a 502, or the previous good copy.
pub fn validate_index_file(body: &[u8]) -> Result<(), String> {
    std::str::from_utf8(body).map_err(|e| format!("the index file is not UTF-8: {e}"))?;
    let mut crate_name: Option<String> = None;
    for (i, raw) in lines(body).enumerate() {
        let line = trim_newline(raw);
        if is_blank(line) {
            continue;
        }
        let fields: LineFields = serde_json::from_slice(line)
            .map_err(|e| format!("index line {} is not a valid index entry: {e}", i + 1))?;
        if fields.vers.is_empty() {
            return Err(format!("index line {} has an empty `vers`", i + 1));
        }
        if !is_sha256_hex(&fields.cksum) {
            return Err(format!(
                "index line {} has a `cksum` that is not 64 hex digits",
                i + 1
            ));
        }
        let lower = fields.name.to_ascii_lowercase();
        match &crate_name {
            None => crate_name = Some(lower),
            Some(first) if *first != lower => {
                return Err(format!(
                    "index line {} names crate {:?}, the file is about {first:?}",
                    i + 1,
                    fields.name
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The line of version `vers` of crate `name` (name compared ignoring ASCII case, version
/// exactly, as cargo asks for downloads with the line's own spelling).
pub fn find_version(index: &[u8], name: &str, vers: &str) -> Option<UpstreamLine> {
    lines(index).find_map(|raw| {
        let line = trim_newline(raw);
        let fields: LineFields = serde_json::from_slice(line).ok()?;
        if fields.vers != vers || !fields.name.eq_ignore_ascii_case(name) {
            return None;
        }
        Some(UpstreamLine {
            pubtime: fields.pubtime,
            name: fields.name,
            vers: fields.vers,
            cksum: fields.cksum.to_ascii_lowercase(),
            yanked: fields.yanked,
            line: String::from_utf8_lossy(line).into_owned(),
        })
    })
}

/// The index file with the lines `keep` refuses left out; `keep` gets each line's raw `pubtime`
/// (`None`: the line has none, or is not JSON) and gives the cooldown's verdict. Every kept line
/// (blank ones included) is byte-identical, newline and all. Borrowed (the upstream's exact
/// bytes) when no line is left out.
pub fn filter_index<'a>(body: &'a [u8], keep: &dyn Fn(Option<&str>) -> bool) -> Cow<'a, [u8]> {
    let keep = |raw: &[u8]| {
        let line = trim_newline(raw);
        is_blank(line) || keep(pubtime_of(line).as_deref())
    };
    if lines(body).all(keep) {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    for raw in lines(body).filter(|raw| keep(raw)) {
        out.extend_from_slice(raw);
    }
    Cow::Owned(out)
}

/// What a proxy needs from the upstream's `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UpstreamConfig {
    /// The download URL or template.
    pub dl: String,
    /// The web API root (search), when the upstream has one.
    #[serde(default)]
    pub api: Option<String>,
}

/// Parses the upstream's `config.json` (a JSON object with a string `dl`).
pub fn parse_config(body: &[u8]) -> Result<UpstreamConfig, String> {
    let config: UpstreamConfig = serde_json::from_slice(body)
        .map_err(|e| format!("config.json is not a registry configuration: {e}"))?;
    if config.dl.trim().is_empty() {
        return Err("config.json has an empty `dl`".into());
    }
    Ok(config)
}

/// [`parse_config`] as a check before caching.
pub fn validate_config(body: &[u8]) -> Result<(), String> {
    parse_config(body).map(|_| ())
}

/// Checks an upstream search answer before it is kept: a JSON object.
pub fn validate_search(body: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err("the search answer is not a JSON object".into()),
        Err(e) => Err(format!("the search answer is not JSON: {e}")),
    }
}

/// cargo's directory prefix of a crate name, `{prefix}` in a `dl` template: `1`, `2`,
/// `3/{first char}`, else `{chars 1-2}/{chars 3-4}`, in the name's own case.
pub fn dep_prefix(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", chars[0]),
        _ => format!(
            "{}/{}",
            chars[..2].iter().collect::<String>(),
            chars[2..4].iter().collect::<String>()
        ),
    }
}

/// The download URL of a version, as cargo builds it from `dl` (protocol §2): the markers
/// `{crate}`, `{version}`, `{prefix}`, `{lowerprefix}` and `{sha256-checksum}` replaced, or, when
/// `dl` has none of them, `{dl}/{crate}/{version}/download`.
pub fn download_url(dl: &str, name: &str, vers: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| dl.contains(m)) {
        return format!("{}/{name}/{vers}/download", dl.trim_end_matches('/'));
    }
    let prefix = dep_prefix(name);
    dl.replace("{crate}", name)
        .replace("{version}", vers)
        .replace("{prefix}", &prefix)
        .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
        .replace("{sha256-checksum}", cksum)
}

/// The lower-case index name of a crate name a client asked for, or `None` when it could not
/// be a crate name (1 to 64 ASCII letters, digits, `-` or `_`), so that nothing else reaches an
/// upstream path.
pub fn index_name(name: &str) -> Option<String> {
    crate::names::is_plausible_name(name).then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
