//! "Nothing changed" checks for RubyGems repositories: `versions` (body and ETag), `names`, the
//! `info/NAME` documents of the given gems (status and body) and, on the filesystem stack, the
//! number of stored blob files.

use super::TestServer;

/// What a refused request must leave untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct GemSnapshot {
    pub versions: (u16, String),
    pub versions_etag: Option<String>,
    pub names: (u16, String),
    /// (name, status of `info/NAME`, body).
    pub infos: Vec<(String, u16, String)>,
    /// Files under `<data_dir>/blobs`; `None` on S3.
    pub blobs: Option<usize>,
}

fn auth_headers(auth: Option<&str>) -> Vec<(&str, &str)> {
    auth.iter().map(|a| ("authorization", *a)).collect()
}

/// Reads the repository-wide documents of `repo` and `info/NAME` of every gem in `names`
/// (`auth` is a whole `Authorization` value, for private repositories).
pub fn gem_snapshot(
    server: &TestServer,
    repo: &str,
    names: &[&str],
    auth: Option<&str>,
) -> GemSnapshot {
    let headers = auth_headers(auth);
    let http = server.http();
    let versions = http.get_with(&format!("/{repo}/versions"), &headers);
    let names_doc = http.get_with(&format!("/{repo}/names"), &headers);
    let infos = names
        .iter()
        .map(|n| {
            let r = http.get_with(&format!("/{repo}/info/{n}"), &headers);
            let body = if r.status == 200 {
                r.text()
            } else {
                String::new()
            };
            (n.to_string(), r.status, body)
        })
        .collect();
    GemSnapshot {
        versions: (versions.status, versions.text()),
        versions_etag: versions.header("etag").map(str::to_owned),
        names: (names_doc.status, names_doc.text()),
        infos,
        blobs: server.blob_count(),
    }
}

/// Panics (naming `what`) unless the repository looks exactly like `before`.
pub fn assert_gems_unchanged(
    server: &TestServer,
    repo: &str,
    auth: Option<&str>,
    before: &GemSnapshot,
    what: &str,
) {
    let names: Vec<&str> = before.infos.iter().map(|(n, _, _)| n.as_str()).collect();
    let after = gem_snapshot(server, repo, &names, auth);
    assert_eq!(
        after.versions, before.versions,
        "{what}: `versions` changed"
    );
    assert_eq!(
        after.versions_etag, before.versions_etag,
        "{what}: ETag of `versions` changed"
    );
    assert_eq!(after.names, before.names, "{what}: `names` changed");
    assert_eq!(after.infos, before.infos, "{what}: an `info/NAME` changed");
    assert_eq!(
        after.blobs, before.blobs,
        "{what}: number of files under data_dir/blobs changed"
    );
}
