//! One-pass split of a `PUT /{name}` body into the JSON document and the decoded tarball.
//!
//! A publish body (protocol reference §5.1) carries the whole tarball as a base64 string in
//! `_attachments.<name>-<version>.tgz.data`. This hand-written byte-level JSON tokenizer copies
//! everything except attachment `data` values into a small buffer and streams the `.tgz` data
//! through a base64 decoder into a writer, so memory stays bounded by the document size, never
//! by the tarball size. The stripped copy is then parsed with `serde_json`.

use std::io::{Read, Write};

use serde_json::Value;

use super::PublishError;
use super::b64stream::Base64Stream;
use super::lexer::{Lexer, Sink};

/// Deepest JSON nesting accepted (the root object is level 1).
pub(crate) const MAX_DEPTH: usize = 64;

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
        lex: Lexer::new(input),
        out: Vec::new(),
        scratch: Vec::new(),
        max_doc: max_doc_bytes,
        b64: Base64Stream::new(tgz_out),
        attachment: None,
        data_seen: false,
        decoded_len: 0,
    };
    s.lex.skip_ws()?;
    match s.lex.peek()? {
        Some(b'{') => s.object(&Ctx::Root, 1, true)?,
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            return Err(PublishError::NotAnObject);
        }
        Some(b) => return Err(s.lex.syntax(&format!("unexpected {}", show(b)))),
        None => return Err(s.lex.syntax("empty body")),
    }
    s.lex.skip_ws()?;
    if s.lex.peek()?.is_some() {
        return Err(s.lex.syntax("unexpected data after the JSON document"));
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

/// What to do with one object member.
enum Member {
    Keep(Ctx),
    TgzData(String),
    DropData,
}

struct Splitter<R: Read, W: Write> {
    lex: Lexer<R>,
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
        self.lex.bump();
        self.put(emit, b"{")?;
        self.lex.skip_ws()?;
        if self.lex.peek()? == Some(b'}') {
            self.lex.bump();
            return self.put(emit, b"}");
        }
        let mut first = true;
        loop {
            self.lex.skip_ws()?;
            if self.lex.peek()? != Some(b'"') {
                return Err(self.lex.syntax("expected a string as object key"));
            }
            self.scratch.clear();
            self.lex
                .string(&mut Sink::to(&mut self.scratch, self.max_doc))?;
            let key = match ctx {
                Ctx::Other => None,
                _ => Some(
                    serde_json::from_slice::<String>(&self.scratch)
                        .map_err(|e| PublishError::Json(format!("bad object key: {e}")))?,
                ),
            };
            self.lex.skip_ws()?;
            if self.lex.next()? != b':' {
                return Err(self.lex.syntax("expected ':' after object key"));
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
            self.lex.skip_ws()?;
            match self.lex.next()? {
                b',' => {}
                b'}' => return self.put(emit, b"}"),
                _ => return Err(self.lex.syntax("expected ',' or '}' in object")),
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
        self.lex.skip_ws()?;
        let mut sink = if emit {
            Sink::to(&mut self.out, self.max_doc)
        } else {
            Sink::skip()
        };
        match self.lex.peek()? {
            Some(b'{') => self.object(ctx, depth + 1, emit),
            Some(b'[') => self.array(depth + 1, emit),
            Some(b'"') => self.lex.string(&mut sink),
            Some(b'-' | b'0'..=b'9') => self.lex.number(&mut sink),
            Some(b't') => self.lex.literal(b"true", &mut sink),
            Some(b'f') => self.lex.literal(b"false", &mut sink),
            Some(b'n') => self.lex.literal(b"null", &mut sink),
            Some(b) => Err(self.lex.syntax(&format!("unexpected {}", show(b)))),
            None => Err(self.lex.syntax("unexpected end of input")),
        }
    }

    fn array(&mut self, depth: usize, emit: bool) -> Result<(), PublishError> {
        if depth > MAX_DEPTH {
            return Err(PublishError::TooDeep);
        }
        self.lex.bump();
        self.put(emit, b"[")?;
        self.lex.skip_ws()?;
        if self.lex.peek()? == Some(b']') {
            self.lex.bump();
            return self.put(emit, b"]");
        }
        loop {
            self.value(&Ctx::Other, depth, emit)?;
            self.lex.skip_ws()?;
            match self.lex.next()? {
                b',' => self.put(emit, b",")?,
                b']' => return self.put(emit, b"]"),
                _ => return Err(self.lex.syntax("expected ',' or ']' in array")),
            }
        }
    }

    /// Streams the `.tgz` attachment's `data` string through the base64 decoder.
    fn tgz_data(&mut self, key: String) -> Result<(), PublishError> {
        self.lex.skip_ws()?;
        if self.data_seen || self.lex.peek()? != Some(b'"') {
            return Err(PublishError::AttachmentDataNotString(key));
        }
        self.lex.base64_string(&mut self.b64)?;
        self.decoded_len = self.b64.finish()?;
        self.data_seen = true;
        Ok(())
    }

    /// Appends structural bytes to the document when emitting.
    fn put(&mut self, emit: bool, bytes: &[u8]) -> Result<(), PublishError> {
        if emit {
            Sink::to(&mut self.out, self.max_doc).put(bytes)?;
        }
        Ok(())
    }
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
