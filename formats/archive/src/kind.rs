//! Entry types and the policies that refuse some of them.

use std::io::Read;

use tar::EntryType;

use crate::Entry;

/// What an entry is, as far as the codecs care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular (or contiguous) file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link.
    HardLink,
    /// A device, fifo, sparse file or anything else.
    Other,
}

impl Kind {
    pub(crate) fn of(kind: EntryType) -> Self {
        match kind {
            EntryType::Regular | EntryType::Continuous => Kind::File,
            EntryType::Directory => Kind::Dir,
            EntryType::Symlink => Kind::Symlink,
            EntryType::Link => Kind::HardLink,
            _ => Kind::Other,
        }
    }
}

/// Which kinds of entry a format takes; devices, fifos and the like never pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Files only (the members of a `.gem`).
    Files,
    /// Files and directories (a `.crate`).
    FilesAndDirs,
    /// Files, directories, symlinks and hard links (a gem's `data.tar.gz`; the codec checks
    /// where the links point).
    FilesDirsAndLinks,
}

impl Allow {
    /// The entry's kind if the policy takes it, else the word for what it is ("symlink",
    /// "character device", ...) for the codec's message.
    pub fn check<T: Read>(self, entry: &Entry<'_, T>) -> Result<Kind, &'static str> {
        let kind = entry.kind();
        let allowed = match kind {
            Kind::File => true,
            Kind::Dir => self != Allow::Files,
            Kind::Symlink | Kind::HardLink => self == Allow::FilesDirsAndLinks,
            Kind::Other => false,
        };
        if allowed {
            Ok(kind)
        } else {
            Err(entry.kind_name())
        }
    }
}

/// A word for an entry type that is not a regular file.
pub(crate) fn name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Directory => "directory",
        EntryType::Symlink => "symlink",
        EntryType::Link => "hard link",
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "fifo",
        EntryType::GNUSparse => "sparse file",
        _ => "special entry",
    }
}
