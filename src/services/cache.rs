//! Rendered-document cache: keyed by (repository, package, variant) and validated against the
//! package's change stamp from the database, so that several instances never serve stale data;
//! and a cache of parsed values validated the same way against any stamp.

use bytes::Bytes;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A cached rendering with its ETag.
#[derive(Clone)]
pub struct Rendered {
    /// The body.
    pub body: Bytes,
    /// The strong ETag, quoted.
    pub etag: String,
    /// A representation digest header value, where the format sends one (RubyGems'
    /// `Repr-Digest`); empty otherwise.
    pub digest: String,
}

/// A bounded in-memory map of rendered documents: at most `capacity` entries and `max_bytes`
/// bytes (keys and bodies), so that no sequence of requests grows it without limit.
pub struct DocCache {
    entries: Mutex<Docs>,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Docs {
    map: HashMap<String, Doc>,
    bytes: usize,
}

/// One cached rendering: the stamp it was rendered at, the document, and what the renderer
/// keeps to render the next version of it faster ([`DocCache::put_with_parts`]).
struct Doc {
    stamp: i64,
    rendered: Rendered,
    parts: Option<AnyValue>,
    /// Bytes counted for it.
    weight: usize,
}

fn weight(key: &str, r: &Rendered) -> usize {
    key.len() + r.body.len() + r.etag.len() + r.digest.len() + 64
}

impl DocCache {
    /// A cache holding at most `capacity` documents and `max_bytes` bytes.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        DocCache {
            entries: Mutex::new(Docs::default()),
            capacity,
            max_bytes,
        }
    }

    /// Bytes held now (keys and bodies).
    pub fn bytes(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// The document for `key` if it was rendered at `stamp`.
    pub fn get(&self, key: &str, stamp: i64) -> Option<Rendered> {
        let docs = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        docs.map
            .get(key)
            .filter(|d| d.stamp == stamp)
            .map(|d| d.rendered.clone())
    }

    /// The document last stored for `key` at any stamp, with its parts when they are a `T`: a
    /// renderer reuses what did not change since.
    pub fn previous<T: Any + Send + Sync>(&self, key: &str) -> Option<(Rendered, Arc<T>)> {
        let docs = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let d = docs.map.get(key)?;
        let parts = d.parts.clone()?.downcast::<T>().ok()?;
        Some((d.rendered.clone(), parts))
    }

    /// Stores a rendering; when full (entries or bytes), drops everything (cheap, and renders are
    /// O(versions)). A document larger than a quarter of the byte bound is not kept.
    pub fn put(&self, key: String, stamp: i64, r: Rendered) {
        self.store(key, stamp, r, None, 0);
    }

    /// [`put`](Self::put) with `parts` of `parts_bytes` bytes (for example where each piece of
    /// the body came from), counted in the bounds with the document.
    pub fn put_with_parts<T: Any + Send + Sync>(
        &self,
        key: String,
        stamp: i64,
        r: Rendered,
        parts: Arc<T>,
        parts_bytes: usize,
    ) {
        self.store(key, stamp, r, Some(parts), parts_bytes);
    }

    fn store(
        &self,
        key: String,
        stamp: i64,
        r: Rendered,
        parts: Option<AnyValue>,
        parts_bytes: usize,
    ) {
        let w = weight(&key, &r) + parts_bytes;
        if w > self.max_bytes / 4 {
            return;
        }
        let mut docs = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = docs.map.remove(&key) {
            docs.bytes -= old.weight;
        }
        if docs.map.len() >= self.capacity || docs.bytes + w > self.max_bytes {
            docs.map.clear();
            docs.bytes = 0;
        }
        docs.bytes += w;
        docs.map.insert(
            key,
            Doc {
                stamp,
                rendered: r,
                parts,
                weight: w,
            },
        );
    }
}

/// A shared value of any type.
type AnyValue = Arc<dyn Any + Send + Sync>;

/// Parsed values (not bytes) kept between requests, each valid for one stamp: for example a
/// repository's search catalog, valid while the repository's stamp is unchanged.
pub struct ValueCache {
    entries: Mutex<HashMap<String, (String, AnyValue)>>,
    capacity: usize,
}

impl ValueCache {
    /// A cache holding at most `capacity` values.
    pub fn new(capacity: usize) -> Self {
        ValueCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The value for `key` if it was stored at `stamp` with type `T`.
    pub fn get<T: Any + Send + Sync>(&self, key: &str, stamp: &str) -> Option<Arc<T>> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (s, v) = map.get(key)?;
        if s != stamp {
            return None;
        }
        v.clone().downcast::<T>().ok()
    }

    /// Stores a value; when full, drops everything.
    pub fn put<T: Any + Send + Sync>(&self, key: String, stamp: String, value: Arc<T>) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, (stamp, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: usize) -> Rendered {
        Rendered {
            body: Bytes::from(vec![b'x'; n]),
            etag: "\"e\"".into(),
            digest: String::new(),
        }
    }

    #[test]
    fn the_document_cache_stays_within_its_byte_bound() {
        let cache = DocCache::new(1_000_000, 100_000);
        for i in 0..1000 {
            cache.put(format!("key-{i}"), 1, doc(1000));
            assert!(cache.bytes() <= 100_000, "{} bytes", cache.bytes());
        }
        assert!(cache.get("key-999", 1).is_some());
        assert!(cache.get("key-999", 2).is_none());
        cache.put("huge".into(), 1, doc(50_000));
        assert!(
            cache.get("huge", 1).is_none(),
            "larger than a quarter: not kept"
        );
        cache.put("key-999".into(), 2, doc(10));
        assert!(cache.get("key-999", 2).is_some());
    }
}
