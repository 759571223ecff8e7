//! Test packages for the NuGet routes, built in memory: a `.nupkg` is a zip holding
//! `_rels/.rels`, the `{id}.nuspec` manifest at the root (2013/05 namespace), the package files
//! (by default a placeholder `lib/netstandard2.0/{id}.dll`) and `[Content_Types].xml`; a `.snupkg`
//! (`Nupkg::symbols`) declares the `SymbolsPackage` type and carries a placeholder portable PDB
//! instead. Also raw zip writers for malformed archives: `zip_of` (any entries, deflated),
//! `RawEntry` + `raw_zip` (hand-written headers: lying sizes, wrong CRCs, zip bombs built from a
//! repeated deflate block without ever holding the inflated bytes). Protocol:
//! /work/shared/protocols/nuget.md §3 and §7.
//!
//! Feature `testing`: used by the integration tests of the packgate server.
#![allow(
    clippy::expect_used,
    reason = "test builders: a panic is how the test using them fails"
)]

use flate2::{Compress, Compression, Crc, FlushCompress};
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The nuspec namespace NuGet 5+ writes.
pub const NUSPEC_NS: &str = "http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd";

/// One `<group>` of `<dependencies>`: target framework (`None` = no attribute) and (id, range)
/// pairs (an empty range = no `version` attribute).
#[derive(Clone, Debug)]
pub struct DepGroup {
    /// The `targetFramework` attribute (`None` = absent).
    pub target_framework: Option<String>,
    /// The dependencies as (id, version range); an empty range = no `version` attribute.
    pub deps: Vec<(String, String)>,
}

/// A package to push: `Nupkg::new("Acme.Widget", "1.0.0").description("…").bytes()`.
#[derive(Clone, Debug)]
pub struct Nupkg {
    /// The package id.
    pub id: String,
    /// The version.
    pub version: String,
    /// `<authors>`.
    pub authors: String,
    /// `<description>`.
    pub description: String,
    /// `<title>` (`None` = absent).
    pub title: Option<String>,
    /// `<tags>`, space-separated (`None` = absent).
    pub tags: Option<String>,
    /// `<license type="expression">` (`None` = absent).
    pub license_expression: Option<String>,
    /// `<packageType name="…"/>` entries.
    pub package_types: Vec<String>,
    /// `<group>`s of `<dependencies>`.
    pub dep_groups: Vec<DepGroup>,
    /// Flat `<dependency>` elements directly under `<dependencies>` (pre-2.0 nuspec style).
    pub legacy_deps: Vec<(String, String)>,
    /// Files besides the manifest, in order.
    pub files: Vec<(String, Vec<u8>)>,
    /// Replaces the generated nuspec text verbatim.
    pub nuspec_override: Option<String>,
    /// A `.snupkg` (see [`Nupkg::symbols`]).
    pub symbols: bool,
}

impl Nupkg {
    /// A package with a placeholder `lib/netstandard2.0/{id}.dll`.
    pub fn new(id: &str, version: &str) -> Nupkg {
        Nupkg {
            id: id.to_owned(),
            version: version.to_owned(),
            authors: "packgate tests".to_owned(),
            description: format!("{id} test package"),
            title: None,
            tags: None,
            license_expression: None,
            package_types: Vec::new(),
            dep_groups: Vec::new(),
            legacy_deps: Vec::new(),
            files: vec![(
                format!("lib/netstandard2.0/{id}.dll"),
                format!("MZ placeholder assembly of {id} {version}\n").into_bytes(),
            )],
            nuspec_override: None,
            symbols: false,
        }
    }

    /// Sets `<authors>`.
    pub fn authors(mut self, authors: &str) -> Nupkg {
        self.authors = authors.to_owned();
        self
    }

    /// Sets `<description>`.
    pub fn description(mut self, text: &str) -> Nupkg {
        self.description = text.to_owned();
        self
    }

    /// Space-separated tags.
    pub fn tags(mut self, tags: &str) -> Nupkg {
        self.tags = Some(tags.to_owned());
        self
    }

    /// Sets `<title>`.
    pub fn title(mut self, title: &str) -> Nupkg {
        self.title = Some(title.to_owned());
        self
    }

    /// A `<group>` (with `targetFramework` when given) holding `deps` as (id, range).
    pub fn dep_group(mut self, tfm: Option<&str>, deps: &[(&str, &str)]) -> Nupkg {
        self.dep_groups.push(DepGroup {
            target_framework: tfm.map(str::to_owned),
            deps: deps
                .iter()
                .map(|(i, r)| (i.to_string(), r.to_string()))
                .collect(),
        });
        self
    }

    /// Flat `<dependency>` elements without any `<group>`.
    pub fn legacy_deps(mut self, deps: &[(&str, &str)]) -> Nupkg {
        self.legacy_deps
            .extend(deps.iter().map(|(i, r)| (i.to_string(), r.to_string())));
        self
    }

    /// Adds `<packageType name="…"/>`.
    pub fn package_type(mut self, name: &str) -> Nupkg {
        self.package_types.push(name.to_owned());
        self
    }

    /// `<license type="expression">…</license>`.
    pub fn license_expression(mut self, expr: &str) -> Nupkg {
        self.license_expression = Some(expr.to_owned());
        self
    }

    /// Adds (or replaces) a file of the package.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Nupkg {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_owned(), contents.into()));
        self
    }

    /// Uses `xml` verbatim as the manifest.
    pub fn nuspec_override(mut self, xml: &str) -> Nupkg {
        self.nuspec_override = Some(xml.to_owned());
        self
    }

    /// Turns this into a `.snupkg`: the `SymbolsPackage` type, and a placeholder portable PDB
    /// `lib/netstandard2.0/{id}.pdb` instead of the assembly.
    pub fn symbols(mut self) -> Nupkg {
        self.symbols = true;
        let id = self.id.clone();
        let version = self.version.clone();
        self.files.retain(|(p, _)| !p.ends_with(".dll"));
        self.files.push((
            format!("lib/netstandard2.0/{id}.pdb"),
            format!("BSJB placeholder portable pdb of {id} {version}\n").into_bytes(),
        ));
        self
    }

    /// `{id}.nuspec`, the manifest entry name.
    pub fn nuspec_name(&self) -> String {
        format!("{}.nuspec", self.id)
    }

    /// `{id}.{version}.nupkg` (or `.snupkg`), as `nuget pack` names it.
    pub fn file_name(&self) -> String {
        let ext = if self.symbols { "snupkg" } else { "nupkg" };
        format!("{}.{}.{ext}", self.id, self.version)
    }

    /// The manifest text.
    pub fn nuspec(&self) -> String {
        if let Some(xml) = &self.nuspec_override {
            return xml.clone();
        }
        let mut m = String::new();
        m.push_str(&format!("    <id>{}</id>\n", xml_escape(&self.id)));
        m.push_str(&format!(
            "    <version>{}</version>\n",
            xml_escape(&self.version)
        ));
        if let Some(t) = &self.title {
            m.push_str(&format!("    <title>{}</title>\n", xml_escape(t)));
        }
        m.push_str(&format!(
            "    <authors>{}</authors>\n",
            xml_escape(&self.authors)
        ));
        m.push_str(&format!(
            "    <description>{}</description>\n",
            xml_escape(&self.description)
        ));
        if let Some(t) = &self.tags {
            m.push_str(&format!("    <tags>{}</tags>\n", xml_escape(t)));
        }
        if let Some(l) = &self.license_expression {
            m.push_str(&format!(
                "    <license type=\"expression\">{}</license>\n",
                xml_escape(l)
            ));
        }
        let mut types = self.package_types.clone();
        if self.symbols && !types.iter().any(|t| t == "SymbolsPackage") {
            types.push("SymbolsPackage".to_owned());
        }
        if !types.is_empty() {
            m.push_str("    <packageTypes>\n");
            for t in &types {
                m.push_str(&format!(
                    "      <packageType name=\"{}\" />\n",
                    xml_escape(t)
                ));
            }
            m.push_str("    </packageTypes>\n");
        }
        if !self.dep_groups.is_empty() || !self.legacy_deps.is_empty() {
            m.push_str("    <dependencies>\n");
            for (id, range) in &self.legacy_deps {
                m.push_str(&format!("      {}\n", dependency_xml(id, range)));
            }
            for g in &self.dep_groups {
                let attr = g
                    .target_framework
                    .as_ref()
                    .map(|t| format!(" targetFramework=\"{}\"", xml_escape(t)))
                    .unwrap_or_default();
                if g.deps.is_empty() {
                    m.push_str(&format!("      <group{attr} />\n"));
                } else {
                    m.push_str(&format!("      <group{attr}>\n"));
                    for (id, range) in &g.deps {
                        m.push_str(&format!("        {}\n", dependency_xml(id, range)));
                    }
                    m.push_str("      </group>\n");
                }
            }
            m.push_str("    </dependencies>\n");
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"{NUSPEC_NS}\">\n  \
             <metadata>\n{m}  </metadata>\n</package>\n"
        )
    }

    /// Every entry of the archive in order: `_rels/.rels`, the manifest, the files,
    /// `[Content_Types].xml`.
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![
            ("_rels/.rels".to_owned(), self.rels().into_bytes()),
            (self.nuspec_name(), self.nuspec().into_bytes()),
        ];
        out.extend(self.files.iter().cloned());
        out.push((
            "[Content_Types].xml".to_owned(),
            self.content_types().into_bytes(),
        ));
        out
    }

    /// The `.nupkg` (or `.snupkg`) bytes; identical inputs give identical bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let entries = self.entries();
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        zip_of(&refs)
    }

    /// The package with one more stored entry whose data no longer matches its CRC-32.
    pub fn bytes_with_corrupt_entry(&self) -> Vec<u8> {
        let marker = b"packgate-corrupt-entry-marker-0123456789";
        let mut entries = self.entries();
        entries.push(("content/corrupt.txt".to_owned(), marker.to_vec()));
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in &entries {
            let method = if name == "content/corrupt.txt" {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            };
            zip.start_file(name.as_str(), options(method))
                .expect("zip entry");
            zip.write_all(data).expect("zip write");
        }
        let mut bytes = zip.finish().expect("zip finish").into_inner();
        let at = bytes
            .windows(marker.len())
            .position(|w| w == marker)
            .expect("stored marker in the archive");
        bytes[at] ^= 0x20;
        bytes
    }

    fn rels(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Relationships \
             xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\n  \
             <Relationship Type=\"http://schemas.microsoft.com/packaging/2010/07/manifest\" \
             Target=\"/{}\" Id=\"R{:016X}\" />\n</Relationships>\n",
            xml_escape(&self.nuspec_name()),
            fnv1a(self.id.as_bytes())
        )
    }

    fn content_types(&self) -> String {
        let mut exts: Vec<String> = vec!["rels".to_owned(), "nuspec".to_owned()];
        for (path, _) in &self.files {
            if let Some((_, ext)) = path.rsplit_once('.')
                && !ext.contains('/')
                && !exts.iter().any(|e| e.eq_ignore_ascii_case(ext))
            {
                exts.push(ext.to_owned());
            }
        }
        let mut s = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Types \
             xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\n",
        );
        for ext in exts {
            let ct = if ext == "rels" {
                "application/vnd.openxmlformats-package.relationships+xml"
            } else {
                "application/octet"
            };
            s.push_str(&format!(
                "  <Default Extension=\"{}\" ContentType=\"{ct}\" />\n",
                xml_escape(&ext)
            ));
        }
        s.push_str("</Types>\n");
        s
    }
}

fn dependency_xml(id: &str, range: &str) -> String {
    if range.is_empty() {
        format!("<dependency id=\"{}\" />", xml_escape(id))
    } else {
        format!(
            "<dependency id=\"{}\" version=\"{}\" />",
            xml_escape(id),
            xml_escape(range)
        )
    }
}

/// Escapes `& < > "` for element text and attribute values.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A nuspec with the given `<metadata>` children (already XML), for hand-made manifests.
pub fn nuspec_with_metadata(metadata: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"{NUSPEC_NS}\">\n  \
         <metadata>\n{metadata}\n  </metadata>\n</package>\n"
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn options(method: CompressionMethod) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(method)
        .unix_permissions(0o644)
}

/// A zip of `entries` in order (deflated, fixed timestamps), names taken verbatim (`../x`,
/// `/abs`, duplicates of a different case … are all written as given).
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(*name, options(CompressionMethod::Deflated))
            .unwrap_or_else(|e| panic!("zip entry {name:?}: {e}"));
        zip.write_all(data).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

/// One entry of a hand-written zip (`raw_zip`): the stored data and the header fields, which
/// may lie.
#[derive(Clone, Debug)]
pub struct RawEntry {
    /// The entry name, written verbatim.
    pub name: String,
    /// 0 = stored, 8 = deflate.
    pub method: u16,
    /// The bytes stored in the archive (compressed when `method` is 8).
    pub data: Vec<u8>,
    /// The CRC-32 the headers declare.
    pub crc: u32,
    /// The uncompressed size the headers declare.
    pub uncompressed_size: u32,
}

impl RawEntry {
    /// `bytes` stored uncompressed, with honest headers.
    pub fn stored(name: &str, bytes: &[u8]) -> RawEntry {
        let mut crc = Crc::new();
        crc.update(bytes);
        RawEntry {
            name: name.to_owned(),
            method: 0,
            data: bytes.to_vec(),
            crc: crc.sum(),
            uncompressed_size: u32::try_from(bytes.len()).expect("entry under 4 GiB"),
        }
    }

    /// `bytes` deflated, with honest headers.
    pub fn deflated(name: &str, bytes: &[u8]) -> RawEntry {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).expect("deflate");
        let mut entry = RawEntry::stored(name, bytes);
        entry.method = 8;
        entry.data = enc.finish().expect("deflate finish");
        entry
    }

    /// `mib` MiB of zero bytes, deflated (about 1 KiB per MiB, a ratio just over 1000:1), with
    /// honest headers. See [`RawEntry::repeated`].
    pub fn zeros(name: &str, mib: u32) -> RawEntry {
        RawEntry::repeated(name, &vec![0u8; 1 << 20], mib)
    }

    /// `mib` MiB of mostly zeros with one non-zero byte every 512 (a deflate ratio of roughly
    /// 100:1, under any per-entry ratio bound), with honest headers.
    pub fn sparse(name: &str, mib: u32) -> RawEntry {
        let mut block = vec![0u8; 1 << 20];
        for (i, b) in block.iter_mut().enumerate().step_by(512) {
            *b = (i / 512) as u8 | 1;
        }
        RawEntry::repeated(name, &block, mib)
    }

    /// `count` copies of the 1 MiB `block`, deflated, with honest headers, never holding the
    /// inflated bytes: the block is compressed once with a sync flush, after which every further
    /// copy compresses to the same byte-aligned output (the 32 KiB window then always holds the
    /// block's tail), which is repeated; the CRC-32 is combined per block.
    pub fn repeated(name: &str, block: &[u8], count: u32) -> RawEntry {
        assert_eq!(block.len(), 1 << 20, "blocks are 1 MiB");
        assert!((1..4096).contains(&count), "entry must stay under 4 GiB");
        let mut c = Compress::new(Compression::best(), false);
        let mut first = Vec::with_capacity(block.len() + 1024);
        c.compress_vec(block, &mut first, FlushCompress::Sync)
            .expect("deflate first block");
        let mut repeat = Vec::with_capacity(block.len() + 1024);
        c.compress_vec(block, &mut repeat, FlushCompress::Sync)
            .expect("deflate repeated block");
        let mut check = Vec::with_capacity(block.len() + 1024);
        c.compress_vec(block, &mut check, FlushCompress::Sync)
            .expect("deflate repeated block");
        assert_eq!(
            repeat, check,
            "the repeated block must compress identically"
        );
        let mut last = Vec::with_capacity(64);
        c.compress_vec(&[], &mut last, FlushCompress::Finish)
            .expect("deflate finish");
        let mut data = first;
        for _ in 1..count {
            data.extend_from_slice(&repeat);
        }
        data.extend_from_slice(&last);
        let mut one = Crc::new();
        one.update(block);
        let mut crc = Crc::new();
        crc.update(block);
        for _ in 1..count {
            crc.combine(&one);
        }
        RawEntry {
            name: name.to_owned(),
            method: 8,
            data,
            crc: crc.sum(),
            uncompressed_size: count << 20,
        }
    }

    /// The same entry claiming `size` uncompressed bytes (CRC unchanged).
    pub fn declaring_size(mut self, size: u32) -> RawEntry {
        self.uncompressed_size = size;
        self
    }
}

/// A zip archive written byte by byte from `entries`: local headers, data, central directory,
/// end record (no zip64, no data descriptors, DOS time 1980-01-01 00:00).
pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = u32::try_from(out.len()).expect("archive under 4 GiB");
        let csize = u32::try_from(e.data.len()).expect("entry under 4 GiB");
        let name = e.name.as_bytes();
        let flags: u16 = if e.name.is_ascii() { 0 } else { 0x0800 };
        let name_len = u16::try_from(name.len()).expect("short name");
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0x0021u16.to_le_bytes());
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&csize.to_le_bytes());
        out.extend_from_slice(&e.uncompressed_size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&e.data);
        // Central directory record.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x0021u16.to_le_bytes());
        central.extend_from_slice(&e.crc.to_le_bytes());
        central.extend_from_slice(&csize.to_le_bytes());
        central.extend_from_slice(&e.uncompressed_size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0u8; 12]); // extra, comment, disk, internal + external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = u32::try_from(out.len()).expect("archive under 4 GiB");
    let cd_size = u32::try_from(central.len()).expect("small central directory");
    let count = u16::try_from(entries.len()).expect("few entries");
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // disk numbers
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The entries of `pkg` (manifest included) as honest deflated `RawEntry`s, to which malformed
/// ones can be appended.
pub fn raw_entries_of(pkg: &Nupkg) -> Vec<RawEntry> {
    pkg.entries()
        .iter()
        .map(|(n, b)| RawEntry::deflated(n, b))
        .collect()
}
