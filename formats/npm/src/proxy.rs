//! Upstream packuments as a proxy serves them: tarball URLs pointed at the proxy (integrity,
//! shasum and signatures untouched), versions younger than a cooldown left out with `dist-tags`
//! kept pointing at listed versions, and the tarball a file name stands for.

use base64::Engine;
use serde_json::{Map, Value};

/// The tarball a file name stands for in an upstream packument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTarball {
    /// The version it belongs to.
    pub version: String,
    /// The upstream's URL of it.
    pub url: String,
    /// Raw SHA-512 from `dist.integrity`, when it has one.
    pub sha512: Option<Vec<u8>>,
    /// Hex SHA-1 from `dist.shasum`.
    pub shasum: Option<String>,
    /// The version's manifest, as the upstream lists it (recorded with the cached file).
    pub manifest: String,
}

/// Checks that an upstream packument is a JSON object (before it is cached).
pub fn validate_packument(body: &[u8]) -> Result<(), String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err("the packument is not a JSON object".into()),
        Err(e) => Err(format!("the packument is not JSON: {e}")),
    }
}

/// The last path segment of a tarball URL (`widget-1.0.0.tgz`).
pub fn url_basename(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    path.rsplit('/').next().filter(|s| !s.is_empty())
}

fn sha512_of(integrity: &str) -> Option<Vec<u8>> {
    integrity.split_whitespace().find_map(|sri| {
        let b64 = sri.strip_prefix("sha512-")?;
        let b64 = b64.split('?').next()?;
        base64::engine::general_purpose::STANDARD.decode(b64).ok()
    })
}

/// Finds the version whose `dist.tarball` ends in `file`.
pub fn find_tarball(packument: &[u8], file: &str) -> Option<UpstreamTarball> {
    let doc: Value = serde_json::from_slice(packument).ok()?;
    let versions = doc.get("versions")?.as_object()?;
    versions.iter().find_map(|(version, manifest)| {
        let dist = manifest.get("dist")?;
        let url = dist.get("tarball")?.as_str()?;
        if url_basename(url) != Some(file) {
            return None;
        }
        Some(UpstreamTarball {
            version: version.clone(),
            url: url.to_string(),
            sha512: dist
                .get("integrity")
                .and_then(Value::as_str)
                .and_then(sha512_of),
            shasum: dist
                .get("shasum")
                .and_then(Value::as_str)
                .map(|s| s.to_ascii_lowercase()),
            manifest: manifest.to_string(),
        })
    })
}

/// Publish times of the versions a full packument's `time` lists, as the upstream wrote them.
pub fn publish_times(full_packument: &[u8]) -> std::collections::HashMap<String, String> {
    let Ok(doc) = serde_json::from_slice::<Value>(full_packument) else {
        return Default::default();
    };
    let Some(time) = doc.get("time").and_then(Value::as_object) else {
        return Default::default();
    };
    time.iter()
        .filter(|(k, _)| k.as_str() != "created" && k.as_str() != "modified")
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// The packument as the proxy serves it: every `versions[*].dist.tarball` becomes
/// `{registry}/{name}/-/{file}` (npm fetches tarballs from there; `integrity`, `shasum` and
/// `signatures` stay as the upstream signed them). With `keep` (the cooldown's verdict on a
/// version, judged by the full packument's `time`: the abbreviated one has none), the versions it
/// refuses are left out, also from `time`, and `dist-tags` that named one are moved (`latest` to the newest kept stable version)
/// or dropped. Unchanged bytes are returned as they came when nothing needs rewriting.
pub fn rewrite_packument(
    body: &[u8],
    name: &str,
    registry: &str,
    keep: Option<&dyn Fn(&str) -> bool>,
) -> Result<Vec<u8>, String> {
    let mut doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the packument is not JSON: {e}"))?;
    let Some(obj) = doc.as_object_mut() else {
        return Err("the packument is not a JSON object".into());
    };
    let base = format!("{}/{}/-/", registry.trim_end_matches('/'), name);
    let mut hidden: Vec<String> = Vec::new();
    if let Some(versions) = obj.get_mut("versions").and_then(Value::as_object_mut) {
        if let Some(keep) = keep {
            versions.retain(|v, _| {
                let kept = keep(v);
                if !kept {
                    hidden.push(v.clone());
                }
                kept
            });
        }
        for manifest in versions.values_mut() {
            if let Some(dist) = manifest.get_mut("dist").and_then(Value::as_object_mut)
                && let Some(url) = dist.get("tarball").and_then(Value::as_str)
                && let Some(file) = url_basename(url)
            {
                let rewritten = format!("{base}{file}");
                dist.insert("tarball".into(), Value::String(rewritten));
            }
        }
    }
    if !hidden.is_empty() {
        if let Some(time) = obj.get_mut("time").and_then(Value::as_object_mut) {
            for v in &hidden {
                time.remove(v);
            }
        }
        let kept: Vec<semver::Version> = obj
            .get("versions")
            .and_then(Value::as_object)
            .map(|m| {
                m.keys()
                    .filter_map(|v| semver::Version::parse(v).ok())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(tags) = obj.get_mut("dist-tags").and_then(Value::as_object_mut) {
            retag(tags, &hidden, &kept);
        }
    }
    serde_json::to_vec(&doc).map_err(|e| e.to_string())
}

/// Moves `latest` off hidden versions to the newest kept stable version (else the newest kept);
/// drops other tags that name a hidden version.
fn retag(tags: &mut Map<String, Value>, hidden: &[String], kept: &[semver::Version]) {
    let names_hidden = |v: &Value| v.as_str().is_some_and(|s| hidden.iter().any(|h| h == s));
    let stale: Vec<String> = tags
        .iter()
        .filter(|(_, v)| names_hidden(v))
        .map(|(k, _)| k.clone())
        .collect();
    for tag in stale {
        tags.remove(&tag);
        if tag == "latest" {
            let best = kept
                .iter()
                .filter(|v| v.pre.is_empty())
                .max()
                .or_else(|| kept.iter().max());
            if let Some(v) = best {
                tags.insert("latest".into(), Value::String(v.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Vec<u8> {
        serde_json::json!({
            "name": "@acme/widget",
            "dist-tags": {"latest": "2.0.0", "next": "3.0.0-rc.1", "old": "1.0.0"},
            "versions": {
                "1.0.0": {"version": "1.0.0", "dist": {"tarball": "https://up.example/@acme/widget/-/widget-1.0.0.tgz", "integrity": "sha512-AAAA", "shasum": "ABC"}},
                "2.0.0": {"version": "2.0.0", "dist": {"tarball": "https://up.example/@acme/widget/-/widget-2.0.0.tgz", "integrity": "sha512-BBBB"}},
                "3.0.0-rc.1": {"version": "3.0.0-rc.1", "dist": {"tarball": "https://up.example/@acme/widget/-/widget-3.0.0-rc.1.tgz"}}
            },
            "time": {"created": "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z", "2.0.0": "2024-06-01T00:00:00.000Z", "3.0.0-rc.1": "2024-06-02T00:00:00.000Z"}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn tarball_urls_point_at_the_proxy_and_integrity_stays() {
        let out = rewrite_packument(&doc(), "@acme/widget", "http://gw/npmjs", None).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["versions"]["1.0.0"]["dist"]["tarball"],
            "http://gw/npmjs/@acme/widget/-/widget-1.0.0.tgz"
        );
        assert_eq!(v["versions"]["1.0.0"]["dist"]["integrity"], "sha512-AAAA");
        assert_eq!(v["versions"]["1.0.0"]["dist"]["shasum"], "ABC");
        assert!(!String::from_utf8(out).unwrap().contains("up.example"));
    }

    #[test]
    fn a_cooldown_hides_young_versions_and_moves_latest() {
        // On 2024-06-03 with a 3-day cooldown: 2.0.0 and 3.0.0-rc.1 are young.
        let times = publish_times(&doc());
        assert_eq!(times["2.0.0"], "2024-06-01T00:00:00.000Z");
        assert!(!times.contains_key("created"));
        let keep = |v: &str| times.get(v).is_some_and(|t| t.as_str() < "2024-05-31");
        let out = rewrite_packument(&doc(), "@acme/widget", "http://gw/n", Some(&keep)).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let versions: Vec<&String> = v["versions"].as_object().unwrap().keys().collect();
        assert_eq!(versions, ["1.0.0"]);
        assert_eq!(v["dist-tags"]["latest"], "1.0.0");
        assert_eq!(v["dist-tags"]["old"], "1.0.0");
        assert!(v["dist-tags"].get("next").is_none());
        assert!(v["time"].get("2.0.0").is_none());
    }

    #[test]
    fn unknown_publish_times_follow_the_setting() {
        // A cooldown refusing unknown times, with a packument whose `time` lists nothing.
        let times = std::collections::HashMap::<String, String>::new();
        let keep = |v: &str| times.contains_key(v);
        let out = rewrite_packument(&doc(), "w", "http://gw/n", Some(&keep)).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert!(v["versions"].as_object().unwrap().is_empty());
        assert!(v["dist-tags"].as_object().unwrap().is_empty());
    }

    #[test]
    fn a_file_name_finds_its_version_and_declared_digests() {
        let t = find_tarball(&doc(), "widget-1.0.0.tgz").unwrap();
        assert_eq!(t.version, "1.0.0");
        assert_eq!(t.sha512, Some(vec![0, 0, 0]));
        assert_eq!(t.shasum.as_deref(), Some("abc"));
        assert!(find_tarball(&doc(), "widget-9.tgz").is_none());
    }
}
