//! "Nothing changed" checks: the packument's `versions` and `dist-tags` plus, on the filesystem
//! stack, the number of stored blob files.

use super::TestServer;
use super::publish_body::escape_name;
use serde_json::Value;

/// What a refused request must leave untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Status of `GET /{repo}/{name}` (200, or 404 for a package that does not exist, …).
    pub status: u16,
    pub versions: Value,
    pub dist_tags: Value,
    /// Files under `<data_dir>/blobs`; `None` on S3.
    pub blobs: Option<usize>,
}

/// Reads the packument of `name` in `repo` (with `token` if given) and counts blobs.
pub fn snapshot(server: &TestServer, repo: &str, name: &str, token: Option<&str>) -> Snapshot {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("accept", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let resp = server
        .http()
        .get_with(&format!("/{repo}/{}", escape_name(name)), &headers);
    let (versions, dist_tags) = if resp.status == 200 {
        let doc = resp.json();
        (doc["versions"].clone(), doc["dist-tags"].clone())
    } else {
        (Value::Null, Value::Null)
    };
    Snapshot {
        status: resp.status,
        versions,
        dist_tags,
        blobs: server.blob_count(),
    }
}

/// Panics (naming `what`) unless the state of `name` is exactly `before`.
pub fn assert_unchanged(
    server: &TestServer,
    repo: &str,
    name: &str,
    token: Option<&str>,
    before: &Snapshot,
    what: &str,
) {
    let after = snapshot(server, repo, name, token);
    assert_eq!(
        after.status, before.status,
        "{what}: packument status changed"
    );
    assert_eq!(
        after.dist_tags, before.dist_tags,
        "{what}: dist-tags changed"
    );
    assert_eq!(after.versions, before.versions, "{what}: versions changed");
    assert_eq!(
        after.blobs, before.blobs,
        "{what}: number of files under data_dir/blobs changed"
    );
}
