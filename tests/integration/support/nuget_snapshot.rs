//! "Nothing changed" checks for NuGet repositories: for each given id the flat-container version
//! list and the registration index (status and body, so listing and deprecation count too), the
//! repository-wide search (everything, prerelease and SemVer 2.0.0 included), any extra paths
//! (e.g. a `.snupkg` URL) and, on the filesystem stack, the number of stored blob files.

use super::TestServer;
use super::nuget_http::{Auth, Feed};

/// What a refused request must leave untouched: (path, status, body) of every document read,
/// and the blob count.
#[derive(Debug, Clone, PartialEq)]
pub struct NugetSnapshot {
    pub documents: Vec<(String, u16, String)>,
    /// Files under `<data_dir>/blobs`; `None` on S3.
    pub blobs: Option<usize>,
}

/// Reads the documents of `ids` (and `extra` paths) in `repo` with `key`.
pub fn nuget_snapshot(
    server: &TestServer,
    repo: &str,
    ids: &[&str],
    extra: &[String],
    key: Auth<'_>,
) -> NugetSnapshot {
    let feed = Feed::new(server, repo);
    let mut paths = Vec::new();
    for id in ids {
        let lower = id.to_ascii_lowercase();
        paths.push(feed.flat_index_path(&lower));
        paths.push(feed.registration_path(&lower));
    }
    paths.push(feed.path("query?q=&skip=0&take=1000&prerelease=true&semVerLevel=2.0.0"));
    paths.extend(extra.iter().cloned());
    let documents = paths
        .into_iter()
        .map(|p| {
            let r = feed.get(&p, key);
            let body = if r.status == 200 {
                r.text()
            } else {
                String::new()
            };
            (p, r.status, body)
        })
        .collect();
    NugetSnapshot {
        documents,
        blobs: server.blob_count(),
    }
}

/// Panics (naming `what`) unless the repository looks exactly like `before`.
pub fn assert_nuget_unchanged(
    server: &TestServer,
    repo: &str,
    key: Auth<'_>,
    before: &NugetSnapshot,
    what: &str,
) {
    let feed = Feed::new(server, repo);
    for (path, status, body) in &before.documents {
        let r = feed.get(path, key);
        let now = if r.status == 200 {
            r.text()
        } else {
            String::new()
        };
        assert_eq!(
            (r.status, &now),
            (*status, body),
            "{what}: {path} changed (status {status} → {})",
            r.status
        );
    }
    assert_eq!(
        server.blob_count(),
        before.blobs,
        "{what}: number of files under data_dir/blobs changed"
    );
}
