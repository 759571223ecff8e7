//! A small blocking HTTP client (ureq, plain HTTP, no proxy, no redirects) plus a raw-socket
//! request writer for cases ureq cannot express (slow or oversized uploads).

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response with everything read: status, headers (names lower-cased) and body bytes.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `METHOD url`, for assertion messages.
    pub request: String,
}

impl Resp {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body text when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}), status {}: {:?}",
                self.request,
                self.status,
                self.text()
            )
        })
    }

    /// Panics unless the status is `expected`.
    pub fn expect(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status,
            expected,
            "{}: expected status {expected}, got {}; body: {}",
            self.request,
            self.status,
            self.text()
        );
        self
    }

    /// Panics unless the status is 2xx.
    pub fn expect_success(&self) -> &Self {
        assert!(
            (200..300).contains(&self.status),
            "{}: expected 2xx, got {}; body: {}",
            self.request,
            self.status,
            self.text()
        );
        self
    }

    /// Asserts an npm-style error: the status, and a JSON body `{"error": "<non-empty>"}`.
    /// Returns the error text.
    pub fn expect_error(&self, expected: u16) -> String {
        self.expect(expected);
        self.error_text("error")
    }

    /// The non-empty string `field` of a JSON error body (`{"error": …}`, `{"message": …}`);
    /// panics when the body is not JSON, lacks the field or has it empty.
    pub fn error_text(&self, field: &str) -> String {
        let body = self.json();
        let text = body.get(field).and_then(Value::as_str).unwrap_or_else(|| {
            panic!(
                "{}: error body has no string `{field}` field: {body}",
                self.request
            )
        });
        assert!(
            !text.trim().is_empty(),
            "{}: empty `{field}` text in {body}",
            self.request
        );
        text.to_owned()
    }
}

/// Blocking HTTP client rooted at a base URL (`http://127.0.0.1:PORT`).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    pub base: String,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        Client {
            agent: config.new_agent(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// `path` may be absolute (`http://…`) or start with `/` (joined to the base URL).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// Sends any request. `body: None` sends no body at all.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let url = self.url(path);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = format!("{method} {url}");
        let result = match body {
            Some(bytes) => self.agent.run(builder.body(bytes).expect("build request")),
            None => self.agent.run(builder.body(()).expect("build request")),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{request}: transport error: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{request}: reading body: {e}"));
        Resp {
            status,
            headers,
            body,
            request,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send("GET", path, headers, None)
    }

    /// GET with `Authorization: Bearer <token>` when a token is given.
    pub fn get_auth(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.send("GET", path, &headers, None)
    }

    pub fn head_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send("HEAD", path, headers, None)
    }

    /// A JSON request (`content-type: application/json`) with an optional bearer token.
    pub fn json(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.raw_json(
            method,
            path,
            token,
            serde_json::to_vec(body).expect("serialize"),
        )
    }

    /// Like `json` but with the body bytes given verbatim (for malformed bodies).
    pub fn raw_json(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        self.send(method, path, &headers, Some(body))
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.send("DELETE", path, &headers, None)
    }
}

/// Writes one HTTP/1.1 request on a fresh socket (`Connection: close`) and reads the response.
///
/// The body is written in 64 KiB chunks; after `pause_at` bytes, `on_pause` runs once (e.g. to send
/// SIGTERM mid-upload). Write errors are ignored (a server may answer 413 and stop reading early):
/// the response is read regardless. Panics if no status line could be read.
pub fn raw_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    pause_at: Option<usize>,
    on_pause: impl FnOnce(),
) -> Resp {
    let request = format!("{method} http://{addr}{path}");
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{request}: connect: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("set timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(120)))
        .expect("set timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut write_ok = stream.write_all(head.as_bytes()).is_ok();
    let mut on_pause = Some(on_pause);
    let mut written = 0;
    while write_ok && written < body.len() {
        if let Some(p) = pause_at
            && written >= p
            && let Some(f) = on_pause.take()
        {
            f();
        }
        let mut end = (written + 64 * 1024).min(body.len());
        if let Some(p) = pause_at
            && written < p
            && end > p
        {
            end = p;
        }
        write_ok = stream.write_all(&body[written..end]).is_ok();
        written = end;
    }
    let _ = stream.flush();
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    parse_raw(&raw, request, method == "HEAD").0
}

/// Parses a complete raw response, skipping interim 1xx ones; returns it with the reason phrase
/// of its status line. `head_only`: the answer to a HEAD (no body, whatever the headers say).
pub fn parse_raw(mut raw: &[u8], request: String, head_only: bool) -> (Resp, String) {
    loop {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| {
                panic!(
                    "{request}: no complete HTTP response: {:?}",
                    String::from_utf8_lossy(raw)
                )
            });
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let rest = &raw[split + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_owned();
        let mut parts = status_line.splitn(3, ' ');
        let _version = parts.next();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{request}: bad status line {status_line:?}"));
        let reason = parts.next().unwrap_or_default().trim().to_owned();
        if (100..200).contains(&status) {
            raw = rest;
            continue;
        }
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
        let body = if head_only {
            Vec::new()
        } else if chunked {
            dechunk(rest)
        } else {
            match headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
            {
                Some(n) => rest[..n.min(rest.len())].to_vec(),
                None => rest.to_vec(),
            }
        };
        let resp = Resp {
            status,
            headers,
            body,
            request,
        };
        return (resp, reason);
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..pos]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        data = &data[pos + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}
