//! Test crates for the Cargo routes: a `.crate` file (gzipped tar of `{name}-{vers}/Cargo.toml` and
//! `src/lib.rs`), the publish metadata shaped like cargo 1.95's (all 18 top-level keys), the binary
//! publish framing, the index line the server must derive from them, and index paths.
//! Protocol: /work/shared/protocols/cargo.md §3 and §5.
//!
//! Feature `testing`: used by the integration tests of the packgate server.
#![allow(
    clippy::expect_used,
    reason = "test builders: a panic is how the test using them fails"
)]

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

/// One dependency as the publish API carries it (and the index line it must become).
#[derive(Clone, Debug)]
pub struct Dep {
    /// The original crate name.
    pub name: String,
    /// The version requirement (`^1.0`).
    pub req: String,
    /// Features enabled on the dependency.
    pub features: Vec<String>,
    /// Whether the dependency is optional.
    pub optional: bool,
    /// Whether the dependency's default features are enabled.
    pub default_features: bool,
    /// A `cfg(...)` or target triple the dependency is limited to.
    pub target: Option<String>,
    /// `normal`, `dev` or `build`.
    pub kind: String,
    /// Index URL of another registry; `None` = this registry (the key is then absent, like cargo).
    pub registry: Option<String>,
    /// The name used in Cargo.toml when the dependency is renamed.
    pub alias: Option<String>,
}

impl Dep {
    /// A normal, non-optional dependency with default features.
    pub fn new(name: &str, req: &str) -> Dep {
        Dep {
            name: name.to_owned(),
            req: req.to_owned(),
            features: Vec::new(),
            optional: false,
            default_features: true,
            target: None,
            kind: "normal".to_owned(),
            registry: None,
            alias: None,
        }
    }

    /// Renames the dependency in Cargo.toml (`alias = { package = name }`).
    pub fn alias(mut self, alias: &str) -> Dep {
        self.alias = Some(alias.to_owned());
        self
    }

    /// Makes the dependency optional.
    pub fn optional(mut self) -> Dep {
        self.optional = true;
        self
    }

    /// Turns the dependency's default features off.
    pub fn no_default_features(mut self) -> Dep {
        self.default_features = false;
        self
    }

    /// Enables `features` on the dependency.
    pub fn features(mut self, features: &[&str]) -> Dep {
        self.features = features.iter().map(|f| f.to_string()).collect();
        self
    }

    /// Limits the dependency to `target` (`[target.'…'.dependencies]`).
    pub fn target(mut self, target: &str) -> Dep {
        self.target = Some(target.to_owned());
        self
    }

    /// Sets the kind: `normal`, `dev` or `build`.
    pub fn kind(mut self, kind: &str) -> Dep {
        self.kind = kind.to_owned();
        self
    }

    /// Takes the dependency from the registry with index URL `index_url`.
    pub fn registry(mut self, index_url: &str) -> Dep {
        self.registry = Some(index_url.to_owned());
        self
    }

    /// The dependency object cargo 1.95 sends in the publish metadata.
    pub fn publish_json(&self) -> Value {
        let mut dep = json!({
            "name": self.name,
            "version_req": self.req,
            "features": self.features,
            "optional": self.optional,
            "default_features": self.default_features,
            "target": self.target,
            "kind": self.kind,
            "explicit_name_in_toml": self.alias,
        });
        if let Some(r) = &self.registry {
            dep["registry"] = json!(r);
        }
        dep
    }

    /// The dependency object the index line must carry (absent keys count as null).
    pub fn index_json(&self) -> Value {
        let (name, package) = match &self.alias {
            Some(alias) => (alias.clone(), Some(self.name.clone())),
            None => (self.name.clone(), None),
        };
        json!({
            "name": name,
            "req": self.req,
            "features": self.features,
            "optional": self.optional,
            "default_features": self.default_features,
            "target": self.target,
            "kind": self.kind,
            "registry": self.registry,
            "package": package,
        })
    }

    /// The `[dependencies]`-style TOML table line for Cargo.toml inside the `.crate`.
    fn toml_entry(&self) -> String {
        let key = self.alias.as_deref().unwrap_or(&self.name);
        let mut fields = vec![format!("version = {}", toml_str(&self.req))];
        if self.alias.is_some() {
            fields.push(format!("package = {}", toml_str(&self.name)));
        }
        if self.optional {
            fields.push("optional = true".to_owned());
        }
        if !self.default_features {
            fields.push("default-features = false".to_owned());
        }
        if !self.features.is_empty() {
            let list: Vec<String> = self.features.iter().map(|f| toml_str(f)).collect();
            fields.push(format!("features = [{}]", list.join(", ")));
        }
        if let Some(r) = &self.registry {
            fields.push(format!("registry-index = {}", toml_str(r)));
        }
        format!("{} = {{ {} }}\n", toml_str(key), fields.join(", "))
    }
}

/// A crate version to publish over HTTP.
#[derive(Clone, Debug)]
pub struct Crate {
    /// The crate name.
    pub name: String,
    /// The version.
    pub vers: String,
    /// The dependencies, in order.
    pub deps: Vec<Dep>,
    /// The `[features]` table: feature name → array of what it enables.
    pub features: Map<String, Value>,
    /// The `description` (`None` = absent).
    pub description: Option<String>,
    /// The `links` key (`None` = absent).
    pub links: Option<String>,
    /// The `rust-version` (`None` = absent).
    pub rust_version: Option<String>,
    /// Files besides Cargo.toml, relative to the crate root.
    pub files: Vec<(String, Vec<u8>)>,
    /// Name written into the packaged Cargo.toml (default: `name`).
    pub toml_name: Option<String>,
    /// Version written into the packaged Cargo.toml (default: `vers`).
    pub toml_vers: Option<String>,
    /// Leave Cargo.toml out of the `.crate`.
    pub omit_cargo_toml: bool,
}

impl Crate {
    /// `name` `vers` with a description, `license = "MIT"` and a `src/lib.rs`.
    pub fn new(name: &str, vers: &str) -> Crate {
        Crate {
            name: name.to_owned(),
            vers: vers.to_owned(),
            deps: Vec::new(),
            features: Map::new(),
            description: Some(format!("{name} test crate")),
            links: None,
            rust_version: None,
            files: vec![(
                "src/lib.rs".to_owned(),
                format!("pub const ID: &str = \"{name}@{vers}\";\n").into_bytes(),
            )],
            toml_name: None,
            toml_vers: None,
            omit_cargo_toml: false,
        }
    }

    /// Adds a dependency.
    pub fn dep(mut self, dep: Dep) -> Crate {
        self.deps.push(dep);
        self
    }

    /// Adds the feature `name` enabling `enables`.
    pub fn feature(mut self, name: &str, enables: &[&str]) -> Crate {
        self.features.insert(name.to_owned(), json!(enables));
        self
    }

    /// Sets the description.
    pub fn description(mut self, text: &str) -> Crate {
        self.description = Some(text.to_owned());
        self
    }

    /// Sets the `rust-version`.
    pub fn rust_version(mut self, v: &str) -> Crate {
        self.rust_version = Some(v.to_owned());
        self
    }

    /// Adds or replaces a file.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Crate {
        let contents = contents.into();
        match self.files.iter_mut().find(|(p, _)| p == path) {
            Some(entry) => entry.1 = contents,
            None => self.files.push((path.to_owned(), contents)),
        }
        self
    }

    /// The publish metadata exactly as cargo 1.95 shapes it (18 keys, nulls included).
    pub fn metadata(&self) -> Value {
        json!({
            "name": self.name,
            "vers": self.vers,
            "deps": self.deps.iter().map(Dep::publish_json).collect::<Vec<_>>(),
            "features": self.features,
            "authors": ["Alice <alice@example.test>"],
            "description": self.description,
            "documentation": null,
            "homepage": null,
            "readme": null,
            "readme_file": null,
            "keywords": [],
            "categories": [],
            "license": "MIT",
            "license_file": null,
            "repository": null,
            "badges": {},
            "links": self.links,
            "rust_version": self.rust_version,
        })
    }

    /// The normalized Cargo.toml packaged into the `.crate`.
    pub fn cargo_toml(&self) -> String {
        let name = self.toml_name.as_deref().unwrap_or(&self.name);
        let vers = self.toml_vers.as_deref().unwrap_or(&self.vers);
        let mut t = format!(
            "[package]\nedition = \"2021\"\nname = {}\nversion = {}\nlicense = \"MIT\"\n",
            toml_str(name),
            toml_str(vers)
        );
        if let Some(d) = &self.description {
            t.push_str(&format!("description = {}\n", toml_str(d)));
        }
        if let Some(rv) = &self.rust_version {
            t.push_str(&format!("rust-version = {}\n", toml_str(rv)));
        }
        t.push_str("\n[lib]\npath = \"src/lib.rs\"\n");
        if !self.features.is_empty() {
            t.push_str("\n[features]\n");
            for (k, v) in &self.features {
                t.push_str(&format!("{} = {}\n", toml_str(k), v));
            }
        }
        let sections = [
            ("dependencies", "normal"),
            ("dev-dependencies", "dev"),
            ("build-dependencies", "build"),
        ];
        for (section, kind) in sections {
            let mut plain = String::new();
            for d in self
                .deps
                .iter()
                .filter(|d| d.kind == kind && d.target.is_none())
            {
                plain.push_str(&d.toml_entry());
            }
            if !plain.is_empty() {
                t.push_str(&format!("\n[{section}]\n{plain}"));
            }
            for d in self
                .deps
                .iter()
                .filter(|d| d.kind == kind && d.target.is_some())
            {
                let target = d.target.as_deref().unwrap_or_default();
                t.push_str(&format!(
                    "\n[target.{}.{section}]\n{}",
                    toml_str(target),
                    d.toml_entry()
                ));
            }
        }
        t
    }

    /// The top directory inside the `.crate`: `{name}-{vers}`.
    pub fn top_dir(&self) -> String {
        format!("{}-{}", self.name, self.vers)
    }

    /// The `.crate` file (gzipped tar).
    pub fn crate_file(&self) -> Vec<u8> {
        let mut entries = Vec::new();
        if !self.omit_cargo_toml {
            entries.push(("Cargo.toml".to_owned(), self.cargo_toml().into_bytes()));
        }
        entries.extend(self.files.iter().cloned());
        let top = self.top_dir();
        let prefixed: Vec<(String, Vec<u8>)> = entries
            .into_iter()
            .map(|(p, c)| (format!("{top}/{p}"), c))
            .collect();
        tar_gz(&prefixed)
    }

    /// The framed publish body for `PUT …/api/v1/crates/new`.
    pub fn body(&self) -> Vec<u8> {
        frame(
            &serde_json::to_vec(&self.metadata()).expect("serialize"),
            &self.crate_file(),
        )
    }

    /// The index line the server must serve for this version (before comparison, see
    /// [`assert_index_line`]); `cksum` is the SHA-256 of `crate_file`.
    pub fn expected_index_line(&self, crate_file: &[u8], yanked: bool) -> Value {
        // Features using `dep:` or `?/` belong in `features2`, which makes the line schema v2.
        let new_syntax = |v: &Value| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .any(|s| s.starts_with("dep:") || s.contains("?/"))
            })
        };
        let (features2, features): (Map<String, Value>, Map<String, Value>) = self
            .features
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(_, v)| new_syntax(v));
        let v = if features2.is_empty() { 1 } else { 2 };
        let mut line = json!({
            "name": self.name,
            "vers": self.vers,
            "deps": self.deps.iter().map(Dep::index_json).collect::<Vec<_>>(),
            "cksum": sha256_hex(crate_file),
            "features": features,
            "yanked": yanked,
            "links": self.links,
            "rust_version": self.rust_version,
            "v": v,
        });
        if !features2.is_empty() {
            line["features2"] = Value::Object(features2);
        }
        line
    }
}

/// The binary publish framing: u32 LE JSON length, JSON, u32 LE crate length, crate bytes.
pub fn frame(json: &[u8], crate_file: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + json.len() + crate_file.len());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(json);
    out.extend_from_slice(&(crate_file.len() as u32).to_le_bytes());
    out.extend_from_slice(crate_file);
    out
}

/// A gzipped tar holding each `(path, contents)` as a regular file.
pub fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_153_704_088);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, contents.as_slice())
            .expect("append tar entry");
    }
    gzip(&builder.into_inner().expect("finish tar"))
}

/// gzip of `data`.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip finish")
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// The index file path of `name` (lower-cased): `1/a`, `2/ab`, `3/a/abc`, `se/rd/serde`.
pub fn index_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        0 => String::new(),
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", &lower[..1]),
        _ => format!("{}/{}/{lower}", &lower[..2], &lower[2..4]),
    }
}

/// `/{repo}/index/{index_path(name)}`.
pub fn index_url(repo: &str, name: &str) -> String {
    format!("/{repo}/index/{}", index_path(name))
}

/// Parses an index file: one compact JSON object per non-empty line.
pub fn parse_index(body: &str) -> Vec<Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("index line is not JSON ({e}): {l:?}"))
        })
        .collect()
}

/// `expected` with every null-valued key removed (recursively), so that an absent key and an
/// explicit null compare equal.
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Asserts that an index line carries every field of `expected` (null ≡ absent; `kind` absent ≡
/// `"normal"`; dependencies compared in any order); extra fields such as `v` or `pubtime` are
/// allowed.
pub fn assert_index_line(line: &Value, expected: &Value, what: &str) {
    let mut got = without_nulls(line);
    if let Some(deps) = got.get_mut("deps").and_then(Value::as_array_mut) {
        for d in deps.iter_mut() {
            if d.get("kind").is_none() {
                d["kind"] = json!("normal");
            }
        }
        deps.sort_by_key(|d| d.to_string());
    }
    let mut want = without_nulls(expected);
    if let Some(deps) = want.get_mut("deps").and_then(Value::as_array_mut) {
        deps.sort_by_key(|d| d.to_string());
    }
    for (key, value) in want.as_object().expect("expected line is an object") {
        assert_eq!(
            got.get(key),
            Some(value),
            "{what}: index field `{key}` differs\n  line: {line}\n  want: {expected}"
        );
    }
    for key in ["name", "vers", "deps", "cksum", "features", "yanked"] {
        assert!(
            line.get(key).is_some(),
            "{what}: index line lacks required `{key}`: {line}"
        );
    }
    for key in ["optional", "default_features", "features", "req", "name"] {
        for d in line["deps"].as_array().into_iter().flatten() {
            assert!(
                d.get(key).is_some(),
                "{what}: dependency lacks `{key}` (cargo < 1.84 needs it): {d}"
            );
        }
    }
}

/// `s` as a TOML basic string (quoted; `"`, `\` and newlines escaped).
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
