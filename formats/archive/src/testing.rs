//! Builders for the codecs' tests (feature `testing`): gzip, tar archives with hostile entries,
//! and a reader that hands bytes over a few at a time.
#![allow(
    clippy::unwrap_used,
    reason = "test builders: a panic is how the test using them fails"
)]

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;

/// A reader that yields 1, 2, ... 7, 1, 2, ... bytes per `read` call.
pub struct Trickle<'a> {
    data: &'a [u8],
    next: usize,
}

impl<'a> Trickle<'a> {
    /// A trickling reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, next: 0 }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.next = self.next % 7 + 1;
        let n = self.next.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// gzip of arbitrary bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A tar entry.
pub enum Item<'a> {
    /// A regular file.
    File(&'a str, &'a [u8]),
    /// A directory.
    Dir(&'a str),
    /// A regular file whose path is written raw into the header (bypassing `tar`'s checks).
    RawPath(&'a str, &'a [u8]),
    /// A symlink (path, target).
    Symlink(&'a str, &'a str),
    /// A hard link (path, target).
    HardLink(&'a str, &'a str),
    /// A character device.
    CharDevice(&'a str),
    /// A named pipe.
    Fifo(&'a str),
}

/// An uncompressed tar of `items` with GNU headers (long paths as GNU long-name records), as
/// `npm pack` and `cargo package` write them.
pub fn tar(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(0);
        match item {
            Item::File(path, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, path, *data).unwrap();
            }
            Item::Dir(path) => {
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, path, io::empty()).unwrap();
            }
            Item::RawPath(path, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            Item::Symlink(path, target) | Item::HardLink(path, target) => {
                let kind = match item {
                    Item::Symlink(..) => tar::EntryType::Symlink,
                    _ => tar::EntryType::Link,
                };
                h.set_entry_type(kind);
                b.append_link(&mut h, path, target).unwrap();
            }
            Item::CharDevice(path) | Item::Fifo(path) => {
                let kind = match item {
                    Item::CharDevice(..) => tar::EntryType::Char,
                    _ => tar::EntryType::Fifo,
                };
                h.set_entry_type(kind);
                b.append_data(&mut h, path, io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A gzipped [`tar()`] of `items`.
pub fn tgz(items: &[Item<'_>]) -> Vec<u8> {
    gzip(&tar(items))
}
