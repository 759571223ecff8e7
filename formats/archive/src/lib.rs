#![doc = include_str!("../README.md")]

use std::cell::Cell;
use std::io::{self, Chain, Cursor, Read};
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;

mod kind;
mod path;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use kind::{Allow, Kind};
pub use path::{PathRule, components, is_absolute};

/// Bytes of tar headers (and long-name/PAX records) allowed per entry on top of file contents.
const HEADER_ALLOWANCE: u64 = 2048;

/// Why an archive was refused. The codecs map each variant into their own error enum, so these
/// messages only show where a codec passes one on unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// Does not start with the gzip magic bytes (only checked by [`Archive::gzip_checked`]).
    #[error("the archive is not gzip")]
    NotGzip,
    /// The gzip stream (or the reader under it) failed.
    #[error("the archive is not valid gzip: {0}")]
    BadGzip(String),
    /// The stream is readable but not a tar archive.
    #[error("the archive is not a valid tar archive: {0}")]
    NotTar(String),
    /// More entries than [`Bounds::max_entries`].
    #[error("the archive has more than {0} entries")]
    TooManyEntries(u64),
    /// The counted files add up to more than [`Bounds::max_unpacked`], or the decompressed
    /// stream outgrew its cap.
    #[error("the archive unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// A path the archive's [`PathRule`] refuses.
    #[error("the archive entry '{0}' has an absolute path or a '..' component")]
    UnsafePath(String),
    /// An entry larger than the bound given to [`Entry::read_bounded`].
    #[error("an archive entry is larger than {0} bytes")]
    EntryTooLarge(u64),
}

/// How much an upload of `max_upload` bytes may unpack to: the format's own `default_unpacked`, or
/// four times the upload limit when that is larger (compressed archives unpack to a few times
/// their size; a repository that accepts large uploads accepts what they unpack to, boundedly).
pub fn unpacked_for_upload(default_unpacked: u64, max_upload: u64) -> u64 {
    default_unpacked.max(max_upload.saturating_mul(4))
}

/// The bounds of one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most entries (PAX global headers not counted).
    pub max_entries: u64,
    /// Largest total size of the files given to [`Entry::count_file`]. For a gzip archive it
    /// also sets the cap on decompressed bytes: this plus 2 KiB of headers per entry.
    pub max_unpacked: u64,
}

/// The files counted with [`Entry::count_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// How many.
    pub files: u64,
    /// Their total size.
    pub unpacked: u64,
}

/// What the walk shares with the decoder: why the stream failed, and the file totals.
struct State {
    /// The bounds of the archive.
    bounds: Bounds,
    /// The gzip decoder (or the reader under it) failed.
    gzip_error: Cell<bool>,
    /// The decompressed-bytes cap was reached.
    over_limit: Cell<bool>,
    /// Files counted so far.
    files: Cell<u64>,
    /// Their total size.
    unpacked: Cell<u64>,
}

impl State {
    fn new(bounds: Bounds) -> Rc<Self> {
        Rc::new(Self {
            bounds,
            gzip_error: Cell::new(false),
            over_limit: Cell::new(false),
            files: Cell::new(0),
            unpacked: Cell::new(0),
        })
    }

    /// The error to report for a failed read of the (decompressed) stream.
    fn classify(&self, e: io::Error) -> ArchiveError {
        if self.over_limit.get() {
            ArchiveError::TooLarge(self.bounds.max_unpacked)
        } else if self.gzip_error.get() {
            ArchiveError::BadGzip(e.to_string())
        } else {
            ArchiveError::NotTar(e.to_string())
        }
    }
}

/// A gzip decoder with a cap on decompressed bytes, recording why it failed.
pub struct Gunzip<R> {
    /// The decoder.
    inner: GzDecoder<R>,
    /// Decompressed bytes still allowed.
    left: u64,
    /// Where failures are recorded.
    state: Rc<State>,
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            self.state.over_limit.set(true);
            return Err(io::Error::other("decompressed size limit reached"));
        }
        let max = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match self.inner.read(&mut buf[..max]) {
            Ok(n) => {
                self.left -= n as u64;
                Ok(n)
            }
            Err(e) => {
                self.state.gzip_error.set(true);
                Err(e)
            }
        }
    }
}

/// A tar archive read under [`Bounds`] and a [`PathRule`].
pub struct Archive<T: Read> {
    /// The tar reader.
    tar: tar::Archive<T>,
    /// How entry paths are checked and split.
    rule: PathRule,
    /// Failure flags and totals, shared with the decoder.
    state: Rc<State>,
}

impl<T: Read> Archive<T> {
    /// An uncompressed tar.
    pub fn plain(reader: T, bounds: Bounds, rule: PathRule) -> Self {
        Self {
            tar: tar::Archive::new(reader),
            rule,
            state: State::new(bounds),
        }
    }

    /// The entries, in order. Errors of the stream are classified (see [`ArchiveError`]).
    pub fn entries(&mut self) -> Result<Entries<'_, T>, ArchiveError> {
        let inner = self.tar.entries().map_err(|e| self.state.classify(e))?;
        Ok(Entries {
            inner,
            rule: self.rule,
            state: &self.state,
            count: 0,
        })
    }

    /// The files counted so far with [`Entry::count_file`].
    pub fn totals(&self) -> Totals {
        Totals {
            files: self.state.files.get(),
            unpacked: self.state.unpacked.get(),
        }
    }
}

impl<R: Read> Archive<Gunzip<R>> {
    /// A gzip-compressed tar; a stream that is not gzip fails as [`ArchiveError::BadGzip`] once
    /// read. The decompressed bytes are capped (see [`Bounds::max_unpacked`]).
    pub fn gzip(reader: R, bounds: Bounds, rule: PathRule) -> Self {
        let cap = bounds.max_unpacked.saturating_add(
            bounds
                .max_entries
                .saturating_add(16)
                .saturating_mul(HEADER_ALLOWANCE),
        );
        let state = State::new(bounds);
        let gunzip = Gunzip {
            inner: GzDecoder::new(reader),
            left: cap,
            state: state.clone(),
        };
        Self {
            tar: tar::Archive::new(gunzip),
            rule,
            state,
        }
    }

    /// Reads the rest of the decompressed stream (end-of-archive blocks, the gzip trailer)
    /// under the same cap, and returns the compressed reader.
    pub fn drain(self) -> Result<R, ArchiveError> {
        let mut gunzip = self.tar.into_inner();
        io::copy(&mut gunzip, &mut io::sink()).map_err(|e| self.state.classify(e))?;
        Ok(gunzip.inner.into_inner())
    }
}

impl<R: Read> Archive<Gunzip<Chain<Cursor<[u8; 2]>, R>>> {
    /// [`Archive::gzip`], but the stream must start with the gzip magic bytes
    /// ([`ArchiveError::NotGzip`] otherwise, also for an empty one).
    pub fn gzip_checked(
        mut reader: R,
        bounds: Bounds,
        rule: PathRule,
    ) -> Result<Self, ArchiveError> {
        let mut magic = [0u8; 2];
        if reader.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
            return Err(ArchiveError::NotGzip);
        }
        Ok(Archive::gzip(
            Cursor::new(magic).chain(reader),
            bounds,
            rule,
        ))
    }
}

/// The entries of an [`Archive`]: PAX global headers are skipped, every other entry is counted
/// against [`Bounds::max_entries`] and its path checked by the archive's [`PathRule`].
pub struct Entries<'a, T: Read> {
    /// The tar entries.
    inner: tar::Entries<'a, T>,
    /// How paths are checked.
    rule: PathRule,
    /// Failure flags, totals and bounds.
    state: &'a State,
    /// Entries seen.
    count: u64,
}

impl<'a, T: Read> Iterator for Entries<'a, T> {
    type Item = Result<Entry<'a, T>, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let entry = match self.inner.next()? {
                Ok(entry) => entry,
                Err(e) => return Some(Err(self.state.classify(e))),
            };
            let kind = entry.header().entry_type();
            if kind.is_pax_global_extensions() {
                continue;
            }
            self.count += 1;
            let max = self.state.bounds.max_entries;
            if self.count > max {
                return Some(Err(ArchiveError::TooManyEntries(max)));
            }
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if components(&path, self.rule).is_none() {
                return Some(Err(ArchiveError::UnsafePath(path)));
            }
            return Some(Ok(Entry {
                inner: entry,
                kind,
                path,
                rule: self.rule,
                state: self.state,
            }));
        }
    }
}

/// One entry whose path passed the archive's [`PathRule`]. Reading it reads its contents.
pub struct Entry<'a, T: Read> {
    /// The tar entry.
    inner: tar::Entry<'a, T>,
    /// Its type.
    kind: EntryType,
    /// Its path, lossy UTF-8.
    path: String,
    /// How the path splits.
    rule: PathRule,
    /// Failure flags, totals and bounds.
    state: &'a State,
}

impl<T: Read> Entry<'_, T> {
    /// The path as written (invalid UTF-8 replaced).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path's components, without empty and `.` parts (see [`components`]).
    pub fn parts(&self) -> Vec<&str> {
        components(&self.path, self.rule).unwrap_or_default()
    }

    /// What the entry is.
    pub fn kind(&self) -> Kind {
        Kind::of(self.kind)
    }

    /// A word for the entry's type, e.g. "symlink" or "character device".
    pub fn kind_name(&self) -> &'static str {
        kind::name(self.kind)
    }

    /// The size of the contents, from the header.
    pub fn size(&self) -> u64 {
        self.inner.size()
    }

    /// A link's target (invalid UTF-8 replaced), empty if there is none.
    pub fn link_target(&self) -> String {
        self.inner
            .link_name_bytes()
            .map(|t| String::from_utf8_lossy(&t).into_owned())
            .unwrap_or_default()
    }

    /// Counts this entry as a file: adds its size to the archive's total, which must stay
    /// within [`Bounds::max_unpacked`] ([`ArchiveError::TooLarge`]).
    pub fn count_file(&self) -> Result<(), ArchiveError> {
        let state = self.state;
        state.files.set(state.files.get() + 1);
        let unpacked = state.unpacked.get().saturating_add(self.size());
        state.unpacked.set(unpacked);
        if unpacked > state.bounds.max_unpacked {
            return Err(ArchiveError::TooLarge(state.bounds.max_unpacked));
        }
        Ok(())
    }

    /// The whole contents, if the header says at most `max` bytes
    /// ([`ArchiveError::EntryTooLarge`] otherwise, before anything is read).
    pub fn read_bounded(&mut self, max: u64) -> Result<Vec<u8>, ArchiveError> {
        if self.size() > max {
            return Err(ArchiveError::EntryTooLarge(max));
        }
        let mut buf = Vec::new();
        (&mut self.inner)
            .take(max.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| self.state.classify(e))?;
        Ok(buf)
    }
}

impl<T: Read> Read for Entry<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}
