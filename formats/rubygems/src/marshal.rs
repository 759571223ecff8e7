//! The legacy index documents in Ruby Marshal 4.8: `specs.4.8.gz`, `latest_specs.4.8.gz`,
//! `prerelease_specs.4.8.gz` and `quick/Marshal.4.8/{full name}.gemspec.rz`.
//!
//! Follows the RubyGems protocol reference §4 (which file holds what), §7.2 (the specs files)
//! and §7.3 (the quick spec), and §10 pitfalls 8 and 9. Only what `Gem::SafeMarshal` (RubyGems
//! ≥ 3.4) allows is written: the classes `Gem::Specification`, `Gem::Version`,
//! `Gem::Requirement` and `Gem::Dependency`; the symbols `E`, `runtime` and `development`; the
//! ivars `@name @requirement @type @prerelease` on `Gem::Dependency`; String hash keys only.
//! Never a symbol link or an object link. See `docs/formats/rubygems.md`.

use std::io::Write;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};

use crate::gem::GemSpec;

mod writer;

use writer::Writer;

/// `specification_version` written into quick specs: the current gemspec format.
const SPECIFICATION_VERSION: i32 = 4;

/// `rubygems_version` for a spec that does not say which RubyGems built it: the version the
/// Marshal layouts were checked with (protocol §7).
const FALLBACK_RUBYGEMS_VERSION: &str = "3.3.15";

/// `gzip(Marshal([[name, Gem::Version(v), platform], ...]))` for specs.4.8.gz / latest_specs /
/// prerelease_specs (the caller passes the tuples already filtered and sorted).
pub fn specs_file(tuples: &[(String, String, String)]) -> Vec<u8> {
    gzip(&specs_marshal(tuples))
}

/// The Marshal stream inside [`specs_file`], before gzip (protocol §7.2 shows its bytes).
pub fn specs_marshal(tuples: &[(String, String, String)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(tuples.len());
    for (name, version, platform) in tuples {
        w.array(3);
        w.string(name);
        w.version(version);
        w.string(platform);
    }
    w.finish()
}

/// zlib-deflate(Marshal(u :Gem::Specification <19-element array>)) for
/// `quick/Marshal.4.8/NAME-VERSION[-PLATFORM].gemspec.rz`.
pub fn quick_spec(spec: &GemSpec) -> Vec<u8> {
    zlib(&quick_spec_marshal(spec))
}

/// The Marshal stream inside [`quick_spec`], before zlib: `04 08 u :Gem::Specification` and
/// the inner stream of the 19-element array (protocol §7.3 lists the elements).
pub fn quick_spec_marshal(spec: &GemSpec) -> Vec<u8> {
    let mut w = Writer::new();
    w.user_defined("Gem::Specification", &spec_array(spec));
    w.finish()
}

/// The inner stream: `Gem::Specification#_dump`'s array.
fn spec_array(spec: &GemSpec) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(19);
    w.string(
        spec.rubygems_version
            .as_deref()
            .unwrap_or(FALLBACK_RUBYGEMS_VERSION),
    );
    w.int(SPECIFICATION_VERSION);
    w.string(&spec.name);
    w.version(&spec.version);
    // date: nil makes the loader use today (Gitea writes it the same way).
    w.nil();
    w.string(spec.summary.as_deref().unwrap_or(""));
    w.requirement(&spec.required_ruby_version);
    w.requirement(&spec.required_rubygems_version);
    w.string(&spec.platform);
    w.array(spec.dependencies.len());
    for dep in &spec.dependencies {
        w.object("Gem::Dependency", 4);
        w.symbol("@name");
        w.string(&dep.name);
        w.symbol("@requirement");
        w.requirement(&dep.requirements);
        w.symbol("@type");
        w.symbol(if dep.runtime {
            "runtime"
        } else {
            "development"
        });
        w.symbol("@prerelease");
        w.bool(false);
    }
    // rubyforge_project
    w.string("");
    match spec.email.as_slice() {
        [] => w.nil(),
        [one] => w.string(one),
        many => strings(&mut w, many),
    }
    strings(&mut w, &spec.authors);
    optional(&mut w, spec.description.as_deref());
    optional(&mut w, spec.homepage.as_deref());
    // has_rdoc
    w.bool(true);
    // new platform: RubyGems 3.3 reads the platform from here.
    w.string(&spec.platform);
    strings(&mut w, &spec.licenses);
    w.hash(spec.metadata.len());
    for (key, value) in &spec.metadata {
        w.string(key);
        w.string(value);
    }
    w.finish()
}

/// An array of strings.
fn strings(w: &mut Writer, items: &[String]) {
    w.array(items.len());
    for item in items {
        w.string(item);
    }
}

/// A string or nil.
fn optional(w: &mut Writer, s: Option<&str>) {
    match s {
        Some(s) => w.string(s),
        None => w.nil(),
    }
}

/// gzip with a zero mtime, so equal input gives equal bytes.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(data);
    gz.finish().unwrap_or_default()
}

/// zlib (RFC 1950), not gzip: quick specs are read with `Zlib::Inflate` (§10 pitfall 9).
fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}
