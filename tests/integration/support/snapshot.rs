//! "Nothing changed" checks. A [`Snapshot`] records a list of GETs ([`Probe`]s: a label for the
//! messages, a URL path, request headers such as the credentials) with their status and the
//! parts of the answer that count (the body, some members of a JSON body, the ETag), plus, on
//! the filesystem stack, the number of stored blob files. [`assert_unchanged`] sends the same
//! GETs again and names the first thing that differs.
//!
//! One function per format picks what to record:
//! - [`npm_snapshot`]: the packument's `versions` and `dist-tags`;
//! - [`index_snapshot`]: a Cargo crate's index file (body and ETag);
//! - [`gem_snapshot`]: a RubyGems repository's `versions` (body and ETag), `names` and the
//!   `info/NAME` documents of the given gems;
//! - [`nuget_snapshot`]: for each NuGet id the flat-container version list and the registration
//!   index (so listing and deprecation count too), the repository-wide search (everything,
//!   prerelease and SemVer 2.0.0 included) and any extra paths (e.g. a `.snupkg` URL).

use super::TestServer;
use super::nuget_http::{Auth, Feed};
use packgate_cargo::testing::index_url;
use packgate_npm::testing::escape_name;
use serde_json::Value;

/// One GET a snapshot records, and what of its answer counts besides the status.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// How messages name the document, e.g. ``the index file of "serde"`` or `` `versions` ``.
    pub label: String,
    /// The URL path (and query) for the harness client.
    pub path: String,
    /// Request headers, e.g. `authorization`.
    pub headers: Vec<(String, String)>,
    /// Only these top-level members of the (JSON) body count; `None`: the whole body.
    pub members: Option<&'static [&'static str]>,
    /// Whether the `ETag` header counts.
    pub etag: bool,
    /// Whether the body (and ETag) count whatever the status; otherwise only on a 200.
    pub any_status: bool,
}

impl Probe {
    /// `GET path`, keeping the status and, on a 200, the whole body.
    pub fn get(label: impl Into<String>, path: impl Into<String>) -> Probe {
        Probe {
            label: label.into(),
            path: path.into(),
            headers: Vec::new(),
            members: None,
            etag: false,
            any_status: false,
        }
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Probe {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds `authorization: <value>` when a value is given.
    pub fn authorization(self, value: Option<&str>) -> Probe {
        match value {
            Some(v) => self.header("authorization", v),
            None => self,
        }
    }

    /// Keeps only these members of the JSON body (each `null` when the status is not 200).
    pub fn members(mut self, members: &'static [&'static str]) -> Probe {
        self.members = Some(members);
        self
    }

    /// Keeps the `ETag` header too.
    pub fn etag(mut self) -> Probe {
        self.etag = true;
        self
    }

    /// Keeps the body (and ETag) whatever the status.
    pub fn any_status(mut self) -> Probe {
        self.any_status = true;
        self
    }

    /// Sends the GET and keeps what counts.
    fn read(&self, server: &TestServer) -> Reading {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resp = server.http().get_with(&self.path, &headers);
        let kept = self.any_status || resp.status == 200;
        let (body, members) = match self.members {
            None => (kept.then(|| resp.text()), Vec::new()),
            Some(names) => {
                let doc = if kept { resp.json() } else { Value::Null };
                let members = names.iter().map(|m| (*m, doc[*m].clone())).collect();
                (None, members)
            }
        };
        Reading {
            status: resp.status,
            body,
            members,
            etag: if self.etag && kept {
                resp.header("etag").map(str::to_owned)
            } else {
                None
            },
        }
    }
}

/// What one probe read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub status: u16,
    /// The body text, when the probe keeps the whole body (and the status allows).
    pub body: Option<String>,
    /// (member, value) of the JSON body, when the probe keeps members.
    pub members: Vec<(&'static str, Value)>,
    /// The `ETag` header, when the probe keeps it (and the status allows).
    pub etag: Option<String>,
}

/// What a refused request must leave untouched.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Every probe with what it read, in order.
    pub readings: Vec<(Probe, Reading)>,
    /// Files under `<data_dir>/blobs`; `None` on S3.
    pub blobs: Option<usize>,
}

impl Snapshot {
    /// Sends every probe (in order) and counts the blobs.
    pub fn take(server: &TestServer, probes: Vec<Probe>) -> Snapshot {
        let readings = probes
            .into_iter()
            .map(|p| {
                let r = p.read(server);
                (p, r)
            })
            .collect();
        Snapshot {
            readings,
            blobs: server.blob_count(),
        }
    }
}

/// Panics (naming `what` and the document) unless the same probes read exactly what `before`
/// recorded and the blob count is the same.
pub fn assert_unchanged(server: &TestServer, before: &Snapshot, what: &str) {
    for (probe, then) in &before.readings {
        let now = probe.read(server);
        let label = &probe.label;
        assert_eq!(
            now.status, then.status,
            "{what}: status of {label} changed ({} → {}; GET {})",
            then.status, now.status, probe.path
        );
        assert_eq!(now.body, then.body, "{what}: {label} changed");
        for ((member, was), (_, is)) in then.members.iter().zip(&now.members) {
            assert_eq!(is, was, "{what}: `{member}` of {label} changed");
        }
        assert_eq!(now.etag, then.etag, "{what}: ETag of {label} changed");
    }
    assert_eq!(
        server.blob_count(),
        before.blobs,
        "{what}: number of files under data_dir/blobs changed"
    );
}

/// npm: the packument of `name` in `repo` (read with `token` as a bearer token if given): its
/// status and, on a 200, its `versions` and `dist-tags`.
pub fn npm_snapshot(server: &TestServer, repo: &str, name: &str, token: Option<&str>) -> Snapshot {
    let auth = token.map(|t| format!("Bearer {t}"));
    let probe = Probe::get(
        format!("the packument of {name:?}"),
        format!("/{repo}/{}", escape_name(name)),
    )
    .header("accept", "application/json")
    .authorization(auth.as_deref())
    .members(&["dist-tags", "versions"]);
    Snapshot::take(server, vec![probe])
}

/// Cargo: the index file of `name` in `repo` (sending `token` raw, like cargo): its status and,
/// on a 200, its body and ETag.
pub fn index_snapshot(
    server: &TestServer,
    repo: &str,
    name: &str,
    token: Option<&str>,
) -> Snapshot {
    let probe = Probe::get(format!("the index file of {name:?}"), index_url(repo, name))
        .authorization(token)
        .etag();
    Snapshot::take(server, vec![probe])
}

/// RubyGems: `versions` (status, body and ETag), `names` (status and body) and `info/NAME` of
/// every gem in `names` (status, and the body on a 200). `auth` is a whole `Authorization`
/// value, for private repositories.
pub fn gem_snapshot(
    server: &TestServer,
    repo: &str,
    names: &[&str],
    auth: Option<&str>,
) -> Snapshot {
    let mut probes = vec![
        Probe::get("`versions`", format!("/{repo}/versions"))
            .authorization(auth)
            .any_status()
            .etag(),
        Probe::get("`names`", format!("/{repo}/names"))
            .authorization(auth)
            .any_status(),
    ];
    probes.extend(names.iter().map(|n| {
        Probe::get(format!("`info/{n}`"), format!("/{repo}/info/{n}")).authorization(auth)
    }));
    Snapshot::take(server, probes)
}

/// NuGet: for each of `ids` the flat-container version list and the registration index, the
/// repository-wide search (everything, prerelease and SemVer 2.0.0 included), then the `extra`
/// paths; each with its status and, on a 200, its body. Read with `key`.
pub fn nuget_snapshot(
    server: &TestServer,
    repo: &str,
    ids: &[&str],
    extra: &[String],
    key: Auth<'_>,
) -> Snapshot {
    let feed = Feed::new(server, repo);
    let mut paths = Vec::new();
    for id in ids {
        let lower = id.to_ascii_lowercase();
        paths.push(feed.flat_index_path(&lower));
        paths.push(feed.registration_path(&lower));
    }
    paths.push(feed.path("query?q=&skip=0&take=1000&prerelease=true&semVerLevel=2.0.0"));
    paths.extend(extra.iter().cloned());
    let header = key.header();
    let probes = paths
        .into_iter()
        .map(|p| {
            let probe = Probe::get(p.clone(), p);
            match &header {
                Some((k, v)) => probe.header(k.clone(), v.clone()),
                None => probe,
            }
        })
        .collect();
    Snapshot::take(server, probes)
}
