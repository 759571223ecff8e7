//! "Nothing changed" checks for Cargo repositories: the crate's index file (status, body, ETag)
//! plus, on the filesystem stack, the number of stored blob files.

use super::TestServer;
use super::crate_builder::index_url;

/// What a refused request must leave untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSnapshot {
    /// Status of `GET /{repo}/index/{path}` (200, or 404 for a crate that does not exist).
    pub status: u16,
    /// The index file when the status is 200.
    pub body: Option<String>,
    pub etag: Option<String>,
    /// Files under `<data_dir>/blobs`; `None` on S3.
    pub blobs: Option<usize>,
}

/// Reads the index file of `name` in `repo` (sending `token` raw, like cargo) and counts blobs.
pub fn index_snapshot(
    server: &TestServer,
    repo: &str,
    name: &str,
    token: Option<&str>,
) -> IndexSnapshot {
    let headers: Vec<(&str, &str)> = token.iter().map(|t| ("authorization", *t)).collect();
    let resp = server.http().get_with(&index_url(repo, name), &headers);
    let ok = resp.status == 200;
    IndexSnapshot {
        status: resp.status,
        body: ok.then(|| resp.text()),
        etag: if ok {
            resp.header("etag").map(str::to_owned)
        } else {
            None
        },
        blobs: server.blob_count(),
    }
}

/// Panics (naming `what`) unless the index file of `name` and the blob count equal `before`.
pub fn assert_index_unchanged(
    server: &TestServer,
    repo: &str,
    name: &str,
    token: Option<&str>,
    before: &IndexSnapshot,
    what: &str,
) {
    let after = index_snapshot(server, repo, name, token);
    assert_eq!(
        after.status, before.status,
        "{what}: status of the index file of {name:?} changed"
    );
    assert_eq!(
        after.body, before.body,
        "{what}: index file of {name:?} changed"
    );
    assert_eq!(
        after.etag, before.etag,
        "{what}: ETag of the index file of {name:?} changed"
    );
    assert_eq!(
        after.blobs, before.blobs,
        "{what}: number of files under data_dir/blobs changed"
    );
}
