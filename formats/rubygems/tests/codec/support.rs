//! Fixture builders shared by the codec tests: the real `gem build` files, outer `.gem` tars,
//! `data.tar.gz` archives with hostile entries, and `checksums.yaml` documents.

use std::io::Read;
use std::path::PathBuf;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256, Sha512};

pub use packgate_archive::testing::{Item, Trickle, gzip};

/// The bytes of `tests/fixtures/{name}`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The real `gem build` output of RubyGems 3.3.15 for `demo-0.1.0` (two runtime and one
/// development dependency, `required_ruby_version >= 2.7`, metadata).
pub fn demo_gem() -> Vec<u8> {
    fixture("gem-3.3.15-demo.gem")
}

/// The real `gem build` output for `native_ext-1.0.0.pre.beta-x86_64-linux`.
pub fn platform_gem() -> Vec<u8> {
    fixture("gem-3.3.15-platform.gem")
}

/// gunzip of arbitrary bytes.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

/// The members of an (uncompressed) `.gem`, in order.
pub fn members(gem: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(gem);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

/// The member `name` of a `.gem`.
pub fn member(gem: &[u8], name: &str) -> Vec<u8> {
    members(gem).into_iter().find(|(n, _)| n == name).unwrap().1
}

/// The gemspec YAML inside a `.gem`.
pub fn spec_yaml(gem: &[u8]) -> String {
    String::from_utf8(gunzip(&member(gem, "metadata.gz"))).unwrap()
}

/// An uncompressed tar of `items` with ustar headers, names and link targets written raw, as
/// RubyGems' TarWriter writes them.
pub fn tar(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o444);
        h.set_size(0);
        let (path, data, kind): (&str, &[u8], _) = match item {
            Item::File(p, d) | Item::RawPath(p, d) => (p, d, tar::EntryType::Regular),
            Item::Dir(p) => (p, b"", tar::EntryType::Directory),
            Item::Symlink(p, _) => (p, b"", tar::EntryType::Symlink),
            Item::HardLink(p, _) => (p, b"", tar::EntryType::Link),
            Item::CharDevice(p) => (p, b"", tar::EntryType::Char),
            Item::Fifo(p) => (p, b"", tar::EntryType::Fifo),
        };
        h.set_size(data.len() as u64);
        h.set_entry_type(kind);
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        if let Item::Symlink(_, target) | Item::HardLink(_, target) = item {
            h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A gzipped tar of `items`: a `data.tar.gz`.
pub fn tgz(items: &[Item<'_>]) -> Vec<u8> {
    gzip(&tar(items))
}

/// `checksums.yaml` as RubyGems 3.x writes it, for the given members.
pub fn checksums_yaml(files: &[(&str, &[u8])]) -> String {
    let mut out = String::from("---\nSHA256:\n");
    for (name, data) in files {
        out += &format!("  {name}: {}\n", hex::encode(Sha256::digest(data)));
    }
    out += "SHA512:\n";
    for (name, data) in files {
        out += &format!("  {name}: {}\n", hex::encode(Sha512::digest(data)));
    }
    out
}

/// A minimal gemspec YAML for `name` / `version`.
pub fn minimal_yaml(name: &str, version: &str) -> String {
    format!(
        "--- !ruby/object:Gem::Specification\nname: {name}\nversion: !ruby/object:Gem::Version\n  \
         version: {version}\nplatform: ruby\nauthors:\n- A\nsummary: s\n"
    )
}

/// A `.gem` holding `metadata.gz` (from `yaml`), `data.tar.gz` (from `data`) and a matching
/// `checksums.yaml.gz`.
pub fn gem_with(yaml: &str, data: &[u8]) -> Vec<u8> {
    let metadata = gzip(yaml.as_bytes());
    let checksums =
        gzip(checksums_yaml(&[("metadata.gz", &metadata), ("data.tar.gz", data)]).as_bytes());
    tar(&[
        Item::File("metadata.gz", &metadata),
        Item::File("data.tar.gz", data),
        Item::File("checksums.yaml.gz", &checksums),
    ])
}
