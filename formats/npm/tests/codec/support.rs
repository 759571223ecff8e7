//! Fixture builders shared by the codec tests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::Sha1;
use sha2::{Digest, Sha512};

pub use packgate_archive::testing::{Item, Trickle, gzip, tgz};

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
