//! Fixture builders shared by the codec tests.

use std::io::{self, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha1::Sha1;
use sha2::{Digest, Sha512};

/// A reader that yields 1, 2, ... 7, 1, 2, ... bytes per `read` call.
pub struct Trickle<'a> {
    data: &'a [u8],
    next: usize,
}

impl<'a> Trickle<'a> {
    /// A trickling reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, next: 0 }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.next = self.next % 7 + 1;
        let n = self.next.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// gzip of arbitrary bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A tar entry: path, contents, and whether it is a directory.
pub enum Item<'a> {
    /// A regular file.
    File(&'a str, &'a [u8]),
    /// A directory.
    Dir(&'a str),
    /// A file whose path is written raw into the header (bypassing `tar`'s path checks).
    RawPath(&'a str, &'a [u8]),
}

/// A gzipped tar of `items`.
pub fn tgz(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match item {
            Item::File(path, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, path, *data).unwrap();
            }
            Item::Dir(path) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, path, io::empty()).unwrap();
            }
            Item::RawPath(path, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
        }
    }
    gzip(&b.into_inner().unwrap())
}

/// The package.json npm would pack for `name@version`.
pub fn package_json(name: &str, version: &str) -> String {
    serde_json::json!({
        "name": name,
        "version": version,
        "description": "A widget",
        "main": "index.js",
        "scripts": { "test": "node test.js" },
        "license": "MIT"
    })
    .to_string()
}

/// A small package tarball as `npm pack` lays it out.
pub fn package_tgz(name: &str, version: &str) -> Vec<u8> {
    let pj = package_json(name, version);
    tgz(&[
        Item::File("package/package.json", pj.as_bytes()),
        Item::File("package/index.js", b"module.exports = 42;\n"),
        Item::File("package/README.md", b"# widget\n"),
    ])
}

/// (sha1 hex, sha512 bytes, SRI integrity) of `data`.
pub fn digests(data: &[u8]) -> (String, Vec<u8>, String) {
    let sha1: String = Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sha512 = Sha512::digest(data).to_vec();
    let integrity = format!("sha512-{}", STANDARD.encode(&sha512));
    (sha1, sha512, integrity)
}

/// A publish body shaped like npm 11.19's, with escapes and non-ASCII text in ordinary strings
/// and a `.sigstore` attachment next to the tarball. `data` is spliced in verbatim.
pub fn publish_body_with_data(name: &str, version: &str, tgz: &[u8], data: &str) -> String {
    let (sha1, _, integrity) = digests(tgz);
    let len = tgz.len();
    format!(
        r##"{{"_id":"{name}","name":"{name}","description":"Ünïcödé \"widget\" — a\\b\/c\n\u00e9\ud83d\ude00",
"dist-tags":{{"latest":"{version}"}},
"versions":{{"{version}":{{"name":"{name}","version":"{version}","description":"Ünïcödé widget",
 "main":"index.js","scripts":{{"test":"node test.js"}},"keywords":["ui","wïdget"],"license":"MIT",
 "dependencies":{{"left-pad":"^1.3.0"}},"readme":"# widget\n\nUse it: `require(\"x\")`\t✓",
 "readmeFilename":"README.md","_id":"{name}@{version}","_nodeVersion":"20.20.2","_npmVersion":"11.19.1",
 "gypfile":false,"n":[1,-2.5e+3,0.25,1E-2,0,true,false,null,{{}},[]],
 "dist":{{"integrity":"{integrity}","shasum":"{sha1}",
  "tarball":"http://127.0.0.1:8080/npm/{name}/-/{name}-{version}.tgz"}}}}}},
"access":null,
"_attachments":{{"{name}-{version}.sigstore":{{"content_type":"application/vnd.dev.sigstore.bundle+json;version=0.2",
  "data":"{{\"mediaType\":\"x\",\"nested\":[1,2,{{\"data\":\"zz\"}}]}}","length":42}},
 "{name}-{version}.tgz":{{"content_type":"application/octet-stream","data":"{data}","length":{len}}}}}}}"##
    )
}

/// [`publish_body_with_data`] with the tarball's base64.
pub fn publish_body(name: &str, version: &str, tgz: &[u8]) -> String {
    publish_body_with_data(name, version, tgz, &STANDARD.encode(tgz))
}
