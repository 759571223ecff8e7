//! Byte-level JSON lexer used by the publish-body splitter.
//!
//! Reads tokens from a buffered stream without building values: strings, numbers and literals
//! are validated and copied verbatim (escapes included) into a [`Sink`], or only validated
//! when the sink discards. Strings move in whole buffer slices, so a multi-megabyte base64
//! string costs a few calls, not one per byte. Grammar: RFC 8259.

use std::io::{BufRead, BufReader, Read, Write};

use super::PublishError;
use super::b64stream::Base64Stream;

/// Read buffer size; large enough that base64 data moves in big slices.
const READ_BUF: usize = 64 * 1024;

/// Where the bytes of a token go: a buffer that may not grow past `limit`, or nowhere.
pub(super) struct Sink<'a> {
    buf: Option<&'a mut Vec<u8>>,
    limit: usize,
}

impl<'a> Sink<'a> {
    /// Appends to `buf`; fails with `DocumentTooLarge(limit)` once it grows past `limit`.
    pub(super) fn to(buf: &'a mut Vec<u8>, limit: usize) -> Self {
        Self {
            buf: Some(buf),
            limit,
        }
    }

    /// Discards everything.
    pub(super) fn skip() -> Self {
        Self {
            buf: None,
            limit: usize::MAX,
        }
    }

    /// Appends `bytes` and enforces the limit.
    pub(super) fn put(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        if let Some(buf) = self.buf.as_deref_mut() {
            buf.extend_from_slice(bytes);
            if buf.len() > self.limit {
                return Err(PublishError::DocumentTooLarge(self.limit));
            }
        }
        Ok(())
    }
}

/// A JSON token reader over any `Read`, tracking the byte offset for error messages.
pub(super) struct Lexer<R: Read> {
    input: BufReader<R>,
    pos: u64,
}

impl<R: Read> Lexer<R> {
    pub(super) fn new(input: R) -> Self {
        Self {
            input: BufReader::with_capacity(READ_BUF, input),
            pos: 0,
        }
    }

    /// Copies (or skips) a string token, opening quote at the cursor, validating its escapes.
    pub(super) fn string(&mut self, sink: &mut Sink<'_>) -> Result<(), PublishError> {
        self.bump();
        sink.put(b"\"")?;
        loop {
            let buf = self.input.fill_buf().map_err(PublishError::Read)?;
            if buf.is_empty() {
                return Err(self.syntax("unterminated string"));
            }
            let n = plain_run(buf);
            let whole = n == buf.len();
            sink.put(&buf[..n])?;
            self.consume(n);
            if whole {
                continue;
            }
            match self.next()? {
                b'"' => return sink.put(b"\""),
                b'\\' => match self.next()? {
                    e @ (b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                        sink.put(&[b'\\', e])?;
                    }
                    b'u' => {
                        let hex = self.hex4()?;
                        sink.put(b"\\u")?;
                        sink.put(&hex)?;
                    }
                    _ => return Err(self.syntax("invalid escape in string")),
                },
                _ => return Err(self.syntax("control character in string")),
            }
        }
    }

    /// Feeds a string token (opening quote at the cursor) to a base64 decoder, resolving JSON
    /// escapes first (`\/` is legal JSON for `/`). Does not call `finish` on the decoder.
    pub(super) fn base64_string<W: Write>(
        &mut self,
        b64: &mut Base64Stream<W>,
    ) -> Result<(), PublishError> {
        self.bump();
        loop {
            let buf = self.input.fill_buf().map_err(PublishError::Read)?;
            if buf.is_empty() {
                return Err(self.syntax("unterminated string"));
            }
            let n = plain_run(buf);
            let whole = n == buf.len();
            b64.push(&buf[..n])?;
            self.consume(n);
            if whole {
                continue;
            }
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => {
                    let c = match self.next()? {
                        b'u' => u32::from_str_radix(&String::from_utf8_lossy(&self.hex4()?), 16)
                            .unwrap_or(u32::MAX),
                        b'/' => u32::from(b'/'),
                        _ => u32::MAX,
                    };
                    match u8::try_from(c) {
                        Ok(b) if b.is_ascii() => b64.push(&[b])?,
                        _ => return Err(PublishError::BadBase64("invalid character".into())),
                    }
                }
                _ => return Err(self.syntax("control character in string")),
            }
        }
    }

    /// Copies (or skips) a number token, checking the JSON number grammar.
    pub(super) fn number(&mut self, sink: &mut Sink<'_>) -> Result<(), PublishError> {
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
            sink.put(&[b])?;
        }
        match st {
            N::Zero | N::Int | N::Frac | N::Exp => Ok(()),
            _ => Err(self.syntax("invalid number")),
        }
    }

    /// Copies (or skips) `true`, `false` or `null`.
    pub(super) fn literal(
        &mut self,
        word: &'static [u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), PublishError> {
        for &expected in word {
            if self.peek()? != Some(expected) {
                return Err(self.syntax("invalid literal"));
            }
            self.bump();
        }
        sink.put(word)
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

    /// Skips JSON white space.
    pub(super) fn skip_ws(&mut self) -> Result<(), PublishError> {
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

    /// The next byte, not consumed; `None` at the end of input.
    pub(super) fn peek(&mut self) -> Result<Option<u8>, PublishError> {
        let buf = self.input.fill_buf().map_err(PublishError::Read)?;
        Ok(buf.first().copied())
    }

    /// The next byte, consumed; end of input is an error.
    pub(super) fn next(&mut self) -> Result<u8, PublishError> {
        match self.peek()? {
            Some(b) => {
                self.bump();
                Ok(b)
            }
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    /// Consumes one byte (after a successful `peek`).
    pub(super) fn bump(&mut self) {
        self.consume(1);
    }

    fn consume(&mut self, n: usize) {
        self.input.consume(n);
        self.pos += n as u64;
    }

    /// A JSON error at the current offset.
    pub(super) fn syntax(&self, what: &str) -> PublishError {
        PublishError::Json(format!("{what} at byte {}", self.pos))
    }
}

/// Length of the prefix of `buf` that a string copies verbatim (no quote, backslash or control).
fn plain_run(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(buf.len())
}
