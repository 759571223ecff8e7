//! Incremental base64 decoder for the `_attachments.<key>.data` string of a publish body.
//!
//! The input arrives in pieces of any size (chunk boundaries fall anywhere, even inside a
//! 4-character group); decoded bytes go straight to a writer so a large tarball never sits in
//! memory. Standard alphabet, canonical `=` padding, no white space: what npm's
//! `Buffer.toString('base64')` produces (protocol reference §5.1).

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::PublishError;

/// Characters buffered before a decode; a multiple of 4.
const CHUNK: usize = 16 * 1024;

/// Decodes base64 text fed in arbitrary pieces and writes the bytes to `W`.
pub(crate) struct Base64Stream<W: Write> {
    out: W,
    pending: Vec<u8>,
    decoded: Vec<u8>,
    /// Padding has been seen: no more input is allowed.
    finished: bool,
    written: u64,
}

impl<W: Write> Base64Stream<W> {
    /// A decoder writing to `out`.
    pub(crate) fn new(out: W) -> Self {
        Self {
            out,
            pending: Vec::with_capacity(CHUNK),
            decoded: Vec::with_capacity(CHUNK / 4 * 3),
            finished: false,
            written: 0,
        }
    }

    /// Feeds more base64 text.
    pub(crate) fn push(&mut self, mut text: &[u8]) -> Result<(), PublishError> {
        while !text.is_empty() {
            if self.finished {
                return Err(bad("data continues after '=' padding"));
            }
            let take = (CHUNK - self.pending.len()).min(text.len());
            self.pending.extend_from_slice(&text[..take]);
            text = &text[take..];
            if self.pending.len() == CHUNK {
                self.flush_pending()?;
            }
        }
        Ok(())
    }

    /// Decodes what is left, flushes the writer and returns the number of bytes written.
    pub(crate) fn finish(&mut self) -> Result<u64, PublishError> {
        if !self.pending.len().is_multiple_of(4) {
            return Err(bad("length is not a multiple of 4 (missing padding?)"));
        }
        self.flush_pending()?;
        self.finished = true;
        self.out.flush().map_err(PublishError::Store)?;
        Ok(self.written)
    }

    /// The writer, once decoding is over.
    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.out
    }

    /// Decodes `pending` (a multiple of 4 characters) and writes the bytes.
    fn flush_pending(&mut self) -> Result<(), PublishError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.decoded.clear();
        STANDARD
            .decode_vec(&self.pending, &mut self.decoded)
            .map_err(|e| bad(&e.to_string()))?;
        self.finished = self.pending.last() == Some(&b'=');
        self.pending.clear();
        self.out
            .write_all(&self.decoded)
            .map_err(PublishError::Store)?;
        self.written += self.decoded.len() as u64;
        Ok(())
    }
}

fn bad(why: &str) -> PublishError {
    PublishError::BadBase64(why.to_owned())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::Base64Stream;

    fn decode_in_pieces(text: &[u8], piece: usize) -> Result<Vec<u8>, String> {
        let mut s = Base64Stream::new(Vec::new());
        for c in text.chunks(piece) {
            s.push(c).map_err(|e| e.to_string())?;
        }
        s.finish().map_err(|e| e.to_string())?;
        Ok(s.into_inner())
    }

    #[test]
    fn decodes_across_any_piece_boundary() {
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for extra in 0..3 {
            let d = &data[..data.len() - extra];
            let text = STANDARD.encode(d);
            for piece in [1, 3, 5, 4096, 16 * 1024, 100_000] {
                assert_eq!(decode_in_pieces(text.as_bytes(), piece).as_deref(), Ok(d));
            }
        }
    }

    #[test]
    fn rejects_bad_input() {
        for text in [
            "abc", "ab=c", "a\nbc", "QQ==QQ==", "QR==", "ab-_", "////\\", "QQ=",
        ] {
            assert!(decode_in_pieces(text.as_bytes(), 2).is_err(), "{text}");
        }
        // Padding exactly at a chunk boundary, then more data.
        let mut text = "A".repeat(16 * 1024 - 4);
        text.push_str("QQ==QUFB");
        assert!(decode_in_pieces(text.as_bytes(), 7).is_err());
        assert_eq!(decode_in_pieces(b"", 1), Ok(Vec::new()));
    }
}
