//! The binary framing of a publish body: `u32 LE J`, `J` bytes of JSON, `u32 LE C`, `C` bytes
//! of `.crate`, read in one pass with the `.crate` streamed to a writer.
//!
//! Follows the Cargo registry protocol reference §5.1 ("Request"): the total length must be
//! exactly `8 + J + C`.

use std::io::{self, Read, Write};

use super::{PublishError, PublishMeta};

/// Reads `u32 LE J, J bytes JSON, u32 LE C, C bytes .crate` from `input` in one pass: the JSON
/// (at most `max_json` bytes, else error) is returned parsed; the C crate bytes are copied to
/// `crate_out` (streamed, never held in memory); errors on truncated input (lengths that don't
/// add up), on trailing bytes after the crate, and on JSON that is not the publish schema.
///
/// The JSON is parsed before any `.crate` byte is copied, so a bad document fails early. The
/// size of the `.crate` is for the writer (or the caller's body limit) to bound.
pub fn read_publish<R: Read, W: Write>(
    mut input: R,
    mut crate_out: W,
    max_json: u32,
) -> Result<PublishMeta, PublishError> {
    let json_len = read_len(&mut input, "the JSON length")?;
    if json_len > max_json {
        return Err(PublishError::JsonTooLarge {
            len: json_len,
            max: max_json,
        });
    }
    let mut json = Vec::with_capacity(json_len.min(64 * 1024) as usize);
    let got = (&mut input)
        .take(u64::from(json_len))
        .read_to_end(&mut json)?;
    if got < json_len as usize {
        return Err(truncated("the JSON metadata", json_len.into(), got as u64));
    }
    let meta = parse_meta(&json)?;

    let crate_len = u64::from(read_len(&mut input, "the .crate length")?);
    let copied = io::copy(&mut (&mut input).take(crate_len), &mut crate_out)?;
    if copied < crate_len {
        return Err(truncated("the .crate file", crate_len, copied));
    }
    crate_out.flush()?;
    if read_some(&mut input, &mut [0u8; 1])? > 0 {
        return Err(PublishError::TrailingBytes);
    }
    Ok(meta)
}

/// Parses the metadata, telling broken JSON from JSON of the wrong shape.
fn parse_meta(json: &[u8]) -> Result<PublishMeta, PublishError> {
    serde_json::from_slice(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => PublishError::NotSchema(e.to_string()),
        _ => PublishError::InvalidJson(e.to_string()),
    })
}

/// A little-endian `u32` length prefix.
fn read_len<R: Read>(input: &mut R, part: &'static str) -> Result<u32, PublishError> {
    let mut buf = [0u8; 4];
    let mut filled = 0;
    while filled < buf.len() {
        let n = read_some(input, &mut buf[filled..])?;
        if n == 0 {
            return Err(truncated(part, 4, filled as u64));
        }
        filled += n;
    }
    Ok(u32::from_le_bytes(buf))
}

/// One `read`, retried on `Interrupted`.
fn read_some<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

fn truncated(part: &'static str, expected: u64, got: u64) -> PublishError {
    PublishError::Truncated {
        part,
        expected,
        got,
    }
}
