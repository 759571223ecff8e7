//! Digests of the `.gem` members named in `checksums.yaml.gz`, computed while they stream by.

use std::io::{self, Read};

use sha2::{Digest, Sha256, Sha512};

use sha1::Sha1;

/// SHA-1, SHA-256 and SHA-512 of one member, in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileDigests {
    /// SHA-1 (only checked when `checksums.yaml.gz` lists it, as RubyGems 2.x wrote).
    pub(crate) sha1: String,
    /// SHA-256.
    pub(crate) sha256: String,
    /// SHA-512.
    pub(crate) sha512: String,
}

impl FileDigests {
    /// The digest for a `checksums.yaml` algorithm key, if packgate computes it.
    pub(crate) fn get(&self, algorithm: &str) -> Option<&str> {
        match algorithm {
            "SHA1" => Some(&self.sha1),
            "SHA256" => Some(&self.sha256),
            "SHA512" => Some(&self.sha512),
            _ => None,
        }
    }
}

/// The three hashers running side by side.
#[derive(Clone)]
pub(crate) struct Digests {
    /// SHA-1.
    sha1: Sha1,
    /// SHA-256.
    sha256: Sha256,
    /// SHA-512.
    sha512: Sha512,
}

impl Digests {
    /// Fresh hashers.
    pub(crate) fn new() -> Self {
        Self {
            sha1: Sha1::new(),
            sha256: Sha256::new(),
            sha512: Sha512::new(),
        }
    }

    /// Feeds bytes to all three.
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.sha1.update(data);
        self.sha256.update(data);
        self.sha512.update(data);
    }

    /// The hex digests.
    pub(crate) fn finish(self) -> FileDigests {
        FileDigests {
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
        }
    }
}

/// A reader that hashes everything read through it.
pub(crate) struct Hashing<R> {
    /// The wrapped reader.
    pub(crate) inner: R,
    /// The digests of what was read so far.
    pub(crate) digests: Digests,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digests.update(&buf[..n]);
        Ok(n)
    }
}
