//! Filesystem backend: a synced temp file is hard-linked into place (copied to a temp name in the
//! target directory, synced and renamed where a link cannot be made), then the directory synced.

use super::{BlobKey, BlobStore, ByteRange, ByteStream, StoreError};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Blobs under a root directory.
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Uses (and creates) `root`.
    pub fn new(root: PathBuf) -> std::io::Result<FsStore> {
        std::fs::create_dir_all(&root)?;
        Ok(FsStore { root })
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.path())
    }
}

fn put_blocking(tmp: &Path, dest: &Path) -> std::io::Result<()> {
    if dest.exists() {
        return Ok(());
    }
    let dir = dest
        .parent()
        .ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    // The temp file normally sits on the same filesystem (`{data_dir}/tmp`): its bytes are made
    // durable and the blob's name is linked to them, with no copy. Callers never write to a file
    // they have handed to the store. A link that cannot be made (another filesystem, no hard
    // links) falls back to a copy.
    std::fs::File::open(tmp)?.sync_all()?;
    match std::fs::hard_link(tmp, dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(_) => copy_into(tmp, dest, dir)?,
    }
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Copies `tmp` to a temp name in `dir`, syncs it and renames it to `dest`.
fn copy_into(tmp: &Path, dest: &Path, dir: &Path) -> std::io::Result<()> {
    let staging = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut src = std::fs::File::open(tmp)?;
        let mut out = staging.as_file();
        std::io::copy(&mut src, &mut out)?;
        out.sync_all()?;
    }
    staging.persist(dest).map_err(|e| e.error)?;
    Ok(())
}

/// The bytes of a file (or of a range of it) as a stream.
pub async fn file_stream(path: &Path, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
    let mut file = tokio::fs::File::open(path).await?;
    let stream: ByteStream = match range {
        Some(r) => {
            file.seek(std::io::SeekFrom::Start(r.start)).await?;
            Box::pin(ReaderStream::with_capacity(
                file.take(r.end - r.start),
                256 * 1024,
            ))
        }
        None => Box::pin(ReaderStream::with_capacity(file, 256 * 1024)),
    };
    Ok(stream)
}

#[async_trait]
impl BlobStore for FsStore {
    async fn put_file(&self, key: &BlobKey, tmp: &Path) -> Result<(), StoreError> {
        let dest = self.path(key);
        let tmp = tmp.to_path_buf();
        tokio::task::spawn_blocking(move || put_blocking(&tmp, &dest))
            .await
            .map_err(|e| StoreError::Io(e.to_string()))??;
        Ok(())
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<ByteStream, StoreError> {
        file_stream(&self.path(key), range).await
    }

    async fn stat(&self, key: &BlobKey) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        let m = tokio::fs::metadata(&self.root).await?;
        if m.is_dir() && !m.permissions().readonly() {
            Ok(())
        } else {
            Err(StoreError::Io(format!(
                "{} is not a writable directory",
                self.root.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn put_is_idempotent_and_ranges_read_the_right_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path().join("blobs")).unwrap();
        let key = BlobKey::new(&"ab".repeat(32)).unwrap();
        let tmp = dir.path().join("t");
        std::fs::write(&tmp, b"0123456789").unwrap();
        store.put_file(&key, &tmp).await.unwrap();
        store.put_file(&key, &tmp).await.unwrap();
        assert_eq!(store.stat(&key).await.unwrap(), Some(10));
        let mut s = store.get(&key, Some(2..5)).await.unwrap();
        let mut got = Vec::new();
        while let Some(chunk) = s.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got, b"234");
        store.delete(&key).await.unwrap();
        assert_eq!(store.stat(&key).await.unwrap(), None);
        assert!(matches!(
            store.get(&key, None).await,
            Err(StoreError::NotFound)
        ));
    }
}
