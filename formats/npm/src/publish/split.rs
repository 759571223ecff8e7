//! One-pass split of a `PUT /{name}` body into the JSON document and the decoded tarball.
//!
//! A publish body (protocol reference §5.1) carries the whole tarball as a base64 string in
//! `_attachments.<name>-<version>.tgz.data`. This hand-written byte-level JSON tokenizer copies
//! everything except attachment `data` values into a small buffer and streams the `.tgz` data
//! through a base64 decoder into a writer, so memory stays bounded by the document size, never
//! by the tarball size. The stripped copy is then parsed with `serde_json`.

use std::io::{BufRead, BufReader, Read, Write};

use serde_json::Value;

use super::PublishError;
use super::b64stream::Base64Stream;

/// Deepest JSON nesting accepted (the root object is level 1).
pub(crate) const MAX_DEPTH: usize = 64;

/// Read buffer size; large enough that base64 data moves in big slices.
const READ_BUF: usize = 64 * 1024;

/// A publish (or metadata PUT) body split into its parts.
#[derive(Debug, Clone)]
pub struct SplitBody {
    /// The document with every `_attachments.<key>.data` member removed.
    pub document: Value,
    /// The key of the `.tgz` attachment, when there was one.
    pub attachment_name: Option<String>,
    /// Bytes written to the tarball writer.
    pub decoded_len: u64,
}

/// Reads a JSON publish document from `input` in one pass WITHOUT holding attachment data in
/// memory: the value of `_attachments.<key>.data` for the one key ending in ".tgz" is
/// base64-decoded on the fly and written to `tgz_out`; `data` values of other attachments (e.g.
/// ".sigstore") are dropped. Everything else is copied so that the returned Value is the
/// document with those `data` fields removed. Fails on malformed JSON, on a second .tgz
/// attachment, on JSON nesting deeper than 64, or if the non-attachment part exceeds
/// `max_doc_bytes`.
pub fn split_publish_body<R: Read, W: Write>(
    input: R,
    tgz_out: W,
    max_doc_bytes: usize,
) -> Result<SplitBody, PublishError> {
    let mut s = Splitter {
        input: BufReader::with_capacity(READ_BUF, input),
        pos: 0,
        out: Vec::new(),
        scratch: Vec::new(),
        max_doc: max_doc_bytes,
        b64: Base64Stream::new(tgz_out),
        attachment: None,
        data_seen: false,
        decoded_len: 0,
    };
    s.skip_ws()?;
    match s.peek()? {
        Some(b'{') => s.object(&Ctx::Root, 1, true)?,
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            return Err(PublishError::NotAnObject);
        }
        Some(b) => return Err(s.syntax(&format!("unexpected {}", show(b)))),
        None => return Err(s.syntax("empty body")),
    }
    s.skip_ws()?;
    if s.peek()?.is_some() {
        return Err(s.syntax("unexpected data after the JSON document"));
    }
    let document = serde_json::from_slice(&s.out).map_err(|e| PublishError::Json(e.to_string()))?;
    Ok(SplitBody {
        document,
        attachment_name: s.attachment,
        decoded_len: s.decoded_len,
    })
}

/// Where in the document a value sits, as far as attachment handling cares.
enum Ctx {
    Root,
    Attachments,
    Attachment { key: String, tgz: bool },
    Other,
}

/// Where the bytes of a string token go.
#[derive(Clone, Copy)]
enum Dest {
    Out,
    Scratch,
    Skip,
}

/// What to do with one object member.
enum Member {
    Keep(Ctx),
    TgzData(String),
    DropData,
}

struct Splitter<R: Read, W: Write> {
    input: BufReader<R>,
    /// Bytes consumed so far, for error messages.
    pos: u64,
    /// The stripped document.
    out: Vec<u8>,
    /// The raw (still escaped, quoted) key being read.
    scratch: Vec<u8>,
    max_doc: usize,
    b64: Base64Stream<W>,
    attachment: Option<String>,
    data_seen: bool,
    decoded_len: u64,
}

impl<R: Read, W: Write> Splitter<R, W> {
    fn object(&mut self, ctx: &Ctx, depth: usize, emit: bool) -> Result<(), PublishError> {
        if depth > MAX_DEPTH {
            return Err(PublishError::TooDeep);
        }
        self.bump();
        self.put(emit, b"{")?;
        self.skip_ws()?;
        if self.peek()? == Some(b'}') {
            self.bump();
            return self.put(emit, b"}");
        }
        let mut first = true;
        loop {
            self.skip_ws()?;
            if self.peek()? != Some(b'"') {
                return Err(self.syntax("expected a string as object key"));
            }
            self.scratch.clear();
            self.string(Dest::Scratch)?;
            let key = match ctx {
                Ctx::Other => None,
                _ => Some(
                    serde_json::from_slice::<String>(&self.scratch)
                        .map_err(|e| PublishError::Json(format!("bad object key: {e}")))?,
                ),
            };
            self.skip_ws()?;
            if self.next()? != b':' {
                return Err(self.syntax("expected ':' after object key"));
            }
            match self.member(ctx, key)? {
                Member::Keep(child) => {
                    if emit {
                        if !first {
                            self.out.push(b',');
                        }
                        self.out.extend_from_slice(&self.scratch);
                        self.put(true, b":")?;
                    }
                    first = false;
                    self.value(&child, depth, emit)?;
                    if let Ctx::Attachment { key, tgz: true } = child
                        && !self.data_seen
                    {
                        return Err(PublishError::AttachmentDataMissing(key));
                    }
                }
                Member::TgzData(key) => self.tgz_data(key)?,
                Member::DropData => self.value(&Ctx::Other, depth, false)?,
            }
            self.skip_ws()?;
            match self.next()? {
                b',' => {}
                b'}' => return self.put(emit, b"}"),
                _ => return Err(self.syntax("expected ',' or '}' in object")),
            }
        }
    }

    /// Decides what happens to the member with (decoded) `key` inside an object at `ctx`.
    fn member(&mut self, ctx: &Ctx, key: Option<String>) -> Result<Member, PublishError> {
        let Some(key) = key else {
            return Ok(Member::Keep(Ctx::Other));
        };
        Ok(match ctx {
            Ctx::Root if key == "_attachments" => Member::Keep(Ctx::Attachments),
            Ctx::Attachments => {
                let tgz = key.ends_with(".tgz");
                if tgz {
                    if let Some(first) = &self.attachment {
                        return Err(PublishError::SecondTarball {
                            first: first.clone(),
                            second: key,
                        });
                    }
                    self.attachment = Some(key.clone());
                }
                Member::Keep(Ctx::Attachment { key, tgz })
            }
            Ctx::Attachment { key: name, tgz } if key == "data" => {
                if *tgz {
                    Member::TgzData(name.clone())
                } else {
                    Member::DropData
                }
            }
            _ => Member::Keep(Ctx::Other),
        })
    }

    fn value(&mut self, ctx: &Ctx, depth: usize, emit: bool) -> Result<(), PublishError> {
        self.skip_ws()?;
        match self.peek()? {
            Some(b'{') => self.object(ctx, depth + 1, emit),
            Some(b'[') => self.array(depth + 1, emit),
            Some(b'"') => self.string(if emit { Dest::Out } else { Dest::Skip }),
            Some(b'-' | b'0'..=b'9') => self.number(emit),
            Some(b't') => self.literal(b"true", emit),
            Some(b'f') => self.literal(b"false", emit),
            Some(b'n') => self.literal(b"null", emit),
            Some(b) => Err(self.syntax(&format!("unexpected {}", show(b)))),
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    fn array(&mut self, depth: usize, emit: bool) -> Result<(), PublishError> {
        if depth > MAX_DEPTH {
            return Err(PublishError::TooDeep);
        }
        self.bump();
        self.put(emit, b"[")?;
        self.skip_ws()?;
        if self.peek()? == Some(b']') {
            self.bump();
            return self.put(emit, b"]");
        }
        loop {
            self.value(&Ctx::Other, depth, emit)?;
            self.skip_ws()?;
            match self.next()? {
                b',' => self.put(emit, b",")?,
                b']' => return self.put(emit, b"]"),
                _ => return Err(self.syntax("expected ',' or ']' in array")),
            }
        }
    }

    /// Copies (or skips) a string token, validating its escapes.
    fn string(&mut self, dest: Dest) -> Result<(), PublishError> {
        self.bump();
        self.put_to(dest, b"\"")?;
        loop {
            let buf = self.input.fill_buf().map_err(PublishError::Read)?;
            if buf.is_empty() {
                return Err(self.syntax("unterminated string"));
            }
            let n = plain_run(buf);
            let whole = n == buf.len();
            match dest {
                Dest::Out => self.out.extend_from_slice(&buf[..n]),
                Dest::Scratch => self.scratch.extend_from_slice(&buf[..n]),
                Dest::Skip => {}
            }
            self.consume(n);
            self.put_to(dest, b"")?;
            if whole {
                continue;
            }
            match self.next()? {
                b'"' => return self.put_to(dest, b"\""),
                b'\\' => {
                    let e = self.next()?;
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            self.put_to(dest, &[b'\\', e])?;
                        }
                        b'u' => {
                            let hex = self.hex4()?;
                            self.put_to(dest, b"\\u")?;
                            self.put_to(dest, &hex)?;
                        }
                        _ => return Err(self.syntax("invalid escape in string")),
                    }
                }
                _ => return Err(self.syntax("control character in string")),
            }
        }
    }

    /// Streams the `.tgz` attachment's `data` string through the base64 decoder.
    fn tgz_data(&mut self, key: String) -> Result<(), PublishError> {
        self.skip_ws()?;
        if self.data_seen || self.peek()? != Some(b'"') {
            return Err(PublishError::AttachmentDataNotString(key));
        }
        self.bump();
        loop {
            let buf = self.input.fill_buf().map_err(PublishError::Read)?;
            if buf.is_empty() {
                return Err(self.syntax("unterminated string"));
            }
            let n = plain_run(buf);
            let whole = n == buf.len();
            self.b64.push(&buf[..n])?;
            self.consume(n);
            if whole {
                continue;
            }
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let c = match self.next()? {
                        b'u' => u32::from_str_radix(&String::from_utf8_lossy(&self.hex4()?), 16)
                            .unwrap_or(u32::MAX),
                        b'/' => u32::from(b'/'),
                        _ => u32::MAX,
                    };
                    match u8::try_from(c) {
                        Ok(b) if b.is_ascii() => self.b64.push(&[b])?,
                        _ => return Err(PublishError::BadBase64("invalid character".into())),
                    }
                }
                _ => return Err(self.syntax("control character in string")),
            }
        }
        self.decoded_len = self.b64.finish()?;
        self.data_seen = true;
        Ok(())
    }

    fn number(&mut self, emit: bool) -> Result<(), PublishError> {
        #[derive(Clone, Copy)]
        enum N {
            Start,
            Minus,
            Zero,
            Int,
            Dot,
            Frac,
            E,
            ESign,
            Exp,
        }
        let mut st = N::Start;
        while let Some(b) = self.peek()? {
            st = match (st, b) {
                (N::Start, b'-') => N::Minus,
                (N::Start | N::Minus, b'0') => N::Zero,
                (N::Start | N::Minus | N::Int, b'0'..=b'9') => N::Int,
                (N::Zero | N::Int, b'.') => N::Dot,
                (N::Dot | N::Frac, b'0'..=b'9') => N::Frac,
                (N::Zero | N::Int | N::Frac, b'e' | b'E') => N::E,
                (N::E, b'+' | b'-') => N::ESign,
                (N::E | N::ESign | N::Exp, b'0'..=b'9') => N::Exp,
                _ => break,
            };
            self.bump();
            self.put(emit, &[b])?;
        }
        match st {
            N::Zero | N::Int | N::Frac | N::Exp => Ok(()),
            _ => Err(self.syntax("invalid number")),
        }
    }

    fn literal(&mut self, word: &'static [u8], emit: bool) -> Result<(), PublishError> {
        for &expected in word {
            if self.peek()? != Some(expected) {
                return Err(self.syntax("invalid literal"));
            }
            self.bump();
        }
        self.put(emit, word)
    }

    fn hex4(&mut self) -> Result<[u8; 4], PublishError> {
        let mut hex = [0u8; 4];
        for h in &mut hex {
            *h = self.next()?;
            if !h.is_ascii_hexdigit() {
                return Err(self.syntax("invalid \\u escape"));
            }
        }
        Ok(hex)
    }

    fn skip_ws(&mut self) -> Result<(), PublishError> {
        loop {
            let buf = self.input.fill_buf().map_err(PublishError::Read)?;
            let n = buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(buf.len());
            let done = n < buf.len() || buf.is_empty();
            self.consume(n);
            if done {
                return Ok(());
            }
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, PublishError> {
        let buf = self.input.fill_buf().map_err(PublishError::Read)?;
        Ok(buf.first().copied())
    }

    fn next(&mut self) -> Result<u8, PublishError> {
        match self.peek()? {
            Some(b) => {
                self.bump();
                Ok(b)
            }
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    fn bump(&mut self) {
        self.consume(1);
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.pos += n as u64;
    }

    fn put(&mut self, emit: bool, bytes: &[u8]) -> Result<(), PublishError> {
        self.put_to(if emit { Dest::Out } else { Dest::Skip }, bytes)
    }

    /// Appends to the destination and enforces the document size limit.
    fn put_to(&mut self, dest: Dest, bytes: &[u8]) -> Result<(), PublishError> {
        let len = match dest {
            Dest::Out => {
                self.out.extend_from_slice(bytes);
                self.out.len()
            }
            Dest::Scratch => {
                self.scratch.extend_from_slice(bytes);
                self.scratch.len()
            }
            Dest::Skip => 0,
        };
        if len > self.max_doc {
            return Err(PublishError::DocumentTooLarge(self.max_doc));
        }
        Ok(())
    }

    fn syntax(&self, what: &str) -> PublishError {
        PublishError::Json(format!("{what} at byte {}", self.pos))
    }
}

/// Length of the prefix of `buf` that a string copies verbatim (no quote, backslash or control).
fn plain_run(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(buf.len())
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
