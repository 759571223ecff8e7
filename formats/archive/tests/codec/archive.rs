//! Walking archives: file totals, stream failures told apart, bounds against bombs and floods,
//! PAX global headers, unsafe paths, entry paths, kinds and link targets, entry policies, bounded
//! reads, plain tars with flat names, and draining the gzip member.

use std::io::{Cursor, Read};

use packgate_archive::testing::{Item, Trickle, gzip, tar, tgz};
use packgate_archive::{Allow, Archive, ArchiveError, Bounds, Kind, PathRule, Totals};

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

#[test]
fn the_unpacked_bound_grows_with_a_larger_upload_limit_only() {
    use packgate_archive::unpacked_for_upload;
    assert_eq!(unpacked_for_upload(512, 100), 512);
    assert_eq!(unpacked_for_upload(512, 200), 800);
    assert_eq!(unpacked_for_upload(512, u64::MAX), u64::MAX);
}
