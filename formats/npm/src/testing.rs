//! Test packages: package.json + files, packed into an npm-style `.tgz` (entries under `package/`)
//! and wrapped into a publish document shaped exactly like npm 11's (`docs` npm.md §5.1).
//!
//! Feature `testing`: used by the integration tests of the packgate server.
#![allow(
    clippy::expect_used,
    reason = "test builders: a panic is how the test using them fails"
)]

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha1::Digest as _;
use std::io::Write;
use std::path::Path;

/// A package version to publish: its package.json and its other files.
#[derive(Clone, Debug)]
pub struct Package {
    /// The package.json document.
    pub manifest: Value,
    /// Paths relative to the package root (no `package/` prefix), package.json excluded.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Package {
    /// `name@version` with `main: index.js` exporting the string `"name@version"`.
    pub fn new(name: &str, version: &str) -> Package {
        let id = format!("{name}@{version}");
        Package {
            manifest: json!({
                "name": name,
                "version": version,
                "description": format!("{name} test package"),
                "main": "index.js",
                "license": "MIT",
            }),
            files: vec![(
                "index.js".to_owned(),
                format!("module.exports = {};\n", Value::String(id)).into_bytes(),
            )],
        }
    }

    /// The `name` of the manifest.
    pub fn name(&self) -> &str {
        self.manifest["name"].as_str().expect("name")
    }

    /// Adds `dependencies[name] = range`.
    pub fn dependency(mut self, name: &str, range: &str) -> Package {
        let deps = self.object_field("dependencies");
        deps.insert(name.to_owned(), Value::String(range.to_owned()));
        self
    }

    /// Adds `scripts[name] = cmd`.
    pub fn script(mut self, name: &str, cmd: &str) -> Package {
        let scripts = self.object_field("scripts");
        scripts.insert(name.to_owned(), Value::String(cmd.to_owned()));
        self
    }

    /// Sets a top-level package.json field.
    pub fn set(mut self, key: &str, value: Value) -> Package {
        self.manifest[key] = value;
        self
    }

    /// Adds or replaces a file.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Package {
        let contents = contents.into();
        match self.files.iter_mut().find(|(p, _)| p == path) {
            Some(entry) => entry.1 = contents,
            None => self.files.push((path.to_owned(), contents)),
        }
        self
    }

    fn object_field(&mut self, key: &str) -> &mut Map<String, Value> {
        if !self.manifest[key].is_object() {
            self.manifest[key] = json!({});
        }
        self.manifest[key].as_object_mut().expect("object")
    }

    /// The gzipped tarball npm would pack.
    pub fn tarball(&self) -> Vec<u8> {
        let mut entries = vec![("package.json".to_owned(), pretty(&self.manifest))];
        entries.extend(self.files.iter().cloned());
        tarball(&entries)
    }

    /// Writes package.json and the files into `dir` (for `npm publish` from a directory).
    pub fn write_to(&self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("create package dir");
        std::fs::write(dir.join("package.json"), pretty(&self.manifest))
            .expect("write package.json");
        for (path, contents) in &self.files {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).expect("create dir");
            }
            std::fs::write(target, contents).expect("write file");
        }
    }

    /// The npm 11 publish document for this package (see `publish_body`).
    pub fn publish_body(&self, registry: &str, tag: &str) -> Value {
        publish_body(registry, &self.manifest, &self.tarball(), tag)
    }
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).expect("serialize");
    out.push(b'\n');
    out
}

/// A gzipped tar with each `(path, contents)` stored as `package/<path>`, like `npm pack`.
pub fn tarball(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(499_162_500); // npm's fixed 1985-10-26T08:15:00Z
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, format!("package/{path}"), contents.as_slice())
            .expect("append tar entry");
    }
    let tar_bytes = builder.into_inner().expect("finish tar");
    gzip(&tar_bytes)
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip finish")
}

/// Lower-case hex SHA-1 (`dist.shasum`).
pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(sha1::Sha1::digest(data))
}

/// `sha512-<base64>` (`dist.integrity`).
pub fn integrity(data: &[u8]) -> String {
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(data))
    )
}

/// Standard base64 (with padding) of `data`.
pub fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The name as npm puts it in packument URLs: `@scope%2fname` for scoped names; other characters
/// percent-encoded like `encodeURIComponent` (a no-op for valid names).
pub fn escape_name(name: &str) -> String {
    match name.strip_prefix('@').and_then(|rest| rest.split_once('/')) {
        Some((scope, base)) => format!("@{}%2f{}", url_encode(scope), url_encode(base)),
        None => url_encode(name),
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters (like `encodeURIComponent`,
/// which also leaves `!'()*` alone).
fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~!'()*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The name without its scope (`@s/n` → `n`): the tarball file-name base.
pub fn basename(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The server's tarball path under a repository: `/{name}/-/{basename}-{version}.tgz`.
pub fn tarball_path(name: &str, version: &str) -> String {
    format!("/{name}/-/{}-{version}.tgz", basename(name))
}

/// A publish document exactly as npm 11 sends it: `_id, name, description, dist-tags, versions,
/// access, _attachments`. `registry` is the configured registry URL (`http://…/npm/`).
pub fn publish_body(registry: &str, manifest: &Value, tgz: &[u8], tag: &str) -> Value {
    let name = manifest["name"].as_str().expect("manifest name").to_owned();
    let version = manifest["version"]
        .as_str()
        .expect("manifest version")
        .to_owned();
    let registry = registry.trim_end_matches('/');
    let mut version_doc = manifest.clone();
    version_doc["_id"] = json!(format!("{name}@{version}"));
    version_doc["readme"] = json!("ERROR: No README data found!");
    version_doc["_nodeVersion"] = json!("20.20.2");
    version_doc["_npmVersion"] = json!("11.19.1");
    // npm's own (wrong for scopes) client-side tarball URL; the server must ignore it.
    version_doc["dist"] = json!({
        "integrity": integrity(tgz),
        "shasum": sha1_hex(tgz),
        "tarball": format!("{registry}/{name}/-/{name}-{version}.tgz"),
    });
    let mut dist_tags = Map::new();
    dist_tags.insert(tag.to_owned(), json!(version));
    let mut versions = Map::new();
    versions.insert(version.clone(), version_doc);
    let mut attachments = Map::new();
    attachments.insert(
        format!("{name}-{version}.tgz"),
        json!({
            "content_type": "application/octet-stream",
            "data": base64(tgz),
            "length": tgz.len(),
        }),
    );
    json!({
        "_id": name,
        "name": name,
        "description": manifest.get("description").cloned().unwrap_or(Value::Null),
        "dist-tags": dist_tags,
        "versions": versions,
        "access": null,
        "_attachments": attachments,
    })
}
