//! A fault-injecting HTTP/1.1 forwarder for the pull-through proxy tests: it sits between packgate
//! (the proxy under test) and a second packgate (the test upstream), records every request it
//! receives and, on demand, delays, fails, truncates, resets, swaps, corrupts or redirects the
//! answers, or stops listening altogether (`down`, then `resume` on the same port).
//!
//! One request per connection: every answer carries `Connection: close`. Upstream answers are read
//! to EOF and sent on with a `Content-Length` (chunked ones de-chunked), so body faults can work on
//! the whole body. Plain std only: every socket has 30 s read/write timeouts, the accept loop runs
//! on a background thread and dropping the `FaultProxy` stops it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Read/write timeout of every socket (client side and upstream side).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request head accepted (answered 431 beyond).
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body or upstream response accepted.
const MAX_BODY: usize = 1 << 30;

/// What happens to a request (see `FaultProxy::set`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward untouched (as a rule: removes the rule for that prefix).
    None,
    /// Forward, but wait this long before sending the response head.
    Delay(Duration),
    /// Answer this status with a small text body (e.g. 500, 503), not forwarding.
    Status(u16),
    /// Answer 429 with `Retry-After: <retry_after_secs>`, not forwarding.
    TooMany {
        /// The `Retry-After` value in seconds.
        retry_after_secs: u64,
    },
    /// Forward, then send the head and only the first `n` bytes of the body and close cleanly
    /// (FIN); `Content-Length` stays the real one: a truncated body.
    Truncate(usize),
    /// Forward, then send the head and the first `n` bytes of the body and reset the connection
    /// (a real RST: the socket is closed with a byte of the request left unread, which makes the
    /// kernel reset instead of FIN, since `SO_LINGER` is not reachable through stable std).
    Reset(usize),
    /// Forward, but replace the response body with these bytes (`Content-Length` fixed up).
    Swap(Vec<u8>),
    /// Forward, but flip every bit of the byte in the middle of the body (same length).
    Corrupt,
    /// Answer 302 with this `Location`, not forwarding.
    Redirect(String),
    /// Answer 200 with this body and content type, not forwarding.
    Body {
        /// The `Content-Type` of the answer.
        content_type: String,
        /// The answer body.
        body: Vec<u8>,
    },
}

/// One request as the fault proxy received it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The request target as sent: path with query string.
    pub path: String,
    /// The request headers in order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A fault-injecting forwarder listening on `127.0.0.1:<random port>`; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listening: Mutex<Option<Listening>>,
}

/// State shared with the accept and connection threads.
struct Shared {
    /// `host:port` of the upstream.
    target: String,
    seen: Mutex<Vec<Seen>>,
    /// `(path prefix, fault)`, most recently set last.
    rules: Mutex<Vec<(String, Fault)>>,
}

/// The accept thread of one listening period.
struct Listening {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultProxy {
    /// Starts forwarding to `target` (e.g. "http://127.0.0.1:4321"), listening on a random
    /// loopback port.
    pub fn start(target: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fault proxy: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fault proxy: local addr");
        let shared = Arc::new(Shared {
            target: authority(target),
            seen: Mutex::new(Vec::new()),
            rules: Mutex::new(Vec::new()),
        });
        let listening = spawn_accept(listener, shared.clone());
        FaultProxy {
            addr,
            shared,
            listening: Mutex::new(Some(listening)),
        }
    }

    /// "http://127.0.0.1:<port>"
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received whose path (without the query string) equals `path`.
    pub fn count(&self, path: &str) -> usize {
        lock(&self.shared.seen)
            .iter()
            .filter(|s| path_only(&s.path) == path)
            .count()
    }

    /// Requests received in total.
    pub fn total(&self) -> usize {
        lock(&self.shared.seen).len()
    }

    /// All requests received so far (method, path with query, headers as lower-case name/value
    /// pairs), in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// Forgets every request received so far (`count`, `total` and `requests` start over).
    pub fn reset_counts(&self) {
        lock(&self.shared.seen).clear();
    }

    /// Sets the fault applied to requests whose path (without query) starts with `prefix` (use ""
    /// for all); the most recently set matching rule wins; `Fault::None` clears the rule for
    /// exactly this prefix. Applies to requests whose head arrives afterwards.
    pub fn set(&self, prefix: &str, fault: Fault) {
        let mut rules = lock(&self.shared.rules);
        rules.retain(|(p, _)| p != prefix);
        if fault != Fault::None {
            rules.push((prefix.to_owned(), fault));
        }
    }

    /// Clears every rule.
    pub fn clear(&self) {
        lock(&self.shared.rules).clear();
    }

    /// Stops accepting: later connections are refused (the listener is closed; connections
    /// already accepted are still answered). `resume()` listens again on the same port.
    pub fn down(&self) {
        let current = lock(&self.listening).take();
        if let Some(listening) = current {
            stop(listening, self.addr);
        }
    }

    /// Listens again on the same port after `down()` (no-op when listening); panics if the port
    /// cannot be bound again within 10 s.
    pub fn resume(&self) {
        let mut current = lock(&self.listening);
        if current.is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() >= deadline => {
                    panic!("fault proxy: could not listen on {} again: {e}", self.addr)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        *current = Some(spawn_accept(listener, self.shared.clone()));
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.down();
    }
}

/// `http://host:port[/]` → `host:port` (port 80 when absent).
fn authority(target: &str) -> String {
    let rest = target
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("fault proxy: target must be an http:// URL, got {target:?}"));
    let rest = rest.trim_end_matches('/');
    assert!(
        !rest.is_empty() && !rest.contains('/'),
        "fault proxy: target must be http://host:port without a path, got {target:?}"
    );
    let has_port = rest.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !port.contains(']') && port.parse::<u16>().is_ok()
    });
    if has_port {
        rest.to_owned()
    } else {
        format!("{rest}:80")
    }
}

fn path_only(target: &str) -> &str {
    target.split_once('?').map_or(target, |(p, _)| p)
}

fn spawn_accept(listener: TcpListener, shared: Arc<Shared>) -> Listening {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("fault-proxy-accept".to_owned())
        .spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = conn else {
                    // E.g. out of file descriptors: do not spin.
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let shared = shared.clone();
                let _ = std::thread::Builder::new()
                    .name("fault-proxy-conn".to_owned())
                    .spawn(move || handle(stream, &shared));
            }
            // The listener is dropped (closed) here.
        })
        .expect("fault proxy: spawn accept thread");
    Listening { stop, thread }
}

/// Sets the stop flag, wakes the accept loop with a connection of its own and joins it (which
/// closes the listener). If the wake-up connection cannot be made the thread is left behind
/// rather than hanging the test.
fn stop(listening: Listening, addr: SocketAddr) {
    listening.stop.store(true, Ordering::SeqCst);
    let woke = (0..3).any(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok());
    if woke {
        let _ = listening.thread.join();
    }
}

/// A parsed, completely received request.
struct Request {
    method: String,
    target: String,
    /// Header names as received.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The fault that applied when the head arrived.
    fault: Fault,
}

/// Why a request was not read.
enum ReadError {
    /// The connection failed or closed early: nothing to answer.
    Io,
    /// Answer this status and message.
    Answer(u16, &'static str),
}

fn handle(mut client: TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(IO_TIMEOUT));
    let _ = client.set_write_timeout(Some(IO_TIMEOUT));
    let _ = client.set_nodelay(true);
    let req = match read_request(&mut client, shared) {
        Ok(req) => req,
        Err(ReadError::Io) => return,
        Err(ReadError::Answer(status, msg)) => {
            let _ = answer(
                &mut client,
                false,
                status,
                "text/plain",
                msg.as_bytes(),
                &[],
            );
            // Let the client read the answer: half-close, then drain what it still sends (an
            // unread byte at close would reset the connection).
            let _ = client.shutdown(Shutdown::Write);
            let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = io::copy(&mut (&client).take(16 << 20), &mut io::sink());
            return;
        }
    };
    let head_only = req.method.eq_ignore_ascii_case("HEAD");
    let status_body = |code: u16| format!("fault-proxy: injected {code}\n").into_bytes();
    // Write errors only mean the client went away.
    let _ = match &req.fault {
        Fault::Status(code) => answer(
            &mut client,
            head_only,
            *code,
            "text/plain",
            &status_body(*code),
            &[],
        ),
        Fault::TooMany { retry_after_secs } => answer(
            &mut client,
            head_only,
            429,
            "text/plain",
            &status_body(429),
            &[("Retry-After", retry_after_secs.to_string())],
        ),
        Fault::Redirect(location) => answer(
            &mut client,
            head_only,
            302,
            "text/plain",
            b"fault-proxy: injected redirect\n",
            &[("Location", location.clone())],
        ),
        Fault::Body { content_type, body } => {
            answer(&mut client, head_only, 200, content_type, body, &[])
        }
        Fault::None
        | Fault::Delay(_)
        | Fault::Truncate(_)
        | Fault::Reset(_)
        | Fault::Swap(_)
        | Fault::Corrupt => match forward(&req, &shared.target) {
            Ok(resp) => send_forwarded(&mut client, resp, &req.fault),
            Err(e) => {
                let msg = format!("fault-proxy: upstream {}: {e}\n", shared.target);
                answer(
                    &mut client,
                    head_only,
                    502,
                    "text/plain",
                    msg.as_bytes(),
                    &[],
                )
            }
        },
    };
    // Dropping `client` closes it: FIN normally, RST for `Fault::Reset` (a request byte is left
    // unread, see `read_request`).
}

/// Reads one request (head, then a `Content-Length` body). The socket is peeked before it is
/// consumed so that, for `Fault::Reset`, the request's last byte can be left unread.
fn read_request(client: &mut TcpStream, shared: &Shared) -> Result<Request, ReadError> {
    struct Head {
        method: String,
        target: String,
        headers: Vec<(String, String)>,
        head_len: usize,
        body_len: usize,
        expect_continue: bool,
        fault: Fault,
    }
    let mut got: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut head: Option<Head> = None;
    let mut sent_continue = false;
    loop {
        let n = client.peek(&mut buf).map_err(|_| ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Io);
        }
        if head.is_none() {
            let start = got.len().saturating_sub(3);
            let mut window = got[start..].to_vec();
            window.extend_from_slice(&buf[..n]);
            if let Some(p) = find(&window, b"\r\n\r\n") {
                let head_len = start + p + 4;
                if head_len > MAX_HEAD {
                    return Err(ReadError::Answer(431, "request head too large\n"));
                }
                let mut bytes = got.clone();
                bytes.extend_from_slice(&buf[..head_len - got.len()]);
                let (method, target, headers) = parse_request_head(&bytes[..head_len - 4])
                    .ok_or(ReadError::Answer(400, "malformed request head\n"))?;
                let value = |name: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.as_str())
                };
                if value("transfer-encoding").is_some() {
                    return Err(ReadError::Answer(
                        411,
                        "fault-proxy: chunked request bodies are not supported\n",
                    ));
                }
                let body_len = match value("content-length") {
                    None => 0,
                    Some(v) => v
                        .parse::<usize>()
                        .map_err(|_| ReadError::Answer(400, "bad content-length\n"))?,
                };
                if body_len > MAX_BODY {
                    return Err(ReadError::Answer(413, "request body too large\n"));
                }
                let expect_continue =
                    value("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
                let fault = shared.fault_for(path_only(&target));
                head = Some(Head {
                    method,
                    target,
                    headers,
                    head_len,
                    body_len,
                    expect_continue,
                    fault,
                });
            } else if got.len() + n > MAX_HEAD {
                return Err(ReadError::Answer(431, "request head too large\n"));
            }
        }
        if let Some(h) = &head {
            let total = h.head_len + h.body_len;
            if got.len() + n >= total {
                // `got` alone was incomplete, so the request's last byte is in `buf`.
                let hold = usize::from(matches!(h.fault, Fault::Reset(_)));
                let take = total - got.len() - hold;
                client
                    .read_exact(&mut buf[..take])
                    .map_err(|_| ReadError::Io)?;
                got.extend_from_slice(&buf[..take]);
                if hold == 1 {
                    got.push(buf[take]);
                }
                break;
            }
            if h.expect_continue && !sent_continue {
                sent_continue = true;
                client
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .map_err(|_| ReadError::Io)?;
            }
        }
        client
            .read_exact(&mut buf[..n])
            .map_err(|_| ReadError::Io)?;
        got.extend_from_slice(&buf[..n]);
    }
    let Some(h) = head else {
        return Err(ReadError::Io);
    };
    let body = got[h.head_len..h.head_len + h.body_len].to_vec();
    lock(&shared.seen).push(Seen {
        method: h.method.clone(),
        path: h.target.clone(),
        headers: h
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
    });
    Ok(Request {
        method: h.method,
        target: h.target,
        headers: h.headers,
        body,
        fault: h.fault,
    })
}

impl Shared {
    /// The most recently set rule whose prefix `path` starts with.
    fn fault_for(&self, path: &str) -> Fault {
        lock(&self.rules)
            .iter()
            .rev()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map_or(Fault::None, |(_, fault)| fault.clone())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Header name/value pairs in order.
type Headers = Vec<(String, String)>;

/// `METHOD target HTTP/1.x` plus `name: value` lines (without the final blank line) → method,
/// target and headers.
fn parse_request_head(head: &[u8]) -> Option<(String, String, Headers)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || method.is_empty()
        || target.is_empty()
        || !version.starts_with("HTTP/")
    {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Some((method.to_owned(), target.to_owned(), headers))
}

/// An upstream answer, read to EOF.
struct Upstream {
    /// `HTTP/1.1 200 OK` as received.
    status_line: String,
    /// Headers to send on (hop-by-hop and framing headers removed).
    headers: Vec<(String, String)>,
    /// Whether the answer has a body at all (not HEAD, 1xx, 204 or 304); when not, any
    /// `Content-Length` received is kept in `headers`.
    has_body: bool,
    body: Vec<u8>,
    /// The `Content-Length` the upstream declared when it sent fewer bytes (it broke mid-body).
    declared: Option<usize>,
}

/// Sends the request to `target` with the client's `Host` and `Connection: close`, reads the answer to
/// EOF and de-chunks it.
fn forward(req: &Request, target: &str) -> Result<Upstream, String> {
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| format!("resolve: {e}"))?
        .collect();
    let mut last_err = String::from("no address");
    let mut upstream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(s) => {
                upstream = Some(s);
                break;
            }
            Err(e) => last_err = format!("connect {addr}: {e}"),
        }
    }
    let mut upstream = upstream.ok_or(last_err)?;
    let _ = upstream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = upstream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = upstream.set_nodelay(true);

    // The client's Host is kept, as a load balancer would: a packgate upstream that trusts
    // 127.0.0.1 as a proxy then writes its URLs (tarballs, `dl`) on the fault proxy's origin, as
    // a public registry's documents name its own host.
    let host = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map_or_else(|| target.to_string(), |(_, v)| v.clone());
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", req.method, req.target);
    for (name, value) in &req.headers {
        let drop = [
            "host",
            "connection",
            "keep-alive",
            "proxy-connection",
            "expect",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h));
        if !drop {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream
        .write_all(head.as_bytes())
        .and_then(|()| upstream.write_all(&req.body))
        .and_then(|()| upstream.flush())
        .map_err(|e| format!("send: {e}"))?;

    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match upstream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_BODY {
                    return Err("response too large".to_owned());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    parse_response(&raw, req.method.eq_ignore_ascii_case("HEAD"))
}

fn parse_response(mut raw: &[u8], head_request: bool) -> Result<Upstream, String> {
    loop {
        let end = find(raw, b"\r\n\r\n").ok_or("no complete response head")?;
        let text = String::from_utf8_lossy(&raw[..end]).into_owned();
        let rest = &raw[end + 4..];
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default().to_owned();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        if (100..200).contains(&status) && status != 101 {
            raw = rest;
            continue;
        }
        let received: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let value = |name: &str| {
            received
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let chunked =
            value("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length = value("content-length").and_then(|v| v.parse::<usize>().ok());
        let has_body = !head_request && status >= 200 && status != 204 && status != 304;
        let mut declared = None;
        let body = if !has_body {
            Vec::new()
        } else if chunked {
            dechunk(rest).ok_or("upstream body ended mid-chunk")?
        } else if let Some(n) = length {
            if rest.len() < n {
                declared = Some(n);
            }
            rest[..n.min(rest.len())].to_vec()
        } else {
            rest.to_vec()
        };
        let headers = received
            .iter()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                let framing = k == "transfer-encoding" || (has_body && k == "content-length");
                !framing && k != "connection" && k != "keep-alive"
            })
            .cloned()
            .collect();
        return Ok(Upstream {
            status_line,
            headers,
            has_body,
            body,
            declared,
        });
    }
}

/// A complete chunked body, decoded (trailers ignored); `None` when it is cut short or malformed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Writes the upstream answer to the client with `fault` applied.
fn send_forwarded(client: &mut TcpStream, mut resp: Upstream, fault: &Fault) -> io::Result<()> {
    let mut limit = None;
    if resp.has_body {
        match fault {
            Fault::Swap(bytes) => {
                resp.body = bytes.clone();
                resp.declared = None;
            }
            Fault::Corrupt if !resp.body.is_empty() => {
                let mid = resp.body.len() / 2;
                resp.body[mid] ^= 0xFF;
            }
            Fault::Truncate(n) | Fault::Reset(n) => limit = Some(*n),
            _ => {}
        }
    }
    if let Fault::Delay(d) = fault {
        std::thread::sleep(*d);
    }
    let mut head = format!("{}\r\n", resp.status_line);
    for (name, value) in &resp.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if resp.has_body {
        let length = resp.declared.unwrap_or(resp.body.len());
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    client.write_all(head.as_bytes())?;
    let sent = limit.map_or(resp.body.len(), |n| n.min(resp.body.len()));
    client.write_all(&resp.body[..sent])?;
    client.flush()?;
    if matches!(fault, Fault::Truncate(_)) {
        client.shutdown(Shutdown::Write)?;
    }
    Ok(())
}

/// Writes a complete answer of our own (`Connection: close`).
fn answer(
    client: &mut TcpStream,
    head_only: bool,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, String)],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    client.write_all(head.as_bytes())?;
    if !head_only {
        client.write_all(body)?;
    }
    client.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected Fault",
    }
}

/// `GET path` on a raw socket: the response head, the body bytes that arrived, and how the read
/// ended (`Ok` on a clean EOF).
fn raw_get(base: &str, path: &str) -> (String, Vec<u8>, io::Result<()>) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match stream.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let split = find(&raw, b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    (head, raw[split + 4..].to_vec(), end)
}

#[test]
fn the_fault_proxy_forwards_counts_and_injects_faults() {
    use super::server::free_port;
    use super::{Client, TestServer};

    let upstream = TestServer::start();
    let proxy = FaultProxy::start(&upstream.base);
    let client = Client::new(&proxy.url());

    // Forwarded untouched (conditional headers included), counted and recorded.
    let r = client.get_with(
        "/healthz?probe=1",
        &[("x-probe", "yes"), ("if-none-match", "\"abc\"")],
    );
    r.expect(200);
    assert_eq!(r.text(), "ok\n");
    assert_eq!(r.header("connection"), Some("close"));
    client.head_with("/healthz", &[]).expect(200);
    assert_eq!(proxy.count("/healthz"), 2);
    assert_eq!(proxy.count("/readyz"), 0);
    assert_eq!(proxy.total(), 2);
    let seen = proxy.requests();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/healthz?probe=1");
    assert_eq!(seen[0].header("X-Probe"), Some("yes"));
    assert_eq!(seen[0].header("if-none-match"), Some("\"abc\""));
    assert_eq!(seen[1].method, "HEAD");
    proxy.reset_counts();
    assert_eq!((proxy.total(), proxy.count("/healthz")), (0, 0));

    // Answers of its own, by path prefix; the most recently set matching rule wins.
    proxy.set("", Fault::Status(503));
    client.get("/healthz").expect(503);
    proxy.set(
        "/ready",
        Fault::TooMany {
            retry_after_secs: 7,
        },
    );
    let r = client.get("/readyz");
    r.expect(429);
    assert_eq!(r.header("retry-after"), Some("7"));
    client.get("/healthz").expect(503);
    proxy.set("/ready", Fault::None);
    client.get("/readyz").expect(503);
    proxy.set(
        "",
        Fault::Redirect("http://127.0.0.1:9/elsewhere".to_owned()),
    );
    let r = client.get("/healthz");
    r.expect(302);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:9/elsewhere"));
    proxy.set(
        "/readyz",
        Fault::Body {
            content_type: "application/json".to_owned(),
            body: b"{\"canned\":true}".to_vec(),
        },
    );
    let r = client.get("/readyz");
    r.expect(200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["canned"], true);
    assert_eq!(proxy.count("/readyz"), 3, "answered locally, still counted");
    proxy.clear();
    assert_eq!(client.get("/readyz").expect(200).text(), "ready\n");

    // Body faults on a forwarded answer ("ready\n").
    proxy.set("/readyz", Fault::Swap(b"swapped bytes".to_vec()));
    let r = client.get("/readyz");
    r.expect(200);
    assert_eq!(r.text(), "swapped bytes");
    proxy.set("/readyz", Fault::Corrupt);
    let r = client.get("/readyz");
    assert_eq!(r.body.len(), 6);
    let differing = r
        .body
        .iter()
        .zip(b"ready\n")
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 1, "{:?}", r.body);
    proxy.set("/readyz", Fault::Delay(Duration::from_millis(400)));
    let started = Instant::now();
    assert_eq!(client.get("/readyz").expect(200).text(), "ready\n");
    assert!(started.elapsed() >= Duration::from_millis(400));
    proxy.set("/readyz", Fault::Truncate(2));
    let (head, body, end) = raw_get(&proxy.url(), "/readyz");
    assert!(head.contains("content-length: 6"), "{head}");
    assert_eq!(body, b"re");
    assert!(
        end.is_ok(),
        "a truncated body ends with a clean close: {end:?}"
    );
    proxy.set("/readyz", Fault::Reset(2));
    let (head, body, end) = raw_get(&proxy.url(), "/readyz");
    assert!(head.contains("content-length: 6"), "{head}");
    assert_eq!(body, b"re");
    let kind = end.expect_err("a reset").kind();
    assert_eq!(kind, io::ErrorKind::ConnectionReset);
    proxy.clear();

    // Down: connections are refused; resume listens on the same port again.
    proxy.down();
    let addr = proxy.url().trim_start_matches("http://").to_owned();
    let refused = TcpStream::connect(&addr).expect_err("connect while down");
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    proxy.resume();
    assert_eq!(client.get("/healthz").expect(200).text(), "ok\n");

    // A chunked upstream answer is sent on de-chunked, with a Content-Length.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let chunked_base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while find(&got, b"\r\n\r\n").is_none() {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "request head cut short");
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        .expect("answer");
        String::from_utf8_lossy(&got).into_owned()
    });
    let chunked = FaultProxy::start(&chunked_base);
    let r = Client::new(&chunked.url()).get("/x");
    r.expect(200);
    assert_eq!(r.text(), "hello world");
    assert_eq!(r.header("content-length"), Some("11"));
    assert_eq!(r.header("transfer-encoding"), None);
    let request = server
        .join()
        .expect("chunked upstream")
        .to_ascii_lowercase();
    assert!(request.contains(&format!(
        "host: {}",
        chunked.url().trim_start_matches("http://")
    )));
    assert!(request.contains("connection: close"), "{request}");

    // An unreachable upstream is a 502.
    let dead = FaultProxy::start(&format!("http://127.0.0.1:{}", free_port()));
    Client::new(&dead.url()).get("/healthz").expect(502);
}
