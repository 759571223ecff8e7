//! Blob ingest: stream an upload to a temp file while computing every digest in one pass and
//! enforcing the size limit; then put it into the store under its SHA-256 (idempotent, durable
//! before any database row references it).

use crate::error::AppError;
use crate::store::{BlobKey, BlobStore};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

/// The digests every protocol needs, computed from stored bytes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Lower-case hex SHA-256 (the content address).
    pub sha256: String,
    /// Raw SHA-512 (npm integrity is its base64).
    pub sha512: Vec<u8>,
    /// Lower-case hex SHA-1.
    pub sha1: String,
    /// Lower-case hex MD5.
    pub md5: String,
    /// Size in bytes.
    pub size: u64,
}

/// A `Write` that hashes everything passing through and refuses to go past a limit.
pub struct HashingWriter<W: Write> {
    inner: W,
    sha256: Sha256,
    sha512: Sha512,
    sha1: Sha1,
    md5: Md5,
    size: u64,
    limit: u64,
}

/// The io error kind text used when a [`HashingWriter`] passes its limit.
pub const OVER_LIMIT: &str = "upload exceeds the size limit";

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`, refusing more than `limit` bytes.
    pub fn new(inner: W, limit: u64) -> Self {
        HashingWriter {
            inner,
            sha256: Sha256::new(),
            sha512: Sha512::new(),
            sha1: Sha1::new(),
            md5: Md5::new(),
            size: 0,
            limit,
        }
    }

    /// Flushes and returns the digests and the inner writer.
    pub fn finish(mut self) -> std::io::Result<(Digests, W)> {
        self.inner.flush()?;
        let d = Digests {
            sha256: hex::encode(self.sha256.finalize()),
            sha512: self.sha512.finalize().to_vec(),
            sha1: hex::encode(self.sha1.finalize()),
            md5: hex::encode(self.md5.finalize()),
            size: self.size,
        };
        Ok((d, self.inner))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.size + buf.len() as u64 > self.limit {
            return Err(std::io::Error::other(OVER_LIMIT));
        }
        let n = self.inner.write(buf)?;
        let b = &buf[..n];
        self.sha256.update(b);
        self.sha512.update(b);
        self.sha1.update(b);
        self.md5.update(b);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A new temp file in `dir` (created if missing).
pub fn temp_file(dir: &Path) -> Result<NamedTempFile, AppError> {
    std::fs::create_dir_all(dir)?;
    Ok(tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(dir)?)
}

/// Where and how request bodies are spooled: the temp directory, and how long a body may make no
/// progress before it is cut (`server.body_timeout`), so that stalled uploads hold no connection,
/// memory or temp file for long.
#[derive(Debug, Clone)]
pub struct Spool {
    /// The temp directory (`{data_dir}/tmp`).
    pub dir: PathBuf,
    /// Longest wait for the next chunk of a body.
    pub idle: Duration,
}

impl Spool {
    /// A new temp file in the spool directory.
    pub fn temp_file(&self) -> Result<NamedTempFile, AppError> {
        temp_file(&self.dir)
    }

    /// The next chunk of a body; a 408 when none arrives within the idle timeout.
    pub async fn next_chunk<S, E>(&self, body: &mut S) -> Result<Option<Bytes>, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        match tokio::time::timeout(self.idle, body.next()).await {
            Err(_) => Err(AppError::Timeout(format!(
                "the request body made no progress for {} s; the upload was cut and nothing was stored",
                self.idle.as_secs()
            ))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
            Ok(Some(Err(e))) => Err(AppError::Invalid(format!(
                "could not read the request body: {e}"
            ))),
        }
    }

    /// Streams a request body into a temp file, refusing more than `limit` bytes (413). The temp
    /// file is removed when the body fails, stalls or is too large.
    pub async fn body<S, E>(&self, mut body: S, limit: u64) -> Result<NamedTempFile, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self.temp_file()?;
        let mut out = tokio::io::BufWriter::with_capacity(
            256 * 1024,
            tokio::fs::File::from_std(tmp.reopen()?),
        );
        let mut total: u64 = 0;
        while let Some(chunk) = self.next_chunk(&mut body).await? {
            total += chunk.len() as u64;
            if total > limit {
                return Err(too_large(limit));
            }
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        Ok(tmp)
    }

    /// Streams a request body into a temp file while computing every digest (the body is the
    /// package file itself, as with `gem push`), refusing more than `limit` bytes (413).
    pub async fn hashed<S, E>(
        &self,
        body: S,
        limit: u64,
    ) -> Result<(NamedTempFile, Digests), AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self.body(body, limit).await?;
        let file = tmp.reopen()?;
        let digests = tokio::task::spawn_blocking(move || -> std::io::Result<Digests> {
            let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
            let mut w = HashingWriter::new(std::io::sink(), u64::MAX);
            std::io::copy(&mut reader, &mut w)?;
            Ok(w.finish()?.0)
        })
        .await??;
        Ok((tmp, digests))
    }
}

/// The 413 error for a limit.
pub fn too_large(limit: u64) -> AppError {
    AppError::TooLarge(format!(
        "upload is larger than the configured limit of {limit} bytes"
    ))
}

/// Puts the file into the store under its SHA-256. Durable on return; identical bytes are stored once.
pub async fn store(
    store: &dyn BlobStore,
    digests: &Digests,
    path: &Path,
) -> Result<BlobKey, AppError> {
    let key = BlobKey::new(&digests.sha256).ok_or_else(|| AppError::internal("bad sha256"))?;
    store.put_file(&key, path).await?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_writer_computes_known_digests_and_enforces_the_limit() {
        let mut w = HashingWriter::new(Vec::new(), 3);
        w.write_all(b"abc").unwrap();
        let (d, out) = w.finish().unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(d.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(d.size, 3);
        let mut w = HashingWriter::new(Vec::new(), 2);
        assert!(w.write_all(b"abc").is_err());
    }
}
