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

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::{Allow, Archive, ArchiveError, Bounds, Kind, PathRule, Totals};
    use crate::testing::{Item, Trickle, gzip, tar, tgz};

    const BOUNDS: Bounds = Bounds {
        max_entries: 10,
        max_unpacked: 64 * 1024,
    };

    /// Walks a `.tgz`, counting every file, and returns the totals or the first error.
    fn walk(bytes: &[u8], bounds: Bounds) -> Result<Totals, ArchiveError> {
        let mut archive = Archive::gzip_checked(Trickle::new(bytes), bounds, PathRule::Slash)?;
        for entry in archive.entries()? {
            let entry = entry?;
            if entry.kind() == Kind::File {
                entry.count_file()?;
            }
        }
        Ok(archive.totals())
    }

    #[test]
    fn files_are_counted() {
        let t = tgz(&[
            Item::Dir("p/"),
            Item::File("p/a", b"abc"),
            Item::File("p/b", b"de"),
        ]);
        assert_eq!(
            walk(&t, BOUNDS),
            Ok(Totals {
                files: 2,
                unpacked: 5
            })
        );
        assert_eq!(walk(&tgz(&[]), BOUNDS).unwrap().files, 0);
    }

    #[test]
    fn stream_failures_are_told_apart() {
        assert_eq!(walk(b"PK\x03\x04", BOUNDS), Err(ArchiveError::NotGzip));
        assert_eq!(walk(b"", BOUNDS), Err(ArchiveError::NotGzip));
        let truncated = &gzip(&[7; 5000])[..20];
        assert!(matches!(
            walk(truncated, BOUNDS),
            Err(ArchiveError::BadGzip(_))
        ));
        let text = gzip(&b"not a tar archive\n".repeat(60));
        assert!(matches!(walk(&text, BOUNDS), Err(ArchiveError::NotTar(_))));
        let plain = tar(&[Item::File("p/a", b"1")]);
        let mut archive = Archive::gzip(&plain[..], BOUNDS, PathRule::Slash);
        let err = archive
            .entries()
            .and_then(|mut e| e.next().unwrap().map(drop));
        assert!(matches!(err, Err(ArchiveError::BadGzip(_))), "{err:?}");
    }

    #[test]
    fn bounds_stop_bombs_and_floods() {
        let zeros = vec![0u8; 1024 * 1024];
        let bomb = tgz(&[Item::File("p/zeros", &zeros)]);
        assert!(bomb.len() < 20_000);
        assert_eq!(walk(&bomb, BOUNDS), Err(ArchiveError::TooLarge(64 * 1024)));

        // Under the decompression cap, but over the total once counted.
        let two = tgz(&[
            Item::File("p/a", &zeros[..40_000]),
            Item::File("p/b", &zeros[..40_000]),
        ]);
        assert_eq!(walk(&two, BOUNDS), Err(ArchiveError::TooLarge(64 * 1024)));

        // A long-name record is buffered by the tar reader: the decompression cap stops it.
        let long = format!("p/{}", "n".repeat(300_000));
        let tight = Bounds {
            max_entries: 1,
            max_unpacked: 10,
        };
        assert_eq!(
            walk(&tgz(&[Item::File(&long, b"")]), tight),
            Err(ArchiveError::TooLarge(10))
        );

        let names: Vec<String> = (0..11).map(|i| format!("p/{i}")).collect();
        let items: Vec<Item<'_>> = names.iter().map(|n| Item::File(n, b"")).collect();
        assert_eq!(
            walk(&tgz(&items), BOUNDS),
            Err(ArchiveError::TooManyEntries(10))
        );
        assert!(walk(&tgz(&items[..10]), BOUNDS).is_ok());
    }

    #[test]
    fn pax_global_headers_are_not_entries() {
        let mut b = ::tar::Builder::new(Vec::new());
        let mut h = ::tar::Header::new_ustar();
        h.set_entry_type(::tar::EntryType::XGlobalHeader);
        h.set_size(0);
        for i in 0..12 {
            b.append_data(&mut h, format!("g{i}"), std::io::empty())
                .unwrap();
        }
        let t = gzip(&b.into_inner().unwrap());
        assert_eq!(walk(&t, BOUNDS).unwrap().files, 0);
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for path in ["p/../../evil", "/etc/evil"] {
            let t = tgz(&[Item::File("p/a", b"1"), Item::RawPath(path, b"x")]);
            assert_eq!(walk(&t, BOUNDS), Err(ArchiveError::UnsafePath(path.into())));
        }
    }

    #[test]
    fn entries_tell_their_path_kind_and_target() {
        let t = tgz(&[
            Item::RawPath("./p//a.txt", b"hello"),
            Item::Symlink("p/link", "../up"),
            Item::HardLink("p/hard", "p/a.txt"),
            Item::Fifo("p/pipe"),
        ]);
        let mut archive = Archive::gzip_checked(&t[..], BOUNDS, PathRule::Slash).unwrap();
        let seen: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let parts = e.parts().join("|");
                (e.path().to_owned(), parts, e.kind(), e.link_target())
            })
            .collect();
        let row = |p: &str, parts: &str, k, t: &str| (p.into(), parts.into(), k, t.into());
        assert_eq!(
            seen,
            vec![
                row("./p//a.txt", "p|a.txt", Kind::File, ""),
                row("p/link", "p|link", Kind::Symlink, "../up"),
                row("p/hard", "p|hard", Kind::HardLink, "p/a.txt"),
                row("p/pipe", "p|pipe", Kind::Other, ""),
            ]
        );
    }

    #[test]
    fn policies_name_what_they_refuse() {
        let t = tgz(&[
            Item::File("p/a", b"1"),
            Item::Dir("p/d"),
            Item::Symlink("p/s", "a"),
            Item::HardLink("p/h", "p/a"),
            Item::CharDevice("p/tty"),
            Item::Fifo("p/pipe"),
        ]);
        let mut archive = Archive::gzip(&t[..], BOUNDS, PathRule::Slash);
        let mut rows = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let row: Vec<_> = [Allow::Files, Allow::FilesAndDirs, Allow::FilesDirsAndLinks]
                .into_iter()
                .map(|policy| policy.check(&entry))
                .collect();
            rows.push(row);
        }
        let (file, dir) = (Ok(Kind::File), Ok(Kind::Dir));
        assert_eq!(
            rows,
            vec![
                vec![file, file, file],
                vec![Err("directory"), dir, dir],
                vec![Err("symlink"), Err("symlink"), Ok(Kind::Symlink)],
                vec![Err("hard link"), Err("hard link"), Ok(Kind::HardLink)],
                vec![Err("character device"); 3],
                vec![Err("fifo"); 3],
            ]
        );
    }

    #[test]
    fn small_entries_are_read_whole() {
        let t = tgz(&[Item::File("p/a", b"12345"), Item::File("p/b", b"123456")]);
        let mut archive = Archive::gzip(&t[..], BOUNDS, PathRule::Slash);
        let mut entries = archive.entries().unwrap();
        assert_eq!(
            entries.next().unwrap().unwrap().read_bounded(5),
            Ok(b"12345".to_vec())
        );
        let mut b = entries.next().unwrap().unwrap();
        assert_eq!(b.read_bounded(5), Err(ArchiveError::EntryTooLarge(5)));
        let mut rest = String::new();
        b.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "123456");
    }

    #[test]
    fn a_plain_tar_takes_flat_names() {
        let t = tar(&[Item::File("metadata.gz", b"m"), Item::File("x/y", b"")]);
        let mut archive = Archive::plain(&t[..], BOUNDS, PathRule::Flat);
        let mut entries = archive.entries().unwrap();
        assert_eq!(entries.next().unwrap().unwrap().path(), "metadata.gz");
        assert_eq!(
            entries.next().unwrap().err(),
            Some(ArchiveError::UnsafePath("x/y".into()))
        );
        let mut archive = Archive::plain(&b"not a tar"[..], BOUNDS, PathRule::Flat);
        let first = archive.entries().unwrap().next();
        assert!(
            matches!(first, Some(Err(ArchiveError::NotTar(_)))),
            "{:?}",
            first.map(|r| r.err())
        );
    }

    #[test]
    fn drain_reads_the_whole_gzip_member() {
        let t = tgz(&[Item::File("p/a", b"1")]);
        let mut source = Cursor::new(t.clone());
        let mut archive = Archive::gzip(&mut source, BOUNDS, PathRule::Slash);
        for entry in archive.entries().unwrap() {
            entry.unwrap();
        }
        archive.drain().unwrap();
        assert_eq!(source.position(), t.len() as u64);
    }
}
