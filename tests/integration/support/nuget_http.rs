//! NuGet requests over plain sockets, because the HTTP reason phrase is the one piece of server
//! text the NuGet client shows ("Response status code does not indicate success: 409 (<reason>)")
//! and ureq does not expose it. `Feed` addresses one repository's `v3/` tree and sends pushes the
//! way NuGet does (multipart/form-data with a quoted boundary, optionally chunked or with
//! `Expect: 100-continue`), deletes, relists and deprecations; every answer is a `NuResp`
//! (status, reason phrase, headers, body). Plain reads go through the harness `Client` (ureq).
//! Protocol: /work/shared/protocols/nuget.md §7–§9.

use super::{Resp, TestServer};
use packgate_npm::testing::base64;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::ops::Deref;
use std::time::Duration;

/// The boundary NuGet-style multipart bodies use here.
pub const BOUNDARY: &str = "9f1c2e7a-packgate-test-boundary";

/// How a request authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    /// `X-NuGet-ApiKey: <token>`, what `nuget push -ApiKey` sends.
    ApiKey(&'a str),
    /// `Authorization: Basic base64(user:secret)`, what NuGet sends from NuGet.Config credentials.
    Basic(&'a str, &'a str),
    /// A whole `Authorization` header value, verbatim.
    Authorization(&'a str),
}

impl Auth<'_> {
    pub fn header(&self) -> Option<(String, String)> {
        match self {
            Auth::None => None,
            Auth::ApiKey(k) => Some(("X-NuGet-ApiKey".to_owned(), k.to_string())),
            Auth::Basic(u, s) => Some(("Authorization".to_owned(), basic(u, s))),
            Auth::Authorization(v) => Some(("Authorization".to_owned(), v.to_string())),
        }
    }
}

/// `Basic base64(user:secret)`.
pub fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{secret}").as_bytes()))
}

/// How a request body goes on the wire.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// `Content-Length`.
    Sized,
    /// `Transfer-Encoding: chunked` with chunks of this many bytes (the last may be shorter).
    Chunked(usize),
    /// `Content-Length` plus `Expect: 100-continue`; the body follows the interim `100`, or
    /// after 3 s without one.
    ExpectContinue,
}

/// A response read off the socket, with the reason phrase of its status line.
#[derive(Debug, Clone)]
pub struct NuResp {
    pub resp: Resp,
    pub reason: String,
    /// Whether an interim `100 Continue` came before the final response.
    pub got_continue: bool,
}

impl Deref for NuResp {
    type Target = Resp;
    fn deref(&self) -> &Resp {
        &self.resp
    }
}

impl NuResp {
    /// Panics unless the status is `status`.
    pub fn expect_status(&self, status: u16) -> &NuResp {
        assert_eq!(
            self.status,
            status,
            "{}: expected {status}, got {} {:?}; body: {}",
            self.request,
            self.status,
            self.reason,
            self.text()
        );
        self
    }

    /// Asserts a NuGet refusal: the status, exactly `reason` as the reason phrase, a JSON body
    /// `{"message": "<non-empty>"}`, and on 401 the `WWW-Authenticate: Basic realm="packgate"`
    /// challenge. Returns the message.
    pub fn expect_refusal(&self, status: u16, reason: &str) -> String {
        self.expect_refusal_any(status, &[reason])
    }

    /// Like `expect_refusal`, accepting any one of `reasons`.
    pub fn expect_refusal_any(&self, status: u16, reasons: &[&str]) -> String {
        assert_eq!(
            self.status,
            status,
            "{}: expected {status} {reasons:?}, got {} {:?}; body: {}",
            self.request,
            self.status,
            self.reason,
            self.text()
        );
        assert!(
            reasons.contains(&self.reason.as_str()),
            "{}: the reason phrase is all NuGet shows; expected one of {reasons:?}, got {:?} \
             (body: {})",
            self.request,
            self.reason,
            self.text()
        );
        let message = self.error_text("message");
        if status == 401 {
            expect_basic_challenge(&self.resp);
        }
        message
    }
}

/// Panics unless `resp` carries `WWW-Authenticate: Basic realm="packgate"`.
pub fn expect_basic_challenge(resp: &Resp) {
    let challenge = resp.header("www-authenticate").unwrap_or_else(|| {
        panic!(
            "{}: 401 without WWW-Authenticate (NuGet then never sends its credentials)",
            resp.request
        )
    });
    assert!(
        challenge.starts_with("Basic") && challenge.contains("realm=\"packgate\""),
        "{}: challenge must be Basic realm=\"packgate\": {challenge:?}",
        resp.request
    );
}

/// The multipart/form-data body NuGet sends: one part named `package` holding `file`.
pub fn multipart(file: &[u8]) -> Vec<u8> {
    multipart_parts(&[Part::File {
        name: "package",
        filename: "package.nupkg",
        bytes: file,
    }])
}

/// One part of a hand-made multipart body.
pub enum Part<'a> {
    /// A plain form field (no filename).
    Field { name: &'a str, value: &'a str },
    /// A file part, laid out like NuGet's (`filename` and `filename*`).
    File {
        name: &'a str,
        filename: &'a str,
        bytes: &'a [u8],
    },
}

/// A multipart/form-data body of `parts` with `BOUNDARY`.
pub fn multipart_parts(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::Field { name, value } => {
                out.extend_from_slice(
                    format!(
                        "Content-Type: text/plain; charset=utf-8\r\n\
                         Content-Disposition: form-data; name={name}\r\n\r\n{value}\r\n"
                    )
                    .as_bytes(),
                );
            }
            Part::File {
                name,
                filename,
                bytes,
            } => {
                out.extend_from_slice(
                    format!(
                        "Content-Type: application/octet-stream\r\nContent-Disposition: \
                         form-data; name={name}; filename={filename}; \
                         filename*=utf-8''{filename}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// The `Content-Type` of `multipart` bodies (boundary quoted, as NuGet writes it).
pub fn multipart_content_type() -> String {
    format!("multipart/form-data; boundary=\"{BOUNDARY}\"")
}

/// One NuGet repository of a test server: `{base}/{repo}/v3/…`.
pub struct Feed<'a> {
    pub server: &'a TestServer,
    pub repo: String,
}

impl<'a> Feed<'a> {
    pub fn new(server: &'a TestServer, repo: &str) -> Feed<'a> {
        Feed {
            server,
            repo: repo.to_owned(),
        }
    }

    /// `/{repo}/v3/{rest}` (a path for the harness client).
    pub fn path(&self, rest: &str) -> String {
        format!("/{}/v3/{rest}", self.repo)
    }

    /// `{base}/{repo}/v3/{rest}` (an absolute URL, as the documents carry them).
    pub fn url(&self, rest: &str) -> String {
        format!("{}/{}/v3/{rest}", self.server.base, self.repo)
    }

    /// `/{repo}/v3/flatcontainer/{id}/index.json` (the id as given).
    pub fn flat_index_path(&self, id: &str) -> String {
        self.path(&format!("flatcontainer/{id}/index.json"))
    }

    /// `/{repo}/v3/flatcontainer/{id}/{ver}/{id}.{ver}.{ext}` (segments as given).
    pub fn flat_file_path(&self, id: &str, version: &str, ext: &str) -> String {
        self.path(&format!(
            "flatcontainer/{id}/{version}/{id}.{version}.{ext}"
        ))
    }

    /// `/{repo}/v3/flatcontainer/{id}/{ver}/{id}.nuspec`.
    pub fn nuspec_path(&self, id: &str, version: &str) -> String {
        self.path(&format!("flatcontainer/{id}/{version}/{id}.nuspec"))
    }

    /// `/{repo}/v3/registration/{id}/index.json`.
    pub fn registration_path(&self, id: &str) -> String {
        self.path(&format!("registration/{id}/index.json"))
    }

    /// GET through the harness client (ureq) with `key`.
    pub fn get(&self, path: &str, key: Auth<'_>) -> Resp {
        self.send("GET", path, key)
    }

    pub fn send(&self, method: &str, path: &str, key: Auth<'_>) -> Resp {
        let header = key.header();
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.server.http().send(method, path, &headers, None)
    }

    /// GET of a JSON document that must answer 200.
    pub fn get_json(&self, path: &str, key: Auth<'_>) -> Value {
        let resp = self.get(path, key);
        resp.expect(200);
        resp.json()
    }

    /// `PUT {repo}/v3/package/` with `file` as NuGet sends it (multipart, `Content-Length`).
    pub fn push(&self, key: Auth<'_>, file: &[u8]) -> NuResp {
        self.put_file("package/", key, file, Framing::Sized)
    }

    /// Pushes `file` and requires 201.
    pub fn push_ok(&self, key: Auth<'_>, file: &[u8]) {
        let resp = self.push(key, file);
        assert_eq!(
            resp.status,
            201,
            "{}: push should answer 201, got {} {:?}: {}",
            resp.request,
            resp.status,
            resp.reason,
            resp.text()
        );
    }

    /// `PUT {repo}/v3/symbolpackage/` (multipart).
    pub fn push_symbols(&self, key: Auth<'_>, file: &[u8]) -> NuResp {
        self.put_file("symbolpackage/", key, file, Framing::Sized)
    }

    /// `PUT {repo}/v3/{endpoint}` with `file` wrapped in NuGet's multipart body.
    pub fn put_file(&self, endpoint: &str, key: Auth<'_>, file: &[u8], framing: Framing) -> NuResp {
        let ct = multipart_content_type();
        self.raw(
            "PUT",
            &self.path(endpoint),
            key,
            &[("Content-Type", ct.as_str())],
            Some(&multipart(file)),
            framing,
        )
    }

    /// `DELETE {repo}/v3/package/{id}/{version}` (unlist).
    pub fn delete(&self, key: Auth<'_>, id: &str, version: &str) -> NuResp {
        self.raw(
            "DELETE",
            &self.path(&format!("package/{id}/{version}")),
            key,
            &[],
            None,
            Framing::Sized,
        )
    }

    /// `POST {repo}/v3/package/{id}/{version}` (relist).
    pub fn relist(&self, key: Auth<'_>, id: &str, version: &str) -> NuResp {
        self.raw(
            "POST",
            &self.path(&format!("package/{id}/{version}")),
            key,
            &[],
            Some(b""),
            Framing::Sized,
        )
    }

    /// `PUT {repo}/v3/package/{id}/{version}/deprecation` with a JSON body.
    pub fn deprecate(&self, key: Auth<'_>, id: &str, version: &str, body: &Value) -> NuResp {
        let bytes = serde_json::to_vec(body).expect("serialize");
        self.raw(
            "PUT",
            &self.path(&format!("package/{id}/{version}/deprecation")),
            key,
            &[("Content-Type", "application/json")],
            Some(&bytes),
            Framing::Sized,
        )
    }

    /// `DELETE {repo}/v3/package/{id}/{version}/deprecation`.
    pub fn undeprecate(&self, key: Auth<'_>, id: &str, version: &str) -> NuResp {
        self.raw(
            "DELETE",
            &self.path(&format!("package/{id}/{version}/deprecation")),
            key,
            &[],
            None,
            Framing::Sized,
        )
    }

    /// Any request over a fresh socket, returning the reason phrase too.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        key: Auth<'_>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        framing: Framing,
    ) -> NuResp {
        let auth = key.header();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some((k, v)) = &auth {
            all.push((k.as_str(), v.as_str()));
        }
        wire(self.server.port, method, path, &all, body, framing)
    }
}

/// Writes one HTTP/1.1 request to `127.0.0.1:port` on a fresh socket (`Connection: close`) and
/// reads the whole response. Write errors are ignored (a server may refuse early and stop
/// reading); the response is read regardless.
pub fn wire(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    framing: Framing,
) -> NuResp {
    let addr = format!("127.0.0.1:{port}");
    let request = format!("{method} http://{addr}{path}");
    let mut stream =
        TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{request}: connect: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(180)))
        .expect("set timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(180)))
        .expect("set timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         User-Agent: NuGet Command Line/5.8.0 (packgate tests)\r\nX-NuGet-Client-Version: 5.8.0\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match (body, framing) {
        (None, _) => {}
        (Some(b), Framing::Sized) => head.push_str(&format!("Content-Length: {}\r\n", b.len())),
        (Some(_), Framing::Chunked(_)) => head.push_str("Transfer-Encoding: chunked\r\n"),
        (Some(b), Framing::ExpectContinue) => head.push_str(&format!(
            "Content-Length: {}\r\nExpect: 100-continue\r\n",
            b.len()
        )),
    }
    head.push_str("\r\n");
    let mut pending = Vec::new();
    let mut got_continue = false;
    if stream.write_all(head.as_bytes()).is_ok()
        && let Some(b) = body
    {
        if let Framing::ExpectContinue = framing {
            // Wait for the interim response (or 3 s, like curl's fallback), then send the body.
            stream
                .set_read_timeout(Some(Duration::from_secs(3)))
                .expect("set timeout");
            let mut buf = [0u8; 4096];
            while !pending.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
            stream
                .set_read_timeout(Some(Duration::from_secs(180)))
                .expect("set timeout");
            if pending.starts_with(b"HTTP/1.1 100") || pending.starts_with(b"HTTP/1.0 100") {
                got_continue = true;
                let end = pending
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .expect("end of interim response")
                    + 4;
                pending.drain(..end);
            }
        }
        // A final response before the body (e.g. 401/413 on the headers alone): do not send it.
        if pending.is_empty() {
            let _ = match framing {
                Framing::Chunked(size) => write_chunked(&mut stream, b, size.max(1)),
                _ => write_in_pieces(&mut stream, b),
            };
        }
    }
    let _ = stream.flush();
    let mut raw = pending;
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let mut resp = parse(&raw, request, method == "HEAD");
    resp.got_continue = got_continue;
    resp
}

fn write_in_pieces(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    for piece in body.chunks(64 * 1024) {
        stream.write_all(piece)?;
    }
    Ok(())
}

fn write_chunked(stream: &mut TcpStream, body: &[u8], size: usize) -> std::io::Result<()> {
    for piece in body.chunks(size) {
        stream.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
        stream.write_all(piece)?;
        stream.write_all(b"\r\n")?;
    }
    stream.write_all(b"0\r\n\r\n")
}

/// Parses a complete response (skipping interim 1xx ones), keeping the reason phrase.
fn parse(raw: &[u8], request: String, head_only: bool) -> NuResp {
    let (resp, reason) = super::http::parse_raw(raw, request, head_only);
    NuResp {
        resp,
        reason,
        got_continue: false,
    }
}
