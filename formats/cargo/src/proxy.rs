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

/// The cooldown in force for one crate.
#[derive(Debug, Clone, Copy)]
pub struct Cooldown {
    /// Now, in ms since the epoch.
    pub now_ms: i64,
    /// Versions published less than this long ago are hidden.
    pub min_age_ms: i64,
    /// Whether a version without a (readable) `pubtime` is kept.
    pub allow_unknown: bool,
}

impl Cooldown {
    /// Whether a version published at `published` (ms; `None`: unknown) is served.
    pub fn allows(&self, published: Option<i64>) -> bool {
        match published {
            Some(t) => self.now_ms - t >= self.min_age_ms,
            None => self.allow_unknown,
        }
    }

    /// Whether the index line `line` (one JSON object) is served; a line that is not JSON has no
    /// known publish time.
    fn allows_line(&self, line: &[u8]) -> bool {
        let published = serde_json::from_slice::<LineFields>(line)
            .ok()
            .and_then(|l| l.pubtime)
            .as_deref()
            .and_then(parse_pubtime);
        self.allows(published)
    }
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
    /// `pubtime` in ms since the epoch, when the line has a readable one.
    pub pubtime: Option<i64>,
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
            pubtime: fields.pubtime.as_deref().and_then(parse_pubtime),
            name: fields.name,
            vers: fields.vers,
            cksum: fields.cksum.to_ascii_lowercase(),
            yanked: fields.yanked,
            line: String::from_utf8_lossy(line).into_owned(),
        })
    })
}

/// The index file with the lines the cooldown hides left out; every kept line (blank ones
/// included) is byte-identical, newline and all. Borrowed (the upstream's exact bytes) when no
/// line is left out.
pub fn filter_index<'a>(body: &'a [u8], cooldown: &Cooldown) -> Cow<'a, [u8]> {
    let keep = |raw: &[u8]| {
        let line = trim_newline(raw);
        is_blank(line) || cooldown.allows_line(line)
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

/// Parses a `pubtime` (`2024-05-01T12:30:00Z`, as the public registry writes it; fractional
/// seconds and numeric offsets are read too) to ms since the epoch.
pub fn parse_pubtime(s: &str) -> Option<i64> {
    let (date, rest) = s.trim().split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let mo: i64 = d.next()?.parse().ok()?;
    let da: i64 = d.next()?.parse().ok()?;
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        let mins = oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?;
        (c, sign * mins * 60_000)
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let se: i64 = t.next()?.parse().ok()?;
    let ms: i64 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(3).collect();
        format!("{digits:0<3}").parse().ok()?
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) * 1000 + ms) - offset_ms)
}

#[cfg(test)]
mod tests;
