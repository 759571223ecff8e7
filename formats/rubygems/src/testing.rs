//! Test gems for the RubyGems routes, built in Rust exactly the way `gem build` (RubyGems 3.3.15)
//! lays them out: an uncompressed ustar archive holding `metadata.gz` (gzip of the YAML gemspec,
//! copied field for field from a real `gem build` output), `data.tar.gz` and `checksums.yaml.gz`
//! (SHA256 and SHA512 of the other two members). Also: a raw tar writer for malformed archives
//! (paths outside, links, devices), parsers for the compact index (`versions`, `info/NAME`) and the
//! digests the protocol uses. Protocol: /work/shared/protocols/rubygems.md §3 and §5.
//!
//! Feature `testing`: used by the integration tests of the packgate server.
#![allow(
    clippy::expect_used,
    reason = "test builders: a panic is how the test using them fails"
)]

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// The date `gem build` writes (midnight UTC); fixed so identical inputs give identical files.
const DATE: &str = "2024-01-01 00:00:00.000000000 Z";
/// The modification time of every tar entry (2024-01-01T00:00:00Z).
const MTIME: u64 = 1_704_067_200;

/// One dependency of a gemspec.
#[derive(Clone, Debug)]
pub struct GemDep {
    /// The gem name.
    pub name: String,
    /// Constraints as `OP VERSION`, e.g. `~> 1.0`.
    pub reqs: Vec<String>,
    /// A development dependency (`:development`, never in the compact index).
    pub development: bool,
}

/// A gem to push over HTTP.
#[derive(Clone, Debug)]
pub struct Gem {
    /// The gem name.
    pub name: String,
    /// The version (without the platform).
    pub version: String,
    /// `None` = the `ruby` platform.
    pub platform: Option<String>,
    /// Runtime and development dependencies, in order.
    pub deps: Vec<GemDep>,
    /// `required_ruby_version` constraints; empty = `>= 0`.
    pub required_ruby: Vec<String>,
    /// `required_rubygems_version` constraints; `None` = what `gem build` writes (`> 1.3.1` for a
    /// prerelease, else `>= 0`).
    pub required_rubygems: Option<Vec<String>>,
    /// Files of `data.tar.gz`.
    pub files: Vec<(String, Vec<u8>)>,
    /// The `summary`.
    pub summary: String,
}

impl Gem {
    /// A pure-Ruby gem with one file `lib/{name}.rb`.
    pub fn new(name: &str, version: &str) -> Gem {
        Gem {
            name: name.to_owned(),
            version: version.to_owned(),
            platform: None,
            deps: Vec::new(),
            required_ruby: Vec::new(),
            required_rubygems: None,
            files: vec![(
                format!("lib/{name}.rb"),
                format!("# {name} {version}\nPG_TEST_VERSION = {version:?}\n").into_bytes(),
            )],
            summary: format!("{name} test gem"),
        }
    }

    /// Sets the platform (`x86_64-linux`, `java`, ...).
    pub fn platform(mut self, platform: &str) -> Gem {
        self.platform = Some(platform.to_owned());
        self
    }

    /// A runtime dependency.
    pub fn dep(mut self, name: &str, reqs: &[&str]) -> Gem {
        self.deps.push(GemDep {
            name: name.to_owned(),
            reqs: reqs.iter().map(|r| r.to_string()).collect(),
            development: false,
        });
        self
    }

    /// A development dependency (never in the compact index).
    pub fn dev_dep(mut self, name: &str, reqs: &[&str]) -> Gem {
        self.deps.push(GemDep {
            name: name.to_owned(),
            reqs: reqs.iter().map(|r| r.to_string()).collect(),
            development: true,
        });
        self
    }

    /// Sets the `required_ruby_version` constraints.
    pub fn required_ruby(mut self, reqs: &[&str]) -> Gem {
        self.required_ruby = reqs.iter().map(|r| r.to_string()).collect();
        self
    }

    /// Sets the `required_rubygems_version` constraints.
    pub fn required_rubygems(mut self, reqs: &[&str]) -> Gem {
        self.required_rubygems = Some(reqs.iter().map(|r| r.to_string()).collect());
        self
    }

    /// Adds (or replaces) a file of `data.tar.gz`.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Gem {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_owned(), contents.into()));
        self
    }

    /// Sets the summary.
    pub fn summary(mut self, text: &str) -> Gem {
        self.summary = text.to_owned();
        self
    }

    /// `ruby` or the platform.
    pub fn platform_str(&self) -> &str {
        self.platform.as_deref().unwrap_or("ruby")
    }

    /// `VERSION` or `VERSION-PLATFORM`, as in file names and compact-index lines.
    pub fn full_version(&self) -> String {
        match &self.platform {
            Some(p) if p != "ruby" => format!("{}-{p}", self.version),
            _ => self.version.clone(),
        }
    }

    /// `{name}-{version}[-{platform}].gem`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.gem", self.name, self.full_version())
    }

    /// `{name}-{version}[-{platform}]`, the stem of the quick spec.
    pub fn spec_stem(&self) -> String {
        format!("{}-{}", self.name, self.full_version())
    }

    /// Whether the version is a prerelease (contains a letter), as RubyGems decides it.
    pub fn is_prerelease(&self) -> bool {
        self.version.chars().any(|c| c.is_ascii_alphabetic())
    }

    fn rubygems_reqs(&self) -> Vec<String> {
        match &self.required_rubygems {
            Some(r) => r.clone(),
            None if self.is_prerelease() => vec!["> 1.3.1".to_owned()],
            None => Vec::new(),
        }
    }

    /// The gemspec YAML, laid out like RubyGems 3.3.15's `Gem::Specification#to_yaml`.
    pub fn spec_yaml(&self) -> String {
        let mut y = String::from("--- !ruby/object:Gem::Specification\n");
        y.push_str(&format!("name: {}\n", yaml_scalar(&self.name)));
        y.push_str(&format!(
            "version: !ruby/object:Gem::Version\n  version: {}\n",
            yaml_scalar(&self.version)
        ));
        y.push_str(&format!("platform: {}\n", yaml_scalar(self.platform_str())));
        y.push_str("authors:\n- packgate tests\nautorequire:\nbindir: bin\ncert_chain: []\n");
        y.push_str(&format!("date: {DATE}\n"));
        if self.deps.is_empty() {
            y.push_str("dependencies: []\n");
        } else {
            y.push_str("dependencies:\n");
            for d in &self.deps {
                y.push_str("- !ruby/object:Gem::Dependency\n");
                y.push_str(&format!("  name: {}\n", yaml_scalar(&d.name)));
                y.push_str("  requirement: ");
                y.push_str(&requirement_yaml(&d.reqs, 2));
                let kind = if d.development {
                    "development"
                } else {
                    "runtime"
                };
                y.push_str(&format!("  type: :{kind}\n  prerelease: false\n"));
                y.push_str("  version_requirements: ");
                y.push_str(&requirement_yaml(&d.reqs, 2));
            }
        }
        y.push_str("description:\nemail:\nexecutables: []\nextensions: []\nextra_rdoc_files: []\n");
        y.push_str("files:\n");
        for (path, _) in &self.files {
            y.push_str(&format!("- {}\n", yaml_scalar(path)));
        }
        y.push_str("homepage:\nlicenses:\n- MIT\nmetadata: {}\npost_install_message:\n");
        y.push_str("rdoc_options: []\nrequire_paths:\n- lib\n");
        y.push_str("required_ruby_version: ");
        y.push_str(&requirement_yaml(&self.required_ruby, 0));
        y.push_str("required_rubygems_version: ");
        y.push_str(&requirement_yaml(&self.rubygems_reqs(), 0));
        y.push_str("requirements: []\nrubygems_version: 3.3.15\nsigning_key:\n");
        y.push_str("specification_version: 4\n");
        y.push_str(&format!("summary: {}\n", yaml_scalar(&self.summary)));
        y.push_str("test_files: []\n");
        y
    }

    /// gzip of [`Gem::spec_yaml`].
    pub fn metadata_gz(&self) -> Vec<u8> {
        gzip(self.spec_yaml().as_bytes())
    }

    /// gzip of a ustar archive of the files (mode 0644, owner wheel, like `gem build`).
    pub fn data_tar_gz(&self) -> Vec<u8> {
        let entries: Vec<TarEntry> = self
            .files
            .iter()
            .map(|(p, c)| TarEntry::file(p, c.clone()).mode(0o644))
            .collect();
        gzip(&tar(&entries))
    }

    /// The three standard members.
    pub fn parts(&self) -> GemParts {
        let metadata_gz = self.metadata_gz();
        let data_tar_gz = self.data_tar_gz();
        let checksums = checksums_yaml(&metadata_gz, &data_tar_gz);
        GemParts {
            metadata_gz,
            data_tar_gz,
            checksums_yaml_gz: Some(gzip(checksums.as_bytes())),
        }
    }

    /// The `.gem` file.
    pub fn gem_file(&self) -> Vec<u8> {
        self.parts().assemble()
    }

    /// The compact-index line `info/NAME` must carry for this gem pushed as `gem_file`.
    pub fn expected_info(&self, gem_file: &[u8]) -> InfoLine {
        let mut deps = BTreeMap::new();
        for d in self.deps.iter().filter(|d| !d.development) {
            let reqs = if d.reqs.is_empty() {
                vec![">= 0".to_owned()]
            } else {
                d.reqs.clone()
            };
            deps.insert(d.name.clone(), reqs.into_iter().collect::<BTreeSet<_>>());
        }
        let mut reqs = BTreeMap::new();
        reqs.insert(
            "checksum".to_owned(),
            BTreeSet::from([sha256_hex(gem_file)]),
        );
        for (key, list) in [
            ("ruby", self.required_ruby.clone()),
            ("rubygems", self.rubygems_reqs()),
        ] {
            if !list.is_empty() && list != [">= 0"] {
                reqs.insert(key.to_owned(), list.into_iter().collect());
            }
        }
        InfoLine {
            version: self.full_version(),
            deps,
            reqs,
        }
    }
}

/// `requirements:` block of a `Gem::Requirement` (`>= 0` when `reqs` is empty), starting after
/// the key (the tag line), indented by `indent` spaces.
fn requirement_yaml(reqs: &[String], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut y = format!("!ruby/object:Gem::Requirement\n{pad}  requirements:\n");
    let default = [">= 0".to_owned()];
    let list = if reqs.is_empty() { &default[..] } else { reqs };
    for r in list {
        let (op, version) = split_constraint(r);
        y.push_str(&format!("{pad}  - - \"{op}\"\n"));
        y.push_str(&format!("{pad}    - !ruby/object:Gem::Version\n"));
        y.push_str(&format!("{pad}      version: {}\n", yaml_scalar(version)));
    }
    y
}

/// `"~> 1.0"` → (`~>`, `1.0`); a bare version means `=`.
pub fn split_constraint(c: &str) -> (&str, &str) {
    let c = c.trim();
    for op in ["~>", ">=", "<=", "!=", ">", "<", "="] {
        if let Some(rest) = c.strip_prefix(op) {
            return (op, rest.trim());
        }
    }
    ("=", c)
}

/// A YAML scalar the way Psych writes it: plain when unambiguous, single-quoted when it would read
/// as a number, double-quoted when it needs escaping.
pub fn yaml_scalar(s: &str) -> String {
    let numeric = s.parse::<f64>().is_ok() || s.parse::<i64>().is_ok();
    let keyword = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~" | "y" | "n"
    );
    let special = s.is_empty()
        || s.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`".contains(c))
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control());
    if special {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    } else if numeric || keyword {
        format!("'{s}'")
    } else {
        s.to_owned()
    }
}

/// `checksums.yaml` as `gem build` writes it.
pub fn checksums_yaml(metadata_gz: &[u8], data_tar_gz: &[u8]) -> String {
    let sha512 = |d: &[u8]| hex::encode(Sha512::digest(d));
    format!(
        "---\nSHA256:\n  metadata.gz: {}\n  data.tar.gz: {}\nSHA512:\n  metadata.gz: {}\n  data.tar.gz: {}\n",
        sha256_hex(metadata_gz),
        sha256_hex(data_tar_gz),
        sha512(metadata_gz),
        sha512(data_tar_gz)
    )
}

/// The members of a `.gem`, to be tampered with before [`GemParts::assemble`].
#[derive(Clone, Debug)]
pub struct GemParts {
    /// `metadata.gz`: the gzipped gemspec YAML.
    pub metadata_gz: Vec<u8>,
    /// `data.tar.gz`: the gzipped tar of the files.
    pub data_tar_gz: Vec<u8>,
    /// `checksums.yaml.gz` (`None` = left out of the `.gem`).
    pub checksums_yaml_gz: Option<Vec<u8>>,
}

impl GemParts {
    /// The outer archive in `gem build`'s member order (mode 0444).
    pub fn assemble(&self) -> Vec<u8> {
        let mut entries = vec![
            TarEntry::file("metadata.gz", self.metadata_gz.clone()),
            TarEntry::file("data.tar.gz", self.data_tar_gz.clone()),
        ];
        if let Some(c) = &self.checksums_yaml_gz {
            entries.push(TarEntry::file("checksums.yaml.gz", c.clone()));
        }
        tar(&entries)
    }

    /// The three standard members with the checksums recomputed for the current contents.
    pub fn with_fresh_checksums(mut self) -> GemParts {
        let checksums = checksums_yaml(&self.metadata_gz, &self.data_tar_gz);
        self.checksums_yaml_gz = Some(gzip(checksums.as_bytes()));
        self
    }
}

/// One entry of a raw tar archive; the name is written verbatim (no path validation), so entries
/// may escape the archive root.
#[derive(Clone, Debug)]
pub struct TarEntry {
    /// The path, written verbatim.
    pub name: String,
    /// The entry type.
    pub kind: tar::EntryType,
    /// The contents.
    pub data: Vec<u8>,
    /// The link target of a symlink or hard link.
    pub link: Option<String>,
    /// The permission bits.
    pub mode: u32,
}

impl TarEntry {
    /// A regular file (mode 0444, like the members of a `.gem`).
    pub fn file(name: &str, data: impl Into<Vec<u8>>) -> TarEntry {
        TarEntry {
            name: name.to_owned(),
            kind: tar::EntryType::Regular,
            data: data.into(),
            link: None,
            mode: 0o444,
        }
    }

    /// A symlink `name` → `target`.
    pub fn symlink(name: &str, target: &str) -> TarEntry {
        TarEntry {
            name: name.to_owned(),
            kind: tar::EntryType::Symlink,
            data: Vec::new(),
            link: Some(target.to_owned()),
            mode: 0o777,
        }
    }

    /// A hard link `name` → `target`.
    pub fn hardlink(name: &str, target: &str) -> TarEntry {
        TarEntry {
            kind: tar::EntryType::Link,
            ..TarEntry::symlink(name, target)
        }
    }

    /// A character device (1, 3: `/dev/null`).
    pub fn char_device(name: &str) -> TarEntry {
        TarEntry {
            name: name.to_owned(),
            kind: tar::EntryType::Char,
            data: Vec::new(),
            link: None,
            mode: 0o644,
        }
    }

    /// Sets the permission bits.
    pub fn mode(mut self, mode: u32) -> TarEntry {
        self.mode = mode;
        self
    }
}

/// An uncompressed ustar archive of `entries` (owner `wheel`, fixed mtime).
pub fn tar(entries: &[TarEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_ustar();
        let name = e.name.as_bytes();
        assert!(name.len() <= 100, "tar entry name too long: {}", e.name);
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(link) = &e.link {
            let link = link.as_bytes();
            assert!(link.len() <= 100, "tar link name too long");
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        }
        header.set_entry_type(e.kind);
        header.set_size(e.data.len() as u64);
        header.set_mode(e.mode);
        header.set_mtime(MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("wheel").expect("username");
        header.set_groupname("wheel").expect("groupname");
        if e.kind == tar::EntryType::Char {
            header.set_device_major(1).expect("major");
            header.set_device_minor(3).expect("minor");
        }
        header.set_cksum();
        builder
            .append(&header, e.data.as_slice())
            .expect("append tar entry");
    }
    builder.into_inner().expect("finish tar")
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// Decompresses gzip `data`; panics when it is not gzip.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(data), &mut out)
        .unwrap_or_else(|e| panic!("not gzip ({e}): {} bytes", data.len()));
    out
}

/// zlib (RFC 1950) decompression, as used by the quick specs.
pub fn inflate_zlib(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(data), &mut out)
        .unwrap_or_else(|e| panic!("not zlib ({e}): {} bytes", data.len()));
    out
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lower-case hex MD5 (the compact index's ETags and `versions` lines).
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// `sha-256=:<base64 SHA-256>:`, the `Repr-Digest` value of `data`.
pub fn repr_digest(data: &[u8]) -> String {
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data))
    )
}

/// One line of `info/NAME`, parsed: `VERSION[-PLATFORM] deps|reqs`. Constraints are sets, so
/// their order on the wire does not matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoLine {
    /// `VERSION` or `VERSION-PLATFORM`.
    pub version: String,
    /// Runtime dependency name → constraints (`~> 1.0`).
    pub deps: BTreeMap<String, BTreeSet<String>>,
    /// `checksum` → {hex}, `ruby`/`rubygems` → constraints.
    pub reqs: BTreeMap<String, BTreeSet<String>>,
}

/// Parses `info/NAME`: `---` then one strictly formed line per version. Panics with the body on
/// any deviation.
pub fn parse_info(body: &str) -> Vec<InfoLine> {
    assert!(
        body.starts_with("---\n"),
        "info must start with `---\\n`: {body:?}"
    );
    assert!(
        body.ends_with('\n'),
        "info must end with a newline: {body:?}"
    );
    body["---\n".len()..]
        .lines()
        .map(|line| parse_info_line(line).unwrap_or_else(|e| panic!("{e}: {line:?} in {body:?}")))
        .collect()
}

fn parse_info_line(line: &str) -> Result<InfoLine, String> {
    let (version, rest) = line.split_once(' ').ok_or("no space after the version")?;
    if version.is_empty() || rest.starts_with(' ') {
        return Err("exactly one space must follow a non-empty version".into());
    }
    let (deps_part, reqs_part) = rest.split_once('|').ok_or("no `|` in the line")?;
    let constraints = |s: &str| -> Result<BTreeSet<String>, String> {
        s.split('&')
            .map(|c| {
                let (op, v) = split_constraint(c);
                if v.is_empty() || v.contains(' ') || !c.starts_with(op) || c != format!("{op} {v}")
                {
                    Err(format!("bad constraint {c:?}"))
                } else {
                    Ok(c.to_owned())
                }
            })
            .collect()
    };
    let mut deps = BTreeMap::new();
    if !deps_part.is_empty() {
        for dep in deps_part.split(',') {
            let (name, reqs) = dep.split_once(':').ok_or("dependency without `:`")?;
            if deps.insert(name.to_owned(), constraints(reqs)?).is_some() {
                return Err(format!("dependency {name} listed twice"));
            }
        }
    }
    let mut reqs = BTreeMap::new();
    for req in reqs_part.split(',') {
        let (key, value) = req.split_once(':').ok_or("requirement without `:`")?;
        let set = if key == "checksum" {
            BTreeSet::from([value.to_owned()])
        } else {
            constraints(value)?
        };
        if reqs.insert(key.to_owned(), set).is_some() {
            return Err(format!("requirement {key} listed twice"));
        }
    }
    Ok(InfoLine {
        version: version.to_owned(),
        deps,
        reqs,
    })
}

/// One gem line of `versions`: `NAME VERSIONS MD5` (a version prefixed with `-` is a yank).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionsLine {
    /// The gem name.
    pub name: String,
    /// The versions of the line, in order (`-VERSION` = yanked).
    pub versions: Vec<String>,
    /// The lower-case MD5 hex of the gem's `info/NAME`.
    pub md5: String,
}

/// Parses `versions`: a `created_at:` line, `---`, then gem lines. Panics on any deviation.
pub fn parse_versions(body: &str) -> Vec<VersionsLine> {
    assert!(
        body.starts_with("created_at: "),
        "versions must start with `created_at: `: {body:?}"
    );
    assert!(
        body.ends_with('\n'),
        "versions must end with a newline: {body:?}"
    );
    let (_, rest) = body
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("versions has no `---` line: {body:?}"));
    rest.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(
                fields.len(),
                3,
                "versions line must be `NAME VERSIONS MD5`: {line:?}"
            );
            let md5 = fields[2];
            assert!(
                md5.len() == 32
                    && md5
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "versions line must end with a lower-case MD5: {line:?}"
            );
            let versions: Vec<String> = fields[1].split(',').map(str::to_owned).collect();
            assert!(
                versions.iter().all(|v| !v.is_empty() && v != "-"),
                "empty version in {line:?}"
            );
            VersionsLine {
                name: fields[0].to_owned(),
                versions,
                md5: md5.to_owned(),
            }
        })
        .collect()
}

/// What Bundler makes of `versions`: per name, the live versions (in order, yanks applied) and
/// the MD5 of the last line naming it.
pub fn versions_state(lines: &[VersionsLine]) -> BTreeMap<String, (Vec<String>, String)> {
    let mut state: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    for l in lines {
        let entry = state.entry(l.name.clone()).or_default();
        for v in &l.versions {
            match v.strip_prefix('-') {
                Some(yanked) => entry.0.retain(|x| x != yanked),
                None => {
                    if !entry.0.contains(v) {
                        entry.0.push(v.clone());
                    }
                }
            }
        }
        entry.1 = l.md5.clone();
    }
    state
}
